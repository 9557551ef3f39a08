// The public HTML page: one self-contained document (inline CSS, no script, no external
// resource) so that it can be served under `default-src 'none'; style-src 'unsafe-inline'`.
// Every piece of text, our own labels included, goes through AppendEscaped; only the markup
// literals below are written raw.
#include <algorithm>

#include "statuspage/page.h"

namespace opsorch::statuspage {
namespace {

// State colours come from one custom property per state class (s-<wire name>), so that the
// dark scheme only redefines the palette. Text labels accompany every colour.
constexpr std::string_view kCss =
    ":root{color-scheme:light dark;--bg:#f6f8fa;--fg:#1f2328;--muted:#59636e;--card:#fff;"
    "--line:#d1d9e0;--ok:#1a7f37;--maint:#0969da;--degr:#9a6700;--part:#bc4c00;--major:#cf222e;"
    "--none:#d1d9e0}"
    "@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;"
    "--card:#151b23;--line:#3d444d;--ok:#3fb950;--maint:#4493f8;--degr:#d29922;--part:#db6d28;"
    "--major:#f85149;--none:#3d444d}}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--fg);"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    ".wrap{max-width:56rem;margin:0 auto;padding:1rem}"
    ".skip{position:absolute;left:-999rem}.skip:focus{left:1rem;top:1rem;background:var(--card)}"
    "h1{font-size:1.75rem;margin:1rem 0 .25rem}h2{font-size:1.25rem;margin:2rem 0 .75rem}"
    "h3,h4{font-size:1.05rem;margin:0}"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:1rem;margin:0 0 1rem;list-style:none}"
    ".banner{border-left:.5rem solid var(--c)}.banner h2{margin:0}"
    ".s-operational{--c:var(--ok)}.s-under_maintenance{--c:var(--maint)}"
    ".s-degraded_performance{--c:var(--degr)}.s-partial_outage{--c:var(--part)}"
    ".s-major_outage{--c:var(--major)}.s-none{--c:var(--none)}"
    ".row{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.5rem}"
    ".state{font-weight:600}"
    ".state::before{content:\"\";display:inline-block;width:.7em;height:.7em;"
    "border-radius:50%;background:var(--c);margin-right:.4em}"
    ".components{padding:0;margin:0}"
    ".bars{display:flex;gap:2px;list-style:none;height:2rem;margin:.75rem 0 .25rem;padding:0}"
    ".bars li{flex:1 1 0;min-width:1px;border-radius:1px;background:var(--c)}"
    ".axis{display:flex;justify-content:space-between;gap:.5rem;margin:0;font-size:.8rem}"
    ".d30{display:none}"
    "@media (max-width:40rem){.bars li:nth-child(-n+60),.d90{display:none}.d30{display:inline}}"
    ".updates{list-style:none;padding:0;margin:.5rem 0 0}"
    ".updates li{border-top:1px solid var(--line);padding:.5rem 0}"
    ".updates p{margin:0}"
    ".body{white-space:pre-line;overflow-wrap:anywhere}"
    ".impact-minor{border-left:.5rem solid var(--degr)}"
    ".impact-major{border-left:.5rem solid var(--part)}"
    ".impact-critical{border-left:.5rem solid var(--major)}"
    ".muted{color:var(--muted)}"
    "p{margin:.25rem 0}";

void T(std::string& out, std::string_view text) { AppendEscaped(out, text); }

void TimeTag(std::string& out, std::int64_t ns) {
  const std::string t = FormatTime(ns);
  out += "<time datetime=\"";
  T(out, t);
  out += "\">";
  T(out, t);
  out += "</time>";
}

// A time with its distance from generated_at: 2026-12-01T14:03:05Z (12 minutes ago).
void TimeAndRelative(std::string& out, std::int64_t ns, std::int64_t now) {
  TimeTag(out, ns);
  out += " <span class=\"muted\">(";
  T(out, RelativeTime(ns, now));
  out += ")</span>";
}

void WriteHidden(std::string& out, std::size_t n, std::string_view what) {
  if (n == 0) return;
  out += "<p class=\"muted\">";
  T(out, std::to_string(n) + " " + std::string(what) + " not shown.");
  out += "</p>";
}

void WriteAffected(std::string& out, const std::vector<std::string>& names) {
  if (names.empty()) return;
  out += "<p>Affected: ";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) T(out, ", ");
    T(out, names[i]);
  }
  out += "</p>";
}

std::string_view ImpactClass(std::string_view impact) {
  if (impact == "minor") return "impact-minor";
  if (impact == "major") return "impact-major";
  if (impact == "critical") return "impact-critical";
  return "impact-none";
}

