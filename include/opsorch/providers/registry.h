// The in-process provider registry: per capability, a name → factory map. Registration is
// explicit and in one place (app::RegisterProviders, opsorch/app/providers.h); there are no
// static registrars.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/providers/capability.h>
#include <opsorch/providers/provider.h>

namespace opsorch::providers {

// Validates `config` once and returns a ready provider, or an error that names what is wrong.
using ProviderFactory = std::function<Result<ProviderPtr>(const JsonObject& config)>;

// What a capability is configured with: a registered provider, or a plugin binary (which wins).
struct ProviderSpec {
  std::string name;
  std::string plugin;  // a plugin path; empty: the registered provider `name`
  JsonObject config;
  // The plugin path came through the API (POST /providers, or a config it stored), not from
  // the operator's environment: the plugin factory checks it against OPSORCH_PLUGIN_DIRS.
  bool plugin_from_api = false;
};

// A provider ready to serve, with how its calls run.
struct BuiltProvider {
  ProviderPtr provider;
  CallModel model = CallModel::kInline;
};

// Builds a plugin-backed provider (the plugin host, given by the app).
using PluginFactory = std::function<Result<BuiltProvider>(Capability, const ProviderSpec& spec)>;

class ProviderRegistry {
 public:
  // Names are trimmed and lower-cased. Errors: "registry: provider name required",
  // "registry: provider <name> already registered".
  Status Register(Capability capability, std::string_view name, ProviderFactory factory,
                  CallModel model = CallModel::kInline);

  // Typed convenience: P is one of the interfaces in interfaces.h.
  template <class P, class F>
  Status Register(std::string_view name, F&& factory, CallModel model = CallModel::kInline) {
    static_assert(std::is_base_of_v<Provider, P>);
    return Register(
        P::kCapability, name,
        [f = std::forward<F>(factory)](const JsonObject& c) -> Result<ProviderPtr> {
          auto r = f(c);
          if (!r) return Fail(std::move(r.error()));
          return ProviderPtr(std::move(*r));
        },
        model);
  }

  // Plugin binaries are built by this factory, through Build like every provider.
  void SetPluginFactory(PluginFactory factory) { plugin_factory_ = std::move(factory); }

  // The one way providers are made: a plugin when `spec.plugin` is set, else the registered
  // provider. Errors are bad_request naming what is wrong.
  Result<BuiltProvider> Build(Capability capability, const ProviderSpec& spec) const;

  // A registered provider. Error "<cap> provider <name> not registered" (bad_request).
  Result<ProviderPtr> Create(Capability capability, std::string_view name,
                             const JsonObject& config) const;

  bool Contains(Capability capability, std::string_view name) const;
  // Lower-cased, sorted; empty when none.
  std::vector<std::string> Names(Capability capability) const;

 private:
  struct Entry {
    ProviderFactory factory;
    CallModel model;
  };
  std::array<std::map<std::string, Entry, std::less<>>, kCapabilityCount> factories_;
  PluginFactory plugin_factory_;
};

}  // namespace opsorch::providers
