// The workflow runtime end to end: real script workers, real HTTP to a loopback upstream, real
// persistence and outputs. Each test writes its bootstrap and configuration to a temp dir.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/workflow/metric_provider.h>
#include <opsorch/workflow/runtime.h>

#include "test_paths.h"
#include "workflow/runtime/upstream.h"

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

struct Captured {
  std::mutex mu;
  std::vector<Metric> metrics;
  std::vector<std::string> logs;

  std::vector<Metric> Metrics() {
    std::lock_guard lock(mu);
    return metrics;
  }
  std::vector<std::string> Logs() {
    std::lock_guard lock(mu);
    return logs;
  }
  std::string AllLogs() {
    std::string all;
    for (const auto& l : Logs()) all += l + "\n";
    return all;
  }
  std::optional<double> Value(std::string_view key) {
    for (const auto& m : Metrics()) {
      if (m.key == key) return m.value;
    }
    return std::nullopt;
  }
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = FreshTestDir("opsorch-rt"); }
  void TearDown() override {
    runtime_.reset();
    fs::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
  }

  // A bootstrap with one deployment "d" reading wf.json, with `hosts` (JSON object text).
  std::string Bootstrap(const std::string& hosts, const std::string& extra = "") {
    return R"J({"deployments": [{"id": "d", "config": {"file": "wf.json"}, "hosts": )J" + hosts +
           R"J(, "data": {"who": "bootstrap", "level": "bootstrap"}, "persistence_dir": "state")J" +
           extra + "}]}";
  }

  Result<std::unique_ptr<Runtime>> Start(const std::string& bootstrap, bool triggers = false,
                                         MetricStore* store = nullptr, bool outputs = false) {
    Write("boot.json", bootstrap);
    auto b = LoadBootstrap((dir_ / "boot.json").string(),
                           [](const std::string& n) -> std::optional<std::string> {
                             if (n == "API_TOKEN") return std::string("tok-SECRET-123");
                             return std::nullopt;
                           });
    if (!b) return Fail(b.error());
    RuntimeOptions o;
    o.scripts.worker_path = OPSORCH_SCRIPT_WORKER;
    o.start_triggers = triggers;
    o.use_outputs = outputs;
    o.metric_store = store;
    o.threads = 4;
    o.observer.on_metric = [this](std::string_view, const Metric& m) {
      std::lock_guard lock(captured_.mu);
      captured_.metrics.push_back(m);
    };
    o.observer.on_log = [this](std::string_view, const LogLine& l) {
      std::lock_guard lock(captured_.mu);
      captured_.logs.push_back(l.level + ": " + l.message);
    };
    return Runtime::Start(std::move(*b), std::move(o));
  }

  void StartOk(const std::string& bootstrap, bool triggers = false, MetricStore* store = nullptr,
               bool outputs = false) {
    auto r = Start(bootstrap, triggers, store, outputs);
    ASSERT_TRUE(r) << r.error().message;
    runtime_ = std::move(*r);
  }

  std::string HostJson(const std::string& extra = "") {
    return R"J({"api": {"url": ")J" + upstream_.url() +
           R"J(/base", "allow_private": true, "headers": {"Authorization": "Bearer ${API_TOKEN}"})J" +
           extra + "}}";
  }

  fs::path dir_;
  Upstream upstream_;
  Captured captured_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(RuntimeTest, StepPipelineRunsProcessorsInOrderAroundTheCall) {
  upstream_.server().Post("/base/items", [&](const httplib::Request& r, httplib::Response& w) {
    upstream_.Record(r);
    w.set_content(R"J({"count": 41})J", "application/json");
  });
  Write("wf.json",
        R"J({"data": {"level": "config"}, "workflows": [{"name": "w", "data": {"level": "workflow"},
    "steps": [{"id": "s", "data": {"level": "step"},
      "url": "ctx.set_url('api', '/items?x=1'); ctx.set_method('POST')",
      "payload": {"lua": "ctx.set_body(ctx.json.encode({who = ctx.data('who'), level = ctx.data('level'), p = ctx.data('p')}))", "data": {"p": "processor"}},
      "results": "local v = ctx.json.decode(ctx.body()); ctx.metric('items', v.count + 1, {status = tostring(ctx.status())}); ctx.set_body('done')"
    }]}]})J");
  StartOk(Bootstrap(HostJson()));
  auto r = runtime_->RunStep("d", "s", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "done");
  ASSERT_EQ(upstream_.Requests().size(), 1u);
  // The host's base path, the appended path and query, the bootstrap's header, and the data
  // resolved most specific first (processor → step → … → bootstrap).
  const std::string req = upstream_.Requests()[0];
  EXPECT_THAT(req, HasSubstr("POST /base/items?x=1 auth=Bearer tok-SECRET-123"));
  auto body = ParseJson(req.substr(req.find("body=") + 5));
  ASSERT_TRUE(body) << req;
  EXPECT_EQ(body->at("who").as_string(), "bootstrap");
  EXPECT_EQ(body->at("level").as_string(), "step");
  EXPECT_EQ(body->at("p").as_string(), "processor");
  ASSERT_EQ(captured_.Metrics().size(), 1u);
  EXPECT_EQ(captured_.Metrics()[0].value, 42);
  EXPECT_EQ(captured_.Metrics()[0].dimensions.at("status"), "200");
}

