// The behaviour suite of the incident engine's store and rules, run against every backend:
// SQLite, and PostgreSQL on the server `make test` starts (see store_fixture.h).
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/local_providers.h>
#include <opsorch/engine/store.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/registry.h>

#include "engine/postgres/pg_db.h"
#include "engine/rules.h"
#include "engine/store_fixture.h"
#include "engine/store_schema.h"
#include "support/captured_logs.h"

namespace opsorch::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1'780'000'000LL * kSecond;

Event Trigger(std::string key, std::string summary = "disk full", Severity sev = Severity::kError) {
  Event e;
  e.action = EventAction::kTrigger;
  e.dedup_key = std::move(key);
  e.summary = std::move(summary);
  e.source = "db-1";
  e.severity = sev;
  e.origin = "events_v2";
  e.custom_details = JsonObject{{"free", "2%"}};
  return e;
}

std::int64_t SeqOfAlert(const std::string& id) { return std::stoll(id.substr(3)); }  // "al-<n>"

Event Other(EventAction a, std::string key) {
  Event e;
  e.action = a;
  e.dedup_key = std::move(key);
  e.origin = "events_v2";
  return e;
}

class StoreBehaviour : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto s = OpenTestStore(GetParam(), &url_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(
        store_->UpsertService(ServiceRow{"svc-db", "Database", "", "team-a", 900, 7200, {}, kT0}));
    integration_ = IntegrationRow{"int-1", "svc-db", "pd", "events_v2", "hash-1", "abc123", kT0, 0};
    ASSERT_TRUE(store_->InsertIntegration(integration_));
  }

  Outcome Apply(const Event& e, std::int64_t now, RulesConfig cfg = {}) {
    auto out = ApplyOn(*store_, integration_, e, now, cfg);
    EXPECT_TRUE(out) << out.error().message;
    return out ? std::move(*out) : Outcome{};
  }

  IncidentRow Incident(const std::string& id) {
    auto r = store_->GetIncident(id);
    EXPECT_TRUE(r && r->has_value()) << id;
    return r && r->has_value() ? **r : IncidentRow{};
  }

  std::vector<std::string> Kinds(const std::string& id) {
    std::vector<std::string> kinds;
    auto t = store_->Timeline(id);
    EXPECT_TRUE(t);
    if (t) {
      for (const auto& e : *t) kinds.push_back(e.kind);
    }
    return kinds;
  }

  std::vector<std::string> AlertIdsOf(const std::string& incident_id) {
    return engine::AlertIdsOf(*store_, incident_id);
  }

  // The alertId in each timeline entry's metadata ("" where there is none).
  std::vector<std::string> TimelineAlertIds(const std::string& incident_id) {
    std::vector<std::string> ids;
    auto t = store_->Timeline(incident_id);
    EXPECT_TRUE(t);
    if (t) {
      for (const auto& e : *t) {
        const auto* v = e.metadata.if_contains("alertId");
        ids.push_back(v != nullptr && v->is_string() ? std::string(v->as_string()) : "");
      }
    }
    return ids;
  }

  std::unique_ptr<Store> store_;
  std::string url_;  // opens the same database again: a second node
  IntegrationRow integration_;
};

TEST_P(StoreBehaviour, TriggerOpensAnIncidentWithItsAlertAndTimeline) {
  const Outcome o = Apply(Trigger("k1", "disk full", Severity::kCritical), kT0);
  EXPECT_EQ(o.action, "triggered");
  const IncidentRow inc = Incident(o.incident_id);
  EXPECT_EQ(inc.status, "open");
  EXPECT_EQ(inc.title, "disk full");
  EXPECT_EQ(inc.severity, "critical");
  EXPECT_EQ(inc.urgency, "high");
  EXPECT_EQ(inc.service_id, "svc-db");
  EXPECT_EQ(inc.created_at, kT0);
  EXPECT_EQ(inc.alert_count, 1);
  EXPECT_EQ(inc.details, (JsonObject{{"free", "2%"}}));
  EXPECT_THAT(Kinds(o.incident_id), ElementsAre("triggered"));
  auto alert = store_->GetAlert(o.alert_id);
  ASSERT_TRUE(alert && alert->has_value());
  EXPECT_EQ((*alert)->incident_id, o.incident_id);
  EXPECT_EQ((*alert)->action, "trigger");
}

TEST_P(StoreBehaviour, RepeatedTriggerDeduplicatesAndRaisesSeverityOnly) {
  const Outcome a = Apply(Trigger("k1", "disk full", Severity::kWarning), kT0);
  const Outcome b = Apply(Trigger("k1", "disk full again", Severity::kCritical), kT0 + kSecond);
  const Outcome c = Apply(Trigger("k1", "disk full", Severity::kInfo), kT0 + 2 * kSecond);
  EXPECT_EQ(b.action, "deduplicated");
  EXPECT_EQ(c.action, "deduplicated");
  EXPECT_EQ(b.incident_id, a.incident_id);
  const IncidentRow inc = Incident(a.incident_id);
  EXPECT_EQ(inc.alert_count, 3);
  EXPECT_EQ(inc.severity, "critical");  // raised by b, not lowered by c
  EXPECT_EQ(inc.title, "disk full");    // the first summary stays the title
  EXPECT_THAT(Kinds(a.incident_id), ElementsAre("triggered", "deduplicated", "deduplicated"));
}

// A service comes back as it was written, every field, and an upsert replaces it whole: its
// runbooks keep their order, and a service written without any (SetUp's) has none.
TEST_P(StoreBehaviour, ServicesComeBackWithEveryFieldAndTheirRunbooks) {
  ServiceRow w;
  w.id = "svc-web";
  w.name = "Web";
  w.description = "the storefront";
  w.team_id = "team-b";
  w.ack_target_s = 300;
  w.resolve_target_s = 3600;
  w.tags = JsonObject{{"tier", "1"}, {"env", "prod"}};
  w.created_at = kT0 + kSecond;
  w.escalation_policy = "web-default";
  w.ack_timeout_s = 1800;
  w.auto_resolve_s = 7200;
  w.mute_intervals = {"nights", "weekends"};
  w.runbooks = {"restart-web", "collect.diag_1", "Z-9"};
  ASSERT_TRUE(store_->UpsertService(w));
  const auto read = [&](const std::string& id) {
    auto all = store_->Services();
    EXPECT_TRUE(all) << all.error().message;
    ServiceRow found;
    if (all) {
      for (auto& s : *all) {
        if (s.id == id) found = std::move(s);
      }
    }
    EXPECT_EQ(found.id, id);
    return found;
  };
  ServiceRow r = read("svc-web");
  EXPECT_EQ(r.name, "Web");
  EXPECT_EQ(r.description, "the storefront");
  EXPECT_EQ(r.team_id, "team-b");
  EXPECT_EQ(r.ack_target_s, 300);
  EXPECT_EQ(r.resolve_target_s, 3600);
  EXPECT_EQ(r.tags, w.tags);
  EXPECT_EQ(r.created_at, kT0 + kSecond);
  EXPECT_EQ(r.escalation_policy, "web-default");
  EXPECT_EQ(r.ack_timeout_s, 1800);
  EXPECT_EQ(r.auto_resolve_s, 7200);
  EXPECT_THAT(r.mute_intervals, ElementsAre("nights", "weekends"));
  EXPECT_THAT(r.runbooks, ElementsAre("restart-web", "collect.diag_1", "Z-9"));
  EXPECT_TRUE(read("svc-db").runbooks.empty());

  w.runbooks = {"Z-9", "restart-web"};
  ASSERT_TRUE(store_->UpsertService(w));
  EXPECT_THAT(read("svc-web").runbooks, ElementsAre("Z-9", "restart-web"));
  w.runbooks.clear();
  w.name = "Web shop";
  w.created_at = kT0 + 9 * kSecond;
  ASSERT_TRUE(store_->UpsertService(w));
  r = read("svc-web");
  EXPECT_TRUE(r.runbooks.empty());
  EXPECT_EQ(r.name, "Web shop");
  EXPECT_EQ(r.created_at, kT0 + kSecond);  // kept by the upsert
}

