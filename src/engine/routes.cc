#include "engine/routes.h"

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>

namespace opsorch::engine {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::ResponseCallback;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEnqueue = "/v2/enqueue";
constexpr std::string_view kBatch = "/v2/enqueue/batch";
constexpr std::string_view kChange = "/v2/change/enqueue";
constexpr std::string_view kAlertmanager = "/integrations/alertmanager/";

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = kJson;
  r.body = std::move(body);
  r.body.push_back('\n');
  return r;
}

void AppendErrors(std::string& out, const std::vector<FieldError>& errors) {
  out.append("[");
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, errors[i].field.empty() ? errors[i].message
                                                  : errors[i].field + " " + errors[i].message);
  }
  out.append("]");
}

// PagerDuty's 400 body: {"status":"invalid event","message":"Event object is
// invalid","errors":[…]}.
Response Invalid(const std::vector<FieldError>& errors) {
  const bool too_big = errors.size() == 1 && errors.front().field.empty() &&
                       errors.front().message.starts_with("request body exceeds");
  std::string body = R"({"status":"invalid event","message":"Event object is invalid","errors":)";
  AppendErrors(body, errors);
  body.push_back('}');
  return JsonResponse(too_big ? 413 : 400, std::move(body));
}

// The same answer for an unknown and a revoked key: nothing tells a caller which services exist.
Response BadKey() {
  return JsonResponse(
      400,
      R"({"status":"invalid event","message":"Event object is invalid","errors":["routing_key is not a valid integration key"]})");
}

Response Failure(const Error& e) {
  if (e.code == errc::kRateLimited) {
    return JsonResponse(
        429,
        R"({"status":"throttle event","message":"Requests are arriving too quickly. Please retry later."})");
  }
  std::string body = R"({"status":"error","message":)";
  AppendJsonString(body, "the event could not be stored; retry");
  body.push_back('}');
  log::Error("incident engine: event not stored: " + e.message);
  return JsonResponse(e.code == errc::kUnavailable ? 503 : 500, std::move(body));
}

