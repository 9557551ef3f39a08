// Workflows that raise incidents: the configuration's expectations evaluated on what processors
// emit, in a real runtime (script workers, redaction, reloads), with the Events v2 events
// delivered to a loopback receiver or to the local sink. Time is the injected clock; only the
// deliveries, which are asynchronous by design, are waited for.
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/log/log.h>
#include <opsorch/workflow/config.h>
#include <opsorch/workflow/expectation.h>
#include <opsorch/workflow/runtime.h>

#include "support/http_client.h"
#include "support/server_process.h"
#include "test_paths.h"
#include "workflow/runtime/upstream.h"

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

constexpr std::int64_t kT0 = 1763683200000;  // 2025-11-21T00:00:00Z
constexpr std::int64_t kSecond = 1000;
// A literal routing key (not a ${VAR}): the bootstrap must treat it as a secret all the same.
constexpr std::string_view kRoutingKey = "R0UTING-key-0123456789abcdef";

// A loopback Events v2 receiver that records bodies and answers the statuses it is given, in
// order (202 once they are used up).
class Receiver {
 public:
  Receiver() {
    upstream_.server().Post("/v2/enqueue", [this](const httplib::Request& r, httplib::Response& w) {
      int status = 202;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !held_; });
        bodies_.push_back(r.body);
        if (!statuses_.empty()) {
          status = statuses_.front();
          statuses_.pop_front();
        }
      }
      cv_.notify_all();
      w.status = status;
      w.set_content(status == 202 ? R"({"status":"success"})" : R"({"status":"invalid event"})",
                    "application/json");
    });
  }
  ~Receiver() { Release(); }

  std::string url() const { return upstream_.url() + "/v2/enqueue"; }
  void Answer(std::initializer_list<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_.assign(statuses);
  }
  // Requests wait until Release (a slow receiver).
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }
  std::vector<std::string> Bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  // True once at least n requests arrived (deliveries are asynchronous), false after 10 s.
  bool WaitFor(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return bodies_.size() >= n; });
  }

 private:
  Upstream upstream_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> bodies_;
  std::deque<int> statuses_;
  bool held_ = false;
};

JsonObject Parse(const std::string& body) {
  auto v = ParseJson(body);
  EXPECT_TRUE(v && v->is_object()) << body;
  return v && v->is_object() ? v->get_object() : JsonObject{};
}

std::string Str(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string("<none>");
}

