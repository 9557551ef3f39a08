// The request pipeline against hostile input: request ids that try to forge log fields, failed
// authentication (logged and counted), the metrics token's reach.
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/log/log.h>

#include "support/http_client.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

class CapturedLogs {
 public:
  CapturedLogs() {
    log::SetSinkForTest([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~CapturedLogs() { log::SetSinkForTest(nullptr); }
  std::vector<std::string> Matching(std::string_view needle) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) out.push_back(l);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

TEST(PipelineSecurity, RequestIdsCannotForgeAccessLogFields) {
  CapturedLogs logs;
  auto server =
      TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}, {"OPSORCH_ACCESS_LOG", "true"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  struct Row {
    std::string sent;
    bool kept;
  } rows[] = {
      {"x status=500 remote=10.6.6.6", false},
      {std::string(129, 'r'), false},
      {"caf\xc3\xa9", false},
      {"tab\there", false},
      {"abc-123", true},
  };
  for (const Row& r : rows) {
    auto resp = c.Request("GET", "/incidents/inc-001", {{"X-Request-Id", r.sent}});
    ASSERT_EQ(resp.status, 200);
    const std::string id = resp.Header("X-Request-Id");
    if (r.kept) {
      EXPECT_EQ(id, r.sent);
    } else {
      EXPECT_EQ(id.rfind("generated-", 0), 0u) << r.sent << " → " << id;
    }
    const auto access = logs.Matching("request_id=" + id);
    ASSERT_EQ(access.size(), 1u) << id;
    EXPECT_NE(access[0].find(" status=200 "), std::string::npos) << access[0];
    const auto audit = logs.Matching("\"request_id\":\"" + id + "\"");
    EXPECT_EQ(audit.size(), 1u) << id;
  }
  EXPECT_TRUE(logs.Matching("remote=10.6.6.6").empty());
  EXPECT_TRUE(logs.Matching("status=500").empty());
}

TEST(PipelineSecurity, FailedAuthenticationIsLoggedAndCounted) {
  CapturedLogs logs;
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"},
                                   {"OPSORCH_BEARER_TOKEN", "right-token"},
                                   {"OPSORCH_METRICS_TOKEN", "scrape-token"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  EXPECT_EQ(c.Request("GET", "/incidents/inc-001").status, 401);
  EXPECT_EQ(c.Request("GET", "/incidents/inc-001", {{"Authorization", "Bearer wrong"}}).status,
            401);
  // The metrics token opens /metrics and /health, nothing else.
  EXPECT_EQ(
      c.Request("GET", "/incidents/inc-001", {{"Authorization", "Bearer scrape-token"}}).status,
      401);
  EXPECT_EQ(c.Request("GET", "/health", {{"Authorization", "Bearer scrape-token"}}).status, 200);
  auto metrics = c.Request("GET", "/metrics", {{"Authorization", "Bearer scrape-token"}});
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("opsorch_auth_failures_total{credential=\"bearer\"} 3"),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(logs.Matching("authentication failed").size(), 3u);
  EXPECT_EQ(logs.Matching("reason=\"no bearer token\"").size(), 1u);
  EXPECT_EQ(logs.Matching("reason=\"wrong bearer token\"").size(), 2u);
  // Neither token reaches a log line.
  EXPECT_TRUE(logs.Matching("wrong").size() == 2u);
  EXPECT_TRUE(logs.Matching("right-token").empty());
  EXPECT_TRUE(logs.Matching("scrape-token").empty());
  EXPECT_EQ(c.Request("GET", "/incidents/inc-001", {{"Authorization", "Bearer right-token"}}).status,
            200);
}

}  // namespace
}  // namespace opsorch::testing
