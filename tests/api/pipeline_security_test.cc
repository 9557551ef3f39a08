// The request pipeline against hostile input: request ids that try to forge log fields, failed
// authentication (logged and counted), the metrics token's reach.
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/log/log.h>

#include "support/captured_logs.h"
#include "support/http_client.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

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
  EXPECT_EQ(
      c.Request("GET", "/incidents/inc-001", {{"Authorization", "Bearer right-token"}}).status,
      200);
}

// Hostile bodies against the demo world (the incident engine behind incidents and alerts):
// each is refused with 400 naming the field and the rule, and no response carries SQL, a file
// path or a library's message.
TEST(PipelineSecurity, HostileInputIsRefusedNamingTheFieldWithoutInternals) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("opsorch-hostile-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto server = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()}}, /*demo=*/true);
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());
  const std::string huge(50'001, 'x');
  std::string incident = c.Request("POST", "/incidents", {}, R"({"title":"t"})").body;
  const std::string id = incident.substr(incident.find("\"id\":\"") + 6,
                                         incident.find("\",") - incident.find("\"id\":\"") - 6);
  struct Row {
    std::string method, path, body, must_contain;
  } rows[] = {
      {"POST", "/incidents/query", R"({"query":")" + huge + R"("})",
       "query: must be at most 1024 bytes"},
      {"POST", "/alerts/query", R"({"query":")" + huge + R"("})",
       "query: must be at most 1024 bytes"},
      {"POST", "/incidents", R"({"title":"a\u0000b"})",
       "CreateIncidentInput.title: must not contain NUL characters"},
      {"POST", "/incidents", R"({"title":"t","fields":{"k":["ok","a\u0000"]}})",
       "CreateIncidentInput.fields.k.[]: must not contain NUL characters"},
      {"PATCH", "/incidents/" + id, R"({"description":"\u0000"})",
       "UpdateIncidentInput.description: must not contain NUL characters"},
      {"POST", "/incidents/" + id + "/timeline",
       R"({"at":"9999-12-31T23:59:59Z","kind":"note","body":"x"})", "at: must be between"},
      {"POST", "/incidents/query", "{\"query\":\"caf\xe9\"}", "invalid UTF-8 at offset 13"},
      {"POST", "/incidents/query", "{\"query\":\"\xc0\xaf\"}", "invalid UTF-8 at offset 10"},
      {"GET", "/analytics/sla?start=0001-01-01T00:00:00Z&end=9999-12-31T23:59:59Z", "",
       "start: must be between"},
      {"GET", "/analytics/sla?start=2020-01-01T00:00:00Z&end=9999-12-31T23:59:59Z", "",
       "end: must be between"},
      {"POST", "/v2/enqueue",
       R"({"routing_key":"demo-routing-key-000000000000001","event_action":"trigger",)"
       R"("payload":{"summary":"s","source":"x","severity":"info",)"
       R"("timestamp":"9999-12-31T23:59:59Z"}})",
       "payload.timestamp must be between"},
  };
  for (const Row& r : rows) {
    auto resp = c.Request(r.method, r.path, {}, r.body);
    EXPECT_EQ(resp.status, 400) << r.path << " " << r.body.substr(0, 80) << ": " << resp.body;
    EXPECT_NE(resp.body.find(r.must_contain), std::string::npos)
        << r.must_contain << " not in " << resp.body.substr(0, 300);
    for (const char* internal : {"SELECT", "LIKE", "sqlite", "pattern", dir.c_str()}) {
      EXPECT_EQ(resp.body.find(internal), std::string::npos) << internal << " in " << resp.body;
    }
  }
  // The timeline and the store did not take any of it.
  auto timeline = c.Request("GET", "/incidents/" + id + "/timeline");
  EXPECT_EQ(timeline.status, 200);
  EXPECT_EQ(timeline.body.find("9999"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Alertmanager does not retry a 4xx: a group of any size up to the body limit is stored. Over
// the server's body limit, /v2/* answers 413 in PagerDuty's format like its other errors.
TEST(IngestionLimits, LargeAlertmanagerGroupsAreStoredAndOversizedBodiesGet413InTheirFormat) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("opsorch-am-large-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto server = TestServer::Start(
      {{"OPSORCH_DATA_DIR", dir.string()}, {"OPSORCH_HTTP_BODY_LIMIT", "4194304"}}, true);
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());
  std::string body = R"({"version":"4","status":"firing","alerts":[)";
  for (int i = 0; i < 3000; ++i) {
    if (i > 0) body += ",";
    body += R"({"status":"firing","labels":{"alertname":"DiskFull","instance":"db-)" +
            std::to_string(i) + R"("},"annotations":{"summary":"disk full"}})";
  }
  body += "]}";
  auto r =
      c.Request("POST", "/integrations/alertmanager/demo-alertmanager-key-0000000001", {}, body);
  ASSERT_EQ(r.status, 202) << r.body.substr(0, 300);
  std::size_t results = 0;
  for (std::size_t at = 0; (at = r.body.find("\"status\":\"success\"", at)) != std::string::npos;
       ++at) {
    ++results;
  }
  EXPECT_EQ(results, 3001u);  // the envelope and every alert
  auto incidents =
      c.Request("POST", "/incidents/query", {}, R"({"query":"disk full","limit":1000})");
  EXPECT_EQ(incidents.status, 200);

  // The length is announced, not sent: the server answers before reading a byte of it.
  const auto oversized = [](std::string_view path) {
    return "POST " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nContent-Length: 5242880\r\n\r\n";
  };
  r = c.Raw(oversized("/v2/enqueue"));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(
      r.body,
      R"({"status":"invalid event","message":"Event object is invalid","errors":["request body exceeds 4194304 bytes"]})"
      "\n");
  HttpClient c2((*server)->Port());
  r = c2.Raw(oversized("/integrations/alertmanager/demo-alertmanager-key-0000000001"));
  EXPECT_EQ(r.status, 413);
  // Alertmanager reads only the status; the body is the ingestion routes' one format.
  EXPECT_EQ(
      r.body,
      R"({"status":"invalid event","message":"Event object is invalid","errors":["request body exceeds 4194304 bytes"]})"
      "\n");
  HttpClient c3((*server)->Port());
  r = c3.Raw(oversized("/incidents/query"));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find(R"("code":"payload_too_large")"), std::string::npos) << r.body;
  std::filesystem::remove_all(dir);
}

