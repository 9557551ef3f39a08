// The route table's coverage, over every row of the assembled server's table: each route answers
// a CORS preflight naming its method, and a request to it goes through the one pipeline — it is
// counted under its own pattern in opsorch_http_requests_total and writes one access-log line.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/strings.h>
#include <opsorch/http/message.h>

#include "support/captured_logs.h"
#include "support/http_client.h"
#include "support/test_server.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

// A concrete path for a pattern: every {parameter} gets a value no row treats specially.
std::string PathOf(std::string_view pattern) {
  std::string out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] != '{') {
      out.push_back(pattern[i++]);
      continue;
    }
    const auto close = pattern.find('}', i);
    const std::string_view name = pattern.substr(i + 1, close - i - 1);
    out += name.ends_with('*') ? "incident" : "route-probe";  // {cap*}: a capability name
    i = close + 1;
  }
  return out;
}

TEST(RouteTable, EveryRouteAnswersPreflightAndIsCountedAndLogged) {
  CapturedLogs logs;
  const auto dir = std::filesystem::path(::testing::TempDir()) / "route-table-test";
  std::filesystem::remove_all(dir);
  auto server = TestServer::Start(
      {{"OPSORCH_DATA_DIR", dir.string()}, {"OPSORCH_ACCESS_LOG", "true"}}, /*demo=*/true);
  ASSERT_TRUE(server) << server.error().message;
  const api::RouteTable& routes = (*server)->App().Routes();
  ASSERT_GT(routes.size(), 50u);
  HttpClient c((*server)->Port());

  std::set<std::pair<std::string_view, std::string_view>> seen;
  int n = 0;
  for (const api::Route& route : routes) {
    const std::string_view method = http::MethodName(route.method);
    SCOPED_TRACE(std::string(method) + " " + std::string(route.pattern));
    EXPECT_TRUE(seen.emplace(method, route.pattern).second) << "two rows for one route";
    EXPECT_FALSE(route.summary.empty()) << "no summary for /openapi.json";
    const std::string path = PathOf(route.pattern);

    auto pre = c.Request("OPTIONS", path,
                         {{"Origin", "https://console.example"},
                          {"Access-Control-Request-Method", std::string(method)}});
    EXPECT_EQ(pre.status, 200);
    EXPECT_NE(pre.Header("Access-Control-Allow-Methods").find(method), std::string::npos)
        << pre.Header("Access-Control-Allow-Methods");
    EXPECT_FALSE(pre.Header("Access-Control-Allow-Origin").empty());

    const std::string id = "route-probe-" + std::to_string(++n);
    const bool has_body = route.method == http::Method::kPost ||
                          route.method == http::Method::kPut ||
                          route.method == http::Method::kPatch;
    auto r = c.Request(method, path, {{"X-Request-Id", id}, {"Content-Type", "application/json"}},
                       has_body ? "{}" : "");
    ASSERT_NE(r.status, 0) << "no answer";
    EXPECT_NE(r.status, 405);
    EXPECT_NE(r.status, 501) << "every capability is configured in the demo";
    const auto access = logs.Matching("request_id=" + id + " ");
    ASSERT_EQ(access.size(), 1u) << logs.All();
    EXPECT_NE(access[0].find("method=" + std::string(method)), std::string::npos) << access[0];
    EXPECT_NE(access[0].find("status=" + std::to_string(r.status)), std::string::npos) << access[0];
  }

  // Counted under each route's own pattern (not "(not found)" or another row's).
  const std::string metrics = c.Request("GET", "/metrics").body;
  for (const api::Route& route : routes) {
    const std::string series = "opsorch_http_requests_total{route=\"" +
                               api::RouteLabel(route.pattern) + "\",method=\"" +
                               std::string(http::MethodName(route.method)) + "\",code=\"";
    EXPECT_NE(metrics.find(series), std::string::npos) << series;
  }
  std::filesystem::remove_all(dir);
}

// GET /openapi.json describes every row of the table, and an OpenAPI 3.1 validator (npm, pinned
// in tests/openapi) accepts it: schemas, $refs and path parameters included.
TEST(RouteTable, OpenApiDocumentHasEveryRouteAndIsValid) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "openapi-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto server = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()}}, /*demo=*/true);
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());
  auto r = c.Request("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  auto doc = ParseJson(r.body);
  ASSERT_TRUE(doc) << doc.error().message;
  const auto& paths = doc->at("paths").as_object();
  for (const api::Route& route : (*server)->App().Routes()) {
    std::string path(route.pattern);
    if (auto star = path.find("*}"); star != std::string::npos) path.erase(star, 1);
    const std::string method = ToLower(http::MethodName(route.method));
    SCOPED_TRACE(method + " " + path);
    ASSERT_TRUE(paths.contains(path));
    ASSERT_TRUE(paths.at(path).as_object().contains(method));
    const auto& op = paths.at(path).at(method).as_object();
    EXPECT_EQ(op.at("summary").as_string(), route.summary);
    EXPECT_TRUE(op.at("responses").as_object().contains(std::to_string(route.success_status)));
    EXPECT_EQ(op.contains("requestBody"), !route.request_type.empty());
  }
  // The document names its types: an incident's fields come from the field table.
  const auto& incident = doc->at("components").at("schemas").at("Incident").at("properties");
  EXPECT_EQ(incident.at("createdAt").at("format").as_string(), "date-time");

  const auto file = dir / "openapi.json";
  std::ofstream(file) << r.body;
  const std::string cmd = "node " + std::string(OPSORCH_SOURCE_DIR) +
                          "/tests/openapi/validate.mjs " + file.string() + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::testing
