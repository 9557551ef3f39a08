// Registration of the `mock` provider for the ten API capabilities.
#pragma once

#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/providers/registry.h>

namespace opsorch::providers::mock {

inline constexpr std::string_view kProviderName = "mock";

// Fails only if a `mock` provider is already registered for one of the capabilities.
Status RegisterMockProviders(ProviderRegistry& registry);

}  // namespace opsorch::providers::mock
