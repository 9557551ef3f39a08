#include "engine/suppression.h"

#include <algorithm>

#include <opsorch/common/error.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>

#include "engine/firing_cache.h"
#include "engine/store_schema.h"
#include "engine/vocabulary.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kBatch = 256;
// A paused incident looks again this often, so a window ended early (or deleted) lets its
// incidents page within a minute.
constexpr std::int64_t kResumeRecheckNs = 60 * kNs;

JsonObject ObjectOf(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->get_object() : JsonObject();
}

JsonArray ArrayOf(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? v->get_array() : JsonArray();
}

JsonArray Ids(const std::vector<std::string>& ids) {
  JsonArray a;
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

TimelineRow Entry(std::string_view incident_id, std::int64_t at, std::string kind, std::string body,
                  JsonObject metadata) {
  TimelineRow t;
  t.incident_id = std::string(incident_id);
  t.at = at;
  t.kind = std::move(kind);
  t.body = std::move(body);
  t.actor = JsonObject{{"type", "system"}, {"id", "opsorch"}};
  t.metadata = std::move(metadata);
  return t;
}

// The event a firing row was made from, to open its incident later.
JsonObject EventToJson(const Event& e) {
  return JsonObject{{"summary", e.summary},
                    {"source", e.source},
                    {"severity", Name(e.severity)},
                    {"component", e.component},
                    {"group", e.group},
                    {"class", e.class_name},
                    {"customDetails", e.custom_details},
                    {"links", e.links},
                    {"images", e.images},
                    {"client", e.client},
                    {"clientUrl", e.client_url},
                    {"origin", e.origin}};
}

Event EventFromRow(const LiveRow& row) {
  const JsonObject ev = ObjectOf(row.body, "event");
  Event e;
  e.action = EventAction::kTrigger;
  e.dedup_key = row.id;
  e.summary = StringField(ev, "summary");
  e.source = StringField(ev, "source");
  e.severity = ParseSeverity(StringField(ev, "severity")).value_or(Severity::kError);
  e.component = StringField(ev, "component");
  e.group = StringField(ev, "group");
  e.class_name = StringField(ev, "class");
  e.custom_details = ObjectOf(ev, "customDetails");
  e.links = ArrayOf(ev, "links");
  e.images = ArrayOf(ev, "images");
  e.client = StringField(ev, "client");
  e.client_url = StringField(ev, "clientUrl");
  e.origin = StringField(ev, "origin");
  return e;
}

IntegrationRow IntegrationOf(const LiveRow& row) {
  IntegrationRow i;
  i.id = StringField(row.body, "integration");
  i.service_id = row.parent;
  return i;
}

silence::Labels LabelsOf(const LiveRow& row) {
  silence::Labels out;
  for (const auto& kv : ObjectOf(row.body, "labels")) {
    if (kv.value().is_string()) {
      out.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
    }
  }
  return out;
}

JsonObject LabelsJson(const silence::Labels& labels) {
  JsonObject o;
  for (const auto& [k, v] : labels) o[k] = v;
  return o;
}

// A new firing row for `e`.
LiveRow FiringRow(const IntegrationRow& integration, const Event& e, const silence::Labels& labels,
                  std::int64_t now) {
  LiveRow row;
  row.kind = std::string(kFiringRow);
  row.parent = integration.service_id;
  row.id = e.dedup_key;
  row.updated_at = now;
  row.ends_at = e.push ? e.ends_at : 0;
  row.digest = e.digest;
  row.body = JsonObject{{"labels", LabelsJson(labels)},
                        {"annotations", ObjectOf(e.custom_details, "annotations")},
                        {"startsAt", e.push ? e.starts_at : now},
                        {"generatorURL", StringField(e.custom_details, "generatorURL")},
                        {"integration", integration.id},
                        {"push", e.push},
                        {"event", EventToJson(e)}};
  return row;
}

// Suppressed (silenced_by non-empty) or active; due when its endsAt or first silence ends, and
// a suppressed one at least every minute: a silence expired on another node (this snapshot may
// still hold it) or shortened must not hold the alert back until its original end.
void SetState(LiveRow& row, const std::vector<std::string>& silenced_by, const QuietSnapshot& q,
              std::int64_t now) {
  std::int64_t due = row.ends_at;
  if (!silenced_by.empty()) {
    row.state = "suppressed";
    row.body["silencedBy"] = Ids(silenced_by);
    const std::int64_t silence_end = q.EarliestEnd(silenced_by);
    if (silence_end > 0 && (due == 0 || silence_end < due)) due = silence_end;
    if (due == 0 || due > now + kResumeRecheckNs) due = now + kResumeRecheckNs;
  } else {
    row.state = "active";
    row.body["silencedBy"] = JsonArray();
  }
  row.due_at = due;
}

bool Suppressed(const LiveRow& row) { return row.state == "suppressed"; }

// The push route's view of what fires (firing_cache.h), kept with the rows written here.
void Remember(const QuietEnv& env, const LiveRow& row) {
  if (env.firing == nullptr || row.kind != kFiringRow) return;
  if (row.state == "active" && BoolField(row.body, "push")) {
    env.firing->Put(row.parent, row.id, row.digest);
  } else {
    env.firing->Erase(row.parent, row.id);
  }
}

void Forget(const QuietEnv& env, std::string_view service, std::string_view id) {
  if (env.firing != nullptr) env.firing->Erase(service, id);
}

// A new incident of a paused service: marked, recorded, and looked at again when the pause ends.
Status MarkPaused(Tx& tx, const std::string& incident_id, const Pause& p, std::int64_t now) {
  auto inc = tx.GetIncidentForUpdate(incident_id);
  if (!inc) return Fail(std::move(inc.error()));
  if (!*inc) return Ok();
  IncidentRow row = std::move(**inc);
  row.metadata["paused"] = JsonObject{{"reason", p.reason},
                                      {"by", p.by},
                                      {"until", FormatRfc3339Nano(Time::FromUnixNanos(p.until))}};
  if (auto st = tx.UpdateIncident(row); !st) return st;
  const std::string what =
      p.reason == "maintenance" ? "maintenance window " + p.by : "mute interval " + p.by;
  TimelineRow e = Entry(incident_id, now, "paging_paused",
                        "Nobody is paged: the service is in " + what + " until " +
                            FormatRfc3339Nano(Time::FromUnixNanos(p.until)),
                        JsonObject{{"reason", p.reason}, {"by", p.by}, {"until", p.until}});
  if (auto st = tx.AppendTimeline(e); !st) return st;
  JobRow job;
  job.kind = "resume";
  job.unique_key = "resume." + std::to_string(row.seq);
  job.run_at = std::min(p.until, now + kResumeRecheckNs);
  job.incident_seq = row.seq;
  if (auto st = tx.DeleteJobByKey(job.unique_key); !st) return st;
  return tx.InsertJob(job);
}

Status ArmAutoResolve(Tx& tx, const QuietSnapshot& q, std::string_view service,
                      std::string_view incident_id, std::int64_t now) {
  const auto it = q.services.find(std::string(service));
  if (it == q.services.end() || it->second.auto_resolve_s <= 0) return Ok();
  JobRow job;
  job.kind = "autoresolve";
  job.incident_seq = SeqOf(incident_id, "inc-");
  job.unique_key = "autoresolve." + std::to_string(job.incident_seq);
  job.run_at = now + it->second.auto_resolve_s * kNs;
  job.payload = JsonObject{{"minutes", it->second.auto_resolve_s / 60}};
  if (auto st = tx.DeleteJobByKey(job.unique_key); !st) return st;
  return tx.InsertJob(job);
}

Status PagerHook(Tx& tx, const QuietEnv& env, std::string_view incident_id,
                 std::string_view service, std::string_view change, std::int64_t now,
                 QuietEffects& effects) {
  if (env.pager == nullptr) return Ok();
  PagingCounts c;
  if (auto st = env.pager->OnIncidentChange(tx, incident_id, service, change, now, &c); !st) {
    return st;
  }
  if (effects.counts != nullptr) *effects.counts += c;
  if (change == "triggered" || change == "reopened") effects.paging_work = true;
  return Ok();
}

// What follows the rules' outcome: the pager (unless the service is paused) and the timers.
Status AfterRules(Tx& tx, const Outcome& o, std::string_view service, std::int64_t now,
                  const QuietEnv& env, QuietEffects& effects) {
  const std::string& a = o.action;
  if (a == "triggered" || a == "reopened") {
    if (auto pause = PausedAt(env.quiet, service, now)) {
      if (auto st = MarkPaused(tx, o.incident_id, *pause, now); !st) return st;
    } else if (auto st = PagerHook(tx, env, o.incident_id, service, a, now, effects); !st) {
      return st;
    }
    if (auto st = ArmAutoResolve(tx, env.quiet, service, o.incident_id, now); !st) return st;
    // A new incident starts its service's runbooks, paused or not (a pause holds back pages,
    // not the incident): last, so the hook finds it as paging and the pause left it.
    if (a == "triggered" && env.pager != nullptr) {
      return env.pager->OnIncidentCreated(tx, o.incident_id, service, now);
    }
    return Ok();
  }
  if (a == "acknowledged" || a == "resolved") {
    return PagerHook(tx, env, o.incident_id, service, a, now, effects);
  }
  return Ok();
}

Result<Outcome> ApplyRules(Tx& tx, const IntegrationRow& integration, const Event& e,
                           std::int64_t now, const QuietEnv& env, QuietEffects& effects,
                           std::optional<IncidentRow>* open = nullptr) {
  auto o = ApplyEvent(tx, integration, e, now, env.rules, open);
  if (!o) return o;
  if (auto st = AfterRules(tx, *o, integration.service_id, now, env, effects); !st) {
    return Fail(std::move(st.error()));
  }
  return o;
}

// An alert that no silence holds back any more opens its incident now.
Result<Outcome> Release(Tx& tx, LiveRow& row, std::int64_t now, const QuietEnv& env,
                        QuietEffects& effects) {
  Event e = EventFromRow(row);
  const IntegrationRow integration = IntegrationOf(row);
  auto o = ApplyRules(tx, integration, e, now, env, effects);
  if (!o) return o;
  if (!o->incident_id.empty()) {
    TimelineRow t = Entry(o->incident_id, now, "unsilenced",
                          "No silence holds this alert back any more: it still fires",
                          JsonObject{{"dedupKey", row.id}});
    if (auto st = tx.AppendTimeline(t); !st) return Fail(std::move(st.error()));
  }
  if (!BoolField(row.body, "push")) {
    // Only the Alertmanager API keeps firing rows of active alerts.
    if (auto st = tx.DeleteLive(kFiringRow, row.parent, row.id); !st) {
      return Fail(std::move(st.error()));
    }
    return o;
  }
  row.body["incident"] = o->incident_id;
  SetState(row, {}, env.quiet, now);
  row.updated_at = now;
  if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
  Remember(env, row);
  return o;
}

Outcome Plain(std::string action, const Event& e, std::string alert_id = {},
              std::string reason = {}) {
  Outcome o;
  o.action = std::move(action);
  o.dedup_key = e.dedup_key;
  o.alert_id = std::move(alert_id);
  o.reason = std::move(reason);
  return o;
}

// An event stored as an alert row of no incident (a suppressed alert's trigger or resolve).
Result<std::string> StoreUnlinked(Tx& tx, const IntegrationRow& integration, const Event& e,
                                  std::int64_t now) {
  AlertRow a = AlertFor(integration, e, now);
  if (auto st = tx.InsertAlert(a); !st) return Fail(std::move(st.error()));
  return a.id;
}

// Alertmanager API pushes: one firing row per fingerprint.
Result<Outcome> ApplyPush(Tx& tx, const IntegrationRow& integration, const Event& e,
                          std::int64_t now, const QuietEnv& env, QuietEffects& effects) {
  const std::string& service = integration.service_id;
  const bool resolved = e.action == EventAction::kResolve;
  // The hot path: a push of an alert that fires and whose annotations did not change (what
  // Prometheus sends every minute for every firing alert) moves its endsAt, nothing else.
  if (!resolved) {
    auto refreshed =
        tx.RefreshLive(kFiringRow, service, e.dedup_key, "active", e.digest, e.ends_at, now);
    if (!refreshed) return Fail(std::move(refreshed.error()));
    if (*refreshed) {
      if (env.firing != nullptr && !e.refresh_only) env.firing->Put(service, e.dedup_key, e.digest);
      return Plain("refreshed", e);
    }
    if (e.refresh_only) {
      // The route took it for a firing alert, but it is not (any more): it decodes it in full.
      Forget(env, service, e.dedup_key);
      return Plain("stale", e);
    }
  }
  auto found = tx.GetLive(kFiringRow, service, e.dedup_key);
  if (!found) return Fail(std::move(found.error()));
  if (!*found) {
    if (resolved) {
      // Prometheus sends a resolved alert for 15 minutes: only one with an open incident does
      // anything (nothing is written for the others).
      auto open = tx.FindOpenIncident(service, e.dedup_key);
      if (!open) return Fail(std::move(open.error()));
      if (!*open) return Plain("ignored", e, {}, "no firing alert with this fingerprint");
      return ApplyRules(tx, integration, e, now, env, effects);
    }
    std::vector<std::string> silenced;
    env.quiet.SilencedBy(service, e.labels, now, silenced);
    LiveRow row = FiringRow(integration, e, e.labels, now);
    if (!silenced.empty()) {
      auto id = StoreUnlinked(tx, integration, e, now);
      if (!id) return Fail(std::move(id.error()));
      row.body["alert"] = *id;
      SetState(row, silenced, env.quiet, now);
      if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
      Remember(env, row);
      return Plain("suppressed", e, *id);
    }
    auto o = ApplyRules(tx, integration, e, now, env, effects);
    if (!o) return o;
    row.body["incident"] = o->incident_id;
    row.body["alert"] = o->alert_id;
    SetState(row, {}, env.quiet, now);
    if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
    Remember(env, row);
    return o;
  }

  LiveRow row = std::move(**found);
  if (resolved) {
    if (auto st = tx.DeleteLive(kFiringRow, service, e.dedup_key); !st) {
      return Fail(std::move(st.error()));
    }
    Forget(env, service, e.dedup_key);
    if (Suppressed(row)) {
      auto id = StoreUnlinked(tx, integration, e, now);
      if (!id) return Fail(std::move(id.error()));
      return Plain("resolved", e, *id);
    }
    auto open = tx.FindOpenIncident(service, e.dedup_key);
    if (!open) return Fail(std::move(open.error()));
    if (!*open) return Plain("ignored", e, {}, "the alert's incident is already resolved");
    return ApplyRules(tx, integration, e, now, env, effects);
  }

  // A refresh: Alertmanager's merge (the earliest start, the latest end of this push).
  row.body["startsAt"] = std::min(IntField(row.body, "startsAt"), e.starts_at);
  row.ends_at = e.ends_at;
  row.digest = e.digest;
  row.body["annotations"] = ObjectOf(e.custom_details, "annotations");
  row.body["generatorURL"] = StringField(e.custom_details, "generatorURL");
  row.body["event"] = EventToJson(e);
  row.updated_at = now;
  if (Suppressed(row)) {
    std::vector<std::string> silenced;
    env.quiet.SilencedBy(service, e.labels, now, silenced);
    if (silenced.empty()) return Release(tx, row, now, env, effects);
    SetState(row, silenced, env.quiet, now);
    if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
    Remember(env, row);
    return Plain("suppressed", e);
  }
  // Active: its incident opened once for this firing episode (one resolved by hand stays
  // resolved until the alert resolves and fires again).
  SetState(row, {}, env.quiet, now);
  if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
  Remember(env, row);
  Outcome o = Plain("refreshed", e);
  o.incident_id = StringField(row.body, "incident");
  return o;
}

// Resolves the row's incident when its endsAt passed without a refresh.
Status ExpireFiring(Tx& tx, const LiveRow& row, std::int64_t now, const QuietEnv& env,
                    QuietEffects& effects) {
  if (auto st = tx.DeleteLive(kFiringRow, row.parent, row.id); !st) return st;
  Forget(env, row.parent, row.id);
  if (Suppressed(row)) return Ok();
  auto open = tx.FindOpenIncident(row.parent, row.id);
  if (!open) return Fail(std::move(open.error()));
  if (!*open) return Ok();
  Event e = EventFromRow(row);
  e.action = EventAction::kResolve;
  e.source = "alertmanager";
  e.summary.clear();
  const IntegrationRow integration = IntegrationOf(row);
  auto o = ApplyRules(tx, integration, e, now, env, effects);
  if (!o) return Fail(std::move(o.error()));
  if (!o->incident_id.empty()) {
    TimelineRow t = Entry(o->incident_id, now, "note",
                          "The alert's endsAt passed without a refresh from its sender",
                          JsonObject{{"dedupKey", row.id}});
    if (auto st = tx.AppendTimeline(t); !st) return st;
  }
  return Ok();
}

Status RunFiring(Tx& tx, std::int64_t now, const QuietEnv& env, QuietEffects& effects, bool& full) {
  // The rows' ends_at first: refreshes are logged (Tx::RefreshLive) until folded.
  if (auto st = tx.FoldRefreshes(); !st) return st;
  auto due = tx.DueLive(kFiringRow, now, kBatch);
  if (!due) return Fail(std::move(due.error()));
  if (static_cast<std::int64_t>(due->size()) == kBatch) full = true;
  for (LiveRow& row : *due) {
    if (row.ends_at != 0 && row.ends_at <= now) {
      if (auto st = ExpireFiring(tx, row, now, env, effects); !st) return st;
      continue;
    }
    if (!Suppressed(row)) {
      // Refreshed since it was due (a refresh leaves due_at behind): due at its new end.
      row.due_at = row.ends_at;
      if (auto st = tx.PutLive(row); !st) return st;
      continue;
    }
    // A silence of a suppressed alert ended (or was expired): is it still held back?
    std::vector<std::string> silenced;
    env.quiet.SilencedBy(row.parent, LabelsOf(row), now, silenced);
    if (silenced.empty()) {
      if (auto o = Release(tx, row, now, env, effects); !o) return Fail(std::move(o.error()));
      continue;
    }
    SetState(row, silenced, env.quiet, now);
    if (row.due_at != 0 && row.due_at <= now) row.due_at = now + kResumeRecheckNs;
    row.updated_at = now;
    if (auto st = tx.PutLive(row); !st) return st;
  }
  return Ok();
}

Event HeartbeatEvent(const Heartbeat& hb, EventAction action, std::int64_t last_beat) {
  Event e;
  e.action = action;
  e.dedup_key = "heartbeat:" + hb.id;
  e.origin = "heartbeat";
  e.source = "opsorch heartbeat";
  e.severity = ParseSeverity(hb.severity).value_or(Severity::kCritical);
  const std::string name = hb.name.empty() ? hb.id : hb.name;
  e.summary = action == EventAction::kTrigger ? "Heartbeat monitor '" + name + "' missed its beat"
                                              : "Heartbeat monitor '" + name + "' beats again";
  e.custom_details = JsonObject{
      {"heartbeat", hb.id},
      {"intervalSeconds", hb.interval_s},
      {"graceSeconds", hb.grace_s},
      {"lastBeatAt", last_beat > 0 ? FormatRfc3339Nano(Time::FromUnixNanos(last_beat)) : ""}};
  return e;
}

IntegrationRow HeartbeatIntegration(const Heartbeat& hb) {
  IntegrationRow i;
  i.id = "heartbeat:" + hb.id;
  i.service_id = hb.service_id;
  i.kind = "heartbeat";
  return i;
}

Status RunHeartbeats(Tx& tx, std::int64_t now, const QuietEnv& env, QuietEffects& effects,
                     bool& full) {
  auto due = tx.DueLive(kBeatRow, now, kBatch);
  if (!due) return Fail(std::move(due.error()));
  if (static_cast<std::int64_t>(due->size()) == kBatch) full = true;
  for (LiveRow& row : *due) {
    const auto it = env.quiet.heartbeats.find(row.id);
    if (it == env.quiet.heartbeats.end()) {
      // Not in this node's snapshot: deleted (the route deletes the row too), or made on another
      // node a moment ago and not loaded here yet. Looked at again later, never dropped here.
      row.due_at = now + kResumeRecheckNs;
      if (auto st = tx.PutLive(row); !st) return st;
      continue;
    }
    const Heartbeat& hb = it->second;
    row.body["state"] = "down";
    row.body["downSince"] = now;
    row.due_at = 0;  // the next beat arms it again
    row.updated_at = now;
    if (auto st = tx.PutLive(row); !st) return st;
    Event e = HeartbeatEvent(hb, EventAction::kTrigger, IntField(row.body, "lastBeatAt"));
    auto o = ApplyRules(tx, HeartbeatIntegration(hb), e, now, env, effects);
    if (!o) return Fail(std::move(o.error()));
  }
  return Ok();
}

Status RunResume(Tx& tx, const JobRow& job, std::int64_t now, const QuietEnv& env,
                 QuietEffects& effects) {
  const std::string id = IncidentId(job.incident_seq);
  auto inc = tx.GetIncidentForUpdate(id);
  if (!inc) return Fail(std::move(inc.error()));
  if (!*inc) return Ok();
  IncidentRow row = std::move(**inc);
  if (!row.metadata.if_contains("paused")) return Ok();
  if (row.status == "open") {
    if (auto pause = PausedAt(env.quiet, row.service_id, now)) {
      JobRow again = job;
      again.run_at = std::min(pause->until, now + kResumeRecheckNs);
      return tx.InsertJob(again);
    }
  }
  row.metadata.erase("paused");
  if (auto st = tx.UpdateIncident(row); !st) return st;
  if (row.status != "open") return Ok();  // acknowledged or resolved meanwhile: nobody to page
  TimelineRow e = Entry(id, now, "paging_resumed",
                        "The pause ended and the incident is still "
                        "open: paging starts",
                        JsonObject{});
  if (auto st = tx.AppendTimeline(e); !st) return st;
  return PagerHook(tx, env, id, row.service_id, "triggered", now, effects);
}

Status RunAutoResolve(Tx& tx, const JobRow& job, std::int64_t now, const QuietEnv& env,
                      QuietEffects& effects) {
  const std::string id = IncidentId(job.incident_seq);
  auto inc = tx.GetIncidentForUpdate(id);
  if (!inc) return Fail(std::move(inc.error()));
  if (!*inc || (*inc)->status == "resolved") return Ok();
  IncidentRow row = std::move(**inc);
  const std::string from = StatusLabelOf(row);
  row.status = "resolved";
  row.resolved_at = now;
  row.updated_at = now;
  SetLabels(row, ParseStatusWord("resolved"), std::nullopt);
  if (auto st = tx.UpdateIncident(row); !st) return st;
  const std::int64_t minutes = IntField(job.payload, "minutes");
  TimelineRow e = Entry(id, now, "resolved",
                        "Resolved automatically: unresolved " + std::to_string(minutes) +
                            " minutes after it opened (the service's auto-resolve timeout)",
                        JsonObject{{"from", from}, {"to", "resolved"}, {"minutes", minutes}});
  if (auto st = tx.AppendTimeline(e); !st) return st;
  if (auto st = EndFiringEpisode(tx, env.firing, row); !st) return st;
  return PagerHook(tx, env, id, row.service_id, "resolved", now, effects);
}

}  // namespace

