// Mock team provider: the team hierarchy and members of the demo world (read-only).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockTeamProvider final : public TeamProvider {
 public:
  struct Options {
    std::optional<Time> now;
  };

  // Config keys: "now" (accepted for uniformity; teams carry no times).
  static Result<std::shared_ptr<MockTeamProvider>> FromConfig(const JsonObject& config);
  explicit MockTeamProvider(const Options& options)
      : MockTeamProvider(BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::Team>> Query(const s::TeamQuery& q) override;
  Result<s::Team> Get(const std::string& id) override;
  Result<NullableList<s::TeamMember>> Members(const std::string& team_id) override;

 private:
  explicit MockTeamProvider(const MockWorld& world);

  const ServiceDirectory directory_;
  // Immutable after construction, so no lock is needed. Keyed by id (sorted listing).
  std::map<std::string, TeamSeed> teams_;
};

}  // namespace opsorch::providers::mock