// The value of one series in Prometheus text, or -1.
double SeriesValue(const std::string& text, const std::string& series) {
  const std::size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

class IncidentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("opsorch-inc");
    log::SetSinkForTest([this](std::string_view line) {
      std::lock_guard lock(mu_);
      local_logs_ += std::string(line) + "\n";
    });
  }
  void TearDown() override {
    runtime_.reset();
    log::SetSinkForTest(nullptr);
    fs::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
  }

  // One workflow whose step emits queue.depth{queue=jobs} = its body, and `expectations`.
  void WriteConfig(const std::string& expectations, const std::string& comment = "") {
    Write("wf.json", R"J({"comment": ")J" + comment + R"J(", "workflows": [{"name": "w", "steps": [
        {"id": "depth", "results": "ctx.metric('queue.depth', tonumber(ctx.body()), {queue = 'jobs'})"},
        {"id": "many", "results": "local n = tonumber(ctx.body()) for i = 1, n do ctx.metric('queue.depth', 500, {queue = ctx.property('prefix') .. i}) end"},
        {"id": "echo", "results": "ctx.warn('said ' .. ctx.body()); ctx.metric('echo', 1, {said = ctx.body()})"},
        {"id": "chatty", "results": "for i = 1, tonumber(ctx.body()) do ctx.info('line ' .. i) end"},
        {"id": "fails", "results": ["ctx.info('about to fail')", "error('broken', 0)"]}]}],
      "expectations": )J" +
                         expectations + "}");
  }

  // A bootstrap with deployment "d"; `incidents` is the section's JSON text (empty: none).
  std::string Bootstrap(const std::string& incidents) {
    return R"J({"deployments": [{"id": "d", "config": {"file": "wf.json"}, "persistence_dir": "state")J" +
           (incidents.empty() ? "" : R"J(, "incidents": )J" + incidents) + "}]}";
  }
  std::string ToReceiver(const std::string& extra = "") {
    return R"J({"routing_key": ")J" + std::string(kRoutingKey) + R"J(", "url": ")J" +
           receiver_.url() + R"J(", "allow_private": true)J" + extra + "}";
  }

  Result<std::unique_ptr<Runtime>> Start(const std::string& bootstrap, IncidentSink sink = {}) {
    Write("boot.json", bootstrap);
    auto b = LoadBootstrap((dir_ / "boot.json").string(),
                           [](const std::string&) -> std::optional<std::string> { return {}; });
    if (!b) return Fail(b.error());
    RuntimeOptions o;
    o.scripts.worker_path = OPSORCH_SCRIPT_WORKER;
    o.start_triggers = false;
    o.use_outputs = true;
    o.threads = 2;
    o.now_ms = [this] { return now_.load(); };
    o.incident_sink = std::move(sink);
    o.observer.on_log = [this](std::string_view, const LogLine& l) {
      std::lock_guard lock(mu_);
      observed_logs_ += l.level + ": " + l.message + "\n";
    };
    return Runtime::Start(std::move(*b), std::move(o));
  }
  void StartOk(const std::string& bootstrap, IncidentSink sink = {}) {
    auto r = Start(bootstrap, std::move(sink));
    ASSERT_TRUE(r) << r.error().message;
    runtime_ = std::move(*r);
  }

  // The step "depth" with `value`, at kT0 + `at_s` seconds.
  void Sample(double value, std::int64_t at_s) {
    now_ = kT0 + at_s * kSecond;
    Message m;
    m.body = std::to_string(value);
    auto r = runtime_->RunStep("d", "depth", std::move(m));
    ASSERT_TRUE(r) << r.error().message;
  }

  static std::string JobsDedupKey() {
    Metric m;
    m.key = "queue.depth";
    m.dimensions = {{"queue", "jobs"}};
    return DedupKey("d", m);
  }

  std::string Metrics() { return runtime_->RenderMetrics(); }
  double Events(const std::string& result) {
    return SeriesValue(
        Metrics(),
        "opsorch_workflow_incident_events_total{deployment=\"d\",result=\"" + result + "\"}");
  }
  double Transitions(const std::string& transition) {
    return SeriesValue(
        Metrics(), "opsorch_workflow_expectation_transitions_total{deployment=\"d\",transition=\"" +
                       transition + "\"}");
  }
  std::string LocalLogs() {
    std::lock_guard lock(mu_);
    return local_logs_;
  }
  std::string ObservedLogs() {
    std::lock_guard lock(mu_);
    return observed_logs_;
  }

  fs::path dir_;
  Receiver receiver_;
  std::atomic<std::int64_t> now_{kT0};
  std::mutex mu_;
  std::string local_logs_, observed_logs_;
  std::unique_ptr<Runtime> runtime_;
};

const std::string kQueueDepth =
    R"J([{"metric": "queue.depth", "dimensions": {"queue": "jobs"}, "above": 100, "for": "1m",
         "clear_for": "2m", "severity": "critical", "summary": "queue {queue} holds {value} jobs"}])J";

