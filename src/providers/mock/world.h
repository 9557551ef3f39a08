// The one demo world every mock provider is seeded from, so that cross references agree:
// incidents name services that exist, services name teams that exist, alerts and tickets name
// incidents that exist, runs name plans that exist. The content is fixed; all times are offsets
// from the `now` the world is built for, so a demo looks live yet is deterministic in tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <opsorch/common/time.h>
#include <opsorch/schema/catalog.h>
#include <opsorch/schema/incident.h>
#include <opsorch/schema/orchestration.h>
#include <opsorch/schema/scope.h>
#include <opsorch/schema/ticket.h>

namespace opsorch::providers::mock {

namespace s = ::opsorch::schema;

inline constexpr std::string_view kDemoDomain = "demo.opsorch.dev";

struct TeamSeed {
  s::Team team;
  std::vector<s::TeamMember> members;
};

struct ServiceSeed {
  s::Service service;  // tags: team, tier, environment, language
  std::string team;
  std::string environment;
  std::string region;
  // Start of the oldest unresolved incident on this service (zero when healthy): the log and
  // metric generators raise error rates and latency from then on, so graphs match incidents.
  Time degraded_since;
};

struct IncidentSeed {
  s::Incident incident;
  std::vector<s::TimelineEntry> timeline;  // ascending by `at`
};

struct MockWorld {
  Time now;
  std::vector<TeamSeed> teams;
  std::vector<ServiceSeed> services;
  std::vector<IncidentSeed> incidents;
  std::vector<s::Alert> alerts;
  std::vector<s::Ticket> tickets;
  std::vector<s::Deployment> deployments;
  std::vector<s::OrchestrationPlan> plans;
  std::vector<s::OrchestrationRun> runs;
};

// Cheap (a few hundred small objects); each provider builds it once at creation.
MockWorld BuildWorld(Time now);

// Service and team lookups used for scope filtering, O(1) per call. Immutable after
// construction, so it needs no locking.
class ServiceDirectory {
 public:
  explicit ServiceDirectory(const MockWorld& world);

  // By id or name, case-insensitively ("svc-checkout" or "checkout").
  const ServiceSeed* Find(std::string_view id_or_name) const;

  // Whether an item tagged with `item_service` belongs to the `wanted` service: equal ignoring
  // case, or both resolve to the same service.
  bool ServiceMatches(std::string_view item_service, std::string_view wanted) const;
  // The owning team of a service, "" when unknown.
  std::string TeamOf(std::string_view service) const;
  std::string EnvironmentOf(std::string_view service) const;

  // Applies a QueryScope to an item that belongs to `service`. `environment` overrides the
  // service's environment when non-empty (deployments, incident fields.environment).
  // `team` overrides the service's owner when non-empty.
  bool ScopeMatches(const s::QueryScope& scope, std::string_view service,
                    std::string_view environment = {}, std::string_view team = {}) const;

  const std::vector<ServiceSeed>& services() const { return services_; }

 private:
  std::vector<ServiceSeed> services_;
  std::unordered_map<std::string, std::size_t> by_key_;  // lower-cased id and name → index
};

}  // namespace opsorch::providers::mock
