// Mock alert provider: the seeded alerts of the demo world (read-only).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockAlertProvider final : public AlertProvider {
 public:
  struct Options {
    std::optional<Time> now;
  };

  // Config keys: "now" (RFC 3339).
  static Result<std::shared_ptr<MockAlertProvider>> FromConfig(const JsonObject& config);
  explicit MockAlertProvider(const Options& options)
      : MockAlertProvider(BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::Alert>> Query(const s::AlertQuery& q) override;
  Result<s::Alert> Get(const std::string& id) override;

 private:
  explicit MockAlertProvider(const MockWorld& world);

  const ServiceDirectory directory_;
  // Alerts are immutable after construction, so no lock is needed.
  const std::map<std::string, s::Alert> alerts_;
};

}  // namespace opsorch::providers::mock
