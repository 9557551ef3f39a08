#include <memory>

#include <opsorch/common/error.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/workflow/metric_provider.h>

namespace opsorch::workflow {
namespace {

namespace s = schema;

class WorkflowMetricProvider final : public providers::MetricProvider {
 public:
  explicit WorkflowMetricProvider(MetricStore* store) : store_(store) {}

  Result<NullableList<s::MetricSeries>> Query(const s::MetricQuery& q) override {
    if (store_ == nullptr) return NotConfigured();
    auto series = store_->Query(q);
    if (!series) return Fail(series.error());
    return NullableList<s::MetricSeries>(std::move(*series));
  }

  Result<NullableList<s::MetricDescriptor>> Describe(const s::QueryScope&) override {
    if (store_ == nullptr) return NotConfigured();
    return NullableList<s::MetricDescriptor>(store_->Describe());
  }

 private:
  static tl::unexpected<Error> NotConfigured() {
    return Fail(errc::kProviderError,
                "the workflow runtime is not running: set OPSORCH_WORKFLOW_BOOTSTRAP");
  }
  MetricStore* store_;
};

}  // namespace

Status RegisterWorkflowMetricProvider(providers::ProviderRegistry& registry, MetricStore* store) {
  return registry.Register<providers::MetricProvider>(
      kMetricProviderName,
      [store](const JsonObject&) -> Result<std::shared_ptr<providers::MetricProvider>> {
        return std::make_shared<WorkflowMetricProvider>(store);
      });
}

}  // namespace opsorch::workflow