TEST_F(IncidentsTest, HeldBreachTriggersOnceAndHeldClearResolves) {
  WriteConfig(kQueueDepth);
  StartOk(Bootstrap(ToReceiver()));
  Sample(120, 0);  // the breach begins
  Sample(130, 30);
  EXPECT_EQ(Transitions("trigger"), 0);
  Sample(125, 60);  // held for `for`: the incident opens
  ASSERT_TRUE(receiver_.WaitFor(1));
  Sample(140, 90);  // still firing: nothing new
  Sample(160, 150);
  Sample(50, 200);  // back in bounds …
  Sample(40, 260);  // … for 60 s of the 120 s clear_for
  EXPECT_EQ(Transitions("resolve"), 0);
  Sample(30, 320);  // clear held: resolved
  ASSERT_TRUE(receiver_.WaitFor(2));
  runtime_->Stop();  // flushes: anything else queued would arrive now

  const auto bodies = receiver_.Bodies();
  ASSERT_EQ(bodies.size(), 2u);
  const JsonObject trigger = Parse(bodies[0]);
  EXPECT_EQ(Str(trigger, "event_action"), "trigger");
  EXPECT_EQ(Str(trigger, "routing_key"), kRoutingKey);
  EXPECT_EQ(Str(trigger, "dedup_key"), JobsDedupKey());
  EXPECT_THAT(Str(trigger, "dedup_key"), HasSubstr("wf-d-queue.depth-"));
  const JsonObject payload = trigger.at("payload").as_object();
  EXPECT_EQ(Str(payload, "summary"), "queue jobs holds 125 jobs");
  EXPECT_EQ(Str(payload, "source"), "d");
  EXPECT_EQ(Str(payload, "severity"), "critical");
  EXPECT_EQ(Str(payload, "timestamp"), "2025-11-21T00:01:00Z");
  const JsonObject details = payload.at("custom_details").as_object();
  EXPECT_EQ(Str(details, "metric"), "queue.depth");
  EXPECT_EQ(details.at("value").to_number<double>(), 125);
  EXPECT_EQ(Str(details.at("dimensions").as_object(), "queue"), "jobs");
  EXPECT_EQ(Str(details, "deployment"), "d");
  const JsonObject declared = details.at("expectation").as_object();
  EXPECT_EQ(declared.at("above").to_number<double>(), 100);
  EXPECT_EQ(Str(declared, "for"), "1m");
  EXPECT_EQ(Str(declared, "clear_for"), "2m");

  const JsonObject resolve = Parse(bodies[1]);
  EXPECT_EQ(Str(resolve, "event_action"), "resolve");
  EXPECT_EQ(Str(resolve, "dedup_key"), JobsDedupKey());
  EXPECT_EQ(Str(resolve, "routing_key"), kRoutingKey);

  EXPECT_EQ(Transitions("trigger"), 1);
  EXPECT_EQ(Transitions("resolve"), 1);
  EXPECT_EQ(Events("sent"), 2);
  EXPECT_EQ(Events("failed"), 0);
  EXPECT_EQ(Events("dropped"), 0);
  EXPECT_EQ(SeriesValue(Metrics(), "opsorch_workflow_expectation_series{deployment=\"d\"}"), 1);
}

TEST_F(IncidentsTest, ABreachThatDoesNotHoldAndAClearThatDoesNotHoldSendNothing) {
  WriteConfig(kQueueDepth);
  StartOk(Bootstrap(ToReceiver()));
  // Flapping before `for` elapsed: each return to bounds starts the breach over.
  Sample(120, 0);
  Sample(90, 40);
  Sample(120, 50);
  Sample(90, 100);
  Sample(150, 105);
  Sample(80, 160);
  EXPECT_EQ(Transitions("trigger"), 0);
  // Held this time: one trigger.
  Sample(120, 200);
  Sample(120, 260);
  ASSERT_TRUE(receiver_.WaitFor(1));
  // Flapping before `clear_for` elapsed: each breach starts the clear over, and the open
  // incident is neither resolved nor triggered again.
  Sample(50, 300);
  Sample(150, 400);
  Sample(50, 410);
  Sample(150, 520);
  Sample(50, 600);
  Sample(50, 700);
  runtime_->Stop();
  const auto bodies = receiver_.Bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(Str(Parse(bodies[0]), "event_action"), "trigger");
  EXPECT_EQ(Transitions("resolve"), 0);
}