// Paging primitives: timelines are read in (at, n) order after a cursor and stop when asked
// (bounded memory for a flapping alert's hundreds of thousands of repeats); incidents and
// alerts page by seq, and alerts filter by action in the store.
TEST_P(StoreBehaviour, TimelinesScanAfterACursorAndStopWhenAsked) {
  const Outcome first = Apply(Trigger("k1", "disk full", Severity::kWarning), kT0);
  for (int i = 1; i <= 30; ++i) {
    Apply(Trigger("k1", "again", i == 15 ? Severity::kCritical : Severity::kWarning),
          kT0 + i * kSecond);
  }
  auto all = store_->Timeline(first.incident_id);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 31u);
  for (std::size_t i = 1; i < all->size(); ++i) {
    EXPECT_LT(std::make_pair((*all)[i - 1].at, (*all)[i - 1].n),
              std::make_pair((*all)[i].at, (*all)[i].n));
    EXPECT_EQ((*all)[i].id, first.incident_id + "-t" + std::to_string((*all)[i].n));
  }
  // The raise is marked, so that the default view keeps it apart from the run of repeats.
  EXPECT_EQ((*all)[15].metadata.at("severityFrom"), "warning");
  EXPECT_EQ((*all)[15].metadata.at("severityTo"), "critical");
  std::vector<std::int64_t> seen;
  const TimelineCursor after{(*all)[9].at, (*all)[9].n};
  auto st = store_->ScanTimeline(first.incident_id, after, 0, [&](TimelineRow&& r) {
    seen.push_back(r.n);
    return seen.size() < 5;
  });
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.front(), (*all)[10].n);
  EXPECT_EQ(seen.back(), (*all)[14].n);
  seen.clear();
  st = store_->ScanTimeline(first.incident_id, TimelineCursor{}, 7, [&](TimelineRow&& r) {
    seen.push_back(r.n);
    return true;
  });
  ASSERT_TRUE(st);
  EXPECT_EQ(seen.size(), 7u);
}

// An event's entry may be kept in its alert's row and a note in the timeline's own rows: one
// timeline all the same, in (at, n) order across both, scanned from a cursor in either, and only
// the notes are found by kind.
TEST_P(StoreBehaviour, EntriesOfEventsAndNotesFormOneTimeline) {
  const Outcome first = Apply(Trigger("k1"), kT0);
  const auto note = [&](std::int64_t at, const std::string& body) {
    ASSERT_TRUE(store_->Write([&](Tx& tx) {
      TimelineRow t;
      t.incident_id = first.incident_id;
      t.at = at;
      t.kind = "note";
      t.body = body;
      return tx.AppendTimeline(t);
    }));
  };
  note(kT0, "same time as the trigger");
  Apply(Trigger("k1"), kT0 + kSecond);
  note(kT0 + 2 * kSecond, "later");
  const Outcome last = Apply(Trigger("k1"), kT0 + 2 * kSecond);
  auto all = store_->Timeline(first.incident_id);
  ASSERT_TRUE(all) << all.error().message;
  std::vector<std::string> bodies;
  for (const auto& e : *all) bodies.push_back(e.kind == "note" ? e.body : e.kind);
  EXPECT_THAT(bodies, ElementsAre("triggered", "same time as the trigger", "deduplicated", "later",
                                  "deduplicated"));
  for (std::size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].n, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ((*all)[i].id, first.incident_id + "-t" + std::to_string(i + 1));
  }
  EXPECT_THAT(TimelineAlertIds(first.incident_id),
              ElementsAre(first.alert_id, "", ::testing::Ne(""), "", last.alert_id));
  // From a cursor on a note, then from one on an event's entry.
  for (const std::size_t from : {std::size_t{1}, std::size_t{2}}) {
    std::vector<std::int64_t> seen;
    ASSERT_TRUE(store_->ScanTimeline(first.incident_id, {(*all)[from].at, (*all)[from].n}, 0,
                                     [&](TimelineRow&& r) {
                                       seen.push_back(r.n);
                                       return true;
                                     }));
    std::vector<std::int64_t> want;
    for (std::size_t i = from + 1; i < all->size(); ++i) want.push_back((*all)[i].n);
    EXPECT_EQ(seen, want) << "from entry " << from;
  }
  auto notes = store_->TimelineOfKind(first.incident_id, "note", 10);
  ASSERT_TRUE(notes) << notes.error().message;
  ASSERT_EQ(notes->size(), 2u);
  EXPECT_EQ((*notes)[0].body, "later");  // newest first
  auto none = store_->TimelineOfKind(first.incident_id, "deduplicated", 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreBehaviour, IncidentsAndAlertsPageBySeqAndAlertsFilterByAction) {
  std::vector<Outcome> opened;
  for (int i = 0; i < 5; ++i) opened.push_back(Apply(Trigger("k" + std::to_string(i)), kT0 + i));
  Apply(Other(EventAction::kAcknowledge, "k1"), kT0 + 10);
  Apply(Other(EventAction::kResolve, "k2"), kT0 + 11);
  IncidentFilter f;
  f.limit = 2;
  auto page = store_->QueryIncidents(f);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ(page->at(0).id, opened[4].incident_id);
  f.before_seq = page->back().seq;
  page = store_->QueryIncidents(f);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ(page->at(0).id, opened[2].incident_id);
  EXPECT_EQ(page->at(1).id, opened[1].incident_id);
  AlertFilter a;
  a.actions = {"acknowledge", "resolve"};
  auto alerts = store_->QueryAlerts(a);
  ASSERT_TRUE(alerts);
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ(alerts->at(0).action, "resolve");
  EXPECT_EQ(alerts->at(1).action, "acknowledge");
  a.actions = {"trigger"};
  a.limit = 2;
  a.before_seq = SeqOfAlert(opened[3].alert_id);
  alerts = store_->QueryAlerts(a);
  ASSERT_TRUE(alerts);
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ(alerts->at(0).id, opened[2].alert_id);
  EXPECT_EQ(alerts->at(1).id, opened[1].alert_id);
}

TEST_P(StoreBehaviour, AcknowledgeThenResolve) {
  const Outcome t = Apply(Trigger("k1"), kT0);
  const Outcome a = Apply(Other(EventAction::kAcknowledge, "k1"), kT0 + 60 * kSecond);
  EXPECT_EQ(a.action, "acknowledged");
  EXPECT_EQ(Incident(t.incident_id).status, "acknowledged");
  EXPECT_EQ(Incident(t.incident_id).acknowledged_at, kT0 + 60 * kSecond);
  const Outcome a2 = Apply(Other(EventAction::kAcknowledge, "k1"), kT0 + 90 * kSecond);
  EXPECT_EQ(Incident(t.incident_id).acknowledged_at, kT0 + 60 * kSecond);  // the first ack counts
  (void)a2;
  const Outcome r = Apply(Other(EventAction::kResolve, "k1"), kT0 + 120 * kSecond);
  EXPECT_EQ(r.action, "resolved");
  const IncidentRow inc = Incident(t.incident_id);
  EXPECT_EQ(inc.status, "resolved");
  EXPECT_EQ(inc.resolved_at, kT0 + 120 * kSecond);
  EXPECT_THAT(Kinds(t.incident_id),
              ElementsAre("triggered", "acknowledged", "acknowledged", "resolved"));
}

TEST_P(StoreBehaviour, TriggerAfterResolveOpensANewIncident) {
  const Outcome a = Apply(Trigger("k1"), kT0);
  Apply(Other(EventAction::kResolve, "k1"), kT0 + kSecond);
  const Outcome b = Apply(Trigger("k1"), kT0 + 2 * kSecond);
  EXPECT_EQ(b.action, "triggered");
  EXPECT_NE(b.incident_id, a.incident_id);
}

TEST_P(StoreBehaviour, ReopenWindowReopensTheResolvedIncident) {
  RulesConfig cfg;
  cfg.reopen_window_ns = 600 * kSecond;
  const Outcome a = Apply(Trigger("k1"), kT0, cfg);
  Apply(Other(EventAction::kResolve, "k1"), kT0 + kSecond, cfg);
  const Outcome b = Apply(Trigger("k1"), kT0 + 300 * kSecond, cfg);
  EXPECT_EQ(b.action, "reopened");
  EXPECT_EQ(b.incident_id, a.incident_id);
  const IncidentRow inc = Incident(a.incident_id);
  EXPECT_EQ(inc.status, "open");
  EXPECT_EQ(inc.resolved_at, 0);
  EXPECT_THAT(Kinds(a.incident_id), ElementsAre("triggered", "resolved", "reopened"));
  // Outside the window: a new incident.
  Apply(Other(EventAction::kResolve, "k1"), kT0 + 301 * kSecond, cfg);
  const Outcome c = Apply(Trigger("k1"), kT0 + 1000 * kSecond, cfg);
  EXPECT_EQ(c.action, "triggered");
  EXPECT_NE(c.incident_id, a.incident_id);
}

