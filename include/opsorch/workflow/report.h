// What the workflow runtime reports about itself: Prometheus metrics (RuntimeReport, rendered by
// the agent's loopback listener or appended to the server's /metrics) and audit records (the
// first time something happens, and configuration decisions).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

// One audit record: something an operator should know happened for the first time, or a
// configuration decision. Values are already redacted by the caller.
struct AuditRecord {
  std::int64_t timestamp_ms = 0;
  std::string deployment;
  // "host_first_call", "metric_first_emit", "config_accepted", "config_refused",
  // "auth_header_set"
  std::string kind;
  std::string message;  // one line for people
  Dimensions detail;    // kind-specific (host, method, pattern; key; version, sha256, refusal;
                        // header)
};

// The NDJSON output record, keys in this order, detail keys sorted:
//   {"type":"audit","timestamp":<ms>,"kind":"…","message":"…","detail":{…},
//    "deployment":"…","token":"…"}
// Written by AuditLine (metric_output.h) with the same tail as metric and log lines ("token"
// always present, "" when the output has none), so a collector reads one shape.
std::string AuditLineJson(const AuditRecord& r, std::string_view token);

// The record as the configuration service's status report carries it:
// {"timestamp":<ms>,"deployment":"…","kind":"…","message":"…","detail":{…}}.
JsonValue AuditJson(const AuditRecord& r);

// The runtime's counters and step-duration histogram, one metrics::Registry. Thread-safe; the
// recording calls are cheap once a label combination has been seen (a shared lock and a hash
// lookup without allocation), since steps finish thousands of times per second. Label values
// must come from configuration (deployment, workflow, step, host ids) or closed vocabularies,
// never from data: every combination is a series kept for the life of the process.
class RuntimeReport {
 public:
  // At most this many keys per (deployment, kind) in FirstSeen.
  static constexpr std::size_t kMaxFirstSeenKeys = 10000;

  RuntimeReport();
  ~RuntimeReport();
  RuntimeReport(const RuntimeReport&) = delete;
  RuntimeReport& operator=(const RuntimeReport&) = delete;

  // opsorch_workflow_step_runs_total{deployment,workflow,step,outcome="ok"|"failed"} and
  // opsorch_workflow_step_duration_seconds{deployment,workflow,step}.
  void StepFinished(std::string_view deployment, std::string_view workflow, std::string_view step,
                    bool ok, std::chrono::nanoseconds duration);
  // opsorch_workflow_http_calls_total{deployment,host,status_class}. status_class: StatusClass()
  // of an HTTP status, "error" (connect/timeout/too large) or "blocked" (allowlist/address).
  void HttpCall(std::string_view deployment, std::string_view host, std::string_view status_class);
  // 200 → "2xx" (likewise "1xx".."5xx"); < 100 or > 599 → "error".
  static std::string_view StatusClass(int http_status);
  // opsorch_workflow_sandbox_kills_total{deployment,reason}: "cpu", "memory", "worker".
  void SandboxKill(std::string_view deployment, std::string_view reason);
  void QueueDropped(std::string_view deployment);    // opsorch_workflow_queue_dropped_total
  void SkippedOverlap(std::string_view deployment);  // opsorch_workflow_skipped_overlaps_total
  // opsorch_workflow_metrics_emitted_total{deployment}, by n.
  void MetricsEmitted(std::string_view deployment, std::size_t n);
  // opsorch_workflow_config_loads_total{deployment,outcome,reason}: outcome "accepted",
  // "refused" or "failed"; reason a refusal name ("bad_signature", "invalid_config",
  // "source_error") or "".
  void ConfigLoad(std::string_view deployment, std::string_view outcome, std::string_view reason);
  // opsorch_workflow_audit_records_total{deployment,kind}.
  void AuditWritten(std::string_view deployment, std::string_view kind);

  // True the first time (deployment, kind, key) is seen. At most kMaxFirstSeenKeys keys per
  // (deployment, kind): beyond that it returns false and counts
  // opsorch_workflow_audit_keys_overflow_total{deployment,kind}, so hostile keys cannot grow
  // memory. A repeated key does not allocate.
  bool FirstSeen(std::string_view deployment, std::string_view kind, std::string_view key);

  // Lines computed at render time (e.g. RenderOutputGauges), complete with # HELP/# TYPE;
  // appended after the families, in the order added. A hook must not call Render().
  void AddRenderHook(std::function<void(std::string& out)> hook);

  // Prometheus text format 0.0.4.
  std::string Render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One output's delivery statistics (MetricOutput::Stats()) for RenderOutputGauges.
struct OutputGaugeRow {
  std::string_view deployment, output;
  OutputStats stats;
};

// Writes, each family once with # HELP/# TYPE, one series per row labelled {deployment,output}:
//   opsorch_workflow_output_backlog_bytes            gauge   (spooled_bytes: not acknowledged)
//   opsorch_workflow_output_appended_records_total   counter (appended)
//   opsorch_workflow_output_sent_records_total       counter (sent)
//   opsorch_workflow_output_send_failures_total      counter (failed_posts: failed POSTs)
//   opsorch_workflow_output_refused_records_total    counter (refused: spool full)
// Nothing when `rows` is empty. Rows must have distinct (deployment, output) pairs.
void RenderOutputGauges(std::string& out, std::span<const OutputGaugeRow> rows);

}  // namespace opsorch::workflow
