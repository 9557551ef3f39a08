// A public, read-only status page in the manner of Atlassian Statuspage (and OpsKnight's page),
// rendered from a plain value that the engine fills in: an HTML document, a JSON summary and an
// Atom feed. Pure functions: no I/O and no clock; times are Unix nanoseconds and "now" is
// Page::generated_at, so the same Page always renders the same bytes.
//
// Uptime follows Statuspage: a major outage counts as downtime in full, a partial outage at 30 %,
// degraded performance and maintenance not at all. Per UTC day
//   uptime = 1 − (major_outage_ns + 0.3 × partial_outage_ns) / observed_ns,
// and a day with nothing observed (before the component existed, after now) is "no data": it is
// shown as such and takes no part in the window's uptime, 1 − Σdowntime / Σobserved. Shown
// percentages are rounded down (HTML 2 decimals, JSON 4), so a day with any downtime never reads
// 100 %.
//
// Limits, so that a hostile number or size of rows cannot make a huge page: the renderers show
// the first kMaxComponents components, kMaxActiveIncidents active incidents, kMaxRecentIncidents
// recent incidents, kMaxMaintenances maintenances (in the order given), the newest kMaxUpdates
// updates of an incident, kDays day bars per component and kMaxComponents component ids per
// incident. Text is cut to kMaxTitleChars (names, titles, ids, statuses) or kMaxBodyChars
// (descriptions, update bodies) characters on a character boundary, the cut marked with "…";
// invalid UTF-8 becomes U+FFFD and control characters that XML 1.0 forbids are dropped (tab and
// newline stay). Everything the renderers write from the Page is escaped by one function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opsorch::statuspage {

inline constexpr std::int64_t kNanosPerDay = 86'400'000'000'000;
inline constexpr int kDays = 90;
inline constexpr std::size_t kMaxComponents = 50;
inline constexpr std::size_t kMaxActiveIncidents = 25;
inline constexpr std::size_t kMaxRecentIncidents = 50;
inline constexpr std::size_t kMaxMaintenances = 25;
inline constexpr std::size_t kMaxUpdates = 20;
inline constexpr std::size_t kMaxTitleChars = 200;
inline constexpr std::size_t kMaxBodyChars = 5000;

// Declared from best to worst: where states overlap (intervals, the overall banner) the later
// one wins. Maintenance is planned, so it ranks below any fault.
enum class ComponentState { kOperational, kMaintenance, kDegraded, kPartialOutage, kMajorOutage };

// Statuspage's wire names: "operational", "under_maintenance", "degraded_performance",
// "partial_outage", "major_outage".
std::string_view WireName(ComponentState s);
// "Operational", "Under maintenance", "Degraded performance", "Partial outage", "Major outage".
std::string_view Label(ComponentState s);
// The overall banner: "All systems operational", "Under maintenance", "Degraded performance",
// "Partial outage", "Major outage".
std::string_view BannerText(ComponentState s);
ComponentState Worse(ComponentState a, ComponentState b);

// One UTC day [day_start, day_start + kNanosPerDay). The *_ns fields are the time spent in each
// state (the worst state wins where states overlap); observed_ns is the part of the day that was
// observed (after `since`, before now).
struct DayBar {
  std::int64_t day_start = 0;
  std::int64_t major_outage_ns = 0;
  std::int64_t partial_outage_ns = 0;
  std::int64_t degraded_ns = 0;
  std::int64_t maintenance_ns = 0;
  std::int64_t observed_ns = 0;

  friend bool operator==(const DayBar&, const DayBar&) = default;
};

struct Component {
  std::string id;
  std::string name;
  std::string description;
  ComponentState state = ComponentState::kOperational;
  // One bar per UTC day. The renderers place each bar by its day_start in the kDays days that end
  // with generated_at's day; days without a bar show "no data".
  std::vector<DayBar> days;
};

struct Update {
  std::int64_t at = 0;
  std::string status;  // investigating | identified | monitoring | resolved | update
  std::string body;
};

struct Incident {
  std::string id;
  std::string title;
  std::string impact;  // none | minor | major | critical
  std::string status;  // investigating | identified | monitoring | resolved | postmortem
  std::int64_t started_at = 0;
  std::int64_t resolved_at = 0;         // 0 = ongoing
  std::vector<std::string> components;  // component ids
  std::vector<Update> updates;          // newest first (the renderers sort by `at` anyway)
};

struct Maintenance {
  std::string id;
  std::string title;
  std::string description;
  std::int64_t starts_at = 0;
  std::int64_t ends_at = 0;
  std::vector<std::string> components;  // component ids
};

struct Page {
  std::string slug;
  std::string name;
  std::string description;
  // The page's absolute http(s) URL, for the feed's ids and links; anything else is ignored.
  std::string url;
  std::int64_t generated_at = 0;  // "now" for every relative time and the day window
  std::vector<Component> components;
  std::vector<Incident> active;          // unresolved
  std::vector<Incident> recent;          // resolved; the page groups them by UTC start day
  std::vector<Maintenance> maintenance;  // ended windows are not shown
};

// The banner's state: the worst of the component states, of the active incidents' impact
// (critical → major outage, major → partial outage, minor → degraded, none and unknown → none)
// and, if a maintenance window is in progress at generated_at, maintenance. Over the whole Page,
// not only the rows the renderers show.
ComponentState Overall(const Page& page);

// A component's state over [from, to); to 0 = ongoing (until now).
struct Interval {
  std::int64_t from = 0;
  std::int64_t to = 0;
  ComponentState state = ComponentState::kOperational;
};

// The `days` UTC days ending with now's day (oldest first; days is clamped to 1..3660). Each
// instant takes the worst state of the intervals covering it; intervals are clipped to
// [max(window start, since), now), so a day wholly before `since` (the component's creation) is
// "no data" and today is observed up to now. Observed time under no interval (or an operational
// one) is up.
std::vector<DayBar> DailyBars(const std::vector<Interval>& intervals, std::int64_t now,
                              std::int64_t since, int days = kDays);

// Uptime as a fraction in [0, 1]; nullopt when nothing was observed ("no data").
std::optional<double> DayUptime(const DayBar& day);
std::optional<double> Uptime(const std::vector<DayBar>& days);

// A complete HTML5 document: inline CSS, no script and no external resource (it works under
// `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'`), light and dark.
std::string RenderHtml(const Page& page);
// A Statuspage-like summary: {"page", "status", "components", "incidents", "recent_incidents",
// "scheduled_maintenances"}; times RFC 3339, uptimes as percentages with 4 decimals (or null).
std::string RenderJson(const Page& page);
// An Atom 1.0 feed (RFC 4287): one entry per shown incident, active first, its updates as
// escaped HTML content. Entry ids are Page::url + "#incident-<id>", or a tag: URI without a URL.
std::string RenderAtom(const Page& page);

}  // namespace opsorch::statuspage
