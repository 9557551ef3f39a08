#include <algorithm>
#include <charconv>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/routes.h>
#include <opsorch/engine/sla.h>
#include <opsorch/providers/interfaces.h>

#include "engine/admin_util.h"
#include "engine/pager.h"
#include "engine/quiet.h"
#include "engine/service_fields.h"

namespace opsorch::engine {
namespace {

using namespace admin;  // NOLINT: the shared admin helpers
using api::Call;
using api::JsonReply;
using api::Outcome;  // not engine::Outcome (rules)
using api::Reply;
using http::Method;

constexpr std::int64_t kSecond = 1'000'000'000;

void AppendService(std::string& out, const ServiceRow& s) {
  out.append("{\"id\":");
  AppendJsonString(out, s.id);
  out.append(",\"name\":");
  AppendJsonString(out, s.name);
  out.append(",\"description\":");
  AppendJsonString(out, s.description);
  out.append(",\"team\":");
  AppendJsonString(out, s.team_id);
  out.append(",\"ackTargetMinutes\":" + std::to_string(s.ack_target_s / 60));
  out.append(",\"resolveTargetMinutes\":" + std::to_string(s.resolve_target_s / 60));
  out.append(",\"tags\":");
  AppendJsonObject(out, s.tags);
  out.append(",\"escalationPolicy\":");
  AppendJsonString(out, s.escalation_policy);
  out.append(",\"ackTimeoutMinutes\":" + std::to_string(s.ack_timeout_s / 60));
  out.append(",\"autoResolveMinutes\":" + std::to_string(s.auto_resolve_s / 60));
  out.append(",\"muteIntervals\":[");
  for (std::size_t i = 0; i < s.mute_intervals.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, s.mute_intervals[i]);
  }
  out.append("],\"runbooks\":[");
  for (std::size_t i = 0; i < s.runbooks.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, s.runbooks[i]);
  }
  out.append("]}");
}

void AppendTeam(std::string& out, const TeamRow& t) {
  out.append("{\"id\":");
  AppendJsonString(out, t.id);
  out.append(",\"name\":");
  AppendJsonString(out, t.name);
  out.append(",\"description\":");
  AppendJsonString(out, t.description);
  out.append(",\"parent\":");
  AppendJsonString(out, t.parent);
  out.push_back('}');
}

void AppendMember(std::string& out, const MemberRow& m) {
  out.append("{\"id\":");
  AppendJsonString(out, m.id);
  out.append(",\"name\":");
  AppendJsonString(out, m.name);
  out.append(",\"email\":");
  AppendJsonString(out, m.email);
  out.append(",\"handle\":");
  AppendJsonString(out, m.handle);
  out.append(",\"role\":");
  AppendJsonString(out, m.role);
  out.push_back('}');
}

// Never the key: only its first characters, to tell keys apart.
void AppendIntegration(std::string& out, const IntegrationRow& i) {
  out.append("{\"id\":");
  AppendJsonString(out, i.id);
  out.append(",\"service\":");
  AppendJsonString(out, i.service_id);
  out.append(",\"name\":");
  AppendJsonString(out, i.name);
  out.append(",\"kind\":");
  AppendJsonString(out, i.kind);
  out.append(",\"keyPrefix\":");
  AppendJsonString(out, i.key_prefix);
  out.append(",\"createdAt\":\"");
  AppendRfc3339Nano(out, Time::FromUnixNanos(i.created_at));
  out.append("\",\"revoked\":");
  out.append(i.revoked_at != 0 ? "true" : "false");
  out.push_back('}');
}

// ---- services ---------------------------------------------------------------------------------

Outcome ListServices(Engine& engine, const Call& call) {
  auto all = engine.store().Services();
  if (!all) return Fail(all.error());
  return PagedList(
      std::move(*all), call, [](const ServiceRow& r) { return r.id; }, AppendService);
}

// One row of a list by id, or not_found naming it.
template <class Row, class Append>
Outcome OneById(Result<std::vector<Row>> all, std::string_view what, std::string_view id,
                Append append) {
  if (!all) return Fail(all.error());
  for (const auto& row : *all) {
    if (row.id == id) {
      std::string out;
      append(out, row);
      return JsonReply(std::move(out));
    }
  }
  return Fail(errc::kNotFound, std::string(what) + " " + std::string(id) + " not found");
}

Outcome GetService(Engine& engine, const Call& call) {
  return OneById(engine.store().Services(), "service", call.params[0], AppendService);
}

Outcome GetTeam(Engine& engine, const Call& call) {
  return OneById(engine.store().Teams(), "team", call.params[0], AppendTeam);
}

