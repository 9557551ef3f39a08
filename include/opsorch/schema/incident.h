// Incident and alert value types (contract §7). Field order is the wire order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/schema/scope.h>

namespace opsorch::schema {

struct IncidentQuery {
  std::string query;                    // query?
  std::vector<std::string> statuses;    // statuses?
  std::vector<std::string> severities;  // severities?
  QueryScope scope;                     // scope (always)
  std::int64_t limit = 0;               // limit?
  JsonObject metadata;                  // metadata?
};

struct Incident {
  std::string id;
  std::string title;
  std::string description;  // ?
  std::string status;
  std::string severity;
  std::string service;  // ?
  std::string url;      // ?
  Time created_at;      // createdAt
  Time updated_at;      // updatedAt
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

// Not on the wire: who made the request, as {"type","id","name"} (the API fills it from the
// actor headers its audit line uses); providers that keep timelines record it.
using Caller = JsonObject;

struct CreateIncidentInput {
  Caller caller;  // not on the wire
  std::string title;
  std::string description;  // ?
  std::string status;
  std::string severity;
  std::string service;  // ?
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

// Nullable strings: absent or null means "unchanged".
struct UpdateIncidentInput {
  Caller caller;  // not on the wire
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::string> status;
  std::optional<std::string> severity;
  std::optional<std::string> service;
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

struct TimelineEntry {
  std::string id;
  std::string incident_id;  // incidentId
  Time at;
  std::string kind;
  std::string body;
  JsonObject actor;     // ?
  JsonObject metadata;  // ?
};

struct TimelineAppendInput {
  Caller caller;  // not on the wire; `actor` (when given) is what the client says
  Time at;
  std::string kind;
  std::string body;
  JsonObject actor;     // ?
  JsonObject metadata;  // ?
};

using AlertQuery = IncidentQuery;  // same fields; distinct Go type name only in error texts

struct Alert {
  std::string id;
  std::string title;
  std::string description;  // ?
  std::string status;
  std::string severity;
  std::string service;  // ?
  std::string url;      // ?
  Time created_at;
  Time updated_at;
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

}  // namespace opsorch::schema
