// The HTTP server over real sockets on 127.0.0.1 (port 0), with a raw POSIX client so that
// framing, pipelining, limits and timeouts can be checked byte for byte.
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/http/server.h>

#include "support/run_command.h"

namespace opsorch::http {
namespace {
using ::opsorch::testing::CommandOutput;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// A small blocking HTTP/1.1 client.

struct HttpResponse {
  std::string raw_head;  // status line + headers, without the blank line
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (Lower(n) == Lower(name)) return v;
    }
    return std::nullopt;
  }
  int HeaderCount(std::string_view name) const {
    int count = 0;
    for (const auto& [n, v] : headers) count += Lower(n) == Lower(name) ? 1 : 0;
    return count;
  }
};

class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response; bytes after it stay buffered (pipelining).
  std::optional<HttpResponse> Read(bool head_request = false) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    HttpResponse response;
    response.raw_head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::size_t line_end = response.raw_head.find("\r\n");
    const std::string status_line = response.raw_head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = response.raw_head.find("\r\n", start);
      const std::string line = response.raw_head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) return std::nullopt;
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      response.headers.emplace_back(line.substr(0, colon), value);
    }
    const auto length = response.Header("Content-Length");
    if (!head_request && length) {
      const std::size_t n = std::stoul(*length);
      while (buffer_.size() < n) {
        if (!Fill()) return std::nullopt;
      }
      response.body = buffer_.substr(0, n);
      buffer_.erase(0, n);
    }
    return response;
  }

  // True if the server closed (EOF or reset) within `timeout`; data received meanwhile is kept.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EINTR;
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
  }

  std::string& buffered() { return buffer_; }
  int fd() const { return fd_; }

 private:
  bool Fill() {
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

// The observer runs after the write, so a client may see the response before it ran.
template <class Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout = 2000ms) {
  const auto deadline = Clock::now() + timeout;
  while (!predicate()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra_headers) +
         "\r\n";
}

std::string Post(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

// ---------------------------------------------------------------------------------------------
// The test handler. Targets select the behaviour; anything else echoes the request.

class TestHandler final : public Handler {
 public:
  ~TestHandler() override {
    std::lock_guard lock(mutex_);
    for (auto& t : threads_) t.join();
  }

  void Handle(const Request& request, ResponseCallback done) override {
    ++calls;
    {
      std::lock_guard lock(mutex_);
      last_method = request.method;
      last_remote = std::string(request.remote_address);
      last_tls = request.tls;
      last_headers.clear();
      for (const auto& h : request.headers) last_headers.emplace_back(h.name, h.value);
    }
    const std::string_view target = request.target;
    if (target.rfind("/async/", 0) == 0) {
      // Completes from another thread; the Request must stay valid until then.
      const int ms = std::stoi(std::string(target.substr(7)));
      std::lock_guard lock(mutex_);
      threads_.emplace_back([&request, done = std::move(done), ms] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        done(Echo(request));
      });
      return;
    }
    if (target == "/hang") {
      std::lock_guard lock(mutex_);
      parked_ = std::move(done);
      parked_request_ = &request;
      return;
    }
    if (target.rfind("/big/", 0) == 0) {
      Response response;
      response.body.assign(std::stoul(std::string(target.substr(5))), 'x');
      response_ready_at = Clock::now().time_since_epoch().count();
      done(std::move(response));
      return;
    }
    if (target == "/throw") throw std::runtime_error("boom");
    if (target == "/nocontent") {
      Response response;
      response.status = 204;
      done(std::move(response));
      return;
    }
    if (target == "/injection") {
      Response response = Echo(request);
      response.AddHeader("X-Bad", "a\r\nSet-Cookie: evil=1");
      response.AddHeader("Bad Name", "v");
      response.AddHeader("Content-Length", "999");
      response.AddHeader("X-Good", "ok");
      done(std::move(response));
      return;
    }
    if (request.method == Method::kHead) {
      Response response;
      response.status = 404;
      response.content_type = "text/plain; charset=utf-8";
      response.body = "404 page not found\n";
      done(std::move(response));
      return;
    }
    done(Echo(request));
  }

  static Response Echo(const Request& request) {
    Response response;
    response.content_type = "text/plain";
    response.body = std::string(request.method_text) + " " + std::string(request.target) + "\n" +
                    std::string(request.body);
    response.AddHeader("X-Test-Echo", std::string(request.Header("x-test")));
    return response;
  }

  // Completes the request parked by "/hang", reading the request first as a handler does when
  // it answers (the Request is valid until `done`, even if the server gave up on the connection).
  std::string ReleaseParked() {
    ResponseCallback done;
    const Request* request = nullptr;
    {
      std::lock_guard lock(mutex_);
      done = std::move(parked_);
      parked_ = nullptr;
      request = std::exchange(parked_request_, nullptr);
    }
    std::string seen;
    if (request != nullptr) seen = Echo(*request).body;
    if (done) done(Response{});
    return seen;
  }
  bool HasParked() {
    std::lock_guard lock(mutex_);
    return static_cast<bool>(parked_);
  }

  std::atomic<int> calls{0};
  std::atomic<Clock::rep> response_ready_at{0};  // "/big/": when the response was handed over
  std::mutex mutex_;
  Method last_method = Method::kGet;
  std::string last_remote;
  bool last_tls = false;
  std::vector<std::pair<std::string, std::string>> last_headers;

 private:
  std::vector<std::thread> threads_;
  ResponseCallback parked_;
  const Request* parked_request_ = nullptr;
};

