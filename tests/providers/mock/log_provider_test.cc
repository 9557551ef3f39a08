#include "providers/mock/log_provider.h"

#include <regex>

#include <gtest/gtest.h>

#include <opsorch/common/strings.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using testing::MinutesBefore;
using testing::TestNow;

class MockLogProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<MockLogProvider> p_ = Make<MockLogProvider>();

  std::vector<s::LogEntry> Entries(const s::LogQuery& q) {
    auto r = p_->Query(q);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    if (!r) return {};
    EXPECT_TRUE(r->entries.has_value());
    return r->entries.value_or(std::vector<s::LogEntry>{});
  }
  static s::LogQuery WithExpression(s::LogExpression e, std::int64_t limit = 1000) {
    s::LogQuery q;
    q.expression = std::move(e);
    q.limit = limit;
    return q;
  }
  Error ErrorFor(const s::LogQuery& q) {
    auto r = p_->Query(q);
    EXPECT_FALSE(r.has_value());
    return r ? Error{} : r.error();
  }
};

TEST_F(MockLogProviderTest, DefaultsToTheLastHourNewestFirstWithDefaultLimit) {
  auto r = p_->Query({});
  ASSERT_TRUE(r);
  const auto& entries = *r->entries;
  ASSERT_EQ(entries.size(), 100u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_LE(entries[i].timestamp, TestNow());
    EXPECT_GE(entries[i].timestamp, MinutesBefore(60));
    if (i > 0) EXPECT_GE(entries[i - 1].timestamp, entries[i].timestamp);
    EXPECT_FALSE(entries[i].message.empty());
    EXPECT_TRUE(entries[i].labels.contains("host"));
    EXPECT_TRUE(entries[i].labels.contains("pod"));
    EXPECT_TRUE(entries[i].labels.contains("region"));
    EXPECT_TRUE(entries[i].fields.contains("traceId"));
    EXPECT_TRUE(entries[i].fields.contains("latencyMs"));
  }
  EXPECT_EQ(r->url,
            "https://logs.demo.opsorch.dev/search?start=2026-01-07T09%3A00%3A00Z"
            "&end=2026-01-07T10%3A00%3A00Z");
}

TEST_F(MockLogProviderTest, IsDeterministicAndWindowIndependent) {
  auto other = Make<MockLogProvider>();
  s::LogQuery q;
  q.limit = 1000;
  const auto a = Entries(q);
  const auto b = *other->Query(q)->entries;
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 300u);  // about one line per service and minute
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].timestamp, b[i].timestamp);
    EXPECT_EQ(a[i].message, b[i].message);
    EXPECT_EQ(a[i].labels, b[i].labels);
    EXPECT_EQ(a[i].fields, b[i].fields);
  }
  // A narrower window shows exactly the same lines for the instants it covers.
  s::LogQuery narrow;
  narrow.start = MinutesBefore(10);
  narrow.end = TestNow();
  narrow.limit = 1000;
  const auto c = Entries(narrow);
  ASSERT_FALSE(c.empty());
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].message, a[i].message);
  EXPECT_LT(a[c.size()].timestamp, MinutesBefore(10));

  // A different seed gives different lines.
  auto seeded = Make<MockLogProvider>(JsonObject{{"now", testing::kNowText}, {"seed", 42}});
  const auto d = *seeded->Query(q)->entries;
  EXPECT_NE(d.front().message + d.back().message, a.front().message + a.back().message);
}

TEST_F(MockLogProviderTest, ScopeServiceAndSearch) {
  s::LogQuery q;
  q.scope.service = "payments";
  q.limit = 1000;
  const auto payments = Entries(q);
  ASSERT_FALSE(payments.empty());
  for (const auto& e : payments) EXPECT_EQ(e.service, "svc-payments");
  auto r = p_->Query(q);
  EXPECT_NE(r->url.find("&service=payments"), std::string::npos);

  q.scope.service = "nosuch";
  EXPECT_TRUE(Entries(q).empty());

  const auto found = Entries(WithExpression({.search = "AUTHORIZATION"}));
  ASSERT_FALSE(found.empty());
  for (const auto& e : found) {
    EXPECT_NE(ToLower(e.message).find("authorization"), std::string::npos) << e.message;
  }
  q = WithExpression({.search = "authorization"});
  q.scope.team = "team-sre";
  EXPECT_TRUE(Entries(q).empty());  // the database never logs about authorization
}

