// The `local` provider: the incident, alert, service and team capabilities served from the
// incident engine's own store.
#pragma once

#include <functional>

#include <opsorch/common/result.h>
#include <opsorch/engine/engine.h>
#include <opsorch/providers/registry.h>

namespace opsorch::engine {

inline constexpr std::string_view kLocalProviderName = "local";

// `engine` opens (once) and returns the process's engine; it is called by the factories, so
// the engine starts only when a capability is configured with `local`.
Status RegisterLocalProviders(providers::ProviderRegistry& registry,
                              std::function<Result<Engine*>()> engine);

}  // namespace opsorch::engine
