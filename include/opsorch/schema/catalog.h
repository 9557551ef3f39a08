// Service, deployment and team value types (contract §7).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/schema/scope.h>

namespace opsorch::schema {

struct ServiceQuery {
  std::vector<std::string> ids;  // ?
  std::string name;              // ?
  StringMap tags;                // ?
  std::int64_t limit = 0;        // ?
  QueryScope scope;
  JsonObject metadata;  // ?
};

struct Service {
  std::string id;
  std::string name;
  std::string url;      // ?
  StringMap tags;       // ?
  JsonObject metadata;  // ?
};

struct DeploymentQuery {
  std::string query;                  // ?
  std::vector<std::string> statuses;  // ?
  std::vector<std::string> versions;  // ?
  QueryScope scope;
  std::int64_t limit = 0;  // ?
  JsonObject metadata;     // ?
};

struct Deployment {
  std::string id;
  std::string service;      // ?
  std::string environment;  // ?
  std::string version;      // ?
  std::string status;
  Time started_at;      // startedAt
  Time finished_at;     // finishedAt
  std::string url;      // ?
  JsonObject actor;     // ?
  JsonObject fields;    // ?
  JsonObject metadata;  // ?
};

// No `limit` on the wire; a known client sends one anyway and it is tolerated and ignored.
struct TeamQuery {
  std::string name;  // ?
  StringMap tags;    // ?
  QueryScope scope;
  JsonObject metadata;  // ?
};

struct Team {
  std::string id;
  std::string name;
  std::string parent;   // ?
  std::string url;      // ?
  StringMap tags;       // ?
  JsonObject metadata;  // ?
};

struct TeamMember {
  std::string id;
  std::string name;     // ?
  std::string email;    // ?
  std::string handle;   // ?
  std::string role;     // ?
  JsonObject metadata;  // ?
};

}  // namespace opsorch::schema
