// Payloads of plugin calls (the stdio JSON-RPC's `payload`) that are not a value type of their
// own: ids and an id with an input. Keys are in the order the reference core sends them
// (alphabetical: it builds these payloads from Go maps).
#pragma once

#include <string>

#include <opsorch/schema/incident.h>
#include <opsorch/schema/ticket.h>

namespace opsorch::schema {

struct IdPayload {
  std::string id;
};

struct TeamIdPayload {
  std::string team_id;  // teamID
};

struct PlanIdPayload {
  std::string plan_id;  // planId
  JsonObject fields;    // ? orchestration.runs.start only: the run's inputs; omitted when empty
};

struct RunIdPayload {
  std::string run_id;  // runId
};

struct UpdateIncidentPayload {
  std::string id;
  UpdateIncidentInput input;
};

struct UpdateTicketPayload {
  std::string id;
  UpdateTicketInput input;
};

// `entry`, as the reference core sends it; some published plugins read `input` (a defect of
// theirs), which the SDK also accepts.
struct TimelineAppendPayload {
  TimelineAppendInput entry;
  std::string id;
};

struct CompleteStepPayload {
  std::string actor;
  std::string note;
  std::string run_id;   // runId
  std::string step_id;  // stepId
};

struct SecretKeyPayload {
  std::string key;
};

struct SecretPutPayload {
  std::string key;
  std::string value;
};

}  // namespace opsorch::schema
