// The one error type of opsorch, its closed vocabulary of codes, and the one table that maps
// each code to its wire name and HTTP status.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace opsorch {

// Every code opsorch produces. Client errors first, then server errors, then the workflow
// runtime's (which never reach an HTTP client as such). Adding one is one enumerator and one
// row of kErrorCodes (src/common/error.cc); a test walks them all.
enum class ErrorCode : std::uint8_t {
  kBadRequest,
  kUnauthorized,
  kForbidden,
  kNotFound,
  kMethodNotAllowed,
  kConflict,
  kGone,  // a link or resource that existed and no longer does (an expired action link)
  kPayloadTooLarge,
  kHeadersTooLarge,
  kRateLimited,  // opsorch's own throttling (a provider's "rate_limited" is kProviderDefined)
  kInternal,
  kProviderMissing,  // wire name "<capability>_provider_missing" (ProviderMissing())
  kSecretProviderMissing,
  kUnavailable,  // shutting down, or a queue that cannot take more
  kProviderError,
  kProviderDefined,  // a code a provider made up (a plugin's "rate_limited"): its own wire name
  kSecretStoreError,
  kPluginCrashed,
  kPluginProtocolError,
  kPluginUnavailable,
  kPluginTimeout,
  kScriptError,
  kScriptTimeout,
  kScriptMemory,
  kScriptWorker,
  kNotAllowed,
  kAddressDenied,
  kConnectFailed,
  kTimeout,
  kResponseTooLarge,
  kTooManyRedirects,
  kSpoolFull,
  kStorageError,
};

struct ErrorCodeInfo {
  ErrorCode code;
  std::string_view name;  // on the wire: {"code":"<name>", …}
  int http_status;
  // A failure of opsorch itself whose message may hold SQL, file paths or library text: a
  // response says only that it happened and the request id; the log has the message.
  bool internal;
};

// The table, in enumerator order.
std::span<const ErrorCodeInfo> ErrorCodes();
const ErrorCodeInfo& Info(ErrorCode code);
std::string_view Name(ErrorCode code);
int HttpStatusFor(ErrorCode code);

// An error that crosses module boundaries: providers, plugins, workers and the HTTP layer all
// speak it.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // The wire code when it is not Name(code): a provider's own code (kProviderDefined), or
  // "<capability>_provider_missing".
  std::string wire;
  // Further problems found with the same input (the PagerDuty format lists them all), each
  // "field rule"; `message` is the first.
  std::vector<std::string> details;

  Error() = default;
  Error(ErrorCode c, std::string m, std::string w = {})
      : code(c), message(std::move(m)), wire(std::move(w)) {}
  // From a wire code: a known name gives its code, any other kProviderDefined.
  Error(std::string_view wire_code, std::string m);

  friend bool operator==(const Error&, const Error&) = default;
};

// Prints the code's name (test failure messages, log streams).
std::ostream& operator<<(std::ostream& os, ErrorCode code);
std::ostream& operator<<(std::ostream& os, const Error& e);

// The code as it goes on the wire (the JSON body's "code", a plugin's error, a log line).
std::string_view WireCode(const Error& e);
int HttpStatusFor(const Error& e);

// Codes by their opsorch names, so that call sites read `errc::kBadRequest`.
namespace errc {
inline constexpr ErrorCode kBadRequest = ErrorCode::kBadRequest;
inline constexpr ErrorCode kUnauthorized = ErrorCode::kUnauthorized;
inline constexpr ErrorCode kForbidden = ErrorCode::kForbidden;
inline constexpr ErrorCode kNotFound = ErrorCode::kNotFound;
inline constexpr ErrorCode kMethodNotAllowed = ErrorCode::kMethodNotAllowed;
inline constexpr ErrorCode kConflict = ErrorCode::kConflict;
inline constexpr ErrorCode kGone = ErrorCode::kGone;
inline constexpr ErrorCode kPayloadTooLarge = ErrorCode::kPayloadTooLarge;
inline constexpr ErrorCode kHeadersTooLarge = ErrorCode::kHeadersTooLarge;
inline constexpr ErrorCode kRateLimited = ErrorCode::kRateLimited;
inline constexpr ErrorCode kInternal = ErrorCode::kInternal;
inline constexpr ErrorCode kProviderMissing = ErrorCode::kProviderMissing;
inline constexpr ErrorCode kSecretProviderMissing = ErrorCode::kSecretProviderMissing;
inline constexpr ErrorCode kUnavailable = ErrorCode::kUnavailable;
inline constexpr ErrorCode kProviderError = ErrorCode::kProviderError;
inline constexpr ErrorCode kProviderDefined = ErrorCode::kProviderDefined;
inline constexpr ErrorCode kSecretStoreError = ErrorCode::kSecretStoreError;
inline constexpr ErrorCode kPluginCrashed = ErrorCode::kPluginCrashed;
inline constexpr ErrorCode kPluginProtocolError = ErrorCode::kPluginProtocolError;
inline constexpr ErrorCode kPluginUnavailable = ErrorCode::kPluginUnavailable;
inline constexpr ErrorCode kPluginTimeout = ErrorCode::kPluginTimeout;
inline constexpr ErrorCode kStorageError = ErrorCode::kStorageError;
inline constexpr ErrorCode kSpoolFull = ErrorCode::kSpoolFull;
}  // namespace errc

Error MakeError(ErrorCode code, std::string message);
Error MakeError(std::string_view wire_code, std::string message);

// Codes of opsorch's own failures (a store, the secret store): their messages carry SQL, file
// paths and library texts, which stay in the server log. (Plugin failures say what the plugin
// did, naming it by its file name only.)
bool IsInternalFailure(ErrorCode code);

// What a response may say about `e`: the message itself for a client's mistake or a provider's
// typed error; for an internal failure a fixed text that names the request id (empty: the
// X-Request-Id header), while the caller logs the detail.
std::string ClientMessage(const Error& e, std::string_view request_id = {});

}  // namespace opsorch
