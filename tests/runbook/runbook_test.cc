// Runbook decoding and the decisions of a run, as tables on a fixed clock: DAG order and
// parallelism, manual steps, retries with back-off, timeouts, failure policies, stale events.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/runbook/runbook.h>

namespace opsorch::runbook {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(24 * 365 * 56);

Runbook Decode(const std::string& text) {
  auto rb = ParseRunbook(text);
  EXPECT_TRUE(rb) << (rb ? "" : rb.error().message);
  return rb ? *rb : Runbook{};
}

std::size_t Index(const Runbook& rb, std::string_view id) {
  for (std::size_t i = 0; i < rb.steps.size(); ++i) {
    if (rb.steps[i].id == id) return i;
  }
  ADD_FAILURE() << "no step " << id;
  return 0;
}

// "id:status" for every step, in document order.
std::string States(const Runbook& rb, const RunState& st) {
  std::string out;
  for (std::size_t i = 0; i < rb.steps.size(); ++i) {
    if (!out.empty()) out += " ";
    out += rb.steps[i].id + ":" + std::string(StepStatusName(st.steps[i].status));
  }
  return out;
}

std::vector<std::string> Ids(const Runbook& rb, const std::vector<std::size_t>& steps) {
  std::vector<std::string> out;
  for (std::size_t i : steps) out.push_back(rb.steps[i].id);
  return out;
}

// The "disk full" runbook: observe, then approval and a note in parallel, then clean up and
// verify.
const char* kDiskFull = R"({"id": "disk-full", "title": "Disk full", "version": "2", "steps": [
  {"id": "observe", "title": "How full", "type": "observe", "timeout": "30s"},
  {"id": "approve", "title": "Approve the clean-up", "type": "manual", "dependsOn": ["observe"]},
  {"id": "note", "title": "Record", "type": "record", "dependsOn": ["observe"]},
  {"id": "clean", "title": "Clean up", "type": "invoke", "dependsOn": ["approve"],
   "onFailure": "retry", "retries": 2, "retryDelay": "1s", "timeout": "10s"},
  {"id": "verify", "title": "Verify", "type": "verify", "dependsOn": ["clean", "note"]}]})";

TEST(RunbookDecode, ReadsStepsAndATopologicalOrder) {
  const Runbook rb = Decode(kDiskFull);
  ASSERT_EQ(rb.steps.size(), 5u);
  EXPECT_EQ(rb.version, "2");
  EXPECT_EQ(rb.steps[3].on_failure, OnFailure::kRetry);
  EXPECT_EQ(rb.steps[3].retries, 2);
  EXPECT_EQ(rb.steps[3].timeout, seconds(10));
  EXPECT_EQ(Ids(rb, rb.order),
            (std::vector<std::string>{"observe", "approve", "note", "clean", "verify"}));
  // Order follows dependencies even when the document does not.
  const Runbook rev = Decode(R"({"id": "r", "title": "R", "steps": [
      {"id": "b", "title": "B", "type": "invoke", "dependsOn": ["a"]},
      {"id": "a", "title": "A", "type": "invoke"}]})");
  EXPECT_EQ(Ids(rev, rev.order), (std::vector<std::string>{"a", "b"}));
}

