// The schedule computation against hand-computed tables. Expected instants are RFC 3339
// literals with the zone's offset, so each row can be checked against a calendar.
#include <gtest/gtest.h>

#include <opsorch/common/time.h>
#include <opsorch/paging/schedule.h>

namespace opsorch::paging {
namespace {

using R = Restriction;

std::int64_t T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? t->seconds : 0;
}

tz::Zone Z(std::string_view name) {
  auto z = tz::Zone::Locate(name);
  EXPECT_TRUE(z) << name;
  return z ? *z : tz::Zone();
}

struct Want {
  const char* user;
  const char* start;
  const char* end;
};

std::vector<Entry> Entries(std::initializer_list<Want> wants) {
  std::vector<Entry> out;
  for (const Want& w : wants) out.push_back(Entry{w.user, T(w.start), T(w.end)});
  return out;
}

std::string Show(const std::vector<Entry>& entries) {
  std::string s;
  for (const Entry& e : entries) {
    s += "  " + e.user + " " + FormatRfc3339Nano(Time::FromUnixSeconds(e.start_s)) + " .. " +
         FormatRfc3339Nano(Time::FromUnixSeconds(e.end_s)) + "\n";
  }
  return s;
}

Layer MakeLayer(const char* start, const char* virtual_start, std::int64_t turn,
                std::vector<std::string> users, std::vector<Restriction> restrictions = {},
                const char* end = nullptr) {
  Layer l;
  l.id = "l";
  l.start_s = T(start);
  l.end_s = end != nullptr ? T(end) : 0;
  l.rotation_virtual_start_s = T(virtual_start);
  l.turn_length_s = turn;
  l.users = std::move(users);
  l.restrictions = std::move(restrictions);
  return l;
}

Schedule MakeSchedule(const char* zone, std::vector<Layer> layers) {
  Schedule s;
  s.id = "s1";
  s.name = "Primary";
  s.time_zone = zone;
  s.layers = std::move(layers);
  return s;
}

R Daily(std::int64_t start_tod, std::int64_t duration) {
  return R{R::Type::kDaily, start_tod, duration, 1};
}
R Weekly(int day, std::int64_t start_tod, std::int64_t duration) {
  return R{R::Type::kWeekly, start_tod, duration, day};
}

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kWeek = 7 * kDay;

struct Case {
  const char* name;
  Schedule schedule;
  std::vector<Override> overrides;
  const char* since;
  const char* until;
  std::vector<Entry> want;
};

Override Ov(const char* id, const char* start, const char* end, const char* user) {
  return Override{id, T(start), T(end), user};
}

std::vector<Case> Cases() {
  std::vector<Case> c;
  c.push_back({"weekly rotation, three users",
               MakeSchedule("UTC", {MakeLayer("2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z", kWeek,
                                              {"alice", "bob", "carol"})}),
               {},
               "2026-01-05T00:00:00Z",
               "2026-01-26T09:00:00Z",
               Entries({{"alice", "2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z"},
                        {"bob", "2026-01-12T09:00:00Z", "2026-01-19T09:00:00Z"},
                        {"carol", "2026-01-19T09:00:00Z", "2026-01-26T09:00:00Z"}})});
  c.push_back({"virtual start before layer start",
               MakeSchedule("UTC", {MakeLayer("2026-01-03T12:00:00Z", "2026-01-01T00:00:00Z", kDay,
                                              {"a", "b", "c"})}),
               {},
               "2026-01-03T00:00:00Z",
               "2026-01-05T00:00:00Z",
               Entries({{"c", "2026-01-03T12:00:00Z", "2026-01-04T00:00:00Z"},
                        {"a", "2026-01-04T00:00:00Z", "2026-01-05T00:00:00Z"}})});
  c.push_back({"virtual start after layer start",
               MakeSchedule("UTC", {MakeLayer("2026-01-08T00:00:00Z", "2026-01-10T00:00:00Z", kDay,
                                              {"a", "b", "c"})}),
               {},
               "2026-01-08T00:00:00Z",
               "2026-01-11T00:00:00Z",
               Entries({{"b", "2026-01-08T00:00:00Z", "2026-01-09T00:00:00Z"},
                        {"c", "2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z"},
                        {"a", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z"}})});
  c.push_back({"layer end bound",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kDay,
                                              {"a", "b"}, {}, "2026-01-02T06:00:00Z")}),
               {},
               "2026-01-01T00:00:00Z",
               "2026-01-03T00:00:00Z",
               Entries({{"a", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
                        {"b", "2026-01-02T00:00:00Z", "2026-01-02T06:00:00Z"}})});
  c.push_back({"8-hour turns are fixed seconds across DST",
               MakeSchedule("Europe/Berlin",
                            {MakeLayer("2026-03-01T00:00:00+01:00", "2026-03-28T22:00:00+01:00",
                                       8 * kHour, {"a", "b", "c"})}),
               {},
               "2026-03-28T22:00:00+01:00",
               "2026-03-29T23:00:00+02:00",
               Entries({{"a", "2026-03-28T22:00:00+01:00", "2026-03-29T07:00:00+02:00"},
                        {"b", "2026-03-29T07:00:00+02:00", "2026-03-29T15:00:00+02:00"},
                        {"c", "2026-03-29T15:00:00+02:00", "2026-03-29T23:00:00+02:00"}})});
  c.push_back({"daily restriction cuts each day",
               MakeSchedule("UTC", {MakeLayer("2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", kWeek,
                                              {"a", "b"}, {Daily(9 * kHour, 8 * kHour)})}),
               {},
               "2026-01-05T00:00:00Z",
               "2026-01-07T00:00:00Z",
               Entries({{"a", "2026-01-05T09:00:00Z", "2026-01-05T17:00:00Z"},
                        {"a", "2026-01-06T09:00:00Z", "2026-01-06T17:00:00Z"}})});
  c.push_back({"overnight daily restriction belongs to the day it starts",
               MakeSchedule("Europe/Berlin",
                            {MakeLayer("2026-01-01T00:00:00+01:00", "2026-01-05T20:00:00+01:00",
                                       kDay, {"a", "b"}, {Daily(22 * kHour, 10 * kHour)})}),
               {},
               "2026-01-05T00:00:00+01:00",
               "2026-01-07T12:00:00+01:00",
               Entries({{"b", "2026-01-05T00:00:00+01:00", "2026-01-05T08:00:00+01:00"},
                        {"a", "2026-01-05T22:00:00+01:00", "2026-01-06T08:00:00+01:00"},
                        {"b", "2026-01-06T22:00:00+01:00", "2026-01-07T08:00:00+01:00"}})});
  c.push_back({"weekly restriction spanning the weekend",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-02T18:00:00Z", kWeek,
                                              {"a", "b"}, {Weekly(5, 18 * kHour, 63 * kHour)})}),
               {},
               "2026-01-01T00:00:00Z",
               "2026-01-20T00:00:00Z",
               Entries({{"a", "2026-01-02T18:00:00Z", "2026-01-05T09:00:00Z"},
                        {"b", "2026-01-09T18:00:00Z", "2026-01-12T09:00:00Z"},
                        {"a", "2026-01-16T18:00:00Z", "2026-01-19T09:00:00Z"}})});
  c.push_back({"weekly restriction across the week's end, query starting inside it",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"a"}, {Weekly(7, 20 * kHour, kDay)})}),
               {},
               "2026-01-05T00:00:00Z",
               "2026-01-12T12:00:00Z",
               Entries({{"a", "2026-01-05T00:00:00Z", "2026-01-05T20:00:00Z"},
                        {"a", "2026-01-11T20:00:00Z", "2026-01-12T12:00:00Z"}})});
  c.push_back({"bottom layer wins, gaps filled by the upper layer",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"top"}),
                                    MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"bottom"}, {Daily(9 * kHour, 8 * kHour)})}),
               {},
               "2026-01-05T00:00:00Z",
               "2026-01-06T00:00:00Z",
               Entries({{"top", "2026-01-05T00:00:00Z", "2026-01-05T09:00:00Z"},
                        {"bottom", "2026-01-05T09:00:00Z", "2026-01-05T17:00:00Z"},
                        {"top", "2026-01-05T17:00:00Z", "2026-01-06T00:00:00Z"}})});
  c.push_back({"overrides beat layers, the later override beats the earlier",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"top"}),
                                    MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"bottom"}, {Daily(9 * kHour, 8 * kHour)})}),
               {Ov("o1", "2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z", "x"),
                Ov("o2", "2026-01-05T11:00:00Z", "2026-01-05T13:00:00Z", "y")},
               "2026-01-05T00:00:00Z",
               "2026-01-06T00:00:00Z",
               Entries({{"top", "2026-01-05T00:00:00Z", "2026-01-05T09:00:00Z"},
                        {"bottom", "2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"},
                        {"x", "2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z"},
                        {"y", "2026-01-05T11:00:00Z", "2026-01-05T13:00:00Z"},
                        {"bottom", "2026-01-05T13:00:00Z", "2026-01-05T17:00:00Z"},
                        {"top", "2026-01-05T17:00:00Z", "2026-01-06T00:00:00Z"}})});
  c.push_back({"an override in a gap covers it",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"a"}, {Daily(9 * kHour, 8 * kHour)})}),
               {Ov("o1", "2026-01-05T18:00:00Z", "2026-01-05T20:00:00Z", "x")},
               "2026-01-05T08:00:00Z",
               "2026-01-05T23:00:00Z",
               Entries({{"a", "2026-01-05T09:00:00Z", "2026-01-05T17:00:00Z"},
                        {"x", "2026-01-05T18:00:00Z", "2026-01-05T20:00:00Z"}})});
  c.push_back({"nobody: uncovered range gives no entries",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek,
                                              {"a"}, {Daily(9 * kHour, 8 * kHour)})}),
               {},
               "2026-01-05T00:00:00Z",
               "2026-01-05T09:00:00Z",
               {}});
  c.push_back({"adjacent entries of the same user merge across layers and turns",
               MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kDay,
                                              {"alice"}),
                                    MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kDay,
                                              {"alice"}, {Daily(9 * kHour, 8 * kHour)})}),
               {},
               "2026-01-05T00:00:00Z",
               "2026-01-08T00:00:00Z",
               Entries({{"alice", "2026-01-05T00:00:00Z", "2026-01-08T00:00:00Z"}})});
  c.push_back({"truncated at both bounds",
               MakeSchedule("UTC", {MakeLayer("2026-01-05T09:00:00Z", "2026-01-05T09:00:00Z", kWeek,
                                              {"alice", "bob"})}),
               {},
               "2026-01-07T12:00:00Z",
               "2026-01-13T12:00:00Z",
               Entries({{"alice", "2026-01-07T12:00:00Z", "2026-01-12T09:00:00Z"},
                        {"bob", "2026-01-12T09:00:00Z", "2026-01-13T12:00:00Z"}})});
  // ---- DST fixtures ----
  c.push_back(
      {"Berlin spring: 7-day rotation keeps the 09:00 handoff, no 1-hour gap",
       MakeSchedule("Europe/Berlin", {MakeLayer("2026-03-23T09:00:00+01:00",
                                                "2026-03-23T09:00:00+01:00", kWeek, {"a", "b"})}),
       {},
       "2026-03-23T09:00:00+01:00",
       "2026-04-06T09:00:00+02:00",
       Entries({{"a", "2026-03-23T09:00:00+01:00", "2026-03-30T09:00:00+02:00"},
                {"b", "2026-03-30T09:00:00+02:00", "2026-04-06T09:00:00+02:00"}})});
  c.push_back(
      {"Berlin autumn: 7-day rotation keeps the 09:00 handoff",
       MakeSchedule("Europe/Berlin", {MakeLayer("2026-10-19T09:00:00+02:00",
                                                "2026-10-19T09:00:00+02:00", kWeek, {"a", "b"})}),
       {},
       "2026-10-19T09:00:00+02:00",
       "2026-11-02T09:00:00+01:00",
       Entries({{"a", "2026-10-19T09:00:00+02:00", "2026-10-26T09:00:00+01:00"},
                {"b", "2026-10-26T09:00:00+01:00", "2026-11-02T09:00:00+01:00"}})});
  c.push_back({"New York spring: daily rolling users at 08:00 local",
               MakeSchedule("America/New_York",
                            {MakeLayer("2026-03-06T08:00:00-05:00", "2026-03-06T08:00:00-05:00",
                                       kDay, {"a", "b", "c"})}),
               {},
               "2026-03-06T08:00:00-05:00",
               "2026-03-10T08:00:00-04:00",
               Entries({{"a", "2026-03-06T08:00:00-05:00", "2026-03-07T08:00:00-05:00"},
                        {"b", "2026-03-07T08:00:00-05:00", "2026-03-08T08:00:00-04:00"},
                        {"c", "2026-03-08T08:00:00-04:00", "2026-03-09T08:00:00-04:00"},
                        {"a", "2026-03-09T08:00:00-04:00", "2026-03-10T08:00:00-04:00"}})});
  c.push_back(
      {"New York autumn: an ambiguous 01:30 handoff takes the earliest",
       MakeSchedule("America/New_York", {MakeLayer("2026-10-31T01:30:00-04:00",
                                                   "2026-10-31T01:30:00-04:00", kDay, {"a", "b"})}),
       {},
       "2026-10-31T01:30:00-04:00",
       "2026-11-02T01:30:00-05:00",
       Entries({{"a", "2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00"},
                {"b", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}})});
  c.push_back({"Berlin spring: a 02:30 handoff in the gap moves to 03:00 CEST",
               MakeSchedule("Europe/Berlin",
                            {MakeLayer("2026-03-27T02:30:00+01:00", "2026-03-27T02:30:00+01:00",
                                       kDay, {"a", "b", "c"})}),
               {},
               "2026-03-27T02:30:00+01:00",
               "2026-03-30T02:30:00+02:00",
               Entries({{"a", "2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00"},
                        {"b", "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00"},
                        {"c", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}})});
  c.push_back({"Lord Howe spring: 02:00 handoff in the 30-minute gap moves to 02:30",
               MakeSchedule("Australia/Lord_Howe",
                            {MakeLayer("2026-10-02T02:00:00+10:30", "2026-10-02T02:00:00+10:30",
                                       kDay, {"a", "b"})}),
               {},
               "2026-10-02T02:00:00+10:30",
               "2026-10-05T02:00:00+11:00",
               Entries({{"a", "2026-10-02T02:00:00+10:30", "2026-10-03T02:00:00+10:30"},
                        {"b", "2026-10-03T02:00:00+10:30", "2026-10-04T02:30:00+11:00"},
                        {"a", "2026-10-04T02:30:00+11:00", "2026-10-05T02:00:00+11:00"}})});
  c.push_back({"Lord Howe autumn: ambiguous 01:45 takes the earliest (24.5-hour turn after)",
               MakeSchedule("Australia/Lord_Howe",
                            {MakeLayer("2026-04-04T01:45:00+11:00", "2026-04-04T01:45:00+11:00",
                                       kDay, {"a", "b"})}),
               {},
               "2026-04-04T01:45:00+11:00",
               "2026-04-06T01:45:00+10:30",
               Entries({{"a", "2026-04-04T01:45:00+11:00", "2026-04-05T01:45:00+11:00"},
                        {"b", "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}})});
  c.push_back({"Kathmandu +05:45: daily restriction and rotation",
               MakeSchedule("Asia/Kathmandu",
                            {MakeLayer("2026-01-01T00:00:00+05:45", "2026-01-05T09:00:00+05:45",
                                       kDay, {"a", "b"}, {Daily(9 * kHour, 8 * kHour)})}),
               {},
               "2026-01-05T00:00:00+05:45",
               "2026-01-07T00:00:00+05:45",
               Entries({{"a", "2026-01-05T09:00:00+05:45", "2026-01-05T17:00:00+05:45"},
                        {"b", "2026-01-06T09:00:00+05:45", "2026-01-06T17:00:00+05:45"}})});
  c.push_back({"Berlin spring: overnight 22:00 for 10 h ends at 08:00 wall clock (9 real hours)",
               MakeSchedule("Europe/Berlin",
                            {MakeLayer("2026-03-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00",
                                       kWeek, {"a"}, {Daily(22 * kHour, 10 * kHour)})}),
               {},
               "2026-03-28T12:00:00+01:00",
               "2026-03-29T12:00:00+02:00",
               Entries({{"a", "2026-03-28T22:00:00+01:00", "2026-03-29T08:00:00+02:00"}})});
  c.push_back({"Berlin autumn: weekly Monday 09:00 restriction, daily rotation at midnight",
               MakeSchedule("Europe/Berlin",
                            {MakeLayer("2026-10-01T00:00:00+02:00", "2026-10-24T00:00:00+02:00",
                                       kDay, {"a", "b"}, {Weekly(1, 9 * kHour, 9 * kHour)})}),
               {},
               "2026-10-24T00:00:00+02:00",
               "2026-11-03T00:00:00+01:00",
               // 10-24 is turn 0 (a); 10-26 is turn 2 (a); 11-02 is turn 9 (b).
               Entries({{"a", "2026-10-26T09:00:00+01:00", "2026-10-26T18:00:00+01:00"},
                        {"b", "2026-11-02T09:00:00+01:00", "2026-11-02T18:00:00+01:00"}})});
  return c;
}

TEST(Schedule, FinalScheduleTable) {
  for (const Case& c : Cases()) {
    const tz::Zone zone = Z(c.schedule.time_zone);
    const auto got = FinalSchedule(c.schedule, zone, c.overrides, T(c.since), T(c.until));
    EXPECT_EQ(got, c.want) << c.name << "\ngot:\n" << Show(got) << "want:\n" << Show(c.want);
  }
}

// The fast path must agree with the rendered entries at every instant (each case sampled every
// 15 minutes, plus each boundary and the second before it).
TEST(Schedule, OnCallAtAgreesWithTheTable) {
  for (const Case& c : Cases()) {
    const tz::Zone zone = Z(c.schedule.time_zone);
    const std::int64_t since = T(c.since), until = T(c.until);
    std::vector<std::int64_t> probes;
    for (std::int64_t t = since; t < until; t += 900) probes.push_back(t);
    for (const Entry& e : c.want) {
      for (std::int64_t t : {e.start_s - 1, e.start_s, e.end_s - 1, e.end_s}) {
        if (t >= since && t < until) probes.push_back(t);
      }
    }
    for (std::int64_t t : probes) {
      std::optional<std::string> want;
      for (const Entry& e : c.want) {
        if (e.start_s <= t && t < e.end_s) want = e.user;
      }
      EXPECT_EQ(OnCallAt(c.schedule, zone, c.overrides, t), want)
          << c.name << " at " << FormatRfc3339Nano(Time::FromUnixSeconds(t));
    }
  }
}

TEST(Schedule, OnCallAtSpotChecks) {
  const Schedule s = MakeSchedule(
      "Europe/Berlin", {MakeLayer("2026-03-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00", kWeek,
                                  {"a"}, {Daily(22 * kHour, 10 * kHour)})});
  const tz::Zone berlin = Z("Europe/Berlin");
  EXPECT_EQ(OnCallAt(s, berlin, {}, T("2026-03-29T07:59:59+02:00")), "a");
  EXPECT_EQ(OnCallAt(s, berlin, {}, T("2026-03-29T08:00:00+02:00")), std::nullopt);
  EXPECT_EQ(OnCallAt(s, berlin, {}, T("2026-03-28T21:59:59+01:00")), std::nullopt);
  EXPECT_EQ(OnCallAt(s, berlin, {}, T("2026-03-28T22:00:00+01:00")), "a");
  // Before the layer starts: nobody, even inside a restriction window.
  EXPECT_EQ(OnCallAt(s, berlin, {}, T("2026-02-28T23:00:00+01:00")), std::nullopt);
}

TEST(Schedule, RenderLayerGivesTheLayersOwnEntries) {
  const Schedule s = MakeSchedule(
      "UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek, {"top"}),
              MakeLayer("2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", kDay, {"x", "y"},
                        {Daily(9 * kHour, 8 * kHour)})});
  EXPECT_EQ(RenderLayer(s, tz::kUtc, 0, T("2026-01-05T00:00:00Z"), T("2026-01-06T00:00:00Z")),
            Entries({{"top", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"}}));
  EXPECT_EQ(RenderLayer(s, tz::kUtc, 1, T("2026-01-05T00:00:00Z"), T("2026-01-07T00:00:00Z")),
            Entries({{"x", "2026-01-05T09:00:00Z", "2026-01-05T17:00:00Z"},
                     {"y", "2026-01-06T09:00:00Z", "2026-01-06T17:00:00Z"}}));
  EXPECT_TRUE(
      RenderLayer(s, tz::kUtc, 2, T("2026-01-05T00:00:00Z"), T("2026-01-06T00:00:00Z")).empty());
}

TEST(Schedule, NextChange) {
  const Schedule s = MakeSchedule(
      "UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek, {"top"}),
              MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek, {"bottom"},
                        {Daily(9 * kHour, 8 * kHour)})});
  const std::vector<Override> ov = {Ov("o1", "2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z", "x")};
  EXPECT_EQ(NextChange(s, tz::kUtc, ov, T("2026-01-05T09:30:00Z")), T("2026-01-05T10:00:00Z"));
  EXPECT_EQ(NextChange(s, tz::kUtc, ov, T("2026-01-05T10:00:00Z")), T("2026-01-05T12:00:00Z"));
  EXPECT_EQ(NextChange(s, tz::kUtc, ov, T("2026-01-05T17:00:00Z")), T("2026-01-06T09:00:00Z"));
  const Schedule gaps =
      MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek, {"a"},
                                     {Daily(9 * kHour, 8 * kHour)})});
  EXPECT_EQ(NextChange(gaps, tz::kUtc, {}, T("2026-01-05T08:00:00Z")), T("2026-01-05T09:00:00Z"));
  // A single user around the clock: no change within the horizon.
  const Schedule one = MakeSchedule(
      "UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek, {"a"})});
  EXPECT_EQ(NextChange(one, tz::kUtc, {}, T("2026-01-05T08:00:00Z"), kWeek), std::nullopt);
}

TEST(Schedule, DegenerateInputsCoverNothing) {
  Schedule s =
      MakeSchedule("UTC", {MakeLayer("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", kWeek, {})});
  EXPECT_TRUE(
      FinalSchedule(s, tz::kUtc, {}, T("2026-01-05T00:00:00Z"), T("2026-01-06T00:00:00Z")).empty());
  EXPECT_EQ(OnCallAt(s, tz::kUtc, {}, T("2026-01-05T00:00:00Z")), std::nullopt);
  s.layers[0].users = {"a"};
  s.layers[0].turn_length_s = 0;
  EXPECT_EQ(OnCallAt(s, tz::kUtc, {}, T("2026-01-05T00:00:00Z")), std::nullopt);
  EXPECT_TRUE(
      FinalSchedule(s, tz::kUtc, {}, T("2026-01-06T00:00:00Z"), T("2026-01-05T00:00:00Z")).empty());
}

}  // namespace
}  // namespace opsorch::paging
