// The runbook runner (opsorch/orchestration/runbooks.h) against a real engine and store (SQLite,
// and PostgreSQL on the OPSORCH_TEST_POSTGRES_URL server), an injected clock, and a real workflow
// runtime calling a loopback HTTP server: runbooks are validated and versioned; independent
// steps start together and dependents wait; manual steps wait for a completion (and refuse a
// second one); invoke calls the workflow step with the run's inputs and keeps its result and
// logs; verify re-checks until its condition holds or its timeout; failure policies stop,
// continue or retry with back-off; a result that arrives after its attempt timed out changes
// nothing; a run started for an incident, by hand or by the service's hook, is on its timeline.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/seed.h>
#include <opsorch/orchestration/runbooks.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/runtime.h>

#include "engine/store_fixture.h"
#include "test_paths.h"
#include "workflow/runtime/upstream.h"

namespace opsorch::orchestration {
namespace {

namespace fs = std::filesystem;
namespace s = ::opsorch::schema;
using ::testing::HasSubstr;

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSec = 1000 * kMs;
constexpr std::int64_t kT0 = 1'780'000'000LL * kSec;

constexpr std::string_view kSeed = R"J({"services": [
  {"id": "svc-db", "name": "Database", "runbooks": ["disk-full"],
   "integrations": [{"id": "db-events", "kind": "events_v2", "key": "db-routing-key-0000000001"}]},
  {"id": "svc-web", "name": "Web",
   "integrations": [{"id": "web-events", "kind": "events_v2", "key": "web-routing-key-000000001"}]}]})J";

class RunbooksTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = workflow::FreshTestDir("opsorch-rb");
    auto store = engine::OpenTestStore(GetParam());
    ASSERT_TRUE(store) << store.error().message;
    engine::EngineOptions o;
    o.paging_threads = false;
    o.retention_interval = std::chrono::minutes(0);
    o.clock = [this] { return now_.load(); };
    auto e = engine::Engine::Open(o, std::move(*store));
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    ASSERT_TRUE(engine::ApplySeed(*engine_, kSeed));
  }
  void TearDown() override {
    if (runbooks_) runbooks_->Stop();
    engine_.reset();
    runbooks_.reset();
    runtime_.reset();
    fs::remove_all(dir_);
  }

  void OpenRunbooks(bool runner = false) {
    RunbooksOptions o;
    o.engine = engine_.get();
    o.runner = runner;
    o.threads = 4;
    o.single_node = GetParam() == "sqlite";
    o.workflows = [this] { return runtime_.get(); };
    o.workflow_metrics = &metrics_;
    auto rb = Runbooks::Open(std::move(o));
    ASSERT_TRUE(rb) << rb.error().message;
    runbooks_ = std::move(*rb);
    engine_->SetIncidentHook(
        [rb = runbooks_.get()](engine::Tx& tx, const engine::IncidentTriggered& t) {
          return rb->OnIncidentTriggered(tx, t);
        });
  }

  // A workflow runtime whose deployment "ops" has steps calling the loopback upstream.
  void StartWorkflows(const std::string& steps) {
    std::ofstream(dir_ / "wf.json")
        << R"J({"workflows": [{"name": "w", "steps": )J" + steps + "}]}";
    std::ofstream(dir_ / "boot.json")
        << R"J({"deployments": [{"id": "ops", "config": {"file": "wf.json"},
          "persistence_dir": "state", "hosts": {"api": {"url": ")J" +
               upstream_.url() + R"J(", "allow_private": true}}}]})J";
    auto b = workflow::LoadBootstrap((dir_ / "boot.json").string(),
                                     [](const std::string&) { return std::nullopt; });
    ASSERT_TRUE(b) << b.error().message;
    workflow::RuntimeOptions ro;
    ro.scripts.worker_path = OPSORCH_SCRIPT_WORKER;
    ro.start_triggers = false;
    ro.use_outputs = false;
    ro.local_logs = false;
    ro.threads = 4;
    auto rt = workflow::Runtime::Start(std::move(*b), std::move(ro));
    ASSERT_TRUE(rt) << rt.error().message;
    runtime_ = std::move(*rt);
  }

  void Put(const std::string& json) {
    auto doc = ParseJson(json);
    ASSERT_TRUE(doc) << json;
    auto v = runbooks_->PutRunbook(doc->at("id").as_string(), json);
    ASSERT_TRUE(v) << v.error().message;
  }

  s::OrchestrationRun Run(const std::string& id) {
    auto r = runbooks_->GetRun(id);
    EXPECT_TRUE(r && *r) << (r ? "null" : r.error().message);
    return r && *r ? **r : s::OrchestrationRun{};
  }

  // Step id → status.
  std::map<std::string, std::string> Steps(const std::string& id) {
    std::map<std::string, std::string> out;
    const s::OrchestrationRun r = Run(id);
    for (const auto& st : *r.steps) out[st.step_id] = st.status;
    return out;
  }
  const s::OrchestrationStepState& Step(const s::OrchestrationRun& r, const std::string& step) {
    for (const auto& st : *r.steps) {
      if (st.step_id == step) return st;
    }
    static s::OrchestrationStepState none;
    ADD_FAILURE() << "no step " << step;
    return none;
  }

  std::string Start(const std::string& plan, JsonObject fields = {}) {
    auto r = runbooks_->StartRun(plan, fields, JsonObject{{"type", "test"}});
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->id : std::string();
  }

  void Advance(std::int64_t ns) { now_ += ns; }

  std::string OpenIncident(const std::string& key, const std::string& dedup) {
    auto integ = engine_->Authenticate(key);
    EXPECT_TRUE(integ && *integ);
    engine::Event ev;
    ev.action = engine::EventAction::kTrigger;
    ev.dedup_key = dedup;
    ev.summary = "Disk full on db-1";
    ev.source = "db-1";
    ev.severity = engine::Severity::kCritical;
    auto res = engine_->IngestSync({engine::Ingestion{**integ, ev}});
    EXPECT_TRUE(res.front().status);
    return res.front().incident_id;
  }

  std::vector<std::string> TimelineKinds(const std::string& incident) {
    std::vector<std::string> out;
    auto t = engine_->store().Timeline(incident);
    EXPECT_TRUE(t);
    for (const auto& e : *t) {
      if (e.kind.starts_with("runbook")) out.push_back(e.kind + ": " + e.body);
    }
    return out;
  }

  fs::path dir_;
  std::atomic<std::int64_t> now_{kT0};
  std::unique_ptr<engine::Engine> engine_;
  workflow::MetricStore metrics_;
  workflow::Upstream upstream_;
  std::unique_ptr<workflow::Runtime> runtime_;
  std::unique_ptr<Runbooks> runbooks_;
};

