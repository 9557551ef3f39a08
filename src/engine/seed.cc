#include <boost/json/serialize.hpp>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/demo/demo_world.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/engine/seed.h>
#include <opsorch/paging/schedule.h>

#include "engine/pager.h"
#include "engine/service_fields.h"
#include "engine/status_pages.h"

namespace opsorch::engine {
namespace {

Status NotObject(const std::string& where) {
  return Fail(errc::kBadRequest, where + ": must be an object");
}

// People, schedules and escalation policies, validated as the admin API validates them (in
// that order: each may name the ones before), then the pager's catalog is rebuilt.
Status SeedPaging(Engine& engine, const FieldReader& root, std::int64_t now) {
  Pager* pager = engine.pager();
  const JsonArray* users = root.Array("users");
  const JsonArray* schedules = root.Array("schedules");
  const JsonArray* policies = root.Array("escalationPolicies");
  if (!*root.status) return *root.status;
  if (users == nullptr && schedules == nullptr && policies == nullptr) return Ok();
  if (pager == nullptr) {
    return Fail(errc::kBadRequest,
                "seed: users, schedules and escalation policies need a store "
                "that can page");
  }
  Store& store = engine.store();
  auto each =
      [&](const JsonArray* list, std::string_view name,
          const std::function<Status(const std::string&, const std::string&, const JsonObject&)>&
              fn) -> Status {
    if (list == nullptr) return Ok();
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string where = "seed." + std::string(name) + "[" + std::to_string(i) + "]";
      if (!(*list)[i].is_object()) return NotObject(where);
      JsonObject body = (*list)[i].get_object();
      const JsonValue* id = body.if_contains("id");
      if (id == nullptr || !id->is_string() || id->get_string().empty()) {
        return Fail(errc::kBadRequest, where + ".id: is required");
      }
      const std::string doc_id(id->get_string());
      body.erase("id");
      if (auto st = fn(where, doc_id, body); !st) return st;
    }
    return pager->ReloadCatalog();
  };
  auto prefixed = [](const std::string& where, const Error& e) {
    return Fail(errc::kBadRequest, where + "." + e.message);
  };
  if (auto st =
          each(users, "users",
               [&](const std::string& where, const std::string& id, const JsonObject& b) -> Status {
                 auto p = DecodePerson(id, b, nullptr);
                 if (!p) return prefixed(where, p.error());
                 return store.PutDoc(CatalogDoc{"user", id, "", PersonDocument(*p), now});
               });
      !st) {
    return st;
  }
  if (auto st = each(
          schedules, "schedules",
          [&](const std::string& where, const std::string& id, const JsonObject& b) -> Status {
            auto cat = pager->Catalog();
            auto s = paging::DecodeSchedule(
                JsonValue(b), [&](std::string_view u) { return cat->FindPerson(u) != nullptr; });
            if (!s) return prefixed(where, s.error());
            return store.PutDoc(CatalogDoc{"schedule", id, "", b, now});
          });
      !st) {
    return st;
  }
  return each(policies, "escalationPolicies",
              [&](const std::string& where, const std::string& id, const JsonObject& b) -> Status {
                auto p = DecodePolicy(id, b, *pager->Catalog());
                if (!p) return prefixed(where, p.error());
                return store.PutDoc(CatalogDoc{"policy", id, "", PolicyDocument(*p), now});
              });
}

}  // namespace

