// Paging's routes: people, on-call schedules and overrides, escalation policies, who is on call
// (/oncalls), calendars, an incident's notifications and manual escalation, and the signed
// action links in messages. Catalog writes are validated whole (nothing half-written), stored
// as documents, and the pager's catalog is rebuilt from the store afterwards.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/engine/routes.h>
#include <opsorch/engine/seed.h>
#include <opsorch/log/log.h>
#include <opsorch/notify/transport.h>
#include <opsorch/paging/schedule.h>

#include "engine/admin_util.h"
#include "engine/pager.h"
#include "engine/rules.h"
#include "engine/store_schema.h"
#include "engine/vocabulary.h"

namespace opsorch::engine {
namespace {

using namespace admin;  // NOLINT: the shared admin helpers
using api::Call;
using api::JsonReply;
using api::Outcome;  // not engine::Outcome (rules)
using api::Reply;
using http::Method;

constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kDay = 86400;

Error NoPager() {
  return MakeError(errc::kNotFound,
                   "paging is not available: the incident engine's store cannot page");
}

Result<Pager*> PagerOf(Engine& engine) {
  Pager* p = engine.pager();
  if (p == nullptr) return Fail(NoPager());
  return p;
}

Status Reload(Pager& pager) { return pager.ReloadCatalog(); }

// Clamped to the nanosecond range: a rendering a month beyond a bound near its end must not
// overflow.
std::string Rfc3339(std::int64_t unix_s) {
  constexpr std::int64_t kMax = INT64_MAX / kNs - 1;
  return FormatRfc3339Nano(Time::FromUnixNanos(std::clamp(unix_s, -kMax, kMax) * kNs));
}

// ?name=<RFC 3339> in Unix seconds, or `fallback` when absent.
Result<std::int64_t> TimeParam(const Call& call, std::string_view name, std::int64_t fallback) {
  const std::string v = call.Query(name);
  if (v.empty()) return fallback;
  auto t = ParseRfc3339(v);
  if (!t) {
    return Fail(errc::kBadRequest,
                std::string(name) + ": must be an RFC 3339 time (" + t.error().message + ")");
  }
  auto ns = t->UnixNanosChecked();
  if (!ns)
    return Fail(errc::kBadRequest, std::string(name) + ": " + std::string(Time::kNanosRange));
  return *ns / kNs;
}

// since/until with PagerDuty's defaults and a bound on the range (rendering is on demand).
Result<std::pair<std::int64_t, std::int64_t>> Range(const Call& call, std::int64_t now_s,
                                                    std::int64_t default_len_s,
                                                    std::int64_t max_len_s) {
  auto since = TimeParam(call, "since", now_s);
  if (!since) return Fail(std::move(since.error()));
  auto until = TimeParam(call, "until", *since + default_len_s);
  if (!until) return Fail(std::move(until.error()));
  if (*until < *since) return Fail(errc::kBadRequest, "until: must not be before since");
  if (*until - *since > max_len_s) {
    return Fail(errc::kBadRequest,
                "until: at most " + std::to_string(max_len_s / kDay) + " days after since");
  }
  return std::pair{*since, *until};
}

// A paged list (by id) of one of the catalog's maps, each entry written by `json`.
template <class Map, class Json>
Outcome CatalogList(Engine& engine, const Call& call, const Map PagingCatalog::*member, Json json) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  using Entry = std::pair<const std::string*, const typename Map::mapped_type*>;
  std::vector<Entry> all;
  for (const auto& [id, v] : (*cat).*member) all.emplace_back(&id, &v);
  return PagedList(
      std::move(all), call, [](const Entry& e) { return *e.first; },
      [&json](std::string& out, const Entry& e) { out += json(*e.second); });
}

// One entry of one of the catalog's maps by the path's id, or not_found naming it.
template <class Map, class Json>
Outcome CatalogGet(Engine& engine, const Call& call, const Map PagingCatalog::*member,
                   std::string_view what, Json json) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  const Map& map = (*cat).*member;
  auto it = map.find(call.params[0]);
  if (it == map.end()) {
    return Fail(errc::kNotFound,
                std::string(what) + " " + std::string(call.params[0]) + " not found");
  }
  return json(it->second, *pager);
}

// ---- people -------------------------------------------------------------------------------------

Outcome ListUsers(Engine& engine, const Call& call) {
  return CatalogList(engine, call, &PagingCatalog::people, PersonJson);
}

Outcome GetUser(Engine& engine, const Call& call) {
  return CatalogGet(engine, call, &PagingCatalog::people, "user",
                    [](const Person& p, Pager*) -> Outcome { return JsonReply(PersonJson(p)); });
}

Outcome PutUser(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  const std::string id(call.params[0]);
  if (id.size() > 64) return Fail(errc::kBadRequest, "id: at most 64 characters");
  auto cat = (*pager)->Catalog();
  auto person = DecodePerson(id, *body, cat->FindPerson(id));
  if (!person) return Fail(person.error());
  if (auto st = engine.store().PutDoc(
          CatalogDoc{"user", id, "", PersonDocument(*person), Time::Now().UnixNanos()});
      !st) {
    return Fail(st.error());
  }
  if (auto st = Reload(**pager); !st) return Fail(st.error());
  return JsonReply(PersonJson(*person));
}

