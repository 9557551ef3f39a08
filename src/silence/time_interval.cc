// Alertmanager 0.25's time intervals (timeinterval/timeinterval.go): the decoder with its
// validation and wording, ContainsTime, and the boundary stepping behind NextNotContained.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/silence/time_interval.h>

namespace opsorch::silence {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr int kMinutesPerDay = 1440;

constexpr std::string_view kWeekdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};
constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                        "may",       "june",     "july",     "august",
                                        "september", "october",  "november", "december"};

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::size_t CodePoints(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// ---- range strings (stringableRangeFromString and the members' parsers) ----------------------

enum class RangeKind { kWeekday, kDayOfMonth, kMonth, kYear };

// Go's strconv.Atoi, with its error wording.
Result<std::int64_t> Atoi(std::string_view s) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  const auto syntax = [&] {
    return Fail(errc::kBadRequest,
                "strconv.Atoi: parsing \"" + std::string(s) + "\": invalid syntax");
  };
  if (digits.empty()) return syntax();
  std::uint64_t v = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return syntax();
    if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
      v = std::numeric_limits<std::uint64_t>::max();
      continue;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  const std::uint64_t limit = negative ? 9223372036854775808ull : 9223372036854775807ull;
  if (v > limit) {
    return Fail(errc::kBadRequest,
                "strconv.Atoi: parsing \"" + std::string(s) + "\": value out of range");
  }
  return negative ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
}

Result<std::int64_t> Member(RangeKind kind, std::string_view in) {
  switch (kind) {
    case RangeKind::kWeekday:
      for (std::size_t i = 0; i < 7; ++i) {
        if (in == kWeekdays[i]) return static_cast<std::int64_t>(i);
      }
      return Fail(errc::kBadRequest, std::string(in) + " is not a valid weekday");
    case RangeKind::kMonth: {
      for (std::size_t i = 0; i < 12; ++i) {
        if (in == kMonths[i]) return static_cast<std::int64_t>(i + 1);
      }
      auto n = Atoi(in);
      if (!n) return Fail(errc::kBadRequest, std::string(in) + " is not a valid month");
      return n;
    }
    case RangeKind::kDayOfMonth:
    case RangeKind::kYear:
      return Atoi(in);
  }
  return Fail(errc::kBadRequest, "unknown range");
}

std::string MonthName(std::int64_t m) {
  return m >= 1 && m <= 12 ? std::string(kMonths[m - 1]) : std::string();
}

Result<InclusiveRange> ParseRange(RangeKind kind, std::string_view original) {
  std::string in(original);
  for (char& c : in) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  InclusiveRange r;
  if (const auto colon = in.find(':'); colon != std::string::npos) {
    if (in.find(':', colon + 1) != std::string::npos) {
      return Fail(errc::kBadRequest, "couldn't parse range " + in + ", invalid format");
    }
    auto b = Member(kind, std::string_view(in).substr(0, colon));
    if (!b) return tl::unexpected(b.error());
    auto e = Member(kind, std::string_view(in).substr(colon + 1));
    if (!e) return tl::unexpected(e.error());
    r = {*b, *e};
  } else {
    auto v = Member(kind, in);
    if (!v) return tl::unexpected(v.error());
    r = {*v, *v};
  }
  const auto bad = [](std::string m) { return Fail(errc::kBadRequest, std::move(m)); };
  switch (kind) {
    case RangeKind::kWeekday:
      if (r.begin > r.end) return bad("start day cannot be before end day");
      break;
    case RangeKind::kDayOfMonth: {
      for (const std::int64_t v : {r.begin, r.end}) {
        if (v == 0 || v < -31 || v > 31) {
          return bad(std::to_string(v) + " is not a valid day of the month: out of range");
        }
      }
      if (r.begin < 0 && r.end > 0) return bad("end day must be negative if start day is negative");
      const std::int64_t b = r.begin < 0 ? 28 + r.begin : r.begin;
      const std::int64_t e = r.end < 0 ? 28 + r.end : r.end;
      if (b > e) {
        return bad("end day " + std::to_string(r.end) + " is always before start day " +
                   std::to_string(r.begin));
      }
      break;
    }
    case RangeKind::kMonth:
      if (r.begin > r.end) {
        return bad("end month " + MonthName(r.end) + " is before start month " +
                   MonthName(r.begin));
      }
      break;
    case RangeKind::kYear:
      if (r.begin > r.end) {
        return bad("end year " + std::to_string(r.end) + " is before start year " +
                   std::to_string(r.begin));
      }
      break;
  }
  return r;
}

