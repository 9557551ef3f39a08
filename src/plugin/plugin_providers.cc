// The ten capability interfaces (and the secret store) over a PluginClient: method names and
// payload shapes of contract §8.4, results decoded leniently (unknown fields dropped, §8.5) and
// the null/missing-result rules of §8.6.
#include "plugin/plugin_providers.h"

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/schema/codec.h>

namespace opsorch::plugin {
namespace {

namespace s = ::opsorch::schema;
using providers::Capability;

template <class T>
Result<T> Decode(const Result<JsonValue>& result, std::string_view method) {
  if (!result) return Fail(result.error());
  s::DecodeOptions options;
  options.strict = false;
  options.max_depth = 128;
  options.refuse_nul = false;
  auto decoded = s::FromJson<T>(*result, options);
  if (!decoded) {
    return Fail(errc::kProviderError,
                "plugin answer to " + std::string(method) + ": " + decoded.error().message);
  }
  return decoded;
}

Status DecodeStatus(const Result<JsonValue>& result) {
  if (!result) return Fail(result.error());
  return Ok();
}

template <class T>
std::string Payload(const T& value) {
  return s::EncodeToString(value);
}

// Map-built payloads have alphabetically sorted keys (contract §8.4).
std::string Object(std::initializer_list<std::pair<std::string_view, std::string_view>> strings) {
  std::string out = "{";
  for (const auto& [key, value] : strings) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(out, key);
    out.push_back(':');
    AppendJsonString(out, value);
  }
  out.push_back('}');
  return out;
}

std::string IdAndInput(std::string_view id_key, const std::string& id, std::string_view input_key,
                       const std::string& input_json) {
  std::string out = "{";
  // Both shapes used by the contract sort this way: {"entry","id"} and {"id","input"}.
  const bool input_first = input_key < id_key;
  auto add_id = [&] {
    AppendJsonString(out, id_key);
    out.push_back(':');
    AppendJsonString(out, id);
  };
  auto add_input = [&] {
    AppendJsonString(out, input_key);
    out.push_back(':');
    out.append(input_json);
  };
  if (input_first) {
    add_input();
    out.push_back(',');
    add_id();
  } else {
    add_id();
    out.push_back(',');
    add_input();
  }
  out.push_back('}');
  return out;
}

class Base {
 public:
  explicit Base(std::shared_ptr<PluginClient> c) : client(std::move(c)) {}

 protected:
  Result<JsonValue> Call(std::string_view method, const std::string& payload) const {
    return client->Call(method, payload);
  }
  std::shared_ptr<PluginClient> client;
};

class Incident final : public providers::IncidentProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::Incident>> Query(const s::IncidentQuery& q) override {
    return Decode<NullableList<s::Incident>>(Call("incident.query", Payload(q)), "incident.query");
  }
  Result<s::Incident> Get(const std::string& id) override {
    return Decode<s::Incident>(Call("incident.get", Object({{"id", id}})), "incident.get");
  }
  Result<s::Incident> Create(const s::CreateIncidentInput& in) override {
    return Decode<s::Incident>(Call("incident.create", Payload(in)), "incident.create");
  }
  Result<s::Incident> Update(const std::string& id, const s::UpdateIncidentInput& in) override {
    return Decode<s::Incident>(Call("incident.update", IdAndInput("id", id, "input", Payload(in))),
                               "incident.update");
  }
  Result<NullableList<s::TimelineEntry>> GetTimeline(const std::string& id) override {
    return Decode<NullableList<s::TimelineEntry>>(
        Call("incident.timeline.get", Object({{"id", id}})), "incident.timeline.get");
  }
  Status AppendTimeline(const std::string& id, const s::TimelineAppendInput& in) override {
    // The key is `entry` (contract §13 #3: plugins reading `input` are defective).
    return DecodeStatus(
        Call("incident.timeline.append", IdAndInput("id", id, "entry", Payload(in))));
  }
};

class Alert final : public providers::AlertProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::Alert>> Query(const s::AlertQuery& q) override {
    return Decode<NullableList<s::Alert>>(Call("alert.query", Payload(q)), "alert.query");
  }
  Result<s::Alert> Get(const std::string& id) override {
    return Decode<s::Alert>(Call("alert.get", Object({{"id", id}})), "alert.get");
  }
};

class Log final : public providers::LogProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<s::LogEntries> Query(const s::LogQuery& q) override {
    return Decode<s::LogEntries>(Call("log.query", Payload(q)), "log.query");
  }
};

class Metric final : public providers::MetricProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::MetricSeries>> Query(const s::MetricQuery& q) override {
    return Decode<NullableList<s::MetricSeries>>(Call("metric.query", Payload(q)), "metric.query");
  }
  Result<NullableList<s::MetricDescriptor>> Describe(const s::QueryScope& scope) override {
    return Decode<NullableList<s::MetricDescriptor>>(Call("metric.describe", Payload(scope)),
                                                     "metric.describe");
  }
};

class Ticket final : public providers::TicketProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::Ticket>> Query(const s::TicketQuery& q) override {
    return Decode<NullableList<s::Ticket>>(Call("ticket.query", Payload(q)), "ticket.query");
  }
  Result<s::Ticket> Get(const std::string& id) override {
    return Decode<s::Ticket>(Call("ticket.get", Object({{"id", id}})), "ticket.get");
  }
  Result<s::Ticket> Create(const s::CreateTicketInput& in) override {
    return Decode<s::Ticket>(Call("ticket.create", Payload(in)), "ticket.create");
  }
  Result<s::Ticket> Update(const std::string& id, const s::UpdateTicketInput& in) override {
    return Decode<s::Ticket>(Call("ticket.update", IdAndInput("id", id, "input", Payload(in))),
                             "ticket.update");
  }
};

