// Scale-out, as a user deploys it: two opsorch processes with the `local` provider on one
// PostgreSQL database, the same seed, hammered at once by clients of both with events for the
// same few dedup keys, so that the nodes race on every key. What a user notices: every event
// answered 202 is stored exactly once; a key never has two open incidents, not even for a
// moment; the incidents, their alert counts, severities and timelines are what the events, in
// the order the database applied them, say they must be; both nodes answer the same.
//
// Needs OPSORCH_TEST_POSTGRES_URL (`make test` sets it); without it the test fails, it does not
// skip.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/engine/store.h>

#include "engine/store_fixture.h"
#include "support/http_client.h"
#include "support/server_process.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kRoutingKey = "cluster-routing-key-000000000001";
constexpr std::string_view kService = "svc-cluster";
constexpr std::string_view kIntegration = "cluster-events";
constexpr std::string_view kSeed = R"json({"services": [{"id": "svc-cluster", "name": "Cluster",
  "integrations": [{"id": "cluster-events", "kind": "events_v2",
                    "key": "cluster-routing-key-000000000001"}]}]})json";

// Few keys, so that both nodes race on every one of them. Keys 0–9 only get triggers (each
// must end as one open incident holding them all); keys 10–19 also get acknowledges and
// resolves, so incidents are acknowledged, resolved and opened again, and resolves arrive while
// nothing is open (held for their trigger).
constexpr int kKeys = 20;
constexpr int kTriggerOnlyKeys = 10;
// Per node: single-event clients and one client sending batches (whose answer names each
// event's action and incident, which are checked against the database).
constexpr int kSingleClients = 3;
constexpr int kEventsPerSingleClient = 250;
constexpr int kBatchClients = 1;
constexpr int kBatchesPerClient = 25;
constexpr int kBatchSize = 10;
constexpr std::string_view kNodes[] = {"a", "b"};
constexpr std::string_view kSeverities[] = {"info", "warning", "error", "critical"};

std::string KeyName(int k) { return (k < 10 ? "key-0" : "key-") + std::to_string(k); }

int SeverityRank(std::string_view s) {
  for (int i = 0; i < 4; ++i) {
    if (kSeverities[i] == s) return i + 1;
  }
  return 0;
}

// PagerDuty's two urgencies (docs/ENGINE.md, Vocabulary): critical and error page now.
std::string_view UrgencyOf(std::string_view severity) {
  return severity == "critical" || severity == "error" ? "high" : "low";
}

// One event a client sent. `client` (the Events v2 field, stored with the alert for every
// action) names it uniquely: "<node>-<client>-<n>".
struct Sent {
  std::string client;
  int key = 0;
  std::string action;
  std::string severity;  // triggers only
  int node = 0;
  bool accepted = false;  // answered 202 (a batch: its result is "success")
  bool batch = false;
  std::string reported_action;  // batches only
  std::string reported_incident;
  std::string answer;  // when not accepted: what came back
};

std::string EventBody(const Sent& s) {
  std::string body = R"({"routing_key":")" + std::string(kRoutingKey) + R"(","event_action":")" +
                     s.action + R"(","dedup_key":")" + KeyName(s.key) + R"(","client":")" +
                     s.client + "\"";
  if (s.action == "trigger") {
    body += R"(,"payload":{"summary":"Cluster )" + KeyName(s.key) + R"(","source":"node-)" +
            std::string(kNodes[s.node]) + R"(","severity":")" + s.severity + "\"}";
  }
  return body + "}";
}

