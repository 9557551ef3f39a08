// The pager against a real store, a real webhook receiver on loopback and an injected clock (no
// sleeps): escalation basic, gap, loops, acknowledge and resolve stop it, resolve-before-send
// pages nobody, reopen, manual escalation, a policy edited mid-escalation, exactly once.
#include "engine/pager.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/net/http_client.h>

#include "notify/receiver.h"
#include "support/standard_webhooks.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kMin = 60LL * 1'000'000'000;
// Base64 of 32 bytes "0123456789abcdef0123456789abcdef".
constexpr std::string_view kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";

// A Standard Webhooks receiver that checks every signature itself and records who was paged.
class Receiver {
 public:
  struct Hit {
    std::string id, path;
    JsonObject body;
    bool signature_ok = false;
  };

  Receiver() {
    server_.Post(R"(/hook/(\w+))", [this](const httplib::Request& req, httplib::Response& res) {
      Hit h;
      h.id = req.get_header_value("webhook-id");
      h.path = req.matches[1];
      const std::string ts = req.get_header_value("webhook-timestamp");
      h.signature_ok = req.get_header_value("webhook-signature") ==
                       testing::WebhookSignature(kKey, h.id, ts, req.body);
      auto v = ParseJson(req.body);
      if (v && v->is_object()) h.body = v->get_object();
      std::lock_guard lock(mu_);
      hits_.push_back(std::move(h));
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string Url(std::string_view who) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hook/" + std::string(who);
  }
  std::vector<Hit> Hits() {
    std::lock_guard lock(mu_);
    return hits_;
  }
  std::vector<std::string> Paged() {
    std::vector<std::string> out;
    for (const auto& h : Hits()) out.push_back(h.path);
    return out;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Hit> hits_;
};

class PagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("opsorch-pager-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    EngineOptions o;
    o.store_url = "sqlite:" + (dir_ / "e.db").string();
    o.retention_interval = std::chrono::minutes(0);
    o.clock = [this] { return now_.load(); };
    o.paging_threads = false;
    o.public_url = "https://opsorch.example";
    auto nets = net::ParseNetList("127.0.0.0/8");
    ASSERT_TRUE(nets);
    o.outbound_allow_nets = std::make_shared<const net::NetList>(*nets);
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    for (const char* who : {"alice", "bob", "carol"}) AddPerson(who, 0);
    PutPolicy("default", 0, {{5, "user", "alice"}, {10, "user", "bob"}});
    ServiceRow s;
    s.id = "checkout";
    s.name = "Checkout";
    s.escalation_policy = "default";
    ASSERT_TRUE(engine_->store().UpsertService(s));
    integration_.id = "int-1";
    integration_.service_id = "checkout";
    integration_.kind = "events_v2";
    Reload();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void AddPerson(const std::string& id, std::int64_t delay) {
    Person p;
    p.id = id;
    p.name = id;
    p.name[0] = static_cast<char>(std::toupper(p.name[0]));
    p.contact_methods = {{"hook", "webhook", receiver_.Url(id), std::string(kSecret), ""}};
    p.notification_rules = {{"hook", delay, "high"}, {"hook", delay, "low"}};
    ASSERT_TRUE(engine_->store().PutDoc(CatalogDoc{"user", id, "", PersonDocument(p), now_}));
  }

  void PutPolicy(const std::string& id, std::int64_t loops,
                 std::vector<std::tuple<std::int64_t, std::string, std::string>> rules) {
    JsonArray rs;
    for (auto& [delay, type, target] : rules) {
      rs.push_back(JsonObject{{"delayMinutes", delay},
                              {"targets", JsonArray{JsonObject{{"type", type}, {"id", target}}}}});
    }
    ASSERT_TRUE(engine_->store().PutDoc(CatalogDoc{
        "policy", id, "", JsonObject{{"name", id}, {"numLoops", loops}, {"rules", rs}}, ++now_}));
  }

  void Reload() { ASSERT_TRUE(engine_->pager()->ReloadCatalog()); }

  IngestResult Send(EventAction action, const std::string& key) {
    Event e;
    e.action = action;
    e.dedup_key = key;
    e.summary = "Checkout is down";
    e.source = "test";
    e.severity = Severity::kCritical;
    auto r = engine_->IngestSync({Ingestion{integration_, e}});
    EXPECT_TRUE(r.at(0).status) << r.at(0).status.error().message;
    return r.at(0);
  }

  void Run() { ASSERT_TRUE(engine_->pager()->RunOnce()); }
  void Advance(std::int64_t minutes) { now_ += minutes * kMin; }

  std::vector<NotificationRow> Notifications(const std::string& incident) {
    auto rows = engine_->store().Notifications(std::stoll(incident.substr(4)));
    EXPECT_TRUE(rows);
    return rows ? *rows : std::vector<NotificationRow>{};
  }
  std::vector<std::string> Kinds(const std::string& incident) {
    std::vector<std::string> out;
    auto t = engine_->store().Timeline(incident);
    EXPECT_TRUE(t);
    for (const auto& e : *t) out.push_back(e.kind);
    return out;
  }
  bool Has(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  Receiver receiver_;
  std::filesystem::path dir_;
  std::atomic<std::int64_t> now_{1'780'000'000LL * 1'000'000'000};
  std::unique_ptr<Engine> engine_;
  IntegrationRow integration_;
};

TEST_F(PagerTest, BasicEscalationPagesEachLevelOnceAfterItsDelay) {
  const auto r = Send(EventAction::kTrigger, "k1");
  ASSERT_EQ(r.action, "triggered");
  Run();
  ASSERT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice"}));
  const auto hit = receiver_.Hits()[0];
  EXPECT_TRUE(hit.signature_ok);
  EXPECT_EQ(hit.body.at("event").as_string(), "incident.page");
  EXPECT_EQ(hit.body.at("incident").at("id").as_string(), r.incident_id);
  EXPECT_EQ(hit.body.at("person").at("id").as_string(), "alice");
  const std::string ack = std::string(hit.body.at("actions").at("acknowledge").as_string());
  EXPECT_TRUE(ack.starts_with("https://opsorch.example/actions/")) << ack;
  Advance(4);
  Run();
  EXPECT_EQ(receiver_.Paged().size(), 1u) << "level 2 fired before level 1's delay";
  Advance(1);
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "bob"}));
  Advance(60);
  Run();
  Run();
  EXPECT_EQ(receiver_.Paged().size(), 2u) << "a level fired twice";
  const auto n = Notifications(r.incident_id);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].status, "sent");
  EXPECT_EQ(n[1].status, "sent");
  const auto kinds = Kinds(r.incident_id);
  EXPECT_TRUE(Has(kinds, "escalation_started"));
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "escalated"), 2);
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "notified"), 2);
}

