#include <map>

#include <gtest/gtest.h>

#include <opsorch/config/config.h>

namespace opsorch::config {
namespace {

using providers::Capability;

Result<Config> Load(std::map<std::string, std::string> env) {
  return LoadFromEnv([&](std::string_view n) -> std::optional<std::string> {
    auto it = env.find(std::string(n));
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

TEST(Config, Defaults) {
  auto c = Load({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->addr, ":8080");
  EXPECT_EQ(c->cors_origin, "*");
  EXPECT_EQ(c->body_limit, 1u << 20);
  EXPECT_FALSE(c->For(Capability::kIncident).FromEnv());
}

TEST(Config, ProviderNamesAreTrimmedAndLowerCasedPluginWins) {
  auto c = Load({{"OPSORCH_INCIDENT_PROVIDER", "  MOCK "},
                 {"OPSORCH_ALERT_PLUGIN", " /opt/p "},
                 {"OPSORCH_LOG_CONFIG", " {\"a\":1} "}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->For(Capability::kIncident).provider, "mock");
  EXPECT_EQ(c->For(Capability::kAlert).plugin, "/opt/p");
  EXPECT_EQ(c->For(Capability::kLog).config.at("a").as_int64(), 1);
}

TEST(Config, InvalidCapabilityConfigIsRecordedNotFatalHere) {
  auto c = Load({{"OPSORCH_TEAM_CONFIG", "{bad"}, {"OPSORCH_METRIC_CONFIG", "[1]"}});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->For(Capability::kTeam).config_error);
  EXPECT_NE(c->For(Capability::kTeam).config_error->message.find("OPSORCH_TEAM_CONFIG"),
            std::string::npos);
  ASSERT_TRUE(c->For(Capability::kMetric).config_error);
}

TEST(Config, ExtensionVariablesAreValidatedWithTheirName) {
  auto c = Load({{"OPSORCH_HTTP_BODY_LIMIT", "lots"}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("OPSORCH_HTTP_BODY_LIMIT"), std::string::npos);
  c = Load({{"OPSORCH_HTTP_IDLE_TIMEOUT", "5 parsecs"}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("OPSORCH_HTTP_IDLE_TIMEOUT"), std::string::npos);
  c = Load({{"OPSORCH_ADDR", "nohostport"}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("OPSORCH_ADDR"), std::string::npos);
}

TEST(Config, Durations) {
  EXPECT_EQ(ParseDuration("300ms")->count(), 300);
  EXPECT_EQ(ParseDuration("1.5s")->count(), 1500);
  EXPECT_EQ(ParseDuration("1m30s")->count(), 90'000);
  EXPECT_EQ(ParseDuration("2")->count(), 2000);
  EXPECT_FALSE(ParseDuration("1d"));
  EXPECT_FALSE(ParseDuration(""));
}

TEST(Config, HostPort) {
  EXPECT_EQ(SplitHostPort(":8080")->first, "");
  EXPECT_EQ(SplitHostPort(":8080")->second, 8080);
  EXPECT_EQ(SplitHostPort("[::1]:9")->first, "::1");
  EXPECT_FALSE(SplitHostPort("h:99999"));
}

}  // namespace
}  // namespace opsorch::config
