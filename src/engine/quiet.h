// Keeping quiet when asked: silences (Alertmanager's), maintenance windows (PagerDuty's) and
// recurring mute intervals (Alertmanager's time_intervals, named by services), plus the
// per-service timers that go with them (auto-resolve).
//
// - A silenced alert is recorded, counted and listed as `suppressed`, but opens no incident and
//   pages nobody; once no silence matches it and it still fires, its incident opens then.
// - During a maintenance window or a mute interval of its service, an incident opens (the
//   timeline and SLA stay honest) but is marked paused and nobody is paged; when the pause ends
//   and it is still open and unacknowledged, its escalation starts.
//
// The decisions are pure functions of a snapshot and the time (QuietSnapshot::SilencedBy,
// PausedAt), tested as tables; the engine applies their effects in its write transactions
// (engine/suppression.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/engine/store.h>
#include <opsorch/silence/silence.h>
#include <opsorch/silence/time_interval.h>

namespace opsorch::engine {

// Catalog document kinds (CatalogDoc::kind).
inline constexpr std::string_view kSilenceDoc = "silence";
inline constexpr std::string_view kMaintenanceDoc = "maintenance";
inline constexpr std::string_view kTimeIntervalDoc = "time_interval";
inline constexpr std::string_view kHeartbeatDoc = "heartbeat";
inline constexpr std::string_view kStatusPageDoc = "status_page";

// A maintenance window (PagerDuty's shape): the services' new incidents page nobody from
// start to end.
struct MaintenanceWindow {
  std::string id;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::string description;
  std::vector<std::string> services;
  std::string created_by;
  std::int64_t updated_at = 0;
};

// A heartbeat monitor: a beat is expected every `interval_s`; `grace_s` later without one, an
// incident opens (dedup key "heartbeat:<id>") and the next beat resolves it.
struct Heartbeat {
  std::string id;
  std::string name;
  std::string service_id;
  std::int64_t interval_s = 0;
  std::int64_t grace_s = 0;
  std::string key_hash;  // SHA-256 hex of the beat key; the key is shown once
  std::string key_prefix;
  std::string severity = "critical";
  std::int64_t updated_at = 0;
};

// Why an incident pages nobody yet, and until when (a window's end; an interval's next end).
struct Pause {
  std::string reason;  // "maintenance" | "mute_interval"
  std::string by;      // the window's id or the interval's name
  std::int64_t until = 0;
};

// What the engine needs of a service here.
struct ServiceQuiet {
  std::vector<std::string> mute_intervals;
  std::int64_t auto_resolve_s = 0;
};

// One immutable view of everything above, swapped whole on a change.
struct QuietSnapshot {
  std::int64_t version = -1;               // the store's catalog version it was loaded at
  std::vector<silence::Silence> silences;  // every stored silence, expired ones too
  silence::SilenceIndex index;             // the ones not expired when loaded
  std::vector<MaintenanceWindow> windows;
  std::unordered_map<std::string, silence::TimeIntervalSet> intervals;  // by name
  std::unordered_map<std::string, ServiceQuiet> services;
  std::unordered_map<std::string, Heartbeat> heartbeats;

  // The silences (ids, sorted) that mute an alert of `service` with `labels` at `now`.
  void SilencedBy(std::string_view service, const silence::Labels& labels, std::int64_t now,
                  std::vector<std::string>& ids) const;
  // When the earliest of `ids` ends (the moment to look at a suppressed alert again).
  std::int64_t EarliestEnd(const std::vector<std::string>& ids) const;
  const silence::Silence* FindSilence(std::string_view id) const;
};

// Whether new incidents of `service` page nobody at `now`: an ongoing maintenance window of the
// service (the one ending last), else a mute interval it names that contains `now`.
std::optional<Pause> PausedAt(const QuietSnapshot& q, std::string_view service, std::int64_t now);

// Codecs of the stored documents (strict: what the API accepted, written by us).
JsonObject SilenceToDoc(const silence::Silence& s);
Result<silence::Silence> SilenceFromDoc(const CatalogDoc& doc);
JsonObject WindowToJson(const MaintenanceWindow& w);  // the API's shape (camelCase, RFC 3339)
Result<MaintenanceWindow> WindowFromJson(const JsonObject& body);
JsonObject HeartbeatToJson(const Heartbeat& h);  // stored form (with key_hash)
Result<Heartbeat> HeartbeatFromJson(const JsonObject& body);

// The loaded snapshot of one node, reloaded after this node's changes and, for other nodes',
// when the catalog version moves (checked at most every second) or every 5 s (services).
class Quiet {
 public:
  // `clock`: the engine's (Unix ns): silences expired before it are left out of the index.
  Quiet(Store& store, std::function<std::int64_t()> clock)
      : store_(store), clock_(std::move(clock)) {}
  std::shared_ptr<const QuietSnapshot> Snapshot() const;
  Status Reload();
  // Reloads when another node changed something (cheap when nothing did).
  void Refresh(std::int64_t steady_now_ms);

 private:
  Store& store_;
  std::function<std::int64_t()> clock_;
  std::mutex reload_mu_;
  mutable std::mutex mu_;
  std::shared_ptr<const QuietSnapshot> snapshot_ = std::make_shared<QuietSnapshot>();
  std::int64_t next_check_ms_ = 0;
  std::int64_t next_full_ms_ = 0;
};

}  // namespace opsorch::engine
