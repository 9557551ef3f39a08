// POST /api/v2/silences bodies: every validation rule with its field path and message. The
// wording follows Alertmanager 0.25 where it has one (checked with the real binary: e.g.
// `invalid label name "0a"`, "at least one matcher must not match the empty string",
// "start time must be before end time", "end time can't be in the past").
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/time.h>
#include <opsorch/silence/silence.h>

namespace opsorch::silence {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::int64_t T(std::string_view rfc3339) { return ParseRfc3339(rfc3339)->UnixNanos(); }

const std::int64_t kNow = T("2026-01-05T12:00:00Z");

// A valid body with `matchers` and `rest` (the fields after matchers) replaceable.
std::string Body(
    const std::string& matchers = R"([{"name":"alertname","value":"Disk","isRegex":false}])",
    const std::string& rest =
        R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":"alice","comment":"c")") {
  return "{\"matchers\":" + matchers + "," + rest + "}";
}

std::string Times(const std::string& starts, const std::string& ends) {
  return "\"startsAt\":" + starts + ",\"endsAt\":" + ends + R"(,"createdBy":"a","comment":"c")";
}

TEST(Decode, ValidBody) {
  auto d = DecodePostableSilence(
      R"({"id":"x1","matchers":[{"name":"a","value":"b","isRegex":false},{"name":"c","value":"d.*","isRegex":true,"isEqual":false}],"startsAt":"2026-01-05T10:00:00.5+01:00","endsAt":"2026-01-06T10:00:00Z","createdBy":"alice","comment":"why"})",
      kNow);
  ASSERT_TRUE(d) << ToError(d.error()).message;
  EXPECT_EQ(d->id, "x1");
  ASSERT_EQ(d->matchers.size(), 2u);
  EXPECT_EQ(d->matchers[0], (Matcher{"a", "b", false, true}));  // isEqual defaults to true
  EXPECT_EQ(d->matchers[1], (Matcher{"c", "d.*", true, false}));
  EXPECT_EQ(d->starts_at, T("2026-01-05T09:00:00.5Z"));
  EXPECT_EQ(d->ends_at, T("2026-01-06T10:00:00Z"));
  EXPECT_EQ(d->created_by, "alice");
  EXPECT_EQ(d->comment, "why");
  EXPECT_EQ(d->scope, "");
}

// What go-swagger and Go's encoding/json let through (all checked with the real binary).
TEST(Decode, LikeGoSwagger) {
  // Unknown fields are ignored, at any level.
  EXPECT_TRUE(DecodePostableSilence(
      Body(
          R"([{"name":"a","value":"x","isRegex":false,"foo":1}])",
          R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":"a","comment":"c","bar":{"x":[1]})"),
      kNow));
  // Keys match ignoring case.
  auto d = DecodePostableSilence(
      R"({"MATCHERS":[{"Name":"a","VALUE":"x","isregex":false}],"StartsAt":"2026-01-05T10:00:00Z","endsat":"2026-01-06T10:00:00Z","createdby":"a","Comment":"c"})",
      kNow);
  ASSERT_TRUE(d) << ToError(d.error()).message;
  EXPECT_EQ(d->matchers[0].value, "x");
  // Empty createdBy and comment are fine (required means present); null id and null isEqual are
  // absent.
  d = DecodePostableSilence(
      R"({"id":null,"matchers":[{"name":"a","value":"x","isRegex":false,"isEqual":null}],"startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":"","comment":""})",
      kNow);
  ASSERT_TRUE(d) << ToError(d.error()).message;
  EXPECT_EQ(d->id, "");
  EXPECT_TRUE(d->matchers[0].is_equal);
  // The end may be now exactly (Before(now) is false).
  EXPECT_TRUE(
      DecodePostableSilence(Body(R"([{"name":"a","value":"x","isRegex":false}])",
                                 Times("\"2026-01-05T11:00:00Z\"", "\"2026-01-05T12:00:00Z\"")),
                            kNow));
}

struct Refusal {
  const char* what;
  std::string body;
  std::string field;
  std::string message;  // exact, or a prefix when `prefix`
  bool prefix = false;
};

TEST(Decode, EveryRuleNamesTheFieldAndTheRule) {
  const std::string m1 = R"([{"name":"a","value":"x","isRegex":false}])";
  const std::string times = Times("\"2026-01-05T10:00:00Z\"", "\"2026-01-06T10:00:00Z\"");
  std::string many = "[";
  for (int i = 0; i < 65; ++i)
    many += std::string(i ? "," : "") + R"({"name":"a","value":"x","isRegex":false})";
  many += "]";
  const Refusal kCases[] = {
      {"empty body", "", "", "silence in body is required"},
      {"whitespace body", " \n", "", "silence in body is required"},
      {"not JSON", "{", "", "", true},
      {"not an object", "[1]", "", "must be a JSON object"},
      {"too large",
       Body(m1, times.substr(0, times.size()) + ",\"x\":\"" + std::string(70000, 'a') + "\""), "",
       "body must be at most 65536 bytes"},
      {"too deep", Body(m1, times + R"(,"x":[[[[[[[[[]]]]]]]]])"), "", "json: nesting exceeds",
       true},
      {"matchers missing", "{" + times + "}", "matchers", "is required"},
      {"matchers null", Body("null", times), "matchers", "is required"},
      {"matchers not an array", Body("{}", times), "matchers", "must be an array"},
      {"matchers empty", Body("[]", times), "matchers", "should have at least 1 items"},
      {"too many matchers", Body(many, times), "matchers", "must have at most 64 items"},
      {"matcher not an object", Body("[1]", times), "matchers[0]", "must be an object"},
      {"name missing", Body(R"([{"value":"x","isRegex":false}])", times), "matchers[0].name",
       "is required"},
      {"value missing", Body(R"([{"name":"a","isRegex":false}])", times), "matchers[0].value",
       "is required"},
      {"isRegex missing", Body(R"([{"name":"a","value":"x"}])", times), "matchers[0].isRegex",
       "is required"},
      {"isRegex null", Body(R"([{"name":"a","value":"x","isRegex":null}])", times),
       "matchers[0].isRegex", "is required"},
      {"isRegex a string", Body(R"([{"name":"a","value":"x","isRegex":"false"}])", times),
       "matchers[0].isRegex", "must be true or false"},
      {"isEqual a number", Body(R"([{"name":"a","value":"x","isRegex":false,"isEqual":1}])", times),
       "matchers[0].isEqual", "must be true or false"},
      {"value a number", Body(R"([{"name":"a","value":5,"isRegex":false}])", times),
       "matchers[0].value", "must be a string"},
      {"name starts with a digit", Body(R"([{"name":"0a","value":"x","isRegex":false}])", times),
       "matchers[0].name", "invalid label name \"0a\""},
      {"name with a colon", Body(R"([{"name":"a:b","value":"x","isRegex":false}])", times),
       "matchers[0].name", "invalid label name \"a:b\""},
      {"name empty", Body(R"([{"name":"","value":"x","isRegex":false}])", times),
       "matchers[0].name", "invalid label name \"\""},
      {"name too long",
       Body("[{\"name\":\"" + std::string(257, 'a') + R"(","value":"x","isRegex":false}])", times),
       "matchers[0].name", "must be at most 256 bytes"},
      {"value too long",
       Body(R"([{"name":"a","value":")" + std::string(1025, 'x') + R"(","isRegex":false}])", times),
       "matchers[0].value", "must be at most 1024 bytes"},
      {"regex too long",
       Body(R"([{"name":"a","value":")" + std::string(513, 'x') + R"(","isRegex":true}])", times),
       "matchers[0].value", "regular expression must be at most 512 bytes"},
      {"regex does not compile", Body(R"([{"name":"a","value":"(","isRegex":true}])", times),
       "matchers[0].value", "invalid regular expression \"(\": regex:", true},
      {"NUL in a value", Body(R"([{"name":"a","value":"x\u0000y","isRegex":false}])", times),
       "matchers[0].value", "must not contain NUL characters"},
      {"second matcher",
       Body(
           R"([{"name":"a","value":"x","isRegex":false},{"name":"b-c","value":"x","isRegex":false}])",
           times),
       "matchers[1].name", "invalid label name \"b-c\""},
      {"only empty-matching matchers", Body(R"([{"name":"a","value":"","isRegex":false}])", times),
       "matchers", "at least one matcher must not match the empty string"},
      {"startsAt missing",
       Body(m1, R"("endsAt":"2026-01-06T10:00:00Z","createdBy":"a","comment":"c")"), "startsAt",
       "is required"},
      {"endsAt missing",
       Body(m1, R"("startsAt":"2026-01-06T10:00:00Z","createdBy":"a","comment":"c")"), "endsAt",
       "is required"},
      {"startsAt not RFC 3339", Body(m1, Times("\"2026-01-05 10:00\"", "\"2026-01-06T10:00:00Z\"")),
       "startsAt", "must be an RFC 3339 time (", true},
      {"startsAt a number", Body(m1, Times("5", "\"2026-01-06T10:00:00Z\"")), "startsAt",
       "must be an RFC 3339 time string"},
      {"endsAt out of the nanosecond range",
       Body(m1, Times("\"2026-01-05T10:00:00Z\"", "\"2300-01-01T00:00:00Z\"")), "endsAt",
       std::string(Time::kNanosRange)},
      {"start equals end", Body(m1, Times("\"2026-01-06T10:00:00Z\"", "\"2026-01-06T10:00:00Z\"")),
       "endsAt", "start time must be before end time"},
      {"start after end", Body(m1, Times("\"2026-01-07T10:00:00Z\"", "\"2026-01-06T10:00:00Z\"")),
       "endsAt", "start time must be before end time"},
      {"end in the past",
       Body(m1, Times("\"2026-01-05T10:00:00Z\"", "\"2026-01-05T11:59:59.999Z\"")), "endsAt",
       "end time can't be in the past"},
      {"createdBy missing",
       Body(m1,
            R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","comment":"c")"),
       "createdBy", "is required"},
      {"comment null",
       Body(
           m1,
           R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":"a","comment":null)"),
       "comment", "is required"},
      {"createdBy too long",
       Body(m1,
            R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":")" +
                std::string(257, 'a') + R"(","comment":"c")"),
       "createdBy", "must be at most 256 bytes"},
      {"comment too long",
       Body(
           m1,
           R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":"a","comment":")" +
               std::string(4097, 'a') + "\""),
       "comment", "must be at most 4096 bytes"},
      {"NUL in the comment",
       Body(
           m1,
           R"("startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-06T10:00:00Z","createdBy":"a","comment":"\u0000")"),
       "comment", "must not contain NUL characters"},
      {"id a number", "{\"id\":5," + Body(m1, times).substr(1), "id", "must be a string"},
  };
  for (const Refusal& c : kCases) {
    auto d = DecodePostableSilence(c.body, kNow);
    ASSERT_FALSE(d) << c.what;
    const FieldError& e = d.error().front();
    EXPECT_EQ(e.field, c.field) << c.what << ": " << e.message;
    if (c.prefix) {
      EXPECT_THAT(e.message, StartsWith(c.message)) << c.what;
    } else {
      EXPECT_EQ(e.message, c.message) << c.what;
    }
  }
}

