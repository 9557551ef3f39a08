// QueryScope is embedded as `scope` in every query and always emitted (as {} when empty).
#pragma once

#include <string>

namespace opsorch::schema {

struct QueryScope {
  std::string service;      // service?
  std::string team;         // team?
  std::string environment;  // environment?

  bool Empty() const { return service.empty() && team.empty() && environment.empty(); }
  friend bool operator==(const QueryScope&, const QueryScope&) = default;
};

}  // namespace opsorch::schema
