// One demo world: the mock providers and the incident engine's demo seed show the same teams,
// people and services (include/opsorch/demo/demo_world.h), so a demo that mixes them (incidents
// from the engine, everything else from the mock) agrees with itself.
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/demo/demo_world.h>
#include <opsorch/engine/seed.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/mock.h>

namespace opsorch {
namespace {

using Ids = std::set<std::string>;

Ids IdsOf(const JsonValue& rows) {
  Ids out;
  for (const JsonValue& r : rows.as_array()) out.insert(std::string(r.at("id").as_string()));
  return out;
}

TEST(DemoWorld, TheEmbeddedDocumentParsesAndHoldsEveryPart) {
  auto parsed = ParseJson(demo::WorldJson());
  ASSERT_TRUE(parsed) << parsed.error().message;
  for (const char* part :
       {"teams", "services", "incidents", "alerts", "tickets", "deployments", "plans", "runs"}) {
    ASSERT_TRUE(demo::World().contains(part)) << part;
    EXPECT_FALSE(demo::World().at(part).as_array().empty()) << part;
  }
  EXPECT_EQ(demo::Email("alice.johnson"), "alice.johnson@demo.opsorch.dev");
}

TEST(DemoWorld, MockProvidersAndTheEngineSeedShareTeamsPeopleAndServices) {
  providers::ProviderRegistry registry;
  ASSERT_TRUE(providers::mock::RegisterMockProviders(registry));
  auto team_p = registry.Create(providers::Capability::kTeam, "mock", {});
  auto service_p = registry.Create(providers::Capability::kService, "mock", {});
  ASSERT_TRUE(team_p && service_p);
  auto& mock_teams = dynamic_cast<providers::TeamProvider&>(**team_p);
  auto& mock_services = dynamic_cast<providers::ServiceProvider&>(**service_p);

  auto seed = ParseJson(engine::DemoSeed());
  ASSERT_TRUE(seed) << seed.error().message;

  auto teams = mock_teams.Query({});
  ASSERT_TRUE(teams && *teams);
  Ids mock_team_ids, mock_people;
  for (const auto& t : **teams) {
    mock_team_ids.insert(t.id);
    auto members = mock_teams.Members(t.id);
    ASSERT_TRUE(members && *members);
    for (const auto& m : **members) mock_people.insert(m.id);
  }
  Ids seed_people;
  for (const JsonValue& t : seed->at("teams").as_array()) {
    for (const JsonValue& m : t.at("members").as_array()) {
      seed_people.insert(std::string(m.at("id").as_string()));
    }
  }
  EXPECT_EQ(IdsOf(seed->at("teams")), mock_team_ids);
  EXPECT_EQ(seed_people, mock_people);
  EXPECT_TRUE(mock_people.contains("alice.johnson@demo.opsorch.dev"));

  auto services = mock_services.Query({});
  ASSERT_TRUE(services && *services);
  Ids mock_service_ids;
  for (const auto& s : **services) mock_service_ids.insert(s.id);
  EXPECT_EQ(IdsOf(seed->at("services")), mock_service_ids);
  // The documented keys (README, docs/ENGINE.md) are on the services the docs name: the engine's
  // additions name services of the world, or they would be dropped.
  std::map<std::string, std::string> key_service;
  for (const JsonValue& s : seed->at("services").as_array()) {
    if (!s.as_object().contains("integrations")) continue;
    for (const JsonValue& i : s.at("integrations").as_array()) {
      key_service[std::string(i.at("key").as_string())] = std::string(s.at("id").as_string());
    }
  }
  EXPECT_EQ(key_service, (std::map<std::string, std::string>{
                             {"demo-routing-key-000000000000001", "svc-checkout"},
                             {"demo-routing-key-000000000000002", "svc-database"},
                             {"demo-alertmanager-key-0000000001", "svc-checkout"}}));
}

}  // namespace
}  // namespace opsorch
