#include <cstdint>
#include <limits>
#include <string>

#include <opsorch/common/duration.h>

namespace opsorch {

// Go's time.ParseDuration grammar, evaluated in integers (as Go does for the whole part) so the
// result is exact for integers and truncated, never rounded by accumulation, for fractions.
Result<std::int64_t> ParseGoDuration(std::string_view s) {
  const std::string original(s);
  const auto invalid = [&]() {
    return Fail(errc::kBadRequest, ("invalid duration \"" + original + "\""));
  };
  const auto out_of_range = [&]() {
    return Fail(errc::kBadRequest, ("invalid duration \"" + original + "\": out of range"));
  };
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::int64_t{0};
  if (s.empty()) return invalid();
  using U128 = unsigned __int128;
  // |int64 min| is 2^63: a negative duration may reach it, a positive one stops one short.
  const U128 limit =
      static_cast<U128>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
  U128 total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    U128 whole = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + static_cast<unsigned>(s[i] - '0');
      if (whole > limit) return out_of_range();
      digits = true;
      ++i;
    }
    // The fraction as an integer over a power of ten; digits past the 18th change the result by
    // under 1e-18 of the unit (under a nanosecond even for hours), so they are read and dropped.
    std::uint64_t fraction = 0;
    std::uint64_t scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (scale <= std::numeric_limits<std::uint64_t>::max() / 10 / 10) {
          fraction = fraction * 10 + static_cast<unsigned>(s[i] - '0');
          scale *= 10;
        }
        digits = true;
        ++i;
      }
    }
    if (!digits) return invalid();
    std::size_t j = i;
    while (j < s.size() && !(s[j] >= '0' && s[j] <= '9') && s[j] != '.') ++j;
    const std::string_view unit = s.substr(i, j - i);
    std::uint64_t mult = 0;
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
      return Fail(errc::kBadRequest, (unit.empty() ? "missing unit in duration \"" + original + "\""
                                                   : "unknown unit \"" + std::string(unit) +
                                                         "\" in duration \"" + original + "\""));
    }
    // whole <= 2^63 and mult < 2^42, fraction * mult < 2^106: no step overflows 128 bits.
    total += whole * mult + static_cast<U128>(fraction) * mult / scale;
    if (total > limit) return out_of_range();
    s.remove_prefix(j);
  }
  if (negative) return static_cast<std::int64_t>(-static_cast<__int128>(total));
  return static_cast<std::int64_t>(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  const std::int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace opsorch
