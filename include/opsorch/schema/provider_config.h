// The stored / posted provider configuration: {"provider":…,"config":…,"plugin":…}.
#pragma once

#include <optional>
#include <string>

#include <opsorch/common/json.h>

namespace opsorch::schema {

struct ProviderConfig {
  std::string provider;
  std::optional<JsonObject> config;  // stored as `null` when absent
  std::string plugin;                // omitted when empty
};

}  // namespace opsorch::schema
