#include <memory>
#include <utility>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/routes.h>
#include <opsorch/log/log.h>

namespace opsorch::engine {
namespace {

using api::Call;
using api::Outcome;
using api::Reply;
using api::Respond;
using http::Method;

void AppendStrings(std::string& out, const std::vector<std::string>& items) {
  out.push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, items[i]);
  }
  out.push_back(']');
}

Error EngineDisabled() {
  return MakeError(errc::kNotFound,
                   "the incident engine is not enabled: configure a capability with the local "
                   "provider");
}

void AppendResult(std::string& out, const IngestResult& r) {
  if (!r.status) {
    out.append(R"({"status":"error","message":)");
    AppendJsonString(out, r.status.error().code == errc::kRateLimited
                              ? "throttled; retry later"
                              : "the event could not be stored; retry");
    out.push_back('}');
    return;
  }
  out.append(R"({"status":"success","dedup_key":)");
  AppendJsonString(out, r.dedup_key);
  out.append(R"(,"action":)");
  AppendJsonString(out, r.action);
  if (!r.incident_id.empty()) {
    out.append(R"(,"incident_id":)");
    AppendJsonString(out, r.incident_id);
  }
  out.push_back('}');
}

// What the ingestion handlers share: the engine, the limits, and the count of refused keys.
class Ingest {
 public:
  explicit Ingest(const EngineRoutesContext& ctx)
      : ctx_(ctx),
        refused_(ctx.metrics == nullptr ? nullptr
                                        : &ctx.metrics->GetCounter(
                                              "opsorch_auth_failures_total",
                                              "Requests refused for a missing or wrong credential.",
                                              {{"credential", "integration_key"}})) {}

  void Enqueue(Call& call, Respond respond) const {
    Engine* engine = ctx_.engine();
    if (engine == nullptr) return respond(Fail(EngineDisabled()));
    IngestEventsV2(
        *engine, call.request.body, ctx_.limits,
        [&](std::string_view key) { Refused(call, "events_v2", key); },
        [respond = std::move(respond)](Result<std::string> dedup_key) mutable {
          if (!dedup_key) return respond(Fail(std::move(dedup_key.error())));
          std::string body = R"({"status":"success","message":"Event processed","dedup_key":)";
          AppendJsonString(body, *dedup_key);
          body.push_back('}');
          respond(api::JsonReply(std::move(body), 202));
        });
  }

  void Batch(Call& call, Respond respond) const {
    Engine* engine = ctx_.engine();
    if (engine == nullptr) return respond(Fail(EngineDisabled()));
    auto decoded = DecodePagerDutyBatch(call.request.body, ctx_.limits);
    if (!decoded) return respond(Fail(InvalidEvent(decoded.error())));
    // Per element: a decoding error, an authentication error, or an index into `in`.
    struct Slot {
      std::vector<std::string> errors;
      std::ptrdiff_t index = -1;
    };
    auto slots = std::make_shared<std::vector<Slot>>(decoded->size());
    std::vector<Ingestion> in;
    in.reserve(decoded->size());
    for (std::size_t i = 0; i < decoded->size(); ++i) {
      auto& d = (*decoded)[i];
      if (!d) {
        (*slots)[i].errors = InvalidEvent(d.error()).details;
        continue;
      }
      auto found = engine->Authenticate(d->routing_key);
      if (!found) return respond(Fail(found.error()));
      if (!*found || (*found)->kind != "events_v2") {
        Refused(call, "events_v2", d->routing_key);
        (*slots)[i].errors = {"routing_key is not a valid integration key"};
        continue;
      }
      (*slots)[i].index = static_cast<std::ptrdiff_t>(in.size());
      in.push_back(Ingestion{std::move(**found), std::move(*d)});
    }
    engine->Ingest(std::move(in), [slots, respond = std::move(respond)](
                                      std::vector<IngestResult> results) mutable {
      std::string body = R"({"status":"success","results":[)";
      for (std::size_t i = 0; i < slots->size(); ++i) {
        if (i > 0) body.push_back(',');
        const Slot& s = (*slots)[i];
        if (s.index < 0) {
          body.append(R"({"status":"invalid event","errors":)");
          AppendStrings(body, s.errors);
          body.push_back('}');
        } else {
          AppendResult(body, results[static_cast<std::size_t>(s.index)]);
        }
      }
      body.append("]}");
      respond(api::JsonReply(std::move(body), 202));
    });
  }

  void Change(Call& call, Respond respond) const {
    Engine* engine = ctx_.engine();
    if (engine == nullptr) return respond(Fail(EngineDisabled()));
    auto change = DecodePagerDutyChange(call.request.body, ctx_.limits);
    if (!change) return respond(Fail(InvalidEvent(change.error())));
    auto integration = Authenticate(*engine, call, change->routing_key, "events_v2");
    if (!integration) return respond(Fail(std::move(integration.error())));
    auto row = std::make_shared<DeploymentRow>();
    row->service_id = integration->service_id;
    row->summary = change->summary;
    row->source = change->source;
    row->at = change->timestamp.IsZero() ? Time::Now().UnixNanos() : change->timestamp.UnixNanos();
    row->details = change->custom_details;
    row->links = change->links;
    engine->Submit([row](Tx& tx) { return tx.InsertDeployment(*row); },
                   [respond = std::move(respond)](Status st) mutable {
                     if (!st) return respond(Fail(st.error()));
                     respond(api::JsonReply(
                         R"({"status":"success","message":"Change event processed"})", 202));
                   });
  }

