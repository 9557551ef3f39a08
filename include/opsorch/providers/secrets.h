// The secret provider families: `json` (a JSON object file) and `sealed` (the same, encrypted
// with libsodium under OPSORCH_SECRET_KEY).
#pragma once

#include <string>

#include <opsorch/common/result.h>
#include <opsorch/providers/registry.h>

namespace opsorch::providers::secrets {

// Both run their calls on the worker pool (they write and fsync a file). Fails only on a name
// registered twice.
Status RegisterSecretProviders(ProviderRegistry& registry);

// A new key for the `sealed` provider: base64 of 32 random bytes (`opsorch keygen`).
std::string GenerateSealedKey();

}  // namespace opsorch::providers::secrets
