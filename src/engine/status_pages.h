// Status page configurations as the admin API and the seed file store them (status_routes.cc).
#pragma once

#include <string>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/engine/engine.h>

namespace opsorch::engine {

// Validates a status page body (strict: name, slug, description, domain, services, overrides;
// the services must exist, the slug and domain must be free) and stores it as `id`. Returns the
// stored form.
Result<JsonObject> SaveStatusPage(Engine& engine, const std::string& id, const JsonObject& body);

}  // namespace opsorch::engine
