// The Alertmanager API v2 subset under an `alertmanager` integration key's base URL
// (/integrations/alertmanager/{key}), wire-compatible with Alertmanager 0.25 so that Prometheus
// (`alerting.alertmanagers[].path_prefix`) and amtool (`--alertmanager.url`) work unchanged:
// alerts (push and list), silences (list, create/update, get, expire), status, ready, healthy.
// docs/ALERTMANAGER.md.
#include <algorithm>
#include <ctime>
#include <memory>
#include <set>

#include <sodium.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/label_regex.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/routes.h>
#include <opsorch/log/log.h>

#include "engine/admin_util.h"
#include "engine/firing_cache.h"
#include "engine/pager.h"
#include "engine/quiet.h"
#include "engine/suppression.h"

namespace opsorch::engine {
namespace {

using api::Call;
using api::Outcome;
using api::Reply;
using api::Respond;
using http::Method;

constexpr std::int64_t kResolveTimeoutNs = 5LL * 60 * 1'000'000'000;  // Alertmanager's default
constexpr std::size_t kMaxFilters = 32;
constexpr std::string_view kReceiver = "opsorch";

// go-openapi's strfmt.DateTime: RFC 3339 with milliseconds, UTC.
void AppendAmTime(std::string& out, std::int64_t ns) {
  if (ns == 0) {  // not set (an alert without an end): Go's zero time
    out.append("0001-01-01T00:00:00.000Z");
    return;
  }
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t rem = ns % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    secs -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(rem / 1'000'000));
  out.append(buf, static_cast<std::size_t>(n));
}

void AppendQuotedAmTime(std::string& out, std::int64_t ns) {
  out.push_back('"');
  AppendAmTime(out, ns);
  out.push_back('"');
}

Reply AmReply(std::string body, int status = 200) {
  return api::JsonReply(std::move(body), status);
}

// The integration of the path's key, if it is an active alertmanager key.
Result<IntegrationRow> KeyOf(Engine& engine, const Call& call) {
  const std::string_view key = call.params[0];
  auto found = engine.Authenticate(key);
  if (!found) return Fail(std::move(found.error()));
  if (!*found || (*found)->kind != "alertmanager") {
    log::Warn("authentication failed",
              {{"method", call.request.method_text},
               {"remote", call.request.remote_address},
               {"reason", "unknown or revoked alertmanager integration key (API v2)"}});
    return Fail(errc::kUnauthorized, "invalid integration key");
  }
  return std::move(**found);
}

// Query booleans as go-swagger reads them (default when absent).
Result<bool> BoolParam(const Call& call, std::string_view name, bool fallback) {
  const std::string v = call.Query(name);
  if (v.empty()) return fallback;
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return Fail(errc::kBadRequest,
              std::string(name) + " in query must be of type boolean: \"" + v.substr(0, 32) + "\"");
}

Result<std::vector<silence::Matcher>> Filters(const Call& call) {
  const auto values = call.QueryAll("filter");
  if (values.size() > kMaxFilters) {
    return Fail(errc::kBadRequest, "filter: at most " + std::to_string(kMaxFilters) + " filters");
  }
  return silence::ParseFilter(values);
}

// ---- alerts -------------------------------------------------------------------------------------

class AlertRoutes {
 public:
  explicit AlertRoutes(EngineRoutesContext ctx) : ctx_(std::move(ctx)) {}

