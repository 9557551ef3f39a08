// Building an e-mail by hand: libcurl transports the bytes, and the headers are few and fixed.
// Bodies are quoted-printable, so every line stays short and 7-bit whatever the text holds.
#include "notify/mime.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <string>

#include <opsorch/common/error.h>

#include "notify/internal.h"

namespace opsorch::notify::internal {
namespace {

bool IsAtext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsDotAtom(std::string_view s, bool (*allowed)(char)) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  char prev = 0;
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!allowed(c)) {
      return false;
    }
    prev = c;
  }
  return true;
}

bool IsDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool IsShortPrintableAscii(std::string_view s, std::size_t max) {
  return s.size() <= max &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

}  // namespace

bool ValidAddrSpec(std::string_view address) {
  if (address.size() > 254) return false;
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  const std::string_view local = address.substr(0, at);
  const std::string_view domain = address.substr(at + 1);
  if (!IsDotAtom(local, IsAtext) || !IsDotAtom(domain, IsDomainChar)) return false;
  std::size_t start = 0;
  while (start <= domain.size()) {  // labels: no leading or trailing '-', at most 63
    std::size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    const std::string_view label = domain.substr(start, end - start);
    if (label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    start = end + 1;
  }
  return true;
}

std::string MessageIdFor(std::string_view delivery_id) {
  const bool plain =
      !delivery_id.empty() && delivery_id.size() <= 200 && IsDotAtom(delivery_id, IsAtext);
  return "<" + (plain ? std::string(delivery_id) : Sha256Hex(delivery_id).substr(0, 40)) +
         "@opsorch>";
}

std::string QuotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 16);
  std::size_t line = 0;  // characters on the current output line
  auto put = [&](std::string_view token) {
    if (line + token.size() > 75) {  // room for the soft break's '='
      out += "=\r\n";
      line = 0;
    }
    out += token;
    line += token.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') {  // CRLF, LF or a lone CR: one hard line break
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
      line = 0;
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      const char ch = static_cast<char>(c);
      put(std::string_view(&ch, 1));
    } else {
      const char enc[3] = {'=', kHex[c >> 4], kHex[c & 0xF]};
      put(std::string_view(enc, 3));
    }
  }
  return out;
}

std::string EncodeSubject(std::string_view subject) {
  if (IsShortPrintableAscii(subject, 900)) return std::string(subject);
  // Encoded-words of at most 75 characters: 45 input bytes give 60 base64 characters, plus
  // "=?UTF-8?B?" and "?=". Chunks end on a character boundary, as RFC 2047 requires.
  std::string out;
  std::size_t i = 0;
  while (i < subject.size()) {
    std::size_t end = std::min(subject.size(), i + 45);
    while (end < subject.size() && end > i &&
           (static_cast<unsigned char>(subject[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(subject.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string RfcDate(std::int64_t unix_seconds) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

Result<std::string> BuildMessage(const MailParts& p) {
  auto bad = [](std::string rule) { return Fail(errc::kBadRequest, std::move(rule)); };
  if (!ValidAddrSpec(p.from)) return bad("from: must be a plain e-mail address (local@domain)");
  if (!ValidAddrSpec(p.to)) return bad("recipient: must be a plain e-mail address (local@domain)");
  if (HasLineBreakOrNul(p.subject)) {
    return bad("subject: must not contain CR, LF or NUL (header injection)");
  }
  if (!ValidUtf8(p.subject)) return bad("subject: must be valid UTF-8");
  if (!ValidUtf8(p.text)) return bad("text: must be valid UTF-8");
  if (!ValidUtf8(p.html)) return bad("html: must be valid UTF-8");
  if (p.text.empty() && p.html.empty()) return bad("text: must not be empty");
  if (p.boundary.empty() || p.message_id.empty()) return bad("internal: boundary or id missing");

  std::string m;
  m.reserve(p.text.size() * 11 / 10 + p.html.size() * 11 / 10 + 1024);
  m += "Date: " + RfcDate(p.date_unix) + "\r\n";
  m += "From: " + p.from + "\r\n";
  m += "To: " + p.to + "\r\n";
  m += "Subject: " + EncodeSubject(p.subject) + "\r\n";
  m += "Message-ID: " + p.message_id + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  // RFC 3834: tells vacation responders and the like not to answer a page.
  m += "Auto-Submitted: auto-generated\r\n";
  const auto part = [&](std::string_view type, std::string_view body) {
    m += "Content-Type: ";
    m += type;
    m += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
    m += QuotedPrintable(body);
    m += "\r\n";
  };
  if (p.html.empty()) {
    part("text/plain", p.text);
    return m;
  }
  // "=_" never occurs in quoted-printable output, so the boundary cannot appear in a part.
  m += "Content-Type: multipart/alternative; boundary=\"" + p.boundary + "\"\r\n\r\n";
  m += "--" + p.boundary + "\r\n";
  part("text/plain", p.text);
  m += "--" + p.boundary + "\r\n";
  part("text/html", p.html);
  m += "--" + p.boundary + "--\r\n";
  return m;
}

}  // namespace opsorch::notify::internal
