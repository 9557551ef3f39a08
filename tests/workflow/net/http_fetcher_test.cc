// HttpFetcher against a real loopback upstream (cpp-httplib). Every refusal is checked at the
// upstream too: a refused call must not reach it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <opsorch/workflow/http_fetch.h>

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Seen {
  std::string method;
  std::string path;
  int remote_port = 0;
  httplib::Headers headers;
};

// A loopback upstream that records every request it receives (before routing, so 404s count).
class Upstream {
 public:
  explicit Upstream(const std::string& bind = "127.0.0.1") {
    server_.set_tcp_nodelay(true);  // off by default: 40 ms per request otherwise
    server_.set_keep_alive_max_count(1000);
    server_.set_keep_alive_timeout(2);
    server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      std::lock_guard lock(mu_);
      seen_.push_back({req.method, req.path, req.remote_port, req.headers});
      return httplib::Server::HandlerResponse::Unhandled;
    });
    port_ = server_.bind_to_any_port(bind);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Upstream() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  int port() const { return port_; }
  std::string Base(const std::string& host = "127.0.0.1") const {
    return "http://" + host + ":" + std::to_string(port_);
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t Count(const std::string& path) {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& s : seen_) n += s.path == path ? 1 : 0;
    return n;
  }
  std::size_t Connections() {
    std::lock_guard lock(mu_);
    std::set<int> ports;
    for (const auto& s : seen_) ports.insert(s.remote_port);
    return ports.size();
  }
  // Sleeps like a slow upstream but wakes when the test ends, so teardown stays quick.
  void Sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [this] { return stopping_; });
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Seen> seen_;
};

class FetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& s = upstream_.server();
    s.Get("/api/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Reply", "yes");
      res.set_content("hello " + req.get_param_value("name"), "text/plain");
    });
    s.Post("/api/items", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 201;
      res.set_content(req.method + ":" + req.body + ":" + req.get_header_value("Content-Type"),
                      "text/plain");
    });
    s.Put("/api/items/1", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.method + ":" + req.body, "text/plain");
    });
    s.Delete("/api/items/1", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.method + ":" + req.body, "text/plain");
    });
    s.Get("/api/ok", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content("ok " + req.method, "text/plain");
    });
    s.Get("/api/admin", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("secret admin", "text/plain");
    });
    auto redirect = [](int status, std::string location) {
      return [status, location](const httplib::Request&, httplib::Response& res) {
        res.status = status;
        res.set_header("Location", location);
      };
    };
    s.Get("/api/r/abs", redirect(302, "/api/ok"));
    s.Get("/api/r/rel", redirect(301, "../ok"));
    s.Get("/api/r/full", redirect(302, upstream_.Base() + "/api/ok"));
    s.Get("/api/r/admin", redirect(302, "/api/admin"));
    s.Get("/api/r/outside", redirect(302, "/other"));
    s.Get("/api/r/origin", redirect(302, upstream_.Base("localhost") + "/api/ok"));
    s.Get("/api/r/proto", redirect(302, "//evil.invalid/api/ok"));
    s.Get("/api/r/loop", redirect(302, "/api/r/loop"));
    s.Post("/api/r/302", redirect(302, "/api/items"));
    s.Post("/api/r/303", redirect(303, "/api/items"));
    s.Post("/api/r/307", redirect(307, "/api/items"));
    s.Post("/api/r/308", redirect(308, "/api/items"));
    s.Get("/api/slow", [this](const httplib::Request&, httplib::Response& res) {
      upstream_.Sleep(std::chrono::seconds(5));
      res.set_content("late", "text/plain");
    });
    s.Get("/api/big", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::string(std::stoul(req.get_param_value("n")), 'x'), "text/plain");
    });
    s.Get("/api/chunked", [](const httplib::Request& req, httplib::Response& res) {
      const std::size_t n = std::stoul(req.get_param_value("n"));
      res.set_chunked_content_provider(
          "text/plain", [n](std::size_t offset, httplib::DataSink& sink) {
            if (offset >= n) {
              sink.done();
              return true;
            }
            const std::string chunk(std::min<std::size_t>(4096, n - offset), 'y');
            return sink.write(chunk.data(), chunk.size());
          });
    });
    auto fetcher = HttpFetcher::Create();
    ASSERT_TRUE(fetcher.has_value()) << fetcher.error().message;
    fetcher_ = std::move(*fetcher);
  }

  HostPolicy Host(bool allow_private = true) {
    HostPolicy host;
    host.id = "upstream";
    host.base_url = upstream_.Base() + "/api";
    host.allow_private = allow_private;
    host.timeout = std::chrono::milliseconds(5000);
    return host;
  }

  static FetchRequest Get(std::string path) {
    FetchRequest r;
    r.path = std::move(path);
    return r;
  }

  static std::string Header(const Headers& headers, const std::string& name) {
    for (const auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
    }
    return "<absent>";
  }

  Upstream upstream_;  // declared first: outlives the fetcher and its connections
  std::unique_ptr<HttpFetcher> fetcher_;
};

