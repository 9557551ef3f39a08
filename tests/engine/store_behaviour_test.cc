// The behaviour suite of the incident engine's store and rules, run against every backend:
// SQLite, and PostgreSQL on the server `make test` starts (see store_fixture.h).
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/engine/store.h>

#include "engine/rules.h"
#include "engine/store_fixture.h"

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
