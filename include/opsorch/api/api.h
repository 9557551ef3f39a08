// The HTTP API: one route table (route.h) and one request pipeline over it — CORS and OPTIONS,
// authentication, request id, cross-site refusal, limits, the route's handler, error mapping,
// metrics by route and status, access and audit lines.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/api/route.h>
#include <opsorch/common/blocking_pool.h>
#include <opsorch/common/json.h>
#include <opsorch/http/message.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/providers/provider_set.h>
#include <opsorch/providers/registry.h>

namespace opsorch::api {

struct ApiOptions {
  std::string cors_origin = "*";
  std::string bearer_token;  // empty → no auth
  // Accepted on GET /metrics and GET /health besides the bearer token (a scraper or a health
  // probe needs no more).
  std::string metrics_token;
  bool access_log = false;  // one line per request
  // Named JSON Schemas the table's rows refer to besides schema::JsonSchemas() (the engine's
  // admin types), for GET /openapi.json.
  JsonObject extra_schemas;
};

class Api final : public http::Handler {
 public:
  // Checks the table's patterns (an error names the bad row). `providers` decides which
  // contract capabilities answer 501; `pool` runs Execution::kPool handlers.
  static Result<std::unique_ptr<Api>> Create(ApiOptions options, RouteTable routes,
                                             const providers::ProviderSet& providers,
                                             metrics::Registry& metrics, BlockingPool* pool);
  ~Api() override;

  void Handle(const http::Request& request, http::ResponseCallback done) override;
  std::optional<http::Response> PayloadTooLarge(std::string_view target,
                                                std::size_t limit) override;

  const RouteTable& Routes() const;

  struct Impl;

 private:
  explicit Api(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The OpsOrch contract's routes (its capabilities, /, /health, /metrics, /providers), each over
// the provider its capability has when the request arrives.
struct CoreRoutesContext {
  const providers::ProviderRegistry& registry;
  providers::ProviderSet& providers;
  metrics::Registry& metrics;
  BlockingPool* pool;          // runs calls of CallModel::kPool providers
  std::size_t json_max_depth;  // request bodies nested deeper → 400
};
RouteTable CoreRoutes(const CoreRoutesContext& context);

// The table as an OpenAPI 3.1 document: every row's path, method, auth, error format, summary
// and its request and response schemas. Fails naming a row whose type has no schema. Api::Create
// adds GET /openapi.json, serving this document for the whole table (itself included).
Result<std::string> OpenApiDocument(const RouteTable& routes, const JsonObject& extra_schemas);

}  // namespace opsorch::api
