#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <opsorch/app/providers.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/mock.h>
#include <opsorch/providers/secrets.h>

namespace opsorch::app {
namespace {

using providers::CallModel;
using providers::Capability;

// The one registration list: which provider names each capability offers out of the box.
TEST(ProvidersTest, RegistersEveryFamilyForItsCapabilities) {
  providers::ProviderRegistry registry;
  ASSERT_TRUE(RegisterProviders(registry, {}));
  const std::vector<std::pair<Capability, std::vector<std::string>>> want = {
      {Capability::kSecret, {"json", "sealed"}},
      {Capability::kIncident, {"local", "mock"}},
      {Capability::kAlert, {"local", "mock"}},
      {Capability::kService, {"local", "mock"}},
      {Capability::kTeam, {"local", "mock"}},
      {Capability::kMetric, {"mock", "workflow"}},
      {Capability::kLog, {"mock"}},
      {Capability::kTicket, {"mock"}},
      {Capability::kMessaging, {"mock", "slack", "smtp", "webhook"}},
      {Capability::kDeployment, {"mock"}},
      {Capability::kOrchestration, {"local", "mock"}},
  };
  ASSERT_EQ(want.size(), std::size(providers::kStartupOrder));
  for (const auto& [c, names] : want) EXPECT_EQ(registry.Names(c), names) << Name(c);
}

TEST(ProvidersTest, MockProvidersRunInlineAndImplementTheirInterface) {
  providers::ProviderRegistry registry;
  ASSERT_TRUE(providers::mock::RegisterMockProviders(registry));
  for (Capability c : providers::kStartupOrder) {
    if (c == Capability::kSecret) continue;
    auto p = registry.Create(c, "MOCK", {});  // names are case-insensitive
    ASSERT_TRUE(p) << Name(c) << ": " << p.error().message;
    EXPECT_NE(*p, nullptr);
    auto built = registry.Build(c, {"mock", {}, {}, false});
    ASSERT_TRUE(built);
    EXPECT_EQ(built->model, CallModel::kInline) << Name(c);  // in memory: on the event loop
  }
  auto incident = registry.Create(Capability::kIncident, "mock", {});
  auto typed = std::dynamic_pointer_cast<providers::IncidentProvider>(*incident);
  ASSERT_NE(typed, nullptr);
  EXPECT_TRUE(typed->Get("inc-001"));
  auto orchestration = registry.Create(Capability::kOrchestration, "mock", {});
  ASSERT_NE(std::dynamic_pointer_cast<providers::OrchestrationProvider>(*orchestration), nullptr);
}

TEST(ProvidersTest, FactoryErrorsPassThrough) {
  providers::ProviderRegistry registry;
  ASSERT_TRUE(RegisterProviders(registry, {}));
  auto bad = registry.Create(Capability::kMetric, "mock", JsonObject{{"bogus", true}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(),
            (Error{"bad_request",
                   "mock metric provider: unknown config key \"bogus\" (known keys: now, seed)"}));
  auto secret = registry.Create(Capability::kSecret, "json", {});
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().message, "basic provider requires 'path' in config");
  // No engine in this process: `local` says so instead of crashing.
  auto local = registry.Create(Capability::kIncident, "local", {});
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().message, "the incident engine is not available here");
}

TEST(ProvidersTest, RegisteringTwiceFailsWithoutThrowing) {
  providers::ProviderRegistry registry;
  ASSERT_TRUE(RegisterProviders(registry, {}));
  auto again = RegisterProviders(registry, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "registry: provider mock already registered");
}

TEST(ProvidersTest, SecretStoresRunOnThePool) {
  providers::ProviderRegistry registry;
  ASSERT_TRUE(providers::secrets::RegisterSecretProviders(registry));
  // The secret stores write and fsync files: on the worker pool.
  const auto path = std::filesystem::path(::testing::TempDir()) / "providers-test-secrets.json";
  std::ofstream(path) << "{}";
  auto json =
      registry.Build(Capability::kSecret, {"json", {}, JsonObject{{"path", path.string()}}, false});
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(json->model, CallModel::kPool);
  std::filesystem::remove(path);
  EXPECT_EQ(providers::secrets::GenerateSealedKey().size(), 44u);  // base64 of 32 bytes
}

}  // namespace
}  // namespace opsorch::app
