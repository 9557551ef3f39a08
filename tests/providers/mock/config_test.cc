// Factory config validation of every mock provider, and the duration parser.
#include "providers/mock/config.h"

#include <gtest/gtest.h>

#include "providers/mock/alert_provider.h"
#include "providers/mock/deployment_provider.h"
#include "providers/mock/incident_provider.h"
#include "providers/mock/log_provider.h"
#include "providers/mock/messaging_provider.h"
#include "providers/mock/metric_provider.h"
#include "providers/mock/orchestration_provider.h"
#include "providers/mock/service_provider.h"
#include "providers/mock/team_provider.h"
#include "providers/mock/test_support.h"
#include "providers/mock/ticket_provider.h"

namespace opsorch::providers::mock {
namespace {

template <class R>
Error ErrorOf(const R& r) {
  return r ? Error{} : r.error();
}

// Runs `check` against every mock factory with the same config.
template <class Check>
void ForEachFactory(const JsonObject& config, Check check) {
  check("incident", ErrorOf(MockIncidentProvider::FromConfig(config)));
  check("alert", ErrorOf(MockAlertProvider::FromConfig(config)));
  check("log", ErrorOf(MockLogProvider::FromConfig(config)));
  check("metric", ErrorOf(MockMetricProvider::FromConfig(config)));
  check("ticket", ErrorOf(MockTicketProvider::FromConfig(config)));
  check("messaging", ErrorOf(MockMessagingProvider::FromConfig(config)));
  check("service", ErrorOf(MockServiceProvider::FromConfig(config)));
  check("deployment", ErrorOf(MockDeploymentProvider::FromConfig(config)));
  check("team", ErrorOf(MockTeamProvider::FromConfig(config)));
  check("orchestration", ErrorOf(MockOrchestrationProvider::FromConfig(config)));
}

TEST(MockConfigTest, EmptyAndNowConfigsAreAccepted) {
  for (const JsonObject& config :
       {JsonObject{}, testing::NowConfig(), JsonObject{{"now", nullptr}}}) {
    ForEachFactory(config, [](const char* cap, const Error& e) {
      EXPECT_TRUE(e.message.empty()) << cap << ": " << e.message;
    });
  }
}

TEST(MockConfigTest, UnknownKeyIsRejectedByName) {
  ForEachFactory(JsonObject{{"nosuch", 1}}, [](const char* cap, const Error& e) {
    EXPECT_EQ(WireCode(e), "bad_request") << cap;
    EXPECT_EQ(e.message.rfind(std::string("mock ") + cap +
                                  " provider: unknown config key \"nosuch\" (known keys: now",
                              0),
              0u)
        << e.message;
  });
}

TEST(MockConfigTest, NowMustBeAnRfc3339String) {
  ForEachFactory(JsonObject{{"now", 5}}, [](const char* cap, const Error& e) {
    EXPECT_EQ(WireCode(e), "bad_request") << cap;
    EXPECT_NE(e.message.find("config \"now\" must be an RFC 3339 timestamp"), std::string::npos)
        << e.message;
  });
  ForEachFactory(JsonObject{{"now", "yesterday"}}, [](const char* cap, const Error& e) {
    EXPECT_EQ(WireCode(e), "bad_request") << cap;
    EXPECT_NE(e.message.find("\"now\""), std::string::npos) << e.message;
  });
  ForEachFactory(JsonObject{{"now", "0001-01-01T00:00:00Z"}},
                 [](const char* cap, const Error& e) { EXPECT_EQ(WireCode(e), "bad_request") << cap; });
}

TEST(MockConfigTest, SeedIsOnlyForGeneratorsAndMustBeAnInteger) {
  EXPECT_TRUE(MockLogProvider::FromConfig(JsonObject{{"seed", 7}}).has_value());
  EXPECT_TRUE(MockMetricProvider::FromConfig(JsonObject{{"seed", 7.0}}).has_value());
  auto bad = MockLogProvider::FromConfig(JsonObject{{"seed", "7"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "mock log provider: config \"seed\" must be an integer");
  auto bad_metric = MockMetricProvider::FromConfig(JsonObject{{"seed", 1.5}});
  ASSERT_FALSE(bad_metric);
  EXPECT_EQ(bad_metric.error().message, "mock metric provider: config \"seed\" must be an integer");
  auto incident = MockIncidentProvider::FromConfig(JsonObject{{"seed", 7}});
  ASSERT_FALSE(incident);
  EXPECT_EQ(incident.error().message,
            "mock incident provider: unknown config key \"seed\" (known keys: now, "
            "defaultSeverity)");
}

TEST(MockConfigTest, IncidentDefaultSeverity) {
  auto ok = MockIncidentProvider::FromConfig(JsonObject{{"defaultSeverity", "sev1"}});
  ASSERT_TRUE(ok);
  auto created = (*ok)->Create(s::CreateIncidentInput{.title = "x"});
  ASSERT_TRUE(created);
  EXPECT_EQ(created->severity, "sev1");
  auto bad = MockIncidentProvider::FromConfig(JsonObject{{"defaultSeverity", 2}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "mock incident provider: config \"defaultSeverity\" must be a string");
  bad = MockIncidentProvider::FromConfig(JsonObject{{"defaultSeverity", " "}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(WireCode(bad.error()), "bad_request");
}

TEST(MockConfigTest, OrchestrationStepDuration) {
  EXPECT_TRUE(MockOrchestrationProvider::FromConfig(JsonObject{{"stepDuration", "500ms"}}));
  auto bad = MockOrchestrationProvider::FromConfig(JsonObject{{"stepDuration", 10}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("config \"stepDuration\" must be a duration"),
            std::string::npos);
  bad = MockOrchestrationProvider::FromConfig(JsonObject{{"stepDuration", "10 parsecs"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(WireCode(bad.error()), "bad_request");
  bad = MockOrchestrationProvider::FromConfig(JsonObject{{"stepDuration", "-1s"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("must not be negative"), std::string::npos);
}


TEST(MockClockTest, FixedClockCanBeSetAndAdvanced) {
  Clock clock(testing::TestNow());
  EXPECT_EQ(clock.Now(), testing::TestNow());
  clock.Advance(1'000'000'000);
  EXPECT_EQ(clock.Now(), testing::TestNow().Add(1'000'000'000));
  Clock wall(std::nullopt);
  const Time before = Time::Now();
  EXPECT_GE(wall.Now(), before);
}

}  // namespace
}  // namespace opsorch::providers::mock
