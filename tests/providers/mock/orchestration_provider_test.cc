#include "providers/mock/orchestration_provider.h"

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using testing::TestNow;
using Ids = std::vector<std::string>;

constexpr std::int64_t kSecond = 1'000'000'000;

const s::OrchestrationStepState& Step(const s::OrchestrationRun& run, std::string_view id) {
  for (const auto& st : *run.steps) {
    if (st.step_id == id) return st;
  }
  ADD_FAILURE() << "no step " << id;
  static const s::OrchestrationStepState kNone;
  return kNone;
}

class MockOrchestrationProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<MockOrchestrationProvider> p_ = Make<MockOrchestrationProvider>();

  s::OrchestrationRun Run(const std::string& id) {
    auto r = p_->GetRun(id);
    EXPECT_TRUE(r && r->has_value()) << (r ? "" : r.error().message);
    return r && *r ? **r : s::OrchestrationRun{};
  }
  Ids Plans(const s::OrchestrationPlanQuery& q) {
    Ids ids;
    auto r = p_->QueryPlans(q);
    EXPECT_TRUE(r && r->has_value());
    for (const auto& p : **r) ids.push_back(p.id);
    return ids;
  }
  Ids Runs(const s::OrchestrationRunQuery& q) {
    Ids ids;
    auto r = p_->QueryRuns(q);
    EXPECT_TRUE(r && r->has_value());
    for (const auto& run : **r) ids.push_back(run.id);
    return ids;
  }
  void Advance(std::int64_t seconds) { p_->ClockForTest().Advance(seconds * kSecond); }
};

TEST_F(MockOrchestrationProviderTest, QueryPlans) {
  EXPECT_EQ(Plans({}), (Ids{"plan-cache-flush", "plan-db-failover", "plan-incident-comms",
                            "plan-rollback-deploy", "plan-rotate-credentials", "plan-scale-out"}));
  EXPECT_EQ(Plans({.query = "FAILOVER"}), Ids{"plan-db-failover"});
  EXPECT_EQ(Plans({.query = "status page"}), Ids{"plan-incident-comms"});  // description
  EXPECT_EQ(Plans({.tags = {{"category", "rollback"}}}), Ids{"plan-rollback-deploy"});
  EXPECT_EQ(Plans({.limit = 2}), (Ids{"plan-cache-flush", "plan-db-failover"}));
  // A plan without a tag for a scope dimension applies to any value of it.
  s::OrchestrationPlanQuery q;
  q.scope.team = "team-sre";
  EXPECT_EQ(Plans(q), (Ids{"plan-db-failover", "plan-incident-comms", "plan-rollback-deploy"}));
  q.scope = {};
  q.scope.service = "svc-search";
  EXPECT_EQ(Plans(q).size(), 5u);
  q.scope = {};
  q.scope.environment = "staging";
  EXPECT_EQ(Plans(q), (Ids{"plan-incident-comms", "plan-rotate-credentials"}));
}

TEST_F(MockOrchestrationProviderTest, GetPlan) {
  auto plan = p_->GetPlan("plan-db-failover");
  ASSERT_TRUE(plan && plan->has_value());
  EXPECT_EQ((*plan)->steps->size(), 5u);
  EXPECT_EQ((*plan)->steps->at(1).depends_on, Ids{"check-replica-health"});
  EXPECT_EQ((*plan)->url, "https://orchestration.demo.opsorch.dev/plans/plan-db-failover");
  auto missing = p_->GetPlan("plan-nosuch");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "plan plan-nosuch not found"}));
}

