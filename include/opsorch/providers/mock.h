// The `mock` provider family: a demo world (fixed ids, times relative to a clock) served for
// the ten API capabilities, in-process or by the opsorch-plugin-mock plugin binary.
#pragma once

#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/providers/registry.h>

namespace opsorch::providers::mock {

inline constexpr std::string_view kProviderName = "mock";

// Fails only if a `mock` provider is already registered for one of the capabilities.
Status RegisterMockProviders(ProviderRegistry& registry);

}  // namespace opsorch::providers::mock
