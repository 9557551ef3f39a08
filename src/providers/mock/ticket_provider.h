// Mock ticket provider: the seeded follow-up tickets of the demo world plus created ones.
#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockTicketProvider final : public TicketProvider {
 public:
  struct Options {
    std::optional<Time> now;
  };

  // Config keys: "now" (RFC 3339).
  static Result<std::shared_ptr<MockTicketProvider>> FromConfig(const JsonObject& config);
  explicit MockTicketProvider(const Options& options)
      : MockTicketProvider(options, BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::Ticket>> Query(const s::TicketQuery& q) override;
  Result<s::Ticket> Get(const std::string& id) override;
  Result<s::Ticket> Create(const s::CreateTicketInput& in) override;
  Result<s::Ticket> Update(const std::string& id, const s::UpdateTicketInput& in) override;

  Clock& ClockForTest() { return clock_; }

 private:
  MockTicketProvider(const Options& options, const MockWorld& world);

  Clock clock_;
  const ServiceDirectory directory_;

  mutable std::shared_mutex mu_;
  std::map<std::string, s::Ticket> tickets_;  // sorted by id, the documented query order
  std::int64_t next_number_ = 1;
};

}  // namespace opsorch::providers::mock
