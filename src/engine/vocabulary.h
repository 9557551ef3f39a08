// OpsOrch's incident vocabulary over the engine's (docs/ENGINE.md, "Vocabulary"). The engine
// keeps PagerDuty's lifecycle (open, acknowledged, resolved) and severities (critical … info)
// because dedup, escalation and SLA run on them; OpsOrch clients speak sev1…sev5 and a finer set
// of statuses. These pure functions translate both ways; the `local` providers apply them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/engine/store.h>

namespace opsorch::engine {

// open | investigating | mitigating | monitoring | acknowledged | resolved | closed, and what
// the engine's lifecycle calls each: investigating, mitigating and monitoring are someone working
// on it (acknowledged); closed is resolved. Case and surrounding spaces are ignored.
struct StatusWord {
  std::string label;      // as OpsOrch says it (lower case)
  std::string lifecycle;  // open | acknowledged | resolved
};
std::optional<StatusWord> ParseStatusWord(std::string_view status);

// sev1…sev5 or critical, error, warning, info: the OpsOrch label (sevN) and the engine severity.
// sev1 critical, sev2 error, sev3 warning, sev4 and sev5 info.
struct SeverityWord {
  std::string label;     // sev1 … sev5
  std::string severity;  // critical | error | warning | info
};
std::optional<SeverityWord> ParseSeverityWord(std::string_view severity);

// critical → sev1, error → sev2, warning → sev3, info → sev4; anything else unchanged.
std::string_view SeverityLabel(std::string_view engine_severity);

// The incident's status and severity as OpsOrch says them: the label the API last set, while it
// still agrees with what the engine holds (an event that acknowledges, resolves or raises the
// severity overrides it), else the engine's own word.
std::string StatusLabelOf(const IncidentRow& row);
std::string SeverityLabelOf(const IncidentRow& row);

// Where the labels are kept in IncidentRow::fields (never shown: ToSchema drops them; a client
// cannot set them through `fields`).
inline constexpr std::string_view kStatusLabelField = "opsorch.status";
inline constexpr std::string_view kSeverityLabelField = "opsorch.severity";

// Records the labels an API call chose (or forgets one, when the engine's word is the label).
// Call it once the row's status and acknowledge/resolve times are final for this change.
void SetLabels(IncidentRow& row, const std::optional<StatusWord>& status,
               const std::optional<SeverityWord>& severity);

// A query's status or severity filter, its values normalised once. A value matches its own label
// and, for the engine's words, every label that means it ("acknowledged" matches an incident
// under investigation; "critical" matches sev1).
class WordFilter {
 public:
  explicit WordFilter(const std::vector<std::string>& wanted);
  bool empty() const { return wanted_.empty(); }
  bool Matches(std::string_view label, std::string_view engine_word) const;

 private:
  std::vector<std::string> wanted_;  // lower-cased, trimmed
};

}  // namespace opsorch::engine
