// iCal export: exact output, escaping, folding at 75 octets on UTF-8 boundaries, CRLF.
#include <gtest/gtest.h>

#include <opsorch/common/time.h>
#include <opsorch/paging/schedule.h>

namespace opsorch::paging {
namespace {

std::int64_t T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? t->seconds : 0;
}

std::vector<std::string> PhysicalLines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t crlf = text.find("\r\n", pos);
    if (crlf == std::string::npos) {
      out.push_back(text.substr(pos));
      break;
    }
    out.push_back(text.substr(pos, crlf - pos));
    pos = crlf + 2;
  }
  return out;
}

TEST(ICal, ExactCalendar) {
  const std::vector<Entry> entries = {
      {"alice", T("2026-03-23T09:00:00+01:00"), T("2026-03-30T09:00:00+02:00")},
      {"bob", T("2026-03-30T09:00:00+02:00"), T("2026-04-06T09:00:00+02:00")},
  };
  const std::string got = ToICal("Primary", entries, "s1", T("2026-03-20T12:00:00Z"));
  const std::string want =
      "BEGIN:VCALENDAR\r\n"
      "VERSION:2.0\r\n"
      "PRODID:-//opsorch//paging//EN\r\n"
      "CALSCALE:GREGORIAN\r\n"
      "METHOD:PUBLISH\r\n"
      "X-WR-CALNAME:Primary\r\n"
      "BEGIN:VEVENT\r\n"
      "UID:s1-1774252800-1774854000-aa92c3cca816cda5@opsorch\r\n"
      "DTSTAMP:20260320T120000Z\r\n"
      "DTSTART:20260323T080000Z\r\n"
      "DTEND:20260330T070000Z\r\n"
      "SUMMARY:On call: alice\r\n"
      "TRANSP:TRANSPARENT\r\n"
      "END:VEVENT\r\n"
      "BEGIN:VEVENT\r\n"
      "UID:s1-1774854000-1775458800-d730e751077ecce2@opsorch\r\n"
      "DTSTAMP:20260320T120000Z\r\n"
      "DTSTART:20260330T070000Z\r\n"
      "DTEND:20260406T070000Z\r\n"
      "SUMMARY:On call: bob\r\n"
      "TRANSP:TRANSPARENT\r\n"
      "END:VEVENT\r\n"
      "END:VCALENDAR\r\n";
  EXPECT_EQ(got, want);
}

TEST(ICal, EmptyCalendarHasNoEvents) {
  const std::string got = ToICal("Primary", {}, "s1", 0);
  EXPECT_EQ(got.find("BEGIN:VEVENT"), std::string::npos);
  EXPECT_EQ(got.substr(got.size() - 15), "END:VCALENDAR\r\n");
}

TEST(ICal, EscapesText) {
  const std::string got = ToICal("Ops, Team; A\\B\nnext\r\nend", {}, "s1", 0);
  EXPECT_NE(got.find("X-WR-CALNAME:Ops\\, Team\\; A\\\\B\\nnext\\nend\r\n"), std::string::npos)
      << got;
}

TEST(ICal, OneEventPerEntryAndCrlfOnly) {
  std::vector<Entry> entries;
  for (int i = 0; i < 5; ++i) {
    entries.push_back({"user" + std::to_string(i), 1000 * i, 1000 * i + 500});
  }
  const std::string got = ToICal("C", entries, "s1", 0);
  std::size_t events = 0;
  for (std::size_t p = got.find("BEGIN:VEVENT"); p != std::string::npos;
       p = got.find("BEGIN:VEVENT", p + 1)) {
    ++events;
  }
  EXPECT_EQ(events, 5u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] == '\n') {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(got[i - 1], '\r') << "bare LF at " << i;
    }
  }
}

TEST(ICal, FoldsAt75Octets) {
  const std::string user(100, 'x');
  const std::string got = ToICal("C", {Entry{user, 0, 60}}, "s1", 0);
  // "SUMMARY:On call: " is 17 octets + 100 'x' = 117: 75, then " " + 42.
  const std::string want =
      "SUMMARY:On call: " + std::string(58, 'x') + "\r\n " + std::string(42, 'x') + "\r\n";
  EXPECT_NE(got.find(want), std::string::npos) << got;
  for (const std::string& line : PhysicalLines(got)) EXPECT_LE(line.size(), 75u) << line;
}

TEST(ICal, FoldingNeverSplitsAUtf8Sequence) {
  // "X-WR-CALNAME:" (13) + 61 'a' = 74 octets; "é" (2 octets) would straddle octet 75, so the
  // fold comes before it.
  const std::string name = std::string(61, 'a') + "\xC3\xA9" + "b";
  const std::string got = ToICal(name, {}, "s1", 0);
  const std::string want = "X-WR-CALNAME:" + std::string(61, 'a') + "\r\n \xC3\xA9" + "b\r\n";
  EXPECT_NE(got.find(want), std::string::npos) << got;
  // A long run of 3-octet characters: every physical line ends on a character boundary.
  std::string yen;
  for (int i = 0; i < 60; ++i) yen += "\xE2\x82\xAC";  // €
  const std::string euros = ToICal(yen, {}, "s1", 0);
  for (const std::string& line : PhysicalLines(euros)) {
    EXPECT_LE(line.size(), 75u);
    ASSERT_FALSE(line.empty());
    const auto last = static_cast<unsigned char>(line.back());
    if (line.find("\xE2\x82\xAC") != std::string::npos) {
      EXPECT_EQ(last, 0xAC) << line;
    }
  }
}

}  // namespace
}  // namespace opsorch::paging
