#include "providers/mock/service_provider.h"

#include <algorithm>

#include <opsorch/common/strings.h>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {

Result<std::shared_ptr<MockServiceProvider>> MockServiceProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, "mock service provider");
  auto now = ReadCommonConfig(reader, {kNowKey});
  if (!now) return Fail(std::move(now.error()));
  return std::make_shared<MockServiceProvider>(Options{*now});
}

Result<NullableList<s::Service>> MockServiceProvider::Query(const s::ServiceQuery& q) {
  std::vector<s::Service> out;
  for (const auto& seed : directory_.services()) {
    const s::Service& svc = seed.service;
    if (!q.ids.empty() && std::none_of(q.ids.begin(), q.ids.end(), [&](const std::string& id) {
          return EqualsIgnoreCase(id, svc.id);
        })) {
      continue;
    }
    if (!ContainsIgnoreCase(svc.name, q.name)) continue;
    if (!TagsMatch(svc.tags, q.tags)) continue;
    if (!directory_.ScopeMatches(q.scope, svc.id)) continue;
    out.push_back(svc);
  }
  std::sort(out.begin(), out.end(),
            [](const s::Service& a, const s::Service& b) { return a.id < b.id; });
  ApplyLimit(out, q.limit);
  return out;
}

}  // namespace opsorch::providers::mock
