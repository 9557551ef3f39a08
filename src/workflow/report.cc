// RuntimeReport: the runtime's Prometheus series and the first-seen tracking behind audit
// records; AuditLineJson/AuditJson: the audit record's two shapes.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <opsorch/common/json_writer.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/workflow/report.h>

namespace opsorch::workflow {
namespace {

using metrics::Counter;
using metrics::Histogram;

// ---- label-set caches -------------------------------------------------------------------------

// Keys of N label values, looked up by N string_views so that a hit builds no string.
template <std::size_t N>
using Views = std::array<std::string_view, N>;
template <std::size_t N>
using OwnedKey = std::array<std::string, N>;

template <std::size_t N>
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(const Views<N>& k) const noexcept {
    std::size_t h = 0;
    for (std::string_view p : k) {
      // boost::hash_combine's mixing: ("ab","c") and ("a","bc") hash differently.
      h ^= std::hash<std::string_view>{}(p) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    }
    return h;
  }
  std::size_t operator()(const OwnedKey<N>& k) const noexcept {
    Views<N> v;
    for (std::size_t i = 0; i < N; ++i) v[i] = k[i];
    return (*this)(v);
  }
};

template <std::size_t N>
struct KeyEqual {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      if (std::string_view(a[i]) != std::string_view(b[i])) return false;
    }
    return true;
  }
};

// Label values → V (pointers into the registry). Entries are never erased, and unordered_map
// nodes do not move, so a returned reference stays valid without the lock.
template <std::size_t N, class V>
class SeriesCache {
 public:
  template <class Make>
  V& Get(const Views<N>& key, Make&& make) {
    {
      std::shared_lock lock(mu_);
      if (auto it = map_.find(key); it != map_.end()) return it->second;
    }
    std::unique_lock lock(mu_);
    if (auto it = map_.find(key); it != map_.end()) return it->second;
    OwnedKey<N> owned;
    for (std::size_t i = 0; i < N; ++i) owned[i] = std::string(key[i]);
    return map_.emplace(std::move(owned), make()).first->second;
  }

 private:
  std::shared_mutex mu_;
  std::unordered_map<OwnedKey<N>, V, KeyHash<N>, KeyEqual<N>> map_;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

struct StepSeries {
  Counter* ok;
  Counter* failed;
  Histogram* duration;
};

// The keys seen for one (deployment, kind).
struct KeySet {
  std::shared_mutex mu;
  std::unordered_set<std::string, StringHash, std::equal_to<>> keys;
  Counter* overflow = nullptr;
};

constexpr std::string_view kStepRuns = "opsorch_workflow_step_runs_total";
constexpr std::string_view kStepRunsHelp = "Workflow step runs, by outcome (ok or failed).";
constexpr std::string_view kStepDuration = "opsorch_workflow_step_duration_seconds";
constexpr std::string_view kStepDurationHelp = "Time a workflow step took, start to finish.";
constexpr std::string_view kHttpCalls = "opsorch_workflow_http_calls_total";
constexpr std::string_view kHttpCallsHelp =
    "HTTP calls made by workflow steps, by host and status class (error: no usable response; "
    "blocked: refused by the allowlist or the address rule).";
constexpr std::string_view kSandboxKills = "opsorch_workflow_sandbox_kills_total";
constexpr std::string_view kSandboxKillsHelp =
    "Script workers killed for exceeding their CPU or memory limit, or lost (worker).";
constexpr std::string_view kQueueDropped = "opsorch_workflow_queue_dropped_total";
constexpr std::string_view kQueueDroppedHelp =
    "Workflow runs dropped because the deployment's queue was full.";
constexpr std::string_view kSkippedOverlaps = "opsorch_workflow_skipped_overlaps_total";
constexpr std::string_view kSkippedOverlapsHelp =
    "Scheduled workflow runs skipped because the previous run was still going.";
constexpr std::string_view kMetricsEmitted = "opsorch_workflow_metrics_emitted_total";
constexpr std::string_view kMetricsEmittedHelp = "Metric records emitted by workflows.";
constexpr std::string_view kConfigLoads = "opsorch_workflow_config_loads_total";
constexpr std::string_view kConfigLoadsHelp =
    "Configuration loads, by outcome (accepted, refused, failed) and refusal reason.";
constexpr std::string_view kAuditRecords = "opsorch_workflow_audit_records_total";
constexpr std::string_view kAuditRecordsHelp = "Audit records written, by kind.";
constexpr std::string_view kAuditOverflow = "opsorch_workflow_audit_keys_overflow_total";
constexpr std::string_view kAuditOverflowHelp =
    "First-seen checks not tracked (and so not audited) because the deployment already holds "
    "10000 keys of that kind.";

}  // namespace

