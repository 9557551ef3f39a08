// Keeping quiet, against a real store and an injected clock (no sleeps): silences hold alerts
// back and let them through when they end; Alertmanager API pushes refresh and expire;
// maintenance windows and mute intervals record incidents without paging and page when they
// end; heartbeats open and resolve incidents; auto-resolve. Also PausedAt as a table. With
// PostgreSQL (a fresh database on the OPSORCH_TEST_POSTGRES_URL server) two nodes fire each
// missed beat once, and the push lifecycle runs on its SQL.
#include "engine/suppression.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/paging_catalog.h>

#include "engine/quiet.h"
#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kT0 = 1'780'000'000LL * kSec;  // 2026-05-28T20:26:40Z, a Thursday

// ---- PausedAt as a table ----------------------------------------------------------------------

TEST(PausedAt, Table) {
  QuietSnapshot q;
  q.windows.push_back(MaintenanceWindow{"w1", kT0, kT0 + 60 * kMin, "", {"a", "b"}, "", 0});
  q.windows.push_back(MaintenanceWindow{"w2", kT0 + 30 * kMin, kT0 + 90 * kMin, "", {"a"}, "", 0});
  auto nights = silence::DecodeTimeIntervalSet(JsonValue(JsonObject{
      {"name", "nights"},
      {"timeIntervals",
       JsonArray{JsonObject{
           {"times", JsonArray{JsonObject{{"startTime", "20:00"}, {"endTime", "22:00"}}}}}}}}));
  ASSERT_TRUE(nights);
  q.intervals.emplace("nights", std::move(*nights));
  q.services["c"] = ServiceQuiet{{"nights"}, 0};
  q.services["d"] = ServiceQuiet{{"missing"}, 0};
  struct Case {
    const char* name;
    std::string service;
    std::int64_t at;
    std::string reason, by;
    std::int64_t until;  // 0: not paused
  };
  const std::int64_t ten_pm = kT0 + 5600 * kSec;  // 22:00:00 that day (kT0 is 20:26:40)
  const Case cases[] = {
      {"before any window", "a", kT0 - 1, "", "", 0},
      {"at a window's start", "a", kT0, "maintenance", "w1", kT0 + 60 * kMin},
      {"overlap: the one ending last", "a", kT0 + 40 * kMin, "maintenance", "w2", kT0 + 90 * kMin},
      {"other service of w1 only", "b", kT0 + 40 * kMin, "maintenance", "w1", kT0 + 60 * kMin},
      {"at a window's end: over", "b", kT0 + 60 * kMin, "", "", 0},
      {"service not in any window", "x", kT0 + 10 * kMin, "", "", 0},
      {"mute interval contains now", "c", kT0, "mute_interval", "nights", ten_pm},
      {"mute interval over", "c", ten_pm, "", "", 0},
      {"unknown interval name: never muted", "d", kT0, "", "", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto p = PausedAt(q, c.service, c.at);
    if (c.until == 0) {
      EXPECT_FALSE(p.has_value());
      continue;
    }
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->reason, c.reason);
    EXPECT_EQ(p->by, c.by);
    EXPECT_EQ(p->until, c.until);
  }
}

// ---- the engine ---------------------------------------------------------------------------------

class QuietTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("opsorch-quiet-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    engine_ = Open("sqlite:" + (dir_ / "e.db").string());
    ASSERT_TRUE(engine_);
    Person p;
    p.id = "alice";
    p.name = "Alice";
    // Nobody listens there: the pages are queued and fail, which is all these tests look at.
    p.contact_methods = {{"hook", "webhook", "http://127.0.0.1:9/hook", "", ""}};
    p.notification_rules = {{"hook", 0, "high"}, {"hook", 0, "low"}};
    ASSERT_TRUE(engine_->store().PutDoc(CatalogDoc{"user", "alice", "", PersonDocument(p), 1}));
    ASSERT_TRUE(engine_->store().PutDoc(CatalogDoc{
        "policy", "default", "",
        JsonObject{
            {"name", "default"},
            {"rules", JsonArray{JsonObject{
                          {"delayMinutes", 5},
                          {"targets", JsonArray{JsonObject{{"type", "user"}, {"id", "alice"}}}}}}}},
        2}));
    service_.id = "checkout";
    service_.name = "Checkout";
    service_.escalation_policy = "default";
    ASSERT_TRUE(engine_->store().UpsertService(service_));
    integration_.id = "int-1";
    integration_.service_id = "checkout";
    integration_.kind = "events_v2";
    Reload();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Engine> Open(const std::string& url) {
    EngineOptions o;
    o.store_url = url;
    o.retention_interval = std::chrono::minutes(0);
    o.clock = [this] { return now_.load(); };
    o.paging_threads = false;
    auto e = Engine::Open(o);
    EXPECT_TRUE(e) << e.error().message;
    return e ? std::move(*e) : nullptr;
  }

  void Reload() {
    ASSERT_TRUE(engine_->pager()->ReloadCatalog());
    ASSERT_TRUE(engine_->quiet()->Reload());
  }

  void AddSilence(const std::string& id, std::vector<silence::Matcher> matchers,
                  std::int64_t starts, std::int64_t ends, const std::string& scope = "") {
    silence::Silence s;
    s.id = id;
    s.matchers = std::move(matchers);
    s.starts_at = starts;
    s.ends_at = ends;
    s.updated_at = now_;
    s.created_by = "test";
    s.comment = "test";
    s.scope = scope;
    ASSERT_TRUE(engine_->store().PutDoc(
        CatalogDoc{std::string(kSilenceDoc), id, scope, SilenceToDoc(s), ++version_}));
    ASSERT_TRUE(engine_->quiet()->Reload());
  }

  IngestResult Send(EventAction action, const std::string& key, JsonObject details = {}) {
    Event e;
    e.action = action;
    e.dedup_key = key;
    e.summary = "Checkout is down";
    e.source = "web-1";
    e.severity = Severity::kCritical;
    e.custom_details = std::move(details);
    e.origin = "events_v2";
    auto r = engine_->IngestSync({Ingestion{integration_, e}});
    EXPECT_TRUE(r.at(0).status) << r.at(0).status.error().message;
    return r.at(0);
  }

  // A Prometheus-shaped push of one alert, through the API decoder.
  IngestResult Push(const std::string& alertname, std::int64_t ends_at) {
    IntegrationRow am = integration_;
    am.id = "int-am";
    am.kind = "alertmanager";
    const std::string body = R"([{"labels":{"alertname":")" + alertname +
                             R"(","instance":"db-1","severity":"critical"},)"
                             R"("annotations":{"summary":")" +
                             alertname +
                             R"( fires"},)"
                             R"("endsAt":")" +
                             FormatRfc3339Nano(Time::FromUnixNanos(ends_at)) + R"("}])";
    auto d = DecodeAlertmanagerPush(body, "key", now_, 5 * kMin);
    EXPECT_TRUE(d && d->errors.empty());
    auto r = engine_->IngestSync({Ingestion{am, d->events.at(0)}});
    EXPECT_TRUE(r.at(0).status) << r.at(0).status.error().message;
    return r.at(0);
  }

  void Run() { ASSERT_TRUE(engine_->pager()->RunOnce()); }
  void Advance(std::int64_t ns) { now_ += ns; }

  std::vector<IncidentRow> Incidents() {
    auto r = engine_->store().QueryIncidents(IncidentFilter{});
    EXPECT_TRUE(r);
    return r ? *r : std::vector<IncidentRow>{};
  }
  std::optional<EscalationRow> Escalation(const std::string& incident) {
    auto e = engine_->store().Escalation(SeqOf(incident));
    EXPECT_TRUE(e);
    return e ? *e : std::nullopt;
  }
  static std::int64_t SeqOf(const std::string& id) { return std::stoll(id.substr(4)); }
  std::vector<std::string> Kinds(const std::string& incident) {
    std::vector<std::string> out;
    auto t = engine_->store().Timeline(incident);
    EXPECT_TRUE(t);
    for (const auto& e : *t) out.push_back(e.kind);
    return out;
  }
  static bool Has(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }
  std::vector<LiveRow> Firing() {
    auto r = engine_->store().Live(kFiringRow, "checkout");
    EXPECT_TRUE(r);
    return r ? *r : std::vector<LiveRow>{};
  }

  std::filesystem::path dir_;
  std::atomic<std::int64_t> now_{kT0};
  std::int64_t version_ = 100;
  std::unique_ptr<Engine> engine_;
  ServiceRow service_;
  IntegrationRow integration_;
};