TEST_F(PagerTest, AcknowledgeStopsTheEscalation) {
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  ASSERT_EQ(receiver_.Paged().size(), 1u);
  Send(EventAction::kAcknowledge, "k1");
  Advance(30);
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice"}));
  EXPECT_TRUE(Has(Kinds(r.incident_id), "escalation_stopped"));
  auto esc = engine_->store().Escalation(std::stoll(r.incident_id.substr(4)));
  ASSERT_TRUE(esc && *esc);
  EXPECT_EQ((*esc)->state, "acknowledged");
}

TEST_F(PagerTest, ResolvedBeforeTheMessageIsDuePagesNobody) {
  AddPerson("alice", 2);  // alice's rule waits two minutes
  Reload();
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  EXPECT_TRUE(receiver_.Paged().empty());
  Send(EventAction::kResolve, "k1");
  Advance(30);
  Run();
  EXPECT_TRUE(receiver_.Paged().empty());
  const auto n = Notifications(r.incident_id);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].status, "cancelled");
}

TEST_F(PagerTest, AnEmptyLevelMovesOnAtOnce) {
  // A schedule with nobody on call now: a layer restricted to a one-hour window tomorrow.
  const std::int64_t now_s = now_ / 1'000'000'000;
  JsonObject sched{
      {"name", "Nights"},
      {"timeZone", "UTC"},
      {"layers", JsonArray{JsonObject{
                     {"start", "2026-01-01T00:00:00Z"},
                     {"rotationVirtualStart", "2026-01-01T00:00:00Z"},
                     {"rotationTurnLengthSeconds", 86400},
                     {"users", JsonArray{"carol"}},
                     {"restrictions",
                      JsonArray{JsonObject{{"type", "daily"},
                                           {"startTimeOfDay",
                                            (now_s % 86400) / 3600 >= 22 ? "01:00:00" : "23:00:00"},
                                           {"durationSeconds", 600}}}}}}}};
  ASSERT_TRUE(engine_->store().PutDoc(CatalogDoc{"schedule", "nights", "", sched, ++now_}));
  PutPolicy("default", 0, {{5, "schedule", "nights"}, {10, "user", "bob"}});
  Reload();
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"bob"}));
  EXPECT_TRUE(Has(Kinds(r.incident_id), "escalation_skipped"));
}

