#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/engine/sla.h>

#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kMin = 60LL * 1'000'000'000;
constexpr std::int64_t kT0 = 1'780'000'000LL * 1'000'000'000;

class SlaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenTestStore("sqlite");
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    // Targets: ack 15 min, resolve 60 min.
    ASSERT_TRUE(
        store_->UpsertService(ServiceRow{"api", "API", "", "team-a", 15 * 60, 60 * 60, {}, kT0}));
    ASSERT_TRUE(
        store_->UpsertService(ServiceRow{"db", "DB", "", "team-b", 15 * 60, 60 * 60, {}, kT0}));
  }

  // An incident created at kT0 + created_min, acked/resolved that many minutes after creation
  // (negative: never).
  void Add(const std::string& service, const std::string& urgency, std::int64_t created_min,
           std::int64_t ack_after, std::int64_t resolve_after) {
    IncidentRow r;
    r.service_id = service;
    r.title = "x";
    r.urgency = urgency;
    r.created_at = kT0 + created_min * kMin;
    r.acknowledged_at = ack_after >= 0 ? r.created_at + ack_after * kMin : 0;
    r.resolved_at = resolve_after >= 0 ? r.created_at + resolve_after * kMin : 0;
    r.status = r.resolved_at ? "resolved" : r.acknowledged_at ? "acknowledged" : "open";
    r.updated_at = std::max({r.created_at, r.acknowledged_at, r.resolved_at});
    ASSERT_TRUE(store_->Write([&](Tx& tx) { return tx.InsertIncident(r); }));
  }

  SlaReport Report(std::int64_t start_min, std::int64_t end_min, std::int64_t now_min,
                   std::string service = "", std::string team = "") {
    SlaQuery q{kT0 + start_min * kMin, kT0 + end_min * kMin, std::move(service), std::move(team)};
    auto r = cache_->Report(q, kT0 + now_min * kMin);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : SlaReport{};
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<SlaCache> cache_ = nullptr;
};

TEST_F(SlaTest, MttaMttrPercentilesAndBreaches) {
  // api: acks after 5, 10, 20, 40 min; resolves after 30, 50, 90 min, one still open.
  Add("api", "high", 0, 5, 30);
  Add("api", "high", 10, 10, 50);
  Add("api", "low", 20, 20, 90);
  Add("api", "low", 30, 40, -1);
  cache_ = std::make_unique<SlaCache>(*store_);
  const SlaReport r = Report(0, 1000, 1000, "api");
  ASSERT_EQ(r.services.size(), 1u);
  const SlaStats& s = r.services[0].all;
  EXPECT_EQ(s.incidents, 4);
  EXPECT_EQ(s.acknowledged, 4);
  EXPECT_EQ(s.resolved, 3);
  EXPECT_DOUBLE_EQ(*s.mtta.mean, 18.75 * 60);
  EXPECT_DOUBLE_EQ(*s.mtta.p50, 15 * 60);  // between 10 and 20
  EXPECT_DOUBLE_EQ(*s.mtta.p90, 34 * 60);  // 20 + 0.7 × 20
  EXPECT_DOUBLE_EQ(*s.mttr.p50, 50 * 60);
  EXPECT_NEAR(*s.mttr.p95, 86 * 60, 1e-3);  // 50 + 0.9 × 40
  EXPECT_EQ(s.ack_met, 2);                  // 5, 10 ≤ 15
  EXPECT_EQ(s.ack_breached, 2);             // 20, 40
  EXPECT_EQ(s.resolve_met, 2);              // 30, 50 ≤ 60
  EXPECT_EQ(s.resolve_breached, 2);         // 90, and the open one is 970 min old
  ASSERT_EQ(r.services[0].by_urgency.count("high"), 1u);
  EXPECT_EQ(r.services[0].by_urgency.at("high").incidents, 2);
  EXPECT_EQ(r.services[0].by_urgency.at("low").resolve_breached, 2);
}

