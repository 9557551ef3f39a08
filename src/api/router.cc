#include "api/router.h"

#include <algorithm>

namespace opsorch::api {
namespace {

using http::Method;
using providers::Capability;

// The contract's capabilities in its dispatch order, with how their paths are recognised:
// everything under a prefix, or exact paths only.
struct Family {
  Capability capability;
  std::string_view prefix;  // prefix families; empty for exact ones
  std::string_view extra;   // an exact path that is no route: 501 unconfigured, 404 configured
};
constexpr Family kFamilies[] = {
    {Capability::kIncident, "/incidents", {}},
    {Capability::kAlert, "/alerts", {}},
    {Capability::kLog, {}, {}},
    {Capability::kMetric, {}, {}},
    {Capability::kTicket, "/tickets", {}},
    {Capability::kMessaging, {}, {}},
    // GET /services is not a list endpoint: 501 without a provider, 404 with one.
    {Capability::kService, {}, "/services"},
    {Capability::kDeployment, "/deployments", {}},
    {Capability::kTeam, "/teams", {}},
    {Capability::kOrchestration, "/orchestration", {}},
};

// Splits "a/b/c" on '/'; true unless there are more than `max` segments.
template <std::size_t N>
bool Split(std::string_view s, std::array<std::string_view, N>& out, std::size_t& n) {
  n = 0;
  while (true) {
    const std::size_t slash = s.find('/');
    if (n == N) return false;
    out[n++] = s.substr(0, slash);
    if (slash == std::string_view::npos) return true;
    s.remove_prefix(slash + 1);
  }
}

constexpr std::size_t kMaxSegments = 8;
using Segments = std::array<std::string_view, kMaxSegments>;

bool IsParam(std::string_view seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}
bool IsRest(std::string_view seg) { return seg.size() >= 3 && seg.ends_with("*}") && IsParam(seg); }

// Matches pattern segments against path segments; `rest` is the untrimmed path after the
// leading '/', for a "{name*}" segment.
bool MatchSegments(std::string_view pattern, std::string_view path_body, const Segments& path,
                   std::size_t n, std::array<std::string_view, 3>& params) {
  Segments pat;
  std::size_t m = 0;
  if (!Split(pattern.substr(1), pat, m)) return false;
  std::size_t p = 0;
  std::size_t offset = 0;  // of path[i] in path_body
  for (std::size_t i = 0; i < m; ++i) {
    if (IsRest(pat[i])) {
      if (i >= n) return false;
      if (p < params.size()) params[p++] = path_body.substr(offset);
      return true;
    }
    if (i >= n) return false;
    if (IsParam(pat[i])) {
      if (p < params.size()) params[p++] = path[i];
    } else if (pat[i] != path[i]) {
      return false;
    }
    offset += path[i].size() + 1;
  }
  return m == n;
}

// The contract's trimming under a prefix: one trailing '/' dropped, then '/' at both ends.
std::string_view TrimContract(std::string_view path) {
  if (path.ends_with('/')) path.remove_suffix(1);
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  return path;
}

// opsorch's own routes ignore one trailing '/' (not the root's).
std::string_view OwnPath(std::string_view path) {
  if (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);
  return path;
}

}  // namespace

std::string RouteLabel(std::string_view pattern) {
  std::string label(pattern);
  if (const auto star = label.find("*}"); star != std::string::npos) label.erase(star, 1);
  return label;
}

Router::Router(const RouteTable& routes) : routes_(routes) {}

RouteMatch Router::Match(Method method, std::string_view path,
                         const std::function<bool(Capability)>& configured) const {
  RouteMatch out;
  const auto found = [&](std::size_t i, const std::array<std::string_view, 3>& params) {
    out.kind = RouteMatch::Kind::kRoute;
    out.route = &routes_[i];
    out.index = i;
    out.params = params;
    return out;
  };
  Segments exact;
  std::size_t exact_n = 0;
  const bool splittable =
      !path.empty() && path.front() == '/' && Split(path.substr(1), exact, exact_n);

  // 1. The contract's routes outside its capabilities (/, /health, /metrics, /providers/…).
  for (std::size_t i = 0; i < routes_.size() && splittable; ++i) {
    const Route& r = routes_[i];
    if (!r.contract || r.capability || r.method != method) continue;
    std::array<std::string_view, 3> params{};
    if (MatchSegments(r.pattern, path.substr(1), exact, exact_n, params)) return found(i, params);
  }

  // 2. The capabilities, in the contract's order: 501 before routing while unconfigured.
  for (const Family& f : kFamilies) {
    if (!f.prefix.empty()) {
      if (!path.starts_with(f.prefix)) continue;
      if (!configured(f.capability)) {
        out.kind = RouteMatch::Kind::kCapabilityMissing;
        out.capability = f.capability;
        return out;
      }
      const std::string_view body = TrimContract(path);
      Segments segs;
      std::size_t n = 0;
      if (!Split(body, segs, n)) return out;
      for (std::size_t i = 0; i < routes_.size(); ++i) {
        const Route& r = routes_[i];
        if (r.capability != f.capability || r.method != method) continue;
        std::array<std::string_view, 3> params{};
        if (MatchSegments(r.pattern, body, segs, n, params)) return found(i, params);
      }
      return out;  // under the prefix, no route: 404
    }
    bool on_path = path == f.extra && !f.extra.empty();
    std::size_t hit = routes_.size();
    for (std::size_t i = 0; i < routes_.size(); ++i) {
      const Route& r = routes_[i];
      if (r.capability != f.capability || r.pattern != path) continue;
      on_path = true;
      if (r.method == method && hit == routes_.size()) hit = i;
    }
    if (!on_path) continue;
    if (!configured(f.capability)) {
      out.kind = RouteMatch::Kind::kCapabilityMissing;
      out.capability = f.capability;
      return out;
    }
    if (hit < routes_.size()) return found(hit, {});
    return out;
  }

  // 3. opsorch's own routes: exact segments, one trailing '/' ignored, no empty parameter; a
  // known path with another method is a 405.
  const std::string_view own = OwnPath(path);
  Segments own_segs;
  std::size_t own_n = 0;
  const bool own_splittable =
      !own.empty() && own.front() == '/' && Split(own.substr(1), own_segs, own_n);
  for (std::size_t i = 0; i < routes_.size() && own_splittable; ++i) {
    const Route& r = routes_[i];
    if (r.contract || r.capability) continue;
    std::array<std::string_view, 3> params{};
    if (!MatchSegments(r.pattern, own.substr(1), own_segs, own_n, params)) continue;
    if (std::any_of(params.begin(), params.end(),
                    [](std::string_view p) { return p.data() != nullptr && p.empty(); })) {
      continue;
    }
    if (r.method == method) return found(i, params);
    if (out.kind != RouteMatch::Kind::kMethodNotAllowed) {
      out.kind = RouteMatch::Kind::kMethodNotAllowed;
      out.route = &r;
      out.index = i;
    }
    const std::string_view name = http::MethodName(r.method);
    if (out.allow.find(name) == std::string::npos) {
      out.allow += (out.allow.empty() ? "" : ", ") + std::string(name);
    }
  }
  return out;
}

const Route* Router::OnPath(std::string_view path) const {
  path = OwnPath(path);  // as Match's step 3
  Segments exact;
  std::size_t n = 0;
  if (path.empty() || path.front() != '/' || !Split(path.substr(1), exact, n)) return nullptr;
  for (const Route& r : routes_) {
    if (r.capability) continue;
    std::array<std::string_view, 3> params{};
    if (MatchSegments(r.pattern, path.substr(1), exact, n, params)) return &r;
  }
  return nullptr;
}

std::string CheckPatterns(const RouteTable& routes) {
  for (const Route& r : routes) {
    const std::string where =
        std::string(http::MethodName(r.method)) + " " + std::string(r.pattern);
    if (!r.pattern.starts_with('/')) return where + ": a pattern starts with '/'";
    if (!r.handler) return where + ": no handler";
    if (r.pattern == "/") continue;
    Segments segs;
    std::size_t n = 0;
    if (!Split(r.pattern.substr(1), segs, n)) return where + ": too many segments";
    std::size_t params = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (segs[i].empty() && !(r.pattern == "/")) return where + ": an empty segment";
      if (segs[i].find_first_of("{}") != std::string_view::npos && !IsParam(segs[i])) {
        return where + ": a parameter is a whole segment";
      }
      if (IsParam(segs[i]) && ++params > 3) return where + ": more than three parameters";
      if (IsRest(segs[i]) && i + 1 != n) return where + ": {name*} only last";
    }
  }
  for (std::size_t i = 0; i < routes.size(); ++i) {
    for (std::size_t j = i + 1; j < routes.size(); ++j) {
      if (routes[i].method == routes[j].method && routes[i].pattern == routes[j].pattern) {
        return std::string(http::MethodName(routes[i].method)) + " " +
               std::string(routes[i].pattern) + ": two routes";
      }
    }
  }
  return {};
}

}  // namespace opsorch::api
