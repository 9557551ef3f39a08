// The default timeline view as a table: runs of repeats become one entry with their count and
// first and last times; other entries, and repeats that raised the severity, stay as they are;
// a page holds at most its size and says where the next starts.
#include "engine/timeline_view.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace opsorch::engine {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1'780'000'000LL * kSecond;

// "t": triggered, "d": a repeat, "D": a repeat that raised the severity, "a": acknowledged.
std::vector<TimelineRow> Entries(std::string_view kinds) {
  std::vector<TimelineRow> rows;
  std::int64_t n = 0;
  for (const char k : kinds) {
    TimelineRow r;
    r.n = ++n;
    r.id = "inc-1-t" + std::to_string(n);
    r.incident_id = "inc-1";
    r.at = kT0 + n * kSecond;
    r.kind = k == 't' ? "triggered" : k == 'a' ? "acknowledged" : "deduplicated";
    r.body = "entry " + std::to_string(n);
    if (k == 'D') r.metadata = JsonObject{{"severityFrom", "warning"}, {"severityTo", "critical"}};
    rows.push_back(std::move(r));
  }
  return rows;
}

// Each output entry as "<kind>:<first n>" plus "x<count>" for a coalesced run.
std::vector<std::string> View(std::string_view kinds, std::size_t size, std::string* next_at = nullptr) {
  TimelineCoalescer c(size);
  bool full = false;
  for (auto& r : Entries(kinds)) {
    if (!c.Push(std::move(r))) {
      full = true;
      break;
    }
  }
  if (next_at != nullptr) *next_at = full ? std::to_string(c.last().n) : "";
  std::vector<std::string> out;
  for (const auto& e : c.Finish()) {
    std::string s = e.kind.substr(0, 1) + ":" + std::to_string(e.n);
    if (const auto* run = e.metadata.if_contains("coalesced")) {
      s += "x" + std::to_string(run->at("count").as_int64());
    }
    out.push_back(s);
  }
  return out;
}

TEST(TimelineView, CoalescingTable) {
  struct Row {
    std::string kinds;
    std::size_t size;
    std::vector<std::string> view;
    std::string next;  // n of the last entry taken when the page is full, else ""
  } rows[] = {
      {"", 10, {}, ""},
      {"t", 10, {"t:1"}, ""},
      {"td", 10, {"t:1", "d:2"}, ""},  // a run of one is the entry itself
      {"tddd", 10, {"t:1", "d:2x3"}, ""},
      {"tdddadd", 10, {"t:1", "d:2x3", "a:5", "d:6x2"}, ""},
      {"tddDdd", 10, {"t:1", "d:2x2", "d:4", "d:5x2"}, ""},  // the raise stays apart
      {"tDD", 10, {"t:1", "d:2", "d:3"}, ""},
      {"tddadd", 2, {"t:1", "d:2x2"}, "3"},  // full: the next page starts at the "a"
      {"tdd", 1, {"t:1"}, "1"},
      {"ddddd", 1, {"d:1x5"}, ""},  // a run fills one slot however long it is
  };
  for (const Row& r : rows) {
    std::string next;
    EXPECT_EQ(View(r.kinds, r.size, &next), r.view) << r.kinds << " size " << r.size;
    EXPECT_EQ(next, r.next) << r.kinds << " size " << r.size;
  }
}

TEST(TimelineView, ARunKeepsItsCountTimesAndLastText) {
  TimelineCoalescer c(10);
  for (auto& r : Entries("tddd")) c.Push(std::move(r));
  const auto out = c.Finish();
  ASSERT_EQ(out.size(), 2u);
  const TimelineRow& run = out[1];
  EXPECT_EQ(run.id, "inc-1-t2");
  EXPECT_EQ(run.at, kT0 + 2 * kSecond);
  EXPECT_EQ(run.body, "3 repeats; the last: entry 4");
  const JsonObject& meta = run.metadata.at("coalesced").as_object();
  EXPECT_EQ(meta.at("count").as_int64(), 3);
  EXPECT_EQ(meta.at("firstAt").as_string(), "2026-05-28T20:26:42Z");
  EXPECT_EQ(meta.at("lastAt").as_string(), "2026-05-28T20:26:44Z");
  EXPECT_EQ(meta.at("lastId").as_string(), "inc-1-t4");
}

TEST(TimelineView, CursorsRoundTripAndMalformedOnesAreRefused) {
  const TimelineCursor c{kT0, 42};
  auto back = ParseTimelineCursor(TimelineCursorText(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at, c.at);
  EXPECT_EQ(back->n, c.n);
  for (const char* bad : {"", "12", "a.b", "1.2.3", "1.", ".1", " 1.2", "1.2x"}) {
    EXPECT_FALSE(ParseTimelineCursor(bad)) << bad;
  }
}

}  // namespace
}  // namespace opsorch::engine