TEST_P(RunbooksTest, RunbooksAreValidatedAndVersioned) {
  OpenRunbooks();
  struct Bad {
    std::string doc, error;
  };
  const std::vector<Bad> bad = {
      {R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A", "type": "invoke"}]})",
       "steps[0].with.deployment: is required"},
      {R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A", "type": "verify",
          "with": {"metric": {"key": "disk"}}}]})",
       "steps[0].with.metric.below: a verify step needs a condition"},
      {R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A", "type": "record"}]})",
       "steps[0].with.text: is required"},
      {R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A", "type": "observe",
          "with": {"deployment": "d", "step": "s", "expect": {"path": "ok"}}}]})",
       "steps[0].with.expect.path: needs a condition"},
      {R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A", "type": "manual",
          "with": {"deployment": "d"}}]})",
       "steps[0].with.deployment: unknown field"},
      {R"({"id": "y", "title": "Y", "steps": [{"id": "a", "title": "A", "type": "manual"}]})",
       "id: \"y\" is not the id in the path"},
      {R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A", "type": "manual",
          "dependsOn": ["b"]}, {"id": "b", "title": "B", "type": "manual", "dependsOn": ["a"]}]})",
       "dependsOn forms a cycle"},
  };
  for (const Bad& b : bad) {
    auto r = runbooks_->PutRunbook("x", b.doc);
    ASSERT_FALSE(r) << b.doc;
    EXPECT_THAT(r.error().message, HasSubstr(b.error)) << b.doc;
  }

  const std::string v1 = R"({"id": "x", "title": "X", "steps": [{"id": "a", "title": "A",
      "type": "manual"}]})";
  const std::string v2 = R"({"id": "x", "title": "X two", "steps": [{"id": "a", "title": "A",
      "type": "manual"}, {"id": "b", "title": "B", "type": "manual", "dependsOn": ["a"]}]})";
  EXPECT_EQ(runbooks_->PutRunbook("x", v1)->version, 1);
  EXPECT_EQ(runbooks_->PutRunbook("x", v1)->version, 1);  // unchanged: no new version
  const std::string run1 = Start("x");
  EXPECT_EQ(runbooks_->PutRunbook("x", v2)->version, 2);
  // The run keeps the version it started with; new runs take the new one.
  EXPECT_EQ(Run(run1).steps->size(), 1u);
  EXPECT_EQ(Run(run1).metadata.at("planVersion").as_int64(), 1);
  EXPECT_EQ(Run(Start("x")).steps->size(), 2u);
  ASSERT_TRUE(runbooks_->DeleteRunbook("x"));
  EXPECT_EQ(runbooks_->GetPlan("x").error().code, errc::kNotFound);
  EXPECT_EQ(runbooks_->StartRun("x", {}, {}).error().code, errc::kNotFound);
  EXPECT_EQ(Run(run1).plan->title, "X");  // runs of a deleted runbook still read
  // Back after a delete: the versions go on, so runs of the old ones keep theirs.
  EXPECT_EQ(runbooks_->PutRunbook("x", v1)->version, 3);
  auto plans = runbooks_->QueryPlans({});
  ASSERT_TRUE(plans);
  ASSERT_EQ(plans->size(), 1u);
  EXPECT_EQ((*plans)[0].version, "3");
}

TEST_P(RunbooksTest, IndependentStepsStartTogetherAndDependentsWait) {
  OpenRunbooks();
  // a → (b, c) → d: b and c run in parallel once a is done; d waits for both.
  Put(R"({"id": "dag", "title": "DAG", "steps": [
    {"id": "d", "title": "D", "type": "record", "dependsOn": ["b", "c"], "with": {"text": "d"}},
    {"id": "a", "title": "A", "type": "record", "with": {"text": "a"}},
    {"id": "b", "title": "B", "type": "record", "dependsOn": ["a"], "with": {"text": "b"}},
    {"id": "c", "title": "C", "type": "manual", "dependsOn": ["a"]}]})");
  const std::string run = Start("dag");
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(Steps(run),
            (M{{"a", "running"}, {"b", "pending"}, {"c", "pending"}, {"d", "pending"}}));
  EXPECT_EQ(Run(run).status, "running");
  // a; its result starts b and makes c wait for a person, at once (b runs in the same drain).
  EXPECT_EQ(runbooks_->RunQueued(), 2u);
  EXPECT_EQ(Step(Run(run), "b").started_at, Step(Run(run), "c").started_at);
  EXPECT_EQ(Steps(run),
            (M{{"a", "succeeded"}, {"b", "succeeded"}, {"c", "blocked"}, {"d", "pending"}}));
  EXPECT_EQ(Run(run).status, "blocked");  // only a person can move it now
  // A step that is not waiting cannot be completed; an unknown one is not found.
  EXPECT_EQ(runbooks_->CompleteStep(run, "b", "ann", "").error().code, errc::kConflict);
  EXPECT_EQ(runbooks_->CompleteStep(run, "zz", "ann", "").error().code, errc::kNotFound);
  EXPECT_EQ(runbooks_->CompleteStep("run-nope", "c", "ann", "").error().code, errc::kNotFound);
  Advance(5 * kSec);
  ASSERT_TRUE(runbooks_->CompleteStep(run, "c", "ann@example.com", "disk grown"));
  EXPECT_EQ(runbooks_->CompleteStep(run, "c", "bob", "").error().code, errc::kConflict);
  auto r = Run(run);
  EXPECT_EQ(Step(r, "c").actor, "ann@example.com");
  EXPECT_EQ(Step(r, "c").note, "disk grown");
  EXPECT_EQ(Step(r, "c").finished_at->UnixNanos(), kT0 + 5 * kSec);
  EXPECT_EQ(Step(r, "d").status, "running");  // started by the completion itself
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  r = Run(run);
  EXPECT_EQ(r.status, "completed");
  // Without an incident a record step has nowhere to write, and says so.
  EXPECT_EQ(Step(r, "d").fields.at("output").at("recorded").as_bool(), false);
}

