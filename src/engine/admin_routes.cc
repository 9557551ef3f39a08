#include "engine/admin_routes.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>
#include <opsorch/providers/interfaces.h>

#include "engine/sla.h"

namespace opsorch::engine {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::ResponseCallback;

constexpr std::string_view kAdmin = "/admin/";
constexpr std::string_view kSla = "/analytics/sla";
constexpr std::int64_t kSecond = 1'000'000'000;

Response Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  r.body.push_back('\n');
  return r;
}

Response ErrorResponse(const Error& e) {
  if (IsInternalFailure(e.code)) {
    log::Error("admin API error: code=" + std::string(WireCode(e)) + ", message=" + e.message);
  }
  return Json(HttpStatusFor(e.code), ErrorBody(WireCode(e), ClientMessage(e)));
}

Response NoContent() {
  Response r;
  r.status = 204;
  return r;
}

// Ids in paths: letters, digits, '.', '_', '-', '@' (member ids are often emails), 1..128.
bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  });
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string QueryParam(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    std::string decoded;
    if (eq == std::string_view::npos) return {};
    if (!PercentDecode(pair.substr(eq + 1), decoded)) return {};
    return decoded;
  }
  return {};
}

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
  out.push_back('}');
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

template <class T, class F>
std::string List(const std::vector<T>& items, F append) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    append(out, items[i]);
  }
  out.push_back(']');
  return out;
}

// A page of an admin list, ordered by `key` (?limit=, default 100, at most 1000; ?after=<key
// of the last row>), with the paging headers when it continues.
template <class T, class Key, class F>
Response PagedList(std::vector<T> items, const Request& req, Key key, F append) {
  std::int64_t limit = 0;
  if (const std::string text = QueryParam(req.target, "limit"); !text.empty()) {
    auto r = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || limit <= 0) {
      return ErrorResponse(MakeError(errc::kBadRequest, "limit: must be a positive integer"));
    }
  }
  const auto size = static_cast<std::size_t>(providers::PageSize(limit));
  const std::string after = QueryParam(req.target, "after");
  std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  std::vector<T> page;
  std::string next;
  for (auto& item : items) {
    if (!after.empty() && key(item) <= after) continue;
    if (page.size() == size) {
      next = key(page.back());
      break;
    }
    page.push_back(std::move(item));
  }
  Response r = Json(200, List(page, append));
  if (!next.empty()) api::AddNextPageHeaders(r, req.target, next);
  return r;
}

Result<JsonObject> BodyObject(const Request& req) {
  auto v = ParseJson(req.body);
  if (!v) return Fail(std::move(v.error()));
  if (!v->is_object()) return Fail(errc::kBadRequest, "request body must be a JSON object");
  return std::move(v->get_object());
}

class AdminRoutes final : public api::RouteExtension {
 public:
  explicit AdminRoutes(std::function<Engine*()> engine) : engine_(std::move(engine)) {}

  bool Serves(std::string_view path) const override {
    return path.starts_with(kAdmin) || path == kSla;
  }
  bool NeedsBearer(std::string_view) const override { return true; }
  bool Blocking(std::string_view) const override { return true; }

  void Handle(const Request& req, std::string_view path, const std::string& request_id,
              ResponseCallback done) override {
    Engine* engine = engine_();
    if (engine == nullptr) {
      return done(ErrorResponse(MakeError(
          errc::kNotFound,
          "the incident engine is not enabled: configure a capability with the local provider")));
    }
    Response r = path == kSla ? Sla(*engine, req)
                              : Admin(*engine, req, path.substr(kAdmin.size()), request_id);
    done(std::move(r));
  }

 private:
  static Response Sla(Engine& engine, const Request& req) {
    if (req.method != Method::kGet) {
      return ErrorResponse(MakeError(errc::kBadRequest, "use GET"));
    }
    const std::int64_t now = Time::Now().UnixNanos();
    SlaQuery q;
    q.end = now;
    q.start = now - 7 * 86400 * kSecond;
    for (auto [name, out] : {std::pair<std::string_view, std::int64_t*>{"start", &q.start},
                             std::pair<std::string_view, std::int64_t*>{"end", &q.end}}) {
      const std::string v = QueryParam(req.target, name);
      if (v.empty()) continue;
      auto t = ParseRfc3339(v);
      if (!t) {
        return ErrorResponse(MakeError(
            errc::kBadRequest,
            std::string(name) + ": must be an RFC 3339 time (" + t.error().message + ")"));
      }
      auto ns = t->UnixNanosChecked();
      if (!ns) {
        return ErrorResponse(
            MakeError(errc::kBadRequest, std::string(name) + ": " + std::string(Time::kNanosRange)));
      }
      *out = *ns;
    }
    if (q.start >= q.end) {
      return ErrorResponse(MakeError(errc::kBadRequest, "start must be before end"));
    }
    q.service = QueryParam(req.target, "service");
    q.team = QueryParam(req.target, "team");
    auto report = engine.Sla(q);
    if (!report) return ErrorResponse(report.error());
    if (req.Header("Accept").find("text/csv") != std::string_view::npos) {
      Response r;
      r.status = 200;
      r.content_type = "text/csv; charset=utf-8";
      r.body = SlaCsv(*report);
      return r;
    }
    return Json(200, SlaJson(*report));
  }

