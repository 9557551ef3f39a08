#include "engine/vocabulary.h"

#include <algorithm>
#include <array>

#include <opsorch/common/strings.h>

namespace opsorch::engine {
namespace {

struct StatusRow {
  std::string_view label;
  std::string_view lifecycle;
};
constexpr std::array<StatusRow, 7> kStatuses = {{
    {"open", "open"},
    {"investigating", "acknowledged"},
    {"mitigating", "acknowledged"},
    {"monitoring", "acknowledged"},
    {"acknowledged", "acknowledged"},
    {"resolved", "resolved"},
    {"closed", "resolved"},
}};

struct SeverityRow {
  std::string_view label;
  std::string_view severity;
};
constexpr std::array<SeverityRow, 5> kSeverities = {{
    {"sev1", "critical"},
    {"sev2", "error"},
    {"sev3", "warning"},
    {"sev4", "info"},
    {"sev5", "info"},
}};

std::string_view StoredLabel(const IncidentRow& row, std::string_view field) {
  const auto it = row.fields.find(field);
  if (it == row.fields.end() || !it->value().is_string()) return {};
  return it->value().get_string();
}

}  // namespace

std::optional<StatusWord> ParseStatusWord(std::string_view status) {
  const std::string s = ToLower(TrimSpace(status));
  for (const auto& r : kStatuses) {
    if (s == r.label) return StatusWord{std::string(r.label), std::string(r.lifecycle)};
  }
  return std::nullopt;
}

std::optional<SeverityWord> ParseSeverityWord(std::string_view severity) {
  const std::string s = ToLower(TrimSpace(severity));
  for (const auto& r : kSeverities) {
    if (s == r.label) return SeverityWord{std::string(r.label), std::string(r.severity)};
  }
  for (const auto& r : kSeverities) {  // the engine's words: the first label that means them
    if (s == r.severity) return SeverityWord{std::string(r.label), std::string(r.severity)};
  }
  return std::nullopt;
}

std::string_view SeverityLabel(std::string_view engine_severity) {
  for (const auto& r : kSeverities) {
    if (engine_severity == r.severity) return r.label;
  }
  return engine_severity;
}

// The status label is kept with the acknowledge and resolve times it was set at: when the engine
// moves the incident through its lifecycle (resolves it, reopens it, acknowledges it again) one of
// them changes, and the label no longer applies even if the stage is the same again.
std::string StatusLabelOf(const IncidentRow& row) {
  const auto it = row.fields.find(kStatusLabelField);
  if (it == row.fields.end() || !it->value().is_object()) return row.status;
  const JsonObject& kept = it->value().get_object();
  const JsonValue* label = kept.if_contains("label");
  const JsonValue* acked = kept.if_contains("acknowledgedAt");
  const JsonValue* resolved = kept.if_contains("resolvedAt");
  if (label == nullptr || !label->is_string() || acked == nullptr || !acked->is_int64() ||
      resolved == nullptr || !resolved->is_int64()) {
    return row.status;
  }
  auto w = ParseStatusWord(label->get_string());
  if (w && w->lifecycle == row.status && acked->get_int64() == row.acknowledged_at &&
      resolved->get_int64() == row.resolved_at) {
    return w->label;
  }
  return row.status;
}

std::string SeverityLabelOf(const IncidentRow& row) {
  const std::string_view label = StoredLabel(row, kSeverityLabelField);
  if (auto w = ParseSeverityWord(label); w && w->severity == row.severity) return w->label;
  return std::string(SeverityLabel(row.severity));
}

void SetLabels(IncidentRow& row, const std::optional<StatusWord>& status,
               const std::optional<SeverityWord>& severity) {
  if (status) {
    if (status->label == status->lifecycle) {
      row.fields.erase(kStatusLabelField);
    } else {
      row.fields[kStatusLabelField] = JsonObject{{"label", status->label},
                                                 {"acknowledgedAt", row.acknowledged_at},
                                                 {"resolvedAt", row.resolved_at}};
    }
  }
  if (severity) {
    if (severity->label == SeverityLabel(severity->severity)) {
      row.fields.erase(kSeverityLabelField);
    } else {
      row.fields[kSeverityLabelField] = severity->label;
    }
  }
}

WordFilter::WordFilter(const std::vector<std::string>& wanted) {
  wanted_.reserve(wanted.size());
  for (const auto& w : wanted) wanted_.push_back(ToLower(TrimSpace(w)));
}

bool WordFilter::Matches(std::string_view label, std::string_view engine_word) const {
  return std::any_of(wanted_.begin(), wanted_.end(),
                     [&](const std::string& w) { return w == label || w == engine_word; });
}

}  // namespace opsorch::engine
