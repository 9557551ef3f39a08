// Mock orchestration provider: runbook plans and runs of the demo world. Automated steps
// complete by themselves `stepDuration` after they start; this is evaluated lazily whenever a
// run is read or written, so there are no background threads and tests control time with the
// clock alone.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/util.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockOrchestrationProvider final : public OrchestrationProvider {
 public:
  static constexpr std::int64_t kDefaultStepDuration = 10 * kNanosPerSecond;
  static constexpr std::string_view kAutomationActor = "system-automation";

  struct Options {
    std::optional<Time> now;
    std::int64_t step_duration = kDefaultStepDuration;  // nanoseconds
  };

  // Config keys: "now" (RFC 3339), "stepDuration" (Go duration string, default "10s").
  static Result<std::shared_ptr<MockOrchestrationProvider>> FromConfig(const JsonObject& config);
  explicit MockOrchestrationProvider(const Options& options)
      : MockOrchestrationProvider(options, BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::OrchestrationPlan>> QueryPlans(
      const s::OrchestrationPlanQuery& q) override;
  Result<std::optional<s::OrchestrationPlan>> GetPlan(const std::string& plan_id) override;
  Result<NullableList<s::OrchestrationRun>> QueryRuns(const s::OrchestrationRunQuery& q) override;
  Result<std::optional<s::OrchestrationRun>> GetRun(const std::string& run_id) override;
  Result<std::optional<s::OrchestrationRun>> StartRun(const std::string& plan_id) override;
  Status CompleteStep(const std::string& run_id, const std::string& step_id,
                      const std::string& actor, const std::string& note) override;

  Clock& ClockForTest() { return clock_; }

  // Brings `run` up to date at `now`: finishes automated steps whose time is up, promotes
  // steps whose dependencies all succeeded, repeats until stable, then derives the run status.
  // Deterministic in (run, now, step_duration), so reads can apply it to a copy.
  static void Advance(s::OrchestrationRun& run, Time now, std::int64_t step_duration);

 private:
  MockOrchestrationProvider(const Options& options, const MockWorld& world);

  Clock clock_;
  const std::int64_t step_duration_;
  const std::map<std::string, s::OrchestrationPlan> plans_;  // immutable, sorted by id

  // Runs are stored as last written; reads advance a copy (a pure function of the clock), so
  // they only need the shared lock. Writes advance in place under the exclusive lock.
  mutable std::shared_mutex mu_;
  std::map<std::string, s::OrchestrationRun> runs_;  // sorted by id, the query order
  std::int64_t next_number_ = 1;
};

}  // namespace opsorch::providers::mock