TEST_F(QuietTest, ASilencedTriggerIsRecordedNotPagedAndOpensWhenTheSilenceEnds) {
  AddSilence("s1", {{"component", "db", false, true}}, now_ - kMin, now_ + 30 * kMin);
  // The labels of this event hold component=web (a custom detail): no match.
  auto r = Send(EventAction::kTrigger, "k1", JsonObject{{"component", "web"}});
  EXPECT_EQ(r.action, "triggered");
  const auto r2 = [&] {
    Event ev;
    ev.action = EventAction::kTrigger;
    ev.dedup_key = "k2";
    ev.summary = "db down";
    ev.source = "db-1";
    ev.component = "db";
    ev.origin = "events_v2";
    return engine_->IngestSync({Ingestion{integration_, ev}}).at(0);
  }();
  EXPECT_EQ(r2.action, "suppressed");
  EXPECT_TRUE(r2.incident_id.empty());
  EXPECT_FALSE(r2.alert_id.empty()) << "a suppressed alert is still stored";
  ASSERT_EQ(Incidents().size(), 1u);
  ASSERT_EQ(Firing().size(), 1u);
  EXPECT_EQ(Firing()[0].state, "suppressed");
  // A repeat while silenced: still nothing opens.
  Event again;
  again.action = EventAction::kTrigger;
  again.dedup_key = "k2";
  again.summary = "db down";
  again.component = "db";
  again.origin = "events_v2";
  EXPECT_EQ(engine_->IngestSync({Ingestion{integration_, again}}).at(0).action, "suppressed");
  Advance(29 * kMin);
  Run();
  EXPECT_EQ(Incidents().size(), 1u) << "opened before the silence ended";
  Advance(2 * kMin);
  Run();
  const auto incidents = Incidents();
  ASSERT_EQ(incidents.size(), 2u) << "the still-firing alert did not open its incident";
  const auto& opened = incidents.front();  // newest first
  EXPECT_EQ(opened.dedup_key, "k2");
  EXPECT_TRUE(Has(Kinds(opened.id), "unsilenced"));
  EXPECT_TRUE(Escalation(opened.id).has_value()) << "it pages once released";
  EXPECT_TRUE(Firing().empty());
}

TEST_F(QuietTest, AResolveOfASuppressedAlertForgetsIt) {
  AddSilence("s1", {{"source", "web-.*", true, true}}, now_ - kMin, now_ + 30 * kMin);
  EXPECT_EQ(Send(EventAction::kTrigger, "k1").action, "suppressed");
  EXPECT_EQ(Send(EventAction::kResolve, "k1").action, "resolved");
  EXPECT_TRUE(Firing().empty());
  Advance(31 * kMin);
  Run();
  EXPECT_TRUE(Incidents().empty()) << "a resolved alert opened an incident after its silence";
}

TEST_F(QuietTest, ExpiringASilenceEarlyReleasesAtOnce) {
  AddSilence("s1", {{"source", "web-1", false, true}}, now_ - kMin, now_ + 60 * kMin);
  EXPECT_EQ(Send(EventAction::kTrigger, "k1").action, "suppressed");
  // Expired now (what DELETE /api/v2/silence/{id} does), then the rows are looked at again.
  AddSilence("s1", {{"source", "web-1", false, true}}, now_ - kMin, now_);
  Status st = Pager::SubmitAndWait(
      [this](std::function<Status(Tx&)> w, std::function<void(Status)> d) {
        engine_->Submit(std::move(w), std::move(d));
      },
      [this](Tx& tx) { return RecheckSuppressed(tx, {"checkout"}, "s1", now_); });
  ASSERT_TRUE(st);
  Advance(kSec);
  Run();
  EXPECT_EQ(Incidents().size(), 1u);
}

