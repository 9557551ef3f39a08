#include <chrono>

#include <gtest/gtest.h>

#include <opsorch/common/label_regex.h>

namespace opsorch {
namespace {

TEST(LabelRegexTest, MatchTable) {
  struct Case {
    const char* pattern;
    const char* value;
    bool match;
  };
  const Case cases[] = {
      {"api", "api", true},
      {"api", "api-2", false},  // whole value, as in Prometheus
      {"api.*", "api-2", true},
      {"", "", true},
      {"", "x", false},
      {"a|b", "b", true},
      {"(a|b)c", "bc", true},
      {"(?:ab)+", "ababab", true},
      {"(?:ab)+", "aba", false},
      {"a{2,3}", "aa", true},
      {"a{2,3}", "aaaa", false},
      {"a{2}", "aa", true},
      {"a{2,}", "aaaaa", true},
      {"x{", "x{", true},  // not a counted repetition: literal
      {"[a-c]+", "abcabc", true},
      {"[^a-c]+", "xyz", true},
      {"[^a-c]+", "xaz", false},
      {"[]a]", "]", true},
      {"[a-]", "-", true},
      {"\\d+", "2024", true},
      {"\\D", "5", false},
      {"\\w+\\s\\w+", "hello world", true},
      {"[\\d.]+", "1.2.3", true},
      {"\\.", ".", true},
      {"\\.", "x", false},
      {"^prod$", "prod", true},
      {"^prod", "prod-eu", false},
      {"a.c",
       "a\xC3\xA9"
       "c",
       true},  // '.' is one code point
      {"é+", "\xC3\xA9\xC3\xA9", true},
      {"a*?", "aaa", true},
      {"(a*)*", "aaaa", true},
      {"(a|)+b", "aab", true},
      {".", "\n", false},
  };
  for (const auto& c : cases) {
    auto re = LabelRegex::Compile(c.pattern);
    ASSERT_TRUE(re) << c.pattern << ": " << re.error().message;
    EXPECT_EQ(re->FullMatch(c.value), c.match) << c.pattern << " vs " << c.value;
  }
}

TEST(LabelRegexTest, RejectsUnsupportedOrOversizedPatterns) {
  const char* bad[] = {"(",     ")",     "a)",     "*a",     "[a", "[z-a]",       "\\1",
                       "(?=a)", "(?i)a", "a{3,2}", "a{101}", "\\", "[[:alpha:]]", "^*"};
  for (const char* p : bad) {
    auto re = LabelRegex::Compile(p);
    EXPECT_FALSE(re) << p;
    if (!re) {
      EXPECT_EQ(WireCode(re.error()), "bad_request");
      EXPECT_NE(re.error().message.find("regex:"), std::string::npos);
    }
  }
  EXPECT_FALSE(LabelRegex::Compile(std::string(513, 'a')));
  EXPECT_TRUE(LabelRegex::Compile(std::string(512, 'a')));
  auto huge = LabelRegex::Compile("((a{100}){100}){100}");
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("4096"), std::string::npos);
}

TEST(LabelRegexTest, PathologicalPatternRunsInLinearTime) {
  // (a+)+b on a long run of 'a' takes exponential time with a backtracking engine.
  auto re = LabelRegex::Compile("(a+)+b");
  ASSERT_TRUE(re);
  const std::string value(20000, 'a');
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(re->FullMatch(value));
  EXPECT_TRUE(re->FullMatch(value + "b"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace opsorch
