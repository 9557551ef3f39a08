// Mock incident provider: the seeded incidents of the demo world plus whatever is created.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {

class MockIncidentProvider final : public IncidentProvider {
 public:
  struct Options {
    std::optional<Time> now;  // fixed clock; unset = wall clock
    std::string default_severity = "sev3";
  };

  // Config keys: "now" (RFC 3339), "defaultSeverity" (string).
  static Result<std::shared_ptr<MockIncidentProvider>> FromConfig(const JsonObject& config);
  explicit MockIncidentProvider(Options options)
      : MockIncidentProvider(options, BuildWorld(InitialNow(options.now))) {}

  Result<NullableList<s::Incident>> Query(const s::IncidentQuery& q) override;
  Result<s::Incident> Get(const std::string& id) override;
  Result<s::Incident> Create(const s::CreateIncidentInput& in) override;
  Result<s::Incident> Update(const std::string& id, const s::UpdateIncidentInput& in) override;
  Result<NullableList<s::TimelineEntry>> GetTimeline(const std::string& id) override;
  Status AppendTimeline(const std::string& id, const s::TimelineAppendInput& in) override;

  Clock& ClockForTest() { return clock_; }

 private:
  MockIncidentProvider(const Options& options, const MockWorld& world);

  struct Record {
    s::Incident incident;
    std::vector<s::TimelineEntry> timeline;
  };

  // Requires mu_ held exclusively.
  void AppendLocked(Record& record, s::TimelineEntry entry);

  Clock clock_;
  const std::string default_severity_;
  const ServiceDirectory directory_;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Record> incidents_;
  std::int64_t next_number_ = 1;
};

}  // namespace opsorch::providers::mock