TEST_F(QuietTest, PushesRefreshWithoutRowsAndExpireWhenEndsAtPasses) {
  auto first = Push("DiskFull", now_ + 4 * kMin);
  ASSERT_EQ(first.action, "triggered");
  EXPECT_EQ(first.dedup_key.size(), 16u);
  for (int i = 0; i < 5; ++i) {
    Advance(kMin);
    EXPECT_EQ(Push("DiskFull", now_ + 4 * kMin).action, "refreshed");
  }
  AlertFilter f;
  f.incident_id = first.incident_id;
  auto alerts = engine_->store().QueryAlerts(f);
  ASSERT_TRUE(alerts);
  EXPECT_EQ(alerts->size(), 1u) << "a refresh added an alert row";
  ASSERT_EQ(Firing().size(), 1u);
  // The sender stops: endsAt passes, the incident resolves.
  Advance(3 * kMin);
  Run();
  EXPECT_EQ(Incidents().front().status, "open");
  Advance(2 * kMin);
  Run();
  EXPECT_EQ(Incidents().front().status, "resolved");
  EXPECT_TRUE(Firing().empty());
  // A resolved push of a forgotten alert writes nothing.
  EXPECT_EQ(Push("DiskFull", now_ - kMin).action, "ignored");
}

TEST_F(QuietTest, AResolvedPushResolvesItsIncident) {
  auto first = Push("CpuHigh", now_ + 4 * kMin);
  ASSERT_EQ(first.action, "triggered");
  Advance(kMin);
  EXPECT_EQ(Push("CpuHigh", now_ - kSec).action, "resolved");
  EXPECT_EQ(Incidents().front().status, "resolved");
  // It fires again: a new episode, a new incident.
  Advance(kMin);
  EXPECT_EQ(Push("CpuHigh", now_ + 4 * kMin).action, "triggered");
  EXPECT_EQ(Incidents().size(), 2u);
}

TEST_F(QuietTest, ASilencedPushIsListedSuppressedAndReleasedByARefreshAfterTheSilence) {
  AddSilence("s1", {{"alertname", "DiskFull", false, true}}, now_ - kMin, now_ + 10 * kMin);
  EXPECT_EQ(Push("DiskFull", now_ + 4 * kMin).action, "suppressed");
  EXPECT_TRUE(Incidents().empty());
  Advance(11 * kMin);
  // The refresh after the silence ended opens the incident (the runner may not have run yet).
  EXPECT_EQ(Push("DiskFull", now_ + 4 * kMin).action, "triggered");
  ASSERT_EQ(Incidents().size(), 1u);
  ASSERT_EQ(Firing().size(), 1u);
  EXPECT_EQ(Firing()[0].state, "active");
}

TEST_F(QuietTest, MaintenanceRecordsButDoesNotPageAndPagingResumesAfter) {
  MaintenanceWindow w{"mw1", now_ - kMin, now_ + 30 * kMin, "upgrade", {"checkout"}, "ops", 0};
  ASSERT_TRUE(engine_->store().PutDoc(
      CatalogDoc{std::string(kMaintenanceDoc), "mw1", "", WindowToJson(w), ++version_}));
  ASSERT_TRUE(engine_->quiet()->Reload());
  const auto r = Send(EventAction::kTrigger, "k1");
  ASSERT_EQ(r.action, "triggered") << "an event in maintenance is recorded";
  Run();
  EXPECT_FALSE(Escalation(r.incident_id).has_value()) << "paged during maintenance";
  EXPECT_TRUE(Has(Kinds(r.incident_id), "paging_paused"));
  auto inc = engine_->store().GetIncident(r.incident_id);
  ASSERT_TRUE(inc && *inc);
  EXPECT_EQ((*inc)->metadata.at("paused").at("by").as_string(), "mw1");
  Advance(20 * kMin);
  Run();
  EXPECT_FALSE(Escalation(r.incident_id).has_value());
  Advance(11 * kMin);
  Run();
  const auto esc = Escalation(r.incident_id);
  ASSERT_TRUE(esc.has_value()) << "paging did not resume after the window";
  auto sent = engine_->store().Notifications(SeqOf(r.incident_id));
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->size(), 1u) << "alice was not paged once the window ended";
  EXPECT_TRUE(Has(Kinds(r.incident_id), "paging_resumed"));
  // After the window, new incidents page at once.
  const auto r2 = Send(EventAction::kTrigger, "k2");
  EXPECT_TRUE(Escalation(r2.incident_id).has_value());
}