// Who refers to a person, a schedule or a policy ("" when nobody does).
std::string Referrer(Engine& engine, const PagingCatalog& cat, std::string_view kind,
                     std::string_view id) {
  if (kind == "user") {
    for (const auto& [sid, s] : cat.schedules) {
      for (const auto& layer : s.schedule.layers) {
        if (std::find(layer.users.begin(), layer.users.end(), id) != layer.users.end()) {
          return "schedule " + sid;
        }
      }
      for (const auto& o : s.overrides) {
        if (o.user == id) return "an override of schedule " + sid;
      }
    }
  }
  if (kind == "user" || kind == "schedule") {
    const std::string type = kind == "user" ? "user" : "schedule";
    for (const auto& [pid, p] : cat.policies) {
      for (const auto& rule : p.rules) {
        for (const auto& t : rule.targets) {
          if (t.type == type && t.id == id) return "escalation policy " + pid;
        }
      }
    }
  }
  if (kind == "policy") {
    auto services = engine.store().Services();
    if (services) {
      for (const auto& s : *services) {
        if (s.escalation_policy == id) return "service " + s.id;
      }
    }
  }
  return "";
}

Outcome DeleteDoc(Engine& engine, const Call& call, std::string_view kind, std::string_view what) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  const std::string id(call.params[0]);
  auto cat = (*pager)->Catalog();
  const bool exists = kind == "user"       ? cat->FindPerson(id) != nullptr
                      : kind == "schedule" ? cat->FindSchedule(id) != nullptr
                                           : cat->FindPolicy(id) != nullptr;
  if (!exists) return Fail(errc::kNotFound, std::string(what) + " " + id + " not found");
  if (const std::string by = Referrer(engine, *cat, kind, id); !by.empty()) {
    return Fail(errc::kConflict,
                std::string(what) + " " + id + " is used by " + by + "; change that first");
  }
  if (auto st = engine.store().DeleteDoc(kind, id); !st) return Fail(st.error());
  if (auto st = Reload(**pager); !st) return Fail(st.error());
  return NoContent();
}

Outcome DeleteUser(Engine& engine, const Call& call) {
  return DeleteDoc(engine, call, "user", "user");
}

Outcome TestUser(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  const Person* p = cat->FindPerson(call.params[0]);
  if (p == nullptr)
    return Fail(errc::kNotFound, "user " + std::string(call.params[0]) + " not found");
  std::string out = "[";
  for (const auto& o : (*pager)->SendTest(*p)) {
    if (out.size() > 1) out.push_back(',');
    out += "{\"contactMethod\":";
    AppendJsonString(out, o.contact_method);
    out += ",\"channel\":";
    AppendJsonString(out, o.channel);
    out += ",\"state\":";
    AppendJsonString(out, o.state);
    out += ",\"detail\":";
    AppendJsonString(out, o.detail);
    out += "}";
  }
  out += "]";
  return JsonReply(std::move(out));
}

// ---- schedules ----------------------------------------------------------------------------------

std::string ScheduleJson(const ScheduleEntry& s,
                         std::optional<std::pair<std::int64_t, std::int64_t>> range) {
  std::string out = paging::EncodeSchedule(s.schedule);
  out.pop_back();
  out += ",\"overrides\":[";
  for (std::size_t i = 0; i < s.overrides.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += paging::EncodeOverride(s.overrides[i]);
  }
  out += "]";
  if (range) {
    out += ",\"since\":\"" + Rfc3339(range->first) + "\",\"until\":\"" + Rfc3339(range->second) +
           "\",\"finalSchedule\":";
    out += paging::EncodeEntries(
        paging::FinalSchedule(s.schedule, s.zone, s.overrides, range->first, range->second));
    out += ",\"renderedLayers\":[";
    for (std::size_t i = 0; i < s.schedule.layers.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += "{\"id\":";
      AppendJsonString(out, s.schedule.layers[i].id);
      out += ",\"entries\":";
      out += paging::EncodeEntries(
          paging::RenderLayer(s.schedule, s.zone, i, range->first, range->second));
      out += "}";
    }
    out += "]";
  }
  out += "}";
  return out;
}

Outcome ListSchedules(Engine& engine, const Call& call) {
  return CatalogList(engine, call, &PagingCatalog::schedules,
                     [](const ScheduleEntry& s) { return ScheduleJson(s, std::nullopt); });
}

Outcome GetSchedule(Engine& engine, const Call& call) {
  return CatalogGet(engine, call, &PagingCatalog::schedules, "schedule",
                    [&call](const ScheduleEntry& s, Pager* pager) -> Outcome {
                      std::optional<std::pair<std::int64_t, std::int64_t>> range;
                      if (!call.Query("since").empty() || !call.Query("until").empty()) {
                        // PagerDuty's default when one bound is given: two weeks.
                        auto r = Range(call, pager->Now() / kNs, 14 * kDay, 400 * kDay);
                        if (!r) return Fail(r.error());
                        range = *r;
                      }
                      return JsonReply(ScheduleJson(s, range));
                    });
}

Outcome PutSchedule(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  const std::string id(call.params[0]);
  if (!paging::ValidScheduleId(id)) {
    return Fail(errc::kBadRequest, "id: use 1-64 letters, digits, '.', '_' or '-'");
  }
  // What GET adds (overrides, a rendering, the id) comes back in a GET-edit-PUT round trip:
  // accepted and left out (overrides have routes of their own).
  if (const JsonValue* given = body->if_contains("id");
      given != nullptr && !(given->is_string() && given->get_string() == id)) {
    return Fail(errc::kBadRequest, "id: must be the id in the path (\"" + id + "\")");
  }
  for (std::string_view shown :
       {"id", "overrides", "since", "until", "finalSchedule", "renderedLayers"}) {
    body->erase(shown);
  }
  auto cat = (*pager)->Catalog();
  auto s = paging::DecodeSchedule(
      JsonValue(*body), [&](std::string_view u) { return cat->FindPerson(u) != nullptr; });
  if (!s) return Fail(s.error());
  s->id = id;
  // What the store keeps is the canonical encoding (the decoder accepts it back).
  auto canonical = ParseJson(paging::EncodeSchedule(*s));
  if (!canonical || !canonical->is_object()) return Fail(errc::kInternal, "schedule encoding");
  canonical->get_object().erase("id");
  if (auto st = engine.store().PutDoc(
          CatalogDoc{"schedule", id, "", canonical->get_object(), Time::Now().UnixNanos()});
      !st) {
    return Fail(st.error());
  }
  if (auto st = Reload(**pager); !st) return Fail(st.error());
  auto fresh = (*pager)->Catalog();
  const ScheduleEntry* stored = fresh->FindSchedule(id);
  if (stored == nullptr) return Fail(errc::kInternal, "schedule " + id + " vanished after write");
  return JsonReply(ScheduleJson(*stored, std::nullopt));
}