TEST_P(StoreBehaviour, AcknowledgeWithoutIncidentIsIgnored) {
  const Outcome o = Apply(Other(EventAction::kAcknowledge, "nope"), kT0);
  EXPECT_EQ(o.action, "ignored");
  EXPECT_TRUE(o.incident_id.empty());
  auto open = store_->QueryIncidents({});
  ASSERT_TRUE(open);
  EXPECT_TRUE(open->empty());
}

TEST_P(StoreBehaviour, ResolveBeforeTriggerIsHeldForFiveMinutes) {
  const Outcome held = Apply(Other(EventAction::kResolve, "k1"), kT0);
  EXPECT_EQ(held.action, "held");
  const Outcome t = Apply(Trigger("k1"), kT0 + 120 * kSecond);
  EXPECT_EQ(t.action, "resolved");
  const IncidentRow inc = Incident(t.incident_id);
  EXPECT_EQ(inc.status, "resolved");
  EXPECT_EQ(inc.alert_count, 2);
  EXPECT_THAT(Kinds(t.incident_id), ElementsAre("triggered", "resolved"));
  auto linked = store_->GetAlert(held.alert_id);
  ASSERT_TRUE(linked && linked->has_value());
  EXPECT_EQ((*linked)->incident_id, t.incident_id);
  EXPECT_THAT(AlertIdsOf(t.incident_id), ElementsAre(t.alert_id, held.alert_id));
  EXPECT_THAT(TimelineAlertIds(t.incident_id), ElementsAre(t.alert_id, held.alert_id));
  // The hold was consumed: the next trigger opens normally.
  EXPECT_EQ(Apply(Trigger("k1"), kT0 + 130 * kSecond).action, "triggered");
  // An expired hold does not resolve a late trigger.
  Apply(Other(EventAction::kResolve, "k2"), kT0);
  EXPECT_EQ(Apply(Trigger("k2"), kT0 + 301 * kSecond).action, "triggered");
}

// Under load the events of many incidents interleave, within a transaction and across them;
// each incident lists exactly its own alerts and timeline entries.
TEST_P(StoreBehaviour, InterleavedEventsStayWithTheirIncidents) {
  const std::vector<std::string> keys = {"a", "b", "c"};
  std::map<std::string, std::vector<std::string>> alerts;  // key → alert ids, oldest first
  std::map<std::string, std::string> incident;
  auto record = [&](const std::string& key, const Outcome& o) {
    incident[key] = o.incident_id;
    alerts[key].push_back(o.alert_id);
  };
  for (int i = 0; i < 6; ++i) {
    const std::string& key = keys[i % 3];
    record(key, Apply(Trigger(key), kT0 + i * kSecond));
  }
  // One transaction, keys interleaved again, the last event acknowledging "b".
  std::vector<std::function<Status(Tx&)>> items;
  std::vector<std::pair<std::string, Outcome>> out(7);
  for (int i = 0; i < 7; ++i) {
    const std::string key = i == 6 ? "b" : keys[i % 3];
    const Event e = i == 6 ? Other(EventAction::kAcknowledge, key) : Trigger(key);
    items.push_back([&, i, key, e](Tx& tx) -> Status {
      auto r = ApplyEvent(tx, integration_, e, kT0 + 10 * kSecond, {});
      if (!r) return Fail(std::move(r.error()));
      out[i] = {key, std::move(*r)};
      return Ok();
    });
  }
  std::vector<Status> results;
  ASSERT_TRUE(store_->WriteBatch(items, results));
  ASSERT_TRUE(store_->Sync());
  for (const auto& [key, o] : out) record(key, o);
  for (const auto& key : keys) {
    SCOPED_TRACE(key);
    EXPECT_EQ(incident[key], out[key == "a" ? 0 : key == "b" ? 1 : 2].second.incident_id);
    std::vector<std::string> newest_first(alerts[key].rbegin(), alerts[key].rend());
    EXPECT_EQ(AlertIdsOf(incident[key]), newest_first);
    EXPECT_EQ(TimelineAlertIds(incident[key]), alerts[key]);
    EXPECT_EQ(Incident(incident[key]).alert_count, static_cast<std::int64_t>(alerts[key].size()));
  }
  EXPECT_THAT(Kinds(incident["b"]), ElementsAre("triggered", "deduplicated", "deduplicated",
                                                "deduplicated", "acknowledged"));
}

TEST_P(StoreBehaviour, ARepeatedResolveIsNotHeldForTheNextTrigger) {
  const Outcome t = Apply(Trigger("k1"), kT0);
  Apply(Other(EventAction::kResolve, "k1"), kT0 + kSecond);
  const Outcome again = Apply(Other(EventAction::kResolve, "k1"), kT0 + 2 * kSecond);
  EXPECT_EQ(again.action, "ignored");
  EXPECT_TRUE(again.incident_id.empty());
  EXPECT_EQ(Incident(t.incident_id).alert_count, 2);  // the repeat is not attached
  // The alert flaps back: a new incident, open, not one "created resolved".
  const Outcome flap = Apply(Trigger("k1"), kT0 + 60 * kSecond);
  EXPECT_EQ(flap.action, "triggered");
  EXPECT_EQ(Incident(flap.incident_id).status, "open");
}

TEST_P(StoreBehaviour, KeysAreScopedToTheService) {
  ASSERT_TRUE(store_->UpsertService(ServiceRow{"svc-web", "Web", "", "", 900, 7200, {}, kT0}));
  const Outcome a = Apply(Trigger("shared"), kT0);
  const IntegrationRow web{"int-2", "svc-web", "pd", "events_v2", "hash-2", "def456", kT0, 0};
  Outcome b;
  ASSERT_TRUE(store_->Write([&](Tx& tx) -> Status {
    auto r = ApplyEvent(tx, web, Trigger("shared"), kT0, {});
    if (!r) return Fail(std::move(r.error()));
    b = *r;
    return Ok();
  }));
  EXPECT_EQ(b.action, "triggered");
  EXPECT_NE(a.incident_id, b.incident_id);
}

TEST_P(StoreBehaviour, BatchRollsBackOnlyTheFailingItem) {
  std::vector<std::function<Status(Tx&)>> items;
  items.push_back([&](Tx& tx) -> Status {
    auto r = ApplyEvent(tx, integration_, Trigger("a"), kT0, {});
    return r ? Ok() : Status(Fail(r.error()));
  });
  items.push_back([&](Tx& tx) -> Status {
    auto r = ApplyEvent(tx, integration_, Trigger("b"), kT0, {});
    if (!r) return Fail(r.error());
    return Fail(errc::kBadRequest, "rejected after writing");  // its writes must vanish
  });
  items.push_back([&](Tx& tx) -> Status {
    auto r = ApplyEvent(tx, integration_, Trigger("c"), kT0, {});
    return r ? Ok() : Status(Fail(r.error()));
  });
  std::vector<Status> results;
  ASSERT_TRUE(store_->WriteBatch(items, results));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0]);
  EXPECT_FALSE(results[1]);
  EXPECT_TRUE(results[2]);
  auto all = store_->QueryIncidents({});
  ASSERT_TRUE(all);
  std::vector<std::string> keys;
  for (const auto& i : *all) keys.push_back(i.dedup_key);
  EXPECT_THAT(keys, ElementsAre("c", "a"));  // newest first
}

