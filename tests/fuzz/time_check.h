// The body of fuzz_time, shared with the corpus regression test (fuzz_corpora_test.cc): one
// input as an RFC 3339 time (include/opsorch/common/time.h), as a Go duration
// (include/opsorch/common/duration.h) and as an opsorch setting duration (config::ParseDuration),
// and its first bytes as Unix nanoseconds and a zone offset (Time::FromUnixNanos).
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/duration.h>
#include <opsorch/common/error.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/config/config.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

__extension__ typedef __int128 Int128;  // __extension__: -Wpedantic

inline std::string Int128ToString(Int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  while (v != 0) {
    const int d = static_cast<int>(v % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (d < 0 ? -d : d)));
    v /= 10;
  }
  return negative ? "-" + digits : digits;
}

inline constexpr Int128 kInt64Max = std::numeric_limits<std::int64_t>::max();
inline constexpr Int128 kInt64Min = std::numeric_limits<std::int64_t>::min();

// ---- Times ------------------------------------------------------------------------------------

inline void CheckTimeValue(const std::string& where, const Time& t, std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": " + what); };
  if (t.nanos < 0 || t.nanos >= 1'000'000'000) return fail("nanos out of [0, 1e9)");
  if (t.offset_seconds <= -86400 || t.offset_seconds >= 86400 || t.offset_seconds % 60 != 0) {
    return fail("offset is not ±hh:mm");
  }
  // Formats, and the text parses back to the same instant and offset, and formats the same.
  const std::string text = FormatRfc3339Nano(t);
  std::string appended = "x";
  AppendRfc3339Nano(appended, t);
  if (appended != "x" + text) fail("AppendRfc3339Nano and FormatRfc3339Nano differ");
  auto back = ParseRfc3339(text);
  if (!back) return fail(text + " does not parse back: " + back.error().message);
  if (*back != t || back->offset_seconds != t.offset_seconds) {
    return fail(text + " parses back to another time");
  }
  if (FormatRfc3339Nano(*back) != text) fail(text + " is not a fixed point");

  // Unix nanoseconds: checked exactly when they fit, saturated (never wrapped) otherwise.
  const Int128 exact = static_cast<Int128>(t.seconds) * 1'000'000'000 + t.nanos;
  const bool fits = exact >= kInt64Min && exact <= kInt64Max;
  const auto checked = t.UnixNanosChecked();
  if (fits && (!checked || *checked != exact)) {
    fail(text + ": UnixNanosChecked refuses or changes " + Int128ToString(exact) +
         ", which fits an int64");
  }
  if (!fits && checked) fail(text + ": UnixNanosChecked accepts an instant outside int64");
  const std::int64_t saturated = t.UnixNanos();
  if (checked ? saturated != *checked
              : saturated != (exact < 0 ? std::numeric_limits<std::int64_t>::min()
                                        : std::numeric_limits<std::int64_t>::max())) {
    fail(text + ": UnixNanos is neither the checked value nor saturated");
  }
  // Back from nanoseconds (for a saturated value: the end of the range, without overflowing).
  const Time again = Time::FromUnixNanos(saturated, t.offset_seconds);
  if (again.nanos < 0 || again.nanos >= 1'000'000'000) fail("FromUnixNanos: nanos out of range");
  if (checked && again != t) fail(text + ": FromUnixNanos(UnixNanos()) is another instant");
}

// The range Time::kNanosRange promises: every instant in it has checked nanoseconds.
inline void CheckNanosRangePromise(const std::string& where, const Time& t,
                                   std::vector<std::string>& out) {
  static const Time kFirst = *ParseRfc3339("1678-01-01T00:00:00Z");
  static const Time kLast = *ParseRfc3339("2261-12-31T23:59:59.999999999Z");
  if (t >= kFirst && t <= kLast && !t.UnixNanosChecked()) {
    out.push_back(where + ": inside kNanosRange but UnixNanosChecked refuses it");
  }
}

// ---- Durations --------------------------------------------------------------------------------

// Go's time.ParseDuration grammar, evaluated exactly: the value is floor + rem / 10^24
// nanoseconds (fraction digits past the 24th are dropped: less than 4e-12 ns each).
struct RefDuration {
  bool valid = false;
  bool negative = false;
  Int128 floor = 0;  // saturates at 2^100
  Int128 rem = 0;    // in units of 1e-24 ns
  int fractional_parts = 0;
};

inline constexpr int kRefFractionDigits = 24;

inline Int128 Pow10(int n) {
  Int128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

inline RefDuration RefParseGoDuration(std::string_view s) {
  RefDuration r;
  const Int128 kCap = static_cast<Int128>(1) << 80;
  const Int128 kTotalCap = static_cast<Int128>(1) << 100;
  const Int128 kScale = Pow10(kRefFractionDigits);
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    r.negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    r.valid = true;
    return r;
  }
  if (s.empty()) return r;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (!s.empty()) {
    if (!(s[0] == '.' || digit(s[0]))) return r;
    std::size_t i = 0;
    Int128 v = 0;
    bool pre = false;
    for (; i < s.size() && digit(s[i]); ++i) {
      v = v >= kCap ? kCap : v * 10 + (s[i] - '0');
      pre = true;
    }
    Int128 f = 0;
    int k = 0;
    bool post = false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      for (; i < s.size() && digit(s[i]); ++i) {
        if (k < kRefFractionDigits) {
          f = f * 10 + (s[i] - '0');
          ++k;
        }
        post = true;
      }
    }
    if (!pre && !post) return r;
    std::size_t j = i;
    while (j < s.size() && !digit(s[j]) && s[j] != '.') ++j;
    const std::string_view unit = s.substr(i, j - i);
    std::int64_t mult = 0;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = 1'000;
    } else if (unit == "ms") {
      mult = 1'000'000;
    } else if (unit == "s") {
      mult = 1'000'000'000;
    } else if (unit == "m") {
      mult = 60'000'000'000;
    } else if (unit == "h") {
      mult = 3'600'000'000'000;
    } else {
      return r;
    }
    s.remove_prefix(j);
    const Int128 fm = f * mult;
    const Int128 pow = Pow10(k);
    r.floor += v * mult + fm / pow;
    r.rem += (fm % pow) * Pow10(kRefFractionDigits - k);
    if (r.rem >= kScale) {
      r.floor += r.rem / kScale;
      r.rem %= kScale;
    }
    if (r.floor > kTotalCap) r.floor = kTotalCap;
    if (f != 0) ++r.fractional_parts;
  }
  r.valid = true;
  return r;
}

