// gettableSilence bytes against the real Alertmanager 0.25.
//
// The fixtures alertmanager_0_25_silences.json (GET /api/v2/silences) and
// alertmanager_0_25_silence.json (GET /api/v2/silence/62e19313-…) were captured from Debian's
// /usr/bin/prometheus-alertmanager 0.25.0 (0.25.0-1+b4) run on 127.0.0.1 with a fresh
// --storage.path and a one-receiver config, on 2026-12-06 at about 15:24:27Z: six silences were
// POSTed with curl (start times in the past, the future and with a +02:00 offset, an end with
// nanoseconds, HTML and U+2028 in the comment, all four matcher types), two were DELETEd, the
// server was restarted (so that the times are read back from its snapshot, in UTC, as after any
// restart) and the two GETs were saved with `curl -s`. Alertmanager ends each body with "\n"
// (Go's json.Encoder); the encoder here writes the value only.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/silence/silence.h>

#include "test_paths.h"

namespace opsorch::silence {
namespace {

std::int64_t T(std::string_view rfc3339) { return ParseRfc3339(rfc3339)->UnixNanos(); }

std::string Fixture(const char* name) {
  std::ifstream in(std::filesystem::path(OPSORCH_SILENCE_TEST_DIR) / name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::string s{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  EXPECT_FALSE(s.empty());
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Silence S(std::string id, std::vector<Matcher> m, std::int64_t starts, std::int64_t ends,
          std::int64_t updated, std::string created_by, std::string comment) {
  Silence s;
  s.id = std::move(id);
  s.matchers = std::move(m);
  s.starts_at = starts;
  s.ends_at = ends;
  s.updated_at = updated;
  s.created_by = std::move(created_by);
  s.comment = std::move(comment);
  return s;
}

// The six silences as Alertmanager held them (sub-millisecond digits made up: Alertmanager keeps
// nanoseconds and truncates them when it writes).
std::vector<Silence> Captured() {
  const std::int64_t sub_ms = 456'789;
  return {
      S("acb97b4d-9bfa-4247-af41-1c9e17f5c8de", {{"team", "ops", false, true}},
        T("2026-12-06T15:24:20.787Z") + sub_ms, T("2026-12-06T15:24:21.906Z") + sub_ms,
        T("2026-12-06T15:24:21.906Z") + sub_ms, "dave", "expired first"),
      S("62e19313-ee7f-458b-97d9-2d7d66bcd1d7",
        {{"alertname", "Disk\"Full <&>", false, true},
         {"job", "node|db", true, true},
         {"env", "prod", false, false},
         {"instance", "web-.*", true, false}},
        T("2026-12-06T15:24:20.668Z") + sub_ms, T("2030-06-01T12:00:00.123456789Z"),
        T("2026-12-06T15:24:20.668Z") + sub_ms, "zo\u00eb@example.com",
        "maintenance \u2028 <b>db</b> \"quoted\" \\ tab\t"),
      S("3bf4d1c9-6257-4462-b290-b870d5572a10", {{"severity", "critical", false, true}},
        T("2031-01-01T02:00:00+02:00"), T("2031-01-02T00:00:00Z"),
        T("2026-12-06T15:24:20.709Z") + sub_ms, "bob", ""),
      S("17193497-b4f3-4e59-90cd-9fabc148a14a", {{"service", "api", false, true}},
        T("2026-12-06T15:24:20.747Z") + sub_ms, T("2029-01-01T00:00:00Z"),
        T("2026-12-06T15:24:20.747Z") + sub_ms, "carol", "ends first"),
      S("d36df1a0-06ab-44f1-a6de-fae3390b8d75", {{"team", "dev", false, true}},
        T("2026-12-06T15:24:22.936Z") + sub_ms, T("2026-12-06T15:24:22.936Z") + sub_ms,
        T("2026-12-06T15:24:22.936Z") + sub_ms, "erin", "pending then expired"),
      S("a47a9f6d-d990-4f14-a4bc-340fa035fcb0", {{"cluster", "eu-1", false, true}},
        T("2030-01-01T00:00:00Z"), T("2030-02-01T00:00:00Z"),
        T("2026-12-06T15:24:21.877Z") + sub_ms, "frank", "pending, starts first"),
  };
}

const std::int64_t kCaptureTime = T("2026-12-06T15:24:27Z");

TEST(Encode, ListingIsAlertmanagersBytes) {
  std::vector<Silence> silences = Captured();
  SortSilences(silences, kCaptureTime);
  std::string out;
  AppendGettableSilences(out, silences, kCaptureTime);
  EXPECT_EQ(out, Fixture("alertmanager_0_25_silences.json"));
}

TEST(Encode, OneSilenceIsAlertmanagersBytes) {
  std::string out;
  AppendGettableSilence(out, Captured()[1], kCaptureTime);
  EXPECT_EQ(out, Fixture("alertmanager_0_25_silence.json"));
}

TEST(Encode, EmptyListing) {
  std::string out;
  AppendGettableSilences(out, {}, 0);
  EXPECT_EQ(out, "[]");  // Alertmanager initialises the slice: never null
}

TEST(Encode, MillisecondTimes) {
  const std::pair<std::int64_t, const char*> kCases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
      {1'999'999, "1970-01-01T00:00:00.001Z"},  // truncated, as Go's ".000"
      {T("2026-03-29T01:00:00.123456789Z"), "2026-03-29T01:00:00.123Z"},
      {T("1678-01-01T00:00:00Z"), "1678-01-01T00:00:00.000Z"},
      {T("2261-12-31T23:59:59.999999999Z"), "2261-12-31T23:59:59.999Z"},
  };
  for (const auto& [ns, want] : kCases) {
    std::string out;
    AppendRfc3339Millis(out, ns);
    EXPECT_EQ(out, want) << ns;
  }
}

// What GET returns can be sent back as an update (the UI does this): the same matchers and
// times (to the millisecond).
TEST(Encode, GettableDecodesAsPostable) {
  const Silence s = Captured()[1];
  std::string out;
  AppendGettableSilence(out, s, kCaptureTime);
  auto d = DecodePostableSilence(out, kCaptureTime);
  ASSERT_TRUE(d) << ToError(d.error()).message;
  EXPECT_EQ(d->id, s.id);
  EXPECT_EQ(d->matchers, s.matchers);
  EXPECT_EQ(d->created_by, s.created_by);
  EXPECT_EQ(d->comment, s.comment);
  EXPECT_EQ(d->ends_at, T("2030-06-01T12:00:00.123Z"));
  ASSERT_TRUE(ParseJson(out));
}

}  // namespace
}  // namespace opsorch::silence