TEST_F(MockOrchestrationProviderTest, SeededRunsAndQueries) {
  EXPECT_EQ(Runs({}), (Ids{"run-001", "run-002", "run-003"}));
  EXPECT_EQ(Runs({.statuses = {"running"}}), Ids{"run-001"});
  EXPECT_EQ(Runs({.statuses = {"blocked", "completed"}}), (Ids{"run-002", "run-003"}));
  EXPECT_EQ(Runs({.plan_ids = {"plan-cache-flush"}}), Ids{"run-002"});
  EXPECT_EQ(Runs({.query = "primary failover"}), Ids{"run-001"});  // plan title
  s::OrchestrationRunQuery q;
  q.scope.service = "svc-payments";
  EXPECT_EQ(Runs(q), Ids{"run-003"});
  q.scope = {};
  q.scope.team = "team-data";
  EXPECT_EQ(Runs(q), Ids{"run-002"});
  EXPECT_EQ(Runs({.limit = 1}), Ids{"run-001"});

  const auto run = Run("run-001");
  EXPECT_EQ(run.status, "running");
  ASSERT_TRUE(run.plan.has_value());
  EXPECT_EQ(run.plan->id, "plan-db-failover");
  EXPECT_EQ(Step(run, "check-replica-health").status, "succeeded");
  EXPECT_EQ(Step(run, "approve-failover").status, "ready");
  EXPECT_EQ(Step(run, "promote-replica").status, "pending");
  EXPECT_EQ(run.url, "https://orchestration.demo.opsorch.dev/runs/run-001");

  auto missing = p_->GetRun("run-999");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "run run-999 not found"}));
}

TEST_F(MockOrchestrationProviderTest, StartRunInitialisesStepsAndNeverOverwritesSeeds) {
  auto started = p_->StartRun("plan-rotate-credentials");
  ASSERT_TRUE(started && started->has_value()) << (started ? "" : started.error().message);
  const auto& run = **started;
  EXPECT_EQ(run.id, "run-004");
  EXPECT_EQ(run.status, "running");
  EXPECT_EQ(run.plan_id, "plan-rotate-credentials");
  ASSERT_TRUE(run.plan.has_value());
  EXPECT_EQ(run.scope.team, "team-identity");
  EXPECT_EQ(run.created_at, TestNow());
  EXPECT_EQ(Step(run, "revoke").status, "ready");  // manual, no deps
  EXPECT_EQ(Step(run, "issue-new").status, "pending");
  EXPECT_EQ(Step(run, "audit-access").status, "pending");

  auto scale = p_->StartRun("plan-scale-out");
  ASSERT_TRUE(scale);
  EXPECT_EQ((*scale)->id, "run-005");
  EXPECT_EQ(Step(**scale, "check-quota").status, "running");  // automated, no deps
  EXPECT_EQ(Step(**scale, "check-quota").started_at, TestNow());

  EXPECT_EQ(Run("run-001").plan_id, "plan-db-failover");  // seed untouched
  EXPECT_EQ(Runs({}).size(), 5u);

  auto missing = p_->StartRun("plan-nosuch");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "plan plan-nosuch not found"}));
}

TEST_F(MockOrchestrationProviderTest, AutomatedStepsCompleteLazilyAfterStepDuration) {
  ASSERT_TRUE(p_->StartRun("plan-scale-out"));
  Advance(9);
  EXPECT_EQ(Step(Run("run-004"), "check-quota").status, "running");

  Advance(1);  // 10 s: check-quota done, scale-deployment starts at exactly that instant
  auto run = Run("run-004");
  const auto& quota = Step(run, "check-quota");
  EXPECT_EQ(quota.status, "succeeded");
  EXPECT_EQ(quota.actor, "system-automation");
  EXPECT_EQ(quota.finished_at, TestNow().Add(10 * kSecond));
  EXPECT_EQ(Step(run, "scale-deployment").status, "running");
  EXPECT_EQ(Step(run, "scale-deployment").started_at, TestNow().Add(10 * kSecond));

  Advance(100);  // long after: the chain resolves in one read, with the times it happened at
  run = Run("run-004");
  EXPECT_EQ(Step(run, "scale-deployment").finished_at, TestNow().Add(20 * kSecond));
  EXPECT_EQ(Step(run, "verify-saturation").status, "ready");
  EXPECT_EQ(Step(run, "verify-saturation").updated_at, TestNow().Add(20 * kSecond));
  EXPECT_EQ(run.status, "running");
  EXPECT_EQ(run.updated_at, TestNow().Add(20 * kSecond));
  EXPECT_EQ(Runs({.statuses = {"running"}}), (Ids{"run-001", "run-004"}));
}

