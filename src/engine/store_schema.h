// What the SQLite and PostgreSQL stores share: the id formats and the column lists of the
// tables (both backends use the same names).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <opsorch/common/json.h>

namespace opsorch::engine {

inline std::string IncidentId(std::int64_t seq) { return "inc-" + std::to_string(seq); }
inline std::string AlertId(std::int64_t seq) { return "al-" + std::to_string(seq); }

// "inc-42" → 42; anything else → 0 (no such row).
inline std::int64_t SeqOf(std::string_view id, std::string_view prefix) {
  if (!id.starts_with(prefix)) return 0;
  id.remove_prefix(prefix.size());
  if (id.empty() || id.size() > 18) return 0;
  std::int64_t n = 0;
  for (char c : id) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

// A list of names kept as a JSON array column (services.mute_intervals, services.runbooks).
inline JsonArray StringsToJson(const std::vector<std::string>& items) {
  JsonArray a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}
inline std::vector<std::string> JsonToStrings(const JsonArray& a) {
  std::vector<std::string> out;
  for (const auto& v : a) {
    if (v.is_string()) out.emplace_back(v.get_string());
  }
  return out;
}

// Live rows read through their unfolded refreshes (Tx::RefreshLive): the latest refresh of a
// row wins unless the row was written since.
template <class Row>
void ApplyRefreshes(std::vector<Row>& rows, const std::vector<Row>& refreshes) {
  if (refreshes.empty()) return;
  std::unordered_map<std::string, const Row*> latest;
  latest.reserve(refreshes.size());
  for (const Row& r : refreshes) latest[r.parent + '\n' + r.id] = &r;
  for (Row& row : rows) {
    const auto it = latest.find(row.parent + '\n' + row.id);
    if (it == latest.end() || it->second->updated_at < row.updated_at) continue;
    row.ends_at = it->second->ends_at;
    row.updated_at = it->second->updated_at;
  }
}

inline constexpr std::string_view kIncidentColumns =
    "seq, service_id, dedup_key, title, description, status, urgency, severity, source, "
    "created_at, acknowledged_at, resolved_at, updated_at, alert_count, details, fields, metadata";

// The event path's lookups: everything but the free-form JSON columns (see Tx).
inline constexpr std::string_view kIncidentStateColumns =
    "seq, service_id, dedup_key, title, description, status, urgency, severity, source, "
    "created_at, acknowledged_at, resolved_at, updated_at, alert_count";

inline constexpr std::string_view kAlertColumns =
    "seq, incident_seq, service_id, integration_id, dedup_key, action, summary, source, "
    "severity, component, grp, class, custom_details, links, images, client, client_url, "
    "event_at, received_at, held_until";

}  // namespace opsorch::engine
