// SLA analytics: for a window, per service and per urgency, incident counts, MTTA and MTTR
// (mean, p50, p90, p95), acknowledge and resolve target breaches (an open incident past its
// target counts as breached) and uptime (the window minus the union of incident intervals).
//
// SlaCache keeps a compact copy of every incident's timing in memory (about 40 bytes each),
// loaded once and then following the store's changes, so a report over millions of incidents
// is a scan of an array instead of a database query.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/engine/store.h>

namespace opsorch::engine {

struct Distribution {  // seconds; empty when there were no samples
  std::optional<double> mean, p50, p90, p95;
};

struct SlaStats {
  std::int64_t incidents = 0;
  std::int64_t acknowledged = 0;
  std::int64_t resolved = 0;
  Distribution mtta;
  Distribution mttr;
  std::int64_t ack_met = 0, ack_breached = 0;
  std::int64_t resolve_met = 0, resolve_breached = 0;
};

struct ServiceSla {
  std::string id;
  std::string name;
  std::string team;
  std::int64_t ack_target_s = 0;
  std::int64_t resolve_target_s = 0;
  SlaStats all;
  std::map<std::string, SlaStats> by_urgency;  // high, medium, low (only those present)
  std::int64_t downtime_ns = 0;
  double uptime_pct = 100;
};

struct SlaReport {
  std::int64_t start = 0, end = 0, evaluated_at = 0;
  std::vector<ServiceSla> services;
  SlaStats overall;
};

struct SlaQuery {
  std::int64_t start = 0;  // inclusive
  std::int64_t end = 0;    // exclusive
  std::string service;     // optional
  std::string team;        // optional
};

class SlaCache {
 public:
  explicit SlaCache(Store& store) : store_(store) {}
  // Brings the cache up to date with the store, then computes the report at `now`.
  Result<SlaReport> Report(const SlaQuery& q, std::int64_t now);
  // Drops everything (after retention deleted incidents); the next report reloads.
  void Reset();
  // Every incident of the services that was open at some time in [from, now): created,
  // resolved (0: still open) and urgency — what a status page's uptime bars are drawn from.
  struct Span {
    std::string service;
    std::int64_t created = 0, resolved = 0;
    std::string urgency;
  };
  Result<std::vector<Span>> Spans(const std::vector<std::string>& services, std::int64_t from);
  // How many incidents are in each state now, of one service or team (or all): the console's
  // status counters, an array scan however many incidents there are.
  Result<IncidentStateCounts> StateCounts(const SlaQuery& q);

 private:
  struct Row {
    std::uint32_t service;
    std::uint8_t urgency;  // 0 high, 1 medium, 2 low, 3 other
    std::int64_t created, acked, resolved;
  };
  Status RefreshLocked();

  Store& store_;
  std::mutex mu_;
  bool loaded_ = false;
  std::int64_t watermark_ = 0;  // the largest updated_at seen
  std::vector<Row> rows_;       // indexed by seq - 1; created == 0 marks a hole
  std::vector<std::string> service_names_;
  std::unordered_map<std::string, std::uint32_t> service_index_;
};

// {"start":…,"end":…,"evaluatedAt":…,"overall":{…},"services":[{"service","name","team",
//  "targets":{"ackMinutes","resolveMinutes"},"uptimePercent","downtimeSeconds","overall":{…},
//  "byUrgency":{"high":{…},…}}]}
std::string SlaJson(const SlaReport& r);
// One row per service and urgency ("all" first), with a header line.
std::string SlaCsv(const SlaReport& r);

}  // namespace opsorch::engine
