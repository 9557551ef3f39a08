// The demo world must be internally consistent: every cross reference resolves.
#include "providers/mock/world.h"

#include <set>

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"
#include "providers/mock/util.h"

namespace opsorch::providers::mock {
namespace {

using testing::TestNow;

class MockWorldTest : public ::testing::Test {
 protected:
  MockWorld world_ = BuildWorld(TestNow());

  std::set<std::string> TeamIds() const {
    std::set<std::string> ids;
    for (const auto& t : world_.teams) ids.insert(t.team.id);
    return ids;
  }
  std::set<std::string> ServiceIds() const {
    std::set<std::string> ids;
    for (const auto& s : world_.services) ids.insert(s.service.id);
    return ids;
  }
  std::set<std::string> IncidentIds() const {
    std::set<std::string> ids;
    for (const auto& i : world_.incidents) ids.insert(i.incident.id);
    return ids;
  }
  std::set<std::string> MemberIds() const {
    std::set<std::string> ids;
    for (const auto& t : world_.teams) {
      for (const auto& m : t.members) ids.insert(m.id);
    }
    return ids;
  }
};

TEST_F(MockWorldTest, HasTheDocumentedSizes) {
  EXPECT_EQ(world_.teams.size(), 6u);
  EXPECT_EQ(world_.services.size(), 12u);
  EXPECT_EQ(world_.incidents.size(), 15u);
  EXPECT_EQ(world_.alerts.size(), 30u);
  EXPECT_EQ(world_.tickets.size(), 12u);
  EXPECT_EQ(world_.deployments.size(), 12u);
  EXPECT_EQ(world_.plans.size(), 6u);
  EXPECT_EQ(world_.runs.size(), 3u);
}

TEST_F(MockWorldTest, TeamsHaveParentsAndThreeToFiveMembers) {
  const auto teams = TeamIds();
  for (const auto& t : world_.teams) {
    if (t.team.id != "engineering") {
      EXPECT_EQ(t.team.parent, "engineering") << t.team.id;
    }
    EXPECT_GE(t.members.size(), 3u) << t.team.id;
    EXPECT_LE(t.members.size(), 5u) << t.team.id;
    EXPECT_EQ(t.team.url, "https://teams.demo.opsorch.dev/" + t.team.id);
    for (const auto& m : t.members) {
      EXPECT_EQ(m.id, m.email);
      EXPECT_NE(m.id.find("@demo.opsorch.dev"), std::string::npos);
      EXPECT_FALSE(m.role.empty());
    }
  }
}

TEST_F(MockWorldTest, EveryServiceBelongsToAnExistingTeam) {
  const auto teams = TeamIds();
  for (const auto& s : world_.services) {
    EXPECT_TRUE(teams.contains(s.team)) << s.service.id;
    EXPECT_EQ(s.service.tags.at("team"), s.team);
    EXPECT_EQ(s.service.tags.at("environment"), "prod");
    EXPECT_TRUE(s.service.tags.contains("tier"));
    EXPECT_TRUE(s.service.tags.contains("language"));
    EXPECT_EQ(s.service.id, "svc-" + s.service.name);
    for (const auto& dep : s.service.metadata.at("dependencies").as_array()) {
      EXPECT_TRUE(ServiceIds().contains(std::string(dep.as_string()))) << s.service.id;
    }
  }
}

TEST_F(MockWorldTest, IncidentsReferenceServicesAndHaveConsistentTimelines) {
  const auto services = ServiceIds();
  const auto members = MemberIds();
  std::set<std::string> statuses, severities;
  for (const auto& seed : world_.incidents) {
    const auto& inc = seed.incident;
    statuses.insert(inc.status);
    severities.insert(inc.severity);
    EXPECT_TRUE(services.contains(inc.service)) << inc.id;
    EXPECT_LE(inc.created_at, TestNow());
    EXPECT_LE(inc.updated_at, TestNow()) << inc.id;
    EXPECT_TRUE(members.contains(std::string(inc.metadata.at("commander").as_string())));
    ASSERT_FALSE(seed.timeline.empty()) << inc.id;
    EXPECT_EQ(seed.timeline.front().kind, "created");
    EXPECT_EQ(seed.timeline.back().at, inc.updated_at) << inc.id;
    if (inc.status == "resolved") EXPECT_EQ(seed.timeline.back().kind, "resolved") << inc.id;
    for (std::size_t i = 0; i < seed.timeline.size(); ++i) {
      const auto& e = seed.timeline[i];
      EXPECT_EQ(e.id, inc.id + "-t" + std::to_string(i + 1));
      EXPECT_EQ(e.incident_id, inc.id);
      if (i > 0) EXPECT_LE(seed.timeline[i - 1].at, e.at) << e.id;
      const std::string type(e.actor.at("type").as_string());
      if (type == "user") {
        EXPECT_TRUE(members.contains(std::string(e.actor.at("id").as_string()))) << e.id;
      }
    }
  }
  EXPECT_EQ(statuses, (std::set<std::string>{"open", "acknowledged", "investigating", "resolved"}));
  EXPECT_EQ(severities, (std::set<std::string>{"sev1", "sev2", "sev3", "sev4"}));
}

TEST_F(MockWorldTest, AlertsReferenceExistingIncidentsAndServices) {
  const auto incidents = IncidentIds();
  const auto services = ServiceIds();
  std::set<std::string> statuses;
  for (const auto& a : world_.alerts) {
    statuses.insert(a.status);
    EXPECT_TRUE(services.contains(a.service)) << a.id;
    if (a.fields.contains("incidentId")) {
      const std::string inc(a.fields.at("incidentId").as_string());
      EXPECT_TRUE(incidents.contains(inc)) << a.id;
      // The incident lists the alert back.
      const auto& seed = *std::find_if(world_.incidents.begin(), world_.incidents.end(),
                                       [&](const IncidentSeed& s) { return s.incident.id == inc; });
      bool listed = false;
      for (const auto& id : seed.incident.metadata.at("alertIds").as_array()) {
        listed = listed || id.as_string() == a.id;
      }
      EXPECT_TRUE(listed) << a.id;
    }
    EXPECT_LE(a.created_at, a.updated_at) << a.id;
  }
  EXPECT_EQ(statuses, (std::set<std::string>{"firing", "acknowledged", "resolved", "suppressed"}));
}

TEST_F(MockWorldTest, TicketsReferenceIncidentsServicesAndMembers) {
  const auto incidents = IncidentIds();
  const auto services = ServiceIds();
  const auto members = MemberIds();
  for (const auto& t : world_.tickets) {
    EXPECT_EQ(t.key, t.id);
    EXPECT_TRUE(incidents.contains(std::string(t.fields.at("incidentId").as_string()))) << t.id;
    EXPECT_TRUE(services.contains(std::string(t.fields.at("service").as_string()))) << t.id;
    EXPECT_TRUE(members.contains(t.reporter)) << t.id;
    ASSERT_FALSE(t.assignees.empty()) << t.id;
    for (const auto& a : t.assignees) EXPECT_TRUE(members.contains(a)) << t.id;
  }
}

TEST_F(MockWorldTest, DeploymentsReferenceServicesIncidentsAndDeployments) {
  const auto services = ServiceIds();
  const auto incidents = IncidentIds();
  std::set<std::string> ids, statuses;
  for (const auto& d : world_.deployments) ids.insert(d.id);
  for (const auto& d : world_.deployments) {
    statuses.insert(d.status);
    EXPECT_TRUE(services.contains(d.service)) << d.id;
    if (d.fields.contains("incidentId")) {
      EXPECT_TRUE(incidents.contains(std::string(d.fields.at("incidentId").as_string())));
    }
    if (d.fields.contains("rollbackOf")) {
      EXPECT_TRUE(ids.contains(std::string(d.fields.at("rollbackOf").as_string())));
    }
    if (d.status == "running" || d.status == "queued") {
      EXPECT_TRUE(d.finished_at.IsZero()) << d.id;
    } else {
      EXPECT_LE(d.started_at, d.finished_at) << d.id;
    }
  }
  EXPECT_EQ(statuses,
            (std::set<std::string>{"queued", "running", "success", "failed", "cancelled"}));
}

TEST_F(MockWorldTest, PlansHaveValidDependenciesAndRunsReferencePlans) {
  std::set<std::string> plan_ids;
  for (const auto& p : world_.plans) {
    plan_ids.insert(p.id);
    ASSERT_TRUE(p.steps.has_value());
    std::set<std::string> seen;
    bool manual = false, automated = false;
    for (const auto& st : *p.steps) {
      // Dependencies point backwards, so the plan is acyclic.
      for (const auto& d : st.depends_on) EXPECT_TRUE(seen.contains(d)) << p.id << "/" << st.id;
      seen.insert(st.id);
      manual = manual || st.type == "manual";
      automated = automated || st.type == "automated";
    }
    EXPECT_TRUE(manual && automated) << p.id;
  }
  std::set<std::string> run_statuses;
  for (const auto& r : world_.runs) {
    run_statuses.insert(r.status);
    EXPECT_TRUE(plan_ids.contains(r.plan_id)) << r.id;
    ASSERT_TRUE(r.plan.has_value());
    EXPECT_EQ(r.plan->id, r.plan_id);
    ASSERT_TRUE(r.steps.has_value());
    ASSERT_EQ(r.steps->size(), r.plan->steps->size()) << r.id;
    for (std::size_t i = 0; i < r.steps->size(); ++i) {
      EXPECT_EQ((*r.steps)[i].step_id, (*r.plan->steps)[i].id);
    }
    if (r.fields.contains("incidentId")) {
      EXPECT_TRUE(IncidentIds().contains(std::string(r.fields.at("incidentId").as_string())));
    }
  }
  EXPECT_EQ(run_statuses, (std::set<std::string>{"running", "completed", "blocked"}));
}

TEST_F(MockWorldTest, TimesAreRelativeToNow) {
  const MockWorld later = BuildWorld(TestNow().Add(3600LL * 1'000'000'000));
  ASSERT_EQ(later.incidents.size(), world_.incidents.size());
  for (std::size_t i = 0; i < later.incidents.size(); ++i) {
    EXPECT_EQ(later.incidents[i].incident.created_at.UnixNanos() -
                  world_.incidents[i].incident.created_at.UnixNanos(),
              3600LL * 1'000'000'000);
  }
  // Same now → identical world.
  const MockWorld again = BuildWorld(TestNow());
  EXPECT_EQ(again.incidents.front().incident.created_at,
            world_.incidents.front().incident.created_at);
  EXPECT_EQ(again.alerts.back().metadata, world_.alerts.back().metadata);
}

TEST_F(MockWorldTest, DegradedServicesAreThoseWithUnresolvedIncidents) {
  for (const auto& s : world_.services) {
    bool open = false;
    for (const auto& i : world_.incidents) {
      open = open || (i.incident.service == s.service.id && i.incident.status != "resolved");
    }
    EXPECT_EQ(!s.degraded_since.IsZero(), open) << s.service.id;
  }
}

TEST(MockServiceDirectoryTest, MatchesByIdOrNameCaseInsensitively) {
  const ServiceDirectory dir(BuildWorld(TestNow()));
  EXPECT_TRUE(dir.ServiceMatches("svc-checkout", "checkout"));
  EXPECT_TRUE(dir.ServiceMatches("svc-checkout", "SVC-Checkout"));
  EXPECT_FALSE(dir.ServiceMatches("svc-checkout", "payments"));
  EXPECT_TRUE(dir.ServiceMatches("custom", "CUSTOM"));  // unknown services compare literally
  EXPECT_EQ(dir.TeamOf("payments"), "team-payments");
  EXPECT_EQ(dir.TeamOf("nosuch"), "");
  s::QueryScope scope;
  scope.team = "team-sre";
  EXPECT_TRUE(dir.ScopeMatches(scope, "svc-database"));
  EXPECT_FALSE(dir.ScopeMatches(scope, "svc-checkout"));
  scope = {};
  scope.environment = "staging";
  EXPECT_FALSE(dir.ScopeMatches(scope, "svc-web"));
  EXPECT_TRUE(dir.ScopeMatches(scope, "svc-web", "staging"));
}

}  // namespace
}  // namespace opsorch::providers::mock
