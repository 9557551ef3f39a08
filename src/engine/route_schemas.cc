// JSON Schemas of the engine's route bodies for GET /openapi.json. The engine writes these
// bodies by hand (admin_routes.cc, routes.cc), so their schemas are written beside them here;
// the route-table test checks every name a row uses resolves.
#include <opsorch/engine/routes.h>

namespace opsorch::engine {
namespace {

JsonObject Str() { return JsonObject{{"type", "string"}}; }
JsonObject Int() { return JsonObject{{"type", "integer"}}; }
JsonObject Obj(JsonObject properties, JsonArray required = {}, bool closed = false) {
  JsonObject o{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = std::move(required);
  if (closed) o["additionalProperties"] = false;  // strict: an unknown field is a 400
  return o;
}
JsonObject ListOf(std::string_view name) {
  return JsonObject{{"type", "array"},
                    {"items", {{"$ref", "#/components/schemas/" + std::string(name)}}}};
}
JsonObject Bool() { return JsonObject{{"type", "boolean"}}; }
JsonObject ArrayOf(JsonObject items) {
  return JsonObject{{"type", "array"}, {"items", std::move(items)}};
}
JsonObject StringMapSchema() {
  return JsonObject{{"type", "object"}, {"additionalProperties", Str()}};
}
// A service's runbooks (engine/service_fields.h checks the same rules).
JsonObject RunbookIds() {
  return JsonObject{
      {"type", "array"},
      {"maxItems", 20},
      {"uniqueItems", true},
      {"items", JsonObject{{"type", "string"}, {"pattern", "^[A-Za-z0-9._-]{1,64}$"}}}};
}

}  // namespace

JsonObject RouteSchemas() {
  JsonObject s;
  s["AdminService"] = Obj({{"id", Str()},
                           {"name", Str()},
                           {"description", Str()},
                           {"team", Str()},
                           {"ackTargetMinutes", Int()},
                           {"resolveTargetMinutes", Int()},
                           {"tags", StringMapSchema()},
                           {"escalationPolicy", Str()},
                           {"ackTimeoutMinutes", Int()},
                           {"autoResolveMinutes", Int()},
                           {"muteIntervals", ArrayOf(Str())},
                           {"runbooks", RunbookIds()}},
                          {"id", "name"});
  s["AdminServiceInput"] = Obj({{"name", Str()},
                                {"description", Str()},
                                {"team", Str()},
                                {"ackTargetMinutes", Int()},
                                {"resolveTargetMinutes", Int()},
                                {"tags", StringMapSchema()},
                                {"escalationPolicy", Str()},
                                {"ackTimeoutMinutes", Int()},
                                {"autoResolveMinutes", Int()},
                                {"muteIntervals", ArrayOf(Str())},
                                {"runbooks", RunbookIds()}},
                               {"name"}, true);
  s["AdminServices"] = ListOf("AdminService");
  // Paging (paging_routes.cc): the bodies are validated by their decoders, so the schemas
  // describe the shape without repeating every rule.
  const JsonObject contact_method{{"id", Str()},     {"type", Str()},  {"address", Str()},
                                  {"secret", Str()}, {"label", Str()}, {"hasSecret", Bool()}};
  const JsonObject rule{{"contactMethod", Str()}, {"startDelayMinutes", Int()}, {"urgency", Str()}};
  s["User"] = Obj({{"id", Str()},
                   {"name", Str()},
                   {"email", Str()},
                   {"timeZone", Str()},
                   {"contactMethods", ArrayOf(Obj(contact_method))},
                   {"notificationRules", ArrayOf(Obj(rule))}},
                  {"id", "name"});
  s["UserInput"] = Obj({{"name", Str()},
                        {"email", Str()},
                        {"timeZone", Str()},
                        {"contactMethods", ArrayOf(Obj(contact_method))},
                        {"notificationRules", ArrayOf(Obj(rule))}},
                       {"name"}, true);
  s["Users"] = ListOf("User");
  s["EscalationPolicy"] =
      Obj({{"id", Str()},
           {"name", Str()},
           {"description", Str()},
           {"numLoops", Int()},
           {"rules", ArrayOf(Obj({{"delayMinutes", Int()},
                                  {"targets", ArrayOf(Obj({{"type", Str()}, {"id", Str()}}))}}))}},
          {"id", "name", "rules"});
  s["EscalationPolicyInput"] = Obj({{"name", Str()},
                                    {"description", Str()},
                                    {"numLoops", Int()},
                                    {"rules", ArrayOf(JsonObject{{"type", "object"}})}},
                                   {"name", "rules"}, true);
  s["EscalationPolicies"] = ListOf("EscalationPolicy");
  const JsonObject entry = Obj({{"user", Str()}, {"start", Str()}, {"end", Str()}});
  s["Schedule"] = Obj({{"id", Str()},
                       {"name", Str()},
                       {"description", Str()},
                       {"timeZone", Str()},
                       {"layers", ArrayOf(JsonObject{{"type", "object"}})},
                       {"overrides", ArrayOf(JsonObject{{"type", "object"}})},
                       {"finalSchedule", ArrayOf(entry)}},
                      {"id", "name", "timeZone", "layers"});
  s["ScheduleInput"] = Obj({{"name", Str()},
                            {"description", Str()},
                            {"timeZone", Str()},
                            {"layers", ArrayOf(JsonObject{{"type", "object"}})}},
                           {"name", "timeZone", "layers"}, true);
  s["Schedules"] = ListOf("Schedule");
  s["Override"] = Obj({{"id", Str()}, {"start", Str()}, {"end", Str()}, {"user", Str()}},
                      {"id", "start", "end", "user"});
  s["OverrideInput"] =
      Obj({{"start", Str()}, {"end", Str()}, {"user", Str()}}, {"start", "end", "user"}, true);
  s["Overrides"] = ListOf("Override");
  const JsonObject ref = Obj({{"id", Str()}, {"name", Str()}});
  s["OnCall"] = Obj({{"user", ref},
                     {"schedule", JsonObject{{"type", JsonArray{"object", "null"}}}},
                     {"escalationPolicy", ref},
                     {"escalationLevel", Int()},
                     {"start", JsonObject{{"type", JsonArray{"string", "null"}}}},
                     {"end", JsonObject{{"type", JsonArray{"string", "null"}}}}},
                    {"user", "escalationPolicy", "escalationLevel"});
  s["OnCalls"] = ListOf("OnCall");
  s["Notification"] = Obj({{"id", Str()},
                           {"incidentId", Str()},
                           {"person", Str()},
                           {"contactMethod", Str()},
                           {"channel", Str()},
                           {"level", Int()},
                           {"status", Str()},
                           {"attempts", Int()},
                           {"detail", Str()}},
                          {"id", "status"});
  s["Notifications"] = ListOf("Notification");
  s["TestOutcomes"] = ArrayOf(
      Obj({{"contactMethod", Str()}, {"channel", Str()}, {"state", Str()}, {"detail", Str()}}));
  s["AdminTeam"] = Obj({{"id", Str()}, {"name", Str()}, {"description", Str()}, {"parent", Str()}},
                       {"id", "name"});
  s["AdminTeamInput"] =
      Obj({{"name", Str()}, {"description", Str()}, {"parent", Str()}}, {"name"}, true);
  s["AdminTeams"] = ListOf("AdminTeam");
  s["AdminMember"] =
      Obj({{"id", Str()}, {"name", Str()}, {"email", Str()}, {"handle", Str()}, {"role", Str()}},
          {"id"});
  s["AdminMemberInput"] =
      Obj({{"name", Str()}, {"email", Str()}, {"handle", Str()}, {"role", Str()}}, {}, true);
  s["AdminMembers"] = ListOf("AdminMember");
  const JsonObject integration{{"id", Str()},
                               {"service", Str()},
                               {"name", Str()},
                               {"kind", {{"enum", JsonArray{"events_v2", "alertmanager"}}}},
                               {"keyPrefix", Str()},
                               {"createdAt", {{"type", "string"}, {"format", "date-time"}}},
                               {"revoked", {{"type", "boolean"}}}};
  s["Integration"] = Obj(integration, {"id", "kind", "keyPrefix"});
  s["Integrations"] = ListOf("Integration");
  JsonObject created = integration;
  created["key"] = JsonObject{{"type", "string"}, {"description", "shown in this answer only"}};
  s["IntegrationCreated"] = Obj(std::move(created), {"id", "kind", "key"});
  s["IntegrationInput"] = Obj(
      {{"name", Str()}, {"kind", {{"enum", JsonArray{"events_v2", "alertmanager"}}}}}, {}, true);
  s["RetentionResult"] = Obj({{"deletedIncidents", Int()}}, {"deletedIncidents"});
  s["SlaReport"] =
      JsonObject{{"type", "object"},
                 {"description",
                  "Per service, per urgency and overall: incidents, acknowledged, resolved, "
                  "MTTA/MTTR (mean, p50, p90, p95) and target breaches"}};
  s["ReassignInput"] =
      Obj({{"users", JsonObject{{"type", "array"}, {"items", Str()}}}, {"escalationPolicy", Str()}},
          {}, true);
  s["IncidentCounts"] =
      Obj({{"triggered", Int()},
           {"acknowledged", Int()},
           {"resolved", Int()},
           {"openByUrgency",
            Obj({{"high", Int()}, {"medium", Int()}, {"low", Int()}, {"other", Int()}})}},
          {"triggered", "acknowledged", "resolved", "openByUrgency"});
  // PagerDuty Events API v2 and the Alertmanager webhook, as their senders write them.
  s["PagerDutyEvent"] = Obj(
      {{"routing_key", Str()},
       {"event_action", {{"enum", JsonArray{"trigger", "acknowledge", "resolve"}}}},
       {"dedup_key", Str()},
       {"payload", Obj({{"summary", Str()},
                        {"source", Str()},
                        {"severity", {{"enum", JsonArray{"critical", "error", "warning", "info"}}}},
                        {"timestamp", Str()},
                        {"component", Str()},
                        {"group", Str()},
                        {"class", Str()},
                        {"custom_details", {{"type", "object"}}}})},
       {"links", {{"type", "array"}}},
       {"images", {{"type", "array"}}},
       {"client", Str()},
       {"client_url", Str()}},
      {"routing_key", "event_action"});
  s["PagerDutyEvents"] = ListOf("PagerDutyEvent");
  s["PagerDutyChangeEvent"] = Obj(
      {{"routing_key", Str()}, {"payload", {{"type", "object"}}}, {"links", {{"type", "array"}}}},
      {"routing_key", "payload"});
  s["EventAccepted"] =
      Obj({{"status", Str()}, {"message", Str()}, {"dedup_key", Str()}}, {"status"});
  s["EventResults"] = Obj({{"status", Str()},
                           {"results",
                            {{"type", "array"},
                             {"items", Obj({{"status", Str()},
                                            {"message", Str()},
                                            {"dedup_key", Str()},
                                            {"action", Str()},
                                            {"incident_id", Str()},
                                            {"errors", {{"type", "array"}, {"items", Str()}}}})}}}},
                          {"status", "results"});
  s["AlertmanagerWebhook"] = Obj({{"version", Str()},
                                  {"groupKey", Str()},
                                  {"status", Str()},
                                  {"receiver", Str()},
                                  {"alerts", {{"type", "array"}, {"items", {{"type", "object"}}}}}},
                                 {"alerts"});
  // Quiet and liveness (quiet_routes.cc) and status pages (status_routes.cc).
  const JsonObject window_props{{"startTime", Str()},
                                {"endTime", Str()},
                                {"description", Str()},
                                {"services", ArrayOf(Str())},
                                {"createdBy", Str()}};
  JsonObject window = window_props;
  window["id"] = Str();
  window["state"] = Str();
  window["updatedAt"] = Str();
  s["MaintenanceWindowInput"] = Obj(window_props, {"startTime", "endTime", "services"}, true);
  s["MaintenanceWindow"] = Obj(window, {"id", "startTime", "endTime", "services", "state"});
  s["MaintenanceWindows"] = ListOf("MaintenanceWindow");
  const JsonObject interval{{"times", ArrayOf(Obj({{"startTime", Str()}, {"endTime", Str()}}))},
                            {"weekdays", ArrayOf(Str())},
                            {"daysOfMonth", ArrayOf(Str())},
                            {"months", ArrayOf(Str())},
                            {"years", ArrayOf(Str())},
                            {"location", Str()}};
  s["TimeIntervalInput"] =
      Obj({{"name", Str()}, {"timeIntervals", ArrayOf(Obj(interval))}}, {"timeIntervals"});
  s["TimeInterval"] = Obj(
      {{"name", Str()}, {"timeIntervals", ArrayOf(Obj(interval))}, {"active", Bool()}}, {"name"});
  s["TimeIntervals"] = ListOf("TimeInterval");
  s["HeartbeatInput"] = Obj({{"name", Str()},
                             {"service", Str()},
                             {"intervalSeconds", Int()},
                             {"graceSeconds", Int()},
                             {"severity", Str()},
                             {"rotateKey", Bool()}},
                            {"service", "intervalSeconds"}, true);
  s["Heartbeat"] = Obj({{"id", Str()},
                        {"name", Str()},
                        {"service", Str()},
                        {"intervalSeconds", Int()},
                        {"graceSeconds", Int()},
                        {"severity", Str()},
                        {"keyPrefix", Str()},
                        {"state", Str()},
                        {"lastBeatAt", JsonObject{{"type", JsonArray{"string", "null"}}}},
                        {"nextDeadline", JsonObject{{"type", JsonArray{"string", "null"}}}},
                        {"key", Str()},
                        {"beatPath", Str()}},
                       {"id", "service", "intervalSeconds", "state"});
  s["Heartbeats"] = ListOf("Heartbeat");
  const JsonObject page_props{{"name", Str()},
                              {"slug", Str()},
                              {"description", Str()},
                              {"domain", Str()},
                              {"services", ArrayOf(Str())},
                              {"overrides", StringMapSchema()}};
  JsonObject page = page_props;
  page["id"] = Str();
  s["StatusPageInput"] = Obj(page_props, {"name", "slug", "services"}, true);
  s["StatusPage"] = Obj(page, {"id", "name", "slug", "services"});
  s["StatusPages"] = ListOf("StatusPage");
  return s;
}

}  // namespace opsorch::engine