Outcome DeleteSchedule(Engine& engine, const Call& call) {
  return DeleteDoc(engine, call, "schedule", "schedule");
}

Outcome ListOverrides(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  const ScheduleEntry* s = cat->FindSchedule(call.params[0]);
  if (s == nullptr) {
    return Fail(errc::kNotFound, "schedule " + std::string(call.params[0]) + " not found");
  }
  auto r = Range(call, (*pager)->Now() / kNs, 14 * kDay, 400 * kDay);
  if (!r) return Fail(r.error());
  std::string out = "[";
  for (const auto& o : s->overrides) {
    if (o.end_s <= r->first || o.start_s >= r->second) continue;
    if (out.size() > 1) out.push_back(',');
    out += paging::EncodeOverride(o);
  }
  out += "]";
  return JsonReply(std::move(out));
}

Outcome AddOverride(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  const std::string schedule(call.params[0]);
  auto cat = (*pager)->Catalog();
  const ScheduleEntry* s = cat->FindSchedule(schedule);
  if (s == nullptr) return Fail(errc::kNotFound, "schedule " + schedule + " not found");
  const std::int64_t now_s = (*pager)->Now() / kNs;
  if (std::count_if(s->overrides.begin(), s->overrides.end(),
                    [&](const paging::Override& o) { return o.end_s > now_s; }) >= 1000) {
    return Fail(errc::kConflict, "schedule " + schedule + " has 1000 current or future overrides");
  }
  const std::string id = "ovr-" + Engine::NewKey().substr(0, 12);
  auto o = paging::DecodeOverride(
      JsonValue(*body), [&](std::string_view u) { return cat->FindPerson(u) != nullptr; }, id);
  if (!o) return Fail(o.error());
  auto canonical = ParseJson(paging::EncodeOverride(*o));
  if (!canonical || !canonical->is_object()) return Fail(errc::kInternal, "override encoding");
  // Stored as the decoder reads it back: the id is the document's key, not a field.
  canonical->get_object().erase("id");
  if (auto st = engine.store().PutDoc(
          CatalogDoc{"override", id, schedule, canonical->get_object(), Time::Now().UnixNanos()});
      !st) {
    return Fail(st.error());
  }
  if (auto st = Reload(**pager); !st) return Fail(st.error());
  return JsonReply(paging::EncodeOverride(*o), 201);
}

Outcome DeleteOverride(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  const ScheduleEntry* s = cat->FindSchedule(call.params[0]);
  const std::string id(call.params[1]);
  if (s == nullptr || std::none_of(s->overrides.begin(), s->overrides.end(),
                                   [&](const paging::Override& o) { return o.id == id; })) {
    return Fail(errc::kNotFound, "override " + id + " not found");
  }
  if (auto st = engine.store().DeleteDoc("override", id); !st) return Fail(st.error());
  if (auto st = Reload(**pager); !st) return Fail(st.error());
  return NoContent();
}

// ---- calendars ------------------------------------------------------------------------------

// Six months ahead (and a week back), as GoAlert's users ask for.
std::string Calendar(const PagingCatalog& cat, std::string_view kind, std::string_view id,
                     std::int64_t now_s) {
  const std::int64_t since = now_s - 7 * kDay, until = now_s + 183 * kDay;
  std::vector<paging::Entry> entries;
  std::string name;
  if (kind == "schedule") {
    const ScheduleEntry* s = cat.FindSchedule(id);
    if (s != nullptr) {
      entries = paging::FinalSchedule(s->schedule, s->zone, s->overrides, since, until);
      name = s->schedule.name;
    }
  } else {
    for (const auto& [sid, s] : cat.schedules) {
      for (auto& e : paging::FinalSchedule(s.schedule, s.zone, s.overrides, since, until)) {
        if (e.user == id) entries.push_back(std::move(e));
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const paging::Entry& a, const paging::Entry& b) { return a.start_s < b.start_s; });
    const Person* p = cat.FindPerson(id);
    name = "On call: " + (p != nullptr ? p->name : std::string(id));
  }
  return paging::ToICal(name, entries, std::string(kind) + "-" + std::string(id), now_s);
}

Reply IcsReply(std::string body) {
  Reply r{200, std::move(body)};
  r.content_type = "text/calendar; charset=utf-8";
  return r;
}

Outcome ScheduleCalendar(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  if (cat->FindSchedule(call.params[0]) == nullptr) {
    return Fail(errc::kNotFound, "schedule " + std::string(call.params[0]) + " not found");
  }
  return IcsReply(Calendar(*cat, "schedule", call.params[0], (*pager)->Now() / kNs));
}

Outcome UserCalendar(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  if (cat->FindPerson(call.params[0]) == nullptr) {
    return Fail(errc::kNotFound, "user " + std::string(call.params[0]) + " not found");
  }
  return IcsReply(Calendar(*cat, "user", call.params[0], (*pager)->Now() / kNs));
}