Status EndFiringEpisode(Tx& tx, FiringCache* firing, const IncidentRow& incident) {
  if (incident.dedup_key.empty()) return Ok();
  auto found = tx.GetLive(kFiringRow, incident.service_id, incident.dedup_key);
  if (!found) return Fail(std::move(found.error()));
  if (!*found || StringField((*found)->body, "incident") != incident.id) return Ok();
  if (auto st = tx.DeleteLive(kFiringRow, incident.service_id, incident.dedup_key); !st) {
    return st;
  }
  if (firing != nullptr) firing->Erase(incident.service_id, incident.dedup_key);
  return Ok();
}

Status RecheckService(Tx& tx, std::string_view service, std::string_view silence_id,
                      std::int64_t now);

silence::Labels EventLabels(const Event& e) {
  if (!e.labels.empty()) return e.labels;
  silence::Labels out;
  for (const auto& kv : e.custom_details) {
    if (kv.value().is_string()) {
      out.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
    }
  }
  auto set = [&out](std::string_view name, const std::string& value) {
    if (value.empty()) return;
    for (auto& [k, v] : out) {
      if (k == name) {
        v = value;
        return;
      }
    }
    out.emplace_back(std::string(name), value);
  };
  set("component", e.component);
  set("group", e.group);
  set("class", e.class_name);
  set("source", e.source);
  set("severity", std::string(Name(e.severity)));
  std::sort(out.begin(), out.end());
  return out;
}