  void Push(Call& call, Respond respond) const {
    Engine* engine = ctx_.engine();
    if (engine == nullptr) return respond(Fail(admin::EngineDisabled()));
    auto integration = KeyOf(*engine, call);
    if (!integration) return respond(Fail(integration.error()));
    // Alerts that fire already with the same annotations are decoded only as far as a refresh
    // needs; one the engine finds is not firing after all ("stale") is decoded again in full.
    FiringCache& firing = engine->firing();
    const std::string service = integration->service_id;
    const ActiveFn active = [&firing, &service](std::string_view fp, std::int64_t digest) {
      return firing.Active(service, fp, digest);
    };
    const std::int64_t now = engine->Now();
    auto decoded = DecodeAlertmanagerPush(call.request.body, call.params[0], now, kResolveTimeoutNs,
                                          ctx_.limits, &active);
    if (!decoded) return respond(Fail(Invalid(decoded.error())));
    auto errors = std::make_shared<std::vector<FieldError>>(std::move(decoded->errors));
    // What the writer reads of the integration (its id and service), copied per alert: the key
    // hash and name would be four more allocations per alert of every push.
    auto slim = std::make_shared<IntegrationRow>();
    slim->id = integration->id;
    slim->service_id = integration->service_id;
    slim->kind = integration->kind;
    std::vector<Ingestion> in;
    in.reserve(decoded->events.size());
    for (auto& e : decoded->events) in.push_back(Ingestion{*slim, std::move(e)});
    // The request (its body) stays valid until `respond` is called: the rare second decode
    // reads it there.
    const std::string_view body = call.request.body;
    Engine* e = engine;
    const DecodeLimits limits = ctx_.limits;
    const std::string key(call.params[0]);
    auto reply = std::make_shared<Respond>(std::move(respond));
    engine->Ingest(std::move(in), [errors, e, slim, limits, key, now, body,
                                   reply](std::vector<IngestResult> results) {
      std::set<std::string> stale;
      for (const auto& r : results) {
        if (!r.status) return (*reply)(Fail(r.status.error()));
        if (r.action == "stale") stale.insert(r.dedup_key);
      }
      // Alertmanager keeps the valid alerts and answers 400 naming the others.
      auto finish = [errors, reply] {
        if (!errors->empty()) return (*reply)(Fail(Invalid(*errors)));
        (*reply)(AmReply("", 200));
      };
      if (stale.empty()) return finish();
      auto full = DecodeAlertmanagerPush(body, key, now, kResolveTimeoutNs, limits);
      std::vector<Ingestion> again;
      if (full) {
        for (auto& ev : full->events) {
          if (stale.count(ev.dedup_key) > 0) again.push_back(Ingestion{*slim, std::move(ev)});
        }
      }
      e->Ingest(std::move(again), [finish, reply](std::vector<IngestResult> retried) {
        for (const auto& r : retried) {
          if (!r.status) return (*reply)(Fail(r.status.error()));
        }
        finish();
      });
    });
  }

  static Error Invalid(const std::vector<FieldError>& errors) {
    Error e(errc::kBadRequest, {});
    for (const FieldError& f : errors) {
      e.details.push_back(f.field.empty() ? f.message : f.field + " " + f.message);
    }
    if (!e.details.empty()) e.message = e.details.front();
    return e;
  }

 private:
  EngineRoutesContext ctx_;
};

Outcome ListAlerts(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  Quiet* quiet = engine.quiet();
  if (quiet == nullptr) return Fail(admin::EngineDisabled());
  auto filters = Filters(call);
  if (!filters) return Fail(filters.error());
  auto compiled = silence::CompileMatchers(*filters);
  if (!compiled) return Fail(compiled.error());
  auto active = BoolParam(call, "active", true);
  auto silenced = BoolParam(call, "silenced", true);
  auto inhibited = BoolParam(call, "inhibited", true);
  auto unprocessed = BoolParam(call, "unprocessed", true);
  for (auto* b : {&active, &silenced, &inhibited, &unprocessed}) {
    if (!*b) return Fail(b->error());
  }
  std::optional<LabelRegex> receiver;
  if (const std::string r = call.Query("receiver"); !r.empty()) {
    auto re = LabelRegex::Compile(r);
    if (!re)
      return Fail(errc::kBadRequest, "failed to parse receiver param: " + re.error().message);
    receiver.emplace(std::move(*re));
  }
  auto rows = engine.store().Live(kFiringRow, integration->service_id);
  if (!rows) return Fail(rows.error());
  const auto q = quiet->Snapshot();
  const std::int64_t now = engine.Now();
  std::vector<std::pair<silence::Labels, const LiveRow*>> alerts;
  for (const auto& row : *rows) {
    silence::Labels labels;
    if (const JsonValue* l = row.body.if_contains("labels"); l != nullptr && l->is_object()) {
      for (const auto& kv : l->get_object()) {
        if (kv.value().is_string()) {
          labels.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
        }
      }
    }
    std::sort(labels.begin(), labels.end());
    alerts.emplace_back(std::move(labels), &row);
  }
  std::string out = "[";
  bool first = true;
  std::vector<std::string> ids;
  for (const auto& [labels, row] : alerts) {
    const JsonObject& b = row->body;
    const std::int64_t ends = row->ends_at;
    if (ends != 0 && ends <= now) continue;  // resolved (Alertmanager leaves them out)
    if (receiver && !receiver->FullMatch(kReceiver)) continue;
    if (!silence::AlertMatchesFilter(*compiled, labels)) continue;
    q->SilencedBy(row->parent, labels, now, ids);
    const bool is_silenced = !ids.empty();
    if (is_silenced && !*silenced) continue;
    if (!is_silenced && !*active) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"annotations\":");
    const JsonValue* ann = b.if_contains("annotations");
    AppendJsonObject(out, ann != nullptr && ann->is_object() ? ann->get_object() : JsonObject());
    out.append(",\"endsAt\":");
    const JsonValue* starts_v = b.if_contains("startsAt");
    const std::int64_t starts =
        starts_v != nullptr && starts_v->is_int64() ? starts_v->get_int64() : 0;
    AppendQuotedAmTime(out, ends != 0 ? ends : 0);
    out.append(",\"fingerprint\":");
    AppendJsonString(out, row->id);
    out.append(",\"receivers\":[{\"name\":");
    AppendJsonString(out, kReceiver);
    out.append("}],\"startsAt\":");
    AppendQuotedAmTime(out, starts);
    out.append(",\"status\":{\"inhibitedBy\":[],\"silencedBy\":[");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendJsonString(out, ids[i]);
    }
    out.append("],\"state\":");
    AppendJsonString(out, is_silenced ? "suppressed" : "active");
    out.append("},\"updatedAt\":");
    AppendQuotedAmTime(out, row->updated_at);
    out.append(",\"generatorURL\":");
    const JsonValue* gen = b.if_contains("generatorURL");
    AppendJsonString(out, gen != nullptr && gen->is_string() ? std::string_view(gen->get_string())
                                                             : std::string_view());
    out.append(",\"labels\":{");
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendJsonString(out, labels[i].first);
      out.push_back(':');
      AppendJsonString(out, labels[i].second);
    }
    out.append("}}");
  }
  out.push_back(']');
  return AmReply(std::move(out));
}

