// `opsorch workflow test`: the examples' tests pass through the real runtime, a test that should
// fail does, and the command prints one line per test plus the summary and sets its exit code.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <opsorch/workflow/test_runner.h>

#include "test_paths.h"

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const std::string kExamples = std::string(OPSORCH_SOURCE_DIR) + "/examples";

// The runner finds the script worker next to the running binary; the test binary is elsewhere.
class TestRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setenv("OPSORCH_SCRIPT_WORKER", OPSORCH_SCRIPT_WORKER, 1); }
};

TEST_F(TestRunnerTest, ExampleTestsPass) {
  std::ostringstream out;
  const auto s = RunWorkflowTests(
      {kExamples + "/budget/budget.test.json", kExamples + "/budget/missing-project.test.json",
       kExamples + "/budget/listing-fails.test.json",
       kExamples + "/prometheus-down/targets.test.json"},
      out);
  EXPECT_EQ(s.passed, 4) << out.str();
  EXPECT_EQ(s.failed, 0) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("PASS budget report: one metric per project"));
  EXPECT_THAT(out.str(), HasSubstr("4 passed, 0 failed\n"));
}

// Each broken expectation must turn the test red, with a reason that says what differed.
struct Mutation {
  const char* name;
  const char* from;
  const char* to;
  const char* reason;
};

class TestRunnerMutationTest : public ::testing::TestWithParam<Mutation> {
 protected:
  static void SetUpTestSuite() { setenv("OPSORCH_SCRIPT_WORKER", OPSORCH_SCRIPT_WORKER, 1); }
};

TEST_P(TestRunnerMutationTest, FailsWithAReason) {
  const fs::path dir = fs::temp_directory_path() /
                       ("opsorch-wft-" + std::to_string(::getpid()) + "-" + GetParam().name);
  fs::remove_all(dir);
  fs::copy(kExamples + "/budget", dir, fs::copy_options::recursive);
  std::ifstream in(dir / "budget.test.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = text.find(GetParam().from);
  ASSERT_NE(at, std::string::npos) << GetParam().from;
  text.replace(at, std::string(GetParam().from).size(), GetParam().to);
  std::ofstream((dir / "budget.test.json"), std::ios::trunc) << text;
  std::ostringstream out;
  const auto s = RunWorkflowTests({(dir / "budget.test.json").string()}, out);
  EXPECT_EQ(s.failed, 1) << out.str();
  EXPECT_THAT(out.str(), HasSubstr(GetParam().reason));
  EXPECT_THAT(out.str(), HasSubstr("0 passed, 1 failed"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TestRunnerMutationTest,
    ::testing::Values(
        Mutation{"metric_value", R"J("spent": 720)J", R"J("spent": 100)J",
                 "expected metric not seen: project.within_budget=0"},
        Mutation{"dimension", R"J("currency": "EUR" }, "timestamp")J",
                 R"J("currency": "USD" }, "timestamp")J", "expected metric not seen"},
        Mutation{
            "missing_call", R"J({ "host": "pm", "path": "/projects/2" })J",
            R"J({ "host": "pm", "path": "/projects/2" }, { "host": "pm", "path": "/projects/3" })J",
            "expected call not seen: GET pm /projects/3"},
        Mutation{"header", R"J("Bearer pm-secret-token-4711" })J", R"J("Bearer other" })J",
                 "expected call not seen: GET pm /projects"},
        Mutation{"log", R"J("checked 2 projects")J", R"J("checked 3 projects")J",
                 "no log line contains \"checked 3 projects\""},
        Mutation{"banned_log", R"J("logs_must_not_contain": [ "pm-secret-token-4711" ])J",
                 R"J("logs_must_not_contain": [ "over budget" ])J",
                 "a log line contains \"over budget\""},
        Mutation{"no_mock", R"J({ "host": "pm", "path": "/projects/1",)J",
                 R"J({ "host": "pm", "path": "/projects/100",)J",
                 "call without a mock: GET pm /projects/1"},
        Mutation{"bad_file", R"J("run": { "step": "list-projects" })J",
                 R"J("run": { "stepp": 1 })J", "run.stepp: unknown field"}),
    [](const auto& info) { return std::string(info.param.name); });

// The command: one line per test, the summary, and the exit status.
std::pair<int, std::string> RunCommand(const std::string& args) {
  const std::string cmd = std::string("OPSORCH_SCRIPT_WORKER=") + OPSORCH_SCRIPT_WORKER + " " +
                          OPSORCH_BINARY + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(WorkflowCommandTest, PassingAndFailingRuns) {
  auto [ok_status, ok_out] = RunCommand("workflow test " + kExamples + "/budget/budget.test.json " +
                                        kExamples + "/prometheus-down/targets.test.json");
  EXPECT_EQ(ok_status, 0) << ok_out;
  EXPECT_THAT(ok_out, HasSubstr("2 passed, 0 failed"));
  auto [bad_status, bad_out] =
      RunCommand("workflow test /nonexistent.test.json " + kExamples + "/budget/budget.test.json");
  EXPECT_EQ(bad_status, 1) << bad_out;
  EXPECT_THAT(bad_out, HasSubstr("FAIL /nonexistent.test.json"));
  EXPECT_THAT(bad_out, HasSubstr("1 passed, 1 failed"));
}

TEST(WorkflowCommandTest, AgentRefusesAMalformedBootstrapNamingFilePathAndRule) {
  const fs::path dir = fs::temp_directory_path() / ("opsorch-agent-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "boot.json")
      << R"J({"deployments": [{"id": "a", "config": {"file": "w.json"}, "hosts": {"h": {"url": "http://x", "allow": [{"method": "GET", "path": "nope"}]}}}]})J";
  auto [status, out] = RunCommand("agent --bootstrap " + (dir / "boot.json").string());
  EXPECT_EQ(status, 1) << out;
  EXPECT_THAT(out, HasSubstr((dir / "boot.json").string() +
                             ": deployments[0].hosts.h.allow[0].path: must start with /"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::workflow