// Runs a server on its own thread; Stop + join on destruction.
class RunningServer {
 public:
  RunningServer(ServerOptions options, Handler& handler, ExchangeObserver observer = {}) {
    if (options.host == ServerOptions{}.host) options.host = "127.0.0.1";
    options.port = 0;
    if (options.threads == 0) options.threads = 2;
    auto created = Server::Create(options, handler, std::move(observer));
    if (!created) {
      ADD_FAILURE() << created.error().code << ": " << created.error().message;
      return;
    }
    server_ = std::move(*created);
    thread_ = std::thread([this] {
      server_->Run();
      returned_at_ = Clock::now();
      returned_ = true;
    });
  }
  ~RunningServer() {
    if (!server_) return;
    server_->Stop();
    if (!JoinWithin(10s)) {
      ADD_FAILURE() << "Run() did not return after Stop()";
      thread_.detach();
      (void)server_.release();  // leaked on purpose: it is still running
    }
  }

  bool ok() const { return server_ != nullptr; }
  std::uint16_t port() const { return server_->Port(); }
  Server& server() { return *server_; }
  bool returned() const { return returned_; }
  Clock::time_point returned_at() const { return returned_at_; }

  bool JoinWithin(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!returned_ && Clock::now() < deadline) std::this_thread::sleep_for(2ms);
    if (!returned_) return false;
    if (thread_.joinable()) thread_.join();
    return true;
  }

  void Destroy() {
    server_->Stop();
    ASSERT_TRUE(JoinWithin(10s));
    server_.reset();
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<bool> returned_{false};
  Clock::time_point returned_at_;
};

// ---------------------------------------------------------------------------------------------

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  TestHandler handler;
  RunningServer server({}, handler);
  ASSERT_TRUE(server.ok());
  Client client(server.port());
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 5; ++i) {
    const std::string target = "/items/" + std::to_string(i) + "?q=a%2Fb";
    ASSERT_TRUE(client.Send(Get(target, "X-Test: v" + std::to_string(i) + "\r\n")));
    auto response = client.Read();
    ASSERT_TRUE(response) << "request " << i;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->raw_head.substr(0, 17), "HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(response->body, "GET " + target + "\n");
    EXPECT_EQ(response->Header("Content-Type"), "text/plain");
    EXPECT_EQ(response->Header("Content-Length"), std::to_string(response->body.size()));
    EXPECT_EQ(response->Header("X-Test-Echo"), "v" + std::to_string(i));
    EXPECT_FALSE(response->Header("Connection"));
    EXPECT_FALSE(response->Header("Server"));
  }
  EXPECT_EQ(handler.calls, 5);
  EXPECT_FALSE(client.WaitClosed(100ms));
}

