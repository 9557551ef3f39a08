// The state vocabulary, the overall banner, the cleaned and capped view the renderers share,
// the one escape and the time formatting.
#include "statuspage/page.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>
#include <utility>

#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>

namespace opsorch::statuspage {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one character at s[i] (Unicode's well-formed table: no overlongs, surrogates or values
// above U+10FFFF). An ill-formed sequence yields U+FFFD and consumes its maximal valid prefix.
char32_t DecodeOne(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  char32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    ++i;
    return 0xFFFD;
  }
  std::size_t j = i + 1;
  for (int k = 1; k < len; ++k, ++j) {
    if (j >= s.size()) {
      i = j;
      return 0xFFFD;
    }
    const auto b = static_cast<unsigned char>(s[j]);
    const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) {
      i = j;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i = j;
  return cp;
}

bool Allowed(char32_t cp) {
  if (cp < 0x20) return cp == '\t' || cp == '\n';
  if (cp >= 0x7F && cp <= 0x9F) return false;
  return cp != 0xFFFE && cp != 0xFFFF;
}

std::string Plural(std::int64_t n, std::string_view unit) {
  std::string s = std::to_string(n);
  s += ' ';
  s += unit;
  if (n != 1) s += 's';
  return s;
}

int Rank(ComponentState s) { return static_cast<int>(s); }

ComponentState ImpactState(std::string_view impact) {
  if (impact == "critical") return ComponentState::kMajorOutage;
  if (impact == "major") return ComponentState::kPartialOutage;
  if (impact == "minor") return ComponentState::kDegraded;
  return ComponentState::kOperational;
}

bool IsHttpUrl(std::string_view url) {
  const std::string lower = ToLower(url.substr(0, 8));
  return lower.starts_with("https://") || lower.starts_with("http://");
}

using NameIndex = std::unordered_map<std::string_view, std::string_view>;

void ComponentRefs(const std::vector<std::string>& ids, const NameIndex& names,
                   std::vector<std::string>& out_ids, std::vector<std::string>& out_names) {
  const std::size_t n = std::min(ids.size(), kMaxComponents);
  for (std::size_t i = 0; i < n; ++i) {
    out_ids.push_back(CleanText(ids[i], kMaxTitleChars));
    const auto it = names.find(out_ids.back());
    out_names.push_back(it != names.end() ? std::string(it->second) : out_ids.back());
  }
}

IncidentView ViewOf(const Incident& in, const NameIndex& names) {
  IncidentView v;
  v.id = CleanText(in.id, kMaxTitleChars);
  v.title = CleanText(in.title, kMaxTitleChars);
  v.impact = CleanText(in.impact, kMaxTitleChars);
  v.status = CleanText(in.status, kMaxTitleChars);
  v.started_at = in.started_at;
  v.resolved_at = in.resolved_at;
  v.updated_at = std::max(in.started_at, in.resolved_at);
  ComponentRefs(in.components, names, v.component_ids, v.component_names);
  // Newest first whatever order the engine used; only the newest kMaxUpdates are shown.
  std::vector<const Update*> updates;
  updates.reserve(in.updates.size());
  for (const Update& u : in.updates) {
    updates.push_back(&u);
    v.updated_at = std::max(v.updated_at, u.at);
  }
  const std::size_t shown = std::min(updates.size(), kMaxUpdates);
  std::partial_sort(updates.begin(), updates.begin() + static_cast<std::ptrdiff_t>(shown),
                    updates.end(), [](const Update* a, const Update* b) { return a->at > b->at; });
  for (std::size_t i = 0; i < shown; ++i) {
    v.updates.push_back({updates[i]->at, CleanText(updates[i]->status, kMaxTitleChars),
                         CleanText(updates[i]->body, kMaxBodyChars)});
  }
  v.updates_hidden = updates.size() - shown;
  return v;
}

}  // namespace

std::string_view WireName(ComponentState s) {
  switch (s) {
    case ComponentState::kOperational:
      return "operational";
    case ComponentState::kMaintenance:
      return "under_maintenance";
    case ComponentState::kDegraded:
      return "degraded_performance";
    case ComponentState::kPartialOutage:
      return "partial_outage";
    case ComponentState::kMajorOutage:
      return "major_outage";
  }
  return "operational";
}

std::string_view Label(ComponentState s) {
  switch (s) {
    case ComponentState::kOperational:
      return "Operational";
    case ComponentState::kMaintenance:
      return "Under maintenance";
    case ComponentState::kDegraded:
      return "Degraded performance";
    case ComponentState::kPartialOutage:
      return "Partial outage";
    case ComponentState::kMajorOutage:
      return "Major outage";
  }
  return "Operational";
}

std::string_view BannerText(ComponentState s) {
  return s == ComponentState::kOperational ? "All systems operational" : Label(s);
}

ComponentState Worse(ComponentState a, ComponentState b) { return Rank(a) >= Rank(b) ? a : b; }

ComponentState Overall(const Page& page) {
  ComponentState worst = ComponentState::kOperational;
  for (const Component& c : page.components) worst = Worse(worst, c.state);
  for (const Incident& i : page.active) worst = Worse(worst, ImpactState(i.impact));
  for (const Maintenance& m : page.maintenance) {
    if (m.starts_at <= page.generated_at && page.generated_at < m.ends_at) {
      worst = Worse(worst, ComponentState::kMaintenance);
    }
  }
  return worst;
}

std::string CleanText(std::string_view s, std::size_t max_chars) {
  std::string out;
  out.reserve(std::min(s.size(), max_chars * 4));
  std::size_t chars = 0;
  std::size_t cut = 0;  // the end of the first max_chars - 1 characters
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = DecodeOne(s, i);
    if (cp == '\r') {
      if (i < s.size() && s[i] == '\n') continue;  // CRLF is one newline
      cp = '\n';
    }
    if (!Allowed(cp)) continue;
    if (chars + 1 == max_chars) cut = out.size();
    if (++chars > max_chars) {
      out.resize(cut);
      if (max_chars > 0) out += "…";
      return out;
    }
    AppendUtf8(out, cp);
  }
  return out;
}

