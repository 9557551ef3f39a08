// The incident engine's rules: what an event does to the store. Pure decisions over a Tx, so
// the same code runs on SQLite and PostgreSQL, in batches and alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/engine/event.h>
#include <opsorch/engine/store.h>

namespace opsorch::engine {

struct RulesConfig {
  // A resolve with no open incident waits this long for its trigger (events overtake each
  // other between senders and us); a trigger that finds it creates the incident resolved.
  std::int64_t hold_resolve_ns = 5LL * 60 * 1'000'000'000;
  // A trigger within this long after its key's incident was resolved reopens that incident
  // instead of opening a new one. 0 (the default, as PagerDuty) = always a new incident.
  std::int64_t reopen_window_ns = 0;
};

// What happened to one event, for the sender's response and the logs.
struct Outcome {
  // triggered | deduplicated | acknowledged | resolved | reopened | held | ignored, and (the
  // engine's quiet rules) suppressed | refreshed
  std::string action;
  std::string incident_id;
  std::string alert_id;
  std::string dedup_key;
  std::string reason;  // for held and ignored
};

// PagerDuty's two urgencies, as OpsOrch's PagerDuty adapter maps them: sev1 and sev2 (critical,
// error) page now; sev3 and below (warning, info) are low urgency.
std::string_view UrgencyFor(Severity s);
std::string_view UrgencyFor(std::string_view severity);
int SeverityRank(std::string_view severity);  // critical 4 … info 1, unknown 0

// The alert row an event is stored as (not yet linked to an incident).
AlertRow AlertFor(const IntegrationRow& integration, const Event& event, std::int64_t now);

// Applies `event` (already decoded and authenticated: it belongs to `integration`) at `now`.
// `open`, when given, is what tx.FindOpenIncident(service, dedup key) just returned in this
// transaction (the caller looked already; on PostgreSQL each look is a round trip).
Result<Outcome> ApplyEvent(Tx& tx, const IntegrationRow& integration, const Event& event,
                           std::int64_t now, const RulesConfig& config,
                           std::optional<IncidentRow>* open = nullptr);

// Status changes made through the API: open ⇄ acknowledged, either → resolved, resolved →
// open (reopen). Anything else is a conflict (409) naming both states.
Status CheckTransition(std::string_view from, std::string_view to);
bool IsKnownStatus(std::string_view s);

}  // namespace opsorch::engine