TEST(HttpServer, ResponseHeadersAreOrderedAndDated) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/injection")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  // Handler headers come after Content-Type, in order; unsafe ones are dropped, framing is ours.
  EXPECT_EQ(response->headers[0].first, "Content-Type");
  EXPECT_EQ(response->headers[1].first, "X-Test-Echo");
  EXPECT_EQ(response->headers[2].first, "X-Good");
  EXPECT_FALSE(response->Header("X-Bad"));
  EXPECT_FALSE(response->Header("Set-Cookie"));
  EXPECT_EQ(response->HeaderCount("Content-Length"), 1);
  EXPECT_EQ(response->Header("Content-Length"), std::to_string(response->body.size()));
  const auto date = response->Header("Date");
  ASSERT_TRUE(date);
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  ASSERT_EQ(date->size(), 29u) << *date;
  const std::string pattern = "Aaa, 00 Aaa 0000 00:00:00 GMT";
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = (*date)[i];
    if (pattern[i] == '0') {
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(c))) << *date;
    } else if (pattern[i] == 'A' || (pattern[i] == 'a')) {
      EXPECT_TRUE(std::isalpha(static_cast<unsigned char>(c))) << *date;
    } else if (i < 25) {
      EXPECT_EQ(c, pattern[i]) << *date;
    }
  }
  EXPECT_EQ(date->substr(25), " GMT");
  // The date is now (within a few seconds).
  char expected[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(expected, sizeof expected, "%d %b %Y", &tm);
  EXPECT_NE(date->find(expected), std::string::npos) << *date;
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  TestHandler handler;
  RunningServer server({.threads = 1}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/one") + Post("/two", "hello") + Get("/three") +
                          Post("/four", std::string(10000, 'z'))));
  const std::vector<std::string> expected = {"GET /one\n", "POST /two\nhello", "GET /three\n",
                                             "POST /four\n" + std::string(10000, 'z')};
  for (const auto& body : expected) {
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, body);
  }
  EXPECT_EQ(handler.calls, 4);
}

TEST(HttpServer, PostBodyIsDeliveredIntact) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  std::string body;
  for (int i = 0; i < 300000; ++i) body.push_back(static_cast<char>(i * 7 % 256));  // incl. NUL
  ASSERT_TRUE(client.Send(Post("/upload", body)));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body.size(), body.size() + 13);
  EXPECT_TRUE(response->body == "POST /upload\n" + body);
}

TEST(HttpServer, ChunkedBodyIsDecoded) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(
      client.Send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "POST /c\nhello, world");
  // Still keep-alive.
  ASSERT_TRUE(client.Send(Get("/after")));
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /after\n");
}

TEST(HttpServer, BodyAtTheLimitIsAccepted) {
  TestHandler handler;
  RunningServer server({.body_limit = 1024}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Post("/limit", std::string(1024, 'a'))));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /limit\n" + std::string(1024, 'a'));
}

TEST(HttpServer, BodyOverTheLimitGets413AndClose) {
  TestHandler handler;
  RunningServer server({.body_limit = 1024}, handler);
  Client client(server.port());
  // Only the header: the server must answer without waiting for the body.
  ASSERT_TRUE(client.Send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Header("Content-Type"), "application/json");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_EQ(response->body,
            R"({"code":"payload_too_large","message":"request body exceeds 1024 bytes"})");
  EXPECT_TRUE(client.WaitClosed(3s));
  EXPECT_EQ(handler.calls, 0);
}

TEST(HttpServer, DefaultBodyLimitMessage) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body,
            R"({"code":"payload_too_large","message":"request body exceeds 1048576 bytes"})");
}

TEST(HttpServer, ChunkedBodyOverTheLimitGets413) {
  TestHandler handler;
  RunningServer server({.body_limit = 1024}, handler);
  Client client(server.port());
  std::string request = "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) request += "200\r\n" + std::string(512, 'q') + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(client.Send(request));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->body,
            R"({"code":"payload_too_large","message":"request body exceeds 1024 bytes"})");
  EXPECT_TRUE(client.WaitClosed(3s));
  EXPECT_EQ(handler.calls, 0);
}

TEST(HttpServer, HeaderOverTheLimitGets431AndClose) {
  TestHandler handler;
  RunningServer server({.header_limit = 1024}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/h", "X-Big: " + std::string(2000, 'b') + "\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->raw_head.substr(0, 46), "HTTP/1.1 431 Request Header Fields Too Large\r\n");
  EXPECT_EQ(response->body,
            R"({"code":"headers_too_large","message":"request headers exceed 1024 bytes"})");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_TRUE(client.WaitClosed(3s));
  EXPECT_EQ(handler.calls, 0);
}

