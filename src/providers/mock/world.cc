#include "providers/mock/world.h"

#include <algorithm>
#include <map>

#include <opsorch/common/strings.h>
#include <opsorch/demo/demo_world.h>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {
namespace {

using demo::Email;

Time MinutesAgo(Time now, std::int64_t minutes) { return now.Add(-minutes * kNanosPerMinute); }

// "user:<local>" → {"type":"user","id":"<email>","name":…}; "system:x" →
// {"type":"system","id":"x"}.
JsonObject Actor(std::string_view spec, const std::map<std::string, std::string>& names) {
  const auto colon = spec.find(':');
  const std::string type(spec.substr(0, colon));
  const std::string rest(spec.substr(colon + 1));
  JsonObject actor;
  actor["type"] = type;
  if (type == "user") {
    const std::string email = Email(rest);
    actor["id"] = email;
    if (auto it = names.find(email); it != names.end()) actor["name"] = it->second;
  } else {
    actor["id"] = rest;
  }
  return actor;
}

// A run step's actor: "user:<local>" is that person's e-mail, anything else as written.
std::string StepActor(const std::string& spec) {
  return spec.starts_with("user:") ? Email(spec.substr(5)) : spec;
}

JsonArray StringArray(const std::vector<std::string>& items) {
  JsonArray a;
  for (const auto& i : items) a.emplace_back(i);
  return a;
}

}  // namespace