void WriteIncident(std::string& out, const IncidentView& in, std::string_view heading,
                   std::int64_t now) {
  out += "<article class=\"card incident ";
  T(out, ImpactClass(in.impact));
  out += "\" id=\"incident-";
  T(out, in.id);
  out += "\"><";
  out += heading;
  out += '>';
  T(out, in.title);
  out += "</";
  out += heading;
  out += "><p class=\"muted\">";
  if (!in.impact.empty()) {
    T(out, ImpactLabel(in.impact));
    T(out, " · ");
  }
  if (!in.status.empty()) {
    T(out, UpdateStatusLabel(in.status));
    T(out, " · ");
  }
  T(out, "Started ");
  TimeAndRelative(out, in.started_at, now);
  if (in.resolved_at != 0) {
    T(out, " · Resolved ");
    TimeTag(out, in.resolved_at);
  }
  out += "</p>";
  WriteAffected(out, in.component_names);
  if (!in.updates.empty()) {
    out += "<ol class=\"updates\">";
    for (const UpdateView& u : in.updates) {
      out += "<li><p><strong>";
      T(out, UpdateStatusLabel(u.status));
      out += "</strong> · ";
      TimeAndRelative(out, u.at, now);
      out += "</p><p class=\"body\">";
      T(out, u.body);
      out += "</p></li>";
    }
    out += "</ol>";
  }
  WriteHidden(out, in.updates_hidden, "older updates");
  out += "</article>";
}

// "2026-12-01: 99.95% uptime (major outage 1 h 12 min, degraded 5 min)"
std::string BarLabel(const DayView& d) {
  std::string label = FormatDate(d.bar.day_start) + ": ";
  if (!d.uptime_e4) return label + "no data";
  label += FormatPercent2(*d.uptime_e4) + "% uptime";
  std::string detail;
  const auto part = [&](std::int64_t ns, std::string_view what) {
    if (ns <= 0) return;
    if (!detail.empty()) detail += ", ";
    detail += what;
    detail += ' ';
    detail += FormatDuration(ns);
  };
  part(d.bar.major_outage_ns, "major outage");
  part(d.bar.partial_outage_ns, "partial outage");
  part(d.bar.degraded_ns, "degraded");
  part(d.bar.maintenance_ns, "maintenance");
  if (!detail.empty()) label += " (" + detail + ")";
  return label;
}

void WriteComponents(std::string& out, const PageView& v) {
  out += "<section aria-labelledby=\"components-h\"><h2 id=\"components-h\">";
  T(out, "Components");
  out += "</h2>";
  if (v.components.empty()) {
    out += "<p>";
    T(out, "No components.");
    out += "</p>";
  } else {
    out += "<ul class=\"components\">";
  }
  for (const ComponentView& c : v.components) {
    out += "<li class=\"card component s-";
    T(out, WireName(c.state));
    out += "\" id=\"component-";
    T(out, c.id);
    out += "\"><div class=\"row\"><h3>";
    T(out, c.name);
    out += "</h3><span class=\"state\">";
    T(out, Label(c.state));
    out += "</span></div>";
    if (!c.description.empty()) {
      out += "<p class=\"muted\">";
      T(out, c.description);
      out += "</p>";
    }
    out += "<ol class=\"bars\" aria-label=\"";
    T(out, "Daily uptime of " + c.name + ", oldest first");
    out += "\">";
    for (const DayView& d : c.days) {
      const std::string label = BarLabel(d);
      out += "<li class=\"s-";
      T(out, d.uptime_e4 ? WireName(d.worst) : std::string_view("none"));
      out += "\" title=\"";
      T(out, label);
      out += "\" aria-label=\"";
      T(out, label);
      out += "\"></li>";
    }
    out += "</ol><p class=\"axis muted\"><span><span class=\"d90\">";
    T(out, std::to_string(kDays) + " days ago");
    out += "</span><span class=\"d30\">";
    T(out, "30 days ago");
    out += "</span></span><span>";
    T(out, c.uptime_e4 ? FormatPercent2(*c.uptime_e4) + "% uptime" : std::string("No data"));
    out += "</span><span>";
    T(out, "Today");
    out += "</span></p></li>";
  }
  if (!v.components.empty()) out += "</ul>";
  WriteHidden(out, v.components_hidden, "more components");
  out += "</section>";
}

void WriteActive(std::string& out, const PageView& v) {
  if (v.active.empty()) return;
  out += "<section aria-labelledby=\"active-h\"><h2 id=\"active-h\">";
  T(out, "Active incidents");
  out += "</h2>";
  for (const IncidentView& in : v.active) WriteIncident(out, in, "h3", v.generated_at);
  WriteHidden(out, v.active_hidden, "more active incidents");
  out += "</section>";
}

