// Shared by the status page tests: times, a sample page, and an Atom parse by python3's
// xml.etree (a conforming XML parser), answered as JSON.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/statuspage/status_page.h>

namespace opsorch::statuspage::testing {

inline constexpr std::int64_t kHour = 3'600'000'000'000;
inline constexpr std::int64_t kDay = kNanosPerDay;

inline std::int64_t T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? t->UnixNanos() : 0;
}

inline const std::int64_t kNow = T("2026-12-01T12:00:00Z");

inline std::size_t Count(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

// Three components (one with an outage yesterday), one active incident with three updates
// (given oldest first, to prove the renderers sort), three past incidents on two days, and
// maintenance windows that are in progress, upcoming and over.
inline Page SamplePage() {
  Page p;
  p.slug = "acme";
  p.name = "Acme Cloud";
  p.description = "Status of the Acme Cloud services.";
  p.url = "https://status.acme.example/";
  p.generated_at = kNow;

  Component api{"api", "Public API", "REST and webhooks", ComponentState::kPartialOutage, {}};
  api.days = DailyBars(
      {{T("2026-11-30T10:00:00Z"), T("2026-11-30T11:00:00Z"), ComponentState::kMajorOutage},
       {T("2026-12-01T10:00:00Z"), 0, ComponentState::kPartialOutage}},
      kNow, T("2026-10-01T00:00:00Z"));
  Component web{"web", "Dashboard", "", ComponentState::kOperational, {}};
  web.days = DailyBars({}, kNow, 0);
  Component db{"db", "Database", "", ComponentState::kMaintenance, {}};  // no bars at all
  p.components = {api, web, db};

  Incident active;
  active.id = "inc-1";
  active.title = "Elevated API error rates";
  active.impact = "major";
  active.status = "identified";
  active.started_at = T("2026-12-01T10:00:00Z");
  active.components = {"api", "gone"};
  active.updates = {
      {T("2026-12-01T10:05:00Z"), "investigating", "We are investigating errors."},
      {T("2026-12-01T10:40:00Z"), "identified", "A bad deploy.\nRolling back."},
      {T("2026-12-01T11:50:00Z"), "update", "Rollback 50% done."},
  };
  p.active = {active};

  Incident r1{"inc-0",
              "Slow dashboard",
              "minor",
              "resolved",
              T("2026-11-30T10:00:00Z"),
              T("2026-11-30T11:00:00Z"),
              {"web"},
              {{T("2026-11-30T11:00:00Z"), "resolved", "Fixed."}}};
  Incident r2{"inc-00",
              "Login failures",
              "critical",
              "resolved",
              T("2026-11-28T08:00:00Z"),
              T("2026-11-28T09:00:00Z"),
              {"api", "web"},
              {{T("2026-11-28T09:00:00Z"), "resolved", "Resolved."},
               {T("2026-11-28T08:10:00Z"), "investigating", "Looking."}}};
  Incident r3{"inc-01",
              "Webhook delays",
              "minor",
              "resolved",
              T("2026-11-30T02:00:00Z"),
              T("2026-11-30T03:00:00Z"),
              {"api"},
              {}};
  p.recent = {r2, r1, r3};  // not in date order: the page groups by day itself

  p.maintenance = {
      {"m-now",
       "Database upgrade",
       "Read-only for a while.",
       T("2026-12-01T11:00:00Z"),
       T("2026-12-01T13:00:00Z"),
       {"db"}},
      {"m-next", "Network work", "", T("2026-12-03T01:00:00Z"), T("2026-12-03T02:00:00Z"), {}},
      {"m-old", "Old window", "", T("2026-11-01T01:00:00Z"), T("2026-11-01T02:00:00Z"), {}},
  };
  return p;
}

// Every '<' of an HTML page must open markup the renderer writes: a known element with known
// attributes whose values hold no quote or angle bracket. Text that escaped its escaping shows
// up as an unknown tag or a broken attribute. Returns the first offending tag, "" if none.
inline std::string BadHtmlTag(const std::string& html) {
  static const std::set<std::string> kElements = {
      "html",   "head", "meta", "title", "style", "body", "a",       "header",
      "h1",     "h2",   "h3",   "h4",    "p",     "main", "section", "article",
      "strong", "span", "time", "ul",    "ol",    "li",   "div",     "footer"};
  static const std::set<std::string> kAttributes = {
      "lang", "charset",         "name",       "content", "class",   "id",
      "href", "aria-labelledby", "aria-label", "title",   "datetime"};
  static const std::regex kTag(R"(<(/?)([a-z0-9]+)((?: [a-z-]+="[^"<>]*")*)>)");
  static const std::regex kAttribute(R"( ([a-z-]+)=")");
  const std::size_t style_end = html.find("</style>");
  for (std::size_t pos = html.find('<'); pos != std::string::npos; pos = html.find('<', pos + 1)) {
    if (html.compare(pos, 15, "<!DOCTYPE html>") == 0) continue;
    const std::size_t end = html.find('>', pos);
    if (end == std::string::npos) return html.substr(pos, 80);
    const std::string tag = html.substr(pos, end - pos + 1);
    std::smatch m;
    if (!std::regex_match(tag, m, kTag) || !kElements.contains(m[2].str())) return tag;
    const std::string attributes = m[3].str();
    for (std::sregex_iterator it(attributes.begin(), attributes.end(), kAttribute), last;
         it != last; ++it) {
      if (!kAttributes.contains((*it)[1].str())) return tag;
    }
    if (pos < style_end && m[2].str() == "style" && m[1].str().empty()) pos = style_end - 1;
  }
  return "";
}

