// The plugin host end to end, with real processes: the opsorch binary started as a user starts
// it (fork/exec, environment only), serving capabilities through the plugin binaries. What a
// user notices: a plugin configured over HTTP survives a restart (json and sealed stores, the
// sealed one not in plaintext); no secret of a plugin's config reaches a log line or a response;
// reconfiguration under load drops no request and leaves no stray process; SIGTERM ends the
// server and its plugins on time even while a plugin call hangs.
//
// Plugin processes are found through /proc (children of the server). The test process makes
// itself a child subreaper, so a plugin that a server leaves behind is re-parented to it (not to
// init, which may not reap in a container) and can be seen, killed and reaped.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/server_process.h"
#include "support/test_plugins.h"
#include "support/test_server.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

constexpr std::string_view kNow = "2026-03-01T12:00:00Z";

std::string JsonString(std::string_view s) { return json::serialize(json::value(json::string(s))); }

std::string Base64(const unsigned char* data, std::size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < n; i += 3) {
    const unsigned v =
        (data[i] << 16) | (i + 1 < n ? data[i + 1] << 8 : 0) | (i + 2 < n ? data[i + 2] : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// ---- processes through /proc ----

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';
  std::string exe;  // empty for zombies
};

std::optional<ProcInfo> ReadProc(pid_t pid) {
  const std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
  const auto close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos) return std::nullopt;
  ProcInfo info;
  info.pid = pid;
  std::istringstream rest(stat.substr(close + 1));
  rest >> info.state >> info.ppid;
  std::error_code ec;
  info.exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
  return info;
}

std::vector<ProcInfo> ChildrenOf(pid_t parent) {
  std::vector<ProcInfo> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (auto info = ReadProc(std::stoi(name)); info && info->ppid == parent) out.push_back(*info);
  }
  return out;
}

bool IsPluginBinary(const std::string& exe) {
  // A binary rebuilt while it runs shows as "<path> (deleted)".
  for (const char* bin : {OPSORCH_PLUGIN_MOCK, OPSORCH_FAULT_PLUGIN}) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(bin, ec);
    if (exe.starts_with(canonical.string()) || exe.starts_with(bin)) return true;
  }
  return false;
}

bool IsZombie(const ProcInfo& p) { return p.state == 'Z' || p.state == 'X'; }

// Plugin processes that are running (not zombies) under `parent`.
std::vector<ProcInfo> LivePlugins(pid_t parent) {
  std::vector<ProcInfo> out;
  for (const auto& c : ChildrenOf(parent)) {
    if (!IsZombie(c) && IsPluginBinary(c.exe)) out.push_back(c);
  }
  return out;
}

std::vector<ProcInfo> Zombies(pid_t parent) {
  std::vector<ProcInfo> out;
  for (const auto& c : ChildrenOf(parent)) {
    if (IsZombie(c)) out.push_back(c);
  }
  return out;
}

std::string Describe(const std::vector<ProcInfo>& ps) {
  std::string out;
  for (const auto& p : ps) {
    out += "[pid " + std::to_string(p.pid) + " state " + p.state + " exe " + p.exe + "] ";
  }
  return out;
}

// After the server exited: a plugin it spawned must not exist any more, neither running (an
// orphan) nor as a zombie nobody waited for. A pid reused by an unrelated process is not it.
void ExpectPluginGone(pid_t pid) {
  const auto info = ReadProc(pid);
  if (!info) return;
  if (IsZombie(*info)) {
    ADD_FAILURE() << "plugin pid " << pid
                  << " is a zombie after the server exited: the server did not wait for it";
  } else if (IsPluginBinary(info->exe)) {
    ADD_FAILURE() << "plugin pid " << pid << " (" << info->exe
                  << ") is still running after the server exited; parent now " << info->ppid;
  }
}

