// Hostile text through all three renderers (HTML markup, JSON read back, Atom parsed as XML),
// text cleaning and truncation on character boundaries, and the row caps.
#include <algorithm>

#include <gtest/gtest.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/statuspage/status_page.h>

#include "statuspage/page.h"
#include "statuspage/sample_page.h"

namespace opsorch::statuspage {
namespace {

using testing::Count;
using testing::kHour;
using testing::kNow;
using testing::ParseAtom;

std::string Str(const JsonValue& v) {
  return v.is_string() ? std::string(v.as_string()) : "<not a string>";
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct HostileCase {
  std::string name;
  std::string input;
  std::string clean;  // what JSON and the feed's XML read back
  std::string html;   // how it appears in the HTML page
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

const std::vector<HostileCase>& HostileCases() {
  static const std::vector<HostileCase> cases = {
      {"ScriptTag", "<script>alert(1)</script>", "<script>alert(1)</script>",
       "&lt;script&gt;alert(1)&lt;/script&gt;"},
      {"AttributeBreakout", "\"><img src=x onerror=alert(1)>", "\"><img src=x onerror=alert(1)>",
       "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"},
      {"SingleQuoteBreakout", "' onmouseover='alert(1)", "' onmouseover='alert(1)",
       "&#39; onmouseover=&#39;alert(1)"},
      {"EntitiesStayText", "Fixed &amp; deployed &lt;b&gt;", "Fixed &amp; deployed &lt;b&gt;",
       "Fixed &amp;amp; deployed &amp;lt;b&amp;gt;"},
      {"CdataAndComments", "]]></content><!-- <![CDATA[x]]> -->",
       "]]></content><!-- <![CDATA[x]]> -->",
       "]]&gt;&lt;/content&gt;&lt;!-- &lt;![CDATA[x]]&gt; --&gt;"},
      {"StyleBreakout", "</style><style>body{display:none}</style>",
       "</style><style>body{display:none}</style>",
       "&lt;/style&gt;&lt;style&gt;body{display:none}&lt;/style&gt;"},
      {"ControlCharactersDropped",
       std::string("a\x01") + "b\x08" + "c\x0b\x0c\x1f d\x7f" + "\xc2\x85" + "e" +
           std::string(1, '\0') + "f",
       "abc def", "abc def"},
      {"InvalidUtf8Replaced", "bad \xff\xfe \xc0\xaf \xed\xa0\x80 end",
       "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
       "end",
       "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
       "end"},
      {"NonCharactersDropped", "x\xef\xbf\xbe\xef\xbf\xbfy", "xy", "xy"},
  };
  return cases;
}

// Every text field of the page holds the hostile string.
Page HostilePage(const std::string& s) {
  Page p;
  p.slug = s;
  p.name = s;
  p.description = s;
  p.url = "https://status.example/";
  p.generated_at = kNow;
  Component c{s, s, s, ComponentState::kDegraded, {}};
  c.days = DailyBars({{kNow - 2 * kHour, kNow - kHour, ComponentState::kMajorOutage}}, kNow, 0);
  p.components = {c};
  Incident i{s, s, s, s, kNow - 3 * kHour, 0, {s}, {{kNow - kHour, s, s}}};
  p.active = {i};
  i.resolved_at = kNow - kHour;
  i.id = s + "-old";
  p.recent = {i};
  p.maintenance = {{s, s, s, kNow - kHour, kNow + kHour, {s}}};
  return p;
}

class Hostile : public ::testing::TestWithParam<HostileCase> {};

TEST_P(Hostile, HtmlKeepsItAsText) {
  const HostileCase& c = GetParam();
  const std::string html = RenderHtml(HostilePage(c.input));
  EXPECT_EQ(testing::BadHtmlTag(html), "");
  const std::string lower = Lower(html);
  for (const std::string_view raw : {"<script", "<img", "<!--", "<![cdata", "<style><style"}) {
    EXPECT_EQ(lower.find(raw), std::string::npos) << raw;
  }
  EXPECT_EQ(Count(html, "<style>"), 1u);
  EXPECT_NE(html.find("<h1>" + c.html + "</h1>"), std::string::npos);
  EXPECT_NE(html.find("<h3>" + c.html + "</h3>"), std::string::npos);  // component, incident
  EXPECT_NE(html.find("<p class=\"body\">" + c.html + "</p>"), std::string::npos);  // update
  EXPECT_NE(html.find("id=\"incident-" + c.html + "\""), std::string::npos);        // attribute
  EXPECT_NE(html.find("id=\"component-" + c.html + "\""), std::string::npos);
  for (const char ch : html) {
    const auto b = static_cast<unsigned char>(ch);
    EXPECT_TRUE(b >= 0x20 || b == '\n') << "control byte " << int(b);
    EXPECT_TRUE(b != 0xFF && b != 0xFE && b != 0xC0) << "invalid UTF-8 byte " << int(b);
  }
}

TEST_P(Hostile, JsonReadsBackTheText) {
  const HostileCase& c = GetParam();
  const std::string json = RenderJson(HostilePage(c.input));
  EXPECT_EQ(json.find('<'), std::string::npos);  // the writer escapes <, > and & as \u00XX
  auto parsed = ParseJson(json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto& doc = parsed->as_object();
  EXPECT_EQ(Str(doc.at("page").at("id")), c.clean);
  EXPECT_EQ(Str(doc.at("page").at("name")), c.clean);
  const auto& component = doc.at("components").as_array().at(0);
  EXPECT_EQ(Str(component.at("id")), c.clean);
  EXPECT_EQ(Str(component.at("name")), c.clean);
  EXPECT_EQ(Str(component.at("description")), c.clean);
  const auto& incident = doc.at("incidents").as_array().at(0);
  for (const char* field : {"id", "name", "status", "impact"}) {
    EXPECT_EQ(Str(incident.at(field)), c.clean) << field;
  }
  EXPECT_EQ(Str(incident.at("components").as_array().at(0)), c.clean);
  EXPECT_EQ(Str(incident.at("incident_updates").as_array().at(0).at("body")), c.clean);
  EXPECT_EQ(Str(doc.at("recent_incidents").as_array().at(0).at("id")), c.clean + "-old");
  EXPECT_EQ(Str(doc.at("scheduled_maintenances").as_array().at(0).at("name")), c.clean);
}

TEST_P(Hostile, AtomIsWellFormedAndReadsBackTheText) {
  const HostileCase& c = GetParam();
  const std::string xml = RenderAtom(HostilePage(c.input));
  const JsonValue feed = ParseAtom(xml);
  ASSERT_TRUE(feed.is_object());
  ASSERT_FALSE(feed.as_object().contains("error")) << Str(feed.at("error")) << "\n" << xml;
  EXPECT_EQ(Str(feed.at("title")), c.clean + " status");
  const auto& entries = feed.at("entries").as_array();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(Str(entries[0].at("title")), c.clean);
  // The content is HTML: after the XML layer it still holds the text HTML-escaped once.
  const std::string content = Str(entries[0].at("content"));
  EXPECT_NE(content.find("<br>" + c.html + "</p>"), std::string::npos) << content;
  EXPECT_EQ(Lower(content).find("<script"), std::string::npos);
  EXPECT_EQ(Lower(content).find("<img"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Statuspage, Hostile, ::testing::ValuesIn(HostileCases()),
                         [](const auto& info) { return info.param.name; });

TEST(Escaping, AmpersandIsEscapedOncePerLayer) {
  Page p = testing::SamplePage();
  p.active[0].updates = {{kNow, "update", "Fixed &amp; deployed"}};
  const std::string html = RenderHtml(p);
  EXPECT_NE(html.find("Fixed &amp;amp; deployed"), std::string::npos);
  EXPECT_EQ(html.find("Fixed &amp; deployed"), std::string::npos);
  // Atom: HTML-escaped, then XML-escaped.
  const std::string xml = RenderAtom(p);
  EXPECT_NE(xml.find("Fixed &amp;amp;amp; deployed"), std::string::npos);
  const std::string json = RenderJson(p);
  EXPECT_NE(json.find("Fixed \\u0026amp; deployed"), std::string::npos);
}

struct CleanCase {
  std::string name;
  std::string input;
  std::size_t max;
  std::string want;
};

void PrintTo(const CleanCase& c, std::ostream* os) { *os << c.name; }

std::string Repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

class CleanTextTable : public ::testing::TestWithParam<CleanCase> {};

TEST_P(CleanTextTable, Clean) {
  const CleanCase& c = GetParam();
  EXPECT_EQ(CleanText(c.input, c.max), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Statuspage, CleanTextTable,
    ::testing::Values(
        CleanCase{"Short", "abc", 200, "abc"},
        CleanCase{"Exactly200", std::string(200, 'a'), 200, std::string(200, 'a')},
        CleanCase{"Ascii201", std::string(201, 'a'), 200, std::string(199, 'a') + "…"},
        CleanCase{"TwoByte", Repeat("é", 300), 200, Repeat("é", 199) + "…"},
        CleanCase{"ThreeByteExactly", Repeat("€", 200), 200, Repeat("€", 200)},
        CleanCase{"FourByte", Repeat("😀", 201), 200, Repeat("😀", 199) + "…"},
        CleanCase{"CutBetweenMixedWidths", std::string(198, 'a') + "€😀é" + "zzz", 200,
                  std::string(198, 'a') + "€…"},
        CleanCase{"InvalidBytesCountAsOne", std::string(201, '\xff'), 200,
                  Repeat("\xef\xbf\xbd", 199) + "…"},
        CleanCase{"TruncatedSequenceAtTheEnd", "ab\xe2\x82", 200, "ab\xef\xbf\xbd"},
        CleanCase{"DroppedCharactersDoNotCount", std::string(500, '\x01') + "abc", 3, "abc"},
        CleanCase{"Newlines", "a\r\nb\rc\nd\te", 200, "a\nb\nc\nd\te"},
        CleanCase{"OneCharacter", "abc", 1, "…"}, CleanCase{"Zero", "abc", 0, ""},
        CleanCase{"BodyLimit", std::string(6000, 'b'), kMaxBodyChars,
                  std::string(4999, 'b') + "…"}),
    [](const auto& info) { return info.param.name; });

TEST(Truncation, RenderersCutTitlesAndBodies) {
  Page p = testing::SamplePage();
  p.active[0].title = Repeat("é", 300);
  p.active[0].updates = {{kNow, "update", std::string(6000, 'b')}};
  const std::string cut_title = Repeat("é", 199) + "…";
  const std::string cut_body = std::string(4999, 'b') + "…";

  auto doc = ParseJson(RenderJson(p));
  ASSERT_TRUE(doc);
  const auto& incident = doc->at("incidents").as_array().at(0);
  EXPECT_EQ(Str(incident.at("name")), cut_title);
  EXPECT_EQ(Str(incident.at("incident_updates").as_array().at(0).at("body")), cut_body);

  const std::string html = RenderHtml(p);
  EXPECT_NE(html.find("<h3>" + cut_title + "</h3>"), std::string::npos);
  EXPECT_NE(html.find(">" + cut_body + "</p>"), std::string::npos);

  const JsonValue feed = ParseAtom(RenderAtom(p));
  EXPECT_EQ(Str(feed.at("entries").as_array().at(0).at("title")), cut_title);
}

// More rows than the caps everywhere: the renderers show the first ones and say how many not.
Page Oversized(std::size_t body_chars) {
  Page p;
  p.slug = "big";
  p.name = "Big";
  p.generated_at = kNow;
  for (int i = 0; i < 60; ++i) {
    p.components.push_back({"c" + std::to_string(i), std::string(300, 'n'), std::string(6000, 'd'),
                            ComponentState::kOperational,
                            DailyBars({}, kNow, 0, 400)});  // more days than shown, too
  }
  Incident in;
  in.title = std::string(1000, 't');
  in.impact = "minor";
  in.status = "investigating";
  in.started_at = kNow - kHour;
  for (int i = 0; i < 80; ++i) in.components.push_back("c" + std::to_string(i));
  for (int u = 0; u < 25; ++u) {
    in.updates.push_back(
        {kNow - kHour + u * 60'000'000'000, "update", std::string(body_chars, 'b')});
  }
  for (int i = 0; i < 30; ++i) {
    in.id = "a" + std::to_string(i);
    p.active.push_back(in);
  }
  in.resolved_at = kNow;
  for (int i = 0; i < 60; ++i) {
    in.id = "r" + std::to_string(i);
    p.recent.push_back(in);
  }
  for (int i = 0; i < 30; ++i) {
    p.maintenance.push_back({"m" + std::to_string(i), "M", "", kNow, kNow + kHour, {}});
  }
  return p;
}

TEST(Caps, JsonShowsAtMostTheLimits) {
  auto doc = ParseJson(RenderJson(Oversized(10)));
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->at("components").as_array().size(), kMaxComponents);
  EXPECT_EQ(doc->at("components").as_array().at(0).at("days").as_array().size(), 90u);
  EXPECT_EQ(doc->at("incidents").as_array().size(), kMaxActiveIncidents);
  EXPECT_EQ(doc->at("recent_incidents").as_array().size(), kMaxRecentIncidents);
  EXPECT_EQ(doc->at("scheduled_maintenances").as_array().size(), kMaxMaintenances);
  const auto& incident = doc->at("incidents").as_array().at(0);
  EXPECT_EQ(Str(incident.at("id")), "a0");  // the first ones as given
  EXPECT_EQ(incident.at("components").as_array().size(), kMaxComponents);
  const auto& updates = incident.at("incident_updates").as_array();
  ASSERT_EQ(updates.size(), kMaxUpdates);
  // The newest 20 of 25 (given oldest first): minutes 24 down to 5.
  EXPECT_EQ(Str(updates.at(0).at("created_at")), "2026-12-01T11:24:00Z");
  EXPECT_EQ(Str(updates.at(19).at("created_at")), "2026-12-01T11:05:00Z");
}

TEST(Caps, HtmlShowsAtMostTheLimitsAndSaysSo) {
  const std::string html = RenderHtml(Oversized(10));
  EXPECT_EQ(Count(html, "<ol class=\"bars\""), kMaxComponents);
  EXPECT_EQ(Count(html, "<li class=\"s-"), kMaxComponents * 90);
  EXPECT_EQ(Count(html, "<article class=\"card incident"),
            kMaxActiveIncidents + kMaxRecentIncidents);
  EXPECT_EQ(Count(html, "<strong>Update</strong>"),
            (kMaxActiveIncidents + kMaxRecentIncidents) * kMaxUpdates);
  EXPECT_NE(html.find("10 more components not shown."), std::string::npos);
  EXPECT_NE(html.find("5 more active incidents not shown."), std::string::npos);
  EXPECT_NE(html.find("10 more past incidents not shown."), std::string::npos);
  EXPECT_NE(html.find("5 more maintenance windows not shown."), std::string::npos);
  EXPECT_EQ(Count(html, "5 older updates not shown."), kMaxActiveIncidents + kMaxRecentIncidents);
  EXPECT_EQ(testing::BadHtmlTag(html), "");
}

TEST(Caps, AtomHasOneEntryPerShownIncident) {
  const JsonValue feed = ParseAtom(RenderAtom(Oversized(10)));
  ASSERT_TRUE(feed.is_object());
  EXPECT_EQ(feed.at("entries").as_array().size(), kMaxActiveIncidents + kMaxRecentIncidents);
}

TEST(Caps, HostileSizesGiveABoundedPage) {
  // 90 incidents × 25 updates × 20,000 characters (45 MB of bodies) in; out at most the shown
  // 75 × 20 bodies of 5,000 characters (7.5 MB), 75 lists of 50 affected components (0.75 MB)
  // and 50 × 90 bars.
  const Page p = Oversized(20'000);
  const std::size_t bound = 10'000'000;
  EXPECT_LT(RenderHtml(p).size(), bound);
  EXPECT_LT(RenderJson(p).size(), bound);
  EXPECT_LT(RenderAtom(p).size(), bound);
}

}  // namespace
}  // namespace opsorch::statuspage