TEST_F(IncidentsTest, A500IsRetriedAndTheEventDeliveredOnce) {
  receiver_.Answer({500});
  WriteConfig(
      R"J([{"metric": "queue.depth", "above": 100, "comment": "no for: the first breach counts"}])J");
  StartOk(Bootstrap(ToReceiver()));
  Sample(120, 0);
  ASSERT_TRUE(receiver_.WaitFor(2));
  runtime_->Stop();
  const auto bodies = receiver_.Bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0], bodies[1]);  // the same event, the same dedup key
  EXPECT_EQ(Str(Parse(bodies[1]), "dedup_key"), JobsDedupKey());
  EXPECT_TRUE(Parse(bodies[1]).at("payload").is_object());
  EXPECT_EQ(Events("sent"), 1);
  EXPECT_EQ(Events("failed"), 0);
  EXPECT_EQ(Events("dropped"), 0);
  EXPECT_THAT(LocalLogs(), HasSubstr("delivered at attempt 2"));
}

TEST_F(IncidentsTest, A400IsDroppedAndCountedAndTheKeyIsNeverShown) {
  receiver_.Answer({400});
  WriteConfig(R"J([{"metric": "echo", "above": 0}])J");
  StartOk(Bootstrap(ToReceiver()));
  // The processor says the routing key out loud (in a log line and a metric dimension): the
  // bootstrap made it a secret, so it is masked everywhere.
  Message m;
  m.body = std::string(kRoutingKey);
  ASSERT_TRUE(runtime_->RunStep("d", "echo", std::move(m)));
  ASSERT_TRUE(receiver_.WaitFor(1));
  runtime_->Stop();
  ASSERT_EQ(receiver_.Bodies().size(), 1u);  // a 400 is not retried
  EXPECT_EQ(Str(Parse(receiver_.Bodies()[0]), "routing_key"), kRoutingKey);
  EXPECT_EQ(Events("dropped"), 1);
  EXPECT_EQ(Events("sent"), 0);
  EXPECT_EQ(Events("failed"), 0);
  EXPECT_THAT(LocalLogs(), HasSubstr("refused (HTTP 400): dropped"));
  EXPECT_THAT(ObservedLogs(), HasSubstr("said [redacted]"));
  EXPECT_THAT(Metrics(), Not(HasSubstr(kRoutingKey)));
  EXPECT_THAT(LocalLogs(), Not(HasSubstr(kRoutingKey)));
  EXPECT_THAT(ObservedLogs(), Not(HasSubstr(kRoutingKey)));
}

TEST_F(IncidentsTest, FailuresAreRetriedFiveTimesThenCountedAsFailed) {
  receiver_.Answer({503, 503, 429, 502, 500, 202});
  WriteConfig(R"J([{"metric": "queue.depth", "above": 100}])J");
  StartOk(Bootstrap(ToReceiver()));
  Sample(120, 0);
  ASSERT_TRUE(receiver_.WaitFor(5));
  runtime_->Stop();
  EXPECT_EQ(receiver_.Bodies().size(), 5u);  // 250 + 500 + 1000 + 2000 ms apart, then given up
  EXPECT_EQ(Events("failed"), 1);
  EXPECT_EQ(Events("sent"), 0);
  EXPECT_THAT(LocalLogs(), HasSubstr("failed after 5 attempts (HTTP 500)"));
}

// A receiver down for longer than the retries: the series' next sample, still breaching, sends
// the trigger again, and it is delivered; nothing more once it was.
TEST_F(IncidentsTest, AnUndeliveredTriggerIsSentAgainWithTheSeriesNextSample) {
  receiver_.Answer({503, 503, 503, 503, 503, 202});
  WriteConfig(R"J([{"metric": "queue.depth", "above": 100}])J");
  StartOk(Bootstrap(ToReceiver()));
  Sample(120, 0);
  ASSERT_TRUE(receiver_.WaitFor(5));
  // Given up: counted as failed once the fifth answer is in.
  for (int i = 0; i < 200 && Events("failed") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Events("failed"), 1);
  Sample(130, 1);  // still breaching: no transition, but the trigger goes again
  ASSERT_TRUE(receiver_.WaitFor(6));
  Sample(140, 2);  // delivered now: nothing more
  runtime_->Stop();
  const auto bodies = receiver_.Bodies();
  ASSERT_EQ(bodies.size(), 6u);
  EXPECT_EQ(Str(Parse(bodies[5]), "event_action"), "trigger");
  EXPECT_EQ(Str(Parse(bodies[5]), "dedup_key"), Str(Parse(bodies[0]), "dedup_key"));
  EXPECT_EQ(Events("sent"), 1);
  EXPECT_EQ(Transitions("trigger"), 1);
}