TEST_F(RuntimeTest, StatusHandlersAndConnectFailureHandler) {
  upstream_.server().Get("/base/gone", [](const httplib::Request&, httplib::Response& w) {
    w.status = 404;
    w.set_content("nope", "text/plain");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "gone", "url": "ctx.set_url('api', '/gone')",
       "on_status": {"200-299": "ctx.metric('ok', 1)", "400-499": "ctx.metric('client_error', ctx.status())"},
       "results": "ctx.metric('results', 1)"},
      {"id": "down", "url": "ctx.set_url('closed', '/x')",
       "on_connect_failure": "ctx.metric('down', 1)"},
      {"id": "down-unhandled", "url": "ctx.set_url('closed', '/x')"}]}]})J");
  StartOk(Bootstrap(
      R"J({"api": {"url": ")J" + upstream_.url() +
      R"J(/base", "allow_private": true}, "closed": {"url": "http://127.0.0.1:1", "allow_private": true}})J"));
  ASSERT_TRUE(runtime_->RunStep("d", "gone", {}));
  EXPECT_EQ(captured_.Value("client_error"), 404);
  EXPECT_FALSE(captured_.Value("results"));
  EXPECT_FALSE(captured_.Value("ok"));
  ASSERT_TRUE(runtime_->RunStep("d", "down", {}));
  EXPECT_EQ(captured_.Value("down"), 1);
  auto unhandled = runtime_->RunStep("d", "down-unhandled", {});
  ASSERT_FALSE(unhandled);
  EXPECT_EQ(WireCode(unhandled.error()), "connect_failed");
  EXPECT_THAT(captured_.AllLogs(), HasSubstr("step down-unhandled failed (connect_failed)"));
}

TEST_F(RuntimeTest, AllowlistAndAuthenticationOnlyHostsAreEnforced) {
  upstream_.server().Get(R"J(/base/.*)J", [&](const httplib::Request& r, httplib::Response& w) {
    upstream_.Record(r);
    w.set_content("{}", "application/json");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "allowed", "url": "ctx.set_url('api', '/public/x')"},
      {"id": "denied", "url": "ctx.set_url('api', '/admin/x')"},
      {"id": "dotdot", "url": "ctx.set_url('api', '/public/../admin/x')"},
      {"id": "token", "url": "ctx.set_url('tokens', '/token')"},
      {"id": "nohost", "url": "ctx.set_url('elsewhere', '/x')"}]}]})J");
  StartOk(Bootstrap(
      R"J({"api": {"url": ")J" + upstream_.url() +
      R"J(/base", "allow_private": true, "allow": [{"method": "GET", "path": "/public/*"}]},
                       "tokens": {"url": ")J" +
      upstream_.url() + R"J(/base", "allow_private": true, "authentication_only": true}})J"));
  ASSERT_TRUE(runtime_->RunStep("d", "allowed", {}));
  for (const char* step : {"denied", "dotdot", "token", "nohost"}) {
    auto r = runtime_->RunStep("d", step, {});
    ASSERT_FALSE(r) << step;
    EXPECT_EQ(WireCode(r.error()), "not_allowed") << step << ": " << r.error().message;
  }
  EXPECT_EQ(upstream_.Requests().size(), 1u);  // only the allowed call got through
  EXPECT_EQ(runtime_->Stats().blocked_calls, 4u);
}

