// SilenceIndex: overlapping silences, exact time boundaries, scopes, NextChange, and a property
// test against a brute-force scan of every silence.
#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/silence/silence.h>

namespace opsorch::silence {
namespace {

Silence Make(std::string id, std::vector<Matcher> m, std::int64_t starts = 0,
             std::int64_t ends = 1000, std::string scope = "") {
  Silence s;
  s.id = std::move(id);
  s.matchers = std::move(m);
  s.starts_at = starts;
  s.ends_at = ends;
  s.scope = std::move(scope);
  return s;
}

std::vector<std::string> MatchIds(const SilenceIndex& index, std::string_view scope,
                                  const Labels& labels, std::int64_t now) {
  std::vector<std::string> ids;
  index.Match(scope, labels, now, ids);
  return ids;
}

const Labels kDisk = {{"alertname", "DiskFull"},
                      {"instance", "db-1:9100"},
                      {"job", "node"},
                      {"severity", "critical"}};

TEST(Index, OverlappingSilencesAllCountSorted) {
  const SilenceIndex index = SilenceIndex::Build({
      Make("c", {{"alertname", "DiskFull", false, true}}),
      Make("a", {{"instance", "db-.*", true, true}}),
      Make("b", {{"job", "node|db", true, true}, {"severity", "critical", false, true}}),
      Make("d", {{"alertname", "DiskFull", false, true}, {"job", "web", false, true}}),
      Make("e", {{"severity", "warning", false, false}, {"env", "prod", false, false}}),
  });
  EXPECT_EQ(MatchIds(index, "", kDisk, 10), (std::vector<std::string>{"a", "b", "c", "e"}));
  EXPECT_EQ(index.size(), 5u);
  EXPECT_EQ(index.unanchored(), 1u);  // "e" has only negative matchers
}

TEST(Index, ExactTimeBoundaries) {
  const SilenceIndex index =
      SilenceIndex::Build({Make("s", {{"alertname", "DiskFull", false, true}}, 100, 200)});
  const std::pair<std::int64_t, bool> kCases[] = {
      {99, false}, {100, true}, {150, true}, {200, true}, {201, false}};
  for (const auto& [now, muted] : kCases) {
    EXPECT_EQ(MatchIds(index, "", kDisk, now).size(), muted ? 1u : 0u) << now;
  }
}

TEST(Index, NextChange) {
  const SilenceIndex index = SilenceIndex::Build({
      Make("a", {{"a", "x", false, true}}, 100, 200),
      Make("b", {{"a", "x", false, true}}, 150, 300),
  });
  const std::pair<std::int64_t, std::int64_t> kCases[] = {
      {0, 100},   {100, 150}, {150, 201},
      {200, 201}, {201, 301}, {301, std::numeric_limits<std::int64_t>::max()}};
  for (const auto& [now, next] : kCases) EXPECT_EQ(index.NextChange(now), next) << now;
  EXPECT_EQ(SilenceIndex().NextChange(0), std::numeric_limits<std::int64_t>::max());
}

TEST(Index, Scopes) {
  const SilenceIndex index = SilenceIndex::Build({
      Make("global", {{"alertname", "DiskFull", false, true}}),
      Make("svc-a", {{"alertname", "DiskFull", false, true}}, 0, 1000, "svc-a"),
      Make("svc-a-scan", {{"env", "x", false, false}}, 0, 1000, "svc-a"),
  });
  EXPECT_EQ(MatchIds(index, "svc-a", kDisk, 10),
            (std::vector<std::string>{"global", "svc-a", "svc-a-scan"}));
  EXPECT_EQ(MatchIds(index, "svc-b", kDisk, 10), (std::vector<std::string>{"global"}));
  EXPECT_EQ(MatchIds(index, "", kDisk, 10), (std::vector<std::string>{"global"}));
}

TEST(Index, OutputVectorIsOverwritten) {
  const SilenceIndex index = SilenceIndex::Build({Make("s", {{"job", "node", false, true}})});
  std::vector<std::string> ids = {"stale-1", "stale-2", "stale-3"};
  index.Match("", kDisk, 10, ids);
  EXPECT_EQ(ids, (std::vector<std::string>{"s"}));
  index.Match("", {{"job", "web"}}, 10, ids);
  EXPECT_TRUE(ids.empty());
}

TEST(Index, DropExpiredAndFind) {
  const SilenceIndex index =
      SilenceIndex::Build({Make("old", {{"job", "node", false, true}}, 0, 50),
                           Make("new", {{"job", "node", false, true}})},
                          60);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.Find("old"), nullptr);
  ASSERT_NE(index.Find("new"), nullptr);
  EXPECT_EQ(index.Find("new")->matchers.front().value, "node");
}

TEST(Index, SilenceWithAnUncompilableRegexIsLeftOut) {
  const SilenceIndex index = SilenceIndex::Build(
      {Make("bad", {{"job", "(", true, true}}), Make("ok", {{"job", "node", false, true}})});
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(MatchIds(index, "", kDisk, 10), (std::vector<std::string>{"ok"}));
}

// The index's answer is the brute-force answer for random silences and alerts: every matcher
// type, empty values, regex shapes that are anchored (alternatives, prefixes, suffixes) or
// scanned, scopes, times, duplicate label names.
TEST(Index, EqualsBruteForce) {
  std::mt19937_64 rng(42);
  const std::vector<std::string> names = {"alertname", "instance", "job", "severity", "env"};
  const std::vector<std::string> values = {"",       "a",      "ab",    "abc",    "abcd",
                                           "abcde",  "b",      "web-1", "web-12", "db-1",
                                           "x:9100", "y:9100", "\n"};
  const std::vector<std::string> patterns = {
      "a|b",    "ab.*",      "web-.+",     ".*:9100",   ".*b.*", ".*", ".+",        "a|",
      "[a-c]+", "(ab|db)-1", "abc|abcd.*", "we.*|db.*", "x",     "",   "web-1|.*00"};
  const std::vector<std::string> scopes = {"", "s1", "s2"};
  auto pick = [&](const auto& v) { return v[rng() % v.size()]; };

  std::vector<Silence> silences;
  for (int i = 0; i < 3000; ++i) {
    Silence s;
    s.id = "s" + std::to_string(rng() % 100000) + "-" + std::to_string(i);
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      Matcher m;
      m.name = pick(names);
      m.is_regex = rng() % 2 == 0;
      m.is_equal = rng() % 4 != 0;
      m.value = m.is_regex ? pick(patterns) : pick(values);
      s.matchers.push_back(m);
    }
    s.starts_at = static_cast<std::int64_t>(rng() % 100);
    s.ends_at = s.starts_at + static_cast<std::int64_t>(rng() % 100);
    s.scope = pick(scopes);
    silences.push_back(s);
  }
  const SilenceIndex index = SilenceIndex::Build(silences);
  std::vector<std::vector<CompiledMatcher>> compiled;
  for (const Silence& s : silences) compiled.push_back(std::move(*CompileMatchers(s.matchers)));

  std::vector<std::string> got;
  std::size_t nonempty = 0;
  for (int q = 0; q < 5000; ++q) {
    Labels labels;
    const int n = static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) labels.emplace_back(pick(names), pick(values));
    const std::string scope = pick(scopes);
    const auto now = static_cast<std::int64_t>(rng() % 220) - 10;
    std::vector<std::string> want;
    for (std::size_t i = 0; i < silences.size(); ++i) {
      const Silence& s = silences[i];
      if (!s.scope.empty() && s.scope != scope) continue;
      if (StateAt(s, now) != State::kActive) continue;
      if (Matches(compiled[i], labels)) want.push_back(s.id);
    }
    std::sort(want.begin(), want.end());
    index.Match(scope, labels, now, got);
    ASSERT_EQ(got, want) << "query " << q << " scope " << scope << " now " << now;
    nonempty += want.empty() ? 0 : 1;
  }
  EXPECT_GT(nonempty, 500u);  // the queries do hit silences
  EXPECT_LT(index.unanchored(), silences.size());
}

}  // namespace
}  // namespace opsorch::silence