Outcome PutService(Engine& engine, const Call& call) {
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"name", "description", "team", "ackTargetMinutes", "resolveTargetMinutes", "tags",
               "escalationPolicy", "ackTimeoutMinutes", "autoResolveMinutes", "muteIntervals",
               "runbooks"});
  ServiceRow row;
  row.id = std::string(call.params[0]);
  row.name = r.Str("name", true);
  row.description = r.Str("description");
  row.team_id = r.Str("team");
  row.ack_target_s = r.PositiveInt("ackTargetMinutes", 15) * 60;
  row.resolve_target_s = r.PositiveInt("resolveTargetMinutes", 120) * 60;
  row.tags = r.StringMap("tags");
  row.escalation_policy = r.Str("escalationPolicy");
  if (const JsonValue* v = body->if_contains("ackTimeoutMinutes"); v != nullptr && !v->is_null()) {
    if (!v->is_int64() || v->get_int64() < 0 || v->get_int64() > 7 * 24 * 60) {
      r.Error("ackTimeoutMinutes", "must be an integer from 0 (off) to 10080");
    } else {
      row.ack_timeout_s = v->get_int64() * 60;
    }
  }
  if (const JsonValue* v = body->if_contains("autoResolveMinutes"); v != nullptr && !v->is_null()) {
    if (!v->is_int64() || v->get_int64() < 0 || v->get_int64() > 30 * 24 * 60) {
      r.Error("autoResolveMinutes", "must be an integer from 0 (off) to 43200");
    } else {
      row.auto_resolve_s = v->get_int64() * 60;
    }
  }
  if (const JsonArray* names = r.Array("muteIntervals")) {
    if (names->size() > 16) r.Error("muteIntervals", "at most 16 names");
    for (const auto& n : *names) {
      if (!n.is_string() || !ValidId(std::string_view(n.get_string()))) {
        r.Error("muteIntervals", "must be time interval ids");
        break;
      }
      row.mute_intervals.emplace_back(n.get_string());
    }
    if (st && engine.quiet() != nullptr) {
      const auto q = engine.quiet()->Snapshot();
      for (const auto& n : row.mute_intervals) {
        if (q->intervals.find(n) == q->intervals.end()) {
          r.Error("muteIntervals", "unknown time interval \"" + n + "\"");
          break;
        }
      }
    }
  }
  // Not checked against the runbooks that exist: they are the orchestration provider's, and
  // its hook decides what an unknown one means when an incident starts it.
  row.runbooks = ReadRunbooks(r);
  row.created_at = Time::Now().UnixNanos();
  if (st && !row.escalation_policy.empty()) {
    Pager* pager = engine.pager();
    if (pager == nullptr) {
      r.Error("escalationPolicy", "paging is not available with this store");
    } else if (pager->Catalog()->FindPolicy(row.escalation_policy) == nullptr) {
      r.Error("escalationPolicy", "unknown escalation policy \"" + row.escalation_policy + "\"");
    }
  }
  if (!st) return Fail(st.error());
  if (auto w = engine.store().UpsertService(row); !w) return Fail(w.error());
  if (Pager* pager = engine.pager()) {
    if (auto re = pager->ReloadCatalog(); !re) return Fail(re.error());
  }
  if (Quiet* quiet = engine.quiet()) {
    if (auto re = quiet->Reload(); !re) return Fail(re.error());
  }
  std::string out;
  AppendService(out, row);
  return JsonReply(std::move(out));
}

Outcome DeleteService(Engine& engine, const Call& call) {
  const std::string id(call.params[0]);
  auto integrations = engine.store().Integrations(id);
  if (!integrations) return Fail(integrations.error());
  for (const auto& i : *integrations) {
    if (i.revoked_at == 0) {
      return Fail(errc::kConflict, "service " + id + " has active integrations; revoke them first");
    }
  }
  if (auto w = engine.store().DeleteService(id); !w) return Fail(w.error());
  return NoContent();
}

// ---- integrations -----------------------------------------------------------------------------

Outcome ListIntegrations(Engine& engine, const Call& call) {
  auto all = engine.store().Integrations(std::string(call.params[0]));
  if (!all) return Fail(all.error());
  return PagedList(
      std::move(*all), call, [](const IntegrationRow& r) { return r.id; }, AppendIntegration);
}

