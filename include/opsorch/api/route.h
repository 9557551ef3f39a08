// A route is one row: method, path pattern, capability, audit action, who may call it, body
// limit, error format, where its handler runs, and the handler. Every route of the server — the
// OpsOrch contract's, the incident engine's ingestion, admin and analytics routes, /health and
// /metrics — is a row of one table (api.h) and goes through one pipeline: CORS and OPTIONS,
// authentication, request id, limits, handler, error mapping, metrics by route and status,
// access and audit lines.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/http/message.h>
#include <opsorch/providers/capability.h>

namespace opsorch::api {

// Who may call a route.
enum class Auth : std::uint8_t {
  kBearer,                // OPSORCH_BEARER_TOKEN, when one is set
  kBearerOrMetricsToken,  // … or OPSORCH_METRICS_TOKEN (GET /metrics, GET /health)
  kIntegrationKey,        // the handler checks an integration key of the engine; no bearer
  kSignedLink,            // the path holds a signed link (action, calendar) the handler checks
  kPublic,                // anyone, by design: the public status pages (read-only)
};

// How a route's errors are written.
enum class ErrorFormat : std::uint8_t {
  kOpsOrch,  // {"code","message"} (the contract's)
  // Ingestion (PagerDuty Events API v2 and the Alertmanager webhook): 400/413 as
  // {"status":"invalid event",…,"errors":[…]}, 429 as "throttle event", others
  // {"status":"error","message":…}.
  kEvents,
  // Alertmanager API v2 (go-swagger): the message as one JSON string.
  kAlertmanager,
};

// Where a handler starts: on the request's event-loop thread (it must not block; it may hand
// work on), or on the bounded worker pool (it may block on a disk or a database).
enum class Execution : std::uint8_t { kLoop, kPool };

// What a handler answers.
struct Reply {
  int status = 200;
  std::string body;  // JSON is written without its trailing newline: the pipeline adds it
  std::string_view content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string next;  // the paging cursor of the next page (X-OpsOrch-Next-Cursor, Link)
};
using Outcome = Result<Reply>;

inline Reply JsonReply(std::string body, int status = 200) {
  return Reply{status, std::move(body)};
}
inline Reply StatusOk(int status = 200) { return Reply{status, "{\"status\":\"ok\"}"}; }

// One request as its handler sees it. Valid until the handler's Respond is called.
struct Call {
  const http::Request& request;
  std::string_view path;                     // percent-decoded, without the query string
  std::string_view query;                    // the raw query string
  std::array<std::string_view, 3> params{};  // the pattern's {…} segments, in order
  std::string request_id;
  // Authenticated by a console session: the session is the actor (its identity is in the actor
  // headers), and an actor named in the body is ignored.
  bool session = false;

  // The first value of `key` in the query string (application/x-www-form-urlencoded: '+' is a
  // space, %XX decoded); "" when absent or malformed. The server's one query-string parser.
  std::string Query(std::string_view key) const;
  // Every non-empty value of `key` (repeated keys, PagerDuty's `scheduleIds[]=a&scheduleIds[]=b`),
  // at most 1000; malformed ones left out.
  std::vector<std::string> QueryAll(std::string_view key) const;
};

// Called exactly once, from any thread.
using Respond = std::function<void(Outcome)>;
using Handler = std::function<void(Call& call, Respond respond)>;

struct Route {
  http::Method method = http::Method::kGet;
  // "/incidents/{id}/timeline": literal segments and {name} parameters; a last "{name*}" takes
  // the rest of the path, slashes included.
  std::string_view pattern;
  // A route of the OpsOrch contract's capability: 501 while the capability is unconfigured, and
  // the contract's path rules (prefix capabilities, trailing slashes).
  std::optional<providers::Capability> capability;
  std::string_view audit;  // the audit action written on success; "" for none
  Auth auth = Auth::kBearer;
  std::size_t body_limit = 0;  // bytes; 0: the server's limit
  ErrorFormat errors = ErrorFormat::kOpsOrch;
  // A capability-less route of the contract: like the contract's own, an unknown method here is
  // a plain 404, not a 405.
  bool contract = false;
  // Changes configuration (or reads keys): without a bearer token, refused when a web page in
  // the operator's browser sends it (cross-site).
  bool changes_config = false;
  // The pattern's first {parameter} and what follows is a credential (an integration key in the
  // URL): log lines show the path up to it and "(redacted)" for any request under that prefix.
  bool secret_path = false;
  Execution execution = Execution::kLoop;
  Handler handler;

  // For GET /openapi.json: a one-line summary and the schema names of the request body and the
  // success response ("" when none, a name from schema::JsonSchemas(), or "object").
  std::string_view summary;
  std::string_view request_type;
  std::string_view response_type;
  int success_status = 200;
};

using RouteTable = std::vector<Route>;

// A pattern as it is shown: "{name*}" written "{name}" (the metrics' `route` label, the OpenAPI
// path).
std::string RouteLabel(std::string_view pattern);

// The paging extension's headers (docs/API.md): X-OpsOrch-Next-Cursor, and a Link to the next
// page (the request's target with `after` replaced).
void AddNextPageHeaders(http::Response& r, std::string_view target, const std::string& next);

// An error as a route of `format` writes it (without the trailing newline).
std::string ErrorBodyIn(ErrorFormat format, const Error& e, std::string_view request_id);
// An error answered with headers of its own (Retry-After on a 429, WWW-Authenticate on a 401),
// which a failed Outcome cannot carry: status and body from the one error table, as the pipeline
// writes errors of the OpsOrch format.
Reply ErrorReply(const Error& e, std::vector<std::pair<std::string, std::string>> headers);

// Who made a request, for timeline entries: {"type":"user"|"copilot","id"?,"name"?} from the
// actor headers the audit line reads (for a console session, the session's identity).
JsonObject CallerOf(const http::Request& req);

// Writes the audit line of contract §11 for `action`.
void Audit(const http::Request& req, std::string_view request_id, std::string_view action);

}  // namespace opsorch::api