TEST_F(SlaTest, OpenIncidentsBeforeTheirTargetArePending) {
  Add("api", "high", 0, -1, -1);
  cache_ = std::make_unique<SlaCache>(*store_);
  const SlaStats s = Report(0, 100, 10, "api").services[0].all;  // 10 min old
  EXPECT_EQ(s.ack_breached + s.ack_met, 0);
  EXPECT_EQ(s.resolve_breached + s.resolve_met, 0);
  const SlaStats later = Report(0, 100, 20, "api").services[0].all;  // 20 min old
  EXPECT_EQ(later.ack_breached, 1);
  EXPECT_EQ(later.resolve_breached, 0);
}

TEST_F(SlaTest, UptimeIsTheWindowMinusTheUnionOfIncidents) {
  // Window [0, 100) min. Outages: [−10, 10) (created before the window), [20, 40), [30, 50)
  // overlapping → union 10 + 30 = 40 min down of 100.
  Add("db", "high", -10, -1, 20);
  Add("db", "high", 20, -1, 20);
  Add("db", "high", 30, -1, 20);
  Add("db", "high", 200, -1, 10);  // after the window: no effect
  cache_ = std::make_unique<SlaCache>(*store_);
  const SlaReport r = Report(0, 100, 1000, "db");
  ASSERT_EQ(r.services.size(), 1u);
  EXPECT_EQ(r.services[0].downtime_ns, 40 * kMin);
  EXPECT_DOUBLE_EQ(r.services[0].uptime_pct, 60.0);
  EXPECT_EQ(r.services[0].all.incidents, 2);  // created in the window
}

TEST_F(SlaTest, FiltersAndFollowsChanges) {
  Add("api", "high", 0, 5, 10);
  Add("db", "medium", 0, 5, 10);
  cache_ = std::make_unique<SlaCache>(*store_);
  EXPECT_EQ(Report(0, 100, 100).overall.incidents, 2);
  EXPECT_EQ(Report(0, 100, 100, "", "team-b").overall.incidents, 1);
  EXPECT_EQ(Report(0, 100, 100, "", "team-b").services.at(0).id, "db");
  // A new incident and an update after the first report are picked up.
  Add("api", "high", 50, -1, -1);
  auto rows = store_->QueryIncidents({});
  ASSERT_TRUE(rows);
  IncidentRow first = rows->back();
  first.acknowledged_at = first.created_at + kMin;
  first.updated_at = kT0 + 500 * kMin;
  ASSERT_TRUE(store_->Write([&](Tx& tx) { return tx.UpdateIncident(first); }));
  const SlaReport r = Report(0, 100, 100, "api");
  EXPECT_EQ(r.services.at(0).all.incidents, 2);
  EXPECT_DOUBLE_EQ(*r.services.at(0).all.mtta.p50, 60);  // the update moved the ack to 1 min
}

// Events change incidents without the admin API; SQLite follows them by a column that only
// changes when something the report reads does, not on every deduplication.
TEST_F(SlaTest, FollowsEventsAfterTheFirstReport) {
  const IntegrationRow integration{"int-1", "api", "pd", "events_v2", "hash-1", "abc123", kT0, 0};
  ASSERT_TRUE(store_->InsertIntegration(integration));
  auto apply = [&](EventAction action, Severity severity, std::int64_t at_min) {
    Event e;
    e.action = action;
    e.dedup_key = "k1";
    e.summary = "latency";
    e.severity = severity;
    e.origin = "events_v2";
    auto out = ApplyOn(*store_, integration, e, kT0 + at_min * kMin);
    ASSERT_TRUE(out) << out.error().message;
  };
  apply(EventAction::kTrigger, Severity::kWarning, 0);
  // A later incident moves the cache's watermark past the first one's creation: from then on
  // only a change recorded by the store brings the first incident back.
  Add("db", "low", 50, -1, -1);
  cache_ = std::make_unique<SlaCache>(*store_);
  SlaReport r = Report(0, 100, 100, "api");
  EXPECT_EQ(r.overall.incidents, 1);
  EXPECT_THAT(r.services.at(0).by_urgency, ::testing::ElementsAre(::testing::Key("low")));

  apply(EventAction::kTrigger, Severity::kWarning, 51);   // a repeat: nothing SLA reads changes
  apply(EventAction::kTrigger, Severity::kCritical, 52);  // raises the urgency
  r = Report(0, 100, 100, "api");
  EXPECT_THAT(r.services.at(0).by_urgency, ::testing::ElementsAre(::testing::Key("high")));
  EXPECT_FALSE(r.overall.mtta.p50.has_value());

  apply(EventAction::kAcknowledge, Severity::kInfo, 53);
  r = Report(0, 100, 100, "api");
  ASSERT_TRUE(r.overall.mtta.p50.has_value());
  EXPECT_DOUBLE_EQ(*r.overall.mtta.p50, 53 * 60);

  apply(EventAction::kResolve, Severity::kInfo, 55);
  r = Report(0, 100, 100, "api");
  ASSERT_TRUE(r.overall.mttr.p50.has_value());
  EXPECT_DOUBLE_EQ(*r.overall.mttr.p50, 55 * 60);
  EXPECT_EQ(r.overall.incidents, 1);
}