TEST_F(QuietTest, AnIncidentAcknowledgedDuringMaintenanceIsNotPagedAfter) {
  MaintenanceWindow w{"mw1", now_ - kMin, now_ + 30 * kMin, "", {"checkout"}, "", 0};
  ASSERT_TRUE(engine_->store().PutDoc(
      CatalogDoc{std::string(kMaintenanceDoc), "mw1", "", WindowToJson(w), ++version_}));
  ASSERT_TRUE(engine_->quiet()->Reload());
  const auto r = Send(EventAction::kTrigger, "k1");
  Send(EventAction::kAcknowledge, "k1");
  Advance(40 * kMin);
  Run();
  EXPECT_FALSE(Escalation(r.incident_id).has_value());
}

TEST_F(QuietTest, AMuteIntervalOfTheServicePausesPagingUntilItEnds) {
  // 20:00–22:00 UTC; kT0 is 20:26:40.
  auto set = silence::DecodeTimeIntervalSet(JsonValue(JsonObject{
      {"name", "evenings"},
      {"timeIntervals",
       JsonArray{JsonObject{
           {"times", JsonArray{JsonObject{{"startTime", "20:00"}, {"endTime", "22:00"}}}}}}}}));
  ASSERT_TRUE(set);
  ASSERT_TRUE(engine_->store().PutDoc(
      CatalogDoc{std::string(kTimeIntervalDoc), "evenings", "",
                 ParseJson(silence::EncodeTimeIntervalSet(*set))->get_object(), ++version_}));
  service_.mute_intervals = {"evenings"};
  ASSERT_TRUE(engine_->store().UpsertService(service_));
  Reload();
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  EXPECT_FALSE(Escalation(r.incident_id).has_value());
  Advance(60 * kMin);  // 21:26:40
  Run();
  EXPECT_FALSE(Escalation(r.incident_id).has_value());
  Advance(35 * kMin);  // 22:01:40
  Run();
  EXPECT_TRUE(Escalation(r.incident_id).has_value()) << "paging did not resume after 22:00";
}

TEST_F(QuietTest, AutoResolveResolvesAfterTheTimeoutFromTheLastOpen) {
  service_.auto_resolve_s = 30 * 60;
  ASSERT_TRUE(engine_->store().UpsertService(service_));
  Reload();
  const auto r = Send(EventAction::kTrigger, "k1");
  Advance(29 * kMin);
  Run();
  EXPECT_EQ(Incidents().front().status, "open");
  Advance(2 * kMin);
  Run();
  const auto inc = Incidents().front();
  EXPECT_EQ(inc.status, "resolved");
  EXPECT_EQ(inc.resolved_at, now_.load());
  auto timeline = engine_->store().Timeline(r.incident_id);
  ASSERT_TRUE(timeline);
  EXPECT_NE(timeline->back().body.find("Resolved automatically"), std::string::npos)
      << timeline->back().body;
  // A reopened incident's timer starts again from the reopen.
}