MockWorld BuildWorld(Time now) {
  const JsonObject& data = demo::World();
  const std::string domain = DataString(data, "domain");
  MockWorld w;
  w.now = now;

  // Teams and their members.
  std::map<std::string, std::string> names;  // email → display name
  ForEachDataRow(data, "teams", [&](const JsonObject& row) {
    TeamSeed seed;
    const std::string id = DataString(row, "id");
    const std::string parent = DataString(row, "parent");
    seed.team.id = id;
    seed.team.name = DataString(row, "name");
    seed.team.parent = parent;
    seed.team.url = "https://teams." + domain + "/" + id;
    seed.team.tags = {{"timezone", DataString(row, "timezone")},
                      {"slack", "#" + id},
                      {"kind", parent.empty() ? "org" : "team"}};
    seed.team.metadata["description"] = DataString(row, "description");
    ForEachDataRow(row, "members", [&](const JsonObject& mr) {
      s::TeamMember m;
      m.id = Email(DataString(mr, "id"));
      m.name = DataString(mr, "name");
      m.email = m.id;
      m.handle = DataString(mr, "handle");
      m.role = DataString(mr, "role");
      m.metadata["team"] = id;
      names[m.id] = m.name;
      seed.members.push_back(std::move(m));
    });
    seed.team.metadata["memberCount"] = static_cast<std::int64_t>(seed.members.size());
    for (const auto& m : seed.members) {
      if (m.role == "lead") seed.team.metadata["lead"] = m.id;
      if (m.role == "oncall" && !seed.team.metadata.contains("oncall")) {
        seed.team.metadata["oncall"] = m.id;
      }
    }
    w.teams.push_back(std::move(seed));
  });

  // Services.
  ForEachDataRow(data, "services", [&](const JsonObject& row) {
    ServiceSeed seed;
    const std::string id = DataString(row, "id");
    seed.service.id = id;
    seed.service.name =
        id.substr(std::min<std::size_t>(4, id.size()));  // "svc-checkout" → "checkout"
    seed.service.url = "https://services." + domain + "/" + id;
    seed.team = DataString(row, "team");
    seed.environment = "prod";
    seed.region = DataString(row, "region");
    seed.service.tags = {{"team", seed.team},
                         {"tier", DataString(row, "tier")},
                         {"environment", seed.environment},
                         {"language", DataString(row, "language")}};
    seed.service.metadata["displayName"] = DataString(row, "displayName");
    seed.service.metadata["description"] = DataString(row, "description");
    seed.service.metadata["region"] = seed.region;
    seed.service.metadata["repository"] = "https://github.com/opsorch-demo/" + seed.service.name;
    seed.service.metadata["dependencies"] = StringArray(DataStrings(row, "dependencies"));
    w.services.push_back(std::move(seed));
  });
  const auto service_region = [&](std::string_view id) -> std::string {
    for (const auto& sv : w.services) {
      if (sv.service.id == id) return sv.region;
    }
    return {};
  };
  const auto service_team = [&](std::string_view id) -> std::string {
    for (const auto& sv : w.services) {
      if (sv.service.id == id) return sv.team;
    }
    return {};
  };

  // Alerts first, so incidents can list the alerts that reference them.
  std::map<std::string, std::vector<std::string>> alerts_by_incident;
  ForEachDataRow(data, "alerts", [&](const JsonObject& row) {
    s::Alert a;
    a.id = DataString(row, "id");
    a.title = DataString(row, "title");
    a.service = DataString(row, "service");
    const std::string rule = DataString(row, "rule");
    const std::string incident = DataString(row, "incident");
    a.description = rule + " on " + a.service + " (prod, " + service_region(a.service) + ")" +
                    (incident.empty() ? "" : ". Linked to " + incident) + ".";
    a.status = DataString(row, "status");
    a.severity = DataString(row, "severity");
    a.url = "https://alerts." + domain + "/alerts/" + a.id;
    a.created_at = MinutesAgo(now, DataInt(row, "createdMinutesAgo"));
    a.updated_at = MinutesAgo(now, DataInt(row, "updatedMinutesAgo"));
    a.fields["rule"] = rule;
    a.fields["environment"] = "prod";
    a.fields["region"] = service_region(a.service);
    a.fields["source"] = "prometheus";
    if (!incident.empty()) {
      a.fields["incidentId"] = incident;
      alerts_by_incident[incident].push_back(a.id);
    }
    a.metadata["fingerprint"] = Hex(Hash64(a.id), 16);
    a.metadata["labels"] = JsonObject{{"alertname", rule},
                                      {"service", a.service},
                                      {"severity", a.severity},
                                      {"team", service_team(a.service)}};
    w.alerts.push_back(std::move(a));
  });

  // Tickets, so incidents can list theirs.
  std::map<std::string, std::vector<std::string>> tickets_by_incident;
  ForEachDataRow(data, "tickets", [&](const JsonObject& row) {
    s::Ticket t;
    t.id = DataString(row, "id");
    t.key = t.id;
    t.title = DataString(row, "title");
    t.description = DataString(row, "description");
    t.status = DataString(row, "status");
    for (const auto& a : DataStrings(row, "assignees")) t.assignees.push_back(Email(a));
    t.reporter = Email(DataString(row, "reporter"));
    t.url = "https://tickets." + domain + "/browse/" + t.id;
    t.created_at = MinutesAgo(now, DataInt(row, "createdMinutesAgo"));
    t.updated_at = MinutesAgo(now, DataInt(row, "updatedMinutesAgo"));
    const std::string incident = DataString(row, "incident");
    t.fields["incidentId"] = incident;
    t.fields["service"] = DataString(row, "service");
    t.fields["type"] = DataString(row, "type");
    t.metadata["project"] = "OPS";
    tickets_by_incident[incident].push_back(t.id);
    w.tickets.push_back(std::move(t));
  });

  // Incidents and timelines.
  std::map<std::string, Time> degraded_since;  // service → oldest unresolved incident
  ForEachDataRow(data, "incidents", [&](const JsonObject& row) {
    IncidentSeed seed;
    s::Incident& inc = seed.incident;
    inc.id = DataString(row, "id");
    inc.title = DataString(row, "title");
    inc.description = DataString(row, "description");
    inc.status = DataString(row, "status");
    inc.severity = DataString(row, "severity");
    inc.service = DataString(row, "service");
    inc.url = "https://incidents." + domain + "/incidents/" + inc.id;
    inc.created_at = MinutesAgo(now, DataInt(row, "createdMinutesAgo"));
    inc.updated_at = inc.created_at;
    inc.fields["impact"] = DataString(row, "impact");
    const JsonValue* facing = row.if_contains("customerFacing");
    inc.fields["customerFacing"] = facing != nullptr && facing->is_bool() && facing->get_bool();
    inc.fields["environment"] = "prod";
    inc.fields["region"] = service_region(inc.service);
    inc.metadata["commander"] = Email(DataString(row, "commander"));
    inc.metadata["slackChannel"] = "#" + inc.id;
    inc.metadata["alertIds"] = StringArray(alerts_by_incident[inc.id]);
    inc.metadata["ticketIds"] = StringArray(tickets_by_incident[inc.id]);
    int n = 0;
    ForEachDataRow(row, "timeline", [&](const JsonObject& tr) {
      s::TimelineEntry e;
      e.id = inc.id + "-t" + std::to_string(++n);
      e.incident_id = inc.id;
      e.at = inc.created_at.Add(DataInt(tr, "at") * kNanosPerMinute);
      e.kind = DataString(tr, "kind");
      e.body = DataString(tr, "body");
      e.actor = Actor(DataString(tr, "actor"), names);
      if (e.at > inc.updated_at) inc.updated_at = e.at;
      seed.timeline.push_back(std::move(e));
    });
    if (inc.status != "resolved") {
      auto [it, inserted] = degraded_since.emplace(inc.service, inc.created_at);
      if (!inserted && inc.created_at < it->second) it->second = inc.created_at;
    }
    w.incidents.push_back(std::move(seed));
  });
  for (auto& sv : w.services) {
    if (auto it = degraded_since.find(sv.service.id); it != degraded_since.end()) {
      sv.degraded_since = it->second;
    }
  }

  // Deployments.
  ForEachDataRow(data, "deployments", [&](const JsonObject& row) {
    s::Deployment d;
    d.id = DataString(row, "id");
    d.service = DataString(row, "service");
    d.environment = DataString(row, "environment");
    d.version = DataString(row, "version");
    d.status = DataString(row, "status");
    d.started_at = MinutesAgo(now, DataInt(row, "startedMinutesAgo"));
    if (row.contains("finishedMinutesAgo")) {
      d.finished_at = MinutesAgo(now, DataInt(row, "finishedMinutesAgo"));
    }
    d.url = "https://deploy." + domain + "/deployments/" + d.id;
    d.actor = Actor(DataString(row, "actor"), names);
    d.fields["commit"] = Hex(Hash64(d.id + d.version), 7);
    d.fields["pipeline"] =
        d.service.substr(std::min<std::size_t>(4, d.service.size())) + "-release";
    d.fields["description"] = DataString(row, "note");
    if (auto incident = DataString(row, "incident"); !incident.empty())
      d.fields["incidentId"] = incident;
    if (auto of = DataString(row, "rollbackOf"); !of.empty()) d.fields["rollbackOf"] = of;
    d.metadata["team"] = service_team(d.service);
    w.deployments.push_back(std::move(d));
  });

  // Orchestration plans.
  ForEachDataRow(data, "plans", [&](const JsonObject& row) {
    s::OrchestrationPlan p;
    p.id = DataString(row, "id");
    p.title = DataString(row, "title");
    p.description = DataString(row, "description");
    p.url = "https://orchestration." + domain + "/plans/" + p.id;
    p.version = DataString(row, "version");
    if (const JsonValue* tags = row.if_contains("tags"); tags != nullptr && tags->is_object()) {
      for (const auto& kv : tags->get_object()) {
        if (kv.value().is_string()) p.tags[kv.key()] = std::string(kv.value().get_string());
      }
    }
    p.fields["estimatedMinutes"] = DataInt(row, "estimatedMinutes");
    p.steps.emplace();
    ForEachDataRow(row, "steps", [&](const JsonObject& sr) {
      s::OrchestrationStep step;
      step.id = DataString(sr, "id");
      step.title = DataString(sr, "title");
      step.type = DataString(sr, "type");
      step.description = DataString(sr, "description");
      step.depends_on = DataStrings(sr, "dependsOn");
      p.steps->push_back(std::move(step));
    });
    w.plans.push_back(std::move(p));
  });

  // Orchestration runs: step times are seconds after the run was created.
  ForEachDataRow(data, "runs", [&](const JsonObject& row) {
    s::OrchestrationRun r;
    r.id = DataString(row, "id");
    r.plan_id = DataString(row, "plan");
    if (auto plan = std::find_if(w.plans.begin(), w.plans.end(),
                                 [&](const s::OrchestrationPlan& p) { return p.id == r.plan_id; });
        plan != w.plans.end()) {
      r.plan = *plan;
    }
    r.status = DataString(row, "status");
    if (const JsonValue* scope = row.if_contains("scope"); scope != nullptr && scope->is_object()) {
      r.scope = {DataString(scope->get_object(), "service"),
                 DataString(scope->get_object(), "team"),
                 DataString(scope->get_object(), "environment")};
    }
    r.created_at = MinutesAgo(now, DataInt(row, "createdMinutesAgo"));
    r.updated_at = r.created_at;
    const auto at = [&](const JsonObject& st, std::string_view key) -> std::optional<Time> {
      if (!st.contains(key)) return std::nullopt;
      return r.created_at.Add(DataInt(st, key) * kNanosPerSecond);
    };
    r.steps.emplace();
    ForEachDataRow(row, "steps", [&](const JsonObject& sr) {
      s::OrchestrationStepState st;
      st.step_id = DataString(sr, "step");
      st.status = DataString(sr, "status");
      st.actor = StepActor(DataString(sr, "actor"));
      st.note = DataString(sr, "note");
      st.started_at = at(sr, "startedAt");
      st.finished_at = at(sr, "finishedAt");
      st.updated_at = at(sr, "updatedAt");
      if (st.updated_at && *st.updated_at > r.updated_at) r.updated_at = *st.updated_at;
      r.steps->push_back(std::move(st));
    });
    if (const JsonValue* fields = row.if_contains("fields");
        fields != nullptr && fields->is_object()) {
      r.fields = fields->get_object();
    }
    r.metadata["startedBy"] = Email(DataString(row, "startedBy"));
    r.url = "https://orchestration." + domain + "/runs/" + r.id;
    w.runs.push_back(std::move(r));
  });
  return w;
}

