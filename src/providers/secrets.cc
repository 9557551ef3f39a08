#include <opsorch/providers/secrets.h>

#include "providers/secret_json/secret_json_provider.h"
#include "providers/secret_sealed/secret_sealed_provider.h"

namespace opsorch::providers::secrets {

Status RegisterSecretProviders(ProviderRegistry& registry) {
  // The secret stores write (and fsync) a file: their calls run on the worker pool.
  if (auto ok = registry.Register<SecretProvider>(secret_json::kProviderName,
                                                  &secret_json::JsonSecretProvider::FromConfig,
                                                  CallModel::kPool);
      !ok) {
    return ok;
  }
  return registry.Register<SecretProvider>(secret_sealed::kProviderName,
                                           &secret_sealed::SealedSecretProvider::FromConfig,
                                           CallModel::kPool);
}

std::string GenerateSealedKey() { return secret_sealed::GenerateSealedKey(); }

}  // namespace opsorch::providers::secrets
