// The opsorch plugin SDK: turns providers registered in a ProviderRegistry into a plugin binary
// that speaks OpsOrch's stdio JSON-RPC (contract §8), so that any OpsOrch core, ours or the
// reference, can run it. Header-only; link the `opsorch_core` library for the schema codec.
//
//   int main() {
//     opsorch::providers::ProviderRegistry registry;
//     registry.Register<opsorch::providers::IncidentProvider>("acme", &AcmeIncidents::FromConfig);
//     return opsorch::sdk::ServeStdio(registry, "acme");
//   }
//
// Behaviour: one request line in, one response line out, until EOF on stdin. The provider of a
// capability is built from the `config` of the first call and rebuilt when a later call brings a
// different config. Errors are written in the object form {"code","message"}, which the
// reference core and opsorch both understand.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/result.h>
#include <opsorch/providers/capability.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/registry.h>
#include <opsorch/schema/codec.h>

namespace opsorch::sdk {

namespace detail {

namespace s = ::opsorch::schema;
using providers::Capability;

// What a handler produces: the `result` JSON text (or "null"), or an error.
using Reply = Result<std::string>;

template <class T>
Reply Encoded(const Result<T>& r) {
  if (!r) return Fail(r.error());
  std::string out;
  s::Encode(*r, out);
  return out;
}

inline Reply Encoded(const Status& st) {
  if (!st) return Fail(st.error());
  return std::string("null");
}

template <class T>
Result<T> Arg(const JsonValue& payload) {
  s::DecodeOptions o;
  o.strict = false;  // a newer core may send fields this plugin does not know yet
  o.max_depth = 128;
  return s::FromJson<T>(payload, o);
}

inline Result<std::string> Str(const JsonValue& payload, std::string_view key) {
  if (!payload.is_object()) return Fail(errc::kBadRequest, "payload must be an object");
  const JsonValue* v = payload.get_object().if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) {
    return Fail(errc::kBadRequest, "payload." + std::string(key) + " must be a string");
  }
  return std::string(v->get_string());
}

inline const JsonValue& Member(const JsonValue& payload, std::string_view key) {
  static const JsonValue kNull;
  if (!payload.is_object()) return kNull;
  const JsonValue* v = payload.get_object().if_contains(key);
  return v == nullptr ? kNull : *v;
}

#define OPSORCH_SDK_TRY(var, expr) \
  auto var = (expr);               \
  if (!var) return Fail(std::move(var.error()))

inline Reply Dispatch(Capability cap, const providers::ProviderPtr& base, std::string_view m,
                      const JsonValue& p) {
  using namespace providers;
  switch (cap) {
    case Capability::kIncident: {
      auto& x = static_cast<IncidentProvider&>(*base);
      if (m == "incident.query") {
        OPSORCH_SDK_TRY(q, Arg<s::IncidentQuery>(p));
        return Encoded(x.Query(*q));
      }
      if (m == "incident.get") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        return Encoded(x.Get(*id));
      }
      if (m == "incident.create") {
        OPSORCH_SDK_TRY(in, Arg<s::CreateIncidentInput>(p));
        return Encoded(x.Create(*in));
      }
      if (m == "incident.update") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        OPSORCH_SDK_TRY(in, Arg<s::UpdateIncidentInput>(Member(p, "input")));
        return Encoded(x.Update(*id, *in));
      }
      if (m == "incident.timeline.get") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        return Encoded(x.GetTimeline(*id));
      }
      if (m == "incident.timeline.append") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        // `entry` is what cores send; `input` is what some published plugins expect.
        const JsonValue& entry =
            Member(p, "entry").is_null() ? Member(p, "input") : Member(p, "entry");
        OPSORCH_SDK_TRY(in, Arg<s::TimelineAppendInput>(entry));
        return Encoded(x.AppendTimeline(*id, *in));
      }
      break;
    }
    case Capability::kAlert: {
      auto& x = static_cast<AlertProvider&>(*base);
      if (m == "alert.query") {
        OPSORCH_SDK_TRY(q, Arg<s::AlertQuery>(p));
        return Encoded(x.Query(*q));
      }
      if (m == "alert.get") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        return Encoded(x.Get(*id));
      }
      break;
    }
    case Capability::kLog: {
      auto& x = static_cast<LogProvider&>(*base);
      if (m == "log.query") {
        OPSORCH_SDK_TRY(q, Arg<s::LogQuery>(p));
        return Encoded(x.Query(*q));
      }
      break;
    }
    case Capability::kMetric: {
      auto& x = static_cast<MetricProvider&>(*base);
      if (m == "metric.query") {
        OPSORCH_SDK_TRY(q, Arg<s::MetricQuery>(p));
        return Encoded(x.Query(*q));
      }
      if (m == "metric.describe") {
        OPSORCH_SDK_TRY(scope, Arg<s::QueryScope>(p));
        return Encoded(x.Describe(*scope));
      }
      break;
    }
    case Capability::kTicket: {
      auto& x = static_cast<TicketProvider&>(*base);
      if (m == "ticket.query") {
        OPSORCH_SDK_TRY(q, Arg<s::TicketQuery>(p));
        return Encoded(x.Query(*q));
      }
      if (m == "ticket.get") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        return Encoded(x.Get(*id));
      }
      if (m == "ticket.create") {
        OPSORCH_SDK_TRY(in, Arg<s::CreateTicketInput>(p));
        return Encoded(x.Create(*in));
      }
      if (m == "ticket.update") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        OPSORCH_SDK_TRY(in, Arg<s::UpdateTicketInput>(Member(p, "input")));
        return Encoded(x.Update(*id, *in));
      }
      break;
    }
    case Capability::kMessaging: {
      auto& x = static_cast<MessagingProvider&>(*base);
      if (m == "messaging.send") {
        OPSORCH_SDK_TRY(msg, Arg<s::Message>(p));
        return Encoded(x.Send(*msg));
      }
      break;
    }
    case Capability::kService: {
      auto& x = static_cast<ServiceProvider&>(*base);
      if (m == "service.query") {
        OPSORCH_SDK_TRY(q, Arg<s::ServiceQuery>(p));
        return Encoded(x.Query(*q));
      }
      break;
    }
    case Capability::kDeployment: {
      auto& x = static_cast<DeploymentProvider&>(*base);
      if (m == "deployment.query") {
        OPSORCH_SDK_TRY(q, Arg<s::DeploymentQuery>(p));
        return Encoded(x.Query(*q));
      }
      if (m == "deployment.get") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        return Encoded(x.Get(*id));
      }
      break;
    }
    case Capability::kTeam: {
      auto& x = static_cast<TeamProvider&>(*base);
      if (m == "team.query") {
        OPSORCH_SDK_TRY(q, Arg<s::TeamQuery>(p));
        return Encoded(x.Query(*q));
      }
      if (m == "team.get") {
        OPSORCH_SDK_TRY(id, Str(p, "id"));
        return Encoded(x.Get(*id));
      }
      if (m == "team.members") {
        OPSORCH_SDK_TRY(id, Str(p, "teamID"));
        return Encoded(x.Members(*id));
      }
      break;
    }
    case Capability::kOrchestration: {
      auto& x = static_cast<OrchestrationProvider&>(*base);
      if (m == "orchestration.plans.query") {
        OPSORCH_SDK_TRY(q, Arg<s::OrchestrationPlanQuery>(p));
        return Encoded(x.QueryPlans(*q));
      }
      if (m == "orchestration.plans.get") {
        OPSORCH_SDK_TRY(id, Str(p, "planId"));
        return Encoded(x.GetPlan(*id));
      }
      if (m == "orchestration.runs.query") {
        OPSORCH_SDK_TRY(q, Arg<s::OrchestrationRunQuery>(p));
        return Encoded(x.QueryRuns(*q));
      }
      if (m == "orchestration.runs.get") {
        OPSORCH_SDK_TRY(id, Str(p, "runId"));
        return Encoded(x.GetRun(*id));
      }
      if (m == "orchestration.runs.start") {
        OPSORCH_SDK_TRY(id, Str(p, "planId"));
        return Encoded(x.StartRun(*id));
      }
      if (m == "orchestration.runs.steps.complete") {
        OPSORCH_SDK_TRY(run, Str(p, "runId"));
        OPSORCH_SDK_TRY(step, Str(p, "stepId"));
        OPSORCH_SDK_TRY(actor, Str(p, "actor"));
        OPSORCH_SDK_TRY(note, Str(p, "note"));
        return Encoded(x.CompleteStep(*run, *step, *actor, *note));
      }
      break;
    }
    case Capability::kSecret: {
      auto& x = static_cast<SecretProvider&>(*base);
      if (m == "secret.get") {
        OPSORCH_SDK_TRY(key, Str(p, "key"));
        OPSORCH_SDK_TRY(value, x.Get(*key));
        std::string out;
        AppendJsonString(out, *value);
        return out;
      }
      if (m == "secret.put") {
        OPSORCH_SDK_TRY(key, Str(p, "key"));
        OPSORCH_SDK_TRY(value, Str(p, "value"));
        return Encoded(x.Put(*key, *value));
      }
      break;
    }
  }
  return Fail(errc::kBadRequest, "unknown method " + std::string(m));
}