TEST_F(FetcherTest, GetSendsStepAndHostHeadersAndCollectsTheResponse) {
  HostPolicy host = Host();
  host.headers = {{"Authorization", "Bearer s3cret"}, {"x-over", "host"}};
  FetchRequest request = Get("/echo?name=world");
  request.headers = {{"X-Step", "1"},
                     {"X-Over", "step"},
                     {"X-Empty", ""}};  // sent as "X-Empty:"; httplib drops it
  auto response = fetcher_->Fetch(host, request);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello world");
  EXPECT_EQ(Header(response->headers, "X-Reply"), "yes");
  EXPECT_EQ(Header(response->headers, "Content-Type"), "text/plain");
  EXPECT_EQ(response->url, upstream_.Base() + "/api/echo?name=world");
  const auto seen = upstream_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/api/echo");
  EXPECT_EQ(seen[0].headers.count("X-Over"), 1u);  // replaced, not duplicated
  EXPECT_EQ(seen[0].headers.find("X-Over")->second, "host");
  EXPECT_EQ(seen[0].headers.find("Authorization")->second, "Bearer s3cret");
  EXPECT_EQ(seen[0].headers.find("X-Step")->second, "1");
}

TEST_F(FetcherTest, PostPutDeleteCarryMethodAndBody) {
  FetchRequest post;
  post.method = "POST";
  post.path = "/items";
  post.body = R"({"a":1})";
  post.headers = {{"Content-Type", "application/json"}};
  auto response = fetcher_->Fetch(Host(), post);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"(POST:{"a":1}:application/json)");

  FetchRequest put = post;
  put.method = "PUT";
  put.path = "/items/1";
  put.body = std::string(5000, 'p');  // above libcurl's 1 KiB Expect: 100-continue threshold
  response = fetcher_->Fetch(Host(), put);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->body, "PUT:" + put.body);

  FetchRequest del;
  del.method = "DELETE";
  del.path = "/items/1";
  response = fetcher_->Fetch(Host(), del);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->body, "DELETE:");
}

TEST_F(FetcherTest, AllowlistRefusalNeverReachesTheUpstream) {
  HostPolicy host = Host();
  host.headers = {{"Authorization", "Bearer s3cret"}};
  host.allow = std::vector<AllowRule>{{"GET", "/echo"}, {"POST", "/items"}};
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/admin?token=QSECRET"},
                                                        {"DELETE", "/echo"},
                                                        {"GET", "/echo/../admin"},
                                                        {"GET", "/%61dmin"},
                                                        {"get", "/echo"}}) {
    FetchRequest request = Get(path);
    request.method = method;
    auto response = fetcher_->Fetch(host, request);
    ASSERT_FALSE(response.has_value()) << method << " " << path;
    EXPECT_EQ(response.error().code, fetch_errc::kNotAllowed);
    EXPECT_THAT(response.error().message, HasSubstr("host 'upstream'"));
    EXPECT_THAT(response.error().message, Not(HasSubstr("QSECRET")));
    EXPECT_THAT(response.error().message, Not(HasSubstr("s3cret")));
    EXPECT_THAT(response.error().message, Not(HasSubstr(std::to_string(upstream_.port()))));
  }
  auto refused = fetcher_->Fetch(host, Get("/admin?token=QSECRET"));
  EXPECT_THAT(refused.error().message, HasSubstr("'/admin'"));
  EXPECT_THAT(refused.error().message, HasSubstr("no allow rule matches GET /admin"));
  EXPECT_TRUE(upstream_.seen().empty());
  EXPECT_TRUE(fetcher_->Fetch(host, Get("/echo")).has_value());
  EXPECT_EQ(upstream_.seen().size(), 1u);
}

