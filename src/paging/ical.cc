// iCalendar (RFC 5545) export of rendered entries: calendar subscriptions of a schedule.
// Written by hand (a handful of properties); libical is for the import side.
#include <cstdio>

#include <opsorch/paging/schedule.h>

namespace opsorch::paging {
namespace {

// 20260329T010000Z
std::string UtcStamp(std::int64_t unix_s) {
  const tz::CivilTime c = tz::FromLocalSeconds(unix_s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

// TEXT values (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines escaped; other
// control characters (not allowed in TEXT) dropped.
std::string EscapeText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case ';':
        out += "\\;";
        break;
      case ',':
        out += "\\,";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        if (i + 1 < s.size() && s[i + 1] == '\n') break;  // CRLF is one newline
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') break;
        if (c == 0x7f) break;
        out.push_back(c);
    }
  }
  return out;
}

// Appends one content line, folded so that no physical line exceeds 75 octets (CRLF not
// counted) and never inside a UTF-8 sequence; continuation lines start with a space.
void AppendLine(std::string& out, std::string_view line) {
  std::size_t limit = 75;
  while (line.size() > limit) {
    std::size_t cut = limit;
    // Back off from continuation bytes (10xxxxxx) so the cut falls between characters.
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    if (cut == 0) cut = limit;  // not UTF-8 at all; cannot happen with valid input
    out.append(line.substr(0, cut));
    out.append("\r\n ");
    line.remove_prefix(cut);
    limit = 74;  // the leading space counts
  }
  out.append(line);
  out.append("\r\n");
}

// FNV-1a, so that a UID stays short and free of characters a user id may hold ('@', spaces).
std::uint64_t Fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

std::string ToICal(std::string_view calendar_name, const std::vector<Entry>& entries,
                   std::string_view schedule_id, std::int64_t now_s) {
  std::string out;
  out.reserve(256 + entries.size() * 200);
  AppendLine(out, "BEGIN:VCALENDAR");
  AppendLine(out, "VERSION:2.0");
  AppendLine(out, "PRODID:-//opsorch//paging//EN");
  AppendLine(out, "CALSCALE:GREGORIAN");
  AppendLine(out, "METHOD:PUBLISH");
  AppendLine(out, "X-WR-CALNAME:" + EscapeText(calendar_name));
  const std::string stamp = UtcStamp(now_s);
  for (const Entry& e : entries) {
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(Fnv1a(e.user)));
    AppendLine(out, "BEGIN:VEVENT");
    // Stable for the same schedule, interval and user: a re-fetched calendar updates in place.
    AppendLine(out, "UID:" + EscapeText(schedule_id) + "-" + std::to_string(e.start_s) + "-" +
                        std::to_string(e.end_s) + "-" + hash + "@opsorch");
    AppendLine(out, "DTSTAMP:" + stamp);
    AppendLine(out, "DTSTART:" + UtcStamp(e.start_s));
    AppendLine(out, "DTEND:" + UtcStamp(e.end_s));
    AppendLine(out, "SUMMARY:" + EscapeText("On call: " + e.user));
    AppendLine(out, "TRANSP:TRANSPARENT");
    AppendLine(out, "END:VEVENT");
  }
  AppendLine(out, "END:VCALENDAR");
  return out;
}

}  // namespace opsorch::paging
