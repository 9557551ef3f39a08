#include "plugin/plugin_providers.h"

#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/operations.h>

namespace opsorch::plugin {
namespace {

namespace s = ::opsorch::schema;

class PluginProvider final : public providers::RemoteProvider {
 public:
  explicit PluginProvider(std::shared_ptr<PluginClient> client) : client_(std::move(client)) {}

  Result<JsonValue> Call(std::string_view method, std::string_view payload) override {
    return client_->Call(method, payload);
  }
  void CallAsync(Loop& loop, std::string_view method, std::string payload,
                 std::function<void(Result<JsonValue>)> done) override {
    client_->CallAsync(loop, method, payload, std::move(done));
  }

 private:
  std::shared_ptr<PluginClient> client_;
};

// The server reads secrets itself (stored provider configs): the interface over the plugin.
class PluginSecret final : public providers::SecretProvider {
 public:
  explicit PluginSecret(std::shared_ptr<PluginClient> client) : remote_(std::move(client)) {}

  Result<std::string> Get(const std::string& key) override {
    return providers::Invoke(providers::ops::kSecretGet, remote_, s::SecretKeyPayload{key});
  }
  Status Put(const std::string& key, const std::string& value) override {
    return providers::Invoke(providers::ops::kSecretPut, remote_, s::SecretPutPayload{key, value});
  }

 private:
  PluginProvider remote_;
};

}  // namespace

providers::BuiltProvider MakePluginProvider(providers::Capability cap,
                                            std::shared_ptr<PluginClient> client) {
  if (cap == providers::Capability::kSecret) {
    // A blocking call: on the worker pool, like the file-backed secret stores.
    return {std::make_shared<PluginSecret>(std::move(client)), providers::CallModel::kPool};
  }
  return {std::make_shared<PluginProvider>(std::move(client)), providers::CallModel::kPool};
}

}  // namespace opsorch::plugin
