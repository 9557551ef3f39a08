#include <string>

#include <opsorch/common/strings.h>
#include <opsorch/providers/registry.h>

namespace opsorch::providers {

Status ProviderRegistry::Register(Capability capability, std::string_view name,
                                  ProviderFactory factory, CallModel model) {
  std::string key = ToLower(TrimSpace(name));
  if (key.empty()) return Fail(errc::kBadRequest, "registry: provider name required");
  auto& map = factories_[Index(capability)];
  if (map.contains(key)) {
    return Fail(errc::kBadRequest, "registry: provider " + key + " already registered");
  }
  map.emplace(std::move(key), Entry{std::move(factory), model});
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
  return it->second.factory(config);
}

Result<BuiltProvider> ProviderRegistry::Build(Capability capability,
                                              const ProviderSpec& spec) const {
  if (!spec.plugin.empty()) {
    if (!plugin_factory_) {
      return Fail(errc::kBadRequest, "plugin providers are not available in this build");
    }
    return plugin_factory_(capability, spec);
  }
  const std::string key = ToLower(TrimSpace(spec.name));
  const auto& map = factories_[Index(capability)];
  auto it = map.find(key);
  if (it == map.end()) {
    return Fail(errc::kBadRequest,
                std::string(Name(capability)) + " provider " + key + " not registered");
  }
  auto made = it->second.factory(spec.config);
  if (!made) return Fail(std::move(made.error()));
  return BuiltProvider{std::move(*made), it->second.model};
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