std::string AuditLineJson(const AuditRecord& r, std::string_view token) {
  return AuditLine(r.timestamp_ms, r.kind, r.message, r.detail, r.deployment, token);
}

JsonValue AuditJson(const AuditRecord& r) {
  JsonObject detail;
  for (const auto& [k, v] : r.detail) detail[k] = v;
  JsonObject o;
  o["timestamp"] = r.timestamp_ms;
  o["deployment"] = r.deployment;
  o["kind"] = r.kind;
  o["message"] = r.message;
  o["detail"] = std::move(detail);
  return o;
}

struct RuntimeReport::Impl {
  // Each family's cache has its own lock: a step finishing never waits on an HTTP call's label
  // set being created.
  metrics::Registry registry;
  SeriesCache<3, StepSeries> steps;
  SeriesCache<3, Counter*> http_calls;
  SeriesCache<2, Counter*> sandbox_kills;
  SeriesCache<1, Counter*> queue_dropped;
  SeriesCache<1, Counter*> skipped_overlaps;
  SeriesCache<1, Counter*> metrics_emitted;
  SeriesCache<3, Counter*> config_loads;
  SeriesCache<2, Counter*> audit_records;
  SeriesCache<2, std::unique_ptr<KeySet>> first_seen;

  Counter& DeploymentCounter(SeriesCache<1, Counter*>& cache, std::string_view name,
                             std::string_view help, std::string_view deployment) {
    return *cache.Get({deployment}, [&] {
      return &registry.GetCounter(name, help, {{"deployment", deployment}});
    });
  }
};

RuntimeReport::RuntimeReport() : impl_(std::make_unique<Impl>()) {}
RuntimeReport::~RuntimeReport() = default;

void RuntimeReport::StepFinished(std::string_view deployment, std::string_view workflow,
                                 std::string_view step, bool ok,
                                 std::chrono::nanoseconds duration) {
  const StepSeries& s = impl_->steps.Get({deployment, workflow, step}, [&] {
    metrics::Registry& r = impl_->registry;
    StepSeries created;
    // Both outcomes exist from the first run, so rate() of failures reads 0, not "no data".
    created.ok = &r.GetCounter(
        kStepRuns, kStepRunsHelp,
        {{"deployment", deployment}, {"workflow", workflow}, {"step", step}, {"outcome", "ok"}});
    created.failed = &r.GetCounter(kStepRuns, kStepRunsHelp,
                                   {{"deployment", deployment},
                                    {"workflow", workflow},
                                    {"step", step},
                                    {"outcome", "failed"}});
    created.duration =
        &r.GetHistogram(kStepDuration, kStepDurationHelp,
                        {{"deployment", deployment}, {"workflow", workflow}, {"step", step}});
    return created;
  });
  (ok ? s.ok : s.failed)->Inc();
  s.duration->ObserveNanos(duration.count());
}

void RuntimeReport::HttpCall(std::string_view deployment, std::string_view host,
                             std::string_view status_class) {
  impl_->http_calls
      .Get({deployment, host, status_class},
           [&] {
             return &impl_->registry.GetCounter(
                 kHttpCalls, kHttpCallsHelp,
                 {{"deployment", deployment}, {"host", host}, {"status_class", status_class}});
           })
      ->Inc();
}

std::string_view RuntimeReport::StatusClass(int http_status) {
  static constexpr std::array<std::string_view, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  if (http_status < 100 || http_status > 599) return "error";
  return kClasses[static_cast<std::size_t>(http_status / 100 - 1)];
}

void RuntimeReport::SandboxKill(std::string_view deployment, std::string_view reason) {
  impl_->sandbox_kills
      .Get({deployment, reason},
           [&] {
             return &impl_->registry.GetCounter(kSandboxKills, kSandboxKillsHelp,
                                                {{"deployment", deployment}, {"reason", reason}});
           })
      ->Inc();
}

