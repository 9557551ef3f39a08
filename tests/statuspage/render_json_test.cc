// The JSON summary, read back with the repo's parser and compared field by field.
#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/statuspage/status_page.h>

#include "statuspage/sample_page.h"

namespace opsorch::statuspage {
namespace {

using testing::SamplePage;

boost::json::object Parse(const std::string& text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v) << (v ? "" : v.error().message) << "\n" << text.substr(0, 400);
  if (!v || !v->is_object()) return {};
  return v->as_object();
}

std::string Str(const boost::json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : "<not a string>";
}

TEST(RenderJson, Summary) {
  const auto doc = Parse(RenderJson(SamplePage()));
  const auto& page = doc.at("page").as_object();
  EXPECT_EQ(Str(page.at("id")), "acme");
  EXPECT_EQ(Str(page.at("name")), "Acme Cloud");
  EXPECT_EQ(Str(page.at("url")), "https://status.acme.example/");
  EXPECT_EQ(Str(page.at("updated_at")), "2026-12-01T12:00:00Z");
  const auto& status = doc.at("status").as_object();
  EXPECT_EQ(Str(status.at("indicator")), "major");  // a partial outage
  EXPECT_EQ(Str(status.at("description")), "Partial outage");
}

TEST(RenderJson, ComponentsWithUptime) {
  const auto doc = Parse(RenderJson(SamplePage()));
  const auto& components = doc.at("components").as_array();
  ASSERT_EQ(components.size(), 3u);
  const auto& api = components[0].as_object();
  EXPECT_EQ(Str(api.at("id")), "api");
  EXPECT_EQ(Str(api.at("name")), "Public API");
  EXPECT_EQ(Str(api.at("description")), "REST and webhooks");
  EXPECT_EQ(Str(api.at("status")), "partial_outage");
  EXPECT_EQ(api.at("uptime_90d").to_number<double>(), 99.8915);  // 4 decimals, rounded down
  const auto& days = api.at("days").as_array();
  ASSERT_EQ(days.size(), 90u);
  EXPECT_EQ(Str(days[0].at("date")), "2026-09-03");
  EXPECT_TRUE(days[0].at("uptime").is_null());
  EXPECT_EQ(Str(days[88].at("date")), "2026-11-30");
  EXPECT_EQ(days[88].at("uptime").to_number<double>(), 95.8333);
  EXPECT_EQ(Str(days[89].at("date")), "2026-12-01");
  EXPECT_EQ(days[89].at("uptime").to_number<double>(), 95.0);

  const auto& web = components[1].as_object();
  EXPECT_EQ(Str(web.at("status")), "operational");
  EXPECT_EQ(web.at("uptime_90d").to_number<double>(), 100.0);
  const auto& db = components[2].as_object();
  EXPECT_EQ(Str(db.at("status")), "under_maintenance");
  EXPECT_TRUE(db.at("uptime_90d").is_null());
  for (const auto& d : db.at("days").as_array()) EXPECT_TRUE(d.at("uptime").is_null());
}

TEST(RenderJson, Incidents) {
  const auto doc = Parse(RenderJson(SamplePage()));
  const auto& active = doc.at("incidents").as_array();
  ASSERT_EQ(active.size(), 1u);
  const auto& inc = active[0].as_object();
  EXPECT_EQ(Str(inc.at("id")), "inc-1");
  EXPECT_EQ(Str(inc.at("name")), "Elevated API error rates");
  EXPECT_EQ(Str(inc.at("status")), "identified");
  EXPECT_EQ(Str(inc.at("impact")), "major");
  EXPECT_EQ(Str(inc.at("created_at")), "2026-12-01T10:00:00Z");
  EXPECT_EQ(Str(inc.at("updated_at")), "2026-12-01T11:50:00Z");
  EXPECT_TRUE(inc.at("resolved_at").is_null());
  const auto& ids = inc.at("components").as_array();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(Str(ids[0]), "api");
  EXPECT_EQ(Str(ids[1]), "gone");
  const auto& updates = inc.at("incident_updates").as_array();
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(Str(updates[0].at("status")), "update");
  EXPECT_EQ(Str(updates[0].at("body")), "Rollback 50% done.");
  EXPECT_EQ(Str(updates[0].at("created_at")), "2026-12-01T11:50:00Z");
  EXPECT_EQ(Str(updates[1].at("body")), "A bad deploy.\nRolling back.");
  EXPECT_EQ(Str(updates[2].at("status")), "investigating");

  const auto& recent = doc.at("recent_incidents").as_array();
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(Str(recent[0].at("id")), "inc-00");  // the order given
  EXPECT_EQ(Str(recent[0].at("resolved_at")), "2026-11-28T09:00:00Z");
  EXPECT_EQ(recent[2].at("incident_updates").as_array().size(), 0u);
}

TEST(RenderJson, ScheduledMaintenancesNotOver) {
  const auto doc = Parse(RenderJson(SamplePage()));
  const auto& m = doc.at("scheduled_maintenances").as_array();
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(Str(m[0].at("id")), "m-now");
  EXPECT_EQ(Str(m[0].at("status")), "in_progress");
  EXPECT_EQ(Str(m[0].at("scheduled_for")), "2026-12-01T11:00:00Z");
  EXPECT_EQ(Str(m[0].at("scheduled_until")), "2026-12-01T13:00:00Z");
  EXPECT_EQ(Str(m[0].at("components").as_array()[0]), "db");
  EXPECT_EQ(Str(m[1].at("id")), "m-next");
  EXPECT_EQ(Str(m[1].at("status")), "scheduled");
}

TEST(RenderJson, UrlOtherThanHttpIsDropped) {
  for (const std::string_view url : {"javascript:alert(1)", "data:text/html,x", "ftp://x", ""}) {
    Page p = SamplePage();
    p.url = url;
    EXPECT_EQ(Str(Parse(RenderJson(p)).at("page").at("url")), "") << url;
  }
  Page p = SamplePage();
  p.url = "HTTP://Example.org/x";
  EXPECT_EQ(Str(Parse(RenderJson(p)).at("page").at("url")), "HTTP://Example.org/x");
}

TEST(RenderJson, NanosecondsKeptInTimes) {
  Page p = SamplePage();
  p.active[0].started_at += 123'000'000;
  EXPECT_EQ(Str(Parse(RenderJson(p)).at("incidents").as_array()[0].at("created_at")),
            "2026-12-01T10:00:00.123Z");
}

}  // namespace
}  // namespace opsorch::statuspage