TEST(RunbookDecode, RefusalsNameThePathAndTheRule) {
  const std::string head = R"({"id": "r", "title": "R", "steps": [)";
  struct Case {
    std::string steps, error;
  };
  const std::vector<Case> cases = {
      {"", "steps: must be an array of 1 to 200 steps"},
      {R"({"id": "a", "title": "A", "type": "script"})", "steps[0].type: must be one of"},
      {R"({"id": "a", "title": "A", "type": "invoke", "run": 1})", "steps[0].run: unknown field"},
      {R"({"id": "a b", "title": "A", "type": "invoke"})", "steps[0].id: must be 1-64"},
      {R"({"id": "a", "title": "A", "type": "invoke"}, {"id": "a", "title": "B", "type": "invoke"})",
       "steps[1].id: \"a\" is the id of another step"},
      {R"({"id": "a", "title": "A", "type": "invoke", "dependsOn": ["x"]})",
       "steps[0].dependsOn[0]: no step \"x\""},
      {R"({"id": "a", "title": "A", "type": "invoke", "dependsOn": ["a"]})",
       "steps[0].dependsOn[0]: a step cannot depend on itself"},
      {R"({"id": "a", "title": "A", "type": "invoke", "dependsOn": ["c"]},
          {"id": "b", "title": "B", "type": "invoke", "dependsOn": ["a"]},
          {"id": "c", "title": "C", "type": "invoke", "dependsOn": ["b"]},
          {"id": "d", "title": "D", "type": "invoke"})",
       "steps: dependsOn forms a cycle: a → c → b → a"},
      {R"({"id": "a", "title": "A", "type": "invoke", "onFailure": "retry"})",
       "steps[0].retries: must be an integer from 1 to 10"},
      {R"({"id": "a", "title": "A", "type": "invoke", "retries": 2})",
       "steps[0].retries: is only for \"onFailure\": \"retry\""},
      {R"({"id": "a", "title": "A", "type": "invoke", "onFailure": "ignore"})",
       "steps[0].onFailure: must be stop, continue or retry"},
      {R"({"id": "a", "title": "A", "type": "manual", "timeout": "5m"})",
       "steps[0].timeout: manual steps wait for a person"},
      {R"({"id": "a", "title": "A", "type": "manual", "onFailure": "retry", "retries": 1})",
       "steps[0].onFailure: manual steps are completed by a person"},
      {R"({"id": "a", "title": "A", "type": "invoke", "onFailure": "retry", "retries": 1,
           "retryDelay": "1ms"})",
       "steps[0].retryDelay: must be from 100ms to 1h"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.steps);
    auto rb = ParseRunbook(head + c.steps + "]}");
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error().code, ErrorCode::kBadRequest);
    EXPECT_THAT(rb.error().message, HasSubstr(c.error));
  }
  auto no_title = ParseRunbook(R"({"id": "r", "steps": []})");
  ASSERT_FALSE(no_title);
  EXPECT_THAT(no_title.error().message, HasSubstr("title: is required"));
}

// The whole disk-full run: parallel branches, a person, a retry with back-off, then success.
TEST(RunbookRun, DagOrderParallelismAPersonAndARetry) {
  const Runbook rb = Decode(kDiskFull);
  RunState st = NewRun(rb);
  std::vector<std::size_t> started;
  Decision d = Advance(rb, st, kT0, &started);
  EXPECT_EQ(Ids(rb, started), std::vector<std::string>{"observe"});
  EXPECT_EQ(d.status, RunStatus::kRunning);
  EXPECT_EQ(d.wake_at, kT0 + seconds(30));  // observe's timeout

  ASSERT_TRUE(Succeeded(rb, st, Index(rb, "observe"), kT0 + seconds(1)));
  started.clear();
  d = Advance(rb, st, kT0 + seconds(1), &started);
  // The approval waits for a person while the note runs beside it.
  EXPECT_EQ(Ids(rb, started), std::vector<std::string>{"note"});
  EXPECT_EQ(States(rb, st),
            "observe:succeeded approve:blocked note:running clean:pending verify:pending");
  ASSERT_TRUE(Succeeded(rb, st, Index(rb, "note"), kT0 + seconds(2)));
  d = Advance(rb, st, kT0 + seconds(2));
  EXPECT_EQ(d.status, RunStatus::kBlocked);  // only a person can move it now
  EXPECT_FALSE(d.wake_at);

  ASSERT_TRUE(Completed(rb, st, Index(rb, "approve"), kT0 + seconds(60)));
  started.clear();
  d = Advance(rb, st, kT0 + seconds(60), &started);
  EXPECT_EQ(Ids(rb, started), std::vector<std::string>{"clean"});
  // Two failures: retried after 1 s, then after 2 s (back-off); the third attempt succeeds.
  ASSERT_TRUE(Failed(rb, st, Index(rb, "clean"), "HTTP 503", kT0 + seconds(61)));
  d = Advance(rb, st, kT0 + seconds(61));
  EXPECT_EQ(d.wake_at, kT0 + seconds(62));
  EXPECT_EQ(d.status, RunStatus::kRunning);
  EXPECT_EQ(st.steps[Index(rb, "clean")].error, "HTTP 503");
  started.clear();
  d = Advance(rb, st, kT0 + seconds(62), &started);
  EXPECT_EQ(Ids(rb, started), std::vector<std::string>{"clean"});
  ASSERT_TRUE(Failed(rb, st, Index(rb, "clean"), "HTTP 503", kT0 + seconds(63)));
  d = Advance(rb, st, kT0 + seconds(64));
  EXPECT_EQ(d.wake_at, kT0 + seconds(65));
  started.clear();
  Advance(rb, st, kT0 + seconds(65), &started);
  EXPECT_EQ(st.steps[Index(rb, "clean")].attempts, 3);
  ASSERT_TRUE(Succeeded(rb, st, Index(rb, "clean"), kT0 + seconds(66)));
  started.clear();
  Advance(rb, st, kT0 + seconds(66), &started);
  EXPECT_EQ(Ids(rb, started), std::vector<std::string>{"verify"});
  ASSERT_TRUE(Succeeded(rb, st, Index(rb, "verify"), kT0 + seconds(67)));
  d = Advance(rb, st, kT0 + seconds(67));
  EXPECT_EQ(d.status, RunStatus::kCompleted);
  EXPECT_TRUE(d.actions.empty());
}

