#include "providers/mock/incident_provider.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using testing::MinutesBefore;
using testing::TestNow;

std::vector<std::string> Ids(const std::vector<s::Incident>& v) {
  std::vector<std::string> ids;
  for (const auto& i : v) ids.push_back(i.id);
  return ids;
}

class MockIncidentProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<MockIncidentProvider> p_ = Make<MockIncidentProvider>();

  std::vector<s::Incident> Query(const s::IncidentQuery& q) {
    auto r = p_->Query(q);
    EXPECT_TRUE(r && r->has_value());
    return r && *r ? **r : std::vector<s::Incident>{};
  }
};

TEST_F(MockIncidentProviderTest, QueryAllReturnsSeedsNewestFirst) {
  const auto all = Query({});
  ASSERT_EQ(all.size(), 15u);
  EXPECT_EQ(all.front().id, "inc-015");
  EXPECT_EQ(all.back().id, "inc-001");
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].created_at, all[i].created_at);
  EXPECT_EQ(all.front().created_at, MinutesBefore(25));
  EXPECT_EQ(all.front().url, "https://incidents.demo.opsorch.dev/incidents/inc-015");
}

TEST_F(MockIncidentProviderTest, FreeTextQueryMatchesIdTitleDescriptionIgnoringCase) {
  EXPECT_EQ(Ids(Query({.query = "REPLICA LAG"})), std::vector<std::string>{"inc-013"});
  EXPECT_EQ(Ids(Query({.query = "inc-004"})), std::vector<std::string>{"inc-004"});
  // Only in the description of inc-011.
  EXPECT_EQ(Ids(Query({.query = "primary card processor"})), std::vector<std::string>{"inc-011"});
  EXPECT_TRUE(Query({.query = "no such words anywhere"}).empty());
}

TEST_F(MockIncidentProviderTest, StatusAndSeverityFiltersAreCaseInsensitiveMemberships) {
  const auto open = Query({.statuses = {"OPEN", "Acknowledged"}});
  EXPECT_EQ(Ids(open), (std::vector<std::string>{"inc-015", "inc-014", "inc-013", "inc-010"}));
  const auto sev1 = Query({.severities = {"sev1"}});
  EXPECT_EQ(Ids(sev1), (std::vector<std::string>{"inc-011", "inc-004"}));
  const auto both = Query({.statuses = {"resolved"}, .severities = {"sev1"}});
  EXPECT_EQ(Ids(both), std::vector<std::string>{"inc-004"});
}

TEST_F(MockIncidentProviderTest, ScopeFilters) {
  s::IncidentQuery q;
  q.scope.service = "svc-database";
  EXPECT_EQ(Ids(Query(q)), (std::vector<std::string>{"inc-013", "inc-001"}));
  q.scope.service = "database";  // the service's name works too
  EXPECT_EQ(Ids(Query(q)), (std::vector<std::string>{"inc-013", "inc-001"}));
  q.scope = {};
  q.scope.team = "team-payments";  // via the owner of each incident's service
  EXPECT_EQ(Ids(Query(q)), (std::vector<std::string>{"inc-012", "inc-011", "inc-010", "inc-005"}));
  q.scope = {};
  q.scope.environment = "prod";
  EXPECT_EQ(Query(q).size(), 15u);
  q.scope.environment = "staging";
  EXPECT_TRUE(Query(q).empty());
}

TEST_F(MockIncidentProviderTest, LimitKeepsTheNewest) {
  EXPECT_EQ(Ids(Query({.limit = 2})), (std::vector<std::string>{"inc-015", "inc-014"}));
  EXPECT_EQ(Query({.limit = 0}).size(), 15u);
}

TEST_F(MockIncidentProviderTest, GetKnownAndUnknown) {
  auto inc = p_->Get("inc-011");
  ASSERT_TRUE(inc);
  EXPECT_EQ(inc->service, "svc-payments");
  EXPECT_EQ(inc->severity, "sev1");
  EXPECT_EQ(inc->fields.at("customerFacing"), true);
  auto missing = p_->Get("inc-999");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "incident inc-999 not found"}));
}

TEST_F(MockIncidentProviderTest, CreateAssignsNextIdDefaultsAndTimeline) {
  auto created = p_->Create({.title = "  Disk full on ledger-db  ",
                             .service = "svc-ledger",
                             .fields = JsonObject{{"environment", "prod"}}});
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->id, "inc-016");
  EXPECT_EQ(created->title, "Disk full on ledger-db");
  EXPECT_EQ(created->status, "open");
  EXPECT_EQ(created->severity, "sev3");
  EXPECT_EQ(created->created_at, TestNow());
  EXPECT_EQ(created->updated_at, TestNow());
  EXPECT_EQ(created->url, "https://incidents.demo.opsorch.dev/incidents/inc-016");

  auto second = p_->Create({.title = "b", .status = "investigating", .severity = "sev1"});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, "inc-017");
  EXPECT_EQ(second->status, "investigating");
  EXPECT_EQ(second->severity, "sev1");

  // Visible to later reads and queries.
  EXPECT_EQ(p_->Get("inc-016")->title, "Disk full on ledger-db");
  s::IncidentQuery q;
  q.scope.team = "team-payments";
  EXPECT_EQ(Ids(Query(q)).front(), "inc-016");
  auto timeline = p_->GetTimeline("inc-016");
  ASSERT_TRUE(timeline && timeline->has_value());
  ASSERT_EQ((*timeline)->size(), 1u);
  EXPECT_EQ((*timeline)->front().id, "inc-016-t1");
  EXPECT_EQ((*timeline)->front().kind, "created");
  EXPECT_EQ((*timeline)->front().incident_id, "inc-016");
}

