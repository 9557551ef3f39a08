// Small string helpers shared across modules.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace opsorch {

std::string_view TrimSpace(std::string_view s);  // Go strings.TrimSpace (ASCII whitespace)
std::string ToLower(std::string_view s);         // ASCII
bool EqualsIgnoreCase(std::string_view a, std::string_view b);  // ASCII
// Compares in time independent of where the inputs first differ (bearer tokens).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Decodes %XX escapes; false on a malformed escape.
bool PercentDecode(std::string_view in, std::string& out);
// Percent-encodes everything but RFC 3986 unreserved characters (query-string values).
std::string PercentEncode(std::string_view s);
// Text for HTML element content and quoted attribute values (& < > " ' escaped).
std::string HtmlEscape(std::string_view s);
void AppendHtmlEscaped(std::string& out, std::string_view s);
// Offset of the first byte that is not part of a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF refused), or npos.
std::size_t FirstInvalidUtf8(std::string_view s);
inline bool ValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }
// The longest prefix of `s` of at most `max_bytes` that does not end inside a UTF-8 character
// (excerpts, previews and clipped messages).
std::string_view Utf8Prefix(std::string_view s, std::size_t max_bytes);

}  // namespace opsorch