Status ApplySeed(Engine& engine, std::string_view json) {
  auto doc = ParseJson(json);
  if (!doc) return Fail(errc::kBadRequest, "seed: " + doc.error().message);
  if (!doc->is_object()) return Fail(errc::kBadRequest, "seed: must be a JSON object");
  Status status = Ok();
  const FieldReader root{doc->get_object(), "seed", &status};
  Store& store = engine.store();
  const std::int64_t now = Time::Now().UnixNanos();

  if (const JsonArray* teams = root.Array("teams")) {
    for (std::size_t i = 0; i < teams->size(); ++i) {
      const std::string where = "teams[" + std::to_string(i) + "]";
      if (!(*teams)[i].is_object()) return NotObject(where);
      const FieldReader t{(*teams)[i].get_object(), where, &status};
      TeamRow row{t.Str("id", true), t.Str("name", true), t.Str("description"), t.Str("parent")};
      const JsonArray* members = t.Array("members");
      if (!status) return status;
      if (auto st = store.UpsertTeam(row); !st) return st;
      if (members == nullptr) continue;
      for (std::size_t j = 0; j < members->size(); ++j) {
        const std::string mwhere = where + ".members[" + std::to_string(j) + "]";
        if (!(*members)[j].is_object()) return NotObject(mwhere);
        const FieldReader m{(*members)[j].get_object(), mwhere, &status};
        MemberRow member{row.id,         m.Str("id", true), m.Str("name"),
                         m.Str("email"), m.Str("handle"),   m.Str("role")};
        if (!status) return status;
        if (auto st = store.UpsertMember(member); !st) return st;
      }
    }
  }
  const JsonArray* services = root.Array("services");
  if (services != nullptr) {
    for (std::size_t i = 0; i < services->size(); ++i) {
      const std::string where = "services[" + std::to_string(i) + "]";
      if (!(*services)[i].is_object()) return NotObject(where);
      const FieldReader s{(*services)[i].get_object(), where, &status};
      ServiceRow row;
      row.id = s.Str("id", true);
      row.name = s.Str("name", true);
      row.description = s.Str("description");
      row.team_id = s.Str("team");
      row.ack_target_s = s.PositiveInt("ackTargetMinutes", 15) * 60;
      row.resolve_target_s = s.PositiveInt("resolveTargetMinutes", 120) * 60;
      row.created_at = now;
      row.tags = s.StringMap("tags");
      row.escalation_policy = s.Str("escalationPolicy");
      row.ack_timeout_s = s.PositiveInt("ackTimeoutMinutes", 0) * 60;
      row.auto_resolve_s = s.PositiveInt("autoResolveMinutes", 0) * 60;
      row.runbooks = ReadRunbooks(s);
      const JsonArray* integrations = s.Array("integrations");
      if (!status) return status;
      if (auto st = store.UpsertService(row); !st) return st;
      if (integrations == nullptr) continue;
      for (std::size_t j = 0; j < integrations->size(); ++j) {
        const std::string iwhere = where + ".integrations[" + std::to_string(j) + "]";
        if (!(*integrations)[j].is_object()) return NotObject(iwhere);
        const FieldReader in{(*integrations)[j].get_object(), iwhere, &status};
        IntegrationRow integration;
        integration.id = in.Str("id", true);
        integration.service_id = row.id;
        integration.name = in.Str("name");
        integration.kind = in.Str("kind");
        if (integration.kind.empty()) integration.kind = "events_v2";
        const std::string key = in.Str("key", true);
        if (!status) return status;
        if (integration.kind != "events_v2" && integration.kind != "alertmanager") {
          return Fail(errc::kBadRequest, iwhere + ".kind: must be events_v2 or alertmanager");
        }
        if (key.size() < 16) {
          return Fail(errc::kBadRequest, iwhere + ".key: must be at least 16 characters");
        }
        integration.key_hash = Engine::HashKey(key);
        integration.key_prefix = key.substr(0, 6);
        integration.created_at = now;
        auto existing = store.IntegrationByKeyHash(integration.key_hash);
        if (!existing) return Fail(std::move(existing.error()));
        if (*existing) continue;
        if (auto st = store.InsertIntegration(integration); !st) {
          // Another node applying the same seed at the same moment got there first.
          if (st.error().code != errc::kConflict) return st;
          auto now_there = store.IntegrationByKeyHash(integration.key_hash);
          if (!now_there || !*now_there) return st;
        }
      }
    }
  }
  // The pager's copy of the services (policies, runbooks) follows them at once, as after an
  // admin change, whether or not the seed has paging documents.
  if (Pager* pager = engine.pager(); pager != nullptr && services != nullptr) {
    if (auto st = pager->ReloadCatalog(); !st) return st;
  }
  if (auto st = SeedPaging(engine, root, now); !st) return st;
  if (const JsonArray* pages = root.Array("statusPages")) {
    for (std::size_t i = 0; i < pages->size(); ++i) {
      const std::string where = "statusPages[" + std::to_string(i) + "]";
      if (!(*pages)[i].is_object()) return NotObject(where);
      JsonObject body = (*pages)[i].get_object();
      const JsonValue* id = body.if_contains("id");
      if (id == nullptr || !id->is_string() || id->get_string().empty()) {
        return Fail(errc::kBadRequest, where + ".id: is required");
      }
      const std::string page_id(id->get_string());
      body.erase("id");
      if (auto saved = SaveStatusPage(engine, page_id, body); !saved) {
        return Fail(errc::kBadRequest, where + "." + saved.error().message);
      }
    }
  }
  if (const JsonArray* events = root.Array("events")) {
    auto any = store.QueryIncidents(IncidentFilter{.limit = 1});
    if (!any) return Fail(std::move(any.error()));
    if (!any->empty()) return status;  // demo events only go into an empty store
    for (std::size_t i = 0; i < events->size(); ++i) {
      const std::string where = "events[" + std::to_string(i) + "]";
      if (!(*events)[i].is_object()) return NotObject(where);
      const FieldReader e{(*events)[i].get_object(), where, &status};
      const std::string key = e.Str("routingKey", true);
      const std::string action = e.Str("action", true);
      Event ev;
      ev.dedup_key = e.Str("dedupKey", true);
      ev.summary = e.Str("summary");
      ev.source = e.Str("source");
      ev.origin = "seed";
      if (auto sev = ParseSeverity(e.Str("severity"))) ev.severity = *sev;
      if (!status) return status;
      ev.action = action == "acknowledge" ? EventAction::kAcknowledge
                  : action == "resolve"   ? EventAction::kResolve
                                          : EventAction::kTrigger;
      auto integration = engine.Authenticate(key);
      if (!integration) return Fail(std::move(integration.error()));
      if (!*integration) return Fail(errc::kBadRequest, where + ".routingKey: unknown key");
      auto results = engine.IngestSync({Ingestion{**integration, ev}});
      if (!results.front().status) return results.front().status;
    }
  }
  return status;
}