TEST_P(RunbooksTest, InvokeCallsTheWorkflowStepAndVerifyRechecksUntilItHolds) {
  std::atomic<int> used{97};
  upstream_.server().Post("/cleanup", [&](const httplib::Request& r, httplib::Response& w) {
    upstream_.Record(r);
    used = 40;
    w.set_content(R"({"freed_gb": 12})", "application/json");
  });
  upstream_.server().Get("/disk", [&](const httplib::Request& r, httplib::Response& w) {
    upstream_.Record(r);
    w.set_content(R"({"used_pct": )" + std::to_string(used.load()) + "}", "application/json");
  });
  StartWorkflows(R"J([
    {"id": "cleanup", "url": "ctx.set_url('api', '/cleanup'); ctx.set_method('POST')",
     "payload": "local i = ctx.json.decode(ctx.body()); ctx.info('cleaning ' .. i.fields.host .. ' for ' .. i.runId); ctx.set_body(ctx.json.encode({host = i.fields.host, mode = i.input.mode}))"},
    {"id": "disk", "url": "ctx.set_url('api', '/disk')"}])J");
  OpenRunbooks();
  Put(R"({"id": "disk-full", "title": "Disk full", "steps": [
    {"id": "check", "title": "How full", "type": "verify", "interval": "1s", "timeout": "1m",
     "with": {"deployment": "ops", "step": "disk", "expect": {"path": "used_pct", "below": 80}}},
    {"id": "clean", "title": "Clean up", "type": "invoke",
     "with": {"deployment": "ops", "step": "cleanup", "input": {"mode": "logs"}}}]})");
  const std::string run = Start("disk-full", JsonObject{{"host", "db-1"}});
  EXPECT_EQ(runbooks_->RunQueued(), 2u);  // both roots start at once
  auto r = Run(run);
  // The check is not met: it waits for its interval (not counted as an attempt).
  EXPECT_EQ(Step(r, "check").status, "pending");
  EXPECT_THAT(Step(r, "check").fields.at("error").as_string().c_str(),
              HasSubstr("used_pct is 97, not below 80"));
  EXPECT_EQ(Step(r, "clean").status, "succeeded");
  const auto& out = Step(r, "clean").fields.at("output").as_object();
  EXPECT_EQ(out.at("result").at("freed_gb").as_int64(), 12);
  EXPECT_THAT(boost::json::serialize(out.at("logs")), HasSubstr("cleaning db-1 for " + run));
  // The workflow got the run's inputs and the step's `input`.
  bool posted = false;
  for (const auto& req : upstream_.Requests()) {
    posted = posted || req.find(R"(body={"host":"db-1","mode":"logs"})") != std::string::npos;
  }
  EXPECT_TRUE(posted);
  runbooks_->Sweep();  // not due yet
  EXPECT_EQ(runbooks_->RunQueued(), 0u);
  Advance(1 * kSec);
  runbooks_->Sweep();
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  r = Run(run);
  EXPECT_EQ(r.status, "completed");
  EXPECT_EQ(Step(r, "check").status, "succeeded");
  EXPECT_EQ(Step(r, "check").fields.at("attempts").as_int64(), 1);
}

