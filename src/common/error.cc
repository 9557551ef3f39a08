#include <utility>

#include <opsorch/common/error.h>

namespace opsorch {

Error MakeError(std::string_view code, std::string message) {
  return Error{std::string(code), std::move(message)};
}

int HttpStatusFor(std::string_view code) {
  // Client errors.
  if (code == errc::kBadRequest) return 400;
  if (code == errc::kUnauthorized) return 401;
  if (code == errc::kForbidden) return 403;
  if (code == errc::kNotFound) return 404;
  if (code == errc::kConflict) return 409;
  if (code == errc::kPayloadTooLarge) return 413;
  if (code == errc::kHeadersTooLarge) return 431;
  // Server errors.
  if (code == errc::kInternal) return 500;
  if (code == errc::kSecretProviderMissing) return 501;
  if (code.size() > errc::kProviderMissingSuffix.size() &&
      code.ends_with(errc::kProviderMissingSuffix)) {
    return 501;
  }
  if (code == errc::kPluginTimeout) return 504;
  // provider_error, secret_store_error, plugin_* and every provider-defined code.
  return 502;
}

bool IsInternalFailure(std::string_view code) {
  return code == errc::kInternal || code == errc::kSecretStoreError;
}

std::string ClientMessage(const Error& e, std::string_view request_id) {
  if (!IsInternalFailure(e.code)) return e.message;
  const std::string what =
      e.code == errc::kSecretStoreError ? "the secret store failed" : "internal error";
  return what + "; the server log has the details (request id " +
         (request_id.empty() ? std::string("in X-Request-Id") : std::string(request_id)) + ")";
}

}  // namespace opsorch