#undef OPSORCH_SDK_TRY

// "incident.timeline.get" → incident; "messaging.send" → messaging.
inline std::optional<Capability> CapabilityOfMethod(std::string_view method) {
  const std::string_view head = method.substr(0, method.find('.'));
  for (std::size_t i = 0; i < providers::kCapabilityCount; ++i) {
    const auto cap = static_cast<Capability>(i);
    if (providers::Name(cap) == head) return cap;
  }
  return std::nullopt;
}

inline std::string ErrorLine(const Error& e) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(out, WireCode(e));
  out.append(",\"message\":");
  AppendJsonString(out, e.message);
  out.append("}}\n");
  return out;
}

}  // namespace detail

// Serves one capability at a time per call; the provider of each capability is created on
// first use from the call's config. Not thread-safe (a plugin process gets one call at a time).
class PluginServer {
 public:
  PluginServer(const providers::ProviderRegistry& registry, std::string provider_name)
      : registry_(registry), name_(std::move(provider_name)) {}

  // One request line → one response line (with its newline).
  std::string Handle(std::string_view line) {
    auto request = ParseJson(line);
    if (!request) return detail::ErrorLine(request.error());
    if (!request->is_object()) {
      return detail::ErrorLine(MakeError(errc::kBadRequest, "request must be a JSON object"));
    }
    const JsonObject& obj = request->get_object();
    const JsonValue* method = obj.if_contains("method");
    if (method == nullptr || !method->is_string()) {
      return detail::ErrorLine(MakeError(errc::kBadRequest, "request.method must be a string"));
    }
    const std::string_view m(method->get_string().data(), method->get_string().size());
    const auto cap = detail::CapabilityOfMethod(m);
    if (!cap || !registry_.Contains(*cap, name_)) {
      return detail::ErrorLine(MakeError(errc::kBadRequest, "unknown method " + std::string(m)));
    }
    JsonObject config;
    if (const JsonValue* c = obj.if_contains("config"); c != nullptr && c->is_object()) {
      config = c->get_object();
    }
    auto provider = ProviderFor(*cap, config);
    if (!provider) return detail::ErrorLine(provider.error());
    static const JsonValue kNull;
    const JsonValue* payload = obj.if_contains("payload");
    auto reply = detail::Dispatch(*cap, *provider, m, payload == nullptr ? kNull : *payload);
    if (!reply) return detail::ErrorLine(reply.error());
    std::string out = "{\"result\":";
    out.append(*reply).append("}\n");
    return out;
  }

