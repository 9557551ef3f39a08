#include "providers/mock/team_provider.h"

#include <opsorch/common/strings.h>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {

Result<std::shared_ptr<MockTeamProvider>> MockTeamProvider::FromConfig(const JsonObject& config) {
  const ConfigReader reader(config, "mock team provider");
  auto now = ReadCommonConfig(reader, {kNowKey});
  if (!now) return Fail(std::move(now.error()));
  return std::make_shared<MockTeamProvider>(Options{*now});
}

MockTeamProvider::MockTeamProvider(const MockWorld& world) : directory_(world) {
  for (const auto& seed : world.teams) teams_.emplace(seed.team.id, seed);
}

Result<NullableList<s::Team>> MockTeamProvider::Query(const s::TeamQuery& q) {
  std::vector<s::Team> out;
  for (const auto& [id, seed] : teams_) {
    if (!ContainsIgnoreCase(seed.team.name, q.name)) continue;
    if (!TagsMatch(seed.team.tags, q.tags)) continue;
    if (!q.scope.team.empty() && !EqualsIgnoreCase(id, q.scope.team)) continue;
    // scope.service narrows to the service's owning team.
    if (!q.scope.service.empty() && !EqualsIgnoreCase(directory_.TeamOf(q.scope.service), id)) {
      continue;
    }
    out.push_back(seed.team);
  }
  return out;
}

Result<s::Team> MockTeamProvider::Get(const std::string& id) {
  auto it = teams_.find(id);
  if (it == teams_.end()) return Fail(NotFound("team", id));
  return it->second.team;
}

Result<NullableList<s::TeamMember>> MockTeamProvider::Members(const std::string& team_id) {
  auto it = teams_.find(team_id);
  // The reference mock answers [] for an unknown team (and a 502 for Get); a typed not_found
  // is more useful to clients and maps to 404, so we deliberately differ.
  if (it == teams_.end()) return Fail(NotFound("team", team_id));
  return it->second.members;
}

}  // namespace opsorch::providers::mock
