// The agent's loopback metrics listener: what it serves, and the addresses it refuses.
#include <atomic>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <opsorch/workflow/metrics_listener.h>

#include "support/http_client.h"

namespace opsorch::workflow {
namespace {

using opsorch::testing::HttpClient;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsListener, ServesMetricsAndHealthOnLoopback) {
  std::atomic<int> renders{0};
  auto listener = MetricsListener::Start("127.0.0.1:0", [&] {
    ++renders;
    return std::string("# HELP x_total X.\n# TYPE x_total counter\nx_total ") +
           std::to_string(renders.load()) + "\n";
  });
  ASSERT_TRUE(listener) << listener.error().message;
  const std::uint16_t port = (*listener)->Port();
  ASSERT_NE(port, 0);

  HttpClient client(port);
  auto r = client.Request("GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "# HELP x_total X.\n# TYPE x_total counter\nx_total 1\n");
  // Rendered per scrape, not cached; a query string is ignored.
  r = client.Request("GET", "/metrics?name[]=x_total");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("x_total 2\n"));

  r = client.Request("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.body, R"({"status":"ok"})");

  r = client.Request("HEAD", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");

  r = client.Request("GET", "/");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr(R"("code":"not_found")"));
  r = client.Request("GET", "/metrics/x");
  EXPECT_EQ(r.status, 404);

  for (const char* method : {"POST", "PUT", "DELETE"}) {
    r = client.Request(method, "/metrics");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.Header("Allow"), "GET, HEAD") << method;
  }
  r = client.Request("POST", "/health");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(renders.load(), 3);  // GET, GET, HEAD; nothing else rendered

  (*listener)->Stop();
  (*listener)->Stop();  // idempotent
  HttpClient after(port);
  EXPECT_EQ(after.Request("GET", "/health").status, 0);  // nothing listens any more
}

// GET over IPv6 loopback with HTTP/1.0 (the test client speaks IPv4 only); the raw response.
std::string GetOverIpv6Loopback(std::uint16_t port, std::string_view target) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_loopback;
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET " + std::string(target) + " HTTP/1.0\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return response;
}

TEST(MetricsListener, AcceptsTheLoopbackForms) {
  for (const char* address : {"localhost:0", "127.0.0.2:0"}) {
    auto listener = MetricsListener::Start(address, [] { return std::string("up 1\n"); });
    ASSERT_TRUE(listener) << address << ": " << listener.error().message;
    // localhost is bound as 127.0.0.1, not resolved.
    const std::string host = std::string(address) == "127.0.0.2:0" ? "127.0.0.2" : "127.0.0.1";
    HttpClient client((*listener)->Port(), host);
    const auto r = client.Request("GET", "/metrics");
    EXPECT_EQ(r.status, 200) << address;
    EXPECT_EQ(r.body, "up 1\n") << address;
  }

  auto v6 = MetricsListener::Start("[::1]:0", [] { return std::string("up 1\n"); });
  if (!v6 && v6.error().code == ErrorCode::kInternal) {
    GTEST_SKIP() << "no IPv6 loopback here: " << v6.error().message;
  }
  ASSERT_TRUE(v6) << v6.error().message;
  const std::string response = GetOverIpv6Loopback((*v6)->Port(), "/metrics");
  EXPECT_THAT(response, ::testing::StartsWith("HTTP/1.1 200 ")) << response;
  EXPECT_THAT(response, ::testing::EndsWith("\r\n\r\nup 1\n")) << response;
}

