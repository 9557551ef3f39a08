#include <string>

#include <opsorch/common/strings.h>
#include <opsorch/providers/capability.h>

namespace opsorch::providers {
namespace {
constexpr std::array<std::string_view, kCapabilityCount> kNames = {
    "incident", "alert",      "log",  "metric",        "ticket", "messaging",
    "service",  "deployment", "team", "orchestration", "secret"};
constexpr std::array<std::string_view, kCapabilityCount> kEnvNames = {
    "INCIDENT", "ALERT",      "LOG",  "METRIC",        "TICKET", "MESSAGING",
    "SERVICE",  "DEPLOYMENT", "TEAM", "ORCHESTRATION", "SECRET"};
}  // namespace

std::string_view Name(Capability c) { return kNames[Index(c)]; }
std::string_view EnvName(Capability c) { return kEnvNames[Index(c)]; }

std::optional<Capability> ParseCapabilityPath(std::string_view s) {
  const std::string lower = ToLower(s);
  struct Spelling {
    std::string_view text;
    Capability capability;
  };
  static constexpr Spelling kSpellings[] = {
      {"incident", Capability::kIncident},
      {"incidents", Capability::kIncident},
      {"alert", Capability::kAlert},
      {"alerts", Capability::kAlert},
      {"log", Capability::kLog},
      {"logs", Capability::kLog},
      {"metric", Capability::kMetric},
      {"metrics", Capability::kMetric},
      {"ticket", Capability::kTicket},
      {"tickets", Capability::kTicket},
      {"message", Capability::kMessaging},
      {"messages", Capability::kMessaging},
      {"messaging", Capability::kMessaging},
      {"service", Capability::kService},
      {"services", Capability::kService},
      {"deployment", Capability::kDeployment},
      {"deployments", Capability::kDeployment},
      {"team", Capability::kTeam},
      {"teams", Capability::kTeam},
      {"orchestration", Capability::kOrchestration},
      {"orchestrations", Capability::kOrchestration},
  };
  for (const auto& sp : kSpellings) {
    if (sp.text == lower) return sp.capability;
  }
  return std::nullopt;
}

bool StartupFailureIsFatal(Capability c) {
  return c != Capability::kDeployment && c != Capability::kTeam && c != Capability::kOrchestration;
}

Error ProviderMissing(Capability c) {
  std::string name(Name(c));
  if (c == Capability::kSecret) {
    return Error(ErrorCode::kSecretProviderMissing, "secret provider not configured");
  }
  return Error(ErrorCode::kProviderMissing, name + " provider not configured",
               name + "_provider_missing");
}

}  // namespace opsorch::providers
