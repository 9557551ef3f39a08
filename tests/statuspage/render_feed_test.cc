// The Atom feed, parsed by python3's xml.etree: well-formed, the RFC 4287 elements a reader
// needs, stable ids, and HTML content that reads back as the escaped update list.
#include <gtest/gtest.h>

#include <opsorch/statuspage/status_page.h>

#include "statuspage/sample_page.h"

namespace opsorch::statuspage {
namespace {

using testing::ParseAtom;
using testing::SamplePage;

std::string Str(const JsonValue& v) {
  return v.is_string() ? std::string(v.as_string()) : "<not a string>";
}

TEST(RenderAtom, FeedAndEntries) {
  const std::string xml = RenderAtom(SamplePage());
  EXPECT_TRUE(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"));
  const JsonValue feed = ParseAtom(xml);
  ASSERT_TRUE(feed.is_object()) << xml;
  ASSERT_FALSE(feed.as_object().contains("error")) << Str(feed.at("error")) << "\n" << xml;
  EXPECT_EQ(Str(feed.at("tag")), "{http://www.w3.org/2005/Atom}feed");
  EXPECT_EQ(Str(feed.at("id")), "https://status.acme.example/");
  EXPECT_EQ(Str(feed.at("title")), "Acme Cloud status");
  EXPECT_EQ(Str(feed.at("author")), "Acme Cloud");
  EXPECT_EQ(Str(feed.at("link")), "https://status.acme.example/");
  EXPECT_EQ(Str(feed.at("updated")), "2026-12-01T11:50:00Z");  // the newest update

  const auto& entries = feed.at("entries").as_array();
  ASSERT_EQ(entries.size(), 4u);  // the active incident, then the recent ones as given
  const std::vector<std::string> ids = {"inc-1", "inc-00", "inc-0", "inc-01"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(Str(entries[i].at("id")), "https://status.acme.example/#incident-" + ids[i]);
    EXPECT_EQ(Str(entries[i].at("link")), "https://status.acme.example/#incident-" + ids[i]);
    EXPECT_EQ(Str(entries[i].at("content_type")), "html");
  }
  const auto& first = entries[0];
  EXPECT_EQ(Str(first.at("title")), "Elevated API error rates");
  EXPECT_EQ(Str(first.at("published")), "2026-12-01T10:00:00Z");
  EXPECT_EQ(Str(first.at("updated")), "2026-12-01T11:50:00Z");
  EXPECT_EQ(Str(first.at("content")),
            "<p><strong>Identified</strong> · Major impact</p>"
            "<p>Affected: Public API, gone</p>"
            "<p><strong>Update</strong> · 2026-12-01T11:50:00Z<br>Rollback 50% done.</p>"
            "<p><strong>Identified</strong> · 2026-12-01T10:40:00Z<br>A bad deploy.<br>"
            "Rolling back.</p>"
            "<p><strong>Investigating</strong> · 2026-12-01T10:05:00Z<br>"
            "We are investigating errors.</p>");
  EXPECT_EQ(Str(entries[3].at("updated")), "2026-11-30T03:00:00Z");  // no updates: resolution
}

TEST(RenderAtom, TagIdsWithoutUrl) {
  Page p = SamplePage();
  p.url = "javascript:alert(1)";  // not http(s): treated as absent
  p.active[0].id = "inc 1/é";
  const JsonValue feed = ParseAtom(RenderAtom(p));
  ASSERT_TRUE(feed.is_object());
  EXPECT_EQ(Str(feed.at("id")), "tag:opsorch,2026:statuspage/acme");
  EXPECT_TRUE(feed.at("link").is_null());
  const auto& entries = feed.at("entries").as_array();
  EXPECT_EQ(Str(entries[0].at("id")), "tag:opsorch,2026:statuspage/acme/incident/inc%201%2F%C3%A9");
  EXPECT_TRUE(entries[0].at("link").is_null());
  EXPECT_EQ(RenderAtom(p).find("javascript"), std::string::npos);
}

TEST(RenderAtom, IncidentListedTwiceIsOneEntry) {
  Page p = SamplePage();
  p.recent.push_back(p.active[0]);
  const JsonValue feed = ParseAtom(RenderAtom(p));
  EXPECT_EQ(feed.at("entries").as_array().size(), 4u);
}

TEST(RenderAtom, EmptyFeedIsValid) {
  Page p;
  p.slug = "x";
  p.generated_at = testing::kNow;
  const JsonValue feed = ParseAtom(RenderAtom(p));
  ASSERT_TRUE(feed.is_object());
  EXPECT_FALSE(feed.as_object().contains("error"));
  EXPECT_EQ(Str(feed.at("title")), "Status");
  EXPECT_EQ(Str(feed.at("updated")), "2026-12-01T12:00:00Z");
  EXPECT_TRUE(feed.at("entries").as_array().empty());
}

TEST(RenderAtom, ParserCatchesBrokenXml) {
  // The check itself can fail: a stray ampersand and a control character are errors.
  EXPECT_TRUE(ParseAtom("<feed xmlns=\"http://www.w3.org/2005/Atom\">&</feed>")
                  .as_object()
                  .contains("error"));
  EXPECT_TRUE(ParseAtom("<feed xmlns=\"http://www.w3.org/2005/Atom\">\x01</feed>")
                  .as_object()
                  .contains("error"));
}

}  // namespace
}  // namespace opsorch::statuspage
