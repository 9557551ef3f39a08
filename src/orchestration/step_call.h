// What a runbook step's `with` says to do, per step type, and the small pure checks the runner
// applies to results: a JSON path condition on a workflow step's result, the latest value of a
// workflow metric, the text of a record step.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/runbook/runbook.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {
class MetricStore;
}

namespace opsorch::orchestration {

// A condition on a workflow step's JSON result: the value at `path` ("a.b.0.c") equals a value,
// is above or below a number, or exists.
struct Expectation {
  std::string path;
  std::optional<JsonValue> equals;
  std::optional<double> above, below;
  std::optional<bool> exists;
};

struct StepCall {
  // invoke, and observe/verify through a workflow step: "deployment" and "step" (a step id, or
  // "workflow/step"), with "input" passed to it.
  std::string deployment, step;
  JsonObject input;
  std::optional<Expectation> expect;
  // observe/verify through a workflow metric: its key, dimensions that must match, bounds.
  std::string metric;
  workflow::Dimensions dimensions;
  std::optional<double> above, below;
  // A sample older than this does not count (the emitter may have stopped): "maxAge", default
  // 10m, 1s to 24h.
  std::chrono::milliseconds max_age{10 * 60 * 1000};
  // record: the timeline entry, with {runId}, {planId}, {planTitle}, {incidentId},
  // {fields.<name>} filled in.
  std::string text;
  // manual: what the person is asked to do (shown with the step).
  std::string instructions;
};

// Decodes and checks `step.with` for the step's type; errors name `path` and the rule.
Result<StepCall> DecodeStepCall(const runbook::Step& step, const std::string& path);

// "" when `body` meets the condition, else why not ("status is \"degraded\", not \"ok\"").
std::string Expect(const Expectation& e, const JsonValue& body);

// The newest sample of `key` whose dimensions include `dims`, if any: its value and time (Unix
// ns).
struct Sample {
  double value = 0;
  std::int64_t at_ns = 0;
};
std::optional<Sample> LatestValue(const workflow::MetricStore& store, const std::string& key,
                                  const workflow::Dimensions& dims);

std::string FormatNumber(double v);

inline constexpr std::size_t kMaxStepText = 4096;  // record text and manual instructions

}  // namespace opsorch::orchestration
