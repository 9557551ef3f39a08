// The incident engine end to end, as a user runs it: the opsorch binary with the `local`
// provider on a SQLite store. What a user notices: a 202 is a promise (every acknowledged event
// is there after a SIGKILL under load); incidents, timelines and the catalog survive a restart
// and a seed applied again duplicates nothing; a revoked key gets the unknown key's answer and
// the seed does not bring it back; `opsorch serve --demo` takes the documented key. Plus the
// few ingestion behaviours the data-driven cases cannot express (a 512 KiB body, the shape of a
// generated dedup key, what a failed reopen says).
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opsorch/common/time.h>
#include <opsorch/engine/store.h>

#include "support/http_client.h"
#include "support/server_process.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kKey = "sigkill-routing-key-000000000001";
constexpr std::string_view kApiKey = "api-routing-key-0000000000000001";
constexpr std::string_view kApiAlertmanagerKey = "api-alertmanager-key-000000001";
constexpr std::string_view kDbKey = "db-routing-key-00000000000000001";
constexpr std::string_view kDemoKey = "demo-routing-key-000000000000001";
constexpr std::string_view kBadKeyBody =
    R"({"status":"invalid event","message":"Event object is invalid","errors":["routing_key is not a valid integration key"]})"
    "\n";

// Two teams with members, two services; svc-api has an Events v2 and an Alertmanager key, svc-db
// an Events v2 key. `events` go into an empty store only.
constexpr std::string_view kCatalogSeed = R"json({
  "teams": [
    {"id": "team-web", "name": "Web", "description": "Frontend and API",
     "members": [{"id": "ana@example.com", "name": "Ana Lima", "email": "ana@example.com", "handle": "ana", "role": "lead"},
                 {"id": "ben@example.com", "name": "Ben Okafor", "email": "ben@example.com", "handle": "ben", "role": "engineer"}]},
    {"id": "team-data", "name": "Data",
     "members": [{"id": "chen@example.com", "name": "Chen Wei", "email": "chen@example.com", "handle": "chen", "role": "lead"}]}
  ],
  "services": [
    {"id": "svc-api", "name": "Public API", "team": "team-web", "ackTargetMinutes": 5, "tags": {"tier": "1"},
     "integrations": [{"id": "api-events", "kind": "events_v2", "key": "api-routing-key-0000000000000001"},
                      {"id": "api-am", "kind": "alertmanager", "key": "api-alertmanager-key-000000001"}]},
    {"id": "svc-db", "name": "Orders database", "team": "team-data",
     "integrations": [{"id": "db-events", "kind": "events_v2", "key": "db-routing-key-00000000000000001"}]}
  ],
  "events": [
    {"routingKey": "db-routing-key-00000000000000001", "action": "trigger", "dedupKey": "seeded",
     "summary": "Seeded incident", "source": "seed", "severity": "warning"}
  ]
})json";

std::string Trigger(std::string_view key, std::string_view dedup_key, std::string_view summary,
                    std::string_view severity = "error") {
  return R"({"routing_key":")" + std::string(key) + R"(","event_action":"trigger","dedup_key":")" +
         std::string(dedup_key) + R"(","payload":{"summary":")" + std::string(summary) +
         R"(","source":"it","severity":")" + std::string(severity) + R"("}})";
}

std::string Action(std::string_view key, std::string_view action, std::string_view dedup_key) {
  return R"({"routing_key":")" + std::string(key) + R"(","event_action":")" + std::string(action) +
         R"(","dedup_key":")" + std::string(dedup_key) + R"("})";
}

std::string Accepted(std::string_view dedup_key) {
  return R"({"status":"success","message":"Event processed","dedup_key":")" +
         std::string(dedup_key) + "\"}\n";
}

