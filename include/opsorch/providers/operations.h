// The operations of every capability, one row each: the plugin method that carries it, its
// payload and result types, and the interface method that performs it in-process. The HTTP API
// (to call a provider in-process or a plugin over its pipes), the plugin host and the plugin SDK
// all read these rows, so adding an operation is its interface method and its row here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <opsorch/common/json.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/result.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/plugin_payloads.h>

namespace opsorch::providers {

// An operation of interface P: `In` is the plugin payload (and what the in-process call takes),
// `Out` the result (void: none).
template <class P, class In, class Out>
struct Operation {
  using Provider = P;
  using Input = In;
  using Output = Out;
  static constexpr Capability kCapability = P::kCapability;

  std::string_view method;  // "incident.query"
  Result<Out> (*call)(P&, const In&);
};

template <class P, class In, class Out>
Operation(std::string_view, Result<Out> (*)(P&, const In&)) -> Operation<P, In, Out>;

namespace ops {
namespace s = ::opsorch::schema;

// clang-format off
inline constexpr Operation kIncidentQuery{"incident.query",
    +[](IncidentProvider& p, const s::IncidentQuery& q) { return p.Query(q); }};
inline constexpr Operation kIncidentGet{"incident.get",
    +[](IncidentProvider& p, const s::IdPayload& in) { return p.Get(in.id); }};
inline constexpr Operation kIncidentCreate{"incident.create",
    +[](IncidentProvider& p, const s::CreateIncidentInput& in) { return p.Create(in); }};
inline constexpr Operation kIncidentUpdate{"incident.update",
    +[](IncidentProvider& p, const s::UpdateIncidentPayload& in) {
      return p.Update(in.id, in.input);
    }};
inline constexpr Operation kIncidentTimelineGet{"incident.timeline.get",
    +[](IncidentProvider& p, const s::IdPayload& in) { return p.GetTimeline(in.id); }};
inline constexpr Operation kIncidentTimelineAppend{"incident.timeline.append",
    +[](IncidentProvider& p, const s::TimelineAppendPayload& in) {
      return p.AppendTimeline(in.id, in.entry);
    }};

inline constexpr Operation kAlertQuery{"alert.query",
    +[](AlertProvider& p, const s::AlertQuery& q) { return p.Query(q); }};
inline constexpr Operation kAlertGet{"alert.get",
    +[](AlertProvider& p, const s::IdPayload& in) { return p.Get(in.id); }};

inline constexpr Operation kLogQuery{"log.query",
    +[](LogProvider& p, const s::LogQuery& q) { return p.Query(q); }};

inline constexpr Operation kMetricQuery{"metric.query",
    +[](MetricProvider& p, const s::MetricQuery& q) { return p.Query(q); }};
inline constexpr Operation kMetricDescribe{"metric.describe",
    +[](MetricProvider& p, const s::QueryScope& scope) { return p.Describe(scope); }};

inline constexpr Operation kTicketQuery{"ticket.query",
    +[](TicketProvider& p, const s::TicketQuery& q) { return p.Query(q); }};
inline constexpr Operation kTicketGet{"ticket.get",
    +[](TicketProvider& p, const s::IdPayload& in) { return p.Get(in.id); }};
inline constexpr Operation kTicketCreate{"ticket.create",
    +[](TicketProvider& p, const s::CreateTicketInput& in) { return p.Create(in); }};
inline constexpr Operation kTicketUpdate{"ticket.update",
    +[](TicketProvider& p, const s::UpdateTicketPayload& in) {
      return p.Update(in.id, in.input);
    }};

inline constexpr Operation kMessagingSend{"messaging.send",
    +[](MessagingProvider& p, const s::Message& m) { return p.Send(m); }};

inline constexpr Operation kServiceQuery{"service.query",
    +[](ServiceProvider& p, const s::ServiceQuery& q) { return p.Query(q); }};

inline constexpr Operation kDeploymentQuery{"deployment.query",
    +[](DeploymentProvider& p, const s::DeploymentQuery& q) { return p.Query(q); }};
inline constexpr Operation kDeploymentGet{"deployment.get",
    +[](DeploymentProvider& p, const s::IdPayload& in) { return p.Get(in.id); }};

inline constexpr Operation kTeamQuery{"team.query",
    +[](TeamProvider& p, const s::TeamQuery& q) { return p.Query(q); }};
inline constexpr Operation kTeamGet{"team.get",
    +[](TeamProvider& p, const s::IdPayload& in) { return p.Get(in.id); }};
inline constexpr Operation kTeamMembers{"team.members",
    +[](TeamProvider& p, const s::TeamIdPayload& in) { return p.Members(in.team_id); }};

inline constexpr Operation kPlansQuery{"orchestration.plans.query",
    +[](OrchestrationProvider& p, const s::OrchestrationPlanQuery& q) { return p.QueryPlans(q); }};
inline constexpr Operation kPlanGet{"orchestration.plans.get",
    +[](OrchestrationProvider& p, const s::PlanIdPayload& in) { return p.GetPlan(in.plan_id); }};
inline constexpr Operation kRunsQuery{"orchestration.runs.query",
    +[](OrchestrationProvider& p, const s::OrchestrationRunQuery& q) { return p.QueryRuns(q); }};
inline constexpr Operation kRunGet{"orchestration.runs.get",
    +[](OrchestrationProvider& p, const s::RunIdPayload& in) { return p.GetRun(in.run_id); }};
inline constexpr Operation kRunStart{"orchestration.runs.start",
    +[](OrchestrationProvider& p, const s::PlanIdPayload& in) { return p.StartRunWith(in); }};
inline constexpr Operation kStepComplete{"orchestration.runs.steps.complete",
    +[](OrchestrationProvider& p, const s::CompleteStepPayload& in) {
      return p.CompleteStep(in.run_id, in.step_id, in.actor, in.note);
    }};

inline constexpr Operation kSecretGet{"secret.get",
    +[](SecretProvider& p, const s::SecretKeyPayload& in) { return p.Get(in.key); }};
inline constexpr Operation kSecretPut{"secret.put",
    +[](SecretProvider& p, const s::SecretPutPayload& in) { return p.Put(in.key, in.value); }};
// clang-format on

// Every operation, for code that serves them by method name (the SDK) or lists them.
inline constexpr auto kAll = std::make_tuple(
    kIncidentQuery, kIncidentGet, kIncidentCreate, kIncidentUpdate, kIncidentTimelineGet,
    kIncidentTimelineAppend, kAlertQuery, kAlertGet, kLogQuery, kMetricQuery, kMetricDescribe,
    kTicketQuery, kTicketGet, kTicketCreate, kTicketUpdate, kMessagingSend, kServiceQuery,
    kDeploymentQuery, kDeploymentGet, kTeamQuery, kTeamGet, kTeamMembers, kPlansQuery, kPlanGet,
    kRunsQuery, kRunGet, kRunStart, kStepComplete, kSecretGet, kSecretPut);

}  // namespace ops

// Calls `fn(op)` for every operation, in kAll's order, until it returns true.
template <class Fn>
bool ForEachOperation(Fn&& fn) {
  return std::apply([&](const auto&... op) { return (fn(op) || ...); }, ops::kAll);
}

// ---- the plugin protocol's encoding of payloads and results ---------------------------------

// A plugin call's payload (JSON text).
template <class In>
std::string EncodePayload(const In& in) {
  return schema::EncodeToString(in);
}

// A payload a plugin receives. Lenient: a newer core may send fields this plugin does not know.
template <class In>
Result<In> DecodePayload(const JsonValue& payload) {
  schema::DecodeOptions o;
  o.strict = false;
  o.max_depth = 128;
  if constexpr (std::is_same_v<In, schema::TimelineAppendPayload>) {
    // `input` is what some published plugins expect instead of `entry`: accepted from older
    // cores that send it.
    if (payload.is_object() && !payload.get_object().contains("entry") &&
        payload.get_object().contains("input")) {
      JsonObject copy = payload.get_object();
      copy["entry"] = copy["input"];
      return schema::FromJson<In>(JsonValue(std::move(copy)), o);
    }
  }
  return schema::FromJson<In>(payload, o);
}

// A plugin's result as Out: decoded leniently; a missing or null result is null for lists, the
// zero-valued object for objects (orchestration's optional plan or run too), "" for a secret.
template <class Out>
Result<Out> DecodeResult(Result<JsonValue> result, std::string_view method) {
  if (!result) return Fail(std::move(result.error()));
  if constexpr (std::is_void_v<Out>) {
    return Ok();
  } else if constexpr (std::is_same_v<Out, std::string>) {
    if (result->is_null()) return std::string();
    if (!result->is_string()) {
      return Fail(errc::kProviderError,
                  "plugin answer to " + std::string(method) + ": result is not a string");
    }
    return std::string(result->get_string());
  } else {
    schema::DecodeOptions o;
    o.strict = false;
    o.max_depth = 128;
    o.refuse_nul = false;
    // A null plan or run is the zero-valued object through a plugin, not `null`.
    using Plan = schema::OrchestrationPlan;
    using Run = schema::OrchestrationRun;
    using Decoded = std::conditional_t<
        std::is_same_v<Out, std::optional<Plan>>, Plan,
        std::conditional_t<std::is_same_v<Out, std::optional<Run>>, Run, Out>>;
    auto decoded = schema::FromJson<Decoded>(*result, o);
    if (!decoded) {
      return Fail(errc::kProviderError,
                  "plugin answer to " + std::string(method) + ": " + decoded.error().message);
    }
    return Out(std::move(*decoded));
  }
}

// A result as a plugin writes it (JSON text): `null` for none.
template <class Out>
std::string EncodeResult(const Result<Out>& result) {
  if constexpr (std::is_void_v<Out>) {
    return "null";
  } else if constexpr (std::is_same_v<Out, std::string>) {
    std::string out;
    AppendJsonString(out, *result);
    return out;
  } else {
    return schema::EncodeToString(*result);
  }
}

// ---- performing an operation on any provider -------------------------------------------------

// In-process, or as a plugin call that blocks this thread.
template <class P, class In, class Out>
Result<Out> Invoke(const Operation<P, In, Out>& op, Provider& provider, const In& in) {
  if (auto* remote = dynamic_cast<RemoteProvider*>(&provider)) {
    return DecodeResult<Out>(remote->Call(op.method, EncodePayload(in)), op.method);
  }
  return op.call(static_cast<P&>(provider), in);
}

// The plugin call of `op` without holding a thread: `done` runs on `loop`'s thread.
template <class P, class In, class Out, class Done>
void InvokeRemote(const Operation<P, In, Out>& op, RemoteProvider& remote, Loop& loop,
                  const In& in, Done done) {
  remote.CallAsync(loop, op.method, EncodePayload(in),
                   [method = op.method, done = std::move(done)](Result<JsonValue> r) mutable {
                     done(DecodeResult<Out>(std::move(r), method));
                   });
}

}  // namespace opsorch::providers