namespace {

// What the demo adds to the shared demo world's catalog for the engine: integrations with the
// documented keys, SLA targets, and a few events that leave incidents in different states.
constexpr std::string_view kDemoEngineParts = R"json({
  "services": {
    "svc-checkout": {"ackTargetMinutes": 5, "resolveTargetMinutes": 60, "escalationPolicy": "payments-default",
      "integrations": [{"id": "checkout-events", "name": "Events API v2", "kind": "events_v2", "key": "demo-routing-key-000000000000001"},
                       {"id": "checkout-alertmanager", "name": "Alertmanager", "kind": "alertmanager", "key": "demo-alertmanager-key-0000000001"}]},
    "svc-database": {
      "runbooks": ["disk-full"],
      "integrations": [{"id": "database-events", "name": "Events API v2", "kind": "events_v2", "key": "demo-routing-key-000000000000002"}]},
    "svc-search": {"ackTargetMinutes": 30, "resolveTargetMinutes": 480}
  },
  "events": [
    {"routingKey": "demo-routing-key-000000000000001", "action": "trigger", "dedupKey": "checkout-5xx", "summary": "Checkout API 5xx rate above 5%", "source": "checkout-api-7f9c", "severity": "critical"},
    {"routingKey": "demo-routing-key-000000000000001", "action": "trigger", "dedupKey": "checkout-5xx", "summary": "Checkout API 5xx rate above 5%", "source": "checkout-api-2b1d", "severity": "critical"},
    {"routingKey": "demo-routing-key-000000000000001", "action": "acknowledge", "dedupKey": "checkout-5xx"},
    {"routingKey": "demo-routing-key-000000000000002", "action": "trigger", "dedupKey": "replication-lag", "summary": "Replica lag above 30 s on orders-db-2", "source": "orders-db-2", "severity": "warning"},
    {"routingKey": "demo-routing-key-000000000000002", "action": "trigger", "dedupKey": "disk-80", "summary": "Disk usage above 80% on orders-db-1", "source": "orders-db-1", "severity": "error"},
    {"routingKey": "demo-routing-key-000000000000002", "action": "resolve", "dedupKey": "disk-80"}
  ],
  "statusPages": [
    {"id": "demo", "name": "Acme Shop status", "slug": "demo",
     "description": "Checkout, orders and search", "services": ["svc-checkout", "svc-database", "svc-search"]}
  ]
})json";

