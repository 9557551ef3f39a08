#include "api/request_guard.h"

#include <opsorch/api/api.h>
#include <opsorch/common/strings.h>

namespace opsorch::api {

bool IsCrossSite(const http::Request& req, std::string_view allowed_origin) {
  const std::string_view origin = TrimSpace(req.Header("Origin"));
  if (!origin.empty() && allowed_origin != "*" && !allowed_origin.empty() &&
      origin == allowed_origin) {
    return false;
  }
  if (const std::string_view site = TrimSpace(req.Header("Sec-Fetch-Site")); !site.empty()) {
    if (!EqualsIgnoreCase(site, "same-origin") && !EqualsIgnoreCase(site, "none")) return true;
  }
  if (origin.empty()) return false;
  // scheme "://" host[:port], compared with the Host the browser sent the request to.
  const std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return true;  // "null" and anything malformed
  const std::string_view authority = origin.substr(scheme_end + 3);
  const std::string_view host = TrimSpace(req.Header("Host"));
  return host.empty() || !EqualsIgnoreCase(authority, host);
}

std::string_view ConsoleCallRefusal(const http::Request& req) {
  if (TrimSpace(req.Header(kConsoleHeader)) != "1") {
    return "a session cookie is accepted only on the console's own calls (X-OpsOrch-Console: 1)";
  }
  if (IsCrossSite(req, "")) return "cross-site request refused";
  const bool safe = req.method == http::Method::kGet || req.method == http::Method::kHead;
  if (safe) return {};
  const std::string_view site = TrimSpace(req.Header("Sec-Fetch-Site"));
  if (!site.empty()) {
    return EqualsIgnoreCase(site, "same-origin") ? std::string_view{}
                                                  : "cross-site request refused";
  }
  // IsCrossSite passed: an Origin, if present, names this Host.
  return TrimSpace(req.Header("Origin")).empty()
             ? "a change made with a session cookie must come from the console's origin"
             : std::string_view{};
}

std::string_view AcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return {};
  for (const char c : id) {
    if (c < 0x21 || c > 0x7e) return {};
  }
  return id;
}

}  // namespace opsorch::api