TEST_F(PagerTest, LoopsRepeatThePolicy) {
  PutPolicy("default", 1, {{5, "user", "alice"}, {10, "user", "bob"}});
  Reload();
  Send(EventAction::kTrigger, "k1");
  for (int minutes : {0, 5, 10, 5, 10}) {
    Advance(minutes);
    Run();
  }
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "bob", "alice", "bob"}));
}

TEST_F(PagerTest, ManualEscalationJumpsALevelAndFencesTheOldStep) {
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  auto st = engine_->store().Write(
      [&](Tx& tx) { return engine_->pager()->EscalateNow(tx, r.incident_id, JsonObject{}, now_); });
  ASSERT_TRUE(st) << st.error().message;
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "bob"}));
  // The step scheduled before (level 2 at +5 min) belongs to the old generation.
  Advance(5);
  Run();
  EXPECT_EQ(receiver_.Paged().size(), 2u);
  // Nothing left to escalate to.
  auto again = engine_->store().Write(
      [&](Tx& tx) { return engine_->pager()->EscalateNow(tx, r.incident_id, JsonObject{}, now_); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::kConflict);
}

TEST_F(PagerTest, APolicyEditedMidEscalationDoesNotChangeIt) {
  Send(EventAction::kTrigger, "k1");
  Run();
  PutPolicy("default", 0, {{5, "user", "alice"}, {10, "user", "carol"}});
  Reload();
  Advance(5);
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "bob"}));
  // A new incident takes the edited policy.
  Send(EventAction::kTrigger, "k2");
  Run();
  Advance(5);
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "bob", "alice", "carol"}));
}

// The service's acknowledgement timeout: acknowledged and not resolved in time, the incident is
// open again and pages again; resolved in time, nothing happens.
TEST_F(PagerTest, AnAcknowledgementTimesOutAndPagesAgain) {
  ServiceRow s;
  s.id = "checkout";
  s.name = "Checkout";
  s.escalation_policy = "default";
  s.ack_timeout_s = 30 * 60;
  ASSERT_TRUE(engine_->store().UpsertService(s));
  Reload();
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  Send(EventAction::kAcknowledge, "k1");
  Advance(29);
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice"}));
  Advance(1);
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "alice"}));
  auto inc = engine_->store().GetIncident(r.incident_id);
  ASSERT_TRUE(inc && *inc);
  EXPECT_EQ((*inc)->status, "open");
  EXPECT_TRUE(Has(Kinds(r.incident_id), "unacknowledged"));
  // Acknowledged again and resolved before the timeout: nothing more.
  Send(EventAction::kAcknowledge, "k1");
  Advance(10);
  Send(EventAction::kResolve, "k1");
  Advance(60);
  Run();
  EXPECT_EQ(receiver_.Paged().size(), 2u);
}

// A service naming a policy that does not exist pages nobody, and the incident says so.
TEST_F(PagerTest, AMissingPolicyIsOnTheTimeline) {
  ServiceRow s;
  s.id = "checkout";
  s.name = "Checkout";
  s.escalation_policy = "gone";
  ASSERT_TRUE(engine_->store().UpsertService(s));
  Reload();
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  EXPECT_TRUE(receiver_.Paged().empty());
  EXPECT_TRUE(Has(Kinds(r.incident_id), "escalation_missing"));
}

TEST_F(PagerTest, ReopenStartsPagingAgain) {
  const auto r = Send(EventAction::kTrigger, "k1");
  Run();
  Send(EventAction::kAcknowledge, "k1");
  Run();
  // Back to open through the API path's transaction: the pager hears "reopened".
  auto st = engine_->store().Write([&](Tx& tx) -> Status {
    auto inc = tx.GetIncidentForUpdate(r.incident_id);
    if (!inc || !*inc) return Fail(errc::kInternal, "no incident");
    IncidentRow row = **inc;
    row.status = "open";
    row.acknowledged_at = 0;
    if (auto s2 = tx.UpdateIncident(row); !s2) return s2;
    return engine_->pager()->OnIncidentChange(tx, row.id, row.service_id, "reopened", now_);
  });
  ASSERT_TRUE(st) << st.error().message;
  Run();
  EXPECT_EQ(receiver_.Paged(), (std::vector<std::string>{"alice", "alice"}));
  const auto n = Notifications(r.incident_id);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_NE(n[0].idempotency_key, n[1].idempotency_key);
  EXPECT_EQ(n[1].generation, n[0].generation + 2);  // acknowledged, then reopened
}

