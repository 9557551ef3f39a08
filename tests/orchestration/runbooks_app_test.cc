// Runbooks end to end, as a user runs them: `opsorch serve` processes with the `local`
// orchestration provider and a workflow runtime whose steps call a loopback HTTP server the test
// owns. Through the OpsOrch routes only: a run killed with SIGKILL while it waits for a person
// resumes after a restart without calling anything again; two nodes on one PostgreSQL run each
// step of many runs exactly once; an event for a service that names a runbook starts it, and the
// run is on the incident's timeline.
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/store_fixture.h"
#include "support/http_client.h"
#include "support/server_process.h"
#include "workflow/runtime/upstream.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

// Counts calls per (run, step) that the workflow steps make.
class Calls {
 public:
  explicit Calls(workflow::Upstream& up) {
    up.server().Post("/slow", [this](const httplib::Request&, httplib::Response& w) {
      std::unique_lock lock(mu_);
      if (slow_calls_++ == 0)
        released_.wait_for(lock, std::chrono::seconds(20), [&] { return release_; });
      w.set_content(R"({"ok": true})", "application/json");
    });
    up.server().Post("/step", [this](const httplib::Request& r, httplib::Response& w) {
      const json::value in = json::parse(r.body);
      const std::string key =
          std::string(in.at("runId").as_string()) + "/" + std::string(in.at("stepId").as_string());
      {
        std::lock_guard lock(mu_);
        ++counts_[key];
      }
      w.set_content(R"({"ok": true})", "application/json");
    });
  }
  std::map<std::string, int> Counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  int SlowCalls() {
    std::lock_guard lock(mu_);
    return slow_calls_;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      release_ = true;
    }
    released_.notify_all();
  }
  ~Calls() { Release(); }

 private:
  std::mutex mu_;
  std::condition_variable released_;
  bool release_ = false;
  int slow_calls_ = 0;
  std::map<std::string, int> counts_;
};

// The workflow: one step "call" that posts the runbook step's identity to /step.
constexpr std::string_view kWorkflow = R"J({"workflows": [{"name": "w", "steps": [
  {"id": "call", "url": "ctx.set_url('api', '/step'); ctx.set_method('POST')",
   "payload": "local i = ctx.json.decode(ctx.body()); ctx.set_body(ctx.json.encode({runId = i.runId, stepId = i.stepId}))"},
  {"id": "slow", "url": "ctx.set_url('api', '/slow'); ctx.set_method('POST')",
   "payload": "local i = ctx.json.decode(ctx.body()); ctx.set_body(ctx.json.encode({runId = i.runId, stepId = i.stepId}))"}]}]})J";

// The first call of "slow" hangs until the test lets it go; the ones after answer at once.
constexpr std::string_view kSlow = R"J({"id": "slow", "title": "Slow", "steps": [
  {"id": "hang", "title": "Hangs once", "type": "invoke", "onFailure": "retry", "retries": 1,
   "retryDelay": "100ms", "with": {"deployment": "ops", "step": "slow"}}]})J";

constexpr std::string_view kRunbook = R"J({"id": "fix", "title": "Fix it", "steps": [
  {"id": "first", "title": "First call", "type": "invoke", "with": {"deployment": "ops", "step": "call"}},
  {"id": "approve", "title": "Approve", "type": "manual", "dependsOn": ["first"]},
  {"id": "second", "title": "Second call", "type": "invoke", "dependsOn": ["approve"],
   "with": {"deployment": "ops", "step": "call"}},
  {"id": "note", "title": "Note", "type": "record", "dependsOn": ["second"],
   "with": {"text": "fixed by {runId}"}}]})J";

constexpr std::string_view kAuto = R"J({"id": "auto", "title": "Automatic", "steps": [
  {"id": "a", "title": "A", "type": "invoke", "with": {"deployment": "ops", "step": "call"}},
  {"id": "b", "title": "B", "type": "invoke", "with": {"deployment": "ops", "step": "call"}},
  {"id": "c", "title": "C", "type": "invoke", "dependsOn": ["a", "b"],
   "with": {"deployment": "ops", "step": "call"}}]})J";

constexpr std::string_view kSeed = R"J({"services": [{"id": "svc-db", "name": "Database",
  "runbooks": ["fix"],
  "integrations": [{"id": "db-events", "kind": "events_v2", "key": "db-routing-key-0000000001"}]}]})J";

