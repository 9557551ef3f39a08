#include "providers/mock/alert_provider.h"

#include "providers/mock/incident_filter.h"
#include "providers/mock/util.h"

namespace opsorch::providers::mock {
namespace {
std::map<std::string, s::Alert> IndexAlerts(const MockWorld& world) {
  std::map<std::string, s::Alert> out;
  for (const auto& a : world.alerts) out.emplace(a.id, a);
  return out;
}
}  // namespace

Result<std::shared_ptr<MockAlertProvider>> MockAlertProvider::FromConfig(const JsonObject& config) {
  const ConfigReader reader(config, "mock alert provider");
  auto now = ReadCommonConfig(reader, {kNowKey});
  if (!now) return Fail(std::move(now.error()));
  return std::make_shared<MockAlertProvider>(Options{*now});
}

MockAlertProvider::MockAlertProvider(const MockWorld& world)
    : directory_(world), alerts_(IndexAlerts(world)) {}

Result<NullableList<s::Alert>> MockAlertProvider::Query(const s::AlertQuery& q) {
  std::vector<s::Alert> out;
  for (const auto& [id, alert] : alerts_) {
    if (MatchesIncidentQuery(alert, q, directory_)) out.push_back(alert);
  }
  SortNewestFirst(out);
  ApplyLimit(out, q.limit);
  return out;
}

Result<s::Alert> MockAlertProvider::Get(const std::string& id) {
  auto it = alerts_.find(id);
  if (it == alerts_.end()) return Fail(NotFound("alert", id));
  return it->second;
}

}  // namespace opsorch::providers::mock
