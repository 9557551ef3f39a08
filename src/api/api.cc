#include <atomic>
#include <chrono>
#include <utility>

#include <opsorch/api/api.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>

#include "api/request_guard.h"
#include "api/router.h"

namespace opsorch::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using providers::Capability;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kPlain = "text/plain; charset=utf-8";
// The contract's two headers plus the request-id and actor headers (contract §13 #11).
constexpr std::string_view kAllowHeaders =
    "Content-Type, Authorization, X-Request-Id, X-Actor-Type, X-Actor-Id, X-User-Id, "
    "X-OpsOrch-Actor-Id, X-Actor-Name";
constexpr std::string_view kAllowMethods = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
// Response headers a page of another origin (a console) may read.
constexpr std::string_view kExposeHeaders = "X-Request-Id, X-OpsOrch-Next-Cursor, Link";

std::string_view FirstNonEmpty(const Request& r, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    std::string_view v = TrimSpace(r.Header(n));
    if (!v.empty()) return v;
  }
  return {};
}

// The outcomes that are no route, for the metrics' `route` label.
enum class Pseudo : std::uint8_t {
  kOptions,
  kNotFound,
  kCapabilityMissing,
  kUnauthorized,
  kForbidden,
  kBadPath,
  kMethodNotAllowed,
  kCount
};
constexpr std::string_view kPseudoLabels[] = {
    "(options)",   "(not found)", "(capability missing)", "(unauthorized)",
    "(forbidden)", "(bad path)",  "(method not allowed)"};

// The actor headers (contract §11): the type is "copilot" or "user"; the id is the first of
// X-User-Id, X-Actor-Id, X-OpsOrch-Actor-Id. Values that are not plain printable text of a
// sensible length are ignored.
std::string_view ActorHeader(const Request& req, std::initializer_list<std::string_view> names) {
  const std::string_view v = FirstNonEmpty(req, names);
  if (v.size() > 256) return {};
  for (const char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
  }
  return v;
}

std::string ActorType(const Request& req) {
  return ToLower(TrimSpace(req.Header("X-Actor-Type"))) == "copilot" ? "copilot" : "user";
}

}  // namespace

namespace {
// The one query-string walk: `fn(decoded value, ok)` for every `key`, until it returns false.
template <class Fn>
void EachQueryValue(std::string_view q, std::string_view key, Fn fn) {
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    const auto eq = pair.find('=');
    std::string k(pair.substr(0, eq));
    std::string v(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    for (char& c : k) c = c == '+' ? ' ' : c;
    for (char& c : v) c = c == '+' ? ' ' : c;
    std::string kd, vd;
    if (!PercentDecode(k, kd) || kd != key) continue;
    const bool ok = PercentDecode(v, vd);
    if (!fn(std::move(vd), ok)) return;
  }
}
}  // namespace

std::string Call::Query(std::string_view key) const {
  std::string out;
  EachQueryValue(query, key, [&](std::string v, bool ok) {
    if (ok) out = std::move(v);
    return false;  // the first value only; a malformed one reads as absent
  });
  return out;
}

std::vector<std::string> Call::QueryAll(std::string_view key) const {
  std::vector<std::string> out;
  EachQueryValue(query, key, [&](std::string v, bool ok) {
    if (ok && !v.empty()) out.push_back(std::move(v));
    return out.size() < 1000;
  });
  return out;
}

std::string_view SessionCookieName(bool tls) {
  return tls ? "__Host-opsorch_session" : "opsorch_session";
}

