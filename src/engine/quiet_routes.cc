// Maintenance windows, recurring mute intervals and heartbeat monitors (docs/ALERTMANAGER.md):
// their admin rows, and the beat a cron job sends with curl.
#include <algorithm>
#include <memory>
#include <optional>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/routes.h>
#include <opsorch/log/log.h>

#include "engine/admin_util.h"
#include "engine/pager.h"
#include "engine/quiet.h"
#include "engine/suppression.h"

namespace opsorch::engine {
namespace {

using admin::BodyObject;
using admin::NoContent;
using admin::PagedList;
using api::Call;
using api::JsonReply;
using api::Outcome;
using http::Method;

constexpr std::int64_t kNs = 1'000'000'000;

Result<Quiet*> QuietOf(Engine& engine) {
  Quiet* q = engine.quiet();
  if (q == nullptr) {
    return Fail(errc::kNotFound, "silences, maintenance and heartbeats need the engine's store");
  }
  return q;
}

JsonObject IntervalJson(const silence::TimeIntervalSet& set) {
  auto v = ParseJson(silence::EncodeTimeIntervalSet(set));
  return v && v->is_object() ? v->get_object() : JsonObject();
}

std::string Json(const JsonObject& o) {
  std::string out;
  AppendJsonObject(out, o);
  return out;
}

// A durable write through the engine's writer (the jobs and live rows it touches are the
// writer's), with the quiet snapshot current.
Status Write(Engine& engine, std::function<Status(Tx&, const QuietEnv&, QuietEffects&)> fn) {
  Quiet* quiet = engine.quiet();
  auto counts = std::make_shared<PagingCounts>();
  auto work = std::make_shared<bool>(false);
  Status st = Pager::SubmitAndWait(
      [&engine](std::function<Status(Tx&)> w, std::function<void(Status)> done) {
        engine.Submit(std::move(w), std::move(done));
      },
      [&engine, quiet, fn, counts, work](Tx& tx) {
        *counts = PagingCounts{};
        const auto q = quiet->Snapshot();
        const QuietEnv env{*q, engine.rules(), engine.pager()};
        QuietEffects fx;
        fx.counts = counts.get();
        Status s = fn(tx, env, fx);
        *work = fx.paging_work;
        return s;
      });
  if (st && engine.pager() != nullptr) {
    engine.pager()->Count(*counts);
    if (*work) engine.pager()->Wake();
  }
  return st;
}

bool ServiceExists(Engine& engine, std::string_view id) {
  auto services = engine.store().Services();
  if (!services) return false;
  return std::any_of(services->begin(), services->end(),
                     [&](const ServiceRow& s) { return s.id == id; });
}

// ---- maintenance windows ------------------------------------------------------------------------

std::string_view WindowState(const MaintenanceWindow& w, std::int64_t now) {
  if (now < w.start) return "future";
  if (now >= w.end) return "past";
  return "ongoing";
}

std::string WindowJson(const MaintenanceWindow& w, std::int64_t now) {
  JsonObject o = WindowToJson(w);
  o["state"] = WindowState(w, now);
  return Json(o);
}

Outcome ListWindows(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  std::string filter = call.Query("filter");
  if (filter.empty()) filter = "all";
  if (filter != "all" && filter != "ongoing" && filter != "future" && filter != "past" &&
      filter != "open") {
    return Fail(errc::kBadRequest, "filter: must be one of ongoing, future, past, open, all");
  }
  const std::string service = call.Query("service");
  const std::int64_t now = engine.Now();
  std::vector<MaintenanceWindow> out;
  for (const auto& w : (*quiet)->Snapshot()->windows) {
    const std::string_view state = WindowState(w, now);
    const bool keep = filter == "all" || state == filter || (filter == "open" && state != "past");
    if (!keep) continue;
    if (!service.empty() &&
        std::find(w.services.begin(), w.services.end(), service) == w.services.end()) {
      continue;
    }
    out.push_back(w);
  }
  return PagedList(
      std::move(out), call, [](const MaintenanceWindow& w) { return w.id; },
      [now](std::string& s, const MaintenanceWindow& w) { s += WindowJson(w, now); });
}

Outcome GetWindow(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  for (const auto& w : (*quiet)->Snapshot()->windows) {
    if (w.id == call.params[0]) return JsonReply(WindowJson(w, engine.Now()));
  }
  return Fail(errc::kNotFound, "maintenance window " + std::string(call.params[0]) + " not found");
}

Outcome PutWindow(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"startTime", "endTime", "description", "services", "createdBy"});
  MaintenanceWindow w;
  w.id = std::string(call.params[0]);
  const std::int64_t now = engine.Now();
  auto time_of = [&](std::string_view key) -> std::int64_t {
    const std::string text = r.Str(key, true);
    if (text.empty()) return 0;
    auto t = ParseRfc3339(text);
    if (!t || !t->UnixNanosChecked()) {
      r.Error(key, "must be an RFC 3339 time");
      return 0;
    }
    return t->UnixNanos();
  };
  w.start = time_of("startTime");
  w.end = time_of("endTime");
  w.description = r.Str("description");
  if (w.description.size() > 1024) r.Error("description", "at most 1024 bytes");
  w.created_by = r.Str("createdBy");
  if (w.created_by.size() > 256) r.Error("createdBy", "at most 256 bytes");
  if (const JsonArray* services = r.Array("services")) {
    if (services->empty() || services->size() > 100) r.Error("services", "1 to 100 service ids");
    for (const auto& v : *services) {
      if (!v.is_string() || !admin::ValidId(std::string_view(v.get_string()))) {
        r.Error("services", "must be service ids");
        break;
      }
      w.services.emplace_back(v.get_string());
    }
  } else {
    r.Error("services", "is required (1 to 100 service ids)");
  }
  if (st && w.end <= w.start) r.Error("endTime", "must be after startTime");
  if (st && w.end <= now) r.Error("endTime", "must be in the future");
  if (st) {
    for (const auto& s : w.services) {
      if (!ServiceExists(engine, s)) {
        r.Error("services", "unknown service \"" + s + "\"");
        break;
      }
    }
  }
  if (!st) return Fail(st.error());
  // PagerDuty: a start in the past becomes now.
  w.start = std::max(w.start, std::min(now, w.end));
  w.updated_at = now;
  JsonObject doc = WindowToJson(w);
  if (auto s = engine.store().PutDoc(
          CatalogDoc{std::string(kMaintenanceDoc), w.id, "", doc, Time::Now().UnixNanos()});
      !s) {
    return Fail(s.error());
  }
  if (auto s = (*quiet)->Reload(); !s) return Fail(s.error());
  return JsonReply(WindowJson(w, now));
}

