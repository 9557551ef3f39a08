#include "providers/mock/incident_provider.h"

#include <mutex>

#include <opsorch/common/strings.h>

#include "providers/mock/incident_filter.h"
#include "providers/mock/util.h"

namespace opsorch::providers::mock {
namespace {
constexpr std::string_view kLabel = "mock incident provider";
constexpr int kIdWidth = 3;

JsonObject SystemActor() { return JsonObject{{"type", "system"}, {"id", "opsorch"}}; }
}  // namespace

Result<std::shared_ptr<MockIncidentProvider>> MockIncidentProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, std::string(kLabel));
  auto now = ReadCommonConfig(reader, {kNowKey, "defaultSeverity"});
  if (!now) return Fail(std::move(now.error()));
  auto severity = reader.String("defaultSeverity");
  if (!severity) return Fail(std::move(severity.error()));
  Options options;
  options.now = *now;
  if (severity->has_value()) {
    if (TrimSpace(**severity).empty()) {
      return Fail(
          BadRequest(std::string(kLabel) + ": config \"defaultSeverity\" must not be empty"));
    }
    options.default_severity = std::string(TrimSpace(**severity));
  }
  return std::make_shared<MockIncidentProvider>(std::move(options));
}

MockIncidentProvider::MockIncidentProvider(const Options& options, const MockWorld& world)
    : clock_(options.now), default_severity_(options.default_severity), directory_(world) {
  for (const auto& seed : world.incidents) {
    incidents_.emplace(seed.incident.id, Record{seed.incident, seed.timeline});
    if (auto n = ParseIdNumber(seed.incident.id, "inc-"); n && *n >= next_number_) {
      next_number_ = *n + 1;
    }
  }
}

Result<NullableList<s::Incident>> MockIncidentProvider::Query(const s::IncidentQuery& q) {
  std::vector<s::Incident> out;
  {
    std::shared_lock lock(mu_);
    for (const auto& [id, record] : incidents_) {
      if (MatchesIncidentQuery(record.incident, q, directory_)) out.push_back(record.incident);
    }
  }
  SortNewestFirst(out);
  ApplyLimit(out, q.limit);
  return out;
}

Result<s::Incident> MockIncidentProvider::Get(const std::string& id) {
  std::shared_lock lock(mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return Fail(NotFound("incident", id));
  return it->second.incident;
}

Result<s::Incident> MockIncidentProvider::Create(const s::CreateIncidentInput& in) {
  const std::string title(TrimSpace(in.title));
  if (title.empty()) return Fail(BadRequest("title is required"));
  const Time now = clock_.Now();

  std::unique_lock lock(mu_);
  s::Incident inc;
  inc.id = FormatId("inc-", next_number_++, kIdWidth);
  inc.title = title;
  inc.description = in.description;
  inc.status = in.status.empty() ? "open" : in.status;
  inc.severity = in.severity.empty() ? default_severity_ : in.severity;
  inc.service = in.service;
  inc.url = "https://incidents." + std::string(kDemoDomain) + "/incidents/" + inc.id;
  inc.created_at = now;
  inc.updated_at = now;
  inc.fields = in.fields;
  inc.metadata = in.metadata;
  Record& record = incidents_.emplace(inc.id, Record{inc, {}}).first->second;
  s::TimelineEntry created;
  created.at = now;
  created.kind = "created";
  created.body = "Incident created: " + title;
  created.actor = SystemActor();
  AppendLocked(record, std::move(created));
  return inc;
}

Result<s::Incident> MockIncidentProvider::Update(const std::string& id,
                                                 const s::UpdateIncidentInput& in) {
  if (in.title && TrimSpace(*in.title).empty()) return Fail(BadRequest("title must not be empty"));
  if (in.status && TrimSpace(*in.status).empty()) {
    return Fail(BadRequest("status must not be empty"));
  }
  if (in.severity && TrimSpace(*in.severity).empty()) {
    return Fail(BadRequest("severity must not be empty"));
  }
  const Time now = clock_.Now();

  std::unique_lock lock(mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return Fail(NotFound("incident", id));
  Record& record = it->second;
  s::Incident& inc = record.incident;
  const std::string old_status = inc.status;
  if (in.title) inc.title = std::string(TrimSpace(*in.title));
  if (in.description) inc.description = *in.description;
  if (in.status) inc.status = *in.status;
  if (in.severity) inc.severity = *in.severity;
  if (in.service) inc.service = *in.service;
  MergeInto(inc.fields, in.fields);
  MergeInto(inc.metadata, in.metadata);
  inc.updated_at = now;
  if (inc.status != old_status) {
    s::TimelineEntry change;
    change.at = now;
    change.kind = "status_change";
    change.body = "Status changed from " + old_status + " to " + inc.status;
    change.actor = SystemActor();
    change.metadata = JsonObject{{"from", old_status}, {"to", inc.status}};
    AppendLocked(record, std::move(change));
  }
  return inc;
}

Result<NullableList<s::TimelineEntry>> MockIncidentProvider::GetTimeline(const std::string& id) {
  std::vector<s::TimelineEntry> out;
  {
    std::shared_lock lock(mu_);
    auto it = incidents_.find(id);
    if (it == incidents_.end()) return Fail(NotFound("incident", id));
    out = it->second.timeline;
  }
  // Appended entries may carry an earlier `at`; stable sort keeps insertion order on ties.
  std::stable_sort(
      out.begin(), out.end(),
      [](const s::TimelineEntry& a, const s::TimelineEntry& b) { return a.at < b.at; });
  return out;
}

Status MockIncidentProvider::AppendTimeline(const std::string& id,
                                            const s::TimelineAppendInput& in) {
  const Time now = clock_.Now();
  std::unique_lock lock(mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) return Fail(NotFound("incident", id));
  s::TimelineEntry e;
  e.at = in.at.IsZero() ? now : in.at;
  e.kind = TrimSpace(in.kind).empty() ? "note" : in.kind;
  e.body = in.body;
  e.actor = in.actor;
  e.metadata = in.metadata;
  AppendLocked(it->second, std::move(e));
  it->second.incident.updated_at = now;
  return Ok();
}

void MockIncidentProvider::AppendLocked(Record& record, s::TimelineEntry entry) {
  // Entries are never removed, so size+1 yields unique ids.
  entry.id = record.incident.id + "-t" + std::to_string(record.timeline.size() + 1);
  entry.incident_id = record.incident.id;
  record.timeline.push_back(std::move(entry));
}

}  // namespace opsorch::providers::mock
