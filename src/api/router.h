// Matching a request to a row of the route table, as a pure function of the table, the method,
// the path and which capabilities are configured. The OpsOrch contract's path rules hold for its
// routes: a capability's routes answer 501 for any path under its prefix (or on its exact paths)
// while it is unconfigured, before routing; trailing slashes are forgiven under a prefix; an
// unknown path or method is a plain 404. The engine's routes match their segments exactly and
// answer an unknown method with a 405 naming the allowed ones.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/api/route.h>
#include <opsorch/http/message.h>
#include <opsorch/providers/capability.h>

namespace opsorch::api {

struct RouteMatch {
  enum class Kind : std::uint8_t {
    kRoute,              // `route` answers; `params` filled
    kNotFound,           // the contract's plain 404
    kCapabilityMissing,  // 501 <capability>_provider_missing
    kMethodNotAllowed,   // a route of `route`'s format is on this path, not for this method
  };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;
  std::size_t index = 0;  // of `route` in the table
  std::array<std::string_view, 3> params{};
  providers::Capability capability = providers::Capability::kIncident;
  std::string allow;  // kMethodNotAllowed: "GET, PUT"
};

class Router {
 public:
  // `routes` must outlive the router.
  explicit Router(const RouteTable& routes);

  // `path` is percent-decoded, without the query string.
  RouteMatch Match(http::Method method, std::string_view path,
                   const std::function<bool(providers::Capability)>& configured) const;

  // The first route whose pattern matches `path` for some method (whose authentication and
  // error format then apply), or null.
  const Route* OnPath(std::string_view path) const;

 private:
  const RouteTable& routes_;
};

// The table's patterns are well formed: a leading '/', no empty segments, parameters as whole
// segments, at most three, a "{name*}" only last. Empty when they are (checked at start-up and by
// a test over the table).
std::string CheckPatterns(const RouteTable& routes);

}  // namespace opsorch::api
