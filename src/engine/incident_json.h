// An incident in the OpsOrch Incident shape, as the contract's routes answer it (defined with
// the `local` providers, which own that conversion): the pager puts it in webhook payloads.
#pragma once

#include <string>

#include <opsorch/engine/store.h>

namespace opsorch::engine {

std::string IncidentJson(const IncidentRow& row);

}  // namespace opsorch::engine