// ---- silences -----------------------------------------------------------------------------------

// The silences an integration's key sees: its service's and the global ones.
bool InScope(const silence::Silence& s, const IntegrationRow& integration) {
  return s.scope.empty() || s.scope == integration.service_id;
}

Outcome ListSilences(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  Quiet* quiet = engine.quiet();
  if (quiet == nullptr) return Fail(admin::EngineDisabled());
  auto filters = Filters(call);
  if (!filters) return Fail(filters.error());
  const auto q = quiet->Snapshot();
  const std::int64_t now = engine.Now();
  std::vector<silence::Silence> items;
  for (const auto& s : q->silences) {
    if (!InScope(s, *integration)) continue;
    if (!silence::SilenceMatchesFilter(s, *filters)) continue;
    items.push_back(s);
  }
  silence::SortSilences(items, now);
  std::string out;
  silence::AppendGettableSilences(out, items, now);
  return AmReply(std::move(out));
}

const silence::Silence* FindInScope(const QuietSnapshot& q, std::string_view id,
                                    const IntegrationRow& integration) {
  const silence::Silence* s = q.FindSilence(id);
  return s != nullptr && InScope(*s, integration) ? s : nullptr;
}

Outcome GetSilence(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  Quiet* quiet = engine.quiet();
  if (quiet == nullptr) return Fail(admin::EngineDisabled());
  const auto q = quiet->Snapshot();
  const silence::Silence* s = FindInScope(*q, call.params[1], *integration);
  if (s == nullptr) return Fail(errc::kNotFound, "silence not found");
  std::string out;
  silence::AppendGettableSilence(out, *s, engine.Now());
  return AmReply(std::move(out));
}