inline void CheckGoDuration(std::string_view input, std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) {
    out.push_back("ParseGoDuration(\"" + Excerpt(input) + "\"): " + what);
  };
  const auto got = ParseGoDuration(input);
  const RefDuration ref = RefParseGoDuration(input);
  if (!got) {
    if (got.error().code != errc::kBadRequest) fail("error is not bad_request");
    if (got.error().message.find(std::string(input)) == std::string::npos) {
      fail("error does not quote the input: " + got.error().message);
    }
  }
  if (!ref.valid) {
    if (got) fail("accepts what Go's grammar refuses: " + std::to_string(*got));
    return;
  }
  // Rounded to the nearest nanosecond.
  const Int128 kScale = Pow10(kRefFractionDigits);
  const Int128 nearest = ref.floor + (ref.rem * 2 >= kScale ? 1 : 0);
  constexpr Int128 kBand = 1 << 12;  // near the int64 boundary either answer is taken
  if (!got) {
    if (nearest < kInt64Max - kBand) fail("refuses a valid duration: " + got.error().message);
    return;
  }
  if (nearest > kInt64Max + kBand) fail("accepts a duration beyond int64 nanoseconds");
  const Int128 magnitude = *got < 0 ? -static_cast<Int128>(*got) : static_cast<Int128>(*got);
  if (*got != 0 && (*got < 0) != ref.negative) fail("wrong sign");
  const Int128 diff = magnitude > nearest ? magnitude - nearest : nearest - magnitude;
  // Integers are exact; each fractional part may be off by under a nanosecond (as in Go).
  const Int128 allowed = ref.fractional_parts;
  if (diff > allowed) {
    fail("is " + std::to_string(*got) + " ns; exactly " + (ref.negative ? "-" : "") +
         Int128ToString(nearest) + " ns");
  }
}