// Without a token, a server reachable from other machines says so at start; on loopback, or
// with a token, it does not.
TEST(PipelineSecurity, NoTokenOnAReachableAddressIsWarnedAbout) {
  struct Row {
    std::map<std::string, std::string> env;
    bool warned;
  } rows[] = {
      {{{"OPSORCH_ADDR", "0.0.0.0:0"}}, true},
      {{{"OPSORCH_ADDR", "127.0.0.1:0"}}, false},
      {{{"OPSORCH_ADDR", "0.0.0.0:0"}, {"OPSORCH_BEARER_TOKEN", "t"}}, false},
  };
  for (const Row& r : rows) {
    CapturedLogs logs;
    auto server = TestServer::Start(r.env);
    ASSERT_TRUE(server) << server.error().message;
    EXPECT_EQ(logs.Matching("WARNING: no OPSORCH_BEARER_TOKEN").size(), r.warned ? 1u : 0u)
        << r.env.begin()->second;
  }
}

// Who acted is kept: the timeline entries an API change writes carry the actor headers the
// audit line uses.
TEST(PipelineSecurity, TimelineEntriesRecordTheCaller) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("opsorch-actor-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto server = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()}}, /*demo=*/true);
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());
  const std::vector<std::pair<std::string, std::string>> alice = {
      {"X-Actor-Id", "alice"}, {"X-Actor-Name", "Alice Liddell"}};
  auto created = c.Request("POST", "/incidents", alice, R"({"title":"t","severity":"warning"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::size_t at = created.body.find("\"id\":\"") + 6;
  const std::string id = created.body.substr(at, created.body.find('"', at) - at);
  auto acked =
      c.Request("PATCH", "/incidents/" + id, {{"X-User-Id", "bob"}, {"X-Actor-Type", "copilot"}},
                R"({"status":"acknowledged"})");
  ASSERT_EQ(acked.status, 200) << acked.body;
  ASSERT_EQ(c.Request("POST", "/incidents/" + id + "/timeline", {{"X-Actor-Id", "carol"}},
                      R"({"kind":"note","body":"looking"})")
                .status,
            201);
  ASSERT_EQ(c.Request("POST", "/incidents/" + id + "/timeline", {{"X-Actor-Id", "carol"}},
                      R"({"kind":"note","body":"x","actor":{"type":"bot","id":"ci"}})")
                .status,
            201);
  // A header value that is not plain text is not recorded.
  ASSERT_EQ(c.Request("PATCH", "/incidents/" + id, {{"X-Actor-Id", std::string(300, 'z')}},
                      R"({"severity":"critical"})")
                .status,
            200);
  auto timeline = c.Request("GET", "/incidents/" + id + "/timeline");
  ASSERT_EQ(timeline.status, 200);
  // (Object keys come sorted, as Go encodes maps.)
  for (
      const char* expected :
      {R"("kind":"created","body":"Incident created: t","actor":{"id":"alice","name":"Alice Liddell","type":"user"})",
       R"("kind":"acknowledged","body":"Status changed from open to acknowledged","actor":{"id":"bob","type":"copilot"})",
       R"("body":"looking","actor":{"id":"carol","type":"user"})",
       R"("body":"x","actor":{"id":"ci","type":"bot"})",
       R"("kind":"severity_change","body":"Severity changed from sev3 to sev1","actor":{"type":"user"},"metadata":{"from":"sev3","to":"sev1"})"}) {
    EXPECT_NE(timeline.body.find(expected), std::string::npos)
        << expected << "\nin " << timeline.body;
  }
  std::filesystem::remove_all(dir);
}

