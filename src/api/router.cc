#include "api/router.h"

#include <array>

namespace opsorch::api {
namespace {

using http::Method;
using providers::Capability;

constexpr std::array<std::string_view, kRouteCount> kPatterns = {
    "/",
    "/health",
    "/metrics",
    "/providers/{cap}",
    "/providers/{cap}",
    "/incidents/query",
    "/incidents",
    "/incidents/{id}",
    "/incidents/{id}",
    "/incidents/{id}/timeline",
    "/incidents/{id}/timeline",
    "/alerts/query",
    "/alerts/{id}",
    "/logs/query",
    "/metrics/query",
    "/metrics/describe",
    "/metrics/describe",
    "/tickets/query",
    "/tickets",
    "/tickets/{id}",
    "/tickets/{id}",
    "/messages/send",
    "/services/query",
    "/deployments/query",
    "/deployments/{id}",
    "/teams/query",
    "/teams/{id}",
    "/teams/{id}/members",
    "/orchestration/plans/query",
    "/orchestration/plans/{planId}",
    "/orchestration/runs/query",
    "/orchestration/runs",
    "/orchestration/runs/{runId}",
    "/orchestration/runs/{runId}/steps/{stepId}/complete",
    "(capability missing)",
    "(not found)",
    "(options)",
    "(unauthorized)",
    "(forbidden)",
    "(bad path)",
};

constexpr std::array<std::string_view, kRouteCount> kActions = {"",
                                                                "",
                                                                "",
                                                                "",
                                                                "provider.configured",
                                                                "incident.query",
                                                                "incident.created",
                                                                "incident.get",
                                                                "incident.updated",
                                                                "incident.timeline.get",
                                                                "incident.timeline.appended",
                                                                "alert.query",
                                                                "alert.get",
                                                                "log.query",
                                                                "metric.query",
                                                                "metric.describe",
                                                                "metric.describe",
                                                                "ticket.query",
                                                                "ticket.created",
                                                                "ticket.get",
                                                                "ticket.updated",
                                                                "message.sent",
                                                                "service.query",
                                                                "deployment.query",
                                                                "deployment.get",
                                                                "team.query",
                                                                "team.get",
                                                                "team.members",
                                                                "orchestration.plans.query",
                                                                "orchestration.plans.get",
                                                                "orchestration.runs.query",
                                                                "orchestration.runs.start",
                                                                "orchestration.runs.get",
                                                                "orchestration.runs.steps.complete",
                                                                "",
                                                                "",
                                                                "",
                                                                "",
                                                                "",
                                                                ""};

// Splits "a/b/c" into at most N segments; returns the count, or N+1 if there are more.
template <std::size_t N>
std::size_t Split(std::string_view s, std::array<std::string_view, N>& out) {
  std::size_t n = 0;
  while (true) {
    const auto slash = s.find('/');
    if (n == N) return N + 1;
    out[n++] = s.substr(0, slash);
    if (slash == std::string_view::npos) return n;
    s.remove_prefix(slash + 1);
  }
}

// Prefix capabilities: strip one trailing '/', trim '/' at both ends, split (contract §2.1).
template <std::size_t N>
std::size_t Segments(std::string_view path, std::array<std::string_view, N>& out) {
  if (path.ends_with('/')) path.remove_suffix(1);
  while (path.starts_with('/')) path.remove_prefix(1);
  while (path.ends_with('/')) path.remove_suffix(1);
  return Split(path, out);
}

RouteMatch Match(RouteId id, std::string_view p1 = {}, std::string_view p2 = {}) {
  return RouteMatch{id, Capability::kIncident, p1, p2};
}

RouteMatch Missing(Capability c) { return RouteMatch{RouteId::kCapabilityMissing, c, {}, {}}; }

RouteMatch NotFound() { return Match(RouteId::kNotFound); }

RouteMatch Incidents(Method m, std::string_view path) {
  std::array<std::string_view, 3> s;
  const std::size_t n = Segments(path, s);
  if (n == 0 || n > 3 || s[0] != "incidents") return NotFound();
  if (n == 1) return m == Method::kPost ? Match(RouteId::kIncidentCreate) : NotFound();
  if (n == 2) {
    if (m == Method::kPost && s[1] == "query") return Match(RouteId::kIncidentsQuery);
    if (m == Method::kGet) return Match(RouteId::kIncidentGet, s[1]);
    if (m == Method::kPatch) return Match(RouteId::kIncidentUpdate, s[1]);
    return NotFound();
  }
  if (s[2] != "timeline") return NotFound();
  if (m == Method::kGet) return Match(RouteId::kIncidentTimelineGet, s[1]);
  if (m == Method::kPost) return Match(RouteId::kIncidentTimelineAppend, s[1]);
  return NotFound();
}

RouteMatch Alerts(Method m, std::string_view path) {
  std::array<std::string_view, 2> s;
  const std::size_t n = Segments(path, s);
  if (n != 2 || s[0] != "alerts") return NotFound();
  if (m == Method::kPost && s[1] == "query") return Match(RouteId::kAlertsQuery);
  if (m == Method::kGet) return Match(RouteId::kAlertGet, s[1]);
  return NotFound();
}

RouteMatch Tickets(Method m, std::string_view path) {
  std::array<std::string_view, 2> s;
  const std::size_t n = Segments(path, s);
  if (n == 0 || n > 2 || s[0] != "tickets") return NotFound();
  if (n == 1) return m == Method::kPost ? Match(RouteId::kTicketCreate) : NotFound();
  if (m == Method::kPost && s[1] == "query") return Match(RouteId::kTicketsQuery);
  if (m == Method::kGet) return Match(RouteId::kTicketGet, s[1]);
  if (m == Method::kPatch) return Match(RouteId::kTicketUpdate, s[1]);
  return NotFound();
}

RouteMatch Deployments(Method m, std::string_view path) {
  std::array<std::string_view, 2> s;
  const std::size_t n = Segments(path, s);
  if (n != 2 || s[0] != "deployments") return NotFound();
  if (m == Method::kPost && s[1] == "query") return Match(RouteId::kDeploymentsQuery);
  if (m == Method::kGet) return Match(RouteId::kDeploymentGet, s[1]);
  return NotFound();
}

RouteMatch Teams(Method m, std::string_view path) {
  std::array<std::string_view, 3> s;
  const std::size_t n = Segments(path, s);
  if (n < 2 || n > 3 || s[0] != "teams") return NotFound();
  if (n == 2) {
    if (m == Method::kPost && s[1] == "query") return Match(RouteId::kTeamsQuery);
    if (m == Method::kGet) return Match(RouteId::kTeamGet, s[1]);
    return NotFound();
  }
  if (m == Method::kGet && s[2] == "members") return Match(RouteId::kTeamMembers, s[1]);
  return NotFound();
}

RouteMatch Orchestration(Method m, std::string_view path) {
  std::array<std::string_view, 6> s;
  const std::size_t n = Segments(path, s);
  if (n < 2 || n > 6 || s[0] != "orchestration") return NotFound();
  if (s[1] == "plans" && n == 3) {
    if (m == Method::kPost && s[2] == "query") return Match(RouteId::kPlansQuery);
    if (m == Method::kGet) return Match(RouteId::kPlanGet, s[2]);
    return NotFound();
  }
  if (s[1] != "runs") return NotFound();
  if (n == 2) return m == Method::kPost ? Match(RouteId::kRunStart) : NotFound();
  if (n == 3) {
    if (m == Method::kPost && s[2] == "query") return Match(RouteId::kRunsQuery);
    if (m == Method::kGet) return Match(RouteId::kRunGet, s[2]);
    return NotFound();
  }
  if (n == 6 && m == Method::kPost && s[3] == "steps" && s[5] == "complete") {
    return Match(RouteId::kStepComplete, s[2], s[4]);
  }
  return NotFound();
}

}  // namespace

std::string_view RoutePattern(RouteId id) { return kPatterns[static_cast<std::size_t>(id)]; }
std::string_view AuditAction(RouteId id) { return kActions[static_cast<std::size_t>(id)]; }

RouteMatch MatchRoute(Method method, std::string_view path,
                      const std::function<bool(Capability)>& configured) {
  if (method == Method::kGet) {
    if (path == "/") return Match(RouteId::kRoot);
    if (path == "/health") return Match(RouteId::kHealth);
    if (path == "/metrics") return Match(RouteId::kMetricsScrape);
  }
  constexpr std::string_view kProviders = "/providers/";
  if ((method == Method::kGet || method == Method::kPost) && path.starts_with(kProviders)) {
    return Match(method == Method::kGet ? RouteId::kProvidersGet : RouteId::kProvidersPost,
                 path.substr(kProviders.size()));
  }

  struct Prefix {
    std::string_view prefix;
    Capability capability;
    RouteMatch (*route)(Method, std::string_view);
  };
  struct Exact {
    std::string_view path;
    Capability capability;
    Method method;
    RouteId id;
  };
  // In the contract's dispatch order: incidents, alerts, logs, metrics, tickets, messaging,
  // services, deployments, teams, orchestration.
  static constexpr Prefix kIncidents{"/incidents", Capability::kIncident, &Incidents};
  static constexpr Prefix kAlerts{"/alerts", Capability::kAlert, &Alerts};
  static constexpr Exact kLogs[] = {
      {"/logs/query", Capability::kLog, Method::kPost, RouteId::kLogsQuery}};
  static constexpr Exact kMetrics[] = {
      {"/metrics/query", Capability::kMetric, Method::kPost, RouteId::kMetricsQuery},
      {"/metrics/describe", Capability::kMetric, Method::kGet, RouteId::kMetricsDescribeGet},
      {"/metrics/describe", Capability::kMetric, Method::kPost, RouteId::kMetricsDescribePost}};
  static constexpr Prefix kTickets{"/tickets", Capability::kTicket, &Tickets};
  static constexpr Exact kMessaging[] = {
      {"/messages/send", Capability::kMessaging, Method::kPost, RouteId::kMessagesSend}};
  // GET /services is not a list endpoint: 501 without a provider, 404 with one.
  static constexpr Exact kServices[] = {
      {"/services", Capability::kService, Method::kOther, RouteId::kNotFound},
      {"/services/query", Capability::kService, Method::kPost, RouteId::kServicesQuery}};
  static constexpr Prefix kDeployments{"/deployments", Capability::kDeployment, &Deployments};
  static constexpr Prefix kTeams{"/teams", Capability::kTeam, &Teams};
  static constexpr Prefix kOrchestration{"/orchestration", Capability::kOrchestration,
                                         &Orchestration};

  const auto prefix = [&](const Prefix& p, RouteMatch& out) {
    if (!path.starts_with(p.prefix)) return false;
    out = configured(p.capability) ? p.route(method, path) : Missing(p.capability);
    return true;
  };
  const auto exact = [&](const auto& table, RouteMatch& out) {
    bool on_path = false;
    for (const Exact& e : table) {
      if (path != e.path) continue;
      on_path = true;
      if (!configured(e.capability)) {
        out = Missing(e.capability);
        return true;
      }
      if (e.method == method) {
        out = Match(e.id);
        return true;
      }
    }
    if (on_path) out = NotFound();
    return on_path;
  };

  RouteMatch m;
  if (prefix(kIncidents, m) || prefix(kAlerts, m) || exact(kLogs, m) || exact(kMetrics, m) ||
      prefix(kTickets, m) || exact(kMessaging, m) || exact(kServices, m) ||
      prefix(kDeployments, m) || prefix(kTeams, m) || prefix(kOrchestration, m)) {
    return m;
  }
  return NotFound();
}

}  // namespace opsorch::api