// "HH:MM" (validTime: 00:00-23:59 or 24:00) → minutes of the day.
std::optional<int> ParseClock(std::string_view s) {
  if (s == "24:00") return kMinutesPerDay;
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (const std::size_t i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

// ---- decoding --------------------------------------------------------------------------------

struct Decoder {
  FieldErrors& errors;

  void Bad(std::string field, std::string message) {
    errors.push_back({std::move(field), std::move(message)});
  }

  static std::string Join(const std::string& where, std::string_view key) {
    return where.empty() ? std::string(key) : where + "." + std::string(key);
  }

  void OnlyKnown(const JsonObject& o, const std::string& where,
                 std::initializer_list<std::string_view> known) {
    for (const auto& kv : o) {
      const std::string_view key(kv.key().data(), kv.key().size());
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Bad(Join(where, key), "unknown field");
      }
    }
  }

  // The value of `camel` or its snake_case synonym (one of them), null being absent.
  const JsonValue* Get(const JsonObject& o, const std::string& where, std::string_view camel,
                       std::string_view snake = {}) {
    const JsonValue* a = o.if_contains(camel);
    const JsonValue* b = snake.empty() ? nullptr : o.if_contains(snake);
    if (a != nullptr && b != nullptr) {
      Bad(Join(where, snake), "use either " + std::string(camel) + " or " + std::string(snake));
      return nullptr;
    }
    const JsonValue* v = a != nullptr ? a : b;
    return v == nullptr || v->is_null() ? nullptr : v;
  }

  const JsonArray* List(const JsonValue* v, const std::string& path) {
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Bad(path, "must be an array");
      return nullptr;
    }
    const JsonArray& a = v->get_array();
    if (a.empty()) {
      Bad(path, "must not be empty (leave the field out to match any)");
      return nullptr;
    }
    if (a.size() > kMaxRangesPerField) {
      Bad(path, "must have at most " + std::to_string(kMaxRangesPerField) + " items");
      return nullptr;
    }
    return &a;
  }

  void Ranges(const JsonObject& o, const std::string& where, std::string_view camel,
              std::string_view snake, RangeKind kind, std::vector<InclusiveRange>& out) {
    const std::string path = Join(where, camel);
    const JsonArray* a = List(Get(o, where, camel, snake), path);
    if (a == nullptr) return;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const std::string item = path + "[" + std::to_string(i) + "]";
      const JsonValue& v = (*a)[i];
      std::string text;
      if (v.is_string()) {
        text = std::string(v.get_string().data(), v.get_string().size());
      } else if (v.is_int64()) {
        text = std::to_string(v.get_int64());  // YAML reads a number as its text
      } else {
        Bad(item, "must be a string");
        continue;
      }
      auto r = ParseRange(kind, text);
      if (!r) {
        Bad(item, r.error().message);
      } else {
        out.push_back(*r);
      }
    }
  }

  void Times(const JsonObject& o, const std::string& where, std::vector<TimeRange>& out) {
    const std::string path = Join(where, "times");
    const JsonArray* a = List(Get(o, where, "times"), path);
    if (a == nullptr) return;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const std::string item = path + "[" + std::to_string(i) + "]";
      if (!(*a)[i].is_object()) {
        Bad(item, "must be an object");
        continue;
      }
      const JsonObject& t = (*a)[i].get_object();
      OnlyKnown(t, item, {"startTime", "endTime", "start_time", "end_time"});
      const JsonValue* start = Get(t, item, "startTime", "start_time");
      const JsonValue* end = Get(t, item, "endTime", "end_time");
      auto text = [&](const JsonValue* v, std::string_view key) -> std::optional<std::string> {
        if (v == nullptr) return std::string();
        if (!v->is_string()) {
          Bad(Join(item, key), "must be a string \"HH:MM\"");
          return std::nullopt;
        }
        return std::string(v->get_string().data(), v->get_string().size());
      };
      const auto s = text(start, "startTime");
      const auto e = text(end, "endTime");
      if (!s || !e) continue;
      if (s->empty() || e->empty()) {
        Bad(item, "both start and end times must be provided");
        continue;
      }
      const auto sm = ParseClock(*s);
      const auto em = ParseClock(*e);
      if (!sm) Bad(Join(item, "startTime"), "couldn't parse timestamp " + *s + ", invalid format");
      if (!em) Bad(Join(item, "endTime"), "couldn't parse timestamp " + *e + ", invalid format");
      if (!sm || !em) continue;
      if (*sm >= *em) {
        Bad(item, "start time cannot be equal or greater than end time");
        continue;
      }
      out.push_back({*sm, *em});
    }
  }

  std::optional<TimeInterval> Interval(const JsonValue& v, const std::string& where) {
    if (!v.is_object()) {
      Bad(where, "must be an object");
      return std::nullopt;
    }
    const std::size_t before = errors.size();
    const JsonObject& o = v.get_object();
    OnlyKnown(o, where,
              {"times", "weekdays", "daysOfMonth", "days_of_month", "months", "years", "location"});
    TimeInterval ti;
    Times(o, where, ti.times);
    Ranges(o, where, "weekdays", {}, RangeKind::kWeekday, ti.weekdays);
    Ranges(o, where, "daysOfMonth", "days_of_month", RangeKind::kDayOfMonth, ti.days_of_month);
    Ranges(o, where, "months", {}, RangeKind::kMonth, ti.months);
    Ranges(o, where, "years", {}, RangeKind::kYear, ti.years);
    if (const JsonValue* loc = Get(o, where, "location"); loc != nullptr) {
      const std::string path = Join(where, "location");
      if (!loc->is_string()) {
        Bad(path, "must be a string");
      } else {
        const std::string name(loc->get_string().data(), loc->get_string().size());
        if (name.size() > kMaxLocationBytes || name.find('\0') != std::string::npos) {
          Bad(path, "unknown time zone " + name.substr(0, kMaxLocationBytes));
        } else if (name == "Local") {
          Bad(path, "\"Local\" is not allowed: name the zone (it would differ between nodes)");
        } else if (!name.empty()) {
          auto zone = tz::Zone::Locate(name);
          if (!zone) {
            Bad(path, "unknown time zone " + name);
          } else {
            ti.zone = *zone;
            ti.location = name;
          }
        }
      }
    }
    if (errors.size() != before) return std::nullopt;
    return ti;
  }
};

