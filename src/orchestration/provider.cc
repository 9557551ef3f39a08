#include <opsorch/orchestration/runbooks.h>
#include <opsorch/providers/interfaces.h>

namespace opsorch::orchestration {
namespace {

namespace s = ::opsorch::schema;

class LocalOrchestration final : public providers::OrchestrationProvider {
 public:
  explicit LocalOrchestration(Runbooks& rb) : rb_(rb) {}

  Result<NullableList<s::OrchestrationPlan>> QueryPlans(
      const s::OrchestrationPlanQuery& q) override {
    auto r = rb_.QueryPlans(q);
    if (!r) return Fail(std::move(r.error()));
    return NullableList<s::OrchestrationPlan>(std::move(*r));
  }
  Result<std::optional<s::OrchestrationPlan>> GetPlan(const std::string& plan_id) override {
    return rb_.GetPlan(plan_id);
  }
  Result<NullableList<s::OrchestrationRun>> QueryRuns(const s::OrchestrationRunQuery& q) override {
    auto r = rb_.QueryRuns(q);
    if (!r) return Fail(std::move(r.error()));
    return NullableList<s::OrchestrationRun>(std::move(*r));
  }
  Result<std::optional<s::OrchestrationRun>> GetRun(const std::string& run_id) override {
    return rb_.GetRun(run_id);
  }
  Result<std::optional<s::OrchestrationRun>> StartRun(const std::string& plan_id) override {
    return StartRunWith(s::PlanIdPayload{plan_id, {}});
  }
  Result<std::optional<s::OrchestrationRun>> StartRunWith(const s::PlanIdPayload& in) override {
    auto r = rb_.StartRun(in.plan_id, in.fields, JsonObject{{"type", "api"}});
    if (!r) return Fail(std::move(r.error()));
    return std::optional<s::OrchestrationRun>(std::move(*r));
  }
  Status CompleteStep(const std::string& run_id, const std::string& step_id,
                      const std::string& actor, const std::string& note) override {
    return rb_.CompleteStep(run_id, step_id, actor, note);
  }

 private:
  Runbooks& rb_;
};

}  // namespace

Status RegisterLocalOrchestration(providers::ProviderRegistry& registry,
                                  std::function<Result<Runbooks*>()> runbooks) {
  return registry.Register<providers::OrchestrationProvider>(
      "local",
      [runbooks](
          const JsonObject& config) -> Result<std::shared_ptr<providers::OrchestrationProvider>> {
        if (!config.empty()) {
          return Fail(errc::kBadRequest,
                      "orchestration provider local takes no config (runbooks are uploaded through "
                      "/admin/runbooks or read from OPSORCH_RUNBOOK_DIR)");
        }
        auto rb = runbooks();
        if (!rb) return Fail(std::move(rb.error()));
        return std::shared_ptr<providers::OrchestrationProvider>(
            std::make_shared<LocalOrchestration>(**rb));
      },
      // Every call reads or writes the engine's store.
      providers::CallModel::kPool);
}

}  // namespace opsorch::orchestration