class EngineApp : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("opsorch-engine-app-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    servers_.clear();  // kills and reaps any server still running
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  ServerProcess* StartServer(const std::map<std::string, std::string>& env,
                             const std::string& log_name,
                             const std::vector<std::string>& extra = {}) {
    std::string error;
    auto s = ServerProcess::Start(env, extra, dir_ / log_name, &error);
    if (!s) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    servers_.push_back(std::move(s));
    return servers_.back().get();
  }

  // The four capabilities on the engine, its store in dir_/data, the given seed file.
  std::map<std::string, std::string> LocalEnv(std::string_view seed) {
    std::ofstream(dir_ / "seed.json") << seed;
    return {{"OPSORCH_DATA_DIR", (dir_ / "data").string()},
            {"OPSORCH_INCIDENT_PROVIDER", "local"},
            {"OPSORCH_ALERT_PROVIDER", "local"},
            {"OPSORCH_SERVICE_PROVIDER", "local"},
            {"OPSORCH_TEAM_PROVIDER", "local"},
            {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()}};
  }

  fs::path Database() const { return dir_ / "data" / "opsorch.db"; }

  fs::path dir_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

// ---- (a) a 202 survives SIGKILL ----

// Client threads that send triggers with unique dedup keys, each on its own keep-alive
// connection, until stopped; they remember every dedup key answered with 202. Joined on
// destruction, so that no assertion can leave a thread running.
class TriggerLoad {
 public:
  TriggerLoad(std::uint16_t port, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port, t] { Run(port, t); });
    }
  }
  ~TriggerLoad() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  long acknowledged() const { return acknowledged_; }
  long sent() const { return sent_; }
  long unanswered() const { return unanswered_; }  // in flight at the kill, or refused after it
  std::vector<std::string> unexpected() {
    std::lock_guard lock(mu_);
    return unexpected_;
  }
  std::set<std::string> acknowledged_keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }
  std::set<std::string> sent_keys() {
    std::lock_guard lock(mu_);
    return sent_keys_;
  }

 private:
  void Run(std::uint16_t port, int t) {
    HttpClient c(port);
    std::vector<std::string> keys;  // kept locally, merged once: no lock per request
    std::vector<std::string> sent;
    std::vector<std::string> odd;
    for (long i = 0; !stop_; ++i) {
      const std::string key = "kill-" + std::to_string(t) + "-" + std::to_string(i);
      sent.push_back(key);
      ++sent_;
      const HttpResponse r =
          c.Request("POST", "/v2/enqueue", {{"Content-Type", "application/json"}},
                    Trigger(kKey, key, "Load event " + key));
      if (r.status == 202 && r.body == Accepted(key)) {
        keys.push_back(key);
        ++acknowledged_;
      } else if (r.status == 0 || (r.status == 202 && r.closed)) {
        // The server is gone (killed): this one's fate is unknown; stop sending.
        ++unanswered_;
        break;
      } else if (odd.size() < 5) {
        odd.push_back(key + " → " + std::to_string(r.status) + " " + r.body);
      }
    }
    std::lock_guard lock(mu_);
    keys_.insert(keys.begin(), keys.end());
    sent_keys_.insert(sent.begin(), sent.end());
    unexpected_.insert(unexpected_.end(), odd.begin(), odd.end());
  }

  std::atomic<bool> stop_{false};
  std::atomic<long> acknowledged_{0};
  std::atomic<long> sent_{0};
  std::atomic<long> unanswered_{0};
  std::mutex mu_;
  std::set<std::string> keys_;
  std::set<std::string> sent_keys_;
  std::vector<std::string> unexpected_;
  std::vector<std::thread> threads_;
};

