// examples/prometheus-down against a real Prometheus server (Debian `prometheus`) on loopback:
// one target up (Prometheus itself), one down (a closed port). The workflow must count one
// down target, through the real runtime and HTTP client.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>

#include <opsorch/workflow/runtime.h>

#include "support/server_process.h"
#include "test_paths.h"

extern char** environ;

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;

TEST(PrometheusExampleTest, CountsTheTargetThatIsDown) {
  const fs::path dir = fs::temp_directory_path() / ("opsorch-prom-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::uint16_t port = opsorch::testing::UnusedPort();
  const std::uint16_t dead = opsorch::testing::UnusedPort();  // nothing listens there
  ASSERT_NE(port, 0);
  std::ofstream(dir / "prometheus.yml")
      << "global: {scrape_interval: 500ms, scrape_timeout: 400ms}\n"
         "scrape_configs:\n"
         "  - job_name: prometheus\n"
         "    static_configs: [{targets: ['127.0.0.1:"
      << port
      << "']}]\n"
         "  - job_name: dead\n"
         "    static_configs: [{targets: ['127.0.0.1:"
      << dead << "']}]\n";
  const std::string config_arg = "--config.file=" + (dir / "prometheus.yml").string();
  const std::string storage_arg = "--storage.tsdb.path=" + (dir / "data").string();
  const std::string listen_arg = "--web.listen-address=127.0.0.1:" + std::to_string(port);
  const std::string log = (dir / "prometheus.log").string();
  std::vector<std::string> args = {"/usr/bin/prometheus", config_arg, storage_arg, listen_arg};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0)
      << "prometheus is installed by scripts/install-deps";
  posix_spawn_file_actions_destroy(&fa);
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } reap{pid};

  // Both targets scraped at least once: health is "up" and "down", not "unknown".
  httplib::Client client("127.0.0.1", port);
  const bool ready = opsorch::testing::WaitFor(
      [&] {
        auto r = client.Get("/api/v1/targets?state=active");
        return r && r->status == 200 && r->body.find("\"health\":\"up\"") != std::string::npos &&
               r->body.find("\"health\":\"down\"") != std::string::npos;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(ready) << opsorch::testing::ReadAll(log);

  const std::string examples = std::string(OPSORCH_SOURCE_DIR) + "/examples/prometheus-down";
  auto bootstrap = LoadBootstrap(examples + "/bootstrap.json",
                                 [&](const std::string& n) -> std::optional<std::string> {
                                   if (n == "PROMETHEUS_URL") {
                                     return "http://127.0.0.1:" + std::to_string(port);
                                   }
                                   if (n == "OPSORCH_DATA_DIR") return (dir / "state").string();
                                   return std::nullopt;
                                 });
  ASSERT_TRUE(bootstrap) << bootstrap.error().message;
  std::mutex mu;
  std::vector<Metric> metrics;
  RuntimeOptions o;
  o.scripts.worker_path = OPSORCH_SCRIPT_WORKER;
  o.start_triggers = false;
  o.observer.on_metric = [&](std::string_view, const Metric& m) {
    std::lock_guard lock(mu);
    metrics.push_back(m);
  };
  auto runtime = Runtime::Start(std::move(*bootstrap), std::move(o));
  ASSERT_TRUE(runtime) << runtime.error().message;
  auto r = (*runtime)->RunStep("prometheus-health", "count-down-targets", {});
  ASSERT_TRUE(r) << r.error().message;
  (*runtime)->Stop();

  std::map<std::string, double> got;
  for (const Metric& m : metrics) {
    std::string key = m.key;
    for (const auto& [k, v] : m.dimensions) key += "{" + k + "=" + v + "}";
    got[key] = m.value;
  }
  EXPECT_EQ(got["prometheus.reachable"], 1);
  EXPECT_EQ(got["prometheus.targets.total"], 2);
  EXPECT_EQ(got["prometheus.targets.down"], 1);
  EXPECT_EQ(got["prometheus.targets.down_by_job{job=dead}"], 1);
  EXPECT_EQ(got["prometheus.targets.down_by_job{job=prometheus}"], 0);
  EXPECT_EQ(got.size(), 5u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::workflow
