// Label matching: the four matcher types, missing labels, anchoring, and the byte-comparison fast
// path of common regex shapes against LabelRegex itself.
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/common/label_regex.h>
#include <opsorch/silence/silence.h>

namespace opsorch::silence {
namespace {

Matcher Eq(std::string n, std::string v) { return {std::move(n), std::move(v), false, true}; }
Matcher Ne(std::string n, std::string v) { return {std::move(n), std::move(v), false, false}; }
Matcher Re(std::string n, std::string v) { return {std::move(n), std::move(v), true, true}; }
Matcher Nre(std::string n, std::string v) { return {std::move(n), std::move(v), true, false}; }

struct MatchCase {
  const char* what;
  std::vector<Matcher> matchers;
  Labels labels;
  bool want;
};

TEST(Matching, Table) {
  const Labels kAx = {{"a", "x"}};
  const MatchCase kCases[] = {
      {"= equal value", {Eq("a", "x")}, kAx, true},
      {"= other value", {Eq("a", "y")}, kAx, false},
      {"= missing label", {Eq("a", "x")}, {}, false},
      {"= \"\" matches a missing label", {Eq("a", "")}, {}, true},
      {"= \"\" matches an empty label", {Eq("a", "")}, {{"a", ""}}, true},
      {"= \"\" does not match a value", {Eq("a", "")}, kAx, false},
      {"!= same value", {Ne("a", "x")}, kAx, false},
      {"!= other value", {Ne("a", "y")}, kAx, true},
      {"!= missing label is \"\"", {Ne("a", "x")}, {}, true},
      {"!= \"\" missing label", {Ne("a", "")}, {}, false},
      {"=~ literal", {Re("a", "foo")}, {{"a", "foo"}}, true},
      {"=~ is anchored at the end", {Re("a", "foo")}, {{"a", "foobar"}}, false},
      {"=~ is anchored at the start", {Re("a", "foo")}, {{"a", "xfoo"}}, false},
      {"=~ alternatives", {Re("a", "foo|bar")}, {{"a", "bar"}}, true},
      {"=~ alternatives are anchored as a group", {Re("a", "foo|bar")}, {{"a", "foobar"}}, false},
      {"=~ prefix", {Re("a", "web-.*")}, {{"a", "web-1"}}, true},
      {"=~ prefix with nothing after", {Re("a", "web-.*")}, {{"a", "web-"}}, true},
      {"=~ prefix .+ needs one more", {Re("a", "web-.+")}, {{"a", "web-"}}, false},
      {"=~ suffix", {Re("a", ".*:9100")}, {{"a", "h1:9100"}}, true},
      {"=~ contains", {Re("a", ".*disk.*")}, {{"a", "a-disk-b"}}, true},
      {"=~ dot does not match a newline", {Re("a", "foo.*")}, {{"a", "foo\nbar"}}, false},
      {"=~ .* matches a missing label", {Re("a", ".*")}, {}, true},
      {"=~ .+ does not match a missing label", {Re("a", ".+")}, {}, false},
      {"=~ class", {Re("a", "[0-9]+")}, {{"a", "123"}}, true},
      {"=~ class anchored", {Re("a", "[0-9]+")}, {{"a", "12a"}}, false},
      {"=~ group", {Re("a", "(db|web)-[0-9]")}, {{"a", "db-7"}}, true},
      {"!~ literal, other value", {Nre("a", "foo")}, {{"a", "foobar"}}, true},
      {"!~ literal, same value", {Nre("a", "foo")}, {{"a", "foo"}}, false},
      {"!~ missing label", {Nre("a", "foo")}, {}, true},
      {"!~ .+ missing label", {Nre("a", ".+")}, {}, true},
      {"!~ .+ any value", {Nre("a", ".+")}, kAx, false},
      {"all matchers must match", {Eq("a", "x"), Eq("b", "y")}, {{"b", "y"}, {"a", "x"}}, true},
      {"one failing matcher fails", {Eq("a", "x"), Eq("b", "y")}, {{"a", "x"}}, false},
      {"duplicate label names: the first counts", {Eq("a", "x")}, {{"a", "y"}, {"a", "x"}}, false},
  };
  for (const MatchCase& c : kCases) {
    auto compiled = CompileMatchers(c.matchers);
    ASSERT_TRUE(compiled) << c.what << ": " << compiled.error().message;
    EXPECT_EQ(Matches(*compiled, c.labels), c.want) << c.what;
  }
}

TEST(Matching, BadRegexDoesNotCompile) {
  auto c = CompiledMatcher::Compile(Re("a", "(foo"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, errc::kBadRequest);
  EXPECT_FALSE(CompiledMatcher::Compile(Re("a", "(?i)foo")));  // flags: not in LabelRegex
}

TEST(Matching, CommonShapesTakeTheFastPath) {
  for (const char* p : {"foo", "foo|bar", "web-.*", "web-.+", ".*:9100", ".*disk.*", ".*", ".+",
                        "^foo$", "a\\.b", "x|", "host-1|host-2.*|.*-db"}) {
    auto c = CompiledMatcher::Compile(Re("a", p));
    ASSERT_TRUE(c) << p;
    EXPECT_TRUE(c->fast()) << p;
  }
  for (const char* p : {"[0-9]+", "(a|b)c", "a*", "a{2}", "\\d+", ".*?", "a.b", "a$b", ".*.*"}) {
    auto c = CompiledMatcher::Compile(Re("a", p));
    ASSERT_TRUE(c) << p;
    EXPECT_FALSE(c->fast()) << p;
  }
}

// Alertmanager's matchesEmpty: only = and =~ count; the regex is tested against "".
TEST(Matching, MatchesEmpty) {
  const std::pair<Matcher, bool> kCases[] = {
      {Eq("a", ""), true},     {Eq("a", "x"), false},   {Ne("a", ""), false},
      {Ne("a", "x"), false},   {Re("a", ".*"), true},   {Re("a", ".+"), false},
      {Re("a", "x|"), true},   {Re("a", "(x)?"), true}, {Re("a", "^$"), true},
      {Nre("a", ".+"), false}, {Nre("a", "x"), false},  {Re("a", "("), false},
  };
  for (const auto& [m, want] : kCases) {
    EXPECT_EQ(MatchesEmpty(m), want)
        << m.name << (m.is_equal ? "=" : "!") << (m.is_regex ? "~" : "") << m.value;
  }
}

// Patterns only LabelRegex reads, behind the literal prefilter (a required prefix or substring):
// the prefilter must never refuse a value the regex matches.
TEST(Matching, PrefilterKeepsEveryMatch) {
  const std::tuple<const char*, const char*, bool> kCases[] = {
      {"a.b", "axb", true},
      {"a.b", "ab", false},
      {"ab*", "a", true},
      {"ab*", "abbb", true},
      {"ab+c", "abbc", true},
      {"ab+c", "ac", false},
      {"host-1[0-9]+:9100", "host-12:9100", true},
      {"host-1[0-9]+:9100", "host-2:9100", false},
      {"x(ab)?y", "xy", true},
      {"x(ab)?y", "xaby", true},
      {"é+x", "éx", true},
      {"é+x", "x", false},
      {"a|b[0-9]", "b1", true},
      {"a|b[0-9]", "a", true},
      {"(a|b)c", "bc", true},
      {"\\d+-db", "12-db", true},
      {"[^a]bc", "xbc", true},
      {"a{2}b", "aab", true},
      {"a{2}b", "ab", false},
      {".*-db[0-9]", "eu-db7", true},
      {".*-db[0-9]", "eu-d7", false},
      {"ab\\.c[0-9]", "ab.c1", true},
      {"ab]c[0-9]", "ab]c1", true},
  };
  for (const auto& [pattern, value, want] : kCases) {
    auto re = LabelRegex::Compile(pattern);
    ASSERT_TRUE(re) << pattern;
    ASSERT_EQ(re->FullMatch(value), want) << pattern << " " << value;  // the table is right
    auto m = CompiledMatcher::Compile(Re("a", pattern));
    ASSERT_TRUE(m) << pattern;
    EXPECT_EQ(m->Matches(value), want) << pattern << " " << value;
  }
}

TEST(Matching, LabelNames) {
  for (const char* ok : {"a", "_", "alertname", "A_1", "_9"}) EXPECT_TRUE(IsValidLabelName(ok));
  for (const char* bad : {"", "0a", "a:b", "a-b", "a.b", "é", "a b"}) {
    EXPECT_FALSE(IsValidLabelName(bad)) << bad;
  }
}

// The fast path must give LabelRegex's answer for every pattern and value, including newlines,
// invalid UTF-8 (read as U+FFFD by LabelRegex), U+FFFD itself and multibyte characters.
TEST(Matching, FastPathAgreesWithLabelRegex) {
  std::mt19937_64 rng(20260105);
  const std::vector<std::string> kLiteralPieces = {
      "a", "b", "-", "\\.", "é", "\\n", "\xEF\xBF\xBD", "\\-", "1"};
  const std::vector<std::string> kValuePieces = {
      "a", "b", "-", ".", "é", "\n", "\xFF", "\xC3", "\xEF\xBF\xBD", "1", "\xA9"};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  auto literal = [&] {
    std::string s;
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) s += pick(kLiteralPieces);
    return s;
  };
  auto branch = [&] {
    std::string b = rng() % 4 == 0 ? "^" : "";
    switch (rng() % 9) {
      case 0:
        b += literal();
        break;
      case 1:
        b += literal() + ".*";
        break;
      case 2:
        b += literal() + ".+";
        break;
      case 3:
        b += ".*" + literal();
        break;
      case 4:
        b += ".*" + literal() + ".*";
        break;
      case 5:
        b += ".*";
        break;
      case 6:
        b += ".+";
        break;
      case 7: {
        // A literal prefix before what only LabelRegex reads (the prefilter's shapes).
        static const char* kTails[] = {"[0-9]+", "(b|c)", "*",     "+",    "?",  "{2}",  "\\d",
                                       ".b",     "b*c",   "(x)?a", "[^a]", "é+", "\\.?", "|a.*"};
        b += literal() + kTails[rng() % 14] + literal();
        break;
      }
      default: {
        // Anything from the metacharacters: mostly not a fast shape, sometimes invalid.
        static const char kChars[] = "ab.*+?|()[]^$\\{}1";
        const int n = static_cast<int>(rng() % 6);
        for (int i = 0; i < n; ++i) b.push_back(kChars[rng() % (sizeof kChars - 1)]);
      }
    }
    if (rng() % 4 == 0) b += "$";
    return b;
  };
  int compared = 0, fast = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string pattern = branch();
    const int alternatives = static_cast<int>(rng() % 3);
    for (int i = 0; i < alternatives; ++i) pattern += "|" + branch();
    auto re = LabelRegex::Compile(pattern);
    if (!re) continue;
    auto m = CompiledMatcher::Compile(Re("a", pattern));
    ASSERT_TRUE(m) << pattern;
    fast += m->fast() ? 1 : 0;
    for (int k = 0; k < 20; ++k) {
      std::string value;
      const int n = static_cast<int>(rng() % 7);
      for (int i = 0; i < n; ++i) value += pick(kValuePieces);
      // Values built from the pattern's own literals hit the interesting cases more often.
      if (k % 3 == 0) value = pattern.substr(0, rng() % (pattern.size() + 1)) + value;
      ASSERT_EQ(m->Matches(value), re->FullMatch(value))
          << "pattern " << ::testing::PrintToString(pattern) << " value "
          << ::testing::PrintToString(value);
      ++compared;
    }
  }
  EXPECT_GT(compared, 20000);
  EXPECT_GT(fast, 1000);  // the generator does exercise the fast path
}

}  // namespace
}  // namespace opsorch::silence
