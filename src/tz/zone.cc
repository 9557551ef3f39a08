#include <chrono>
#include <exception>
#include <string>

#include <date/tz.h>

#include <opsorch/tz/zone.h>

namespace opsorch::tz {
namespace {

using Seconds = std::chrono::seconds;

const date::time_zone* AsZone(const void* p) { return static_cast<const date::time_zone*>(p); }

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms); the same ones
// date.h uses, written out so that calendar arithmetic needs no zone and no library call.
std::int64_t DaysFromCivil(int year, int month, int day) {
  const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  const std::int64_t era = FloorDiv(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (month + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int IsoWeekday(std::int64_t days) {
  // 1970-01-01 was a Thursday (4).
  std::int64_t w = (days + 3) % 7;
  if (w < 0) w += 7;
  return static_cast<int>(w) + 1;
}

std::int64_t ToLocalSeconds(const CivilTime& t) {
  return DaysFromCivil(t.year, t.month, t.day) * kSecondsPerDay + t.hour * 3600 + t.minute * 60 +
         t.second;
}

CivilTime FromLocalSeconds(std::int64_t local_s) {
  const std::int64_t days = FloorDiv(local_s, kSecondsPerDay);
  const std::int64_t sod = local_s - days * kSecondsPerDay;
  const std::int64_t z = days + 719468;
  const std::int64_t era = FloorDiv(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  CivilTime c;
  c.year = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(sod / 3600);
  c.minute = static_cast<int>(sod / 60 % 60);
  c.second = static_cast<int>(sod % 60);
  c.weekday = IsoWeekday(days);
  c.utc_offset_s = 0;
  return c;
}

CivilTime AddDays(const CivilTime& t, std::int64_t days) {
  return FromLocalSeconds(ToLocalSeconds(t) + days * kSecondsPerDay);
}

Result<Zone> Zone::Locate(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") return Zone();
  // date/tz reports unknown names (and a missing zoneinfo directory) by throwing; nothing
  // escapes this function.
  try {
    return Zone(date::locate_zone(name));
  } catch (const std::exception&) {
    return Fail(errc::kBadRequest, "unknown time zone \"" + std::string(name) + "\"");
  }
}

std::string_view Zone::name() const {
  if (zone_ == nullptr) return "UTC";
  return AsZone(zone_)->name();
}

int Zone::UtcOffset(std::int64_t unix_s) const {
  if (zone_ == nullptr) return 0;
  const auto info = AsZone(zone_)->get_info(date::sys_seconds(Seconds(unix_s)));
  return static_cast<int>(info.offset.count());
}

std::int64_t Zone::LocalSeconds(std::int64_t unix_s) const { return unix_s + UtcOffset(unix_s); }

std::int64_t Zone::FromLocalSeconds(std::int64_t local_s) const {
  if (zone_ == nullptr) return local_s;
  const auto info = AsZone(zone_)->get_info(date::local_seconds(Seconds(local_s)));
  switch (info.result) {
    case date::local_info::nonexistent:
      // The gap's end: the first instant whose wall clock is past the skipped time.
      return info.second.begin.time_since_epoch().count();
    case date::local_info::ambiguous:  // the earliest: the offset before the transition
    case date::local_info::unique:
    default:
      return local_s - info.first.offset.count();
  }
}

CivilTime Zone::ToLocal(std::int64_t unix_s) const {
  const int offset = UtcOffset(unix_s);
  CivilTime c = tz::FromLocalSeconds(unix_s + offset);
  c.utc_offset_s = offset;
  return c;
}

std::int64_t Zone::FromLocal(const CivilTime& t) const {
  return FromLocalSeconds(ToLocalSeconds(t));
}

std::int64_t Zone::AddCalendarDays(std::int64_t unix_s, std::int64_t days) const {
  return FromLocalSeconds(LocalSeconds(unix_s) + days * kSecondsPerDay);
}

}  // namespace opsorch::tz