TEST_F(QuietTest, HeartbeatMissOpensAnIncidentAndTheNextBeatResolvesIt) {
  Heartbeat hb;
  hb.id = "backup";
  hb.name = "nightly backup";
  hb.service_id = "checkout";
  hb.interval_s = 600;
  hb.grace_s = 60;
  ASSERT_TRUE(engine_->store().PutDoc(
      CatalogDoc{std::string(kHeartbeatDoc), "backup", "", HeartbeatToJson(hb), ++version_}));
  ASSERT_TRUE(engine_->quiet()->Reload());
  auto write = [this](std::function<Status(Tx&, const QuietEnv&, QuietEffects&)> fn) {
    return Pager::SubmitAndWait(
        [this](std::function<Status(Tx&)> w, std::function<void(Status)> d) {
          engine_->Submit(std::move(w), std::move(d));
        },
        [this, fn](Tx& tx) {
          const auto q = engine_->quiet()->Snapshot();
          const QuietEnv env{*q, engine_->rules(), engine_->pager()};
          QuietEffects fx;
          return fn(tx, env, fx);
        });
  };
  ASSERT_TRUE(
      write([&](Tx& tx, const QuietEnv&, QuietEffects&) { return ArmHeartbeat(tx, hb, now_); }));
  Advance(5 * kMin);
  ASSERT_TRUE(write(
      [&](Tx& tx, const QuietEnv& env, QuietEffects& fx) { return Beat(tx, hb, now_, env, fx); }));
  Advance(10 * kMin);  // 10 minutes after the beat: within the grace
  Run();
  EXPECT_TRUE(Incidents().empty());
  Advance(2 * kMin);
  Run();
  Run();
  auto incidents = Incidents();
  ASSERT_EQ(incidents.size(), 1u) << "a missed beat opened no incident";
  EXPECT_EQ(incidents[0].dedup_key, "heartbeat:backup");
  EXPECT_EQ(incidents[0].status, "open");
  EXPECT_TRUE(Escalation(incidents[0].id).has_value()) << "a missed beat pages";
  Advance(30 * kMin);
  Run();
  EXPECT_EQ(Incidents().size(), 1u) << "a miss fired twice";
  ASSERT_TRUE(write(
      [&](Tx& tx, const QuietEnv& env, QuietEffects& fx) { return Beat(tx, hb, now_, env, fx); }));
  EXPECT_EQ(Incidents().front().status, "resolved");
}

// A beat row of a monitor this node has not loaded yet (made on another node a moment ago) is
// looked at again later, not dropped: once the node knows the monitor, its miss still fires.
TEST_F(QuietTest, ABeatOfAMonitorNotLoadedYetIsKept) {
  Heartbeat hb;
  hb.id = "elsewhere";
  hb.service_id = "checkout";
  hb.interval_s = 60;
  ASSERT_TRUE(Pager::SubmitAndWait(
      [this](std::function<Status(Tx&)> w, std::function<void(Status)> d) {
        engine_->Submit(std::move(w), std::move(d));
      },
      [&](Tx& tx) { return ArmHeartbeat(tx, hb, now_); }));
  Advance(2 * kMin);
  Run();
  EXPECT_TRUE(Incidents().empty());
  auto rows = engine_->store().Live(kBeatRow, "");
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u) << "the row of a monitor not loaded yet was dropped";
  ASSERT_TRUE(engine_->store().PutDoc(
      CatalogDoc{std::string(kHeartbeatDoc), hb.id, "", HeartbeatToJson(hb), ++version_}));
  ASSERT_TRUE(engine_->quiet()->Reload());
  Advance(2 * kMin);
  Run();
  ASSERT_EQ(Incidents().size(), 1u);
  EXPECT_EQ(Incidents()[0].dedup_key, "heartbeat:elsewhere");
}

// Two nodes on one PostgreSQL database: each missed beat opens one incident.
constexpr std::int64_t kFuture = kT0 + 10LL * 365 * 24 * 3600 * kSec;

