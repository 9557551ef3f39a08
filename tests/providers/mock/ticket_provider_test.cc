#include "providers/mock/ticket_provider.h"

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;
using testing::TestNow;

using Ids = std::vector<std::string>;

class MockTicketProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<MockTicketProvider> p_ = Make<MockTicketProvider>();

  Ids Query(const s::TicketQuery& q) {
    Ids ids;
    auto r = p_->Query(q);
    EXPECT_TRUE(r && r->has_value());
    for (const auto& t : **r) ids.push_back(t.id);
    return ids;
  }
};

TEST_F(MockTicketProviderTest, AllSeedsSortedById) {
  const Ids ids = Query({});
  ASSERT_EQ(ids.size(), 12u);
  EXPECT_EQ(ids.front(), "TCK-001");
  EXPECT_EQ(ids.back(), "TCK-012");
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
}

TEST_F(MockTicketProviderTest, Filters) {
  EXPECT_EQ(Query({.statuses = {"TODO"}}), (Ids{"TCK-006", "TCK-010", "TCK-011", "TCK-012"}));
  EXPECT_EQ(Query({.assignees = {"frank.osei@demo.opsorch.dev"}}), Ids{"TCK-005"});
  EXPECT_EQ(Query({.assignees = {"nobody@x", "DAN.WEBER@demo.opsorch.dev"}}),
            (Ids{"TCK-004", "TCK-010"}));
  EXPECT_EQ(Query({.reporter = "ivan.petrov@demo.opsorch.dev"}), (Ids{"TCK-002", "TCK-003"}));
  EXPECT_EQ(Query({.query = "POSTMORTEM"}), (Ids{"TCK-001", "TCK-003", "TCK-005"}));
  s::TicketQuery q;
  q.scope.service = "svc-database";
  EXPECT_EQ(Query(q), (Ids{"TCK-001", "TCK-011"}));
  q.scope = {};
  q.scope.team = "team-identity";
  EXPECT_EQ(Query(q), (Ids{"TCK-002", "TCK-003", "TCK-012"}));
  EXPECT_EQ(Query({.limit = 3}), (Ids{"TCK-001", "TCK-002", "TCK-003"}));
}

TEST_F(MockTicketProviderTest, GetAndNotFound) {
  auto t = p_->Get("TCK-009");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->key, "TCK-009");
  EXPECT_EQ(t->fields.at("incidentId"), "inc-011");
  EXPECT_EQ(t->url, "https://tickets.demo.opsorch.dev/browse/TCK-009");
  auto missing = p_->Get("TCK-999");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "ticket TCK-999 not found"}));
}

TEST_F(MockTicketProviderTest, CreatePersistsWithNextId) {
  auto t = p_->Create({.title = "Add runbook link",
                       .description = "d",
                       .fields = JsonObject{{"service", "svc-web"}}});
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->id, "TCK-013");
  EXPECT_EQ(t->key, "TCK-013");
  EXPECT_EQ(t->status, "todo");
  EXPECT_EQ(t->created_at, TestNow());
  EXPECT_EQ(p_->Get("TCK-013")->title, "Add runbook link");
  s::TicketQuery q;
  q.scope.team = "team-platform";
  EXPECT_EQ(Query(q), (Ids{"TCK-005", "TCK-006", "TCK-013"}));
  EXPECT_EQ(p_->Create({.title = "second"})->id, "TCK-014");

  auto bad = p_->Create({.title = ""});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), (Error{"bad_request", "title is required"}));
}

TEST_F(MockTicketProviderTest, UpdateAppliesNonNullFields) {
  p_->ClockForTest().Advance(5'000'000'000);
  s::UpdateTicketInput in;
  in.status = "done";
  in.assignees = std::vector<std::string>{"grace.liu@demo.opsorch.dev"};
  in.fields = JsonObject{{"resolution", "fixed"}};
  auto t = p_->Update("TCK-006", in);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->status, "done");
  EXPECT_EQ(t->assignees, std::vector<std::string>{"grace.liu@demo.opsorch.dev"});
  EXPECT_EQ(t->title, "Retain previous asset hashes across CDN purges");
  EXPECT_EQ(t->fields.at("resolution"), "fixed");
  EXPECT_EQ(t->fields.at("incidentId"), "inc-009");
  EXPECT_EQ(t->updated_at, TestNow().Add(5'000'000'000));

  // Null assignees leave them alone; an empty list clears them.
  s::UpdateTicketInput title_only;
  title_only.title = "Renamed";
  EXPECT_EQ(p_->Update("TCK-006", title_only)->assignees.size(), 1u);
  s::UpdateTicketInput clear;
  clear.assignees = std::vector<std::string>{};
  EXPECT_TRUE(p_->Update("TCK-006", clear)->assignees.empty());
  EXPECT_EQ(p_->Get("TCK-006")->title, "Renamed");
  EXPECT_EQ(Query({.statuses = {"done"}}).size(), 5u);

  auto missing = p_->Update("TCK-999", in);
  ASSERT_FALSE(missing);
  EXPECT_EQ(WireCode(missing.error()), "not_found");
  s::UpdateTicketInput bad;
  bad.status = " ";
  EXPECT_EQ(WireCode(p_->Update("TCK-001", bad).error()), "bad_request");
}

}  // namespace
}  // namespace opsorch::providers::mock
