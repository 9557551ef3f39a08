#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>

namespace opsorch {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string RoundTrip(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v) << v.error().message;
  std::string out;
  if (v) AppendJsonValue(out, *v);
  return out;
}

TEST(ParseJson, NumbersAreCorrectlyRounded) {
  // Boost.JSON 1.81 alone reads the first two one ULP off; the others are edges of the range.
  for (const char* literal : {"113.17408141314563", "2.877777777777777e+76", "0.30000000000000004",
                              "1.7976931348623157e+308", "5e-324"}) {
    auto v = ParseJson(literal);
    ASSERT_TRUE(v) << literal;
    ASSERT_TRUE(v->is_double()) << literal;
    EXPECT_EQ(v->get_double(), std::strtod(literal, nullptr)) << literal;
  }
  EXPECT_EQ(RoundTrip(R"({"a":113.17408141314563})"), R"({"a":113.17408141314563})");
}

TEST(ParseJson, IntegersStayIntegers) {
  auto v = ParseJson("[-12, 18446744073709551615, 0]");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->as_array()[0].as_int64(), -12);
  EXPECT_EQ(v->as_array()[1].as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(v->as_array()[2].as_int64(), 0);
}

TEST(ParseJson, OverflowIsAnErrorNamingTheNumber) {
  for (const char* text : {R"({"x":1e400})", "[-1.5e999]"}) {
    auto v = ParseJson(text);
    ASSERT_FALSE(v) << text;
    EXPECT_EQ(v.error().code, errc::kBadRequest);
    EXPECT_THAT(v.error().message, HasSubstr("out of the range of a float64")) << text;
  }
  EXPECT_THAT(ParseJson(R"({"x":1e400})").error().message, HasSubstr("1e400"));
}

TEST(ParseJson, DocumentsWithSecretsDoNotQuoteTheNumber) {
  JsonParseOptions secret;
  secret.quote_values_in_errors = false;
  auto v = ParseJson(R"({"pin":98765e400})", secret);
  ASSERT_FALSE(v);
  EXPECT_THAT(v.error().message, Not(HasSubstr("98765")));
  EXPECT_THAT(v.error().message, HasSubstr("out of the range of a float64"));
}

TEST(ParseJson, UnderflowIsZeroWithItsSign) {
  auto v = ParseJson("[1e-400, -1e-400]");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->as_array()[0].as_double(), 0.0);
  EXPECT_FALSE(std::signbit(v->as_array()[0].as_double()));
  EXPECT_TRUE(std::signbit(v->as_array()[1].as_double()));
}

TEST(ParseJson, TrailingDataOnlyWhenAllowed) {
  EXPECT_TRUE(ParseJson("{} \n\t"));
  auto strict = ParseJson("{} x");
  ASSERT_FALSE(strict);
  EXPECT_THAT(strict.error().message, HasSubstr("after top-level value at offset 3"));
  JsonParseOptions first_value_only;
  first_value_only.allow_trailing_data = true;
  auto lenient = ParseJson(R"({"a":1} {"b":2})", first_value_only);
  ASSERT_TRUE(lenient);
  EXPECT_TRUE(lenient->as_object().contains("a"));
}

TEST(ParseJson, ErrorsSayWhatAndWhere) {
  EXPECT_EQ(ParseJson(R"({"a":)").error().message, "unexpected EOF");
  EXPECT_THAT(ParseJson(R"({"a":tru})").error().message, HasSubstr("at offset"));
  // Invalid UTF-8 is named as such, with where it is (in a string, a key, split sequences).
  EXPECT_EQ(ParseJson("\"\xff\"").error().message,
            "json: invalid UTF-8 at offset 1 (JSON text must be UTF-8)");
  EXPECT_EQ(ParseJson("{\"k\xc3\":1}").error().message,
            "json: invalid UTF-8 at offset 3 (JSON text must be UTF-8)");
  EXPECT_EQ(ParseJson("[\"ok\", \"\xe2\x82\"]").error().message,
            "json: invalid UTF-8 at offset 8 (JSON text must be UTF-8)");
  JsonParseOptions shallow;
  shallow.max_depth = 3;
  EXPECT_TRUE(ParseJson("[[[1]]]", shallow));
  EXPECT_EQ(ParseJson("[[[[1]]]]", shallow).error().message,
            "json: nesting exceeds the limit of 3 levels");
}

TEST(ParseJson, LongStringsAndKeysSurviveTheScratchBuffer) {
  const std::string big(100000, 'x');
  auto v = ParseJson("{\"" + big + "\":\"" + big + "\"}");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->as_object().at(big).as_string(), big);
}

TEST(JsonStreamReader, ReadsValuesSplitAtEveryByte) {
  const std::string stream =
      "{\"result\":[1.5,113.17408141314563,\"x\\u00e9\"]}\n {\"error\":null}";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    JsonStreamReader reader;
    std::vector<JsonValue> values;
    for (std::string_view part :
         {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      while (!part.empty()) {
        auto used = reader.Feed(part);
        ASSERT_TRUE(used) << used.error().message << " cut=" << cut;
        part.remove_prefix(*used);
        if (reader.Done()) values.push_back(reader.Take());
      }
    }
    ASSERT_EQ(values.size(), 2u) << "cut=" << cut;
    EXPECT_EQ(values[0].at("result").as_array()[1].as_double(), 113.17408141314563);
    EXPECT_EQ(values[0].at("result").as_array()[2].as_string(), "x\u00e9");
    EXPECT_TRUE(values[1].at("error").is_null());
    EXPECT_FALSE(reader.InValue());
  }
}

TEST(JsonStreamReader, StopsAtTheEndOfAValue) {
  JsonStreamReader reader;
  const std::string_view two = R"({"a":1}{"b":2})";
  auto used = reader.Feed(two);
  ASSERT_TRUE(used);
  EXPECT_EQ(*used, 7u);
  ASSERT_TRUE(reader.Done());
  EXPECT_TRUE(reader.Take().as_object().contains("a"));
  EXPECT_FALSE(reader.Done());
}

TEST(JsonStreamReader, GarbageIsAnErrorAndResetRecovers) {
  JsonStreamReader reader;
  EXPECT_TRUE(reader.Feed("   \n"));
  EXPECT_FALSE(reader.InValue());
  ASSERT_TRUE(reader.Feed("{\"a\":"));
  EXPECT_TRUE(reader.InValue());
  auto bad = reader.Feed("nope}");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("json: "));
  reader.Reset();
  ASSERT_TRUE(reader.Feed("[true]"));
  EXPECT_TRUE(reader.Done());
}

TEST(JsonStreamReader, DepthLimitApplies) {
  JsonParseOptions shallow;
  shallow.max_depth = 2;
  JsonStreamReader reader(shallow);
  auto r = reader.Feed("[[[");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "json: nesting exceeds the limit of 2 levels");
}

}  // namespace
}  // namespace opsorch