// ---- evaluation ------------------------------------------------------------------------------

bool LeapYear(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(std::int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && LeapYear(year) ? 29 : kDays[month - 1];
}

bool InAny(const std::vector<InclusiveRange>& ranges, std::int64_t v) {
  for (const InclusiveRange& r : ranges) {
    if (v >= r.begin && v <= r.end) return true;
  }
  return false;
}

std::int64_t Clamp(std::int64_t n, std::int64_t min, std::int64_t max) {
  if (n <= min) return min;
  if (n >= max) return max;
  return n;
}

// Every field but times, for a local date.
bool DayMatches(const TimeInterval& ti, const tz::CivilTime& c) {
  if (!ti.days_of_month.empty()) {
    const int dim = DaysInMonth(c.year, c.month);
    bool in = false;
    for (const InclusiveRange& r : ti.days_of_month) {
      std::int64_t begin = r.begin < 0 ? dim + r.begin + 1 : r.begin;
      std::int64_t end = r.end < 0 ? dim + r.end + 1 : r.end;
      if (begin > dim) continue;  // the range starts after this month's end
      begin = Clamp(begin, -dim, dim);
      end = Clamp(end, -dim, dim);
      if (c.day >= begin && c.day <= end) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  if (!ti.months.empty() && !InAny(ti.months, c.month)) return false;
  if (!ti.weekdays.empty() && !InAny(ti.weekdays, c.weekday % 7)) return false;  // ISO → Go
  if (!ti.years.empty() && !InAny(ti.years, c.year)) return false;
  return true;
}

bool MinuteMatches(const TimeInterval& ti, int minute) {
  if (ti.times.empty()) return true;
  for (const TimeRange& r : ti.times) {
    if (minute >= r.start_minute && minute < r.end_minute) return true;
  }
  return false;
}

// The times as disjoint sorted runs of minutes (touching ranges merged); the whole day if none.
std::vector<TimeRange> Runs(const TimeInterval& ti) {
  if (ti.times.empty()) return {{0, kMinutesPerDay}};
  std::vector<TimeRange> r = ti.times;
  std::sort(r.begin(), r.end(),
            [](const TimeRange& a, const TimeRange& b) { return a.start_minute < b.start_minute; });
  std::vector<TimeRange> out;
  for (const TimeRange& x : r) {
    if (!out.empty() && x.start_minute <= out.back().end_minute) {
      out.back().end_minute = std::max(out.back().end_minute, x.end_minute);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

bool AlwaysContains(const TimeInterval& ti) {
  if (!ti.weekdays.empty() || !ti.days_of_month.empty() || !ti.months.empty() ||
      !ti.years.empty()) {
    return false;
  }
  const auto runs = Runs(ti);
  return runs.size() == 1 && runs[0].start_minute == 0 && runs[0].end_minute == kMinutesPerDay;
}

// When `ti`, which contains second `secs`, may stop containing the time: the end of the run of
// minutes it is in, carried over midnight while the next days match from 00:00; or the first
// UTC offset change on the way (where the wall clock jumps; the caller looks again there).
std::int64_t RunEnd(const TimeInterval& ti, std::int64_t secs, std::int64_t horizon_s) {
  if (AlwaysContains(ti)) return horizon_s;
  const tz::Zone& z = ti.zone;
  const std::int64_t local = z.LocalSeconds(secs);
  const std::int64_t day = FloorDiv(local, tz::kSecondsPerDay);
  const int minute = static_cast<int>((local - day * tz::kSecondsPerDay) / 60);
  const std::int64_t next_minute = secs + (60 - (local - FloorDiv(local, 60) * 60));
  const std::vector<TimeRange> runs = Runs(ti);
  const auto run = std::find_if(runs.begin(), runs.end(), [&](const TimeRange& r) {
    return minute >= r.start_minute && minute < r.end_minute;
  });
  if (run == runs.end()) return next_minute;  // not contained: the caller's recheck decides

  std::int64_t end_local;
  if (run->end_minute < kMinutesPerDay) {
    end_local = day * tz::kSecondsPerDay + run->end_minute * 60;
  } else {
    const std::int64_t max_days = (horizon_s - secs) / tz::kSecondsPerDay + 2;
    std::int64_t d = day + 1;
    for (;; ++d) {
      if (d - day > max_days) return horizon_s;
      const tz::CivilTime c = tz::FromLocalSeconds(d * tz::kSecondsPerDay);
      if (!DayMatches(ti, c) || runs.front().start_minute != 0) {
        end_local = d * tz::kSecondsPerDay;
        break;
      }
      if (runs.front().end_minute < kMinutesPerDay) {
        end_local = d * tz::kSecondsPerDay + runs.front().end_minute * 60;
        break;
      }
    }
  }

  std::int64_t candidate = z.FromLocalSeconds(end_local);
  if (candidate <= secs) {
    // That wall time passed already under an earlier offset (`secs` is in the hour a fall-back
    // repeats): take its occurrence under the current offset.
    const std::int64_t u = end_local - z.UtcOffset(secs);
    candidate = u > secs && z.LocalSeconds(u) == end_local ? u : next_minute;
  }
  // A UTC offset change before the end of this local day moves the wall clock (back into the
  // minutes just covered, or past others): stop there.
  const std::int64_t check_to =
      std::min(candidate, z.FromLocalSeconds((day + 1) * tz::kSecondsPerDay));
  const int offset = z.UtcOffset(secs);
  if (check_to > secs && z.UtcOffset(check_to) != offset) {
    std::int64_t lo = secs, hi = check_to;  // offset(lo) == offset, offset(hi) != offset
    while (hi - lo > 1) {
      const std::int64_t mid = lo + (hi - lo) / 2;
      (z.UtcOffset(mid) == offset ? lo : hi) = mid;
    }
    candidate = std::min(candidate, hi);
  }
  return candidate;
}

void AppendRanges(std::string& out, std::string_view key, const std::vector<InclusiveRange>& rs,
                  RangeKind kind) {
  if (rs.empty()) return;
  out += ",\"";
  out += key;
  out += "\":[";
  auto member = [kind](std::int64_t v) {
    if (kind == RangeKind::kWeekday && v >= 0 && v <= 6) return std::string(kWeekdays[v]);
    if (kind == RangeKind::kMonth && v >= 1 && v <= 12) return std::string(kMonths[v - 1]);
    return std::to_string(v);
  };
  for (std::size_t i = 0; i < rs.size(); ++i) {
    if (i > 0) out.push_back(',');
    std::string text = member(rs[i].begin);
    if (rs[i].end != rs[i].begin) text += ":" + member(rs[i].end);
    AppendJsonString(out, text);
  }
  out.push_back(']');
}

std::string Clock(int minutes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60, minutes % 60);
  return buf;
}

}  // namespace

tl::expected<TimeIntervalSet, FieldErrors> DecodeTimeIntervalSet(const JsonValue& body) {
  FieldErrors errors;
  Decoder d{errors};
  if (!body.is_object()) {
    d.Bad("", "must be a JSON object");
    return tl::unexpected(std::move(errors));
  }
  const JsonObject& o = body.get_object();
  d.OnlyKnown(o, "", {"name", "timeIntervals", "time_intervals"});
  TimeIntervalSet set;
  if (const JsonValue* name = d.Get(o, "", "name"); name == nullptr) {
    d.Bad("name", "missing name in time interval");
  } else if (!name->is_string()) {
    d.Bad("name", "must be a string");
  } else {
    const std::string_view n(name->get_string().data(), name->get_string().size());
    if (n.empty()) {
      d.Bad("name", "missing name in time interval");
    } else if (n.find('\0') != std::string_view::npos) {
      d.Bad("name", "must not contain NUL characters");
    } else if (!ValidUtf8(n)) {
      d.Bad("name", "must be valid UTF-8");
    } else if (CodePoints(n) > kMaxIntervalNameChars) {
      d.Bad("name", "must be at most " + std::to_string(kMaxIntervalNameChars) + " characters");
    } else {
      set.name = std::string(n);
    }
  }
  if (const JsonValue* list = d.Get(o, "", "timeIntervals", "time_intervals"); list != nullptr) {
    if (!list->is_array()) {
      d.Bad("timeIntervals", "must be an array");
    } else if (list->get_array().size() > kMaxIntervalsPerSet) {
      d.Bad("timeIntervals",
            "must have at most " + std::to_string(kMaxIntervalsPerSet) + " intervals");
    } else {
      const JsonArray& a = list->get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (auto ti = d.Interval(a[i], "timeIntervals[" + std::to_string(i) + "]")) {
          set.intervals.push_back(std::move(*ti));
        }
      }
    }
  }
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return set;
}

tl::expected<TimeIntervalSet, FieldErrors> DecodeTimeIntervalSet(std::string_view body) {
  if (body.size() > kMaxBodyBytes) {
    return tl::unexpected(
        FieldErrors{{"", "body must be at most " + std::to_string(kMaxBodyBytes) + " bytes"}});
  }
  JsonParseOptions options;
  options.max_depth = kMaxJsonDepth;
  auto parsed = ParseJson(body, options);
  if (!parsed) return tl::unexpected(FieldErrors{{"", parsed.error().message}});
  return DecodeTimeIntervalSet(*parsed);
}

void AppendTimeIntervalSet(std::string& out, const TimeIntervalSet& set) {
  out += "{\"name\":";
  AppendJsonString(out, set.name);
  out += ",\"timeIntervals\":[";
  for (std::size_t i = 0; i < set.intervals.size(); ++i) {
    const TimeInterval& ti = set.intervals[i];
    if (i > 0) out.push_back(',');
    // A leading comma is written before every field, then the first one is dropped.
    std::string body;
    if (!ti.times.empty()) {
      body += ",\"times\":[";
      for (std::size_t k = 0; k < ti.times.size(); ++k) {
        if (k > 0) body.push_back(',');
        body += "{\"startTime\":\"" + Clock(ti.times[k].start_minute) + "\",\"endTime\":\"" +
                Clock(ti.times[k].end_minute) + "\"}";
      }
      body.push_back(']');
    }
    AppendRanges(body, "weekdays", ti.weekdays, RangeKind::kWeekday);
    AppendRanges(body, "daysOfMonth", ti.days_of_month, RangeKind::kDayOfMonth);
    AppendRanges(body, "months", ti.months, RangeKind::kMonth);
    AppendRanges(body, "years", ti.years, RangeKind::kYear);
    if (!ti.location.empty()) {
      body += ",\"location\":";
      AppendJsonString(body, ti.location);
    }
    out.push_back('{');
    if (!body.empty()) out.append(body, 1);
    out.push_back('}');
  }
  out += "]}";
}

std::string EncodeTimeIntervalSet(const TimeIntervalSet& set) {
  std::string out;
  AppendTimeIntervalSet(out, set);
  return out;
}

bool Contains(const TimeInterval& ti, std::int64_t t) {
  const tz::CivilTime c = ti.zone.ToLocal(FloorDiv(t, kNsPerSecond));
  return MinuteMatches(ti, c.hour * 60 + c.minute) && DayMatches(ti, c);
}

bool Contains(const TimeIntervalSet& set, std::int64_t t) {
  return std::any_of(set.intervals.begin(), set.intervals.end(),
                     [t](const TimeInterval& ti) { return Contains(ti, t); });
}

std::int64_t NextNotContained(const TimeIntervalSet& set, std::int64_t now, std::int64_t horizon) {
  if (now >= horizon) return now;
  const std::int64_t horizon_s = FloorDiv(horizon, kNsPerSecond) + 1;
  std::int64_t t = now;
  while (t < horizon) {
    bool contained = false;
    std::int64_t next_s = 0;
    const std::int64_t secs = FloorDiv(t, kNsPerSecond);
    for (const TimeInterval& ti : set.intervals) {
      if (!Contains(ti, t)) continue;
      contained = true;
      next_s = std::max(next_s, RunEnd(ti, secs, horizon_s));
    }
    if (!contained) return t;
    // Each run ends after `secs`, so t moves forward to a whole second.
    if (next_s >= horizon_s) return horizon;
    t = next_s * kNsPerSecond;
  }
  return horizon;
}

}  // namespace opsorch::silence