TEST_F(RuntimeTest, SecretsAreRedactedFromLogsAndMetrics) {
  // The upstream echoes the Authorization header (bootstrap secret) and the header an
  // authentication processor set from restricted host data.
  upstream_.server().Get("/base/echo", [](const httplib::Request& r, httplib::Response& w) {
    w.set_content(r.get_header_value("Authorization") + "|" + r.get_header_value("X-Api-Key"),
                  "text/plain");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [{"id": "s",
      "authenticate": "ctx.set_header('X-Api-Key', ctx.restricted_data('api').key)",
      "url": "ctx.set_url('api', '/echo')",
      "results": "ctx.info('upstream said ' .. ctx.body()); ctx.metric('m-' .. ctx.body(), 1, {echo = ctx.body()})"}]}]})J");
  StartOk(Bootstrap(HostJson(R"J(, "data": {"key": "restricted-KEY-789"})J")));
  ASSERT_TRUE(runtime_->RunStep("d", "s", {}));
  const std::string logs = captured_.AllLogs();
  // The whole Authorization value is a bootstrap header value, the key was set by authenticate.
  EXPECT_THAT(logs, HasSubstr("upstream said [redacted]|[redacted]"));
  EXPECT_THAT(logs, Not(HasSubstr("tok-SECRET-123")));
  EXPECT_THAT(logs, Not(HasSubstr("restricted-KEY-789")));
  ASSERT_EQ(captured_.Metrics().size(), 1u);
  const Metric m = captured_.Metrics()[0];
  EXPECT_THAT(m.key, Not(HasSubstr("SECRET")));
  EXPECT_THAT(m.dimensions.at("echo"), Not(HasSubstr("KEY-789")));
}

TEST_F(RuntimeTest, AuthenticationProcessorsAreConfinedToHeaders) {
  upstream_.server().Post("/base/echo", [&](const httplib::Request& r, httplib::Response& w) {
    upstream_.Record(r);
    w.set_content("{}", "application/json");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "hidden", "authenticate": "ctx.set_header('X-Api-Key', ctx.restricted_data('api').key)",
       "url": "ctx.set_url('api', '/echo'); ctx.set_method('POST')",
       "payload": "ctx.set_body(tostring(ctx.header('X-Api-Key')))",
       "results": "ctx.set_body(tostring(ctx.header('X-Api-Key')))"},
      {"id": "metric", "authenticate": "ctx.metric('k', #ctx.restricted_data('api').key)"},
      {"id": "log", "authenticate": "ctx.info(ctx.hex(ctx.restricted_data('api').key))"},
      {"id": "body", "authenticate": "ctx.set_body(ctx.restricted_data('api').key:reverse())"},
      {"id": "url", "authenticate": "ctx.set_url('api', '/echo/' .. ctx.hex(ctx.restricted_data('api').key))"},
      {"id": "persist", "authenticate": "ctx.persist.set('k', ctx.restricted_data('api').key:reverse())"},
      {"id": "send", "authenticate": "local r = ctx.send_to_step('sink', ctx.restricted_data('api').key:reverse()) if r.error then error(r.error, 0) end"},
      {"id": "sink", "results": "ctx.info('got ' .. ctx.body())"}]}]})J");
  StartOk(Bootstrap(HostJson(R"J(, "data": {"key": "restricted-KEY-789"})J")));
  // The key goes with the call but no later processor sees it.
  auto hidden = runtime_->RunStep("d", "hidden", {});
  ASSERT_TRUE(hidden) << hidden.error().message;
  EXPECT_EQ(hidden->body, "nil");
  ASSERT_EQ(upstream_.Requests().size(), 1u);
  EXPECT_THAT(upstream_.Requests()[0], HasSubstr("body=nil"));
  for (const char* step : {"metric", "log", "body", "url", "persist", "send"}) {
    auto r = runtime_->RunStep("d", step, {});
    ASSERT_FALSE(r) << step;
    EXPECT_THAT(r.error().message, HasSubstr("restricted data")) << step;
  }
  EXPECT_TRUE(captured_.Metrics().empty());
  EXPECT_THAT(captured_.AllLogs(), Not(HasSubstr("got ")));
  EXPECT_EQ(upstream_.Requests().size(), 1u);
}