TEST(HttpServer, ExpectContinueGets100ThenTheResponse) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(
      "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = client.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->raw_head, "HTTP/1.1 100 Continue");
  EXPECT_TRUE(client.buffered().empty());
  ASSERT_TRUE(client.Send("abcde"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /e\nabcde");
}

TEST(HttpServer, ExpectContinueOverTheLimitGets413Without100) {
  TestHandler handler;
  RunningServer server({.body_limit = 10}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(
      "POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client.WaitClosed(3s));
}

TEST(HttpServer, MalformedRequestGets400AndClose) {
  TestHandler handler;
  RunningServer server({}, handler);
  for (const std::string& request :
       {std::string("GET / HTTP/9.1\r\n\r\n"), std::string("G(T / HTTP/1.1\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"),
        std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    Client client(server.port());
    ASSERT_TRUE(client.Send(request));
    auto response = client.Read();
    ASSERT_TRUE(response) << request;
    EXPECT_EQ(response->status, 400) << request;
    EXPECT_EQ(response->Header("Content-Type"), "application/json");
    EXPECT_EQ(
        response->body.rfind(R"({"code":"bad_request","message":"malformed HTTP request: )", 0), 0u)
        << response->body;
    EXPECT_EQ(response->body.back(), '}');
    EXPECT_TRUE(client.WaitClosed(3s)) << request;
  }
  EXPECT_EQ(handler.calls, 0);
  // The server is still fine.
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/ok")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
}

// Request smuggling (RFC 9112 §6.1, §6.3): every request whose body length a front end could
// read differently is refused with 400 and the connection closed, so the bytes that follow are
// never served as a second request.
struct SmugglingCase {
  const char* name;
  std::string head;  // the refused request, up to and including its blank line
  const char* reason;
};

TEST(HttpServer, SmugglingAttemptsGet400AndCloseWithoutServingTheTail) {
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
  const SmugglingCase cases[] = {
      {"te_gzip", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
       "unsupported Transfer-Encoding"},
      {"te_xchunked", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n",
       "unsupported Transfer-Encoding"},
      {"te_chunked_gzip", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       ""},
      {"te_gzip_chunked", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "unsupported Transfer-Encoding"},
      {"te_twice",
       "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       ""},
      {"te_empty", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: \r\n\r\n", ""},
      {"te_identity", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n",
       "unsupported Transfer-Encoding"},
      {"te_in_http10", "POST /p HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
       "HTTP/1.0"},
      {"cl_and_te",
       "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       ""},
      {"te_and_cl",
       "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
       ""},
      {"cl_twice_same",
       "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", ""},
      {"cl_twice_different",
       "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 7\r\n\r\n", ""},
      {"cl_list", "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 0\r\n\r\n", ""},
      {"cl_plus", "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: +0\r\n\r\n", ""},
      {"obs_fold_te",
       "POST /p HTTP/1.1\r\nHost: t\r\nX-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n",
       "obsolete line folding"},
      {"obs_fold_tab", "GET /p HTTP/1.1\r\nHost: t\r\nX-Pad: a\r\n\tb\r\n\r\n",
       "obsolete line folding"},
      {"space_before_colon", "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n",
       ""},
      {"bare_cr", "GET /p HTTP/1.1\r\nHost: t\rX-A: b\r\n\r\n", ""},
      {"bare_lf_in_header", "GET /p HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n", ""},
      {"bare_lf_everywhere", "GET /p HTTP/1.1\nHost: t\n\n", ""},
      {"no_host", "GET /p HTTP/1.1\r\n\r\n", "missing Host header"},
      {"two_hosts", "GET /p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
      {"nul_in_value", std::string("GET /p HTTP/1.1\r\nHost: t\r\nX-A: a") + '\0' + "b\r\n\r\n",
       ""},
  };
  TestHandler handler;
  RunningServer server({}, handler);
  for (const SmugglingCase& c : cases) {
    Client client(server.port());
    ASSERT_TRUE(client.Send(c.head + smuggled)) << c.name;
    auto response = client.Read();
    ASSERT_TRUE(response) << c.name;
    EXPECT_EQ(response->status, 400) << c.name << ": " << response->body;
    EXPECT_NE(response->body.find("malformed HTTP request"), std::string::npos) << c.name;
    EXPECT_NE(response->body.find(c.reason), std::string::npos) << c.name << ": " << response->body;
    EXPECT_TRUE(client.WaitClosed(3s)) << c.name;
    EXPECT_EQ(client.buffered().find("HTTP/1.1"), std::string::npos)
        << c.name << ": a second response was sent";
  }
  EXPECT_EQ(handler.calls, 0);
  // HTTP/1.0 needs no Host; a single chunked coding in any letter case is fine.
  for (const std::string& ok :
       {std::string("GET /ok HTTP/1.0\r\n\r\n"),
        std::string("POST /ok HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n"
                    "3\r\nabc\r\n0\r\n\r\n")}) {
    Client client(server.port());
    ASSERT_TRUE(client.Send(ok));
    auto response = client.Read();
    ASSERT_TRUE(response) << ok;
    EXPECT_EQ(response->status, 200) << ok << response->body;
  }
}

TEST(HttpServer, GarbageNeverCrashesTheServer) {
  TestHandler handler;
  RunningServer server({.read_timeout = 300ms}, handler);
  std::mt19937 random(12345);
  const std::string seeds[] = {
      "GET / HTTP/1.1\r\nHost: t\r\n\r\n",
      "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"
      "\r\n0\r\n\r\n",
      "PUT /x HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
      "abc"};
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 64; ++i) {
    // Mutations of valid requests, and pure noise.
    std::string data = seeds[i % 3];
    if (i % 4 == 3) {
      data.assign(1 + random() % 300, '\0');
      for (char& c : data) c = static_cast<char>(random());
    } else {
      for (int m = 0; m < 1 + i % 5; ++m)
        data[random() % data.size()] = static_cast<char>(random());
    }
    clients.push_back(std::make_unique<Client>(server.port()));
    clients.back()->Send(data);
  }
  for (auto& client : clients) {
    // Answered or not, every connection ends: by the server's choice or read_timeout.
    if (!client->WaitClosed(100ms)) client->Send("\r\n\r\n");
    EXPECT_TRUE(client->WaitClosed(5s) || !client->buffered().empty());
  }
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/still-alive")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /still-alive\n");
}

TEST(HttpServer, RequestFieldsReachTheHandler) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(
      client.Send("PATCH /x HTTP/1.1\r\nHost: t\r\nX-Mixed-Case: One\r\nx-mixed-case: Two\r\n"
                  "X-Spaced:  a b \r\nContent-Length: 0\r\n\r\n"));
  ASSERT_TRUE(client.Read());
  {
    std::lock_guard lock(handler.mutex_);
    EXPECT_EQ(handler.last_method, Method::kPatch);
    EXPECT_EQ(handler.last_remote, "127.0.0.1");
    EXPECT_FALSE(handler.last_tls);
    ASSERT_EQ(handler.last_headers.size(), 5u);
    EXPECT_EQ(handler.last_headers[1].first, "X-Mixed-Case");
    EXPECT_EQ(handler.last_headers[1].second, "One");
    EXPECT_EQ(handler.last_headers[2].second, "Two");
    EXPECT_EQ(handler.last_headers[3].second, "a b");  // surrounding spaces are not the value's
  }
  const std::pair<std::string, Method> methods[] = {
      {"GET", Method::kGet},         {"PUT", Method::kPut},   {"DELETE", Method::kDelete},
      {"OPTIONS", Method::kOptions}, {"POST", Method::kPost}, {"PURGE", Method::kOther}};
  for (const auto& [text, method] : methods) {
    ASSERT_TRUE(client.Send(text + " /m HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, text + " /m\n");
    std::lock_guard lock(handler.mutex_);
    EXPECT_EQ(handler.last_method, method) << text;
  }
}

TEST(HttpServer, HeadWritesHeadersWithoutBody) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send("HEAD /anything HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto response = client.Read(/*head_request=*/true);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->Header("Content-Length"), "19");
  // No body bytes: the next response starts right away.
  ASSERT_TRUE(client.Send(Get("/next")));
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /next\n");
}

TEST(HttpServer, NoContentHasNoLength) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/nocontent") + Get("/then")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 204);
  EXPECT_FALSE(response->Header("Content-Length"));
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /then\n");
}

TEST(HttpServer, ConnectionCloseIsHonoured) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/bye", "Connection: close\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /bye\n");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_TRUE(client.WaitClosed(3s));
}

TEST(HttpServer, Http10ClosesByDefaultAndKeepsAliveOnRequest) {
  TestHandler handler;
  RunningServer server({}, handler);
  {
    Client client(server.port());
    ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "GET /old\n");
    EXPECT_EQ(response->Header("Connection"), "close");
    EXPECT_TRUE(client.WaitClosed(3s));
  }
  Client client(server.port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client.Send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->Header("Connection"), "keep-alive");
  }
}

TEST(HttpServer, AsyncCompletionFromAnotherThread) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  const auto start = Clock::now();
  ASSERT_TRUE(client.Send(Post("/async/100", "payload")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_GE(Clock::now() - start, 90ms);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /async/100\npayload");  // request views were still valid
  // The connection goes on: a pipelined pair, async then sync.
  ASSERT_TRUE(client.Send(Get("/async/20") + Get("/sync")));
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /async/20\n");
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /sync\n");
}

TEST(HttpServer, ManyConcurrentConnections) {
  TestHandler handler;
  RunningServer server({.threads = 2}, handler);
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      Client client(server.port());
      for (int i = 0; i < 25; ++i) {
        const std::string target =
            (i % 5 == 0 ? "/async/1?c=" : "/s?c=") + std::to_string(c) + "&i=" + std::to_string(i);
        if (!client.Send(Get(target))) return;
        auto response = client.Read();
        if (response && response->body == "GET " + target + "\n") ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good, 200);
}

TEST(HttpServer, HandlerExceptionBecomes500) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/throw") + Get("/fine")));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_EQ(response->body, R"({"code":"internal","message":"internal server error"})");
  response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "GET /fine\n");
}

TEST(HttpServer, ObserverSeesEveryExchange) {
  TestHandler handler;
  struct Seen {
    std::string target;
    int status;
    std::size_t bytes;
    std::chrono::nanoseconds duration;
  };
  std::mutex mutex;
  std::vector<Seen> seen;
  RunningServer server({.body_limit = 100}, handler, [&](const Exchange& e) {
    std::lock_guard lock(mutex);
    seen.push_back({std::string(e.request->target), e.status, e.response_bytes, e.duration});
  });
  {
    Client client(server.port());
    ASSERT_TRUE(client.Send(Get("/a") + Get("/async/30")));
    ASSERT_TRUE(client.Read());
    ASSERT_TRUE(client.Read());
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard lock(mutex);
    return seen.size() == 2;
  }));
  {
    Client client(server.port());
    ASSERT_TRUE(client.Send(Post("/big", std::string(101, 'x'))));
    ASSERT_TRUE(client.Read());
  }
  EXPECT_TRUE(WaitFor([&] {
    std::lock_guard lock(mutex);
    return seen.size() >= 3;
  }));
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].target, "/a");
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_EQ(seen[0].bytes, 7u);
  EXPECT_GT(seen[0].duration.count(), 0);
  EXPECT_EQ(seen[1].target, "/async/30");
  EXPECT_GE(seen[1].duration, 25ms);
  EXPECT_EQ(seen[2].status, 413);
}

