// Metric expectations as tables: declarations and their refusals, and the trigger/resolve
// decisions over sample sequences (bounds, direction, hold, clear, flapping).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/workflow/expectation.h>

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;

Expectation One(const std::string& json) {
  auto doc = ParseJson("[" + json + "]");
  EXPECT_TRUE(doc);
  auto list = DecodeExpectations(doc->get_array(), "expectations");
  EXPECT_TRUE(list) << (list ? "" : list.error().message);
  return list && !list->empty() ? list->front() : Expectation{};
}

TEST(Expectation, DeclarationRefusalsNameThePathAndTheRule) {
  struct Case {
    std::string json, error;
  };
  const std::vector<Case> cases = {
      {R"({"below": 1})", "expectations[0].metric: is required"},
      {R"({"metric": "m"})", "expectations[0].metric: say what a breach is"},
      {R"({"metric": "m", "below": "1"})", "expectations[0].below: must be a number"},
      {R"({"metric": "m", "direction": "sideways", "change": 1})",
       "expectations[0].direction: must be up or down"},
      {R"({"metric": "m", "direction": "up"})", "expectations[0].change: must be a positive"},
      {R"({"metric": "m", "above": 1, "change": 2})", "expectations[0].change: needs a direction"},
      {R"({"metric": "m", "above": 5, "below": 10})",
       "expectations[0].below: is above `above`: every value would be a breach"},
      {R"({"metric": "m", "below": 1, "severity": "page"})",
       "expectations[0].severity: must be critical, error, warning or info"},
      {R"({"metric": "m", "below": 1, "for": "-1s"})",
       "expectations[0].for: must be a non-negative"},
      {R"({"metric": "m", "below": 1, "hold": "1s"})", "expectations[0].hold: unknown field"},
      {R"({"metric": "m", "below": 1, "dimensions": {"a": 1}})",
       "expectations[0].dimensions.a: must be a string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    auto doc = ParseJson("[" + c.json + "]");
    ASSERT_TRUE(doc);
    auto list = DecodeExpectations(doc->get_array(), "expectations");
    ASSERT_FALSE(list);
    EXPECT_THAT(list.error().message, HasSubstr(c.error));
  }
}

// A sequence of samples (time ms, value) and the transitions they must give, in order.
struct Sample {
  std::int64_t at;
  double value;
  Transition expect;
};

void Replay(const Expectation& e, const std::vector<Sample>& samples) {
  SeriesState st;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    SCOPED_TRACE("sample " + std::to_string(i));
    const Evaluation ev = Evaluate(e, st, samples[i].value, samples[i].at);
    EXPECT_EQ(static_cast<int>(ev.transition), static_cast<int>(samples[i].expect));
    st = ev.next;
  }
}

constexpr auto kNone = Transition::kNone;
constexpr auto kTrigger = Transition::kTrigger;
constexpr auto kResolve = Transition::kResolve;

TEST(Expectation, BoundsTriggerOnceAndResolveOnce) {
  // The budget example: within_budget below 1 is a breach.
  Replay(One(R"({"metric": "project.within_budget", "below": 1})"), {{0, 1, kNone},
                                                                     {1000, 0, kTrigger},
                                                                     {2000, 0, kNone},
                                                                     {3000, 0, kNone},
                                                                     {4000, 1, kResolve},
                                                                     {5000, 1, kNone},
                                                                     {6000, 0, kTrigger}});
  Replay(One(R"({"metric": "m", "above": 90, "below": 10})"),
         {{0, 50, kNone}, {1, 95, kTrigger}, {2, 5, kNone}, {3, 50, kResolve}, {4, 90, kNone}});
}

TEST(Expectation, ABreachMustHoldAndAClearMustHoldTooSoFlappingDoesNotPage) {
  const Expectation e = One(R"({"metric": "m", "above": 90, "for": "5m", "clear_for": "2m"})");
  Replay(e, {
                {0, 95, kNone},           // breach begins
                {60'000, 50, kNone},      // back in bounds before it held: forgotten
                {120'000, 95, kNone},     // a new breach begins
                {300'000, 96, kNone},     // held 3 min
                {420'000, 97, kTrigger},  // held 5 min: one trigger
                {480'000, 10, kNone},     // clearing begins
                {510'000, 99, kNone},     // flaps back: still firing, no new trigger
                {540'000, 10, kNone},     // clearing begins again
                {660'000, 10, kResolve},  // clear held 2 min: one resolve
            });
}

TEST(Expectation, ADirectionComparesWithThePreviousSample) {
  Replay(One(R"({"metric": "queue.depth", "direction": "up", "change": 100})"),
         // A change is between two samples: the next sample that does not jump resolves it.
         {{0, 10, kNone},
          {1, 50, kNone},
          {2, 200, kTrigger},
          {3, 250, kResolve},
          {4, 240, kNone},
          {5, 400, kTrigger}});
  Replay(One(R"({"metric": "disk.free", "direction": "down", "change": 5})"),
         {{0, 50, kNone}, {1, 44, kTrigger}, {2, 44, kResolve}});
}

TEST(Expectation, WatchesMatchesKeyAndDimensionFilter) {
  const Expectation e = One(R"({"metric": "m", "below": 1, "dimensions": {"env": "prod"}})");
  EXPECT_TRUE(Watches(e, {0, "m", 0, {{"env", "prod"}, {"project", "x"}}}));
  EXPECT_FALSE(Watches(e, {0, "m", 0, {{"env", "dev"}}}));
  EXPECT_FALSE(Watches(e, {0, "m", 0, {}}));
  EXPECT_FALSE(Watches(e, {0, "n", 0, {{"env", "prod"}}}));
}

TEST(Expectation, DedupKeysAreStablePerSeriesAndBounded) {
  const Metric a{1, "project.within_budget", 0, {{"project", "gemini"}, {"env", "prod"}}};
  Metric same = a;
  same.timestamp_ms = 99;
  same.value = 1;
  const Metric other{1, "project.within_budget", 0, {{"project", "apollo"}, {"env", "prod"}}};
  EXPECT_EQ(DedupKey("budget", a), DedupKey("budget", same));
  EXPECT_NE(DedupKey("budget", a), DedupKey("budget", other));
  EXPECT_NE(DedupKey("budget", a), DedupKey("other", a));
  EXPECT_THAT(DedupKey("budget", a), HasSubstr("wf-budget-project.within_budget-"));
  // "a=b" + "c" and "a" + "b=c" must not collide through the separator.
  EXPECT_NE(DedupKey("d", {0, "k", 0, {{"a", "b\nc=d"}}}),
            DedupKey("d", {0, "k", 0, {{"a", "b"}, {"c", "d"}}}));
  const Metric huge{0, std::string(600, 'k'), 0, {}};
  EXPECT_LE(DedupKey("d", huge).size(), 255u);
}

TEST(Expectation, SummariesFillPlaceholders) {
  const Metric m{0, "project.within_budget", 0, {{"project", "gemini"}}};
  EXPECT_EQ(Summary(One(R"J({"metric": "m", "below": 1,
                            "summary": "Project {project} is over budget ({key} = {value}, {nope})"})J"),
                    m),
            "Project gemini is over budget (project.within_budget = 0, {nope})");
  EXPECT_EQ(Summary(One(R"({"metric": "m", "below": 1})"), m),
            "project.within_budget is 0 (project=gemini)");
  const Metric big{0, "k", 0, {{"d", std::string(5000, 'x')}}};
  EXPECT_LE(Summary(One(R"({"metric": "m", "below": 1, "summary": "{d}{d}"})"), big).size(), 1024u);
}

}  // namespace
}  // namespace opsorch::workflow