class RunbooksApp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = workflow::FreshTestDir("opsorch-rbapp");
    std::ofstream(dir_ / "wf.json") << kWorkflow;
    std::ofstream(dir_ / "boot.json")
        << R"J({"deployments": [{"id": "ops", "config": {"file": "wf.json"},
          "persistence_dir": "state", "hosts": {"api": {"url": ")J" +
               upstream_.url() + R"J(", "allow_private": true}}}]})J";
    std::ofstream(dir_ / "seed.json") << kSeed;
  }
  void TearDown() override {
    servers_.clear();
    if (!database_.empty()) (void)engine::DropPostgresTestDatabase(database_);
    fs::remove_all(dir_);
  }

  std::map<std::string, std::string> Env(const std::string& node, const std::string& store) {
    std::map<std::string, std::string> env{
        {"OPSORCH_DATA_DIR", (dir_ / ("data-" + node)).string()},
        {"OPSORCH_INCIDENT_PROVIDER", "local"},
        {"OPSORCH_ORCHESTRATION_PROVIDER", "local"},
        {"OPSORCH_WORKFLOW_BOOTSTRAP", (dir_ / "boot.json").string()},
        {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()}};
    if (!store.empty()) env["OPSORCH_ENGINE_STORE"] = store;
    return env;
  }

  ServerProcess* StartNode(const std::string& node, const std::string& store = "") {
    std::string error;
    auto s = ServerProcess::Start(Env(node, store), {}, dir_ / ("node-" + node + ".log"), &error);
    EXPECT_NE(s, nullptr) << error;
    if (s == nullptr) return nullptr;
    servers_.push_back(std::move(s));
    return servers_.back().get();
  }

  static HttpResponse Call(ServerProcess* s, std::string_view method, std::string_view target,
                           std::string_view body = {}) {
    HttpClient c(s->port());
    return c.Request(method, target, {{"Content-Type", "application/json"}}, body);
  }

  static json::value Json(const HttpResponse& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec ? json::value() : v;
  }

  static std::string StepStatus(const json::value& run, std::string_view step) {
    if (!run.is_object()) return "";
    for (const auto& s : run.at("steps").as_array()) {
      if (s.at("stepId").as_string() == step) return std::string(s.at("status").as_string());
    }
    return "";
  }

  // The run's status becomes `status` within `limit` (polled through GET /orchestration/runs).
  static bool Reaches(ServerProcess* s, const std::string& run, std::string_view status,
                      milliseconds limit) {
    return WaitFor([&] { return RunStatus(s, run) == status; }, limit);
  }

  static std::string RunStatus(ServerProcess* s, const std::string& run) {
    const json::value v = Json(Call(s, "GET", "/orchestration/runs/" + run));
    return v.is_object() ? std::string(v.at("status").as_string()) : "";
  }

  fs::path dir_;
  workflow::Upstream upstream_;
  Calls calls_{upstream_};
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::string database_;
};

TEST_F(RunbooksApp, AKilledServerResumesItsRunsAndRepeatsNothing) {
  ServerProcess* s = StartNode("a");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(Call(s, "PUT", "/admin/runbooks/fix", kRunbook).status, 201);
  // Against the incident, by hand: planId + fields.incidentId.
  const HttpResponse created =
      Call(s, "POST", "/incidents", R"({"title": "Disk full", "service": "svc-db"})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string incident(Json(created).at("id").as_string());
  // The service's own run (its seed names "fix") and ours.
  const HttpResponse started =
      Call(s, "POST", "/orchestration/runs",
           R"({"planId": "fix", "fields": {"incidentId": ")" + incident + R"(", "host": "db-1"}})");
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string run(Json(started).at("id").as_string());
  ASSERT_TRUE(Reaches(s, run, "blocked", milliseconds(10000)))
      << Call(s, "GET", "/orchestration/runs/" + run).body;
  EXPECT_EQ(calls_.Counts()[run + "/first"], 1);

  s->Kill();  // SIGKILL: no chance to tidy up
  servers_.clear();
  s = StartNode("a");
  ASSERT_NE(s, nullptr);
  json::value after = Json(Call(s, "GET", "/orchestration/runs/" + run));
  EXPECT_EQ(StepStatus(after, "first"), "succeeded");
  EXPECT_EQ(StepStatus(after, "approve"), "blocked");
  const HttpResponse done =
      Call(s, "POST", "/orchestration/runs/" + run + "/steps/approve/complete",
           R"({"actor": "ann@example.com", "note": "go"})");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.body, "{\"status\":\"ok\"}\n");
  EXPECT_EQ(Call(s, "POST", "/orchestration/runs/" + run + "/steps/approve/complete", "{}").status,
            409);
  ASSERT_TRUE(Reaches(s, run, "completed", milliseconds(10000)))
      << Call(s, "GET", "/orchestration/runs/" + run).body;
  // Nothing that completed ran again.
  EXPECT_EQ(calls_.Counts()[run + "/first"], 1);
  EXPECT_EQ(calls_.Counts()[run + "/second"], 1);
  after = Json(Call(s, "GET", "/orchestration/runs/" + run));
  for (const auto& st : after.at("steps").as_array()) {
    if (st.at("stepId") == "approve") {
      EXPECT_EQ(st.at("actor"), "ann@example.com");
      EXPECT_EQ(st.at("note"), "go");
    }
  }
  // On the incident's timeline: both runs started, ours noted and completed.
  const std::string timeline = Call(s, "GET", "/incidents/" + incident + "/timeline").body;
  EXPECT_THAT(timeline, ::testing::HasSubstr("fixed by " + run));
  EXPECT_THAT(timeline, ::testing::HasSubstr("Runbook \\\"Fix it\\\" completed (" + run + ")"));
  json::value runs = Json(Call(s, "POST", "/orchestration/runs/query", R"({"planIds": ["fix"]})"));
  ASSERT_TRUE(runs.is_array());
  EXPECT_EQ(runs.as_array().size(), 2u);  // the service's automatic run, and ours
}

