// The security suite end to end: `opsorch serve` running hostile workflows — an infinite loop,
// a memory bomb, a pathological pattern, sandbox escapes, SSRF to the metadata address and to
// loopback — beside a good one. Every attack is stopped and logged, and the server stays
// healthy: /health answers, and the `workflow` metric provider serves the good workflow's
// metrics through the OpsOrch API.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "support/http_client.h"
#include "support/server_process.h"
#include "test_paths.h"

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using opsorch::testing::HttpClient;
using opsorch::testing::ServerProcess;

TEST(WorkflowServeSecurityTest, HostileWorkflowsAreStoppedAndTheServerStaysHealthy) {
  const fs::path dir = fs::temp_directory_path() / ("opsorch-wfsec-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  // A loopback service the workflows must not reach (no allow_private on its host entry).
  httplib::Server victim;
  int victim_hits = 0;
  victim.Get(".*", [&](const httplib::Request&, httplib::Response& w) {
    ++victim_hits;
    w.set_content("secret", "text/plain");
  });
  const int victim_port = victim.bind_to_any_port("127.0.0.1");
  std::thread victim_thread([&] { victim.listen_after_bind(); });

  std::ofstream(dir / "boot.json")
      << R"J({"deployments": [{"id": "sec", "config": {"file": "wf.json"},
    "persistence_dir": "state", "limits": {"cpu_time": "300ms", "memory_bytes": 16777216},
    "hosts": {"meta": {"url": "http://169.254.169.254"},
              "local": {"url": "http://127.0.0.1:)J"
      << victim_port << R"J("},
              "decimal": {"url": "http://2130706433:)J"
      << victim_port << R"J("}}}]})J";
  const auto timer = [](const std::string& id, const std::string& lua,
                        const std::string& more = "") {
    return R"J({"id": ")J" + id +
           R"J(", "trigger": {"timer": {"delay": "0s", "period": "200ms"}}, )J" + more +
           R"J("results": ")J" + lua + "\"}";
  };
  std::ofstream(dir / "wf.json")
      << R"J({"workflows": [
      {"name": "good", "steps": [)J"
      << timer("tick", "ctx.metric('good.tick', 1, {source = 'good'})") << R"J(]},
      {"name": "hostile", "steps": [)J"
      << timer("spin", "while true do end") << ","
      << timer("bomb", "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1048576) .. i end")
      << "," << timer("pattern", "string.find(string.rep('a', 3000), '.-.-.-.-x')") << ","
      << timer("escape",
               "local f = io and io.open or require or os.execute or load; f('/etc/passwd')")
      << ","
      << timer("metadata", "ctx.metric('never', 1)",
               R"J("url": "ctx.set_url('meta', '/latest/meta-data/')", )J")
      << ","
      << timer("loopback", "ctx.metric('never', 1)", R"J("url": "ctx.set_url('local', '/')", )J")
      << ","
      << timer("decimal", "ctx.metric('never', 1)", R"J("url": "ctx.set_url('decimal', '/')", )J")
      << "]}]}";

  std::string error;
  auto server = ServerProcess::Start({{"OPSORCH_WORKFLOW_BOOTSTRAP", (dir / "boot.json").string()},
                                      {"OPSORCH_METRIC_PROVIDER", "workflow"},
                                      {"OPSORCH_DATA_DIR", (dir / "data").string()},
                                      {"OPSORCH_SCRIPT_WORKER", OPSORCH_SCRIPT_WORKER}},
                                     {}, dir / "server.log", &error);
  ASSERT_TRUE(server) << error;
  // Several rounds of every attack.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(server->Running()) << server->Log();

  HttpClient client(server->port());
  EXPECT_EQ(client.Request("GET", "/health").status, 200);
  auto described = client.Request("GET", "/metrics/describe");
  EXPECT_EQ(described.status, 200) << described.body;
  EXPECT_THAT(described.body, HasSubstr("\"good.tick\""));
  EXPECT_THAT(described.body, ::testing::Not(HasSubstr("never")));
  auto queried = client.Request(
      "POST", "/metrics/query", {{"Content-Type", "application/json"}},
      R"J({"expression": {"metricName": "good.tick"}, "start": "2000-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z", "step": 0})J");
  EXPECT_EQ(queried.status, 200) << queried.body;
  EXPECT_THAT(queried.body, HasSubstr("\"source\":\"good\""));

  const std::string log = server->Log();
  EXPECT_THAT(log, HasSubstr("step spin failed (script_timeout)"));
  EXPECT_THAT(log, HasSubstr("step bomb failed (script_memory)"));
  EXPECT_THAT(log, HasSubstr("step pattern failed (script_timeout)"));
  EXPECT_THAT(log, HasSubstr("step escape failed (script_error)"));
  EXPECT_THAT(log, HasSubstr("step metadata failed (address_denied)"));
  EXPECT_THAT(log, HasSubstr("step loopback failed (address_denied)"));
  EXPECT_THAT(log, HasSubstr("step decimal failed (address_denied)"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("step tick failed")));
  EXPECT_EQ(victim_hits, 0);

  auto exit = server->Terminate(std::chrono::seconds(15));
  EXPECT_TRUE(exit.clean()) << server->Log();
  victim.stop();
  victim_thread.join();
  fs::remove_all(dir);
}

}  // namespace
