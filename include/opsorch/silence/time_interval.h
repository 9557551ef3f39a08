// Recurring mutes: Alertmanager 0.25's time intervals (timeinterval/timeinterval.go), named
// sets that a service lists among its mute intervals. Pure functions; times are Unix ns.
//
// JSON (our API is camelCase; Alertmanager's YAML names, also accepted here so that a pasted
// Alertmanager configuration converted to JSON works, in brackets):
//   {"name": "weeknights",
//    "timeIntervals" [time_intervals]: [{
//      "times": [{"startTime" [start_time]: "HH:MM", "endTime" [end_time]: "HH:MM"}],
//      "weekdays": ["monday:friday", "sunday"],
//      "daysOfMonth" [days_of_month]: ["1:5", "-3:-1"],
//      "months": ["may:august", "12"],
//      "years": ["2026:2027"],
//      "location": "Europe/Berlin"}]}
//
// Semantics, as Alertmanager 0.25:
// - The set contains t when any of its intervals does; an interval contains t when every field
//   it has matches t read in its location (default UTC), and a missing field matches anything.
// - times: [start, end) in minutes of the day, end "24:00" allowed; a range cannot cross
//   midnight (start must be before end: write two ranges). Several ranges: any.
// - weekdays: names (sunday..saturday), single or "a:b" inclusive with a <= b in Go's order
//   (Sunday first), so "saturday:sunday" is refused: write ["saturday", "sunday"].
// - daysOfMonth: 1..31 or -31..-1 (from the end: -1 is the last day), single or "a:b"
//   inclusive; a negative start needs a negative end; ranges past the month's end are clamped.
// - months: names or numbers, single or "a:b" inclusive. years: numbers, single or "a:b".
// - Range strings are case-insensitive; JSON numbers are accepted where a number is meant
//   (Alertmanager reads these through YAML, which does the same).
// Differences, all refusals of input Alertmanager reads in a surprising way:
// - an empty list ([]) is refused: Alertmanager reads `weekdays: []` as "no day ever", which is
//   never what was meant; leave the field out to match any;
// - location "Local" (the server's own zone) is refused: it would differ between nodes;
// - the month length for negative days is the calendar's; Alertmanager 0.25 divides elapsed
//   hours by 24, so in a zone with a spring-forward transition that month has one day too few
//   there (fixed upstream in #5447, 2026-08).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include <opsorch/common/json.h>
#include <opsorch/silence/silence.h>
#include <opsorch/tz/zone.h>

namespace opsorch::silence {

// [start_minute, end_minute) of a day; 0 <= start < end <= 1440.
struct TimeRange {
  int start_minute = 0;
  int end_minute = 0;

  friend bool operator==(const TimeRange&, const TimeRange&) = default;
};

// begin <= end, both inclusive. Weekdays 0 (Sunday) .. 6; days of month 1..31 or -31..-1;
// months 1..12 (other numbers are accepted, as in Alertmanager, and never match); years any.
struct InclusiveRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;

  friend bool operator==(const InclusiveRange&, const InclusiveRange&) = default;
};

struct TimeInterval {
  std::vector<TimeRange> times;  // empty: any time of day
  std::vector<InclusiveRange> weekdays;
  std::vector<InclusiveRange> days_of_month;
  std::vector<InclusiveRange> months;
  std::vector<InclusiveRange> years;
  std::string location;  // IANA name as given; "" = UTC
  tz::Zone zone;         // `location` resolved

  friend bool operator==(const TimeInterval&, const TimeInterval&) = default;
};

struct TimeIntervalSet {
  std::string name;
  std::vector<TimeInterval> intervals;  // none: never contains

  friend bool operator==(const TimeIntervalSet&, const TimeIntervalSet&) = default;
};

inline constexpr std::size_t kMaxIntervalsPerSet = 64;
inline constexpr std::size_t kMaxRangesPerField = 64;
inline constexpr std::size_t kMaxIntervalNameChars = 128;
inline constexpr std::size_t kMaxLocationBytes = 128;

// Strict (unknown fields refused), every problem reported with its path
// ("timeIntervals[0].weekdays[1]") and Alertmanager's wording of the rule.
tl::expected<TimeIntervalSet, FieldErrors> DecodeTimeIntervalSet(const JsonValue& body);
// The same from request bytes (kMaxBodyBytes, JSON nesting at most kMaxJsonDepth).
tl::expected<TimeIntervalSet, FieldErrors> DecodeTimeIntervalSet(std::string_view body);

// camelCase, fields in the order above, empty fields left out; weekdays and months by name
// ("monday:friday", "may"; a month outside 1..12 as its number), times "HH:MM".
void AppendTimeIntervalSet(std::string& out, const TimeIntervalSet& set);
std::string EncodeTimeIntervalSet(const TimeIntervalSet& set);

bool Contains(const TimeInterval& interval, std::int64_t t);
bool Contains(const TimeIntervalSet& set, std::int64_t t);

// The first instant >= now at which `set` does not contain the time, or `horizon` when it
// contains every instant of [now, horizon). Steps from one boundary to the next (the end of a
// time range, of a run of matching days, a UTC offset change), not minute by minute: a set that
// mutes every night costs a few steps per day of the answer.
std::int64_t NextNotContained(const TimeIntervalSet& set, std::int64_t now, std::int64_t horizon);

}  // namespace opsorch::silence
