// MetricsListener: opsorch::http::Server with one thread and small limits; the address is
// checked here, before binding, so a non-loopback one never listens even briefly.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/http/server.h>
#include <opsorch/workflow/metrics_listener.h>

namespace opsorch::workflow {
namespace {

constexpr std::string_view kRule =
    "the agent exposes its metrics on loopback only (127.0.0.0/8, [::1] or localhost); a "
    "collector on the same host scrapes it";

// "host:port" / "[v6]:port" → the literal address to bind and the port.
Result<std::pair<std::string, std::uint16_t>> LoopbackAddress(std::string_view address) {
  const auto refuse = [&](std::string_view why) {
    return Fail(ErrorCode::kBadRequest, "metrics listen address \"" + std::string(address) +
                                            "\": " + std::string(why) + ": " + std::string(kRule));
  };
  std::string_view host, port;
  if (address.starts_with('[')) {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return refuse("want [address]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return refuse("want host:port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return refuse("an IPv6 address goes in brackets, [::1]:port");
    }
  }
  unsigned port_number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      port_number > 65535) {
    return refuse("the port must be a number 0..65535");
  }
  const auto p = static_cast<std::uint16_t>(port_number);

  // "localhost" is bound as 127.0.0.1 rather than resolved: /etc/hosts decides nothing here.
  if (host == "localhost") return std::pair{std::string("127.0.0.1"), p};
  const std::string literal(host);
  in_addr v4{};
  if (::inet_pton(AF_INET, literal.c_str(), &v4) == 1) {
    if ((ntohl(v4.s_addr) >> 24) != 127) return refuse("not a loopback address");
    return std::pair{literal, p};
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, literal.c_str(), &v6) == 1) {
    if (std::memcmp(&v6, &in6addr_loopback, sizeof v6) != 0) {
      return refuse("not a loopback address");
    }
    return std::pair{literal, p};
  }
  // Other names are not resolved: what they resolve to can change after the check.
  return refuse("not a loopback address (host names other than localhost are not resolved)");
}

// True for a Host header naming loopback: "localhost", a 127.0.0.0/8 dotted quad or "[::1]",
// each with an optional port. Checked because binding to loopback is not enough: a web page in
// a browser on this host can rebind its own name to 127.0.0.1 and read the answer, and then
// its requests carry that name as Host.
bool LoopbackHost(std::string_view host) {
  std::string_view name = host, port;
  if (host.starts_with('[')) {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    const std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
    in6_addr v6{};
    if (::inet_pton(AF_INET6, std::string(name).c_str(), &v6) != 1 ||
        std::memcmp(&v6, &in6addr_loopback, sizeof v6) != 0) {
      return false;
    }
  } else {
    if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (port.empty()) return false;  // also "::1" without brackets
    }
    in_addr v4{};
    const bool ok = EqualsIgnoreCase(name, "localhost") ||
                    (::inet_pton(AF_INET, std::string(name).c_str(), &v4) == 1 &&
                     (ntohl(v4.s_addr) >> 24) == 127);
    if (!ok) return false;
  }
  if (port.empty()) return true;
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  return ec == std::errc() && end == port.data() + port.size() && number <= 65535;
}

http::Response ErrorResponse(int status, ErrorCode code, std::string message) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = ErrorBody(Name(code), message);
  return r;
}

class MetricsHandler final : public http::Handler {
 public:
  explicit MetricsHandler(std::function<std::string()> render) : render_(std::move(render)) {}

  void Handle(const http::Request& request, http::ResponseCallback done) override {
    // An HTTP/1.0 request may have no Host (the server refuses an HTTP/1.1 one without it): no
    // browser sends such a request. An empty Host is present, hence not request.Header().
    const auto host =
        std::find_if(request.headers.begin(), request.headers.end(),
                     [](const http::HeaderField& h) { return EqualsIgnoreCase(h.name, "Host"); });
    if (host != request.headers.end() && !LoopbackHost(host->value)) {
      done(ErrorResponse(403, ErrorCode::kForbidden,
                         "Host \"" + std::string(host->value) +
                             "\" refused: the metrics listener answers requests addressed to "
                             "loopback only (localhost, 127.0.0.0/8 or [::1], with or without a "
                             "port), so that a web page rebinding its name to 127.0.0.1 cannot "
                             "read the metrics; scrape it by address"));
      return;
    }
    std::string_view path = request.target;
    if (const std::size_t q = path.find('?'); q != std::string_view::npos) {
      path = path.substr(0, q);  // a scraper's ?name[]= filters are ignored, not refused
    }
    const bool metrics = path == "/metrics";
    if (!metrics && path != "/health") {
      done(ErrorResponse(404, ErrorCode::kNotFound, "not found: GET /metrics or GET /health"));
      return;
    }
    if (request.method != http::Method::kGet && request.method != http::Method::kHead) {
      http::Response r = ErrorResponse(405, ErrorCode::kMethodNotAllowed,
                                       "method not allowed: " + std::string(path) + " takes GET");
      r.AddHeader("Allow", "GET, HEAD");
      done(std::move(r));
      return;
    }
    http::Response r;
    if (metrics) {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = render_ ? render_() : std::string();
    } else {
      r.content_type = "application/json";
      r.body = R"({"status":"ok"})";
    }
    done(std::move(r));
  }

 private:
  std::function<std::string()> render_;
};

}  // namespace

struct MetricsListener::Impl {
  explicit Impl(std::function<std::string()> render) : handler(std::move(render)) {}
  MetricsHandler handler;
  std::unique_ptr<http::Server> server;
  std::thread thread;
};

MetricsListener::MetricsListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsListener::~MetricsListener() { Stop(); }

Result<std::unique_ptr<MetricsListener>> MetricsListener::Start(
    std::string_view address, std::function<std::string()> render) {
  auto where = LoopbackAddress(address);
  if (!where) return Fail(std::move(where.error()));

  http::ServerOptions so;
  so.host = where->first;
  so.port = where->second;
  so.threads = 1;
  // A scrape is a bodiless GET: small limits and short timeouts are enough.
  so.body_limit = 4 << 10;
  so.header_limit = 8 << 10;
  so.idle_timeout = std::chrono::seconds(30);
  so.read_timeout = std::chrono::seconds(10);
  so.write_timeout = std::chrono::seconds(10);
  so.shutdown_grace = std::chrono::seconds(1);

  auto impl = std::make_unique<Impl>(std::move(render));
  auto server = http::Server::Create(so, impl->handler);
  if (!server) return Fail(std::move(server.error()));
  impl->server = std::move(*server);
  impl->thread = std::thread([s = impl->server.get()] { s->Run(); });
  return std::unique_ptr<MetricsListener>(new MetricsListener(std::move(impl)));
}

std::uint16_t MetricsListener::Port() const { return impl_->server->Port(); }

void MetricsListener::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server->Stop();
  impl_->thread.join();
}

}  // namespace opsorch::workflow
