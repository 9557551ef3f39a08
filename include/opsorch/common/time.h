// A wall-clock instant with Go time.Time's wire behaviour: the zero value is
// 0001-01-01T00:00:00Z, RFC 3339 with nanoseconds, and the UTC offset it was parsed with is kept.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch {

struct Time {
  // Seconds since the Unix epoch of 0001-01-01T00:00:00Z, Go's zero time.
  static constexpr std::int64_t kZeroSeconds = -62135596800;

  std::int64_t seconds = kZeroSeconds;  // Unix seconds (UTC)
  std::int32_t nanos = 0;               // [0, 1e9)
  std::int32_t offset_seconds = 0;      // zone offset used when formatting

  bool IsZero() const { return seconds == kZeroSeconds && nanos == 0; }

  static Time Now();       // UTC
  static Time NowLocal();  // the server's local zone offset (contract: timeline `at` default)
  static Time FromUnixNanos(std::int64_t ns, std::int32_t offset_seconds = 0);
  static Time FromUnixSeconds(std::int64_t s) { return Time{s, 0, 0}; }

  // Unix nanoseconds fit an int64 only from 1677-09-21 to 2262-04-11: UnixNanos() saturates
  // outside that range (never wraps); code that stores nanoseconds uses UnixNanosChecked and
  // refuses other times, naming its field and kNanosRange.
  std::int64_t UnixNanos() const;
  std::optional<std::int64_t> UnixNanosChecked() const;
  static constexpr std::string_view kNanosRange =
      "must be between 1678-01-01T00:00:00Z and 2261-12-31T23:59:59Z";
  Time Add(std::int64_t ns) const { return FromUnixNanos(UnixNanos() + ns, offset_seconds); }

  // Compares instants; the zone offset does not take part.
  friend bool operator==(const Time& a, const Time& b) {
    return a.seconds == b.seconds && a.nanos == b.nanos;
  }
  friend std::strong_ordering operator<=>(const Time& a, const Time& b) {
    if (auto c = a.seconds <=> b.seconds; c != 0) return c;
    return a.nanos <=> b.nanos;
  }
};

// RFC 3339 with nanoseconds, trailing zeros trimmed ("Z" for a zero offset), as Go's RFC3339Nano.
void AppendRfc3339Nano(std::string& out, const Time& t);
std::string FormatRfc3339Nano(const Time& t);

// Accepts what Go's time.Parse(time.RFC3339, s) accepts (years 0000-9999, 'T', fractional
// seconds, 'Z' or ±hh:mm). Errors name the rule that failed.
Result<Time> ParseRfc3339(std::string_view s);

}  // namespace opsorch