// Many events on one key in one group commit, with an API write and a failing item among
// them: every change must be visible to the next item (the SQLite store defers and merges
// incident updates within a transaction), and the failing item's writes, including its timeline
// number, must vanish.
TEST_P(StoreBehaviour, OneBatchOfManyEventsOnOneKeyMatchesEventsAppliedAlone) {
  std::vector<Outcome> out(8);
  std::vector<std::function<Status(Tx&)>> items;
  auto event = [&](std::size_t i, Event e) {
    items.push_back([&, i, e](Tx& tx) -> Status {
      auto r = ApplyEvent(tx, integration_, e, kT0 + static_cast<std::int64_t>(i) * kSecond, {});
      if (!r) return Fail(r.error());
      out[i] = std::move(*r);
      return Ok();
    });
  };
  event(0, Trigger("k1", "disk full", Severity::kWarning));
  event(1, Trigger("k1", "disk full", Severity::kCritical));  // raises severity
  event(2, Other(EventAction::kAcknowledge, "k1"));
  items.push_back([&](Tx& tx) -> Status {  // an API change: reads what the events wrote
    auto inc = tx.GetIncidentForUpdate(out[0].incident_id);
    if (!inc) return Fail(inc.error());
    if (!*inc) return Fail(errc::kNotFound, "incident");
    IncidentRow row = **inc;
    if (row.status != "acknowledged" || row.alert_count != 3 || row.severity != "critical") {
      return Fail(errc::kInternal, "stale read: " + row.status + " " +
                                       std::to_string(row.alert_count) + " " + row.severity);
    }
    row.title = "disk full (renamed)";
    row.updated_at = kT0 + 3 * kSecond;
    if (auto st = tx.UpdateIncident(row); !st) return st;
    TimelineRow note;
    note.incident_id = row.id;
    note.at = kT0 + 3 * kSecond;
    note.kind = "note";
    note.body = "looking";
    return tx.AppendTimeline(note);
  });
  items.push_back([&](Tx& tx) -> Status {  // writes, then fails: all of it must vanish
    auto r = ApplyEvent(tx, integration_, Trigger("k1"), kT0 + 4 * kSecond, {});
    if (!r) return Fail(r.error());
    return Fail(errc::kBadRequest, "rejected after writing");
  });
  event(5, Other(EventAction::kResolve, "k1"));
  event(6, Trigger("k1"));  // a new incident: the resolve must have reached the unique index
  event(7, Trigger("k1"));
  std::vector<Status> results;
  ASSERT_TRUE(store_->WriteBatch(items, results));
  ASSERT_EQ(results.size(), 8u);
  for (std::size_t i = 0; i < results.size(); ++i) EXPECT_EQ(static_cast<bool>(results[i]), i != 4);

  const std::string first = out[0].incident_id;
  EXPECT_EQ(out[1].action, "deduplicated");
  EXPECT_EQ(out[5].action, "resolved");
  EXPECT_EQ(out[5].incident_id, first);
  EXPECT_EQ(out[6].action, "triggered");
  EXPECT_NE(out[6].incident_id, first);
  EXPECT_EQ(out[7].action, "deduplicated");
  EXPECT_EQ(out[7].incident_id, out[6].incident_id);

  const IncidentRow a = Incident(first);
  EXPECT_EQ(a.status, "resolved");
  EXPECT_EQ(a.title, "disk full (renamed)");
  EXPECT_EQ(a.severity, "critical");
  EXPECT_EQ(a.urgency, "high");
  EXPECT_EQ(a.alert_count, 4);
  EXPECT_EQ(a.acknowledged_at, kT0 + 2 * kSecond);
  EXPECT_EQ(a.resolved_at, kT0 + 5 * kSecond);
  EXPECT_EQ(a.updated_at, kT0 + 5 * kSecond);
  auto ta = store_->Timeline(first);
  ASSERT_TRUE(ta);
  std::vector<std::string> ids, kinds;
  for (const auto& t : *ta) {
    ids.push_back(t.id);
    kinds.push_back(t.kind);
  }
  EXPECT_THAT(kinds, ElementsAre("triggered", "deduplicated", "acknowledged", "note", "resolved"));
  EXPECT_THAT(
      ids, ElementsAre(first + "-t1", first + "-t2", first + "-t3", first + "-t4", first + "-t5"));

  const IncidentRow b = Incident(out[6].incident_id);
  EXPECT_EQ(b.status, "open");
  EXPECT_EQ(b.alert_count, 2);
  EXPECT_EQ(b.updated_at, kT0 + 7 * kSecond);
  auto tb = store_->Timeline(b.id);
  ASSERT_TRUE(tb);
  ASSERT_EQ(tb->size(), 2u);
  EXPECT_EQ((*tb)[1].id, b.id + "-t2");
  EXPECT_EQ((*tb)[1].kind, "deduplicated");

  // The next event continues the numbering (the counter was stored, not just kept in memory).
  Apply(Trigger("k1"), kT0 + 8 * kSecond);
  auto tb2 = store_->Timeline(b.id);
  ASSERT_TRUE(tb2);
  ASSERT_EQ(tb2->size(), 3u);
  EXPECT_EQ((*tb2)[2].id, b.id + "-t3");
  EXPECT_EQ(Incident(b.id).alert_count, 3);
  AlertFilter f;
  f.incident_id = first;
  auto alerts = store_->QueryAlerts(f);
  ASSERT_TRUE(alerts);
  EXPECT_EQ(alerts->size(), 4u);  // the failed item's alert is gone
}

// The SQLite writer keeps each key's open incident in memory between transactions; every other
// way of changing that incident must be seen by the next event.
TEST_P(StoreBehaviour, ApiChangesAreSeenByTheNextEvent) {
  const Outcome first = Apply(Trigger("k1"), kT0);
  Apply(Trigger("k1"), kT0 + kSecond);  // deduplicated: known to the writer now
  ASSERT_TRUE(store_->Write([&](Tx& tx) -> Status {
    TimelineRow note;
    note.incident_id = first.incident_id;
    note.at = kT0 + 2 * kSecond;
    note.kind = "note";
    note.body = "looking";
    return tx.AppendTimeline(note);
  }));
  // A stale timeline counter would number this entry like the note (a key conflict).
  EXPECT_EQ(Apply(Trigger("k1"), kT0 + 3 * kSecond).action, "deduplicated");
  EXPECT_THAT(Kinds(first.incident_id),
              ElementsAre("triggered", "deduplicated", "note", "deduplicated"));
  auto entries = store_->Timeline(first.incident_id);
  ASSERT_TRUE(entries);
  std::vector<std::string> ids;
  for (const auto& e : *entries) ids.push_back(e.id);
  const std::string& id = first.incident_id;
  EXPECT_THAT(ids, ElementsAre(id + "-t1", id + "-t2", id + "-t3", id + "-t4"));
  ASSERT_TRUE(ResolveThroughApi(*store_, first.incident_id, kT0 + 4 * kSecond));
  const Outcome next = Apply(Trigger("k1"), kT0 + 5 * kSecond);
  EXPECT_EQ(next.action, "triggered");
  EXPECT_NE(next.incident_id, first.incident_id);
  const IncidentRow closed = Incident(first.incident_id);
  EXPECT_EQ(closed.status, "resolved");
  EXPECT_EQ(closed.alert_count, 3);
}

TEST_P(StoreBehaviour, AnotherNodesChangesAreSeenByTheNextEvent) {
  auto other = OpenStore(url_);
  ASSERT_TRUE(other) << other.error().message;
  auto apply_on_other = [&](const Event& e, std::int64_t now) {
    auto out = ApplyOn(**other, integration_, e, now);
    EXPECT_TRUE(out) << out.error().message;
    return out ? std::move(*out) : Outcome{};
  };
  const Outcome first = Apply(Trigger("k1"), kT0);
  Apply(Trigger("k1"), kT0 + kSecond);
  // The other node resolves it through the API: a change without a timeline entry, so nothing
  // but the other node's commit itself tells this writer that the incident is closed.
  ASSERT_TRUE(ResolveThroughApi(**other, first.incident_id, kT0 + 2 * kSecond));
  const Outcome second = Apply(Trigger("k1"), kT0 + 3 * kSecond);
  EXPECT_EQ(second.action, "triggered");  // not deduplicated into the resolved incident
  EXPECT_NE(second.incident_id, first.incident_id);
  EXPECT_EQ(apply_on_other(Trigger("k1"), kT0 + 4 * kSecond).incident_id, second.incident_id);
  Apply(Other(EventAction::kAcknowledge, "k1"), kT0 + 5 * kSecond);
  const IncidentRow inc = Incident(second.incident_id);
  EXPECT_EQ(inc.alert_count, 3);  // counts the other node's event
  EXPECT_EQ(inc.status, "acknowledged");
  EXPECT_THAT(Kinds(second.incident_id), ElementsAre("triggered", "deduplicated", "acknowledged"));
  EXPECT_EQ(Incident(first.incident_id).alert_count, 2);
}

