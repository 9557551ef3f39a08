// The one provider registration list: every provider family opsorch has, registered here and
// only here (each family exposes one registration function).
#pragma once

#include <functional>
#include <memory>

#include <opsorch/common/result.h>
#include <opsorch/providers/registry.h>

namespace opsorch::engine {
class Engine;
}
namespace opsorch::workflow {
class MetricStore;
}
namespace opsorch::orchestration {
class Runbooks;
}
namespace opsorch::net {
class NetList;
}

namespace opsorch::app {

struct ProviderSources {
  // The incident engine behind `local`, opened on first use (when a capability is configured
  // with it). Empty: `local` is registered and every factory call fails saying why.
  std::function<Result<engine::Engine*>()> engine;
  // The runbook runner behind the orchestration `local` provider (opened with the engine).
  std::function<Result<orchestration::Runbooks*>()> runbooks;
  // What the workflow runtime's processors emitted, behind `workflow` (null: no runtime; the
  // provider still registers and says how to configure one).
  workflow::MetricStore* workflow_metrics = nullptr;
  // Builds plugin-backed providers (the plugin host); empty: plugin paths are refused.
  providers::PluginFactory plugins;
  // Where the `webhook`, `slack` and `smtp` messaging providers may reach private-class
  // receivers (OPSORCH_OUTBOUND_ALLOW_NETS; null: nowhere private).
  std::shared_ptr<const net::NetList> outbound_allow_nets;
};

// mock (ten capabilities), json and sealed (secrets), local (incidents, alerts, services,
// teams, orchestration), workflow (metrics), webhook, slack and smtp (messaging), and plugin binaries through
// the same Build path.
Status RegisterProviders(providers::ProviderRegistry& registry, ProviderSources sources);

}  // namespace opsorch::app