TEST_F(IncidentsTest, LoopbackReceiversNeedAllowPrivate) {
  WriteConfig(R"J([{"metric": "queue.depth", "above": 100}])J");
  StartOk(Bootstrap(R"J({"routing_key": "k-123456", "url": ")J" + receiver_.url() + R"J("})J"));
  Sample(120, 0);
  runtime_->Stop();
  EXPECT_TRUE(receiver_.Bodies().empty());
  EXPECT_EQ(Events("failed"), 1);
  EXPECT_THAT(LocalLogs(), HasSubstr("address denied (loopback)"));
}

TEST_F(IncidentsTest, WithoutAUrlTheLocalSinkGetsTheEvents) {
  std::mutex mu;
  std::vector<std::string> got;
  WriteConfig(R"J([{"metric": "queue.depth", "above": 100, "clear_for": "10s"}])J");
  StartOk(Bootstrap(R"J({"routing_key": "local-key-4711", "source": "budget-agent"})J"),
          [&](std::string body, std::function<void(int)> done) {
            {
              std::lock_guard lock(mu);
              got.push_back(std::move(body));
            }
            // Answered from another thread, as the engine does, 30 ms later.
            std::thread([done = std::move(done)] {
              std::this_thread::sleep_for(std::chrono::milliseconds(30));
              done(202);
            }).detach();
          });
  Sample(120, 0);
  Sample(20, 5);
  Sample(20, 15);
  runtime_->Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(got.size(), 2u);
  const JsonObject trigger = Parse(got[0]);
  EXPECT_EQ(Str(trigger, "event_action"), "trigger");
  EXPECT_EQ(Str(trigger, "routing_key"), "local-key-4711");
  EXPECT_EQ(Str(trigger.at("payload").as_object(), "source"), "budget-agent");
  EXPECT_EQ(Str(Parse(got[1]), "event_action"), "resolve");
  EXPECT_EQ(Str(Parse(got[1]), "dedup_key"), Str(trigger, "dedup_key"));
  EXPECT_TRUE(receiver_.Bodies().empty());
  EXPECT_EQ(Events("sent"), 2);
  // The time from the transition to the acceptance: both took the sink's 30 ms.
  const std::string m = Metrics();
  const std::string h = "opsorch_workflow_incident_event_seconds";
  EXPECT_EQ(SeriesValue(m, h + "_count{deployment=\"d\"}"), 2);
  EXPECT_EQ(SeriesValue(m, h + "_bucket{deployment=\"d\",le=\"0.02\"}"), 0);
  EXPECT_EQ(SeriesValue(m, h + "_bucket{deployment=\"d\",le=\"0.25\"}"), 2);
  EXPECT_GE(SeriesValue(m, h + "_sum{deployment=\"d\"}"), 0.06);
}