// A subscribable URL (calendar apps send no bearer token): signed, for this schedule or person.
Outcome CalendarLink(Engine& engine, const Call& call, std::string_view kind) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  const bool exists = kind == "schedule" ? cat->FindSchedule(call.params[0]) != nullptr
                                         : cat->FindPerson(call.params[0]) != nullptr;
  if (!exists) {
    return Fail(errc::kNotFound,
                std::string(kind) + " " + std::string(call.params[0]) + " not found");
  }
  std::string out = "{\"path\":";
  AppendJsonString(out, "/calendars/" + (*pager)->CalendarToken(kind, call.params[0]) + ".ics");
  out += "}";
  return JsonReply(std::move(out));
}
Outcome ScheduleCalendarLink(Engine& engine, const Call& call) {
  return CalendarLink(engine, call, "schedule");
}
Outcome UserCalendarLink(Engine& engine, const Call& call) {
  return CalendarLink(engine, call, "user");
}

Outcome SubscribedCalendar(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  std::string_view token = call.params[0];
  if (!token.ends_with(".ics")) return Fail(errc::kNotFound, "not found");
  token.remove_suffix(4);
  auto claims = (*pager)->VerifyCalendarToken(token);
  if (!claims) return Fail(claims.error());
  auto cat = (*pager)->Catalog();
  const bool exists = claims->first == "schedule" ? cat->FindSchedule(claims->second) != nullptr
                                                  : cat->FindPerson(claims->second) != nullptr;
  if (!exists) return Fail(errc::kGone, "this calendar no longer exists");
  return IcsReply(Calendar(*cat, claims->first, claims->second, (*pager)->Now() / kNs));
}

// ---- escalation policies ------------------------------------------------------------------------

Outcome ListPolicies(Engine& engine, const Call& call) {
  return CatalogList(engine, call, &PagingCatalog::policies, PolicyJson);
}

Outcome GetPolicy(Engine& engine, const Call& call) {
  return CatalogGet(engine, call, &PagingCatalog::policies, "escalation policy",
                    [](const Policy& p, Pager*) -> Outcome { return JsonReply(PolicyJson(p)); });
}

Outcome PutPolicy(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  const std::string id(call.params[0]);
  if (id.size() > 64) return Fail(errc::kBadRequest, "id: at most 64 characters");
  auto cat = (*pager)->Catalog();
  auto p = DecodePolicy(id, *body, *cat);
  if (!p) return Fail(p.error());
  if (auto st = engine.store().PutDoc(
          CatalogDoc{"policy", id, "", PolicyDocument(*p), Time::Now().UnixNanos()});
      !st) {
    return Fail(st.error());
  }
  if (auto st = Reload(**pager); !st) return Fail(st.error());
  return JsonReply(PolicyJson(*p));
}

Outcome DeletePolicy(Engine& engine, const Call& call) {
  return DeleteDoc(engine, call, "policy", "escalation policy");
}

// ---- who is on call -----------------------------------------------------------------------------

bool Wanted(const std::vector<std::string>& filter, std::string_view id) {
  return filter.empty() || std::find(filter.begin(), filter.end(), id) != filter.end();
}

// PagerDuty's GET /oncalls: one entry per (policy, level, person, shift) over [since, until]
// (default: now). A direct user target is on call permanently (start and end null).
Outcome OnCalls(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto cat = (*pager)->Catalog();
  const std::int64_t now_s = (*pager)->Now() / kNs;
  auto range = Range(call, now_s, 0, 90 * kDay);  // "limited to 90 days in the future"
  if (!range) return Fail(range.error());
  auto [since, until] = *range;
  if (until == since) until = since + 1;  // an instant: who is on call then
  const auto schedule_ids = call.QueryAll("scheduleIds[]");
  const auto policy_ids = call.QueryAll("escalationPolicyIds[]");
  const auto user_ids = call.QueryAll("userIds[]");
  const bool earliest = call.Query("earliest") == "true";
  struct Row {
    std::string user, schedule, policy;
    std::int64_t level, start, end;  // start/end -1: permanent
  };
  std::vector<Row> rows;
  for (const auto& [pid, policy] : cat->policies) {
    if (!Wanted(policy_ids, pid)) continue;
    for (std::size_t level = 0; level < policy.rules.size(); ++level) {
      for (const auto& t : policy.rules[level].targets) {
        if (t.type == "user") {
          if (!schedule_ids.empty() || !Wanted(user_ids, t.id) || !cat->FindPerson(t.id)) continue;
          rows.push_back(Row{t.id, "", pid, static_cast<std::int64_t>(level + 1), -1, -1});
          continue;
        }
        if (!Wanted(schedule_ids, t.id)) continue;
        const ScheduleEntry* s = cat->FindSchedule(t.id);
        if (s == nullptr) continue;
        // Whole shifts, as PagerDuty answers (a shift that started last week and is on now
        // shows its real start and end), rendered a month beyond either bound.
        for (auto& e : paging::FinalSchedule(s->schedule, s->zone, s->overrides, since - 31 * kDay,
                                             until + 31 * kDay)) {
          if (e.end_s <= since || e.start_s >= until || !Wanted(user_ids, e.user)) continue;
          rows.push_back(Row{std::move(e.user), t.id, pid, static_cast<std::int64_t>(level + 1),
                             e.start_s, e.end_s});
        }
      }
    }
  }
  if (earliest) {
    std::map<std::tuple<std::string, std::int64_t, std::string>, Row> first;
    for (auto& r : rows) {
      auto key = std::make_tuple(r.policy, r.level, r.user);
      auto it = first.find(key);
      if (it == first.end() ||
          (r.start != -1 && it->second.start != -1 && r.start < it->second.start)) {
        first.insert_or_assign(key, std::move(r));
      }
    }
    rows.clear();
    for (auto& [k, r] : first) rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.policy, a.level, a.start) < std::tie(b.policy, b.level, b.start);
  });
  std::string out = "[";
  for (const auto& r : rows) {
    if (out.size() > 1) out.push_back(',');
    const Person* p = cat->FindPerson(r.user);
    out += "{\"user\":{\"id\":";
    AppendJsonString(out, r.user);
    out += ",\"name\":";
    AppendJsonString(out, p != nullptr ? p->name : "");
    out += "},\"schedule\":";
    if (r.schedule.empty()) {
      out += "null";
    } else {
      const ScheduleEntry* s = cat->FindSchedule(r.schedule);
      out += "{\"id\":";
      AppendJsonString(out, r.schedule);
      out += ",\"name\":";
      AppendJsonString(out, s != nullptr ? s->schedule.name : "");
      out += "}";
    }
    const Policy* policy = cat->FindPolicy(r.policy);
    out += ",\"escalationPolicy\":{\"id\":";
    AppendJsonString(out, r.policy);
    out += ",\"name\":";
    AppendJsonString(out, policy != nullptr ? policy->name : "");
    out += "},\"escalationLevel\":" + std::to_string(r.level) + ",\"start\":";
    out += r.start == -1 ? "null" : "\"" + Rfc3339(r.start) + "\"";
    out += ",\"end\":";
    out += r.end == -1 ? "null" : "\"" + Rfc3339(r.end) + "\"";
    out += "}";
  }
  out += "]";
  return JsonReply(std::move(out));
}

