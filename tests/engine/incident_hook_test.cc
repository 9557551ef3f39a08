// The incident hook (Engine::SetIncidentHook), against a real store (SQLite, and PostgreSQL on
// the OPSORCH_TEST_POSTGRES_URL server) and an injected clock: a new incident of a service that
// names runbooks calls it once, inside the transaction that creates the incident — from events
// (also one a silence released), the `local` provider's Create and a paused service alike —
// and never for a deduplicated trigger, a reopen, the end of a pause or a service without
// runbooks; what it writes through the Tx is the incident's; its error fails the event and
// nothing of the event is stored; a change of the service's runbooks holds for the next
// incident once the pager reloads, as after the admin route.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/local_providers.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/engine/seed.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/registry.h>

#include "engine/pager.h"
#include "engine/quiet.h"
#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::int64_t kSec = 1'000'000'000;
constexpr std::int64_t kMin = 60 * kSec;
constexpr std::int64_t kT0 = 1'780'000'000LL * kSec;

// One call of the hook, with what the transaction showed it of the incident.
struct Call {
  IncidentTriggered event;
  bool incident_found = false;  // GetIncidentForUpdate through the hook's Tx
  std::string status;
  JsonObject metadata;
};

class IncidentHookTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { Open(true); }

  void Open(bool paging) {
    auto store = OpenTestStore(GetParam());
    ASSERT_TRUE(store) << store.error().message;
    EngineOptions o;
    o.paging = paging;
    o.paging_threads = false;
    o.retention_interval = std::chrono::minutes(0);
    o.reopen_window_ns = 10 * kMin;
    o.clock = [this] { return now_.load(); };
    auto e = Engine::Open(o, std::move(*store));
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    ASSERT_TRUE(engine_->store().UpsertService(Service("checkout", {"a", "b"})));
    ASSERT_TRUE(engine_->store().UpsertService(Service("search", {})));
    Reload();
    engine_->SetIncidentHook([this](Tx& tx, const IncidentTriggered& e) -> Status {
      Call c{e};
      auto inc = tx.GetIncidentForUpdate(e.incident_id);
      if (!inc) return Fail(std::move(inc.error()));
      if (*inc) {
        c.incident_found = true;
        c.status = (*inc)->status;
        c.metadata = (*inc)->metadata;
      }
      {
        std::lock_guard lock(mu_);
        calls_.push_back(std::move(c));
      }
      if (!fail_with_.empty()) return Fail(errc::kInternal, fail_with_);
      if (!write_entries_) return Ok();
      for (const auto& id : e.runbooks) {
        TimelineRow t{"",
                      e.incident_id,
                      e.now,
                      "runbook_started",
                      "Runbook " + id + " started",
                      JsonObject{{"type", "system"}},
                      JsonObject{{"runbook", id}}};
        if (auto st = tx.AppendTimeline(t); !st) return st;
      }
      return Ok();
    });
  }

  static ServiceRow Service(const std::string& id, std::vector<std::string> runbooks) {
    ServiceRow s;
    s.id = id;
    s.name = id;
    s.runbooks = std::move(runbooks);
    return s;
  }

  void Reload() {
    if (engine_->pager() != nullptr) {
      ASSERT_TRUE(engine_->pager()->ReloadCatalog());
    }
    ASSERT_TRUE(engine_->quiet()->Reload());
  }

  static IntegrationRow Integration(const std::string& service) {
    IntegrationRow i;
    i.id = "int-" + service;
    i.service_id = service;
    i.kind = "events_v2";
    return i;
  }

  static Event Make(EventAction action, const std::string& key) {
    Event e;
    e.action = action;
    e.dedup_key = key;
    e.summary = "Checkout is down";
    e.source = "web-1";
    e.severity = Severity::kCritical;
    e.origin = "events_v2";
    return e;
  }

  IngestResult Send(const std::string& service, EventAction action, const std::string& key) {
    auto r = engine_->IngestSync({Ingestion{Integration(service), Make(action, key)}});
    EXPECT_TRUE(r.at(0).status) << r.at(0).status.error().message;
    return r.at(0);
  }

  std::vector<Call> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  std::vector<std::string> Kinds(const std::string& incident) {
    std::vector<std::string> out;
    auto t = engine_->store().Timeline(incident);
    EXPECT_TRUE(t) << t.error().message;
    if (t) {
      for (const auto& e : *t) out.push_back(e.kind);
    }
    return out;
  }

  std::vector<IncidentRow> Incidents() {
    auto r = engine_->store().QueryIncidents(IncidentFilter{});
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::vector<IncidentRow>{};
  }

  std::shared_ptr<providers::IncidentProvider> LocalIncidents() {
    EXPECT_TRUE(
        RegisterLocalProviders(registry_, [this]() -> Result<Engine*> { return engine_.get(); }));
    auto built = registry_.Create(providers::Capability::kIncident, kLocalProviderName, {});
    EXPECT_TRUE(built) << built.error().message;
    return built ? std::dynamic_pointer_cast<providers::IncidentProvider>(*built) : nullptr;
  }

  void Run() { ASSERT_TRUE(engine_->pager()->RunOnce()); }

  std::atomic<std::int64_t> now_{kT0};
  std::unique_ptr<Engine> engine_;
  providers::ProviderRegistry registry_;
  std::mutex mu_;
  std::vector<Call> calls_;  // under mu_
  std::string fail_with_;    // set: the hook fails with this message
  bool write_entries_ = false;
};