TEST_P(StoreBehaviour, QueryFilters) {
  Apply(Trigger("k1", "Disk full on db-1", Severity::kCritical), kT0);
  Apply(Trigger("k2", "CPU high", Severity::kWarning), kT0 + kSecond);
  Apply(Trigger("k3", "disk slow", Severity::kInfo), kT0 + 2 * kSecond);
  Apply(Other(EventAction::kResolve, "k3"), kT0 + 3 * kSecond);
  IncidentFilter f;
  f.text = "DISK";
  auto r = store_->QueryIncidents(f);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
  f = {};
  f.statuses = {"open"};
  EXPECT_EQ(store_->QueryIncidents(f)->size(), 2u);
  f = {};
  f.severities = {"critical", "info"};
  EXPECT_EQ(store_->QueryIncidents(f)->size(), 2u);
  f = {};
  f.limit = 1;
  auto one = store_->QueryIncidents(f);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().dedup_key, "k3");
  f = {};
  f.text = "100%_";  // LIKE wildcards are literal
  EXPECT_TRUE(store_->QueryIncidents(f)->empty());
  f = {};
  f.service_ids = {"svc-other"};
  EXPECT_TRUE(store_->QueryIncidents(f)->empty());
}

// ---- Text search ---------------------------------------------------------------------------
//
// A search finds the incidents whose title or description holds the text, compared without
// case (Unicode simple folding), characters taken literally. The stores answer it from an
// index (SQLite: FTS5 trigrams of the folded text; PostgreSQL: pg_trgm) that follows inserts,
// changes of title and deletions; texts of one or two characters have no trigram and scan.
// Every case names the incidents it must find, newest first.

struct SearchCase {
  std::string text;
  std::vector<std::string> statuses;
  std::vector<std::string> want;  // ids, newest first
};

class StoreSearch : public StoreBehaviour {
 protected:
  // Inserts an incident as the API does and returns its id.
  std::string Add(const std::string& title, const std::string& description,
                  const std::string& status = "open") {
    IncidentRow row;
    row.service_id = "svc-db";
    row.title = title;
    row.description = description;
    row.status = status;
    row.created_at = row.updated_at = kT0 + static_cast<std::int64_t>(++added_) * kSecond;
    if (status == "resolved") row.resolved_at = row.created_at;
    auto st = store_->Write([&](Tx& tx) { return tx.InsertIncident(row); });
    EXPECT_TRUE(st) << st.error().message;
    return row.id;
  }

  Status Retitle(const std::string& id, const std::string& title) {
    return store_->Write([&](Tx& tx) -> Status {
      auto inc = tx.GetIncidentForUpdate(id);
      if (!inc) return Fail(inc.error());
      if (!*inc) return Fail(errc::kNotFound, "incident " + id);
      IncidentRow row = **inc;
      row.title = title;
      return tx.UpdateIncident(row);
    });
  }

  std::vector<std::string> Search(const std::string& text,
                                  const std::vector<std::string>& statuses = {}) {
    return SearchIds(*store_, text, statuses);
  }

  int added_ = 0;
};

TEST_P(StoreSearch, FindsWhatAScanFindsUnderEveryKindOfText) {
  const std::string disk = Add("Disk full on db-1", "");
  const std::string cpu = Add("CPU high", "runbook: scale the DB pool");
  const std::string german = Add("Überlast im Rechenzentrum", "ÄRGER mit dem Kühlsystem");
  const std::string literal = Add("100% CPU on worker_7", "path C:\\temp\\logs");
  const std::string underscore = Add("disk_full alarm", "said \"hi\" twice", "resolved");
  const std::string russian = Add("Ошибка базы данных", "");
  const std::string renamed = Add("old title zebra", "");
  const std::string expired = Add("expired quokka", "", "resolved");
  const std::string slow = Add("DISK slow", "");
  const std::string lines = Add("line one", "line two\nand three");
  // Changed after it was indexed: found under its new title only.
  ASSERT_TRUE(Retitle(renamed, "new title giraffe"));
  // Inserted and changed in one transaction (the index sees only the last title).
  IncidentRow both;
  both.service_id = "svc-db";
  both.title = "before wombat";
  both.created_at = both.updated_at = kT0 + 100 * kSecond;
  ASSERT_TRUE(store_->Write([&](Tx& tx) -> Status {
    if (auto st = tx.InsertIncident(both); !st) return st;
    both.title = "after koala";
    return tx.UpdateIncident(both);
  }));
  // Retention removes the resolved incident of long ago (and only it).
  auto gone = store_->DeleteExpired(kT0 + 9 * kSecond, 0);
  ASSERT_TRUE(gone) << gone.error().message;
  ASSERT_EQ(*gone, 2);  // `expired` and `underscore`, resolved before the cutoff

  const std::vector<SearchCase> cases = {
      // case-insensitive, in any position, in title or description
      {"disk", {}, {slow, disk}},
      {"DISK", {}, {slow, disk}},
      {"dIsK fUlL", {}, {disk}},
      {"cpu", {}, {literal, cpu}},
      {" on ", {}, {literal, disk}},
      {"Disk full on db-1", {}, {disk}},
      {"disk high", {}, {}},  // each trigram is somewhere, the text nowhere
      // only in a description
      {"runbook", {}, {cpu}},
      {"scale the db", {}, {cpu}},
      // non-ASCII, folded both ways, three characters or more
      {"überlast", {}, {german}},
      {"ÜBERLAST", {}, {german}},
      {"übe", {}, {german}},
      {"ärger", {}, {german}},
      {"kühlSYSTEM", {}, {german}},
      {"БАЗЫ", {}, {russian}},
      {"ошибка база", {}, {}},
      // LIKE's wildcards and its escape character are literal
      {"100%", {}, {literal}},
      {"0% c", {}, {literal}},
      {"r_7", {}, {literal}},
      {"c:\\temp", {}, {literal}},
      {"\\temp\\", {}, {literal}},
      {"%%%", {}, {}},
      {"___", {}, {}},
      // FTS5's quote character
      {"\"hi\"", {}, {}},  // its incident is gone (retention)
      // one and two characters: no trigram, a scan
      {"%", {}, {literal}},
      {"_", {}, {literal}},
      {"\\", {}, {literal}},
      {"0%", {}, {literal}},
      {"db", {}, {cpu, disk}},
      {"Ü", {}, {german}},
      {"zz", {}, {}},
      // a newline: within a description, never across title and description
      {"two\nand", {}, {lines}},
      {"one\nline", {}, {}},
      {"\n", {}, {lines}},
      // with a filter
      {"disk", {"open"}, {slow, disk}},
      {"disk", {"resolved"}, {}},
      // changed titles, deleted incidents
      {"zebra", {}, {}},
      {"giraffe", {}, {renamed}},
      {"new title", {}, {renamed}},
      {"wombat", {}, {}},
      {"koala", {}, {both.id}},
      {"quokka", {}, {}},
      {"disk_full", {}, {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Search(c.text, c.statuses), c.want) << "search \"" << c.text << "\"";
  }
}

// The index follows every kind of change over many incidents and commits: after each round,
// every incident is found by its own (changed) word and no other, newest first for a shared
// word, whether a round's transaction inserted, changed or deleted it.
TEST_P(StoreSearch, FollowsInsertsChangesAndDeletionsAcrossCommits) {
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(Add("shared word w" + std::to_string(1000 + i), ""));
  for (int i = 0; i < 60; i += 3)
    ASSERT_TRUE(Retitle(ids[i], "shared word v" + std::to_string(1000 + i)));
  // Units of one batch, one of which fails: its insert and change are rolled back alone.
  std::vector<std::function<Status(Tx&)>> units;
  IncidentRow kept, dropped;
  kept.service_id = dropped.service_id = "svc-db";
  kept.title = "shared word kept";
  dropped.title = "shared word dropped";
  kept.created_at = kept.updated_at = dropped.created_at = dropped.updated_at = kT0;
  units.push_back([&](Tx& tx) { return tx.InsertIncident(kept); });
  units.push_back([&](Tx& tx) -> Status {
    if (auto st = tx.InsertIncident(dropped); !st) return st;
    return Fail(errc::kBadRequest, "this unit fails");
  });
  // Changes the first unit's incident (not yet indexed), then fails: the change goes, the
  // incident stays under its first title.
  units.push_back([&](Tx& tx) -> Status {
    IncidentRow renamed = kept;
    renamed.title = "shared word renamed";
    if (auto st = tx.UpdateIncident(renamed); !st) return st;
    return Fail(errc::kBadRequest, "this unit fails too");
  });
  std::vector<Status> results;
  ASSERT_TRUE(store_->WriteBatch(units, results));
  ASSERT_TRUE(results[0]);
  ASSERT_FALSE(results[1]);
  ASSERT_FALSE(results[2]);
  EXPECT_EQ(results[2].error().message, "this unit fails too");
  ASSERT_TRUE(store_->Sync());
  for (int i = 0; i < 60; ++i) {
    const std::string old_word = "w" + std::to_string(1000 + i);
    const std::string new_word = "v" + std::to_string(1000 + i);
    if (i % 3 == 0) {
      EXPECT_TRUE(Search(old_word).empty()) << old_word;
      EXPECT_EQ(Search(new_word), std::vector<std::string>{ids[i]}) << new_word;
    } else {
      EXPECT_EQ(Search(old_word), std::vector<std::string>{ids[i]}) << old_word;
      EXPECT_TRUE(Search(new_word).empty()) << new_word;
    }
  }
  EXPECT_EQ(Search("kept"), std::vector<std::string>{kept.id});
  EXPECT_TRUE(Search("dropped").empty());
  EXPECT_TRUE(Search("renamed").empty());
  // And it can be changed later (its terms are in the index to be taken out).
  ASSERT_TRUE(Retitle(kept.id, "shared word kept again"));
  EXPECT_EQ(Search("kept again"), std::vector<std::string>{kept.id});
  auto all = Search("SHARED WORD");
  ASSERT_EQ(all.size(), 61u);
  EXPECT_EQ(all.front(), kept.id);
  EXPECT_EQ(all.back(), ids.front());
}

// Paging in both orders, with and without a search (the index reads in either order too).
TEST_P(StoreSearch, PagesNewestFirstAndOldestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(Add((i % 2 == 0 ? "alpha " : "beta ") + std::to_string(i), ""));
  }
  const auto pages = [&](IncidentFilter f) {
    std::vector<std::vector<std::string>> out;
    for (int guard = 0; guard < 20; ++guard) {
      auto rows = store_->QueryIncidents(f);
      EXPECT_TRUE(rows) << rows.error().message;
      if (!rows || rows->empty()) break;
      out.emplace_back();
      for (const auto& r : *rows) out.back().push_back(r.id);
      (f.oldest_first ? f.after_seq : f.before_seq) = rows->back().seq;
    }
    return out;
  };
  using Pages = std::vector<std::vector<std::string>>;
  IncidentFilter f;
  f.limit = 2;
  EXPECT_EQ(pages(f), (Pages{{ids[6], ids[5]}, {ids[4], ids[3]}, {ids[2], ids[1]}, {ids[0]}}));
  f.oldest_first = true;
  EXPECT_EQ(pages(f), (Pages{{ids[0], ids[1]}, {ids[2], ids[3]}, {ids[4], ids[5]}, {ids[6]}}));
  f.text = "ALPHA";
  EXPECT_EQ(pages(f), (Pages{{ids[0], ids[2]}, {ids[4], ids[6]}}));
  f.oldest_first = false;
  EXPECT_EQ(pages(f), (Pages{{ids[6], ids[4]}, {ids[2], ids[0]}}));
  f.text = "a";  // one character: the scan, same pages
  EXPECT_EQ(pages(f).size(), 4u);
  // Both bounds: the incidents between two others.
  for (const std::string text : {"", "alpha", "al"}) {
    IncidentFilter window;
    window.text = text;
    window.after_seq = SeqOf(ids[1], "inc-");
    window.before_seq = SeqOf(ids[6], "inc-");
    auto rows = store_->QueryIncidents(window);
    ASSERT_TRUE(rows);
    std::vector<std::string> got;
    for (const auto& r : *rows) got.push_back(r.id);
    const std::vector<std::string> newest =
        text.empty() ? std::vector<std::string>{ids[5], ids[4], ids[3], ids[2]}
                     : std::vector<std::string>{ids[4], ids[2]};
    EXPECT_EQ(got, newest) << text;
    window.oldest_first = true;
    rows = store_->QueryIncidents(window);
    ASSERT_TRUE(rows);
    got.clear();
    for (const auto& r : *rows) got.push_back(r.id);
    EXPECT_EQ(got, std::vector<std::string>(newest.rbegin(), newest.rend())) << text;
  }
}