TEST_F(RuntimeTest, AuthenticationStepsOnlyCallAuthenticationHosts) {
  upstream_.server().Post("/base/token", [&](const httplib::Request& r, httplib::Response& w) {
    upstream_.Record(r);
    w.set_content("tok-from-server", "text/plain");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "token", "authentication": true,
       "url": "ctx.set_url('tokens', '/token'); ctx.set_method('POST')",
       "payload": "ctx.set_body(ctx.restricted_data('tokens').client_secret)"},
      {"id": "leak", "authentication": true,
       "url": "ctx.set_url('api', '/token'); ctx.set_method('POST')",
       "payload": "ctx.set_body(ctx.restricted_data('tokens').client_secret)"},
      {"id": "swap", "url": "ctx.set_url('api', '/x')", "payload": "ctx.set_url('tokens', '/token')"}]}]})J");
  StartOk(Bootstrap(R"J({"api": {"url": ")J" + upstream_.url() +
                    R"J(/base", "allow_private": true},
                       "tokens": {"url": ")J" +
                    upstream_.url() +
                    R"J(/base", "allow_private": true, "authentication_only": true,
                                  "data": {"client_secret": "client-SECRET-42"}}})J"));
  auto token = runtime_->RunStep("d", "token", {});
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(token->body, "tok-from-server");
  for (const char* step : {"leak", "swap"}) {
    auto r = runtime_->RunStep("d", step, {});
    ASSERT_FALSE(r) << step;
    EXPECT_EQ(WireCode(r.error()), "not_allowed") << step;
  }
  ASSERT_EQ(upstream_.Requests().size(), 1u);
  EXPECT_THAT(upstream_.Requests()[0], HasSubstr("body=client-SECRET-42"));
}

TEST_F(RuntimeTest, RestrictedDataIsOnlyForAuthentication) {
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [{"id": "s",
      "results": "ctx.info(tostring(ctx.restricted_data('api')))"}]}]})J");
  StartOk(Bootstrap(HostJson(R"J(, "data": {"key": "restricted-KEY-789"})J")));
  auto r = runtime_->RunStep("d", "s", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(WireCode(r.error()), "script_error");
  EXPECT_THAT(captured_.AllLogs(), Not(HasSubstr("restricted-KEY-789")));
}

TEST_F(RuntimeTest, PersistedStateSurvivesARestart) {
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [{"id": "count",
      "results": "local n = tonumber(ctx.persist.get('n') or '0') + 1; ctx.persist.set('n', tostring(n)); ctx.metric('n', n)"}]}]})J");
  const std::string boot = Bootstrap("{}");
  StartOk(boot);
  ASSERT_TRUE(runtime_->RunStep("d", "count", {}));
  ASSERT_TRUE(runtime_->RunStep("d", "count", {}));
  runtime_.reset();
  StartOk(boot);
  ASSERT_TRUE(runtime_->RunStep("d", "count", {}));
  EXPECT_EQ(captured_.Metrics().back().value, 3);
}

TEST_F(RuntimeTest, SendToStepSyncAsyncAndWorkflowIsolation) {
  Write("wf.json", R"J({"workflows": [
    {"name": "w", "steps": [
      {"id": "caller", "results": "local r = ctx.send_to_step('callee', 'x', {p = 'v'}); ctx.metric('sync', #r.body); ctx.send_to_step_async('async', 'y'); local bad = ctx.send_to_step('other', 'z'); ctx.set_body(bad.error or 'no error')"},
      {"id": "callee", "results": "ctx.set_body(ctx.body() .. ctx.property('p') .. 'abc')"},
      {"id": "async", "results": "ctx.metric('async', 1)"}]},
    {"name": "w2", "steps": [{"id": "other", "results": "ctx.metric('isolation_broken', 1)"}]}]})J");
  StartOk(Bootstrap("{}"));
  auto r = runtime_->RunStep("d", "caller", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_THAT(r->body, HasSubstr("no step \"other\" in workflow w"));
  EXPECT_EQ(captured_.Value("sync"), 5);  // "xvabc"
  ASSERT_TRUE(runtime_->Drain(std::chrono::seconds(10)));
  EXPECT_EQ(captured_.Value("async"), 1);
  EXPECT_FALSE(captured_.Value("isolation_broken"));
}

TEST_F(RuntimeTest, RecursiveSendToStepIsCutAtTheDepthLimit) {
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "loop", "results": "local r = ctx.send_to_step('loop', 'x'); if r.error then error(r.error, 0) end"}]}]})J");
  StartOk(Bootstrap("{}"));
  auto r = runtime_->RunStep("d", "loop", {});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("nested deeper than 8 levels"));
}

TEST_F(RuntimeTest, CallsPerRunAreBounded) {
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "loop", "results": "local n = 0 while true do local r = ctx.send_to_step('noop', '') if r.error then ctx.set_body(n .. ': ' .. r.error) return end n = n + 1 end"},
      {"id": "noop"}]}]})J");
  StartOk(Bootstrap("{}"));
  auto r = runtime_->RunStep("d", "loop", {});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "1000: more than 1000 send_to_step calls in one triggered run");
}