// ---- an incident's paging -----------------------------------------------------------------------

void AppendNotification(std::string& out, const NotificationRow& n) {
  out += "{\"id\":";
  AppendJsonString(out, n.id);
  out += ",\"incidentId\":";
  AppendJsonString(out, n.incident_seq != 0 ? IncidentId(n.incident_seq) : "");
  out += ",\"person\":";
  AppendJsonString(out, n.person_id);
  out += ",\"contactMethod\":";
  AppendJsonString(out, n.contact_method);
  out += ",\"channel\":";
  AppendJsonString(out, n.channel);
  out += ",\"level\":" + std::to_string(n.level) + ",\"urgency\":";
  AppendJsonString(out, n.urgency);
  out += ",\"status\":";
  AppendJsonString(out, n.status);
  out += ",\"attempts\":" + std::to_string(n.attempts);
  out += ",\"createdAt\":\"" + FormatRfc3339Nano(Time::FromUnixNanos(n.created_at)) + "\"";
  out += ",\"dueAt\":\"" + FormatRfc3339Nano(Time::FromUnixNanos(n.due_at)) + "\"";
  out += ",\"sentAt\":";
  out += n.sent_at == 0 ? "null" : "\"" + FormatRfc3339Nano(Time::FromUnixNanos(n.sent_at)) + "\"";
  out += ",\"detail\":";
  AppendJsonString(out, n.detail);
  out += "}";
}

Outcome IncidentNotifications(Engine& engine, const Call& call) {
  if (engine.pager() == nullptr) return Fail(NoPager());
  const std::string id(call.params[0]);
  auto incident = engine.store().GetIncident(id);
  if (!incident) return Fail(incident.error());
  if (!*incident) return Fail(errc::kNotFound, "incident " + id + " not found");
  auto rows = engine.store().Notifications((*incident)->seq);
  if (!rows) return Fail(rows.error());
  std::string out = "[";
  for (const auto& n : *rows) {
    if (out.size() > 1) out.push_back(',');
    AppendNotification(out, n);
  }
  out += "]";
  return JsonReply(std::move(out));
}

// A write in the engine's next durable group commit, waited for.
Status Durably(Engine& engine, std::function<Status(Tx&)> write) {
  return Pager::SubmitAndWait(
      [&engine](std::function<Status(Tx&)> w, std::function<void(Status)> done) {
        engine.Submit(std::move(w), std::move(done));
      },
      std::move(write));
}

Outcome EscalateIncident(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  const std::string id(call.params[0]);
  const JsonObject actor = api::CallerOf(call.request);
  PagingCounts counts;
  auto st = Durably(engine, [&](Tx& tx) {
    return (*pager)->EscalateNow(tx, id, actor, (*pager)->Now(), &counts);
  });
  if (!st) return Fail(st.error());
  (*pager)->Count(counts);
  (*pager)->Wake();
  auto esc = engine.store().Escalation(SeqOf(id, "inc-"));
  if (!esc || !*esc) return JsonReply("{\"status\":\"escalated\"}");
  return JsonReply("{\"status\":\"escalated\",\"level\":" + std::to_string((*esc)->level + 1) +
                   ",\"loop\":" + std::to_string((*esc)->loop) + "}");
}

