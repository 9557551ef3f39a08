// Orchestration value types (contract §7).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/schema/scope.h>

namespace opsorch::schema {

struct OrchestrationPlanQuery {
  std::string query;  // ?
  QueryScope scope;
  StringMap tags;          // ?
  std::int64_t limit = 0;  // ?
  JsonObject metadata;     // ?
};

struct OrchestrationStep {
  std::string id;
  std::string title;
  std::string type;                     // ? manual|automated (vocabulary not validated)
  std::string description;              // ?
  std::vector<std::string> depends_on;  // dependsOn?
  JsonObject fields;                    // ?
  JsonObject metadata;                  // ?
};

struct OrchestrationPlan {
  std::string id;
  std::string title;
  std::string description;                // ?
  NullableList<OrchestrationStep> steps;  // null if nil
  std::string url;                        // ?
  std::string version;                    // ?
  StringMap tags;                         // ?
  JsonObject fields;                      // ?
  JsonObject metadata;                    // ?
};

struct OrchestrationRunQuery {
  std::string query;                  // ?
  std::vector<std::string> statuses;  // ?
  std::vector<std::string> plan_ids;  // planIds?
  QueryScope scope;
  std::int64_t limit = 0;  // ?
  JsonObject metadata;     // ?
};

struct OrchestrationStepState {
  std::string step_id;  // stepId
  std::string status;
  std::string actor;                // ?
  std::string note;                 // ?
  std::optional<Time> started_at;   // startedAt?
  std::optional<Time> finished_at;  // finishedAt?
  std::optional<Time> updated_at;   // updatedAt?
  JsonObject fields;                // ?
  JsonObject metadata;              // ?
};

struct OrchestrationRun {
  std::string id;
  std::string plan_id;                    // planId
  std::optional<OrchestrationPlan> plan;  // plan?
  std::string status;
  QueryScope scope;  // always
  NullableList<OrchestrationStepState> steps;
  Time created_at;
  Time updated_at;
  std::string url;      // ?
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

// Request bodies of the orchestration routes.
struct StartRunInput {
  std::string plan_id;  // planId
  JsonObject fields;    // ? the run's inputs (fields.incidentId links it to an incident)
};

struct CompleteStepInput {
  std::string actor;  // ?
  std::string note;   // ?
};

}  // namespace opsorch::schema