  void Alertmanager(Call& call, Respond respond) const {
    Engine* engine = ctx_.engine();
    if (engine == nullptr) return respond(Fail(EngineDisabled()));
    const std::string_view key = call.params[0];
    if (key.empty()) return respond(Fail(errc::kNotFound, "not found"));
    auto found = engine->Authenticate(key);
    if (!found) return respond(Fail(found.error()));
    if (!*found || (*found)->kind != "alertmanager") {
      Refused(call, "alertmanager", key);
      return respond(Fail(errc::kUnauthorized, "invalid integration key"));
    }
    auto events = DecodeAlertmanager(call.request.body, key, ctx_.limits);
    if (!events) return respond(Fail(InvalidEvent(events.error())));
    std::vector<Ingestion> in;
    in.reserve(events->size());
    for (auto& e : *events) in.push_back(Ingestion{**found, std::move(e)});
    engine->Ingest(std::move(in),
                   [respond = std::move(respond)](std::vector<IngestResult> r) mutable {
                     for (const auto& x : r) {
                       // All or nothing for the sender: Alertmanager retries the whole group.
                       if (!x.status) return respond(Fail(x.status.error()));
                     }
                     std::string body = R"({"status":"success","results":[)";
                     for (std::size_t i = 0; i < r.size(); ++i) {
                       if (i > 0) body.push_back(',');
                       AppendResult(body, r[i]);
                     }
                     body.append("]}");
                     respond(api::JsonReply(std::move(body), 202));
                   });
  }

 private:
  // The integration of `key` if it is active and of `kind`. An unknown and a revoked key get the
  // same answer: nothing tells a caller which services exist.
  Result<IntegrationRow> Authenticate(Engine& engine, const Call& call, std::string_view key,
                                      std::string_view kind) const {
    auto found = engine.Authenticate(key);
    if (!found) return Fail(std::move(found.error()));
    if (!*found || (*found)->kind != kind) {
      Refused(call, kind, key);
      Error e(errc::kBadRequest, "routing_key is not a valid integration key");
      e.details = {e.message};
      return Fail(std::move(e));
    }
    return std::move(**found);
  }

  // A refused key is logged by its first characters only (as the admin API shows keys): the
  // key may be a valid one of another kind, and the path of the Alertmanager route holds it.
  void Refused(const Call& call, std::string_view kind, std::string_view key) const {
    if (refused_ != nullptr) refused_->Inc();
    std::string shown = key.size() >= 12 ? std::string(key.substr(0, 6)) + "…" : "(too short)";
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    log::Warn("authentication failed",
              {{"method", call.request.method_text},
               {"key_prefix", shown},
               {"remote", call.request.remote_address},
               {"reason", "unknown or revoked " + std::string(kind) + " integration key"}});
  }

  EngineRoutesContext ctx_;
  metrics::Counter* refused_;
};

}  // namespace

api::RouteTable IngestRoutes(const EngineRoutesContext& ctx) {
  auto ingest = std::make_shared<const Ingest>(ctx);
  const auto handler = [ingest](void (Ingest::*fn)(Call&, Respond) const) -> api::Handler {
    return [ingest, fn](Call& call, Respond respond) { ((*ingest).*fn)(call, std::move(respond)); };
  };
  const std::size_t pd_limit = ctx.limits.max_body_bytes;
  using api::Auth;
  using api::ErrorFormat;
  api::RouteTable t;
  t.push_back({.method = Method::kPost,
               .pattern = "/v2/enqueue",
               .auth = Auth::kIntegrationKey,
               .body_limit = pd_limit,
               .errors = ErrorFormat::kEvents,
               .handler = handler(&Ingest::Enqueue),
               .summary = "PagerDuty Events API v2: one event (routing_key is the integration key)",
               .request_type = "PagerDutyEvent",
               .response_type = "EventAccepted",
               .success_status = 202});
  t.push_back({.method = Method::kPost,
               .pattern = "/v2/enqueue/batch",
               .auth = Auth::kIntegrationKey,
               .body_limit = pd_limit,
               .errors = ErrorFormat::kEvents,
               .handler = handler(&Ingest::Batch),
               .summary = "Up to 1000 PagerDuty v2 events, one result each",
               .request_type = "PagerDutyEvents",
               .response_type = "EventResults",
               .success_status = 202});
  t.push_back({.method = Method::kPost,
               .pattern = "/v2/change/enqueue",
               .auth = Auth::kIntegrationKey,
               .body_limit = pd_limit,
               .errors = ErrorFormat::kEvents,
               .handler = handler(&Ingest::Change),
               .summary = "PagerDuty change event: stored as a deployment",
               .request_type = "PagerDutyChangeEvent",
               .response_type = "EventAccepted",
               .success_status = 202});
  t.push_back({.method = Method::kPost,
               .pattern = "/integrations/alertmanager/{key}",
               .auth = Auth::kIntegrationKey,
               .errors = ErrorFormat::kEvents,
               .secret_path = true,
               .handler = handler(&Ingest::Alertmanager),
               .summary = "Alertmanager webhook (payload version 4), any number of alerts",
               .request_type = "AlertmanagerWebhook",
               .response_type = "EventResults",
               .success_status = 202});
  return t;
}

}  // namespace opsorch::engine
