// HttpClient over libcurl's easy interface. The address is checked by our open-socket callback
// (before connect) and by the pre-request callback (every request, also on a reused connection).
#include <algorithm>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <opsorch/common/error.h>
#include <opsorch/net/http_client.h>

namespace opsorch::net {
namespace {

constexpr std::size_t kMaxResponseHeaderBytes = 256u << 10;

// Per-transfer state the libcurl callbacks write into.
struct Transfer {
  bool allow_private = false;
  const NetList* allow_nets = nullptr;
  bool keep_body = true;
  std::size_t max_body = 0;
  std::size_t body_bytes = 0;
  std::string body;
  Headers headers;
  std::size_t header_bytes = 0;
  bool too_large = false;
  std::string denied_why;  // set when an address check refused
  const std::atomic<bool>* abort = nullptr;
};

curl_socket_t OpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(clientp);
  if (purpose != CURLSOCKTYPE_IPCXN || address == nullptr) {
    t->denied_why = "unexpected socket purpose";
    return CURL_SOCKET_BAD;
  }
  std::string why;
  if (!AddressAllowed(&address->addr, t->allow_private, t->allow_nets, &why)) {
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
  if (!AddressAllowed(reinterpret_cast<const sockaddr*>(&storage), t->allow_private, t->allow_nets,
                      &why)) {
    t->denied_why = why;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

std::size_t OnBody(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  const std::size_t n = size * nmemb;
  if (t->body_bytes + n > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR) and drops the connection
  }
  t->body_bytes += n;
  if (t->keep_body) t->body.append(data, n);
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

int OnProgress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<const Transfer*>(clientp);
  return t->abort != nullptr && t->abort->load(std::memory_order_relaxed) ? 1 : 0;
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
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

class CurlClient final : public HttpClient {
 public:
  explicit CurlClient(const ClientOptions& options) : options_(options) {}

  Result<OutboundResponse> Perform(const OutboundRequest& request) override {
    try {
      return DoPerform(request);
    } catch (const std::exception&) {
      return Fail(errc::kInternal, "internal error");
    }
  }

 private:
  // A checked-out handle, returned to the pool of its key when the call ends.
  class Lease {
   public:
    Lease(CurlClient* owner, std::string key, Easy handle)
        : owner_(owner), key_(std::move(key)), handle_(std::move(handle)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { owner_->Release(key_, std::move(handle_)); }
    CURL* get() const { return handle_.get(); }

   private:
    CurlClient* owner_;
    std::string key_;
    Easy handle_;
  };

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
    if (idle_count_ >= options_.max_idle_handles) return;  // the handle closes its connections
    idle_[key].push_back(std::move(handle));
    ++idle_count_;
  }

  Result<OutboundResponse> DoPerform(const OutboundRequest& request) {
    if (request.timeout.count() <= 0) return Fail(ErrorCode::kTimeout, "timeout exceeded");
    Slist list;
    curl_slist* raw = nullptr;
    auto add = [&](const std::string& line) {
      curl_slist* appended = curl_slist_append(raw, line.c_str());
      if (appended != nullptr) raw = appended;
      return appended != nullptr;
    };
    bool ok = add("Expect:");  // no 100-continue round trip for bodies
    for (const auto& [name, value] : request.headers) {
      if (name.empty() || HasLineBreakOrNul(name) || HasLineBreakOrNul(value) ||
          name.find(':') != std::string::npos) {
        list.reset(raw);
        return Fail(errc::kBadRequest, "a header name or value has characters not allowed");
      }
      // "Name;" is libcurl's spelling for a header with an empty value.
      ok = ok && add(value.empty() ? name + ";" : name + ": " + value);
    }
    list.reset(raw);
    if (!ok) return Fail(errc::kInternal, "out of memory");

    // The policy is part of the key: a connection opened under one allow-list is never lent to
    // a call made under another (the pre-request check would refuse it anyway, after the fact).
    const NetList* allow_nets =
        request.allow_nets && !request.allow_nets->empty() ? request.allow_nets.get() : nullptr;
    const std::string key = (request.allow_private ? "private\n" : "public\n") +
                            (allow_nets != nullptr ? allow_nets->canonical() : std::string()) +
                            "\n" + request.pool_key;
    Easy fresh = Acquire(key);
    if (!fresh) return Fail(errc::kInternal, "curl_easy_init failed");
    Lease lease(this, key, std::move(fresh));
    CURL* curl = lease.get();
    // Reset keeps the handle's connection and DNS caches but no option of the previous call.
    curl_easy_reset(curl);

    Transfer t;
    t.allow_private = request.allow_private;
    t.allow_nets = allow_nets;
    t.keep_body = request.keep_body;
    t.max_body = request.max_response_bytes;
    t.abort = request.abort;
    const std::string& method = request.method;
    const long connect_ms =
        std::max<long>(1, std::min<long>(static_cast<long>(request.connect_timeout.count()),
                                         static_cast<long>(request.timeout.count())));
    CURLcode rc = CURLE_OK;
    auto set = [&rc](CURLcode r) {
      if (rc == CURLE_OK) rc = r;
    };
    set(curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str()));
    set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    set(curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L));
    set(curl_easy_setopt(curl, CURLOPT_PROXY, ""));
    set(curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"));
    set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L));
    set(curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L));
    set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms));
    set(curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count())));
    set(curl_easy_setopt(curl, CURLOPT_MAXCONNECTS, 2L));
    set(curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L));
    set(curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L));
    if (method != "HEAD") {  // a HEAD answer's Content-Length describes a body never sent
      set(curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                           static_cast<curl_off_t>(request.max_response_bytes)));
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
    if (request.abort != nullptr) {
      set(curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L));
      set(curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress));
      set(curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t));
    }
    if (method == "GET" && request.body.empty()) {
      set(curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L));
    } else if (method == "HEAD") {
      set(curl_easy_setopt(curl, CURLOPT_NOBODY, 1L));
    } else {
      if (method != "POST") set(curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str()));
      if (method == "POST" || method == "PUT" || method == "PATCH" || !request.body.empty()) {
        set(curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(request.body.size())));
        set(curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data()));
      }
    }
    if (rc != CURLE_OK) {
      return Fail(errc::kInternal,
                  std::string("libcurl option refused (") + curl_easy_strerror(rc) + ")");
    }
    rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
      // libcurl's own message can carry the host name, so only its code's fixed text is used.
      const std::string detail = curl_easy_strerror(rc);
      if (!t.denied_why.empty()) {
        return Fail(ErrorCode::kAddressDenied, "address denied (" + t.denied_why + ")");
      }
      if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        return Fail(
            ErrorCode::kResponseTooLarge,
            "response larger than " + std::to_string(request.max_response_bytes) + " bytes");
      }
      if (rc == CURLE_ABORTED_BY_CALLBACK && request.abort != nullptr &&
          request.abort->load(std::memory_order_relaxed)) {
        return Fail(errc::kUnavailable, "aborted");
      }
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        return Fail(ErrorCode::kTimeout, "timed out (" + detail + ")");
      }
      return Fail(ErrorCode::kConnectFailed, detail);
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    OutboundResponse response;
    response.status = static_cast<int>(status);
    response.headers = std::move(t.headers);
    response.body = std::move(t.body);
    return response;
  }

  ClientOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Easy>> idle_;
  std::size_t idle_count_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const ClientOptions& options) {
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
    return std::unique_ptr<HttpClient>(std::make_unique<CurlClient>(options));
  } catch (const std::exception&) {
    return Fail(errc::kInternal, "out of memory");
  }
}

}  // namespace opsorch::net
