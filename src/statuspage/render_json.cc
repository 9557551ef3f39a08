// The JSON summary, shaped like Statuspage's /api/v2/summary.json so that existing clients and
// widgets read it; keys in a fixed order, strings through the repo's Go-compatible writer.
#include <opsorch/common/json_writer.h>

#include "statuspage/page.h"

namespace opsorch::statuspage {
namespace {

void Key(std::string& out, std::string_view key) {
  AppendJsonString(out, key);
  out += ':';
}

void Field(std::string& out, std::string_view key, std::string_view value) {
  Key(out, key);
  AppendJsonString(out, value);
}

void TimeField(std::string& out, std::string_view key, std::int64_t ns) {
  Field(out, key, FormatTimeNano(ns));
}

void Percent(std::string& out, const std::optional<std::int64_t>& e4) {
  if (e4) {
    AppendJsonDouble(out, static_cast<double>(*e4) / 10000.0);
  } else {
    out += "null";
  }
}

void Strings(std::string& out, const std::vector<std::string>& values) {
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, values[i]);
  }
  out += ']';
}

// Statuspage's indicator for the overall state.
std::string_view Indicator(ComponentState s) {
  switch (s) {
    case ComponentState::kDegraded:
      return "minor";
    case ComponentState::kPartialOutage:
      return "major";
    case ComponentState::kMajorOutage:
      return "critical";
    case ComponentState::kOperational:
    case ComponentState::kMaintenance:
      break;
  }
  return "none";
}

void WriteIncident(std::string& out, const IncidentView& in) {
  out += '{';
  Field(out, "id", in.id);
  out += ',';
  Field(out, "name", in.title);
  out += ',';
  Field(out, "status", in.status);
  out += ',';
  Field(out, "impact", in.impact);
  out += ',';
  TimeField(out, "created_at", in.started_at);
  out += ',';
  TimeField(out, "updated_at", in.updated_at);
  out += ',';
  Key(out, "resolved_at");
  if (in.resolved_at != 0) {
    AppendJsonString(out, FormatTimeNano(in.resolved_at));
  } else {
    out += "null";
  }
  out += ',';
  Key(out, "components");
  Strings(out, in.component_ids);
  out += ',';
  Key(out, "incident_updates");
  out += '[';
  for (std::size_t i = 0; i < in.updates.size(); ++i) {
    if (i > 0) out += ',';
    out += '{';
    Field(out, "status", in.updates[i].status);
    out += ',';
    Field(out, "body", in.updates[i].body);
    out += ',';
    TimeField(out, "created_at", in.updates[i].at);
    out += '}';
  }
  out += "]}";
}

void WriteIncidents(std::string& out, const std::vector<IncidentView>& incidents) {
  out += '[';
  for (std::size_t i = 0; i < incidents.size(); ++i) {
    if (i > 0) out += ',';
    WriteIncident(out, incidents[i]);
  }
  out += ']';
}

}  // namespace

std::string RenderJson(const Page& page) {
  const PageView v = BuildView(page);
  std::string out;
  out.reserve(16 * 1024);
  out += "{\"page\":{";
  Field(out, "id", v.slug);
  out += ',';
  Field(out, "name", v.name);
  out += ',';
  Field(out, "url", v.url);
  out += ',';
  TimeField(out, "updated_at", v.generated_at);
  out += "},\"status\":{";
  Field(out, "indicator", Indicator(v.overall));
  out += ',';
  Field(out, "description", BannerText(v.overall));
  out += "},\"components\":[";
  for (std::size_t c = 0; c < v.components.size(); ++c) {
    const ComponentView& cv = v.components[c];
    if (c > 0) out += ',';
    out += '{';
    Field(out, "id", cv.id);
    out += ',';
    Field(out, "name", cv.name);
    out += ',';
    Field(out, "description", cv.description);
    out += ',';
    Field(out, "status", WireName(cv.state));
    out += ',';
    Key(out, "uptime_90d");
    Percent(out, cv.uptime_e4);
    out += ",\"days\":[";
    for (std::size_t d = 0; d < cv.days.size(); ++d) {
      if (d > 0) out += ',';
      out += '{';
      Field(out, "date", FormatDate(cv.days[d].bar.day_start));
      out += ',';
      Key(out, "uptime");
      Percent(out, cv.days[d].uptime_e4);
      out += '}';
    }
    out += "]}";
  }
  out += "],\"incidents\":";
  WriteIncidents(out, v.active);
  out += ",\"recent_incidents\":";
  WriteIncidents(out, v.recent);
  out += ",\"scheduled_maintenances\":[";
  for (std::size_t i = 0; i < v.maintenance.size(); ++i) {
    const MaintenanceView& m = v.maintenance[i];
    if (i > 0) out += ',';
    out += '{';
    Field(out, "id", m.id);
    out += ',';
    Field(out, "name", m.title);
    out += ',';
    Field(out, "status", m.in_progress ? "in_progress" : "scheduled");
    out += ',';
    Field(out, "description", m.description);
    out += ',';
    TimeField(out, "scheduled_for", m.starts_at);
    out += ',';
    TimeField(out, "scheduled_until", m.ends_at);
    out += ',';
    Key(out, "components");
    Strings(out, m.component_ids);
    out += '}';
  }
  out += "]}";
  return out;
}

}  // namespace opsorch::statuspage
