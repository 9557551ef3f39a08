#include <array>
#include <charconv>
#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

#include <opsorch/api/api.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>
#include <opsorch/plugin/deferred.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/provider_config.h>

#include "api/request_guard.h"
#include "api/router.h"

namespace opsorch::api {
namespace {

using api::RouteExtension;
using http::Method;
using http::Request;
using http::Response;
using providers::Capability;
namespace s = schema;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kPlain = "text/plain; charset=utf-8";
// The contract's two headers plus the request-id and actor headers (contract §13 #11).
constexpr std::string_view kAllowHeaders =
    "Content-Type, Authorization, X-Request-Id, X-Actor-Type, X-Actor-Id, X-User-Id, "
    "X-OpsOrch-Actor-Id, X-Actor-Name";
constexpr std::string_view kAllowMethods = "GET,POST,PUT,PATCH,DELETE,OPTIONS";
// Response headers a page of another origin (a console) may read.
constexpr std::string_view kExposeHeaders = "X-Request-Id, X-OpsOrch-Next-Cursor, Link";

// What a route handler produces: a JSON body with a status, or an error.
struct Reply {
  int status = 200;
  std::string body;  // JSON without the trailing newline
  std::string next;  // paging: the cursor of the next page (X-OpsOrch-Next-Cursor, Link)
};
using Outcome = Result<Reply>;

Reply Ok200(std::string body) { return Reply{200, std::move(body)}; }
Reply StatusOk(int status = 200) { return Reply{status, "{\"status\":\"ok\"}"}; }

template <class T>
Reply Json(const T& value, int status = 200) {
  Reply r{status, {}};
  s::Encode(value, r.body);
  return r;
}

std::optional<Capability> CapabilityOf(RouteId id) {
  switch (id) {
    case RouteId::kIncidentsQuery:
    case RouteId::kIncidentCreate:
    case RouteId::kIncidentGet:
    case RouteId::kIncidentUpdate:
    case RouteId::kIncidentTimelineGet:
    case RouteId::kIncidentTimelineAppend:
      return Capability::kIncident;
    case RouteId::kAlertsQuery:
    case RouteId::kAlertGet:
      return Capability::kAlert;
    case RouteId::kLogsQuery:
      return Capability::kLog;
    case RouteId::kMetricsQuery:
    case RouteId::kMetricsDescribeGet:
    case RouteId::kMetricsDescribePost:
      return Capability::kMetric;
    case RouteId::kTicketsQuery:
    case RouteId::kTicketCreate:
    case RouteId::kTicketGet:
    case RouteId::kTicketUpdate:
      return Capability::kTicket;
    case RouteId::kMessagesSend:
      return Capability::kMessaging;
    case RouteId::kServicesQuery:
      return Capability::kService;
    case RouteId::kDeploymentsQuery:
    case RouteId::kDeploymentGet:
      return Capability::kDeployment;
    case RouteId::kTeamsQuery:
    case RouteId::kTeamGet:
    case RouteId::kTeamMembers:
      return Capability::kTeam;
    case RouteId::kPlansQuery:
    case RouteId::kPlanGet:
    case RouteId::kRunsQuery:
    case RouteId::kRunStart:
    case RouteId::kRunGet:
    case RouteId::kStepComplete:
      return Capability::kOrchestration;
    default:
      return std::nullopt;
  }
}

// Query-string value (application/x-www-form-urlencoded), first occurrence.
std::string QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    std::string_view k = pair.substr(0, eq);
    std::string_view v = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string kd, vd;
    std::string kplus(k), vplus(v);
    for (char& c : kplus) c = c == '+' ? ' ' : c;
    for (char& c : vplus) c = c == '+' ? ' ' : c;
    if (!PercentDecode(kplus, kd) || kd != key) continue;
    if (!PercentDecode(vplus, vd)) return {};
    return vd;
  }
  return {};
}

std::string_view FirstNonEmpty(const Request& r, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    std::string_view v = TrimSpace(r.Header(n));
    if (!v.empty()) return v;
  }
  return {};
}

// The provider a request was routed with, for the thread that dispatches it (see Handle).
struct PinnedProvider {
  Capability capability{};
  providers::ProviderPtr provider;
};
thread_local PinnedProvider t_pinned;