std::string WorldStr(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The demo's paging: the Payments team's people, each with a signed webhook to the built-in
// sink (DemoSinkRoutes, which prints every page it receives), a follow-the-sun schedule (three
// eight-hour layers, so someone is always on call) and a two-level policy on svc-checkout.
JsonObject DemoPaging(std::string_view sink_base) {
  const std::vector<std::pair<std::string, std::string>> people = {
      {"alice.johnson", "Alice Johnson"},
      {"bob.martinez", "Bob Martinez"},
      {"carol.nguyen", "Carol Nguyen"},
      {"dan.weber", "Dan Weber"}};
  JsonArray users;
  for (const auto& [local, name] : people) {
    const std::string id = demo::Email(local);
    users.push_back(JsonObject{
        {"id", id},
        {"name", name},
        {"email", id},
        {"timeZone", "America/New_York"},
        {"contactMethods",
         JsonArray{JsonObject{{"id", "sink"},
                              {"type", "webhook"},
                              {"label", "demo sink"},
                              {"address", std::string(sink_base) + "/demo/sink/" + local},
                              {"secret", std::string(kDemoSinkSecret)}}}},
        {"notificationRules",
         JsonArray{
             JsonObject{{"contactMethod", "sink"}, {"startDelayMinutes", 0}, {"urgency", "high"}},
             JsonObject{
                 {"contactMethod", "sink"}, {"startDelayMinutes", 0}, {"urgency", "low"}}}}});
  }
  auto layer = [&](std::string_view id, std::string_view start, std::vector<std::string> who) {
    JsonArray users_of;
    for (const auto& w : who) users_of.push_back(JsonValue(demo::Email(w)));
    return JsonObject{{"id", id},
                      {"name", std::string(id) + " (UTC " + std::string(start) + ")"},
                      {"start", "2026-01-05T00:00:00Z"},
                      {"rotationVirtualStart", "2026-01-05T00:00:00Z"},
                      {"rotationTurnLengthSeconds", 604800},
                      {"users", std::move(users_of)},
                      {"restrictions", JsonArray{JsonObject{{"type", "daily"},
                                                            {"startTimeOfDay", start},
                                                            {"durationSeconds", 28800}}}}};
  };
  JsonArray schedules{JsonObject{
      {"id", "payments-follow-the-sun"},
      {"name", "Payments follow-the-sun"},
      {"timeZone", "UTC"},
      {"layers", JsonArray{layer("americas", "16:00:00", {"alice.johnson", "bob.martinez"}),
                           layer("emea", "08:00:00", {"carol.nguyen", "dan.weber"}),
                           layer("apac", "00:00:00", {"bob.martinez", "carol.nguyen"})}}}};
  JsonArray policies{JsonObject{
      {"id", "payments-default"},
      {"name", "Payments default"},
      {"numLoops", 1},
      {"rules",
       JsonArray{
           JsonObject{{"delayMinutes", 5},
                      {"targets", JsonArray{JsonObject{{"type", "schedule"},
                                                       {"id", "payments-follow-the-sun"}}}}},
           JsonObject{{"delayMinutes", 10},
                      {"targets", JsonArray{JsonObject{{"type", "user"},
                                                       {"id", demo::Email("alice.johnson")}}}}}}}}};
  return JsonObject{{"users", std::move(users)},
                    {"schedules", std::move(schedules)},
                    {"escalationPolicies", std::move(policies)}};
}

}  // namespace

std::string DemoSeed(std::string_view sink_base) {
  const JsonObject& world = demo::World();
  auto parts = ParseJson(kDemoEngineParts);
  const JsonObject extras = parts && parts->is_object() ? parts->get_object() : JsonObject{};
  const JsonValue* extra_services = extras.if_contains("services");

  JsonArray teams;
  if (const JsonValue* rows = world.if_contains("teams"); rows != nullptr && rows->is_array()) {
    for (const JsonValue& row : rows->get_array()) {
      if (!row.is_object()) continue;
      const JsonObject& t = row.get_object();
      JsonArray members;
      if (const JsonValue* ms = t.if_contains("members"); ms != nullptr && ms->is_array()) {
        for (const JsonValue& m : ms->get_array()) {
          if (!m.is_object()) continue;
          const std::string email = demo::Email(WorldStr(m.get_object(), "id"));
          members.push_back(JsonObject{{"id", email},
                                       {"name", WorldStr(m.get_object(), "name")},
                                       {"email", email},
                                       {"handle", WorldStr(m.get_object(), "handle")},
                                       {"role", WorldStr(m.get_object(), "role")}});
        }
      }
      JsonObject team{{"id", WorldStr(t, "id")},
                      {"name", WorldStr(t, "name")},
                      {"description", WorldStr(t, "description")},
                      {"members", std::move(members)}};
      if (auto parent = WorldStr(t, "parent"); !parent.empty()) team["parent"] = parent;
      teams.push_back(std::move(team));
    }
  }
  JsonArray services;
  if (const JsonValue* rows = world.if_contains("services"); rows != nullptr && rows->is_array()) {
    for (const JsonValue& row : rows->get_array()) {
      if (!row.is_object()) continue;
      const JsonObject& sv = row.get_object();
      const std::string id = WorldStr(sv, "id");
      JsonObject service{{"id", id},
                         {"name", WorldStr(sv, "displayName")},
                         {"description", WorldStr(sv, "description")},
                         {"team", WorldStr(sv, "team")},
                         {"tags",
                          {{"tier", WorldStr(sv, "tier")},
                           {"language", WorldStr(sv, "language")},
                           {"environment", "prod"}}}};
      if (extra_services != nullptr && extra_services->is_object()) {
        if (const JsonValue* more = extra_services->get_object().if_contains(id);
            more != nullptr && more->is_object()) {
          for (const auto& kv : more->get_object()) service[kv.key()] = kv.value();
        }
      }
      services.push_back(std::move(service));
    }
  }
  JsonObject seed{{"teams", std::move(teams)}, {"services", std::move(services)}};
  for (auto& kv : DemoPaging(sink_base)) seed[kv.key()] = kv.value();
  if (const JsonValue* events = extras.if_contains("events")) seed["events"] = *events;
  if (const JsonValue* pages = extras.if_contains("statusPages")) seed["statusPages"] = *pages;
  return boost::json::serialize(seed);
}

}  // namespace opsorch::engine