TEST_F(RunbooksApp, AnAttemptCutOffByAKillIsFailedAsInterruptedAndItsPolicyDecides) {
  ServerProcess* s = StartNode("a");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(Call(s, "PUT", "/admin/runbooks/slow", kSlow).status, 201);
  const HttpResponse started = Call(s, "POST", "/orchestration/runs", R"({"planId": "slow"})");
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string run(Json(started).at("id").as_string());
  ASSERT_TRUE(WaitFor([&] { return calls_.SlowCalls() == 1; }, milliseconds(10000)));
  s->Kill();  // mid-call: the result of this attempt can never be known
  servers_.clear();
  calls_.Release();
  s = StartNode("a");
  ASSERT_NE(s, nullptr);
  // SQLite: this process owns the store, so the cut-off attempt failed at start; `retry` ran it
  // again.
  ASSERT_TRUE(Reaches(s, run, "completed", milliseconds(10000)))
      << Call(s, "GET", "/orchestration/runs/" + run).body;
  EXPECT_EQ(calls_.SlowCalls(), 2);
  const json::value r = Json(Call(s, "GET", "/orchestration/runs/" + run));
  EXPECT_EQ(r.at("steps").as_array()[0].at("fields").at("attempts"), 2);
  EXPECT_THAT(s->Log(), ::testing::HasSubstr("was cut off by a restart"));
}

TEST_F(RunbooksApp, AnEventForAServiceWithARunbookStartsIt) {
  ServerProcess* s = StartNode("a");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(Call(s, "PUT", "/admin/runbooks/fix", kRunbook).status, 201);
  const HttpResponse ev =
      Call(s, "POST", "/v2/enqueue", R"({"routing_key": "db-routing-key-0000000001",
    "event_action": "trigger", "dedup_key": "disk",
    "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"}})");
  ASSERT_EQ(ev.status, 202) << ev.body;
  std::string run;
  ASSERT_TRUE(WaitFor(
      [&] {
        json::value runs = Json(Call(s, "POST", "/orchestration/runs/query", "{}"));
        if (!runs.is_array() || runs.as_array().empty()) return false;
        run = std::string(runs.as_array()[0].at("id").as_string());
        return RunStatus(s, run) == "blocked";
      },
      milliseconds(10000)));
  const json::value r = Json(Call(s, "GET", "/orchestration/runs/" + run));
  const std::string incident(r.at("fields").at("incidentId").as_string());
  EXPECT_EQ(r.at("scope").at("service"), "svc-db");
  EXPECT_EQ(calls_.Counts()[run + "/first"], 1);
  EXPECT_THAT(Call(s, "GET", "/incidents/" + incident + "/timeline").body,
              ::testing::HasSubstr("started (" + run + ")"));
}