Outcome DeleteWindow(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const auto q = (*quiet)->Snapshot();
  const bool exists =
      std::any_of(q->windows.begin(), q->windows.end(),
                  [&](const MaintenanceWindow& w) { return w.id == call.params[0]; });
  if (!exists) {
    return Fail(errc::kNotFound,
                "maintenance window " + std::string(call.params[0]) + " not found");
  }
  if (auto s = engine.store().DeleteDoc(kMaintenanceDoc, call.params[0]); !s)
    return Fail(s.error());
  if (auto s = (*quiet)->Reload(); !s) return Fail(s.error());
  return NoContent();
}

// ---- time intervals -----------------------------------------------------------------------------

Outcome ListIntervals(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const auto q = (*quiet)->Snapshot();
  std::vector<std::pair<std::string, const silence::TimeIntervalSet*>> all;
  for (const auto& [name, set] : q->intervals) all.emplace_back(name, &set);
  return PagedList(
      std::move(all), call, [](const auto& e) { return e.first; },
      [](std::string& s, const auto& e) {
        JsonObject o = IntervalJson(*e.second);
        o["name"] = e.first;
        s += Json(o);
      });
}

Outcome GetInterval(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const auto q = (*quiet)->Snapshot();
  const auto it = q->intervals.find(std::string(call.params[0]));
  if (it == q->intervals.end()) {
    return Fail(errc::kNotFound, "time interval " + std::string(call.params[0]) + " not found");
  }
  JsonObject o = IntervalJson(it->second);
  o["name"] = it->first;
  o["active"] = silence::Contains(it->second, engine.Now());
  return JsonReply(Json(o));
}