  static Response Admin(Engine& engine, const Request& req, std::string_view rest,
                        const std::string& request_id) {
    Store& store = engine.store();
    const auto seg = Segments(rest);
    const Method m = req.method;
    auto audit = [&](std::string_view action) { api::Audit(req, request_id, action); };
    for (std::size_t i = 1; i < seg.size(); ++i) {
      if (!ValidId(seg[i]) && !(i == 2 && (seg[i] == "integrations" || seg[i] == "members"))) {
        return ErrorResponse(
            MakeError(errc::kBadRequest,
                      "invalid id in path: use 1-128 letters, digits, '.', '_', '-' or '@'"));
      }
    }

    if (seg.size() == 1 && seg[0] == "services" && m == Method::kGet) {
      auto all = store.Services();
      if (!all) return ErrorResponse(all.error());
      return PagedList(
          std::move(*all), req, [](const ServiceRow& r) { return r.id; }, AppendService);
    }
    if (seg.size() == 2 && seg[0] == "services") {
      const std::string id(seg[1]);
      if (m == Method::kGet) {
        auto all = store.Services();
        if (!all) return ErrorResponse(all.error());
        for (const auto& s : *all) {
          if (s.id == id) {
            std::string out;
            AppendService(out, s);
            return Json(200, std::move(out));
          }
        }
        return ErrorResponse(MakeError(errc::kNotFound, "service " + id + " not found"));
      }
      if (m == Method::kPut) {
        auto body = BodyObject(req);
        if (!body) return ErrorResponse(body.error());
        Status st = Ok();
        const FieldReader r{*body, "", &st};
        r.OnlyKnown(
            {"name", "description", "team", "ackTargetMinutes", "resolveTargetMinutes", "tags"});
        ServiceRow row;
        row.id = id;
        row.name = r.Str("name", true);
        row.description = r.Str("description");
        row.team_id = r.Str("team");
        row.ack_target_s = r.PositiveInt("ackTargetMinutes", 15) * 60;
        row.resolve_target_s = r.PositiveInt("resolveTargetMinutes", 120) * 60;
        row.tags = r.StringMap("tags");
        row.created_at = Time::Now().UnixNanos();
        if (!st) return ErrorResponse(st.error());
        if (auto w = store.UpsertService(row); !w) return ErrorResponse(w.error());
        audit("admin.service.upserted");
        std::string out;
        AppendService(out, row);
        return Json(200, std::move(out));
      }
      if (m == Method::kDelete) {
        auto integrations = store.Integrations(id);
        if (!integrations) return ErrorResponse(integrations.error());
        for (const auto& i : *integrations) {
          if (i.revoked_at == 0) {
            return ErrorResponse(MakeError(
                errc::kConflict, "service " + id + " has active integrations; revoke them first"));
          }
        }
        if (auto w = store.DeleteService(id); !w) return ErrorResponse(w.error());
        audit("admin.service.deleted");
        return NoContent();
      }
    }
    if (seg.size() == 3 && seg[0] == "services" && seg[2] == "integrations") {
      const std::string service(seg[1]);
      if (m == Method::kGet) {
        auto all = store.Integrations(service);
        if (!all) return ErrorResponse(all.error());
        return PagedList(
            std::move(*all), req, [](const IntegrationRow& r) { return r.id; }, AppendIntegration);
      }
      if (m == Method::kPost) {
        auto services = store.Services();
        if (!services) return ErrorResponse(services.error());
        if (std::none_of(services->begin(), services->end(),
                         [&](const ServiceRow& s) { return s.id == service; })) {
          return ErrorResponse(MakeError(errc::kNotFound, "service " + service + " not found"));
        }
        auto body = req.body.empty() ? Result<JsonObject>(JsonObject()) : BodyObject(req);
        if (!body) return ErrorResponse(body.error());
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
        if (!st) return ErrorResponse(st.error());
        const std::string key = Engine::NewKey();
        row.id = "int-" + Engine::NewKey().substr(0, 12);
        row.key_hash = Engine::HashKey(key);
        row.key_prefix = key.substr(0, 6);
        row.created_at = Time::Now().UnixNanos();
        if (auto w = store.InsertIntegration(row); !w) return ErrorResponse(w.error());
        audit("admin.integration.created");
        // The key is returned once, here; only its hash is stored.
        std::string out;
        AppendIntegration(out, row);
        out.pop_back();
        out.append(",\"key\":");
        AppendJsonString(out, key);
        out.push_back('}');
        return Json(201, std::move(out));
      }
    }
    if (seg.size() == 2 && seg[0] == "integrations" && m == Method::kDelete) {
      if (auto w = store.RevokeIntegration(seg[1], Time::Now().UnixNanos()); !w) {
        return ErrorResponse(w.error());
      }
      engine.ForgetKeys();
      audit("admin.integration.revoked");
      return NoContent();
    }
    if (seg.size() == 1 && seg[0] == "teams" && m == Method::kGet) {
      auto all = store.Teams();
      if (!all) return ErrorResponse(all.error());
      return PagedList(std::move(*all), req, [](const TeamRow& r) { return r.id; }, AppendTeam);
    }
    if (seg.size() == 2 && seg[0] == "teams") {
      const std::string id(seg[1]);
      if (m == Method::kPut) {
        auto body = BodyObject(req);
        if (!body) return ErrorResponse(body.error());
        Status st = Ok();
        const FieldReader r{*body, "", &st};
        r.OnlyKnown({"name", "description", "parent"});
        TeamRow row{id, r.Str("name", true), r.Str("description"), r.Str("parent")};
        if (!st) return ErrorResponse(st.error());
        if (auto w = store.UpsertTeam(row); !w) return ErrorResponse(w.error());
        audit("admin.team.upserted");
        std::string out;
        AppendTeam(out, row);
        return Json(200, std::move(out));
      }
      if (m == Method::kDelete) {
        if (auto w = store.DeleteTeam(id); !w) return ErrorResponse(w.error());
        audit("admin.team.deleted");
        return NoContent();
      }
    }
    if (seg.size() == 3 && seg[0] == "teams" && seg[2] == "members" && m == Method::kGet) {
      auto all = store.Members(seg[1]);
      if (!all) return ErrorResponse(all.error());
      return PagedList(std::move(*all), req, [](const MemberRow& r) { return r.id; }, AppendMember);
    }
    if (seg.size() == 4 && seg[0] == "teams" && seg[2] == "members") {
      const std::string team(seg[1]), id(seg[3]);
      if (m == Method::kPut) {
        auto teams = store.Teams();
        if (!teams) return ErrorResponse(teams.error());
        if (std::none_of(teams->begin(), teams->end(),
                         [&](const TeamRow& t) { return t.id == team; })) {
          return ErrorResponse(MakeError(errc::kNotFound, "team " + team + " not found"));
        }
        auto body = BodyObject(req);
        if (!body) return ErrorResponse(body.error());
        Status st = Ok();
        const FieldReader r{*body, "", &st};
        r.OnlyKnown({"name", "email", "handle", "role"});
        MemberRow row{team, id, r.Str("name"), r.Str("email"), r.Str("handle"), r.Str("role")};
        if (!st) return ErrorResponse(st.error());
        if (auto w = store.UpsertMember(row); !w) return ErrorResponse(w.error());
        audit("admin.member.upserted");
        std::string out;
        AppendMember(out, row);
        return Json(200, std::move(out));
      }
      if (m == Method::kDelete) {
        if (auto w = store.DeleteMember(team, id); !w) return ErrorResponse(w.error());
        audit("admin.member.deleted");
        return NoContent();
      }
    }
    if (seg.size() == 2 && seg[0] == "retention" && seg[1] == "run" && m == Method::kPost) {
      auto n = engine.RunRetention();
      if (!n) return ErrorResponse(n.error());
      audit("admin.retention.run");
      return Json(200, "{\"deletedIncidents\":" + std::to_string(*n) + "}");
    }
    return ErrorResponse(
        MakeError(errc::kNotFound, "no admin route " + std::string(rest) + " for this method"));
  }

  std::function<Engine*()> engine_;
};

}  // namespace

std::shared_ptr<api::RouteExtension> MakeAdminRoutes(std::function<Engine*()> engine) {
  return std::make_shared<AdminRoutes>(std::move(engine));
}

}  // namespace opsorch::engine