Outcome CreateIntegration(Engine& engine, const Call& call) {
  const std::string service(call.params[0]);
  auto services = engine.store().Services();
  if (!services) return Fail(services.error());
  if (std::none_of(services->begin(), services->end(),
                   [&](const ServiceRow& s) { return s.id == service; })) {
    return Fail(errc::kNotFound, "service " + service + " not found");
  }
  auto body = call.request.body.empty() ? Result<JsonObject>(JsonObject()) : BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"name", "kind"});
  IntegrationRow row;
  row.service_id = service;
  row.name = r.Str("name");
  row.kind = r.Str("kind");
  if (row.kind.empty()) row.kind = "events_v2";
  if (st && row.kind != "events_v2" && row.kind != "alertmanager") {
    r.Error("kind", "must be events_v2 or alertmanager");
  }
  if (!st) return Fail(st.error());
  const std::string key = Engine::NewKey();
  row.id = "int-" + Engine::NewKey().substr(0, 12);
  row.key_hash = Engine::HashKey(key);
  row.key_prefix = key.substr(0, 6);
  row.created_at = Time::Now().UnixNanos();
  if (auto w = engine.store().InsertIntegration(row); !w) return Fail(w.error());
  // The key is returned once, here; only its hash is stored.
  std::string out;
  AppendIntegration(out, row);
  out.pop_back();
  out.append(",\"key\":");
  AppendJsonString(out, key);
  out.push_back('}');
  return JsonReply(std::move(out), 201);
}

Outcome RevokeIntegration(Engine& engine, const Call& call) {
  if (auto w =
          engine.store().RevokeIntegration(std::string(call.params[0]), Time::Now().UnixNanos());
      !w) {
    return Fail(w.error());
  }
  engine.ForgetKeys();
  return NoContent();
}

// ---- teams and members ------------------------------------------------------------------------

Outcome ListTeams(Engine& engine, const Call& call) {
  auto all = engine.store().Teams();
  if (!all) return Fail(all.error());
  return PagedList(
      std::move(*all), call, [](const TeamRow& r) { return r.id; }, AppendTeam);
}

Outcome PutTeam(Engine& engine, const Call& call) {
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"name", "description", "parent"});
  TeamRow row{std::string(call.params[0]), r.Str("name", true), r.Str("description"),
              r.Str("parent")};
  if (!st) return Fail(st.error());
  if (auto w = engine.store().UpsertTeam(row); !w) return Fail(w.error());
  std::string out;
  AppendTeam(out, row);
  return JsonReply(std::move(out));
}

Outcome DeleteTeam(Engine& engine, const Call& call) {
  if (auto w = engine.store().DeleteTeam(std::string(call.params[0])); !w) return Fail(w.error());
  return NoContent();
}

Outcome ListMembers(Engine& engine, const Call& call) {
  auto all = engine.store().Members(std::string(call.params[0]));
  if (!all) return Fail(all.error());
  return PagedList(
      std::move(*all), call, [](const MemberRow& r) { return r.id; }, AppendMember);
}

Outcome PutMember(Engine& engine, const Call& call) {
  const std::string team(call.params[0]), id(call.params[1]);
  auto teams = engine.store().Teams();
  if (!teams) return Fail(teams.error());
  if (std::none_of(teams->begin(), teams->end(), [&](const TeamRow& t) { return t.id == team; })) {
    return Fail(errc::kNotFound, "team " + team + " not found");
  }
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"name", "email", "handle", "role"});
  MemberRow row{team, id, r.Str("name"), r.Str("email"), r.Str("handle"), r.Str("role")};
  if (!st) return Fail(st.error());
  if (auto w = engine.store().UpsertMember(row); !w) return Fail(w.error());
  std::string out;
  AppendMember(out, row);
  return JsonReply(std::move(out));
}

Outcome DeleteMember(Engine& engine, const Call& call) {
  if (auto w =
          engine.store().DeleteMember(std::string(call.params[0]), std::string(call.params[1]));
      !w) {
    return Fail(w.error());
  }
  return NoContent();
}

Outcome RunRetention(Engine& engine, const Call&) {
  auto n = engine.RunRetention();
  if (!n) return Fail(n.error());
  return JsonReply("{\"deletedIncidents\":" + std::to_string(*n) + "}");
}

// ---- SLA analytics ----------------------------------------------------------------------------

Outcome Sla(Engine& engine, const Call& call) {
  const std::int64_t now = Time::Now().UnixNanos();
  SlaQuery q;
  q.end = now;
  q.start = now - 7 * 86400 * kSecond;
  for (auto [name, out] : {std::pair<std::string_view, std::int64_t*>{"start", &q.start},
                           std::pair<std::string_view, std::int64_t*>{"end", &q.end}}) {
    const std::string v = call.Query(name);
    if (v.empty()) continue;
    auto t = ParseRfc3339(v);
    if (!t) {
      return Fail(errc::kBadRequest,
                  std::string(name) + ": must be an RFC 3339 time (" + t.error().message + ")");
    }
    auto ns = t->UnixNanosChecked();
    if (!ns)
      return Fail(errc::kBadRequest, std::string(name) + ": " + std::string(Time::kNanosRange));
    *out = *ns;
  }
  if (q.start >= q.end) return Fail(errc::kBadRequest, "start must be before end");
  q.service = call.Query("service");
  q.team = call.Query("team");
  auto report = engine.Sla(q);
  if (!report) return Fail(report.error());
  if (call.request.Header("Accept").find("text/csv") != std::string_view::npos) {
    Reply r{200, SlaCsv(*report)};
    r.content_type = "text/csv; charset=utf-8";
    return r;
  }
  return JsonReply(SlaJson(*report));
}