TEST_P(RunbooksTest, FailurePoliciesStopContinueAndRetryWithBackOff) {
  OpenRunbooks();  // no workflow runtime: every invoke fails, saying why
  Put(R"({"id": "p", "title": "Policies", "steps": [
    {"id": "soft", "title": "Soft", "type": "invoke", "onFailure": "continue",
     "with": {"deployment": "ops", "step": "x"}},
    {"id": "after-soft", "title": "After soft", "type": "record", "dependsOn": ["soft"],
     "with": {"text": "t"}},
    {"id": "hard", "title": "Hard", "type": "invoke", "onFailure": "retry", "retries": 2,
     "retryDelay": "1s", "with": {"deployment": "ops", "step": "x"}},
    {"id": "after-hard", "title": "After hard", "type": "manual", "dependsOn": ["hard"]}]})");
  const std::string run = Start("p");
  // soft and hard, then after-soft (soft failed, but continues), which soft's result queued.
  EXPECT_EQ(runbooks_->RunQueued(), 3u);
  auto r = Run(run);
  EXPECT_EQ(Step(r, "soft").status, "failed");
  EXPECT_THAT(Step(r, "soft").fields.at("error").as_string().c_str(),
              HasSubstr("no workflow runtime"));
  EXPECT_EQ(Step(r, "after-soft").status, "succeeded");
  EXPECT_EQ(Step(r, "hard").status, "pending");  // retry 1 due after 1 s
  EXPECT_EQ(r.status, "running");
  Advance(999 * kMs);
  runbooks_->Sweep();
  EXPECT_EQ(runbooks_->RunQueued(), 0u);
  Advance(1 * kMs);
  runbooks_->Sweep();
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  Advance(2 * kSec);  // the delay doubles
  runbooks_->Sweep();
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  r = Run(run);
  EXPECT_EQ(Step(r, "hard").status, "failed");
  EXPECT_EQ(Step(r, "hard").fields.at("attempts").as_int64(), 3);
  EXPECT_EQ(Step(r, "after-hard").status, "skipped");
  EXPECT_EQ(r.status, "failed");
}

TEST_P(RunbooksTest, AResultAfterItsAttemptTimedOutChangesNothing) {
  OpenRunbooks();
  Put(R"({"id": "t", "title": "Timeout", "steps": [
    {"id": "a", "title": "A", "type": "record", "timeout": "2s", "with": {"text": "x"}}]})");
  const std::string run = Start("t");  // attempt queued, not run yet
  Advance(2 * kSec);
  runbooks_->Sweep();  // any node's sweep: the attempt timed out
  EXPECT_EQ(Step(Run(run), "a").status, "failed");
  EXPECT_EQ(runbooks_->RunQueued(), 1u);  // the late result
  auto r = Run(run);
  EXPECT_EQ(Step(r, "a").status, "failed");
  EXPECT_THAT(Step(r, "a").fields.at("error").as_string().c_str(), HasSubstr("timed out"));
  EXPECT_EQ(r.status, "failed");
}

TEST_P(RunbooksTest, MetricChecksReadWhatWorkflowsEmitted) {
  OpenRunbooks();
  Put(R"({"id": "m", "title": "Metric", "steps": [
    {"id": "v", "title": "Below 80", "type": "verify", "interval": "5s", "timeout": "12s",
     "with": {"metric": {"key": "disk.used_pct", "dimensions": {"host": "db-1"}, "below": 80}}}]})");
  // Samples are stamped with the wall clock (the metric store keeps a recent window), each
  // later than the last.
  std::int64_t stamp = Time::Now().UnixNanos() / kMs;
  const auto emit = [&](double v, const std::string& host) {
    metrics_.Add(workflow::Metric{++stamp, "disk.used_pct", v, {{"host", host}}});
  };
  emit(95, "db-1");
  emit(10, "db-2");  // another host's sample does not count
  const std::string ok = Start("m");
  const std::string late = Start("m");
  EXPECT_EQ(runbooks_->RunQueued(), 2u);
  EXPECT_THAT(Step(Run(ok), "v").fields.at("error").as_string().c_str(),
              HasSubstr("disk.used_pct is 95, not below 80"));
  Advance(5 * kSec);
  emit(60, "db-1");
  runbooks_->Sweep();
  EXPECT_EQ(runbooks_->RunQueued(), 2u);
  EXPECT_EQ(Run(ok).status, "completed");
  EXPECT_EQ(Step(Run(ok), "v").fields.at("output").at("value").to_number<double>(), 60);

  // Not met within the timeout: failed, naming the condition.
  const std::string never = Start("m");
  emit(99, "db-1");
  for (int i = 0; i < 4; ++i) {
    runbooks_->RunQueued();
    Advance(5 * kSec);
    runbooks_->Sweep();
  }
  runbooks_->RunQueued();
  auto r = Run(never);
  EXPECT_EQ(r.status, "failed");
  EXPECT_THAT(Step(r, "v").fields.at("error").as_string().c_str(), HasSubstr("not met within"));
  (void)late;
}