TEST_F(RuntimeTest, TimersFireRunOnceRunsAndOverlapsAreSkipped) {
  std::atomic<int> slow_calls{0};
  upstream_.server().Get("/base/slow", [&](const httplib::Request&, httplib::Response& w) {
    slow_calls.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    w.set_content("{}", "application/json");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "once", "trigger": {"once": true}, "results": "ctx.metric('once', 1)"},
      {"id": "tick", "trigger": {"timer": {"delay": "0s", "period": "50ms"}}, "results": "ctx.metric('tick', 1)"},
      {"id": "slow", "trigger": {"timer": {"delay": "0s", "period": "50ms"}}, "url": "ctx.set_url('api', '/slow')"}]}]})J");
  StartOk(Bootstrap(HostJson()), /*triggers=*/true);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  runtime_->Stop();
  int ticks = 0, once = 0;
  for (const auto& m : captured_.Metrics()) {
    ticks += m.key == "tick";
    once += m.key == "once";
  }
  EXPECT_EQ(once, 1);
  EXPECT_GE(ticks, 5);
  // 50 ms period, 400 ms per call, one run at a time: at most ~3 calls, the rest skipped.
  EXPECT_LE(slow_calls.load(), 4);
  EXPECT_GE(runtime_->Stats().skipped_overlaps, 5u);
}

TEST_F(RuntimeTest, ADeploymentStuckOnSlowHostsLeavesThreadsToTheOthers) {
  upstream_.server().Get("/base/slow", [](const httplib::Request&, httplib::Response& w) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    w.set_content("{}", "application/json");
  });
  // d1: four timer steps that each hold a thread for 1.5 s; d2: a quick timer step. The
  // runtime has 4 threads (RuntimeTest's Start): d1 may hold 2.
  std::string slow;
  for (int i = 0; i < 4; ++i) {
    slow +=
        std::string(i ? "," : "") + R"J({"id": "s)J" + std::to_string(i) +
        R"J(", "trigger": {"timer": {"delay": "0s", "period": "50ms"}}, "url": "ctx.set_url('api', '/slow')"})J";
  }
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [)J" + slow + "]}]}");
  Write("wf2.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "tick", "trigger": {"timer": {"delay": "100ms", "period": "50ms"}}, "results": "ctx.metric('tick', 1)"}]}]})J");
  StartOk(R"J({"deployments": [
      {"id": "d1", "config": {"file": "wf.json"}, "persistence_dir": "s1", "hosts": )J" +
              HostJson() + R"J(},
      {"id": "d2", "config": {"file": "wf2.json"}, "persistence_dir": "s2"}]})J",
          /*triggers=*/true);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  int ticks = 0;
  for (const auto& m : captured_.Metrics()) ticks += m.key == "tick";
  runtime_->Stop();
  EXPECT_GE(ticks, 5);  // without the share: 0 until the first slow calls return
}

TEST_F(RuntimeTest, HotReloadSwapsAGoodConfigAndKeepsTheOldOneOnABadOne) {
  Write(
      "wf.json",
      R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body('v1')"}]}]})J");
  StartOk(Bootstrap("{}"));
  EXPECT_EQ(runtime_->RunStep("d", "s", {})->body, "v1");
  Write(
      "wf.json",
      R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body('v2')"}]}]})J");
  runtime_->PollNow();
  EXPECT_EQ(runtime_->RunStep("d", "s", {})->body, "v2");
  EXPECT_EQ(runtime_->Stats().reloads, 1u);
  // A syntax error in a processor: refused whole, v2 keeps running, the log says where.
  Write(
      "wf.json",
      R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body('v3'"}]}]})J");
  runtime_->PollNow();
  EXPECT_EQ(runtime_->RunStep("d", "s", {})->body, "v2");
  EXPECT_EQ(runtime_->Stats().rejected_reloads, 1u);
  // The same bad text again is neither parsed nor logged again.
  runtime_->PollNow();
  EXPECT_EQ(runtime_->Stats().rejected_reloads, 1u);
  Write(
      "wf.json",
      R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body('v2')"}]}]})J");
  runtime_->PollNow();
  EXPECT_EQ(runtime_->Stats().reloads, 1u);  // same digest as the running one
}

TEST_F(RuntimeTest, ConfigurationFromAnHttpSourceIsPolled) {
  std::atomic<int> version{1};
  upstream_.server().Get("/config.json", [&](const httplib::Request& r, httplib::Response& w) {
    if (r.get_header_value("X-Config-Key") != "k1") {
      w.status = 403;
      return;
    }
    w.set_content(
        R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body('v)J" +
            std::to_string(version.load()) + R"J(')"}]}]})J",
        "application/json");
  });
  Write("boot.json", "");
  StartOk(R"J({"deployments": [{"id": "d", "persistence_dir": "state", "config": {"url": ")J" +
              upstream_.url() +
              R"J(/config.json", "headers": {"X-Config-Key": "k1"}, "poll": "100ms"}}]})J",
          /*triggers=*/true);
  EXPECT_EQ(runtime_->RunStep("d", "s", {})->body, "v1");
  version = 2;
  for (int i = 0; i < 50 && runtime_->RunStep("d", "s", {})->body != "v2"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(runtime_->RunStep("d", "s", {})->body, "v2");
}

