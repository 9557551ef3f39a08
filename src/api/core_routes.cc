// The OpsOrch contract's routes as rows of the route table. Each capability route names its
// operation (providers/operations.h): its payload is read from the request, the capability's
// provider is called in-process (on the loop or the worker pool, as its registration says) or,
// for a plugin, over its pipes without holding a thread, and the result is written back.
#include <charconv>
#include <chrono>
#include <memory>
#include <utility>

#include <opsorch/api/api.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/operations.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/provider_config.h>

namespace opsorch::api {
namespace {

using http::Method;
using providers::Capability;
using providers::Operation;
namespace ops = providers::ops;
namespace s = ::opsorch::schema;

std::string_view FirstNonEmpty(const http::Request& r,
                               std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    std::string_view v = TrimSpace(r.Header(n));
    if (!v.empty()) return v;
  }
  return {};
}

template <class T>
Reply Encoded(const T& value, int status = 200) {
  Reply r{status, {}};
  s::Encode(value, r.body);
  return r;
}

// An operation's route: `in` reads the payload from the request, `local` calls an in-process
// provider (the operation's interface method unless a route says otherwise: paging), `render`
// writes the reply.
template <class P, class In, class Out>
class OperationRoute {
 public:
  using Op = Operation<P, In, Out>;
  using ReadIn = std::function<Result<In>(Call&)>;
  using Render = std::function<Outcome(Result<Out>)>;
  using Local = std::function<Outcome(P&, const In&, Call&)>;

  // `metric_operation` labels opsorch_provider_call_duration_seconds: the route's audit action
  // (incident.created, …), as the metric has always been labelled.
  OperationRoute(const CoreRoutesContext& ctx, std::string_view metric_operation, const Op& op,
                 ReadIn in, Render render, Local local)
      : d_(std::make_shared<const Data>(Data{
            ctx, op, std::move(in), std::move(render), std::move(local),
            &ctx.metrics.GetHistogram("opsorch_provider_call_duration_seconds",
                                      "Duration of provider calls, by capability and operation.",
                                      {{"capability", providers::Name(P::kCapability)},
                                       {"operation", std::string(metric_operation)}})})) {}

  void operator()(Call& call, Respond respond) const {
    const Data& d = *d_;
    auto in = d.in(call);
    if (!in) return respond(Fail(std::move(in.error())));
    // The provider the request was routed with, even if a swap happens meanwhile.
    auto entry = d.ctx.providers.Lookup(P::kCapability);
    if (!entry.provider) return respond(Fail(providers::ProviderMissing(P::kCapability)));
    const auto started = std::chrono::steady_clock::now();
    if (entry.remote != nullptr && call.request.loop != nullptr) {
      // A plugin: its pipes are waited on by this request's event loop; no thread is held.
      providers::InvokeRemote(d.op, *entry.remote, *call.request.loop, *in,
                              [d = d_, keep = entry.provider, started,
                               respond = std::move(respond)](Result<Out> out) mutable {
                                Observe(*d, started);
                                respond(d->render(std::move(out)));
                              });
      return;
    }
    // Timed where it runs: time spent waiting for a pool thread is not the provider's.
    auto run = [d = d_, provider = std::move(entry.provider), in = std::move(*in), &call,
                respond = std::move(respond)]() mutable {
      const auto began = std::chrono::steady_clock::now();
      Outcome o = Run(*d, *provider, in, call);
      Observe(*d, began);
      respond(std::move(o));
    };
    if (entry.model == providers::CallModel::kPool && d.ctx.pool != nullptr) {
      d.ctx.pool->Post(std::move(run));
    } else {
      run();
    }
  }

 private:
  struct Data {
    CoreRoutesContext ctx;
    Op op;
    ReadIn in;
    Render render;
    Local local;
    metrics::Histogram* latency;
  };

  static Outcome Run(const Data& d, providers::Provider& provider, const In& in, Call& call) {
    if (d.local && dynamic_cast<providers::RemoteProvider*>(&provider) == nullptr) {
      return d.local(static_cast<P&>(provider), in, call);
    }
    return d.render(providers::Invoke(d.op, provider, in));
  }
  static void Observe(const Data& d, std::chrono::steady_clock::time_point started) {
    d.latency->ObserveNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now() - started)
                                .count());
  }

  std::shared_ptr<const Data> d_;
};