Result<Outcome> ApplyQuietly(Tx& tx, const IntegrationRow& integration, const Event& e,
                             std::int64_t now, const QuietEnv& env, QuietEffects& effects) {
  if (e.push) return ApplyPush(tx, integration, e, now, env, effects);
  const std::string& service = integration.service_id;
  auto open = tx.FindOpenIncident(service, e.dedup_key);
  if (!open) return Fail(std::move(open.error()));
  if (*open) return ApplyRules(tx, integration, e, now, env, effects, &*open);

  // No incident: is the key's alert held back by a silence?
  auto found = tx.GetLive(kFiringRow, service, e.dedup_key);
  if (!found) return Fail(std::move(found.error()));
  if (*found) {
    LiveRow row = std::move(**found);
    if (e.action == EventAction::kTrigger) {
      std::vector<std::string> silenced;
      env.quiet.SilencedBy(service, EventLabels(e), now, silenced);
      if (!silenced.empty()) {
        auto id = StoreUnlinked(tx, integration, e, now);
        if (!id) return Fail(std::move(id.error()));
        row.body["event"] = EventToJson(e);
        row.updated_at = now;
        SetState(row, silenced, env.quiet, now);
        if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
        return Plain("suppressed", e, *id);
      }
      if (auto st = tx.DeleteLive(kFiringRow, service, e.dedup_key); !st) {
        return Fail(std::move(st.error()));
      }
      return ApplyRules(tx, integration, e, now, env, effects);
    }
    auto id = StoreUnlinked(tx, integration, e, now);
    if (!id) return Fail(std::move(id.error()));
    if (e.action == EventAction::kResolve) {
      if (auto st = tx.DeleteLive(kFiringRow, service, e.dedup_key); !st) {
        return Fail(std::move(st.error()));
      }
      return Plain("resolved", e, *id);
    }
    return Plain("ignored", e, *id, "the alert is held back by a silence");
  }
  if (e.action == EventAction::kTrigger && env.quiet.index.size() > 0) {
    const silence::Labels labels = EventLabels(e);
    std::vector<std::string> silenced;
    env.quiet.SilencedBy(service, labels, now, silenced);
    if (!silenced.empty()) {
      auto id = StoreUnlinked(tx, integration, e, now);
      if (!id) return Fail(std::move(id.error()));
      LiveRow row = FiringRow(integration, e, labels, now);
      row.body["alert"] = *id;
      SetState(row, silenced, env.quiet, now);
      if (auto st = tx.PutLive(row); !st) return Fail(std::move(st.error()));
      return Plain("suppressed", e, *id);
    }
  }
  return ApplyRules(tx, integration, e, now, env, effects, &*open);
}