TEST(Decode, EveryProblemIsReported) {
  auto d = DecodePostableSilence(
      R"({"matchers":[{"name":"0a","value":"x","isRegex":false},{"name":"b","value":"(","isRegex":true}],"startsAt":"2026-01-05T10:00:00Z","endsAt":"2026-01-05T09:00:00Z","createdBy":"a"})",
      kNow);
  ASSERT_FALSE(d);
  std::vector<std::string> fields;
  for (const FieldError& e : d.error()) fields.push_back(e.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"matchers[0].name", "matchers[1].value", "endsAt",
                                              "endsAt", "comment"}));
  const Error e = ToError(d.error());
  EXPECT_EQ(e.code, errc::kBadRequest);
  EXPECT_EQ(e.message, "matchers[0].name: invalid label name \"0a\"");
  EXPECT_EQ(e.details.size(), 5u);
  EXPECT_EQ(e.details[4], "comment: is required");
}

// "at least one matcher must not match the empty string", silence.go's rule: only = and =~
// matchers can match the empty string for it, so a silence of only != or !~ matchers is accepted
// even when they match "" ({a!~".+"}): Alertmanager 0.25 accepts it (checked with the binary).
TEST(Decode, EmptyStringRule) {
  const std::pair<const char*, bool> kCases[] = {
      {R"([{"name":"a","value":"","isRegex":false}])", false},                  // {a=""}
      {R"([{"name":"a","value":"","isRegex":false,"isEqual":false}])", true},   // {a!=""}
      {R"([{"name":"a","value":".*","isRegex":true}])", false},                 // {a=~".*"}
      {R"([{"name":"a","value":".+","isRegex":true}])", true},                  // {a=~".+"}
      {R"([{"name":"a","value":".+","isRegex":true,"isEqual":false}])", true},  // {a!~".+"}
      {R"([{"name":"a","value":"x","isRegex":false,"isEqual":false}])", true},  // {a!="x"}
      {R"([{"name":"a","value":"x|","isRegex":true}])", false},                 // {a=~"x|"}
      {R"([{"name":"a","value":"(x)?","isRegex":true}])", false},               // {a=~"(x)?"}
      {R"([{"name":"a","value":"","isRegex":false},{"name":"b","value":".*","isRegex":true}])",
       false},  // {a="", b=~".*"}
      {R"([{"name":"a","value":"","isRegex":false},{"name":"b","value":"x","isRegex":false}])",
       true},  // {a="", b="x"}
  };
  for (const auto& [matchers, accepted] : kCases) {
    auto d = DecodePostableSilence(
        Body(matchers, Times("\"2026-01-05T10:00:00Z\"", "\"2026-01-06T10:00:00Z\"")), kNow);
    EXPECT_EQ(static_cast<bool>(d), accepted) << matchers;
    if (!d) {
      EXPECT_EQ(d.error().front().field, "matchers") << matchers;
      EXPECT_EQ(d.error().front().message, "at least one matcher must not match the empty string");
    }
  }
}

TEST(Decode, InvalidUtf8IsRefusedByTheJsonReader) {
  auto d =
      DecodePostableSilence(Body("[{\"name\":\"a\",\"value\":\"\xFF\",\"isRegex\":false}]",
                                 Times("\"2026-01-05T10:00:00Z\"", "\"2026-01-06T10:00:00Z\"")),
                            kNow);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().front().field, "");
  EXPECT_THAT(d.error().front().message, HasSubstr("UTF-8"));
}

}  // namespace
}  // namespace opsorch::silence
