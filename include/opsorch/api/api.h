// The OpsOrch Core HTTP API: the request pipeline of the contract (CORS → OPTIONS → bearer →
// request id → dispatch → audit) over the live ProviderSet.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opsorch/api/extension.h>
#include <opsorch/common/blocking_pool.h>
#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/http/message.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/providers/provider_set.h>
#include <opsorch/providers/registry.h>

namespace opsorch::api {

// Builds a provider served by an external plugin binary (the plugin host; null → refused).
using PluginFactory = std::function<Result<providers::ProviderPtr>(
    providers::Capability, const std::string& path, const JsonObject& config)>;

struct ApiOptions {
  std::string cors_origin = "*";
  std::string bearer_token;         // empty → no auth
  // Accepted on GET /metrics besides the bearer token (a scraper needs no more than that).
  std::string metrics_token;
  std::size_t json_max_depth = 64;  // request bodies nested deeper → 400
  bool access_log = false;          // one JSON line per request
  PluginFactory plugin_factory;
  std::vector<std::shared_ptr<RouteExtension>> extensions;  // tried before the contract's 404
};

class Api final : public http::Handler {
 public:
  // `blocking_pool` runs calls to providers whose IsBlocking() is true; may be null when every
  // provider is in-memory.
  Api(ApiOptions options, const providers::ProviderRegistry& registry,
      providers::ProviderSet& providers, metrics::Registry& metrics, BlockingPool* blocking_pool);
  ~Api() override;

  void Handle(const http::Request& request, http::ResponseCallback done) override;
  std::optional<http::Response> PayloadTooLarge(std::string_view target,
                                                std::size_t limit) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::api
