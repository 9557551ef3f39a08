// OpsOrch's incident vocabulary over the engine's, as tables: what each word means, which label
// an incident shows, and which filters select it.
#include "engine/vocabulary.h"

#include <gtest/gtest.h>

#include "engine/rules.h"

namespace opsorch::engine {
namespace {

TEST(Vocabulary, StatusesMapToTheLifecycle) {
  const struct {
    const char* in;
    const char* label;  // "" = refused
    const char* lifecycle;
  } rows[] = {
      {"open", "open", "open"},
      {"investigating", "investigating", "acknowledged"},
      {"mitigating", "mitigating", "acknowledged"},
      {"monitoring", "monitoring", "acknowledged"},
      {"acknowledged", "acknowledged", "acknowledged"},
      {"resolved", "resolved", "resolved"},
      {"closed", "closed", "resolved"},
      {" Investigating ", "investigating", "acknowledged"},
      {"triggered", "", ""},
      {"", "", ""},
      {"sev1", "", ""},
  };
  for (const auto& r : rows) {
    auto w = ParseStatusWord(r.in);
    if (*r.label == '\0') {
      EXPECT_FALSE(w) << r.in;
      continue;
    }
    ASSERT_TRUE(w) << r.in;
    EXPECT_EQ(w->label, r.label) << r.in;
    EXPECT_EQ(w->lifecycle, r.lifecycle) << r.in;
  }
}

TEST(Vocabulary, SeveritiesMapToTheEnginesAndToUrgency) {
  const struct {
    const char* in;
    const char* label;  // "" = refused
    const char* severity;
    const char* urgency;
  } rows[] = {
      {"sev1", "sev1", "critical", "high"},
      {"sev2", "sev2", "error", "high"},
      {"sev3", "sev3", "warning", "low"},
      {"sev4", "sev4", "info", "low"},
      {"sev5", "sev5", "info", "low"},
      {"critical", "sev1", "critical", "high"},
      {"error", "sev2", "error", "high"},
      {"warning", "sev3", "warning", "low"},
      {"info", "sev4", "info", "low"},
      {"SEV2", "sev2", "error", "high"},
      {"sev0", "", "", ""},
      {"sev6", "", "", ""},
      {"high", "", "", ""},
      {"", "", "", ""},
  };
  for (const auto& r : rows) {
    auto w = ParseSeverityWord(r.in);
    if (*r.label == '\0') {
      EXPECT_FALSE(w) << r.in;
      continue;
    }
    ASSERT_TRUE(w) << r.in;
    EXPECT_EQ(w->label, r.label) << r.in;
    EXPECT_EQ(w->severity, r.severity) << r.in;
    EXPECT_EQ(UrgencyFor(w->severity), r.urgency) << r.in;
  }
  // Events carry PagerDuty's severities: the same urgencies.
  EXPECT_EQ(UrgencyFor(Severity::kCritical), "high");
  EXPECT_EQ(UrgencyFor(Severity::kError), "high");
  EXPECT_EQ(UrgencyFor(Severity::kWarning), "low");
  EXPECT_EQ(UrgencyFor(Severity::kInfo), "low");
}

// The label an API call set holds while the engine agrees with it; an event that moves the
// incident elsewhere in its lifecycle, or raises its severity, shows the engine's word.
TEST(Vocabulary, LabelsHoldWhileTheEngineAgrees) {
  const struct {
    const char* set_status;
    const char* set_severity;
    const char* engine_status;    // after what the engine did since
    const char* engine_severity;  //
    const char* shows_status;
    const char* shows_severity;
  } rows[] = {
      {"investigating", "sev5", "acknowledged", "info", "investigating", "sev5"},
      {"investigating", "sev5", "resolved", "warning", "resolved", "sev3"},
      {"closed", "sev4", "resolved", "info", "closed", "sev4"},
      {"closed", "sev4", "open", "info", "open", "sev4"},
      {"open", "critical", "open", "critical", "open", "sev1"},
      {"monitoring", "sev2", "acknowledged", "critical", "monitoring", "sev1"},
  };
  for (const auto& r : rows) {
    IncidentRow row;
    row.fields["team-note"] = "kept";
    auto status = ParseStatusWord(r.set_status);
    auto severity = ParseSeverityWord(r.set_severity);
    ASSERT_TRUE(status && severity);
    row.status = status->lifecycle;
    row.severity = severity->severity;
    SetLabels(row, status, severity);
    row.status = r.engine_status;
    row.severity = r.engine_severity;
    EXPECT_EQ(StatusLabelOf(row), r.shows_status) << r.set_status << " then " << r.engine_status;
    EXPECT_EQ(SeverityLabelOf(row), r.shows_severity) << r.set_severity;
    EXPECT_EQ(row.fields.at("team-note"), "kept");
  }
  // The engine's own words keep no label.
  IncidentRow plain;
  SetLabels(plain, ParseStatusWord("acknowledged"), ParseSeverityWord("sev1"));
  EXPECT_TRUE(plain.fields.empty());
}

// The engine's own moves through the lifecycle end a label, even when the incident comes back to
// the same stage: resolved and reopened, then acknowledged again, it is not "mitigating" any more.
TEST(Vocabulary, ALabelEndsWhenTheEngineMovesTheIncidentOn) {
  const struct {
    const char* label;
    const char* stage;  // the label's stage, as the API set it
    std::int64_t acked, resolved;
    // then the engine: the status and the times it leaves
    const char* status;
    std::int64_t now_acked, now_resolved;
    const char* shows;
  } rows[] = {
      {"mitigating", "acknowledged", 10, 0, "acknowledged", 10, 0, "mitigating"},  // a repeat ack
      {"mitigating", "acknowledged", 10, 0, "resolved", 10, 20, "resolved"},
      {"mitigating", "acknowledged", 10, 0, "open", 0, 0, "open"},                   // reopened
      {"mitigating", "acknowledged", 10, 0, "acknowledged", 30, 0, "acknowledged"},  // re-acked
      {"closed", "resolved", 0, 20, "resolved", 0, 20, "closed"},
      {"closed", "resolved", 0, 20, "resolved", 0, 40, "resolved"},  // reopened, resolved again
  };
  for (const auto& r : rows) {
    IncidentRow row;
    row.status = r.stage;
    row.acknowledged_at = r.acked;
    row.resolved_at = r.resolved;
    SetLabels(row, ParseStatusWord(r.label), std::nullopt);
    row.status = r.status;
    row.acknowledged_at = r.now_acked;
    row.resolved_at = r.now_resolved;
    EXPECT_EQ(StatusLabelOf(row), r.shows) << r.label << " then " << r.status;
  }
}

TEST(Vocabulary, FiltersMatchLabelsAndTheWordsTheyMean) {
  IncidentRow row;
  row.status = "acknowledged";
  row.severity = "info";
  SetLabels(row, ParseStatusWord("mitigating"), ParseSeverityWord("sev5"));
  const struct {
    const char* wanted;
    bool status;
  } statuses[] = {{"mitigating", true}, {"acknowledged", true}, {"investigating", false},
                  {"open", false},      {"MITIGATING", true},   {"resolved", false}};
  for (const auto& r : statuses) {
    EXPECT_EQ(WordFilter({r.wanted}).Matches(StatusLabelOf(row), row.status), r.status) << r.wanted;
  }
  const struct {
    const char* wanted;
    bool severity;
  } severities[] = {{"sev5", true}, {"info", true}, {"sev4", false}, {"sev1", false}};
  // Any of several values; spaces and case do not count.
  EXPECT_TRUE(WordFilter({"open", " Mitigating "}).Matches(StatusLabelOf(row), row.status));
  EXPECT_FALSE(WordFilter({"open", "closed"}).Matches(StatusLabelOf(row), row.status));
  for (const auto& r : severities) {
    EXPECT_EQ(WordFilter({r.wanted}).Matches(SeverityLabelOf(row), row.severity), r.severity)
        << r.wanted;
  }
}

}  // namespace
}  // namespace opsorch::engine