TEST_F(RuntimeTest, AnInvalidInitialConfigurationRefusesToStart) {
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "bogus": 1}]}]})J");
  auto r = Start(Bootstrap("{}"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("wf.json: workflows[0].steps[0].bogus: unknown field"));
}

TEST_F(RuntimeTest, ARunawayScriptDoesNotDelayAnotherWorkflow) {
  Write("wf.json", R"J({"workflows": [
      {"name": "bad", "steps": [{"id": "spin", "results": "while true do end"}]},
      {"name": "good", "steps": [{"id": "quick", "results": "ctx.set_body('fine')"}]}]})J");
  StartOk(Bootstrap("{}", R"J(, "limits": {"cpu_time": "1500ms"})J"));
  std::thread spin([&] {
    auto r = runtime_->RunStep("d", "spin", {});
    EXPECT_FALSE(r);
    if (!r) EXPECT_EQ(WireCode(r.error()), "script_timeout");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto r = runtime_->RunStep("d", "quick", {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "fine");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  spin.join();
}

TEST_F(RuntimeTest, OutputsDeliverNdjsonAndTheMetricProviderAnswers) {
  std::mutex mu;
  std::string received;
  upstream_.server().Post("/ingest", [&](const httplib::Request& r, httplib::Response& w) {
    std::lock_guard lock(mu);
    received += r.body;
    if (!received.empty() && received.back() != '\n') received += '\n';
    w.status = 204;
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [{"id": "s",
      "results": "ctx.metric('jobs.queued', 7, {queue = 'q1'}); ctx.info('hello output')"}]}]})J");
  MetricStore store;
  StartOk(
      Bootstrap("{}",
                R"J(, "outputs": [{"id": "c", "url": ")J" + upstream_.url() +
                    R"J(/ingest", "logs": true, "token": "tenant-1", "flush_interval": "50ms"}])J"),
      false, &store, /*outputs=*/true);
  ASSERT_TRUE(runtime_->RunStep("d", "s", {}));
  runtime_->Stop();
  {
    std::lock_guard lock(mu);
    EXPECT_THAT(received, HasSubstr("\"key\":\"jobs.queued\""));
    EXPECT_THAT(received, HasSubstr("\"token\":\"tenant-1\""));
    EXPECT_THAT(received, HasSubstr("hello output"));
  }
  providers::ProviderRegistry registry;
  ASSERT_TRUE(RegisterWorkflowMetricProvider(registry, &store));
  auto provider = registry.Create(providers::Capability::kMetric, "workflow", {});
  ASSERT_TRUE(provider) << provider.error().message;
  auto& mp = static_cast<providers::MetricProvider&>(**provider);
  auto described = mp.Describe({});
  ASSERT_TRUE(described && *described);
  ASSERT_EQ((*described)->size(), 1u);
  EXPECT_EQ((**described)[0].name, "jobs.queued");
  schema::MetricQuery q;
  q.expression = schema::MetricExpression{"jobs.queued", "", {}, {}};
  q.start = Time::FromUnixNanos(0);
  q.end = Time::FromUnixNanos(std::numeric_limits<std::int64_t>::max() / 2);
  auto series = mp.Query(q);
  ASSERT_TRUE(series && *series) << (series ? "" : series.error().message);
  ASSERT_EQ((*series)->size(), 1u);
  ASSERT_TRUE((**series)[0].points);
  EXPECT_EQ((**series)[0].points->at(0).value, 7);
}

}  // namespace
}  // namespace opsorch::workflow