TEST_F(PagerTest, ActionLinksVerifyAndRefuseForgeriesAndExpiry) {
  Send(EventAction::kTrigger, "k1");
  Run();
  const std::string ack =
      std::string(receiver_.Hits().at(0).body.at("actions").at("acknowledge").as_string());
  const std::string token = ack.substr(ack.rfind('/') + 1);
  auto claims = engine_->pager()->VerifyLink(token);
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ(claims->action, "acknowledge");
  EXPECT_EQ(claims->person, "alice");
  std::string forged = token;
  forged[forged.size() / 3] = forged[forged.size() / 3] == 'A' ? 'B' : 'A';
  auto bad = engine_->pager()->VerifyLink(forged);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::kForbidden);
  Advance(24 * 60 + 1);
  auto expired = engine_->pager()->VerifyLink(token);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, errc::kGone);
}

TEST_F(PagerTest, ALoopbackReceiverOutsideTheAllowListIsRefused) {
  EngineOptions o;
  o.store_url = "sqlite:" + (dir_ / "other.db").string();
  o.retention_interval = std::chrono::minutes(0);
  o.clock = [this] { return now_.load(); };
  o.paging_threads = false;
  auto e = Engine::Open(o);  // no allow-list
  ASSERT_TRUE(e);
  Person p;
  p.id = "alice";
  p.name = "Alice";
  p.contact_methods = {{"hook", "webhook", receiver_.Url("alice"), std::string(kSecret), ""}};
  const auto outcomes = (*e)->pager()->SendTest(p);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_NE(outcomes[0].state, "sent");
  EXPECT_NE(outcomes[0].detail.find("address denied"), std::string::npos) << outcomes[0].detail;
  EXPECT_TRUE(receiver_.Paged().empty());
}

// With its threads, as the server runs it: the commit that answers the event wakes the runner,
// and the page arrives without waiting for a sweep (the sweep is set far beyond the deadline).
TEST_F(PagerTest, ThreadsPageRightAfterTheCommit) {
  EngineOptions o;
  o.store_url = "sqlite:" + (dir_ / "threads.db").string();
  o.retention_interval = std::chrono::minutes(0);
  o.public_url = "https://opsorch.example";
  o.outbound_allow_nets = notify::testing::Loopback();
  o.paging_sweep = std::chrono::hours(1);  // only the wake-up can deliver in time
  auto opened = Engine::Open(o);
  ASSERT_TRUE(opened) << opened.error().message;
  Engine& e = **opened;
  for (const char* who : {"alice", "bob"}) {
    Person p;
    p.id = who;
    p.name = who;
    p.contact_methods = {{"hook", "webhook", receiver_.Url(who), std::string(kSecret), ""}};
    ASSERT_TRUE(e.store().PutDoc(CatalogDoc{"user", who, "", PersonDocument(p), 1}));
  }
  ASSERT_TRUE(e.store().PutDoc(CatalogDoc{
      "policy", "p", "",
      JsonObject{
          {"name", "P"},
          {"numLoops", 0},
          {"rules", JsonArray{JsonObject{
                        {"delayMinutes", 5},
                        {"targets", JsonArray{JsonObject{{"type", "user"}, {"id", "alice"}},
                                              JsonObject{{"type", "user"}, {"id", "bob"}}}}}}}},
      2}));
  ServiceRow s;
  s.id = "checkout";
  s.name = "Checkout";
  s.escalation_policy = "p";
  ASSERT_TRUE(e.store().UpsertService(s));
  ASSERT_TRUE(e.pager()->ReloadCatalog());
  // Several events at once from several threads: every incident pages both people once.
  constexpr int kIncidents = 20;
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = t; i < kIncidents; i += 4) {
        Event ev;
        ev.dedup_key = "k" + std::to_string(i);
        ev.summary = "down";
        ev.severity = Severity::kCritical;
        auto r = e.IngestSync({Ingestion{integration_, ev}});
        EXPECT_TRUE(r.at(0).status);
      }
    });
  }
  for (auto& t : senders) t.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (receiver_.Hits().size() < 2 * kIncidents && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto hits = receiver_.Hits();
  ASSERT_EQ(hits.size(), 2u * kIncidents);
  std::set<std::string> ids;
  for (const auto& h : hits) {
    EXPECT_TRUE(h.signature_ok);
    ids.insert(h.id);
  }
  EXPECT_EQ(ids.size(), hits.size()) << "a message was delivered twice";
}