TEST_P(RunbooksTest, RunsForAnIncidentAreOnItsTimeline) {
  OpenRunbooks();
  Put(R"({"id": "disk-full", "title": "Disk full", "steps": [
    {"id": "approve", "title": "Approve", "type": "manual"},
    {"id": "note", "title": "Note", "type": "record", "dependsOn": ["approve"],
     "with": {"text": "Cleanup approved for {incidentId} in {runId}"}}]})");
  // The service names the runbook: a new incident starts it, in the same transaction.
  const std::string inc = OpenIncident("db-routing-key-0000000001", "disk-db-1");
  ASSERT_FALSE(inc.empty());
  auto runs = runbooks_->QueryRuns({});
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  const std::string auto_run = (*runs)[0].id;
  EXPECT_EQ((*runs)[0].status, "created");
  EXPECT_EQ((*runs)[0].fields.at("incidentId").as_string(), inc);
  EXPECT_EQ((*runs)[0].scope.service, "svc-db");
  runbooks_->Sweep();
  EXPECT_EQ(Run(auto_run).status, "blocked");
  // A repeat of the event deduplicates: no second run.
  EXPECT_EQ(OpenIncident("db-routing-key-0000000001", "disk-db-1"), inc);
  EXPECT_EQ(runbooks_->QueryRuns({})->size(), 1u);
  // A service without runbooks starts none.
  const std::string web = OpenIncident("web-routing-key-000000001", "web-5xx");
  EXPECT_EQ(runbooks_->QueryRuns({})->size(), 1u);

  // By hand, against another incident.
  const std::string manual = Start("disk-full", JsonObject{{"incidentId", web}, {"reason", "x"}});
  EXPECT_EQ(
      runbooks_->StartRun("disk-full", JsonObject{{"incidentId", "inc-999"}}, {}).error().code,
      errc::kBadRequest);
  ASSERT_TRUE(runbooks_->CompleteStep(manual, "approve", "ann", ""));
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  EXPECT_EQ(Run(manual).status, "completed");
  EXPECT_THAT(TimelineKinds(web),
              ::testing::ElementsAre(
                  "runbook_started: Runbook \"Disk full\" started (" + manual + ")",
                  "runbook_note: Cleanup approved for " + web + " in " + manual,
                  "runbook_completed: Runbook \"Disk full\" completed (" + manual + ")"));
  EXPECT_THAT(TimelineKinds(inc), ::testing::ElementsAre("runbook_started: Runbook \"Disk full\" "
                                                         "started (" +
                                                         auto_run + ")"));
  // Filters of the run query.
  s::OrchestrationRunQuery q;
  q.statuses = {"blocked"};
  EXPECT_EQ(runbooks_->QueryRuns(q)->size(), 1u);
  q.statuses = {};
  q.scope.service = "svc-web";
  ASSERT_EQ(runbooks_->QueryRuns(q)->size(), 1u);
  EXPECT_EQ(runbooks_->QueryRuns(q)->front().id, manual);
  // Cancelled: the waiting step is skipped.
  ASSERT_TRUE(runbooks_->CancelRun(auto_run, "ann"));
  EXPECT_EQ(Run(auto_run).status, "cancelled");
  EXPECT_EQ(runbooks_->CancelRun(auto_run, "ann").error().code, errc::kConflict);
  EXPECT_EQ(runbooks_->CompleteStep(auto_run, "approve", "ann", "").error().code, errc::kConflict);
}