// config::ParseDuration: a bare number of seconds, or a non-negative Go duration, in ms.
inline void CheckSettingDuration(std::string_view input, std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) {
    out.push_back("config::ParseDuration(\"" + Excerpt(input) + "\"): " + what);
  };
  const auto got = config::ParseDuration(input);
  const std::string_view s = TrimSpace(input);
  std::int64_t seconds = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
  if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size()) {
    const Int128 ms = static_cast<Int128>(seconds) * 1000;
    if (seconds < 0 || ms > kInt64Max) {
      if (got) fail("accepts " + std::string(s) + " s, which is negative or overflows");
      return;
    }
    if (!got) return fail("refuses " + std::string(s) + " s");
    if (got->count() != ms) fail("is " + std::to_string(got->count()) + " ms");
    return;
  }
  const auto ns = ParseGoDuration(s);
  if (!ns || *ns < 0) {
    if (got) fail("accepts an invalid or negative duration");
    return;
  }
  if (!got) return fail("refuses a valid duration");
  if (got->count() != *ns / 1'000'000) fail("is not the Go duration in whole ms");
  if (got->count() < 0) fail("negative");
}

// Invariants:
//  - an accepted time formats (AppendRfc3339Nano) to text that parses back to the same instant
//    and offset and is a fixed point; UnixNanosChecked is the exact value when it fits an int64
//    and nullopt otherwise; UnixNanos is that or saturated, never wrapped; FromUnixNanos of it
//    does not overflow and gives the instant back; times inside kNanosRange are representable;
//  - any int64 nanoseconds with any ±hh:mm offset make a time with the same properties;
//  - ParseGoDuration accepts exactly Go's grammar, never overflows (beyond int64 → refused,
//    well inside → accepted), and is exact for integers and within a nanosecond per fractional
//    part otherwise, compared with an exact evaluation;
//  - config::ParseDuration never overflows or goes negative and agrees with ParseGoDuration.
inline std::vector<std::string> CheckTimes(std::string_view input) {
  std::vector<std::string> out;
  if (auto t = ParseRfc3339(input)) {
    const std::string where = "ParseRfc3339(\"" + Excerpt(input) + "\")";
    CheckTimeValue(where, *t, out);
    CheckNanosRangePromise(where, *t, out);
  } else if (t.error().code != errc::kBadRequest || t.error().message.empty()) {
    out.push_back("ParseRfc3339: error without bad_request and a message");
  }

  unsigned char raw[10] = {};
  std::memcpy(raw, input.data(), std::min<std::size_t>(input.size(), sizeof raw));
  std::uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | raw[i];
  std::int64_t ns;
  std::memcpy(&ns, &bits, sizeof ns);
  const int minutes = static_cast<int>((raw[8] | (raw[9] << 8)) % (2 * 1439 + 1)) - 1439;
  const Time t = Time::FromUnixNanos(ns, minutes * 60);
  CheckTimeValue("FromUnixNanos(" + std::to_string(ns) + ", " + std::to_string(minutes) + " min)",
                 t, out);
  if (t.UnixNanosChecked() != ns)
    out.push_back("FromUnixNanos(" + std::to_string(ns) + ") loses it");

  CheckGoDuration(input, out);
  CheckSettingDuration(input, out);
  return out;
}

}  // namespace opsorch::testing
