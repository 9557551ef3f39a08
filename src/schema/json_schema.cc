// JSON Schemas from the field tables in fields.h: one walk over the same tables the codec reads.
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <opsorch/common/time.h>
#include <opsorch/schema/json_schema.h>

#include "schema/fields.h"

namespace opsorch::schema {
namespace {

using detail::Described;
using detail::IsOptional;
using detail::IsVector;
using detail::Omit;
using detail::Schema;

JsonObject Ref(std::string_view name) {
  return JsonObject{{"$ref", "#/components/schemas/" + std::string(name)}};
}

template <Described T>
void Add(JsonObject& out);

// The schema of one member type; registers the struct types it meets.
template <class M>
JsonValue Of(JsonObject& out) {
  if constexpr (std::is_same_v<M, std::string>) {
    return JsonObject{{"type", "string"}};
  } else if constexpr (std::is_same_v<M, bool>) {
    return JsonObject{{"type", "boolean"}};
  } else if constexpr (std::is_integral_v<M>) {
    return JsonObject{{"type", "integer"}};
  } else if constexpr (std::is_floating_point_v<M>) {
    return JsonObject{{"type", "number"}};
  } else if constexpr (std::is_same_v<M, Time>) {
    return JsonObject{{"type", "string"}, {"format", "date-time"}};
  } else if constexpr (std::is_same_v<M, JsonObject>) {
    return JsonObject{{"type", "object"}};
  } else if constexpr (std::is_same_v<M, StringMap>) {
    return JsonObject{{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};
  } else if constexpr (IsOptional<M>::value) {
    // An unset optional is written as null (or left out under omitempty).
    return JsonObject{
        {"anyOf", JsonArray{Of<typename IsOptional<M>::Inner>(out), JsonObject{{"type", "null"}}}}};
  } else if constexpr (IsVector<M>::value) {
    return JsonObject{{"type", "array"}, {"items", Of<typename IsVector<M>::Inner>(out)}};
  } else {
    static_assert(Described<M>, "no JSON Schema for this member type");
    Add<M>(out);
    return Ref(Schema<M>::kName);
  }
}

template <Described T>
void Add(JsonObject& out) {
  const std::string name(Schema<T>::kName);
  if (out.contains(name)) return;
  out[name] = JsonObject{};  // reserved first: a type that refers to itself stops here
  JsonObject properties;
  std::apply(
      [&](const auto&... field) {
        ((properties[field.name] =
              [&] {
                using M = std::remove_cvref_t<decltype(std::declval<T&>().*(field.member))>;
                JsonValue v = Of<M>(out);
                if (field.omit == Omit::kOmitEmpty) {
                  v.as_object()["x-omitempty"] = true;  // left out when empty (Go's omitempty)
                }
                return v;
              }()),
         ...);
      },
      Schema<T>::kFields);
  out[name] = JsonObject{{"type", "object"}, {"properties", std::move(properties)}};
}

template <Described... T>
JsonObject All() {
  JsonObject out;
  (Add<T>(out), ...);
  out["AlertQuery"] = out.at("IncidentQuery");  // the same type under its contract name
  out["Status"] = JsonObject{{"type", "object"},
                             {"properties", {{"status", {{"type", "string"}}}}},
                             {"required", JsonArray{"status"}}};
  out["Error"] = JsonObject{
      {"type", "object"},
      {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}},
      {"required", JsonArray{"code", "message"}}};
  return out;
}

}  // namespace

const JsonObject& JsonSchemas() {
  static const JsonObject kSchemas =
      All<QueryScope, IncidentQuery, Incident, CreateIncidentInput, UpdateIncidentInput,
          TimelineEntry, TimelineAppendInput, Alert, LogQuery, LogEntries, MetricQuery,
          MetricSeries, MetricDescriptor, MetricDescriptors, TicketQuery, Ticket, CreateTicketInput,
          UpdateTicketInput, Message, MessageResult, ServiceQuery, Service, DeploymentQuery,
          Deployment, TeamQuery, Team, TeamMember, OrchestrationPlanQuery, OrchestrationPlan,
          OrchestrationRunQuery, OrchestrationRun, OrchestrationStepState, StartRunInput,
          CompleteStepInput, ProviderConfig>();
  return kSchemas;
}

}  // namespace opsorch::schema