Outcome PutInterval(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  auto parsed = ParseJson(call.request.body);
  if (!parsed) return Fail(parsed.error());
  if (!parsed->is_object()) return Fail(errc::kBadRequest, "request body must be a JSON object");
  JsonObject body = parsed->get_object();
  const std::string name(call.params[0]);
  if (const JsonValue* n = body.if_contains("name");
      n != nullptr && (!n->is_string() || n->get_string() != name)) {
    return Fail(errc::kBadRequest, "name: must be the path's name \"" + name + "\" (or left out)");
  }
  body["name"] = name;
  auto set = silence::DecodeTimeIntervalSet(JsonValue(body));
  if (!set) {
    Error e(errc::kBadRequest, {});
    for (const auto& f : set.error()) {
      e.details.push_back(f.field.empty() ? f.message : f.field + ": " + f.message);
    }
    e.message = e.details.empty() ? "invalid time interval" : e.details.front();
    return Fail(std::move(e));
  }
  JsonObject doc = IntervalJson(*set);
  if (auto s = engine.store().PutDoc(CatalogDoc{std::string(kTimeIntervalDoc),
                                                std::string(call.params[0]), "", doc,
                                                Time::Now().UnixNanos()});
      !s) {
    return Fail(s.error());
  }
  if (auto s = (*quiet)->Reload(); !s) return Fail(s.error());
  doc["name"] = std::string(call.params[0]);
  return JsonReply(Json(doc));
}

Outcome DeleteInterval(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const auto q = (*quiet)->Snapshot();
  const std::string name(call.params[0]);
  if (q->intervals.find(name) == q->intervals.end()) {
    return Fail(errc::kNotFound, "time interval " + name + " not found");
  }
  auto services = engine.store().Services();
  if (!services) return Fail(services.error());
  for (const auto& s : *services) {
    if (std::find(s.mute_intervals.begin(), s.mute_intervals.end(), name) !=
        s.mute_intervals.end()) {
      return Fail(errc::kConflict, "time interval " + name + " is used by service " + s.id);
    }
  }
  if (auto s = engine.store().DeleteDoc(kTimeIntervalDoc, name); !s) return Fail(s.error());
  if (auto s = (*quiet)->Reload(); !s) return Fail(s.error());
  return NoContent();
}

// ---- heartbeats ---------------------------------------------------------------------------------

std::string HeartbeatApiJson(Engine& engine, const Heartbeat& h, const std::string* key) {
  JsonObject o{{"id", h.id},
               {"name", h.name},
               {"service", h.service_id},
               {"intervalSeconds", h.interval_s},
               {"graceSeconds", h.grace_s},
               {"severity", h.severity},
               {"keyPrefix", h.key_prefix}};
  auto row = engine.store().Live(kBeatRow, "", false, 0);
  o["state"] = "waiting";
  if (row) {
    for (const auto& r : *row) {
      if (r.id != h.id) continue;
      const JsonValue* state = r.body.if_contains("state");
      const JsonValue* last = r.body.if_contains("lastBeatAt");
      const std::int64_t last_ns = last != nullptr && last->is_int64() ? last->get_int64() : 0;
      o["state"] = state != nullptr && state->is_string() && state->get_string() == "down"
                       ? "down"
                       : (last_ns > 0 ? "up" : "waiting");
      o["lastBeatAt"] = last_ns > 0 ? JsonValue(FormatRfc3339Nano(Time::FromUnixNanos(last_ns)))
                                    : JsonValue(nullptr);
      o["nextDeadline"] = r.due_at > 0 ? JsonValue(FormatRfc3339Nano(Time::FromUnixNanos(r.due_at)))
                                       : JsonValue(nullptr);
    }
  }
  if (key != nullptr) {
    o["key"] = *key;  // shown once, when made
    o["beatPath"] = "/heartbeats/" + h.id + "/" + *key;
  }
  return Json(o);
}

Outcome ListHeartbeats(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  std::vector<Heartbeat> all;
  for (const auto& [id, h] : (*quiet)->Snapshot()->heartbeats) all.push_back(h);
  return PagedList(
      std::move(all), call, [](const Heartbeat& h) { return h.id; },
      [&engine](std::string& s, const Heartbeat& h) { s += HeartbeatApiJson(engine, h, nullptr); });
}

Outcome GetHeartbeat(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const auto q = (*quiet)->Snapshot();
  const auto it = q->heartbeats.find(std::string(call.params[0]));
  if (it == q->heartbeats.end()) {
    return Fail(errc::kNotFound, "heartbeat " + std::string(call.params[0]) + " not found");
  }
  return JsonReply(HeartbeatApiJson(engine, it->second, nullptr));
}

