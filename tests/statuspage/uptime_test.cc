// Daily bars from state intervals (a table over the edge cases) and Statuspage's uptime weights.
#include <limits>
#include <map>

#include <gtest/gtest.h>

#include <opsorch/statuspage/status_page.h>

#include "statuspage/page.h"
#include "statuspage/sample_page.h"

namespace opsorch::statuspage {
namespace {

using testing::kDay;
using testing::kHour;
using testing::kNow;
using testing::T;

constexpr auto kMajor = ComponentState::kMajorOutage;
constexpr auto kPartial = ComponentState::kPartialOutage;
constexpr auto kDegraded = ComponentState::kDegraded;
constexpr auto kMaint = ComponentState::kMaintenance;

// Expected time per state on one day; observed -1 = a whole day.
struct Want {
  std::int64_t major = 0, partial = 0, degraded = 0, maintenance = 0, observed = -1;
};

struct BarsCase {
  std::string name;
  std::vector<Interval> intervals;
  std::map<int, Want> days;  // by offset from today (0 = 2026-12-01, -1 = yesterday, ...)
  std::int64_t since = 0;    // the component's creation
};

void PrintTo(const BarsCase& c, std::ostream* os) { *os << c.name; }

const std::vector<BarsCase>& BarsCases() {
  static const std::vector<BarsCase> cases = {
      {"OutageInsideOneDay",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T11:00:00Z"), kMajor}},
       {{-1, {.major = kHour}}}},
      {"SpanningMidnight",
       {{T("2026-11-29T23:00:00Z"), T("2026-11-30T01:30:00Z"), kMajor}},
       {{-2, {.major = kHour}}, {-1, {.major = kHour + kHour / 2}}}},
      {"OngoingCountsUpToNow",
       {{T("2026-12-01T10:00:00Z"), 0, kMajor}},
       {{0, {.major = 2 * kHour, .observed = 12 * kHour}}}},
      {"OngoingSinceYesterday",
       {{T("2026-11-30T18:00:00Z"), 0, kPartial}},
       {{-1, {.partial = 6 * kHour}}, {0, {.partial = 12 * kHour, .observed = 12 * kHour}}}},
      {"OutageOverDegradedWins",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T14:00:00Z"), kDegraded},
        {T("2026-11-30T11:00:00Z"), T("2026-11-30T12:00:00Z"), kMajor}},
       {{-1, {.major = kHour, .degraded = 3 * kHour}}}},
      {"SameStateOverlapCountsOnce",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T12:00:00Z"), kMajor},
        {T("2026-11-30T11:00:00Z"), T("2026-11-30T13:00:00Z"), kMajor}},
       {{-1, {.major = 3 * kHour}}}},
      {"PartialOverMaintenanceWins",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T14:00:00Z"), kMaint},
        {T("2026-11-30T12:00:00Z"), T("2026-11-30T16:00:00Z"), kPartial}},
       {{-1, {.partial = 4 * kHour, .maintenance = 2 * kHour}}}},
      {"NestedThreeStates",
       {{T("2026-11-30T08:00:00Z"), T("2026-11-30T20:00:00Z"), kDegraded},
        {T("2026-11-30T09:00:00Z"), T("2026-11-30T19:00:00Z"), kPartial},
        {T("2026-11-30T10:00:00Z"), T("2026-11-30T11:00:00Z"), kMajor}},
       {{-1, {.major = kHour, .partial = 9 * kHour, .degraded = 2 * kHour}}}},
      {"BeforeSinceIsNoData",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T13:00:00Z"), kMajor}},
       {{-2, {.observed = 0}}, {-1, {.major = kHour, .observed = 12 * kHour}}},
       T("2026-11-30T12:00:00Z")},
      {"SinceAfterNowIsNoDataEverywhere",
       {{T("2026-12-01T10:00:00Z"), 0, kMajor}},
       {{0, {.observed = 0}}, {-1, {.observed = 0}}},
       T("2026-12-02T00:00:00Z")},
      {"ExactlyOneWholeDay",
       {{T("2026-11-30T00:00:00Z"), T("2026-12-01T00:00:00Z"), kMajor}},
       {{-2, {}}, {-1, {.major = kDay}}, {0, {.observed = 12 * kHour}}}},
      {"EndingExactlyAtNowAndStartingAtNow",
       {{T("2026-12-01T11:00:00Z"), T("2026-12-01T12:00:00Z"), kMajor},
        {T("2026-12-01T12:00:00Z"), 0, kPartial}},
       {{0, {.major = kHour, .observed = 12 * kHour}}}},
      {"FutureIntervalIgnored",
       {{T("2026-12-01T13:00:00Z"), T("2026-12-01T14:00:00Z"), kMajor}},
       {{0, {.observed = 12 * kHour}}}},
      {"ClippedToTheWindowStart",
       {{T("2026-09-01T00:00:00Z"), T("2026-09-03T01:00:00Z"), kMajor},
        {T("2026-08-01T00:00:00Z"), T("2026-08-02T00:00:00Z"), kMajor}},
       {{-89, {.major = kHour}}}},  // the window starts 2026-09-03
      {"EmptyAndInvertedIgnored",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T10:00:00Z"), kMajor},
        {T("2026-11-30T12:00:00Z"), T("2026-11-30T11:00:00Z"), kMajor}},
       {{-1, {}}}},
      {"OperationalAddsNothing",
       {{T("2026-11-30T10:00:00Z"), T("2026-11-30T12:00:00Z"), ComponentState::kOperational},
        {T("2026-11-30T11:00:00Z"), T("2026-11-30T13:00:00Z"), kDegraded}},
       {{-1, {.degraded = 2 * kHour}}}},
  };
  return cases;
}