// Through the `local` incident provider (POST /incidents/query?sort=…): the cursors of each
// page continue in the order asked for; newest first is the default; any other order is
// refused.
TEST_P(StoreSearch, TheLocalProviderPagesInTheOrderAsked) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Add("page " + std::to_string(i), ""));
  const std::vector<std::string> newest(ids.rbegin(), ids.rend());
  auto second = OpenStore(url_);
  ASSERT_TRUE(second) << second.error().message;
  EngineOptions options;
  options.paging = false;
  options.paging_threads = false;
  options.retention_interval = std::chrono::minutes(0);
  auto engine = Engine::Open(options, std::move(*second));
  ASSERT_TRUE(engine) << engine.error().message;
  providers::ProviderRegistry registry;
  ASSERT_TRUE(RegisterLocalProviders(registry, [&]() -> Result<Engine*> { return engine->get(); }));
  auto built = registry.Create(providers::Capability::kIncident, kLocalProviderName, {});
  ASSERT_TRUE(built) << built.error().message;
  auto incidents = std::dynamic_pointer_cast<providers::IncidentProvider>(*built);
  ASSERT_NE(incidents, nullptr);
  const auto walk = [&](const std::string& sort, const std::string& text) {
    std::vector<std::string> seen;
    std::string after;
    for (int guard = 0; guard < 10; ++guard) {
      schema::IncidentQuery q;
      q.query = text;
      q.limit = 2;
      auto page = incidents->QueryPage(q, {after, sort});
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      if (page->items) {
        for (const auto& i : *page->items) seen.push_back(i.id);
      }
      if (page->next.empty()) break;
      after = page->next;
    }
    return seen;
  };
  EXPECT_EQ(walk("", ""), newest);
  EXPECT_EQ(walk("newest", "PAGE"), newest);
  EXPECT_EQ(walk("oldest", ""), ids);
  EXPECT_EQ(walk("oldest", "PAGE"), ids);
  EXPECT_EQ(walk("oldest", "pa"), ids);
  for (const std::string sort : {"Oldest", "asc", "newest,oldest"}) {
    auto bad = incidents->QueryPage(schema::IncidentQuery{}, {"", sort});
    ASSERT_FALSE(bad) << sort;
    EXPECT_EQ(bad.error().code, errc::kBadRequest);
    EXPECT_EQ(bad.error().message, "sort: must be newest or oldest");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreSearch, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

// ---- PostgreSQL's search indexes -----------------------------------------------------------

// A role's URL on the test server: OPSORCH_TEST_POSTGRES_URL's user replaced.
std::string AsRole(const std::string& url, const std::string& role) {
  const auto start = url.find("://") + 3;
  const auto at = url.find('@', start);
  const auto slash = url.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) {
    return url.substr(0, start) + role + "@" + url.substr(start);
  }
  return url.substr(0, start) + role + url.substr(at);
}

std::string One(postgres::Connection& c, const std::string& sql) {
  auto r = c.Query(sql);
  EXPECT_TRUE(r) << sql << ": " << r.error().message;
  return r && r->size() > 0 ? r->Text(0, 0) : "";
}

constexpr std::string_view kHaveSearchIndex =
    "SELECT to_regclass('incident_text_trgm') IS NOT NULL";