void AppendEscaped(std::string& out, std::string_view text) { AppendHtmlEscaped(out, text); }

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t ClampTime(std::int64_t ns) { return std::clamp(ns, -kTimeLimit, kTimeLimit); }

std::int64_t DayStart(std::int64_t ns) {
  return FloorDiv(ClampTime(ns), kNanosPerDay) * kNanosPerDay;
}

std::string FormatTime(std::int64_t ns) {
  Time t = Time::FromUnixNanos(ns);
  t.nanos = 0;
  return FormatRfc3339Nano(t);
}

std::string FormatTimeNano(std::int64_t ns) { return FormatRfc3339Nano(Time::FromUnixNanos(ns)); }

std::string FormatDate(std::int64_t ns) { return FormatTime(ns).substr(0, 10); }

std::string RelativeTime(std::int64_t at, std::int64_t now) {
  const bool future = at > now;
  // Unsigned: the distance between two int64 values may not fit an int64.
  const std::uint64_t d = future ? static_cast<std::uint64_t>(at) - static_cast<std::uint64_t>(now)
                                 : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(at);
  const auto seconds = static_cast<std::int64_t>(d / kNanosPerSecond);
  std::string text;
  if (seconds < 60) return "just now";
  if (seconds < 3600) {
    text = Plural(seconds / 60, "minute");
  } else if (seconds < 86400) {
    text = Plural(seconds / 3600, "hour");
  } else {
    text = Plural(seconds / 86400, "day");
  }
  return future ? "in " + text : text + " ago";
}

std::string FormatDuration(std::int64_t ns) {
  const std::int64_t s = ns / kNanosPerSecond;
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min";
  return std::to_string(s / 3600) + " h " + std::to_string(s / 60 % 60) + " min";
}

std::string FormatPercent2(std::int64_t e4) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%02lld", static_cast<long long>(e4 / 10000),
                static_cast<long long>(e4 / 100 % 100));
  return buf;
}

std::string_view UpdateStatusLabel(std::string_view status) {
  static constexpr std::pair<std::string_view, std::string_view> kLabels[] = {
      {"investigating", "Investigating"},
      {"identified", "Identified"},
      {"monitoring", "Monitoring"},
      {"resolved", "Resolved"},
      {"update", "Update"},
      {"postmortem", "Postmortem"},
      {"scheduled", "Scheduled"},
      {"in_progress", "In progress"},
      {"verifying", "Verifying"},
      {"completed", "Completed"},
  };
  for (const auto& [wire, label] : kLabels) {
    if (status == wire) return label;
  }
  return status;
}

