#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/workflow/metric_output.h>

namespace opsorch::workflow {
namespace {

TEST(RecordJsonTest, MetricLineHasFixedKeyOrderAndSortedDimensions) {
  Metric m{1700000000123, "cpu.load", 0.5, {{"zone", "b"}, {"host", "h1"}}};
  EXPECT_EQ(MetricLine(m, "dep-1", "tok"),
            R"({"type":"metric","timestamp":1700000000123,"key":"cpu.load","value":0.5,)"
            R"("dimensions":{"host":"h1","zone":"b"},"deployment":"dep-1","token":"tok"})");
}

TEST(RecordJsonTest, LogLineHasFixedKeyOrder) {
  LogLine l{42, "warn", "disk \"full\"\n", {{"step", "s1"}, {"deployment", "d"}}};
  EXPECT_EQ(LogLineJson(l, "d", "t"),
            R"({"type":"log","timestamp":42,"level":"warn","message":"disk \"full\"\n",)"
            R"("context":{"deployment":"d","step":"s1"},"deployment":"d","token":"t"})");
}

TEST(RecordJsonTest, NumbersAreShortestRoundTripAndNonFiniteIsNull) {
  struct Case {
    double v;
    const char* text;
  };
  const Case cases[] = {
      {3, "3"},
      {-17, "-17"},
      {0.1, "0.1"},
      {1.0 / 3, "0.3333333333333333"},
      {1e300, "1e+300"},
      {-0.0, "0"},
      {5e-324, "5e-324"},
      {std::numeric_limits<double>::quiet_NaN(), "null"},
      {std::numeric_limits<double>::infinity(), "null"},
      {-std::numeric_limits<double>::infinity(), "null"},
  };
  for (const auto& c : cases) {
    const std::string line = MetricLine({1, "k", c.v, {}}, "", "");
    EXPECT_NE(line.find(std::string("\"value\":") + c.text + ","), std::string::npos)
        << c.text << " in " << line;
    auto parsed = ParseJson(line);
    ASSERT_TRUE(parsed) << line;
    const auto& value = parsed->as_object().at("value");
    if (std::isfinite(c.v)) {
      EXPECT_EQ(value.to_number<double>(), c.v) << line;
    } else {
      EXPECT_TRUE(value.is_null()) << line;
    }
  }
}

TEST(RecordJsonTest, ControlCharactersAndInvalidUtf8StayValidJsonOnOneLine) {
  Metric m{1, std::string("a\x01\tb\xff", 5), 1, {{"k\n", "v\r\"\\"}}};
  const std::string line = MetricLine(m, "d<", "t&");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto parsed = ParseJson(line);
  ASSERT_TRUE(parsed) << line;
  EXPECT_EQ(parsed->as_object().at("dimensions").as_object().at("k\n").as_string(), "v\r\"\\");
  EXPECT_EQ(parsed->as_object().at("deployment").as_string(), "d<");
}

}  // namespace
}  // namespace opsorch::workflow
