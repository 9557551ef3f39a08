// Route matching exactly as the contract's dispatch (§2 step 5, §2.1): first match wins, prefix
// capabilities answer 501 for any sub-path when unconfigured, exact-path capabilities 501 on
// their paths, everything else falls through to the plain-text 404.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include <opsorch/http/message.h>
#include <opsorch/providers/capability.h>

namespace opsorch::api {

enum class RouteId : std::uint8_t {
  kRoot,
  kHealth,
  kMetricsScrape,  // GET /metrics: our own Prometheus endpoint (not in the reference)
  kProvidersGet,
  kProvidersPost,
  kIncidentsQuery,
  kIncidentCreate,
  kIncidentGet,
  kIncidentUpdate,
  kIncidentTimelineGet,
  kIncidentTimelineAppend,
  kAlertsQuery,
  kAlertGet,
  kLogsQuery,
  kMetricsQuery,
  kMetricsDescribeGet,
  kMetricsDescribePost,
  kTicketsQuery,
  kTicketCreate,
  kTicketGet,
  kTicketUpdate,
  kMessagesSend,
  kServicesQuery,
  kDeploymentsQuery,
  kDeploymentGet,
  kTeamsQuery,
  kTeamGet,
  kTeamMembers,
  kPlansQuery,
  kPlanGet,
  kRunsQuery,
  kRunStart,
  kRunGet,
  kStepComplete,
  // Outcomes that are not routes, kept for metrics labels.
  kCapabilityMissing,  // 501
  kNotFound,           // plain 404
  kOptions,
  kUnauthorized,
  kForbidden,  // a cross-site configuration request (no bearer token configured)
  kBadPath,
};
inline constexpr std::size_t kRouteCount = static_cast<std::size_t>(RouteId::kBadPath) + 1;

// Pattern label for metrics, e.g. "/incidents/{id}".
std::string_view RoutePattern(RouteId id);
// Audit action of a route; empty for unaudited routes.
std::string_view AuditAction(RouteId id);

struct RouteMatch {
  RouteId id = RouteId::kNotFound;
  providers::Capability capability = providers::Capability::kIncident;  // for kCapabilityMissing
  std::string_view param1;  // {id}, {cap}, {planId}, {runId}
  std::string_view param2;  // {stepId}
};

// `path` is percent-decoded, without the query string. `configured` tells whether a capability
// has a provider (it decides between 501 and routing).
RouteMatch MatchRoute(http::Method method, std::string_view path,
                      const std::function<bool(providers::Capability)>& configured);

}  // namespace opsorch::api