class PluginApp : public ::testing::Test {
 protected:
  void SetUp() override {
    ::prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper_);
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("opsorch-plugin-app-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    servers_.clear();  // kills and reaps any server still running
    // Plugins left behind (re-parented to us) and zombies of plugins we saw: kill and reap.
    for (const auto& c : ChildrenOf(::getpid())) {
      if (IsPluginBinary(c.exe) || (IsZombie(c) && seen_plugins_.contains(c.pid))) {
        ::kill(c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
      }
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, was_subreaper_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The test plugins' directories are allowed unless `env` says otherwise.
  ServerProcess* StartServer(std::map<std::string, std::string> env, const std::string& log_name) {
    env.try_emplace("OPSORCH_PLUGIN_DIRS", TestPluginDirs());
    std::string error;
    auto s = ServerProcess::Start(env, {}, dir_ / log_name, &error);
    if (!s) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    servers_.push_back(std::move(s));
    return servers_.back().get();
  }

  // The running plugin processes of `server`, remembered for clean-up.
  std::vector<ProcInfo> Plugins(const ServerProcess& server) {
    auto ps = LivePlugins(server.pid());
    for (const auto& p : ps) seen_plugins_.insert(p.pid);
    return ps;
  }

  std::string PluginBody(std::string_view provider, std::string_view plugin,
                         std::string_view config_json) {
    return "{\"provider\":" + JsonString(provider) + ",\"plugin\":" + JsonString(plugin) +
           ",\"config\":" + std::string(config_json) + "}";
  }

  void RestartKeepsThePlugin(bool sealed);

  fs::path dir_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::set<pid_t> seen_plugins_;
  int was_subreaper_ = 0;
};

// ---- (a) restart persistence ----

void PluginApp::RestartKeepsThePlugin(bool sealed) {
  const fs::path secrets = dir_ / (sealed ? "secrets.sealed" : "secrets.json");
  std::map<std::string, std::string> env;
  if (sealed) {
    unsigned char raw[32];
    std::random_device rd;
    for (auto& b : raw) b = static_cast<unsigned char>(rd());
    const fs::path key = dir_ / "sealed.key";
    std::ofstream(key) << Base64(raw, sizeof raw) << "\n";
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
    env = {{"OPSORCH_SECRET_PROVIDER", "sealed"},
           {"OPSORCH_SECRET_CONFIG", "{\"path\":" + JsonString(secrets.string()) +
                                         ",\"keyFile\":" + JsonString(key.string()) + "}"}};
  } else {
    std::ofstream(secrets) << "{}";
    env = {{"OPSORCH_SECRET_PROVIDER", "json"},
           {"OPSORCH_SECRET_CONFIG", "{\"path\":" + JsonString(secrets.string()) + "}"}};
  }
  // A distinctive config value that the mock uses (the default severity of new incidents), so
  // that the reloaded config is seen at work, and that must not be on disk in plaintext.
  const std::string severity = "sev-PERSIST-2b9e41";
  const std::string config =
      "{\"now\":\"" + std::string(kNow) + "\",\"defaultSeverity\":\"" + severity + "\"}";

  // What the in-process mock answers, for comparison.
  std::string expected;
  {
    auto ref = TestServer::Start(
        {{"OPSORCH_INCIDENT_PROVIDER", "mock"}, {"OPSORCH_INCIDENT_CONFIG", config}});
    ASSERT_TRUE(ref) << ref.error().message;
    expected = HttpClient((*ref)->Port()).Request("GET", "/incidents/inc-003").body;
    ASSERT_NE(expected.find("\"id\":\"inc-003\""), std::string::npos) << expected;
  }

  pid_t first_plugin = 0;
  {
    ServerProcess* s = StartServer(env, "first.log");
    ASSERT_NE(s, nullptr);
    HttpClient c(s->port());
    ASSERT_EQ(c.Request("POST", "/incidents/query", {}, "{}").status, 501);
    // An unregistered provider name: were the plugin path lost, start-up would fail loudly.
    auto r = c.Request("POST", "/providers/incident", {},
                       PluginBody("incident-plugin", OPSORCH_PLUGIN_MOCK, config));
    ASSERT_EQ(r.status, 200) << r.body;
    r = c.Request("GET", "/incidents/inc-003");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expected);
    r = c.Request("POST", "/incidents/query", {}, R"({"limit":2,"scope":{}})");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body).as_array().size(), 2u) << r.body;
    r = c.Request("POST", "/incidents", {}, R"({"title":"before restart"})");
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_NE(r.body.find("\"severity\":\"" + severity + "\""), std::string::npos) << r.body;

    const auto plugins = Plugins(*s);
    ASSERT_EQ(plugins.size(), 1u) << "expected one mock plugin process: "
                                  << Describe(ChildrenOf(s->pid()));
    first_plugin = plugins[0].pid;

    const std::string stored = ReadAll(secrets);
    ASSERT_FALSE(stored.empty()) << "nothing persisted to " << secrets;
    if (sealed) {
      for (const std::string& plain :
           {std::string(OPSORCH_PLUGIN_MOCK), severity, std::string("providers/incident"),
            std::string("incident-plugin"), std::string(kNow)}) {
        EXPECT_EQ(stored.find(plain), std::string::npos)
            << "the sealed store holds \"" << plain << "\" in plaintext";
      }
    } else {
      EXPECT_NE(stored.find("providers/incident/default"), std::string::npos) << stored;
      EXPECT_NE(stored.find(OPSORCH_PLUGIN_MOCK), std::string::npos) << stored;
    }

    const auto exit = s->Terminate(milliseconds(15'000));
    ASSERT_TRUE(exit.exited) << "no exit within 15 s of SIGTERM";
    EXPECT_EQ(exit.code, 0) << "signal " << exit.signal << "\n" << s->Log();
    ExpectPluginGone(first_plugin);
  }
  {
    // Same store, no incident env: the stored plugin config is loaded at start-up.
    ServerProcess* s = StartServer(env, "second.log");
    ASSERT_NE(s, nullptr);
    HttpClient c(s->port());
    auto r = c.Request("GET", "/incidents/inc-003");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, expected);
    r = c.Request("POST", "/incidents", {}, R"({"title":"after restart"})");
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_NE(r.body.find("\"severity\":\"" + severity + "\""), std::string::npos)
        << "the stored config did not come back: " << r.body;
    const auto plugins = Plugins(*s);
    ASSERT_EQ(plugins.size(), 1u) << "requests after the restart were not served by a plugin: "
                                  << Describe(ChildrenOf(s->pid()));
    const auto exit = s->Terminate(milliseconds(15'000));
    ASSERT_TRUE(exit.exited) << "no exit within 15 s of SIGTERM";
    EXPECT_EQ(exit.code, 0) << "signal " << exit.signal << "\n" << s->Log();
    ExpectPluginGone(plugins[0].pid);
  }
  {
    // The environment wins over the stored config (contract §9).
    auto with_env = env;
    with_env["OPSORCH_INCIDENT_PLUGIN"] = OPSORCH_FAULT_PLUGIN;
    with_env["OPSORCH_INCIDENT_CONFIG"] = R"({"fault":"result:{\"id\":\"from-env\"}"})";
    ServerProcess* s = StartServer(with_env, "third.log");
    ASSERT_NE(s, nullptr);
    auto r = HttpClient(s->port()).Request("GET", "/incidents/inc-003");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"id\":\"from-env\""), std::string::npos) << r.body;
    const auto plugins = Plugins(*s);
    const auto exit = s->Terminate(milliseconds(15'000));
    ASSERT_TRUE(exit.exited);
    EXPECT_EQ(exit.code, 0);
    for (const auto& p : plugins) ExpectPluginGone(p.pid);
  }
}

TEST_F(PluginApp, PostedPluginSurvivesRestartWithJsonStore) { RestartKeepsThePlugin(false); }

TEST_F(PluginApp, PostedPluginSurvivesRestartWithSealedStoreNotInPlaintext) {
  RestartKeepsThePlugin(true);
}

// ---- (b) secrets stay out of logs and responses ----

TEST_F(PluginApp, PluginConfigSecretReachesNoLogLineAndNoResponse) {
  const std::string token = "tok-LEAKCHECK-7f3a9c";
  const fs::path secrets = dir_ / "secrets.json";
  std::ofstream(secrets) << "{}";
  ServerProcess* s =
      StartServer({{"OPSORCH_SECRET_PROVIDER", "json"},
                   {"OPSORCH_SECRET_CONFIG", "{\"path\":" + JsonString(secrets.string()) + "}"},
                   {"OPSORCH_LOG_LEVEL", "debug"},
                   {"OPSORCH_ACCESS_LOG", "true"},
                   {"OPSORCH_PLUGIN_TIMEOUT", "500ms"}},
                  "server.log");
  ASSERT_NE(s, nullptr);

  std::vector<std::string> responses;
  HttpClient c(s->port());
  const auto call = [&](std::string_view method, std::string_view path, std::string_view body,
                        int want) {
    HttpResponse r = c.Request(method, path, {}, body);
    EXPECT_EQ(r.status, want) << method << " " << path << " " << body << " → " << r.body;
    std::string all = std::to_string(r.status) + " " + r.reason + "\n";
    for (const auto& [k, v] : r.headers) all += k + ": " + v + "\n";
    responses.push_back(all + "\n" + r.body);
  };
  const auto fault = [&](std::string_view cap, std::string_view fault_config) {
    call("POST", "/providers/" + std::string(cap),
         PluginBody("fault", OPSORCH_FAULT_PLUGIN,
                    "{\"apiToken\":" + JsonString(token) + "," + std::string(fault_config) + "}"),
         200);
  };

  // The plugin writes its whole config, token included, to stderr on every call.
  fault("incident", R"("fault":"leak")");
  call("GET", "/incidents/inc-1", "", 200);
  call("POST", "/incidents", R"({"title":"t"})", 201);
  call("POST", "/incidents/query", "{}", 502);  // an object where a list belongs
  ASSERT_TRUE(WaitFor([&] { return s->Log().find("my config is") != std::string::npos; },
                      milliseconds(5'000)))
      << "the plugin's stderr line never reached the log:\n"
      << s->Log();
  fault("team", R"("fault":"leak")");
  call("GET", "/teams/t1", "", 200);
  call("GET", "/teams/t1/members", "", 502);

  // Errors whose text is the token, and failures of the process itself.
  fault("incident", R"("fault":"string_error","message":)" + JsonString(token));
  call("GET", "/incidents/inc-1", "", 502);
  fault("incident",
        R"("fault":"object_error","code":"bad_request","message":)" + JsonString(token));
  call("POST", "/incidents/query", "{}", 400);
  fault("incident", R"("fault":"object_error","code":"not_found","message":)" + JsonString(token));
  call("GET", "/incidents/inc-1", "", 404);
  fault("incident", R"("fault":"crash")");
  call("GET", "/incidents/inc-1", "", 502);
  fault("incident", R"("fault":"garbage")");
  call("GET", "/incidents/inc-1", "", 502);
  fault("incident", R"("fault":"hang")");
  call("GET", "/incidents/inc-1", "", 504);

  // Refused reconfigurations carrying the token.
  const std::string secret_config = "{\"apiToken\":" + JsonString(token) + "}";
  call("POST", "/providers/incident", R"({"provider":"nosuch","config":)" + secret_config + "}",
       400);
  call("POST", "/providers/incident", R"({"provider":"mock","config":)" + secret_config + "}", 400);
  call("POST", "/providers/incident",
       R"({"provider":"p","plugin":")" + std::string(OPSORCH_FAULT_PLUGIN) + R"(","confg":)" +
           secret_config + "}",
       400);
  call("POST", "/providers/incident",
       R"({"provider":"p","plugin":")" + std::string(OPSORCH_FAULT_PLUGIN) + R"(","config":)" +
           JsonString(secret_config) + "}",
       400);  // double-encoded config
  call("POST", "/providers/incident",
       R"({"provider":"p","config":)" + secret_config.substr(0, secret_config.size() - 1) + ",}}",
       400);  // not JSON
  call("POST", "/providers/secret", R"({"provider":"p","config":)" + secret_config + "}", 404);
  // The store cannot be written: the swap happens, persisting fails with 502.
  fs::remove(secrets);
  fs::create_directories(secrets / "blocker");
  call("POST", "/providers/incident",
       PluginBody("fault", OPSORCH_FAULT_PLUGIN,
                  "{\"apiToken\":" + JsonString(token) + ",\"fault\":\"leak\"}"),
       502);
  call("GET", "/incidents/inc-1", "", 200);

  const auto exit = s->Terminate(milliseconds(15'000));
  ASSERT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 0);

  const std::string log = s->Log();
  // The checks below only mean something if these lines were written.
  for (const char* expected : {"audit_log", "plugin stderr", "my config is", "[redacted]",
                               "API error (status=502)", "API error (status=400)"}) {
    EXPECT_NE(log.find(expected), std::string::npos) << "log lacks \"" << expected << "\"";
  }
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find(token), std::string::npos) << "log line leaks the token: " << line;
  }
  for (const auto& r : responses) {
    EXPECT_EQ(r.find(token), std::string::npos) << "response leaks the token:\n" << r;
  }
}

// A password with characters that JSON escapes ("\"", "\\", and "&", "<", ">" under Go's HTML
// escaping) is written by a plugin that logs its config as JSON in its escaped form; masking
// only the raw value would let it through. The marker sits between the special characters, so
// it shows in every encoding.
TEST_F(PluginApp, PluginConfigSecretWithJsonSpecialCharactersReachesNoLogLine) {
  const std::string marker = "LEAKPW-Zq9Mx";
  const std::string password = "p\"w&" + marker + "<\\>";
  const fs::path secrets = dir_ / "secrets.json";
  std::ofstream(secrets) << "{}";
  ServerProcess* s =
      StartServer({{"OPSORCH_SECRET_PROVIDER", "json"},
                   {"OPSORCH_SECRET_CONFIG", "{\"path\":" + JsonString(secrets.string()) + "}"}},
                  "server.log");
  ASSERT_NE(s, nullptr);
  HttpClient c(s->port());
  auto r = c.Request("POST", "/providers/incident", {},
                     PluginBody("fault", OPSORCH_FAULT_PLUGIN,
                                "{\"password\":" + JsonString(password) + ",\"fault\":\"leak\"}"));
  ASSERT_EQ(r.status, 200) << r.body;
  r = c.Request("GET", "/incidents/inc-1");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find(marker), std::string::npos) << r.body;
  ASSERT_TRUE(WaitFor([&] { return s->Log().find("my config is") != std::string::npos; },
                      milliseconds(5'000)))
      << s->Log();
  const auto exit = s->Terminate(milliseconds(15'000));
  ASSERT_TRUE(exit.exited);
  std::istringstream lines(s->Log());
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.find(marker), std::string::npos) << "log line leaks the password: " << line;
  }
}

// ---- (c) reconfiguration under load ----

TEST_F(PluginApp, ReconfigureUnderLoadDropsNoRequestAndLeavesOnlyTheCurrentPlugin) {
  const fs::path secrets = dir_ / "secrets.json";
  std::ofstream(secrets) << "{}";
  ServerProcess* s =
      StartServer({{"OPSORCH_SECRET_PROVIDER", "json"},
                   {"OPSORCH_SECRET_CONFIG", "{\"path\":" + JsonString(secrets.string()) + "}"}},
                  "server.log");
  ASSERT_NE(s, nullptr);
  const std::string config = "{\"now\":\"" + std::string(kNow) + "\"}";
  const std::string in_process = R"({"provider":"mock","config":)" + config + "}";
  const std::string plugin = PluginBody("mock-plugin", OPSORCH_PLUGIN_MOCK, config);
  {
    auto r = HttpClient(s->port()).Request("POST", "/providers/incident", {}, in_process);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  struct Call {
    const char* method;
    const char* path;
    const char* body;
    int status;
  };
  // Routes whose answer is the same from every fresh mock world.
  static constexpr Call kCalls[] = {
      {"POST", "/incidents/query", R"({"limit":5,"scope":{}})", 200},
      {"GET", "/incidents/inc-001", "", 200},
      {"POST", "/incidents", R"({"title":"under load","severity":"sev3"})", 201},
      {"GET", "/incidents/inc-002/timeline", "", 200},
      {"PATCH", "/incidents/inc-002", R"({"status":"investigating"})", 200},
      {"POST", "/incidents/inc-001/timeline",
       R"({"at":"2026-03-01T12:00:00Z","kind":"note","body":"load"})", 201},
  };
  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c(s->port());
      for (std::size_t i = t; !stop; ++i) {
        const Call& call = kCalls[i % std::size(kCalls)];
        const auto r = c.Request(call.method, call.path, {}, call.body);
        if (r.status != call.status) {
          std::lock_guard lock(mu);
          failures.push_back(std::string(call.method) + " " + call.path + " → " +
                             std::to_string(r.status) + " " + r.body);
        }
        ++done;
      }
    });
  }
  // Each swap waits for some requests to complete, so that load overlaps every provider.
  const auto progress = [&](long n) {
    const long target = done + n;
    return WaitFor([&] { return done >= target; }, milliseconds(10'000));
  };
  std::vector<std::string> post_failures;
  for (int i = 0; i < 20; ++i) {
    const bool to_plugin = i % 2 == 1;  // ends on the plugin
    const auto r = HttpClient(s->port()).Request("POST", "/providers/incident", {},
                                                 to_plugin ? plugin : in_process);
    if (r.status != 200) post_failures.push_back(std::to_string(r.status) + " " + r.body);
    if (!progress(10))
      post_failures.push_back("no request completed for 10 s after swap " + std::to_string(i));
    Plugins(*s);
  }
  progress(20);
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_TRUE(post_failures.empty())
      << post_failures.size() << " failed swaps, first: " << post_failures.front();
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << done
                                << " requests failed, first: " << failures.front();
  EXPECT_GE(done.load(), 200) << "too little load to mean anything";

  // Replaced plugin processes are stopped in the background; only the current one remains.
  std::vector<ProcInfo> plugins;
  const bool settled = WaitFor(
      [&] {
        plugins = Plugins(*s);
        return plugins.size() <= 1 && Zombies(s->pid()).empty();
      },
      milliseconds(10'000));
  EXPECT_TRUE(settled) << "plugin processes 10 s after the last swap: "
                       << Describe(ChildrenOf(s->pid()));
  EXPECT_EQ(plugins.size(), 1u) << "the current provider is the plugin, which served the last "
                                   "requests: "
                                << Describe(ChildrenOf(s->pid()));
  EXPECT_GE(seen_plugins_.size(), 2u) << "the swaps did not start new plugin processes";

  const auto exit = s->Terminate(milliseconds(15'000));
  ASSERT_TRUE(exit.exited) << "no exit within 15 s of SIGTERM";
  EXPECT_EQ(exit.code, 0) << "signal " << exit.signal;
  for (pid_t pid : seen_plugins_) ExpectPluginGone(pid);
  EXPECT_TRUE(LivePlugins(::getpid()).empty())
      << "plugins left behind: " << Describe(LivePlugins(::getpid()));
}

// ---- (d) SIGTERM while a plugin call hangs ----

TEST_F(PluginApp, SigtermWhileAPluginCallHangsExitsWithinTheGraces) {
  ServerProcess* s = StartServer({{"OPSORCH_INCIDENT_PLUGIN", OPSORCH_FAULT_PLUGIN},
                                  {"OPSORCH_INCIDENT_CONFIG", R"({"fault":"hang"})"},
                                  {"OPSORCH_PLUGIN_TIMEOUT", "30s"},
                                  {"OPSORCH_SHUTDOWN_GRACE", "1s"},
                                  {"OPSORCH_PLUGIN_STOP_GRACE", "500ms"}},
                                 "server.log");
  ASSERT_NE(s, nullptr);
  std::thread client([port = s->port()] {
    HttpClient c(port);
    c.Send("GET /incidents/inc-1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    c.ReadResponse(60'000);  // whatever comes (or the connection closing) ends the call
  });
  std::vector<ProcInfo> plugins;
  const bool hanging = WaitFor(
      [&] {
        plugins = Plugins(*s);
        return !plugins.empty();
      },
      milliseconds(10'000));
  EXPECT_TRUE(hanging) << "the plugin was never started";
  std::this_thread::sleep_for(milliseconds(200));  // let the request reach the plugin

  // Shutdown grace (1 s), then the plugin's stop: EOF, SIGTERM after 500 ms, SIGKILL after
  // another 500 ms. 5 s is generous; the 30 s plugin timeout must not be waited for.
  const auto exit = s->Terminate(milliseconds(5'000));
  client.join();
  EXPECT_TRUE(exit.exited) << "the server did not exit within 5 s of SIGTERM while a plugin "
                              "call hung (OPSORCH_SHUTDOWN_GRACE=1s, "
                              "OPSORCH_PLUGIN_STOP_GRACE=500ms); log:\n"
                           << s->Log();
  if (!exit.exited) return;  // killed by us: what it would have left is not the question
  EXPECT_EQ(exit.code, 0) << "signal " << exit.signal << " after " << exit.took.count() << " ms";
  for (const auto& p : plugins) ExpectPluginGone(p.pid);
}

// ---- (e) the API cannot start arbitrary executables ----

// An attacker who can reach the port (no bearer token, the `make run` default) must not be able
// to start a program of their choice through POST /providers/<cap>: plugin paths set through the
// API must resolve, after symlinks, to an executable inside OPSORCH_PLUGIN_DIRS (none by
// default); a refused path starts no process, is not persisted, and a stored one is not started
// again after a restart.
class PluginPathTest : public PluginApp {
 protected:
  void SetUp() override {
    PluginApp::SetUp();
    marker_ = dir_ / "pwned";
    fs::create_directories(dir_ / "outside");
    fs::create_directories(dir_ / "plugins");
    evil_ = dir_ / "outside" / "evil.sh";
    std::ofstream(evil_) << "#!/bin/sh\ntouch '" << marker_.string() << "'\n";
    fs::permissions(evil_, fs::perms::owner_all);
    fs::create_symlink(evil_, dir_ / "plugins" / "evil-link");
    std::ofstream(dir_ / "plugins" / "not-executable") << "#!/bin/sh\ntouch pwned\n";
    good_ = dir_ / "plugins" / "mock-plugin";
    fs::copy_file(OPSORCH_PLUGIN_MOCK, good_);
    secrets_ = dir_ / "secrets.json";
    std::ofstream(secrets_) << "{}";
  }

  std::map<std::string, std::string> Env(const std::string& plugin_dirs) {
    return {{"OPSORCH_SECRET_PROVIDER", "json"},
            {"OPSORCH_SECRET_CONFIG", "{\"path\":" + JsonString(secrets_.string()) + "}"},
            {"OPSORCH_PLUGIN_DIRS", plugin_dirs}};
  }

  // Spawned children of the server (plugins would be; nothing else is).
  void ExpectNoChildren(const ServerProcess& s) {
    const auto children = ChildrenOf(s.pid());
    EXPECT_TRUE(children.empty()) << "the server started " << Describe(children);
  }

  fs::path marker_, evil_, good_, secrets_;
};

TEST_F(PluginPathTest, NoPluginDirectoryMeansTheApiCannotSetPluginPaths) {
  ServerProcess* s = StartServer(Env(""), "server.log");
  ASSERT_NE(s, nullptr);
  HttpClient c(s->port());
  for (const std::string& plugin :
       {std::string("/bin/sh"), evil_.string(), good_.string(), std::string("sh")}) {
    auto r = c.Request("POST", "/providers/ticket", {{"Content-Type", "text/plain"}},
                       PluginBody("x", plugin, R"j({"x":"$(touch pwned)"})j"));
    EXPECT_EQ(r.status, 400) << plugin << ": " << r.body;
    EXPECT_NE(r.body.find("OPSORCH_PLUGIN_DIRS"), std::string::npos) << r.body;
  }
  // Nothing was configured, started or stored.
  EXPECT_EQ(c.Request("POST", "/tickets/query", {}, "{}").status, 501);
  ExpectNoChildren(*s);
  EXPECT_EQ(ReadAll(secrets_), "{}");
  EXPECT_FALSE(fs::exists(marker_));
}

TEST_F(PluginPathTest, OnlyExecutablesInsideTheAllowedDirectoriesAfterSymlinks) {
  ServerProcess* s = StartServer(Env((dir_ / "plugins").string()), "server.log");
  ASSERT_NE(s, nullptr);
  HttpClient c(s->port());
  const std::string refused[] = {
      "/bin/sh",
      evil_.string(),
      (dir_ / "plugins" / "evil-link").string(),                   // a symlink out of the directory
      (dir_ / "plugins" / ".." / "outside" / "evil.sh").string(),  // dot-dot out of it
      (dir_ / "plugins" / "not-executable").string(),
      (dir_ / "plugins" / "missing").string(),
      (dir_ / "plugins").string(),  // the directory itself
      "plugins/mock-plugin",        // relative
  };
  for (const std::string& plugin : refused) {
    auto r = c.Request("POST", "/providers/ticket", {}, PluginBody("x", plugin, "{}"));
    EXPECT_EQ(r.status, 400) << plugin << ": " << r.body;
    // One answer for every reason: it does not tell which files exist.
    EXPECT_NE(r.body.find("an executable file inside a directory listed in OPSORCH_PLUGIN_DIRS"),
              std::string::npos)
        << r.body;
  }
  EXPECT_EQ(c.Request("POST", "/tickets/query", {}, "{}").status, 501);
  ExpectNoChildren(*s);
  EXPECT_EQ(ReadAll(secrets_), "{}");

  // A web page in the operator's browser cannot configure even an allowed plugin.
  auto r = c.Request("POST", "/providers/ticket",
                     {{"Origin", "https://evil.example"}, {"Content-Type", "text/plain"}},
                     PluginBody("x", good_.string(), "{}"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ReadAll(secrets_), "{}");

  // The operator's own plugin directory works.
  r = c.Request("POST", "/providers/ticket", {},
                PluginBody("mock-plugin", good_.string(), R"({"now":"2026-03-01T12:00:00Z"})"));
  EXPECT_EQ(r.status, 200) << r.body;
  r = c.Request("POST", "/tickets/query", {}, "{}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Plugins(*s).size(), 0u);  // a copy, not the build's binary: found by its path
  bool found = false;
  for (const auto& p : ChildrenOf(s->pid())) found = found || p.exe == good_.string();
  EXPECT_TRUE(found) << Describe(ChildrenOf(s->pid()));
  EXPECT_FALSE(fs::exists(marker_));
}

TEST_F(PluginPathTest, AStoredPathOutsideTheAllowedDirectoriesIsNotStartedAfterARestart) {
  // What an attack before this check could have persisted.
  json::object stored;
  stored["providers/ticket/default"] = json::serialize(
      json::object{{"provider", "x"}, {"plugin", "/bin/sh"}, {"config", {{"x", "y"}}}});
  stored["providers/log/default"] =
      json::serialize(json::object{{"provider", "x"}, {"plugin", evil_.string()}});
  std::ofstream(secrets_) << json::serialize(stored);
  ServerProcess* s = StartServer(Env((dir_ / "plugins").string()), "server.log");
  ASSERT_NE(s, nullptr) << ReadAll(secrets_);
  HttpClient c(s->port());
  EXPECT_EQ(c.Request("POST", "/tickets/query", {}, "{}").status, 501);
  EXPECT_EQ(c.Request("POST", "/logs/query", {}, "{}").status, 501);
  ExpectNoChildren(*s);
  EXPECT_FALSE(fs::exists(marker_));
  EXPECT_NE(s->Log().find("plugin path refused"), std::string::npos) << s->Log();
}

// ---- (f) plugins get a minimal environment ----

TEST_F(PluginApp, PluginsSeeNoneOfTheServersSecretsInTheirEnvironment) {
  // Listing an OPSORCH_ variable is refused at start-up, not silently passed on.
  std::string error;
  auto refused =
      ServerProcess::Start({{"OPSORCH_PLUGIN_ENV", "PLUGIN_REGION, OPSORCH_BEARER_TOKEN"}}, {},
                           dir_ / "refused.log", &error);
  EXPECT_EQ(refused, nullptr);
  EXPECT_NE(error.find("invalid OPSORCH_PLUGIN_ENV: OPSORCH_BEARER_TOKEN"), std::string::npos)
      << error;
  ServerProcess* s = StartServer({{"OPSORCH_BEARER_TOKEN", "bearer-SECRET-81f2"},
                                  {"OPSORCH_SECRET_KEY", "key-SECRET-81f2"},
                                  {"OPSORCH_ALERT_PLUGIN", OPSORCH_PLUGIN_MOCK},
                                  {"OPSORCH_PLUGIN_ENV", "PLUGIN_REGION"},
                                  {"PLUGIN_REGION", "eu-1"},
                                  {"UNLISTED_VAR", "not-for-plugins"},
                                  {"LANG", "C.UTF-8"}},
                                 "server2.log");
  ASSERT_NE(s, nullptr);
  auto r = HttpClient(s->port()).Request("GET", "/alerts/al-004",
                                         {{"Authorization", "Bearer bearer-SECRET-81f2"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto plugins = Plugins(*s);
  ASSERT_EQ(plugins.size(), 1u);
  std::string environ = ReadAll("/proc/" + std::to_string(plugins[0].pid) + "/environ");
  std::replace(environ.begin(), environ.end(), '\0', '\n');
  EXPECT_NE(environ.find("PLUGIN_REGION=eu-1\n"), std::string::npos) << environ;
  EXPECT_NE(environ.find("LANG=C.UTF-8\n"), std::string::npos) << environ;
  EXPECT_NE(environ.find("PATH="), std::string::npos) << environ;
  EXPECT_EQ(environ.find("SECRET"), std::string::npos) << environ;
  EXPECT_EQ(environ.find("OPSORCH_"), std::string::npos) << environ;
  EXPECT_EQ(environ.find("UNLISTED_VAR"), std::string::npos) << environ;
}

}  // namespace
}  // namespace opsorch::testing
