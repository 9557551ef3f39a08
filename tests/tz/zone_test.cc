// Zone conversions against hand-checked tzdata facts (2026 transitions). Expected instants are
// written as RFC 3339 literals with their offsets so a reader can check them.
#include <gtest/gtest.h>

#include <opsorch/common/time.h>
#include <opsorch/tz/zone.h>

namespace opsorch::tz {
namespace {

std::int64_t T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? t->seconds : 0;
}

Zone Z(std::string_view name) {
  auto z = Zone::Locate(name);
  EXPECT_TRUE(z) << name;
  return z ? *z : Zone();
}

TEST(Zone, LocatesKnownAndRefusesUnknownNames) {
  EXPECT_EQ(Z("Europe/Berlin").name(), "Europe/Berlin");
  EXPECT_EQ(Z("UTC").name(), "UTC");
  EXPECT_TRUE(Z("UTC").is_utc());
  EXPECT_EQ(kUtc.name(), "UTC");
  auto bad = Zone::Locate("Mars/Olympus_Mons");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(bad.error().message, "unknown time zone \"Mars/Olympus_Mons\"");
  EXPECT_FALSE(Zone::Locate(""));
}

struct ToLocalCase {
  const char* zone;
  const char* instant;
  CivilTime want;  // y, m, d, h, mi, s, ISO weekday, offset
};

TEST(Zone, ToLocal) {
  const ToLocalCase cases[] = {
      {"Europe/Berlin", "2026-03-29T00:59:59Z", {2026, 3, 29, 1, 59, 59, 7, 3600}},
      {"Europe/Berlin", "2026-03-29T01:00:00Z", {2026, 3, 29, 3, 0, 0, 7, 7200}},
      {"Europe/Berlin", "2026-10-25T00:30:00Z", {2026, 10, 25, 2, 30, 0, 7, 7200}},
      {"Europe/Berlin", "2026-10-25T01:30:00Z", {2026, 10, 25, 2, 30, 0, 7, 3600}},
      {"America/New_York", "2026-03-08T06:59:59Z", {2026, 3, 8, 1, 59, 59, 7, -18000}},
      {"America/New_York", "2026-03-08T07:00:00Z", {2026, 3, 8, 3, 0, 0, 7, -14400}},
      {"America/New_York", "2026-11-01T05:30:00Z", {2026, 11, 1, 1, 30, 0, 7, -14400}},
      {"America/New_York", "2026-11-01T06:30:00Z", {2026, 11, 1, 1, 30, 0, 7, -18000}},
      {"Australia/Lord_Howe", "2026-04-04T14:59:59Z", {2026, 4, 5, 1, 59, 59, 7, 39600}},
      {"Australia/Lord_Howe", "2026-04-04T15:00:00Z", {2026, 4, 5, 1, 30, 0, 7, 37800}},
      {"Australia/Lord_Howe", "2026-10-03T15:29:59Z", {2026, 10, 4, 1, 59, 59, 7, 37800}},
      {"Australia/Lord_Howe", "2026-10-03T15:30:00Z", {2026, 10, 4, 2, 30, 0, 7, 39600}},
      {"Asia/Kathmandu", "2026-01-01T00:00:00Z", {2026, 1, 1, 5, 45, 0, 4, 20700}},
      {"UTC", "1969-12-31T23:59:59Z", {1969, 12, 31, 23, 59, 59, 3, 0}},
      {"UTC", "2024-02-29T12:00:00Z", {2024, 2, 29, 12, 0, 0, 4, 0}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Z(c.zone).ToLocal(T(c.instant)), c.want) << c.zone << " " << c.instant;
  }
}

struct FromLocalCase {
  const char* zone;
  CivilTime local;
  const char* want;
  const char* why;
};

TEST(Zone, FromLocalAppliesTheDstRulebook) {
  const FromLocalCase cases[] = {
      {"Europe/Berlin", {2026, 3, 29, 9, 0, 0}, "2026-03-29T09:00:00+02:00", "unique"},
      {"Europe/Berlin", {2026, 3, 28, 9, 0, 0}, "2026-03-28T09:00:00+01:00", "unique"},
      {"Europe/Berlin", {2026, 3, 29, 2, 30, 0}, "2026-03-29T03:00:00+02:00", "gap → its end"},
      {"Europe/Berlin", {2026, 3, 29, 2, 0, 0}, "2026-03-29T03:00:00+02:00", "gap start"},
      {"Europe/Berlin", {2026, 10, 25, 2, 30, 0}, "2026-10-25T02:30:00+02:00", "repeat → earliest"},
      {"America/New_York", {2026, 3, 8, 2, 30, 0}, "2026-03-08T03:00:00-04:00", "gap"},
      {"America/New_York", {2026, 11, 1, 1, 30, 0}, "2026-11-01T01:30:00-04:00", "earliest"},
      {"Australia/Lord_Howe", {2026, 10, 4, 2, 15, 0}, "2026-10-04T02:30:00+11:00", "30-min gap"},
      {"Australia/Lord_Howe", {2026, 4, 5, 1, 45, 0}, "2026-04-05T01:45:00+11:00", "30-min repeat"},
      {"Australia/Lord_Howe", {2026, 4, 5, 2, 0, 0}, "2026-04-05T02:00:00+10:30", "after repeat"},
      {"Asia/Kathmandu", {2026, 6, 1, 9, 0, 0}, "2026-06-01T09:00:00+05:45", "+05:45"},
      {"UTC", {2026, 6, 1, 9, 0, 0}, "2026-06-01T09:00:00Z", "utc"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Z(c.zone).FromLocal(c.local), T(c.want)) << c.zone << " " << c.why;
  }
}

TEST(Zone, AddDaysIsCalendarArithmetic) {
  const CivilTime feb{2026, 2, 27, 9, 30, 0};
  EXPECT_EQ(AddDays(feb, 3), (CivilTime{2026, 3, 2, 9, 30, 0, 1, 0}));
  EXPECT_EQ(AddDays(CivilTime{2024, 2, 28, 0, 0, 0}, 1), (CivilTime{2024, 2, 29, 0, 0, 0, 4, 0}));
  EXPECT_EQ(AddDays(CivilTime{2026, 1, 1, 23, 59, 59}, -1),
            (CivilTime{2025, 12, 31, 23, 59, 59, 3, 0}));
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2026, 1, 1), 20454);
  EXPECT_EQ(IsoWeekday(20454), 4);  // Thursday
  EXPECT_EQ(IsoWeekday(-1), 3);     // 1969-12-31, Wednesday
}

