#include <string>

#include <opsorch/common/strings.h>
#include <opsorch/providers/registry.h>

namespace opsorch::providers {

Status ProviderRegistry::Register(Capability capability, std::string_view name,
                                  ProviderFactory factory) {
  std::string key = ToLower(TrimSpace(name));
  if (key.empty()) return Fail(errc::kBadRequest, "registry: provider name required");
  auto& map = factories_[Index(capability)];
  if (map.contains(key)) {
    return Fail(errc::kBadRequest, "registry: provider " + key + " already registered");
  }
  map.emplace(std::move(key), std::move(factory));
  return Ok();
}

Result<ProviderPtr> ProviderRegistry::Create(Capability capability, std::string_view name,
                                             const JsonObject& config) const {
  const std::string key = ToLower(TrimSpace(name));
  const auto& map = factories_[Index(capability)];
  auto it = map.find(key);
  if (it == map.end()) {
    return Fail(errc::kBadRequest,
                std::string(Name(capability)) + " provider " + key + " not registered");
  }
  return it->second(config);
}

bool ProviderRegistry::Contains(Capability capability, std::string_view name) const {
  return factories_[Index(capability)].contains(ToLower(TrimSpace(name)));
}

std::vector<std::string> ProviderRegistry::Names(Capability capability) const {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories_[Index(capability)]) names.push_back(name);
  return names;  // std::map keeps them sorted
}

}  // namespace opsorch::providers
