// The IncidentQuery/AlertQuery filter shared by the incident and alert mocks.
#pragma once

#include <algorithm>
#include <vector>

#include <opsorch/common/strings.h>
#include <opsorch/schema/incident.h>

#include "providers/mock/util.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

// T is schema::Incident or schema::Alert (same shape).
template <class T>
bool MatchesIncidentQuery(const T& item, const s::IncidentQuery& q, const ServiceDirectory& dir) {
  if (!q.query.empty() && !ContainsIgnoreCase(item.id, q.query) &&
      !ContainsIgnoreCase(item.title, q.query) && !ContainsIgnoreCase(item.description, q.query)) {
    return false;
  }
  if (!EmptyOrContainsIgnoreCase(q.statuses, item.status)) return false;
  if (!EmptyOrContainsIgnoreCase(q.severities, item.severity)) return false;
  // Environment: the item's own fields.environment or its service's environment may match.
  if (!q.scope.environment.empty() &&
      !EqualsIgnoreCase(StringField(item.fields, "environment"), q.scope.environment) &&
      !EqualsIgnoreCase(dir.EnvironmentOf(item.service), q.scope.environment)) {
    return false;
  }
  s::QueryScope rest = q.scope;
  rest.environment.clear();
  return dir.ScopeMatches(rest, item.service);
}

// Newest first; ties broken by id (descending) so the order is fully deterministic.
template <class T>
void SortNewestFirst(std::vector<T>& items) {
  std::sort(items.begin(), items.end(), [](const T& a, const T& b) {
    if (a.created_at != b.created_at) return a.created_at > b.created_at;
    return a.id > b.id;
  });
}

}  // namespace opsorch::providers::mock