// Set while a deferred plugin operation runs its record and replay passes (see Handle).
thread_local bool t_untimed = false;
struct Untimed {
  Untimed() { t_untimed = true; }
  ~Untimed() { t_untimed = false; }
  Untimed(const Untimed&) = delete;
  Untimed& operator=(const Untimed&) = delete;
};

class Pin {
 public:
  explicit Pin(PinnedProvider p) { t_pinned = std::move(p); }
  ~Pin() { t_pinned = {}; }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
};

// The actor headers (contract §11): the type is "copilot" or "user"; the id is the first of
// X-User-Id, X-Actor-Id, X-OpsOrch-Actor-Id. Values that are not plain printable text of a
// sensible length are ignored.
std::string_view ActorHeader(const http::Request& req,
                             std::initializer_list<std::string_view> names) {
  const std::string_view v = FirstNonEmpty(req, names);
  if (v.size() > 256) return {};
  for (const char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
  }
  return v;
}

std::string ActorType(const http::Request& req) {
  return ToLower(TrimSpace(req.Header("X-Actor-Type"))) == "copilot" ? "copilot" : "user";
}

schema::Caller CallerOf(const http::Request& req) {
  schema::Caller caller{{"type", ActorType(req)}};
  if (auto id = ActorHeader(req, {"X-User-Id", "X-Actor-ID", "X-OpsOrch-Actor-ID"}); !id.empty()) {
    caller["id"] = id;
  }
  if (auto name = ActorHeader(req, {"X-Actor-Name"}); !name.empty()) caller["name"] = name;
  return caller;
}

}  // namespace

struct Api::Impl {
  ApiOptions options;
  const providers::ProviderRegistry& registry;
  providers::ProviderSet& providers;
  metrics::Registry& metrics;
  BlockingPool* pool;
  s::DecodeOptions decode;

  // Metrics handles resolved once: per route a latency histogram; per route and status a
  // counter, created on first use.
  std::array<metrics::Histogram*, kRouteCount> latency{};
  std::array<std::array<std::atomic<metrics::Counter*>, 500>, kRouteCount> requests{};
  std::array<metrics::Histogram*, kRouteCount> provider_latency{};
  metrics::Counter* auth_failures = nullptr;

  Impl(ApiOptions o, const providers::ProviderRegistry& r, providers::ProviderSet& p,
       metrics::Registry& m, BlockingPool* bp)
      : options(std::move(o)), registry(r), providers(p), metrics(m), pool(bp) {
    decode.strict = true;
    decode.max_depth = options.json_max_depth;
    // CR/LF in the configured origin would split the response; drop them.
    std::string origin;
    for (char c : options.cors_origin) {
      if (c != '\r' && c != '\n' && c != '\0') origin.push_back(c);
    }
    cors_headers = "Access-Control-Allow-Origin: " + origin +
                   "\r\nAccess-Control-Allow-Headers: " + std::string(kAllowHeaders) +
                   "\r\nAccess-Control-Allow-Methods: " + std::string(kAllowMethods) +
                   "\r\nAccess-Control-Expose-Headers: " + std::string(kExposeHeaders) + "\r\n";
    auth_failures = &metrics.GetCounter("opsorch_auth_failures_total",
                                        "Requests refused for a missing or wrong credential.",
                                        {{"credential", "bearer"}});
    for (std::size_t i = 0; i < kRouteCount; ++i) {
      latency[i] = &metrics.GetHistogram("opsorch_http_request_duration_seconds",
                                         "Time from a parsed request to its response, by route.",
                                         {{"route", RoutePattern(static_cast<RouteId>(i))}});
    }
    for (std::size_t i = 0; i < kRouteCount; ++i) {
      const auto route = static_cast<RouteId>(i);
      const auto cap = CapabilityOf(route);
      if (!cap) continue;
      provider_latency[i] = &metrics.GetHistogram(
          "opsorch_provider_call_duration_seconds",
          "Duration of provider calls, by capability and operation.",
          {{"capability", providers::Name(*cap)}, {"operation", AuditAction(route)}});
    }
  }