TEST(QuietCluster, TwoNodesFireEachMissedBeatOnce) {
  // A database of its own: other tests' engines on a shared one run other clocks.
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  const std::string url = db->url;
  std::atomic<std::int64_t> now{kFuture};
  auto open = [&] {
    EngineOptions o;
    o.store_url = url;
    o.retention_interval = std::chrono::minutes(0);
    o.clock = [&now] { return now.load(); };
    o.paging_threads = false;
    auto e = Engine::Open(o);
    EXPECT_TRUE(e) << e.error().message;
    return std::move(*e);
  };
  auto a = open();
  auto b = open();
  // A fresh service per run: the database is shared with other tests.
  const std::string svc = "hb-" + std::to_string(::getpid()) + "-" + std::to_string(kFuture);
  ServiceRow s;
  s.id = svc;
  s.name = svc;
  ASSERT_TRUE(a->store().UpsertService(s));
  constexpr int kMonitors = 20;
  std::vector<Heartbeat> monitors;
  for (int i = 0; i < kMonitors; ++i) {
    Heartbeat hb;
    hb.id = svc + "-m" + std::to_string(i);
    hb.service_id = svc;
    hb.interval_s = 60;
    monitors.push_back(hb);
    ASSERT_TRUE(a->store().PutDoc(
        CatalogDoc{std::string(kHeartbeatDoc), hb.id, "", HeartbeatToJson(hb), now + i}));
  }
  ASSERT_TRUE(a->quiet()->Reload());
  ASSERT_TRUE(b->quiet()->Reload());
  ASSERT_TRUE(Pager::SubmitAndWait(
      [&](std::function<Status(Tx&)> w, std::function<void(Status)> d) {
        a->Submit(std::move(w), std::move(d));
      },
      [&](Tx& tx) -> Status {
        for (const auto& hb : monitors) {
          if (auto st = ArmHeartbeat(tx, hb, now); !st) return st;
        }
        return Ok();
      }));
  now += 2 * kMin;
  std::thread ta([&] {
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(a->pager()->RunOnce());
  });
  std::thread tb([&] {
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(b->pager()->RunOnce());
  });
  ta.join();
  tb.join();
  IncidentFilter f;
  f.service_ids = {svc};
  auto incidents = a->store().QueryIncidents(f);
  ASSERT_TRUE(incidents);
  EXPECT_EQ(incidents->size(), static_cast<std::size_t>(kMonitors));
  std::set<std::string> keys;
  for (const auto& i : *incidents) keys.insert(i.dedup_key);
  EXPECT_EQ(keys.size(), static_cast<std::size_t>(kMonitors)) << "a miss fired on both nodes";
}

}  // namespace
}  // namespace opsorch::engine

namespace opsorch::engine {
namespace {

// The same push lifecycle on PostgreSQL (its own SQL for the refresh log and the fold): pushes
// refresh without rows, the listing reads through unfolded refreshes, endsAt passing resolves.
TEST(QuietPostgres, PushesRefreshAndExpire) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  const std::string url = db->url;
  std::atomic<std::int64_t> now{kT0};
  EngineOptions o;
  o.store_url = url;
  o.retention_interval = std::chrono::minutes(0);
  o.clock = [&now] { return now.load(); };
  o.paging_threads = false;
  auto e = Engine::Open(o);
  ASSERT_TRUE(e) << e.error().message;
  auto& engine = **e;
  const std::string svc = "push-" + std::to_string(::getpid()) + "-" + std::to_string(kT0);
  ServiceRow s;
  s.id = svc;
  s.name = svc;
  ASSERT_TRUE(engine.store().UpsertService(s));
  IntegrationRow am;
  am.id = svc + "-am";
  am.service_id = svc;
  am.kind = "alertmanager";
  auto push = [&](std::int64_t ends) {
    const std::string body = R"([{"labels":{"alertname":"PgPush","svc":")" + svc +
                             R"("},"endsAt":")" + FormatRfc3339Nano(Time::FromUnixNanos(ends)) +
                             R"("}])";
    auto d = DecodeAlertmanagerPush(body, "key", now, 5 * kMin);
    EXPECT_TRUE(d && d->errors.empty());
    return engine.IngestSync({Ingestion{am, d->events.at(0)}}).at(0);
  };
  auto first = push(now + 4 * kMin);
  ASSERT_TRUE(first.status) << first.status.error().message;
  ASSERT_EQ(first.action, "triggered");
  now += kMin;
  EXPECT_EQ(push(now + 4 * kMin).action, "refreshed");
  const std::int64_t extended = now + 4 * kMin;
  auto rows = engine.store().Live(kFiringRow, svc);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().ends_at, extended) << "the listing does not read through the refresh";
  now += 3 * kMin + 30 * kSec;  // past the first endsAt, before the refreshed one
  ASSERT_TRUE(engine.pager()->RunOnce());
  auto open = engine.store().GetIncident(first.incident_id);
  ASSERT_TRUE(open && *open);
  EXPECT_EQ((*open)->status, "open") << "resolved at the endsAt a refresh had moved";
  now += kMin;
  ASSERT_TRUE(engine.pager()->RunOnce());
  ASSERT_TRUE(engine.pager()->RunOnce());
  auto resolved = engine.store().GetIncident(first.incident_id);
  ASSERT_TRUE(resolved && *resolved);
  EXPECT_EQ((*resolved)->status, "resolved");
}

}  // namespace
}  // namespace opsorch::engine
