// Field tables: the wire name, member and omit rule of every schema type, in wire order
// (contract §7). The generic codec in codec.cc reads these; adding a field is one line here.
#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <opsorch/schema/catalog.h>
#include <opsorch/schema/incident.h>
#include <opsorch/schema/messaging.h>
#include <opsorch/schema/observability.h>
#include <opsorch/schema/orchestration.h>
#include <opsorch/schema/plugin_payloads.h>
#include <opsorch/schema/provider_config.h>
#include <opsorch/schema/scope.h>
#include <opsorch/schema/ticket.h>

namespace opsorch::schema::detail {

// kOmitEmpty is Go's `omitempty`: empty strings, zero numbers, empty maps/lists and unset
// optionals are left out. kAlways emits the field; an unset optional is then `null`.
enum class Omit : bool { kAlways, kOmitEmpty };

template <class T, class M>
struct Field {
  std::string_view name;
  M T::*member;
  Omit omit;
};

template <class T, class M>
constexpr Field<T, M> Always(std::string_view name, M T::*member) {
  return {name, member, Omit::kAlways};
}
template <class T, class M>
constexpr Field<T, M> Opt(std::string_view name, M T::*member) {
  return {name, member, Omit::kOmitEmpty};
}

// Schema<T>::kName is the Go type name used in error texts; kFields the table; kTolerated the
// extra request fields that known clients send and we accept and ignore (contract §13 #9).
template <class T>
struct Schema;

inline constexpr std::array<std::string_view, 0> kNoExtras{};

// What the generic walks over the tables (the codec, the JSON Schemas) ask of a member type.
template <class T>
concept Described = requires {
  Schema<T>::kFields;
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {
  using Inner = T;
};

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {
  using Inner = T;
};

template <>
struct Schema<QueryScope> {
  static constexpr std::string_view kName = "QueryScope";
  static constexpr auto kFields =
      std::make_tuple(Opt("service", &QueryScope::service), Opt("team", &QueryScope::team),
                      Opt("environment", &QueryScope::environment));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<IncidentQuery> {
  static constexpr std::string_view kName = "IncidentQuery";
  static constexpr auto kFields = std::make_tuple(
      Opt("query", &IncidentQuery::query), Opt("statuses", &IncidentQuery::statuses),
      Opt("severities", &IncidentQuery::severities), Always("scope", &IncidentQuery::scope),
      Opt("limit", &IncidentQuery::limit), Opt("metadata", &IncidentQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Incident> {
  static constexpr std::string_view kName = "Incident";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &Incident::id), Always("title", &Incident::title),
      Opt("description", &Incident::description), Always("status", &Incident::status),
      Always("severity", &Incident::severity), Opt("service", &Incident::service),
      Opt("url", &Incident::url), Always("createdAt", &Incident::created_at),
      Always("updatedAt", &Incident::updated_at), Opt("fields", &Incident::fields),
      Opt("metadata", &Incident::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<CreateIncidentInput> {
  static constexpr std::string_view kName = "CreateIncidentInput";
  static constexpr auto kFields = std::make_tuple(
      Always("title", &CreateIncidentInput::title),
      Opt("description", &CreateIncidentInput::description),
      Always("status", &CreateIncidentInput::status),
      Always("severity", &CreateIncidentInput::severity),
      Opt("service", &CreateIncidentInput::service), Opt("fields", &CreateIncidentInput::fields),
      Opt("metadata", &CreateIncidentInput::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<UpdateIncidentInput> {
  static constexpr std::string_view kName = "UpdateIncidentInput";
  static constexpr auto kFields = std::make_tuple(
      Opt("title", &UpdateIncidentInput::title),
      Opt("description", &UpdateIncidentInput::description),
      Opt("status", &UpdateIncidentInput::status), Opt("severity", &UpdateIncidentInput::severity),
      Opt("service", &UpdateIncidentInput::service), Opt("fields", &UpdateIncidentInput::fields),
      Opt("metadata", &UpdateIncidentInput::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<TimelineEntry> {
  static constexpr std::string_view kName = "TimelineEntry";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &TimelineEntry::id), Always("incidentId", &TimelineEntry::incident_id),
      Always("at", &TimelineEntry::at), Always("kind", &TimelineEntry::kind),
      Always("body", &TimelineEntry::body), Opt("actor", &TimelineEntry::actor),
      Opt("metadata", &TimelineEntry::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<TimelineAppendInput> {
  static constexpr std::string_view kName = "TimelineAppendInput";
  static constexpr auto kFields = std::make_tuple(
      Always("at", &TimelineAppendInput::at), Always("kind", &TimelineAppendInput::kind),
      Always("body", &TimelineAppendInput::body), Opt("actor", &TimelineAppendInput::actor),
      Opt("metadata", &TimelineAppendInput::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Alert> {
  static constexpr std::string_view kName = "Alert";
  static constexpr auto kFields =
      std::make_tuple(Always("id", &Alert::id), Always("title", &Alert::title),
                      Opt("description", &Alert::description), Always("status", &Alert::status),
                      Always("severity", &Alert::severity), Opt("service", &Alert::service),
                      Opt("url", &Alert::url), Always("createdAt", &Alert::created_at),
                      Always("updatedAt", &Alert::updated_at), Opt("fields", &Alert::fields),
                      Opt("metadata", &Alert::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<LogFilter> {
  static constexpr std::string_view kName = "LogFilter";
  static constexpr auto kFields =
      std::make_tuple(Always("field", &LogFilter::field), Always("operator", &LogFilter::op),
                      Always("value", &LogFilter::value));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<LogExpression> {
  static constexpr std::string_view kName = "LogExpression";
  static constexpr auto kFields = std::make_tuple(Opt("search", &LogExpression::search),
                                                  Opt("filters", &LogExpression::filters),
                                                  Opt("severityIn", &LogExpression::severity_in));
  static constexpr auto kTolerated = kNoExtras;
};

inline constexpr std::array<std::string_view, 1> kLogQueryExtras{"providers"};  // opsorch-mcp

template <>
struct Schema<LogQuery> {
  static constexpr std::string_view kName = "LogQuery";
  static constexpr auto kFields =
      std::make_tuple(Opt("expression", &LogQuery::expression), Always("start", &LogQuery::start),
                      Always("end", &LogQuery::end), Always("scope", &LogQuery::scope),
                      Opt("limit", &LogQuery::limit), Opt("metadata", &LogQuery::metadata));
  static constexpr auto kTolerated = kLogQueryExtras;
};

template <>
struct Schema<LogEntry> {
  static constexpr std::string_view kName = "LogEntry";
  static constexpr auto kFields =
      std::make_tuple(Always("timestamp", &LogEntry::timestamp),
                      Always("message", &LogEntry::message), Opt("severity", &LogEntry::severity),
                      Opt("service", &LogEntry::service), Opt("labels", &LogEntry::labels),
                      Opt("fields", &LogEntry::fields), Opt("metadata", &LogEntry::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<LogEntries> {
  static constexpr std::string_view kName = "LogEntries";
  static constexpr auto kFields =
      std::make_tuple(Always("entries", &LogEntries::entries), Opt("url", &LogEntries::url));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricFilter> {
  static constexpr std::string_view kName = "MetricFilter";
  static constexpr auto kFields =
      std::make_tuple(Always("label", &MetricFilter::label), Always("operator", &MetricFilter::op),
                      Always("value", &MetricFilter::value));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricExpression> {
  static constexpr std::string_view kName = "MetricExpression";
  static constexpr auto kFields = std::make_tuple(
      Always("metricName", &MetricExpression::metric_name),
      Opt("aggregation", &MetricExpression::aggregation),
      Opt("filters", &MetricExpression::filters), Opt("groupBy", &MetricExpression::group_by));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricQuery> {
  static constexpr std::string_view kName = "MetricQuery";
  static constexpr auto kFields = std::make_tuple(
      Opt("expression", &MetricQuery::expression), Always("start", &MetricQuery::start),
      Always("end", &MetricQuery::end), Always("step", &MetricQuery::step),
      Always("scope", &MetricQuery::scope), Opt("metadata", &MetricQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricDescriptor> {
  static constexpr std::string_view kName = "MetricDescriptor";
  static constexpr auto kFields = std::make_tuple(
      Always("name", &MetricDescriptor::name), Always("type", &MetricDescriptor::type),
      Always("description", &MetricDescriptor::description),
      Always("labels", &MetricDescriptor::labels), Opt("unit", &MetricDescriptor::unit),
      Opt("url", &MetricDescriptor::url), Opt("metadata", &MetricDescriptor::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricPoint> {
  static constexpr std::string_view kName = "MetricPoint";
  static constexpr auto kFields = std::make_tuple(Always("timestamp", &MetricPoint::timestamp),
                                                  Always("value", &MetricPoint::value));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricSeries> {
  static constexpr std::string_view kName = "MetricSeries";
  static constexpr auto kFields =
      std::make_tuple(Always("name", &MetricSeries::name), Opt("service", &MetricSeries::service),
                      Opt("labels", &MetricSeries::labels), Always("points", &MetricSeries::points),
                      Opt("url", &MetricSeries::url), Opt("metadata", &MetricSeries::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MetricDescriptors> {
  static constexpr std::string_view kName = "MetricDescriptors";
  static constexpr auto kFields = std::make_tuple(Always("metrics", &MetricDescriptors::metrics));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<TicketQuery> {
  static constexpr std::string_view kName = "TicketQuery";
  static constexpr auto kFields =
      std::make_tuple(Opt("query", &TicketQuery::query), Opt("statuses", &TicketQuery::statuses),
                      Opt("assignees", &TicketQuery::assignees),
                      Opt("reporter", &TicketQuery::reporter), Always("scope", &TicketQuery::scope),
                      Opt("limit", &TicketQuery::limit), Opt("metadata", &TicketQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Ticket> {
  static constexpr std::string_view kName = "Ticket";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &Ticket::id), Opt("key", &Ticket::key), Always("title", &Ticket::title),
      Opt("description", &Ticket::description), Always("status", &Ticket::status),
      Opt("assignees", &Ticket::assignees), Opt("reporter", &Ticket::reporter),
      Opt("url", &Ticket::url), Always("createdAt", &Ticket::created_at),
      Always("updatedAt", &Ticket::updated_at), Opt("fields", &Ticket::fields),
      Opt("metadata", &Ticket::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<CreateTicketInput> {
  static constexpr std::string_view kName = "CreateTicketInput";
  static constexpr auto kFields = std::make_tuple(
      Always("title", &CreateTicketInput::title),
      Opt("description", &CreateTicketInput::description),
      Opt("fields", &CreateTicketInput::fields), Opt("metadata", &CreateTicketInput::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<UpdateTicketInput> {
  static constexpr std::string_view kName = "UpdateTicketInput";
  static constexpr auto kFields = std::make_tuple(
      Opt("title", &UpdateTicketInput::title), Opt("description", &UpdateTicketInput::description),
      Opt("status", &UpdateTicketInput::status), Opt("assignees", &UpdateTicketInput::assignees),
      Opt("fields", &UpdateTicketInput::fields), Opt("metadata", &UpdateTicketInput::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Block> {
  static constexpr std::string_view kName = "Block";
  static constexpr auto kFields = std::make_tuple(
      Always("type", &Block::type), Opt("text", &Block::text), Opt("fields", &Block::fields));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Message> {
  static constexpr std::string_view kName = "Message";
  static constexpr auto kFields =
      std::make_tuple(Always("channel", &Message::channel), Always("body", &Message::body),
                      Opt("metadata", &Message::metadata), Opt("threadRef", &Message::thread_ref),
                      Opt("blocks", &Message::blocks));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<MessageResult> {
  static constexpr std::string_view kName = "MessageResult";
  static constexpr auto kFields =
      std::make_tuple(Always("id", &MessageResult::id), Always("channel", &MessageResult::channel),
                      Always("sentAt", &MessageResult::sent_at), Opt("url", &MessageResult::url),
                      Opt("metadata", &MessageResult::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<ServiceQuery> {
  static constexpr std::string_view kName = "ServiceQuery";
  static constexpr auto kFields = std::make_tuple(
      Opt("ids", &ServiceQuery::ids), Opt("name", &ServiceQuery::name),
      Opt("tags", &ServiceQuery::tags), Opt("limit", &ServiceQuery::limit),
      Always("scope", &ServiceQuery::scope), Opt("metadata", &ServiceQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Service> {
  static constexpr std::string_view kName = "Service";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &Service::id), Always("name", &Service::name), Opt("url", &Service::url),
      Opt("tags", &Service::tags), Opt("metadata", &Service::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<DeploymentQuery> {
  static constexpr std::string_view kName = "DeploymentQuery";
  static constexpr auto kFields = std::make_tuple(
      Opt("query", &DeploymentQuery::query), Opt("statuses", &DeploymentQuery::statuses),
      Opt("versions", &DeploymentQuery::versions), Always("scope", &DeploymentQuery::scope),
      Opt("limit", &DeploymentQuery::limit), Opt("metadata", &DeploymentQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<Deployment> {
  static constexpr std::string_view kName = "Deployment";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &Deployment::id), Opt("service", &Deployment::service),
      Opt("environment", &Deployment::environment), Opt("version", &Deployment::version),
      Always("status", &Deployment::status), Always("startedAt", &Deployment::started_at),
      Always("finishedAt", &Deployment::finished_at), Opt("url", &Deployment::url),
      Opt("actor", &Deployment::actor), Opt("fields", &Deployment::fields),
      Opt("metadata", &Deployment::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

inline constexpr std::array<std::string_view, 1> kTeamQueryExtras{"limit"};  // old console builds

template <>
struct Schema<TeamQuery> {
  static constexpr std::string_view kName = "TeamQuery";
  static constexpr auto kFields =
      std::make_tuple(Opt("name", &TeamQuery::name), Opt("tags", &TeamQuery::tags),
                      Always("scope", &TeamQuery::scope), Opt("metadata", &TeamQuery::metadata));
  static constexpr auto kTolerated = kTeamQueryExtras;
};

template <>
struct Schema<Team> {
  static constexpr std::string_view kName = "Team";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &Team::id), Always("name", &Team::name), Opt("parent", &Team::parent),
      Opt("url", &Team::url), Opt("tags", &Team::tags), Opt("metadata", &Team::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<TeamMember> {
  static constexpr std::string_view kName = "TeamMember";
  static constexpr auto kFields =
      std::make_tuple(Always("id", &TeamMember::id), Opt("name", &TeamMember::name),
                      Opt("email", &TeamMember::email), Opt("handle", &TeamMember::handle),
                      Opt("role", &TeamMember::role), Opt("metadata", &TeamMember::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<OrchestrationPlanQuery> {
  static constexpr std::string_view kName = "OrchestrationPlanQuery";
  static constexpr auto kFields = std::make_tuple(
      Opt("query", &OrchestrationPlanQuery::query), Always("scope", &OrchestrationPlanQuery::scope),
      Opt("tags", &OrchestrationPlanQuery::tags), Opt("limit", &OrchestrationPlanQuery::limit),
      Opt("metadata", &OrchestrationPlanQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<OrchestrationStep> {
  static constexpr std::string_view kName = "OrchestrationStep";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &OrchestrationStep::id), Always("title", &OrchestrationStep::title),
      Opt("type", &OrchestrationStep::type), Opt("description", &OrchestrationStep::description),
      Opt("dependsOn", &OrchestrationStep::depends_on), Opt("fields", &OrchestrationStep::fields),
      Opt("metadata", &OrchestrationStep::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<OrchestrationPlan> {
  static constexpr std::string_view kName = "OrchestrationPlan";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &OrchestrationPlan::id), Always("title", &OrchestrationPlan::title),
      Opt("description", &OrchestrationPlan::description),
      Always("steps", &OrchestrationPlan::steps), Opt("url", &OrchestrationPlan::url),
      Opt("version", &OrchestrationPlan::version), Opt("tags", &OrchestrationPlan::tags),
      Opt("fields", &OrchestrationPlan::fields), Opt("metadata", &OrchestrationPlan::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<OrchestrationRunQuery> {
  static constexpr std::string_view kName = "OrchestrationRunQuery";
  static constexpr auto kFields = std::make_tuple(
      Opt("query", &OrchestrationRunQuery::query),
      Opt("statuses", &OrchestrationRunQuery::statuses),
      Opt("planIds", &OrchestrationRunQuery::plan_ids),
      Always("scope", &OrchestrationRunQuery::scope), Opt("limit", &OrchestrationRunQuery::limit),
      Opt("metadata", &OrchestrationRunQuery::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<OrchestrationStepState> {
  static constexpr std::string_view kName = "OrchestrationStepState";
  static constexpr auto kFields = std::make_tuple(
      Always("stepId", &OrchestrationStepState::step_id),
      Always("status", &OrchestrationStepState::status),
      Opt("actor", &OrchestrationStepState::actor), Opt("note", &OrchestrationStepState::note),
      Opt("startedAt", &OrchestrationStepState::started_at),
      Opt("finishedAt", &OrchestrationStepState::finished_at),
      Opt("updatedAt", &OrchestrationStepState::updated_at),
      Opt("fields", &OrchestrationStepState::fields),
      Opt("metadata", &OrchestrationStepState::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<OrchestrationRun> {
  static constexpr std::string_view kName = "OrchestrationRun";
  static constexpr auto kFields = std::make_tuple(
      Always("id", &OrchestrationRun::id), Always("planId", &OrchestrationRun::plan_id),
      Opt("plan", &OrchestrationRun::plan), Always("status", &OrchestrationRun::status),
      Always("scope", &OrchestrationRun::scope), Always("steps", &OrchestrationRun::steps),
      Always("createdAt", &OrchestrationRun::created_at),
      Always("updatedAt", &OrchestrationRun::updated_at), Opt("url", &OrchestrationRun::url),
      Opt("fields", &OrchestrationRun::fields), Opt("metadata", &OrchestrationRun::metadata));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<StartRunInput> {
  static constexpr std::string_view kName = "StartRunInput";
  static constexpr auto kFields = std::make_tuple(Always("planId", &StartRunInput::plan_id),
                                                  Opt("fields", &StartRunInput::fields));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<CompleteStepInput> {
  static constexpr std::string_view kName = "CompleteStepInput";
  static constexpr auto kFields = std::make_tuple(Opt("actor", &CompleteStepInput::actor),
                                                  Opt("note", &CompleteStepInput::note));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<ProviderConfig> {
  static constexpr std::string_view kName = "ProviderConfig";
  static constexpr auto kFields = std::make_tuple(Always("provider", &ProviderConfig::provider),
                                                  Always("config", &ProviderConfig::config),
                                                  Opt("plugin", &ProviderConfig::plugin));
  static constexpr auto kTolerated = kNoExtras;
};

// Plugin call payloads: every field always present, as the reference core sends them.
template <>
struct Schema<IdPayload> {
  static constexpr std::string_view kName = "IdPayload";
  static constexpr auto kFields = std::make_tuple(Always("id", &IdPayload::id));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<TeamIdPayload> {
  static constexpr std::string_view kName = "TeamIdPayload";
  static constexpr auto kFields = std::make_tuple(Always("teamID", &TeamIdPayload::team_id));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<PlanIdPayload> {
  static constexpr std::string_view kName = "PlanIdPayload";
  static constexpr auto kFields = std::make_tuple(Always("planId", &PlanIdPayload::plan_id),
                                                  Opt("fields", &PlanIdPayload::fields));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<RunIdPayload> {
  static constexpr std::string_view kName = "RunIdPayload";
  static constexpr auto kFields = std::make_tuple(Always("runId", &RunIdPayload::run_id));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<UpdateIncidentPayload> {
  static constexpr std::string_view kName = "UpdateIncidentPayload";
  static constexpr auto kFields = std::make_tuple(Always("id", &UpdateIncidentPayload::id),
                                                  Always("input", &UpdateIncidentPayload::input));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<UpdateTicketPayload> {
  static constexpr std::string_view kName = "UpdateTicketPayload";
  static constexpr auto kFields = std::make_tuple(Always("id", &UpdateTicketPayload::id),
                                                  Always("input", &UpdateTicketPayload::input));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<TimelineAppendPayload> {
  static constexpr std::string_view kName = "TimelineAppendPayload";
  static constexpr auto kFields = std::make_tuple(Always("entry", &TimelineAppendPayload::entry),
                                                  Always("id", &TimelineAppendPayload::id));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<CompleteStepPayload> {
  static constexpr std::string_view kName = "CompleteStepPayload";
  static constexpr auto kFields = std::make_tuple(Always("actor", &CompleteStepPayload::actor),
                                                  Always("note", &CompleteStepPayload::note),
                                                  Always("runId", &CompleteStepPayload::run_id),
                                                  Always("stepId", &CompleteStepPayload::step_id));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<SecretKeyPayload> {
  static constexpr std::string_view kName = "SecretKeyPayload";
  static constexpr auto kFields = std::make_tuple(Always("key", &SecretKeyPayload::key));
  static constexpr auto kTolerated = kNoExtras;
};

template <>
struct Schema<SecretPutPayload> {
  static constexpr std::string_view kName = "SecretPutPayload";
  static constexpr auto kFields = std::make_tuple(Always("key", &SecretPutPayload::key),
                                                  Always("value", &SecretPutPayload::value));
  static constexpr auto kTolerated = kNoExtras;
};

}  // namespace opsorch::schema::detail