TEST_F(IncidentsTest, WithoutAUrlOrALocalSinkTheStartIsRefused) {
  WriteConfig(kQueueDepth);
  auto r = Start(Bootstrap(R"J({"routing_key": "local-key-4711"})J"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message,
              HasSubstr("boot.json: deployments[0].incidents.url: required outside opsorch serve"));
}

TEST_F(IncidentsTest, WithoutAnIncidentsSectionTransitionsAreCountedNotSent) {
  WriteConfig(R"J([{"metric": "queue.depth", "above": 100}])J");
  StartOk(Bootstrap(""));
  Sample(120, 0);
  runtime_->Stop();
  EXPECT_EQ(Transitions("trigger"), 1);
  EXPECT_EQ(Events("sent"), 0);
  EXPECT_EQ(Events("dropped"), 0);
  EXPECT_TRUE(receiver_.Bodies().empty());
  EXPECT_THAT(LocalLogs(), HasSubstr("no incidents section"));
}

TEST_F(IncidentsTest, AReloadKeepsTheStateOfUnchangedExpectations) {
  WriteConfig(kQueueDepth);
  StartOk(Bootstrap(ToReceiver()));
  Sample(120, 0);
  Sample(120, 60);
  ASSERT_TRUE(receiver_.WaitFor(1));
  // The same declaration (another comment, summary and severity): the open incident stays open
  // and its clear goes on.
  WriteConfig(R"J([{"metric": "queue.depth", "dimensions": {"queue": "jobs"}, "above": 100,
                    "for": "1m", "clear_for": "2m", "severity": "warning"}])J",
              "reloaded");
  runtime_->PollNow();
  EXPECT_EQ(runtime_->Stats().reloads, 1u);
  Sample(50, 100);
  WriteConfig(R"J([{"metric": "queue.depth", "dimensions": {"queue": "jobs"}, "above": 100,
                    "for": "1m", "clear_for": "2m", "summary": "again"}])J",
              "reloaded again");
  runtime_->PollNow();
  Sample(50, 220);  // clear held across both reloads: resolved, no second trigger
  ASSERT_TRUE(receiver_.WaitFor(2));
  EXPECT_EQ(Str(Parse(receiver_.Bodies()[1]), "event_action"), "resolve");

  // A changed declaration starts afresh: the incident its predecessor opened is resolved.
  Sample(120, 300);
  Sample(120, 360);
  ASSERT_TRUE(receiver_.WaitFor(3));
  WriteConfig(R"J([{"metric": "queue.depth", "above": 1000}])J", "changed");
  runtime_->PollNow();
  ASSERT_TRUE(receiver_.WaitFor(4));
  Sample(120, 420);  // within the new bounds: nothing
  runtime_->Stop();
  const auto bodies = receiver_.Bodies();
  ASSERT_EQ(bodies.size(), 4u);
  EXPECT_EQ(Str(Parse(bodies[2]), "event_action"), "trigger");
  EXPECT_EQ(Str(Parse(bodies[3]), "event_action"), "resolve");
  EXPECT_EQ(Str(Parse(bodies[3]), "dedup_key"), JobsDedupKey());
}

TEST_F(IncidentsTest, SeriesAreBoundedPerDeployment) {
  WriteConfig(R"J([{"metric": "queue.depth", "below": -1}])J");  // tracked, never breached
  StartOk(Bootstrap(ToReceiver()));
  Message first;
  first.body = "10000";
  first.properties["prefix"] = "a";
  ASSERT_TRUE(runtime_->RunStep("d", "many", std::move(first)));
  Message more;
  more.body = "5";
  more.properties["prefix"] = "b";
  ASSERT_TRUE(runtime_->RunStep("d", "many", std::move(more)));
  const std::string text = Metrics();
  EXPECT_EQ(SeriesValue(text, "opsorch_workflow_expectation_series{deployment=\"d\"}"), 10000);
  EXPECT_EQ(
      SeriesValue(text, "opsorch_workflow_expectation_untracked_samples_total{deployment=\"d\"}"),
      5);
}

TEST_F(IncidentsTest, AFullQueueDropsAndCounts) {
  receiver_.Hold();  // the first delivery hangs: the queue fills behind it
  WriteConfig(R"J([{"metric": "queue.depth", "above": 100}])J");
  StartOk(Bootstrap(ToReceiver()));
  Message m;
  m.body = "1100";
  m.properties["prefix"] = "q";
  ASSERT_TRUE(runtime_->RunStep("d", "many", std::move(m)));  // 1,100 series breach at once
  EXPECT_EQ(Transitions("trigger"), 1100);
  EXPECT_GE(Events("dropped"), 99);
  receiver_.Release();
  runtime_->Stop();
  EXPECT_EQ(Events("sent") + Events("failed") + Events("dropped"), 1100);
}