TEST_P(IncidentHookTest, ANewIncidentCallsItOnceWithTheServicesRunbooks) {
  const auto first = Send("checkout", EventAction::kTrigger, "k1");
  ASSERT_EQ(first.action, "triggered");
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].event.incident_id, first.incident_id);
  EXPECT_EQ(calls[0].event.service_id, "checkout");
  EXPECT_THAT(calls[0].event.runbooks, ElementsAre("a", "b"));
  EXPECT_EQ(calls[0].event.now, kT0);
  // Inside the transaction that created it: the incident is there, open, not yet committed
  // (nothing else could have written it).
  EXPECT_TRUE(calls[0].incident_found);
  EXPECT_EQ(calls[0].status, "open");

  // A repeat is deduplicated into the open incident; acknowledging and resolving start nothing.
  now_ += kSec;
  EXPECT_EQ(Send("checkout", EventAction::kTrigger, "k1").action, "deduplicated");
  EXPECT_EQ(Send("checkout", EventAction::kAcknowledge, "k1").action, "acknowledged");
  EXPECT_EQ(Send("checkout", EventAction::kResolve, "k1").action, "resolved");
  EXPECT_EQ(Calls().size(), 1u);
  // Within the reopen window the same incident reopens: not a new one.
  now_ += kMin;
  const auto reopened = Send("checkout", EventAction::kTrigger, "k1");
  EXPECT_EQ(reopened.action, "reopened");
  EXPECT_EQ(reopened.incident_id, first.incident_id);
  EXPECT_EQ(Calls().size(), 1u);
  // Another key is another incident.
  const auto second = Send("checkout", EventAction::kTrigger, "k2");
  ASSERT_EQ(second.action, "triggered");
  calls = Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].event.incident_id, second.incident_id);
  EXPECT_EQ(calls[1].event.now, kT0 + kSec + kMin);
}

TEST_P(IncidentHookTest, AServiceWithoutRunbooksNeverCallsIt) {
  EXPECT_EQ(Send("search", EventAction::kTrigger, "k1").action, "triggered");
  EXPECT_EQ(Send("search", EventAction::kTrigger, "k2").action, "triggered");
  auto incidents = LocalIncidents();
  ASSERT_NE(incidents, nullptr);
  schema::CreateIncidentInput in;
  in.title = "Search is slow";
  in.service = "search";
  ASSERT_TRUE(incidents->Create(in));
  in.service.clear();  // and an incident of no service
  ASSERT_TRUE(incidents->Create(in));
  EXPECT_THAT(Calls(), IsEmpty());
}

TEST_P(IncidentHookTest, WhatItWritesThroughTheTxIsInTheIncidentsTimeline) {
  write_entries_ = true;
  const auto r = Send("checkout", EventAction::kTrigger, "k1");
  ASSERT_EQ(r.action, "triggered");
  EXPECT_THAT(Kinds(r.incident_id), ElementsAre("triggered", "runbook_started", "runbook_started"));
  auto t = engine_->store().Timeline(r.incident_id);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[1].body, "Runbook a started");
  EXPECT_EQ((*t)[2].metadata.at("runbook").as_string(), "b");
  EXPECT_EQ((*t)[2].at, kT0);
}

