#include <array>
#include <ostream>
#include <utility>

#include <opsorch/common/error.h>

namespace opsorch {
namespace {

using C = ErrorCode;

// The one table: wire name and HTTP status of every code, in enumerator order.
constexpr std::array kTable = {
    ErrorCodeInfo{C::kBadRequest, "bad_request", 400, false},
    ErrorCodeInfo{C::kUnauthorized, "unauthorized", 401, false},
    ErrorCodeInfo{C::kForbidden, "forbidden", 403, false},
    ErrorCodeInfo{C::kNotFound, "not_found", 404, false},
    ErrorCodeInfo{C::kMethodNotAllowed, "method_not_allowed", 405, false},
    // The reference answers 502 for every typed provider code but not_found and bad_request.
    ErrorCodeInfo{C::kConflict, "conflict", 409, false},
    ErrorCodeInfo{C::kGone, "gone", 410, false},
    ErrorCodeInfo{C::kPayloadTooLarge, "payload_too_large", 413, false},
    ErrorCodeInfo{C::kHeadersTooLarge, "headers_too_large", 431, false},
    ErrorCodeInfo{C::kRateLimited, "rate_limited", 429, false},
    ErrorCodeInfo{C::kInternal, "internal", 500, true},
    ErrorCodeInfo{C::kProviderMissing, "provider_missing", 501, false},
    ErrorCodeInfo{C::kSecretProviderMissing, "secret_provider_missing", 501, false},
    ErrorCodeInfo{C::kUnavailable, "unavailable", 503, false},
    ErrorCodeInfo{C::kProviderError, "provider_error", 502, false},
    ErrorCodeInfo{C::kProviderDefined, "provider_error", 502, false},
    ErrorCodeInfo{C::kSecretStoreError, "secret_store_error", 502, true},
    ErrorCodeInfo{C::kPluginCrashed, "plugin_crashed", 502, false},
    ErrorCodeInfo{C::kPluginProtocolError, "plugin_protocol_error", 502, false},
    ErrorCodeInfo{C::kPluginUnavailable, "plugin_unavailable", 502, false},
    ErrorCodeInfo{C::kPluginTimeout, "plugin_timeout", 504, false},
    // The workflow runtime's: they describe what an untrusted script or a call it made did.
    ErrorCodeInfo{C::kScriptError, "script_error", 500, false},
    ErrorCodeInfo{C::kScriptTimeout, "script_timeout", 500, false},
    ErrorCodeInfo{C::kScriptMemory, "script_memory", 500, false},
    ErrorCodeInfo{C::kScriptWorker, "script_worker", 500, false},
    ErrorCodeInfo{C::kNotAllowed, "not_allowed", 403, false},
    ErrorCodeInfo{C::kAddressDenied, "address_denied", 403, false},
    ErrorCodeInfo{C::kConnectFailed, "connect_failed", 502, false},
    ErrorCodeInfo{C::kTimeout, "timeout", 504, false},
    ErrorCodeInfo{C::kResponseTooLarge, "response_too_large", 502, false},
    ErrorCodeInfo{C::kTooManyRedirects, "too_many_redirects", 502, false},
    ErrorCodeInfo{C::kSpoolFull, "spool_full", 503, false},
    ErrorCodeInfo{C::kStorageError, "storage_error", 500, true},
};

constexpr bool InEnumeratorOrder() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<std::size_t>(kTable[i].code) != i) return false;
  }
  return static_cast<std::size_t>(C::kStorageError) + 1 == kTable.size();
}
static_assert(InEnumeratorOrder(), "kTable must list every ErrorCode once, in order");

}  // namespace

std::span<const ErrorCodeInfo> ErrorCodes() { return kTable; }
const ErrorCodeInfo& Info(ErrorCode code) { return kTable[static_cast<std::size_t>(code)]; }
std::string_view Name(ErrorCode code) { return Info(code).name; }
int HttpStatusFor(ErrorCode code) { return Info(code).http_status; }

Error::Error(std::string_view wire_code, std::string m) : message(std::move(m)) {
  for (const ErrorCodeInfo& i : kTable) {
    // provider_error names kProviderError; kProviderDefined and provider_missing are never
    // parsed back from their table names.
    if (i.name == wire_code && i.code != C::kProviderDefined && i.code != C::kProviderMissing) {
      code = i.code;
      return;
    }
  }
  constexpr std::string_view kMissing = "_provider_missing";
  code = wire_code.size() > kMissing.size() && wire_code.ends_with(kMissing)
             ? C::kProviderMissing
             : C::kProviderDefined;
  wire = std::string(wire_code);
}

std::string_view WireCode(const Error& e) { return e.wire.empty() ? Name(e.code) : e.wire; }
int HttpStatusFor(const Error& e) { return HttpStatusFor(e.code); }

Error MakeError(ErrorCode code, std::string message) { return Error(code, std::move(message)); }
Error MakeError(std::string_view wire_code, std::string message) {
  return Error(wire_code, std::move(message));
}

std::ostream& operator<<(std::ostream& os, ErrorCode code) { return os << Name(code); }
std::ostream& operator<<(std::ostream& os, const Error& e) {
  return os << WireCode(e) << ": " << e.message;
}

bool IsInternalFailure(ErrorCode code) { return Info(code).internal; }

std::string ClientMessage(const Error& e, std::string_view request_id) {
  if (!IsInternalFailure(e.code)) return e.message;
  const std::string what =
      e.code == C::kSecretStoreError ? "the secret store failed" : "internal error";
  return what + "; the server log has the details (request id " +
         (request_id.empty() ? std::string("in X-Request-Id") : std::string(request_id)) + ")";
}

}  // namespace opsorch