ServiceDirectory::ServiceDirectory(const MockWorld& world) : services_(world.services) {
  for (std::size_t i = 0; i < services_.size(); ++i) {
    by_key_.emplace(ToLower(services_[i].service.id), i);
    by_key_.emplace(ToLower(services_[i].service.name), i);
  }
}

const ServiceSeed* ServiceDirectory::Find(std::string_view id_or_name) const {
  auto it = by_key_.find(ToLower(id_or_name));
  return it == by_key_.end() ? nullptr : &services_[it->second];
}

bool ServiceDirectory::ServiceMatches(std::string_view item_service,
                                      std::string_view wanted) const {
  if (EqualsIgnoreCase(item_service, wanted)) return true;
  const ServiceSeed* a = Find(item_service);
  return a != nullptr && a == Find(wanted);
}

std::string ServiceDirectory::TeamOf(std::string_view service) const {
  const ServiceSeed* sv = Find(service);
  return sv == nullptr ? std::string() : sv->team;
}

std::string ServiceDirectory::EnvironmentOf(std::string_view service) const {
  const ServiceSeed* sv = Find(service);
  return sv == nullptr ? std::string() : sv->environment;
}

bool ServiceDirectory::ScopeMatches(const s::QueryScope& scope, std::string_view service,
                                    std::string_view environment, std::string_view team) const {
  if (!scope.service.empty() && (service.empty() || !ServiceMatches(service, scope.service))) {
    return false;
  }
  if (!scope.team.empty()) {
    const std::string owner = team.empty() ? TeamOf(service) : std::string(team);
    if (!EqualsIgnoreCase(owner, scope.team)) return false;
  }
  if (!scope.environment.empty()) {
    const std::string env = environment.empty() ? EnvironmentOf(service) : std::string(environment);
    if (!EqualsIgnoreCase(env, scope.environment)) return false;
  }
  return true;
}

}  // namespace opsorch::providers::mock