Outcome PutHeartbeat(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  if (engine.pager() == nullptr) {
    return Fail(errc::kNotFound, "heartbeats need paging (the runner that notices misses)");
  }
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"name", "service", "intervalSeconds", "graceSeconds", "severity", "rotateKey"});
  Heartbeat h;
  h.id = std::string(call.params[0]);
  if (h.id.size() > 64) r.Error("id", "at most 64 characters");
  h.name = r.Str("name");
  if (h.name.size() > 256) r.Error("name", "at most 256 bytes");
  h.service_id = r.Str("service", true);
  h.interval_s = r.PositiveInt("intervalSeconds", 0);
  if (st && (h.interval_s < 10 || h.interval_s > 31LL * 24 * 3600)) {
    r.Error("intervalSeconds", "is required: 10 to 2678400 seconds");
  }
  if (const JsonValue* g = body->if_contains("graceSeconds"); g != nullptr && !g->is_null()) {
    if (!g->is_int64() || g->get_int64() < 0 || g->get_int64() > 7LL * 24 * 3600) {
      r.Error("graceSeconds", "must be 0 to 604800 seconds");
    } else {
      h.grace_s = g->get_int64();
    }
  }
  h.severity = r.Str("severity");
  if (h.severity.empty()) h.severity = "critical";
  if (st && !ParseSeverity(h.severity)) {
    r.Error("severity", "must be one of critical, error, warning, info");
  }
  const bool rotate = r.Bool("rotateKey", false);
  if (st && !ServiceExists(engine, h.service_id)) {
    r.Error("service", "unknown service \"" + h.service_id + "\"");
  }
  if (!st) return Fail(st.error());
  // The stored monitor, not this node's snapshot: one made on another node a moment ago keeps
  // its key (a new key would make every beat of the cron job a 401, then a false miss).
  std::optional<Heartbeat> existing;
  auto docs = engine.store().Docs(kHeartbeatDoc);
  if (!docs) return Fail(docs.error());
  for (const auto& d : *docs) {
    if (d.id != h.id) continue;
    if (auto stored = HeartbeatFromJson(d.body)) existing = std::move(*stored);
  }
  std::string key;
  if (!existing || rotate) {
    key = Engine::NewKey();
    h.key_hash = Engine::HashKey(key);
    h.key_prefix = key.substr(0, 6);
  } else {
    h.key_hash = existing->key_hash;
    h.key_prefix = existing->key_prefix;
  }
  const std::int64_t now = engine.Now();
  h.updated_at = now;
  if (auto s = engine.store().PutDoc(CatalogDoc{std::string(kHeartbeatDoc), h.id, "",
                                                HeartbeatToJson(h), Time::Now().UnixNanos()});
      !s) {
    return Fail(s.error());
  }
  if (auto s = (*quiet)->Reload(); !s) return Fail(s.error());
  if (auto s = Write(engine, [h, now](Tx& tx, const QuietEnv&,
                                      QuietEffects&) { return ArmHeartbeat(tx, h, now); });
      !s) {
    return Fail(s.error());
  }
  if (engine.pager() != nullptr) engine.pager()->Wake();
  return JsonReply(HeartbeatApiJson(engine, h, key.empty() ? nullptr : &key));
}

Outcome DeleteHeartbeat(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const std::string id(call.params[0]);
  if ((*quiet)->Snapshot()->heartbeats.count(id) == 0) {
    return Fail(errc::kNotFound, "heartbeat " + id + " not found");
  }
  if (auto s = engine.store().DeleteDoc(kHeartbeatDoc, id); !s) return Fail(s.error());
  if (auto s = (*quiet)->Reload(); !s) return Fail(s.error());
  if (auto s = Write(engine, [id](Tx& tx, const QuietEnv&,
                                  QuietEffects&) { return tx.DeleteLive(kBeatRow, "", id); });
      !s) {
    return Fail(s.error());
  }
  return NoContent();
}

