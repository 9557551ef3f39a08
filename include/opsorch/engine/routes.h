// The incident engine's HTTP routes, as rows of the API's route table:
//   POST /v2/enqueue                       PagerDuty Events API v2 (exact request/response; also
//                                          EnqueueEventsV2, without HTTP)
//   POST /v2/enqueue/batch                 opsorch: an array of v2 events in one request
//   POST /v2/change/enqueue                PagerDuty change events → deployments
//   POST /integrations/alertmanager/{key}  Alertmanager webhook (v4)
//   /integrations/alertmanager/{key}/api/v2/…  the Alertmanager API v2 subset
//   /admin/…                               the catalog, integration keys, retention
//   GET /analytics/sla                     SLA report
// Ingestion authenticates by integration key, the rest by the bearer token.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/api/route.h>
#include <opsorch/common/error.h>
#include <opsorch/common/result.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/engine.h>
#include <opsorch/metrics/metrics.h>

namespace opsorch::engine {

struct EngineRoutesContext {
  // The running engine, or null when none is enabled (the routes then answer 404).
  std::function<Engine*()> engine;
  DecodeLimits limits;
  metrics::Registry* metrics = nullptr;  // failed integration-key authentications
};

api::RouteTable IngestRoutes(const EngineRoutesContext& context);
api::RouteTable AdminRoutes(const EngineRoutesContext& context);
// People, schedules, escalation policies, /oncalls, calendars, an incident's notifications and
// escalation, and the signed action links (docs/PAGING.md).
api::RouteTable PagingRoutes(const EngineRoutesContext& context);
// The Alertmanager API v2 subset under /integrations/alertmanager/{key} (docs/ALERTMANAGER.md).
api::RouteTable AlertmanagerRoutes(const EngineRoutesContext& context);
// Maintenance windows, mute intervals, heartbeat monitors and their beats.
api::RouteTable QuietRoutes(const EngineRoutesContext& context);
// Status pages: admin rows, public updates, and the public pages under /status.
api::RouteTable StatusPageRoutes(const EngineRoutesContext& context);
// `opsorch serve --demo` only: POST /demo/sink/{name}, which checks each page's signature and
// prints it.
api::RouteTable DemoSinkRoutes();

// The JSON Schemas the rows above name (for GET /openapi.json: ApiOptions::extra_schemas).
JsonObject RouteSchemas();

// A decoder's field errors as one bad_request error whose details list them all (PagerDuty's
// format shows every problem of the event); the message is the first.
Error InvalidEvent(const std::vector<FieldError>& errors);

// What POST /v2/enqueue does, without HTTP (events_sink.cc; the route calls it too): decode one
// PagerDuty Events v2 event under `limits`, authenticate its routing key as an active events_v2
// integration, ingest it. `done` gets the dedup key once the event is durable, or the error the
// route answers with: bad_request (InvalidEvent's details; "routing_key is not a valid
// integration key", after `refused` was called with the key, for an unknown, revoked or other
// kind of key), rate_limited (the engine's queue is full), or the store's error.
void IngestEventsV2(Engine& engine, std::string_view body, const DecodeLimits& limits,
                    const std::function<void(std::string_view key)>& refused,
                    std::function<void(Result<std::string> dedup_key)> done);

// The workflow runtime's local incident sink in `opsorch serve`: IngestEventsV2, answered with
// the HTTP status /v2/enqueue would give (202; 400 for an invalid event or routing key; 429;
// 500, or the status of another error) on the engine's thread, or at once when refused.
void EnqueueEventsV2(Engine& engine, std::string body, const DecodeLimits& limits,
                     std::function<void(int status)> done);

}  // namespace opsorch::engine
