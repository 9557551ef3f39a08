// Decoders of the ingestion formats: bytes in, engine Events out, or every field error found.
// Pure functions (no I/O, no clock other than `now`), so they are unit- and fuzz-testable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include <opsorch/common/time.h>
#include <opsorch/engine/event.h>

namespace opsorch::engine {

struct DecodeLimits {
  std::size_t max_body_bytes = 512 * 1024;  // PagerDuty's limit
  std::size_t max_depth = 32;               // JSON nesting
  std::size_t max_dedup_key = 255;          // PagerDuty's limit
  std::size_t max_summary = 1024;           // PagerDuty's limit; longer summaries are refused
  std::size_t max_batch_events = 1000;      // /v2/enqueue/batch
  // Alertmanager webhooks: a notification carries a whole alert group, which may be large, and
  // Alertmanager does not retry a 4xx, so its size is bounded only by this (the server's HTTP
  // body limit), not by a count of alerts.
  std::size_t max_webhook_body_bytes = 1 << 20;
};

template <class T>
using Decoded = tl::expected<T, std::vector<FieldError>>;

// PagerDuty Events API v2 alert event (`POST /v2/enqueue`), exactly as PagerDuty validates it:
// routing_key required; event_action trigger|acknowledge|resolve; dedup_key ≤ 255, required for
// acknowledge/resolve, generated (a UUID) for a trigger without one; on trigger
// payload.summary (≤ 1024), payload.source and payload.severity (critical|error|warning|info)
// required, payload.timestamp ISO 8601 when given; images[].src and links[].href required.
// Unknown fields are ignored (PagerDuty does too). Errors name the field, e.g.
// {"payload.severity", "must be one of critical, error, warning, info"}.
Decoded<Event> DecodePagerDutyEvent(std::string_view body, const DecodeLimits& limits = {});

// The same checks for an already parsed value (one element of a batch).
Decoded<Event> DecodePagerDutyEvent(const JsonValue& value, const DecodeLimits& limits = {});

// opsorch extension `POST /v2/enqueue/batch`: a JSON array of PagerDuty v2 events (≤
// max_batch_events). The outer error is for the array itself (not JSON, not an array, too
// many); each element is decoded on its own, so one bad event does not refuse the others.
Decoded<std::vector<Decoded<Event>>> DecodePagerDutyBatch(std::string_view body,
                                                          const DecodeLimits& limits = {});

// PagerDuty change event (`POST /v2/change/enqueue`): routing_key, payload.summary (≤ 1024) and
// payload.source? (optional), payload.timestamp?, payload.custom_details?, links[].
Decoded<ChangeEvent> DecodePagerDutyChange(std::string_view body, const DecodeLimits& limits = {});

// Alertmanager webhook payload version 4. Every alert becomes one event with the given
// integration key: dedup_key = fingerprint (or, when absent, the first 16 hex digits of the
// SHA-256 of the sorted labels), firing → trigger, resolved → resolve; summary =
// annotations.summary, else annotations.description, else labels.alertname; source =
// labels.instance, else labels.job, else "alertmanager"; severity from labels.severity
// (critical|page → critical, error, warning, info; anything else → warning); timestamp =
// startsAt (endsAt for resolved); custom_details = {labels, annotations, startsAt, endsAt,
// generatorURL, groupKey, receiver, externalURL}; links = [{href: generatorURL, text: "Source"}].
// Any number of alerts, up to max_webhook_body_bytes of payload.
Decoded<std::vector<Event>> DecodeAlertmanager(std::string_view body,
                                               std::string_view integration_key,
                                               const DecodeLimits& limits = {});

// Alertmanager API v2 `POST /api/v2/alerts` (what Prometheus sends): a JSON array of
// postableAlerts {labels, annotations?, startsAt?, endsAt?, generatorURL?}, handled as
// Alertmanager 0.25 does: labels with an empty value are dropped; a missing startsAt is `now`
// (or endsAt when only that is given), a missing endsAt is now + `resolve_timeout_ns` (the alert
// resolves then unless refreshed); an alert needs at least one label, valid label names, and
// endsAt not before startsAt. Each valid alert becomes a trigger (endsAt in the future) or a
// resolve (endsAt ≤ now) with dedup_key = Alertmanager's fingerprint of the labels (FNV-1a 64,
// 16 hex digits: what Alertmanager shows and sends in its webhooks), summary, source and
// severity mapped as for the webhook, custom_details = {labels, annotations, generatorURL} and a
// link to generatorURL. Invalid alerts are reported in `errors`, with their index (Alertmanager
// stores the valid ones and answers 400); the outer error is for the body itself (not JSON, not
// an array, too many alerts).
struct PushDecoded {
  std::vector<Event> events;
  std::vector<FieldError> errors;
};
// `active`, when given, says whether an alert (fingerprint, digest) already fires with that
// digest: such a plainly valid firing alert becomes a refresh-only event (Event::refresh_only:
// dedup_key, digest, starts_at, ends_at; nothing else is decoded). If the engine finds it does
// not fire after all, the caller decodes the push again without `active`.
using ActiveFn = std::function<bool(std::string_view fingerprint, std::int64_t digest)>;
Decoded<PushDecoded> DecodeAlertmanagerPush(std::string_view body, std::string_view integration_key,
                                            std::int64_t now, std::int64_t resolve_timeout_ns,
                                            const DecodeLimits& limits = {},
                                            const ActiveFn* active = nullptr);

// Alertmanager's fingerprint of a label set: FNV-1a 64 over the labels sorted by name, each
// name and value followed by 0xFF, as 16 hex digits.
std::string AlertmanagerFingerprint(const std::vector<std::pair<std::string, std::string>>& labels);

}  // namespace opsorch::engine
