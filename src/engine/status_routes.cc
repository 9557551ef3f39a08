// Public status pages (docs/ALERTMANAGER.md, "Status pages"): their admin rows, the public
// updates responders post on an incident, and the public, read-only page itself at
// /status/{slug} (HTML), /status/{slug}.json and /status/{slug}.atom. Nothing but what is
// chosen for the public reaches a page: component names, states derived from open incidents
// (no titles), and the incidents that have public updates, with those updates only.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/routes.h>
#include <opsorch/engine/sla.h>
#include <opsorch/statuspage/status_page.h>

#include "engine/admin_util.h"
#include "engine/quiet.h"
#include "engine/status_pages.h"
#include "engine/store_schema.h"

namespace opsorch::engine {
namespace {

using admin::BodyObject;
using admin::NoContent;
using admin::PagedList;
using api::Call;
using api::JsonReply;
using api::Outcome;
using api::Reply;
using http::Method;
namespace sp = statuspage;

constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kDay = 24 * 3600 * kNs;
constexpr std::int64_t kRecentNs = 14 * kDay;  // resolved incidents shown this long
constexpr std::size_t kMaxServices = 50;

std::optional<sp::ComponentState> StateOf(std::string_view s) {
  if (s == "operational") return sp::ComponentState::kOperational;
  if (s == "degraded_performance") return sp::ComponentState::kDegraded;
  if (s == "partial_outage") return sp::ComponentState::kPartialOutage;
  if (s == "major_outage") return sp::ComponentState::kMajorOutage;
  if (s == "under_maintenance") return sp::ComponentState::kMaintenance;
  return std::nullopt;
}

// A status page's configuration (the stored document, as the admin API shows it).
struct PageConf {
  std::string id, name, slug, description, domain;
  std::vector<std::string> services;
  std::map<std::string, std::string> overrides;  // service → manual state
};

bool ValidSlug(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

JsonObject ConfToJson(const PageConf& p) {
  JsonArray services;
  for (const auto& s : p.services) services.emplace_back(s);
  JsonObject overrides;
  for (const auto& [k, v] : p.overrides) overrides[k] = v;
  return JsonObject{{"id", p.id},
                    {"name", p.name},
                    {"slug", p.slug},
                    {"description", p.description},
                    {"domain", p.domain},
                    {"services", std::move(services)},
                    {"overrides", std::move(overrides)}};
}

// Decodes an admin body (strict) or a stored document.
Result<PageConf> ConfFromJson(std::string id, const JsonObject& body) {
  Status st = Ok();
  const FieldReader r{body, "", &st};
  r.OnlyKnown({"id", "name", "slug", "description", "domain", "services", "overrides"});
  PageConf p;
  p.id = std::move(id);
  p.name = r.Str("name", true);
  if (p.name.size() > 200) r.Error("name", "at most 200 bytes");
  p.slug = r.Str("slug", true);
  if (st && !ValidSlug(p.slug)) r.Error("slug", "1-64 characters: a-z, 0-9 and '-'");
  p.description = r.Str("description");
  if (p.description.size() > 2000) r.Error("description", "at most 2000 bytes");
  p.domain = r.Str("domain");
  if (p.domain.size() > 253) r.Error("domain", "at most 253 characters");
  if (const JsonArray* services = r.Array("services")) {
    if (services->empty() || services->size() > kMaxServices) {
      r.Error("services", "1 to 50 service ids");
    }
    for (const auto& v : *services) {
      if (!v.is_string() || !admin::ValidId(std::string_view(v.get_string()))) {
        r.Error("services", "must be service ids");
        break;
      }
      p.services.emplace_back(v.get_string());
    }
  } else {
    r.Error("services", "is required (1 to 50 service ids)");
  }
  if (const JsonObject* o = r.Object("overrides")) {
    for (const auto& kv : *o) {
      const std::string key(kv.key());
      if (!kv.value().is_string() || !StateOf(std::string_view(kv.value().get_string()))) {
        r.Error("overrides." + key,
                "must be one of operational, degraded_performance, partial_outage, "
                "major_outage, under_maintenance");
        break;
      }
      if (std::find(p.services.begin(), p.services.end(), key) == p.services.end()) {
        r.Error("overrides." + key, "is not one of the page's services");
        break;
      }
      p.overrides[key] = std::string(kv.value().get_string());
    }
  }
  if (!st) return Fail(st.error());
  return p;
}

Result<std::vector<PageConf>> Pages(Engine& engine) {
  auto docs = engine.store().Docs(kStatusPageDoc);
  if (!docs) return Fail(docs.error());
  std::vector<PageConf> out;
  for (const auto& d : *docs) {
    auto p = ConfFromJson(d.id, d.body);
    if (p) out.push_back(std::move(*p));
  }
  return out;
}

std::string Json(const JsonObject& o) {
  std::string out;
  AppendJsonObject(out, o);
  return out;
}

Outcome ListPages(Engine& engine, const Call& call) {
  auto pages = Pages(engine);
  if (!pages) return Fail(pages.error());
  return PagedList(
      std::move(*pages), call, [](const PageConf& p) { return p.id; },
      [](std::string& s, const PageConf& p) { s += Json(ConfToJson(p)); });
}

Outcome GetPage(Engine& engine, const Call& call) {
  auto pages = Pages(engine);
  if (!pages) return Fail(pages.error());
  for (const auto& p : *pages) {
    if (p.id == call.params[0]) return JsonReply(Json(ConfToJson(p)));
  }
  return Fail(errc::kNotFound, "status page " + std::string(call.params[0]) + " not found");
}

Outcome PutPage(Engine& engine, const Call& call) {
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  auto saved = SaveStatusPage(engine, std::string(call.params[0]), *body);
  if (!saved) return Fail(saved.error());
  return JsonReply(Json(*saved));
}

Outcome DeletePage(Engine& engine, const Call& call) {
  auto pages = Pages(engine);
  if (!pages) return Fail(pages.error());
  if (std::none_of(pages->begin(), pages->end(),
                   [&](const PageConf& p) { return p.id == call.params[0]; })) {
    return Fail(errc::kNotFound, "status page " + std::string(call.params[0]) + " not found");
  }
  if (auto st = engine.store().DeleteDoc(kStatusPageDoc, call.params[0]); !st) {
    return Fail(st.error());
  }
  return NoContent();
}

// POST /admin/incidents/{id}/status-updates: a public update (the only timeline entries a
// status page shows).
Outcome PostUpdate(Engine& engine, const Call& call) {
  auto body = BodyObject(call);
  if (!body) return Fail(body.error());
  Status st = Ok();
  const FieldReader r{*body, "", &st};
  r.OnlyKnown({"message", "status", "title"});
  const std::string message = r.Str("message", true);
  if (message.size() > 5000) r.Error("message", "at most 5000 bytes");
  std::string status = r.Str("status");
  if (status.empty()) status = "update";
  if (status != "investigating" && status != "identified" && status != "monitoring" &&
      status != "resolved" && status != "update") {
    r.Error("status", "must be one of investigating, identified, monitoring, resolved, update");
  }
  const std::string title = r.Str("title");
  if (title.size() > 200) r.Error("title", "at most 200 bytes");
  if (!st) return Fail(st.error());
  const std::string id(call.params[0]);
  auto inc = engine.store().GetIncident(id);
  if (!inc) return Fail(inc.error());
  if (!*inc) return Fail(errc::kNotFound, "incident " + id + " not found");
  TimelineRow t;
  t.incident_id = id;
  t.at = engine.Now();
  t.kind = "status_update";
  t.body = message;
  t.actor = JsonObject{{"type", "api"}};
  t.metadata = JsonObject{{"public", true}, {"status", status}};
  if (!title.empty()) t.metadata["title"] = title;
  auto row = std::make_shared<TimelineRow>(t);
  Status written = Ok();
  {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    engine.Submit([row](Tx& tx) { return tx.AppendTimeline(*row); },
                  [&](Status s) {
                    std::lock_guard lock(m);
                    written = std::move(s);
                    done = true;
                    cv.notify_one();
                  });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done; });
  }
  if (!written) return Fail(written.error());
  std::string out = "{\"id\":";
  AppendJsonString(out, row->id);
  out += ",\"incidentId\":";
  AppendJsonString(out, id);
  out += ",\"status\":";
  AppendJsonString(out, status);
  out += ",\"message\":";
  AppendJsonString(out, message);
  out += ",\"at\":";
  AppendJsonString(out, FormatRfc3339Nano(Time::FromUnixNanos(row->at)));
  out += "}";
  return JsonReply(std::move(out), 201);
}

// ---- the public page ----------------------------------------------------------------------------

// What the page calls an incident, a service or a window: an opaque id, an HMAC under a key
// shared by the nodes (internal ids, and how many incidents there were, are not the public's
// business; an unkeyed hash of a guessable id could be reversed).
std::string PublicId(const std::string& key, std::string_view page_id, std::string_view internal) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string data = std::string(page_id) + "\n" + std::string(internal);
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 6 && i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// An open incident's mark on its component: high urgency a major outage, medium a partial one,
// low degraded performance.
sp::ComponentState StateFor(std::string_view urgency) {
  if (urgency == "high") return sp::ComponentState::kMajorOutage;
  if (urgency == "medium") return sp::ComponentState::kPartialOutage;
  return sp::ComponentState::kDegraded;
}

std::string_view ImpactOf(const IncidentRow& r) {
  if (r.severity == "critical") return "critical";
  if (r.urgency == "high") return "major";
  return "minor";
}

// The public updates of an incident, newest first (at most 20), and its public title.
Status PublicUpdates(Engine& engine, const IncidentRow& inc, sp::Incident& out) {
  auto rows = engine.store().TimelineOfKind(inc.id, "status_update",
                                            static_cast<std::int64_t>(sp::kMaxUpdates));
  if (!rows) return Fail(rows.error());
  std::string title;
  for (auto& t : *rows) {
    const JsonValue* pub = t.metadata.if_contains("public");
    if (pub == nullptr || !pub->is_bool() || !pub->get_bool()) continue;
    const JsonValue* s = t.metadata.if_contains("status");
    if (const JsonValue* tt = t.metadata.if_contains("title");
        title.empty() && tt != nullptr && tt->is_string()) {
      title = std::string(tt->get_string());  // the newest update's title
    }
    out.updates.push_back(
        sp::Update{t.at, s != nullptr && s->is_string() ? std::string(s->get_string()) : "update",
                   std::move(t.body)});
  }
  out.title = title;  // "" when no update named it: Render gives a neutral one
  return Ok();
}

Result<std::string> Render(Engine& engine, const PageConf& conf, std::string_view format) {
  const std::int64_t now = engine.Now();
  auto key =
      engine.store().SharedSetting("status_page.id_key", Engine::NewKey() + Engine::NewKey());
  if (!key) return Fail(key.error());
  auto services = engine.store().Services();
  if (!services) return Fail(services.error());
  sp::Page page;
  page.slug = conf.slug;
  page.name = conf.name;
  page.description = conf.description;
  page.generated_at = now;

  // The open incidents of the page's services, however old, and the recently resolved ones.
  IncidentFilter open_filter;
  open_filter.service_ids = conf.services;
  open_filter.statuses = {"open", "acknowledged"};
  open_filter.limit = 1000;
  auto incidents = engine.store().QueryIncidents(open_filter);
  if (!incidents) return Fail(incidents.error());
  IncidentFilter recent_filter;
  recent_filter.service_ids = conf.services;
  recent_filter.statuses = {"resolved"};
  recent_filter.created_from = now - 30 * kDay;
  recent_filter.limit = 2000;
  auto recent = engine.store().QueryIncidents(recent_filter);
  if (!recent) return Fail(recent.error());
  incidents->insert(incidents->end(), recent->begin(), recent->end());

  const auto quiet = engine.quiet() != nullptr ? engine.quiet()->Snapshot() : nullptr;
  auto spans = engine.SlaData().Spans(conf.services, now - 90 * kDay);
  if (!spans) return Fail(spans.error());

  for (const auto& id : conf.services) {
    const auto it = std::find_if(services->begin(), services->end(),
                                 [&](const ServiceRow& s) { return s.id == id; });
    if (it == services->end()) continue;
    sp::Component c;
    c.id = PublicId(*key, conf.id, id);
    c.name = it->name;
    // The service's description is internal (hosts, owners): the page shows names only.
    // Derived: the worst open incident (by urgency: StateFor), or an ongoing maintenance
    // window; a manual override wins.
    sp::ComponentState state = sp::ComponentState::kOperational;
    for (const auto& span : *spans) {
      if (span.service == id && span.resolved == 0)
        state = sp::Worse(state, StateFor(span.urgency));
    }
    if (state == sp::ComponentState::kOperational && quiet != nullptr) {
      if (auto pause = PausedAt(*quiet, id, now); pause && pause->reason == "maintenance") {
        state = sp::ComponentState::kMaintenance;
      }
    }
    if (auto o = conf.overrides.find(id); o != conf.overrides.end()) {
      state = StateOf(o->second).value_or(state);
    }
    c.state = state;
    std::vector<sp::Interval> intervals;
    for (const auto& span : *spans) {
      if (span.service != id) continue;
      intervals.push_back(sp::Interval{span.created, span.resolved, StateFor(span.urgency)});
    }
    c.days = sp::DailyBars(intervals, now, it->created_at);
    page.components.push_back(std::move(c));
  }

  for (const auto& inc : *incidents) {
    const bool active = inc.status != "resolved";
    if (!active && inc.resolved_at < now - kRecentNs) continue;
    sp::Incident out;
    out.id = PublicId(*key, conf.id, inc.id);
    out.impact = std::string(ImpactOf(inc));
    out.started_at = inc.created_at;
    out.resolved_at = active ? 0 : inc.resolved_at;
    out.components = {PublicId(*key, conf.id, inc.service_id)};
    if (auto st = PublicUpdates(engine, inc, out); !st) return Fail(st.error());
    if (out.updates.empty()) continue;  // never published: not on the page
    if (out.title.empty()) {
      // No update named it: the alert's own summary may say more than the public should read.
      const auto svc = std::find_if(services->begin(), services->end(),
                                    [&](const ServiceRow& s) { return s.id == inc.service_id; });
      out.title =
          "Service disruption" + (svc == services->end() ? std::string() : ": " + svc->name);
    }
    out.status = active ? out.updates.front().status : "resolved";
    (active ? page.active : page.recent).push_back(std::move(out));
    if (page.active.size() + page.recent.size() >= 75) break;
  }
  if (quiet != nullptr) {
    for (const auto& w : quiet->windows) {
      if (w.end <= now) continue;
      std::vector<std::string> ids;
      for (const auto& s : w.services) {
        if (std::find(conf.services.begin(), conf.services.end(), s) != conf.services.end()) {
          ids.push_back(PublicId(*key, conf.id, s));
        }
      }
      if (ids.empty()) continue;
      // A window's description is written for responders, not the public.
      page.maintenance.push_back(sp::Maintenance{PublicId(*key, conf.id, w.id),
                                                 "Scheduled maintenance", "", w.start, w.end, ids});
    }
  }
  if (format == "json") return sp::RenderJson(page);
  if (format == "atom") return sp::RenderAtom(page);
  return sp::RenderHtml(page);
}

// Rendered pages are kept a few seconds: a status page is read most when many people look.
class PageCache {
 public:
  struct Entry {
    std::string body;
    std::chrono::steady_clock::time_point until;
  };
  std::optional<std::string> Get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.until < std::chrono::steady_clock::now()) {
      return std::nullopt;
    }
    return it->second.body;
  }
  void Put(const std::string& key, std::string body) {
    std::lock_guard lock(mu_);
    if (entries_.size() > 1000) entries_.clear();
    entries_[key] =
        Entry{std::move(body), std::chrono::steady_clock::now() + std::chrono::seconds(5)};
  }

 private:
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