void RuntimeReport::QueueDropped(std::string_view deployment) {
  impl_->DeploymentCounter(impl_->queue_dropped, kQueueDropped, kQueueDroppedHelp, deployment)
      .Inc();
}

void RuntimeReport::SkippedOverlap(std::string_view deployment) {
  impl_
      ->DeploymentCounter(impl_->skipped_overlaps, kSkippedOverlaps, kSkippedOverlapsHelp,
                          deployment)
      .Inc();
}

void RuntimeReport::MetricsEmitted(std::string_view deployment, std::size_t n) {
  impl_->DeploymentCounter(impl_->metrics_emitted, kMetricsEmitted, kMetricsEmittedHelp, deployment)
      .Inc(n);
}

void RuntimeReport::ConfigLoad(std::string_view deployment, std::string_view outcome,
                               std::string_view reason) {
  impl_->config_loads
      .Get({deployment, outcome, reason},
           [&] {
             return &impl_->registry.GetCounter(
                 kConfigLoads, kConfigLoadsHelp,
                 {{"deployment", deployment}, {"outcome", outcome}, {"reason", reason}});
           })
      ->Inc();
}

void RuntimeReport::AuditWritten(std::string_view deployment, std::string_view kind) {
  impl_->audit_records
      .Get({deployment, kind},
           [&] {
             return &impl_->registry.GetCounter(kAuditRecords, kAuditRecordsHelp,
                                                {{"deployment", deployment}, {"kind", kind}});
           })
      ->Inc();
}

bool RuntimeReport::FirstSeen(std::string_view deployment, std::string_view kind,
                              std::string_view key) {
  KeySet& s = *impl_->first_seen.Get({deployment, kind}, [&] {
    auto created = std::make_unique<KeySet>();
    // Created with the set, so the series reads 0 until the bound is hit (alertable).
    created->overflow = &impl_->registry.GetCounter(kAuditOverflow, kAuditOverflowHelp,
                                                    {{"deployment", deployment}, {"kind", kind}});
    return created;
  });
  {
    std::shared_lock lock(s.mu);
    if (s.keys.find(key) != s.keys.end()) return false;
    if (s.keys.size() >= kMaxFirstSeenKeys) {
      s.overflow->Inc();
      return false;
    }
  }
  std::unique_lock lock(s.mu);
  if (s.keys.find(key) != s.keys.end()) return false;  // another thread got here first
  if (s.keys.size() >= kMaxFirstSeenKeys) {
    s.overflow->Inc();
    return false;
  }
  s.keys.emplace(key);
  return true;
}

void RuntimeReport::AddRenderHook(std::function<void(std::string& out)> hook) {
  impl_->registry.AddCollector(std::move(hook));
}

std::string RuntimeReport::Render() const { return impl_->registry.Render(); }

void RenderOutputGauges(std::string& out, std::span<const OutputGaugeRow> rows) {
  if (rows.empty()) return;
  struct Family {
    std::string_view name, type, help;
    std::uint64_t OutputStats::*field;
  };
  static constexpr std::array<Family, 5> kFamilies = {{
      {"opsorch_workflow_output_backlog_bytes", "gauge",
       "Bytes of records in the output's spool not yet acknowledged by the collector.",
       &OutputStats::spooled_bytes},
      {"opsorch_workflow_output_appended_records_total", "counter",
       "Records appended to the output's spool by this process.", &OutputStats::appended},
      {"opsorch_workflow_output_sent_records_total", "counter",
       "Records the collector acknowledged (2xx).", &OutputStats::sent},
      {"opsorch_workflow_output_send_failures_total", "counter",
       "POSTs to the collector that failed (to be retried).", &OutputStats::failed_posts},
      {"opsorch_workflow_output_refused_records_total", "counter",
       "Records refused because the output's spool was full.", &OutputStats::refused},
  }};
  std::vector<std::string> labels;
  labels.reserve(rows.size());
  for (const OutputGaugeRow& row : rows) {
    labels.push_back(
        metrics::RenderLabels({{"deployment", row.deployment}, {"output", row.output}}));
  }
  for (const Family& f : kFamilies) {
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(" ").append(f.type).append("\n");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      out.append(f.name).append(labels[i]).append(" ");
      out.append(std::to_string(rows[i].stats.*f.field)).append("\n");
    }
  }
}

}  // namespace opsorch::workflow
