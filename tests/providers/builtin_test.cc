#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <opsorch/providers/builtin.h>
#include <opsorch/providers/interfaces.h>

namespace opsorch::providers {
namespace {

TEST(BuiltinProvidersTest, RegistersMockForTheTenCapabilitiesAndJsonAndSealedForSecrets) {
  ProviderRegistry registry;
  ASSERT_TRUE(RegisterBuiltinProviders(registry));
  for (Capability c : kStartupOrder) {
    if (c == Capability::kSecret) {
      EXPECT_EQ(registry.Names(c), (std::vector<std::string>{"json", "sealed"}));
    } else {
      EXPECT_EQ(registry.Names(c), std::vector<std::string>{"mock"}) << Name(c);
      auto p = registry.Create(c, "MOCK", {});  // names are case-insensitive
      ASSERT_TRUE(p) << Name(c) << ": " << p.error().message;
      EXPECT_NE(*p, nullptr);
      // In memory: its calls run on the event loop.
      auto built = registry.Build(c, {"mock", {}, {}, false});
      ASSERT_TRUE(built);
      EXPECT_EQ(built->model, CallModel::kInline);
    }
  }
}

TEST(BuiltinProvidersTest, CreatedProvidersImplementTheirInterface) {
  ProviderRegistry registry;
  ASSERT_TRUE(RegisterBuiltinProviders(registry));
  auto incident = registry.Create(Capability::kIncident, "mock", {});
  ASSERT_TRUE(incident);
  auto typed = std::dynamic_pointer_cast<IncidentProvider>(*incident);
  ASSERT_NE(typed, nullptr);
  EXPECT_TRUE(typed->Get("inc-001"));
  auto orchestration = registry.Create(Capability::kOrchestration, "mock", {});
  ASSERT_NE(std::dynamic_pointer_cast<OrchestrationProvider>(*orchestration), nullptr);
}

TEST(BuiltinProvidersTest, FactoryErrorsPassThrough) {
  ProviderRegistry registry;
  ASSERT_TRUE(RegisterBuiltinProviders(registry));
  auto bad = registry.Create(Capability::kMetric, "mock", JsonObject{{"bogus", true}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(),
            (Error{"bad_request",
                   "mock metric provider: unknown config key \"bogus\" (known keys: now, seed)"}));
  auto secret = registry.Create(Capability::kSecret, "json", {});
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().message, "basic provider requires 'path' in config");
}

TEST(BuiltinProvidersTest, RegisteringTwiceFailsWithoutThrowing) {
  ProviderRegistry registry;
  ASSERT_TRUE(RegisterBuiltinProviders(registry));
  auto again = RegisterBuiltinProviders(registry);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "registry: provider mock already registered");
  // The secret stores write files: on the worker pool.
  const auto path = std::filesystem::path(::testing::TempDir()) / "builtin-secrets.json";
  std::ofstream(path) << "{}";
  auto json = registry.Build(Capability::kSecret,
                             {"json", {}, JsonObject{{"path", path.string()}}, false});
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(json->model, CallModel::kPool);
}

}  // namespace
}  // namespace opsorch::providers
