// The incident engine's admin and analytics endpoints (bearer token required), as an API route
// extension. Reference: docs/ENGINE.md "Admin API" and "SLA analytics".
#pragma once

#include <functional>
#include <memory>

#include <opsorch/api/extension.h>
#include <opsorch/engine/engine.h>

namespace opsorch::engine {

// `engine` returns the running engine, or null (the routes then answer 404).
std::shared_ptr<api::RouteExtension> MakeAdminRoutes(std::function<Engine*()> engine);

}  // namespace opsorch::engine
