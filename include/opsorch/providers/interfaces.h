// One abstract interface per capability (contract §7.1). Implementations must be thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <opsorch/common/result.h>
#include <opsorch/providers/capability.h>
#include <opsorch/providers/provider.h>
#include <opsorch/schema/catalog.h>
#include <opsorch/schema/incident.h>
#include <opsorch/schema/messaging.h>
#include <opsorch/schema/observability.h>
#include <opsorch/schema/orchestration.h>
#include <opsorch/schema/plugin_payloads.h>
#include <opsorch/schema/ticket.h>

namespace opsorch::providers {

namespace s = ::opsorch::schema;

// opsorch's paging extension (docs/API.md, "Paging"): lists keep the contract's shape (a JSON
// array); where one continues, the API adds the X-OpsOrch-Next-Cursor and Link headers, which
// OpsOrch clients ignore, and the next page is asked for with ?after=<cursor>. Providers that
// do not page (mock, plugins) keep the defaults below, which return everything as one page.
inline constexpr std::int64_t kDefaultPageSize = 100;
inline constexpr std::int64_t kMaxPageSize = 1000;

// The page size for a requested limit: 0 (none) → the default, over the maximum → the maximum.
inline std::int64_t PageSize(std::int64_t requested) {
  if (requested <= 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

struct PageRequest {
  std::string after;  // the cursor of the previous page (empty: the first page)
  // ?sort= of a list that has more than one order (incidents: "newest", the default, or
  // "oldest"); a provider with one order ignores it.
  std::string sort;
};

template <class T>
struct Page {
  NullableList<T> items;
  std::string next;  // the cursor of the next page; empty when this is the last
};

template <class T>
Result<Page<T>> WholeList(Result<NullableList<T>> list) {
  if (!list) return Fail(std::move(list.error()));
  return Page<T>{std::move(*list), {}};
}

// GET /incidents/{id}/timeline: by default runs of repeats ("deduplicated" entries) come
// coalesced into one entry each; ?raw=true gives every entry.
struct TimelineRequest {
  bool raw = false;
  std::int64_t limit = 0;  // PageSize applies
  std::string after;
};

class IncidentProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kIncident;
  virtual Result<NullableList<s::Incident>> Query(const s::IncidentQuery& q) = 0;
  virtual Result<s::Incident> Get(const std::string& id) = 0;
  virtual Result<s::Incident> Create(const s::CreateIncidentInput& in) = 0;
  virtual Result<s::Incident> Update(const std::string& id, const s::UpdateIncidentInput& in) = 0;
  virtual Result<NullableList<s::TimelineEntry>> GetTimeline(const std::string& id) = 0;
  virtual Status AppendTimeline(const std::string& id, const s::TimelineAppendInput& in) = 0;
  // Paged forms (see Page); the defaults call the calls above.
  virtual Result<Page<s::Incident>> QueryPage(const s::IncidentQuery& q, const PageRequest&) {
    return WholeList(Query(q));
  }
  virtual Result<Page<s::TimelineEntry>> TimelinePage(const std::string& id,
                                                      const TimelineRequest&) {
    return WholeList(GetTimeline(id));
  }
};

class AlertProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kAlert;
  virtual Result<NullableList<s::Alert>> Query(const s::AlertQuery& q) = 0;
  virtual Result<s::Alert> Get(const std::string& id) = 0;
  virtual Result<Page<s::Alert>> QueryPage(const s::AlertQuery& q, const PageRequest&) {
    return WholeList(Query(q));
  }
};

class LogProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kLog;
  virtual Result<s::LogEntries> Query(const s::LogQuery& q) = 0;
};

class MetricProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kMetric;
  virtual Result<NullableList<s::MetricSeries>> Query(const s::MetricQuery& q) = 0;
  virtual Result<NullableList<s::MetricDescriptor>> Describe(const s::QueryScope& scope) = 0;
};

class TicketProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kTicket;
  virtual Result<NullableList<s::Ticket>> Query(const s::TicketQuery& q) = 0;
  virtual Result<s::Ticket> Get(const std::string& id) = 0;
  virtual Result<s::Ticket> Create(const s::CreateTicketInput& in) = 0;
  virtual Result<s::Ticket> Update(const std::string& id, const s::UpdateTicketInput& in) = 0;
};

class MessagingProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kMessaging;
  virtual Result<s::MessageResult> Send(const s::Message& m) = 0;
};

class ServiceProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kService;
  virtual Result<NullableList<s::Service>> Query(const s::ServiceQuery& q) = 0;
  virtual Result<Page<s::Service>> QueryPage(const s::ServiceQuery& q, const PageRequest&) {
    return WholeList(Query(q));
  }
};

class DeploymentProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kDeployment;
  virtual Result<NullableList<s::Deployment>> Query(const s::DeploymentQuery& q) = 0;
  virtual Result<s::Deployment> Get(const std::string& id) = 0;
};

class TeamProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kTeam;
  virtual Result<NullableList<s::Team>> Query(const s::TeamQuery& q) = 0;
  virtual Result<s::Team> Get(const std::string& id) = 0;
  virtual Result<NullableList<s::TeamMember>> Members(const std::string& team_id) = 0;
  virtual Result<Page<s::Team>> QueryPage(const s::TeamQuery& q, const PageRequest&) {
    return WholeList(Query(q));
  }
  virtual Result<Page<s::TeamMember>> MembersPage(const std::string& team_id, std::int64_t limit,
                                                  const PageRequest&) {
    (void)limit;
    return WholeList(Members(team_id));
  }
};

// Get/Start may return "nothing" (nullopt), which the API encodes as `null` (contract §3).
class OrchestrationProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kOrchestration;
  virtual Result<NullableList<s::OrchestrationPlan>> QueryPlans(
      const s::OrchestrationPlanQuery& q) = 0;
  virtual Result<std::optional<s::OrchestrationPlan>> GetPlan(const std::string& plan_id) = 0;
  virtual Result<NullableList<s::OrchestrationRun>> QueryRuns(
      const s::OrchestrationRunQuery& q) = 0;
  virtual Result<std::optional<s::OrchestrationRun>> GetRun(const std::string& run_id) = 0;
  virtual Result<std::optional<s::OrchestrationRun>> StartRun(const std::string& plan_id) = 0;
  // A start with the run's inputs (`fields`, e.g. fields.incidentId); providers that take none
  // start the plan as StartRun does.
  virtual Result<std::optional<s::OrchestrationRun>> StartRunWith(const s::PlanIdPayload& in) {
    return StartRun(in.plan_id);
  }
  virtual Status CompleteStep(const std::string& run_id, const std::string& step_id,
                              const std::string& actor, const std::string& note) = 0;
};

class SecretProvider : public Provider {
 public:
  static constexpr Capability kCapability = Capability::kSecret;
  // A missing key is an error (code not_found, message "secret not found: <key>").
  virtual Result<std::string> Get(const std::string& key) = 0;
  virtual Status Put(const std::string& key, const std::string& value) = 0;
};

}  // namespace opsorch::providers