// python3 parses the document with xml.etree and answers with the feed as JSON:
// {"error"} or {"tag","id","title","updated","author","link","entries":[{"id","title",
// "updated","published","link","content","content_type"}]}.
inline JsonValue ParseAtom(const std::string& xml) {
  static constexpr std::string_view kScript = R"PY(
import json, sys, xml.etree.ElementTree as ET
A = "{http://www.w3.org/2005/Atom}"
try:
    root = ET.parse(sys.argv[1]).getroot()
except ET.ParseError as e:
    print(json.dumps({"error": str(e)}))
    sys.exit(0)
def text(el, tag):
    x = None if el is None else el.find(A + tag)
    return None if x is None else (x.text or "")
def href(el):
    x = el.find(A + "link")
    return None if x is None else x.get("href")
out = {"tag": root.tag, "id": text(root, "id"), "title": text(root, "title"),
       "updated": text(root, "updated"), "author": text(root.find(A + "author"), "name"),
       "link": href(root), "entries": []}
for e in root.findall(A + "entry"):
    c = e.find(A + "content")
    out["entries"].append({"id": text(e, "id"), "title": text(e, "title"),
                           "updated": text(e, "updated"), "published": text(e, "published"),
                           "link": href(e), "content": None if c is None else (c.text or ""),
                           "content_type": None if c is None else c.get("type")})
print(json.dumps(out))
)PY";
  char dir_template[] = "/tmp/statuspage-test-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) return JsonValue{};
  const std::string script = std::string(dir) + "/parse.py", doc = std::string(dir) + "/feed.xml";
  std::ofstream(script) << kScript;
  std::ofstream(doc, std::ios::binary) << xml;
  const std::string cmd = std::string(OPSORCH_PYTHON3) + " " + script + " " + doc;
  std::string answer;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) answer.append(buf, n);
    pclose(f);
  }
  std::remove(script.c_str());
  std::remove(doc.c_str());
  rmdir(dir);
  auto parsed = ParseJson(answer);
  EXPECT_TRUE(parsed) << answer;
  return parsed ? *parsed : JsonValue{};
}

}  // namespace opsorch::statuspage::testing
