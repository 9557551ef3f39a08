#include "workflow/config_source.h"

#include <memory>

#include <curl/curl.h>

#include <opsorch/common/error.h>
#include <opsorch/common/files.h>

namespace opsorch::workflow {
namespace {

struct Body {
  std::string text;
  bool too_large = false;
};

std::size_t OnData(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  if (body->text.size() + size * n > kMaxConfigBytes) {
    body->too_large = true;
    return 0;  // aborts the transfer
  }
  body->text.append(data, size * n);
  return size * n;
}

Result<std::string> ReadUrl(const ConfigSource& source) {
  static const bool init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)init;
  const std::string what = DescribeSource(source);
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Fail(errc::kInternal, what + ": cannot create an HTTP client");
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : source.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers,
                                                                           curl_slist_free_all);
  Body body;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, source.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(source.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  const CURLcode rc = curl_easy_perform(c);
  if (body.too_large) return Fail(errc::kBadRequest, what + ": larger than 8 MiB");
  if (rc != CURLE_OK) return Fail(errc::kProviderError, what + ": " + curl_easy_strerror(rc));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) {
    return Fail(errc::kProviderError, what + ": HTTP status " + std::to_string(status));
  }
  return std::move(body.text);
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