// Failure policies as a table: what the run and the other steps end as.
TEST(RunbookRun, FailurePolicies) {
  struct Case {
    std::string name, on_failure, final_states;
    RunStatus status;
  };
  const std::vector<Case> cases = {
      {"stop skips what has not started, and a waiting person", R"("stop")",
       "a:failed b:skipped m:skipped c:skipped", RunStatus::kFailed},
      {"continue lets dependents run", R"("continue")", "a:failed b:succeeded m:blocked c:pending",
       RunStatus::kBlocked},
      {"retry used up stops like stop", R"("retry", "retries": 1, "retryDelay": "100ms")",
       "a:failed b:skipped m:skipped c:skipped", RunStatus::kFailed},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Runbook rb = Decode(R"({"id": "p", "title": "P", "steps": [
        {"id": "a", "title": "A", "type": "invoke", "onFailure": )" +
                              c.on_failure + R"(},
        {"id": "b", "title": "B", "type": "invoke", "dependsOn": ["a"]},
        {"id": "m", "title": "M", "type": "manual"},
        {"id": "c", "title": "C", "type": "verify", "dependsOn": ["b", "m"]}]})");
    RunState st = NewRun(rb);
    TimePoint now = kT0;
    Advance(rb, st, now);
    ASSERT_EQ(States(rb, st), "a:running b:pending m:blocked c:pending");
    // Every attempt of a fails; b succeeds whenever it runs.
    Decision d;
    for (int i = 0; i < 5; ++i) {
      now += seconds(1);
      if (st.steps[0].status == StepStatus::kRunning) {
        ASSERT_TRUE(Failed(rb, st, 0, "boom", now));
      }
      if (st.steps[1].status == StepStatus::kRunning) {
        ASSERT_TRUE(Succeeded(rb, st, 1, now));
      }
      d = Advance(rb, st, now);
    }
    EXPECT_EQ(States(rb, st), c.final_states);
    EXPECT_EQ(d.status, c.status);
  }
}