TEST_F(FetcherTest, MalformedPathsAndHeadersNeverReachTheUpstream) {
  for (const char* path : {"@evil.invalid/x", "//evil.invalid/x", "\\evil", "/../x",
                           "/a\r\nHost: evil", "http://evil.invalid/"}) {
    auto response = fetcher_->Fetch(Host(), Get(path));
    ASSERT_FALSE(response.has_value()) << path;
    EXPECT_EQ(response.error().code, fetch_errc::kNotAllowed) << path;
  }
  for (const Headers& headers : std::vector<Headers>{{{"Host", "evil.invalid"}},
                                                     {{"Content-Length", "5"}},
                                                     {{"Transfer-Encoding", "chunked"}},
                                                     {{"X-A", "v\r\nX-Injected: 1"}},
                                                     {{"Bad Name", "v"}}}) {
    FetchRequest request = Get("/echo");
    request.headers = headers;
    auto response = fetcher_->Fetch(Host(), request);
    ASSERT_FALSE(response.has_value()) << headers[0].first;
    EXPECT_EQ(response.error().code, fetch_errc::kNotAllowed);
    EXPECT_THAT(response.error().message, Not(HasSubstr("X-Injected")));
  }
  HostPolicy bad = Host();
  bad.base_url = "http://user@127.0.0.1:" + std::to_string(upstream_.port());
  auto response = fetcher_->Fetch(bad, Get("/echo"));
  ASSERT_FALSE(response.has_value());
  EXPECT_THAT(response.error().message, HasSubstr("userinfo"));
  EXPECT_TRUE(upstream_.seen().empty());
}

TEST_F(FetcherTest, FollowsAllowedRedirects) {
  for (const char* path : {"/r/abs", "/r/rel", "/r/full"}) {
    auto response = fetcher_->Fetch(Host(), Get(path));
    ASSERT_TRUE(response.has_value()) << path << ": " << response.error().message;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "ok GET");
    EXPECT_EQ(response->url, upstream_.Base() + "/api/ok");
  }
  EXPECT_EQ(upstream_.Count("/api/ok"), 3u);
}

