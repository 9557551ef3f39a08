// Paging survives a crash, as a user runs it: a real `opsorch serve` (the `local` provider on
// SQLite) pages people whose webhooks all point at one Standard Webhooks receiver in this test;
// many incidents are triggered at once, the server is SIGKILLed while their pages are on their
// way, and started again on the same store. What a user notices afterwards:
// - every page that was due arrives (its row is `sent` and its webhook-id reached the receiver,
//   with a valid signature);
// - nothing arrives twice, except what the design allows (docs/PAGING.md, "Delivery"): a webhook
//   whose sender died mid-send is sent again with the SAME webhook-id, so a duplicate is only
//   allowed for a message that was `sending` when the server died; every other message arrives
//   exactly once, and no page arrives twice before the crash;
// - a webhook-id always names the same page (same notification, incident and person);
// - every incident's escalation fired its level once, and each message is recorded once.
//
// The kill leaves messages leased to the dead process; they are taken back when the lease runs
// out, so the test shortens it with OPSORCH_PAGING_LEASE.
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

// People and services: policy i pages person i and person i+1, each on two webhook contact
// methods (two rules at delay 0), so an incident queues four messages and no contact method
// gets more than its rate limit's burst (100) in the whole test.
constexpr int kPeople = 10;
constexpr int kServices = 10;
constexpr int kIncidents = 300;
constexpr int kMessagesPerIncident = 4;
constexpr int kClients = 8;
// The server is killed once this many pages have reached the receiver.
constexpr int kKillAfterHits = 300;
constexpr std::string_view kLease = "3s";

std::string Person(int i) { return "p" + std::to_string(i); }
std::string Service(int i) { return "svc-" + std::to_string(i); }
std::string RoutingKey(int s) { return "durability-routing-key-" + std::to_string(100 + s); }
std::string DedupKey(int k) { return "dur-" + std::to_string(k); }

// A Standard Webhooks receiver: checks every signature, records every request the moment it
// arrives (so a request whose answer the dying server never read counts as delivered), then
// answers 200 — some requests slowly, so that sends are in flight when the server dies.
class Receiver {
 public:
  struct Hit {
    std::string id;
    std::string path;
    bool signature_ok = false;
    // The page's identity as the body names it.
    std::string notification, incident, person, event;
    std::int64_t level = 0;
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
            const auto str = [](const json::value* x) {
              return x != nullptr && x->is_string() ? std::string(x->as_string()) : "";
            };
            const json::object& o = v.as_object();
            h.event = str(o.if_contains("event"));
            if (const auto* i = o.if_contains("incident"); i && i->is_object()) {
              h.incident = str(i->as_object().if_contains("id"));
            }
            if (const auto* p = o.if_contains("person"); p && p->is_object()) {
              h.person = str(p->as_object().if_contains("id"));
            }
            if (const auto* m = o.if_contains("notification"); m && m->is_object()) {
              h.notification = str(m->as_object().if_contains("id"));
              const auto* l = m->as_object().if_contains("level");
              if (l != nullptr && l->is_int64()) h.level = l->as_int64();
            }
          }
          int n_hit = 0;
          {
            std::lock_guard lock(mu_);
            hits_.push_back(std::move(h));
            n_hit = static_cast<int>(hits_.size());
          }
          // Every tenth request takes 150 ms, the others 3 ms: well inside the send
          // timeout (half the lease), long enough to be caught mid-send.
          std::this_thread::sleep_for(milliseconds(n_hit % 10 == 0 ? 150 : 3));
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
  std::size_t Count() {
    std::lock_guard lock(mu_);
    return hits_.size();
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
                                 {"email", Person(i) + "@example.com"},
                                 {"contactMethods", methods},
                                 {"notificationRules", rules}});
  }
  for (int s = 0; s < kServices; ++s) {
    json::array targets{json::object{{"type", "user"}, {"id", Person(s % kPeople)}},
                        json::object{{"type", "user"}, {"id", Person((s + 1) % kPeople)}}};
    policies.push_back(json::object{
        {"id", "pol-" + std::to_string(s)},
        {"name", "Policy " + std::to_string(s)},
        {"numLoops", 0},
        {"rules", json::array{json::object{{"delayMinutes", 30}, {"targets", targets}}}}});
    services.push_back(json::object{
        {"id", Service(s)},
        {"name", "Service " + std::to_string(s)},
        {"escalationPolicy", "pol-" + std::to_string(s)},
        {"integrations",
         json::array{json::object{{"id", "int-" + std::to_string(s)}, {"key", RoutingKey(s)}}}}});
  }
  return json::serialize(
      json::object{{"users", users}, {"escalationPolicies", policies}, {"services", services}});
}

