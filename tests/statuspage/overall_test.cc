// The overall banner over components, active incidents and maintenance windows, and the state
// vocabulary.
#include <gtest/gtest.h>

#include <opsorch/statuspage/status_page.h>

#include "statuspage/sample_page.h"

namespace opsorch::statuspage {
namespace {

using testing::kHour;
using testing::kNow;

constexpr auto kOk = ComponentState::kOperational;
constexpr auto kMaint = ComponentState::kMaintenance;
constexpr auto kDegraded = ComponentState::kDegraded;
constexpr auto kPartial = ComponentState::kPartialOutage;
constexpr auto kMajor = ComponentState::kMajorOutage;

struct OverallCase {
  std::string name;
  std::vector<ComponentState> components;
  std::vector<std::string> active_impacts;
  std::vector<std::pair<std::int64_t, std::int64_t>> maintenance;  // [starts, ends) from now
  ComponentState want;
  std::string_view banner;
};

void PrintTo(const OverallCase& c, std::ostream* os) { *os << c.name; }

class OverallTable : public ::testing::TestWithParam<OverallCase> {};

TEST_P(OverallTable, Banner) {
  const OverallCase& c = GetParam();
  Page p;
  p.generated_at = kNow;
  for (ComponentState s : c.components) p.components.push_back({"c", "C", "", s, {}});
  for (const std::string& impact : c.active_impacts) {
    Incident i;
    i.impact = impact;
    p.active.push_back(i);
  }
  for (const auto& [from, to] : c.maintenance) {
    p.maintenance.push_back({"m", "M", "", kNow + from, kNow + to, {}});
  }
  EXPECT_EQ(Overall(p), c.want);
  EXPECT_EQ(BannerText(Overall(p)), c.banner);
}

INSTANTIATE_TEST_SUITE_P(
    Statuspage, OverallTable,
    ::testing::Values(
        OverallCase{"NothingAtAll", {}, {}, {}, kOk, "All systems operational"},
        OverallCase{"AllOperational", {kOk, kOk}, {}, {}, kOk, "All systems operational"},
        OverallCase{"MaintenanceOnly", {kOk, kMaint}, {}, {}, kMaint, "Under maintenance"},
        OverallCase{"DegradedBeatsMaintenance",
                    {kMaint, kDegraded, kOk},
                    {},
                    {},
                    kDegraded,
                    "Degraded performance"},
        OverallCase{
            "PartialBeatsDegraded", {kDegraded, kPartial}, {}, {}, kPartial, "Partial outage"},
        OverallCase{
            "MajorBeatsAll", {kPartial, kMajor, kMaint, kDegraded}, {}, {}, kMajor, "Major outage"},
        OverallCase{
            "CriticalIncidentWithoutComponents", {kOk}, {"critical"}, {}, kMajor, "Major outage"},
        OverallCase{"MajorIncident", {kOk}, {"major"}, {}, kPartial, "Partial outage"},
        OverallCase{
            "MinorIncident", {kOk}, {"minor", "none"}, {}, kDegraded, "Degraded performance"},
        OverallCase{"NoImpactOrUnknownIncident",
                    {kOk},
                    {"none", "bogus", ""},
                    {},
                    kOk,
                    "All systems operational"},
        OverallCase{"IncidentBelowComponentState", {kMajor}, {"minor"}, {}, kMajor, "Major outage"},
        OverallCase{
            "MaintenanceInProgress", {kOk}, {}, {{-kHour, kHour}}, kMaint, "Under maintenance"},
        OverallCase{"MaintenanceStartingNow", {kOk}, {}, {{0, kHour}}, kMaint, "Under maintenance"},
        OverallCase{"MaintenanceUpcomingOrOver",
                    {kOk},
                    {},
                    {{kHour, 2 * kHour}, {-kHour, 0}},
                    kOk,
                    "All systems operational"},
        OverallCase{"MaintenanceUnderAnOutage",
                    {kPartial},
                    {},
                    {{-kHour, kHour}},
                    kPartial,
                    "Partial outage"}),
    [](const auto& info) { return info.param.name; });

TEST(Vocabulary, WireNamesAndLabels) {
  const std::vector<std::tuple<ComponentState, std::string_view, std::string_view>> rows = {
      {kOk, "operational", "Operational"},
      {kMaint, "under_maintenance", "Under maintenance"},
      {kDegraded, "degraded_performance", "Degraded performance"},
      {kPartial, "partial_outage", "Partial outage"},
      {kMajor, "major_outage", "Major outage"},
  };
  for (const auto& [state, wire, label] : rows) {
    EXPECT_EQ(WireName(state), wire);
    EXPECT_EQ(Label(state), label);
  }
  EXPECT_EQ(Worse(kMaint, kDegraded), kDegraded);
  EXPECT_EQ(Worse(kMajor, kOk), kMajor);
  EXPECT_EQ(Worse(kOk, kMaint), kMaint);
}

}  // namespace
}  // namespace opsorch::statuspage
