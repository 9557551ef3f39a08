// Runbooks (the `local` orchestration provider's plans) and the decisions of a run, as pure
// functions of the runbook, the run's state and the time: which steps start, which wait for a
// person, which are retried when, which time out, and what the run's status is. No I/O and no
// clock: the layer that stores runs and calls workflow steps applies the decisions (the
// orchestration issue's groundwork; nothing serves runbooks yet).
//
// Step types are the seed's: `manual` waits for POST
// /orchestration/runs/{id}/steps/{step}/complete; `invoke`, `observe`, `verify` and `record` are
// automated (a workflow step, a metric check, a timeline entry: the layer decides how). `dependsOn`
// forms a DAG; a step starts when every step it depends on is done, so independent steps run in
// parallel.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

namespace opsorch::runbook {

enum class StepType : std::uint8_t { kManual, kInvoke, kObserve, kVerify, kRecord };
std::string_view StepTypeName(StepType t);

// What a failed step does to the run. kRetry fails like kStop once its retries are used up.
enum class OnFailure : std::uint8_t { kStop, kContinue, kRetry };

struct Step {
  std::string id;  // [A-Za-z0-9._-]{1,64}, unique in the runbook
  std::string title;
  std::string description;
  StepType type = StepType::kManual;
  std::vector<std::string> depends_on;        // ids of earlier-or-later steps; no cycles
  std::vector<std::size_t> depends_on_index;  // the same as indices (DecodeRunbook fills it)
  OnFailure on_failure = OnFailure::kStop;
  int retries = 0;  // kRetry: further attempts after the first failure, 1-10
  std::chrono::milliseconds retry_delay{1000};  // before the first retry; doubles each time
  // An automated attempt still running after this long has failed (timed out); for observe and
  // verify, the condition not met this long after the first check. Manual steps wait for as long
  // as it takes (0). Defaults: invoke 10m, observe and verify 5m, record 1m — a node that died
  // mid-attempt leaves it running, and the timeout is what hands it back to the failure policy.
  std::chrono::milliseconds timeout{0};
  // observe and verify: how long to wait between checks while the condition is not met.
  std::chrono::milliseconds interval{5000};
  JsonObject with;  // type-specific parameters, passed to the layer as they are
};

struct Runbook {
  std::string id;
  std::string title;
  std::string description;
  std::string version;      // free text ("3"), shown in OrchestrationPlan.version
  std::vector<Step> steps;  // in document order; `order` below is a topological order
  std::vector<std::size_t> order;
};

inline constexpr std::size_t kMaxSteps = 200;
inline constexpr std::size_t kMaxDependencies = 32;  // per step

// Decodes and validates a runbook document (docs: the orchestration issue). Errors are
// bad_request naming the JSON path and the rule: "steps[3].dependsOn[0]: no step \"x\"",
// "steps: dependsOn forms a cycle: a → b → a". Unknown fields are refused.
Result<Runbook> DecodeRunbook(const JsonValue& doc);
Result<Runbook> ParseRunbook(std::string_view text);  // JSON text, then DecodeRunbook

// ---- a run ----

enum class StepStatus : std::uint8_t {
  kPending,  // dependencies not done, or waiting for its next attempt
  kRunning,  // an automated attempt is going
  kBlocked,  // a manual step waiting for a person
  kSucceeded,
  kFailed,   // for good (retries used up)
  kSkipped,  // never ran: an earlier failure stopped the run
};
std::string_view StepStatusName(StepStatus s);  // the contract's vocabulary

enum class RunStatus : std::uint8_t { kRunning, kBlocked, kCompleted, kFailed, kCancelled };
std::string_view RunStatusName(RunStatus s);

using TimePoint = std::chrono::system_clock::time_point;

struct StepState {
  StepStatus status = StepStatus::kPending;
  int attempts = 0;                     // attempts started
  std::optional<TimePoint> started_at;  // of the current or last attempt
  std::optional<TimePoint> finished_at;
  std::optional<TimePoint> next_attempt;  // a retry waits until then
  // observe and verify: when the first check of this attempt's series began (the timeout counts
  // from here, across the re-checks of NotYet).
  std::optional<TimePoint> checking_since;
  std::string error;  // of the last failed attempt
};

// Indexed like Runbook::steps.
struct RunState {
  std::vector<StepState> steps;
  bool cancelled = false;
};
RunState NewRun(const Runbook& rb);

// What the layer does now. kStart: begin an automated attempt (mark it running at `now`);
// kAwaitPerson: a manual step became ready (mark it blocked); kTimeOut: an attempt overran its
// timeout (apply it as a failure); kSkip: a step that can no longer run.
struct Action {
  enum class Kind : std::uint8_t { kStart, kAwaitPerson, kTimeOut, kSkip };
  Kind kind;
  std::size_t step;
};

struct Decision {
  std::vector<Action> actions;             // in the runbook's topological order
  RunStatus status = RunStatus::kRunning;  // once the actions are applied
  std::optional<TimePoint> wake_at;        // the next time something is due (a retry, a timeout)
};

// The pure decision. Deterministic: the same runbook, state and time give the same decision.
Decision Decide(const Runbook& rb, const RunState& state, TimePoint now);

// The effects, applied to a state (the layer does the same to its stored copy). Each returns an
// error (conflict) for an event that does not fit the step's state — a completion of a step that
// is not waiting, a result of an attempt that is not running — so that duplicates and races
// change nothing.
Status Apply(const Runbook& rb, RunState& state, const Action& action, TimePoint now);
Status Succeeded(const Runbook& rb, RunState& state, std::size_t step, TimePoint now);
// A failure: retried (kPending with next_attempt) while kRetry has attempts left, else kFailed.
Status Failed(const Runbook& rb, RunState& state, std::size_t step, std::string error,
              TimePoint now);
// An observe or verify check found its condition not met yet: checked again after the step's
// interval (not counted as an attempt), or failed (as Failed) once the timeout since the first
// check has passed.
Status NotYet(const Runbook& rb, RunState& state, std::size_t step, std::string reason,
              TimePoint now);
// A person completed a manual step (only a kBlocked one).
Status Completed(const Runbook& rb, RunState& state, std::size_t step, TimePoint now);

// Decide and apply until nothing changes (kStart and kAwaitPerson and kSkip and kTimeOut are all
// applied here; the layer starts the attempts it finds newly running). Returns the final
// decision; `started` gets the steps whose attempts began.
Decision Advance(const Runbook& rb, RunState& state, TimePoint now,
                 std::vector<std::size_t>* started = nullptr);

}  // namespace opsorch::runbook
