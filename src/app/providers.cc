#include <opsorch/app/providers.h>
#include <opsorch/engine/local_providers.h>
#include <opsorch/notify/providers.h>
#include <opsorch/orchestration/runbooks.h>
#include <opsorch/providers/mock.h>
#include <opsorch/providers/secrets.h>
#include <opsorch/workflow/metric_provider.h>

namespace opsorch::app {

Status RegisterProviders(providers::ProviderRegistry& registry, ProviderSources sources) {
  if (auto st = providers::mock::RegisterMockProviders(registry); !st) return st;
  if (auto st = providers::secrets::RegisterSecretProviders(registry); !st) return st;
  auto engine = std::move(sources.engine);
  if (!engine) {
    engine = []() -> Result<engine::Engine*> {
      return Fail(errc::kBadRequest, "the incident engine is not available here");
    };
  }
  if (auto st = engine::RegisterLocalProviders(registry, std::move(engine)); !st) return st;
  auto runbooks = std::move(sources.runbooks);
  if (!runbooks) {
    runbooks = []() -> Result<orchestration::Runbooks*> {
      return Fail(errc::kBadRequest, "runbooks are not available here");
    };
  }
  if (auto st = orchestration::RegisterLocalOrchestration(registry, std::move(runbooks)); !st) {
    return st;
  }
  if (auto st = workflow::RegisterWorkflowMetricProvider(registry, sources.workflow_metrics); !st) {
    return st;
  }
  notify::NotifyEnvironment notify_env;
  notify_env.allow_nets = sources.outbound_allow_nets;
  if (auto st = notify::RegisterNotifyProviders(registry, std::move(notify_env)); !st) return st;
  if (sources.plugins) registry.SetPluginFactory(std::move(sources.plugins));
  return Ok();
}

}  // namespace opsorch::app
