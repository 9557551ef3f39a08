#include "providers/mock/metric_provider.h"

#include <set>

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using testing::MinutesBefore;
using testing::TestNow;

s::MetricQuery Metric(std::string name, std::string aggregation = {},
                      std::vector<std::string> group_by = {},
                      std::vector<s::MetricFilter> filters = {}) {
  s::MetricQuery q;
  q.expression = s::MetricExpression{std::move(name), std::move(aggregation), std::move(filters),
                                     std::move(group_by)};
  return q;
}

class MockMetricProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<MockMetricProvider> p_ = Make<MockMetricProvider>();

  std::vector<s::MetricSeries> Series(const s::MetricQuery& q) {
    auto r = p_->Query(q);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    if (!r) return {};
    EXPECT_TRUE(r->has_value());
    return r->value_or(std::vector<s::MetricSeries>{});
  }
  Error ErrorFor(const s::MetricQuery& q) {
    auto r = p_->Query(q);
    EXPECT_FALSE(r.has_value());
    return r ? Error{} : r.error();
  }
  std::set<std::string> Described(const s::QueryScope& scope) {
    std::set<std::string> names;
    auto r = p_->Describe(scope);
    EXPECT_TRUE(r && r->has_value());
    for (const auto& d : **r) names.insert(d.name);
    return names;
  }
};

TEST_F(MockMetricProviderTest, DescribeListsTheCatalog) {
  auto r = p_->Describe({});
  ASSERT_TRUE(r && r->has_value());
  const auto& all = **r;
  EXPECT_GE(all.size(), 20u);
  for (const auto& d : all) {
    EXPECT_TRUE(d.type == "counter" || d.type == "gauge" || d.type == "histogram") << d.name;
    EXPECT_FALSE(d.description.empty());
    ASSERT_TRUE(d.labels.has_value());
    EXPECT_FALSE(d.labels->empty());
    EXPECT_FALSE(d.unit.empty());
    EXPECT_EQ(d.url, "https://metrics.demo.opsorch.dev/graph?g0.expr=" + d.name);
  }
}

TEST_F(MockMetricProviderTest, DescribeFiltersByScope) {
  const auto db = Described({.service = "svc-database"});
  EXPECT_TRUE(db.contains("db_replication_lag_seconds"));
  EXPECT_TRUE(db.contains("http_requests_total"));
  EXPECT_FALSE(db.contains("payment_authorizations_total"));
  const auto payments_team = Described({.team = "team-payments"});
  EXPECT_TRUE(payments_team.contains("payment_authorization_failure_ratio"));
  EXPECT_FALSE(payments_team.contains("search_index_lag_seconds"));
  auto staging = p_->Describe({.environment = "staging"});
  ASSERT_TRUE(staging && staging->has_value());  // an empty list, not null
  EXPECT_TRUE((*staging)->empty());
}

TEST_F(MockMetricProviderTest, MetricNameIsRequiredAndUnknownNamesAreEmpty) {
  const Error missing{"bad_request", "expression.metricName is required"};
  EXPECT_EQ(ErrorFor({}), missing);
  EXPECT_EQ(ErrorFor(Metric(" ")), missing);
  auto r = p_->Query(Metric("nosuch_metric"));
  ASSERT_TRUE(r && r->has_value());
  EXPECT_TRUE((*r)->empty());
}

TEST_F(MockMetricProviderTest, DefaultWindowStepAndBaseline) {
  const auto series = Series(Metric("http_requests_total"));
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].name, "http_requests_total");
  EXPECT_EQ(series[1].name, "http_requests_total.baseline");
  for (const auto& s : series) {
    ASSERT_EQ(s.points->size(), 31u);  // 30 min at 60 s, both ends included
    EXPECT_EQ(s.points->front().timestamp, MinutesBefore(30));
    EXPECT_EQ(s.points->back().timestamp, TestNow());
    for (const auto& pt : *s.points) EXPECT_GT(pt.value, 0);
    EXPECT_TRUE(s.labels.contains("environment"));
    EXPECT_FALSE(s.labels.contains("service"));  // aggregated over every service
    EXPECT_EQ(s.service, "");
    EXPECT_EQ(s.url.rfind("https://metrics.demo.opsorch.dev/graph?g0.expr=sum", 0), 0u) << s.url;
  }
  s::MetricQuery q = Metric("cpu_usage_percent");
  q.start = MinutesBefore(10);
  q.end = TestNow();
  q.step = 30;
  EXPECT_EQ(Series(q)[0].points->size(), 21u);
}