// {"users":["id",…]} or {"escalationPolicy":"id"}: exactly one of them.
Result<Pager::ReassignTo> DecodeReassign(const Call& call) {
  auto body = BodyObject(call);
  if (!body) return Fail(std::move(body.error()));
  Pager::ReassignTo to;
  for (const auto& [k, v] : *body) {
    if (k == "users") {
      const JsonArray* a = v.if_array();
      if (a == nullptr || a->empty() || a->size() > 20) {
        return Fail(errc::kBadRequest, "users: must be a list of 1 to 20 person ids");
      }
      for (const JsonValue& u : *a) {
        if (!u.is_string() || !ValidId(u.get_string())) {
          return Fail(errc::kBadRequest, "users: each must be a person id");
        }
        // A person named twice is paged once and named once.
        if (std::find(to.users.begin(), to.users.end(), u.get_string()) == to.users.end()) {
          to.users.emplace_back(u.get_string());
        }
      }
    } else if (k == "escalationPolicy") {
      if (!v.is_string() || !ValidId(v.get_string())) {
        return Fail(errc::kBadRequest, "escalationPolicy: must be a policy id");
      }
      to.policy_id = std::string(v.get_string());
    } else {
      return Fail(errc::kBadRequest, "unknown field \"" + std::string(k) + "\"");
    }
  }
  if (to.users.empty() == to.policy_id.empty()) {
    return Fail(errc::kBadRequest, "exactly one of users and escalationPolicy is required");
  }
  return to;
}

Outcome ReassignIncident(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto to = DecodeReassign(call);
  if (!to) return Fail(std::move(to.error()));
  const std::string id(call.params[0]);
  const JsonObject actor = api::CallerOf(call.request);
  PagingCounts counts;
  auto st = Durably(engine, [&](Tx& tx) {
    return (*pager)->Reassign(tx, id, *to, actor, (*pager)->Now(), &counts);
  });
  if (!st) return Fail(st.error());
  (*pager)->Count(counts);
  (*pager)->Wake();
  return JsonReply("{\"status\":\"reassigned\"}");
}

// ---- action links -------------------------------------------------------------------------------

// A small page (no scripts, nothing fetched): what the link does and one button.
Reply Page(int status, std::string_view title, std::string_view text, std::string_view form = "") {
  std::string body =
      "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
      "content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>" +
      HtmlEscape(title) +
      "</title><style>body{font:16px system-ui,sans-serif;max-width:36em;margin:3em auto;"
      "padding:0 1em}button{font-size:1.1em;padding:.5em 1.2em}</style></head><body><h1>" +
      HtmlEscape(title) + "</h1><p>" + HtmlEscape(text) + "</p>" + std::string(form) +
      "</body></html>";
  Reply r{status, std::move(body)};
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
  return r;
}

Reply ErrorPage(const Error& e) {
  const int status = HttpStatusFor(e);
  if (status == 410)
    return Page(410, "Link expired",
                "This link has expired. Open the incident in opsorch instead.");
  if (status == 409) return Page(409, "Already done", e.message);
  if (status == 404) return Page(404, "Not found", e.message);
  if (status == 403) return Page(403, "Link not valid", "This link is not valid.");
  return Page(status >= 500 ? 500 : status, "Something went wrong",
              status >= 500 ? "The action could not be carried out; please try again." : e.message);
}

struct LinkContext {
  LinkClaims claims;
  NotificationRow notification;
  IncidentRow incident;
};

Result<LinkContext> CheckLink(Engine& engine, Pager& pager, std::string_view token) {
  auto claims = pager.VerifyLink(token);
  if (!claims) return Fail(std::move(claims.error()));
  auto n = engine.store().Notification(claims->notification_seq);
  if (!n) return Fail(std::move(n.error()));
  // Signed by us but for something else: treated as forged.
  if (!*n || (*n)->incident_seq != claims->incident_seq || (*n)->person_id != claims->person) {
    return Fail(errc::kForbidden, "this link is not valid");
  }
  auto inc = engine.store().GetIncident(IncidentId(claims->incident_seq));
  if (!inc) return Fail(std::move(inc.error()));
  if (!*inc) return Fail(errc::kNotFound, "the incident no longer exists");
  if ((*n)->action_used_at != 0) {
    return Fail(errc::kConflict, "This link was already used; nothing more was changed.");
  }
  return LinkContext{std::move(*claims), std::move(**n), std::move(**inc)};
}

std::string_view Verb(std::string_view action) {
  return action == "acknowledge" ? "Acknowledge" : action == "resolve" ? "Resolve" : "Escalate";
}

Outcome ShowAction(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto ctx = CheckLink(engine, **pager, call.params[0]);
  if (!ctx) return ErrorPage(ctx.error());
  // GET never acts: mail scanners and link previews fetch links.
  const std::string title = std::string(Verb(ctx->claims.action)) + " " + ctx->incident.id + "?";
  return Page(200, title,
              ctx->incident.title + " (service " + ctx->incident.service_id + ", status " +
                  ctx->incident.status + ")",
              "<form method=\"post\"><button type=\"submit\">" +
                  std::string(Verb(ctx->claims.action)) + "</button></form>");
}

