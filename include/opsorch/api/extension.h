// Routes beyond the OpsOrch Core contract (the incident engine's ingestion, admin and analytics
// endpoints). The API pipeline offers them CORS, OPTIONS, the bearer check (unless the route
// authenticates otherwise) and the request id; everything else is theirs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <opsorch/http/message.h>

namespace opsorch::api {

class RouteExtension {
 public:
  virtual ~RouteExtension() = default;
  // `path` is the request path without the query string, not yet percent-decoded.
  virtual bool Serves(std::string_view path) const = 0;
  // False for routes that authenticate by their own key (ingestion): no bearer token needed.
  virtual bool NeedsBearer(std::string_view path) const = 0;
  // True when Handle may block (database reads and writes): it then runs on the worker pool
  // instead of the event loop.
  virtual bool Blocking(std::string_view) const { return false; }
  // The 413 of a request to `path` over the server's body limit, in the route's error format
  // (nullopt: the API's).
  virtual std::optional<http::Response> PayloadTooLarge(std::string_view /*path*/,
                                                        std::size_t /*limit*/) const {
    return std::nullopt;
  }
  // `done` adds the CORS headers and X-Request-Id.
  virtual void Handle(const http::Request& req, std::string_view path,
                      const std::string& request_id, http::ResponseCallback done) = 0;
};

// The paging extension's headers (docs/API.md): X-OpsOrch-Next-Cursor, and a Link to the next
// page (the request's target with `after` replaced).
void AddNextPageHeaders(http::Response& r, std::string_view target, const std::string& next);

// Writes the audit line of contract §11 for `action` (the same line the core routes write).
void Audit(const http::Request& req, std::string_view request_id, std::string_view action);

}  // namespace opsorch::api
