// Time intervals (Alertmanager 0.25's timeinterval.go): decoding with its rules and wording,
// Contains at hand-written instants (DST days in Europe/Berlin included), NextNotContained, and
// NextNotContained against a minute-by-minute scan.
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/silence/time_interval.h>

namespace opsorch::silence {
namespace {

std::int64_t T(std::string_view rfc3339) { return ParseRfc3339(rfc3339)->UnixNanos(); }
constexpr std::int64_t kMinute = 60'000'000'000;
constexpr std::int64_t kDay = 24 * 60 * kMinute;

TimeIntervalSet Set(const std::string& intervals) {
  auto s = DecodeTimeIntervalSet(
      std::string_view("{\"name\":\"t\",\"timeIntervals\":" + intervals + "}"));
  EXPECT_TRUE(s) << intervals << ": " << (s ? "" : ToError(s.error()).message);
  return s ? *s : TimeIntervalSet{};
}

TEST(TimeIntervalDecode, TheDocumentedShape) {
  const std::string body =
      R"({"name":"n","timeIntervals":[{"times":[{"startTime":"09:00","endTime":"17:00"}],"weekdays":["monday:friday","sunday"],"daysOfMonth":["1:5","-3:-1"],"months":["may:august","1"],"years":["2026:2027"],"location":"Europe/Berlin"}]})";
  auto s = DecodeTimeIntervalSet(std::string_view(body));
  ASSERT_TRUE(s) << ToError(s.error()).message;
  ASSERT_EQ(s->intervals.size(), 1u);
  const TimeInterval& ti = s->intervals[0];
  EXPECT_EQ(ti.times, (std::vector<TimeRange>{{540, 1020}}));
  EXPECT_EQ(ti.weekdays, (std::vector<InclusiveRange>{{1, 5}, {0, 0}}));
  EXPECT_EQ(ti.days_of_month, (std::vector<InclusiveRange>{{1, 5}, {-3, -1}}));
  EXPECT_EQ(ti.months, (std::vector<InclusiveRange>{{5, 8}, {1, 1}}));
  EXPECT_EQ(ti.years, (std::vector<InclusiveRange>{{2026, 2027}}));
  EXPECT_EQ(ti.location, "Europe/Berlin");
  EXPECT_FALSE(ti.zone.is_utc());
  const std::string encoded = EncodeTimeIntervalSet(*s);
  EXPECT_EQ(
      encoded,
      R"({"name":"n","timeIntervals":[{"times":[{"startTime":"09:00","endTime":"17:00"}],"weekdays":["monday:friday","sunday"],"daysOfMonth":["1:5","-3:-1"],"months":["may:august","january"],"years":["2026:2027"],"location":"Europe/Berlin"}]})");
  auto again = DecodeTimeIntervalSet(std::string_view(encoded));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *s);
}

TEST(TimeIntervalDecode, AlertmanagerNamesNumbersAndCase) {
  auto s = DecodeTimeIntervalSet(std::string_view(
      R"({"name":"n","time_intervals":[{"times":[{"start_time":"22:00","end_time":"24:00"}],"days_of_month":[1,"-1"],"weekdays":["Saturday","SUNDAY"],"months":["DECEMBER","13"],"years":[2026]},{}]})"));
  ASSERT_TRUE(s) << ToError(s.error()).message;
  ASSERT_EQ(s->intervals.size(), 2u);
  EXPECT_EQ(s->intervals[0].times, (std::vector<TimeRange>{{1320, 1440}}));
  EXPECT_EQ(s->intervals[0].days_of_month, (std::vector<InclusiveRange>{{1, 1}, {-1, -1}}));
  EXPECT_EQ(s->intervals[0].weekdays, (std::vector<InclusiveRange>{{6, 6}, {0, 0}}));
  EXPECT_EQ(s->intervals[0].months, (std::vector<InclusiveRange>{{12, 12}, {13, 13}}));
  EXPECT_EQ(s->intervals[0].years, (std::vector<InclusiveRange>{{2026, 2026}}));
  EXPECT_EQ(
      EncodeTimeIntervalSet(*s),
      R"({"name":"n","timeIntervals":[{"times":[{"startTime":"22:00","endTime":"24:00"}],"weekdays":["saturday","sunday"],"daysOfMonth":["1","-1"],"months":["december","13"],"years":["2026"]},{}]})");
  // No intervals at all: a set that never mutes, as in Alertmanager.
  auto none = DecodeTimeIntervalSet(std::string_view(R"({"name":"n"})"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->intervals.empty());
}

struct Refusal {
  std::string intervals;  // the timeIntervals value, or a whole body when it starts with '{'
  std::string field;
  std::string message;
};

TEST(TimeIntervalDecode, EveryRuleNamesTheFieldAndTheRule) {
  std::string many = "[";
  for (int i = 0; i < 65; ++i) many += i ? ",{}" : "{}";
  many += "]";
  std::string many_days = "[";
  for (int i = 0; i < 65; ++i) many_days += i ? ",\"1\"" : "\"1\"";
  many_days += "]";
  const Refusal kCases[] = {
      {R"({"timeIntervals":[]})", "name", "missing name in time interval"},
      {R"({"name":"","timeIntervals":[]})", "name", "missing name in time interval"},
      {R"({"name":5})", "name", "must be a string"},
      {"{\"name\":\"" + std::string(129, 'n') + "\"}", "name", "must be at most 128 characters"},
      {R"({"name":"n","foo":1})", "foo", "unknown field"},
      {R"({"name":"n","timeIntervals":[],"time_intervals":[]})", "time_intervals",
       "use either timeIntervals or time_intervals"},
      {R"("x")", "timeIntervals", "must be an array"},
      {many, "timeIntervals", "must have at most 64 intervals"},
      {"[1]", "timeIntervals[0]", "must be an object"},
      {R"([{"timez":[]}])", "timeIntervals[0].timez", "unknown field"},
      {R"([{"weekdays":[]}])", "timeIntervals[0].weekdays",
       "must not be empty (leave the field out to match any)"},
      {R"([{"weekdays":"monday"}])", "timeIntervals[0].weekdays", "must be an array"},
      {"[{\"daysOfMonth\":" + many_days + "}]", "timeIntervals[0].daysOfMonth",
       "must have at most 64 items"},
      {R"([{"weekdays":["saturday:sunday"]}])", "timeIntervals[0].weekdays[0]",
       "start day cannot be before end day"},
      {R"([{"weekdays":["monday","Funday"]}])", "timeIntervals[0].weekdays[1]",
       "funday is not a valid weekday"},
      {R"([{"weekdays":[1]}])", "timeIntervals[0].weekdays[0]", "1 is not a valid weekday"},
      {R"([{"weekdays":[true]}])", "timeIntervals[0].weekdays[0]", "must be a string"},
      {R"([{"weekdays":["monday:tuesday:friday"]}])", "timeIntervals[0].weekdays[0]",
       "couldn't parse range monday:tuesday:friday, invalid format"},
      {R"([{"daysOfMonth":["0"]}])", "timeIntervals[0].daysOfMonth[0]",
       "0 is not a valid day of the month: out of range"},
      {R"([{"daysOfMonth":["1:32"]}])", "timeIntervals[0].daysOfMonth[0]",
       "32 is not a valid day of the month: out of range"},
      {R"([{"days_of_month":["-32:-1"]}])", "timeIntervals[0].daysOfMonth[0]",
       "-32 is not a valid day of the month: out of range"},
      {R"([{"daysOfMonth":["-3:5"]}])", "timeIntervals[0].daysOfMonth[0]",
       "end day must be negative if start day is negative"},
      {R"([{"daysOfMonth":["5:-30"]}])", "timeIntervals[0].daysOfMonth[0]",
       "end day -30 is always before start day 5"},
      {R"([{"daysOfMonth":["10:5"]}])", "timeIntervals[0].daysOfMonth[0]",
       "end day 5 is always before start day 10"},
      {R"([{"daysOfMonth":["x"]}])", "timeIntervals[0].daysOfMonth[0]",
       "strconv.Atoi: parsing \"x\": invalid syntax"},
      {R"([{"months":["august:may"]}])", "timeIntervals[0].months[0]",
       "end month may is before start month august"},
      {R"([{"months":["foo"]}])", "timeIntervals[0].months[0]", "foo is not a valid month"},
      {R"([{"years":["2027:2026"]}])", "timeIntervals[0].years[0]",
       "end year 2026 is before start year 2027"},
      {R"([{"years":["99999999999999999999"]}])", "timeIntervals[0].years[0]",
       "strconv.Atoi: parsing \"99999999999999999999\": value out of range"},
      {R"([{"times":[{"startTime":"09:00","endTime":"09:00"}]}])", "timeIntervals[0].times[0]",
       "start time cannot be equal or greater than end time"},
      {R"([{"times":[{"startTime":"17:00","endTime":"09:00"}]}])", "timeIntervals[0].times[0]",
       "start time cannot be equal or greater than end time"},  // no range across midnight
      {R"([{"times":[{"startTime":"24:00","endTime":"24:00"}]}])", "timeIntervals[0].times[0]",
       "start time cannot be equal or greater than end time"},
      {R"([{"times":[{"startTime":"9:00","endTime":"10:00"}]}])",
       "timeIntervals[0].times[0].startTime", "couldn't parse timestamp 9:00, invalid format"},
      {R"([{"times":[{"startTime":"09:00","endTime":"24:01"}]}])",
       "timeIntervals[0].times[0].endTime", "couldn't parse timestamp 24:01, invalid format"},
      {R"([{"times":[{"startTime":"09:60","endTime":"10:00"}]}])",
       "timeIntervals[0].times[0].startTime", "couldn't parse timestamp 09:60, invalid format"},
      {R"([{"times":[{"startTime":"23:00"}]}])", "timeIntervals[0].times[0]",
       "both start and end times must be provided"},
      {R"([{"times":[{"startTime":"23:00","endTime":"24:00","x":1}]}])",
       "timeIntervals[0].times[0].x", "unknown field"},
      {R"([{"location":"Mars/Base"}])", "timeIntervals[0].location", "unknown time zone Mars/Base"},
      {R"([{"location":"Local"}])", "timeIntervals[0].location",
       "\"Local\" is not allowed: name the zone (it would differ between nodes)"},
  };
  for (const Refusal& c : kCases) {
    const std::string body = c.intervals.starts_with("{")
                                 ? c.intervals
                                 : "{\"name\":\"n\",\"timeIntervals\":" + c.intervals + "}";
    auto s = DecodeTimeIntervalSet(std::string_view(body));
    ASSERT_FALSE(s) << body;
    EXPECT_EQ(s.error().front().field, c.field) << body;
    EXPECT_EQ(s.error().front().message, c.message) << body;
  }
  auto not_object = DecodeTimeIntervalSet(std::string_view("[]"));
  ASSERT_FALSE(not_object);
  EXPECT_EQ(not_object.error().front().message, "must be a JSON object");
}

struct ContainsCase {
  const char* intervals;
  const char* at;
  bool want;
};

TEST(TimeIntervalContains, HandWrittenInstants) {
  const char* kWorkHours =
      R"([{"times":[{"startTime":"09:00","endTime":"17:00"}],"weekdays":["monday:friday"]}])";
  const char* kBerlinWork =
      R"([{"times":[{"startTime":"09:00","endTime":"17:00"}],"location":"Europe/Berlin"}])";
  const char* kBerlinTwoAm =
      R"([{"times":[{"startTime":"02:00","endTime":"03:00"}],"location":"Europe/Berlin"}])";
  const ContainsCase kCases[] = {
      // Weekday ranges (2026-01-05 is a Monday).
      {kWorkHours, "2026-01-05T08:59:59Z", false},
      {kWorkHours, "2026-01-05T09:00:00Z", true},
      {kWorkHours, "2026-01-05T16:59:59.999Z", true},
      {kWorkHours, "2026-01-05T17:00:00Z", false},  // the end minute is excluded
      {kWorkHours, "2026-01-09T10:00:00Z", true},   // Friday
      {kWorkHours, "2026-01-10T10:00:00Z", false},  // Saturday
      {kWorkHours, "2026-01-11T10:00:00Z", false},  // Sunday
      {R"([{"weekdays":["sunday:saturday"]}])", "2026-01-11T10:00:00Z", true},
      {R"([{"weekdays":["Monday:FRIDAY"]}])", "2026-01-07T10:00:00Z", true},
      // A location, winter and summer.
      {kBerlinWork, "2026-01-05T08:00:00Z", true},  // 09:00 CET
      {kBerlinWork, "2026-01-05T07:59:59Z", false},
      {kBerlinWork, "2026-07-06T07:00:00Z", true},  // 09:00 CEST
      {kBerlinWork, "2026-07-06T14:59:59Z", true},
      {kBerlinWork, "2026-07-06T15:00:00Z", false},  // 17:00 CEST
      // Spring forward, 2026-03-29 02:00 CET → 03:00 CEST: 02:xx does not exist that day.
      {kBerlinTwoAm, "2026-03-28T01:30:00Z", true},   // the day before, 02:30 CET
      {kBerlinTwoAm, "2026-03-29T00:59:59Z", false},  // 01:59:59 CET
      {kBerlinTwoAm, "2026-03-29T01:00:00Z", false},  // 03:00 CEST
      // Fall back, 2026-10-25 03:00 CEST → 02:00 CET: 02:xx happens twice, both count.
      {kBerlinTwoAm, "2026-10-24T23:59:59Z", false},  // 01:59:59 CEST
      {kBerlinTwoAm, "2026-10-25T00:00:00Z", true},   // 02:00 CEST
      {kBerlinTwoAm, "2026-10-25T00:59:59Z", true},
      {kBerlinTwoAm, "2026-10-25T01:00:00Z", true},  // 02:00 CET
      {kBerlinTwoAm, "2026-10-25T01:59:59Z", true},
      {kBerlinTwoAm, "2026-10-25T02:00:00Z", false},  // 03:00 CET
      // Negative days of month count from the end.
      {R"([{"daysOfMonth":["-1"]}])", "2026-02-28T12:00:00Z", true},
      {R"([{"daysOfMonth":["-1"]}])", "2026-02-27T12:00:00Z", false},
      {R"([{"daysOfMonth":["-1"]}])", "2024-02-29T12:00:00Z", true},  // leap year
      {R"([{"daysOfMonth":["-1"]}])", "2024-02-28T12:00:00Z", false},
      {R"([{"daysOfMonth":["-1"]}])", "2026-04-30T12:00:00Z", true},
      {R"([{"daysOfMonth":["-3:-1"]}])", "2026-01-29T00:00:00Z", true},
      {R"([{"daysOfMonth":["-3:-1"]}])", "2026-01-28T23:59:59Z", false},
      {R"([{"daysOfMonth":["-31:-1"]}])", "2026-02-01T00:00:00Z", true},  // clamped
      {R"([{"daysOfMonth":["30:31"]}])", "2026-02-28T12:00:00Z", false},  // past the end
      {R"([{"daysOfMonth":["30:31"]}])", "2026-01-30T12:00:00Z", true},
      {R"([{"daysOfMonth":["25:31"]}])", "2026-02-28T12:00:00Z", true},
      {R"([{"daysOfMonth":["25:31"]}])", "2026-02-24T12:00:00Z", false},
      // The last day in a spring-forward month in a zone: the 31st (Alertmanager 0.25 says the
      // 30th there, a bug fixed upstream in #5447).
      {R"([{"daysOfMonth":["-1"],"location":"Europe/Berlin"}])", "2026-03-31T12:00:00Z", true},
      {R"([{"daysOfMonth":["-1"],"location":"Europe/Berlin"}])", "2026-03-30T12:00:00Z", false},
      // Months and years.
      {R"([{"months":["may:august"]}])", "2026-04-30T23:59:59Z", false},
      {R"([{"months":["may:august"]}])", "2026-05-01T00:00:00Z", true},
      {R"([{"months":["may:august"]}])", "2026-08-31T23:59:59Z", true},
      {R"([{"months":["may:august"]}])", "2026-09-01T00:00:00Z", false},
      {R"([{"months":["12"]}])", "2026-12-15T00:00:00Z", true},
      {R"([{"months":["13"]}])", "2026-12-15T00:00:00Z", false},
      {R"([{"years":["2026:2027"]}])", "2025-12-31T23:59:59Z", false},
      {R"([{"years":["2026:2027"]}])", "2026-01-01T00:00:00Z", true},
      {R"([{"years":["2026:2027"]}])", "2027-12-31T23:59:59Z", true},
      {R"([{"years":["2026:2027"]}])", "2028-01-01T00:00:00Z", false},
      // 24:00 as the end.
      {R"([{"times":[{"startTime":"22:00","endTime":"24:00"}]}])", "2026-01-05T21:59:59Z", false},
      {R"([{"times":[{"startTime":"22:00","endTime":"24:00"}]}])", "2026-01-05T22:00:00Z", true},
      {R"([{"times":[{"startTime":"22:00","endTime":"24:00"}]}])", "2026-01-05T23:59:59Z", true},
      {R"([{"times":[{"startTime":"22:00","endTime":"24:00"}]}])", "2026-01-06T00:00:00Z", false},
      // The weekday is the location's.
      {R"([{"weekdays":["monday"],"location":"America/New_York"}])", "2026-01-06T03:00:00Z",
       true},  // Monday 22:00 EST, Tuesday in UTC
      {R"([{"weekdays":["monday"],"location":"America/New_York"}])", "2026-01-06T05:00:00Z", false},
      // Any interval of the set; an empty interval is always; no interval is never.
      {R"([{"weekdays":["saturday"]},{"weekdays":["sunday"]}])", "2026-01-11T10:00:00Z", true},
      {R"([{"weekdays":["saturday"]},{"weekdays":["sunday"]}])", "2026-01-12T10:00:00Z", false},
      {"[{}]", "2026-01-12T10:00:00Z", true},
      {"[]", "2026-01-12T10:00:00Z", false},
      // All fields must match.
      {R"([{"weekdays":["monday"],"months":["february"]}])", "2026-01-05T10:00:00Z", false},
  };
  for (const ContainsCase& c : kCases) {
    EXPECT_EQ(Contains(Set(c.intervals), T(c.at)), c.want) << c.intervals << " at " << c.at;
  }
}

struct NextCase {
  const char* what;
  const char* intervals;
  const char* now;
  const char* want;  // nullptr: the horizon
};

TEST(TimeIntervalNext, HandWrittenInstants) {
  const NextCase kCases[] = {
      {"work hours end",
       R"([{"times":[{"startTime":"09:00","endTime":"17:00"}],"weekdays":["monday:friday"]}])",
       "2026-01-05T10:00:00Z", "2026-01-05T17:00:00Z"},
      {"not muted now", R"([{"times":[{"startTime":"09:00","endTime":"17:00"}]}])",
       "2026-01-05T08:00:00.5Z", "2026-01-05T08:00:00.5Z"},
      {"a night in one interval",
       R"([{"times":[{"startTime":"22:00","endTime":"24:00"},{"startTime":"00:00","endTime":"06:00"}]}])",
       "2026-01-05T23:00:00Z", "2026-01-06T06:00:00Z"},
      {"a night across two intervals",
       R"([{"times":[{"startTime":"22:00","endTime":"24:00"}]},{"times":[{"startTime":"00:00","endTime":"06:00"}]}])",
       "2026-01-05T23:00:00Z", "2026-01-06T06:00:00Z"},
      {"touching ranges merge",
       R"([{"times":[{"startTime":"09:00","endTime":"12:00"},{"startTime":"12:00","endTime":"13:00"}]}])",
       "2026-01-05T10:00:00Z", "2026-01-05T13:00:00Z"},
      {"a weekend", R"([{"weekdays":["saturday","sunday"]}])", "2026-01-10T10:00:00Z",
       "2026-01-12T00:00:00Z"},
      {"whole working days",
       R"([{"times":[{"startTime":"00:00","endTime":"24:00"}],"weekdays":["monday:friday"]}])",
       "2026-01-05T10:00:00Z", "2026-01-10T00:00:00Z"},
      {"always", "[{}]", "2026-01-05T10:00:00Z", nullptr},
      {"months", R"([{"months":["may:august"]}])", "2026-05-10T00:00:00Z", "2026-09-01T00:00:00Z"},
      {"a weekend in Berlin", R"([{"weekdays":["saturday","sunday"],"location":"Europe/Berlin"}])",
       "2026-01-10T10:00:00Z", "2026-01-11T23:00:00Z"},
      {"spring forward skips the end",
       R"([{"times":[{"startTime":"01:00","endTime":"02:30"}],"location":"Europe/Berlin"}])",
       "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"},
      {"fall back leaves the range",
       R"([{"times":[{"startTime":"02:30","endTime":"03:00"}],"location":"Europe/Berlin"}])",
       "2026-10-25T00:40:00Z", "2026-10-25T01:00:00Z"},
      {"fall back stays in the range",
       R"([{"times":[{"startTime":"02:00","endTime":"03:00"}],"location":"Europe/Berlin"}])",
       "2026-10-25T00:10:00Z", "2026-10-25T02:00:00Z"},
      {"the repeated hour, second time",
       R"([{"times":[{"startTime":"02:00","endTime":"02:45"}],"location":"Europe/Berlin"}])",
       "2026-10-25T01:10:00Z", "2026-10-25T01:45:00Z"},
      {"the repeated hour, first time",
       R"([{"times":[{"startTime":"02:00","endTime":"02:45"}],"location":"Europe/Berlin"}])",
       "2026-10-25T00:10:00Z", "2026-10-25T00:45:00Z"},
      {"the last days of the month", R"([{"daysOfMonth":["-3:-1"]}])", "2026-02-27T10:00:00Z",
       "2026-03-01T00:00:00Z"},
  };
  for (const NextCase& c : kCases) {
    const std::int64_t now = T(c.now);
    const std::int64_t horizon = now + 365 * kDay;
    EXPECT_EQ(NextNotContained(Set(c.intervals), now, horizon), c.want ? T(c.want) : horizon)
        << c.what;
  }
  const TimeIntervalSet always = Set("[{}]");
  EXPECT_EQ(NextNotContained(always, 100, 50), 100);  // an empty window
  const TimeIntervalSet nights = Set(R"([{"times":[{"startTime":"22:00","endTime":"24:00"}]}])");
  EXPECT_EQ(NextNotContained(nights, T("2026-01-05T23:00:00Z"), T("2026-01-05T23:30:00Z")),
            T("2026-01-05T23:30:00Z"));  // muted until the horizon
}

// Against a scan of every minute (the zones here change offset on whole minutes, so a minute's
// start decides it): random sets around DST transitions in five zones, three days each.
TEST(TimeIntervalNext, EqualsAMinuteByMinuteScan) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> zones = {"", "Europe/Berlin", "America/New_York",
                                          "Australia/Lord_Howe", "Asia/Kathmandu"};
  const std::vector<std::int64_t> around = {T("2026-03-29T00:00:00Z"), T("2026-10-24T22:00:00Z"),
                                            T("2026-03-07T20:00:00Z"), T("2026-10-31T20:00:00Z"),
                                            T("2026-04-04T12:00:00Z"), T("2026-02-27T00:00:00Z")};
  auto clock = [&](int m) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", m / 60, m % 60);
    return std::string(buf);
  };
  int checked = 0, inside = 0, to_horizon = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::string intervals = "[";
    const int n = 1 + static_cast<int>(rng() % 2);
    for (int k = 0; k < n; ++k) {
      std::string ti = "{";
      std::string sep;
      if (rng() % 4 != 0) {
        ti += "\"times\":[";
        const int ranges = 1 + static_cast<int>(rng() % 2);
        for (int r = 0; r < ranges; ++r) {
          const int a = static_cast<int>(rng() % 96) * 15;
          const int b = a + 15 + static_cast<int>(rng() % ((1440 - a) / 15)) * 15;
          ti += std::string(r ? "," : "") + "{\"startTime\":\"" + clock(a) + "\",\"endTime\":\"" +
                (b >= 1440 ? "24:00" : clock(b)) + "\"}";
        }
        ti += "]";
        sep = ",";
      }
      if (rng() % 3 == 0) {
        const int a = static_cast<int>(rng() % 7);
        const int b = a + static_cast<int>(rng() % (7 - a));
        static const char* kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                      "thursday", "friday", "saturday"};
        ti += sep + "\"weekdays\":[\"" + kDays[a] + ":" + kDays[b] + "\"]";
        sep = ",";
      }
      if (rng() % 4 == 0) {
        ti +=
            sep + (rng() % 2 ? "\"daysOfMonth\":[\"-2:-1\"]" : "\"daysOfMonth\":[\"1:3\",\"29\"]");
        sep = ",";
      }
      const std::string zone = zones[rng() % zones.size()];
      if (!zone.empty()) ti += sep + "\"location\":\"" + zone + "\"";
      ti += "}";
      intervals += (k ? "," : "") + ti;
    }
    intervals += "]";
    const TimeIntervalSet set = Set(intervals);
    std::int64_t now = around[rng() % around.size()] +
                       static_cast<std::int64_t>(rng() % (2 * 24 * 60)) * kMinute +
                       static_cast<std::int64_t>(rng() % 60'000'000'000);
    // Mostly start inside a muted stretch (else the answer is `now` and nothing is stepped).
    if (rng() % 5 != 0) {
      for (int k = 0; k < 2 * 24 * 60 && !Contains(set, now); ++k) now += kMinute;
    }
    const std::int64_t horizon = now + 3 * kDay;
    std::int64_t want = horizon;
    if (!Contains(set, now)) {
      want = now;
    } else {
      for (std::int64_t t = (now / kMinute + 1) * kMinute; t < horizon; t += kMinute) {
        if (!Contains(set, t)) {
          want = t;
          break;
        }
      }
    }
    ASSERT_EQ(NextNotContained(set, now, horizon), want) << intervals << " from " << now;
    ++checked;
    inside += want > now && want < horizon ? 1 : 0;
    to_horizon += want == horizon ? 1 : 0;
  }
  EXPECT_EQ(checked, 300);
  EXPECT_GT(inside, 150);  // most cases end inside the window, after some stepping
  EXPECT_GT(to_horizon, 0);
}

}  // namespace
}  // namespace opsorch::silence