  void Count(RouteId id, const Request& req, int status) {
    // Slots cover statuses 100–599 (the server clamps anything else); slot 0 doubles as 100.
    const std::size_t slot_index = status >= 100 && status < 600 ? status - 100 : 0;
    auto& slot = requests[static_cast<std::size_t>(id)][slot_index];
    metrics::Counter* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
      const std::string code = std::to_string(status);
      c = &metrics.GetCounter(
          "opsorch_http_requests_total", "HTTP requests by route and status.",
          {{"route", RoutePattern(id)}, {"method", req.method_text}, {"code", code}});
      slot.store(c, std::memory_order_release);
    }
    c->Inc();
  }

  // ---- responses ------------------------------------------------------------------------

  // The CORS headers are the same on every response: rendered once (contract §2 step 1).
  std::string cors_headers;

  void AddCommonHeaders(Response& r) const { r.fixed_headers = cors_headers; }

  static Response PlainResponse(int status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = kPlain;
    r.body = std::move(body);
    r.AddHeader("X-Content-Type-Options", "nosniff");
    return r;
  }

  static void LogApiError(int status, const Error& e, std::string_view request_id) {
    log::Error("API error (status=" + std::to_string(status) + "): code=" + std::string(WireCode(e)) +
                   ", message=" + e.message,
               {{"request_id", request_id}});
  }

  // ---- pipeline ---------------------------------------------------------------------------

  void Handle(const Request& req, http::ResponseCallback done) {
    const auto started = std::chrono::steady_clock::now();

    if (req.method == Method::kOptions) {
      Response r;
      r.status = 200;
      AddCommonHeaders(r);
      Count(RouteId::kOptions, req, 200);
      done(std::move(r));
      return;
    }

    std::string_view raw_path = req.target.substr(0, req.target.find('?'));
    RouteExtension* extension = nullptr;
    for (const auto& e : options.extensions) {
      if (e->Serves(raw_path)) {
        extension = e.get();
        break;
      }
    }

    if (!options.bearer_token.empty() &&
        (extension == nullptr || extension->NeedsBearer(raw_path)) && !Authorized(req, raw_path)) {
      Response r = PlainResponse(401, "unauthorized\n");
      AddCommonHeaders(r);
      r.AddHeader("WWW-Authenticate", "Bearer");
      Count(RouteId::kUnauthorized, req, 401);
      auth_failures->Inc();
      log::Warn("authentication failed", {{"method", req.method_text},
                                          {"path", raw_path},
                                          {"remote", req.remote_address},
                                          {"reason", req.Header("Authorization").empty()
                                                         ? "no bearer token"
                                                         : "wrong bearer token"}});
      done(std::move(r));
      return;
    }

    // One id per request, used for the header and the audit line (contract §13 #7). A client's
    // id is used only if it is plain (it goes into log lines); otherwise one is generated.
    std::string request_id(AcceptableRequestId(
        FirstNonEmpty(req, {"X-Request-ID", "X-Amzn-Trace-Id", "X-Correlation-ID", "X-Trace-ID"})));
    if (request_id.empty()) request_id = "generated-" + std::to_string(Time::Now().UnixNanos());

    // Without a bearer token, nothing stops a web page from making the operator's browser send
    // requests here (a text/plain POST needs no preflight): configuration routes refuse them.
    if (options.bearer_token.empty() && ChangesConfiguration(req.method, raw_path) &&
        IsCrossSite(req, options.cors_origin)) {
      Response r;
      AddCommonHeaders(r);
      r.status = 403;
      r.content_type = kJson;
      r.AddHeader("X-Request-Id", request_id);
      r.body = ErrorBody(Name(errc::kForbidden),
                         "cross-site request refused: configuration changes need a same-origin "
                         "request or a bearer token (OPSORCH_BEARER_TOKEN)");
      r.body.push_back('\n');
      Count(RouteId::kForbidden, req, 403);
      log::Warn("cross-site configuration request refused",
                {{"method", req.method_text},
                 {"path", raw_path},
                 {"remote", req.remote_address},
                 {"origin", req.Header("Origin")},
                 {"request_id", request_id}});
      done(std::move(r));
      return;
    }

    if (extension != nullptr) {
      http::ResponseCallback wrapped = [this, done = std::move(done),
                                        request_id](Response r) mutable {
        AddCommonHeaders(r);
        r.AddHeader("X-Request-Id", request_id);
        done(std::move(r));
      };
      if (pool != nullptr && extension->Blocking(raw_path)) {
        pool->Post([extension, &req, raw_path, request_id, wrapped = std::move(wrapped)]() mutable {
          extension->Handle(req, raw_path, request_id, std::move(wrapped));
        });
        return;
      }
      extension->Handle(req, raw_path, request_id, std::move(wrapped));
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
    if (target.find('%') != std::string_view::npos) {
      if (!PercentDecode(target, decoded)) {
        Finish(req, std::move(done), RouteId::kBadPath, request_id, started,
               Fail(errc::kBadRequest, "invalid URL escape in request path"));
        return;
      }
      path = decoded;
    }

    const RouteMatch match =
        MatchRoute(req.method, path, [this](Capability c) { return providers.Configured(c); });

    if (match.id == RouteId::kNotFound) {
      Response r = PlainResponse(404, "404 page not found\n");
      AddCommonHeaders(r);
      r.AddHeader("X-Request-Id", request_id);
      Count(RouteId::kNotFound, req, 404);
      done(std::move(r));
      return;
    }
    if (match.id == RouteId::kCapabilityMissing) {
      Finish(req, std::move(done), match.id, request_id, started,
             Fail(providers::ProviderMissing(match.capability)));
      return;
    }

    // Providers that may block run on the pool. The request's views stay valid until `done`,
    // but `decoded` does not outlive this frame, so the worker re-matches its own copy.
    // The request uses the provider it was routed with, even if a swap happens meanwhile: a
    // plugin swapped in must not run on this event-loop thread.
    PinnedProvider routed;
    if (auto cap = CapabilityOf(match.id)) routed = {*cap, providers.Get(*cap)};
    if (routed.provider && routed.provider->CallsPlugin() && req.loop != nullptr) {
      // Plugin calls wait on this event loop; no thread is held (plugin/deferred.h).
      const auto route = match.id;
      const auto call_started = std::chrono::steady_clock::now();
      plugin::RunOnLoop<Outcome>(
          *req.loop,
          [this, &req, routed, path_copy = std::string(path), query] {
            const Pin pin(routed);
            const Untimed untimed;
            const RouteMatch m = MatchRoute(
                req.method, path_copy, [this](Capability c) { return providers.Configured(c); });
            return Dispatch(req, m, query);
          },
          [this, &req, done = std::move(done), route, request_id, started,
           call_started](Outcome o) mutable {
            provider_latency[static_cast<std::size_t>(route)]->ObserveNanos(
                std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - call_started)
                    .count());
            Finish(req, std::move(done), route, request_id, started, std::move(o));
          });
      return;
    }
    if (MayBlock(match.id, routed.provider)) {
      pool->Post([this, &req, done = std::move(done), request_id, started,
                  path_copy = std::string(path), query, routed]() mutable {
        const Pin pin(std::move(routed));
        const RouteMatch m = MatchRoute(req.method, path_copy,
                                        [this](Capability c) { return providers.Configured(c); });
        Finish(req, std::move(done), m.id, request_id, started, Dispatch(req, m, query));
      });
      return;
    }
    const Pin pin(std::move(routed));
    Finish(req, std::move(done), match.id, request_id, started, Dispatch(req, match, query));
  }

  bool MayBlock(RouteId id, const providers::ProviderPtr& routed) const {
    if (pool == nullptr) return false;
    // Reconfiguration writes through the secret store (an fsync, or a plugin call).
    if (id == RouteId::kProvidersPost) return true;
    return routed && routed->IsBlocking();
  }

  // GET /metrics and GET /health also take the metrics token: a scraper or a health probe
  // needs no access to the API.
  bool Authorized(const Request& req, std::string_view path) const {
    constexpr std::string_view kBearer = "Bearer ";
    std::string_view h = req.Header("Authorization");
    if (!h.starts_with(kBearer)) return false;
    const std::string_view presented = TrimSpace(h.substr(kBearer.size()));
    if (ConstantTimeEquals(presented, options.bearer_token)) return true;
    return !options.metrics_token.empty() && req.method == Method::kGet &&
           (path == "/metrics" || path == "/health") &&
           ConstantTimeEquals(presented, options.metrics_token);
  }

  static bool ChangesConfiguration(Method method, std::string_view path) {
    if (path == "/admin" || path.starts_with("/admin/")) return true;
    return method == Method::kPost && path.starts_with("/providers/");
  }

  void Finish(const Request& req, http::ResponseCallback done, RouteId id,
              const std::string& request_id, std::chrono::steady_clock::time_point started,
              Outcome outcome) {
    Response r;
    AddCommonHeaders(r);
    r.AddHeader("X-Request-Id", request_id);
    r.content_type = kJson;
    if (outcome) {
      r.status = outcome->status;
      r.body = std::move(outcome->body);
      if (!outcome->next.empty()) AddNextPageHeaders(r, req.target, outcome->next);
      if (std::string_view action = AuditAction(id); !action.empty())
        Audit(req, request_id, action);
    } else {
      r.status = HttpStatusFor(outcome.error().code);
      r.body = ErrorBody(WireCode(outcome.error()), ClientMessage(outcome.error(), request_id));
      LogApiError(r.status, outcome.error(), request_id);
    }
    r.body.push_back('\n');
    const auto elapsed = std::chrono::steady_clock::now() - started;
    latency[static_cast<std::size_t>(id)]->ObserveNanos(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
    Count(id, req, r.status);
    if (options.access_log) AccessLog(req, r.status, request_id, elapsed);
    done(std::move(r));
  }

  void Audit(const Request& req, const std::string& request_id, std::string_view action) {
    api::Audit(req, request_id, action);
  }

  void AccessLog(const Request& req, int status, const std::string& request_id,
                 std::chrono::steady_clock::duration elapsed) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    log::Info("access", {{"method", req.method_text},
                         {"target", req.target},
                         {"status", std::to_string(status)},
                         {"duration_us", std::to_string(us)},
                         {"request_id", request_id},
                         {"remote", req.remote_address}});
  }

  // ---- routes -----------------------------------------------------------------------------

  template <class T>
  Result<T> Body(const Request& req) {
    return s::Decode<T>(req.body, decode);
  }

  template <class P>
  Result<std::shared_ptr<P>> Provider() {
    if (t_pinned.provider && t_pinned.capability == P::kCapability) {
      return std::static_pointer_cast<P>(t_pinned.provider);
    }
    auto p = providers.Get<P>();
    if (!p) return Fail(providers::ProviderMissing(P::kCapability));
    return p;
  }

  // Times a provider call for the provider-latency histogram.
  template <class F>
  auto Timed(RouteId route, F&& f) {
    if (t_untimed) return f();  // the deferred path times the whole plugin call itself
    const auto t0 = std::chrono::steady_clock::now();
    auto result = f();
    provider_latency[static_cast<std::size_t>(route)]->ObserveNanos(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    return result;
  }

  // Decode In → call provider → encode Out.
  template <class P, class In, class F>
  Outcome Call(RouteId route, const Request& req, int status, F&& f) {
    auto in = Body<In>(req);
    if (!in) return Fail(std::move(in.error()));
    auto p = Provider<P>();
    if (!p) return Fail(std::move(p.error()));
    auto out = Timed(route, [&] { return f(**p, *in); });
    if (!out) return Fail(std::move(out.error()));
    return Json(*out, status);
  }

  // Decode In → call the provider's paged form with ?after= → encode the page's items.
  template <class P, class In, class F>
  Outcome CallPage(RouteId route, const Request& req, std::string_view query, F&& f) {
    auto in = Body<In>(req);
    if (!in) return Fail(std::move(in.error()));
    auto p = Provider<P>();
    if (!p) return Fail(std::move(p.error()));
    const providers::PageRequest page{QueryParam(query, "after")};
    auto out = Timed(route, [&] { return f(**p, *in, page); });
    if (!out) return Fail(std::move(out.error()));
    Reply r = Json(out->items);
    r.next = std::move(out->next);
    return r;
  }

  // ?limit= of GET lists: absent → 0 (the default page size).
  static Result<std::int64_t> LimitParam(std::string_view query) {
    const std::string text = QueryParam(query, "limit");
    if (text.empty()) return 0;
    std::int64_t n = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), n);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n <= 0) {
      return Fail(errc::kBadRequest, "limit: must be a positive integer");
    }
    return n;
  }

  // No request body: call provider → encode Out.
  template <class P, class F>
  Outcome Get(RouteId route, F&& f) {
    auto p = Provider<P>();
    if (!p) return Fail(std::move(p.error()));
    auto out = Timed(route, [&] { return f(**p); });
    if (!out) return Fail(std::move(out.error()));
    return Json(*out);
  }

  Outcome Dispatch(const Request& req, const RouteMatch& m, std::string_view query) {
    using namespace providers;
    const std::string id(m.param1);
    switch (m.id) {
      case RouteId::kRoot:
      case RouteId::kHealth:
        return StatusOk();
      case RouteId::kMetricsScrape:
        return Reply{200, metrics.Render()};
      case RouteId::kProvidersGet:
        return ProvidersGet(m.param1);
      case RouteId::kProvidersPost:
        return ProvidersPost(req, m.param1);

      case RouteId::kIncidentsQuery:
        return CallPage<IncidentProvider, s::IncidentQuery>(
            m.id, req, query,
            [](auto& p, const auto& q, const auto& page) { return p.QueryPage(q, page); });
      case RouteId::kIncidentCreate:
        return Call<IncidentProvider, s::CreateIncidentInput>(
            m.id, req, 201, [&](auto& p, auto& in) {
              in.caller = CallerOf(req);
              return p.Create(in);
            });
      case RouteId::kIncidentGet:
        return Get<IncidentProvider>(m.id, [&](auto& p) { return p.Get(id); });
      case RouteId::kIncidentUpdate:
        return Call<IncidentProvider, s::UpdateIncidentInput>(
            m.id, req, 200, [&](auto& p, auto& in) {
              in.caller = CallerOf(req);
              return p.Update(id, in);
            });
      case RouteId::kIncidentTimelineGet: {
        providers::TimelineRequest view;
        view.raw = QueryParam(query, "raw") == "true";
        auto limit = LimitParam(query);
        if (!limit) return Fail(std::move(limit.error()));
        view.limit = *limit;
        view.after = QueryParam(query, "after");
        auto p = Provider<IncidentProvider>();
        if (!p) return Fail(std::move(p.error()));
        auto out = Timed(m.id, [&] { return (*p)->TimelinePage(id, view); });
        if (!out) return Fail(std::move(out.error()));
        Reply r = Json(out->items);
        r.next = std::move(out->next);
        return r;
      }
      case RouteId::kIncidentTimelineAppend: {
        auto in = Body<s::TimelineAppendInput>(req);
        if (!in) return Fail(std::move(in.error()));
        if (in->at.IsZero()) in->at = Time::NowLocal();  // the reference uses local time
        in->caller = CallerOf(req);
        auto p = Provider<IncidentProvider>();
        if (!p) return Fail(std::move(p.error()));
        auto st = Timed(m.id, [&] { return (*p)->AppendTimeline(id, *in); });
        if (!st) return Fail(std::move(st.error()));
        return StatusOk(201);
      }

      case RouteId::kAlertsQuery:
        return CallPage<AlertProvider, s::AlertQuery>(
            m.id, req, query,
            [](auto& p, const auto& q, const auto& page) { return p.QueryPage(q, page); });
      case RouteId::kAlertGet:
        return Get<AlertProvider>(m.id, [&](auto& p) { return p.Get(id); });

      case RouteId::kLogsQuery:
        return Call<LogProvider, s::LogQuery>(m.id, req, 200,
                                              [](auto& p, const auto& q) { return p.Query(q); });

      case RouteId::kMetricsQuery:
        return Call<MetricProvider, s::MetricQuery>(
            m.id, req, 200, [](auto& p, const auto& q) { return p.Query(q); });
      case RouteId::kMetricsDescribeGet: {
        s::QueryScope scope;
        scope.service = QueryParam(query, "service");
        scope.environment = QueryParam(query, "environment");
        scope.team = QueryParam(query, "team");
        return Describe(m.id, scope);
      }
      case RouteId::kMetricsDescribePost: {
        auto scope = Body<s::QueryScope>(req);
        if (!scope) return Fail(std::move(scope.error()));
        return Describe(m.id, *scope);
      }

      case RouteId::kTicketsQuery:
        return Call<TicketProvider, s::TicketQuery>(
            m.id, req, 200, [](auto& p, const auto& q) { return p.Query(q); });
      case RouteId::kTicketCreate:
        return Call<TicketProvider, s::CreateTicketInput>(
            m.id, req, 201, [](auto& p, const auto& in) { return p.Create(in); });
      case RouteId::kTicketGet:
        return Get<TicketProvider>(m.id, [&](auto& p) { return p.Get(id); });
      case RouteId::kTicketUpdate:
        return Call<TicketProvider, s::UpdateTicketInput>(
            m.id, req, 200, [&](auto& p, const auto& in) { return p.Update(id, in); });

      case RouteId::kMessagesSend:
        return Call<MessagingProvider, s::Message>(
            m.id, req, 200, [](auto& p, const auto& msg) { return p.Send(msg); });

      case RouteId::kServicesQuery:
        return CallPage<ServiceProvider, s::ServiceQuery>(
            m.id, req, query,
            [](auto& p, const auto& q, const auto& page) { return p.QueryPage(q, page); });

      case RouteId::kDeploymentsQuery:
        return Call<DeploymentProvider, s::DeploymentQuery>(
            m.id, req, 200, [](auto& p, const auto& q) { return p.Query(q); });
      case RouteId::kDeploymentGet:
        return Get<DeploymentProvider>(m.id, [&](auto& p) { return p.Get(id); });

      case RouteId::kTeamsQuery:
        return CallPage<TeamProvider, s::TeamQuery>(
            m.id, req, query,
            [](auto& p, const auto& q, const auto& page) { return p.QueryPage(q, page); });
      case RouteId::kTeamGet:
        return Get<TeamProvider>(m.id, [&](auto& p) { return p.Get(id); });
      case RouteId::kTeamMembers: {
        auto limit = LimitParam(query);
        if (!limit) return Fail(std::move(limit.error()));
        auto p = Provider<TeamProvider>();
        if (!p) return Fail(std::move(p.error()));
        const providers::PageRequest page{QueryParam(query, "after")};
        auto out = Timed(m.id, [&] { return (*p)->MembersPage(id, *limit, page); });
        if (!out) return Fail(std::move(out.error()));
        Reply r = Json(out->items);
        r.next = std::move(out->next);
        return r;
      }

      case RouteId::kPlansQuery:
        return Call<OrchestrationProvider, s::OrchestrationPlanQuery>(
            m.id, req, 200, [](auto& p, const auto& q) { return p.QueryPlans(q); });
      case RouteId::kPlanGet:
        return Get<OrchestrationProvider>(m.id, [&](auto& p) { return p.GetPlan(id); });
      case RouteId::kRunsQuery:
        return Call<OrchestrationProvider, s::OrchestrationRunQuery>(
            m.id, req, 200, [](auto& p, const auto& q) { return p.QueryRuns(q); });
      case RouteId::kRunGet:
        return Get<OrchestrationProvider>(m.id, [&](auto& p) { return p.GetRun(id); });
      case RouteId::kRunStart: {
        auto in = Body<s::StartRunInput>(req);
        if (!in) return Fail(std::move(in.error()));
        if (in->plan_id.empty()) return Fail(errc::kBadRequest, "planId is required");
        return Call<OrchestrationProvider, s::StartRunInput>(
            m.id, req, 201, [](auto& p, const auto& start) { return p.StartRun(start.plan_id); });
      }
      case RouteId::kStepComplete: {
        // Both fields are optional, so an empty body is an empty input here.
        s::CompleteStepInput in;
        if (!TrimSpace(req.body).empty()) {
          auto decoded = Body<s::CompleteStepInput>(req);
          if (!decoded) return Fail(std::move(decoded.error()));
          in = std::move(*decoded);
        }
        auto p = Provider<OrchestrationProvider>();
        if (!p) return Fail(std::move(p.error()));
        const std::string step(m.param2);
        auto st = Timed(m.id, [&] { return (*p)->CompleteStep(id, step, in.actor, in.note); });
        if (!st) return Fail(std::move(st.error()));
        return StatusOk();
      }
      case RouteId::kCapabilityMissing:
        return Fail(providers::ProviderMissing(m.capability));
      default:
        return Fail(errc::kNotFound, "no such route");
    }
  }

  Outcome Describe(RouteId route, const s::QueryScope& scope) {
    auto p = Provider<providers::MetricProvider>();
    if (!p) return Fail(std::move(p.error()));
    auto out = Timed(route, [&] { return (*p)->Describe(scope); });
    if (!out) return Fail(std::move(out.error()));
    s::MetricDescriptors wrapped{std::move(*out)};
    return Json(wrapped);
  }

  static std::string_view CapabilitySegment(std::string_view rest) {
    if (rest.ends_with('/')) rest.remove_suffix(1);
    return rest;
  }

  Outcome ProvidersGet(std::string_view rest) {
    auto cap = providers::ParseCapabilityPath(CapabilitySegment(rest));
    if (!cap) return Fail(errc::kNotFound, "unknown capability");
    std::string body = "{\"providers\":[";
    bool first = true;
    for (const auto& name : registry.Names(*cap)) {
      if (!first) body.push_back(',');
      first = false;
      AppendJsonString(body, name);
    }
    body.append("]}");
    return Ok200(std::move(body));
  }

  Outcome ProvidersPost(const Request& req, std::string_view rest) {
    auto secret = providers.Get<providers::SecretProvider>();
    if (!secret) return Fail(errc::kSecretProviderMissing, "secret provider not configured");
    auto cap = providers::ParseCapabilityPath(CapabilitySegment(rest));
    if (!cap) return Fail(errc::kNotFound, "unknown capability");
    auto in = Body<s::ProviderConfig>(req);
    if (!in) return Fail(std::move(in.error()));
    if (in->provider.empty()) return Fail(errc::kBadRequest, "provider required");
    const JsonObject empty;
    const JsonObject& config = in->config ? *in->config : empty;
    Result<providers::ProviderPtr> created = [&]() -> Result<providers::ProviderPtr> {
      if (!in->plugin.empty()) {
        if (!options.plugin_factory) {
          return Fail(errc::kBadRequest, "plugin providers are not available in this build");
        }
        return options.plugin_factory(*cap, in->plugin, config);
      }
      return registry.Create(*cap, in->provider, config);
    }();
    if (!created) return Fail(errc::kBadRequest, created.error().message);
    providers.Set(*cap, std::move(*created));
    in->provider = ToLower(TrimSpace(in->provider));
    const std::string key = "providers/" + std::string(providers::Name(*cap)) + "/default";
    if (auto st = secret->Put(key, s::EncodeToString(*in)); !st) {
      return Fail(errc::kSecretStoreError, st.error().message);
    }
    return StatusOk();
  }
};

void Audit(const http::Request& req, std::string_view request_id, std::string_view action) {
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

void AddNextPageHeaders(http::Response& r, std::string_view target, const std::string& next) {
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

Api::Api(ApiOptions options, const providers::ProviderRegistry& registry,
         providers::ProviderSet& providers, metrics::Registry& metrics, BlockingPool* blocking_pool)
    : impl_(std::make_unique<Impl>(std::move(options), registry, providers, metrics,
                                   blocking_pool)) {}

Api::~Api() = default;

void Api::Handle(const http::Request& request, http::ResponseCallback done) {
  impl_->Handle(request, std::move(done));
}

std::optional<http::Response> Api::PayloadTooLarge(std::string_view target, std::size_t limit) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (const auto& e : impl_->options.extensions) {
    if (!e->Serves(path)) continue;
    auto r = e->PayloadTooLarge(path, limit);
    if (r) impl_->AddCommonHeaders(*r);
    return r;
  }
  return std::nullopt;
}

}  // namespace opsorch::api
