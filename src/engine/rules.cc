#include "engine/rules.h"

#include <opsorch/common/error.h>
#include <opsorch/common/strings.h>

namespace opsorch::engine {
namespace {

constexpr std::size_t kBodyExcerpt = 500;

std::string Excerpt(std::string_view s) {
  if (s.size() <= kBodyExcerpt) return std::string(s);
  return std::string(Utf8Prefix(s, kBodyExcerpt)) + "…";
}

TimelineRow Entry(const IncidentRow& inc, std::int64_t at, std::string kind, std::string body,
                  const AlertRow* alert, const Event* e) {
  TimelineRow t;
  t.incident_id = inc.id;
  t.at = at;
  t.kind = std::move(kind);
  t.body = std::move(body);
  if (e != nullptr) {
    t.actor = JsonObject{{"type", "integration"}, {"id", alert ? alert->integration_id : ""}};
    JsonObject meta{{"dedupKey", e->dedup_key}, {"origin", e->origin}};
    // An alert not inserted yet gets its id from InsertAlertWithEntry.
    if (alert != nullptr && !alert->id.empty()) meta["alertId"] = alert->id;
    t.metadata = std::move(meta);
  }
  return t;
}

std::string From(const Event& e) { return e.source.empty() ? e.origin : e.source; }

}  // namespace

AlertRow AlertFor(const IntegrationRow& integration, const Event& e, std::int64_t now) {
  AlertRow a;
  a.service_id = integration.service_id;
  a.integration_id = integration.id;
  a.dedup_key = e.dedup_key;
  a.action = std::string(Name(e.action));
  a.summary = e.summary;
  a.source = e.source;
  if (e.action == EventAction::kTrigger) a.severity = std::string(Name(e.severity));
  a.component = e.component;
  a.group = e.group;
  a.class_name = e.class_name;
  a.custom_details = e.custom_details;
  a.links = e.links;
  a.images = e.images;
  a.client = e.client;
  a.client_url = e.client_url;
  a.event_at = e.timestamp.IsZero() ? now : e.timestamp.UnixNanos();
  a.received_at = now;
  return a;
}

std::string_view UrgencyFor(Severity s) {
  switch (s) {
    case Severity::kCritical:
    case Severity::kError:
      return "high";
    case Severity::kWarning:
    case Severity::kInfo:
      return "low";
  }
  return "high";
}

std::string_view UrgencyFor(std::string_view severity) {
  return SeverityRank(severity) >= SeverityRank("error") ? "high" : "low";
}

int SeverityRank(std::string_view s) {
  if (s == "critical") return 4;
  if (s == "error") return 3;
  if (s == "warning") return 2;
  if (s == "info") return 1;
  return 0;
}

bool IsKnownStatus(std::string_view s) {
  return s == "open" || s == "acknowledged" || s == "resolved";
}

Status CheckTransition(std::string_view from, std::string_view to) {
  if (!IsKnownStatus(to)) {
    return Fail(errc::kBadRequest, "status must be one of open, acknowledged, resolved (got \"" +
                                       std::string(to) + "\")");
  }
  if (from == to) return Ok();
  const bool ok = (from == "open" && (to == "acknowledged" || to == "resolved")) ||
                  (from == "acknowledged" && (to == "open" || to == "resolved")) ||
                  (from == "resolved" && to == "open");
  if (!ok) {
    return Fail(errc::kConflict,
                "cannot change status from " + std::string(from) + " to " + std::string(to));
  }
  return Ok();
}

Result<Outcome> ApplyEvent(Tx& tx, const IntegrationRow& integration, const Event& e,
                           std::int64_t now, const RulesConfig& config,
                           std::optional<IncidentRow>* known_open) {
  const std::string& service = integration.service_id;
  Outcome out;
  out.dedup_key = e.dedup_key;
  AlertRow alert = AlertFor(integration, e, now);

  Result<std::optional<IncidentRow>> open =
      known_open != nullptr ? Result<std::optional<IncidentRow>>(std::move(*known_open))
                            : tx.FindOpenIncident(service, e.dedup_key);
  if (!open) return Fail(std::move(open.error()));

  if (e.action == EventAction::kTrigger) {
    if (*open) {
      IncidentRow inc = std::move(**open);
      alert.incident_id = inc.id;
      inc.alert_count += 1;
      inc.updated_at = now;
      std::string body = "Re-triggered by " + From(e) + ": " + Excerpt(e.summary);
      // A more severe repeat raises the incident's severity (never lowers it).
      std::string raised_from;
      if (SeverityRank(Name(e.severity)) > SeverityRank(inc.severity)) {
        body +=
            " (severity raised from " + inc.severity + " to " + std::string(Name(e.severity)) + ")";
        raised_from = inc.severity;
        inc.severity = std::string(Name(e.severity));
        inc.urgency = std::string(UrgencyFor(e.severity));
      }
      if (auto st = tx.UpdateIncidentState(inc); !st) return Fail(std::move(st.error()));
      TimelineRow t = Entry(inc, now, "deduplicated", std::move(body), &alert, &e);
      // The timeline's default view keeps such an entry apart from the run of repeats.
      if (!raised_from.empty()) {
        t.metadata["severityFrom"] = raised_from;
        t.metadata["severityTo"] = inc.severity;
      }
      if (auto st = tx.InsertAlertWithEntry(alert, t); !st) return Fail(std::move(st.error()));
      out.action = "deduplicated";
      out.incident_id = inc.id;
      out.alert_id = alert.id;
      return out;
    }

    auto held = tx.TakeHeldResolve(service, e.dedup_key, now);
    if (!held) return Fail(std::move(held.error()));

    if (!*held && config.reopen_window_ns > 0) {
      auto resolved = tx.FindResolvedSince(service, e.dedup_key, now - config.reopen_window_ns);
      if (!resolved) return Fail(std::move(resolved.error()));
      if (*resolved) {
        IncidentRow inc = std::move(**resolved);
        inc.status = "open";
        inc.acknowledged_at = 0;
        inc.resolved_at = 0;
        inc.alert_count += 1;
        inc.updated_at = now;
        if (auto st = tx.UpdateIncidentState(inc); !st) return Fail(std::move(st.error()));
        alert.incident_id = inc.id;
        TimelineRow t = Entry(inc, now, "reopened",
                              "Reopened by " + From(e) + ": " + Excerpt(e.summary), &alert, &e);
        if (auto st = tx.InsertAlertWithEntry(alert, t); !st) {
          return Fail(std::move(st.error()));
        }
        out.action = "reopened";
        out.incident_id = inc.id;
        out.alert_id = alert.id;
        return out;
      }
    }

    IncidentRow inc;
    inc.service_id = service;
    inc.dedup_key = e.dedup_key;
    inc.title = e.summary;
    inc.status = *held ? "resolved" : "open";
    inc.severity = std::string(Name(e.severity));
    inc.urgency = std::string(UrgencyFor(e.severity));
    inc.source = e.source;
    inc.created_at = now;
    inc.updated_at = now;
    inc.resolved_at = *held ? now : 0;
    inc.alert_count = *held ? 2 : 1;
    inc.details = e.custom_details;
    if (auto st = tx.InsertIncident(inc); !st) return Fail(std::move(st.error()));
    alert.incident_id = inc.id;
    TimelineRow t = Entry(inc, now, "triggered",
                          "Triggered by " + From(e) + ": " + Excerpt(e.summary), &alert, &e);
    if (auto st = tx.InsertAlertWithEntry(alert, t); !st) return Fail(std::move(st.error()));
    out.incident_id = inc.id;
    out.alert_id = alert.id;
    if (*held) {
      const AlertRow& resolve = **held;
      if (auto st = tx.LinkAlert(resolve.id, inc.id); !st) return Fail(std::move(st.error()));
      TimelineRow r = Entry(inc, now, "resolved",
                            "Resolved by an event from " +
                                (resolve.source.empty() ? e.origin : resolve.source) +
                                " that arrived before its trigger",
                            &resolve, &e);
      if (auto st = tx.AppendTimeline(r); !st) return Fail(std::move(st.error()));
      out.action = "resolved";
    } else {
      out.action = "triggered";
    }
    return out;
  }

  if (!*open) {
    if (e.action == EventAction::kResolve) {
      // A repeat of a resolve that already resolved the key (a sender's retry, two
      // Alertmanagers) must not be held: the next trigger would find it and open its incident
      // already resolved.
      auto recent = tx.FindResolvedSince(service, e.dedup_key, now - config.hold_resolve_ns);
      if (!recent) return Fail(std::move(recent.error()));
      if (*recent) {
        // Kept, unattached, like an acknowledge without an incident.
        if (auto st = tx.InsertAlert(alert); !st) return Fail(std::move(st.error()));
        out.action = "ignored";
        out.alert_id = alert.id;
        out.reason = "the incident of this dedup key (" + (*recent)->id + ") is already resolved";
        return out;
      }
      alert.held_until = now + config.hold_resolve_ns;
      if (auto st = tx.InsertAlert(alert); !st) return Fail(std::move(st.error()));
      out.action = "held";
      out.alert_id = alert.id;
      out.reason = "no open incident for this dedup key; the resolve is held for its trigger";
      return out;
    }
    if (auto st = tx.InsertAlert(alert); !st) return Fail(std::move(st.error()));
    out.action = "ignored";
    out.alert_id = alert.id;
    out.reason = "no open incident for this dedup key";
    return out;
  }

  IncidentRow inc = std::move(**open);
  alert.incident_id = inc.id;
  out.incident_id = inc.id;
  inc.alert_count += 1;
  inc.updated_at = now;
  TimelineRow t;
  if (e.action == EventAction::kAcknowledge) {
    if (inc.status == "open") inc.status = "acknowledged";
    if (inc.acknowledged_at == 0) inc.acknowledged_at = now;
    t = Entry(inc, now, "acknowledged", "Acknowledged by " + From(e), &alert, &e);
    out.action = "acknowledged";
  } else {
    inc.status = "resolved";
    inc.resolved_at = now;
    t = Entry(inc, now, "resolved", "Resolved by " + From(e), &alert, &e);
    out.action = "resolved";
  }
  if (auto st = tx.UpdateIncidentState(inc); !st) return Fail(std::move(st.error()));
  if (auto st = tx.InsertAlertWithEntry(alert, t); !st) return Fail(std::move(st.error()));
  out.alert_id = alert.id;
  return out;
}

}  // namespace opsorch::engine
