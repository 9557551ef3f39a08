#include "workflow/config_source.h"

#include <strings.h>

#include <opsorch/common/error.h>
#include <opsorch/common/files.h>
#include <opsorch/net/http_client.h>

namespace opsorch::workflow {
namespace {

Result<SourceRead> ReadUrl(const ConfigSource& source, std::string_view etag) {
  const std::string what = DescribeSource(source);
  static const auto client = net::HttpClient::Create({.max_idle_handles = 4});
  if (!client) return Fail(errc::kInternal, what + ": " + client.error().message);
  net::OutboundRequest request;
  request.url = source.url;
  request.headers = source.headers;
  // A configuration service (opsorch serve's /workflow-packages/{id}) answers 304 while the
  // package is unchanged: a poll then moves no bytes.
  if (!etag.empty()) request.headers.emplace_back("If-None-Match", std::string(etag));
  request.timeout = source.timeout;
  request.max_response_bytes = kMaxSourceBytes;
  // The bootstrap is the customer's own: its config server may be on a private network.
  request.allow_private = true;
  request.pool_key = "config-source";
  auto response = (*client)->Perform(request);
  if (!response) {
    if (response.error().code == ErrorCode::kResponseTooLarge) {
      return Fail(errc::kBadRequest, what + ": larger than 9 MiB");
    }
    return Fail(errc::kProviderError, what + ": " + response.error().message);
  }
  SourceRead read;
  for (const auto& [name, value] : response->headers) {
    if (name.size() == 4 && strncasecmp(name.c_str(), "etag", 4) == 0 && value.size() <= 256) {
      read.etag = value;
    }
  }
  if (response->status == 304 && !etag.empty()) {
    read.etag = std::string(etag);
    return read;
  }
  if (response->status < 200 || response->status > 299) {
    return Fail(errc::kProviderError, what + ": HTTP status " + std::to_string(response->status));
  }
  read.bytes = std::move(response->body);
  return read;
}

}  // namespace

std::string DescribeSource(const ConfigSource& source) {
  if (!source.file.empty()) return source.file;
  return source.url.substr(0, source.url.find_first_of("?#"));
}

Result<SourceRead> ReadConfigSource(const ConfigSource& source, std::string_view etag) {
  if (!source.url.empty()) return ReadUrl(source, etag);
  auto bytes = ReadTextFile(source.file, kMaxSourceBytes);
  if (!bytes) return Fail(std::move(bytes.error()));
  return SourceRead{std::move(*bytes), {}};
}

}  // namespace opsorch::workflow
