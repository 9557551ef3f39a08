#include "providers/mock/deployment_provider.h"

#include <opsorch/common/strings.h>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {

Result<std::shared_ptr<MockDeploymentProvider>> MockDeploymentProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, "mock deployment provider");
  auto now = ReadCommonConfig(reader, {kNowKey});
  if (!now) return Fail(std::move(now.error()));
  return std::make_shared<MockDeploymentProvider>(Options{*now});
}

MockDeploymentProvider::MockDeploymentProvider(const MockWorld& world) : directory_(world) {
  for (const auto& d : world.deployments) deployments_.emplace(d.id, d);
}

Result<NullableList<s::Deployment>> MockDeploymentProvider::Query(const s::DeploymentQuery& q) {
  std::vector<s::Deployment> out;
  for (const auto& [id, d] : deployments_) {
    if (!q.query.empty() && !ContainsIgnoreCase(d.id, q.query) &&
        !ContainsIgnoreCase(d.service, q.query) && !ContainsIgnoreCase(d.version, q.query) &&
        !ContainsIgnoreCase(StringField(d.fields, "description"), q.query)) {
      continue;
    }
    if (!EmptyOrContainsIgnoreCase(q.statuses, d.status)) continue;
    if (!EmptyOrContainsIgnoreCase(q.versions, d.version)) continue;
    // A deployment's own environment decides, not its service's (staging deploys of prod
    // services exist).
    if (!directory_.ScopeMatches(q.scope, d.service, d.environment)) continue;
    out.push_back(d);
  }
  ApplyLimit(out, q.limit);
  return out;
}

Result<s::Deployment> MockDeploymentProvider::Get(const std::string& id) {
  auto it = deployments_.find(id);
  if (it == deployments_.end()) return Fail(NotFound("deployment", id));
  return it->second;
}

}  // namespace opsorch::providers::mock
