// Route matching over the server's own table: the contract's path rules (§2.1) for its
// capabilities, exact segments and 405s for opsorch's routes, as a table.
#include "api/router.h"

#include <gtest/gtest.h>

#include <opsorch/api/api.h>
#include <opsorch/engine/routes.h>

namespace opsorch::api {
namespace {

using http::Method;
using providers::Capability;

// The server's table, without anything behind it (matching needs none).
const RouteTable& Table() {
  static providers::ProviderRegistry registry;
  static providers::ProviderSet set;
  static metrics::Registry metrics;
  static const RouteTable table = [] {
    RouteTable t = CoreRoutes(CoreRoutesContext{registry, set, metrics, nullptr, 64});
    engine::EngineRoutesContext e;
    e.engine = [] { return nullptr; };
    for (auto& r : engine::IngestRoutes(e)) t.push_back(std::move(r));
    for (auto& r : engine::AdminRoutes(e)) t.push_back(std::move(r));
    for (auto& r : engine::PagingRoutes(e)) t.push_back(std::move(r));
    return t;
  }();
  return table;
}

struct Case {
  Method method;
  const char* path;
  bool configured;
  // "GET /incidents/{id}" for a route; "404", "501 <cap>", "405 <allow>" otherwise.
  const char* expect;
  const char* param1 = "";
  const char* param2 = "";
};

std::string Describe(const RouteMatch& m) {
  switch (m.kind) {
    case RouteMatch::Kind::kRoute:
      return std::string(http::MethodName(m.route->method)) + " " + std::string(m.route->pattern);
    case RouteMatch::Kind::kNotFound:
      return "404";
    case RouteMatch::Kind::kCapabilityMissing:
      return "501 " + std::string(providers::Name(m.capability));
    case RouteMatch::Kind::kMethodNotAllowed:
      return "405 " + m.allow;
  }
  return "?";
}

class RouterTable : public ::testing::TestWithParam<Case> {};

TEST_P(RouterTable, Matches) {
  const Case& c = GetParam();
  const Router router(Table());
  const RouteMatch m = router.Match(c.method, c.path, [&](Capability) { return c.configured; });
  EXPECT_EQ(Describe(m), c.expect) << c.path;
  EXPECT_EQ(m.params[0], c.param1) << c.path;
  EXPECT_EQ(m.params[1], c.param2) << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Contract, RouterTable,
    ::testing::Values(
        Case{Method::kGet, "/", false, "GET /"},
        Case{Method::kGet, "/health", false, "GET /health"},
        Case{Method::kPost, "/health", false, "404"}, Case{Method::kGet, "/health/", false, "404"},
        Case{Method::kGet, "/providers/incident", false, "GET /providers/{cap*}", "incident"},
        Case{Method::kGet, "/providers/incident/", false, "GET /providers/{cap*}", "incident/"},
        Case{Method::kPost, "/providers/x", false, "POST /providers/{cap*}", "x"},
        Case{Method::kGet, "/providers", false, "404"},
        Case{Method::kPost, "/incidents/query", true, "POST /incidents/query"},
        Case{Method::kPost, "/incidents/query/", true, "POST /incidents/query"},
        Case{Method::kGet, "/incidents/query", true, "GET /incidents/{id}", "query"},
        Case{Method::kPost, "/incidents", true, "POST /incidents"},
        Case{Method::kPost, "/incidents/", true, "POST /incidents"},
        Case{Method::kGet, "/incidents", true, "404"},
        Case{Method::kPatch, "/incidents/i1", true, "PATCH /incidents/{id}", "i1"},
        Case{Method::kPut, "/incidents/i1", true, "404"},
        Case{Method::kGet, "/incidents/i1/timeline", true, "GET /incidents/{id}/timeline", "i1"},
        Case{Method::kPost, "/incidents/i1/timeline", true, "POST /incidents/{id}/timeline", "i1"},
        Case{Method::kGet, "/incidents/i1/x", true, "404"},
        Case{Method::kGet, "/incidents//i1", true, "404"},
        Case{Method::kGet, "/incidents/a/b/c/d", true, "404"},
        Case{Method::kGet, "/incidentsXYZ", true, "404"},
        Case{Method::kGet, "/incidentsXYZ", false, "501 incident"},
        Case{Method::kPost, "//incidents/query", false, "404"},
        Case{Method::kGet, "/alerts/al-1", true, "GET /alerts/{id}", "al-1"},
        Case{Method::kPost, "/alerts", true, "404"},
        Case{Method::kPost, "/logs/query", true, "POST /logs/query"},
        Case{Method::kGet, "/logs/query", true, "404"},
        Case{Method::kGet, "/logs/query", false, "501 log"},
        Case{Method::kPost, "/logs/query/", false, "404"},
        Case{Method::kGet, "/metrics", true, "GET /metrics"},
        Case{Method::kGet, "/metrics/describe", true, "GET /metrics/describe"},
        Case{Method::kPost, "/metrics/describe", true, "POST /metrics/describe"},
        Case{Method::kPatch, "/metrics/describe", true, "404"},
        Case{Method::kPost, "/metrics/query", true, "POST /metrics/query"},
        Case{Method::kPost, "/tickets", true, "POST /tickets"},
        Case{Method::kPatch, "/tickets/T-1", true, "PATCH /tickets/{id}", "T-1"},
        Case{Method::kPost, "/messages/send", true, "POST /messages/send"},
        Case{Method::kGet, "/services", true, "404"},
        Case{Method::kGet, "/services", false, "501 service"},
        Case{Method::kPost, "/services/query", true, "POST /services/query"},
        Case{Method::kGet, "/deployments/d1", true, "GET /deployments/{id}", "d1"},
        Case{Method::kGet, "/teams/t1", true, "GET /teams/{id}", "t1"},
        Case{Method::kGet, "/teams/t1/members", true, "GET /teams/{id}/members", "t1"},
        Case{Method::kPost, "/teams/query", true, "POST /teams/query"},
        Case{Method::kPost, "/orchestration/plans/query", true, "POST /orchestration/plans/query"},
        Case{Method::kGet, "/orchestration/plans/query", true, "GET /orchestration/plans/{planId}",
             "query"},
        Case{Method::kGet, "/orchestration/plans", true, "404"},
        Case{Method::kPost, "/orchestration/runs", true, "POST /orchestration/runs"},
        Case{Method::kGet, "/orchestration/runs/r1", true, "GET /orchestration/runs/{runId}", "r1"},
        Case{Method::kPost, "/orchestration/runs/query", true, "POST /orchestration/runs/query"},
        Case{Method::kPost, "/orchestration/runs/r1/steps/s1/complete", true,
             "POST /orchestration/runs/{runId}/steps/{stepId}/complete", "r1", "s1"},
        Case{Method::kPost, "/orchestration/runs/r1/steps/s1/finish", true, "404"},
        Case{Method::kGet, "/orchestration/anything", false, "501 orchestration"}));

INSTANTIATE_TEST_SUITE_P(
    Engine, RouterTable,
    ::testing::Values(Case{Method::kPost, "/v2/enqueue", false, "POST /v2/enqueue"},
                      Case{Method::kGet, "/v2/enqueue", false, "405 POST"},
                      // opsorch's own routes ignore one trailing '/'; a parameter is never empty
                      Case{Method::kPost, "/v2/enqueue/", false, "POST /v2/enqueue"},
                      Case{Method::kPost, "/v2/enqueue//", false, "404"},
                      Case{Method::kGet, "/admin/services/", false, "GET /admin/services"},
                      Case{Method::kPost, "/v2/enqueuex", false, "404"},
                      Case{Method::kPost, "/v2/enqueue/batch", false, "POST /v2/enqueue/batch"},
                      Case{Method::kPost, "/integrations/alertmanager/k1", false,
                           "POST /integrations/alertmanager/{key}", "k1"},
                      Case{Method::kPost, "/integrations/alertmanager/", false, "404"},
                      Case{Method::kPost, "/integrations/alertmanager/k1/", false,
                           "POST /integrations/alertmanager/{key}", "k1"},
                      Case{Method::kPost, "/integrations/alertmanager/a/b", false, "404"},
                      Case{Method::kGet, "/admin/services", false, "GET /admin/services"},
                      Case{Method::kPut, "/admin/services/s1", false, "PUT /admin/services/{id}",
                           "s1"},
                      Case{Method::kPost, "/admin/services/s1", false, "405 GET, PUT, DELETE"},
                      Case{Method::kPut, "/admin/teams/t1/members/m@x", false,
                           "PUT /admin/teams/{id}/members/{member}", "t1", "m@x"},
                      Case{Method::kGet, "/admin/nothing", false, "404"},
                      Case{Method::kGet, "/analytics/sla", false, "GET /analytics/sla"},
                      Case{Method::kPost, "/analytics/sla", false, "405 GET"}));

// OnPath picks the row whose error format a too-large body is answered in, before any method is
// known: opsorch's own routes (with one trailing '/' ignored, as when routing), never the
// contract's capability rows.
TEST(Router, OnPathFindsOwnRoutesAsRoutingDoes) {
  const Router router(Table());
  const auto on = [&](const char* path) {
    const Route* r = router.OnPath(path);
    return r == nullptr ? std::string("null") : std::string(r->pattern);
  };
  EXPECT_EQ(on("/v2/enqueue"), "/v2/enqueue");
  EXPECT_EQ(on("/v2/enqueue/"), "/v2/enqueue");
  EXPECT_EQ(on("/integrations/alertmanager/k1"), "/integrations/alertmanager/{key}");
  EXPECT_EQ(on("/v2/enqueue//"), "null");
  EXPECT_EQ(on("/incidents/query"), "null");
}

// The server's one query-string parser (application/x-www-form-urlencoded), as every route reads
// its parameters: `?service=a+b` means "a b" on /metrics/describe and on /analytics/sla alike.
TEST(CallQuery, DecodesFormEncodingTheSameForEveryRoute) {
  const http::Request request;
  const struct {
    const char* query;
    const char* key;
    const char* value;
  } rows[] = {
      {"service=a+b", "service", "a b"},
      {"service=a%2Bb", "service", "a+b"},
      {"service=caf%C3%A9", "service", "caf\xc3\xa9"},
      {"team=x&service=first&service=second", "service", "first"},
      {"ser%76ice=encoded-key", "service", "encoded-key"},
      {"service", "service", ""},
      {"service=%zz", "service", ""},  // malformed: as absent
      {"services=x", "service", ""},
      {"", "service", ""},
  };
  for (const auto& r : rows) {
    Call call{request, "/analytics/sla", r.query};
    EXPECT_EQ(call.Query(r.key), r.value) << r.query;
  }
}

TEST(Router, TheTableIsWellFormedAndAuditsWhatChanges) {
  EXPECT_EQ(CheckPatterns(Table()), "");
  const Router router(Table());
  const auto audit = [&](Method m, const char* path) {
    return std::string(router.Match(m, path, [](Capability) { return true; }).route->audit);
  };
  EXPECT_EQ(audit(Method::kPost, "/incidents/i1/timeline"), "incident.timeline.appended");
  EXPECT_EQ(audit(Method::kPost, "/orchestration/runs/r/steps/s/complete"),
            "orchestration.runs.steps.complete");
  EXPECT_EQ(audit(Method::kGet, "/health"), "");
  EXPECT_EQ(audit(Method::kGet, "/providers/incident"), "");
  EXPECT_EQ(audit(Method::kPost, "/providers/incident"), "provider.configured");
  EXPECT_EQ(audit(Method::kPut, "/admin/teams/t"), "admin.team.upserted");
}

TEST(Router, BadPatternsAreRefused) {
  const auto check = [](std::string_view pattern) {
    RouteTable t;
    t.push_back(Route{.method = Method::kGet, .pattern = pattern, .handler = [](Call&, Respond r) {
                        r(StatusOk());
                      }});
    return CheckPatterns(t);
  };
  EXPECT_EQ(check("/a/{b}/c"), "");
  EXPECT_NE(check("a"), "");
  EXPECT_NE(check("/a//b"), "");
  EXPECT_NE(check("/a/x{b}"), "");
  EXPECT_NE(check("/{a*}/b"), "");
  EXPECT_NE(check("/{a}/{b}/{c}/{d}"), "");
}

}  // namespace
}  // namespace opsorch::api