TEST_P(IncidentHookTest, ItsErrorFailsTheEventAndNothingOfTheEventIsStored) {
  fail_with_ = "the runbook store is down";
  // One commit of two events: the failing one is answered with the hook's error and leaves no
  // incident and no alert; the other is stored.
  auto results =
      engine_->IngestSync({Ingestion{Integration("checkout"), Make(EventAction::kTrigger, "k1")},
                           Ingestion{Integration("search"), Make(EventAction::kTrigger, "k2")}});
  ASSERT_EQ(results.size(), 2u);
  ASSERT_FALSE(results[0].status);
  EXPECT_THAT(results[0].status.error().message, HasSubstr("the runbook store is down"));
  EXPECT_TRUE(results[0].action.empty());
  ASSERT_TRUE(results[1].status) << results[1].status.error().message;
  EXPECT_EQ(results[1].action, "triggered");
  auto incidents = Incidents();
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].service_id, "search");
  auto alerts = engine_->store().QueryAlerts(AlertFilter{});
  ASSERT_TRUE(alerts) << alerts.error().message;
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].service_id, "search");
  EXPECT_FALSE(Calls().empty());

  // Once the hook succeeds the same event opens its incident, the first one of its key.
  fail_with_.clear();
  const auto again = Send("checkout", EventAction::kTrigger, "k1");
  EXPECT_EQ(again.action, "triggered");
  EXPECT_EQ(Incidents().size(), 2u);
}

TEST_P(IncidentHookTest, TheLocalProvidersCreateCallsItAndFailsWithIt) {
  auto incidents = LocalIncidents();
  ASSERT_NE(incidents, nullptr);
  schema::CreateIncidentInput in;
  in.title = "Checkout is down";
  in.service = "checkout";
  auto created = incidents->Create(in);
  ASSERT_TRUE(created) << created.error().message;
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].event.incident_id, created->id);
  EXPECT_EQ(calls[0].event.service_id, "checkout");
  EXPECT_THAT(calls[0].event.runbooks, ElementsAre("a", "b"));
  EXPECT_TRUE(calls[0].incident_found);

  // Created already acknowledged: someone works on it, nothing starts.
  in.status = "investigating";
  ASSERT_TRUE(incidents->Create(in));
  EXPECT_EQ(Calls().size(), 1u);

  // The hook's error is the create's, and no incident is left.
  in.status.clear();
  fail_with_ = "no such runbook";
  const std::size_t before = Incidents().size();
  auto refused = incidents->Create(in);
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("no such runbook"));
  EXPECT_EQ(Incidents().size(), before);
}

TEST_P(IncidentHookTest, ChangedRunbooksHoldForTheNextIncident) {
  EXPECT_EQ(Send("checkout", EventAction::kTrigger, "k1").action, "triggered");
  // As PUT /admin/services/{id} does: the store, then the pager's reload.
  ASSERT_TRUE(engine_->store().UpsertService(Service("checkout", {"c"})));
  ASSERT_TRUE(engine_->store().UpsertService(Service("search", {"d", "e"})));
  Reload();
  EXPECT_EQ(Send("checkout", EventAction::kTrigger, "k2").action, "triggered");
  EXPECT_EQ(Send("search", EventAction::kTrigger, "k3").action, "triggered");
  ASSERT_TRUE(engine_->store().UpsertService(Service("checkout", {})));
  Reload();
  EXPECT_EQ(Send("checkout", EventAction::kTrigger, "k4").action, "triggered");
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_THAT(calls[0].event.runbooks, ElementsAre("a", "b"));
  EXPECT_THAT(calls[1].event.runbooks, ElementsAre("c"));
  EXPECT_EQ(calls[2].event.service_id, "search");
  EXPECT_THAT(calls[2].event.runbooks, ElementsAre("d", "e"));
}

// The `local` service provider shows a service's runbooks in its metadata, when it names any.
TEST_P(IncidentHookTest, TheLocalServiceProviderShowsTheRunbooks) {
  ASSERT_TRUE(
      RegisterLocalProviders(registry_, [this]() -> Result<Engine*> { return engine_.get(); }));
  auto built = registry_.Create(providers::Capability::kService, kLocalProviderName, {});
  ASSERT_TRUE(built) << built.error().message;
  auto services = std::dynamic_pointer_cast<providers::ServiceProvider>(*built);
  ASSERT_NE(services, nullptr);
  auto all = services->Query(schema::ServiceQuery{});
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_TRUE(*all);
  ASSERT_EQ((*all)->size(), 2u);
  EXPECT_EQ((**all)[0].id, "checkout");
  EXPECT_EQ((**all)[0].metadata.at("runbooks"), (JsonArray{"a", "b"}));
  EXPECT_EQ((**all)[1].id, "search");
  EXPECT_FALSE((**all)[1].metadata.contains("runbooks"));
}

