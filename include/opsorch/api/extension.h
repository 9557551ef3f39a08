// Routes beyond the OpsOrch Core contract (the incident engine's ingestion, admin and analytics
// endpoints). The API pipeline offers them CORS, OPTIONS, the bearer check (unless the route
// authenticates otherwise) and the request id; everything else is theirs.
#pragma once

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
  // `done` adds the CORS headers and X-Request-Id.
  virtual void Handle(const http::Request& req, std::string_view path,
                      const std::string& request_id, http::ResponseCallback done) = 0;
};

}  // namespace opsorch::api
