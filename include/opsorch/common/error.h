// The one error type of opsorch and the one place that maps error codes to HTTP statuses.
#pragma once

#include <string>
#include <string_view>

namespace opsorch {

// An error that crosses module boundaries: providers, plugins and the HTTP layer all speak it.
// `code` is an open vocabulary (providers may invent codes such as "rate_limited"); the codes
// opsorch itself produces are listed in `errc` below.
struct Error {
  std::string code;
  std::string message;

  friend bool operator==(const Error&, const Error&) = default;
};

// Codes produced by opsorch. Client errors first, then server errors.
// When adding a code, also add it to HttpStatusFor() in src/common/error.cc.
namespace errc {
inline constexpr std::string_view kBadRequest = "bad_request";               // 400
inline constexpr std::string_view kUnauthorized = "unauthorized";            // 401
inline constexpr std::string_view kForbidden = "forbidden";                  // 403
inline constexpr std::string_view kNotFound = "not_found";                   // 404
inline constexpr std::string_view kConflict = "conflict";                    // 409 (reference: 502)
inline constexpr std::string_view kPayloadTooLarge = "payload_too_large";    // 413
inline constexpr std::string_view kHeadersTooLarge = "headers_too_large";    // 431
inline constexpr std::string_view kRateLimited = "rate_limited";             // 502 (provider code)
inline constexpr std::string_view kInternal = "internal";                    // 500
inline constexpr std::string_view kProviderError = "provider_error";         // 502
inline constexpr std::string_view kSecretStoreError = "secret_store_error";  // 502
inline constexpr std::string_view kPluginCrashed = "plugin_crashed";         // 502
inline constexpr std::string_view kPluginProtocolError = "plugin_protocol_error";      // 502
inline constexpr std::string_view kPluginUnavailable = "plugin_unavailable";           // 502
inline constexpr std::string_view kPluginTimeout = "plugin_timeout";                   // 504
inline constexpr std::string_view kSecretProviderMissing = "secret_provider_missing";  // 501
// "<capability>_provider_missing" (501) is built by ProviderMissing() in providers/capability.h.
inline constexpr std::string_view kProviderMissingSuffix = "_provider_missing";
}  // namespace errc

Error MakeError(std::string_view code, std::string message);

// The central mapping. Unknown codes are provider-defined and map to 502 (as in the reference),
// except "conflict", which we map to 409 (contract §13 #5).
int HttpStatusFor(std::string_view code);

// Codes of opsorch's own failures (a store, the secret store): their messages carry SQL, file
// paths and library texts, which stay in the server log. (Plugin failures say what the plugin
// did, naming it by its file name only.)
bool IsInternalFailure(std::string_view code);

// What a response may say about `e`: the message itself for a client's mistake or a provider's
// typed error; for an internal failure a fixed text that names the request id (empty: the
// X-Request-Id header), while the caller logs the detail.
std::string ClientMessage(const Error& e, std::string_view request_id = {});

}  // namespace opsorch
