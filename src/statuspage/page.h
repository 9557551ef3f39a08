// What the three renderers share: the Page cut to the limits with its text cleaned and the day
// window aligned (BuildView), so that the HTML page, the JSON summary and the feed always show
// the same rows; the one escape; time and label formatting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/statuspage/status_page.h>

namespace opsorch::statuspage {

// Valid UTF-8 (invalid bytes become U+FFFD) holding only characters that XML 1.0 allows, without
// DEL and C1 controls (CRLF and CR become LF), cut to max_chars characters with "…" marking the
// cut. Reads no further into `s` than the cut needs.
std::string CleanText(std::string_view s, std::size_t max_chars);
// The one escape of the HTML page and the feed, for text and quoted attribute values:
// & < > " ' become entities that HTML and XML both read.
void AppendEscaped(std::string& out, std::string_view text);

// Times are clamped to about 1716..2223 so that day arithmetic over a window cannot overflow.
inline constexpr std::int64_t kTimeLimit = 8'000'000'000'000'000'000;
std::int64_t ClampTime(std::int64_t ns);
std::int64_t FloorDiv(std::int64_t a, std::int64_t b);
std::int64_t DayStart(std::int64_t ns);       // the UTC midnight at or before ClampTime(ns)
std::string FormatTime(std::int64_t ns);      // 2026-12-01T14:03:05Z (seconds, UTC)
std::string FormatTimeNano(std::int64_t ns);  // RFC 3339 with nanoseconds, UTC
std::string FormatDate(std::int64_t ns);      // 2026-12-01
// "just now", "5 minutes ago", "in 3 hours", "2 days ago", relative to now.
std::string RelativeTime(std::int64_t at, std::int64_t now);
// "1 h 12 min", "12 min", "42 s".
std::string FormatDuration(std::int64_t ns);

// Uptime as a percentage × 10^4, rounded down (999532 is 99.9532 %); nullopt when nothing was
// observed. Negative and oversized fields are clamped, so garbage bars cannot overflow.
std::optional<std::int64_t> DayUptimeE4(const DayBar& day);
std::optional<std::int64_t> UptimeE4(const std::vector<DayBar>& days);
// 99.95 (two decimals, from the value above).
std::string FormatPercent2(std::int64_t e4);

// Human labels for the incident vocabulary; an unknown value is shown as given.
std::string_view UpdateStatusLabel(std::string_view status);
std::string_view ImpactLabel(std::string_view impact);

struct DayView {
  DayBar bar;
  std::optional<std::int64_t> uptime_e4;
  ComponentState worst = ComponentState::kOperational;  // the worst state with time that day
};

struct ComponentView {
  std::string id, name, description;
  ComponentState state = ComponentState::kOperational;
  std::vector<DayView> days;  // exactly kDays, oldest first
  std::optional<std::int64_t> uptime_e4;
};

struct UpdateView {
  std::int64_t at = 0;
  std::string status, body;
};

struct IncidentView {
  std::string id, title, impact, status;
  std::int64_t started_at = 0, resolved_at = 0;
  std::int64_t updated_at = 0;  // the newest of start, resolution and updates
  std::vector<std::string> component_ids;
  std::vector<std::string> component_names;  // the shown component's name, else the id
  std::vector<UpdateView> updates;           // newest first
  std::size_t updates_hidden = 0;
};

struct MaintenanceView {
  std::string id, title, description;
  std::int64_t starts_at = 0, ends_at = 0;
  bool in_progress = false;
  std::vector<std::string> component_ids;
  std::vector<std::string> component_names;
};

struct PageView {
  std::string slug, name, description;
  std::string url;  // empty unless an http(s) URL
  std::int64_t generated_at = 0;
  ComponentState overall = ComponentState::kOperational;
  std::vector<ComponentView> components;
  std::vector<IncidentView> active, recent;
  std::vector<MaintenanceView> maintenance;  // in progress or upcoming
  std::size_t components_hidden = 0, active_hidden = 0, recent_hidden = 0, maintenance_hidden = 0;
};

PageView BuildView(const Page& page);

}  // namespace opsorch::statuspage