// GET or POST /heartbeats/{id}/{key}: the key is the credential (a wrong one and an unknown
// monitor get the same answer).
Outcome BeatNow(Engine& engine, const Call& call) {
  auto quiet = QuietOf(engine);
  if (!quiet) return Fail(quiet.error());
  const auto q = (*quiet)->Snapshot();
  const auto it = q->heartbeats.find(std::string(call.params[0]));
  const std::string hash = Engine::HashKey(call.params[1]);
  if (it == q->heartbeats.end() || !ConstantTimeEquals(hash, it->second.key_hash)) {
    log::Warn("heartbeat refused", {{"remote", call.request.remote_address},
                                    {"reason", "unknown heartbeat or wrong key"}});
    return Fail(errc::kUnauthorized, "unknown heartbeat or wrong key");
  }
  const Heartbeat h = it->second;
  const std::int64_t now = engine.Now();
  if (auto s = Write(engine, [h, now](Tx& tx, const QuietEnv& env,
                                      QuietEffects& fx) { return Beat(tx, h, now, env, fx); });
      !s) {
    return Fail(s.error());
  }
  return JsonReply(R"({"status":"ok"})");
}

}  // namespace

api::RouteTable QuietRoutes(const EngineRoutesContext& ctx) {
  using admin::AdminRow;
  const auto row = [&ctx](Method m, std::string_view pattern, std::string_view audit,
                          admin::EngineFn fn, std::string_view summary,
                          std::string_view request_type, std::string_view response_type,
                          int status = 200) {
    return AdminRow(ctx.engine, m, pattern, audit, fn, summary, request_type, response_type,
                    status);
  };
  api::RouteTable t = {
      row(Method::kGet, "/admin/maintenance-windows", "", &ListWindows,
          "Maintenance windows (?filter=ongoing|future|past|open|all, ?service=)", "",
          "MaintenanceWindows"),
      row(Method::kGet, "/admin/maintenance-windows/{id}", "", &GetWindow, "A maintenance window",
          "", "MaintenanceWindow"),
      row(Method::kPut, "/admin/maintenance-windows/{id}", "admin.maintenance.upserted", &PutWindow,
          "Create or replace a maintenance window (its services page nobody)",
          "MaintenanceWindowInput", "MaintenanceWindow"),
      row(Method::kDelete, "/admin/maintenance-windows/{id}", "admin.maintenance.deleted",
          &DeleteWindow, "Delete a maintenance window", "", "", 204),
      row(Method::kGet, "/admin/time-intervals", "", &ListIntervals,
          "Recurring mute intervals (Alertmanager time_intervals)", "", "TimeIntervals"),
      row(Method::kGet, "/admin/time-intervals/{id}", "", &GetInterval, "A mute interval", "",
          "TimeInterval"),
      row(Method::kPut, "/admin/time-intervals/{id}", "admin.time_interval.upserted", &PutInterval,
          "Create or replace a recurring mute interval", "TimeIntervalInput", "TimeInterval"),
      row(Method::kDelete, "/admin/time-intervals/{id}", "admin.time_interval.deleted",
          &DeleteInterval, "Delete a mute interval no service names", "", "", 204),
      row(Method::kGet, "/admin/heartbeats", "", &ListHeartbeats, "Heartbeat monitors", "",
          "Heartbeats"),
      row(Method::kGet, "/admin/heartbeats/{id}", "", &GetHeartbeat, "A heartbeat monitor", "",
          "Heartbeat"),
      row(Method::kPut, "/admin/heartbeats/{id}", "admin.heartbeat.upserted", &PutHeartbeat,
          "Create or change a heartbeat monitor (the beat key is shown when made or rotated)",
          "HeartbeatInput", "Heartbeat"),
      row(Method::kDelete, "/admin/heartbeats/{id}", "admin.heartbeat.deleted", &DeleteHeartbeat,
          "Delete a heartbeat monitor", "", "", 204),
  };
  for (Method m : {Method::kGet, Method::kPost}) {
    api::Route beat =
        row(m, "/heartbeats/{id}/{key}", "", &BeatNow,
            "A heartbeat monitor's beat (the key in the path is its credential)", "", "object");
    beat.auth = api::Auth::kIntegrationKey;
    beat.secret_path = true;
    beat.changes_config = false;
    beat.body_limit = 4096;
    beat.handler = admin::EngineHandler(ctx.engine, &BeatNow, false);
    t.push_back(std::move(beat));
  }
  return t;
}

}  // namespace opsorch::engine