class Messaging final : public providers::MessagingProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<s::MessageResult> Send(const s::Message& m) override {
    return Decode<s::MessageResult>(Call("messaging.send", Payload(m)), "messaging.send");
  }
};

class Service final : public providers::ServiceProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::Service>> Query(const s::ServiceQuery& q) override {
    return Decode<NullableList<s::Service>>(Call("service.query", Payload(q)), "service.query");
  }
};

class Deployment final : public providers::DeploymentProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::Deployment>> Query(const s::DeploymentQuery& q) override {
    return Decode<NullableList<s::Deployment>>(Call("deployment.query", Payload(q)),
                                               "deployment.query");
  }
  Result<s::Deployment> Get(const std::string& id) override {
    return Decode<s::Deployment>(Call("deployment.get", Object({{"id", id}})), "deployment.get");
  }
};

class Team final : public providers::TeamProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::Team>> Query(const s::TeamQuery& q) override {
    return Decode<NullableList<s::Team>>(Call("team.query", Payload(q)), "team.query");
  }
  Result<s::Team> Get(const std::string& id) override {
    return Decode<s::Team>(Call("team.get", Object({{"id", id}})), "team.get");
  }
  Result<NullableList<s::TeamMember>> Members(const std::string& team_id) override {
    return Decode<NullableList<s::TeamMember>>(Call("team.members", Object({{"teamID", team_id}})),
                                               "team.members");
  }
};

class Orchestration final : public providers::OrchestrationProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<NullableList<s::OrchestrationPlan>> QueryPlans(
      const s::OrchestrationPlanQuery& q) override {
    return Decode<NullableList<s::OrchestrationPlan>>(Call("orchestration.plans.query", Payload(q)),
                                                      "orchestration.plans.query");
  }
  // A null result is a zero-valued plan or run, not `null` (contract §8.6).
  Result<std::optional<s::OrchestrationPlan>> GetPlan(const std::string& plan_id) override {
    return Decode<s::OrchestrationPlan>(
        Call("orchestration.plans.get", Object({{"planId", plan_id}})), "orchestration.plans.get");
  }
  Result<NullableList<s::OrchestrationRun>> QueryRuns(const s::OrchestrationRunQuery& q) override {
    return Decode<NullableList<s::OrchestrationRun>>(Call("orchestration.runs.query", Payload(q)),
                                                     "orchestration.runs.query");
  }
  Result<std::optional<s::OrchestrationRun>> GetRun(const std::string& run_id) override {
    return Decode<s::OrchestrationRun>(Call("orchestration.runs.get", Object({{"runId", run_id}})),
                                       "orchestration.runs.get");
  }
  Result<std::optional<s::OrchestrationRun>> StartRun(const std::string& plan_id) override {
    return Decode<s::OrchestrationRun>(
        Call("orchestration.runs.start", Object({{"planId", plan_id}})),
        "orchestration.runs.start");
  }
  Status CompleteStep(const std::string& run_id, const std::string& step_id,
                      const std::string& actor, const std::string& note) override {
    return DecodeStatus(
        Call("orchestration.runs.steps.complete",
             Object({{"actor", actor}, {"note", note}, {"runId", run_id}, {"stepId", step_id}})));
  }
};

class Secret final : public providers::SecretProvider, Base {
 public:
  using Base::Base;
  bool IsBlocking() const override { return true; }
  bool CallsPlugin() const override { return true; }
  Result<std::string> Get(const std::string& key) override {
    auto r = Call("secret.get", Object({{"key", key}}));
    if (!r) return Fail(std::move(r.error()));
    if (r->is_null()) return std::string();
    if (!r->is_string()) {
      return Fail(errc::kProviderError, "plugin answer to secret.get: result is not a string");
    }
    return std::string(r->get_string());
  }
  Status Put(const std::string& key, const std::string& value) override {
    return DecodeStatus(Call("secret.put", Object({{"key", key}, {"value", value}})));
  }
};

}  // namespace

providers::ProviderPtr MakePluginProvider(Capability cap, std::shared_ptr<PluginClient> client) {
  switch (cap) {
    case Capability::kIncident:
      return std::make_shared<Incident>(std::move(client));
    case Capability::kAlert:
      return std::make_shared<Alert>(std::move(client));
    case Capability::kLog:
      return std::make_shared<Log>(std::move(client));
    case Capability::kMetric:
      return std::make_shared<Metric>(std::move(client));
    case Capability::kTicket:
      return std::make_shared<Ticket>(std::move(client));
    case Capability::kMessaging:
      return std::make_shared<Messaging>(std::move(client));
    case Capability::kService:
      return std::make_shared<Service>(std::move(client));
    case Capability::kDeployment:
      return std::make_shared<Deployment>(std::move(client));
    case Capability::kTeam:
      return std::make_shared<Team>(std::move(client));
    case Capability::kOrchestration:
      return std::make_shared<Orchestration>(std::move(client));
    case Capability::kSecret:
      return std::make_shared<Secret>(std::move(client));
  }
  return nullptr;
}

}  // namespace opsorch::plugin
