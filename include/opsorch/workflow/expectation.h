// What "wrong" looks like for a workflow's metric, and the decision per series (metric key and
// dimensions): bounds, a direction of change, a breach that must hold for a while before it
// counts and a clear that must hold before it resolves (so a flapping value does not open and
// close incidents on every sample). Pure functions of the declaration, the series' state and the
// sample: the runtime (issue 17, still to be wired) keeps the state and turns each transition
// into a PagerDuty Events v2 trigger or resolve with the series' stable dedup key.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

struct Expectation {
  std::string metric;     // the metric key it watches
  Dimensions dimensions;  // only series with these dimension values (empty: every series)
  std::optional<double> above, below;  // a breach: value > above, value < below
  // A breach: the value moved from the previous sample by at least `change` in this direction.
  enum class Direction : std::uint8_t { kNone, kUp, kDown } direction = Direction::kNone;
  double change = 0;
  std::chrono::milliseconds hold{0};   // "for": a breach counts once it held this long
  std::chrono::milliseconds clear{0};  // "clear_for": back in bounds this long resolves
  std::string severity = "warning";    // critical, error, warning, info (Events v2)
  // "{key}", "{value}" and "{<dimension>}" are replaced; at most 1024 bytes.
  std::string summary;
};

inline constexpr std::size_t kMaxExpectations = 100;

// The configuration's `expectations` array. Errors name the path and the rule
// ("expectations[2].below: must be a number"); a declaration must say what a breach is.
Result<std::vector<Expectation>> DecodeExpectations(const JsonArray& list, const std::string& path);

// One series' memory, kept by the caller per (expectation, key, dimensions).
struct SeriesState {
  std::optional<double> last;                // the previous sample
  std::optional<std::int64_t> breach_since;  // ms: the current breach began
  std::optional<std::int64_t> clear_since;   // ms: back in bounds since, while firing
  bool firing = false;                       // an incident is open for it
};

enum class Transition : std::uint8_t { kNone, kTrigger, kResolve };

struct Evaluation {
  SeriesState next;
  Transition transition = Transition::kNone;
};

// True when the declaration watches this metric (key and dimension filter).
bool Watches(const Expectation& e, const Metric& m);
// The decision for one sample at its timestamp (ms). A sample older than the state's last
// breach or clear start is treated as happening at that start (time never goes back).
Evaluation Evaluate(const Expectation& e, const SeriesState& state, double value,
                    std::int64_t at_ms);

// Stable across restarts and nodes: the deployment, the metric key and the sorted dimensions,
// hashed (SHA-256, hex, first 32 digits) behind a readable prefix: "wf-budget-project.x-3fa9…".
// At most 255 characters (Events v2's limit).
std::string DedupKey(std::string_view deployment, const Metric& m);
// The summary with its placeholders filled, or a default ("project.within_budget is 0
// (project=gemini)"); at most 1024 bytes.
std::string Summary(const Expectation& e, const Metric& m);

}  // namespace opsorch::workflow
