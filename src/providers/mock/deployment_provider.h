// Mock deployment provider: the seeded deployments of the demo world (read-only).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockDeploymentProvider final : public DeploymentProvider {
 public:
  struct Options {
    std::optional<Time> now;
  };

  // Config keys: "now" (RFC 3339).
  static Result<std::shared_ptr<MockDeploymentProvider>> FromConfig(const JsonObject& config);
  explicit MockDeploymentProvider(const Options& options)
      : MockDeploymentProvider(BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::Deployment>> Query(const s::DeploymentQuery& q) override;
  Result<s::Deployment> Get(const std::string& id) override;

 private:
  explicit MockDeploymentProvider(const MockWorld& world);

  const ServiceDirectory directory_;
  // Immutable after construction, so no lock is needed. Keyed by id (sorted listing).
  std::map<std::string, s::Deployment> deployments_;
};

}  // namespace opsorch::providers::mock
