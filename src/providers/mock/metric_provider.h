// Mock metric provider: a catalog of about twenty metrics and a deterministic series generator.
// A value is a function of (seed, metric, service, timestamp) — a daily curve, a short wobble
// and seeded noise — so repeated queries return identical points, and services with an
// unresolved incident show the matching anomaly (errors and latency up from its start).
#pragma once

#include <cstdint>
#include <memory>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/util.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockMetricProvider final : public MetricProvider {
 public:
  static constexpr std::int64_t kDefaultWindow = 30 * kNanosPerMinute;
  static constexpr std::int64_t kDefaultStepSeconds = 60;
  // Per series, like Prometheus' limit of 11,000 points per query.
  static constexpr std::int64_t kMaxPoints = 11'000;
  static constexpr std::size_t kMaxRegexLength = 256;

  struct Options {
    std::optional<Time> now;
    std::uint64_t seed = 0;
  };

  // Config keys: "now" (RFC 3339), "seed" (integer).
  static Result<std::shared_ptr<MockMetricProvider>> FromConfig(const JsonObject& config);
  explicit MockMetricProvider(const Options& options)
      : clock_(options.now), seed_(options.seed), directory_(BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::MetricSeries>> Query(const s::MetricQuery& q) override;
  Result<NullableList<s::MetricDescriptor>> Describe(const s::QueryScope& scope) override;

  Clock& ClockForTest() { return clock_; }

 private:
  Clock clock_;
  const std::uint64_t seed_;
  const ServiceDirectory directory_;  // immutable; the provider keeps no other state
};

}  // namespace opsorch::providers::mock
