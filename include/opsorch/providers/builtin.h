// Explicit registration of every provider compiled into this binary.
#pragma once

#include <opsorch/providers/registry.h>

namespace opsorch::providers {

// Registers `mock` for the ten API capabilities and `json` for secrets.
void RegisterBuiltinProviders(ProviderRegistry& registry);

}  // namespace opsorch::providers
