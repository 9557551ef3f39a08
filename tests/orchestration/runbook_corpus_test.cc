// Replays fuzz_runbook's seed corpus (tests/fuzz/corpus_runbook/) through the fuzzer's own body
// (tests/fuzz/runbook_check.h) in every build, and pins what the seeds must give: the documented
// and demo runbooks stay valid down to their step calls, and the invalid ones are refused naming
// the path and the rule.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/runbook/runbook.h>

#include "fuzz/corpus_files.h"
#include "fuzz/runbook_check.h"
#include "orchestration/step_call.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kCorpus = fs::path(OPSORCH_FUZZ_CORPUS_DIR) / "corpus_runbook";

TEST(RunbookCorpus, FilesKeepTheInvariants) {
  const std::vector<CorpusFile> files = ReadCorpusDir(kCorpus);
  ASSERT_GE(files.size(), 10u) << kCorpus;  // a wrong path must not test nothing
  for (const CorpusFile& file : files) {
    for (const std::string& violation : CheckRunbook(file.bytes)) {
      ADD_FAILURE() << file.name << ": " << violation;
    }
  }
}

// The valid seeds reach the run (else the fuzzer starts from documents that never get past
// validation), and every step call in them decodes.
TEST(RunbookCorpus, ValidSeedsDecodeDownToTheirStepCalls) {
  for (const char* file :
       {"docs_disk_full.json", "demo_disk_full.json", "demo_restart_checkout.json",
        "dag_diamond.json", "every_type.json", "retry_backoff_timeouts.json", "wide_join.json",
        "scripted_disk_full.bin"}) {
    SCOPED_TRACE(file);
    const std::string bytes = ReadFileBytes(kCorpus / file);
    auto rb = runbook::ParseRunbook(std::string_view(bytes).substr(0, bytes.find('\0')));
    ASSERT_TRUE(rb) << rb.error().message;
    for (std::size_t i = 0; i < rb->steps.size(); ++i) {
      auto call = orchestration::DecodeStepCall(rb->steps[i], "with");
      EXPECT_TRUE(call) << rb->steps[i].id << ": " << call.error().message;
    }
  }
  auto dag = runbook::ParseRunbook(ReadFileBytes(kCorpus / "dag_diamond.json"));
  ASSERT_TRUE(dag);
  std::vector<std::string> order;
  for (std::size_t i : dag->order) order.push_back(dag->steps[i].id);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(RunbookCorpus, InvalidSeedsAreRefusedNamingThePath) {
  struct Case {
    const char* file;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"bad_cycle.json", "steps: dependsOn forms a cycle: a → c → b → a"},
           {"bad_unknown_dependency.json", "steps[1].dependsOn[1]: no step \"nope\""},
           {"bad_rules.json", "steps[0].retries: is only for \"onFailure\": \"retry\""},
           {"bad_no_steps.json", "steps: must be an array of 1 to 200 steps"},
           {"bad_not_an_object.json", "a runbook must be a JSON object"},
       }) {
    SCOPED_TRACE(c.file);
    auto rb = runbook::ParseRunbook(ReadFileBytes(kCorpus / c.file));
    ASSERT_FALSE(rb);
    EXPECT_EQ(rb.error().code, ErrorCode::kBadRequest);
    EXPECT_THAT(rb.error().message, HasSubstr(c.error));
  }
}

// A valid runbook whose every step call the orchestration layer refuses, each for its own rule.
TEST(RunbookCorpus, StepCallRefusalsNameThePathAndTheRule) {
  auto rb = runbook::ParseRunbook(ReadFileBytes(kCorpus / "bad_step_calls.json"));
  ASSERT_TRUE(rb) << rb.error().message;
  const std::vector<std::string> errors = {
      "steps[0].with.deployment: is required",
      "steps[1].with.metric.below: a verify step needs a condition: above or below",
      "steps[2].with.expect.path: needs a condition: equals, above, below or exists",
      "steps[3].with.deployment: unknown field",
      "steps[4].with.metric: checks a metric or calls a workflow step, not both",
      "steps[5].with.input: must be an object",
      "steps[6].with.metric.dimensions.h: must be a string",
      "steps[7].with.expect.exists: must be true or false",
      "steps[8].with.text: must not be empty",
      "steps[9].with.metric.above: must be a number",
  };
  ASSERT_EQ(rb->steps.size(), errors.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    auto call =
        orchestration::DecodeStepCall(rb->steps[i], "steps[" + std::to_string(i) + "].with");
    ASSERT_FALSE(call) << i;
    EXPECT_EQ(call.error().code, ErrorCode::kBadRequest) << i;
    EXPECT_EQ(call.error().message, errors[i]);
  }
}

// fuzz_runbook's first finding (regress_recheck_after_timeout.bin, against 37505a2): a re-check
// of an observe or verify step that fell due at or after the end of its timeout was started,
// and Advance returned with the timeout still to apply — the run said "failed" while the step
// ran (and nothing was due), and when that attempt then succeeded the run became "completed".
// The check now fails without being started.
TEST(RunbookCorpus, ARecheckDueAfterTheTimeoutFailsWithoutStarting) {
  using std::chrono::minutes;
  auto rb = runbook::ParseRunbook(R"({"id": "r", "title": "R", "steps": [
      {"id": "health", "title": "H", "type": "observe", "interval": "1m", "timeout": "5m"}]})");
  ASSERT_TRUE(rb) << rb.error().message;
  const runbook::TimePoint t0 = runbook::TimePoint{} + std::chrono::seconds(1'780'000'000);
  runbook::RunState st = runbook::NewRun(*rb);
  runbook::Advance(*rb, st, t0);
  ASSERT_TRUE(runbook::NotYet(*rb, st, 0, "not yet", t0 + minutes(4)));
  std::vector<std::size_t> started;
  const runbook::Decision d = runbook::Advance(*rb, st, t0 + minutes(5), &started);
  EXPECT_TRUE(started.empty());
  EXPECT_TRUE(d.actions.empty());
  EXPECT_EQ(st.steps[0].status, runbook::StepStatus::kFailed);
  EXPECT_EQ(d.status, runbook::RunStatus::kFailed);
  EXPECT_THAT(st.steps[0].error, HasSubstr("not met within 300000 ms"));
  EXPECT_TRUE(runbook::Decide(*rb, st, t0 + minutes(5)).actions.empty());
}

}  // namespace
}  // namespace opsorch::testing
