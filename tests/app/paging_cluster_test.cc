// Paging on two nodes, as a user scales it out: two `opsorch serve` processes (the `local`
// provider) on one PostgreSQL database and one seed, people whose webhooks all point at one
// Standard Webhooks receiver in this test. What a user notices:
// - many incidents triggered through both nodes at once (every key is sent to both nodes, so
//   they race on each one): every page is delivered exactly once (counted by webhook-id), the
//   number of distinct webhook-ids is the number of notifications the database holds as sent,
//   and every incident's level fired exactly once (one "escalated" timeline entry);
// - "escalate now" sent to both nodes at the same moment for the same incident: each accepted
//   escalation fires exactly one level (as many "escalated_manually" entries as 200 answers, no
//   level twice) and still no page is sent twice.
//
// Needs OPSORCH_TEST_POSTGRES_URL (`make test` sets it); without it the test fails, it does not
// skip.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <opsorch/engine/store.h>

#include "engine/store_fixture.h"
#include "support/http_client.h"
#include "support/server_process.h"
#include "support/standard_webhooks.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Base64 of the 32 bytes "0123456789abcdef0123456789abcdef".
constexpr std::string_view kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";

// Policy i (one level) pages person i and person i+1, each on two webhook contact methods (two
// rules at delay 0): four messages per incident, and no contact method near its rate limit.
constexpr int kPeople = 10;
constexpr int kServices = 10;
constexpr int kKeys = 200;
constexpr int kMessagesPerIncident = 4;
constexpr int kClientsPerNode = 4;
// The race: a three-level policy (long delays, so only manual escalation moves it) on its own
// service; level L pages person L-1 on both contact methods.
constexpr int kRaceIncidents = 20;
constexpr int kRaceLevels = 3;
constexpr int kRaceRounds = 2;  // each round: one escalate per node, at the same moment
constexpr std::string_view kNodes[] = {"a", "b"};

std::string Person(int i) { return "p" + std::to_string(i); }
std::string RoutingKey(int s) { return "cluster-paging-routing-key-" + std::to_string(100 + s); }
constexpr std::string_view kRaceRoutingKey = "cluster-paging-race-routing-key-1";
std::string DedupKey(int k) { return "key-" + std::to_string(k); }

// A Standard Webhooks receiver that checks every signature and records every request.
class Receiver {
 public:
  struct Hit {
    std::string id;
    std::string path;
    bool signature_ok = false;
    std::string notification, incident, person;
  };

  Receiver() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.Post(
        R"(/hook/(\w+)/(\w+))", [this](const httplib::Request& req, httplib::Response& res) {
          Hit h;
          h.id = req.get_header_value("webhook-id");
          h.path = std::string(req.matches[1]) + "/" + std::string(req.matches[2]);
          h.signature_ok =
              req.get_header_value("webhook-signature") ==
              WebhookSignature(kKey, h.id, req.get_header_value("webhook-timestamp"), req.body);
          boost::system::error_code ec;
          const json::value v = json::parse(req.body, ec);
          if (!ec && v.is_object()) {
            const auto id_of = [&](std::string_view field) -> std::string {
              const auto* o = v.as_object().if_contains(field);
              if (o == nullptr || !o->is_object()) return "";
              const auto* id = o->as_object().if_contains("id");
              return id != nullptr && id->is_string() ? std::string(id->as_string()) : "";
            };
            h.incident = id_of("incident");
            h.person = id_of("person");
            h.notification = id_of("notification");
          }
          {
            std::lock_guard lock(mu_);
            hits_.push_back(std::move(h));
          }
          res.status = 200;
        });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(milliseconds(1));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string Url(std::string_view person, std::string_view method) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hook/" + std::string(person) + "/" +
           std::string(method);
  }
  std::vector<Hit> Hits() {
    std::lock_guard lock(mu_);
    return hits_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Hit> hits_;
};

