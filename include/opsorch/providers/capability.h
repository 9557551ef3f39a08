// The capabilities of OpsOrch Core and their spellings.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <opsorch/common/error.h>

namespace opsorch::providers {

enum class Capability : std::uint8_t {
  kIncident,
  kAlert,
  kLog,
  kMetric,
  kTicket,
  kMessaging,
  kService,
  kDeployment,
  kTeam,
  kOrchestration,
  kSecret,  // configured like the others, but has no HTTP routes
};

inline constexpr std::size_t kCapabilityCount = 11;

// Start-up order of the contract (§1.1): secret first, then the ten API capabilities.
inline constexpr std::array<Capability, kCapabilityCount> kStartupOrder = {
    Capability::kSecret,     Capability::kIncident, Capability::kAlert,        Capability::kLog,
    Capability::kMetric,     Capability::kTicket,   Capability::kMessaging,    Capability::kService,
    Capability::kDeployment, Capability::kTeam,     Capability::kOrchestration};

// "incident", "alert", …, "secret".
std::string_view Name(Capability c);
// "INCIDENT", … — the <CAP> of OPSORCH_<CAP>_PROVIDER.
std::string_view EnvName(Capability c);
constexpr std::size_t Index(Capability c) { return static_cast<std::size_t>(c); }

// The path spellings of /providers/{cap} (contract §4), case-insensitive. Never yields kSecret.
std::optional<Capability> ParseCapabilityPath(std::string_view s);

// Whether a failure to configure this capability at start-up is fatal (contract §1.1).
bool StartupFailureIsFatal(Capability c);

// 501 {"code":"<cap>_provider_missing","message":"<cap> provider not configured"}.
Error ProviderMissing(Capability c);

}  // namespace opsorch::providers