std::string TriggerBody(int k) {
  return json::serialize(
      json::object{{"routing_key", RoutingKey(k % kServices)},
                   {"event_action", "trigger"},
                   {"dedup_key", DedupKey(k)},
                   {"payload", json::object{{"summary", "Durability " + DedupKey(k)},
                                            {"source", "paging-durability-test"},
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

// Every incident and its notifications, read from the store (the server must not be running).
struct StoreView {
  std::vector<engine::IncidentRow> incidents;
  std::map<std::string, std::vector<engine::NotificationRow>> notifications;  // by incident id
  std::map<std::string, std::vector<engine::TimelineRow>> timelines;          // by incident id
};

std::optional<StoreView> ReadStore(const fs::path& db, bool with_timelines, std::string* error) {
  auto store = engine::OpenStore("sqlite:" + db.string());
  if (!store) {
    *error = store.error().message;
    return std::nullopt;
  }
  StoreView v;
  auto incidents = (*store)->QueryIncidents({});
  if (!incidents) {
    *error = incidents.error().message;
    return std::nullopt;
  }
  v.incidents = std::move(*incidents);
  for (const auto& inc : v.incidents) {
    auto rows = (*store)->Notifications(inc.seq);
    if (!rows) {
      *error = rows.error().message;
      return std::nullopt;
    }
    v.notifications[inc.id] = std::move(*rows);
    if (with_timelines) {
      auto t = (*store)->Timeline(inc.id);
      if (!t) {
        *error = t.error().message;
        return std::nullopt;
      }
      v.timelines[inc.id] = std::move(*t);
    }
  }
  return v;
}

bool Terminal(std::string_view status) {
  return status == "sent" || status == "failed" || status == "unknown" || status == "cancelled";
}

class PagingDurability : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("opsorch-paging-durability-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(PagingDurability, SigkillMidSendDeliversEveryPageAndDuplicatesOnlyWhatWasInFlight) {
  const auto test_start = Clock::now();
  Receiver receiver;
  std::ofstream(dir_ / "seed.json") << Seed(receiver);
  const fs::path data = dir_ / "data";
  const std::map<std::string, std::string> env{
      {"OPSORCH_DATA_DIR", data.string()},
      {"OPSORCH_INCIDENT_PROVIDER", "local"},
      {"OPSORCH_ALERT_PROVIDER", "local"},
      {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()},
      {"OPSORCH_OUTBOUND_ALLOW_NETS", "127.0.0.0/8"},
      {"OPSORCH_PAGING_LEASE", std::string(kLease)}};
  std::string error;
  server_ = ServerProcess::Start(env, {}, dir_ / "server-1.log", &error);
  ASSERT_NE(server_, nullptr) << error;

  // ---- many triggers at once; the kill comes while their pages are being sent ----
  std::vector<int> accepted(kIncidents, 0);  // 1: answered 202
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(server_->port());
      while (!go) std::this_thread::yield();
      for (int k = c; k < kIncidents; k += kClients) {
        const HttpResponse r = client.Request(
            "POST", "/v2/enqueue", {{"Content-Type", "application/json"}}, TriggerBody(k));
        if (r.status == 0) return;  // the server is gone
        accepted[static_cast<std::size_t>(k)] = r.status == 202 ? 1 : 0;
      }
    });
  }
  go = true;
  const bool reached =
      WaitFor([&] { return receiver.Count() >= kKillAfterHits; }, milliseconds(30'000));
  server_->Kill();
  const std::size_t hits_at_kill = receiver.Count();
  for (auto& t : clients) t.join();
  ASSERT_TRUE(reached) << "only " << receiver.Count() << " pages arrived in 30 s; log:\n"
                       << server_->Log();
  const int accepted_count = static_cast<int>(std::count(accepted.begin(), accepted.end(), 1));

  // What the dead server left behind: which messages were mid-send (leased, never recorded).
  std::this_thread::sleep_for(milliseconds(200));  // late answers of the receiver land first
  const std::vector<Receiver::Hit> before = receiver.Hits();
  std::set<std::string> sending_at_kill;  // webhook-ids
  std::map<std::string, int> status_at_kill;
  {
    auto view = ReadStore(data / "opsorch.db", false, &error);
    ASSERT_TRUE(view) << "reading the store after the kill: " << error;
    for (const auto& [id, rows] : view->notifications) {
      for (const auto& n : rows) {
        ++status_at_kill[n.status];
        if (n.status == "sending") sending_at_kill.insert(WebhookIdOf(n.idempotency_key));
      }
    }
  }
  // Before the crash nothing may have arrived twice: nothing had died yet.
  {
    std::map<std::string, int> seen;
    Problems early;
    for (const auto& h : before) {
      if (++seen[h.id] == 2) early.Add(h.id + " (" + h.notification + ", " + h.path + ")");
    }
    EXPECT_EQ(early.count(), 0u) << early.count()
                                 << " page(s) arrived twice before the server was killed:"
                                 << early.Describe();
  }
  // The test did what it is for: pages were in flight, and some were still to come.
  EXPECT_GT(sending_at_kill.size(), 0u) << "no message was mid-send at the kill";

  // ---- restart on the same store; wait until every incident's pages are settled ----
  const auto restart = Clock::now();
  server_ = ServerProcess::Start(env, {}, dir_ / "server-2.log", &error);
  ASSERT_NE(server_, nullptr) << error;
  std::size_t incidents_seen = 0;
  std::string unsettled;
  const bool settled = WaitFor(
      [&] {
        HttpClient c(server_->port());
        const HttpResponse list = c.Request("POST", "/incidents/query", {}, R"({"limit":100000})");
        if (list.status != 200) {
          unsettled = "query answered " + std::to_string(list.status);
          return false;
        }
        boost::system::error_code ec;
        const json::value v = json::parse(list.body, ec);
        if (ec || !v.is_array()) return false;
        incidents_seen = v.as_array().size();
        // Cheap first: every incident's pages have reached the receiver at least once.
        std::set<std::string> ids;
        for (const auto& h : receiver.Hits()) ids.insert(h.id);
        if (ids.size() < incidents_seen * kMessagesPerIncident) {
          unsettled = std::to_string(ids.size()) + " distinct pages received of " +
                      std::to_string(incidents_seen * kMessagesPerIncident);
          return false;
        }
        for (const auto& inc : v.as_array()) {
          const std::string id(inc.as_object().at("id").as_string());
          const HttpResponse r = c.Request("GET", "/incidents/" + id + "/notifications");
          const json::value n = json::parse(r.body, ec);
          if (r.status != 200 || ec || !n.is_array()) {
            unsettled = id + ": notifications answered " + std::to_string(r.status);
            return false;
          }
          for (const auto& row : n.as_array()) {
            const std::string status(row.as_object().at("status").as_string());
            if (!Terminal(status)) {
              unsettled = id + " has a " + status + " notification";
              return false;
            }
          }
        }
        return true;
      },
      milliseconds(40'000));
  const double settle_seconds = std::chrono::duration<double>(Clock::now() - restart).count();
  ASSERT_TRUE(settled) << "pages not settled 40 s after the restart: " << unsettled << "\nlog:\n"
                       << server_->Log();
  // Settled is not the end: a copy still queued in the server would arrive later. Wait until
  // the receiver has heard nothing for longer than a lease before stopping the server.
  {
    std::size_t last = receiver.Count();
    auto quiet_since = Clock::now();
    const auto limit = Clock::now() + milliseconds(15'000);
    while (Clock::now() - quiet_since < milliseconds(3'500) && Clock::now() < limit) {
      std::this_thread::sleep_for(milliseconds(100));
      if (const std::size_t now = receiver.Count(); now != last) {
        last = now;
        quiet_since = Clock::now();
      }
    }
  }
  const auto exit = server_->Terminate(milliseconds(15'000));
  EXPECT_TRUE(exit.clean()) << "exit " << exit.code << ", signal " << exit.signal;

  // ---- what arrived, against what the store says ----
  auto view = ReadStore(data / "opsorch.db", true, &error);
  ASSERT_TRUE(view) << error;
  const std::vector<Receiver::Hit> hits = receiver.Hits();
  std::map<std::string, std::vector<const Receiver::Hit*>> by_id;
  std::map<std::string, int> after_restart;  // copies received from the restarted server
  for (std::size_t i = 0; i < hits.size(); ++i) {
    by_id[hits[i].id].push_back(&hits[i]);
    if (i >= before.size()) ++after_restart[hits[i].id];
  }

  // Every accepted trigger has its incident (and nothing else was made).
  std::set<std::string> keys;
  for (const auto& inc : view->incidents) keys.insert(inc.dedup_key);
  Problems lost;
  for (int k = 0; k < kIncidents; ++k) {
    if (accepted[static_cast<std::size_t>(k)] == 1 && keys.count(DedupKey(k)) == 0) {
      lost.Add(DedupKey(k) + " was answered 202 but has no incident");
    }
  }
  EXPECT_EQ(lost.count(), 0u) << lost.Describe();
  EXPECT_EQ(view->incidents.size(), keys.size()) << "a key has two incidents";
  EXPECT_GE(view->incidents.size(), static_cast<std::size_t>(accepted_count));

  Problems undelivered, duplicated, mixed, escalations;
  std::size_t rows_total = 0, resent = 0;
  std::set<std::string> known_ids;
  for (const auto& inc : view->incidents) {
    const auto& rows = view->notifications[inc.id];
    rows_total += rows.size();
    if (rows.size() != static_cast<std::size_t>(kMessagesPerIncident)) {
      undelivered.Add(inc.id + " has " + std::to_string(rows.size()) + " notifications, not " +
                      std::to_string(kMessagesPerIncident));
    }
    for (const auto& n : rows) {
      const std::string wid = WebhookIdOf(n.idempotency_key);
      known_ids.insert(wid);
      const auto it = by_id.find(wid);
      const std::size_t times = it == by_id.end() ? 0 : it->second.size();
      // (1) Every due message delivered: sent, and its webhook-id seen.
      if (n.status != "sent" || times == 0) {
        undelivered.Add(n.id + " of " + inc.id + " to " + n.person_id + "/" + n.contact_method +
                        ": status " + n.status + " (" + n.detail + "), received " +
                        std::to_string(times) + " time(s)");
      }
      if (times == 0) continue;
      // (2) More than once only when it was mid-send at the kill, and then only as one copy
      // from the dead server and one from the restarted one: the crash explains one extra
      // copy, nothing more (each server on its own sends a message once).
      if (times > 1) {
        const int later = after_restart[wid];
        const auto earlier = static_cast<int>(times) - later;
        if (sending_at_kill.count(wid) == 0) {
          duplicated.Add(n.id + " (" + wid + ") arrived " + std::to_string(times) +
                         " times but was not mid-send at the kill");
        } else if (later > 1 || earlier > 1) {
          duplicated.Add(n.id + " (" + wid + ", mid-send at the kill) arrived " +
                         std::to_string(earlier) + " time(s) from the killed server and " +
                         std::to_string(later) + " times from the restarted one");
        } else {
          ++resent;
        }
      }
      // (3) One webhook-id, one page: every copy names this notification, incident and person,
      // with a valid signature, at this address.
      for (const auto* h : it->second) {
        if (!h->signature_ok || h->event != "incident.page" || h->notification != n.id ||
            h->incident != inc.id || h->person != n.person_id ||
            h->path != n.person_id + "/" + n.contact_method || h->level != n.level) {
          mixed.Add(wid + " arrived as {signature " + (h->signature_ok ? "ok" : "BAD") + ", " +
                    h->event + ", " + h->notification + ", " + h->incident + ", " + h->person +
                    ", " + h->path + "}; the store says {" + n.id + ", " + inc.id + ", " +
                    n.person_id + "/" + n.contact_method + "}");
        }
      }
    }
    // (4) The level fired once, and each message was recorded once.
    const auto& t = view->timelines[inc.id];
    const auto count = [&](std::string_view kind) {
      return std::count_if(t.begin(), t.end(), [&](const auto& e) { return e.kind == kind; });
    };
    if (count("escalation_started") != 1 || count("escalated") != 1 ||
        count("notified") != kMessagesPerIncident) {
      escalations.Add(inc.id + ": " + std::to_string(count("escalation_started")) +
                      " escalation_started, " + std::to_string(count("escalated")) +
                      " escalated, " + std::to_string(count("notified")) + " notified");
    }
  }
  // Nothing arrived that the store does not know.
  Problems strangers;
  for (const auto& [wid, list] : by_id) {
    if (known_ids.count(wid) == 0) {
      strangers.Add(wid + " (" + list.front()->notification + ") is not in the store");
    }
  }
  EXPECT_EQ(undelivered.count(), 0u) << "due pages not delivered:" << undelivered.Describe();
  // A message still in its node's queue keeps its lease (the node extends it), so a long queue
  // never sends a message twice.
  EXPECT_EQ(duplicated.count(), 0u) << "pages delivered twice:" << duplicated.Describe();
  EXPECT_EQ(mixed.count(), 0u) << "a webhook-id named another page:" << mixed.Describe();
  EXPECT_EQ(escalations.count(), 0u) << escalations.Describe();
  EXPECT_EQ(strangers.count(), 0u) << strangers.Describe();

  std::string at_kill;
  for (const auto& [status, n] : status_at_kill) {
    at_kill += " " + status + " " + std::to_string(n);
  }
  std::cout << "[ durability ] " << accepted_count << " triggers answered 202 of " << kIncidents
            << "; killed after " << hits_at_kill << " pages; at the kill:" << at_kill
            << "; incidents " << view->incidents.size() << ", notifications " << rows_total
            << ", received " << hits.size() << " (" << by_id.size() << " distinct, " << resent
            << " resent after the crash with their webhook-id); settled " << settle_seconds
            << " s after the restart; total "
            << std::chrono::duration<double>(Clock::now() - test_start).count() << " s\n";
}

}  // namespace
}  // namespace opsorch::testing