TEST_F(IncidentsTest, RunStepHandsBackTheCallsLogLines) {
  WriteConfig("[]");
  StartOk(Bootstrap(""));
  std::vector<LogLine> logs;
  Message m;
  m.body = "3";
  ASSERT_TRUE(runtime_->RunStep("d", "chatty", std::move(m), &logs));
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs[0].message, "line 1");
  EXPECT_EQ(logs[0].level, "info");
  EXPECT_EQ(logs[0].context.at("step"), "chatty");
  std::vector<LogLine> failed;
  EXPECT_FALSE(runtime_->RunStep("d", "fails", {}, &failed));
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].message, "about to fail");
  EXPECT_THAT(failed[1].message, HasSubstr("step fails failed"));
  std::vector<LogLine> capped;
  m.body = "300";
  ASSERT_TRUE(runtime_->RunStep("d", "chatty", std::move(m), &capped));
  EXPECT_EQ(capped.size(), 200u);
  // Without a buffer nothing is captured (and the previous one is not written to).
  m.body = "2";
  ASSERT_TRUE(runtime_->RunStep("d", "chatty", std::move(m)));
  EXPECT_EQ(capped.size(), 200u);
}

// ---- opsorch serve: the local engine takes the events ----

TEST(IncidentsServeTest, AWorkflowOpensAnIncidentInTheServersOwnEngine) {
  const fs::path dir = FreshTestDir("opsorch-inc-serve");
  std::ofstream(dir / "seed.json") << R"J({"services": [{"id": "svc-budget", "name": "Budget",
      "integrations": [{"id": "budget-events", "kind": "events_v2",
                        "key": "wf-routing-key-0000000000000001"}]}]})J";
  std::ofstream(dir / "boot.json") << R"J({"deployments": [{"id": "budget",
      "config": {"file": "wf.json"}, "persistence_dir": "state",
      "incidents": {"routing_key": "wf-routing-key-0000000000000001"}}]})J";
  std::ofstream(dir / "wf.json") << R"J({"workflows": [{"name": "w", "steps": [{"id": "check",
      "trigger": {"once": true},
      "results": "ctx.metric('project.within_budget', 0, {project = 'gemini'})"}]}],
    "expectations": [{"metric": "project.within_budget", "below": 1, "severity": "error",
                      "summary": "{project} is over budget"}]})J";
  std::string error;
  auto server = opsorch::testing::ServerProcess::Start(
      {{"OPSORCH_WORKFLOW_BOOTSTRAP", (dir / "boot.json").string()},
       {"OPSORCH_DATA_DIR", (dir / "data").string()},
       {"OPSORCH_INCIDENT_PROVIDER", "local"},
       {"OPSORCH_ENGINE_SEED", (dir / "seed.json").string()},
       {"OPSORCH_SCRIPT_WORKER", OPSORCH_SCRIPT_WORKER}},
      {}, dir / "server.log", &error);
  ASSERT_TRUE(server) << error;
  opsorch::testing::HttpClient c(server->port());
  std::string listed;
  for (int i = 0; i < 200 && listed.find("gemini is over budget") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    listed = c.Request("POST", "/incidents/query", {}, "{}").body;
  }
  EXPECT_THAT(listed, HasSubstr("gemini is over budget")) << server->Log();
  EXPECT_THAT(c.Request("GET", "/metrics").body,
              HasSubstr("opsorch_workflow_incident_events_total{deployment=\"budget\",result="
                        "\"sent\"} 1"));
  EXPECT_THAT(server->Log(), Not(HasSubstr("wf-routing-key-0000000000000001")));
  server.reset();
  fs::remove_all(dir);
}

// ---- the declarations ----

