// The in-process provider registry: per capability, a name → factory map. Registration is
// explicit (RegisterBuiltinProviders in builtin.h); there are no static registrars.
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

class ProviderRegistry {
 public:
  // Names are trimmed and lower-cased. Errors: "registry: provider name required",
  // "registry: provider <name> already registered".
  Status Register(Capability capability, std::string_view name, ProviderFactory factory);

  // Typed convenience: P is one of the interfaces in interfaces.h.
  template <class P, class F>
  Status Register(std::string_view name, F&& factory) {
    static_assert(std::is_base_of_v<Provider, P>);
    return Register(P::kCapability, name,
                    [f = std::forward<F>(factory)](const JsonObject& c) -> Result<ProviderPtr> {
                      auto r = f(c);
                      if (!r) return Fail(std::move(r.error()));
                      return ProviderPtr(std::move(*r));
                    });
  }

  // Error "<cap> provider <name> not registered" (code bad_request) when unknown.
  Result<ProviderPtr> Create(Capability capability, std::string_view name,
                             const JsonObject& config) const;

  bool Contains(Capability capability, std::string_view name) const;
  // Lower-cased, sorted; empty when none.
  std::vector<std::string> Names(Capability capability) const;

 private:
  std::array<std::map<std::string, ProviderFactory, std::less<>>, kCapabilityCount> factories_;
};

}  // namespace opsorch::providers