TEST(HttpServer, IdleTimeoutClosesIdleConnection) {
  TestHandler handler;
  RunningServer server({.idle_timeout = 200ms, .read_timeout = 10s}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/x")));
  ASSERT_TRUE(client.Read());
  const auto start = Clock::now();
  EXPECT_TRUE(client.WaitClosed(3s));
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LE(elapsed, 2500ms);
  // A connection that never sends anything is closed too.
  Client silent(server.port());
  EXPECT_TRUE(silent.WaitClosed(3s));
}

TEST(HttpServer, SlowlorisIsCutAfterReadTimeout) {
  TestHandler handler;
  RunningServer server({.idle_timeout = 10s, .read_timeout = 300ms}, handler);
  Client client(server.port());
  const auto start = Clock::now();
  ASSERT_TRUE(client.Send("GET /slow HTTP/1.1\r\n"));
  bool closed = false;
  for (int i = 0; i < 30 && !closed; ++i) {
    // A header line every 100 ms: always some progress, never a complete request.
    if (!client.Send("X-Drip: " + std::to_string(i) + "\r\n")) closed = true;
    if (client.WaitClosed(100ms)) closed = true;
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LE(elapsed, 2500ms);
  EXPECT_EQ(handler.calls, 0);
}

TEST(HttpServer, WriteTimeoutClosesAStalledReader) {
  TestHandler handler;
  std::atomic<Clock::rep> observed_at{0};
  RunningServer server({.write_timeout = 300ms}, handler, [&](const Exchange&) {
    observed_at = Clock::now().time_since_epoch().count();
  });
  Client client(server.port());
  constexpr std::size_t kSize = 64 << 20;  // far more than the socket buffers hold
  ASSERT_TRUE(client.Send(Get("/big/" + std::to_string(kSize))));
  // The client never reads: the write stalls and must be abandoned after write_timeout.
  ASSERT_TRUE(WaitFor([&] { return observed_at != 0; }, 5000ms));
  const auto writing = Clock::duration(observed_at - handler.response_ready_at);
  EXPECT_GE(writing, 250ms);
  EXPECT_LE(writing, 2500ms);
  // The connection is gone: reading everything the kernel still holds ends before kSize.
  int big = 4 << 20;
  ::setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  EXPECT_TRUE(client.WaitClosed(10s));
  EXPECT_LT(client.buffered().size(), kSize);
}

TEST(HttpServer, StopLetsInFlightRequestFinish) {
  TestHandler handler;
  RunningServer server({}, handler);
  Client busy(server.port());
  Client idle(server.port());
  ASSERT_TRUE(idle.Send(Get("/i")));
  ASSERT_TRUE(idle.Read());
  ASSERT_TRUE(busy.Send(Get("/async/400")));
  std::this_thread::sleep_for(100ms);
  server.server().Stop();
  server.server().Stop();  // idempotent
  EXPECT_TRUE(idle.WaitClosed(1s));
  // No new connections.
  std::this_thread::sleep_for(50ms);
  Client late(server.port());
  EXPECT_TRUE(!late.connected() || late.WaitClosed(1s));
  EXPECT_FALSE(server.returned());
  auto response = busy.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /async/400\n");
  EXPECT_EQ(response->Header("Connection"), "close");
  EXPECT_TRUE(busy.WaitClosed(2s));
  EXPECT_TRUE(server.JoinWithin(2s));
}

TEST(HttpServer, StopWithIdleKeepAliveConnectionsReturnsPromptly) {
  TestHandler handler;
  RunningServer server({.threads = 2, .idle_timeout = 60s}, handler);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(clients.back()->Send(Get("/k")));
    ASSERT_TRUE(clients.back()->Read());
  }
  const auto start = Clock::now();
  server.server().Stop();
  EXPECT_TRUE(server.JoinWithin(2s));
  EXPECT_LE(server.returned_at() - start, 1000ms);
  for (auto& c : clients) EXPECT_TRUE(c->WaitClosed(1s));
}

TEST(HttpServer, ShutdownGraceBoundsAHungHandler) {
  TestHandler handler;
  {
    RunningServer server({.shutdown_grace = 300ms}, handler);
    Client client(server.port());
    ASSERT_TRUE(
        client.Send("POST /hang HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nstill here"));
    for (int i = 0; i < 200 && !handler.HasParked(); ++i) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(handler.HasParked());
    const auto start = Clock::now();
    server.server().Stop();
    EXPECT_TRUE(server.JoinWithin(3s));
    EXPECT_GE(server.returned_at() - start, 250ms);
    server.Destroy();
  }
  // `done` outlives the server: the request it answers is still readable (under ASan: no
  // use-after-free), and calling it is harmless.
  EXPECT_EQ(handler.ReleaseParked(), "POST /hang\nstill here");
}

TEST(HttpServer, StopBeforeRunReturnsImmediately) {
  TestHandler handler;
  auto created = Server::Create({.host = "127.0.0.1", .port = 0, .threads = 2}, handler);
  ASSERT_TRUE(created);
  auto& server = **created;
  server.Stop();
  const auto start = Clock::now();
  server.Run();
  EXPECT_LE(Clock::now() - start, 1s);
}

TEST(HttpServer, SignalTriggersGracefulStop) {
  TestHandler handler;
  RunningServer server({.handle_signals = true}, handler);
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/s")));
  ASSERT_TRUE(client.Read());
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  EXPECT_TRUE(server.JoinWithin(3s));
  EXPECT_TRUE(client.WaitClosed(1s));
}

TEST(HttpServer, DualStackListenerReportsPlainIpv4Clients) {
  if (::access("/proc/net/if_inet6", F_OK) != 0) GTEST_SKIP() << "no IPv6";
  TestHandler handler;
  RunningServer server({.host = "::"}, handler);
  ASSERT_TRUE(server.ok());
  Client client(server.port());
  ASSERT_TRUE(client.Send(Get("/v4")));
  ASSERT_TRUE(client.Read());
  std::lock_guard lock(handler.mutex_);
  EXPECT_EQ(handler.last_remote, "127.0.0.1");
}

TEST(HttpServer, CreateFailsWhenThePortIsTaken) {
  TestHandler handler;
  RunningServer first({}, handler);
  auto second = Server::Create({.host = "127.0.0.1", .port = first.port()}, handler);
  ASSERT_FALSE(second);
  EXPECT_EQ(WireCode(second.error()), "internal");
  EXPECT_NE(second.error().message.find(std::to_string(first.port())), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// TLS

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/opsorch-http-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class HttpServerTls : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " +
        dir_.path() + "/k.pem -out " + dir_.path() + "/c.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0);
    cert_ = dir_.path() + "/c.pem";
    key_ = dir_.path() + "/k.pem";
  }

  TempDir dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(HttpServerTls, RoundTripWithCurl) {
  TestHandler handler;
  std::atomic<int> exchanges{0};
  RunningServer server({.tls_cert_file = cert_, .tls_key_file = key_}, handler,
                       [&](const Exchange&) { ++exchanges; });
  ASSERT_TRUE(server.ok());
  const std::string base = "https://127.0.0.1:" + std::to_string(server.port());
  const std::string out = CommandOutput("curl -sk -i --max-time 5 --tlsv1.2 -H 'X-Test: tls' " +
                                        base + "/secure?x=1 " + base + "/second 2>&1");
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /secure?x=1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Test-Echo: tls"), std::string::npos) << out;
  EXPECT_NE(out.find("GET /second\n"), std::string::npos) << out;
  EXPECT_TRUE(WaitFor([&] { return exchanges == 2; })) << exchanges;
  {
    std::lock_guard lock(handler.mutex_);
    EXPECT_TRUE(handler.last_tls);
  }
  const std::string post =
      CommandOutput("curl -sk --max-time 5 --data-binary @" + cert_ + " " + base + "/post 2>&1");
  std::string cert_text;
  {
    FILE* f = std::fopen(cert_.c_str(), "rb");
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) cert_text.append(buf, n);
    std::fclose(f);
  }
  EXPECT_EQ(post, "POST /post\n" + cert_text);
  // Plain HTTP against the TLS port gets nothing useful (and the server survives it).
  Client plain(server.port());
  ASSERT_TRUE(plain.Send(Get("/plain")));
  EXPECT_FALSE(plain.Read());
  const std::string again = CommandOutput("curl -sk --max-time 5 " + base + "/again 2>&1");
  EXPECT_EQ(again, "GET /again\n");
  // Stop does not wait for a connection that is still in its handshake.
  Client silent(server.port());
  std::this_thread::sleep_for(50ms);
  const auto start = Clock::now();
  server.server().Stop();
  EXPECT_TRUE(server.JoinWithin(2s));
  EXPECT_LE(server.returned_at() - start, 1000ms);
  EXPECT_TRUE(silent.WaitClosed(1s));
}

TEST_F(HttpServerTls, HandshakeIsTimeBoxed) {
  TestHandler handler;
  RunningServer server({.read_timeout = 300ms, .tls_cert_file = cert_, .tls_key_file = key_},
                       handler);
  Client client(server.port());
  ASSERT_TRUE(client.connected());
  const auto start = Clock::now();
  EXPECT_TRUE(client.WaitClosed(3s));  // never sends a ClientHello
  EXPECT_LE(Clock::now() - start, 2500ms);
}

TEST_F(HttpServerTls, UnreadableCertificateIsAnError) {
  TestHandler handler;
  auto created = Server::Create({.host = "127.0.0.1",
                                 .port = 0,
                                 .tls_cert_file = dir_.path() + "/missing.pem",
                                 .tls_key_file = key_},
                                handler);
  ASSERT_FALSE(created);
  EXPECT_EQ(WireCode(created.error()), "internal");
  EXPECT_NE(created.error().message.find(dir_.path() + "/missing.pem"), std::string::npos)
      << created.error().message;

  created = Server::Create({.host = "127.0.0.1",
                            .port = 0,
                            .tls_cert_file = cert_,
                            .tls_key_file = dir_.path() + "/nokey.pem"},
                           handler);
  ASSERT_FALSE(created);
  EXPECT_EQ(WireCode(created.error()), "internal");
  EXPECT_NE(created.error().message.find("nokey.pem"), std::string::npos)
      << created.error().message;

  // A key file that is not a key.
  created = Server::Create(
      {.host = "127.0.0.1", .port = 0, .tls_cert_file = cert_, .tls_key_file = cert_}, handler);
  ASSERT_FALSE(created);
  EXPECT_EQ(WireCode(created.error()), "internal");
}

TEST_F(HttpServerTls, HalfConfiguredTlsIsAnError) {
  TestHandler handler;
  auto created = Server::Create({.host = "127.0.0.1", .port = 0, .tls_cert_file = cert_}, handler);
  ASSERT_FALSE(created);
  EXPECT_EQ(WireCode(created.error()), "internal");
  created = Server::Create({.host = "127.0.0.1", .port = 0, .tls_key_file = key_}, handler);
  ASSERT_FALSE(created);
}

}  // namespace
}  // namespace opsorch::http
