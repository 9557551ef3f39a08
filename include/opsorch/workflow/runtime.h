// The workflow runtime: runs the bootstrap's deployments — loads and hot-reloads their workflow
// configurations, fires triggers, runs steps (processors in the sandbox, HTTP through the
// checked fetcher), and sends what processors emit to the outputs and the metric store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/report.h>
#include <opsorch/workflow/script.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

// Sees every metric and log line after redaction (the test runner captures through it).
struct RuntimeObserver {
  std::function<void(std::string_view deployment, const Metric&)> on_metric;
  std::function<void(std::string_view deployment, const LogLine&)> on_log;
  std::function<void(const AuditRecord&)> on_audit;
};

// What a deployment runs and what its last configuration load said.
struct DeploymentStatus {
  std::string id;
  std::string package_id, version, sha256;  // the running package's (empty: a plain configuration)
  std::int64_t loaded_at_ms = 0;
  std::string last_error, refusal;  // the last refused or failed load, until one succeeds
};

// Where a deployment's incident events go when its `incidents` section has no url: `opsorch
// serve` passes one that hands them to its own engine. `body` is one Events v2 event (JSON);
// `done` gets the HTTP status /v2/enqueue would answer (202 accepted; 4xx other than 429 refused;
// 429 and 5xx retried), from any thread, at most once. Called on the runtime's incident sender
// thread, never on a step's.
using IncidentSink =
    std::function<void(std::string body, std::function<void(int http_status)> done)>;

struct RuntimeOptions {
  ScriptRunnerOptions scripts;
  unsigned threads = 8;             // step executions in parallel (they block on HTTP and scripts)
  std::size_t queue_limit = 10000;  // pending async sends / timer fires; beyond: dropped, counted
  bool start_triggers = true;       // false: only RunStep (the test runner)
  // false: bootstrap outputs are not opened and no incident event is sent (expectations are
  // still evaluated and counted): the test runner.
  bool use_outputs = true;
  std::function<std::int64_t()> now_ms;  // pinned time (tests); empty: the system clock
  RuntimeObserver observer;
  bool local_logs = true;  // workflow log lines also to opsorch's own log (off: the test runner)
  MetricStore* metric_store = nullptr;  // also receives every metric (the `workflow` provider)
  // false: no per-step metrics and no "first" audit records. Only for measuring what they cost
  // (bench/workflow.sh); configuration decisions are reported either way.
  bool report = true;
  // Incident events of deployments whose `incidents` section has no url. Unset, such a
  // deployment refuses the start ("deployments[0].incidents.url: required outside opsorch
  // serve").
  IncidentSink incident_sink;
};

struct RuntimeStats {
  std::uint64_t runs = 0, failed_runs = 0, skipped_overlaps = 0, dropped = 0;
  std::uint64_t reloads = 0, rejected_reloads = 0, http_calls = 0, blocked_calls = 0;
};

class Runtime {
 public:
  // Opens outputs and persistence, loads every deployment's configuration (an initial load
  // failure is an error: start-up must not pretend to run), starts pollers and triggers.
  static Result<std::unique_ptr<Runtime>> Start(Bootstrap bootstrap, RuntimeOptions options);
  // The runtime of `opsorch serve` and `opsorch agent`: the bootstrap file read with the
  // process's environment; script workers started on demand and stopped after 30 s unused (an
  // idle runtime keeps no worker process: a spawn costs a few ms, a worker ~4 MB of RSS);
  // `store` (may be null) also receives every metric; `sink` (may be empty) takes the incident
  // events of deployments without an incidents url.
  static Result<std::unique_ptr<Runtime>> StartFromFile(const std::string& bootstrap_file,
                                                        MetricStore* store, IncidentSink sink = {});
  ~Runtime();  // Stop()

  // Runs one step now on the calling thread and returns its result (errors: not_found, or the
  // step's failure). `logs` (may be null) receives the log lines emitted on this thread during
  // the call, redacted (the step's, its synchronous callees', and its failure line), at most
  // 200; asynchronous sends run elsewhere and are not included. With `logs`, the result body and
  // an error's message are masked too (the caller shows them to people: runbook step output).
  Result<Message> RunStep(std::string_view deployment, std::string_view step_id, Message input,
                          std::vector<LogLine>* logs = nullptr);
  // Waits until no run or async send is pending (the test runner), or `timeout`.
  bool Drain(std::chrono::milliseconds timeout);
  // Re-checks every deployment's configuration source now (tests; normally polled).
  void PollNow();
  // Stops triggers, drops queued runs, lets running steps finish (they make no new calls or
  // HTTP requests: those fail at once), then flushes pending incident events for at most 2 s
  // (the rest are dropped and counted) and outputs for at most 2 s each.
  void Stop();
  RuntimeStats Stats() const;
  // The runtime's own metrics, Prometheus text (served on /metrics by `opsorch serve`, and by
  // `opsorch agent --metrics-listen`).
  std::string RenderMetrics() const;
  std::vector<DeploymentStatus> Deployments() const;

 private:
  struct Impl;
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::workflow
