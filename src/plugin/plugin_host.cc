#include <opsorch/common/error.h>
#include <opsorch/plugin/plugin_host.h>

#include "plugin/plugin_client.h"
#include "plugin/plugin_providers.h"

namespace opsorch::plugin {

struct PluginHost::Impl {
  std::shared_ptr<Reaper> reaper = std::make_shared<Reaper>();
  metrics::Registry* metrics = nullptr;
};

PluginHost::PluginHost(metrics::Registry* metrics) : impl_(std::make_shared<Impl>()) {
  impl_->metrics = metrics;
}

PluginHost::~PluginHost() = default;  // the reaper joins once the last client has retired

Result<providers::ProviderPtr> PluginHost::Create(providers::Capability cap,
                                                  const std::string& path, const JsonObject& config,
                                                  const PluginSettings& settings) {
  if (path.empty()) return Fail(errc::kBadRequest, "plugin path required");
  if (settings.pool_size == 0) return Fail(errc::kBadRequest, "plugin pool size must be >= 1");
  auto client = std::make_shared<PluginClient>(std::string(providers::Name(cap)), path, config,
                                               settings, impl_->reaper, impl_->metrics);
  return MakePluginProvider(cap, std::move(client));
}

}  // namespace opsorch::plugin