 private:
  struct Built {
    std::string config_json;
    providers::ProviderPtr provider;
  };

  Result<providers::ProviderPtr> ProviderFor(providers::Capability cap, const JsonObject& config) {
    std::string key;
    AppendJsonObject(key, config);
    auto it = built_.find(cap);
    if (it != built_.end() && it->second.config_json == key) return it->second.provider;
    auto created = registry_.Create(cap, name_, config);
    if (!created) return Fail(std::move(created.error()));
    built_[cap] = Built{std::move(key), *created};
    return *created;
  }

  const providers::ProviderRegistry& registry_;
  std::string name_;
  std::map<providers::Capability, Built> built_;
};

// Reads requests from stdin until EOF and answers on stdout. Returns the exit code for main().
inline int ServeStdio(const providers::ProviderRegistry& registry, std::string provider_name) {
  PluginServer server(registry, std::move(provider_name));
  char* line = nullptr;
  std::size_t capacity = 0;
  while (true) {
    const ssize_t n = ::getline(&line, &capacity, stdin);
    if (n < 0) break;  // EOF: the core is done with us
    const std::string_view text(line, static_cast<std::size_t>(n));
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    const std::string reply = server.Handle(text);
    if (std::fwrite(reply.data(), 1, reply.size(), stdout) != reply.size() ||
        std::fflush(stdout) != 0) {
      break;  // the core went away
    }
  }
  std::free(line);
  return 0;
}

}  // namespace opsorch::sdk
