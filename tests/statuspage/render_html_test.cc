// The HTML page: a self-contained document with the sections, texts and bars a visitor reads.
#include <gtest/gtest.h>

#include <opsorch/statuspage/status_page.h>

#include "statuspage/sample_page.h"

namespace opsorch::statuspage {
namespace {

using testing::Count;
using testing::SamplePage;

// The region of the component whose name is `name`: from its <li> to the next component.
std::string ComponentBlock(const std::string& html, std::string_view id) {
  const std::size_t start = html.find("id=\"component-" + std::string(id) + "\"");
  if (start == std::string::npos) return "";
  const std::size_t end = html.find("</ol>", start);
  return html.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Positions of the needles in order; fails the test when one is missing or out of order.
void ExpectInOrder(const std::string& text, const std::vector<std::string>& needles) {
  std::size_t pos = 0;
  for (const std::string& n : needles) {
    const std::size_t found = text.find(n, pos);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << n;
    pos = found + n.size();
  }
}

TEST(RenderHtml, DocumentIsSelfContained) {
  const std::string html = RenderHtml(SamplePage());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">")) << html.substr(0, 80);
  EXPECT_TRUE(html.ends_with("</body></html>\n"));
  EXPECT_NE(html.find("<meta charset=\"utf-8\">"), std::string::npos);
  EXPECT_NE(html.find("name=\"viewport\""), std::string::npos);
  EXPECT_NE(html.find("@media (prefers-color-scheme:dark)"), std::string::npos);
  EXPECT_NE(html.find("<title>Acme Cloud status</title>"), std::string::npos);
  // Nothing that a strict CSP (default-src 'none'; style-src 'unsafe-inline') would block or
  // that would leave the page: no script, no fetched resource, no remote font or import.
  for (const std::string_view banned :
       {"<script", "<img", "<link", "<iframe", "<svg", "src=", "url(", "@import", "@font-face",
        "http://", "https://", "javascript:", "onload", "onerror"}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
  EXPECT_EQ(testing::BadHtmlTag(html), "");
}

TEST(RenderHtml, LandmarksAndHeadings) {
  const std::string html = RenderHtml(SamplePage());
  ExpectInOrder(html,
                {"<a class=\"skip\" href=\"#main\">", "<header", "<h1>Acme Cloud</h1>",
                 "<main id=\"main\"", "<h2 id=\"overall-h\" class=\"state\">Partial outage</h2>",
                 "<h2 id=\"active-h\">Active incidents</h2>",
                 "<h2 id=\"maintenance-h\">Scheduled maintenance</h2>",
                 "<h2 id=\"components-h\">Components</h2>", "<h2 id=\"past-h\">Past incidents</h2>",
                 "</main>", "<footer"});
  EXPECT_EQ(Count(html, "<h1>"), 1u);
}

TEST(RenderHtml, ComponentsWithStatesAndNinetyBars) {
  const std::string html = RenderHtml(SamplePage());
  ExpectInOrder(html, {"<h3>Public API</h3><span class=\"state\">Partial outage</span>",
                       "REST and webhooks", "<h3>Dashboard</h3><span class=\"state\">Operational",
                       "<h3>Database</h3><span class=\"state\">Under maintenance"});
  for (const std::string_view id : {"api", "web", "db"}) {
    const std::string block = ComponentBlock(html, id);
    ASSERT_FALSE(block.empty()) << id;
    EXPECT_EQ(Count(block, "<li class=\"s-"), 90u) << id;
    EXPECT_EQ(Count(block, " aria-label=\"20"), 90u) << id;  // every bar has a dated label
  }
  EXPECT_EQ(Count(html, "<ol class=\"bars\""), 3u);

  const std::string api = ComponentBlock(html, "api");
  // The first bar is 89 days before today, before the component existed.
  ExpectInOrder(api, {"title=\"2026-09-03: no data\"", "title=\"2026-10-01: 100.00% uptime\"",
                      "<li class=\"s-major_outage\" title=\"2026-11-30: 95.83% uptime (major "
                      "outage 1 h 0 min)\"",
                      "<li class=\"s-partial_outage\" title=\"2026-12-01: 95.00% uptime "
                      "(partial outage 2 h 0 min)\""});
  // 1 h major + 2 h partial (× 0.3) over 61.5 observed days, rounded down.
  EXPECT_NE(html.find("99.89% uptime</span>"), std::string::npos);
  EXPECT_NE(html.find("100.00% uptime</span>"), std::string::npos);  // the dashboard
  EXPECT_NE(html.find(">No data</span>"), std::string::npos);        // the database
  EXPECT_EQ(Count(ComponentBlock(html, "db"), "no data\""), 180u);   // title and aria-label
}

TEST(RenderHtml, ActiveIncidentWithUpdatesNewestFirst) {
  const std::string html = RenderHtml(SamplePage());
  const std::size_t active = html.find("id=\"active-h\"");
  const std::size_t end = html.find("</section>", active);
  const std::string section = html.substr(active, end - active);
  ExpectInOrder(section, {"id=\"incident-inc-1\"", "<h3>Elevated API error rates</h3>",
                          "Major impact", "Identified",
                          "Started <time datetime=\"2026-12-01T10:00:00Z\">"
                          "2026-12-01T10:00:00Z</time> <span class=\"muted\">(2 hours ago)</span>",
                          "Affected: Public API, gone",
                          "<strong>Update</strong> · <time datetime=\"2026-12-01T11:50:00Z\">",
                          "(10 minutes ago)", "Rollback 50% done.", "<strong>Identified</strong>",
                          "(1 hour ago)", "A bad deploy.\nRolling back.",
                          "<strong>Investigating</strong>", "We are investigating errors."});
  EXPECT_EQ(section.find("Slow dashboard"), std::string::npos);  // past incidents elsewhere
}

TEST(RenderHtml, MaintenanceInProgressAndUpcomingOnly) {
  const std::string html = RenderHtml(SamplePage());
  ExpectInOrder(html, {"<h3>Database upgrade</h3>", "In progress", "(ends in 1 hour)",
                       "Read-only for a while.", "Affected: Database", "<h3>Network work</h3>",
                       "Scheduled", "2026-12-03T01:00:00Z", "(starts in 1 day)"});
  EXPECT_EQ(html.find("Old window"), std::string::npos);
}

TEST(RenderHtml, PastIncidentsGroupedByDayNewestFirst) {
  const std::string html = RenderHtml(SamplePage());
  const std::string past = html.substr(html.find("id=\"past-h\""));
  ExpectInOrder(past, {"<h3 id=\"day-2026-11-30\"><time datetime=\"2026-11-30\">",
                       "<h4>Slow dashboard</h4>", "Minor impact", "Resolved", "Fixed.",
                       "<h4>Webhook delays</h4>", "<h3 id=\"day-2026-11-28\">",
                       "<h4>Login failures</h4>", "Critical impact", "Resolved.", "Looking."});
  EXPECT_EQ(Count(past, "<section class=\"day\""), 2u);
  EXPECT_EQ(Count(past, "<section"), Count(past, "</section>") - 1);  // the outer one is open
}

TEST(RenderHtml, EmptyPage) {
  Page p;
  p.generated_at = testing::kNow;
  const std::string html = RenderHtml(p);
  EXPECT_NE(html.find("<title>Status</title>"), std::string::npos);
  EXPECT_NE(html.find("All systems operational"), std::string::npos);
  EXPECT_NE(html.find("No components."), std::string::npos);
  EXPECT_NE(html.find("No incidents reported."), std::string::npos);
  EXPECT_EQ(html.find("Active incidents"), std::string::npos);
  EXPECT_EQ(html.find("Scheduled maintenance"), std::string::npos);
  EXPECT_EQ(testing::BadHtmlTag(html), "");
}

TEST(RenderHtml, SameInputSameBytes) {
  EXPECT_EQ(RenderHtml(SamplePage()), RenderHtml(SamplePage()));
}

}  // namespace
}  // namespace opsorch::statuspage