// The whole loop in one binary: a workflow reads a disk's fill level from a loopback server
// every 100 ms; above 90 % it opens an incident through the server's own engine (the same
// ingestion as POST /v2/enqueue, counted on /metrics), whose service starts its runbook; a
// person approves; the runbook's invoke step cleans up (through the workflow, at the loopback
// server); the next sample is back in bounds and resolves the incident. The breaching samples
// that go on while the run waits for the approval make no second incident.
TEST_F(RunbooksApp, ABreachOpensAnIncidentWhoseRunbookFixesItAndItResolvesItself) {
  std::atomic<int> used{50};
  upstream_.server().Get("/disk", [&](const httplib::Request&, httplib::Response& w) {
    w.set_content(std::to_string(used.load()), "text/plain");
  });
  upstream_.server().Post("/cleanup", [&](const httplib::Request&, httplib::Response& w) {
    used = 40;
    w.set_content(R"({"freed_gb": 55})", "application/json");
  });
  std::ofstream(dir_ / "wf.json", std::ios::trunc) << R"J({"workflows": [{"name": "w", "steps": [
    {"id": "watch", "trigger": {"timer": {"delay": "0s", "period": "100ms"}},
     "url": "ctx.set_url('api', '/disk')",
     "results": "ctx.metric('disk.used_pct', tonumber(ctx.body()), {host = 'db-1'})"},
    {"id": "cleanup", "url": "ctx.set_url('api', '/cleanup'); ctx.set_method('POST')"}]}],
    "expectations": [{"metric": "disk.used_pct", "above": 90, "severity": "critical",
                      "summary": "Disk {value}% full on {host}"}]})J";
  std::ofstream(dir_ / "boot.json", std::ios::trunc)
      << R"J({"deployments": [{"id": "ops", "config": {"file": "wf.json"},
          "persistence_dir": "state", "incidents": {"routing_key": "db-routing-key-0000000001"},
          "hosts": {"api": {"url": ")J" +
             upstream_.url() + R"J(", "allow_private": true}}}]})J";
  ServerProcess* s = StartNode("a");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(Call(s, "PUT", "/admin/runbooks/fix", R"J({"id": "fix", "title": "Disk full",
    "steps": [{"id": "approve", "title": "Approve", "type": "manual"},
              {"id": "clean", "title": "Clean", "type": "invoke", "dependsOn": ["approve"],
               "with": {"deployment": "ops", "step": "cleanup"}},
              {"id": "check", "title": "Below 80", "type": "verify", "dependsOn": ["clean"],
               "interval": "100ms", "timeout": "30s",
               "with": {"metric": {"key": "disk.used_pct", "dimensions": {"host": "db-1"},
                                   "below": 80}}}]})J")
                .status,
            201);
  used = 95;
  std::string run, incident;
  ASSERT_TRUE(WaitFor(
      [&] {
        const json::value runs = Json(Call(s, "POST", "/orchestration/runs/query", "{}"));
        if (!runs.is_array() || runs.as_array().empty()) return false;
        run = std::string(runs.as_array()[0].at("id").as_string());
        incident = std::string(runs.as_array()[0].at("fields").at("incidentId").as_string());
        return RunStatus(s, run) == "blocked";
      },
      milliseconds(10000)))
      << s->Log();
  std::this_thread::sleep_for(milliseconds(500));  // five more breaching samples
  const auto disk_incidents = [&] {
    int n = 0;
    const json::value all = Json(Call(s, "POST", "/incidents/query", R"({"limit": 1000})"));
    for (const auto& i : all.as_array()) {
      n += i.at("title").as_string().starts_with("Disk 95% full on db-1") ? 1 : 0;
    }
    return n;
  };
  EXPECT_EQ(disk_incidents(), 1);
  EXPECT_EQ(Json(Call(s, "POST", "/orchestration/runs/query", "{}")).as_array().size(), 1u);
  ASSERT_EQ(Call(s, "POST", "/orchestration/runs/" + run + "/steps/approve/complete", "{}").status,
            200);
  ASSERT_TRUE(Reaches(s, run, "completed", milliseconds(10000)))
      << Call(s, "GET", "/orchestration/runs/" + run).body;
  ASSERT_TRUE(WaitFor(
      [&] {
        const json::value i = Json(Call(s, "GET", "/incidents/" + incident));
        return i.is_object() && i.at("status") == "resolved";
      },
      milliseconds(10000)));
  EXPECT_EQ(disk_incidents(), 1);
  const std::string metrics = Call(s, "GET", "/metrics").body;
  EXPECT_THAT(metrics,
              ::testing::HasSubstr(
                  "opsorch_workflow_incident_events_total{deployment=\"ops\",result=\"sent\"} 2"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("opsorch_engine_events_total{action=\"triggered\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("opsorch_engine_events_total{action=\"resolved\"} 1"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("opsorch_runbook_queued_attempts 0"));
  EXPECT_THAT(metrics, ::testing::HasSubstr("opsorch_runbook_attempts_total{result=\"ok\"} 2"));
  const std::string timeline = Call(s, "GET", "/incidents/" + incident + "/timeline").body;
  for (const char* kind : {"\"runbook_started\"", "\"runbook_completed\"", "\"resolved\""}) {
    EXPECT_THAT(timeline, ::testing::HasSubstr(kind));
  }
}

// `opsorch serve --demo` (make run): orchestration from the `local` provider with the demo's two
// runbooks, and the demo workflow running; a run of restart-checkout goes through its workflow
// steps to the end once approved.
TEST_F(RunbooksApp, TheDemoServesItsRunbooksAndItsWorkflow) {
  std::string error;
  auto demo = ServerProcess::Start({{"OPSORCH_DATA_DIR", (dir_ / "demo").string()}}, {"--demo"},
                                   dir_ / "demo.log", &error);
  ASSERT_NE(demo, nullptr) << error;
  ServerProcess* s = demo.get();
  const json::value plans = Json(Call(s, "POST", "/orchestration/plans/query", "{}"));
  ASSERT_TRUE(plans.is_array());
  std::set<std::string> ids;
  for (const auto& p : plans.as_array()) ids.emplace(p.at("id").as_string());
  EXPECT_EQ(ids, (std::set<std::string>{"disk-full", "restart-checkout"}));
  const HttpResponse started =
      Call(s, "POST", "/orchestration/runs", R"({"planId": "restart-checkout"})");
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string run(Json(started).at("id").as_string());
  ASSERT_TRUE(Reaches(s, run, "blocked", milliseconds(10000)))
      << Call(s, "GET", "/orchestration/runs/" + run).body;
  ASSERT_EQ(Call(s, "POST", "/orchestration/runs/" + run + "/steps/approve/complete", "{}").status,
            200);
  ASSERT_TRUE(Reaches(s, run, "completed", milliseconds(10000)))
      << Call(s, "GET", "/orchestration/runs/" + run).body;
  // The disk watcher reports.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Call(s, "GET", "/metrics")
                   .body.find("opsorch_workflow_expectation_series{deployment=\"demo\"} 1") !=
               std::string::npos;
      },
      milliseconds(10000)));
}