TEST_F(MockMetricProviderTest, DefaultEndIsAlignedToTheStep) {
  p_->ClockForTest().Set(TestNow().Add(90'500'000'000));  // 10:01:30.5
  const auto a = Series(Metric("cpu_usage_percent"));
  p_->ClockForTest().Set(TestNow().Add(119'000'000'000));  // 10:01:59, same step
  const auto b = Series(Metric("cpu_usage_percent"));
  ASSERT_EQ(a[0].points->size(), 31u);
  EXPECT_EQ(a[0].points->back().timestamp, TestNow().Add(60'000'000'000));
  EXPECT_EQ(a[0].points->front().timestamp, MinutesBefore(29));
  for (std::size_t j = 0; j < a[0].points->size(); ++j) {
    EXPECT_EQ((*a[0].points)[j].value, (*b[0].points)[j].value);
  }
}

TEST_F(MockMetricProviderTest, PointsAreDeterministic) {
  auto other = Make<MockMetricProvider>();
  const auto q = Metric("http_request_duration_seconds", "", {"service"});
  const auto a = Series(q);
  const auto b = **other->Query(q);
  const auto c = Series(q);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].points->size(), b[i].points->size());
    for (std::size_t j = 0; j < a[i].points->size(); ++j) {
      EXPECT_EQ((*a[i].points)[j].timestamp, (*b[i].points)[j].timestamp);
      EXPECT_EQ((*a[i].points)[j].value, (*b[i].points)[j].value);
      EXPECT_EQ((*a[i].points)[j].value, (*c[i].points)[j].value);
    }
  }
  auto seeded = Make<MockMetricProvider>(JsonObject{{"now", testing::kNowText}, {"seed", 9}});
  EXPECT_NE((*(**seeded->Query(q))[0].points)[0].value, (*a[0].points)[0].value);
}

TEST_F(MockMetricProviderTest, GroupByAndAggregation) {
  const auto by_service = Series(Metric("http_requests_total", "sum", {"service"}));
  ASSERT_EQ(by_service.size(), 24u);  // 12 services, each with a baseline
  std::set<std::string> services;
  for (const auto& s : by_service) {
    EXPECT_FALSE(s.service.empty());
    EXPECT_EQ(s.labels.at("service").as_string(), s.service);
    services.insert(s.service);
  }
  EXPECT_EQ(services.size(), 12u);

  const auto sum = Series(Metric("http_requests_total", "sum"));
  const auto avg = Series(Metric("http_requests_total", "avg"));
  const auto count = Series(Metric("http_requests_total", "count"));
  const auto max = Series(Metric("http_requests_total", "max"));
  const auto min = Series(Metric("http_requests_total", "min"));
  for (std::size_t j = 0; j < sum[0].points->size(); ++j) {
    EXPECT_NEAR((*sum[0].points)[j].value, (*avg[0].points)[j].value * 12, 1e-6);
    EXPECT_EQ((*count[0].points)[j].value, 12);
    EXPECT_GE((*max[0].points)[j].value, (*avg[0].points)[j].value);
    EXPECT_LE((*min[0].points)[j].value, (*avg[0].points)[j].value);
  }
  const auto by_team = Series(Metric("http_requests_total", "avg", {"team"}));
  EXPECT_EQ(by_team.size(), 10u);  // five owning teams
  EXPECT_EQ(WireCode(ErrorFor(Metric("http_requests_total", "median"))), "bad_request");
}

TEST_F(MockMetricProviderTest, ScopeAndLabelFilters) {
  s::MetricQuery q = Metric("cpu_usage_percent");
  q.scope.service = "payments";
  auto series = Series(q);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].service, "svc-payments");
  EXPECT_EQ(series[0].labels.at("team"), "team-payments");
  EXPECT_NE(series[0].url.find("service%3D%22payments%22"), std::string::npos) << series[0].url;

  series = Series(
      Metric("cpu_usage_percent", "", {"service"}, {{"service", "=~", "svc-(payments|checkout)"}}));
  ASSERT_EQ(series.size(), 4u);
  EXPECT_EQ(series[0].service, "svc-checkout");
  EXPECT_EQ(series[2].service, "svc-payments");
  series = Series(Metric("cpu_usage_percent", "", {"service"},
                         {{"team", "=", "team-data"}, {"service", "!=", "svc-search"}}));
  EXPECT_EQ(series.size(), 4u);
  series = Series(Metric("cpu_usage_percent", "", {"service"}, {{"region", "!~", "us-.*"}}));
  EXPECT_EQ(series.size(), 6u);  // identity, notifications, inventory

  // Metrics only exist on the services that carry them.
  q = Metric("db_replication_lag_seconds");
  q.scope.service = "svc-web";
  auto r = p_->Query(q);
  ASSERT_TRUE(r && r->has_value());
  EXPECT_TRUE((*r)->empty());

  Error e = ErrorFor(Metric("cpu_usage_percent", "", {}, {{"service", "=~", "(bad"}}));
  EXPECT_EQ(WireCode(e), "bad_request");
  EXPECT_EQ(e.message.rfind("filter 0 (service): invalid regex", 0), 0u) << e.message;
  e = ErrorFor(Metric("cpu_usage_percent", "", {}, {{"service", "contains", "x"}}));
  EXPECT_EQ(WireCode(e), "bad_request");
  EXPECT_NE(e.message.find("unsupported operator"), std::string::npos);
}

TEST_F(MockMetricProviderTest, WindowRules) {
  s::MetricQuery q = Metric("cpu_usage_percent");
  q.start = TestNow();
  q.end = MinutesBefore(1);
  EXPECT_EQ(ErrorFor(q), (Error{"bad_request", "end must not be before start"}));

  q.start = MinutesBefore(24 * 60);
  q.end = TestNow();
  q.step = 1;  // 86,401 points
  Error e = ErrorFor(q);
  EXPECT_EQ(WireCode(e), "bad_request");
  EXPECT_NE(e.message.find("the limit is 11000"), std::string::npos) << e.message;
  q.step = 10;  // 8,641 points: allowed
  EXPECT_EQ(Series(q)[0].points->size(), 8641u);
}

TEST_F(MockMetricProviderTest, IncidentAnomalyShowsInActualButNotBaseline) {
  // inc-011 (payments, unresolved) started 5 h before now.
  s::MetricQuery q = Metric("payment_authorization_failure_ratio");
  q.start = MinutesBefore(8 * 60);
  q.end = TestNow();
  q.step = 600;
  const auto series = Series(q);
  ASSERT_EQ(series.size(), 2u);
  const auto& actual = *series[0].points;
  const auto& baseline = *series[1].points;
  const double before = actual.front().value;  // 8 h ago
  const double now = actual.back().value;
  EXPECT_GT(now, before * 5);
  EXPECT_LT(baseline.back().value, baseline.front().value * 2);
  EXPECT_LE(now, 1.0);  // ratios stay ratios
}

}  // namespace
}  // namespace opsorch::providers::mock