TEST_F(EngineApp, EveryAcknowledgedEventSurvivesSigkillUnderLoad) {
  const std::string seed = R"({"services":[{"id":"svc-load","name":"Load","integrations":[)"
                           R"({"id":"load-events","kind":"events_v2","key":")" +
                           std::string(kKey) + R"("}]}]})";
  const auto env = LocalEnv(seed);
  ServerProcess* first = StartServer(env, "first.log");
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(fs::exists(Database())) << "the engine's SQLite store is not where documented";

  std::set<std::string> acknowledged;
  std::set<std::string> sent;
  long unanswered = 0;
  std::vector<std::string> unexpected;
  double load_seconds = 0;
  int wait_status = 0;
  {
    TriggerLoad load(first->port(), 8);
    const auto start = Clock::now();
    std::this_thread::sleep_for(milliseconds(1'500));
    // A slow machine (or a sanitizer build) gets longer to reach a meaningful number.
    WaitFor([&] { return load.acknowledged() >= 500; }, milliseconds(10'000));
    // Kill while the clients are still being answered: right after one more 202.
    const long before = load.acknowledged();
    const bool still_answering =
        WaitFor([&] { return load.acknowledged() > before; }, milliseconds(5'000));
    wait_status = first->Kill();
    load_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    load.Stop();
    EXPECT_TRUE(still_answering) << "no event was acknowledged in the 5 s before the kill";
    acknowledged = load.acknowledged_keys();
    sent = load.sent_keys();
    unanswered = load.unanswered();
    unexpected = load.unexpected();
  }
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << "the server was not killed by SIGKILL (wait status " << wait_status << ")";
  EXPECT_TRUE(unexpected.empty()) << unexpected.size()
                                  << " events got an answer other than 202, first: "
                                  << unexpected.front();
  ASSERT_GE(acknowledged.size(), 100u) << "too little load to mean anything";

  ServerProcess* second = StartServer(env, "second.log");
  ASSERT_NE(second, nullptr);
  HttpClient c(second->port());
  // Every incident, a page at a time (X-OpsOrch-Next-Cursor).
  json::array got;
  for (std::string target = "/incidents/query";;) {
    const HttpResponse r = c.Request("POST", target, {}, R"({"limit":1000,"scope":{}})");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    boost::system::error_code ec;
    const json::value page = json::parse(r.body, ec);
    ASSERT_FALSE(ec) << "not JSON (" << r.body.size() << " bytes): " << r.body.substr(0, 500);
    ASSERT_TRUE(page.is_array()) << r.body.substr(0, 500);
    for (const auto& v : page.as_array()) got.push_back(v);
    const std::string next = r.Header("X-OpsOrch-Next-Cursor");
    if (next.empty()) break;
    target = "/incidents/query?after=" + next;
  }

  std::set<std::string> stored;
  std::size_t not_ours = 0;
  std::size_t bad_shape = 0;
  for (const auto& v : got) {
    const auto* key = v.as_object().at("fields").as_object().if_contains("dedupKey");
    if (key == nullptr || !key->is_string()) {
      ++bad_shape;
      continue;
    }
    const std::string k(key->as_string());
    stored.insert(k);
    if (!sent.contains(k)) ++not_ours;
    const auto& inc = v.as_object();
    if (inc.at("status") != "open" || inc.at("fields").as_object().at("alertCount") != 1) {
      ++bad_shape;
    }
  }
  std::vector<std::string> lost;
  for (const auto& k : acknowledged) {
    if (!stored.contains(k)) lost.push_back(k);
  }
  const std::size_t in_flight_stored = stored.size() - (acknowledged.size() - lost.size());

  std::cout << "[ durability ] " << sent.size() << " events sent by 8 clients in " << load_seconds
            << " s, " << acknowledged.size() << " acknowledged (202, "
            << static_cast<long>(acknowledged.size() / load_seconds) << "/s), " << unanswered
            << " unanswered at SIGKILL; after restart " << stored.size() << " incidents ("
            << in_flight_stored << " of them unanswered events), " << lost.size()
            << " acknowledged events lost\n";
  RecordProperty("acknowledged", static_cast<int>(acknowledged.size()));
  RecordProperty("stored", static_cast<int>(stored.size()));
  RecordProperty("lost", static_cast<int>(lost.size()));

  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << acknowledged.size()
                            << " acknowledged events have no incident after the SIGKILL, e.g. "
                            << lost.front();
  EXPECT_EQ(stored.size(), got.size()) << "two incidents for one dedup key";
  EXPECT_EQ(not_ours, 0u) << "incidents for dedup keys nobody sent";
  EXPECT_EQ(bad_shape, 0u) << "incidents that are not one open trigger each";
  // Only events in flight at the kill may be stored without their 202 having been seen.
  EXPECT_LE(in_flight_stored, static_cast<std::size_t>(unanswered));

  // The restarted engine takes events again, into the same store.
  const auto more = c.Request("POST", "/v2/enqueue", {}, Trigger(kKey, "after-restart", "After"));
  EXPECT_EQ(more.status, 202) << more.body;
  EXPECT_EQ(more.body, Accepted("after-restart"));
  EXPECT_TRUE(second->Terminate(milliseconds(15'000)).clean()) << second->Log();
}

// ---- (b) restart persistence and an idempotent seed ----

TEST_F(EngineApp, IncidentsTimelinesAndCatalogSurviveARestartAndTheSeedDuplicatesNothing) {
  const auto env = LocalEnv(kCatalogSeed);
  struct Snapshot {
    std::string incidents, inc2, timeline2, timeline3, alerts, services, teams, members;
  };
  const auto snapshot = [](HttpClient& c) {
    Snapshot s;
    const auto get = [&](std::string_view method, std::string_view path, std::string_view body) {
      const HttpResponse r = c.Request(method, path, {}, body);
      EXPECT_EQ(r.status, 200) << method << " " << path << " → " << r.body;
      return r.body;
    };
    s.incidents = get("POST", "/incidents/query", "{}");
    s.inc2 = get("GET", "/incidents/inc-2", "");
    s.timeline2 = get("GET", "/incidents/inc-2/timeline", "");
    s.timeline3 = get("GET", "/incidents/inc-3/timeline", "");
    s.alerts = get("POST", "/alerts/query", "{}");
    s.services = get("POST", "/services/query", "{}");
    s.teams = get("POST", "/teams/query", "{}");
    s.members = get("GET", "/teams/team-web/members", "");
    return s;
  };

  Snapshot before;
  {
    ServerProcess* s = StartServer(env, "first.log");
    ASSERT_NE(s, nullptr);
    HttpClient c(s->port());
    // inc-1 comes from the seed's events; inc-2 from events; inc-3 through the API.
    ASSERT_EQ(
        c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "cpu", "CPU high", "warning")).status,
        202);
    ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "cpu", "CPU high", "critical"))
                  .status,
              202);
    ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Action(kApiKey, "acknowledge", "cpu")).status,
              202);
    auto r = c.Request("POST", "/incidents", {},
                       R"({"title":"Manual incident","service":"svc-db","severity":"info"})");
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_NE(r.body.find(R"("id":"inc-3")"), std::string::npos) << r.body;
    r = c.Request("PATCH", "/incidents/inc-3", {}, R"({"status":"acknowledged"})");
    ASSERT_EQ(r.status, 200) << r.body;
    r = c.Request("POST", "/incidents/inc-3/timeline", {}, R"({"kind":"note","body":"Noted"})");
    ASSERT_EQ(r.status, 201) << r.body;
    before = snapshot(c);
    ASSERT_NE(before.timeline2.find(R"("kind":"deduplicated")"), std::string::npos)
        << before.timeline2;
    ASSERT_NE(before.timeline3.find(R"("body":"Noted")"), std::string::npos) << before.timeline3;
    ASSERT_NE(before.incidents.find("Seeded incident"), std::string::npos) << before.incidents;
    EXPECT_TRUE(s->Terminate(milliseconds(15'000)).clean()) << "no clean exit on SIGTERM\n"
                                                            << s->Log();
  }
  {
    // The same seed again: nothing is added, nothing re-ingested, everything is still there.
    ServerProcess* s = StartServer(env, "second.log");
    ASSERT_NE(s, nullptr);
    HttpClient c(s->port());
    const Snapshot after = snapshot(c);
    EXPECT_EQ(after.incidents, before.incidents);
    EXPECT_EQ(after.inc2, before.inc2);
    EXPECT_EQ(after.timeline2, before.timeline2);
    EXPECT_EQ(after.timeline3, before.timeline3);
    EXPECT_EQ(after.alerts, before.alerts);
    EXPECT_EQ(after.services, before.services);
    EXPECT_EQ(after.teams, before.teams);
    EXPECT_EQ(after.members, before.members);
    // The open incident still deduplicates, and ids continue where they were.
    auto r = c.Request("POST", "/v2/enqueue/batch", {},
                       "[" + Trigger(kApiKey, "cpu", "CPU high") + "," +
                           Trigger(kDbKey, "new-after-restart", "New") + "]");
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(
        r.body,
        R"({"status":"success","results":[)"
        R"({"status":"success","dedup_key":"cpu","action":"deduplicated","incident_id":"inc-2"},)"
        R"({"status":"success","dedup_key":"new-after-restart","action":"triggered","incident_id":"inc-4"}]})"
        "\n");
    r = c.Request("GET", "/incidents/inc-2");
    EXPECT_NE(r.body.find(R"("status":"acknowledged")"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(R"("alertCount":4)"), std::string::npos) << r.body;
    EXPECT_TRUE(s->Terminate(milliseconds(15'000)).clean()) << s->Log();
  }
  // The store itself: each seeded service, team, member and integration once.
  auto store = engine::OpenStore("sqlite:" + Database().string());
  ASSERT_TRUE(store) << store.error().message;
  auto services = (*store)->Services();
  ASSERT_TRUE(services);
  EXPECT_EQ(services->size(), 2u);
  auto teams = (*store)->Teams();
  ASSERT_TRUE(teams);
  EXPECT_EQ(teams->size(), 2u);
  auto members = (*store)->Members("team-web");
  ASSERT_TRUE(members);
  EXPECT_EQ(members->size(), 2u);
  auto api = (*store)->Integrations("svc-api");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->size(), 2u) << "the seed applied twice duplicated svc-api's integrations";
  auto db = (*store)->Integrations("svc-db");
  ASSERT_TRUE(db);
  EXPECT_EQ(db->size(), 1u) << "the seed applied twice duplicated svc-db's integrations";
  auto seeded = (*store)->QueryIncidents(engine::IncidentFilter{.text = "Seeded incident"});
  ASSERT_TRUE(seeded);
  EXPECT_EQ(seeded->size(), 1u) << "the seed's events were ingested again into a full store";
}

// ---- a revoked key ----

TEST_F(EngineApp, RevokedKeyGetsTheUnknownKeyAnswerAndTheSeedDoesNotRestoreIt) {
  const auto env = LocalEnv(kCatalogSeed);
  {
    ServerProcess* s = StartServer(env, "first.log");
    ASSERT_NE(s, nullptr);
    HttpClient c(s->port());
    const auto r = c.Request("POST", "/v2/enqueue", {}, Trigger(kDbKey, "before", "Before"));
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_TRUE(s->Terminate(milliseconds(15'000)).clean()) << s->Log();
  }
  {
    // Revoked while the server is down (there is no admin API yet).
    auto store = engine::OpenStore("sqlite:" + Database().string());
    ASSERT_TRUE(store) << store.error().message;
    const std::int64_t now = Time::Now().UnixNanos();
    ASSERT_TRUE((*store)->RevokeIntegration("db-events", now));
    ASSERT_TRUE((*store)->RevokeIntegration("api-am", now));
  }
  ServerProcess* s = StartServer(env, "second.log");  // the seed still lists both keys
  ASSERT_NE(s, nullptr);
  HttpClient c(s->port());
  const auto unknown =
      c.Request("POST", "/v2/enqueue", {}, Trigger("no-such-routing-key-000000000000", "x", "X"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.body, kBadKeyBody);
  for (const std::string& body :
       {Trigger(kDbKey, "after", "After"), Action(kDbKey, "resolve", "before")}) {
    const auto revoked = c.Request("POST", "/v2/enqueue", {}, body);
    EXPECT_EQ(revoked.status, unknown.status) << body;
    EXPECT_EQ(revoked.body, unknown.body) << "a revoked key is told apart from an unknown one";
  }
  auto batch = c.Request("POST", "/v2/enqueue/batch", {}, "[" + Trigger(kDbKey, "b", "B") + "]");
  EXPECT_EQ(batch.status, 202);
  EXPECT_EQ(
      batch.body,
      R"({"status":"success","results":[{"status":"invalid event","errors":["routing_key is not a valid integration key"]}]})"
      "\n");
  const std::string am =
      R"({"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X"},"fingerprint":"ffff"}]})";
  const auto am_unknown =
      c.Request("POST", "/integrations/alertmanager/no-such-alertmanager-key-0001", {}, am);
  const auto am_revoked =
      c.Request("POST", "/integrations/alertmanager/" + std::string(kApiAlertmanagerKey), {}, am);
  EXPECT_EQ(am_unknown.status, 401);
  EXPECT_EQ(am_revoked.status, am_unknown.status);
  EXPECT_EQ(am_revoked.body, am_unknown.body);
  // Nothing reached the store; the other keys still work.
  auto r = c.Request("POST", "/incidents/query", {}, R"({"scope":{"service":"svc-db"}})");
  EXPECT_EQ(r.body.find(R"("dedupKey":"after")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("dedupKey":"before")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("status":"open")"), std::string::npos) << "resolved by a revoked key";
  r = c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "still-works", "Still works"));
  EXPECT_EQ(r.status, 202) << r.body;
}

// ---- (c) the demo ----

TEST_F(EngineApp, DemoTakesTheDocumentedKeyAndTheEventShowsUpInTheQuery) {
  const std::map<std::string, std::string> env{{"OPSORCH_DATA_DIR", (dir_ / "demo").string()}};
  std::string listed;
  {
    ServerProcess* s = StartServer(env, "demo.log", {"--demo"});
    ASSERT_NE(s, nullptr);
    HttpClient c(s->port());
    // docs/ENGINE.md, as written there.
    const auto r = c.Request("POST", "/v2/enqueue", {{"Content-Type", "application/json"}},
                             R"({"routing_key": "demo-routing-key-000000000000001", )"
                             R"("event_action": "trigger", "dedup_key": "disk-full-db1", )"
                             R"("payload": {"summary": "Disk full on db-1", "source": "db-1", )"
                             R"("severity": "critical"}})");
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(r.body, Accepted("disk-full-db1"));
    // curl -d sends a form content type; the documented query must work as it is.
    const auto q = c.Request("POST", "/incidents/query",
                             {{"Content-Type", "application/x-www-form-urlencoded"}},
                             R"({"statuses":["open"]})");
    ASSERT_EQ(q.status, 200) << q.body;
    const json::value got = json::parse(q.body);
    bool found = false;
    for (const auto& v : got.as_array()) {
      const auto& inc = v.as_object();
      if (inc.at("title") != "Disk full on db-1") continue;
      found = true;
      EXPECT_EQ(inc.at("status"), "open");
      EXPECT_EQ(inc.at("severity"), "sev1");
      EXPECT_EQ(inc.at("service"), "svc-checkout");
      EXPECT_EQ(inc.at("fields").as_object().at("dedupKey"), "disk-full-db1");
      EXPECT_EQ(inc.at("fields").as_object().at("urgency"), "high");
    }
    EXPECT_TRUE(found) << "the demo event is not among the open incidents: " << q.body;
    listed = c.Request("POST", "/incidents/query", {}, "{}").body;
    EXPECT_TRUE(s->Terminate(milliseconds(15'000)).clean()) << s->Log();
  }
  // Restarted on the same data dir, the demo keeps the event and does not seed its incidents
  // a second time.
  ServerProcess* s = StartServer(env, "demo2.log", {"--demo"});
  ASSERT_NE(s, nullptr);
  HttpClient c(s->port());
  EXPECT_EQ(c.Request("POST", "/incidents/query", {}, "{}").body, listed);
  const auto again =
      c.Request("POST", "/v2/enqueue", {}, Action(kDemoKey, "resolve", "disk-full-db1"));
  EXPECT_EQ(again.status, 202) << again.body;
  const auto q = c.Request("POST", "/incidents/query", {}, R"({"query":"Disk full on db-1"})");
  EXPECT_NE(q.body.find(R"("status":"resolved")"), std::string::npos) << q.body;
}

// ---- ingestion details the data-driven cases cannot express ----

class EngineAppInProcess : public EngineApp {
 protected:
  void SetUp() override {
    EngineApp::SetUp();
    auto s = TestServer::Start(LocalEnv(kCatalogSeed));
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }
  void TearDown() override {
    server_.reset();
    EngineApp::TearDown();
  }
  std::unique_ptr<TestServer> server_;
};

TEST_F(EngineAppInProcess, EventBodyOver512KiBIs413AndJustUnderIsAccepted) {
  HttpClient c(server_->Port());
  // A valid event padded with custom details to an exact size.
  const auto sized = [](std::size_t size, std::string_view key) {
    const std::string head = R"({"routing_key":")" + std::string(kApiKey) +
                             R"(","event_action":"trigger","dedup_key":")" + std::string(key) +
                             R"(","payload":{"summary":"Big","source":"it","severity":"info",)"
                             R"("custom_details":{"pad":")";
    const std::string tail = R"("}}})";
    return head + std::string(size - head.size() - tail.size(), 'x') + tail;
  };
  const auto under = c.Request("POST", "/v2/enqueue", {}, sized(512 * 1024, "just-under"));
  EXPECT_EQ(under.status, 202) << under.body;
  const auto over = c.Request("POST", "/v2/enqueue", {}, sized(512 * 1024 + 1, "just-over"));
  EXPECT_EQ(over.status, 413);
  EXPECT_EQ(
      over.body,
      R"({"status":"invalid event","message":"Event object is invalid","errors":["request body exceeds 524288 bytes"]})"
      "\n");
  const auto far_over = c.Request("POST", "/v2/enqueue", {}, sized(900 * 1024, "far-over"));
  EXPECT_EQ(far_over.status, 413);
  const auto batch = c.Request("POST", "/v2/enqueue/batch", {}, "[" + sized(600 * 1024, "b") + "]");
  EXPECT_EQ(batch.status, 413) << batch.body.substr(0, 300);
  const auto q = c.Request("POST", "/incidents/query", {}, R"({"query":"Big"})");
  EXPECT_EQ(q.status, 200);
  EXPECT_NE(q.body.find(R"("dedupKey":"just-under")"), std::string::npos) << q.body.substr(0, 300);
  EXPECT_EQ(q.body.find(R"("dedupKey":"just-over")"), std::string::npos);
  EXPECT_EQ(q.body.find(R"("dedupKey":"far-over")"), std::string::npos);
}

TEST_F(EngineAppInProcess, KeylessTriggerGetsAUuidThatAddressesItsIncident) {
  HttpClient c(server_->Port());
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> seen;
  for (int i = 0; i < 3; ++i) {
    const auto r = c.Request("POST", "/v2/enqueue", {},
                             R"({"routing_key":")" + std::string(kApiKey) +
                                 R"(","event_action":"trigger","payload":{"summary":"Keyless )" +
                                 std::to_string(i) + R"(","source":"cron","severity":"warning"}})");
    ASSERT_EQ(r.status, 202) << r.body;
    const json::value v = json::parse(r.body);
    const std::string key(v.as_object().at("dedup_key").as_string());
    EXPECT_TRUE(std::regex_match(key, uuid)) << "not a version 4 UUID: " << key;
    EXPECT_EQ(r.body, Accepted(key));
    seen.insert(key);
    // The generated key is the incident's: an acknowledge with it reaches the incident.
    const auto ack = c.Request("POST", "/v2/enqueue", {}, Action(kApiKey, "acknowledge", key));
    EXPECT_EQ(ack.body, Accepted(key));
    const auto q = c.Request("POST", "/incidents/query", {},
                             R"({"query":"Keyless )" + std::to_string(i) + R"("})");
    const json::value incs = json::parse(q.body);
    ASSERT_EQ(incs.as_array().size(), 1u) << q.body;
    const auto& inc = incs.as_array()[0].as_object();
    EXPECT_EQ(inc.at("fields").as_object().at("dedupKey"), key.c_str());
    EXPECT_EQ(inc.at("status"), "acknowledged");
  }
  EXPECT_EQ(seen.size(), 3u) << "generated dedup keys repeat";
}

// The console's status counters: incidents by state now, for all, one service or one team, and
// following every change (the SLA cache they are counted from follows the store).
TEST_F(EngineAppInProcess, IncidentCountsFollowEveryStateChange) {
  HttpClient c(server_->Port());
  const auto counts = [&](std::string_view query) {
    auto r = c.Request("GET", "/analytics/incident-counts" + std::string(query));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  };
  // The seed's one incident (svc-db, triggered).
  EXPECT_EQ(counts(""),
            "{\"triggered\":1,\"acknowledged\":0,\"resolved\":0,\"openByUrgency\":"
            "{\"high\":0,\"medium\":0,\"low\":1,\"other\":0}}\n");
  for (const char* k : {"c1", "c2", "c3"}) {
    ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, k, "Counted")).status, 202);
  }
  ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Action(kApiKey, "acknowledge", "c1")).status, 202);
  ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Action(kApiKey, "resolve", "c2")).status, 202);
  struct Row {
    std::string query, body;
  } rows[] = {
      {"", R"({"triggered":2,"acknowledged":1,"resolved":1})"},
      {"?service=svc-api", R"({"triggered":1,"acknowledged":1,"resolved":1})"},
      {"?service=svc-db", R"({"triggered":1,"acknowledged":0,"resolved":0})"},
      {"?team=team-data", R"({"triggered":1,"acknowledged":0,"resolved":0})"},
      {"?team=team-web&service=svc-db", R"({"triggered":0,"acknowledged":0,"resolved":0})"},
      {"?service=no-such-service", R"({"triggered":0,"acknowledged":0,"resolved":0})"},
  };
  // The state counts (openByUrgency follows them).
  const auto states = [&](std::string_view query) {
    const std::string body = counts(query);
    return body.substr(0, body.find(",\"openByUrgency\"")) + "}";
  };
  for (const Row& r : rows) EXPECT_EQ(states(r.query), r.body) << r.query;
  // A trigger after the resolve opens a new incident (no reopen window is configured).
  ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "c2", "Counted")).status, 202);
  EXPECT_EQ(states("?service=svc-api"), R"({"triggered":2,"acknowledged":1,"resolved":1})");
}