TEST_F(FetcherTest, RedirectToADisallowedPathIsRefused) {
  HostPolicy host = Host();
  host.allow = std::vector<AllowRule>{{"GET", "/r/*"}, {"GET", "/ok"}};
  auto response = fetcher_->Fetch(host, Get("/r/admin"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kNotAllowed);
  EXPECT_THAT(response.error().message, HasSubstr("redirect hop 1 to '/admin'"));
  EXPECT_EQ(upstream_.Count("/api/r/admin"), 1u);
  EXPECT_EQ(upstream_.Count("/api/admin"), 0u);
  // The same rules let an allowed hop through, so the refusal above is the allowlist's doing.
  EXPECT_TRUE(fetcher_->Fetch(host, Get("/r/abs")).has_value());
}

TEST_F(FetcherTest, RedirectToAnotherOriginOrOutsideTheBaseIsRefused) {
  for (const char* path : {"/r/origin", "/r/proto", "/r/outside"}) {
    auto response = fetcher_->Fetch(Host(), Get(path));
    ASSERT_FALSE(response.has_value()) << path;
    EXPECT_EQ(response.error().code, fetch_errc::kNotAllowed) << path;
    EXPECT_THAT(response.error().message, HasSubstr("redirect hop 1 refused")) << path;
  }
  EXPECT_EQ(upstream_.seen().size(), 3u);  // the three redirecting requests only
  EXPECT_EQ(upstream_.Count("/api/ok"), 0u);
}

TEST_F(FetcherTest, RedirectLoopIsCappedAtMaxRedirects) {
  HostPolicy host = Host();
  host.max_redirects = 3;
  auto response = fetcher_->Fetch(host, Get("/r/loop"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kTooManyRedirects);
  EXPECT_EQ(upstream_.Count("/api/r/loop"), 4u);  // the first request and three hops
  host.max_redirects = 0;
  response = fetcher_->Fetch(host, Get("/r/abs"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kTooManyRedirects);
}

TEST_F(FetcherTest, RedirectMethodRulesFollowRfc9110) {
  FetchRequest post;
  post.method = "POST";
  post.body = "payload";
  post.headers = {{"Content-Type", "application/json"}};
  for (const auto& [path, expected] : std::vector<std::pair<std::string, std::string>>{
           {"/r/302", "<get>"},
           {"/r/303", "<get>"},
           {"/r/307", "POST:payload:application/json"},
           {"/r/308", "POST:payload:application/json"}}) {
    post.path = path;
    auto response = fetcher_->Fetch(Host(), post);
    ASSERT_TRUE(response.has_value()) << path << ": " << response.error().message;
    if (expected == "<get>") {
      // /api/items has no GET handler: the upstream answers 404 to the GET the hop became.
      EXPECT_EQ(response->status, 404) << path;
      EXPECT_EQ(upstream_.seen().back().method, "GET") << path;
      EXPECT_EQ(upstream_.seen().back().headers.count("Content-Type"), 0u) << path;
    } else {
      EXPECT_EQ(response->status, 201) << path;
      EXPECT_EQ(response->body, expected) << path;
    }
  }
}

// Every spelling of loopback, pointed at the live upstream: denied before connecting when the
// host does not allow private addresses, and reaching the upstream when it does (so the spelling
// really leads there and the denial is the address rule's doing).
class LoopbackSpelling : public FetcherTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(LoopbackSpelling, IsDeniedUnlessTheHostAllowsPrivateAddresses) {
  HostPolicy host = Host(false);
  host.base_url = "http://" + GetParam() + ":" + std::to_string(upstream_.port()) + "/api";
  auto response = fetcher_->Fetch(host, Get("/ok"));
  ASSERT_FALSE(response.has_value()) << GetParam();
  EXPECT_EQ(response.error().code, fetch_errc::kAddressDenied) << response.error().message;
  EXPECT_THAT(response.error().message, HasSubstr("loopback"));
  EXPECT_THAT(response.error().message, Not(HasSubstr(GetParam())));
  EXPECT_TRUE(upstream_.seen().empty());

  host.allow_private = true;
  response = fetcher_->Fetch(host, Get("/ok"));
  ASSERT_TRUE(response.has_value()) << GetParam() << ": " << response.error().message;
  EXPECT_EQ(response->body, "ok GET");
  EXPECT_EQ(upstream_.seen().size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Spellings, LoopbackSpelling,
                         ::testing::Values("127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1",
                                           "127.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
                                           "localhost"),
                         [](const auto& info) {
                           std::string name;
                           for (char c : info.param) name += std::isalnum(c) ? c : '_';
                           return name;
                         });

// A listening socket nobody accepts on: any completed TCP handshake waits in its backlog, so an
// empty backlog proves the fetcher never even connected.
class RawListener {
 public:
  RawListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len)) {
      ADD_FAILURE() << "raw listener";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~RawListener() { ::close(fd_); }
  int port() const { return port_; }
  int Accepted() {
    int n = 0;
    for (int fd; (fd = ::accept(fd_, nullptr, nullptr)) >= 0; ++n) ::close(fd);
    return n;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(FetcherTest, ADeniedAddressIsNeverConnectedTo) {
  RawListener listener;
  for (const std::string spelling : {"127.0.0.1", "2130706433", "[::ffff:7f00:1]", "localhost"}) {
    HostPolicy host = Host(false);
    host.base_url = "http://" + spelling + ":" + std::to_string(listener.port());
    host.timeout = std::chrono::milliseconds(500);
    auto response = fetcher_->Fetch(host, Get("/x"));
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, fetch_errc::kAddressDenied) << spelling;
    EXPECT_EQ(listener.Accepted(), 0) << spelling;
    // Control: allowed, the same spelling does connect (and then times out: nobody answers).
    host.allow_private = true;
    response = fetcher_->Fetch(host, Get("/x"));
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error().code, fetch_errc::kTimeout) << spelling;
    EXPECT_GE(listener.Accepted(), 1) << spelling;
  }
}

TEST_F(FetcherTest, UnspecifiedAndIpv6LoopbackAreDenied) {
  for (const std::string host_text : {"0.0.0.0", "0", "[::]", "[::1]"}) {
    HostPolicy host = Host(host_text == "[::1]" ? false : true);  // unspecified: never allowed
    host.base_url = "http://" + host_text + ":" + std::to_string(upstream_.port()) + "/api";
    auto response = fetcher_->Fetch(host, Get("/ok"));
    ASSERT_FALSE(response.has_value()) << host_text;
    EXPECT_EQ(response.error().code, fetch_errc::kAddressDenied)
        << host_text << ": " << response.error().message;
  }
  EXPECT_TRUE(upstream_.seen().empty());
}

TEST_F(FetcherTest, KeepAliveReusesOneConnection) {
  for (int i = 0; i < 5; ++i) {
    auto response = fetcher_->Fetch(Host(), Get("/ok"));
    ASSERT_TRUE(response.has_value()) << response.error().message;
  }
  EXPECT_EQ(upstream_.seen().size(), 5u);
  EXPECT_EQ(upstream_.Connections(), 1u);
}

TEST_F(FetcherTest, AConnectionIsNeverReusedUnderAStricterPolicy) {
  HostPolicy a = Host(true);
  a.id = "a";
  ASSERT_TRUE(fetcher_->Fetch(a, Get("/ok")).has_value());
  ASSERT_TRUE(fetcher_->Fetch(a, Get("/ok")).has_value());
  ASSERT_EQ(upstream_.Connections(), 1u);

  HostPolicy b = Host(false);  // same address, another host id, private not allowed
  b.id = "b";
  auto response = fetcher_->Fetch(b, Get("/ok"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kAddressDenied);
  HostPolicy a_strict = a;  // same id after a policy change
  a_strict.allow_private = false;
  response = fetcher_->Fetch(a_strict, Get("/ok"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kAddressDenied);
  EXPECT_EQ(upstream_.seen().size(), 2u);
  // A's connection is still there for A.
  ASSERT_TRUE(fetcher_->Fetch(a, Get("/ok")).has_value());
  EXPECT_EQ(upstream_.Connections(), 1u);
}

TEST_F(FetcherTest, ConcurrentCallsFromTwoThreads) {
  std::atomic<int> failures{0};
  auto work = [&] {
    for (int i = 0; i < 25; ++i) {
      auto response = fetcher_->Fetch(Host(), Get("/echo?name=t"));
      if (!response || response->body != "hello t") ++failures;
    }
  };
  std::thread t1(work);
  std::thread t2(work);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(upstream_.seen().size(), 50u);
  EXPECT_LE(upstream_.Connections(), 2u);
}

TEST_F(FetcherTest, SlowUpstreamTimesOut) {
  HostPolicy host = Host();
  host.timeout = std::chrono::milliseconds(300);
  const auto start = std::chrono::steady_clock::now();
  auto response = fetcher_->Fetch(host, Get("/slow"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kTimeout);
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
}

TEST_F(FetcherTest, ResponseSizeCapIsEnforced) {
  HostPolicy host = Host();
  host.max_response_bytes = 16 * 1024;
  auto response = fetcher_->Fetch(host, Get("/big?n=16384"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->body.size(), 16384u);
  for (const char* path :
       {"/big?n=16385", "/big?n=1000000", "/chunked?n=16385", "/chunked?n=1000000"}) {
    response = fetcher_->Fetch(host, Get(path));
    ASSERT_FALSE(response.has_value()) << path;
    EXPECT_EQ(response.error().code, fetch_errc::kTooLarge) << path;
  }
  response = fetcher_->Fetch(host, Get("/chunked?n=16000"));
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->body.size(), 16000u);
}

TEST_F(FetcherTest, ConnectionRefusedIsConnectFailed) {
  // A port that was just free: bind, read it back, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  HostPolicy host = Host();
  host.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/secretbase";
  auto response = fetcher_->Fetch(host, Get("/x?key=QSECRET"));
  ASSERT_FALSE(response.has_value());
  EXPECT_EQ(response.error().code, fetch_errc::kConnectFailed) << response.error().message;
  EXPECT_THAT(response.error().message, HasSubstr("host 'upstream' path '/x'"));
  EXPECT_THAT(response.error().message, Not(HasSubstr("secretbase")));
  EXPECT_THAT(response.error().message, Not(HasSubstr("QSECRET")));
  EXPECT_THAT(response.error().message, Not(HasSubstr("127.0.0.1")));
}

TEST_F(FetcherTest, HeadReturnsHeadersOnly) {
  FetchRequest head = Get("/echo?name=h");
  head.method = "HEAD";
  auto response = fetcher_->Fetch(Host(), head);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_EQ(upstream_.seen().back().method, "HEAD");
}

}  // namespace
}  // namespace opsorch::workflow
