#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <opsorch/common/json_writer.h>

namespace opsorch {
namespace {

std::string Str(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string Dbl(double v) {
  std::string out;
  AppendJsonDouble(out, v);
  return out;
}

TEST(JsonWriter, HtmlCharactersAreEscapedLikeGo) {
  EXPECT_EQ(Str("<a href=\"x\">&</a>"), R"("\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e")");
}

TEST(JsonWriter, ControlCharactersAndSeparators) {
  EXPECT_EQ(Str("a\nb\tc\rd\x01"), R"("a\nb\tc\rd\u0001")");
  EXPECT_EQ(Str("\xE2\x80\xA8|\xE2\x80\xA9"), R"("\u2028|\u2029")");
}

TEST(JsonWriter, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Str("ok\xFFok"), R"("ok\ufffdok")");
  EXPECT_EQ(Str("\xC0\xAF"), R"("\ufffd\ufffd")");            // overlong
  EXPECT_EQ(Str("\xED\xA0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
  EXPECT_EQ(Str("h\xC3\xA9llo"), "\"h\xC3\xA9llo\"");         // valid stays
}

TEST(JsonWriter, FloatsFollowGoFormatting) {
  EXPECT_EQ(Dbl(1), "1");
  EXPECT_EQ(Dbl(0.1), "0.1");
  EXPECT_EQ(Dbl(1e20), "100000000000000000000");
  EXPECT_EQ(Dbl(1e21), "1e+21");
  EXPECT_EQ(Dbl(0.000001), "0.000001");
  EXPECT_EQ(Dbl(0.0000001), "1e-7");
  EXPECT_EQ(Dbl(-2.5), "-2.5");
  EXPECT_EQ(Dbl(0.43999999999999995), "0.43999999999999995");
}

TEST(JsonWriter, ObjectKeysAreSorted) {
  std::string out;
  AppendJsonValue(out, boost::json::parse(R"({"b":1,"a":{"d":[true,null],"c":"x"}})"));
  EXPECT_EQ(out, R"({"a":{"c":"x","d":[true,null]},"b":1})");
}

TEST(JsonWriter, ErrorBody) {
  EXPECT_EQ(ErrorBody("not_found", "no <such> thing"),
            R"({"code":"not_found","message":"no \u003csuch\u003e thing"})");
}

}  // namespace
}  // namespace opsorch