TEST(MetricsListener, RefusesAnythingButLoopback) {
  const std::vector<std::string> refused = {
      "0.0.0.0:9464",
      "[::]:9464",
      "192.168.1.10:9464",
      "8.8.8.8:9464",
      "10.0.0.1:0",
      "[2001:db8::1]:0",
      "[::ffff:127.0.0.1]:0",
      "example.com:80",
      "metrics.local:0",
      ":9464",
      "9464",
      "127.0.0.1",
      "127.0.0.1:",
      "127.0.0.1:65536",
      "127.0.0.1:x",
      "::1:9464",
      "[::1]9464",
      "[::1",
      "",
      "127.1:0",  // not a dotted quad inet_pton accepts: refused, not guessed
  };
  for (const std::string& address : refused) {
    auto listener = MetricsListener::Start(address, [] { return std::string(); });
    ASSERT_FALSE(listener) << address << " was accepted";
    EXPECT_EQ(listener.error().code, ErrorCode::kBadRequest) << address;
    // The refusal names the rule, so the operator knows why and what to do.
    EXPECT_THAT(listener.error().message, HasSubstr("loopback only")) << address;
    EXPECT_THAT(listener.error().message, HasSubstr("collector on the same host")) << address;
    EXPECT_THAT(listener.error().message, HasSubstr('"' + address + '"')) << address;
  }
}

// DNS rebinding: a page at http://attacker.example:9464/ whose name now resolves to 127.0.0.1
// reaches the listener from the browser, with its own name as Host. Only loopback Hosts pass.
TEST(MetricsListener, AnswersOnlyRequestsAddressedToLoopback) {
  auto listener = MetricsListener::Start("127.0.0.1:0", [] { return std::string("up 1\n"); });
  ASSERT_TRUE(listener) << listener.error().message;
  const std::uint16_t port = (*listener)->Port();
  const std::string p = std::to_string(port);
  struct Row {
    std::string host;
    bool served;
  };
  const std::vector<Row> rows = {
      {"127.0.0.1:" + p, true},
      {"127.0.0.1", true},
      {"127.1.2.3:9464", true},
      {"localhost", true},
      {"localhost:" + p, true},
      {"LocalHost:" + p, true},
      {"[::1]", true},
      {"[::1]:" + p, true},
      {"attacker.example", false},
      {"attacker.example:" + p, false},
      {"127.0.0.1.nip.io:" + p, false},
      {"localhost.attacker.example", false},
      {"localhost.", false},
      {"sub.localhost", false},
      {"0.0.0.0:" + p, false},
      {"192.168.1.10:" + p, false},
      {"128.0.0.1", false},
      {"127.1", false},
      {"[::2]:" + p, false},
      {"[::ffff:127.0.0.1]:" + p, false},
      {"[::1", false},
      {"[::1]x", false},
      {"[::1]:", false},
      {"::1", false},
      {"localhost:", false},
      {"localhost:x", false},
      {"localhost:65536", false},
      {"127.0.0.1:80:80", false},
      {"", false},
  };
  for (const Row& row : rows) {
    for (const char* path : {"/metrics", "/health"}) {
      HttpClient client(port);
      const auto r = client.Request("GET", path, {{"Host", row.host}});
      if (row.served) {
        EXPECT_EQ(r.status, 200) << row.host << " " << path;
        continue;
      }
      EXPECT_EQ(r.status, 403) << row.host << " " << path;
      EXPECT_EQ(r.Header("Content-Type"), "application/json") << row.host;
      EXPECT_THAT(r.body, HasSubstr(R"("code":"forbidden")")) << row.host;
      EXPECT_THAT(r.body, HasSubstr("loopback only")) << row.host;
      EXPECT_THAT(r.body, Not(HasSubstr("up 1"))) << row.host;
    }
  }
  // Refused before routing: a foreign Host learns nothing, not even which paths exist.
  HttpClient client(port);
  EXPECT_EQ(client.Request("GET", "/nope", {{"Host", "attacker.example"}}).status, 403);
  // HTTP/1.0 without Host: no browser sends it; served.
  const auto r = HttpClient(port).Raw("GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "up 1\n");
}

TEST(MetricsListener, PortInUseIsAnError) {
  auto first = MetricsListener::Start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(first) << first.error().message;
  auto second = MetricsListener::Start("127.0.0.1:" + std::to_string((*first)->Port()),
                                       [] { return std::string(); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kInternal);
}

}  // namespace
}  // namespace opsorch::workflow
