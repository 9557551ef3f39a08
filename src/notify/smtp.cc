// E-mail over libcurl's SMTP. The address libcurl connects to is checked by the same SSRF rule
// as HTTP (open-socket callback); every message gets a handle of its own (paging mail is rare,
// and a fresh connection cannot carry another policy's state).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <opsorch/common/error.h>
#include <opsorch/common/strings.h>
#include <opsorch/notify/transport.h>

#include "notify/internal.h"
#include "notify/mime.h"

namespace opsorch::notify {
namespace {

using internal::Failed;
using internal::Retry;
using internal::Sent;

struct SmtpTransfer {
  const net::NetList* allow_nets = nullptr;
  std::string denied_why;
  std::string_view message;
  std::size_t offset = 0;
  const std::atomic<bool>* abort = nullptr;
};

curl_socket_t OpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<SmtpTransfer*>(clientp);
  if (purpose != CURLSOCKTYPE_IPCXN || address == nullptr) {
    t->denied_why = "unexpected socket purpose";
    return CURL_SOCKET_BAD;
  }
  std::string why;
  if (!net::AddressAllowed(&address->addr, false, t->allow_nets, &why)) {
    t->denied_why = why;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

std::size_t ReadBody(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* t = static_cast<SmtpTransfer*>(userdata);
  const std::size_t n = std::min(size * nitems, t->message.size() - t->offset);
  std::memcpy(buffer, t->message.data() + t->offset, n);
  t->offset += n;
  return n;
}

int OnProgress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<const SmtpTransfer*>(clientp);
  return t->abort != nullptr && t->abort->load(std::memory_order_relaxed) ? 1 : 0;
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::once_flag g_curl_init_once;
CURLcode g_curl_init_result = CURLE_OK;

bool IsTlsError(CURLcode rc) {
  switch (rc) {
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return true;
    default:
      return false;
  }
}

// The URL is the operator's: smtp(s)://host[:port][/helo-name], no credentials or query in it.
Status CheckSmtpUrl(std::string_view url) {
  const std::string lower = ToLower(url);
  if (!lower.starts_with("smtp://") && !lower.starts_with("smtps://")) {
    return Fail(errc::kBadRequest, "url: must be smtp://host[:port] or smtps://host[:port]");
  }
  const std::size_t start = url.find("://") + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  const std::string_view authority = url.substr(start, end - start);
  if (authority.empty()) return Fail(errc::kBadRequest, "url: must name a host");
  if (authority.find('@') != std::string_view::npos) {
    return Fail(errc::kBadRequest, "url: must not carry user:password@ (use username, password)");
  }
  if (end != std::string_view::npos && url[end] != '/') {
    return Fail(errc::kBadRequest, "url: must not have a query or fragment");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) {
      return Fail(errc::kBadRequest, "url: must not contain spaces or control characters");
    }
  }
  return Ok();
}

class SmtpTransport final : public Transport {
 public:
  explicit SmtpTransport(TransportOptions options) : options_(std::move(options)) {}
  std::string_view type() const override { return "smtp"; }
  // A resent e-mail is a second e-mail (receivers do not dedupe by Message-ID).
  bool idempotent() const override { return false; }

