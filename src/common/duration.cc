#include <cmath>
#include <limits>
#include <string>

#include <opsorch/common/duration.h>

namespace opsorch {

Result<std::int64_t> ParseGoDuration(std::string_view s) {
  const std::string original(s);
  const auto invalid = [&]() {
    return Fail(errc::kBadRequest, ("invalid duration \"" + original + "\""));
  };
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::int64_t{0};
  if (s.empty()) return invalid();
  // Accumulate in long double: exact enough for any duration that fits in int64 nanoseconds.
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      digits = true;
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        digits = true;
        ++i;
      }
    }
    if (!digits) return invalid();
    std::size_t j = i;
    while (j < s.size() && !(s[j] >= '0' && s[j] <= '9') && s[j] != '.') ++j;
    const std::string_view unit = s.substr(i, j - i);
    long double mult = 0;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = 1e3L;
    } else if (unit == "ms") {
      mult = 1e6L;
    } else if (unit == "s") {
      mult = 1e9L;
    } else if (unit == "m") {
      mult = 60e9L;
    } else if (unit == "h") {
      mult = 3600e9L;
    } else {
      return Fail(errc::kBadRequest, (unit.empty() ? "missing unit in duration \"" + original + "\""
                                                   : "unknown unit \"" + std::string(unit) +
                                                         "\" in duration \"" + original + "\""));
    }
    total += value * mult;
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
      return Fail(errc::kBadRequest, ("invalid duration \"" + original + "\": out of range"));
    }
    s.remove_prefix(j);
  }
  const auto ns = static_cast<std::int64_t>(std::llround(total));
  return negative ? -ns : ns;
}

}  // namespace opsorch