Outcome DoAction(Engine& engine, const Call& call) {
  auto pager = PagerOf(engine);
  if (!pager) return Fail(pager.error());
  auto ctx = CheckLink(engine, **pager, call.params[0]);
  if (!ctx) return ErrorPage(ctx.error());
  auto cat = (*pager)->Catalog();
  const Person* person = cat->FindPerson(ctx->claims.person);
  const JsonObject actor{{"type", "user"},
                         {"id", ctx->claims.person},
                         {"name", person != nullptr ? person->name : ctx->claims.person},
                         {"via", "action link"}};
  const std::string action = ctx->claims.action;
  std::string outcome;
  PagingCounts counts;
  auto st = Durably(engine, [&](Tx& tx) -> Status {
    outcome.clear();
    // Used once, in the same transaction as the change: two clicks cannot both act.
    auto n = tx.GetNotificationForUpdate(ctx->notification.seq);
    if (!n) return Fail(std::move(n.error()));
    if (!*n || (*n)->action_used_at != 0) {
      return Fail(errc::kConflict, "This link was already used; nothing more was changed.");
    }
    const std::int64_t now = (*pager)->Now();
    NotificationRow used = std::move(**n);
    used.action_used_at = now;
    used.updated_at = now;
    if (auto s2 = tx.UpdateNotification(used); !s2) return s2;
    if (action == "escalate") {
      if (auto s2 = (*pager)->EscalateNow(tx, ctx->incident.id, actor, now, &counts); !s2) {
        return s2;
      }
      outcome = "Escalated to the next level.";
      return Ok();
    }
    auto inc = tx.GetIncidentForUpdate(ctx->incident.id);
    if (!inc) return Fail(std::move(inc.error()));
    if (!*inc) return Fail(errc::kNotFound, "the incident no longer exists");
    IncidentRow row = std::move(**inc);
    const std::string to = action == "acknowledge" ? "acknowledged" : "resolved";
    if (row.status == to || row.status == "resolved") {
      return Fail(errc::kConflict, "The incident is already " + row.status + ".");
    }
    if (auto s2 = CheckTransition(row.status, to); !s2) return s2;
    const std::string from_label = StatusLabelOf(row);
    row.status = to;
    if (to == "acknowledged" && row.acknowledged_at == 0) row.acknowledged_at = now;
    if (to == "resolved") row.resolved_at = now;
    row.updated_at = now;
    SetLabels(row, ParseStatusWord(to), std::nullopt);
    if (auto s2 = tx.UpdateIncident(row); !s2) return s2;
    TimelineRow e{"",
                  row.id,
                  now,
                  to,
                  "Status changed from " + from_label + " to " + to,
                  actor,
                  JsonObject{{"from", from_label}, {"to", to}, {"via", "action link"}}};
    if (auto s2 = tx.AppendTimeline(e); !s2) return s2;
    if (auto s2 = (*pager)->OnIncidentChange(tx, row.id, row.service_id, to, now, &counts); !s2) {
      return s2;
    }
    outcome = to == "acknowledged" ? "Acknowledged. Escalation has stopped."
                                   : "Resolved. Escalation has stopped.";
    return Ok();
  });
  if (!st) return ErrorPage(st.error());
  (*pager)->Count(counts);
  (*pager)->Wake();
  return Page(200, "Done", ctx->incident.id + ": " + outcome);
}

// ---- the demo's sink -------------------------------------------------------------------------

// Prints each page the demo's people receive (`make run`), after checking its Standard Webhooks
// signature with the demo secret: what a real receiver would do.
void DemoSink(Call& call, api::Respond respond) {
  const auto& req = call.request;
  const std::string id(req.Header("webhook-id"));
  const std::string ts(req.Header("webhook-timestamp"));
  auto key = notify::DecodeWebhookSecret(kDemoSinkSecret);
  const std::string want =
      key ? notify::SignWebhook(*key, id, std::atoll(ts.c_str()), req.body) : "";
  if (id.empty() || want.empty() || !ConstantTimeEquals(req.Header("webhook-signature"), want)) {
    return respond(Fail(errc::kForbidden, "webhook signature does not verify"));
  }
  auto body = ParseJson(req.body);
  std::string line = "demo sink: page for " + std::string(call.params[0]);
  if (body && body->is_object()) {
    const JsonObject& o = body->get_object();
    const auto text = [](const JsonObject* obj, std::string_view key) -> std::string {
      const JsonValue* v = obj != nullptr ? obj->if_contains(key) : nullptr;
      return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    const JsonValue* inc = o.if_contains("incident");
    const JsonValue* actions = o.if_contains("actions");
    const JsonObject* inc_obj = inc != nullptr ? inc->if_object() : nullptr;
    const JsonObject* act_obj = actions != nullptr ? actions->if_object() : nullptr;
    if (!text(inc_obj, "id").empty()) {
      line += ": " + text(inc_obj, "id") + " \"" + text(inc_obj, "title") + "\"";
    }
    if (!text(act_obj, "acknowledge").empty()) {
      line += "\n  acknowledge: POST " + text(act_obj, "acknowledge");
    }
  }
  log::Info(line.substr(0, line.find('\n')), {{"webhook_id", id}});
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  respond(Reply{204, {}, ""});
}

}  // namespace

api::RouteTable DemoSinkRoutes() {
  return {api::Route{.method = Method::kPost,
                     .pattern = "/demo/sink/{name}",
                     .auth = api::Auth::kSignedLink,
                     .body_limit = 256 * 1024,
                     .handler = &DemoSink,
                     .summary = "The demo's page receiver (prints what it receives; demo only)",
                     .request_type = "object",
                     .success_status = 204}};
}

