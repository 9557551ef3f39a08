#include <stdexcept>

#include <opsorch/providers/builtin.h>

#include "providers/mock/register.h"
#include "providers/secret_json/secret_json_provider.h"
#include "providers/secret_sealed/secret_sealed_provider.h"

namespace opsorch::providers {

void RegisterBuiltinProviders(ProviderRegistry& registry) {
  // Registration only fails on a duplicate name: a programming error, reported at start-up.
  if (auto ok = mock::RegisterMockProviders(registry); !ok) {
    throw std::logic_error(ok.error().message);
  }
  if (auto ok = registry.Register<SecretProvider>(secret_json::kProviderName,
                                                  &secret_json::JsonSecretProvider::FromConfig);
      !ok) {
    throw std::logic_error(ok.error().message);
  }
  if (auto ok = registry.Register<SecretProvider>(secret_sealed::kProviderName,
                                                  &secret_sealed::SealedSecretProvider::FromConfig);
      !ok) {
    throw std::logic_error(ok.error().message);
  }
}

}  // namespace opsorch::providers
