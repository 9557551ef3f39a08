// Escalation and notification-rule decisions as tables: no store, no clock but the one given.
#include "engine/escalation.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace opsorch::engine {
namespace {

constexpr std::int64_t kMin = kNanosPerMinute;
constexpr std::int64_t kT0 = 1'780'000'000LL * 1'000'000'000;  // an arbitrary instant

Policy MakePolicy(std::int64_t loops, std::vector<std::pair<std::int64_t, std::string>> rules) {
  Policy p;
  p.id = "p";
  p.num_loops = loops;
  for (auto& [delay, target] : rules) {
    PolicyRule r;
    r.delay_minutes = delay;
    r.targets.push_back(PolicyTarget{target.starts_with("s:") ? "schedule" : "user",
                                     target.starts_with("s:") ? target.substr(2) : target});
    p.rules.push_back(std::move(r));
  }
  return p;
}

// Targets → people: users are themselves; schedule "empty" has nobody on call.
std::vector<std::string> Resolve(const PolicyTarget& t, std::int64_t) {
  if (t.type == "user") return {t.id};
  if (t.id == "empty") return {};
  return {"oncall-" + t.id};
}

struct Fired {
  std::int64_t level, loop;
  std::vector<std::string> people;
};

struct Case {
  const char* name;
  Policy policy;
  int fires;  // FireNextLevel calls, each at the previous next_at (or kT0)
  // What the last call fired, and the state after it.
  std::vector<Fired> last;
  std::string state;
  std::int64_t next_at_minutes;  // after the last call's time; -1: none
  std::int64_t steps;
};

TEST(Escalation, FireNextLevelTable) {
  const std::vector<Case> cases = {
      {"first level pages at once and waits its delay",
       MakePolicy(0, {{5, "alice"}, {10, "bob"}}),
       1,
       {{0, 0, {"alice"}}},
       "active",
       5,
       1},
      {"second level after the first's delay",
       MakePolicy(0, {{5, "alice"}, {10, "bob"}}),
       2,
       {{1, 0, {"bob"}}},
       "exhausted",
       -1,
       2},
      {"an empty level moves on at once (PagerDuty, not GoAlert's wait)",
       MakePolicy(0, {{5, "s:empty"}, {10, "bob"}}),
       1,
       {{0, 0, {}}, {1, 0, {"bob"}}},
       "exhausted",
       -1,
       2},
      {"a schedule target pages whoever is on call",
       MakePolicy(0, {{5, "s:primary"}, {10, "bob"}}),
       1,
       {{0, 0, {"oncall-primary"}}},
       "active",
       5,
       1},
      {"loops: after the last rule the first again",
       MakePolicy(1, {{5, "alice"}, {10, "bob"}}),
       3,
       {{0, 1, {"alice"}}},
       "active",
       5,
       3},
      {"loops: the last level of the last loop ends it",
       MakePolicy(1, {{5, "alice"}, {10, "bob"}}),
       4,
       {{1, 1, {"bob"}}},
       "exhausted",
       -1,
       4},
      {"nobody anywhere: every level recorded, then exhausted",
       MakePolicy(1, {{5, "s:empty"}, {10, "s:empty"}}),
       1,
       {{0, 0, {}}, {1, 0, {}}, {0, 1, {}}, {1, 1, {}}},
       "exhausted",
       -1,
       4},
      {"a single-rule policy with loops repeats its rule",
       MakePolicy(2, {{3, "alice"}}),
       2,
       {{0, 1, {"alice"}}},
       "active",
       3,
       2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EscalationRow state;
    state.incident_seq = 1;
    state.generation = 1;
    state.state = "active";
    std::int64_t now = kT0;
    StepDecision d;
    for (int i = 0; i < c.fires; ++i) {
      if (i > 0) {
        ASSERT_NE(d.next.next_at, 0) << "call " << i << " has nothing due";
        now = d.next.next_at;
      }
      d = FireNextLevel(c.policy, state, now, Resolve);
      state = d.next;
    }
    ASSERT_EQ(d.fired.size(), c.last.size());
    for (std::size_t i = 0; i < c.last.size(); ++i) {
      EXPECT_EQ(d.fired[i].level, c.last[i].level) << i;
      EXPECT_EQ(d.fired[i].loop, c.last[i].loop) << i;
      EXPECT_EQ(d.fired[i].people, c.last[i].people) << i;
    }
    EXPECT_EQ(d.next.state, c.state);
    EXPECT_EQ(d.next.next_at, c.next_at_minutes < 0 ? 0 : now + c.next_at_minutes * kMin);
    EXPECT_EQ(d.next.steps, c.steps);
    EXPECT_EQ(d.exhausted, c.state == "exhausted");
  }
}

TEST(Escalation, PeopleAreDeduplicatedWithinALevel) {
  Policy p = MakePolicy(0, {{5, "alice"}});
  p.rules[0].targets.push_back(PolicyTarget{"user", "alice"});
  p.rules[0].targets.push_back(PolicyTarget{"schedule", "primary"});
  EscalationRow state;
  state.state = "active";
  const StepDecision d = FireNextLevel(p, state, kT0, Resolve);
  ASSERT_EQ(d.fired.size(), 1u);
  EXPECT_EQ(d.fired[0].people, (std::vector<std::string>{"alice", "oncall-primary"}));
}

TEST(Escalation, SnapshotRoundTripsAndRefusesGarbage) {
  const Policy p = MakePolicy(2, {{5, "alice"}, {10, "s:primary"}});
  auto back = PolicyFromSnapshot(SnapshotOf(p));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->num_loops, 2);
  ASSERT_EQ(back->rules.size(), 2u);
  EXPECT_EQ(back->rules[1].delay_minutes, 10);
  EXPECT_EQ(back->rules[1].targets[0].type, "schedule");
  EXPECT_EQ(back->rules[1].targets[0].id, "primary");
  EXPECT_FALSE(PolicyFromSnapshot(JsonObject{{"id", "p"}}));
  EXPECT_FALSE(
      PolicyFromSnapshot(JsonObject{{"id", "p"}, {"numLoops", 0}, {"rules", JsonArray{}}}));
}

Person Alice() {
  Person p;
  p.id = "alice";
  p.name = "Alice";
  p.contact_methods = {{"hook", "webhook", "https://h.example/a", "", ""},
                       {"mail", "email", "alice@example.com", "", ""},
                       {"phone", "sms", "+4915112345678", "", ""}};
  p.notification_rules = {{"hook", 0, "high"}, {"mail", 2, "high"}, {"mail", 0, "low"}};
  return p;
}

TEST(Escalation, PlanMessagesTable) {
  struct Row {
    const char* name;
    Person person;
    std::string urgency;
    std::vector<std::tuple<std::int64_t, std::string, std::int64_t>> want;  // rule, cm, delay min
  };
  Person none = Alice();
  none.notification_rules.clear();
  const std::vector<Row> rows = {
      {"high urgency: the high rules, each after its delay",
       Alice(),
       "high",
       {{0, "hook", 0}, {1, "mail", 2}}},
      {"low urgency: the low rules only", Alice(), "low", {{2, "mail", 0}}},
      {"no rules: every contact method at once (never silently nobody)",
       none,
       "high",
       {{-1, "hook", 0}, {-1, "mail", 0}, {-1, "phone", 0}}},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    const auto got = PlanMessages(r.person, r.urgency, kT0);
    ASSERT_EQ(got.size(), r.want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].rule, std::get<0>(r.want[i]));
      EXPECT_EQ(got[i].contact_method, std::get<1>(r.want[i]));
      EXPECT_EQ(got[i].due_at, kT0 + std::get<2>(r.want[i]) * kMin);
    }
  }
}

TEST(Escalation, IdempotencyKeysDifferInEveryPart) {
  const std::string base = IdempotencyKey(7, 1, 1, "alice", 0, "hook");
  EXPECT_EQ(base, IdempotencyKey(7, 1, 1, "alice", 0, "hook"));  // a re-run step: same key
  for (const std::string& other :
       {IdempotencyKey(8, 1, 1, "alice", 0, "hook"), IdempotencyKey(7, 2, 1, "alice", 0, "hook"),
        IdempotencyKey(7, 1, 2, "alice", 0, "hook"), IdempotencyKey(7, 1, 1, "bob", 0, "hook"),
        IdempotencyKey(7, 1, 1, "alice", 1, "hook"), IdempotencyKey(7, 1, 1, "alice", 0, "mail")}) {
    EXPECT_NE(base, other);
  }
  // Ids may contain the separator: ("a.r0.b", rule 1, "c") and ("a", rule 0, "b.r1.c") differ.
  EXPECT_NE(IdempotencyKey(7, 1, 1, "a.r0.b", 1, "c"), IdempotencyKey(7, 1, 1, "a", 0, "b.r1.c"));
}

}  // namespace
}  // namespace opsorch::engine