// Migration 5 copies each incident's status and text (title, a newline, description) into
// incident_text, by triggers, and pg_trgm's index there can answer the store's ILIKE as written
// (escape clause and all): with the walk and the sequential scan ruled out, the plan reads it.
// The copy follows inserts, changes of status, title and description, and deletions; an event's
// repeat (which writes only the incident's state columns) leaves the copy's row as it was.
TEST(PostgresSearch, TheTrigramIndexFollowsTheIncidentsAndServesTheSearch) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  auto store = OpenStore(db->url);
  ASSERT_TRUE(store) << store.error().message;
  auto c = postgres::Connection::Open(db->url);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(One(**c, std::string(kHaveSearchIndex)), "t");
  ASSERT_TRUE((*c)->Exec("SET enable_seqscan = off; SET enable_indexscan = off"));
  auto plan = (*c)->Query(
      "EXPLAIN SELECT seq FROM incident_text t WHERE t.body ILIKE $1 ESCAPE E'\\\\' "
      "ORDER BY seq DESC LIMIT 101",
      postgres::Params().Add("%disk\\_full%"));
  ASSERT_TRUE(plan) << plan.error().message;
  std::string text;
  for (int i = 0; i < plan->size(); ++i) text += plan->Text(i, 0) + "\n";
  EXPECT_THAT(text, HasSubstr("incident_text_trgm"));
  ASSERT_TRUE((*c)->Exec("RESET enable_seqscan; RESET enable_indexscan"));
  // A key's latest resolved incident (a trigger within the reopen window) is found through
  // incidents_key_resolved, which holds resolved incidents only (migration 11): the lookup's
  // conditions imply the index's.
  ASSERT_TRUE((*c)->Exec("SET enable_seqscan = off; SET enable_bitmapscan = off"));
  auto resolved = (*c)->Query(
      "EXPLAIN SELECT seq FROM incidents WHERE service_id=$1 AND dedup_key=$2 AND dedup_key<>'' "
      "AND status='resolved' AND resolved_at>=$3 ORDER BY resolved_at DESC, seq DESC LIMIT 1",
      postgres::Params().Add("svc").Add("k").Add(std::int64_t{1}));
  ASSERT_TRUE(resolved) << resolved.error().message;
  text.clear();
  for (int i = 0; i < resolved->size(); ++i) text += resolved->Text(i, 0) + "\n";
  EXPECT_THAT(text, HasSubstr("incidents_key_resolved"));
  ASSERT_TRUE((*c)->Exec("RESET enable_seqscan; RESET enable_bitmapscan"));

  ASSERT_TRUE(
      (*store)->UpsertService(ServiceRow{"svc-db", "Database", "", "", 900, 7200, {}, kT0}));
  const IntegrationRow integration{"int-1",  "svc-db", "pd", "events_v2",
                                   "hash-1", "abc123", kT0,  0};
  ASSERT_TRUE((*store)->InsertIntegration(integration));
  auto first = ApplyOn(**store, integration, Trigger("k1", "Disk full"), kT0);
  ASSERT_TRUE(first) << first.error().message;
  const std::string copy =
      "SELECT status || '|' || replace(body, E'\\n', '/') || '|' || xmin FROM incident_text "
      "WHERE seq = " +
      std::to_string(SeqOf(first->incident_id, "inc-"));
  const std::string before = One(**c, copy);
  EXPECT_THAT(before, ::testing::StartsWith("open|Disk full/|"));
  ASSERT_TRUE(ApplyOn(**store, integration, Trigger("k1", "Disk full"), kT0 + kSecond));
  EXPECT_EQ(One(**c, copy), before);
  ASSERT_TRUE(
      ApplyOn(**store, integration, Other(EventAction::kAcknowledge, "k1"), kT0 + 2 * kSecond));
  EXPECT_THAT(One(**c, copy), ::testing::StartsWith("acknowledged|Disk full/|"));
  ASSERT_TRUE((*store)->Write([&](Tx& tx) -> Status {
    auto inc = tx.GetIncidentForUpdate(first->incident_id);
    if (!inc || !*inc) return Fail(errc::kNotFound, "incident");
    IncidentRow row = **inc;
    row.description = "on db-1";
    return tx.UpdateIncident(row);
  }));
  EXPECT_THAT(One(**c, copy), ::testing::StartsWith("acknowledged|Disk full/on db-1|"));
  ASSERT_TRUE(ResolveThroughApi(**store, first->incident_id, kT0 + 3 * kSecond));
  EXPECT_THAT(One(**c, copy), ::testing::StartsWith("resolved|Disk full/on db-1|"));
  auto n = (*store)->DeleteExpired(kT0 + 4 * kSecond, 0);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(One(**c, "SELECT count(*) FROM incident_text"), "0");
  store->reset();
  (*c).reset();
  EXPECT_TRUE(DropPostgresTestDatabase(db->name));
}

// A store at schema version 4 (before migrations 5 to 7, which are all that take their objects
// away) with incidents in it finds them by text once upgraded: the migration copies them, and
// the index is built over the copy. Its service gains an empty list of runbooks (migration 6),
// and its incidents' SLA columns count as changed when they were last updated (migration 7).
TEST(PostgresSearch, AStoreAtVersion4FindsItsIncidentsAfterTheUpgrade) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  std::vector<std::string> ids;
  {
    auto store = OpenStore(db->url);
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE(
        (*store)->UpsertService(ServiceRow{"svc-db", "Database", "", "", 900, 7200, {}, kT0}));
    for (const std::string title : {"Disk full on db-1", "Überlast", "CPU high on db-2"}) {
      IncidentRow row;
      row.service_id = "svc-db";
      row.title = title;
      row.description = "runbook " + std::to_string(ids.size());
      row.created_at = row.updated_at = kT0;
      ASSERT_TRUE((*store)->Write([&](Tx& tx) { return tx.InsertIncident(row); }));
      ids.push_back(row.id);
    }
  }
  auto admin = postgres::Connection::Open(db->url);
  ASSERT_TRUE(admin) << admin.error().message;
  ASSERT_TRUE((*admin)->Exec(
      "DROP TRIGGER incident_text_insert ON incidents; DROP TRIGGER incident_text_update ON "
      "incidents; DROP TRIGGER incident_text_delete ON incidents; DROP FUNCTION "
      "opsorch_incident_text(); DROP FUNCTION opsorch_incident_text_inserted(); DROP TABLE "
      "incident_text; ALTER TABLE services DROP COLUMN "
      "runbooks; DROP INDEX incidents_sla_at; ALTER TABLE incidents DROP COLUMN sla_at; "
      "CREATE INDEX incidents_updated ON incidents(updated_at); ALTER TABLE incidents RESET "
      "(fillfactor); DROP INDEX alerts_unlinked_received; CREATE INDEX alerts_received ON "
      "alerts(received_at); ALTER TABLE alerts DROP COLUMN tl_n, DROP COLUMN tl_kind, DROP "
      "COLUMN tl_body, DROP COLUMN tl_actor, DROP COLUMN tl_metadata; DROP FUNCTION "
      "opsorch_check(boolean, text); DELETE FROM schema_migrations WHERE version >= 5"));
  EXPECT_EQ(One(**admin, "SELECT max(version) FROM schema_migrations"), "4");
  {
    auto store = OpenStore(db->url);  // migrates to 12
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(One(**admin, "SELECT max(version) FROM schema_migrations"), "12");
    // Migration 12 (migration 7 set 85, reset above).
    EXPECT_EQ(One(**admin,
                  "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = "
                  "'incidents'::regclass"),
              "fillfactor=50");
    EXPECT_EQ(One(**admin, "SELECT count(*) FROM incidents WHERE sla_at<>updated_at"), "0");
    auto rows = (*store)->SlaRowsUpdatedSince(kT0 - 1);
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->size(), 3u);
    auto services = (*store)->Services();
    ASSERT_TRUE(services) << services.error().message;
    ASSERT_EQ(services->size(), 1u);
    EXPECT_EQ((*services)[0].id, "svc-db");
    EXPECT_TRUE((*services)[0].runbooks.empty());
    EXPECT_EQ(One(**admin, "SELECT count(*) FROM incident_text"), "3");
    EXPECT_EQ(One(**admin, std::string(kHaveSearchIndex)), "t");
    const auto search = [&](const std::string& text) {
      IncidentFilter f;
      f.text = text;
      auto rows = (*store)->QueryIncidents(f);
      EXPECT_TRUE(rows) << rows.error().message;
      std::vector<std::string> found;
      if (rows) {
        for (const auto& r : *rows) found.push_back(r.id);
      }
      return found;
    };
    EXPECT_EQ(search("disk full"), std::vector<std::string>{ids[0]});
    EXPECT_EQ(search("ÜBERLAST"), std::vector<std::string>{ids[1]});
    EXPECT_EQ(search("ON DB-"), (std::vector<std::string>{ids[2], ids[0]}));
    EXPECT_EQ(search("runbook 2"), std::vector<std::string>{ids[2]});
  }
  (*admin).reset();
  EXPECT_TRUE(DropPostgresTestDatabase(db->name));
}