void WriteMaintenance(std::string& out, const PageView& v) {
  if (v.maintenance.empty()) return;
  out += "<section aria-labelledby=\"maintenance-h\"><h2 id=\"maintenance-h\">";
  T(out, "Scheduled maintenance");
  out += "</h2>";
  for (const MaintenanceView& m : v.maintenance) {
    out += "<article class=\"card banner s-under_maintenance\" id=\"maintenance-";
    T(out, m.id);
    out += "\"><h3>";
    T(out, m.title);
    out += "</h3><p class=\"muted\"><span class=\"state\">";
    T(out, m.in_progress ? "In progress" : "Scheduled");
    out += "</span> · ";
    TimeTag(out, m.starts_at);
    T(out, " – ");
    TimeTag(out, m.ends_at);
    out += " <span class=\"muted\">(";
    T(out, m.in_progress ? "ends " + RelativeTime(m.ends_at, v.generated_at)
                         : "starts " + RelativeTime(m.starts_at, v.generated_at));
    out += ")</span></p>";
    if (!m.description.empty()) {
      out += "<p class=\"body\">";
      T(out, m.description);
      out += "</p>";
    }
    WriteAffected(out, m.component_names);
    out += "</article>";
  }
  WriteHidden(out, v.maintenance_hidden, "more maintenance windows");
  out += "</section>";
}

// Grouped by the UTC day each incident started, newest day first.
void WritePast(std::string& out, const PageView& v) {
  out += "<section aria-labelledby=\"past-h\"><h2 id=\"past-h\">";
  T(out, "Past incidents");
  out += "</h2>";
  if (v.recent.empty()) {
    out += "<p>";
    T(out, "No incidents reported.");
    out += "</p>";
  }
  std::vector<const IncidentView*> order;
  for (const IncidentView& in : v.recent) order.push_back(&in);
  std::stable_sort(order.begin(), order.end(), [](const IncidentView* a, const IncidentView* b) {
    return a->started_at > b->started_at;
  });
  std::int64_t day = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::int64_t d = DayStart(order[i]->started_at);
    if (i == 0 || d != day) {
      if (i > 0) out += "</section>";
      day = d;
      const std::string date = FormatDate(d);
      out += "<section class=\"day\" aria-labelledby=\"day-";
      T(out, date);
      out += "\"><h3 id=\"day-";
      T(out, date);
      out += "\"><time datetime=\"";
      T(out, date);
      out += "\">";
      T(out, date);
      out += "</time></h3>";
    }
    WriteIncident(out, *order[i], "h4", v.generated_at);
  }
  if (!order.empty()) out += "</section>";
  WriteHidden(out, v.recent_hidden, "more past incidents");
  out += "</section>";
}

}  // namespace

std::string RenderHtml(const Page& page) {
  const PageView v = BuildView(page);
  std::string out;
  out.reserve(64 * 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">";
  out += "<meta name=\"color-scheme\" content=\"light dark\">";
  out += "<meta name=\"referrer\" content=\"no-referrer\"><title>";
  T(out, v.name.empty() ? std::string("Status") : v.name + " status");
  out += "</title>";
  if (!v.description.empty()) {
    out += "<meta name=\"description\" content=\"";
    T(out, v.description);
    out += "\">";
  }
  out += "<style>";
  out += kCss;
  out += "</style></head>\n<body><a class=\"skip\" href=\"#main\">";
  T(out, "Skip to content");
  out += "</a><header class=\"wrap\"><h1>";
  T(out, v.name.empty() ? std::string("Status") : v.name);
  out += "</h1>";
  if (!v.description.empty()) {
    out += "<p class=\"muted\">";
    T(out, v.description);
    out += "</p>";
  }
  out += "</header>\n<main id=\"main\" class=\"wrap\">";
  out += "<section class=\"card banner s-";
  T(out, WireName(v.overall));
  out += "\" aria-labelledby=\"overall-h\"><h2 id=\"overall-h\" class=\"state\">";
  T(out, BannerText(v.overall));
  out += "</h2><p class=\"muted\">";
  T(out, "Updated ");
  TimeTag(out, v.generated_at);
  out += "</p></section>\n";
  // Statuspage's order: what is happening now above the component list and the history.
  WriteActive(out, v);
  WriteMaintenance(out, v);
  out += '\n';
  WriteComponents(out, v);
  out += '\n';
  WritePast(out, v);
  out += "</main>\n<footer class=\"wrap muted\"><p>";
  T(out, "All times are UTC. Generated ");
  TimeTag(out, v.generated_at);
  out += ".</p></footer></body></html>\n";
  return out;
}

}  // namespace opsorch::statuspage
