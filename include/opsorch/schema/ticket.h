// Ticket value types (contract §7).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/schema/scope.h>

namespace opsorch::schema {

struct TicketQuery {
  std::string query;                   // ?
  std::vector<std::string> statuses;   // ?
  std::vector<std::string> assignees;  // ?
  std::string reporter;                // ?
  QueryScope scope;
  std::int64_t limit = 0;  // ?
  JsonObject metadata;     // ?
};

struct Ticket {
  std::string id;
  std::string key;  // ?
  std::string title;
  std::string description;  // ?
  std::string status;
  std::vector<std::string> assignees;  // ?
  std::string reporter;                // ?
  std::string url;                     // ?
  Time created_at;
  Time updated_at;
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

struct CreateTicketInput {
  std::string title;
  std::string description;  // ?
  JsonObject fields;        // ?
  JsonObject metadata;      // ?
};

struct UpdateTicketInput {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::string> status;
  std::optional<std::vector<std::string>> assignees;  // nullable array
  JsonObject fields;                                  // ?
  JsonObject metadata;                                // ?
};

}  // namespace opsorch::schema