std::string NewSilenceId() {
  // A random UUID (version 4), as Alertmanager's.
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

// Firing alerts the silence held back are looked at again at once (it ended early).
Status Recheck(Engine& engine, const silence::Silence& s) {
  std::vector<std::string> services;
  if (s.scope.empty()) {
    auto all = engine.store().Services();
    if (!all) return Fail(all.error());
    for (const auto& row : *all) services.push_back(row.id);
  } else {
    services.push_back(s.scope);
  }
  const std::int64_t now = engine.Now();
  const std::string id = s.id;
  Status st = Pager::SubmitAndWait(
      [&engine](std::function<Status(Tx&)> w, std::function<void(Status)> done) {
        engine.Submit(std::move(w), std::move(done));
      },
      [services, id, now](Tx& tx) { return RecheckSuppressed(tx, services, id, now); });
  if (st && engine.pager() != nullptr) engine.pager()->Wake();
  return st;
}

Status Store(Engine& engine, const silence::Silence& s) {
  return engine.store().PutDoc(CatalogDoc{std::string(kSilenceDoc), s.id, s.scope, SilenceToDoc(s),
                                          Time::Now().UnixNanos()});
}

// Bounds per service: every silence is matched on the engine's writer, and one without an
// anchor (an equality matcher with a value) is tried against every alert of its service.
constexpr std::size_t kMaxSilences = 10'000;
constexpr std::size_t kMaxUnanchored = 200;
// Expired silences are kept this long for the listing (Alertmanager's --data.retention).
constexpr std::int64_t kSilenceRetentionNs = 120LL * 3600 * 1'000'000'000;

bool Anchored(const std::vector<silence::Matcher>& matchers) {
  return std::any_of(matchers.begin(), matchers.end(), [](const silence::Matcher& m) {
    return m.is_equal && !m.is_regex && !m.value.empty();
  });
}

Status Admit(const QuietSnapshot& q, const silence::PostableSilence& s, bool update,
             std::string_view service, std::int64_t now) {
  std::size_t live = 0, unanchored = 0;
  for (const auto& other : q.silences) {
    if (other.scope != service || silence::StateAt(other, now) == silence::State::kExpired) {
      continue;
    }
    ++live;
    if (!Anchored(other.matchers)) ++unanchored;
  }
  if (!update && live >= kMaxSilences) {
    return Fail(errc::kBadRequest, "too many silences for this service (" +
                                       std::to_string(kMaxSilences) + " active or pending)");
  }
  if (!Anchored(s.matchers) && unanchored >= kMaxUnanchored) {
    return Fail(errc::kBadRequest,
                "too many silences without an equality matcher for this service (" +
                    std::to_string(kMaxUnanchored) + "): give this one a name=\"value\" matcher");
  }
  return Ok();
}

// Expired silences past their retention are deleted (a few per change, so a flood of changes
// cleans up after itself).
void Collect(Engine& engine, const QuietSnapshot& q, std::string_view service, std::int64_t now) {
  int n = 0;
  for (const auto& s : q.silences) {
    if (s.scope != service || s.ends_at >= now - kSilenceRetentionNs) continue;
    (void)engine.store().DeleteDoc(kSilenceDoc, s.id);
    if (++n == 100) break;
  }
}

Outcome PostSilence(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  Quiet* quiet = engine.quiet();
  if (quiet == nullptr) return Fail(admin::EngineDisabled());
  const std::int64_t now = engine.Now();
  auto posted = silence::DecodePostableSilence(call.request.body, now);
  if (!posted) return Fail(silence::ToError(posted.error()));
  const auto q = quiet->Snapshot();
  std::optional<silence::Silence> existing;
  if (!posted->id.empty()) {
    const silence::Silence* s = FindInScope(*q, posted->id, *integration);
    if (s == nullptr) return Fail(errc::kNotFound, "silence not found");
    existing = *s;
  }
  posted->scope = integration->service_id;
  if (auto st = Admit(*q, *posted, existing.has_value(), integration->service_id, now); !st) {
    return Fail(st.error());
  }
  auto change = silence::ApplyPost(existing, std::move(*posted), now, NewSilenceId());
  if (!change) return Fail(change.error());
  if (auto st = Store(engine, change->write); !st) return Fail(st.error());
  if (change->expire_old) {
    if (auto st = Store(engine, *change->expire_old); !st) return Fail(st.error());
  }
  Collect(engine, *q, integration->service_id, now);
  if (auto st = quiet->Reload(); !st) return Fail(st.error());
  if (change->expire_old) {
    if (auto st = Recheck(engine, *change->expire_old); !st) return Fail(st.error());
  } else if (change->in_place) {
    if (auto st = Recheck(engine, change->write); !st) return Fail(st.error());
  }
  std::string out = "{\"silenceID\":";
  AppendJsonString(out, change->write.id);
  out.push_back('}');
  return AmReply(std::move(out));
}

Outcome DeleteSilence(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  Quiet* quiet = engine.quiet();
  if (quiet == nullptr) return Fail(admin::EngineDisabled());
  const auto q = quiet->Snapshot();
  const silence::Silence* s = FindInScope(*q, call.params[1], *integration);
  if (s == nullptr) return Fail(errc::kNotFound, "silence not found");
  const std::int64_t now = engine.Now();
  const auto expired = silence::Expire(*s, now);
  if (expired.already_expired) return AmReply("", 200);  // as Alertmanager 0.25
  if (auto st = Store(engine, expired.silence); !st) return Fail(st.error());
  if (auto st = quiet->Reload(); !st) return Fail(st.error());
  if (auto st = Recheck(engine, expired.silence); !st) return Fail(st.error());
  return AmReply("", 200);
}

// ---- status, ready, healthy ---------------------------------------------------------------------

const std::int64_t kStartedAt = Time::Now().UnixNanos();

Outcome Status_(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  std::string out = R"({"cluster":{"name":"opsorch","peers":[],"status":"disabled"},)";
  out.append(R"("config":{"original":"# opsorch: routing, receivers and inhibition are )"
             R"(opsorch's escalation policies (docs/ALERTMANAGER.md)\n"},"uptime":)");
  AppendQuotedAmTime(out, kStartedAt);
  out.append(R"(,"versionInfo":{"branch":"","buildDate":"","buildUser":"","goVersion":"",)"
             R"("revision":"","version":)");
  AppendJsonString(out, "opsorch-" + std::string(OPSORCH_VERSION));
  out.append("}}");
  return AmReply(std::move(out));
}

