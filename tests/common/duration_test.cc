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

}  // namespace
}  // namespace opsorch