// The seed file names runbooks as the admin API does, checked by the same rules, and they hold
// at once (the seed reloads the pager's copy of the services).
TEST_P(IncidentHookTest, ASeededServicesRunbooksHoldAtOnce) {
  ASSERT_TRUE(ApplySeed(
      *engine_, R"({"services":[{"id":"billing","name":"Billing","runbooks":["x","y.z"]}]})"));
  EXPECT_EQ(Send("billing", EventAction::kTrigger, "k1").action, "triggered");
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].event.service_id, "billing");
  EXPECT_THAT(calls[0].event.runbooks, ElementsAre("x", "y.z"));

  const auto bad = ApplySeed(
      *engine_, R"({"services":[{"id":"billing","name":"Billing","runbooks":["x","x/y"]}]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "services[0].runbooks[1]: must be a runbook id: 1-64 characters of [A-Za-z0-9._-]");
}

// A paused service's new incident starts its runbooks when it is created (the pause holds back
// pages, and the hook sees it in the incident's metadata); paging resuming starts nothing again.
TEST_P(IncidentHookTest, APausedServicesIncidentCallsItWhenCreatedNotWhenPagingResumes) {
  MaintenanceWindow w{"mw1", now_ - kMin, now_ + 30 * kMin, "upgrade", {"checkout"}, "ops", 0};
  ASSERT_TRUE(engine_->store().PutDoc(
      CatalogDoc{std::string(kMaintenanceDoc), "mw1", "", WindowToJson(w), 1}));
  ASSERT_TRUE(engine_->quiet()->Reload());
  const auto r = Send("checkout", EventAction::kTrigger, "k1");
  ASSERT_EQ(r.action, "triggered");
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].event.incident_id, r.incident_id);
  ASSERT_TRUE(calls[0].metadata.contains("paused"));
  now_ += 31 * kMin;
  Run();
  EXPECT_THAT(Kinds(r.incident_id), ::testing::Contains("paging_resumed"));
  EXPECT_EQ(Calls().size(), 1u);
}

// An alert a silence held back opens its incident in the pager's pass once the silence ends:
// that transaction calls the hook.
TEST_P(IncidentHookTest, AnAlertReleasedByItsSilenceCallsItWhenItsIncidentOpens) {
  silence::Silence s;
  s.id = "s1";
  s.matchers = {{"component", "db", false, true}};
  s.starts_at = now_ - kMin;
  s.ends_at = now_ + 30 * kMin;
  s.updated_at = now_;
  s.created_by = "test";
  s.comment = "test";
  ASSERT_TRUE(
      engine_->store().PutDoc(CatalogDoc{std::string(kSilenceDoc), "s1", "", SilenceToDoc(s), 1}));
  ASSERT_TRUE(engine_->quiet()->Reload());
  Event e = Make(EventAction::kTrigger, "k1");
  e.component = "db";
  auto held = engine_->IngestSync({Ingestion{Integration("checkout"), e}});
  ASSERT_TRUE(held.at(0).status) << held.at(0).status.error().message;
  ASSERT_EQ(held.at(0).action, "suppressed");
  EXPECT_THAT(Calls(), IsEmpty());
  now_ += 31 * kMin;
  Run();
  const auto incidents = Incidents();
  ASSERT_EQ(incidents.size(), 1u);
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].event.incident_id, incidents[0].id);
  EXPECT_EQ(calls[0].event.now, now_.load());
}

// Without paging nobody keeps the services' runbooks: the hook is never called.
TEST_P(IncidentHookTest, WithoutPagingItIsNeverCalled) {
  engine_.reset();
  Open(false);
  ASSERT_EQ(engine_->pager(), nullptr);
  EXPECT_EQ(Send("checkout", EventAction::kTrigger, "k1").action, "triggered");
  EXPECT_THAT(Calls(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Backends, IncidentHookTest, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace opsorch::engine