Outcome IncidentCounts(Engine& engine, const Call& call) {
  SlaQuery q;
  q.service = call.Query("service");
  q.team = call.Query("team");
  auto c = engine.StateCounts(q);
  if (!c) return Fail(c.error());
  std::string out = "{\"triggered\":" + std::to_string(c->triggered) +
                    ",\"acknowledged\":" + std::to_string(c->acknowledged) +
                    ",\"resolved\":" + std::to_string(c->resolved) + ",\"openByUrgency\":{";
  static constexpr std::string_view kUrgencies[] = {"high", "medium", "low", "other"};
  for (std::size_t i = 0; i < 4; ++i) {
    out += (i > 0 ? ",\"" : "\"") + std::string(kUrgencies[i]) +
           "\":" + std::to_string(c->open_by_urgency[i]);
  }
  return JsonReply(out + "}}");
}

}  // namespace

api::RouteTable AdminRoutes(const EngineRoutesContext& ctx) {
  const auto row = [&](Method m, std::string_view pattern, std::string_view audit, EngineFn fn,
                       std::string_view summary, std::string_view request_type,
                       std::string_view response_type, int status = 200) {
    return AdminRow(ctx.engine, m, pattern, audit, fn, summary, request_type, response_type,
                    status);
  };
  api::RouteTable t = {
      row(Method::kGet, "/admin/services", "", &ListServices, "Services and SLA targets (paged)",
          "", "AdminServices"),
      row(Method::kGet, "/admin/services/{id}", "", &GetService, "A service", "", "AdminService"),
      row(Method::kPut, "/admin/services/{id}", "admin.service.upserted", &PutService,
          "Create or replace a service", "AdminServiceInput", "AdminService"),
      row(Method::kDelete, "/admin/services/{id}", "admin.service.deleted", &DeleteService,
          "Delete a service without active integrations", "", "", 204),
      row(Method::kGet, "/admin/services/{id}/integrations", "", &ListIntegrations,
          "A service's integrations (key prefixes only; paged)", "", "Integrations"),
      row(Method::kPost, "/admin/services/{id}/integrations", "admin.integration.created",
          &CreateIntegration, "Create an integration: its key is in this answer only",
          "IntegrationInput", "IntegrationCreated", 201),
      row(Method::kDelete, "/admin/integrations/{id}", "admin.integration.revoked",
          &RevokeIntegration, "Revoke an integration key", "", "", 204),
      row(Method::kGet, "/admin/teams", "", &ListTeams, "Teams (paged)", "", "AdminTeams"),
      row(Method::kGet, "/admin/teams/{id}", "", &GetTeam, "A team", "", "AdminTeam"),
      row(Method::kPut, "/admin/teams/{id}", "admin.team.upserted", &PutTeam,
          "Create or replace a team", "AdminTeamInput", "AdminTeam"),
      row(Method::kDelete, "/admin/teams/{id}", "admin.team.deleted", &DeleteTeam, "Delete a team",
          "", "", 204),
      row(Method::kGet, "/admin/teams/{id}/members", "", &ListMembers, "A team's members (paged)",
          "", "AdminMembers"),
      row(Method::kPut, "/admin/teams/{id}/members/{member}", "admin.member.upserted", &PutMember,
          "Create or replace a member", "AdminMemberInput", "AdminMember"),
      row(Method::kDelete, "/admin/teams/{id}/members/{member}", "admin.member.deleted",
          &DeleteMember, "Remove a member", "", "", 204),
      row(Method::kPost, "/admin/retention/run", "admin.retention.run", &RunRetention,
          "Run retention now", "", "RetentionResult"),
  };
  api::Route sla = row(Method::kGet, "/analytics/sla", "", &Sla,
                       "SLA report (JSON, or CSV with Accept: text/csv)", "", "SlaReport");
  sla.changes_config = false;
  t.push_back(std::move(sla));
  api::Route counts = row(Method::kGet, "/analytics/incident-counts", "", &IncidentCounts,
                          "Incidents by state now (service=, team=)", "", "IncidentCounts");
  counts.changes_config = false;
  t.push_back(std::move(counts));
  return t;
}

}  // namespace opsorch::engine
