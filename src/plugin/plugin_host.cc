#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <vector>

#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/plugin/plugin_host.h>

#include "plugin/plugin_client.h"
#include "plugin/plugin_providers.h"

namespace opsorch::plugin {

Result<std::string> ResolveAllowedPluginPath(const std::string& path,
                                             const std::vector<std::string>& allowed_dirs) {
  if (allowed_dirs.empty()) {
    return Fail(errc::kBadRequest,
                "plugin paths cannot be set through the API unless the operator allows a plugin "
                "directory (OPSORCH_PLUGIN_DIRS)");
  }
  const auto refused = [] {
    return Fail(errc::kBadRequest,
                "plugin must be an executable file inside a directory listed in "
                "OPSORCH_PLUGIN_DIRS");
  };
  std::error_code ec;
  if (!std::filesystem::path(path).is_absolute()) return refused();
  const std::filesystem::path canonical = std::filesystem::canonical(path, ec);
  if (ec || !std::filesystem::is_regular_file(canonical, ec) || ec) return refused();
  const std::string resolved = canonical.string();
  const bool inside = std::any_of(allowed_dirs.begin(), allowed_dirs.end(), [&](const auto& dir) {
    const std::string prefix = dir.ends_with('/') ? dir : dir + "/";
    return resolved.starts_with(prefix) && resolved.size() > prefix.size();
  });
  if (!inside || ::access(resolved.c_str(), X_OK) != 0) return refused();
  return resolved;
}

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