TEST_F(MockIncidentProviderTest, CreateRequiresTitle) {
  auto r = p_->Create({.title = "   "});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (Error{"bad_request", "title is required"}));
  EXPECT_EQ(Query({}).size(), 15u);
}

TEST_F(MockIncidentProviderTest, UpdateAppliesFieldsAndRecordsStatusChange) {
  p_->ClockForTest().Advance(60'000'000'000);
  const Time later = TestNow().Add(60'000'000'000);
  s::UpdateIncidentInput in;
  in.status = "resolved";
  in.severity = "sev2";
  in.fields = JsonObject{{"rootCause", "processor outage"}};
  auto r = p_->Update("inc-011", in);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "resolved");
  EXPECT_EQ(r->severity, "sev2");
  EXPECT_EQ(r->title, "Payment authorization failures with card processor");  // unchanged
  EXPECT_EQ(r->updated_at, later);
  // Fields merge: new key added, existing keys kept.
  EXPECT_EQ(r->fields.at("rootCause"), "processor outage");
  EXPECT_EQ(r->fields.at("customerFacing"), true);

  auto again = p_->Get("inc-011");
  EXPECT_EQ(again->status, "resolved");
  auto timeline = **p_->GetTimeline("inc-011");
  EXPECT_EQ(timeline.back().kind, "status_change");
  EXPECT_EQ(timeline.back().body, "Status changed from investigating to resolved");
  EXPECT_EQ(timeline.back().at, later);
  EXPECT_EQ(timeline.back().id, "inc-011-t" + std::to_string(timeline.size()));

  // No status change → no new timeline entry, but updatedAt still moves.
  const std::size_t n = timeline.size();
  s::UpdateIncidentInput title_only;
  title_only.title = "Renamed";
  ASSERT_TRUE(p_->Update("inc-011", title_only));
  EXPECT_EQ((**p_->GetTimeline("inc-011")).size(), n);
  EXPECT_EQ(p_->Get("inc-011")->title, "Renamed");
}

TEST_F(MockIncidentProviderTest, UpdateErrors) {
  auto missing = p_->Update("inc-999", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(WireCode(missing.error()), "not_found");
  s::UpdateIncidentInput bad;
  bad.title = "";
  auto r = p_->Update("inc-001", bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(WireCode(r.error()), "bad_request");
}

TEST_F(MockIncidentProviderTest, AppendTimelineDefaultsAndSorting) {
  ASSERT_TRUE(p_->AppendTimeline("inc-014", {.body = "Paged the SMS vendor"}));
  s::TimelineAppendInput past;
  past.at = MinutesBefore(70).Add(30'000'000'000);  // between the two seeded entries
  past.kind = "alert";
  past.body = "late alert";
  past.actor = JsonObject{{"type", "user"}, {"id", "julia.santos@demo.opsorch.dev"}};
  ASSERT_TRUE(p_->AppendTimeline("inc-014", past));

  auto timeline = **p_->GetTimeline("inc-014");
  ASSERT_EQ(timeline.size(), 4u);
  EXPECT_EQ(timeline[0].id, "inc-014-t1");
  EXPECT_EQ(timeline[1].id, "inc-014-t4");  // sorted by `at`, ids keep insertion numbering
  EXPECT_EQ(timeline[1].actor.at("id"), "julia.santos@demo.opsorch.dev");
  EXPECT_EQ(timeline[3].id, "inc-014-t3");
  EXPECT_EQ(timeline[3].kind, "note");
  EXPECT_EQ(timeline[3].at, TestNow());
  EXPECT_EQ(p_->Get("inc-014")->updated_at, TestNow());

  auto missing = p_->AppendTimeline("inc-999", {.body = "x"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "incident inc-999 not found"}));
  auto missing_timeline = p_->GetTimeline("inc-999");
  ASSERT_FALSE(missing_timeline);
  EXPECT_EQ(WireCode(missing_timeline.error()), "not_found");
}

TEST_F(MockIncidentProviderTest, ProvidersAreIndependent) {
  auto other = Make<MockIncidentProvider>();
  ASSERT_TRUE(p_->Create({.title = "only here"}));
  EXPECT_EQ(Query({}).size(), 16u);
  EXPECT_EQ((**other->Query({})).size(), 15u);
}

}  // namespace
}  // namespace opsorch::providers::mock