  DeliveryResult Deliver(const Delivery& d) override {
    if (d.id.empty()) return Failed(0, "delivery id: must not be empty");
    internal::MailParts parts;
    parts.from = options_.smtp_from;
    parts.to = d.address;
    parts.subject = d.subject;
    parts.text = d.text;
    parts.html = d.html;
    parts.message_id = internal::MessageIdFor(d.id);
    parts.date_unix = internal::NowUnix();
    parts.boundary = "=_opsorch_" + internal::RandomHex(16);
    auto message = internal::BuildMessage(parts);
    if (!message) return Failed(0, message.error().message);

    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    if (!easy) return Retry(0, "curl_easy_init failed");
    CURL* curl = easy.get();
    SmtpTransfer t;
    t.allow_nets = options_.allow_nets.get();
    t.message = *message;
    t.abort = options_.abort;
    curl_slist* rcpt_raw = curl_slist_append(nullptr, ("<" + d.address + ">").c_str());
    std::unique_ptr<curl_slist, SlistDeleter> rcpt(rcpt_raw);
    if (!rcpt) return Retry(0, "out of memory");
    const std::string mail_from = "<" + options_.smtp_from + ">";

    CURLcode rc = CURLE_OK;
    auto set = [&rc](CURLcode r) {
      if (rc == CURLE_OK) rc = r;
    };
    const long timeout_ms = static_cast<long>(options_.timeout.count());
    const long connect_ms = std::max<long>(
        1, std::min<long>(static_cast<long>(options_.connect_timeout.count()), timeout_ms));
    set(curl_easy_setopt(curl, CURLOPT_URL, options_.smtp_url.c_str()));
    set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps"));
    set(curl_easy_setopt(curl, CURLOPT_PROXY, ""));
    set(curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"));
    set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L));
    set(curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L));
    set(curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L));
    set(curl_easy_setopt(curl, CURLOPT_USE_SSL,
                         options_.smtp_require_tls ? static_cast<long>(CURLUSESSL_ALL)
                                                   : static_cast<long>(CURLUSESSL_TRY)));
    set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms));
    set(curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms));
    set(curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from.c_str()));
    set(curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt.get()));
    if (!options_.smtp_username.empty()) {
      set(curl_easy_setopt(curl, CURLOPT_USERNAME, options_.smtp_username.c_str()));
      set(curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.smtp_password.c_str()));
    }
    set(curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L));
    set(curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadBody));
    set(curl_easy_setopt(curl, CURLOPT_READDATA, &t));
    set(curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message->size())));
    set(curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenSocket));
    set(curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &t));
    if (options_.abort != nullptr) {
      set(curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L));
      set(curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress));
      set(curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t));
    }
    DeliveryResult result;
    if (rc != CURLE_OK) {
      result = Failed(0, std::string("libcurl option refused (") + curl_easy_strerror(rc) + ")");
    } else {
      rc = curl_easy_perform(curl);
      long code = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
      result = Classify(rc, static_cast<int>(code), t);
    }
    result.provider_id = parts.message_id;
    return result;
  }

 private:
  // libcurl's error buffer may quote the server and name the host, so only the code's fixed
  // text and the reply code are reported.
  static DeliveryResult Classify(CURLcode rc, int code, const SmtpTransfer& t) {
    if (rc == CURLE_OK) return Sent(code, "SMTP " + std::to_string(code));
    const std::string what = curl_easy_strerror(rc);
    if (!t.denied_why.empty()) return Failed(0, "address denied (" + t.denied_why + ")");
    if (IsTlsError(rc)) return Retry(code, "TLS failed (" + what + ")");
    if (code >= 500 && code < 600) {
      return Failed(code, "SMTP " + std::to_string(code) + " (" + what + ")");
    }
    if (code >= 400 && code < 500) {
      return Retry(code, "SMTP " + std::to_string(code) + " (" + what + ")");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) return Retry(code, "timed out (" + what + ")");
    return Retry(code, what);
  }

  TransportOptions options_;
};

}  // namespace

Result<std::unique_ptr<Transport>> MakeSmtpTransport(const TransportOptions& options) {
  if (auto st = CheckSmtpUrl(options.smtp_url); !st) return Fail(std::move(st.error()));
  if (!internal::ValidAddrSpec(options.smtp_from)) {
    return Fail(errc::kBadRequest, "from: must be a plain e-mail address (local@domain)");
  }
  if (options.smtp_username.empty() != options.smtp_password.empty()) {
    return Fail(errc::kBadRequest, "username, password: give both or neither");
  }
  const bool implicit_tls = ToLower(options.smtp_url).starts_with("smtps://");
  if (!options.smtp_password.empty() && !options.smtp_require_tls && !implicit_tls) {
    // With STARTTLS merely tried, a server (or a man in the middle) that does not offer it
    // would receive the password in clear text.
    return Fail(errc::kBadRequest,
                "password: needs requireTls: true or an smtps:// URL (never sent in clear text)");
  }
  if (options.timeout.count() <= 0) return Fail(errc::kBadRequest, "timeout: must be positive");
  std::call_once(g_curl_init_once, [] { g_curl_init_result = curl_global_init(CURL_GLOBAL_ALL); });
  if (g_curl_init_result != CURLE_OK) {
    return Fail(errc::kInternal, "curl_global_init failed");
  }
  return std::unique_ptr<Transport>(std::make_unique<SmtpTransport>(options));
}

}  // namespace opsorch::notify