// An integration key in the URL (the Alertmanager webhook's) reaches no log line: not the
// access line, not the refusal of a wrong or other-kind key, not the 401 of a path under the
// route's prefix that matches no route, however the path is spelled or encoded.
TEST(PipelineSecurity, IntegrationKeysInThePathReachNoLogLine) {
  CapturedLogs logs;
  const auto dir = std::filesystem::path(::testing::TempDir()) / "key-log-test";
  std::filesystem::remove_all(dir);
  auto server = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()},
                                   {"OPSORCH_ACCESS_LOG", "true"},
                                   {"OPSORCH_BEARER_TOKEN", "bearer-token-1"}},
                                  /*demo=*/true);
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());
  const std::string am_key = "demo-alertmanager-key-0000000001";
  const std::string v2_key = "demo-routing-key-000000000000001";  // valid, but not for this route
  const std::string alert =
      R"({"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A"},)"
      R"("annotations":{"summary":"s"},"fingerprint":"f1"}]})";
  struct Row {
    std::string target;
    int status;
  } rows[] = {
      {"/integrations/alertmanager/" + am_key, 202},
      {"/integrations/alertmanager/" + v2_key, 401},
      {"/integrations/alertmanager/wrong-key-but-long-enough-123", 401},
      {"/integrations/alertmanager/" + am_key + "/extra", 401},
      {"/integrations/alertmanager%2F" + am_key, 202},  // decoded before routing
      {"/Integrations/Alertmanager/" + am_key, 401},
  };
  for (const Row& r : rows) {
    auto resp = c.Request("POST", r.target, {{"Content-Type", "application/json"}}, alert);
    EXPECT_EQ(resp.status, r.status) << r.target;  // (the key shows only here, in the test)
  }
  const std::string all = logs.All();
  EXPECT_EQ(all.find(am_key), std::string::npos) << all;
  EXPECT_EQ(all.find(v2_key), std::string::npos) << all;
  EXPECT_EQ(all.find("wrong-key-but-long"), std::string::npos) << all;
  // What the lines do say: the route's prefix, and the first characters of a refused key.
  EXPECT_NE(all.find("/integrations/alertmanager/(redacted)"), std::string::npos) << all;
  EXPECT_NE(all.find("key_prefix=demo-r…"), std::string::npos) << all;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::testing
