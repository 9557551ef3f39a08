// The `workflow` metric provider: POST /metrics/query and GET /metrics/describe answered from
// what the workflow runtime's processors emitted (the runtime's MetricStore).
#pragma once

#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/providers/registry.h>
#include <opsorch/workflow/metric_output.h>

namespace opsorch::workflow {

inline constexpr std::string_view kMetricProviderName = "workflow";

// `store` must outlive the registry's providers. Without a store (no bootstrap configured) the
// provider still registers and every call fails with a message saying how to configure one.
Status RegisterWorkflowMetricProvider(providers::ProviderRegistry& registry, MetricStore* store);

}  // namespace opsorch::workflow
