// End-to-end behaviour a user notices: the binary as the README starts it, audit lines,
// persisted provider configuration across restarts, and a promtool-valid /metrics.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>
#include <utility>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opsorch/log/log.h>

#include "support/captured_logs.h"
#include "support/http_client.h"
#include "support/run_command.h"
#include "support/test_server.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("opsorch-it-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::uint16_t FreePort() {
  // Bind port 0 through a throwaway server to learn a free port.
  auto s = TestServer::Start({});
  return s ? (*s)->Port() : 0;
}

TEST(Binary, ServeDemoAnswersHealthAndStopsOnSigterm) {
  const fs::path dir = TempDir("binary");
  const std::uint16_t port = FreePort();
  ASSERT_NE(port, 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("OPSORCH_ADDR", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
    ::setenv("OPSORCH_DATA_DIR", (dir / "data").c_str(), 1);
    const std::string log = (dir / "server.log").string();
    std::freopen(log.c_str(), "w", stderr);
    ::execl(OPSORCH_BINARY, OPSORCH_BINARY, "serve", "--demo", static_cast<char*>(nullptr));
    _exit(127);
  }
  HttpResponse health;
  for (int i = 0; i < 100 && health.status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    HttpClient c(port);
    if (c.Connected()) health = c.Request("GET", "/health");
  }
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "{\"status\":\"ok\"}\n");
  // The demo world is there: the engine's seeded incidents and teams, the mock world's plans,
  // and the documented integration key takes an event.
  HttpClient c(port);
  auto incidents = c.Request("POST", "/incidents/query", {}, R"({"statuses":["open"]})");
  EXPECT_EQ(incidents.status, 200);
  EXPECT_NE(incidents.body.find("Replica lag above 30 s"), std::string::npos) << incidents.body;
  EXPECT_EQ(c.Request("GET", "/teams/team-payments/members").status, 200);
  EXPECT_EQ(c.Request("POST", "/orchestration/plans/query", {}, "{}").status, 200);
  auto event = c.Request("POST", "/v2/enqueue", {},
                         R"({"routing_key":"demo-routing-key-000000000000001",)"
                         R"("event_action":"trigger","dedup_key":"readme-example",)"
                         R"("payload":{"summary":"Disk full on db-1","source":"db-1",)"
                         R"("severity":"critical"}})");
  EXPECT_EQ(event.status, 202) << event.body;
  EXPECT_NE(event.body.find(R"("dedup_key":"readme-example")"), std::string::npos);
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::ifstream in(dir / "server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("opsorch core api listening on"), std::string::npos) << ss.str();
}

TEST(Binary, VersionAndFatalStartupExitCode) {
  EXPECT_EQ(std::system((std::string(OPSORCH_BINARY) + " --version > /dev/null").c_str()), 0);
  const int rc = std::system(
      ("OPSORCH_TLS_KEY_FILE=/x " + std::string(OPSORCH_BINARY) + " serve 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 1);
}

// What a newcomer reads first must be true: an unknown command is named, `serve --help` says
// what --demo serves and which variables configure the server.
TEST(Binary, HelpIsTrueAndUnknownCommandsAreNamed) {
  auto [rc, out] = RunCommand(std::string(OPSORCH_BINARY) + " bogus");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("unknown command \"bogus\""), std::string::npos) << out;
  std::tie(rc, out) = RunCommand(std::string(OPSORCH_BINARY) + " serve --help");
  EXPECT_EQ(rc, 0);
  for (const char* needle : {"incidents, alerts, services and teams from the built-in incident",
                             "127.0.0.1", "OPSORCH_BEARER_TOKEN", "OPSORCH_PLUGIN_DIRS",
                             "OPSORCH_<CAP>_PROVIDER", "docs/CONFIGURATION.md"}) {
    EXPECT_NE(out.find(needle), std::string::npos) << needle << " not in:\n" << out;
  }
  std::tie(rc, out) = RunCommand(std::string(OPSORCH_BINARY) + " serve --bogus");
  EXPECT_NE(rc, 0);
}

TEST(Audit, LineCarriesTheSameRequestIdAsTheHeader) {
  CapturedLogs logs;
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  auto r = c.Request("GET", "/incidents/inc-001",
                     {{"X-User-ID", " alice "}, {"X-Actor-Type", "COPILOT"}});
  ASSERT_EQ(r.status, 200);
  const std::string id = r.Header("X-Request-Id");
  ASSERT_EQ(id.rfind("generated-", 0), 0u) << id;
  // Unaudited routes write no audit line.
  ASSERT_EQ(c.Request("GET", "/health").status, 200);
  ASSERT_EQ(c.Request("GET", "/incidents/nope").status, 404);  // failures are not audited
  std::vector<std::string> audits;
  for (const auto& l : logs.Lines()) {
    if (l.find("audit_log ") != std::string::npos) audits.push_back(l);
  }
  ASSERT_EQ(audits.size(), 1u);
  const std::string& a = audits[0];
  EXPECT_NE(a.find("audit_log {\"request_id\":\"" + id +
                   "\",\"actor_type\":\"copilot\",\"actor_id\":\"alice\",\"timestamp\":\""),
            std::string::npos)
      << a;
  EXPECT_NE(a.find("\",\"action\":\"incident.get\"}"), std::string::npos) << a;
}

TEST(Audit, ApiErrorsAreLogged) {
  CapturedLogs logs;
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  ASSERT_EQ(c.Request("GET", "/incidents/nope").status, 404);
  bool found = false;
  for (const auto& l : logs.Lines()) {
    found = found || l.find(
                         "API error (status=404): code=not_found, message=incident nope not "
                         "found") != std::string::npos;
  }
  EXPECT_TRUE(found);
}

TEST(Providers, PostedConfigIsPersistedAndAppliedAfterRestartButEnvWins) {
  const fs::path dir = TempDir("persist");
  std::ofstream(dir / "secrets.json") << "{}";
  std::map<std::string, std::string> env = {
      {"OPSORCH_SECRET_PROVIDER", "json"},
      {"OPSORCH_SECRET_CONFIG", "{\"path\":\"" + (dir / "secrets.json").string() + "\"}"}};
  {
    auto server = TestServer::Start(env);
    ASSERT_TRUE(server);
    HttpClient c((*server)->Port());
    ASSERT_EQ(c.Request("POST", "/tickets/query", {}, "{}").status, 501);
    auto r = c.Request("POST", "/providers/tickets", {}, R"({"provider":"mock","config":{}})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(c.Request("POST", "/tickets/query", {}, "{}").status, 200);
  }
  std::ifstream in(dir / "secrets.json");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("providers/ticket/default"), std::string::npos) << ss.str();
  {
    auto server = TestServer::Start(env);
    ASSERT_TRUE(server) << server.error().message;
    HttpClient c((*server)->Port());
    EXPECT_EQ(c.Request("POST", "/tickets/query", {}, "{}").status, 200);
  }
  // Env settings win over the stored config.
  env["OPSORCH_TICKET_PROVIDER"] = "nosuch";
  auto server = TestServer::Start(env);
  ASSERT_FALSE(server);
  EXPECT_NE(server.error().message.find("ticket provider nosuch not registered"),
            std::string::npos);
}

TEST(Metrics, ExpositionPassesPromtool) {
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  ASSERT_EQ(c.Request("POST", "/incidents/query", {}, "{}").status, 200);
  ASSERT_EQ(c.Request("GET", "/incidents/nope").status, 404);
  ASSERT_EQ(c.Request("POST", "/incidents", {}, R"({"title":"t","severity":"sev2"})").status, 201);
  auto r = c.Request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("opsorch_http_requests_total{route=\"/incidents/query\",method=\"POST\","
                        "code=\"200\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("opsorch_provider_call_duration_seconds_count{capability=\"incident\","
                        "operation=\"incident.query\"} 1"),
            std::string::npos);
  // The operation label is the route's audit action, as it has always been.
  EXPECT_NE(r.body.find("opsorch_provider_call_duration_seconds_count{capability=\"incident\","
                        "operation=\"incident.created\"} 1"),
            std::string::npos);
  // A rest parameter is labelled by its name.
  EXPECT_NE(r.body.find("route=\"/providers/{cap}\""), std::string::npos);
  const fs::path dir = TempDir("promtool");
  std::ofstream(dir / "metrics.txt") << r.body;
  ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0)
      << "promtool is required (Debian package prometheus; scripts/install-deps installs it)";
  const std::string cmd = "promtool check metrics < " + (dir / "metrics.txt").string() + " > " +
                          (dir / "out.txt").string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(dir / "out.txt");
  std::stringstream ss;
  ss << out.rdbuf();
  EXPECT_EQ(rc, 0) << ss.str();
}

}  // namespace
}  // namespace opsorch::testing

namespace opsorch::testing {
namespace {

TEST(Binary, KeygenPrintsAKeyTheSealedStoreAccepts) {
  std::string out;
  {
    std::FILE* p = ::popen(OPSORCH_BINARY " keygen", "r");
    ASSERT_NE(p, nullptr);
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ASSERT_EQ(::pclose(p), 0);
  }
  ASSERT_EQ(out.size(), 45u) << out;  // 44 base64 characters and a newline
  const fs::path dir = TempDir("keygen");
  const fs::path key = dir / "key";
  std::ofstream(key) << out;
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  std::map<std::string, std::string> env{
      {"OPSORCH_SECRET_PROVIDER", "sealed"},
      {"OPSORCH_SECRET_CONFIG", R"({"path":")" + (dir / "secrets.sealed").string() +
                                    R"(","keyFile":")" + key.string() + R"("})"}};
  auto server = TestServer::Start(env);
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());
  auto r = c.Request("POST", "/providers/incident", {}, R"({"provider":"mock"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(fs::exists(dir / "secrets.sealed"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::testing
