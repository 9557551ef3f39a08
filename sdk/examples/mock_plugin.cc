// opsorch-plugin-mock: the built-in `mock` providers of all ten capabilities as one plugin
// binary, built with the SDK. Point any OPSORCH_<CAP>_PLUGIN at it; the `config` of the first
// call configures the mock world (same keys as the in-process mock).
#include <opsorch/providers/mock.h>
#include <opsorch/sdk/plugin.h>

int main() {
  opsorch::providers::ProviderRegistry registry;
  if (auto ok = opsorch::providers::mock::RegisterMockProviders(registry); !ok) return 1;
  return opsorch::sdk::ServeStdio(registry, std::string(opsorch::providers::mock::kProviderName));
}