std::string Seed(const Receiver& receiver) {
  json::array users, policies, services;
  for (int i = 0; i < kPeople; ++i) {
    json::array methods, rules;
    for (const char* m : {"a", "b"}) {
      methods.push_back(json::object{{"id", m},
                                     {"type", "webhook"},
                                     {"address", receiver.Url(Person(i), m)},
                                     {"secret", kSecret}});
      rules.push_back(
          json::object{{"contactMethod", m}, {"startDelayMinutes", 0}, {"urgency", "high"}});
    }
    users.push_back(json::object{{"id", Person(i)},
                                 {"name", "Person " + std::to_string(i)},
                                 {"contactMethods", methods},
                                 {"notificationRules", rules}});
  }
  const auto integration = [](const std::string& id, std::string_view key) {
    return json::array{json::object{{"id", id}, {"key", key}}};
  };
  for (int s = 0; s < kServices; ++s) {
    json::array targets{json::object{{"type", "user"}, {"id", Person(s % kPeople)}},
                        json::object{{"type", "user"}, {"id", Person((s + 1) % kPeople)}}};
    policies.push_back(json::object{
        {"id", "pol-" + std::to_string(s)},
        {"name", "Policy " + std::to_string(s)},
        {"numLoops", 0},
        {"rules", json::array{json::object{{"delayMinutes", 30}, {"targets", targets}}}}});
    services.push_back(
        json::object{{"id", "svc-" + std::to_string(s)},
                     {"name", "Service " + std::to_string(s)},
                     {"escalationPolicy", "pol-" + std::to_string(s)},
                     {"integrations", integration("int-" + std::to_string(s), RoutingKey(s))}});
  }
  json::array race_rules;
  for (int l = 0; l < kRaceLevels; ++l) {
    race_rules.push_back(
        json::object{{"delayMinutes", 60},
                     {"targets", json::array{json::object{{"type", "user"}, {"id", Person(l)}}}}});
  }
  policies.push_back(
      json::object{{"id", "pol-race"}, {"name", "Race"}, {"numLoops", 0}, {"rules", race_rules}});
  services.push_back(json::object{{"id", "svc-race"},
                                  {"name", "Race"},
                                  {"escalationPolicy", "pol-race"},
                                  {"integrations", integration("int-race", kRaceRoutingKey)}});
  return json::serialize(
      json::object{{"users", users}, {"escalationPolicies", policies}, {"services", services}});
}

std::string TriggerBody(std::string_view routing_key, const std::string& dedup_key) {
  return json::serialize(
      json::object{{"routing_key", routing_key},
                   {"event_action", "trigger"},
                   {"dedup_key", dedup_key},
                   {"payload", json::object{{"summary", "Cluster paging " + dedup_key},
                                            {"source", "paging-cluster-test"},
                                            {"severity", "critical"}}}});
}

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
    if (count_ > list_.size()) {
      out += "\n  … and " + std::to_string(count_ - list_.size()) + " more";
    }
    return out;
  }

 private:
  std::vector<std::string> list_;
  std::size_t count_ = 0;
};

bool Terminal(std::string_view status) {
  return status == "sent" || status == "failed" || status == "unknown" || status == "cancelled";
}

// The node's count of webhook pages it recorded as sent (its /metrics).
long SentByNode(std::uint16_t port) {
  HttpClient c(port);
  const HttpResponse r = c.Request("GET", "/metrics");
  std::istringstream in(r.body);
  long total = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("opsorch_paging_notifications_total{") &&
        line.find("status=\"sent\"") != std::string::npos &&
        line.find("channel=\"webhook\"") != std::string::npos) {
      total += std::stol(line.substr(line.rfind(' ') + 1));
    }
  }
  return total;
}

class PagingCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("opsorch-paging-cluster-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    servers_.clear();
    store_.reset();
    if (!database_.empty()) {
      auto st = engine::DropPostgresTestDatabase(database_);
      EXPECT_TRUE(st) << "could not drop " << database_ << ": " << st.error().message;
    }
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }

  // Every incident's notifications and timeline, as the database holds them now.
  struct View {
    std::vector<engine::IncidentRow> incidents;
    std::map<std::string, std::vector<engine::NotificationRow>> notifications;
    std::map<std::string, std::vector<engine::TimelineRow>> timelines;
  };
  View Read(bool with_timelines) {
    View v;
    auto incidents = store_->QueryIncidents({});
    EXPECT_TRUE(incidents) << incidents.error().message;
    if (!incidents) return v;
    v.incidents = std::move(*incidents);
    for (const auto& inc : v.incidents) {
      auto rows = store_->Notifications(inc.seq);
      EXPECT_TRUE(rows) << rows.error().message;
      if (rows) v.notifications[inc.id] = std::move(*rows);
      if (with_timelines) {
        auto t = store_->Timeline(inc.id);
        EXPECT_TRUE(t) << t.error().message;
        if (t) v.timelines[inc.id] = std::move(*t);
      }
    }
    return v;
  }

  // Waits until `incidents` incidents exist and every notification is settled.
  bool WaitSettled(std::size_t incidents, std::size_t notifications, std::string* why) {
    return WaitFor(
        [&] {
          const View v = Read(false);
          if (v.incidents.size() < incidents) {
            *why = std::to_string(v.incidents.size()) + " incidents";
            return false;
          }
          std::size_t rows = 0;
          for (const auto& [id, list] : v.notifications) {
            for (const auto& n : list) {
              ++rows;
              if (!Terminal(n.status)) {
                *why = id + " has a " + n.status + " notification";
                return false;
              }
            }
          }
          *why = std::to_string(rows) + " notifications";
          return rows >= notifications;
        },
        milliseconds(30'000));
  }

  fs::path dir_;
  std::string database_;
  std::unique_ptr<engine::Store> store_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

TEST_F(PagingCluster, TwoNodesOnOnePostgresPageEveryMessageOnceAndFireEachLevelOnce) {
  const auto test_start = Clock::now();
  auto db = engine::CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  database_ = db->name;
  Receiver receiver;
  std::ofstream(dir_ / "seed.json") << Seed(receiver);
  for (int node = 0; node < 2; ++node) {
    const std::string name(kNodes[node]);
    const std::map<std::string, std::string> env{
        {"OPSORCH_DATA_DIR", (dir_ / ("data-" + name)).string()},
        {"OPSORCH_INCIDENT_PROVIDER", "local"},
        {"OPSORCH_ALERT_PROVIDER", "local"},
        {"OPSORCH_ENGINE_STORE", db->url},
        {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()},
        {"OPSORCH_OUTBOUND_ALLOW_NETS", "127.0.0.0/8"}};
    // One after the other: two nodes seeding an empty database at the same moment is another
    // test's subject (engine_cluster_test.cc).
    std::string error;
    auto s = ServerProcess::Start(env, {}, dir_ / ("node-" + name + ".log"), &error);
    ASSERT_NE(s, nullptr) << "node " << name << ": " << error;
    servers_.push_back(std::move(s));
  }
  auto opened = engine::OpenStore(db->url);
  ASSERT_TRUE(opened) << opened.error().message;
  store_ = std::move(*opened);

  // ---- part 1: every key triggered through both nodes at once ----
  std::vector<std::vector<int>> answers(2, std::vector<int>(kKeys, 0));
  {
    std::atomic<bool> go{false};
    std::vector<std::thread> clients;
    for (int node = 0; node < 2; ++node) {
      for (int c = 0; c < kClientsPerNode; ++c) {
        clients.emplace_back([&, node, c] {
          HttpClient client(servers_[static_cast<std::size_t>(node)]->port());
          while (!go) std::this_thread::yield();
          // Both nodes walk the keys in the same order: they race on each key.
          for (int k = c; k < kKeys; k += kClientsPerNode) {
            const HttpResponse r =
                client.Request("POST", "/v2/enqueue", {{"Content-Type", "application/json"}},
                               TriggerBody(RoutingKey(k % kServices), DedupKey(k)));
            answers[static_cast<std::size_t>(node)][static_cast<std::size_t>(k)] = r.status;
          }
        });
      }
    }
    go = true;
    for (auto& t : clients) t.join();
  }
  Problems refused;
  for (int node = 0; node < 2; ++node) {
    for (int k = 0; k < kKeys; ++k) {
      const int status = answers[static_cast<std::size_t>(node)][static_cast<std::size_t>(k)];
      if (status != 202) {
        refused.Add("node " + std::string(kNodes[node]) + ", " + DedupKey(k) + ": " +
                    std::to_string(status));
      }
    }
  }
  EXPECT_EQ(refused.count(), 0u) << "triggers not accepted:" << refused.Describe();
  std::string why;
  ASSERT_TRUE(WaitSettled(kKeys, kKeys * kMessagesPerIncident, &why))
      << "pages not settled in 30 s: " << why << "\nnode a:\n"
      << servers_[0]->Log() << "\nnode b:\n"
      << servers_[1]->Log();
  const double part1_seconds = std::chrono::duration<double>(Clock::now() - test_start).count();

  // ---- part 2: "escalate now" through both nodes at the same moment ----
  for (int i = 0; i < kRaceIncidents; ++i) {
    HttpClient c(servers_[static_cast<std::size_t>(i % 2)]->port());
    const HttpResponse r = c.Request("POST", "/v2/enqueue", {{"Content-Type", "application/json"}},
                                     TriggerBody(kRaceRoutingKey, "race-" + std::to_string(i)));
    ASSERT_EQ(r.status, 202) << r.body;
  }
  ASSERT_TRUE(
      WaitSettled(kKeys + kRaceIncidents, kKeys * kMessagesPerIncident + kRaceIncidents * 2, &why))
      << why;
  std::map<std::string, std::string> race_incident;  // dedup key → incident id
  for (const auto& inc : Read(false).incidents) {
    if (inc.service_id == "svc-race") race_incident[inc.dedup_key] = inc.id;
  }
  ASSERT_EQ(race_incident.size(), static_cast<std::size_t>(kRaceIncidents));
  std::map<std::string, int> accepted;  // incident id → escalations answered 200
  Problems race_answers;
  for (int round = 0; round < kRaceRounds; ++round) {
    for (const auto& [key, id] : race_incident) {
      std::atomic<int> ready{0};
      int status[2] = {0, 0};
      std::string body[2];
      std::vector<std::thread> pair;
      for (int node = 0; node < 2; ++node) {
        pair.emplace_back([&, node] {
          HttpClient c(servers_[static_cast<std::size_t>(node)]->port());
          ++ready;
          while (ready < 2) std::this_thread::yield();
          const HttpResponse r = c.Request("POST", "/incidents/" + id + "/escalate",
                                           {{"Content-Type", "application/json"}}, "{}");
          status[node] = r.status;
          body[node] = r.body;
        });
      }
      for (auto& t : pair) t.join();
      for (int node = 0; node < 2; ++node) {
        if (status[node] == 200) {
          ++accepted[id];
        } else if (status[node] != 409) {
          race_answers.Add(id + " round " + std::to_string(round) + " node " +
                           std::string(kNodes[node]) + ": " + std::to_string(status[node]) + " " +
                           body[node].substr(0, 200));
        }
      }
    }
  }
  EXPECT_EQ(race_answers.count(), 0u)
      << "escalations answered neither 200 nor 409:" << race_answers.Describe();
  std::size_t race_messages = 0;
  for (const auto& [id, n] : accepted) race_messages += 2 * static_cast<std::size_t>(n);
  ASSERT_TRUE(WaitSettled(kKeys + kRaceIncidents,
                          kKeys * kMessagesPerIncident + kRaceIncidents * 2 + race_messages, &why))
      << why;

  // ---- what arrived, against what the database holds ----
  // A sweep on the other node may still be running: give late duplicates a moment to show.
  std::this_thread::sleep_for(milliseconds(1500));
  const View view = Read(true);
  const std::vector<Receiver::Hit> hits = receiver.Hits();
  std::map<std::string, std::vector<const Receiver::Hit*>> by_id;
  for (const auto& h : hits) by_id[h.id].push_back(&h);

  std::set<std::string> keys;
  for (const auto& inc : view.incidents) keys.insert(inc.service_id + "/" + inc.dedup_key);
  EXPECT_EQ(view.incidents.size(), static_cast<std::size_t>(kKeys + kRaceIncidents))
      << "a key has more than one incident, or one is missing";
  EXPECT_EQ(keys.size(), view.incidents.size());

  Problems delivery, levels, race;
  std::size_t sent_rows = 0, rows_total = 0;
  std::set<std::string> known_ids;
  for (const auto& inc : view.incidents) {
    const bool is_race = inc.service_id == "svc-race";
    const auto& rows = view.notifications.at(inc.id);
    rows_total += rows.size();
    const std::size_t expected_rows =
        is_race ? 2 * static_cast<std::size_t>(1 + accepted[inc.id]) : kMessagesPerIncident;
    if (rows.size() != expected_rows) {
      delivery.Add(inc.id + " has " + std::to_string(rows.size()) + " notifications, not " +
                   std::to_string(expected_rows));
    }
    for (const auto& n : rows) {
      const std::string wid = WebhookIdOf(n.idempotency_key);
      known_ids.insert(wid);
      sent_rows += n.status == "sent";
      const auto it = by_id.find(wid);
      const std::size_t times = it == by_id.end() ? 0 : it->second.size();
      if (n.status != "sent" || times != 1) {
        delivery.Add(n.id + " of " + inc.id + " to " + n.person_id + "/" + n.contact_method +
                     ": status " + n.status + " (" + n.detail + "), received " +
                     std::to_string(times) + " time(s)");
      }
      if (it == by_id.end()) continue;
      for (const auto* h : it->second) {
        if (!h->signature_ok || h->notification != n.id || h->incident != inc.id ||
            h->person != n.person_id || h->path != n.person_id + "/" + n.contact_method) {
          delivery.Add(wid + " arrived as {signature " + (h->signature_ok ? "ok" : "BAD") + ", " +
                       h->notification + ", " + h->incident + ", " + h->path +
                       "}; the database says {" + n.id + ", " + inc.id + ", " + n.person_id + "/" +
                       n.contact_method + "}");
        }
      }
    }
    const auto& t = view.timelines.at(inc.id);
    std::multiset<std::int64_t> fired;
    long manual = 0, started = 0;
    for (const auto& e : t) {
      if (e.kind == "escalated") {
        const auto* l = e.metadata.if_contains("level");
        fired.insert(l != nullptr && l->is_int64() ? l->as_int64() : -1);
      }
      manual += e.kind == "escalated_manually";
      started += e.kind == "escalation_started";
    }
    if (!is_race) {
      if (started != 1 || fired != std::multiset<std::int64_t>{1} || manual != 0) {
        levels.Add(inc.id + ": " + std::to_string(started) + " escalation_started, " +
                   std::to_string(fired.size()) + " escalated");
      }
      continue;
    }
    // One level per accepted escalation, none twice: levels 1 … 1 + accepted, once each.
    std::multiset<std::int64_t> want;
    for (int l = 1; l <= 1 + accepted[inc.id]; ++l) want.insert(l);
    if (started != 1 || manual != accepted[inc.id] || fired != want) {
      std::string got;
      for (auto l : fired) got += " " + std::to_string(l);
      race.Add(inc.id + ": " + std::to_string(accepted[inc.id]) + " escalations answered 200, " +
               std::to_string(manual) + " escalated_manually entries, levels fired:" + got);
    }
    // Two levels were left to fire and four escalations tried: exactly two went through.
    if (accepted[inc.id] != kRaceLevels - 1) {
      race.Add(inc.id + ": " + std::to_string(accepted[inc.id]) + " of " +
               std::to_string(2 * kRaceRounds) + " escalations accepted; " +
               std::to_string(kRaceLevels - 1) + " levels were left");
    }
  }
  Problems strangers;
  for (const auto& [wid, list] : by_id) {
    if (known_ids.count(wid) == 0) {
      strangers.Add(wid + " (" + list.front()->notification + ") is not in the database");
    }
  }
  EXPECT_EQ(delivery.count(), 0u) << "not delivered exactly once:" << delivery.Describe();
  EXPECT_EQ(levels.count(), 0u) << "a level did not fire exactly once:" << levels.Describe();
  EXPECT_EQ(race.count(), 0u) << "manual escalation race:" << race.Describe();
  EXPECT_EQ(strangers.count(), 0u) << strangers.Describe();
  EXPECT_EQ(by_id.size(), sent_rows) << "distinct webhook-ids vs notifications sent";
  EXPECT_EQ(hits.size(), by_id.size()) << "some webhook-id arrived more than once";

  // Each node recorded what it sent; together, every sent row once.
  // Counted once per committed pass: a write the store runs again (a contended key) is not
  // counted twice.
  const long sent_a = SentByNode(servers_[0]->port());
  const long sent_b = SentByNode(servers_[1]->port());
  EXPECT_EQ(static_cast<std::size_t>(sent_a + sent_b), sent_rows)
      << "node a recorded " << sent_a << " sends, node b " << sent_b;

  std::size_t total_accepted = 0;
  for (const auto& [id, n] : accepted) total_accepted += static_cast<std::size_t>(n);
  std::cout << "[ paging cluster ] " << 2 * kKeys << " triggers for " << kKeys
            << " keys through both nodes; incidents " << view.incidents.size() << ", notifications "
            << rows_total << " (sent " << sent_rows << "), received " << hits.size() << " ("
            << by_id.size() << " distinct); sent by node a " << sent_a << ", node b " << sent_b
            << "; part 1 settled after " << part1_seconds << " s; race: " << total_accepted
            << " of " << 2 * kRaceRounds * kRaceIncidents << " escalations accepted; total "
            << std::chrono::duration<double>(Clock::now() - test_start).count() << " s\n";

  for (auto& s : servers_) {
    const auto exit = s->Terminate(milliseconds(15'000));
    EXPECT_TRUE(exit.clean()) << "exit " << exit.code << ", signal " << exit.signal;
  }
}

}  // namespace
}  // namespace opsorch::testing