template <class P, class In, class Out>
Handler OpHandler(const CoreRoutesContext& ctx, std::string_view metric_operation,
                  const Operation<P, In, Out>& op, typename OperationRoute<P, In, Out>::ReadIn in,
                  typename OperationRoute<P, In, Out>::Render render,
                  typename OperationRoute<P, In, Out>::Local local = {}) {
  return OperationRoute<P, In, Out>(ctx, metric_operation, op, std::move(in), std::move(render),
                                    std::move(local));
}

// ---- reading payloads and writing replies ---------------------------------------------------

template <class T>
Result<T> Body(const CoreRoutesContext& ctx, const Call& call) {
  s::DecodeOptions o;
  o.strict = true;
  o.max_depth = ctx.json_max_depth;
  return s::Decode<T>(call.request.body, o);
}

template <class T>
auto BodyIn(const CoreRoutesContext& ctx) {
  return [ctx](Call& call) { return Body<T>(ctx, call); };
}

template <class Payload>
auto FirstParam() {
  return [](Call& call) -> Result<Payload> { return Payload{std::string(call.params[0])}; };
}

template <class Out>
auto Json(int status = 200) {
  return [status](Result<Out> out) -> Outcome {
    if (!out) return Fail(std::move(out.error()));
    return Encoded(*out, status);
  };
}

auto StatusReply(int status) {
  return [status](Status st) -> Outcome {
    if (!st) return Fail(std::move(st.error()));
    return StatusOk(status);
  };
}

// The page of an in-process provider that pages (the local engine), with its cursor.
template <class T>
Outcome PageReply(Result<providers::Page<T>> page) {
  if (!page) return Fail(std::move(page.error()));
  Reply r = Encoded(page->items);
  r.next = std::move(page->next);
  return r;
}

Result<std::int64_t> LimitParam(const Call& call) {
  const std::string text = call.Query("limit");
  if (text.empty()) return 0;
  std::int64_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n <= 0) {
    return Fail(errc::kBadRequest, "limit: must be a positive integer");
  }
  return n;
}

// ---- routes without a capability -------------------------------------------------------------

std::string_view CapabilitySegment(std::string_view rest) {
  if (rest.ends_with('/')) rest.remove_suffix(1);
  return rest;
}

Outcome ProvidersGet(const CoreRoutesContext& ctx, const Call& call) {
  auto cap = providers::ParseCapabilityPath(CapabilitySegment(call.params[0]));
  if (!cap) return Fail(errc::kNotFound, "unknown capability");
  std::string body = "{\"providers\":[";
  bool first = true;
  for (const auto& name : ctx.registry.Names(*cap)) {
    if (!first) body.push_back(',');
    first = false;
    AppendJsonString(body, name);
  }
  body.append("]}");
  return JsonReply(std::move(body));
}

// Runs on the worker pool: the secret store writes (and fsyncs) a file, or calls a plugin.
Outcome ProvidersPost(const CoreRoutesContext& ctx, const Call& call) {
  auto secret = ctx.providers.Get<providers::SecretProvider>();
  if (!secret) return Fail(errc::kSecretProviderMissing, "secret provider not configured");
  auto cap = providers::ParseCapabilityPath(CapabilitySegment(call.params[0]));
  if (!cap) return Fail(errc::kNotFound, "unknown capability");
  auto in = Body<s::ProviderConfig>(ctx, call);
  if (!in) return Fail(std::move(in.error()));
  if (in->provider.empty()) return Fail(errc::kBadRequest, "provider required");
  providers::ProviderSpec spec{in->provider, in->plugin, in->config ? *in->config : JsonObject(),
                               /*plugin_from_api=*/true};
  auto built = ctx.registry.Build(*cap, spec);
  if (!built) return Fail(errc::kBadRequest, built.error().message);
  ctx.providers.Set(*cap, std::move(*built));
  in->provider = ToLower(TrimSpace(in->provider));
  const std::string key = "providers/" + std::string(providers::Name(*cap)) + "/default";
  if (auto st = secret->Put(key, s::EncodeToString(*in)); !st) {
    return Fail(errc::kSecretStoreError, st.error().message);
  }
  return StatusOk();
}

