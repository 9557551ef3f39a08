// Mock service provider: the twelve services of the demo world (read-only).
#pragma once

#include <memory>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockServiceProvider final : public ServiceProvider {
 public:
  struct Options {
    std::optional<Time> now;
  };

  // Config keys: "now" (accepted for uniformity; services carry no times).
  static Result<std::shared_ptr<MockServiceProvider>> FromConfig(const JsonObject& config);
  explicit MockServiceProvider(const Options& options)
      : directory_(BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::Service>> Query(const s::ServiceQuery& q) override;

 private:
  // Immutable after construction, so no lock is needed.
  const ServiceDirectory directory_;
};

}  // namespace opsorch::providers::mock