TEST_P(RunbooksTest, AResultOfACancelledRunIsNotKeptNorWritten) {
  OpenRunbooks();
  Put(R"({"id": "c", "title": "Cancel", "steps": [
    {"id": "note", "title": "Note", "type": "record", "with": {"text": "should not appear"}},
    {"id": "after", "title": "After", "type": "manual", "dependsOn": ["note"]}]})");
  const std::string inc = OpenIncident("web-routing-key-000000001", "cancel-me");
  const std::string run = Start("c", JsonObject{{"incidentId", inc}});  // note: claimed, queued
  ASSERT_TRUE(runbooks_->CancelRun(run, "ann"));
  EXPECT_EQ(runbooks_->RunQueued(), 1u);  // the attempt's result arrives after the cancel
  const auto r = Run(run);
  EXPECT_EQ(r.status, "cancelled");
  EXPECT_EQ(Step(r, "note").status, "skipped");
  EXPECT_EQ(Step(r, "after").status, "skipped");
  EXPECT_EQ(Step(r, "note").fields.if_contains("output"), nullptr);
  for (const auto& e : TimelineKinds(inc))
    EXPECT_EQ(e.find("should not appear"), std::string::npos);
}

TEST_P(RunbooksTest, ARunWhoseIncidentIsGoneStillFinishes) {
  OpenRunbooks();
  Put(R"({"id": "g", "title": "Gone", "steps": [
    {"id": "note", "title": "Note", "type": "record", "with": {"text": "x"}}]})");
  const std::string run =
      Start("g", JsonObject{{"incidentId", OpenIncident("web-routing-key-000000001", "gone")}});
  // Retention removes resolved incidents with their timelines; here the incident row goes.
  ASSERT_TRUE(engine_->store().Write([&](engine::Tx& tx) -> Status {
    auto inc = tx.GetIncidentForUpdate(Run(run).fields.at("incidentId").as_string());
    if (!inc || !*inc) return Fail(errc::kInternal, "no incident");
    engine::IncidentRow row = **inc;
    row.status = "resolved";
    row.resolved_at = 1;
    return tx.UpdateIncident(row);
  }));
  ASSERT_TRUE(engine_->store().DeleteExpired(kT0 + 1000 * kSec, 0));
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  EXPECT_EQ(Run(run).status, "completed");
}

// The runner's own threads (executors and the sweep), as `opsorch serve` runs them: runs started
// together finish by themselves, retries included; Stop while attempts are queued hands them
// back, and a new runner finishes them.
TEST_P(RunbooksTest, TheRunnerFinishesRunsByItselfAndAStopHandsQueuedWorkBack) {
  std::atomic<int> calls{0};
  upstream_.server().Post("/cleanup", [&](const httplib::Request& r, httplib::Response& w) {
    ++calls;
    // Every step's first attempt fails: the retry policy runs it again.
    w.status = r.body.find(R"("attempt":1,)") != std::string::npos ? 503 : 200;
    w.set_content(R"({"freed_gb": 1})", "application/json");
  });
  StartWorkflows(
      R"J([{"id": "cleanup", "url": "ctx.set_url('api', '/cleanup'); ctx.set_method('POST')",
    "payload": "ctx.set_body(ctx.body())",
    "results": "if ctx.status() ~= 200 then error('HTTP ' .. ctx.status(), 0) end"}])J");
  OpenRunbooks(/*runner=*/true);
  Put(R"({"id": "auto", "title": "Auto", "steps": [
    {"id": "a", "title": "A", "type": "invoke", "onFailure": "retry", "retries": 3,
     "retryDelay": "100ms", "with": {"deployment": "ops", "step": "cleanup"}},
    {"id": "b", "title": "B", "type": "invoke", "dependsOn": ["a"], "onFailure": "retry",
     "retries": 3, "retryDelay": "100ms", "with": {"deployment": "ops", "step": "cleanup"}},
    {"id": "c", "title": "C", "type": "record", "dependsOn": ["b"], "with": {"text": "done"}}]})");
  // The engine's clock is the test's; the runner waits on the real one: keep them together.
  std::atomic<bool> ticking{true};
  std::thread tick([&] {
    while (ticking) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      now_ += 5 * kMs;
    }
  });
  std::vector<std::string> runs;
  for (int i = 0; i < 20; ++i) runs.push_back(Start("auto"));
  const auto all_completed = [&] {
    for (const auto& r : runs) {
      if (Run(r).status != "completed") return false;
    }
    return true;
  };
  // Waits up to 10 s; a run that did not complete is shown with its steps and their errors.
  const auto ExpectAllCompleted = [&] {
    for (int i = 0; i < 500 && !all_completed(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const auto& r : runs) {
      const auto run = Run(r);
      if (run.status == "completed") continue;
      std::string why = run.status;
      for (const auto& st : *run.steps) {
        why += " " + st.step_id + "=" + st.status;
        if (const auto* e = st.fields.if_contains("error")) {
          why += "(" + std::string(e->as_string()) + ")";
        }
      }
      ADD_FAILURE() << r << ": " << why;
      return;
    }
  };
  ExpectAllCompleted();
  // Stop with work queued: 30 runs started, the runner stopped at once.
  std::vector<std::string> more;
  for (int i = 0; i < 30; ++i) more.push_back(Start("auto"));
  runbooks_->Stop();
  for (const auto& r : more) {
    const auto run = Run(r);
    for (const auto& st : *run.steps) {
      // Nothing is left claimed (running) by the stopped runner: finished, or pending again.
      EXPECT_NE(st.status, "running") << r << " " << st.step_id;
    }
  }
  runbooks_.reset();
  OpenRunbooks(/*runner=*/true);
  runs = more;
  ExpectAllCompleted();
  EXPECT_EQ(calls.load(), 50 * 4);  // two invoke steps per run, each failing once
  ticking = false;
  tick.join();
}

