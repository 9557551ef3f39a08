// Escalation and notification decisions as pure functions of (state, catalog, time): which level
// fires, who it reaches, when the next one is due, and which messages each person's rules queue.
// The pager (engine/pager.h) applies their results to the store; tests read them as tables.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/engine/store.h>

namespace opsorch::engine {

inline constexpr std::int64_t kNanosPerMinute = 60LL * 1'000'000'000;

// The policy as the incident keeps it (EscalationRow::snapshot), and back.
JsonObject SnapshotOf(const Policy& p);
Result<Policy> PolicyFromSnapshot(const JsonObject& snapshot);

// Who a target is at a time (unix nanoseconds): PagingCatalog::Resolve, or a table in tests.
using ResolveFn = std::function<std::vector<std::string>(const PolicyTarget&, std::int64_t now)>;

struct FiredLevel {
  std::int64_t level = 0;  // 0-based rule index
  std::int64_t loop = 0;
  std::vector<std::string> people;  // empty: nobody to page there (skipped at once)
};

struct StepDecision {
  std::vector<FiredLevel> fired;  // in order; all but the last are empty levels
  EscalationRow next;             // steps, level, loop, state and next_at updated
  bool exhausted = false;         // nothing left to fire (state "exhausted", next_at 0)
};

// Fires the next level of an active escalation at `now`: the first level if none has fired in
// this generation, else the one after `state.level`, wrapping to the first while loops remain
// (`num_loops` repeats after the last rule). A level with nobody to page is recorded and the
// next fires at once (PagerDuty's rule, not GoAlert's wait); the next level is due
// `delay_minutes` after a level that paged someone. Stops after the last level of the last loop.
StepDecision FireNextLevel(const Policy& policy, const EscalationRow& state, std::int64_t now,
                           const ResolveFn& resolve);

// A message a person's rules queue when they are paged at `paged_at`.
struct PlannedMessage {
  std::int64_t rule = 0;  // index in notification_rules (-1: the fallback below)
  std::string contact_method;
  std::string channel;  // the contact method's type
  std::int64_t due_at = 0;
};

// The person's rules for the incident's urgency ("high" | "low"), each at paged_at + its delay.
// A person with no rule for that urgency is reached on every contact method at once, so that
// paging someone never silently reaches nobody.
std::vector<PlannedMessage> PlanMessages(const Person& person, std::string_view urgency,
                                         std::int64_t paged_at);

// The outbox key of one page: stable for a re-run of the same step, different for every level,
// loop, generation, person, rule and contact method.
std::string IdempotencyKey(std::int64_t incident_seq, std::int64_t generation, std::int64_t step,
                           std::string_view person, std::int64_t rule,
                           std::string_view contact_method);

}  // namespace opsorch::engine
