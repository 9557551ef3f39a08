// examples/prometheus-down run the way a newcomer runs it: from its own directory, with a
// relative bootstrap path, as `opsorch agent` and as `OPSORCH_WORKFLOW_BOOTSTRAP=... opsorch
// serve`. Its file resources resolve against the bootstrap's directory, the start says where
// metrics go, they show up on stdout, and the server answers them on /metrics/query without
// OPSORCH_METRIC_PROVIDER. Prometheus is not running (a closed port): the workflow reports it
// unreachable, which is a metric too.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/server_process.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const fs::path kExample = fs::path(OPSORCH_SOURCE_DIR) / "examples" / "prometheus-down";

// `opsorch <args>` in `cwd` with exactly `env` (plus PATH and HOME), stdout and stderr to files.
class Command {
 public:
  Command(const std::vector<std::string>& args, const fs::path& cwd,
          std::map<std::string, std::string> env, const fs::path& out, const fs::path& err) {
    for (const char* keep : {"PATH", "HOME"}) {
      if (const char* v = std::getenv(keep)) env.emplace(keep, v);
    }
    std::vector<std::string> strings;
    for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> all{"opsorch"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string cwd_s = cwd.string(), out_s = out.string(), err_s = err.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      const int o = ::open(out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int e = ::open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0 || ::chdir(cwd_s.c_str()) != 0) {
        _exit(126);
      }
      ::execve(OPSORCH_BINARY, argv.data(), envp.data());
      _exit(127);
    }
  }
  ~Command() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // SIGTERM, then the exit status (-1: had to be killed).
  int Stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 150; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

class ExampleRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("opsorch-example-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    env_ = {{"PROMETHEUS_URL", "http://127.0.0.1:" + std::to_string(UnusedPort())},
            {"OPSORCH_DATA_DIR", (dir_ / "data").string()},
            {"OPSORCH_SCRIPT_WORKER", OPSORCH_SCRIPT_WORKER}};
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ExampleRun, AgentFromTheExampleDirectoryPrintsItsMetrics) {
  Command agent({"agent", "--bootstrap", "bootstrap.json"}, kExample, env_, dir_ / "out",
                dir_ / "err");
  const bool seen = WaitFor(
      [&] {
        return ReadAll(dir_ / "out").find(R"("key":"prometheus.reachable","value":0)") !=
               std::string::npos;
      },
      milliseconds(20'000));
  EXPECT_TRUE(seen) << "stdout:\n"
                    << ReadAll(dir_ / "out") << "\nstderr:\n"
                    << ReadAll(dir_ / "err");
  const std::string err = ReadAll(dir_ / "err");
  EXPECT_NE(err.find("workflow deployment prometheus-health: metrics go to console (stdout)"),
            std::string::npos)
      << err;
  EXPECT_EQ(agent.Stop(), 0) << err;
  // Nothing was written beside the example's files.
  EXPECT_FALSE(fs::exists(kExample / "data"));
}

// `opsorch serve` in the example's directory with its relative bootstrap (and `extra` env): asks
// `method target` until it answers as `ok` says (or 20 s pass), then stops the server.
struct Served {
  bool answered = false;
  std::string body;
  std::string stderr_text;
  int exit_status = -1;
};
template <class Ok>
Served ServeExample(const fs::path& dir, std::map<std::string, std::string> env,
                    std::string_view method, std::string_view target, std::string_view body,
                    Ok ok) {
  const std::uint16_t port = UnusedPort();
  env["OPSORCH_WORKFLOW_BOOTSTRAP"] = "bootstrap.json";
  env["OPSORCH_ADDR"] = "127.0.0.1:" + std::to_string(port);
  Command serve({"serve"}, kExample, env, dir / "out", dir / "err");
  Served out;
  out.answered = WaitFor(
      [&] {
        HttpClient c(port);
        if (!c.Connected()) return false;
        auto r = c.Request(method, target, {}, body);
        out.body = r.body;
        return r.status == 200 && ok(out.body);
      },
      milliseconds(20'000));
  out.exit_status = serve.Stop();
  out.stderr_text = ReadAll(dir / "err");
  return out;
}

TEST_F(ExampleRun, ServeWithARelativeBootstrapAnswersTheMetricsApi) {
  const Served s = ServeExample(
      dir_, env_, "POST", "/metrics/query",
      R"({"expression":{"metricName":"prometheus.reachable"}})",
      [](const std::string& b) { return b.find("\"points\":[{") != std::string::npos; });
  EXPECT_TRUE(s.answered) << s.body << "\nstderr:\n" << s.stderr_text;
  EXPECT_NE(s.stderr_text.find("capability metric served by workflow"), std::string::npos);
  EXPECT_EQ(s.exit_status, 0);
}

// The runtime reports on itself on the server's /metrics (families a real Prometheus accepts:
// promtool checks the whole exposition), and its audit records go to the outputs.
TEST_F(ExampleRun, ServeExposesTheRuntimesOwnMetricsAndWritesAuditRecords) {
  // The step's call is counted before the step's run ends: wait for both (under ASan on a busy
  // machine the run's counters came a moment after the call's).
  const Served s = ServeExample(dir_, env_, "GET", "/metrics", "", [](const std::string& b) {
    return b.find(
               "opsorch_workflow_http_calls_total{deployment=\"prometheus-health\","
               "host=\"prometheus\",status_class=\"error\"}") != std::string::npos &&
           b.find("opsorch_workflow_step_runs_total{deployment=\"prometheus-health\"") !=
               std::string::npos &&
           b.find(
               "opsorch_workflow_output_appended_records_total{deployment=\"prometheus-"
               "health\",output=\"console\"}") != std::string::npos;
  });
  ASSERT_TRUE(s.answered) << s.body << "\nstderr:\n" << s.stderr_text;
  for (const char* family :
       {"opsorch_workflow_step_runs_total{deployment=\"prometheus-health\"",
        "opsorch_workflow_step_duration_seconds_bucket{deployment=\"prometheus-health\"",
        "opsorch_workflow_config_loads_total{deployment=\"prometheus-health\","
        "outcome=\"accepted\",reason=\"\"} 1",
        "opsorch_workflow_output_appended_records_total{deployment=\"prometheus-health\","
        "output=\"console\"}"}) {
    EXPECT_NE(s.body.find(family), std::string::npos) << family << "\n" << s.body;
  }
  std::ofstream(dir_ / "metrics.txt") << s.body;
  ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0)
      << "promtool is required (Debian package prometheus; scripts/install-deps installs it)";
  const std::string cmd = "promtool check metrics < " + (dir_ / "metrics.txt").string() + " > " +
                          (dir_ / "promtool.txt").string() + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << ReadAll(dir_ / "promtool.txt");
  const std::string out = ReadAll(dir_ / "out");
  EXPECT_NE(out.find(R"("type":"audit","timestamp":)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("kind":"host_first_call")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("kind":"config_accepted")"), std::string::npos) << out;
}

// The workflow provider is only the default: a metric provider the operator names wins.
TEST_F(ExampleRun, AnExplicitMetricProviderWinsOverTheWorkflowDefault) {
  auto env = env_;
  env["OPSORCH_METRIC_PROVIDER"] = "mock";
  const Served s = ServeExample(dir_, env, "GET", "/metrics/describe", "",
                                [](const std::string&) { return true; });
  EXPECT_TRUE(s.answered) << s.body << "\nstderr:\n" << s.stderr_text;
  // The mock's catalog, not the workflow's one metric.
  EXPECT_NE(s.body.find("cpu_usage_percent"), std::string::npos) << s.body;
  EXPECT_EQ(s.body.find("prometheus.reachable"), std::string::npos) << s.body;
  EXPECT_EQ(s.stderr_text.find("capability metric served by workflow"), std::string::npos);
  EXPECT_EQ(s.exit_status, 0);
}

TEST_F(ExampleRun, ABootstrapWithoutOutputsSaysItsMetricsAreDropped) {
  std::ofstream(dir_ / "wf.json")
      << R"j({"workflows":[{"name":"w","steps":[{"id":"s","results":"ctx.metric('m', 1)"}]}]})j";
  std::ofstream(dir_ / "boot.json")
      << R"({"deployments":[{"id":"quiet","config":{"file":"wf.json"}}]})";
  Command agent({"agent", "--bootstrap", "boot.json"}, dir_, env_, dir_ / "out", dir_ / "err");
  const bool said = WaitFor(
      [&] {
        return ReadAll(dir_ / "err").find("workflow deployment quiet: its metrics are dropped") !=
               std::string::npos;
      },
      milliseconds(10'000));
  EXPECT_TRUE(said) << ReadAll(dir_ / "err");
  EXPECT_EQ(agent.Stop(), 0);
}

}  // namespace
}  // namespace opsorch::testing
