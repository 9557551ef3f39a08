// The incident engine's HTTP routes, as rows of the API's route table:
//   POST /v2/enqueue                       PagerDuty Events API v2 (exact request/response)
//   POST /v2/enqueue/batch                 opsorch: an array of v2 events in one request
//   POST /v2/change/enqueue                PagerDuty change events → deployments
//   POST /integrations/alertmanager/{key}  Alertmanager webhook (v4)
//   /integrations/alertmanager/{key}/api/v2/…  the Alertmanager API v2 subset
//   /admin/…                               the catalog, integration keys, retention
//   GET /analytics/sla                     SLA report
// Ingestion authenticates by integration key, the rest by the bearer token.
#pragma once

#include <functional>

#include <opsorch/api/route.h>
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

}  // namespace opsorch::engine