std::string_view ImpactLabel(std::string_view impact) {
  if (impact == "none") return "No impact";
  if (impact == "minor") return "Minor impact";
  if (impact == "major") return "Major impact";
  if (impact == "critical") return "Critical impact";
  return impact;
}

PageView BuildView(const Page& page) {
  PageView v;
  v.slug = CleanText(page.slug, kMaxTitleChars);
  v.name = CleanText(page.name, kMaxTitleChars);
  v.description = CleanText(page.description, kMaxBodyChars);
  // Only an http(s) URL becomes a link: a javascript: or data: URL must not reach a feed reader.
  if (IsHttpUrl(page.url)) v.url = CleanText(page.url, 2000);
  v.generated_at = page.generated_at;
  v.overall = Overall(page);

  // The kDays days that end with generated_at's day; bars are placed by their day, so a short,
  // unordered or oversized list still gives kDays bars.
  const std::int64_t first_day = DayStart(page.generated_at) - (kDays - 1) * kNanosPerDay;
  const std::size_t shown_components = std::min(page.components.size(), kMaxComponents);
  v.components_hidden = page.components.size() - shown_components;
  for (std::size_t c = 0; c < shown_components; ++c) {
    const Component& in = page.components[c];
    ComponentView cv;
    cv.id = CleanText(in.id, kMaxTitleChars);
    cv.name = CleanText(in.name, kMaxTitleChars);
    cv.description = CleanText(in.description, kMaxBodyChars);
    cv.state = in.state;
    std::vector<DayBar> bars(kDays);
    std::vector<bool> set(kDays, false);
    for (int d = 0; d < kDays; ++d) bars[d].day_start = first_day + d * kNanosPerDay;
    for (const DayBar& b : in.days) {
      const std::int64_t index = FloorDiv(DayStart(b.day_start) - first_day, kNanosPerDay);
      if (index < 0 || index >= kDays || set[index]) continue;
      set[index] = true;
      bars[index] = b;
      bars[index].day_start = first_day + index * kNanosPerDay;
    }
    for (const DayBar& b : bars) {
      DayView d{b, DayUptimeE4(b), ComponentState::kOperational};
      if (b.major_outage_ns > 0) {
        d.worst = ComponentState::kMajorOutage;
      } else if (b.partial_outage_ns > 0) {
        d.worst = ComponentState::kPartialOutage;
      } else if (b.degraded_ns > 0) {
        d.worst = ComponentState::kDegraded;
      } else if (b.maintenance_ns > 0) {
        d.worst = ComponentState::kMaintenance;
      }
      cv.days.push_back(d);
    }
    cv.uptime_e4 = UptimeE4(bars);
    v.components.push_back(std::move(cv));
  }

  NameIndex names;
  for (const ComponentView& c : v.components) names.emplace(c.id, c.name);

  const std::size_t active = std::min(page.active.size(), kMaxActiveIncidents);
  v.active_hidden = page.active.size() - active;
  for (std::size_t i = 0; i < active; ++i) v.active.push_back(ViewOf(page.active[i], names));
  const std::size_t recent = std::min(page.recent.size(), kMaxRecentIncidents);
  v.recent_hidden = page.recent.size() - recent;
  for (std::size_t i = 0; i < recent; ++i) v.recent.push_back(ViewOf(page.recent[i], names));

  std::size_t open_windows = 0;
  for (const Maintenance& m : page.maintenance) {
    if (m.ends_at <= page.generated_at) continue;  // over
    if (++open_windows > kMaxMaintenances) continue;
    MaintenanceView mv;
    mv.id = CleanText(m.id, kMaxTitleChars);
    mv.title = CleanText(m.title, kMaxTitleChars);
    mv.description = CleanText(m.description, kMaxBodyChars);
    mv.starts_at = m.starts_at;
    mv.ends_at = m.ends_at;
    mv.in_progress = m.starts_at <= page.generated_at;
    ComponentRefs(m.components, names, mv.component_ids, mv.component_names);
    v.maintenance.push_back(std::move(mv));
  }
  v.maintenance_hidden = open_windows - v.maintenance.size();
  return v;
}

}  // namespace opsorch::statuspage