TEST_F(RunbooksApp, TwoNodesOnOnePostgresRunEachStepOnce) {
  auto db = engine::CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  database_ = db->name;
  ServerProcess* a = StartNode("a", db->url);
  ASSERT_NE(a, nullptr);
  ServerProcess* b = StartNode("b", db->url);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(Call(a, "PUT", "/admin/runbooks/auto", kAuto).status, 201);
  ASSERT_EQ(Call(b, "PUT", "/admin/runbooks/fix", kRunbook).status, 201);
  constexpr int kRuns = 40;
  std::vector<std::string> autos, fixes;
  for (int i = 0; i < kRuns; ++i) {
    ServerProcess* n = i % 2 == 0 ? a : b;
    const HttpResponse r1 = Call(n, "POST", "/orchestration/runs", R"({"planId": "auto"})");
    ASSERT_EQ(r1.status, 201) << r1.body;
    autos.emplace_back(Json(r1).at("id").as_string());
    const HttpResponse r2 = Call(n, "POST", "/orchestration/runs", R"({"planId": "fix"})");
    ASSERT_EQ(r2.status, 201) << r2.body;
    fixes.emplace_back(Json(r2).at("id").as_string());
  }
  // Manual steps completed on the other node than the one that started the run.
  for (int i = 0; i < kRuns; ++i) {
    ServerProcess* other = i % 2 == 0 ? b : a;
    ASSERT_TRUE(Reaches(other, fixes[i], "blocked", milliseconds(15000)));
    ASSERT_EQ(
        Call(other, "POST", "/orchestration/runs/" + fixes[i] + "/steps/approve/complete", "{}")
            .status,
        200);
  }
  for (int i = 0; i < kRuns; ++i) {
    EXPECT_TRUE(Reaches(a, autos[i], "completed", milliseconds(15000))) << autos[i];
    EXPECT_TRUE(Reaches(b, fixes[i], "completed", milliseconds(15000))) << fixes[i];
  }
  const auto counts = calls_.Counts();
  for (int i = 0; i < kRuns; ++i) {
    for (const char* st : {"a", "b", "c"}) {
      auto it = counts.find(autos[i] + "/" + st);
      EXPECT_TRUE(it != counts.end() && it->second == 1) << autos[i] << "/" << st;
    }
    for (const char* st : {"first", "second"}) {
      auto it = counts.find(fixes[i] + "/" + st);
      EXPECT_TRUE(it != counts.end() && it->second == 1) << fixes[i] << "/" << st;
    }
  }
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(kRuns * 5));
}

}  // namespace
}  // namespace opsorch::testing
