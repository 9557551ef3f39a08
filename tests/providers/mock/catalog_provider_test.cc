// Services, teams and deployments: the read-only catalog of the demo world.
#include <gtest/gtest.h>

#include "providers/mock/deployment_provider.h"
#include "providers/mock/service_provider.h"
#include "providers/mock/team_provider.h"
#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using Ids = std::vector<std::string>;

template <class P, class Q>
Ids QueryIds(P& p, const Q& q) {
  Ids ids;
  auto r = p.Query(q);
  EXPECT_TRUE(r && r->has_value());
  if (r && *r) {
    for (const auto& x : **r) ids.push_back(x.id);
  }
  return ids;
}

TEST(MockServiceProviderTest, Filters) {
  auto p = Make<MockServiceProvider>();
  const Ids all = QueryIds(*p, s::ServiceQuery{});
  ASSERT_EQ(all.size(), 12u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(QueryIds(*p, s::ServiceQuery{.ids = {"svc-web", "SVC-SEARCH", "nosuch"}}),
            (Ids{"svc-search", "svc-web"}));
  EXPECT_EQ(QueryIds(*p, s::ServiceQuery{.name = "PAY"}), Ids{"svc-payments"});
  EXPECT_EQ(QueryIds(*p, s::ServiceQuery{.tags = {{"tier", "tier-2"}}}),
            (Ids{"svc-inventory", "svc-notifications", "svc-search"}));
  EXPECT_EQ(
      QueryIds(*p, s::ServiceQuery{.tags = {{"team", "team-payments"}, {"language", "java"}}}),
      (Ids{"svc-orders", "svc-payments"}));
  s::ServiceQuery q;
  q.scope.team = "team-data";
  EXPECT_EQ(QueryIds(*p, q), (Ids{"svc-analytics", "svc-inventory", "svc-search"}));
  q.scope = {};
  q.scope.service = "checkout";
  EXPECT_EQ(QueryIds(*p, q), Ids{"svc-checkout"});
  q.scope = {};
  q.scope.environment = "staging";
  EXPECT_TRUE(QueryIds(*p, q).empty());
  EXPECT_EQ(QueryIds(*p, s::ServiceQuery{.limit = 2}), (Ids{"svc-analytics", "svc-api-gateway"}));
}

TEST(MockServiceProviderTest, ServiceShape) {
  auto p = Make<MockServiceProvider>();
  auto r = **p->Query(s::ServiceQuery{.ids = {"svc-checkout"}});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].name, "checkout");
  EXPECT_EQ(r[0].url, "https://services.demo.opsorch.dev/svc-checkout");
  EXPECT_EQ(r[0].tags, (StringMap{{"environment", "prod"},
                                  {"language", "go"},
                                  {"team", "team-payments"},
                                  {"tier", "tier-1"}}));
}

TEST(MockTeamProviderTest, QueryFilters) {
  auto p = Make<MockTeamProvider>();
  EXPECT_EQ(QueryIds(*p, s::TeamQuery{}), (Ids{"engineering", "team-data", "team-identity",
                                               "team-payments", "team-platform", "team-sre"}));
  EXPECT_EQ(QueryIds(*p, s::TeamQuery{.name = "PAY"}), Ids{"team-payments"});
  EXPECT_EQ(QueryIds(*p, s::TeamQuery{.tags = {{"timezone", "Europe/Berlin"}}}),
            Ids{"team-platform"});
  EXPECT_EQ(QueryIds(*p, s::TeamQuery{.tags = {{"kind", "org"}}}), Ids{"engineering"});
  s::TeamQuery q;
  q.scope.team = "team-sre";
  EXPECT_EQ(QueryIds(*p, q), Ids{"team-sre"});
  q.scope = {};
  q.scope.service = "svc-search";
  EXPECT_EQ(QueryIds(*p, q), Ids{"team-data"});
}

TEST(MockTeamProviderTest, GetAndMembers) {
  auto p = Make<MockTeamProvider>();
  auto t = p->Get("team-payments");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, "Payments");
  EXPECT_EQ(t->parent, "engineering");
  EXPECT_EQ(t->url, "https://teams.demo.opsorch.dev/team-payments");
  auto members = p->Members("team-payments");
  ASSERT_TRUE(members && members->has_value());
  ASSERT_EQ((*members)->size(), 4u);
  EXPECT_EQ((*members)->front().id, "alice.johnson@demo.opsorch.dev");
  EXPECT_EQ((*members)->front().role, "lead");
  EXPECT_EQ((*members)->front().handle, "alice");

  auto missing = p->Get("team-nosuch");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "team team-nosuch not found"}));
  auto missing_members = p->Members("team-nosuch");
  ASSERT_FALSE(missing_members);
  EXPECT_EQ(WireCode(missing_members.error()), "not_found");
}

TEST(MockDeploymentProviderTest, Filters) {
  auto p = Make<MockDeploymentProvider>();
  const Ids all = QueryIds(*p, s::DeploymentQuery{});
  ASSERT_EQ(all.size(), 12u);
  EXPECT_EQ(all.front(), "deploy-001");
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(QueryIds(*p, s::DeploymentQuery{.statuses = {"RUNNING"}}), Ids{"deploy-011"});
  EXPECT_EQ(QueryIds(*p, s::DeploymentQuery{.versions = {"v5.2.0"}}),
            (Ids{"deploy-005", "deploy-006"}));
  EXPECT_EQ(QueryIds(*p, s::DeploymentQuery{.query = "rollback"}),
            (Ids{"deploy-004", "deploy-010"}));
  s::DeploymentQuery q;
  q.scope.environment = "staging";
  EXPECT_EQ(QueryIds(*p, q), (Ids{"deploy-002", "deploy-005", "deploy-009"}));
  q.scope = {};
  q.scope.service = "payments";
  EXPECT_EQ(QueryIds(*p, q), (Ids{"deploy-008", "deploy-010"}));
  q.scope = {};
  q.scope.team = "team-platform";
  q.scope.environment = "prod";
  EXPECT_EQ(QueryIds(*p, q), (Ids{"deploy-003", "deploy-004", "deploy-006"}));
  EXPECT_EQ(QueryIds(*p, s::DeploymentQuery{.limit = 1}), Ids{"deploy-001"});
}

TEST(MockDeploymentProviderTest, GetAndNotFound) {
  auto p = Make<MockDeploymentProvider>();
  auto d = p->Get("deploy-010");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->service, "svc-payments");
  EXPECT_EQ(d->version, "v2.14.0");
  EXPECT_EQ(d->fields.at("rollbackOf"), "deploy-008");
  EXPECT_EQ(d->actor.at("id"), "deploy-bot");
  EXPECT_EQ(d->url, "https://deploy.demo.opsorch.dev/deployments/deploy-010");
  EXPECT_EQ(d->started_at, testing::MinutesBefore(205));
  EXPECT_EQ(d->finished_at, testing::MinutesBefore(198));
  auto missing = p->Get("deploy-999");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "deployment deploy-999 not found"}));
}

}  // namespace
}  // namespace opsorch::providers::mock
