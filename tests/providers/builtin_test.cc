#include <gtest/gtest.h>

#include <opsorch/providers/builtin.h>
#include <opsorch/providers/interfaces.h>

namespace opsorch::providers {
namespace {

TEST(BuiltinProvidersTest, RegistersMockForTheTenCapabilitiesAndJsonAndSealedForSecrets) {
  ProviderRegistry registry;
  RegisterBuiltinProviders(registry);
  for (Capability c : kStartupOrder) {
    if (c == Capability::kSecret) {
      EXPECT_EQ(registry.Names(c), (std::vector<std::string>{"json", "sealed"}));
    } else {
      EXPECT_EQ(registry.Names(c), std::vector<std::string>{"mock"}) << Name(c);
      auto p = registry.Create(c, "MOCK", {});  // names are case-insensitive
      ASSERT_TRUE(p) << Name(c) << ": " << p.error().message;
      EXPECT_NE(*p, nullptr);
      EXPECT_FALSE((*p)->IsBlocking());
    }
  }
}

TEST(BuiltinProvidersTest, CreatedProvidersImplementTheirInterface) {
  ProviderRegistry registry;
  RegisterBuiltinProviders(registry);
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
  RegisterBuiltinProviders(registry);
  auto bad = registry.Create(Capability::kMetric, "mock", JsonObject{{"bogus", true}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(),
            (Error{"bad_request",
                   "mock metric provider: unknown config key \"bogus\" (known keys: now, seed)"}));
  auto secret = registry.Create(Capability::kSecret, "json", {});
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().message, "basic provider requires 'path' in config");
}

TEST(BuiltinProvidersTest, RegisteringTwiceIsAProgrammingError) {
  ProviderRegistry registry;
  RegisterBuiltinProviders(registry);
  EXPECT_THROW(RegisterBuiltinProviders(registry), std::logic_error);
}

}  // namespace
}  // namespace opsorch::providers