PageCache& Cache() {
  static PageCache cache;
  return cache;
}

Outcome ServePage(Engine& engine, const PageConf& conf, std::string_view format) {
  const std::string key = conf.id + "\n" + std::string(format);
  std::string body;
  if (auto hit = Cache().Get(key)) {
    body = std::move(*hit);
  } else {
    auto rendered = Render(engine, conf, format);
    if (!rendered) return Fail(rendered.error());
    body = std::move(*rendered);
    Cache().Put(key, body);
  }
  Reply r{200, std::move(body)};
  r.content_type = format == "json"   ? "application/json"
                   : format == "atom" ? "application/atom+xml; charset=utf-8"
                                      : "text/html; charset=utf-8";
  r.headers.emplace_back("Cache-Control", "public, max-age=5");
  if (format == "html") {
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  }
  return r;
}

Outcome PublicPage(Engine& engine, const Call& call) {
  std::string slug(call.params[0]);
  std::string format = "html";
  for (std::string_view ext : {".json", ".atom", ".rss"}) {
    if (slug.size() > ext.size() && slug.ends_with(ext)) {
      format = ext == ".json" ? "json" : "atom";
      slug.resize(slug.size() - ext.size());
    }
  }
  if (!ValidSlug(slug)) return Fail(errc::kNotFound, "no such status page");
  auto pages = Pages(engine);
  if (!pages) return Fail(pages.error());
  for (const auto& p : *pages) {
    if (p.slug == slug) return ServePage(engine, p, format);
  }
  return Fail(errc::kNotFound, "no such status page");
}