Outcome Ready(Engine& engine, const Call& call) {
  auto integration = KeyOf(engine, call);
  if (!integration) return Fail(integration.error());
  return Reply{200, "OK", "text/plain; charset=utf-8"};
}

}  // namespace

api::RouteTable AlertmanagerRoutes(const EngineRoutesContext& ctx) {
  auto alerts = std::make_shared<const AlertRoutes>(ctx);
  api::RouteTable t;
  const auto add = [&](Method m, std::string_view pattern, std::string_view summary,
                       api::Handler handler, api::Execution exec, std::string_view audit = "") {
    t.push_back(api::Route{.method = m,
                           .pattern = pattern,
                           .audit = audit,
                           .auth = api::Auth::kIntegrationKey,
                           .errors = api::ErrorFormat::kAlertmanager,
                           .secret_path = true,
                           .execution = exec,
                           .handler = std::move(handler),
                           .summary = summary,
                           .response_type = "object"});
  };
  const auto pool = [&ctx](admin::EngineFn fn) {
    return admin::EngineHandler(ctx.engine, fn, false);
  };
  add(
      Method::kPost, "/integrations/alertmanager/{key}/api/v2/alerts",
      "Alertmanager API v2: push alerts (what Prometheus sends)",
      [alerts](Call& call, Respond respond) { alerts->Push(call, std::move(respond)); },
      api::Execution::kLoop);
  add(Method::kGet, "/integrations/alertmanager/{key}/api/v2/alerts",
      "Alertmanager API v2: firing alerts (filter, active, silenced)", pool(&ListAlerts),
      api::Execution::kPool);
  add(Method::kGet, "/integrations/alertmanager/{key}/api/v2/silences",
      "Alertmanager API v2: silences (filter)", pool(&ListSilences), api::Execution::kPool);
  add(Method::kPost, "/integrations/alertmanager/{key}/api/v2/silences",
      "Alertmanager API v2: create or update a silence", pool(&PostSilence), api::Execution::kPool,
      "alertmanager.silence.posted");
  add(Method::kGet, "/integrations/alertmanager/{key}/api/v2/silence/{id}",
      "Alertmanager API v2: one silence", pool(&GetSilence), api::Execution::kPool);
  add(Method::kDelete, "/integrations/alertmanager/{key}/api/v2/silence/{id}",
      "Alertmanager API v2: expire a silence", pool(&DeleteSilence), api::Execution::kPool,
      "alertmanager.silence.expired");
  add(Method::kGet, "/integrations/alertmanager/{key}/api/v2/status", "Alertmanager API v2: status",
      pool(&Status_), api::Execution::kPool);
  for (std::string_view p :
       {"/integrations/alertmanager/{key}/-/ready", "/integrations/alertmanager/{key}/-/healthy"}) {
    add(Method::kGet, p, "Alertmanager: ready / healthy", pool(&Ready), api::Execution::kPool);
  }
  return t;
}

}  // namespace opsorch::engine
