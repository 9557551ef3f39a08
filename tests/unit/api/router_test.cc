// Route matching rules of contract §2.1, as a table.
#include "api/router.h"

#include <gtest/gtest.h>

namespace opsorch::api {
namespace {

using http::Method;
using providers::Capability;

struct Case {
  Method method;
  const char* path;
  bool configured;
  RouteId expect;
  const char* param1 = "";
  const char* param2 = "";
};

class RouterTable : public ::testing::TestWithParam<Case> {};

TEST_P(RouterTable, Matches) {
  const Case& c = GetParam();
  const RouteMatch m = MatchRoute(c.method, c.path, [&](Capability) { return c.configured; });
  EXPECT_EQ(static_cast<int>(m.id), static_cast<int>(c.expect)) << c.path;
  EXPECT_EQ(m.param1, c.param1) << c.path;
  EXPECT_EQ(m.param2, c.param2) << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Contract, RouterTable,
    ::testing::Values(
        Case{Method::kGet, "/", false, RouteId::kRoot},
        Case{Method::kGet, "/health", false, RouteId::kHealth},
        Case{Method::kPost, "/health", false, RouteId::kNotFound},
        Case{Method::kGet, "/providers/incident", false, RouteId::kProvidersGet, "incident"},
        Case{Method::kPost, "/providers/x", false, RouteId::kProvidersPost, "x"},
        Case{Method::kPost, "/incidents/query", true, RouteId::kIncidentsQuery},
        Case{Method::kPost, "/incidents/query/", true, RouteId::kIncidentsQuery},
        Case{Method::kGet, "/incidents/query", true, RouteId::kIncidentGet, "query"},
        Case{Method::kPost, "/incidents", true, RouteId::kIncidentCreate},
        Case{Method::kPost, "/incidents/", true, RouteId::kIncidentCreate},
        Case{Method::kGet, "/incidents", true, RouteId::kNotFound},
        Case{Method::kPatch, "/incidents/i1", true, RouteId::kIncidentUpdate, "i1"},
        Case{Method::kPut, "/incidents/i1", true, RouteId::kNotFound},
        Case{Method::kGet, "/incidents/i1/timeline", true, RouteId::kIncidentTimelineGet, "i1"},
        Case{Method::kPost, "/incidents/i1/timeline", true, RouteId::kIncidentTimelineAppend, "i1"},
        Case{Method::kGet, "/incidents/i1/x", true, RouteId::kNotFound},
        Case{Method::kGet, "/incidents//i1", true, RouteId::kNotFound},
        Case{Method::kGet, "/incidents/a/b/c/d", true, RouteId::kNotFound},
        Case{Method::kGet, "/incidentsXYZ", true, RouteId::kNotFound},
        Case{Method::kGet, "/incidentsXYZ", false, RouteId::kCapabilityMissing},
        Case{Method::kPost, "//incidents/query", false, RouteId::kNotFound},
        Case{Method::kGet, "/alerts/al-1", true, RouteId::kAlertGet, "al-1"},
        Case{Method::kPost, "/alerts", true, RouteId::kNotFound},
        Case{Method::kPost, "/logs/query", true, RouteId::kLogsQuery},
        Case{Method::kGet, "/logs/query", true, RouteId::kNotFound},
        Case{Method::kGet, "/logs/query", false, RouteId::kCapabilityMissing},
        Case{Method::kPost, "/logs/query/", false, RouteId::kNotFound},
        Case{Method::kGet, "/metrics", true, RouteId::kMetricsScrape},
        Case{Method::kGet, "/metrics/describe", true, RouteId::kMetricsDescribeGet},
        Case{Method::kPost, "/metrics/describe", true, RouteId::kMetricsDescribePost},
        Case{Method::kPatch, "/metrics/describe", true, RouteId::kNotFound},
        Case{Method::kPost, "/metrics/query", true, RouteId::kMetricsQuery},
        Case{Method::kPost, "/tickets", true, RouteId::kTicketCreate},
        Case{Method::kPatch, "/tickets/T-1", true, RouteId::kTicketUpdate, "T-1"},
        Case{Method::kPost, "/messages/send", true, RouteId::kMessagesSend},
        Case{Method::kGet, "/services", true, RouteId::kNotFound},
        Case{Method::kGet, "/services", false, RouteId::kCapabilityMissing},
        Case{Method::kPost, "/services/query", true, RouteId::kServicesQuery},
        Case{Method::kGet, "/deployments/d1", true, RouteId::kDeploymentGet, "d1"},
        Case{Method::kGet, "/teams/t1", true, RouteId::kTeamGet, "t1"},
        Case{Method::kGet, "/teams/t1/members", true, RouteId::kTeamMembers, "t1"},
        Case{Method::kPost, "/teams/query", true, RouteId::kTeamsQuery},
        Case{Method::kPost, "/orchestration/plans/query", true, RouteId::kPlansQuery},
        Case{Method::kGet, "/orchestration/plans/query", true, RouteId::kPlanGet, "query"},
        Case{Method::kGet, "/orchestration/plans", true, RouteId::kNotFound},
        Case{Method::kPost, "/orchestration/runs", true, RouteId::kRunStart},
        Case{Method::kGet, "/orchestration/runs/r1", true, RouteId::kRunGet, "r1"},
        Case{Method::kPost, "/orchestration/runs/query", true, RouteId::kRunsQuery},
        Case{Method::kPost, "/orchestration/runs/r1/steps/s1/complete", true,
             RouteId::kStepComplete, "r1", "s1"},
        Case{Method::kPost, "/orchestration/runs/r1/steps/s1/finish", true, RouteId::kNotFound},
        Case{Method::kGet, "/orchestration/anything", false, RouteId::kCapabilityMissing}));

TEST(Router, AuditActions) {
  EXPECT_EQ(AuditAction(RouteId::kIncidentTimelineAppend), "incident.timeline.appended");
  EXPECT_EQ(AuditAction(RouteId::kStepComplete), "orchestration.runs.steps.complete");
  EXPECT_EQ(AuditAction(RouteId::kHealth), "");
  EXPECT_EQ(AuditAction(RouteId::kProvidersGet), "");
  EXPECT_EQ(AuditAction(RouteId::kProvidersPost), "provider.configured");
}

}  // namespace
}  // namespace opsorch::api
