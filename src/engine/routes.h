// The incident engine's HTTP endpoints, as an API route extension:
//   POST /v2/enqueue                       PagerDuty Events API v2 (exact request/response)
//   POST /v2/enqueue/batch                 opsorch: an array of v2 events in one request
//   POST /v2/change/enqueue                PagerDuty change events → deployments
//   POST /integrations/alertmanager/{key}  Alertmanager webhook (v4)
// Ingestion authenticates by integration key, not by the bearer token.
#pragma once

#include <functional>
#include <memory>

#include <opsorch/api/extension.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/engine.h>

namespace opsorch::engine {

// `engine` returns the running engine, or null when none is enabled (the routes answer 404).
std::shared_ptr<api::RouteExtension> MakeIngestRoutes(std::function<Engine*()> engine,
                                                      DecodeLimits limits = {});

}  // namespace opsorch::engine