// E-mail through a real SMTP server (Debian's aiosmtpd in a child process): the recipient, the
// subject, both parts, and an acknowledge link that verifies.
TEST_F(PagerTest, AnEmailPageReachesTheSmtpSinkWithItsLinks) {
  notify::testing::SmtpSink sink;
  EngineOptions o;
  o.store_url = "sqlite:" + (dir_ / "mail.db").string();
  o.retention_interval = std::chrono::minutes(0);
  o.clock = [this] { return now_.load(); };
  o.paging_threads = false;
  o.public_url = "https://opsorch.example";
  o.outbound_allow_nets = notify::testing::Loopback();
  o.smtp_url = sink.Url();
  o.smtp_from = "pager@opsorch.example";
  auto opened = Engine::Open(o);
  ASSERT_TRUE(opened) << opened.error().message;
  Engine& e = **opened;
  Person p;
  p.id = "dora";
  p.name = "Dora";
  p.contact_methods = {{"mail", "email", "dora@example.com", "", ""}};
  p.notification_rules = {{"mail", 0, "high"}};
  ASSERT_TRUE(e.store().PutDoc(CatalogDoc{"user", "dora", "", PersonDocument(p), now_}));
  ASSERT_TRUE(e.store().PutDoc(CatalogDoc{
      "policy", "mail", "",
      JsonObject{
          {"name", "Mail"},
          {"numLoops", 0},
          {"rules", JsonArray{JsonObject{
                        {"delayMinutes", 5},
                        {"targets", JsonArray{JsonObject{{"type", "user"}, {"id", "dora"}}}}}}}},
      now_}));
  ServiceRow s;
  s.id = "checkout";
  s.name = "Checkout";
  s.escalation_policy = "mail";
  ASSERT_TRUE(e.store().UpsertService(s));
  ASSERT_TRUE(e.pager()->ReloadCatalog());
  Event ev;
  ev.dedup_key = "k1";
  // Alertmanager summaries often span lines; a mail subject may not.
  ev.summary = "Checkout is down\nsince the deploy";
  ev.source = "test";
  ev.severity = Severity::kCritical;
  const auto r = e.IngestSync({Ingestion{integration_, ev}});
  ASSERT_TRUE(r.at(0).status);
  ASSERT_TRUE(e.pager()->RunOnce());
  const JsonArray mails = sink.Messages();
  ASSERT_EQ(mails.size(), 1u);
  const JsonValue& m = mails[0];
  EXPECT_EQ(notify::testing::Str(m, "rcpt"), "dora@example.com");
  EXPECT_EQ(notify::testing::Str(m, "from"), "pager@opsorch.example");
  const std::string subject = notify::testing::Str(m, "subject");
  EXPECT_NE(subject.find("Checkout is down since the deploy"), std::string::npos) << subject;
  EXPECT_NE(subject.find(r[0].incident_id), std::string::npos) << subject;
  const std::string text = notify::testing::Str(m.at("parts"), "text/plain");
  const std::string html = notify::testing::Str(m.at("parts"), "text/html");
  const std::string marker = "Acknowledge: https://opsorch.example/actions/";
  const auto at = text.find(marker);
  ASSERT_NE(at, std::string::npos) << text;
  const std::string token =
      text.substr(at + marker.size(), text.find('\n', at) - at - marker.size());
  auto claims = e.pager()->VerifyLink(token);
  ASSERT_TRUE(claims) << token;
  EXPECT_EQ(claims->action, "acknowledge");
  EXPECT_EQ(claims->person, "dora");
  EXPECT_NE(html.find("https://opsorch.example/actions/" + token), std::string::npos) << html;
  auto n = e.store().Notifications(std::stoll(r[0].incident_id.substr(4)));
  ASSERT_TRUE(n && n->size() == 1u);
  EXPECT_EQ((*n)[0].status, "sent");
  EXPECT_EQ((*n)[0].channel, "email");
}

}  // namespace
}  // namespace opsorch::engine