// Large enough for the report to share the percentile work between two threads (run under
// TSan by make test-tsan): acks after 0..99 minutes, 1,200 times each.
TEST_F(SlaTest, LargeReportsAreExact) {
  constexpr int kIncidents = 120'000;
  ASSERT_TRUE(store_->Write([&](Tx& tx) -> Status {
    for (int i = 0; i < kIncidents; ++i) {
      IncidentRow r;
      r.service_id = i % 2 == 0 ? "api" : "db";
      r.title = "x";
      r.urgency = i % 3 == 0 ? "high" : "low";
      r.created_at = kT0 + static_cast<std::int64_t>(i) * 1'000'000;  // 1 ms apart
      r.acknowledged_at = r.created_at + (i % 100) * kMin;
      r.resolved_at = r.created_at + (100 + i % 100) * kMin;
      r.status = "resolved";
      r.updated_at = r.resolved_at;
      if (auto st = tx.InsertIncident(r); !st) return st;
    }
    return Ok();
  }));
  cache_ = std::make_unique<SlaCache>(*store_);
  const SlaReport r = Report(0, 10'000, 10'000);
  EXPECT_EQ(r.overall.incidents, kIncidents);
  EXPECT_DOUBLE_EQ(*r.overall.mtta.p50, 49.5 * 60);
  EXPECT_NEAR(*r.overall.mtta.p90, 89.1 * 60, 1e-3);
  EXPECT_NEAR(*r.overall.mttr.p50, 149.5 * 60, 1e-3);
  ASSERT_EQ(r.services.size(), 2u);
  std::int64_t sum = 0;
  for (const ServiceSla& s : r.services) {
    sum += s.all.incidents;
    EXPECT_EQ(s.all.incidents, kIncidents / 2);
    EXPECT_EQ(s.by_urgency.at("high").incidents + s.by_urgency.at("low").incidents,
              s.all.incidents);
    // Even i (api) acks after 0, 2, …, 98 min; odd (db) after 1, 3, …, 99: medians 49 and 50.
    EXPECT_DOUBLE_EQ(*s.all.mtta.p50, (s.id == "api" ? 49.0 : 50.0) * 60);
  }
  EXPECT_EQ(sum, kIncidents);
}

TEST_F(SlaTest, JsonAndCsvShapes) {
  Add("api", "high", 0, 5, 30);
  cache_ = std::make_unique<SlaCache>(*store_);
  const SlaReport r = Report(0, 100, 100, "api");
  const std::string json = SlaJson(r);
  EXPECT_THAT(json, ::testing::HasSubstr(R"("service":"api")"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("mttaSeconds":{"mean":300.000,"p50":300.000)"));
  EXPECT_THAT(json, ::testing::HasSubstr(R"("targets":{"ackMinutes":15,"resolveMinutes":60})"));
  const std::string csv = SlaCsv(r);
  EXPECT_THAT(csv, ::testing::StartsWith("service,urgency,incidents,"));
  EXPECT_THAT(csv, ::testing::HasSubstr("\n\"api\",all,1,1,1,300.000,"));
  EXPECT_THAT(csv, ::testing::HasSubstr("\n\"api\",high,1,"));
}

}  // namespace
}  // namespace opsorch::engine
