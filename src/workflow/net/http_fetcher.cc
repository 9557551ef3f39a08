// HttpFetcher over libcurl's easy interface. Redirects are followed here (not by libcurl) so the
// allowlist sees every hop; the address is checked by our open-socket callback (before connect)
// and by the pre-request callback (every request, also on a reused connection).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <opsorch/common/strings.h>
#include <opsorch/workflow/http_fetch.h>

#include "workflow/net/url_internal.h"

namespace opsorch::workflow {
namespace {

constexpr std::size_t kMaxResponseHeaderBytes = 256u << 10;
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

// Per-transfer state the libcurl callbacks write into.
struct Transfer {
  bool allow_private = false;
  std::size_t max_body = 0;
  std::string body;
  Headers headers;
  std::size_t header_bytes = 0;
  bool too_large = false;
  std::string denied_why;  // set when an address check refused
};

curl_socket_t OpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(clientp);
  if (purpose != CURLSOCKTYPE_IPCXN || address == nullptr) {
    t->denied_why = "unexpected socket purpose";
    return CURL_SOCKET_BAD;
  }
  std::string why;
  if (!AddressAllowed(&address->addr, t->allow_private, &why)) {
    t->denied_why = why;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

// Runs before every request, including on a kept-alive connection, so a connection can only
// carry requests whose policy admits its peer address.
int PreRequest(void* clientp, char* primary_ip, char* /*local_ip*/, int /*primary_port*/,
               int /*local_port*/) {
  auto* t = static_cast<Transfer*>(clientp);
  sockaddr_storage storage{};
  if (primary_ip != nullptr) {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (::inet_pton(AF_INET, primary_ip, &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
    } else if (::inet_pton(AF_INET6, primary_ip, &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
    }
  }
  std::string why;
  if (!AddressAllowed(reinterpret_cast<const sockaddr*>(&storage), t->allow_private, &why)) {
    t->denied_why = why;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

std::size_t OnBody(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const std::size_t n = size * nmemb;
  if (t->body.size() + n > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR) and drops the connection
  }
  t->body.append(data, n);
  return n;
}

std::size_t OnHeader(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const std::size_t n = size * nmemb;
  t->header_bytes += n;
  if (t->header_bytes > kMaxResponseHeaderBytes) {
    t->too_large = true;
    return 0;
  }
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    t->headers.clear();  // a new response (after 1xx): keep only the final one's headers
    return n;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  t->headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return n;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

std::once_flag g_curl_init_once;
CURLcode g_curl_init_result = CURLE_OK;

class CurlFetcher final : public HttpFetcher {
 public:
  explicit CurlFetcher(const FetcherOptions& options) : options_(options) {}

  Result<FetchResponse> Fetch(const HostPolicy& host, const FetchRequest& request) override {
    try {
      return DoFetch(host, request);
    } catch (const std::exception&) {
      return Fail(errc::kInternal, Where(host.id, "") + ": internal error");
    }
  }

 private:
  // Checked-out handle, returned to the pool of its key when the call ends.
  class Lease {
   public:
    Lease(CurlFetcher* owner, std::string key, Easy handle)
        : owner_(owner), key_(std::move(key)), handle_(std::move(handle)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { owner_->Release(key_, std::move(handle_)); }
    CURL* get() const { return handle_.get(); }

   private:
    CurlFetcher* owner_;
    std::string key_;
    Easy handle_;
  };

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

  Easy Acquire(const std::string& key) {
    {
      std::lock_guard lock(mu_);
      auto it = idle_.find(key);
      if (it != idle_.end() && !it->second.empty()) {
        Easy handle = std::move(it->second.back());
        it->second.pop_back();
        if (it->second.empty()) idle_.erase(it);
        --idle_count_;
        return handle;
      }
    }
    return Easy(curl_easy_init());
  }

  void Release(const std::string& key, Easy handle) {
    if (!handle) return;
    std::lock_guard lock(mu_);
    if (idle_count_ >= options_.max_idle_connections) return;  // handle closes its connections
    idle_[key].push_back(std::move(handle));
    ++idle_count_;
  }

  Result<FetchResponse> DoFetch(const HostPolicy& host, const FetchRequest& request) {
    auto base = net::ParseBase(host.base_url);
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
    std::string rel = net::RelativePath(*base, *url).value_or(request_path);
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

    const std::string key =
        host.id + '\n' + (host.allow_private ? "private" : "public") + '\n' + base->Origin();
    Easy fresh = Acquire(key);
    if (!fresh) return Fail(errc::kInternal, Where(host.id, rel) + ": curl_easy_init failed");
    Lease lease(this, key, std::move(fresh));

    const auto deadline = std::chrono::steady_clock::now() + host.timeout;
    std::string body = request.body;
    for (int hop = 0;; ++hop) {
      Transfer t;
      t.allow_private = host.allow_private;
      t.max_body = host.max_response_bytes;
      auto performed = Perform(lease.get(), host, method, *url, headers, body, deadline, t, rel);
      if (!performed) return Fail(performed.error());
      long status = 0;
      curl_easy_getinfo(lease.get(), CURLINFO_RESPONSE_CODE, &status);
      const bool redirect =
          status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
      const std::string* location = nullptr;
      for (const auto& [name, value] : t.headers) {
        if (EqualsIgnoreCase(name, "location")) location = &value;
      }
      if (!redirect || location == nullptr) {
        FetchResponse response;
        response.status = static_cast<int>(status);
        response.headers = std::move(t.headers);
        response.body = std::move(t.body);
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
      const std::string next_rel = net::RelativePath(*base, *next).value_or("");
      if (auto allowed = CheckAllowed(host, method, *next); !allowed) {
        return Fail(fetch_errc::kNotAllowed, Where(host.id, rel) + ": redirect hop " +
                                                 std::to_string(hop + 1) + " to '" + next_rel +
                                                 "' refused (" + allowed.error().message + ")");
      }
      url = std::move(next);
      rel = next_rel;
    }
  }

  Status Perform(CURL* curl, const HostPolicy& host, const std::string& method,
                 const std::string& url, const Headers& headers, const std::string& body,
                 std::chrono::steady_clock::time_point deadline, Transfer& t,
                 const std::string& rel) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      return Fail(fetch_errc::kTimeout, Where(host.id, rel) + ": timeout exceeded");
    }
    // Reset keeps the handle's connection and DNS caches but no option of the previous call.
    curl_easy_reset(curl);
    Slist list;
    curl_slist* raw = nullptr;
    auto add = [&](const std::string& line) {
      curl_slist* appended = curl_slist_append(raw, line.c_str());
      if (appended != nullptr) raw = appended;
      return appended != nullptr;
    };
    bool ok = add("Expect:");  // no 100-continue round trip for bodies
    for (const auto& [name, value] : headers) {
      // "Name;" is libcurl's spelling for a header with an empty value.
      ok = ok && add(value.empty() ? name + ";" : name + ": " + value);
    }
    list.reset(raw);
    if (!ok) return Fail(errc::kInternal, Where(host.id, rel) + ": out of memory");

    const long connect_ms = std::max<long>(
        1, std::min<long>(static_cast<long>(host.connect_timeout.count()), remaining.count()));
    CURLcode rc = CURLE_OK;
    auto set = [&rc](CURLcode r) {
      if (rc == CURLE_OK) rc = r;
    };
    set(curl_easy_setopt(curl, CURLOPT_URL, url.c_str()));
    set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L));
    set(curl_easy_setopt(curl, CURLOPT_PROXY, ""));
    set(curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"));
    set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L));
    set(curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L));
    set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms));
    set(curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count())));
    set(curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, 2L));
    set(curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L));
    if (method != "HEAD") {  // a HEAD answer's Content-Length describes a body never sent
      set(curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                           static_cast<curl_off_t>(host.max_response_bytes)));
    }
    set(curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket));
    set(curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t));
    set(curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, &PreRequest));
    set(curl_easy_setopt(curl, CURLOPT_PREREQDATA, &t));
    set(curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody));
    set(curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t));
    set(curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader));
    set(curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t));
    set(curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get()));
    if (method == "GET" && body.empty()) {
      set(curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L));
    } else if (method == "HEAD") {
      set(curl_easy_setopt(curl, CURLOPT_NOBODY, 1L));
    } else {
      if (method != "POST") set(curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str()));
      if (method == "POST" || method == "PUT" || method == "PATCH" || !body.empty()) {
        set(curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(body.size())));
        set(curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data()));
      }
    }
    if (rc != CURLE_OK) {
      return Fail(errc::kInternal, Where(host.id, rel) + ": libcurl option refused (" +
                                       curl_easy_strerror(rc) + ")");
    }
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) return Ok();
    // libcurl's own message can carry the host name, so only its code's fixed text is used.
    const std::string detail = curl_easy_strerror(rc);
    if (!t.denied_why.empty()) {
      return Fail(fetch_errc::kAddressDenied,
                  Where(host.id, rel) + ": address denied (" + t.denied_why + ")");
    }
    if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      return Fail(fetch_errc::kTooLarge, Where(host.id, rel) + ": response larger than " +
                                             std::to_string(host.max_response_bytes) + " bytes");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return Fail(fetch_errc::kTimeout, Where(host.id, rel) + ": timed out (" + detail + ")");
    }
    return Fail(fetch_errc::kConnectFailed, Where(host.id, rel) + ": " + detail);
  }

  FetcherOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Easy>> idle_;
  std::size_t idle_count_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpFetcher>> HttpFetcher::Create(const FetcherOptions& options) {
  std::call_once(g_curl_init_once, [] { g_curl_init_result = curl_global_init(CURL_GLOBAL_ALL); });
  if (g_curl_init_result != CURLE_OK) {
    return Fail(errc::kInternal,
                std::string("curl_global_init failed: ") + curl_easy_strerror(g_curl_init_result));
  }
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info == nullptr || info->version_num < 0x075500) {  // PROTOCOLS_STR needs 7.85
    return Fail(errc::kInternal, "libcurl 7.85 or newer is required");
  }
  try {
    return std::unique_ptr<HttpFetcher>(std::make_unique<CurlFetcher>(options));
  } catch (const std::exception&) {
    return Fail(errc::kInternal, "out of memory");
  }
}

}  // namespace opsorch::workflow
