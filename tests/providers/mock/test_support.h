// Shared fixtures of the mock provider tests: a fixed clock so seeds and generators are
// deterministic.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>

namespace opsorch::providers::mock::testing {

inline constexpr const char* kNowText = "2026-01-07T10:00:00Z";

inline Time TestNow() { return *ParseRfc3339(kNowText); }

inline JsonObject NowConfig() { return JsonObject{{"now", kNowText}}; }

inline Time MinutesBefore(std::int64_t minutes) {
  return TestNow().Add(-minutes * 60 * 1'000'000'000LL);
}

// Creates a provider from the fixed-clock config or fails the test.
template <class P>
std::shared_ptr<P> Make(JsonObject config = NowConfig()) {
  auto r = P::FromConfig(config);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : nullptr;
}

}  // namespace opsorch::providers::mock::testing