// GET /status on a page's custom domain (the Host header): that page.
Outcome DomainPage(Engine& engine, const Call& call) {
  std::string host(call.request.Header("Host"));
  if (auto colon = host.rfind(':');
      colon != std::string::npos && host.find(']') == std::string::npos) {
    host.resize(colon);
  }
  auto pages = Pages(engine);
  if (!pages) return Fail(pages.error());
  for (const auto& p : *pages) {
    if (!p.domain.empty() && p.domain == host) return ServePage(engine, p, "html");
  }
  return Fail(errc::kNotFound, "no status page for this host");
}

}  // namespace

Result<JsonObject> SaveStatusPage(Engine& engine, const std::string& id, const JsonObject& body) {
  auto p = ConfFromJson(id, body);
  if (!p) return Fail(p.error());
  auto services = engine.store().Services();
  if (!services) return Fail(services.error());
  for (const auto& sid : p->services) {
    if (std::none_of(services->begin(), services->end(),
                     [&](const ServiceRow& s) { return s.id == sid; })) {
      return Fail(errc::kBadRequest, "services: unknown service \"" + sid + "\"");
    }
  }
  auto pages = Pages(engine);
  if (!pages) return Fail(pages.error());
  for (const auto& other : *pages) {
    if (other.id == p->id) continue;
    if (other.slug == p->slug) {
      return Fail(errc::kConflict, "slug " + p->slug + " is used by status page " + other.id);
    }
    if (!p->domain.empty() && other.domain == p->domain) {
      return Fail(errc::kConflict, "domain " + p->domain + " is used by status page " + other.id);
    }
  }
  JsonObject doc = ConfToJson(*p);
  if (auto st = engine.store().PutDoc(
          CatalogDoc{std::string(kStatusPageDoc), p->id, "", doc, Time::Now().UnixNanos()});
      !st) {
    return Fail(st.error());
  }
  return doc;
}

