// The providers of the providers module: `mock` for the ten API capabilities, `json` and
// `sealed` for secrets. Fails only on a name registered twice.
#pragma once

#include <opsorch/providers/registry.h>

namespace opsorch::providers {

Status RegisterBuiltinProviders(ProviderRegistry& registry);

}  // namespace opsorch::providers