TEST(IncidentsDeclarationTest, TheConfigurationDecodesExpectationsAndRefusesMistakes) {
  const auto parse = [](const std::string& expectations) {
    return ParseWorkflowConfig(
        R"J({"workflows": [{"name": "w", "steps": [{"id": "s"}]}], "expectations": )J" +
            expectations + "}",
        "wf.json", "");
  };
  auto ok = parse(R"J([{"metric": "m", "above": 1, "for": "5m", "clear_for": "10m"}])J");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ((*ok)->expectations.size(), 1u);
  EXPECT_EQ((*ok)->expectations[0].hold, std::chrono::minutes(5));
  EXPECT_EQ((*ok)->expectations[0].clear, std::chrono::minutes(10));
  auto unknown = parse(R"J([{"metric": "m", "abvoe": 1}])J");
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("wf.json: expectations[0].abvoe: unknown field"));
  auto type = parse(R"J({"metric": "m"})J");
  ASSERT_FALSE(type);
  EXPECT_THAT(type.error().message, HasSubstr("wf.json: expectations: must be an array"));
  auto nothing = parse(R"J([{"metric": "m"}])J");
  ASSERT_FALSE(nothing);
  EXPECT_THAT(nothing.error().message, HasSubstr("expectations[0].metric: say what a breach is"));
}

TEST(IncidentsDeclarationTest, TheBootstrapDecodesTheIncidentsSection) {
  const auto parse = [](const std::string& incidents) {
    return ParseBootstrap(
        R"J({"deployments": [{"id": "d", "config": {"file": "wf.json"}, "incidents": )J" +
            incidents + "}]}",
        "/tmp/boot.json", [](const std::string& n) -> std::optional<std::string> {
          if (n == "PD_KEY") return std::string("pd-key-from-env");
          return std::nullopt;
        });
  };
  auto ok = parse(R"J({"routing_key": "${PD_KEY}", "url": "https://events.example.com/v2/enqueue",
                      "timeout": "3s"})J");
  ASSERT_TRUE(ok) << ok.error().message;
  const IncidentTarget& t = *ok->deployments.at(0).incidents;
  EXPECT_EQ(t.routing_key, "pd-key-from-env");
  EXPECT_EQ(t.url, "https://events.example.com/v2/enqueue");
  EXPECT_EQ(t.source, "d");
  EXPECT_EQ(t.timeout, std::chrono::seconds(3));
  EXPECT_FALSE(t.allow_private);
  EXPECT_EQ(t.path, "deployments[0].incidents");
  // A literal key is a secret as much as a substituted one.
  auto literal = parse(R"J({"routing_key": "literal-routing-key"})J");
  ASSERT_TRUE(literal) << literal.error().message;
  EXPECT_THAT(literal->secrets, ::testing::Contains(std::string("literal-routing-key")));
  const struct {
    const char* incidents;
    const char* error;
  } cases[] = {
      {R"J({"url": "https://x.example.com"})J",
       "deployments[0].incidents.routing_key: is required"},
      {R"J({"routing_key": "k", "uri": "x"})J", "deployments[0].incidents.uri: unknown field"},
      {R"J({"routing_key": "k", "url": "ftp://x"})J",
       "deployments[0].incidents.url: must be an http:// or https:// URL"},
      {R"J({"routing_key": "k", "url": "https://u:p@x.example.com"})J",
       "deployments[0].incidents.url: must not hold user information"},
      {R"J({"routing_key": "k", "url": "https://x.example.com", "timeout": "5m"})J",
       "deployments[0].incidents.timeout: must be from 100ms to 1m"},
      {R"J({"routing_key": "${NOPE}"})J",
       "deployments[0].incidents.routing_key: ${NOPE} is not set"},
      {R"J("k")J", "deployments[0].incidents: must be an object"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.incidents);
    ASSERT_FALSE(r) << c.incidents;
    EXPECT_THAT(r.error().message, HasSubstr(c.error)) << c.incidents;
  }
}

}  // namespace
}  // namespace opsorch::workflow