TEST(Zone, AddCalendarDaysKeepsTheWallClockAcrossDst) {
  const Zone berlin = Z("Europe/Berlin");
  EXPECT_EQ(berlin.AddCalendarDays(T("2026-03-28T09:00:00+01:00"), 1),
            T("2026-03-29T09:00:00+02:00"));  // 23 hours later
  EXPECT_EQ(berlin.AddCalendarDays(T("2026-10-24T09:00:00+02:00"), 1),
            T("2026-10-25T09:00:00+01:00"));  // 25 hours later
  EXPECT_EQ(berlin.AddCalendarDays(T("2026-03-28T02:30:00+01:00"), 1),
            T("2026-03-29T03:00:00+02:00"));  // lands in the gap
  EXPECT_EQ(kUtc.AddCalendarDays(T("2026-03-28T09:00:00Z"), 1), T("2026-03-29T09:00:00Z"));
}

TEST(Zone, LocalSecondsRoundTrip) {
  const Zone ny = Z("America/New_York");
  EXPECT_EQ(ny.LocalSeconds(T("2026-07-01T12:00:00Z")), T("2026-07-01T08:00:00Z"));
  EXPECT_EQ(ny.UtcOffset(T("2026-07-01T12:00:00Z")), -14400);
  EXPECT_EQ(ny.FromLocalSeconds(T("2026-07-01T08:00:00Z")), T("2026-07-01T12:00:00Z"));
}

}  // namespace
}  // namespace opsorch::tz