std::vector<std::string_view> CookieValues(std::string_view header, std::string_view name) {
  // "a=1; b=2": pairs separated by ';', optional spaces (RFC 6265 §4.2.1).
  std::vector<std::string_view> out;
  while (!header.empty() && out.size() < 16) {
    const std::size_t semi = header.find(';');
    std::string_view pair = TrimSpace(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (TrimSpace(pair.substr(0, eq)) != name) continue;
    std::string_view v = TrimSpace(pair.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (!v.empty()) out.push_back(v);
  }
  return out;
}

Reply ErrorReply(const Error& e, std::vector<std::pair<std::string, std::string>> headers) {
  Reply r{HttpStatusFor(e), ErrorBodyIn(ErrorFormat::kOpsOrch, e, {})};
  r.headers = std::move(headers);
  return r;
}

std::string ErrorBodyIn(ErrorFormat format, const Error& e, std::string_view request_id) {
  const std::string message = ClientMessage(e, request_id);
  const int status = HttpStatusFor(e);
  if (format == ErrorFormat::kOpsOrch) return ErrorBody(WireCode(e), message);
  std::string body;
  if (format == ErrorFormat::kAlertmanager) {
    // go-swagger's error payloads are one JSON string; field errors are joined as Alertmanager
    // joins its validation errors.
    std::string text = message;
    if (e.details.size() > 1) {
      text.clear();
      for (std::size_t i = 0; i < e.details.size(); ++i) {
        if (i > 0) text += ";";
        text += e.details[i];
      }
    }
    AppendJsonString(body, text);
    return body;
  }
  if (format == ErrorFormat::kEvents && (status == 400 || status == 413)) {
    // PagerDuty lists every problem of the event.
    body = R"({"status":"invalid event","message":"Event object is invalid","errors":[)";
    if (e.details.empty()) {
      AppendJsonString(body, message);
    } else {
      for (std::size_t i = 0; i < e.details.size(); ++i) {
        if (i > 0) body.push_back(',');
        AppendJsonString(body, e.details[i]);
      }
    }
    body.append("]}");
    return body;
  }
  if (format == ErrorFormat::kEvents && status == 429) {
    return R"({"status":"throttle event","message":"Requests are arriving too quickly. Please retry later."})";
  }
  body = R"({"status":"error","message":)";
  // An event refused by a failure of ours is retried by its sender: say so.
  AppendJsonString(body, status >= 500 && IsInternalFailure(e.code)
                             ? "the event could not be stored; retry (request id " +
                                   std::string(request_id) + ")"
                             : message);
  body.push_back('}');
  return body;
}

void AddNextPageHeaders(Response& r, std::string_view target, const std::string& next) {
  const std::size_t q = target.find('?');
  std::string url(target.substr(0, q));
  url.push_back('?');
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      const std::size_t amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      if (!pair.empty() && !pair.starts_with("after=") && pair != "after") {
        url.append(pair).push_back('&');
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  url += "after=" + PercentEncode(next);
  r.AddHeader("X-OpsOrch-Next-Cursor", next);
  r.AddHeader("Link", "<" + url + ">; rel=\"next\"");
}

void Audit(const Request& req, std::string_view request_id, std::string_view action) {
  const std::string actor_type = ActorType(req);
  std::string_view actor_id = ActorHeader(req, {"X-User-Id", "X-Actor-ID", "X-OpsOrch-Actor-ID"});
  std::string line;
  line.reserve(160);
  line.append("{\"request_id\":");
  AppendJsonString(line, request_id);
  line.append(",\"actor_type\":");
  AppendJsonString(line, actor_type);
  line.append(",\"actor_id\":");
  AppendJsonString(line, actor_id.empty() ? std::string_view("unknown") : actor_id);
  line.append(",\"timestamp\":\"");
  AppendRfc3339Nano(line, Time::Now());
  line.append("\",\"action\":");
  AppendJsonString(line, action);
  line.push_back('}');
  log::Audit(line);
}

struct Api::Impl {
  ApiOptions options;
  RouteTable routes;
  Router router{routes};
  const providers::ProviderSet& providers;
  metrics::Registry& metrics;
  BlockingPool* pool;
  std::string cors_headers;  // the same on every response: rendered once (contract §2 step 1)
  // Lower-cased path prefixes under which the rest of a path is a credential (secret_path rows).
  std::vector<std::string> secret_prefixes;
  // Each row's `route` label: its pattern, "{name*}" written "{name}".
  std::vector<std::string> route_labels;

  // Metrics by route (table rows, then the pseudo-routes) and status class of 100–599.
  std::vector<metrics::Histogram*> latency;
  std::vector<std::array<std::atomic<metrics::Counter*>, 500>> requests;
  metrics::Counter* auth_failures = nullptr;

  Impl(ApiOptions o, RouteTable r, const providers::ProviderSet& p, metrics::Registry& m,
       BlockingPool* bp)
      : options(std::move(o)),
        routes(std::move(r)),
        providers(p),
        metrics(m),
        pool(bp),
        requests(routes.size() + static_cast<std::size_t>(Pseudo::kCount)) {
    // CR/LF in the configured origin would split the response; drop them.
    std::string origin;
    for (char c : options.cors_origin) {
      if (c != '\r' && c != '\n' && c != '\0') origin.push_back(c);
    }
    cors_headers = "Access-Control-Allow-Origin: " + origin +
                   "\r\nAccess-Control-Allow-Headers: " + std::string(kAllowHeaders) +
                   "\r\nAccess-Control-Allow-Methods: " + std::string(kAllowMethods) +
                   "\r\nAccess-Control-Expose-Headers: " + std::string(kExposeHeaders) + "\r\n";
    for (const Route& r : routes) {
      route_labels.push_back(RouteLabel(r.pattern));
      if (r.secret_path)
        secret_prefixes.push_back(ToLower(r.pattern.substr(0, r.pattern.find('{'))));
    }
    auth_failures = &metrics.GetCounter("opsorch_auth_failures_total",
                                        "Requests refused for a missing or wrong credential.",
                                        {{"credential", "bearer"}});
    for (std::size_t i = 0; i < requests.size(); ++i) {
      latency.push_back(&metrics.GetHistogram(
          "opsorch_http_request_duration_seconds",
          "Time from a parsed request to its response, by route.", {{"route", Label(i)}}));
    }
  }

  std::string_view Label(std::size_t slot) const {
    if (slot < routes.size()) return route_labels[slot];
    return kPseudoLabels[slot - routes.size()];
  }
  std::size_t SlotOf(Pseudo p) const { return routes.size() + static_cast<std::size_t>(p); }

  void Count(std::size_t slot, const Request& req, int status) {
    const std::size_t code_slot = status >= 100 && status < 600 ? status - 100 : 0;
    auto& cell = requests[slot][code_slot];
    metrics::Counter* c = cell.load(std::memory_order_acquire);
    if (c == nullptr) {
      c = &metrics.GetCounter(
          "opsorch_http_requests_total", "HTTP requests by route and status.",
          {{"route", Label(slot)}, {"method", req.method_text}, {"code", std::to_string(status)}});
      cell.store(c, std::memory_order_release);
    }
    c->Inc();
  }

  void AddCommonHeaders(Response& r) const { r.fixed_headers = cors_headers; }

  // `prefix` is lower case; ASCII case is ignored in `s`.
  static bool HasPrefix(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
  }

  // The target as log lines show it: under a secret_path prefix (however the client spelled or
  // encoded it), only the prefix. Decodes only a target that holds an escape.
  std::string LoggedTarget(std::string_view target) const {
    if (secret_prefixes.empty()) return std::string(target);
    std::string decoded;
    const bool escaped = target.find('%') != std::string_view::npos &&
                         PercentDecode(target.substr(0, target.find('?')), decoded);
    for (const auto& prefix : secret_prefixes) {
      if (HasPrefix(target, prefix) || (escaped && HasPrefix(decoded, prefix))) {
        return prefix + "(redacted)";
      }
    }
    return std::string(target);
  }

  // Every answer leaves through here: headers, metrics, the access line.
  void Send(const Request& req, http::ResponseCallback& done, std::size_t slot, Response r,
            Clock::time_point started, const std::string& request_id) {
    AddCommonHeaders(r);
    if (!request_id.empty()) r.AddHeader("X-Request-Id", request_id);
    const auto elapsed = Clock::now() - started;
    latency[slot]->ObserveNanos(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    Count(slot, req, r.status);
    if (options.access_log) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
      log::Info("access", {{"method", req.method_text},
                           {"target", LoggedTarget(req.target)},
                           {"status", std::to_string(r.status)},
                           {"duration_us", std::to_string(us)},
                           {"request_id", request_id},
                           {"remote", req.remote_address}});
    }
    done(std::move(r));
  }

  static Response PlainResponse(int status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = kPlain;
    r.body = std::move(body);
    r.AddHeader("X-Content-Type-Options", "nosniff");
    return r;
  }

  Response ErrorResponse(ErrorFormat format, const Error& e, const std::string& request_id) {
    Response r;
    r.status = HttpStatusFor(e);
    r.content_type = "application/json";
    r.body = ErrorBodyIn(format, e, request_id);
    r.body.push_back('\n');
    log::Write(r.status >= 500 ? log::Level::kError : log::Level::kInfo,
               "API error (status=" + std::to_string(r.status) +
                   "): code=" + std::string(WireCode(e)) + ", message=" + e.message,
               {{"request_id", request_id}});
    return r;
  }

  struct AuthOutcome {
    enum Kind : std::uint8_t { kOk, kSession, kUnauthorized, kForbidden } kind = kOk;
    std::string_view reason;  // kUnauthorized, kForbidden: for the log line (and the 403)
    SessionIdentity who;      // kSession
  };

  AuthOutcome Authenticate(const Request& req, Auth auth) const {
    if (options.bearer_token.empty() || auth == Auth::kIntegrationKey ||
        auth == Auth::kSignedLink || auth == Auth::kPublic) {
      return {};
    }
    constexpr std::string_view kBearer = "Bearer ";
    std::string_view h = req.Header("Authorization");
    if (h.empty() && options.sessions != nullptr) {
      const auto cookies = CookieValues(req.Header("Cookie"), SessionCookieName(req.tls));
      if (!cookies.empty()) {
        // Refused before the session is looked at, so a refused request does not keep it alive.
        if (const std::string_view why = ConsoleCallRefusal(req); !why.empty()) {
          return {AuthOutcome::kForbidden, why, {}};
        }
        for (const std::string_view cookie : cookies) {
          if (auto who = options.sessions->Verify(cookie)) {
            return {AuthOutcome::kSession, {}, std::move(*who)};
          }
        }
        return {AuthOutcome::kUnauthorized, "unknown or expired console session", {}};
      }
    }
    if (!h.starts_with(kBearer)) {
      return {AuthOutcome::kUnauthorized, h.empty() ? "no bearer token" : "not a bearer token", {}};
    }
    const std::string_view presented = TrimSpace(h.substr(kBearer.size()));
    if (ConstantTimeEquals(presented, options.bearer_token)) return {};
    if (auth == Auth::kBearerOrMetricsToken && !options.metrics_token.empty() &&
        ConstantTimeEquals(presented, options.metrics_token)) {
      return {};
    }
    return {AuthOutcome::kUnauthorized, "wrong bearer token", {}};
  }

  void Handle(const Request& req, http::ResponseCallback done) {
    const auto started = Clock::now();
    if (req.method == Method::kOptions) {
      Response r;
      r.status = 200;
      Send(req, done, SlotOf(Pseudo::kOptions), std::move(r), started, {});
      return;
    }

    std::string_view target = req.target;
    std::string_view query;
    if (auto q = target.find('?'); q != std::string_view::npos) {
      query = target.substr(q + 1);
      target = target.substr(0, q);
    }
    std::string decoded;
    std::string_view path = target;
    bool bad_path = false;
    if (target.find('%') != std::string_view::npos) {
      bad_path = !PercentDecode(target, decoded);
      path = decoded;
    }
    RouteMatch match;
    if (!bad_path) {
      match =
          router.Match(req.method, path, [this](Capability c) { return providers.Configured(c); });
    }
    const Route* route = match.route;

    // Who may call is the route's to say; an unknown path needs the bearer token (the
    // contract: "404 also needs the token").
    const Auth auth = route != nullptr ? route->auth : Auth::kBearer;
    AuthOutcome authn = Authenticate(req, auth);
    if (authn.kind == AuthOutcome::kUnauthorized) {
      Response r = PlainResponse(401, "unauthorized\n");
      r.AddHeader("WWW-Authenticate", "Bearer");
      auth_failures->Inc();
      log::Warn("authentication failed", {{"method", req.method_text},
                                          {"path", LoggedTarget(target)},
                                          {"remote", req.remote_address},
                                          {"reason", authn.reason}});
      Send(req, done, SlotOf(Pseudo::kUnauthorized), std::move(r), started, {});
      return;
    }
    if (authn.kind == AuthOutcome::kForbidden) {
      Response r = ErrorResponse(ErrorFormat::kOpsOrch,
                                 MakeError(errc::kForbidden, std::string(authn.reason)), {});
      log::Warn("console session request refused", {{"method", req.method_text},
                                                    {"path", LoggedTarget(target)},
                                                    {"remote", req.remote_address},
                                                    {"origin", req.Header("Origin")},
                                                    {"reason", authn.reason}});
      Send(req, done, SlotOf(Pseudo::kForbidden), std::move(r), started, {});
      return;
    }

    // One id per request, used for the header and the audit line (contract §13 #7). A client's
    // id is used only if it is plain (it goes into log lines); otherwise one is generated.
    std::string request_id(AcceptableRequestId(
        FirstNonEmpty(req, {"X-Request-ID", "X-Amzn-Trace-Id", "X-Correlation-ID", "X-Trace-ID"})));
    if (request_id.empty()) request_id = "generated-" + std::to_string(Time::Now().UnixNanos());

    // Without a bearer token, nothing stops a web page from making the operator's browser send
    // requests here (a text/plain POST needs no preflight): configuration routes refuse them.
    if (options.bearer_token.empty() && route != nullptr && route->changes_config &&
        IsCrossSite(req, options.cors_origin)) {
      Response r = ErrorResponse(
          route->errors,
          MakeError(errc::kForbidden,
                    "cross-site request refused: configuration changes need a same-origin "
                    "request or a bearer token (OPSORCH_BEARER_TOKEN)"),
          request_id);
      log::Warn("cross-site configuration request refused", {{"method", req.method_text},
                                                             {"path", LoggedTarget(target)},
                                                             {"remote", req.remote_address},
                                                             {"origin", req.Header("Origin")},
                                                             {"request_id", request_id}});
      Send(req, done, SlotOf(Pseudo::kForbidden), std::move(r), started, request_id);
      return;
    }

    if (bad_path) {
      Send(req, done, SlotOf(Pseudo::kBadPath),
           ErrorResponse(ErrorFormat::kOpsOrch,
                         MakeError(errc::kBadRequest, "invalid URL escape in request path"),
                         request_id),
           started, request_id);
      return;
    }
    switch (match.kind) {
      case RouteMatch::Kind::kNotFound:
        Send(req, done, SlotOf(Pseudo::kNotFound), PlainResponse(404, "404 page not found\n"),
             started, request_id);
        return;
      case RouteMatch::Kind::kCapabilityMissing:
        Send(req, done, SlotOf(Pseudo::kCapabilityMissing),
             ErrorResponse(ErrorFormat::kOpsOrch, providers::ProviderMissing(match.capability),
                           request_id),
             started, request_id);
        return;
      case RouteMatch::Kind::kMethodNotAllowed: {
        Error e = MakeError(errc::kMethodNotAllowed, "method not allowed; use " + match.allow);
        Response r = ErrorResponse(route->errors, e, request_id);
        r.AddHeader("Allow", match.allow);
        Send(req, done, SlotOf(Pseudo::kMethodNotAllowed), std::move(r), started, request_id);
        return;
      }
      case RouteMatch::Kind::kRoute:
        break;
    }

    if (route->body_limit > 0 && req.body.size() > route->body_limit) {
      Send(req, done, match.index,
           ErrorResponse(
               route->errors,
               MakeError(errc::kPayloadTooLarge,
                         "request body exceeds " + std::to_string(route->body_limit) + " bytes"),
               request_id),
           started, request_id);
      return;
    }

    // The call lives as long as its Respond, which whoever finishes the request holds.
    std::shared_ptr<State> state;
    if (authn.kind == AuthOutcome::kSession) {
      // The session is the actor: its identity replaces any actor headers the client sent, for
      // the handler's timeline entries and the audit line alike.
      state = std::make_shared<State>(req, std::move(authn.who), query, std::move(request_id),
                                      std::move(done));
      state->call.session = true;
    } else {
      state = std::make_shared<State>(req, query, std::move(request_id), std::move(done));
    }
    if (!decoded.empty()) {
      // `path` is this frame's: the call gets its own copy, and parameters that point into it.
      state->owned_path = std::move(decoded);
      state->call.path = state->owned_path;
      state->call.params = router
                               .Match(req.method, state->owned_path,
                                      [this](Capability c) { return providers.Configured(c); })
                               .params;
    } else {
      state->call.path = path;
      state->call.params = match.params;
    }
    Respond respond = [this, state, slot = match.index, started](Outcome o) {
      Finish(*state, slot, started, std::move(o));
    };
    Dispatch(*route, state->call, std::move(respond));
  }

  struct State {
    State(const Request& req, std::string_view query, std::string request_id,
          http::ResponseCallback d)
        : call{req, {}, query, {}, std::move(request_id)}, done(std::move(d)) {}
    State(const Request& req, SessionIdentity who, std::string_view query, std::string request_id,
          http::ResponseCallback d)
        : session(std::move(who)),
          session_request(WithActor(req, session)),
          call{session_request, {}, query, {}, std::move(request_id)},
          done(std::move(d)) {}
    SessionIdentity session;  // owns what session_request's actor headers point to
    Request session_request;
    std::string owned_path;
    Call call;
    http::ResponseCallback done;

    static Request WithActor(const Request& req, const SessionIdentity& who) {
      Request r = req;
      r.headers.clear();
      r.headers.push_back({"X-Actor-Type", "user"});
      r.headers.push_back({"X-User-Id", who.actor_id});
      if (!who.actor_name.empty()) r.headers.push_back({"X-Actor-Name", who.actor_name});
      for (const http::HeaderField& h : req.headers) {
        if (EqualsIgnoreCase(h.name, "X-Actor-Type") || EqualsIgnoreCase(h.name, "X-User-Id") ||
            EqualsIgnoreCase(h.name, "X-Actor-Id") ||
            EqualsIgnoreCase(h.name, "X-OpsOrch-Actor-Id") ||
            EqualsIgnoreCase(h.name, "X-Actor-Name")) {
          continue;
        }
        r.headers.push_back(h);
      }
      return r;
    }
  };

  void Finish(State& state, std::size_t slot, Clock::time_point started, Outcome outcome) {
    const Route& route = routes[slot];
    const Request& req = state.call.request;
    Response r;
    if (outcome) {
      r.status = outcome->status;
      r.content_type = outcome->content_type;
      r.body = std::move(outcome->body);
      if (r.content_type == "application/json" && r.status != 204) r.body.push_back('\n');
      for (auto& [k, v] : outcome->headers) r.AddHeader(std::move(k), std::move(v));
      if (!outcome->next.empty()) AddNextPageHeaders(r, req.target, outcome->next);
      if (!route.audit.empty() && r.status < 300) Audit(req, state.call.request_id, route.audit);
    } else {
      r = ErrorResponse(route.errors, outcome.error(), state.call.request_id);
    }
    Send(req, state.done, slot, std::move(r), started, state.call.request_id);
  }

  void Dispatch(const Route& route, Call& call, Respond respond) {
    if (route.execution == Execution::kPool && pool != nullptr) {
      pool->Post([&route, &call, respond = std::move(respond)]() mutable {
        route.handler(call, std::move(respond));
      });
      return;
    }
    route.handler(call, std::move(respond));
  }
};

Api::Api(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Api::~Api() = default;

Result<std::unique_ptr<Api>> Api::Create(ApiOptions options, RouteTable routes,
                                         const providers::ProviderSet& providers,
                                         metrics::Registry& metrics, BlockingPool* pool) {
  // The table describes itself: its document is built once, now that the table is complete.
  auto document = std::make_shared<std::string>();
  routes.push_back({.method = Method::kGet,
                    .pattern = "/openapi.json",
                    .handler =
                        [document](Call&, Respond respond) {
                          respond(Reply{200, *document});
                        },
                    .summary = "This API as an OpenAPI 3.1 document",
                    .response_type = "object"});
  if (const std::string bad = CheckPatterns(routes); !bad.empty()) {
    return Fail(errc::kInternal, "route table: " + bad);
  }
  auto built = OpenApiDocument(routes, options.extra_schemas);
  if (!built) return Fail(errc::kInternal, "route table: " + built.error().message);
  *document = std::move(*built);
  return std::unique_ptr<Api>(new Api(
      std::make_unique<Impl>(std::move(options), std::move(routes), providers, metrics, pool)));
}

void Api::Handle(const http::Request& request, http::ResponseCallback done) {
  impl_->Handle(request, std::move(done));
}

const RouteTable& Api::Routes() const { return impl_->routes; }

std::optional<http::Response> Api::PayloadTooLarge(std::string_view target, std::size_t limit) {
  const Route* route = impl_->router.OnPath(target.substr(0, target.find('?')));
  if (route == nullptr || route->errors == ErrorFormat::kOpsOrch) return std::nullopt;
  Response r;
  r.status = 413;
  r.content_type = "application/json";
  r.body = ErrorBodyIn(
      route->errors,
      MakeError(errc::kPayloadTooLarge, "request body exceeds " + std::to_string(limit) + " bytes"),
      {});
  r.body.push_back('\n');
  impl_->AddCommonHeaders(r);
  return r;
}

}  // namespace opsorch::api