Response Accepted(const IngestResult& r) {
  std::string body = R"({"status":"success","message":"Event processed","dedup_key":)";
  AppendJsonString(body, r.dedup_key);
  body.push_back('}');
  return JsonResponse(202, std::move(body));
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

class IngestRoutes final : public api::RouteExtension {
 public:
  IngestRoutes(std::function<Engine*()> engine, DecodeLimits limits)
      : engine_(std::move(engine)), limits_(limits) {}

  bool Serves(std::string_view path) const override {
    return path == kEnqueue || path == kBatch || path == kChange || path.starts_with(kAlertmanager);
  }
  bool NeedsBearer(std::string_view) const override { return false; }

  // In the sender's format, like the route's other errors: PagerDuty's for /v2/*,
  // Alertmanager's plain one for the webhook.
  std::optional<Response> PayloadTooLarge(std::string_view path,
                                          std::size_t limit) const override {
    const std::string message = "request body exceeds " + std::to_string(limit) + " bytes";
    if (path.starts_with(kAlertmanager)) {
      std::string body = R"({"status":"error","message":)";
      AppendJsonString(body, message);
      body.push_back('}');
      return JsonResponse(413, std::move(body));
    }
    return Invalid({FieldError{"", message}});
  }

  void Handle(const Request& req, std::string_view path, const std::string&,
              ResponseCallback done) override {
    if (req.method != Method::kPost) {
      Response r =
          JsonResponse(405, R"({"status":"error","message":"method not allowed; use POST"})");
      r.AddHeader("Allow", "POST");
      return done(std::move(r));
    }
    Engine* engine = engine_();
    if (engine == nullptr) {
      return done(JsonResponse(
          404,
          R"({"status":"error","message":"the incident engine is not enabled: configure a capability with the local provider"})"));
    }
    if (path == kEnqueue) return Enqueue(*engine, req, std::move(done));
    if (path == kBatch) return Batch(*engine, req, std::move(done));
    if (path == kChange) return Change(*engine, req, std::move(done));
    return Alertmanager(*engine, req, path.substr(kAlertmanager.size()), std::move(done));
  }

 private:
  // The integration of `key`; BadKey (or a 500) was answered when nullopt.
  // The integration of `key` if it is active and of `kind`; else the answer was sent.
  static std::optional<IntegrationRow> Authenticate(Engine& engine, std::string_view key,
                                                    std::string_view kind, ResponseCallback& done) {
    auto found = engine.Authenticate(key);
    if (!found) {
      done(Failure(found.error()));
      return std::nullopt;
    }
    if (!*found || (*found)->kind != kind) {
      done(BadKey());
      return std::nullopt;
    }
    return **found;
  }

  void Enqueue(Engine& engine, const Request& req, ResponseCallback done) {
    auto event = DecodePagerDutyEvent(req.body, limits_);
    if (!event) return done(Invalid(event.error()));
    auto integration = Authenticate(engine, event->routing_key, "events_v2", done);
    if (!integration) return;
    std::vector<Ingestion> in;
    in.push_back(Ingestion{std::move(*integration), std::move(*event)});
    engine.Ingest(std::move(in), [done = std::move(done)](std::vector<IngestResult> r) mutable {
      if (!r.front().status) return done(Failure(r.front().status.error()));
      done(Accepted(r.front()));
    });
  }

  void Batch(Engine& engine, const Request& req, ResponseCallback done) {
    auto decoded = DecodePagerDutyBatch(req.body, limits_);
    if (!decoded) return done(Invalid(decoded.error()));
    // Per element: a decoding error, an authentication error, or an index into `in`.
    struct Slot {
      std::vector<FieldError> errors;
      std::ptrdiff_t index = -1;
    };
    auto slots = std::make_shared<std::vector<Slot>>(decoded->size());
    std::vector<Ingestion> in;
    in.reserve(decoded->size());
    for (std::size_t i = 0; i < decoded->size(); ++i) {
      auto& d = (*decoded)[i];
      if (!d) {
        (*slots)[i].errors = std::move(d.error());
        continue;
      }
      auto found = engine.Authenticate(d->routing_key);
      if (!found) return done(Failure(found.error()));
      if (!*found || (*found)->kind != "events_v2") {
        (*slots)[i].errors = {FieldError{"routing_key", "is not a valid integration key"}};
        continue;
      }
      (*slots)[i].index = static_cast<std::ptrdiff_t>(in.size());
      in.push_back(Ingestion{std::move(**found), std::move(*d)});
    }
    engine.Ingest(std::move(in),
                  [slots, done = std::move(done)](std::vector<IngestResult> results) mutable {
                    std::string body = R"({"status":"success","results":[)";
                    for (std::size_t i = 0; i < slots->size(); ++i) {
                      if (i > 0) body.push_back(',');
                      const Slot& s = (*slots)[i];
                      if (s.index < 0) {
                        body.append(R"({"status":"invalid event","errors":)");
                        AppendErrors(body, s.errors);
                        body.push_back('}');
                      } else {
                        AppendResult(body, results[static_cast<std::size_t>(s.index)]);
                      }
                    }
                    body.append("]}");
                    done(JsonResponse(202, std::move(body)));
                  });
  }

  void Change(Engine& engine, const Request& req, ResponseCallback done) {
    auto change = DecodePagerDutyChange(req.body, limits_);
    if (!change) return done(Invalid(change.error()));
    auto integration = Authenticate(engine, change->routing_key, "events_v2", done);
    if (!integration) return;
    auto row = std::make_shared<DeploymentRow>();
    row->service_id = integration->service_id;
    row->summary = change->summary;
    row->source = change->source;
    row->at = change->timestamp.IsZero() ? Time::Now().UnixNanos() : change->timestamp.UnixNanos();
    row->details = change->custom_details;
    row->links = change->links;
    engine.Submit(
        [row](Tx& tx) { return tx.InsertDeployment(*row); },
        [done = std::move(done)](Status st) mutable {
          if (!st) return done(Failure(st.error()));
          done(JsonResponse(202, R"({"status":"success","message":"Change event processed"})"));
        });
  }

  void Alertmanager(Engine& engine, const Request& req, std::string_view key,
                    ResponseCallback done) {
    if (key.empty() || key.find('/') != std::string_view::npos) {
      return done(JsonResponse(404, R"({"status":"error","message":"not found"})"));
    }
    auto found = engine.Authenticate(key);
    if (!found) return done(Failure(found.error()));
    if (!*found || (*found)->kind != "alertmanager") {
      return done(JsonResponse(401, R"({"status":"error","message":"invalid integration key"})"));
    }
    auto events = DecodeAlertmanager(req.body, key, limits_);
    if (!events) return done(Invalid(events.error()));
    std::vector<Ingestion> in;
    in.reserve(events->size());
    for (auto& e : *events) in.push_back(Ingestion{**found, std::move(e)});
    engine.Ingest(std::move(in), [done = std::move(done)](std::vector<IngestResult> r) mutable {
      for (const auto& x : r) {
        // All or nothing for the sender: Alertmanager retries the whole notification.
        if (!x.status) return done(Failure(x.status.error()));
      }
      std::string body = R"({"status":"success","results":[)";
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (i > 0) body.push_back(',');
        AppendResult(body, r[i]);
      }
      body.append("]}");
      done(JsonResponse(202, std::move(body)));
    });
  }

  std::function<Engine*()> engine_;
  DecodeLimits limits_;
};

}  // namespace

std::shared_ptr<api::RouteExtension> MakeIngestRoutes(std::function<Engine*()> engine,
                                                      DecodeLimits limits) {
  return std::make_shared<IngestRoutes>(std::move(engine), limits);
}

}  // namespace opsorch::engine
