#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>

#include <opsorch/common/time.h>

namespace opsorch {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Howard Hinnant's days_from_civil / civil_from_days: exact for the whole proleptic Gregorian
// range we need (years 0000–9999).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month, day;
};

Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

void AppendDigits(std::string& out, std::int64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (int i = n; i < width; ++i) out.push_back('0');
  while (n > 0) out.push_back(buf[--n]);
}

bool IsLeap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

}  // namespace

Time Time::FromUnixNanos(std::int64_t ns, std::int32_t offset_seconds) {
  // Not ns - FloorDiv(ns, 1e9) * 1e9: that product overflows for the earliest instants.
  std::int64_t s = ns / kNanosPerSecond;
  std::int64_t n = ns % kNanosPerSecond;
  if (n < 0) {
    n += kNanosPerSecond;
    --s;
  }
  return Time{s, static_cast<std::int32_t>(n), offset_seconds};
}

std::optional<std::int64_t> Time::UnixNanosChecked() const {
  // Before the epoch, from the next second down: seconds * 1e9 alone overflows in the last
  // second of the range, where seconds * 1e9 + nanos still fits.
  std::int64_t s = seconds, n = nanos;
  if (s < 0 && n > 0) {
    ++s;
    n -= kNanosPerSecond;
  }
  std::int64_t ns;
  if (__builtin_mul_overflow(s, kNanosPerSecond, &ns) || __builtin_add_overflow(ns, n, &ns)) {
    return std::nullopt;
  }
  return ns;
}

std::int64_t Time::UnixNanos() const {
  if (auto ns = UnixNanosChecked()) return *ns;
  return seconds < 0 ? std::numeric_limits<std::int64_t>::min()
                     : std::numeric_limits<std::int64_t>::max();
}

Time Time::Now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return FromUnixNanos(ns);
}

Time Time::NowLocal() {
  Time t = Now();
  const std::time_t secs = static_cast<std::time_t>(t.seconds);
  std::tm local{};
  if (localtime_r(&secs, &local) != nullptr) t.offset_seconds = static_cast<int>(local.tm_gmtoff);
  return t;
}

void AppendRfc3339Nano(std::string& out, const Time& t) {
  const std::int64_t local = t.seconds + t.offset_seconds;
  const std::int64_t days = FloorDiv(local, 86400);
  const std::int64_t sod = local - days * 86400;
  const Civil c = CivilFromDays(days);
  AppendDigits(out, c.year < 0 ? 0 : c.year, 4);
  out.push_back('-');
  AppendDigits(out, c.month, 2);
  out.push_back('-');
  AppendDigits(out, c.day, 2);
  out.push_back('T');
  AppendDigits(out, sod / 3600, 2);
  out.push_back(':');
  AppendDigits(out, (sod / 60) % 60, 2);
  out.push_back(':');
  AppendDigits(out, sod % 60, 2);
  if (t.nanos != 0) {
    char frac[10];
    std::int32_t n = t.nanos;
    for (int i = 8; i >= 0; --i) {
      frac[i] = static_cast<char>('0' + n % 10);
      n /= 10;
    }
    int len = 9;
    while (len > 0 && frac[len - 1] == '0') --len;
    out.push_back('.');
    out.append(frac, static_cast<std::size_t>(len));
  }
  if (t.offset_seconds == 0) {
    out.push_back('Z');
  } else {
    std::int32_t off = t.offset_seconds;
    out.push_back(off < 0 ? '-' : '+');
    if (off < 0) off = -off;
    AppendDigits(out, off / 3600, 2);
    out.push_back(':');
    AppendDigits(out, (off / 60) % 60, 2);
  }
}

std::string FormatRfc3339Nano(const Time& t) {
  std::string out;
  out.reserve(35);
  AppendRfc3339Nano(out, t);
  return out;
}

Result<Time> ParseRfc3339(std::string_view s) {
  const auto fail = [&](std::string_view rule) -> Result<Time> {
    return Fail(errc::kBadRequest,
                "parsing time \"" + std::string(s) + "\" as RFC 3339: " + std::string(rule));
  };
  std::size_t i = 0;
  const auto digits = [&](int n, std::int64_t& v) {
    if (i + static_cast<std::size_t>(n) > s.size()) return false;
    v = 0;
    for (int k = 0; k < n; ++k) {
      const char ch = s[i + static_cast<std::size_t>(k)];
      if (ch < '0' || ch > '9') return false;
      v = v * 10 + (ch - '0');
    }
    i += static_cast<std::size_t>(n);
    return true;
  };
  const auto expect = [&](char ch) {
    if (i < s.size() && s[i] == ch) {
      ++i;
      return true;
    }
    return false;
  };
  std::int64_t year, month, day, hour, minute, second;
  if (!digits(4, year)) return fail("year must be 4 digits");
  if (!expect('-')) return fail("expected '-' after year");
  if (!digits(2, month) || month < 1 || month > 12) return fail("month out of range");
  if (!expect('-')) return fail("expected '-' after month");
  if (!digits(2, day) || day < 1 || day > DaysInMonth(year, static_cast<unsigned>(month))) {
    return fail("day out of range");
  }
  if (!expect('T')) return fail("expected 'T' between date and time");
  if (!digits(2, hour) || hour > 23) return fail("hour out of range");
  if (!expect(':')) return fail("expected ':' after hour");
  if (!digits(2, minute) || minute > 59) return fail("minute out of range");
  if (!expect(':')) return fail("expected ':' after minute");
  if (!digits(2, second) || second > 59) return fail("second out of range");
  std::int32_t nanos = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 9) {
        nanos = nanos * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (n == 0) return fail("fractional second has no digits");
    for (; n < 9; ++n) nanos *= 10;
  }
  std::int32_t offset = 0;
  if (expect('Z')) {
    offset = 0;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const bool neg = s[i] == '-';
    ++i;
    std::int64_t oh, om;
    if (!digits(2, oh) || oh > 23 || !expect(':') || !digits(2, om) || om > 59) {
      return fail("zone offset must be ±hh:mm");
    }
    offset = static_cast<std::int32_t>((oh * 3600 + om * 60) * (neg ? -1 : 1));
  } else {
    return fail("missing zone ('Z' or ±hh:mm)");
  }
  if (i != s.size()) return fail("extra text after time");
  const std::int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset;
  return Time{secs, nanos, offset};
}

}  // namespace opsorch
