#include <gtest/gtest.h>

#include <opsorch/common/duration.h>

namespace opsorch {
namespace {

TEST(Duration, ParsesGoSyntax) {
  constexpr std::int64_t kMs = 1'000'000;
  EXPECT_EQ(*ParseGoDuration("0"), 0);
  EXPECT_EQ(*ParseGoDuration("500ms"), 500 * kMs);
  EXPECT_EQ(*ParseGoDuration("10s"), 10'000 * kMs);
  EXPECT_EQ(*ParseGoDuration("1m"), 60'000 * kMs);
  EXPECT_EQ(*ParseGoDuration("1h30m"), 5'400'000 * kMs);
  EXPECT_EQ(*ParseGoDuration("1.5s"), 1'500 * kMs);
  EXPECT_EQ(*ParseGoDuration("2us"), 2'000);
  EXPECT_EQ(*ParseGoDuration("2\xC2\xB5s"), 2'000);
  EXPECT_EQ(*ParseGoDuration("7ns"), 7);
  EXPECT_EQ(*ParseGoDuration("-2s"), -2'000 * kMs);
  for (const char* bad : {"", "s", "10", "10x", "1.s5", ".s", "1h-2m", "99999999999h"}) {
    EXPECT_FALSE(ParseGoDuration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsInTheLargestWholeUnitAndReadsBack) {
  constexpr std::int64_t kMs = 1'000'000;
  using std::chrono::milliseconds;
  const std::pair<std::int64_t, const char*> cases[] = {
      {0, "0s"},       {1500, "1500ms"},   {15'000, "15s"},   {90'000, "90s"},
      {120'000, "2m"}, {5'400'000, "90m"}, {7'200'000, "2h"}, {1, "1ms"}};
  for (const auto& [ms, text] : cases) {
    EXPECT_EQ(FormatDuration(milliseconds(ms)), text) << ms;
    EXPECT_EQ(*ParseGoDuration(FormatDuration(milliseconds(ms))), ms * kMs) << ms;
  }
}

}  // namespace
}  // namespace opsorch
