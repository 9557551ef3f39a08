// The HTTP API: one route table (route.h) and one request pipeline over it — CORS and OPTIONS,
// authentication, request id, cross-site refusal, limits, the route's handler, error mapping,
// metrics by route and status, access and audit lines.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/api/route.h>
#include <opsorch/common/blocking_pool.h>
#include <opsorch/common/json.h>
#include <opsorch/http/message.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/providers/provider_set.h>
#include <opsorch/providers/registry.h>

namespace opsorch::api {

// Who is behind a console session cookie (the console module keeps the sessions). The pipeline
// asks it for requests that carry the cookie and no bearer token.
struct SessionIdentity {
  std::string actor_id;    // the audit line's and timeline's actor id
  std::string actor_name;  // shown on timeline entries
};
class SessionVerifier {
 public:
  virtual ~SessionVerifier() = default;
  // The session's identity for a cookie value, extending its idle expiry; nullopt when unknown
  // or expired.
  virtual std::optional<SessionIdentity> Verify(std::string_view cookie_value) = 0;
};
// The session cookie's name: with the __Host- prefix under TLS (the browser then accepts it
// only with Secure, Path=/ and no Domain, so no other host or http page can plant one).
std::string_view SessionCookieName(bool tls);
// The values of cookie `name` in a Cookie header, in order (a browser sends one per path and
// domain that matches: another service on the same host may have planted one).
std::vector<std::string_view> CookieValues(std::string_view cookie_header, std::string_view name);
// The header a console's API calls carry: a page of another origin cannot send it without a
// CORS preflight, which this server never grants for it.
inline constexpr std::string_view kConsoleHeader = "X-OpsOrch-Console";

// Why a request authenticated by the console's session cookie is refused as a possible
// cross-site request forgery, or "" when it passes: it must carry X-OpsOrch-Console: 1, must not
// be cross-site (IsCrossSite, with no configured origin trusted), and a method that changes
// something must show it is same-origin (Sec-Fetch-Site: same-origin, or an Origin equal to the
// Host when the browser sends no Fetch Metadata: plain http to a non-loopback name).
std::string_view ConsoleCallRefusal(const http::Request& req);

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
  // Console sessions: with a bearer token set, a request without an Authorization header may
  // authenticate by the session cookie instead (and must then pass the console's CSRF checks).
  std::shared_ptr<SessionVerifier> sessions;
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
