#include "providers/mock/alert_provider.h"

#include <gtest/gtest.h>

#include "providers/mock/test_support.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;

class MockAlertProviderTest : public ::testing::Test {
 protected:
  std::shared_ptr<MockAlertProvider> p_ = Make<MockAlertProvider>();

  std::vector<std::string> Ids(const s::AlertQuery& q) {
    std::vector<std::string> ids;
    auto r = p_->Query(q);
    EXPECT_TRUE(r && r->has_value());
    for (const auto& a : **r) ids.push_back(a.id);
    return ids;
  }
};

TEST_F(MockAlertProviderTest, AllSeedsNewestFirstAndDeterministic) {
  const auto ids = Ids({});
  ASSERT_EQ(ids.size(), 30u);
  EXPECT_EQ(ids.front(), "al-030");
  EXPECT_EQ(ids.back(), "al-001");
  auto other = Make<MockAlertProvider>();
  auto a = **p_->Query({});
  auto b = **other->Query({});
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].created_at, b[i].created_at);
    EXPECT_EQ(a[i].metadata, b[i].metadata);
  }
}

TEST_F(MockAlertProviderTest, Filters) {
  EXPECT_EQ(Ids({.statuses = {"suppressed"}}), (std::vector<std::string>{"al-025", "al-024"}));
  EXPECT_EQ(Ids({.severities = {"SEV1"}}), (std::vector<std::string>{"al-014", "al-005"}));
  EXPECT_EQ(Ids({.query = "replication"}), std::vector<std::string>{"al-018"});
  EXPECT_EQ(Ids({.query = "inc-011"}),  // description names the linked incident
            (std::vector<std::string>{"al-030", "al-015", "al-014"}));
  s::AlertQuery q;
  q.scope.service = "payments";
  q.statuses = {"firing"};
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"al-030", "al-015", "al-014"}));
  q = {};
  q.scope.team = "team-identity";
  q.limit = 2;
  EXPECT_EQ(Ids(q), (std::vector<std::string>{"al-021", "al-020"}));
}

TEST_F(MockAlertProviderTest, GetAndNotFound) {
  auto a = p_->Get("al-014");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->fields.at("incidentId"), "inc-011");
  EXPECT_EQ(a->url, "https://alerts.demo.opsorch.dev/alerts/al-014");
  auto missing = p_->Get("al-999");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "alert al-999 not found"}));
}

}  // namespace
}  // namespace opsorch::providers::mock