Result<bool> RunDue(Tx& tx, std::int64_t now, const QuietEnv& env, const std::vector<JobRow>& jobs,
                    QuietEffects& effects) {
  bool full = false;
  for (const JobRow& job : jobs) {
    Status st = Ok();
    if (job.kind == "resume") {
      st = RunResume(tx, job, now, env, effects);
    } else if (job.kind == "autoresolve") {
      st = RunAutoResolve(tx, job, now, env, effects);
    }
    if (!st) return Fail(std::move(st.error()));
  }
  if (auto st = RunFiring(tx, now, env, effects, full); !st) return Fail(std::move(st.error()));
  if (auto st = RunHeartbeats(tx, now, env, effects, full); !st) {
    return Fail(std::move(st.error()));
  }
  return full;
}

Status Beat(Tx& tx, const Heartbeat& hb, std::int64_t now, const QuietEnv& env,
            QuietEffects& effects) {
  auto found = tx.GetLive(kBeatRow, "", hb.id);
  if (!found) return Fail(std::move(found.error()));
  const bool was_down = *found && StringField((*found)->body, "state") == "down";
  LiveRow row;
  row.kind = std::string(kBeatRow);
  row.id = hb.id;
  row.body = JsonObject{{"state", "up"}, {"lastBeatAt", now}};
  row.due_at = now + (hb.interval_s + hb.grace_s) * kNs;
  row.updated_at = now;
  if (auto st = tx.PutLive(row); !st) return st;
  if (!was_down) return Ok();
  Event e = HeartbeatEvent(hb, EventAction::kResolve, now);
  auto o = ApplyRules(tx, HeartbeatIntegration(hb), e, now, env, effects);
  if (!o) return Fail(std::move(o.error()));
  return Ok();
}

