// Inbound events of the incident engine, after decoding. Every ingestion format (PagerDuty
// Events API v2, Alertmanager webhook) is turned into these, and only these reach the rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/common/time.h>

namespace opsorch::engine {

enum class EventAction { kTrigger, kAcknowledge, kResolve };
enum class Severity { kCritical, kError, kWarning, kInfo };

std::string_view Name(EventAction a);  // "trigger", "acknowledge", "resolve"
std::string_view Name(Severity s);     // "critical", "error", "warning", "info"
std::optional<Severity> ParseSeverity(std::string_view s);  // exact, lower-case (PD v2)

// One alert event. Field names follow PagerDuty Events API v2, which is the richest format.
struct Event {
  EventAction action = EventAction::kTrigger;
  std::string routing_key;  // the integration key the event came with
  std::string dedup_key;    // never empty after decoding (generated for a keyless trigger)
  bool dedup_key_generated = false;
  // payload.* (trigger events; empty for acknowledge/resolve)
  std::string summary;
  std::string source;
  Severity severity = Severity::kError;
  Time timestamp;  // zero when the sender gave none
  std::string component;
  std::string group;
  std::string class_name;  // `class`
  JsonObject custom_details;
  JsonArray links;   // [{href, text?}]
  JsonArray images;  // [{src, href?, alt?}]
  std::string client;
  std::string client_url;
  std::string origin;  // "events_v2", "alertmanager" or "alertmanager_api": its decoder
  // Alertmanager alerts: the labels, sorted by name (what silences match). Other events get
  // theirs from their payload when a silence is consulted (docs/ALERTMANAGER.md, "Labels").
  std::vector<std::pair<std::string, std::string>> labels;
  // Pushed through the Alertmanager API (POST …/api/v2/alerts): it fires until `ends_at`
  // (Unix ns) unless refreshed, and a refresh updates the firing alert instead of adding an
  // alert row. `starts_at` as Alertmanager keeps it.
  bool push = false;
  std::int64_t starts_at = 0;
  std::int64_t ends_at = 0;
  // A push's digest of what a refresh may change (annotations, generatorURL, startsAt): equal
  // digests let a refresh skip rewriting the stored alert.
  std::int64_t digest = 0;
  // A push decoded only as far as a refresh needs (decode.h, DecodeAlertmanagerPush's
  // `active`): nothing but the fields above is set. The engine answers `stale` when the alert
  // turns out not to fire with that digest, and the caller decodes it in full.
  bool refresh_only = false;
};

// A PagerDuty change event (`POST /v2/change/enqueue`): becomes a deployment.
struct ChangeEvent {
  std::string routing_key;
  std::string summary;
  std::string source;
  Time timestamp;
  JsonObject custom_details;
  JsonArray links;
};

// A validation failure: the field (dotted path, e.g. "payload.severity") and the rule it broke.
struct FieldError {
  std::string field;
  std::string message;
};

}  // namespace opsorch::engine
