#include <gtest/gtest.h>

#include <opsorch/common/time.h>

namespace opsorch {
namespace {

TEST(Time, ZeroValueFormatsLikeGo) {
  EXPECT_EQ(FormatRfc3339Nano(Time{}), "0001-01-01T00:00:00Z");
  EXPECT_TRUE(Time{}.IsZero());
}

TEST(Time, NanosecondsTrimTrailingZeros) {
  EXPECT_EQ(FormatRfc3339Nano(Time::FromUnixNanos(1'704'067'200'120'000'000)),
            "2024-01-01T00:00:00.12Z");
  EXPECT_EQ(FormatRfc3339Nano(Time::FromUnixNanos(1'704'067'200'000'000'001)),
            "2024-01-01T00:00:00.000000001Z");
}

TEST(Time, ParseKeepsOffsetAndRoundTrips) {
  auto t = ParseRfc3339("2024-03-05T10:20:30.5+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->seconds, 1'709'626'830);  // 08:20:30Z
  EXPECT_EQ(t->nanos, 500'000'000);
  EXPECT_EQ(FormatRfc3339Nano(*t), "2024-03-05T10:20:30.5+02:00");
}

TEST(Time, ParseRejectsWithTheRule) {
  struct Case {
    const char* text;
    const char* rule;
  };
  for (const Case& c :
       {Case{"2024-01-01", "expected 'T'"}, Case{"2024-13-01T00:00:00Z", "month"},
        Case{"2023-02-29T00:00:00Z", "day"}, Case{"2024-01-01T24:00:00Z", "hour"},
        Case{"2024-01-01T00:00:00", "missing zone"}, Case{"2024-01-01T00:00:00Zjunk", "extra text"},
        Case{"2024-01-01T00:00:00+0200", "±hh:mm"}}) {
    auto t = ParseRfc3339(c.text);
    ASSERT_FALSE(t) << c.text;
    EXPECT_NE(t.error().message.find(c.rule), std::string::npos) << t.error().message;
    EXPECT_EQ(WireCode(t.error()), "bad_request");
  }
}

TEST(Time, LeapDayAndYearOne) {
  EXPECT_TRUE(ParseRfc3339("2024-02-29T23:59:59Z"));
  auto t = ParseRfc3339("0001-01-01T00:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->IsZero());
}

}  // namespace
// The whole contract range parses and formats (years 0001–9999); nanoseconds since 1970 fit
// an int64 only between 1677 and 2262: UnixNanos saturates there instead of wrapping, and
// UnixNanosChecked says so, so that code storing nanoseconds can refuse such times.
TEST(Time, FullRangeAndCheckedNanoseconds) {
  struct Row {
    const char* text;
    bool fits;
  } rows[] = {
      {"0001-01-01T00:00:00Z", false},           {"1677-09-21T00:12:43.145224192Z", true},
      {"1677-09-21T00:12:43.145224191Z", false}, {"1970-01-01T00:00:00Z", true},
      {"2262-04-11T23:47:16.854775807Z", true},  {"2262-04-11T23:47:16.854775808Z", false},
      {"9999-12-31T23:59:59.999999999Z", false},
  };
  for (const Row& r : rows) {
    auto t = ParseRfc3339(r.text);
    ASSERT_TRUE(t) << r.text;
    EXPECT_EQ(FormatRfc3339Nano(*t), r.text);
    EXPECT_EQ(t->UnixNanosChecked().has_value(), r.fits) << r.text;
    if (r.fits) {
      EXPECT_EQ(Time::FromUnixNanos(*t->UnixNanosChecked()), *t) << r.text;
    } else {
      EXPECT_EQ(t->UnixNanos(), t->seconds < 0 ? INT64_MIN : INT64_MAX) << r.text;
    }
  }
}

}  // namespace opsorch
