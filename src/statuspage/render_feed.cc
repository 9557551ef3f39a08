// The Atom 1.0 feed (RFC 4287) of incidents. Entry content is HTML (type="html"), so its text
// is escaped twice: once as HTML while the fragment is built, once as XML when it is written.
#include <algorithm>
#include <unordered_set>

#include <opsorch/common/strings.h>

#include "statuspage/page.h"

namespace opsorch::statuspage {
namespace {

void Element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  AppendEscaped(out, text);
  out += "</";
  out += name;
  out += ">\n";
}

// Page URL + "#incident-<id>", the fragment the HTML page gives each incident's article.
std::string IncidentLink(const PageView& v, const IncidentView& in) {
  if (v.url.empty()) return {};
  const std::size_t hash = v.url.find('#');
  return v.url.substr(0, hash) + "#incident-" + PercentEncode(in.id);
}

// Stable across renders and across the active → recent move: it depends only on the ids.
std::string EntryId(const PageView& v, const IncidentView& in) {
  if (!v.url.empty()) return IncidentLink(v, in);
  return "tag:opsorch,2026:statuspage/" + PercentEncode(v.slug) + "/incident/" +
         PercentEncode(in.id);
}

std::string ContentHtml(const IncidentView& in) {
  std::string html = "<p><strong>";
  AppendEscaped(html, UpdateStatusLabel(in.status));
  html += "</strong>";
  if (!in.impact.empty()) {
    html += " · ";
    AppendEscaped(html, ImpactLabel(in.impact));
  }
  html += "</p>";
  if (!in.component_names.empty()) {
    html += "<p>Affected: ";
    for (std::size_t i = 0; i < in.component_names.size(); ++i) {
      if (i > 0) html += ", ";
      AppendEscaped(html, in.component_names[i]);
    }
    html += "</p>";
  }
  for (const UpdateView& u : in.updates) {
    html += "<p><strong>";
    AppendEscaped(html, UpdateStatusLabel(u.status));
    html += "</strong> · ";
    AppendEscaped(html, FormatTime(u.at));
    html += "<br>";
    std::string body;
    AppendEscaped(body, u.body);
    for (char c : body) {
      if (c == '\n') {
        html += "<br>";
      } else {
        html.push_back(c);
      }
    }
    html += "</p>";
  }
  return html;
}

void WriteEntry(std::string& out, const PageView& v, const IncidentView& in) {
  out += "<entry>\n";
  Element(out, "id", EntryId(v, in));
  Element(out, "title", in.title);
  Element(out, "published", FormatTimeNano(in.started_at));
  Element(out, "updated", FormatTimeNano(in.updated_at));
  if (!v.url.empty()) {
    out += "<link rel=\"alternate\" type=\"text/html\" href=\"";
    AppendEscaped(out, IncidentLink(v, in));
    out += "\"/>\n";
  }
  out += "<content type=\"html\">";
  AppendEscaped(out, ContentHtml(in));
  out += "</content>\n</entry>\n";
}

}  // namespace

std::string RenderAtom(const Page& page) {
  const PageView v = BuildView(page);
  // An incident listed as both active and recent gets one entry (ids are unique in a feed).
  std::vector<const IncidentView*> entries;
  std::unordered_set<std::string_view> seen;
  for (const auto* list : {&v.active, &v.recent}) {
    for (const IncidentView& in : *list) {
      if (seen.insert(in.id).second) entries.push_back(&in);
    }
  }
  std::int64_t updated = entries.empty() ? v.generated_at : entries.front()->updated_at;
  for (const IncidentView* in : entries) updated = std::max(updated, in->updated_at);

  std::string out;
  out.reserve(16 * 1024);
  out += "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";
  out += "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n";
  Element(out, "id",
          v.url.empty() ? "tag:opsorch,2026:statuspage/" + PercentEncode(v.slug) : v.url);
  Element(out, "title", v.name.empty() ? std::string("Status") : v.name + " status");
  if (!v.description.empty()) Element(out, "subtitle", v.description);
  Element(out, "updated", FormatTimeNano(updated));
  out += "<author>\n";
  Element(out, "name", v.name.empty() ? std::string("Status") : v.name);
  out += "</author>\n";
  if (!v.url.empty()) {
    out += "<link rel=\"alternate\" type=\"text/html\" href=\"";
    AppendEscaped(out, v.url);
    out += "\"/>\n";
  }
  Element(out, "generator", "opsorch");
  for (const IncidentView* in : entries) WriteEntry(out, v, *in);
  out += "</feed>\n";
  return out;
}

}  // namespace opsorch::statuspage