// The console's incident page lists an incident's own alerts: metadata.incidentId filters
// /alerts/query along the incident's chain, paged like any alert list.
TEST_F(EngineAppInProcess, AlertsOfOneIncident) {
  HttpClient c(server_->Port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "mine", "Mine")).status, 202);
    ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "other", "Other")).status, 202);
  }
  const json::value incs =
      json::parse(c.Request("POST", "/incidents/query", {}, R"({"query":"Mine"})").body);
  ASSERT_EQ(incs.as_array().size(), 1u);
  const std::string id(incs.as_array()[0].as_object().at("id").as_string());
  const auto alerts = [&](const std::string& body) {
    return c.Request("POST", "/alerts/query", {}, body);
  };
  const auto r = alerts(R"({"metadata":{"incidentId":")" + id + R"("}})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value list = json::parse(r.body);
  ASSERT_EQ(list.as_array().size(), 3u) << r.body;
  for (const auto& a : list.as_array()) {
    EXPECT_EQ(a.as_object().at("fields").as_object().at("incidentId"), id.c_str());
  }
  const auto page = alerts(R"({"limit":2,"metadata":{"incidentId":")" + id + R"("}})");
  EXPECT_EQ(json::parse(page.body).as_array().size(), 2u);
  EXPECT_FALSE(page.Header("X-OpsOrch-Next-Cursor").empty());
  for (const char* bad :
       {R"({"metadata":{"incidentId":7}})", R"({"metadata":{"incidentId":"al-1"}})",
        R"({"metadata":{"incidentId":"inc-x"}})"}) {
    EXPECT_EQ(alerts(bad).status, 400) << bad;
  }
  EXPECT_EQ(
      json::parse(alerts(R"({"metadata":{"incidentId":"inc-999999"}})").body).as_array().size(),
      0u);
}