// A client of one node: sends its events on one keep-alive connection once `go` is set,
// one per request or kBatchSize per batch request, and records every answer.
void RunClient(std::uint16_t port, int node, int client, bool batch, const std::atomic<bool>& go,
               std::vector<Sent>& out) {
  std::mt19937 rng(static_cast<unsigned>(1000 * node + client));
  const int total = batch ? kBatchesPerClient * kBatchSize : kEventsPerSingleClient;
  for (int n = 0; n < total; ++n) {
    Sent s;
    s.node = node;
    s.batch = batch;
    s.client = std::string(kNodes[node]) + "-" + std::to_string(client) + "-" + std::to_string(n);
    s.key = static_cast<int>(rng() % kKeys);
    const unsigned roll = rng() % 10;
    s.action = s.key < kTriggerOnlyKeys || roll < 6 ? "trigger"
               : roll < 8                           ? "acknowledge"
                                                    : "resolve";
    if (s.action == "trigger") s.severity = kSeverities[rng() % 4];
    out.push_back(std::move(s));
  }
  HttpClient c(port);
  while (!go) std::this_thread::yield();
  if (!batch) {
    for (Sent& s : out) {
      const HttpResponse r =
          c.Request("POST", "/v2/enqueue", {{"Content-Type", "application/json"}}, EventBody(s));
      const std::string ok = R"({"status":"success","message":"Event processed","dedup_key":")" +
                             KeyName(s.key) + "\"}\n";
      s.accepted = r.status == 202 && r.body == ok;
      if (!s.accepted) s.answer = std::to_string(r.status) + " " + r.body;
    }
    return;
  }
  for (std::size_t first = 0; first < out.size(); first += static_cast<std::size_t>(kBatchSize)) {
    std::string body = "[";
    for (std::size_t i = first; i < first + static_cast<std::size_t>(kBatchSize); ++i) {
      if (i > first) body += ",";
      body += EventBody(out[i]);
    }
    body += "]";
    const HttpResponse r =
        c.Request("POST", "/v2/enqueue/batch", {{"Content-Type", "application/json"}}, body);
    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    const json::array* results = nullptr;
    if (r.status == 202 && !ec && v.is_object()) {
      if (const auto* a = v.as_object().if_contains("results"); a && a->is_array()) {
        results = &a->as_array();
      }
    }
    for (std::size_t i = first; i < first + static_cast<std::size_t>(kBatchSize); ++i) {
      Sent& s = out[i];
      const json::object* res = nullptr;
      if (results && results->size() == static_cast<std::size_t>(kBatchSize) &&
          (*results)[i - first].is_object()) {
        res = &(*results)[i - first].as_object();
      }
      const auto text = [&](std::string_view field) -> std::string {
        const json::value* f = res ? res->if_contains(field) : nullptr;
        return f && f->is_string() ? std::string(f->as_string()) : "";
      };
      s.accepted = res && text("status") == "success" && text("dedup_key") == KeyName(s.key);
      s.reported_action = text("action");
      s.reported_incident = text("incident_id");
      if (!s.accepted) s.answer = std::to_string(r.status) + " " + r.body.substr(0, 300);
    }
  }
}

// Reads the open (and acknowledged) incidents over and over while the load runs: any snapshot
// with two of them for one key is a moment in which the key had two open incidents.
class OpenIncidentWatcher {
 public:
  explicit OpenIncidentWatcher(engine::Store& store) : thread_([this, &store] { Run(store); }) {}
  ~OpenIncidentWatcher() { Stop(); }

  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long snapshots() const { return snapshots_; }
  const std::vector<std::string>& problems() const { return problems_; }  // after Stop

