// HttpFetcher over net::HttpClient. Redirects are followed here (not by libcurl) so the
// allowlist sees every hop; the client checks the address of every connection and request.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/strings.h>
#include <opsorch/net/http_client.h>
#include <opsorch/workflow/http_fetch.h>

#include "workflow/net/url_internal.h"

namespace opsorch::workflow {
namespace {

constexpr std::size_t kMaxRequestHeaderBytes = 64u << 10;

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// Framing and hop-by-hop headers belong to libcurl; a workflow setting them could smuggle a
// second request or confuse the upstream's framing.
bool IsReservedHeader(std::string_view name) {
  for (std::string_view r : {"content-length", "transfer-encoding", "connection", "upgrade", "te",
                             "trailer", "expect", "keep-alive", "proxy-connection"}) {
    if (EqualsIgnoreCase(name, r)) return true;
  }
  return false;
}

class CurlFetcher final : public HttpFetcher {
 public:
  explicit CurlFetcher(std::unique_ptr<net::HttpClient> client) : client_(std::move(client)) {}

  Result<FetchResponse> Fetch(const HostPolicy& host, const FetchRequest& request) override {
    try {
      return DoFetch(host, request);
    } catch (const std::exception&) {
      return Fail(errc::kInternal, Where(host.id, "") + ": internal error");
    }
  }

 private:
  // Messages reach scripts and logs: bounded, printable, and never the query (it may carry
  // credentials) or the base URL.
  static std::string Printable(std::string_view s) {
    std::string out;
    for (const char c : s.substr(0, 256)) {
      const auto u = static_cast<unsigned char>(c);
      out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    if (s.size() > 256) out += "...";
    return out;
  }
  static std::string Where(std::string_view host_id, std::string_view rel_path) {
    std::string out = "host '" + Printable(host_id) + "'";
    if (!rel_path.empty()) out += " path '" + Printable(rel_path) + "'";
    return out;
  }

  Result<FetchResponse> DoFetch(const HostPolicy& host, const FetchRequest& request) {
    auto base = url::ParseBase(host.base_url);
    if (!base) {
      return Fail(fetch_errc::kNotAllowed,
                  Where(host.id, "") + ": invalid base_url (" + base.error().message + ")");
    }
    const std::string request_path(request.path.substr(0, request.path.find('?')));
    auto url = BuildUrl(host, request.path);
    if (!url) {
      return Fail(fetch_errc::kNotAllowed,
                  Where(host.id, request_path) + ": path refused (" + url.error().message + ")");
    }
    std::string method = request.method;
    std::string rel = url::RelativePath(*base, *url).value_or(request_path);
    if (auto allowed = CheckAllowed(host, method, *url); !allowed) {
      return Fail(fetch_errc::kNotAllowed, Where(host.id, rel) + ": " + allowed.error().message);
    }

    // Step headers first, then the host's, replacing same names.
    Headers headers;
    std::size_t header_bytes = 0;
    for (const auto& [name, value] : request.headers) {
      if (EqualsIgnoreCase(name, "host") || IsReservedHeader(name)) {
        return Fail(fetch_errc::kNotAllowed,
                    Where(host.id, rel) + ": header '" + name + "' may not be set by a workflow");
      }
      headers.emplace_back(name, value);
    }
    for (const auto& [name, value] : host.headers) {
      if (IsReservedHeader(name)) {
        return Fail(fetch_errc::kNotAllowed,
                    Where(host.id, rel) + ": host header '" + name + "' is reserved");
      }
      std::erase_if(headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
      headers.emplace_back(name, value);
    }
    for (const auto& [name, value] : headers) {
      const bool name_ok =
          !name.empty() && name.size() <= 256 && std::all_of(name.begin(), name.end(), [](char c) {
            return IsTokenChar(static_cast<unsigned char>(c));
          });
      const bool value_ok = std::none_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7f;
      });
      if (!name_ok || !value_ok) {
        // Never echo the value: it may be a credential.
        return Fail(fetch_errc::kNotAllowed, Where(host.id, rel) + ": header " +
                                                 (name_ok ? "'" + name + "' value" : "name") +
                                                 " has characters not allowed in HTTP headers");
      }
      header_bytes += name.size() + value.size() + 4;
    }
    if (header_bytes > kMaxRequestHeaderBytes) {
      return Fail(fetch_errc::kNotAllowed, Where(host.id, rel) + ": request headers too large");
    }

    const std::string origin = base->Origin();
    const auto deadline = std::chrono::steady_clock::now() + host.timeout;
    std::string body = request.body;
    for (int hop = 0;; ++hop) {
      auto t = Hop(host, origin, method, *url, headers, body, deadline, rel);
      if (!t) return Fail(std::move(t.error()));
      const int status = t->status;
      const bool redirect =
          status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
      const std::string* location = nullptr;
      for (const auto& [name, value] : t->headers) {
        if (EqualsIgnoreCase(name, "location")) location = &value;
      }
      if (!redirect || location == nullptr) {
        FetchResponse response;
        response.status = status;
        response.headers = std::move(t->headers);
        response.body = std::move(t->body);
        response.url = *url;
        return response;
      }
      if (hop >= host.max_redirects) {
        return Fail(fetch_errc::kTooManyRedirects,
                    Where(host.id, rel) + ": more than max_redirects (" +
                        std::to_string(host.max_redirects) + ") redirects");
      }
      auto next = ResolveRedirect(host, *url, *location);
      if (!next) {
        return Fail(fetch_errc::kNotAllowed, Where(host.id, rel) + ": redirect hop " +
                                                 std::to_string(hop + 1) + " refused (" +
                                                 next.error().message + ")");
      }
      // RFC 9110 15.4: 303 becomes GET (HEAD stays); 301/302 after POST become GET, as all
      // browsers do. The body and its type go with the method.
      if ((status == 303 && method != "HEAD") ||
          ((status == 301 || status == 302) && method == "POST")) {
        method = "GET";
        body.clear();
        std::erase_if(headers,
                      [](const auto& h) { return EqualsIgnoreCase(h.first, "content-type"); });
      }
      const std::string next_rel = url::RelativePath(*base, *next).value_or("");
      if (auto allowed = CheckAllowed(host, method, *next); !allowed) {
        return Fail(fetch_errc::kNotAllowed, Where(host.id, rel) + ": redirect hop " +
                                                 std::to_string(hop + 1) + " to '" + next_rel +
                                                 "' refused (" + allowed.error().message + ")");
      }
      url = std::move(next);
      rel = next_rel;
    }
  }