// Reopening a resolved incident while a newer one is open for the same (service, dedup key) is
// a conflict (the store allows one open incident per key). The answer says so in the API's
// terms, not in the store's SQL.
TEST_F(EngineAppInProcess, ReopeningBesideANewerOpenIncidentIsAConflictThatShowsNoSql) {
  HttpClient c(server_->Port());
  ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "flap", "Flap")).status, 202);
  ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Action(kApiKey, "resolve", "flap")).status, 202);
  ASSERT_EQ(c.Request("POST", "/v2/enqueue", {}, Trigger(kApiKey, "flap", "Flap")).status, 202);
  // inc-1 is the seed's, inc-2 the resolved one, inc-3 the open one.
  const auto r = c.Request("PATCH", "/incidents/inc-2", {}, R"({"status":"open"})");
  EXPECT_EQ(r.status, 409) << r.body;
  const bool internals = r.body.find("sqlite") != std::string::npos ||
                         r.body.find("UNIQUE constraint") != std::string::npos;
  EXPECT_FALSE(internals) << "the answer shows the store's SQL: " << r.body;
  const auto inc2 = c.Request("GET", "/incidents/inc-2");
  EXPECT_NE(inc2.body.find(R"("status":"resolved")"), std::string::npos) << inc2.body;
}

}  // namespace
}  // namespace opsorch::testing
