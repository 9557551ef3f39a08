#include "engine/escalation.h"

#include <algorithm>

#include <opsorch/common/error.h>

namespace opsorch::engine {

JsonObject SnapshotOf(const Policy& p) {
  JsonObject doc = PolicyDocument(p);
  doc["id"] = p.id;
  return doc;
}

Result<Policy> PolicyFromSnapshot(const JsonObject& snapshot) {
  // A snapshot was valid when taken; its targets may have been deleted since, which the step
  // handles (nobody to page), so references are not checked again.
  Policy p;
  const JsonValue* id = snapshot.if_contains("id");
  const JsonValue* loops = snapshot.if_contains("numLoops");
  const JsonValue* rules = snapshot.if_contains("rules");
  if (id == nullptr || !id->is_string() || loops == nullptr || !loops->is_int64() ||
      rules == nullptr || !rules->is_array()) {
    return Fail(errc::kInternal, "escalation snapshot is malformed");
  }
  p.id = std::string(id->get_string());
  p.num_loops = loops->get_int64();
  for (const auto& rv : rules->get_array()) {
    if (!rv.is_object()) return Fail(errc::kInternal, "escalation snapshot rule is malformed");
    const JsonObject& r = rv.get_object();
    PolicyRule rule;
    const JsonValue* delay = r.if_contains("delayMinutes");
    const JsonValue* targets = r.if_contains("targets");
    if (delay == nullptr || !delay->is_int64() || targets == nullptr || !targets->is_array()) {
      return Fail(errc::kInternal, "escalation snapshot rule is malformed");
    }
    rule.delay_minutes = delay->get_int64();
    for (const auto& tv : targets->get_array()) {
      const JsonObject* t = tv.if_object();
      const JsonValue* type = t != nullptr ? t->if_contains("type") : nullptr;
      const JsonValue* tid = t != nullptr ? t->if_contains("id") : nullptr;
      if (type == nullptr || !type->is_string() || tid == nullptr || !tid->is_string()) {
        return Fail(errc::kInternal, "escalation snapshot target is malformed");
      }
      rule.targets.push_back(
          PolicyTarget{std::string(type->get_string()), std::string(tid->get_string())});
    }
    p.rules.push_back(std::move(rule));
  }
  if (p.rules.empty()) return Fail(errc::kInternal, "escalation snapshot has no rules");
  return p;
}

StepDecision FireNextLevel(const Policy& policy, const EscalationRow& state, std::int64_t now,
                           const ResolveFn& resolve) {
  StepDecision d;
  d.next = state;
  d.next.updated_at = now;
  const auto n = static_cast<std::int64_t>(policy.rules.size());
  std::int64_t level = state.level;
  std::int64_t loop = state.loop;
  bool first = state.steps == 0;
  // Every level of every loop at most once per call: a policy where nobody is on call anywhere
  // ends instead of spinning.
  const std::int64_t max_fires = n * (policy.num_loops + 1);
  for (std::int64_t fires = 0; fires < max_fires; ++fires) {
    if (first) {
      level = 0;
      loop = 0;
      first = false;
    } else if (level + 1 < n) {
      ++level;
    } else if (loop < policy.num_loops) {
      level = 0;
      ++loop;
    } else {
      break;  // past the last level of the last loop
    }
    FiredLevel f{level, loop, {}};
    for (const auto& target : policy.rules[static_cast<std::size_t>(level)].targets) {
      for (auto& person : resolve(target, now)) {
        if (std::find(f.people.begin(), f.people.end(), person) == f.people.end()) {
          f.people.push_back(std::move(person));
        }
      }
    }
    const bool paged = !f.people.empty();
    d.fired.push_back(std::move(f));
    d.next.steps += 1;
    d.next.level = level;
    d.next.loop = loop;
    if (paged) {
      d.next.state = "active";
      d.next.next_at =
          now + policy.rules[static_cast<std::size_t>(level)].delay_minutes * kNanosPerMinute;
      // The last level of the last loop: nothing follows it, and nothing is due.
      if (level + 1 >= n && loop >= policy.num_loops) {
        d.next.next_at = 0;
        d.next.state = "exhausted";
        d.exhausted = true;
      }
      return d;
    }
  }
  d.next.state = "exhausted";
  d.next.next_at = 0;
  d.exhausted = true;
  return d;
}

std::vector<PlannedMessage> PlanMessages(const Person& person, std::string_view urgency,
                                         std::int64_t paged_at) {
  std::vector<PlannedMessage> out;
  for (std::size_t i = 0; i < person.notification_rules.size(); ++i) {
    const NotificationRule& r = person.notification_rules[i];
    if (r.urgency != urgency) continue;
    const ContactMethod* m = person.Method(r.contact_method);
    if (m == nullptr) continue;
    out.push_back(PlannedMessage{static_cast<std::int64_t>(i), m->id, m->type,
                                 paged_at + r.start_delay_minutes * kNanosPerMinute});
  }
  if (out.empty()) {
    for (const auto& m : person.contact_methods) {
      out.push_back(PlannedMessage{-1, m.id, m.type, paged_at});
    }
  }
  return out;
}

std::string IdempotencyKey(std::int64_t incident_seq, std::int64_t generation, std::int64_t step,
                           std::string_view person, std::int64_t rule,
                           std::string_view contact_method) {
  // Ids may contain '.': each is prefixed by its length, so no two tuples give one key.
  return "inc-" + std::to_string(incident_seq) + ".g" + std::to_string(generation) + ".s" +
         std::to_string(step) + ".p" + std::to_string(person.size()) + ":" + std::string(person) +
         ".r" + std::to_string(rule) + ".c" + std::to_string(contact_method.size()) + ":" +
         std::string(contact_method);
}

}  // namespace opsorch::engine