class DailyBarsTable : public ::testing::TestWithParam<BarsCase> {};

TEST_P(DailyBarsTable, Bars) {
  const BarsCase& c = GetParam();
  const std::vector<DayBar> bars = DailyBars(c.intervals, kNow, c.since);
  ASSERT_EQ(bars.size(), 90u);
  EXPECT_EQ(bars.back().day_start, T("2026-12-01T00:00:00Z"));
  EXPECT_EQ(bars.front().day_start, T("2026-09-03T00:00:00Z"));
  for (int offset = -89; offset <= 0; ++offset) {
    const DayBar& b = bars[static_cast<std::size_t>(89 + offset)];
    const auto it = c.days.find(offset);
    const Want want = it != c.days.end() ? it->second : Want{};
    SCOPED_TRACE("day offset " + std::to_string(offset));
    EXPECT_EQ(b.day_start, T("2026-12-01T00:00:00Z") + offset * kDay);
    EXPECT_EQ(b.major_outage_ns, want.major);
    EXPECT_EQ(b.partial_outage_ns, want.partial);
    EXPECT_EQ(b.degraded_ns, want.degraded);
    EXPECT_EQ(b.maintenance_ns, want.maintenance);
    if (it != c.days.end()) {
      EXPECT_EQ(b.observed_ns, want.observed >= 0 ? want.observed : kDay);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Statuspage, DailyBarsTable, ::testing::ValuesIn(BarsCases()),
                         [](const auto& info) { return info.param.name; });

TEST(DailyBars, ObservedFollowsSinceAndNow) {
  const auto bars = DailyBars({}, kNow, T("2026-11-29T06:00:00Z"));
  ASSERT_EQ(bars.size(), 90u);
  for (std::size_t i = 0; i < 87; ++i) EXPECT_EQ(bars[i].observed_ns, 0) << i;
  EXPECT_EQ(bars[87].observed_ns, 18 * kHour);
  EXPECT_EQ(bars[88].observed_ns, kDay);
  EXPECT_EQ(bars[89].observed_ns, 12 * kHour);
}

TEST(DailyBars, DayCountIsAParameterAndClamped) {
  EXPECT_EQ(DailyBars({}, kNow, 0, 30).size(), 30u);
  EXPECT_EQ(DailyBars({}, kNow, 0, 0).size(), 1u);
  EXPECT_EQ(DailyBars({}, kNow, 0, 1'000'000).size(), 3660u);
  // A "now" at midnight: today is observed for nothing yet.
  const auto bars = DailyBars({}, T("2026-12-01T00:00:00Z"), 0, 2);
  EXPECT_EQ(bars[0].observed_ns, kDay);
  EXPECT_EQ(bars[1].observed_ns, 0);
}

TEST(DailyBars, ExtremeTimesDoNotOverflow) {
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  for (const std::int64_t now : {max, min, std::int64_t{0}}) {
    const auto bars = DailyBars({{min, max, kMajor}, {max, 0, kPartial}}, now, min);
    ASSERT_EQ(bars.size(), 90u);
    for (const DayBar& b : bars) {
      EXPECT_GE(b.observed_ns, 0);
      EXPECT_LE(b.major_outage_ns, b.observed_ns);
    }
  }
}

struct UptimeCase {
  std::string name;
  DayBar day;
  std::optional<double> want;
  std::optional<std::int64_t> want_e4;  // the shown value: percent × 10^4, rounded down
};

void PrintTo(const UptimeCase& c, std::ostream* os) { *os << c.name; }

class DayUptimeTable : public ::testing::TestWithParam<UptimeCase> {};

TEST_P(DayUptimeTable, Weights) {
  const UptimeCase& c = GetParam();
  const auto got = DayUptime(c.day);
  ASSERT_EQ(got.has_value(), c.want.has_value());
  if (got) {
    EXPECT_NEAR(*got, *c.want, 1e-12);
  }
  EXPECT_EQ(DayUptimeE4(c.day), c.want_e4);
}

INSTANTIATE_TEST_SUITE_P(
    Statuspage, DayUptimeTable,
    ::testing::Values(
        UptimeCase{"AllFine", {0, 0, 0, 0, 0, kDay}, 1.0, 1'000'000},
        UptimeCase{"OneHourMajor", {0, kHour, 0, 0, 0, kDay}, 1.0 - 1.0 / 24, 958'333},
        UptimeCase{"PartialWeighsThirtyPercent", {0, 0, 10 * kHour, 0, 0, kDay}, 0.875, 875'000},
        UptimeCase{
            "DegradedAndMaintenanceAreUp", {0, 0, 0, 5 * kHour, 7 * kHour, kDay}, 1.0, 1'000'000},
        UptimeCase{"OneNanosecondIsNotAHundred", {0, 1, 0, 0, 0, kDay}, 1.0, 999'999},
        UptimeCase{"PartOfADay", {0, kHour, 0, 0, 0, 2 * kHour}, 0.5, 500'000},
        UptimeCase{"WholeDayDown", {0, kDay, 0, 0, 0, kDay}, 0.0, 0},
        UptimeCase{"NothingObservedIsNoData", {0, 0, 0, 0, 0, 0}, std::nullopt, std::nullopt},
        UptimeCase{"GarbageIsClamped", {0, 3 * kDay, -5, 0, 0, kDay}, 0.0, 0},
        UptimeCase{"NegativeObservedIsNoData", {0, 0, 0, 0, 0, -kDay}, std::nullopt, std::nullopt}),
    [](const auto& info) { return info.param.name; });

TEST(Uptime, WindowSumsDaysAndSkipsNoData) {
  std::vector<DayBar> days(90);
  days[88] = {0, kHour, 0, 0, 0, kDay};
  days[89] = {0, 0, 0, 0, 0, kDay};
  // 88 days without data take no part: 1 h down in 48 h observed.
  EXPECT_NEAR(*Uptime(days), 1.0 - 1.0 / 48, 1e-12);
  EXPECT_EQ(*UptimeE4(days), 979'166);
  EXPECT_EQ(FormatPercent2(*UptimeE4(days)), "97.91");
  EXPECT_FALSE(Uptime(std::vector<DayBar>(90)).has_value());
  EXPECT_FALSE(Uptime({}).has_value());
}

TEST(Uptime, FromDailyBars) {
  const auto bars = DailyBars({{T("2026-11-30T10:00:00Z"), T("2026-11-30T11:00:00Z"), kMajor}},
                              kNow, T("2026-11-30T00:00:00Z"));
  // 1 h down in 36 h observed (yesterday and half of today).
  EXPECT_NEAR(*Uptime(bars), 35.0 / 36, 1e-12);
}

}  // namespace
}  // namespace opsorch::statuspage
