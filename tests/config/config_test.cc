#include <map>
#include <string>
#include <tuple>
#include <vector>

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

TEST(Config, PostgresSettingsHaveDefaultsAndBounds) {
  auto c = Load({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->engine_pg_pool, 8);
  EXPECT_EQ(c->engine_pg_pool_wait, std::chrono::seconds(5));
  EXPECT_EQ(c->engine_pg_statement_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->engine_pg_reconnect_max, std::chrono::seconds(5));

  c = Load({{"OPSORCH_ENGINE_PG_POOL", " 32 "},
            {"OPSORCH_ENGINE_PG_POOL_WAIT", "0"},
            {"OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT", "1m30s"},
            {"OPSORCH_ENGINE_PG_RECONNECT_MAX", "250ms"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->engine_pg_pool, 32);
  EXPECT_EQ(c->engine_pg_pool_wait, std::chrono::milliseconds(0));
  EXPECT_EQ(c->engine_pg_statement_timeout, std::chrono::seconds(90));
  EXPECT_EQ(c->engine_pg_reconnect_max, std::chrono::milliseconds(250));

  // Each refusal names its variable (and, for a value out of range, the range).
  for (const auto& [name, value, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"OPSORCH_ENGINE_PG_POOL", "0", "1..1000"},
           {"OPSORCH_ENGINE_PG_POOL", "1001", "1..1000"},
           {"OPSORCH_ENGINE_PG_POOL", "eight", "not a non-negative integer"},
           {"OPSORCH_ENGINE_PG_POOL_WAIT", "11m", "from 0 to 10m"},
           {"OPSORCH_ENGINE_PG_POOL_WAIT", "soon", "OPSORCH_ENGINE_PG_POOL_WAIT"},
           {"OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT", "0", "from 1s to 24h"},
           {"OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT", "25h", "from 1s to 24h"},
           {"OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT", "-1s", "negative"},
           {"OPSORCH_ENGINE_PG_RECONNECT_MAX", "50ms", "from 100ms to 10m"},
           {"OPSORCH_ENGINE_PG_RECONNECT_MAX", "1h", "from 100ms to 10m"}}) {
    auto bad = Load({{name, value}});
    ASSERT_FALSE(bad) << name << "=" << value;
    EXPECT_NE(bad.error().message.find(name), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find(says), std::string::npos) << bad.error().message;
  }
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

// The demo has no token: it listens on loopback unless the operator chose an address.
TEST(Config, ListenHost) {
  struct Row {
    std::map<std::string, std::string> env;
    bool demo;
    std::string host;
  } rows[] = {
      {{}, true, "127.0.0.1"},
      {{}, false, "0.0.0.0"},
      {{{"OPSORCH_ADDR", ":9000"}}, true, "0.0.0.0"},
      {{{"OPSORCH_ADDR", "0.0.0.0:9000"}}, true, "0.0.0.0"},
      {{{"OPSORCH_ADDR", "10.1.2.3:9000"}}, false, "10.1.2.3"},
      {{{"OPSORCH_ADDR", "[::1]:9000"}}, false, "::1"},
  };
  for (const Row& r : rows) {
    auto c = Load(r.env);
    ASSERT_TRUE(c);
    EXPECT_EQ(ListenHost(*c, r.demo), r.host) << (r.env.empty() ? "" : r.env.begin()->second);
  }
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(Config, PluginDirectoriesAndEnvironment) {
  auto c = Load({{"OPSORCH_PLUGIN_DIRS", " /usr/bin : /tmp/ "},
                 {"OPSORCH_PLUGIN_ENV", "AWS_REGION, HTTPS_PROXY"}});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->plugin_dirs.size(), 2u);
  EXPECT_EQ(c->plugin_dirs[1], "/tmp");  // canonical
  EXPECT_EQ(c->plugin_env, (std::vector<std::string>{"AWS_REGION", "HTTPS_PROXY"}));
  EXPECT_TRUE(Load({})->plugin_dirs.empty());  // none by default
  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"relative/dir", "invalid OPSORCH_PLUGIN_DIRS: \"relative/dir\""},
           {"/no/such/dir", "invalid OPSORCH_PLUGIN_DIRS: \"/no/such/dir\""},
           {"/etc/passwd", "invalid OPSORCH_PLUGIN_DIRS: \"/etc/passwd\""}}) {
    auto bad = Load({{"OPSORCH_PLUGIN_DIRS", value}});
    ASSERT_FALSE(bad) << value;
    EXPECT_NE(bad.error().message.find(message), std::string::npos) << bad.error().message;
  }
  for (const std::string& name : {"OPSORCH_BEARER_TOKEN", "OPSORCH_SECRET_KEY", "A=B"}) {
    auto bad = Load({{"OPSORCH_PLUGIN_ENV", "X," + name}});
    ASSERT_FALSE(bad) << name;
    EXPECT_NE(bad.error().message.find("OPSORCH_PLUGIN_ENV"), std::string::npos);
  }
}

}  // namespace
}  // namespace opsorch::config