api::RouteTable PagingRoutes(const EngineRoutesContext& ctx) {
  const auto row = [&](Method m, std::string_view pattern, std::string_view audit, EngineFn fn,
                       std::string_view summary, std::string_view request_type,
                       std::string_view response_type, int status = 200) {
    return AdminRow(ctx.engine, m, pattern, audit, fn, summary, request_type, response_type,
                    status);
  };
  api::RouteTable t = {
      row(Method::kGet, "/admin/users", "", &ListUsers, "People who can be paged (paged list)", "",
          "Users"),
      row(Method::kGet, "/admin/users/{id}", "", &GetUser, "A person (secrets left out)", "",
          "User"),
      row(Method::kPut, "/admin/users/{id}", "admin.user.upserted", &PutUser,
          "Create or replace a person with contact methods and notification rules", "UserInput",
          "User"),
      row(Method::kDelete, "/admin/users/{id}", "admin.user.deleted", &DeleteUser,
          "Delete a person no schedule or policy names", "", "", 204),
      row(Method::kPost, "/admin/users/{id}/test", "admin.user.tested", &TestUser,
          "Send a test message to each of the person's contact methods now", "", "TestOutcomes"),
      row(Method::kGet, "/admin/users/{id}/oncall.ics", "", &UserCalendar,
          "The person's on-call shifts as iCalendar", "", ""),
      row(Method::kPost, "/admin/users/{id}/calendar-link", "admin.calendar.linked",
          &UserCalendarLink, "A subscribable (signed) URL of the person's shifts", "", "object"),
      row(Method::kGet, "/admin/schedules", "", &ListSchedules, "On-call schedules (paged)", "",
          "Schedules"),
      row(Method::kGet, "/admin/schedules/{id}", "", &GetSchedule,
          "A schedule; with since/until also its final schedule and rendered layers", "",
          "Schedule"),
      row(Method::kPut, "/admin/schedules/{id}", "admin.schedule.upserted", &PutSchedule,
          "Create or replace a schedule (its overrides are kept)", "ScheduleInput", "Schedule"),
      row(Method::kDelete, "/admin/schedules/{id}", "admin.schedule.deleted", &DeleteSchedule,
          "Delete a schedule no policy names (with its overrides)", "", "", 204),
      row(Method::kGet, "/admin/schedules/{id}/overrides", "", &ListOverrides,
          "A schedule's overrides within since/until", "", "Overrides"),
      row(Method::kPost, "/admin/schedules/{id}/overrides", "admin.override.created", &AddOverride,
          "Add an override (it beats every layer)", "OverrideInput", "Override", 201),
      row(Method::kDelete, "/admin/schedules/{id}/overrides/{override}", "admin.override.deleted",
          &DeleteOverride, "Delete an override", "", "", 204),
      row(Method::kGet, "/admin/schedules/{id}/calendar.ics", "", &ScheduleCalendar,
          "The final schedule as iCalendar (a week back, six months ahead)", "", ""),
      row(Method::kPost, "/admin/schedules/{id}/calendar-link", "admin.calendar.linked",
          &ScheduleCalendarLink, "A subscribable (signed) URL of the schedule", "", "object"),
      row(Method::kGet, "/admin/escalation-policies", "", &ListPolicies,
          "Escalation policies (paged)", "", "EscalationPolicies"),
      row(Method::kGet, "/admin/escalation-policies/{id}", "", &GetPolicy, "An escalation policy",
          "", "EscalationPolicy"),
      row(Method::kPut, "/admin/escalation-policies/{id}", "admin.policy.upserted", &PutPolicy,
          "Create or replace an escalation policy (running escalations keep their snapshot)",
          "EscalationPolicyInput", "EscalationPolicy"),
      row(Method::kDelete, "/admin/escalation-policies/{id}", "admin.policy.deleted", &DeletePolicy,
          "Delete a policy no service names", "", "", 204),
      row(Method::kPost, "/admin/incidents/{id}/escalate", "incident.escalated", &EscalateIncident,
          "Escalate now: the next level fires at once", "", "object"),
  };
  api::Route oncalls =
      row(Method::kGet, "/oncalls", "", &OnCalls,
          "Who is on call, per escalation policy and level (PagerDuty-like)", "", "OnCalls");
  oncalls.changes_config = false;
  t.push_back(std::move(oncalls));
  // Under the contract's /incidents prefix: rows of the incident capability, so the router
  // finds them where it looks for that prefix (the engine answers them whatever provider
  // serves incidents).
  api::Route notifications =
      row(Method::kGet, "/incidents/{id}/notifications", "", &IncidentNotifications,
          "The incident's notifications and their delivery state", "", "Notifications");
  notifications.changes_config = false;
  notifications.capability = providers::Capability::kIncident;
  t.push_back(std::move(notifications));
  api::Route escalate =
      row(Method::kPost, "/incidents/{id}/escalate", "incident.escalated", &EscalateIncident,
          "Escalate now: the next level fires at once", "", "object");
  escalate.capability = providers::Capability::kIncident;
  t.push_back(std::move(escalate));
  // Under /admin and under the contract's /incidents prefix; a body of at most 20 ids.
  for (const std::string_view pattern :
       {"/admin/incidents/{id}/reassign", "/incidents/{id}/reassign"}) {
    api::Route reassign =
        row(Method::kPost, pattern, "incident.reassigned", &ReassignIncident,
            "Reassign to people or an escalation policy: paged at once", "ReassignInput", "object");
    reassign.body_limit = 16 * 1024;
    if (pattern.starts_with("/incidents")) reassign.capability = providers::Capability::kIncident;
    t.push_back(std::move(reassign));
  }
  // The signed links: the token in the path is the credential (logged redacted). GET shows a
  // confirmation page; only POST acts.
  for (auto [m, fn, summary, audit] :
       {std::tuple{Method::kGet, &ShowAction, "Confirmation page of an action link", ""},
        std::tuple{Method::kPost, &DoAction,
                   "Carry out an action link (acknowledge, resolve, escalate)",
                   "incident.action_link"}}) {
    api::Route r = row(m, "/actions/{token}", audit, fn, summary, "", "");
    r.auth = api::Auth::kSignedLink;
    r.secret_path = true;
    r.changes_config = false;
    r.body_limit = 4096;
    r.handler = EngineHandler(ctx.engine, fn, false);
    t.push_back(std::move(r));
  }
  api::Route cal = row(Method::kGet, "/calendars/{token}", "", &SubscribedCalendar,
                       "A subscribed calendar (signed URL from calendar-link)", "", "");
  cal.auth = api::Auth::kSignedLink;
  cal.secret_path = true;
  cal.changes_config = false;
  cal.handler = EngineHandler(ctx.engine, &SubscribedCalendar, false);
  t.push_back(std::move(cal));
  return t;
}

}  // namespace opsorch::engine