TEST(RunbookRun, AnAttemptThatOverrunsItsTimeoutFailsAndIsRetried) {
  const Runbook rb = Decode(R"({"id": "t", "title": "T", "steps": [
      {"id": "slow", "title": "Slow", "type": "invoke", "timeout": "10s",
       "onFailure": "retry", "retries": 1, "retryDelay": "5s"}]})");
  RunState st = NewRun(rb);
  Advance(rb, st, kT0);
  Decision d = Decide(rb, st, kT0 + seconds(9));
  EXPECT_TRUE(d.actions.empty());
  EXPECT_EQ(d.wake_at, kT0 + seconds(10));
  d = Decide(rb, st, kT0 + seconds(10));
  ASSERT_EQ(d.actions.size(), 1u);
  EXPECT_EQ(d.actions[0].kind, Action::Kind::kTimeOut);
  Advance(rb, st, kT0 + seconds(10));
  EXPECT_EQ(st.steps[0].status, StepStatus::kPending);
  EXPECT_THAT(st.steps[0].error, HasSubstr("timed out after 10000 ms"));
  std::vector<std::size_t> started;
  Advance(rb, st, kT0 + seconds(15), &started);
  EXPECT_EQ(started.size(), 1u);
  // The second attempt also overruns: no retries left, the run fails.
  d = Advance(rb, st, kT0 + seconds(25));
  EXPECT_EQ(st.steps[0].status, StepStatus::kFailed);
  EXPECT_EQ(d.status, RunStatus::kFailed);
}

// Events that do not fit change nothing: a duplicate completion, a late result of a step that
// timed out, a result for a step that never started.
TEST(RunbookRun, StaleAndDuplicateEventsAreConflicts) {
  const Runbook rb = Decode(kDiskFull);
  RunState st = NewRun(rb);
  Advance(rb, st, kT0);
  const std::size_t approve = Index(rb, "approve");
  EXPECT_EQ(Completed(rb, st, approve, kT0).error().code, ErrorCode::kConflict);
  EXPECT_EQ(Succeeded(rb, st, Index(rb, "verify"), kT0).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(Succeeded(rb, st, Index(rb, "observe"), kT0));
  EXPECT_EQ(Succeeded(rb, st, Index(rb, "observe"), kT0).error().code, ErrorCode::kConflict);
  Advance(rb, st, kT0);
  ASSERT_TRUE(Completed(rb, st, approve, kT0 + seconds(1)));
  const RunState before = st;
  EXPECT_EQ(Completed(rb, st, approve, kT0 + seconds(2)).error().code, ErrorCode::kConflict);
  EXPECT_EQ(States(rb, st), States(rb, before));
  EXPECT_EQ(st.steps[approve].finished_at, kT0 + seconds(1));
}

TEST(RunbookRun, DecisionsAreDeterministicAndCancelledRunsDoNothing) {
  const Runbook rb = Decode(kDiskFull);
  RunState st = NewRun(rb);
  const Decision a = Decide(rb, st, kT0);
  const Decision b = Decide(rb, st, kT0);
  ASSERT_EQ(a.actions.size(), b.actions.size());
  EXPECT_EQ(a.actions[0].step, b.actions[0].step);
  st.cancelled = true;
  const Decision c = Decide(rb, st, kT0);
  EXPECT_TRUE(c.actions.empty());
  EXPECT_EQ(c.status, RunStatus::kCancelled);
}

// A wide runbook: every independent step starts in the same decision.
TEST(RunbookRun, IndependentStepsStartTogether) {
  std::string steps;
  for (int i = 0; i < 50; ++i) {
    steps += std::string(i ? "," : "") + R"({"id": "s)" + std::to_string(i) +
             R"(", "title": "S", "type": "invoke"})";
  }
  steps += R"(, {"id": "join", "title": "J", "type": "verify", "dependsOn": [)";
  for (int i = 0; i < 32; ++i)
    steps += std::string(i ? "," : "") + "\"s" + std::to_string(i) + "\"";
  steps += "]}";
  const Runbook rb = Decode(R"({"id": "w", "title": "W", "steps": [)" + steps + "]}");
  RunState st = NewRun(rb);
  std::vector<std::size_t> started;
  Advance(rb, st, kT0, &started);
  EXPECT_EQ(started.size(), 50u);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Succeeded(rb, st, static_cast<std::size_t>(i), kT0));
  started.clear();
  Advance(rb, st, kT0, &started);
  EXPECT_EQ(Ids(rb, started), std::vector<std::string>{"join"});
}

}  // namespace
}  // namespace opsorch::runbook
