// Config validation for the mock providers and the injectable clock they share.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/duration.h>
#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/common/time.h>

namespace opsorch::providers::mock {

// Reads a provider's JSON config. Every error has code bad_request and starts with the
// provider's label, e.g. `mock incident provider: unknown config key "foo"`. JSON null is
// treated as absent.
class ConfigReader {
 public:
  ConfigReader(const JsonObject& config, std::string label)
      : config_(config), label_(std::move(label)) {}

  Status CheckKnownKeys(std::initializer_list<std::string_view> allowed) const;
  Result<std::optional<std::string>> String(std::string_view key) const;
  Result<std::optional<std::int64_t>> Int(std::string_view key) const;
  // An RFC 3339 string.
  Result<std::optional<Time>> Timestamp(std::string_view key) const;
  // A Go duration string ("500ms", "10s", "1m30s"), in nanoseconds; negative is rejected.
  Result<std::optional<std::int64_t>> Duration(std::string_view key) const;

 private:
  Error TypeError(std::string_view key, std::string_view expected) const;

  const JsonObject& config_;
  std::string label_;
};

// Wall clock, or a fixed instant when the config says "now" (tests, reproducible demos).
// Test hooks can move a fixed clock; all methods are thread-safe.
class Clock {
 public:
  explicit Clock(std::optional<Time> fixed)
      : fixed_(fixed.has_value()), fixed_ns_(fixed ? fixed->UnixNanos() : 0) {}

  // UTC (offset 0) so that everything a mock emits formats with "Z".
  Time Now() const {
    if (fixed_.load(std::memory_order_acquire)) {
      return Time::FromUnixNanos(fixed_ns_.load(std::memory_order_acquire));
    }
    return Time::Now();
  }
  void Set(Time t) {
    fixed_ns_.store(t.UnixNanos(), std::memory_order_release);
    fixed_.store(true, std::memory_order_release);
  }
  void Advance(std::int64_t ns) { Set(Now().Add(ns)); }

 private:
  std::atomic<bool> fixed_;
  std::atomic<std::int64_t> fixed_ns_;
};

// The instant a provider's world is built for: the fixed "now", or the wall clock.
// The wall clock is truncated to whole seconds so that seeded times read cleanly.
inline Time InitialNow(const std::optional<Time>& fixed) {
  return fixed ? *fixed : Time::FromUnixSeconds(Time::Now().seconds);
}

// Keys every mock provider accepts: "now" (RFC 3339) fixes the clock.
inline constexpr std::string_view kNowKey = "now";
// Log and metric generators also accept "seed" (integer) to vary their output.
inline constexpr std::string_view kSeedKey = "seed";

// Rejects keys outside `allowed` (which must include "now"), then reads "now".
Result<std::optional<Time>> ReadCommonConfig(const ConfigReader& reader,
                                             std::initializer_list<std::string_view> allowed);

}  // namespace opsorch::providers::mock