TEST_F(MockLogProviderTest, SeverityInAndFilters) {
  const auto errors = Entries(WithExpression({.severity_in = {"ERROR", "warn"}}));
  ASSERT_FALSE(errors.empty());
  for (const auto& e : errors) EXPECT_TRUE(e.severity == "error" || e.severity == "warn");

  const auto eu = Entries(
      WithExpression({.filters = {{"region", "=", "eu-west-1"}, {"severity", "!=", "debug"}}}));
  ASSERT_FALSE(eu.empty());
  for (const auto& e : eu) {
    EXPECT_TRUE(e.service == "svc-identity" || e.service == "svc-notifications") << e.service;
    EXPECT_NE(e.severity, "debug");
  }

  const auto contains =
      Entries(WithExpression({.filters = {{"message", "contains", "TIMED OUT"}}}));
  ASSERT_FALSE(contains.empty());
  for (const auto& e : contains) EXPECT_NE(e.message.find("timed out"), std::string::npos);

  const std::regex re("^authorization (approved|failed)");
  const auto regex = Entries(
      WithExpression({.filters = {{"message", "regex", "^authorization (approved|failed)"}}}));
  ASSERT_FALSE(regex.empty());
  for (const auto& e : regex) EXPECT_TRUE(std::regex_search(e.message, re)) << e.message;

  const auto by_service = Entries(WithExpression({.filters = {{"service", "==", "svc-web"}}}));
  ASSERT_FALSE(by_service.empty());
  for (const auto& e : by_service) EXPECT_EQ(e.service, "svc-web");

  EXPECT_TRUE(Entries(WithExpression({.filters = {{"nosuchlabel", "=", "x"}}})).empty());
}

TEST_F(MockLogProviderTest, InvalidFiltersAreBadRequestsNamingTheFilter) {
  Error e = ErrorFor(WithExpression({.filters = {{"message", "regex", "([unclosed"}}}));
  EXPECT_EQ(WireCode(e), "bad_request");
  EXPECT_EQ(e.message.rfind("filter 0 (message): invalid regex", 0), 0u) << e.message;

  e = ErrorFor(WithExpression(
      {.filters = {{"severity", "=", "error"}, {"message", "regex", std::string(300, 'a')}}}));
  EXPECT_EQ(WireCode(e), "bad_request");
  EXPECT_EQ(e.message, "filter 1 (message): regex longer than 256 characters");

  e = ErrorFor(WithExpression({.filters = {{"message", "like", "x"}}}));
  EXPECT_EQ(WireCode(e), "bad_request");
  EXPECT_NE(e.message.find("unsupported operator \"like\""), std::string::npos);

  e = ErrorFor(WithExpression({.filters = {{"", "=", "x"}}}));
  EXPECT_EQ(e, (Error{"bad_request", "filter 0: field is required"}));
}

TEST_F(MockLogProviderTest, WindowAndLimitRules) {
  s::LogQuery q;
  q.start = TestNow();
  q.end = MinutesBefore(1);
  EXPECT_EQ(ErrorFor(q), (Error{"bad_request", "end must not be before start"}));

  EXPECT_EQ(Entries({.limit = 5}).size(), 5u);
  s::LogQuery day;
  day.start = MinutesBefore(24 * 60);
  day.end = TestNow();
  day.limit = 5000;
  EXPECT_EQ(Entries(day).size(), 1000u);  // capped

  s::LogQuery window;
  window.start = MinutesBefore(120);
  window.end = MinutesBefore(90);
  window.limit = 1000;
  const auto entries = Entries(window);
  ASSERT_FALSE(entries.empty());
  for (const auto& e : entries) {
    EXPECT_GE(e.timestamp, window.start);
    EXPECT_LE(e.timestamp, window.end);
  }
}

TEST_F(MockLogProviderTest, DegradedServiceLogsMoreErrors) {
  // svc-payments has had an unresolved sev1 incident since 5 h before now.
  const auto error_share = [&](Time start, Time end) {
    s::LogQuery q;
    q.scope.service = "svc-payments";
    q.start = start;
    q.end = end;
    q.limit = 1000;
    const auto entries = Entries(q);
    EXPECT_GT(entries.size(), 60u);
    double errors = 0;
    for (const auto& e : entries) errors += e.severity == "error" ? 1 : 0;
    return errors / static_cast<double>(entries.size());
  };
  const double during = error_share(MinutesBefore(120), TestNow());
  const double before = error_share(MinutesBefore(600), MinutesBefore(480));
  EXPECT_GT(during, 0.15);
  EXPECT_LT(before, 0.08);
}

}  // namespace
}  // namespace opsorch::providers::mock