TEST_F(MockOrchestrationProviderTest, CompleteStepConflictsAndCompletion) {
  ASSERT_TRUE(p_->StartRun("plan-scale-out"));
  // Pending and automated-running steps are not for humans to complete.
  auto pending = p_->CompleteStep("run-004", "verify-saturation", "frank", "");
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error(),
            (Error{"conflict", "step verify-saturation is pending, not completable"}));
  auto running = p_->CompleteStep("run-004", "check-quota", "frank", "");
  ASSERT_FALSE(running);
  EXPECT_EQ(WireCode(running.error()), "conflict");

  Advance(20);
  ASSERT_TRUE(
      p_->CompleteStep("run-004", "verify-saturation", "frank@demo.opsorch.dev", "CPU at 41%"));
  const auto run = Run("run-004");
  EXPECT_EQ(run.status, "completed");
  const auto& st = Step(run, "verify-saturation");
  EXPECT_EQ(st.status, "succeeded");
  EXPECT_EQ(st.actor, "frank@demo.opsorch.dev");
  EXPECT_EQ(st.note, "CPU at 41%");
  EXPECT_EQ(st.finished_at, TestNow().Add(20 * kSecond));
  EXPECT_EQ(Runs({.statuses = {"completed"}}), (Ids{"run-002", "run-004"}));

  auto again = p_->CompleteStep("run-004", "verify-saturation", "", "");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(),
            (Error{"conflict", "step verify-saturation is succeeded, not completable"}));
}

TEST_F(MockOrchestrationProviderTest, SeededRunProgressesToCompletion) {
  ASSERT_TRUE(p_->CompleteStep("run-001", "approve-failover", "", "go"));
  auto run = Run("run-001");
  EXPECT_EQ(Step(run, "approve-failover").actor, "unknown");  // default actor
  EXPECT_EQ(Step(run, "promote-replica").status, "running");
  EXPECT_EQ(Step(run, "promote-replica").started_at, TestNow());
  Advance(30);
  run = Run("run-001");
  EXPECT_EQ(Step(run, "repoint-pools").status, "succeeded");
  EXPECT_EQ(Step(run, "verify-writes").status, "ready");
  ASSERT_TRUE(p_->CompleteStep("run-001", "verify-writes", "paula.rossi@demo.opsorch.dev", ""));
  EXPECT_EQ(Run("run-001").status, "completed");
}

TEST_F(MockOrchestrationProviderTest, BlockedStepCanBeCompletedAndUnblocksTheRun) {
  EXPECT_EQ(Run("run-003").status, "blocked");
  auto pending = p_->CompleteStep("run-003", "announce", "carol", "");
  ASSERT_FALSE(pending);
  EXPECT_EQ(WireCode(pending.error()), "conflict");
  ASSERT_TRUE(p_->CompleteStep("run-003", "verify-health", "carol", "recovered"));
  auto run = Run("run-003");
  EXPECT_EQ(run.status, "running");
  EXPECT_EQ(Step(run, "announce").status, "ready");
  ASSERT_TRUE(p_->CompleteStep("run-003", "announce", "carol", ""));
  EXPECT_EQ(Run("run-003").status, "completed");
}

TEST_F(MockOrchestrationProviderTest, CompleteStepNotFound) {
  auto run = p_->CompleteStep("run-999", "x", "", "");
  ASSERT_FALSE(run);
  EXPECT_EQ(run.error(), (Error{"not_found", "run run-999 not found"}));
  auto step = p_->CompleteStep("run-001", "nosuch", "", "");
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error(), (Error{"not_found", "step nosuch not found in run run-001"}));
}

TEST(MockOrchestrationStepDurationTest, ConfiguredDurationIsUsed) {
  auto zero = Make<MockOrchestrationProvider>(
      JsonObject{{"now", testing::kNowText}, {"stepDuration", "0s"}});
  auto started = zero->StartRun("plan-scale-out");
  ASSERT_TRUE(started);
  EXPECT_EQ(Step(**started, "scale-deployment").status, "succeeded");
  EXPECT_EQ(Step(**started, "verify-saturation").status, "ready");

  auto slow = Make<MockOrchestrationProvider>(
      JsonObject{{"now", testing::kNowText}, {"stepDuration", "1m"}});
  ASSERT_TRUE(slow->StartRun("plan-scale-out"));
  slow->ClockForTest().Advance(59 * kSecond);
  EXPECT_EQ(Step(**slow->GetRun("run-004"), "check-quota").status, "running");
  slow->ClockForTest().Advance(kSecond);
  EXPECT_EQ(Step(**slow->GetRun("run-004"), "check-quota").status, "succeeded");
}

}  // namespace
}  // namespace opsorch::providers::mock