 private:
  void Run(engine::Store& store) {
    while (!stop_) {
      // One statement: one consistent snapshot of the database.
      auto open =
          store.QueryIncidents(engine::IncidentFilter{.statuses = {"open", "acknowledged"}});
      if (!open) {
        problems_.push_back("query failed: " + open.error().message);
        return;
      }
      ++snapshots_;
      std::map<std::string, std::vector<std::string>> by_key;
      for (const auto& inc : *open) by_key[inc.service_id + "/" + inc.dedup_key].push_back(inc.id);
      for (const auto& [key, ids] : by_key) {
        if (ids.size() > 1 && problems_.size() < 10) {
          problems_.push_back(key + " had " + std::to_string(ids.size()) +
                              " open incidents at once: " + ids.front() + ", " + ids.back());
        }
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<long> snapshots_{0};
  std::vector<std::string> problems_;
  std::thread thread_;
};

// Collects problems, keeping the first few for the failure message.
class Problems {
 public:
  void Add(std::string p) {
    if (list_.size() < 15) list_.push_back(std::move(p));
    ++count_;
  }
  std::size_t count() const { return count_; }
  std::string Describe() const {
    std::string out;
    for (const auto& p : list_) out += "\n  " + p;
    if (count_ > list_.size())
      out += "\n  … and " + std::to_string(count_ - list_.size()) + " more";
    return out;
  }

 private:
  std::vector<std::string> list_;
  std::size_t count_ = 0;
};

class EngineCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("opsorch-engine-cluster-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  void TearDown() override {
    servers_.clear();  // kills and reaps any node still running
    store_.reset();
    if (!database_.empty()) {
      auto st = engine::DropPostgresTestDatabase(database_);
      EXPECT_TRUE(st) << "could not drop " << database_ << ": " << st.error().message;
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  std::string database_;
  std::unique_ptr<engine::Store> store_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

TEST_F(EngineCluster, TwoNodesOnOnePostgresKeepOneOpenIncidentPerKeyAndLoseNoEvent) {
  auto db = engine::CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  database_ = db->name;

  // ---- two nodes, one database, one seed ----
  std::ofstream(dir_ / "seed.json") << kSeed;
  for (int node = 0; node < 2; ++node) {
    const std::string name(kNodes[node]);
    const std::map<std::string, std::string> env{
        {"OPSORCH_DATA_DIR", (dir_ / ("data-" + name)).string()},
        {"OPSORCH_INCIDENT_PROVIDER", "local"},
        {"OPSORCH_ALERT_PROVIDER", "local"},
        {"OPSORCH_ENGINE_STORE", db->url},
        {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()}};
    // One after the other: two nodes applying the same seed to an empty database at the same
    // moment can both insert its integration, and the loser fails to start (reported
    // separately); this test is about the running cluster.
    std::string error;
    auto s = ServerProcess::Start(env, {}, dir_ / ("node-" + name + ".log"), &error);
    ASSERT_NE(s, nullptr) << "node " << name << ": " << error;
    servers_.push_back(std::move(s));
  }
  ASSERT_NE(servers_[0]->port(), servers_[1]->port());
  auto opened = engine::OpenStore(db->url);
  ASSERT_TRUE(opened) << opened.error().message;
  store_ = std::move(*opened);

  // ---- the load: every client of both nodes at once ----
  std::vector<std::vector<Sent>> per_client;
  per_client.reserve(2 * (kSingleClients + kBatchClients));
  double load_seconds = 0;
  long snapshots = 0;
  std::vector<std::string> watcher_problems;
  {
    OpenIncidentWatcher watcher(*store_);
    std::atomic<bool> go{false};
    std::vector<std::thread> clients;
    for (int node = 0; node < 2; ++node) {
      for (int c = 0; c < kSingleClients + kBatchClients; ++c) {
        per_client.emplace_back();
        clients.emplace_back(RunClient, servers_[node]->port(), node, c, c >= kSingleClients,
                             std::cref(go), std::ref(per_client.back()));
      }
    }
    const auto start = Clock::now();
    go = true;
    for (auto& t : clients) t.join();
    load_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    watcher.Stop();
    snapshots = watcher.snapshots();
    watcher_problems = watcher.problems();
  }
  std::map<std::string, const Sent*> sent;  // by client id
  std::size_t accepted = 0;
  std::size_t accepted_per_node[2] = {0, 0};
  std::vector<std::string> refused;
  for (const auto& list : per_client) {
    for (const Sent& s : list) {
      sent.emplace(s.client, &s);
      if (s.accepted) {
        ++accepted;
        ++accepted_per_node[s.node];
      } else if (refused.size() < 5) {
        refused.push_back(s.client + " (" + s.action + " " + KeyName(s.key) + ") → " + s.answer);
      }
    }
  }
  ASSERT_EQ(sent.size(), 2u * (kSingleClients * kEventsPerSingleClient +
                               kBatchClients * kBatchesPerClient * kBatchSize));
  EXPECT_EQ(accepted, sent.size())
      << sent.size() - accepted << " events were not accepted, e.g.:\n  "
      << (refused.empty() ? "" : refused.front());

  // ---- what the database holds ----
  auto alerts = store_->QueryAlerts({});
  ASSERT_TRUE(alerts) << alerts.error().message;
  auto incidents = store_->QueryIncidents({});
  ASSERT_TRUE(incidents) << incidents.error().message;
  std::sort(alerts->begin(), alerts->end(),
            [](const auto& x, const auto& y) { return x.seq < y.seq; });
  std::sort(incidents->begin(), incidents->end(),
            [](const auto& x, const auto& y) { return x.seq < y.seq; });
  std::map<std::string, const engine::IncidentRow*> incident_by_id;
  std::map<std::string, std::vector<const engine::IncidentRow*>> incidents_by_key;  // seq order
  for (const auto& inc : *incidents) {
    incident_by_id[inc.id] = &inc;
    incidents_by_key[inc.dedup_key].push_back(&inc);
  }

  // (1) Every accepted event is stored once, as sent; nothing else is stored.
  std::map<std::string, int> stored_times;
  std::map<std::string, std::vector<const engine::AlertRow*>> alerts_by_key;  // seq order
  std::map<std::string, std::vector<const engine::AlertRow*>> alerts_by_incident;
  Problems storage;
  for (const auto& a : *alerts) {
    alerts_by_key[a.dedup_key].push_back(&a);
    if (!a.incident_id.empty()) alerts_by_incident[a.incident_id].push_back(&a);
    const auto it = sent.find(a.client);
    if (it == sent.end() || !it->second->accepted) {
      storage.Add(a.id + " (client \"" + a.client + "\") is stored but was not accepted");
      continue;
    }
    if (++stored_times[a.client] == 2) storage.Add(a.client + " is stored twice");
    const Sent& s = *it->second;
    if (a.dedup_key != KeyName(s.key) || a.action != s.action || a.service_id != kService ||
        a.integration_id != kIntegration || (s.action == "trigger" && a.severity != s.severity)) {
      storage.Add(a.id + " is not what " + s.client + " sent: " + a.action + " " + a.dedup_key +
                  " " + a.severity + " on " + a.service_id + "/" + a.integration_id);
    }
  }
  std::size_t lost = 0;
  for (const auto& [client, s] : sent) {
    if (s->accepted && !stored_times.contains(client)) {
      ++lost;
      storage.Add(client + " (" + s->action + " " + KeyName(s->key) + ") was accepted on node " +
                  std::string(kNodes[s->node]) + " but is not stored");
    }
  }
  EXPECT_EQ(alerts->size(), accepted) << "stored alerts ≠ accepted events";
  EXPECT_EQ(lost, 0u) << "accepted events lost";
  EXPECT_EQ(storage.count(), 0u) << "stored events ≠ accepted events:" << storage.Describe();

  // (2) Replaying each key's events in the order the database applied them (alert seq: a
  // key's alerts are inserted under its lock, so their seqs follow that order) by the engine's
  // rules gives exactly the stored incidents and links. Two open incidents for a key at any
  // moment would show as a trigger linked to a new incident while the model has one open.
  struct Expect {
    std::string incident;  // linked at the end ("" = unlinked)
    bool held = false;     // a resolve still waiting for its trigger
    std::string action;    // what the engine answered
    std::string answered_incident;
  };
  struct ModelIncident {
    const engine::IncidentRow* row;
    std::string status = "open";
    std::int64_t alerts = 0;
    int severity = 0;
    bool acknowledged = false;
    int creator_node = 0;
  };
  const auto node_of = [](const engine::AlertRow* a) {
    return a->client.starts_with("b-") ? 1 : 0;
  };
  std::map<std::string, Expect> expect;  // by alert id
  Problems model_problems;
  long switches = 0;                   // consecutive alerts of a key applied by different nodes
  long cross_node_links = 0;           // events linked to an incident the other node created
  std::map<std::string, long> counts;  // actions
  std::set<std::string> keys_with_both_nodes;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = KeyName(k);
    const auto& actual = incidents_by_key[key];
    std::vector<ModelIncident> model;
    std::optional<std::size_t> open;
    std::deque<const engine::AlertRow*> held;
    bool broken = false;
    std::set<int> nodes;
    const auto create = [&](const engine::AlertRow* a) -> ModelIncident* {
      if (model.size() >= actual.size()) {
        model_problems.Add(key + ": " + a->id + " must open incident #" +
                           std::to_string(model.size() + 1) + " of the key, but it has only " +
                           std::to_string(actual.size()));
        broken = true;
        return nullptr;
      }
      model.push_back(ModelIncident{actual[model.size()]});
      model.back().creator_node = node_of(a);
      return &model.back();
    };
    const engine::AlertRow* previous = nullptr;
    for (const engine::AlertRow* a : alerts_by_key[key]) {
      nodes.insert(node_of(a));
      if (previous && node_of(previous) != node_of(a)) ++switches;
      previous = a;
      Expect& e = expect[a->id];
      const int rank = SeverityRank(a->severity);
      if (a->action == "trigger") {
        if (open) {
          ModelIncident& m = model[*open];
          e = {m.row->id, false, "deduplicated", m.row->id};
          ++m.alerts;
          m.severity = std::max(m.severity, rank);
          if (m.creator_node != node_of(a)) ++cross_node_links;
        } else if (!held.empty()) {
          ModelIncident* m = create(a);
          if (!m) break;
          m->status = "resolved";
          m->alerts = 2;
          m->severity = rank;
          e = {m->row->id, false, "resolved", m->row->id};
          ++counts["resolved by a held resolve"];
          Expect& h = expect[held.front()->id];
          h.incident = m->row->id;
          h.held = false;
          held.pop_front();
        } else {
          ModelIncident* m = create(a);
          if (!m) break;
          m->alerts = 1;
          m->severity = rank;
          e = {m->row->id, false, "triggered", m->row->id};
          open = model.size() - 1;
        }
      } else if (a->action == "acknowledge") {
        if (open) {
          ModelIncident& m = model[*open];
          e = {m.row->id, false, "acknowledged", m.row->id};
          ++m.alerts;
          if (m.status == "open") m.status = "acknowledged";
          m.acknowledged = true;
          if (m.creator_node != node_of(a)) ++cross_node_links;
        } else {
          e = {"", false, "ignored", ""};
        }
      } else {
        if (open) {
          ModelIncident& m = model[*open];
          e = {m.row->id, false, "resolved", m.row->id};
          ++m.alerts;
          m.status = "resolved";
          open.reset();
          if (m.creator_node != node_of(a)) ++cross_node_links;
        } else if (std::any_of(model.begin(), model.end(),
                               [](const ModelIncident& m) { return m.status == "resolved"; })) {
          // A repeat of a resolve (the key's incident was resolved within the hold window,
          // which covers this whole test): kept unattached, not held.
          e = {"", false, "ignored", ""};
        } else {
          e = {"", true, "held", ""};
          held.push_back(a);
        }
      }
      ++counts[e.action];
    }
    if (nodes.size() == 2) keys_with_both_nodes.insert(key);
    if (broken) continue;
    if (model.size() != actual.size()) {
      model_problems.Add(key + ": its events open " + std::to_string(model.size()) +
                         " incidents, but " + std::to_string(actual.size()) + " are stored");
    }
    for (const ModelIncident& m : model) {
      const engine::IncidentRow& r = *m.row;
      const std::string want_severity =
          m.severity > 0 ? std::string(kSeverities[m.severity - 1]) : "";
      if (r.status != m.status || r.alert_count != m.alerts || r.severity != want_severity ||
          r.urgency != UrgencyOf(want_severity) || (r.acknowledged_at != 0) != m.acknowledged ||
          (r.resolved_at != 0) != (m.status == "resolved") || r.service_id != kService) {
        model_problems.Add(key + ": " + r.id + " is " + r.status + ", " +
                           std::to_string(r.alert_count) + " alerts, " + r.severity + "/" +
                           r.urgency + (r.acknowledged_at ? ", acknowledged" : "") +
                           "; its events make it " + m.status + ", " + std::to_string(m.alerts) +
                           " alerts, " + want_severity + (m.acknowledged ? ", acknowledged" : ""));
      }
    }
  }
  for (const auto& a : *alerts) {
    const auto it = expect.find(a.id);
    if (it == expect.end()) {
      model_problems.Add(a.id + " has dedup key \"" + a.dedup_key + "\", which nobody sent");
      continue;
    }
    if (a.incident_id != it->second.incident || (a.held_until > 0) != it->second.held) {
      model_problems.Add(a.dedup_key + ": " + a.id + " (" + a.action + ") is linked to \"" +
                         a.incident_id + "\"" + (a.held_until > 0 ? ", held" : "") +
                         "; its place among the key's events links it to \"" + it->second.incident +
                         "\"" + (it->second.held ? ", held" : ""));
    }
  }
  EXPECT_EQ(model_problems.count(), 0u)
      << "the stored incidents are not what the applied events make them:"
      << model_problems.Describe();

  // (3) At most one open incident per key: at every moment the watcher looked, and at the end.
  EXPECT_TRUE(watcher_problems.empty()) << watcher_problems.front();
  EXPECT_GE(snapshots, 10) << "the watcher hardly looked";
  std::size_t open_now = 0;
  for (const auto& [key, list] : incidents_by_key) {
    const auto n = std::count_if(list.begin(), list.end(),
                                 [](const auto* r) { return r->status != "resolved"; });
    open_now += static_cast<std::size_t>(n);
    EXPECT_LE(n, 1) << key << " has " << n << " open incidents";
  }
  // The trigger-only keys: one open incident each, holding every trigger of the key.
  for (int k = 0; k < kTriggerOnlyKeys; ++k) {
    const std::string key = KeyName(k);
    long triggers = 0;
    for (const auto& [client, s] : sent) triggers += s->accepted && s->key == k;
    const auto& list = incidents_by_key[key];
    EXPECT_EQ(list.size(), 1u) << key << " has " << list.size()
                               << " incidents; it only had triggers";
    if (list.size() != 1) continue;
    EXPECT_EQ(list[0]->status, "open") << key;
    EXPECT_EQ(list[0]->alert_count, triggers) << key << ": " << list[0]->id;
    EXPECT_EQ(alerts_by_incident[list[0]->id].size(), static_cast<std::size_t>(triggers)) << key;
  }

  // (4) Every accepted trigger has its incident (of its key); a batch's answer named the
  // action and incident the database shows.
  Problems answers;
  for (const auto& a : *alerts) {
    const auto s = sent.find(a.client);
    if (s == sent.end()) continue;  // reported in (1)
    if (a.action == "trigger") {
      const auto inc = incident_by_id.find(a.incident_id);
      if (inc == incident_by_id.end() || inc->second->dedup_key != a.dedup_key ||
          inc->second->service_id != a.service_id) {
        answers.Add("trigger " + a.client + " of " + a.dedup_key +
                    " has no incident of its key (\"" + a.incident_id + "\")");
      }
    }
    const Expect& e = expect[a.id];
    if (s->second->batch && (s->second->reported_action != e.action ||
                             s->second->reported_incident != e.answered_incident)) {
      answers.Add(a.client + " (" + a.action + " " + a.dedup_key + ") was answered " +
                  s->second->reported_action + " " + s->second->reported_incident +
                  "; the database says " + e.action + " " + e.answered_incident);
    }
  }
  EXPECT_EQ(answers.count(), 0u) << answers.Describe();

  // (5) Each incident's timeline has one entry per alert linked to it, naming that alert.
  Problems timelines;
  for (const auto& inc : *incidents) {
    auto t = store_->Timeline(inc.id);
    ASSERT_TRUE(t) << t.error().message;
    std::multiset<std::string> named;
    for (const auto& entry : *t) {
      const auto* id = entry.metadata.if_contains("alertId");
      named.insert(id && id->is_string() ? std::string(id->get_string()) : "");
    }
    std::multiset<std::string> linked;
    for (const auto* a : alerts_by_incident[inc.id]) linked.insert(a->id);
    if (named != linked || static_cast<std::int64_t>(t->size()) != inc.alert_count) {
      timelines.Add(inc.id + ": " + std::to_string(t->size()) + " timeline entries for " +
                    std::to_string(linked.size()) + " linked alerts (alert count " +
                    std::to_string(inc.alert_count) + ")");
    }
  }
  EXPECT_EQ(timelines.count(), 0u) << timelines.Describe();

  // (6) Through the OpsOrch API both nodes show the same incidents, as stored.
  std::string answers_of[2];
  for (int node = 0; node < 2; ++node) {
    HttpClient c(servers_[node]->port());
    const HttpResponse r = c.Request("POST", "/incidents/query", {}, R"({"limit":1000000})");
    ASSERT_EQ(r.status, 200) << "node " << kNodes[node] << ": " << r.body.substr(0, 300);
    answers_of[node] = r.body;
  }
  EXPECT_TRUE(answers_of[0] == answers_of[1]) << "the nodes list different incidents";
  boost::system::error_code ec;
  const json::value listed = json::parse(answers_of[0], ec);
  ASSERT_FALSE(ec) << answers_of[0].substr(0, 300);
  ASSERT_TRUE(listed.is_array()) << answers_of[0].substr(0, 300);
  EXPECT_EQ(listed.as_array().size(), incidents->size());
  Problems api;
  for (const auto& v : listed.as_array()) {
    const auto& inc = v.as_object();
    const std::string id(inc.at("id").as_string());
    const auto row = incident_by_id.find(id);
    if (row == incident_by_id.end()) {
      api.Add(id + " is listed but not stored");
      continue;
    }
    const auto& fields = inc.at("fields").as_object();
    const auto* key = fields.if_contains("dedupKey");
    const auto* count = fields.if_contains("alertCount");
    if (inc.at("status") != row->second->status.c_str() || !key ||
        *key != row->second->dedup_key.c_str() || !count || !count->is_int64() ||
        count->as_int64() != row->second->alert_count) {
      api.Add(id + " is listed as " + json::serialize(v).substr(0, 300));
    }
  }
  EXPECT_EQ(api.count(), 0u) << api.Describe();

  // The load did what it is for: both nodes applied events of every key, interleaved.
  EXPECT_EQ(keys_with_both_nodes.size(), static_cast<std::size_t>(kKeys))
      << "some keys got events from one node only";
  EXPECT_GE(switches, 100) << "the nodes hardly interleaved on the keys";
  EXPECT_GT(cross_node_links, 0) << "no event reached an incident the other node opened";

  std::size_t acknowledged_incidents = 0;
  for (const auto& inc : *incidents) acknowledged_incidents += inc.status == "acknowledged";
  std::cout << "[ cluster ] " << sent.size() << " events to " << kKeys << " keys from "
            << 2 * (kSingleClients + kBatchClients) << " clients in " << load_seconds << " s ("
            << static_cast<long>(accepted / load_seconds) << "/s); 202: " << accepted << " (node a "
            << accepted_per_node[0] << ", node b " << accepted_per_node[1] << "); stored alerts "
            << alerts->size() << " (triggered " << counts["triggered"] << ", deduplicated "
            << counts["deduplicated"] << ", acknowledged " << counts["acknowledged"]
            << ", resolved " << counts["resolved"] << " (of them "
            << counts["resolved by a held resolve"] << " triggers meeting a held resolve), ignored "
            << counts["ignored"] << ", held " << counts["held"] << "); incidents "
            << incidents->size() << " (open " << open_now - acknowledged_incidents
            << ", acknowledged " << acknowledged_incidents << ", resolved "
            << incidents->size() - open_now << "); node switches " << switches
            << ", cross-node links " << cross_node_links << ", watcher snapshots " << snapshots
            << "\n";
  RecordProperty("accepted", static_cast<int>(accepted));
  RecordProperty("incidents", static_cast<int>(incidents->size()));

  // Both nodes stop cleanly (their writers drain, their connections close).
  for (auto& s : servers_) {
    const auto exit = s->Terminate(milliseconds(15'000));
    EXPECT_TRUE(exit.clean()) << "exit " << exit.code << ", signal " << exit.signal << "\n"
                              << s->Log();
  }
}

}  // namespace
}  // namespace opsorch::testing
