// Mock log provider: a stateless, deterministic generator. Entries are derived from
// (seed, service, minute), so the same instant always shows the same lines whatever window is
// asked for, and services with an unresolved incident log more warnings and errors.
#pragma once

#include <cstdint>
#include <memory>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/util.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockLogProvider final : public LogProvider {
 public:
  static constexpr std::int64_t kDefaultLimit = 100;
  static constexpr std::int64_t kMaxLimit = 1000;
  static constexpr std::int64_t kDefaultWindow = kNanosPerHour;
  // Only the newest 24 h of a window are generated: it bounds the work per request (about
  // 17,000 candidate lines), and with at most kMaxLimit results newer lines win anyway.
  static constexpr std::int64_t kMaxScan = kNanosPerDay;
  static constexpr std::size_t kMaxRegexLength = 256;

  struct Options {
    std::optional<Time> now;
    std::uint64_t seed = 0;
  };

  // Config keys: "now" (RFC 3339), "seed" (integer).
  static Result<std::shared_ptr<MockLogProvider>> FromConfig(const JsonObject& config);
  explicit MockLogProvider(const Options& options)
      : clock_(options.now), seed_(options.seed), directory_(BuildWorld(InitialNow(options.now))) {}

  Result<s::LogEntries> Query(const s::LogQuery& q) override;

  Clock& ClockForTest() { return clock_; }

 private:
  Clock clock_;
  const std::uint64_t seed_;
  const ServiceDirectory directory_;  // immutable; the provider keeps no other state
};

}  // namespace opsorch::providers::mock