  // One hop: the client's errors keep their code and get the host and path in front.
  Result<net::OutboundResponse> Hop(const HostPolicy& host, const std::string& origin,
                                    const std::string& method, const std::string& url,
                                    const Headers& headers, const std::string& body,
                                    std::chrono::steady_clock::time_point deadline,
                                    const std::string& rel) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      return Fail(fetch_errc::kTimeout, Where(host.id, rel) + ": timeout exceeded");
    }
    net::OutboundRequest r;
    r.method = method;
    r.url = url;
    r.headers = headers;
    r.body = body;
    r.allow_private = host.allow_private;
    r.connect_timeout = host.connect_timeout;
    r.timeout = remaining;
    r.max_response_bytes = host.max_response_bytes;
    r.pool_key = host.id + '\n' + origin;
    auto response = client_->Perform(r);
    if (!response) {
      return Fail(response.error().code, Where(host.id, rel) + ": " + response.error().message);
    }
    return response;
  }

  std::unique_ptr<net::HttpClient> client_;
};

}  // namespace

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(const FetcherOptions& options) {
  auto client = net::HttpClient::Create({.max_idle_handles = options.max_idle_connections});
  if (!client) return Fail(std::move(client.error()));
  try {
    return std::unique_ptr<HttpFetcher>(std::make_unique<CurlFetcher>(std::move(*client)));
  } catch (const std::exception&) {
    return Fail(errc::kInternal, "out of memory");
  }
}

}  // namespace opsorch::workflow