// Migration 12 fills incident pages to half only where migration 7's 85 (or nothing) is set:
// a fillfactor an operator chose survives the upgrade.
TEST(PostgresMigration, AFillfactorAnOperatorChoseSurvivesMigration12) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  auto admin = postgres::Connection::Open(db->url);
  ASSERT_TRUE(admin) << admin.error().message;
  const std::string fillfactor =
      "SELECT coalesce(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = "
      "'incidents'::regclass";
  struct Case {
    std::string before;  // the ALTER TABLE … SET/RESET options before migration 12 runs again
    std::string after;   // reloptions after it
  };
  for (const Case& c : {Case{"SET (fillfactor = 90)", "fillfactor=90"},
                        Case{"SET (fillfactor = 85)", "fillfactor=50"},
                        Case{"RESET (fillfactor)", "fillfactor=50"}}) {
    SCOPED_TRACE(c.before);
    {
      auto store = OpenStore(db->url);
      ASSERT_TRUE(store) << store.error().message;
    }
    ASSERT_TRUE((*admin)->Exec("ALTER TABLE incidents " + c.before +
                               "; DELETE FROM schema_migrations WHERE version = 12"));
    auto store = OpenStore(db->url);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(One(**admin, "SELECT max(version) FROM schema_migrations"), "12");
    EXPECT_EQ(One(**admin, fillfactor), c.after);
  }
  (*admin).reset();
  EXPECT_TRUE(DropPostgresTestDatabase(db->name));
}

// A role that may not create pg_trgm (no CREATE on its database) still gets a working store:
// the migration succeeds without the index, the start logs why, searches scan with the same
// answers; once the right is granted, the next start creates it.
TEST(PostgresSearch, WithoutPgTrgmTheStoreStartsAndSearchesScan) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  const std::string role = "opsorch_t_role_" + std::to_string(::getpid());
  auto admin = postgres::Connection::Open(db->url);
  ASSERT_TRUE(admin) << admin.error().message;
  ASSERT_TRUE((*admin)->Exec("DROP ROLE IF EXISTS " + role + "; CREATE ROLE " + role +
                             " LOGIN; GRANT USAGE, CREATE ON SCHEMA public TO " + role));
  const std::string url = AsRole(db->url, role);
  {
    opsorch::testing::CapturedLogs logs;
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(One(**admin, std::string(kHaveSearchIndex)), "f");
    EXPECT_EQ(logs.Count("incident text search has no index"), 1) << logs.All();
    EXPECT_EQ(logs.Count("permission denied"), 1) << logs.All();
    ASSERT_TRUE(
        (*store)->UpsertService(ServiceRow{"svc-db", "Database", "", "", 900, 7200, {}, kT0}));
    for (const std::string title : {"Disk full on db-1", "Überlast", "disk slow"}) {
      IncidentRow row;
      row.service_id = "svc-db";
      row.title = title;
      row.created_at = row.updated_at = kT0;
      ASSERT_TRUE((*store)->Write([&](Tx& tx) { return tx.InsertIncident(row); }));
    }
    IncidentFilter f;
    f.text = "DISK";
    auto rows = (*store)->QueryIncidents(f);
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ(rows->at(0).title, "disk slow");
    f.text = "überLAST";
    rows = (*store)->QueryIncidents(f);
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->size(), 1u);
  }
  ASSERT_TRUE((*admin)->Exec("GRANT CREATE ON DATABASE " + db->name + " TO " + role));
  {
    opsorch::testing::CapturedLogs logs;
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().message;
    EXPECT_EQ(One(**admin, std::string(kHaveSearchIndex)), "t");
    EXPECT_EQ(logs.Count("incident search index created"), 1) << logs.All();
    EXPECT_EQ(logs.Count("has no index"), 0) << logs.All();
  }
  // Roles belong to the server, not the database: this one goes with what it owns.
  EXPECT_TRUE((*admin)->Exec("DROP OWNED BY " + role + "; DROP ROLE " + role));
  (*admin).reset();
  EXPECT_TRUE(DropPostgresTestDatabase(db->name));
}

TEST_P(StoreBehaviour, CatalogRoundTrips) {
  ASSERT_TRUE(store_->UpsertTeam(TeamRow{"team-a", "Team A", "the A team", ""}));
  ASSERT_TRUE(store_->UpsertMember(MemberRow{"team-a", "ann@x", "Ann", "ann@x", "ann", "lead"}));
  ASSERT_TRUE(store_->UpsertMember(MemberRow{"team-a", "bob@x", "Bob", "bob@x", "bob", ""}));
  ASSERT_TRUE(store_->UpsertMember(MemberRow{"team-a", "bob@x", "Robert", "bob@x", "bob", ""}));
  auto members = store_->Members("team-a");
  ASSERT_TRUE(members);
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[1].name, "Robert");
  ASSERT_TRUE(store_->DeleteMember("team-a", "ann@x"));
  EXPECT_EQ(store_->Members("team-a")->size(), 1u);
  auto found = store_->IntegrationByKeyHash("hash-1");
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->service_id, "svc-db");
  ASSERT_TRUE(store_->RevokeIntegration("int-1", kT0 + 1));
  EXPECT_EQ((*store_->IntegrationByKeyHash("hash-1"))->revoked_at, kT0 + 1);
  EXPECT_FALSE(store_->IntegrationByKeyHash("nope")->has_value());
  EXPECT_FALSE(store_->InsertIntegration(integration_));  // duplicate key hash
}

TEST_P(StoreBehaviour, RetentionDeletesOldResolvedIncidentsOnly) {
  const Outcome old = Apply(Trigger("old"), kT0);
  Apply(Other(EventAction::kResolve, "old"), kT0 + kSecond);
  const Outcome open = Apply(Trigger("open"), kT0);
  const Outcome recent = Apply(Trigger("recent"), kT0 + 100 * kSecond);
  Apply(Other(EventAction::kResolve, "recent"), kT0 + 200 * kSecond);
  auto n = store_->DeleteExpired(kT0 + 100 * kSecond, kT0);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_FALSE(store_->GetIncident(old.incident_id)->has_value());
  EXPECT_TRUE(store_->Timeline(old.incident_id)->empty());
  EXPECT_FALSE(store_->GetAlert(old.alert_id)->has_value());  // both of its alerts went with it
  AlertFilter all;
  auto left = store_->QueryAlerts(all);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->size(), 3u);
  EXPECT_TRUE(store_->GetIncident(open.incident_id)->has_value());
  EXPECT_TRUE(store_->GetIncident(recent.incident_id)->has_value());
  EXPECT_THAT(AlertIdsOf(open.incident_id), ElementsAre(open.alert_id));
  EXPECT_EQ(AlertIdsOf(recent.incident_id).size(), 2u);
}

TEST_P(StoreBehaviour, RetentionDeletesExpiredHeldResolves) {
  const Outcome held = Apply(Other(EventAction::kResolve, "never-triggered"), kT0);
  ASSERT_EQ(held.action, "held");
  // Received before the alert cutoff and its hold long over: gone.
  auto n = store_->DeleteExpired(kT0, kT0 + 3600 * kSecond);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_FALSE(store_->GetAlert(held.alert_id)->has_value());
}

TEST_P(StoreBehaviour, OneOpenIncidentPerKeyIsEnforcedByTheStore) {
  Apply(Trigger("k1"), kT0);
  IncidentRow dup;
  dup.service_id = "svc-db";
  dup.dedup_key = "k1";
  dup.title = "x";
  dup.created_at = dup.updated_at = kT0;
  auto st = store_->Write([&](Tx& tx) { return tx.InsertIncident(dup); });
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, errc::kConflict);
}

TEST_P(StoreBehaviour, MigrateIsIdempotent) {
  EXPECT_TRUE(store_->Migrate());
  EXPECT_TRUE(store_->Migrate());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreBehaviour, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace opsorch::engine
