// The `local` orchestration provider's engine: runbooks (plans) kept in the incident engine's
// store, versioned; durable runs that call workflow steps, check conditions, wait for people and
// write to incident timelines; and the runner that moves them on. Docs: docs/RUNBOOKS.md.
//
// Every change of a run is one write transaction through the engine's writer (group commit, the
// same durability as an event). An automated attempt is claimed in the transaction that starts
// it — the run's row is locked (PostgreSQL: FOR UPDATE; SQLite has one writer) — so two nodes
// never start the same attempt, and its result is applied only if that attempt is still the
// step's current one. A node that dies mid-attempt leaves the attempt running until its timeout
// (any node then applies the failure policy); with SQLite, which one process owns, attempts left
// running are failed as interrupted when it starts again. Nothing that completed runs again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/api/route.h>
#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/providers/registry.h>
#include <opsorch/runbook/runbook.h>
#include <opsorch/schema/orchestration.h>

namespace opsorch::engine {
class Engine;
class Tx;
struct IncidentTriggered;
}  // namespace opsorch::engine
namespace opsorch::workflow {
class Runtime;
class MetricStore;
}  // namespace opsorch::workflow
namespace opsorch::metrics {
class Registry;
}

namespace opsorch::orchestration {

struct RunbooksOptions {
  engine::Engine* engine = nullptr;  // required: the store and its writer
  // The workflow runtime of `opsorch serve` (invoke, and observe/verify through a workflow
  // step); returns null when none runs (those steps then fail saying so).
  std::function<workflow::Runtime*()> workflows;
  // What workflows emitted (observe/verify through a metric); null: such checks fail.
  workflow::MetricStore* workflow_metrics = nullptr;
  // Runbook JSON files (*.json) loaded when the runner opens; a changed file becomes a new
  // version. Empty: none.
  std::string runbook_dir;
  unsigned threads = 8;  // automated attempts in parallel (they block on HTTP and scripts)
  // One process owns the store (SQLite): attempts left running by a previous process are failed
  // as interrupted at once instead of waiting for their timeouts.
  bool single_node = true;
  bool runner = true;  // false: no threads; tests call Sweep() and RunQueued()
  // Runs that ended (completed, failed, cancelled) longer ago than this are deleted, hourly by
  // the runner (RunRetention).
  std::chrono::hours retention{24 * 90};
  metrics::Registry* metrics = nullptr;
};

// One version of a runbook as stored.
struct PlanVersion {
  runbook::Runbook runbook;
  JsonObject doc;  // the document as uploaded
  std::int64_t version = 0;
  std::int64_t updated_at = 0;  // ns
  std::string source;           // "api" or "file:<name>"
};

class Runbooks {
 public:
  static Result<std::unique_ptr<Runbooks>> Open(RunbooksOptions options);
  ~Runbooks();  // Stop()
  Runbooks(const Runbooks&) = delete;
  Runbooks& operator=(const Runbooks&) = delete;
  // Stops the runner; attempts still running finish and their results are written.
  void Stop();

  // ---- runbooks (plans) ----
  // Validates (the runbook's rules and each step's `with`) and stores a new version unless the
  // document is unchanged (then the current version is returned). The path id must match the
  // document's id.
  Result<PlanVersion> PutRunbook(std::string_view id, std::string_view json_text,
                                 std::string_view source = "api");
  Result<std::optional<PlanVersion>> GetRunbook(std::string_view id);
  Result<std::vector<PlanVersion>> ListRunbooks();
  Status DeleteRunbook(std::string_view id);  // runs of it keep their version

  // ---- the OpsOrch orchestration operations ----
  Result<std::vector<schema::OrchestrationPlan>> QueryPlans(
      const schema::OrchestrationPlanQuery& q);
  Result<std::optional<schema::OrchestrationPlan>> GetPlan(std::string_view id);
  Result<std::vector<schema::OrchestrationRun>> QueryRuns(const schema::OrchestrationRunQuery& q);
  Result<std::optional<schema::OrchestrationRun>> GetRun(std::string_view id);
  // `fields` are the run's inputs; fields.incidentId links the run to an incident (it must
  // exist): the run is written on its timeline.
  Result<schema::OrchestrationRun> StartRun(std::string_view plan_id, const JsonObject& fields,
                                            const JsonObject& actor);
  // A person completed a manual step: not found (run or step), conflict (not waiting).
  Status CompleteStep(std::string_view run_id, std::string_view step_id, std::string_view actor,
                      std::string_view note);
  Status CancelRun(std::string_view run_id, std::string_view actor);

  // The engine's incident hook: inside the transaction that created the incident, a run of each
  // runbook the service names (the runner starts them once the commit is visible).
  Status OnIncidentTriggered(engine::Tx& tx, const engine::IncidentTriggered& t);

  // Deletes runs that ended longer ago than the retention; returns how many.
  Result<std::size_t> RunRetention();

  // Tests (options.runner false): one pass over due runs; run queued attempts on this thread.
  void Sweep();
  std::size_t RunQueued();

  struct Impl;

 private:
  explicit Runbooks(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The `local` orchestration provider over the runner `runbooks` returns (opened on first use).
Status RegisterLocalOrchestration(providers::ProviderRegistry& registry,
                                  std::function<Result<Runbooks*>()> runbooks);

// GET /admin/runbooks, GET|PUT|DELETE /admin/runbooks/{id}, POST /admin/runbook-runs/{id}/cancel.
struct RoutesContext {
  std::function<Runbooks*()> runbooks;  // null while no engine runs: 404
};
api::RouteTable Routes(const RoutesContext& ctx);

}  // namespace opsorch::orchestration