template <class F>
Handler Sync(F f) {
  return [f = std::move(f)](Call& call, Respond respond) { respond(f(call)); };
}

}  // namespace

RouteTable CoreRoutes(const CoreRoutesContext& ctx) {
  using R = Route;
  constexpr Capability kIncident = Capability::kIncident, kAlert = Capability::kAlert,
                       kLog = Capability::kLog, kMetric = Capability::kMetric,
                       kTicket = Capability::kTicket, kMessaging = Capability::kMessaging,
                       kService = Capability::kService, kDeployment = Capability::kDeployment,
                       kTeam = Capability::kTeam, kOrchestration = Capability::kOrchestration;
  using IncidentP = providers::IncidentProvider;
  using AlertP = providers::AlertProvider;
  using ServiceP = providers::ServiceProvider;
  using TeamP = providers::TeamProvider;

  RouteTable t;
  const auto row = [&t](R r) { t.push_back(std::move(r)); };
  const auto ok = [](Call&) -> Outcome { return StatusOk(); };

  // -- the contract's routes outside the capabilities --
  row({.method = Method::kGet,
       .pattern = "/",
       .contract = true,
       .handler = Sync(ok),
       .summary = "Health (the contract's root)",
       .response_type = "Status"});
  row({.method = Method::kGet,
       .pattern = "/health",
       .auth = Auth::kBearerOrMetricsToken,
       .contract = true,
       .handler = Sync(ok),
       .summary = "Health",
       .response_type = "Status"});
  row({.method = Method::kGet,
       .pattern = "/metrics",
       .auth = Auth::kBearerOrMetricsToken,
       .contract = true,
       .handler = Sync([&metrics = ctx.metrics](Call&) -> Outcome {
         Reply r{200, metrics.Render()};
         r.content_type = "text/plain; version=0.0.4; charset=utf-8";
         return r;
       }),
       .summary = "Prometheus metrics of this server"});
  row({.method = Method::kGet,
       .pattern = "/providers/{cap*}",
       .contract = true,
       .handler = Sync([ctx](Call& call) { return ProvidersGet(ctx, call); }),
       .summary = "Registered provider names of a capability",
       .response_type = "object"});
  row({.method = Method::kPost,
       .pattern = "/providers/{cap*}",
       .audit = "provider.configured",
       .contract = true,
       .changes_config = true,
       .execution = Execution::kPool,
       .handler = Sync([ctx](Call& call) { return ProvidersPost(ctx, call); }),
       .summary = "Configure a capability's provider (stored in the secret store)",
       .request_type = "ProviderConfig",
       .response_type = "Status"});

  // -- incidents --
  row({.method = Method::kPost,
       .pattern = "/incidents/query",
       .capability = kIncident,
       .audit = "incident.query",
       .handler =
           OpHandler(ctx, "incident.query", ops::kIncidentQuery, BodyIn<s::IncidentQuery>(ctx),
                     Json<NullableList<s::Incident>>(),
                     [](IncidentP& p, const s::IncidentQuery& q, Call& call) {
                       return PageReply(p.QueryPage(q, {call.Query("after"), call.Query("sort")}));
                     }),
       .summary = "Query incidents (paged: X-OpsOrch-Next-Cursor; ?sort=newest|oldest)",
       .request_type = "IncidentQuery",
       .response_type = "[]Incident"});
  row({.method = Method::kPost,
       .pattern = "/incidents",
       .capability = kIncident,
       .audit = "incident.created",
       .handler = OpHandler(
           ctx, "incident.created", ops::kIncidentCreate,
           [ctx](Call& call) -> Result<s::CreateIncidentInput> {
             auto in = Body<s::CreateIncidentInput>(ctx, call);
             if (in) in->caller = CallerOf(call.request);
             return in;
           },
           Json<s::Incident>(201)),
       .summary = "Create an incident",
       .request_type = "CreateIncidentInput",
       .response_type = "Incident",
       .success_status = 201});
  row({.method = Method::kGet,
       .pattern = "/incidents/{id}",
       .capability = kIncident,
       .audit = "incident.get",
       .handler = OpHandler(ctx, "incident.get", ops::kIncidentGet, FirstParam<s::IdPayload>(),
                            Json<s::Incident>()),
       .summary = "Get an incident",
       .response_type = "Incident"});
  row({.method = Method::kPatch,
       .pattern = "/incidents/{id}",
       .capability = kIncident,
       .audit = "incident.updated",
       .handler = OpHandler(
           ctx, "incident.updated", ops::kIncidentUpdate,
           [ctx](Call& call) -> Result<s::UpdateIncidentPayload> {
             auto in = Body<s::UpdateIncidentInput>(ctx, call);
             if (!in) return Fail(std::move(in.error()));
             in->caller = CallerOf(call.request);
             return s::UpdateIncidentPayload{std::string(call.params[0]), std::move(*in)};
           },
           Json<s::Incident>()),
       .summary = "Update an incident",
       .request_type = "UpdateIncidentInput",
       .response_type = "Incident"});
  row({.method = Method::kGet,
       .pattern = "/incidents/{id}/timeline",
       .capability = kIncident,
       .audit = "incident.timeline.get",
       .handler = OpHandler(
           ctx, "incident.timeline.get", ops::kIncidentTimelineGet,
           [](Call& call) -> Result<s::IdPayload> {
             if (auto limit = LimitParam(call); !limit) return Fail(std::move(limit.error()));
             return s::IdPayload{std::string(call.params[0])};
           },
           Json<NullableList<s::TimelineEntry>>(),
           [](IncidentP& p, const s::IdPayload& in, Call& call) -> Outcome {
             providers::TimelineRequest view;
             view.raw = call.Query("raw") == "true";
             view.limit = *LimitParam(call);
             view.after = call.Query("after");
             return PageReply(p.TimelinePage(in.id, view));
           }),
       .summary = "An incident's timeline (repeats coalesced; ?raw=true pages every entry)",
       .response_type = "[]TimelineEntry"});
  row({.method = Method::kPost,
       .pattern = "/incidents/{id}/timeline",
       .capability = kIncident,
       .audit = "incident.timeline.appended",
       .handler = OpHandler(
           ctx, "incident.timeline.appended", ops::kIncidentTimelineAppend,
           [ctx](Call& call) -> Result<s::TimelineAppendPayload> {
             auto in = Body<s::TimelineAppendInput>(ctx, call);
             if (!in) return Fail(std::move(in.error()));
             // The reference uses the server's local time.
             if (in->at.IsZero()) in->at = Time::NowLocal();
             in->caller = CallerOf(call.request);
             if (call.session) in->actor.clear();  // the session is the actor
             return s::TimelineAppendPayload{std::move(*in), std::string(call.params[0])};
           },
           StatusReply(201)),
       .summary = "Append a timeline entry",
       .request_type = "TimelineAppendInput",
       .response_type = "Status",
       .success_status = 201});

  // -- alerts --
  row({.method = Method::kPost,
       .pattern = "/alerts/query",
       .capability = kAlert,
       .audit = "alert.query",
       .handler = OpHandler(ctx, "alert.query", ops::kAlertQuery, BodyIn<s::AlertQuery>(ctx),
                            Json<NullableList<s::Alert>>(),
                            [](AlertP& p, const s::AlertQuery& q, Call& call) {
                              return PageReply(p.QueryPage(q, {call.Query("after")}));
                            }),
       .summary = "Query alerts (paged)",
       .request_type = "AlertQuery",
       .response_type = "[]Alert"});
  row({.method = Method::kGet,
       .pattern = "/alerts/{id}",
       .capability = kAlert,
       .audit = "alert.get",
       .handler = OpHandler(ctx, "alert.get", ops::kAlertGet, FirstParam<s::IdPayload>(),
                            Json<s::Alert>()),
       .summary = "Get an alert",
       .response_type = "Alert"});

  // -- logs, metrics --
  row({.method = Method::kPost,
       .pattern = "/logs/query",
       .capability = kLog,
       .audit = "log.query",
       .handler = OpHandler(ctx, "log.query", ops::kLogQuery, BodyIn<s::LogQuery>(ctx),
                            Json<s::LogEntries>()),
       .summary = "Query logs",
       .request_type = "LogQuery",
       .response_type = "LogEntries"});
  row({.method = Method::kPost,
       .pattern = "/metrics/query",
       .capability = kMetric,
       .audit = "metric.query",
       .handler = OpHandler(ctx, "metric.query", ops::kMetricQuery, BodyIn<s::MetricQuery>(ctx),
                            Json<NullableList<s::MetricSeries>>()),
       .summary = "Query metrics",
       .request_type = "MetricQuery",
       .response_type = "[]MetricSeries"});
  const auto describe = [](Result<NullableList<s::MetricDescriptor>> out) -> Outcome {
    if (!out) return Fail(std::move(out.error()));
    return Encoded(s::MetricDescriptors{std::move(*out)});
  };
  row({.method = Method::kGet,
       .pattern = "/metrics/describe",
       .capability = kMetric,
       .audit = "metric.describe",
       .handler = OpHandler(
           ctx, "metric.describe", ops::kMetricDescribe,
           [](Call& call) -> Result<s::QueryScope> {
             s::QueryScope scope;
             scope.service = call.Query("service");
             scope.environment = call.Query("environment");
             scope.team = call.Query("team");
             return scope;
           },
           describe),
       .summary = "Describe metrics (?service=&environment=&team=)",
       .response_type = "MetricDescriptors"});
  row({.method = Method::kPost,
       .pattern = "/metrics/describe",
       .capability = kMetric,
       .audit = "metric.describe",
       .handler = OpHandler(ctx, "metric.describe", ops::kMetricDescribe,
                            BodyIn<s::QueryScope>(ctx), describe),
       .summary = "Describe metrics of a scope",
       .request_type = "QueryScope",
       .response_type = "MetricDescriptors"});

  // -- tickets --
  row({.method = Method::kPost,
       .pattern = "/tickets/query",
       .capability = kTicket,
       .audit = "ticket.query",
       .handler = OpHandler(ctx, "ticket.query", ops::kTicketQuery, BodyIn<s::TicketQuery>(ctx),
                            Json<NullableList<s::Ticket>>()),
       .summary = "Query tickets",
       .request_type = "TicketQuery",
       .response_type = "[]Ticket"});
  row({.method = Method::kPost,
       .pattern = "/tickets",
       .capability = kTicket,
       .audit = "ticket.created",
       .handler = OpHandler(ctx, "ticket.created", ops::kTicketCreate,
                            BodyIn<s::CreateTicketInput>(ctx), Json<s::Ticket>(201)),
       .summary = "Create a ticket",
       .request_type = "CreateTicketInput",
       .response_type = "Ticket",
       .success_status = 201});
  row({.method = Method::kGet,
       .pattern = "/tickets/{id}",
       .capability = kTicket,
       .audit = "ticket.get",
       .handler = OpHandler(ctx, "ticket.get", ops::kTicketGet, FirstParam<s::IdPayload>(),
                            Json<s::Ticket>()),
       .summary = "Get a ticket",
       .response_type = "Ticket"});
  row({.method = Method::kPatch,
       .pattern = "/tickets/{id}",
       .capability = kTicket,
       .audit = "ticket.updated",
       .handler = OpHandler(
           ctx, "ticket.updated", ops::kTicketUpdate,
           [ctx](Call& call) -> Result<s::UpdateTicketPayload> {
             auto in = Body<s::UpdateTicketInput>(ctx, call);
             if (!in) return Fail(std::move(in.error()));
             return s::UpdateTicketPayload{std::string(call.params[0]), std::move(*in)};
           },
           Json<s::Ticket>()),
       .summary = "Update a ticket",
       .request_type = "UpdateTicketInput",
       .response_type = "Ticket"});

  // -- messaging, services, deployments --
  row({.method = Method::kPost,
       .pattern = "/messages/send",
       .capability = kMessaging,
       .audit = "message.sent",
       .handler = OpHandler(ctx, "message.sent", ops::kMessagingSend, BodyIn<s::Message>(ctx),
                            Json<s::MessageResult>()),
       .summary = "Send a message",
       .request_type = "Message",
       .response_type = "MessageResult"});
  row({.method = Method::kPost,
       .pattern = "/services/query",
       .capability = kService,
       .audit = "service.query",
       .handler = OpHandler(ctx, "service.query", ops::kServiceQuery, BodyIn<s::ServiceQuery>(ctx),
                            Json<NullableList<s::Service>>(),
                            [](ServiceP& p, const s::ServiceQuery& q, Call& call) {
                              return PageReply(p.QueryPage(q, {call.Query("after")}));
                            }),
       .summary = "Query services (paged)",
       .request_type = "ServiceQuery",
       .response_type = "[]Service"});
  row({.method = Method::kPost,
       .pattern = "/deployments/query",
       .capability = kDeployment,
       .audit = "deployment.query",
       .handler = OpHandler(ctx, "deployment.query", ops::kDeploymentQuery,
                            BodyIn<s::DeploymentQuery>(ctx), Json<NullableList<s::Deployment>>()),
       .summary = "Query deployments",
       .request_type = "DeploymentQuery",
       .response_type = "[]Deployment"});
  row({.method = Method::kGet,
       .pattern = "/deployments/{id}",
       .capability = kDeployment,
       .audit = "deployment.get",
       .handler = OpHandler(ctx, "deployment.get", ops::kDeploymentGet, FirstParam<s::IdPayload>(),
                            Json<s::Deployment>()),
       .summary = "Get a deployment",
       .response_type = "Deployment"});

  // -- teams --
  row({.method = Method::kPost,
       .pattern = "/teams/query",
       .capability = kTeam,
       .audit = "team.query",
       .handler = OpHandler(ctx, "team.query", ops::kTeamQuery, BodyIn<s::TeamQuery>(ctx),
                            Json<NullableList<s::Team>>(),
                            [](TeamP& p, const s::TeamQuery& q, Call& call) {
                              return PageReply(p.QueryPage(q, {call.Query("after")}));
                            }),
       .summary = "Query teams (paged)",
       .request_type = "TeamQuery",
       .response_type = "[]Team"});
  row({.method = Method::kGet,
       .pattern = "/teams/{id}",
       .capability = kTeam,
       .audit = "team.get",
       .handler =
           OpHandler(ctx, "team.get", ops::kTeamGet, FirstParam<s::IdPayload>(), Json<s::Team>()),
       .summary = "Get a team",
       .response_type = "Team"});
  row({.method = Method::kGet,
       .pattern = "/teams/{id}/members",
       .capability = kTeam,
       .audit = "team.members",
       .handler = OpHandler(
           ctx, "team.members", ops::kTeamMembers,
           [](Call& call) -> Result<s::TeamIdPayload> {
             if (auto limit = LimitParam(call); !limit) return Fail(std::move(limit.error()));
             return s::TeamIdPayload{std::string(call.params[0])};
           },
           Json<NullableList<s::TeamMember>>(),
           [](TeamP& p, const s::TeamIdPayload& in, Call& call) {
             return PageReply(p.MembersPage(in.team_id, *LimitParam(call), {call.Query("after")}));
           }),
       .summary = "A team's members (paged)",
       .response_type = "[]TeamMember"});

  // -- orchestration --
  row({.method = Method::kPost,
       .pattern = "/orchestration/plans/query",
       .capability = kOrchestration,
       .audit = "orchestration.plans.query",
       .handler = OpHandler(ctx, "orchestration.plans.query", ops::kPlansQuery,
                            BodyIn<s::OrchestrationPlanQuery>(ctx),
                            Json<NullableList<s::OrchestrationPlan>>()),
       .summary = "Query runbook plans",
       .request_type = "OrchestrationPlanQuery",
       .response_type = "[]OrchestrationPlan"});
  row({.method = Method::kGet,
       .pattern = "/orchestration/plans/{planId}",
       .capability = kOrchestration,
       .audit = "orchestration.plans.get",
       .handler =
           OpHandler(ctx, "orchestration.plans.get", ops::kPlanGet, FirstParam<s::PlanIdPayload>(),
                     Json<std::optional<s::OrchestrationPlan>>()),
       .summary = "Get a plan",
       .response_type = "OrchestrationPlan"});
  row({.method = Method::kPost,
       .pattern = "/orchestration/runs/query",
       .capability = kOrchestration,
       .audit = "orchestration.runs.query",
       .handler = OpHandler(ctx, "orchestration.runs.query", ops::kRunsQuery,
                            BodyIn<s::OrchestrationRunQuery>(ctx),
                            Json<NullableList<s::OrchestrationRun>>()),
       .summary = "Query runs",
       .request_type = "OrchestrationRunQuery",
       .response_type = "[]OrchestrationRun"});
  row({.method = Method::kPost,
       .pattern = "/orchestration/runs",
       .capability = kOrchestration,
       .audit = "orchestration.runs.start",
       // Starts work (with `local`, workflow steps in this process): refused to a cross-site
       // page in the operator's browser when no token guards the API.
       .changes_config = true,
       .handler = OpHandler(
           ctx, "orchestration.runs.start", ops::kRunStart,
           [ctx](Call& call) -> Result<s::PlanIdPayload> {
             auto in = Body<s::StartRunInput>(ctx, call);
             if (!in) return Fail(std::move(in.error()));
             if (in->plan_id.empty()) {
               return Fail(errc::kBadRequest, "planId is required");
             }
             return s::PlanIdPayload{std::move(in->plan_id), std::move(in->fields)};
           },
           Json<std::optional<s::OrchestrationRun>>(201)),
       .summary = "Start a run of a plan",
       .request_type = "StartRunInput",
       .response_type = "OrchestrationRun",
       .success_status = 201});
  row({.method = Method::kGet,
       .pattern = "/orchestration/runs/{runId}",
       .capability = kOrchestration,
       .audit = "orchestration.runs.get",
       .handler =
           OpHandler(ctx, "orchestration.runs.get", ops::kRunGet, FirstParam<s::RunIdPayload>(),
                     Json<std::optional<s::OrchestrationRun>>()),
       .summary = "Get a run",
       .response_type = "OrchestrationRun"});
  row({.method = Method::kPost,
       .pattern = "/orchestration/runs/{runId}/steps/{stepId}/complete",
       .capability = kOrchestration,
       .audit = "orchestration.runs.steps.complete",
       .changes_config = true,  // an approval: not from a cross-site page either
       .handler = OpHandler(
           ctx, "orchestration.runs.steps.complete", ops::kStepComplete,
           [ctx](Call& call) -> Result<s::CompleteStepPayload> {
             // Both fields are optional, so an empty body is an empty input.
             s::CompleteStepInput in;
             if (!TrimSpace(call.request.body).empty()) {
               auto decoded = Body<s::CompleteStepInput>(ctx, call);
               if (!decoded) return Fail(std::move(decoded.error()));
               in = std::move(*decoded);
             }
             // Without an actor in the body, the caller's; a console session is always the actor.
             if (in.actor.empty() || call.session) {
               const JsonObject caller = CallerOf(call.request);
               if (const JsonValue* id = caller.if_contains("id"); id != nullptr) {
                 in.actor = std::string(id->get_string());
               }
             }
             return s::CompleteStepPayload{std::move(in.actor), std::move(in.note),
                                           std::string(call.params[0]),
                                           std::string(call.params[1])};
           },
           StatusReply(200)),
       .summary = "Complete a manual step of a run",
       .request_type = "CompleteStepInput",
       .response_type = "Status"});
  return t;
}

// Who made the request, for timeline entries: the audit line's actor headers, plus a name.
JsonObject CallerOf(const http::Request& req) {
  const auto plain = [](std::string_view v) -> std::string_view {
    if (v.size() > 256) return {};
    for (const char c : v) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return {};
    }
    return v;
  };
  JsonObject caller{
      {"type", ToLower(TrimSpace(req.Header("X-Actor-Type"))) == "copilot" ? "copilot" : "user"}};
  if (auto id = plain(FirstNonEmpty(req, {"X-User-Id", "X-Actor-ID", "X-OpsOrch-Actor-ID"}));
      !id.empty()) {
    caller["id"] = id;
  }
  if (auto name = plain(FirstNonEmpty(req, {"X-Actor-Name"})); !name.empty()) caller["name"] = name;
  return caller;
}

}  // namespace opsorch::api