Status ArmHeartbeat(Tx& tx, const Heartbeat& hb, std::int64_t now) {
  auto found = tx.GetLive(kBeatRow, "", hb.id);
  if (!found) return Fail(std::move(found.error()));
  LiveRow row;
  if (*found) {
    row = std::move(**found);
    if (StringField(row.body, "state") == "down") return Ok();  // stays down until a beat
  } else {
    row.kind = std::string(kBeatRow);
    row.id = hb.id;
    row.body = JsonObject{{"state", "up"}, {"lastBeatAt", 0}, {"armedAt", now}};
  }
  std::int64_t from = IntField(row.body, "lastBeatAt");
  if (from == 0) from = IntField(row.body, "armedAt");
  if (from == 0) from = now;
  row.due_at = from + (hb.interval_s + hb.grace_s) * kNs;
  row.updated_at = now;
  return tx.PutLive(row);
}

Status RecheckSuppressed(Tx& tx, const std::vector<std::string>& services,
                         std::string_view silence_id, std::int64_t now) {
  for (const auto& service : services) {
    if (auto st = RecheckService(tx, service, silence_id, now); !st) return st;
  }
  return Ok();
}

Status RecheckService(Tx& tx, std::string_view service, std::string_view silence_id,
                      std::int64_t now) {
  auto rows = tx.LiveOf(kFiringRow, service);
  if (!rows) return Fail(std::move(rows.error()));
  for (LiveRow& row : *rows) {
    if (!Suppressed(row)) continue;
    bool held = false;
    for (const auto& v : ArrayOf(row.body, "silencedBy")) {
      if (v.is_string() && v.get_string() == silence_id) held = true;
    }
    if (!held) continue;
    row.due_at = now;
    if (auto st = tx.PutLive(row); !st) return st;
  }
  return Ok();
}

}  // namespace opsorch::engine