api::RouteTable StatusPageRoutes(const EngineRoutesContext& ctx) {
  using admin::AdminRow;
  api::RouteTable t = {
      AdminRow(ctx.engine, Method::kGet, "/admin/status-pages", "", &ListPages,
               "Public status pages", "", "StatusPages"),
      AdminRow(ctx.engine, Method::kGet, "/admin/status-pages/{id}", "", &GetPage,
               "A status page's configuration", "", "StatusPage"),
      AdminRow(ctx.engine, Method::kPut, "/admin/status-pages/{id}", "admin.status_page.upserted",
               &PutPage, "Create or replace a status page", "StatusPageInput", "StatusPage"),
      AdminRow(ctx.engine, Method::kDelete, "/admin/status-pages/{id}", "admin.status_page.deleted",
               &DeletePage, "Delete a status page", "", "", 204),
      AdminRow(ctx.engine, Method::kPost, "/admin/incidents/{id}/status-updates",
               "incident.status_update", &PostUpdate,
               "Post a public update (the only entries a status page shows)", "object", "object",
               201),
  };
  for (auto [pattern, fn, summary] :
       {std::tuple{"/status/{slug}", &PublicPage,
                   "A public status page: HTML, or .json, or .atom (no token needed)"},
        std::tuple{"/status", &DomainPage,
                   "The status page of the request's Host (custom domain)"}}) {
    api::Route r = AdminRow(ctx.engine, Method::kGet, pattern, "", fn, summary, "", "");
    r.auth = api::Auth::kPublic;
    r.changes_config = false;
    r.handler = admin::EngineHandler(ctx.engine, fn, false);
    t.push_back(std::move(r));
  }
  return t;
}

}  // namespace opsorch::engine
