#include <mutex>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/plugin/plugin_host.h>

#include "plugin/plugin_client.h"
#include "plugin/plugin_providers.h"

namespace opsorch::plugin {

struct PluginHost::Impl {
  std::shared_ptr<Reaper> reaper = std::make_shared<Reaper>();
  metrics::Registry* metrics = nullptr;
  std::mutex mu;
  std::vector<std::weak_ptr<PluginClient>> clients;  // for AbortCalls
};

PluginHost::PluginHost(metrics::Registry* metrics) : impl_(std::make_shared<Impl>()) {
  impl_->metrics = metrics;
}

PluginHost::~PluginHost() = default;  // the reaper joins once the last client has retired

Result<providers::BuiltProvider> PluginHost::Create(providers::Capability cap,
                                                    const std::string& path,
                                                    const JsonObject& config,
                                                    const PluginSettings& settings) {
  if (path.empty()) return Fail(errc::kBadRequest, "plugin path required");
  if (settings.pool_size == 0) return Fail(errc::kBadRequest, "plugin pool size must be >= 1");
  auto client = std::make_shared<PluginClient>(std::string(providers::Name(cap)), path, config,
                                               settings, impl_->reaper, impl_->metrics);
  {
    std::lock_guard lock(impl_->mu);
    std::erase_if(impl_->clients, [](const auto& w) { return w.expired(); });
    impl_->clients.push_back(client);
  }
  return MakePluginProvider(cap, std::move(client));
}

void PluginHost::AbortCalls() {
  std::vector<std::shared_ptr<PluginClient>> live;
  {
    std::lock_guard lock(impl_->mu);
    for (const auto& w : impl_->clients) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
  }
  for (const auto& c : live) c->Abort();
}

}  // namespace opsorch::plugin
