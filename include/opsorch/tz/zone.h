// IANA time zones for schedule arithmetic. The implementation (src/tz/zone.cc) is the only file
// that includes Howard Hinnant's date/tz, so moving to std::chrono's zones (GCC >= 13) touches
// nothing else. The zone data is the system's /usr/share/zoneinfo (package tzdata).
//
// DST rulebook (FromLocal): a local time that does not exist (skipped by a spring-forward gap)
// becomes the first valid instant after the gap, i.e. the transition itself (02:30 on
// 2026-03-29 in Europe/Berlin → 03:00 CEST); an ambiguous one (repeated by a fall-back) takes
// the earliest instant (02:30 on 2026-10-25 in Europe/Berlin → 02:30 CEST).
//
// Known limit of the OS database reader: instants after a zone's last listed transition
// (2037 for zones with DST) keep the last offset, so DST is not applied from 2038 on.
#pragma once

#include <cstdint>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::tz {

inline constexpr std::int64_t kSecondsPerDay = 86'400;

// A wall-clock reading in some zone (proleptic Gregorian calendar).
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4;       // ISO: 1 = Monday .. 7 = Sunday (output only; FromLocal ignores it)
  int utc_offset_s = 0;  // output only; FromLocal ignores it

  friend bool operator==(const CivilTime&, const CivilTime&) = default;
};

// Civil calendar arithmetic, zone-free. "Local seconds" are wall-clock seconds since
// 1970-01-01T00:00:00 of the same wall clock (no offset involved).
std::int64_t DaysFromCivil(int year, int month, int day);
std::int64_t ToLocalSeconds(const CivilTime& t);
CivilTime FromLocalSeconds(std::int64_t local_s);  // utc_offset_s = 0
// ISO weekday (1 = Monday) of a day number (days since 1970-01-01, a Thursday).
int IsoWeekday(std::int64_t days);
// The same wall-clock time `days` calendar days later (earlier when negative).
CivilTime AddDays(const CivilTime& t, std::int64_t days);

// A zone. Cheap to copy: a pointer to the immutable zone data (null means UTC, which needs no
// lookup at all). Safe to share between threads.
class Zone {
 public:
  constexpr Zone() = default;  // UTC

  // An IANA name ("Europe/Berlin", "UTC"). Unknown names fail with kBadRequest
  // `unknown time zone "X"`.
  static Result<Zone> Locate(std::string_view name);

  std::string_view name() const;
  bool is_utc() const { return zone_ == nullptr; }

  CivilTime ToLocal(std::int64_t unix_s) const;
  // Applies the DST rulebook above.
  std::int64_t FromLocal(const CivilTime& t) const;

  // The same two in local seconds (see above): what the schedule arithmetic works in.
  std::int64_t LocalSeconds(std::int64_t unix_s) const;
  std::int64_t FromLocalSeconds(std::int64_t local_s) const;
  int UtcOffset(std::int64_t unix_s) const;

  // `days` calendar days after `unix_s` at the same wall-clock time (rulebook applied).
  std::int64_t AddCalendarDays(std::int64_t unix_s, std::int64_t days) const;

  friend bool operator==(const Zone& a, const Zone& b) { return a.zone_ == b.zone_; }

 private:
  explicit constexpr Zone(const void* zone) : zone_(zone) {}
  const void* zone_ = nullptr;  // a const date::time_zone* (kept opaque: no date/ in headers)
};

inline constexpr Zone kUtc{};

}  // namespace opsorch::tz
