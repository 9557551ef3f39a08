#include "workflow/config_source.h"

#include <opsorch/common/error.h>
#include <opsorch/common/files.h>
#include <opsorch/net/http_client.h>

namespace opsorch::workflow {
namespace {

Result<std::string> ReadUrl(const ConfigSource& source) {
  const std::string what = DescribeSource(source);
  static const auto client = net::HttpClient::Create({.max_idle_handles = 4});
  if (!client) return Fail(errc::kInternal, what + ": " + client.error().message);
  net::OutboundRequest request;
  request.url = source.url;
  request.headers = source.headers;
  request.timeout = source.timeout;
  request.max_response_bytes = kMaxConfigBytes;
  // The bootstrap is the customer's own: its config server may be on a private network.
  request.allow_private = true;
  request.pool_key = "config-source";
  auto response = (*client)->Perform(request);
  if (!response) {
    if (response.error().code == ErrorCode::kResponseTooLarge) {
      return Fail(errc::kBadRequest, what + ": larger than 8 MiB");
    }
    return Fail(errc::kProviderError, what + ": " + response.error().message);
  }
  if (response->status < 200 || response->status > 299) {
    return Fail(errc::kProviderError, what + ": HTTP status " + std::to_string(response->status));
  }
  return std::move(response->body);
}

}  // namespace

std::string DescribeSource(const ConfigSource& source) {
  if (!source.file.empty()) return source.file;
  return source.url.substr(0, source.url.find_first_of("?#"));
}

Result<std::string> ReadConfigSource(const ConfigSource& source) {
  if (!source.url.empty()) return ReadUrl(source);
  return ReadTextFile(source.file, kMaxConfigBytes);
}

}  // namespace opsorch::workflow