TEST_P(RunbooksTest, EndedRunsAreDeletedAfterTheRetentionWaitingOnesAreKept) {
  OpenRunbooks();  // retention: 90 days
  Put(R"({"id": "r", "title": "R", "steps": [
    {"id": "note", "title": "Note", "type": "record", "with": {"text": "x"}}]})");
  Put(R"({"id": "w", "title": "W", "steps": [{"id": "ok", "title": "OK", "type": "manual"}]})");
  const std::string ended = Start("r");
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  const std::string waiting = Start("w");
  Advance(89LL * 24 * 3600 * kSec);
  EXPECT_EQ(*runbooks_->RunRetention(), 0u);
  Advance(2LL * 24 * 3600 * kSec);
  EXPECT_EQ(*runbooks_->RunRetention(), 1u);
  EXPECT_EQ(runbooks_->GetRun(ended).error().code, errc::kNotFound);
  EXPECT_EQ(Run(waiting).status, "blocked");
}

TEST_P(RunbooksTest, AMetricSampleOlderThanMaxAgeDoesNotCount) {
  OpenRunbooks();
  Put(R"({"id": "m", "title": "M", "steps": [
    {"id": "v", "title": "V", "type": "verify", "interval": "1s", "timeout": "1m",
     "with": {"metric": {"key": "q", "below": 10, "maxAge": "30s"}}}]})");
  now_ = Time::Now().UnixNanos();  // samples are stamped with the wall clock
  metrics_.Add(workflow::Metric{now_ / kMs - 31'000, "q", 1, {}});
  const std::string run = Start("m");
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  EXPECT_THAT(Step(Run(run), "v").fields.at("error").as_string().c_str(),
              HasSubstr("no sample of q in the last 30s"));
  metrics_.Add(workflow::Metric{now_ / kMs, "q", 1, {}});
  Advance(1 * kSec);
  runbooks_->Sweep();
  EXPECT_EQ(runbooks_->RunQueued(), 1u);
  EXPECT_EQ(Run(run).status, "completed");
}

TEST_P(RunbooksTest, AServiceNamingAMissingRunbookSaysSoOnTheTimeline) {
  OpenRunbooks();  // disk-full is not uploaded
  const std::string inc = OpenIncident("db-routing-key-0000000001", "k1");
  EXPECT_THAT(TimelineKinds(inc),
              ::testing::ElementsAre(
                  "runbook_missing: Runbook disk-full named by service svc-db does not exist"));
}

INSTANTIATE_TEST_SUITE_P(Stores, RunbooksTest, ::testing::ValuesIn(engine::TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace opsorch::orchestration
