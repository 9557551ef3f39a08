// The `filter` parameters: the matcher text syntax (pkg/labels ParseMatcher/ParseMatchers) and
// how GET /api/v2/silences and /api/v2/alerts apply them. The outcomes and error texts marked
// [AM] were checked against Alertmanager 0.25's GET /api/v2/silences?filter=….
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/silence/silence.h>

namespace opsorch::silence {
namespace {

using ::testing::StartsWith;

Matcher M(std::string n, std::string op, std::string v) {
  return {std::move(n), std::move(v), op == "=~" || op == "!~", op == "=" || op == "=~"};
}

struct ParseCase {
  std::string text;
  std::optional<Matcher> want;
  std::string error;  // prefix of the message when refused
};

TEST(ParseMatcher, Table) {
  const ParseCase kCases[] = {
      {"a=x", M("a", "=", "x"), ""},                        // [AM]
      {"a=\"x\"", M("a", "=", "x"), ""},                    // [AM]
      {" a = \"x\" ", M("a", "=", "x"), ""},                // [AM]
      {"a!=\"\"", M("a", "!=", ""), ""},                    // [AM]
      {"a!=foo", M("a", "!=", "foo"), ""},                  // [AM]
      {"job=~\"node|db\"", M("job", "=~", "node|db"), ""},  // [AM]
      {"job!~\"node|db\"", M("job", "!~", "node|db"), ""},  // [AM]
      {"a:b=\"x\"", M("a:b", "=", "x"), ""},                // [AM] colons are allowed here
      {"a=", M("a", "=", ""), ""},                          // [AM]
      {"a=\"x\" ", M("a", "=", "x"), ""},                   // [AM]
      {"q=1,p=1", M("q", "=", "1,p=1"), ""},                // [AM] one matcher per filter
      {"alertname=\"Disk\\\"Full<&>\"", M("alertname", "=", "Disk\"Full<&>"), ""},  // [AM]
      {"a=\"x\\\\y\"", M("a", "=", "x\\y"), ""},
      {"a=\"x\\ny\"", M("a", "=", "x\ny"), ""},
      {"a=\"x\\qy\"", M("a", "=", "x\\qy"), ""},  // a spurious escape keeps its backslash
      {"a=x\\", M("a", "=", "x\\"), ""},          // a trailing backslash is literal
      {"a==b", M("a", "=", "=b"), ""},
      {"a=~\"=\"", M("a", "=~", "="), ""},
      {"a=\"\"", M("a", "=", ""), ""},
      {"a=\t x y \n", M("a", "=", "x y"), ""},
      {"a=\"é\"", M("a", "=", "é"), ""},
      {"{a=\"x\"}", std::nullopt, "bad matcher format: {a=\"x\"}"},  // [AM]
      {"0a=x", std::nullopt, "bad matcher format: 0a=x"},            // [AM]
      {"", std::nullopt, "bad matcher format: "},                    // [AM]
      {"a", std::nullopt, "bad matcher format: a"},
      {"a<x", std::nullopt, "bad matcher format: a<x"},
      {"a=\"x", std::nullopt, "matcher value contains unescaped double quote: \"x"},    // [AM]
      {"a=x\"y", std::nullopt, "matcher value contains unescaped double quote: x\"y"},  // [AM]
      {"a=\"", std::nullopt, "matcher value contains unescaped double quote: \""},
      {"a=\"x\"y\"", std::nullopt, "matcher value contains unescaped double quote: \"x\"y\""},
      {"a=\"\xFF\"", std::nullopt, "matcher value not valid UTF-8: "},
      {"a=~\"(\"", std::nullopt, "regex: "},  // [AM] refuses it too (Go's wording differs)
      {"a=" + std::string(5000, 'x'), std::nullopt, "matcher expression longer than 4096 bytes"},
  };
  for (const ParseCase& c : kCases) {
    auto m = ParseMatcher(c.text);
    if (c.want) {
      ASSERT_TRUE(m) << ::testing::PrintToString(c.text) << ": " << m.error().message;
      EXPECT_EQ(*m, *c.want) << ::testing::PrintToString(c.text);
    } else {
      ASSERT_FALSE(m) << ::testing::PrintToString(c.text);
      EXPECT_EQ(m.error().code, errc::kBadRequest);
      EXPECT_THAT(m.error().message, StartsWith(c.error)) << ::testing::PrintToString(c.text);
    }
  }
}

TEST(ParseMatchers, Table) {
  const std::pair<std::string, std::vector<Matcher>> kCases[] = {
      {"{foo = \"bar\", dings != \"bums\", }", {M("foo", "=", "bar"), M("dings", "!=", "bums")}},
      {"foo=bar,dings!=bums", {M("foo", "=", "bar"), M("dings", "!=", "bums")}},
      {"foo=bar, dings!=bums", {M("foo", "=", "bar"), M("dings", "!=", "bums")}},
      {"{quote=\"She said: \\\"Hi, ladies! That's gender-neutral…\\\"\"}",
       {M("quote", "=", "She said: \"Hi, ladies! That's gender-neutral…\"")}},
      {"statuscode=~\"5..\"", {M("statuscode", "=~", "5..")}},
      {"a=\"x,y\",b=z", {M("a", "=", "x,y"), M("b", "=", "z")}},
      {"{}", {}},
      {"", {}},
      {"a=b,\u00a0", {M("a", "=", "b")}},  // the last piece is trimmed as Go's TrimSpace does
  };
  for (const auto& [text, want] : kCases) {
    auto m = ParseMatchers(text);
    ASSERT_TRUE(m) << text << ": " << m.error().message;
    EXPECT_EQ(*m, want) << text;
  }
  auto empty_piece = ParseMatchers("a=b,,c=d");
  ASSERT_FALSE(empty_piece);
  EXPECT_EQ(empty_piece.error().message, "bad matcher format: ");
  // An invalid byte becomes U+FFFD while splitting (Go ranges over runes), so it is accepted.
  auto replaced = ParseMatchers("a=\"\xFF\"");
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(replaced->front().value, "\xEF\xBF\xBD");
}

TEST(ParseFilter, OneMatcherPerParameter) {
  auto f = ParseFilter(std::vector<std::string>{"a=\"x\"", "b!~\"y.*\""});
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (std::vector<Matcher>{M("a", "=", "x"), M("b", "!~", "y.*")}));
  auto braces = ParseFilter(std::vector<std::string>{"{a=\"x\"}"});
  ASSERT_FALSE(braces);
  EXPECT_EQ(braces.error().message, "bad matcher format: {a=\"x\"}");
}

// The silence must hold an identical matcher for every filter matcher; nothing is evaluated.
TEST(SilenceFilter, Table) {
  Silence s;
  s.matchers = {M("alertname", "=", "Disk"), M("job", "=~", "node|db"), M("env", "!=", "prod")};
  const std::pair<std::vector<Matcher>, bool> kCases[] = {
      {{}, true},
      {{M("alertname", "=", "Disk")}, true},
      {{M("alertname", "=~", "Disk")}, false},  // another type
      {{M("alertname", "=", "disk")}, false},
      {{M("job", "=~", "node|db")}, true},
      {{M("job", "=", "node")}, false},  // not evaluated against the regex
      {{M("job", "=~", "node|db|web")}, false},
      {{M("env", "!=", "prod")}, true},
      {{M("alertname", "=", "Disk"), M("env", "!=", "prod")}, true},
      {{M("alertname", "=", "Disk"), M("severity", "=", "x")}, false},
  };
  for (const auto& [filter, want] : kCases) {
    EXPECT_EQ(SilenceMatchesFilter(s, filter), want) << ::testing::PrintToString(filter.size());
  }
}

// api.go matchFilterLabels: an empty-valued matcher is skipped when its label is absent (= and
// =~) or present (!= and !~).
TEST(AlertFilter, Table) {
  const Labels labels = {{"a", "x"}, {"e", ""}};
  const std::pair<const char*, bool> kCases[] = {
      {"a=\"x\"", true},    {"a=\"y\"", false}, {"b=\"\"", true},   {"a=\"\"", false},
      {"b!=\"\"", false},   {"a!=\"\"", true},  {"e!=\"\"", true},  {"e=\"\"", true},
      {"a=~\"x|y\"", true}, {"b=~\"\"", true},  {"b!~\"\"", false}, {"b!~\"x\"", true},
      {"a!~\"x\"", false},  {"b=\"x\"", false},
  };
  for (const auto& [text, want] : kCases) {
    auto m = ParseMatcher(text);
    ASSERT_TRUE(m) << text;
    auto c = CompileMatchers({*m});
    ASSERT_TRUE(c) << text;
    EXPECT_EQ(AlertMatchesFilter(*c, labels), want) << text;
  }
}

}  // namespace
}  // namespace opsorch::silence
