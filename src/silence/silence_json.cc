// The API's wire shapes (api/v2/openapi.yaml and compat.go at v0.25.0) and the matcher text
// syntax (pkg/labels/parse.go).
#include <cstdio>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/silence/silence.h>
#include <opsorch/tz/zone.h>

namespace opsorch::silence {
namespace {

// Decodes one code point like Go's utf8.DecodeRuneInString: an invalid sequence is one byte.
bool DecodeValid(std::string_view s, std::size_t i, std::size_t& len) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    len = 1;
    return true;
  }
  std::size_t n;
  std::uint32_t min;
  if ((c & 0xE0) == 0xC0) {
    n = 2, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, min = 0x10000;
  } else {
    len = 1;
    return false;
  }
  len = 1;
  if (i + n > s.size()) return false;
  std::uint32_t cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  len = n;
  return true;
}

// Go's %q, enough for error messages: quotes, backslashes and control bytes escaped.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Go's encoding/json: a key names a field exactly or ignoring case; the last such key wins.
// null is absent (Alertmanager's fields are pointers).
const JsonValue* Field(const JsonObject& o, std::string_view name) {
  const JsonValue* found = nullptr;
  for (const auto& kv : o) {
    if (EqualFoldAscii(std::string_view(kv.key().data(), kv.key().size()), name)) {
      found = &kv.value();
    }
  }
  return found == nullptr || found->is_null() ? nullptr : found;
}

std::string Path(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

struct Reader {
  const JsonObject& obj;
  std::string where;
  FieldErrors& errors;

  void Bad(std::string_view key, std::string message) const {
    errors.push_back({Path(where, key), std::move(message)});
  }

  // nullopt when absent (reported when required) or invalid (reported).
  std::optional<std::string> Str(std::string_view key, bool required, std::size_t max_bytes) const {
    const JsonValue* v = Field(obj, key);
    if (v == nullptr) {
      if (required) Bad(key, "is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      Bad(key, "must be a string");
      return std::nullopt;
    }
    const std::string_view s(v->get_string().data(), v->get_string().size());
    if (s.find('\0') != std::string_view::npos) {
      Bad(key, "must not contain NUL characters");
      return std::nullopt;
    }
    if (!ValidUtf8(s)) {
      Bad(key, "must be valid UTF-8");
      return std::nullopt;
    }
    if (s.size() > max_bytes) {
      Bad(key, "must be at most " + std::to_string(max_bytes) + " bytes");
      return std::nullopt;
    }
    return std::string(s);
  }

  std::optional<bool> Bool(std::string_view key, bool required) const {
    const JsonValue* v = Field(obj, key);
    if (v == nullptr) {
      if (required) Bad(key, "is required");
      return std::nullopt;
    }
    if (!v->is_bool()) {
      Bad(key, "must be true or false");
      return std::nullopt;
    }
    return v->get_bool();
  }

  std::optional<std::int64_t> TimeField(std::string_view key) const {
    const JsonValue* v = Field(obj, key);
    if (v == nullptr) {
      Bad(key, "is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      Bad(key, "must be an RFC 3339 time string");
      return std::nullopt;
    }
    auto t = ParseRfc3339(std::string_view(v->get_string().data(), v->get_string().size()));
    if (!t) {
      Bad(key, "must be an RFC 3339 time (" + t.error().message + ")");
      return std::nullopt;
    }
    const auto ns = t->UnixNanosChecked();
    if (!ns) {
      Bad(key, std::string(Time::kNanosRange));
      return std::nullopt;
    }
    return *ns;
  }
};

std::optional<Matcher> DecodeMatcher(const JsonValue& v, const std::string& path,
                                     FieldErrors& errors) {
  if (!v.is_object()) {
    errors.push_back({path, "must be an object"});
    return std::nullopt;
  }
  const Reader r{v.get_object(), path, errors};
  const std::size_t before = errors.size();
  Matcher m;
  const auto name = r.Str("name", true, kMaxNameBytes);
  const auto value = r.Str("value", true, kMaxValueBytes);
  const auto is_regex = r.Bool("isRegex", true);
  const auto is_equal = r.Bool("isEqual", false);
  if (name) {
    if (IsValidLabelName(*name)) {
      m.name = *name;
    } else {
      r.Bad("name", "invalid label name " + Quote(*name));
    }
  }
  if (value && is_regex) {
    m.value = *value;
    m.is_regex = *is_regex;
    if (*is_regex) {
      if (value->size() > kMaxRegexBytes) {
        r.Bad("value",
              "regular expression must be at most " + std::to_string(kMaxRegexBytes) + " bytes");
      } else if (auto re = LabelRegex::Compile(*value); !re) {
        r.Bad("value", "invalid regular expression " + Quote(*value) + ": " + re.error().message);
      }
    }
  }
  m.is_equal = is_equal.value_or(true);
  if (errors.size() != before) return std::nullopt;
  return m;
}

void AppendTime(std::string& out, std::int64_t ns) {
  out.push_back('"');
  AppendRfc3339Millis(out, ns);
  out.push_back('"');
}

// Go's \s in the matcher syntax: ASCII whitespace without \v.
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

// Go's unicode.IsSpace, for the one strings.TrimSpace of ParseMatchers.
bool IsUnicodeSpace(std::uint32_t cp) {
  switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::uint32_t CodePoint(std::string_view s, std::size_t i, std::size_t len) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (len == 1) return c;
  std::uint32_t cp = c & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

std::string_view TrimUnicodeSpace(std::string_view s) {
  // Leading.
  for (std::size_t len = 0; !s.empty(); s.remove_prefix(len)) {
    if (!DecodeValid(s, 0, len) || !IsUnicodeSpace(CodePoint(s, 0, len))) break;
  }
  // Trailing: find the start of the last code point (valid input: ParseMatchers built it).
  while (!s.empty()) {
    std::size_t start = s.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
           s.size() - start < 4) {
      --start;
    }
    std::size_t len = 0;
    if (!DecodeValid(s, start, len) || start + len != s.size() ||
        !IsUnicodeSpace(CodePoint(s, start, len))) {
      break;
    }
    s.remove_suffix(len);
  }
  return s;
}

tl::unexpected<Error> BadMatcher(std::string message) {
  return Fail(errc::kBadRequest, std::move(message));
}

}  // namespace

Error ToError(const FieldErrors& errors) {
  auto line = [](const FieldError& e) {
    return e.field.empty() ? e.message : e.field + ": " + e.message;
  };
  Error out(errc::kBadRequest, errors.empty() ? "invalid silence" : line(errors.front()));
  for (const FieldError& e : errors) out.details.push_back(line(e));
  return out;
}

tl::expected<PostableSilence, FieldErrors> DecodePostableSilence(std::string_view body,
                                                                 std::int64_t now) {
  FieldErrors errors;
  auto fail = [&](std::string message) {
    errors.push_back({"", std::move(message)});
    return tl::unexpected(std::move(errors));
  };
  if (body.size() > kMaxBodyBytes) {
    return fail("body must be at most " + std::to_string(kMaxBodyBytes) + " bytes");
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return fail("silence in body is required");
  }
  JsonParseOptions options;
  options.max_depth = kMaxJsonDepth;
  auto parsed = ParseJson(body, options);
  if (!parsed) return fail(parsed.error().message);
  if (!parsed->is_object()) return fail("must be a JSON object");
  const Reader r{parsed->get_object(), "", errors};

  PostableSilence out;
  out.id = r.Str("id", false, kMaxIdBytes).value_or("");

  bool matchers_ok = false;
  if (const JsonValue* ms = Field(r.obj, "matchers"); ms == nullptr) {
    r.Bad("matchers", "is required");
  } else if (!ms->is_array()) {
    r.Bad("matchers", "must be an array");
  } else if (ms->get_array().empty()) {
    r.Bad("matchers", "should have at least 1 items");
  } else if (ms->get_array().size() > kMaxMatchers) {
    r.Bad("matchers", "must have at most " + std::to_string(kMaxMatchers) + " items");
  } else {
    matchers_ok = true;
    const JsonArray& a = ms->get_array();
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto m = DecodeMatcher(a[i], "matchers[" + std::to_string(i) + "]", errors);
      if (m) {
        out.matchers.push_back(std::move(*m));
      } else {
        matchers_ok = false;
      }
    }
  }
  if (matchers_ok && std::all_of(out.matchers.begin(), out.matchers.end(), MatchesEmpty)) {
    r.Bad("matchers", "at least one matcher must not match the empty string");
  }

  const auto starts = r.TimeField("startsAt");
  const auto ends = r.TimeField("endsAt");
  if (starts && ends) {
    out.starts_at = *starts;
    out.ends_at = *ends;
    if (*starts >= *ends) r.Bad("endsAt", "start time must be before end time");
    if (*ends < now) r.Bad("endsAt", "end time can't be in the past");
  }
  out.created_by = r.Str("createdBy", true, kMaxCreatedByBytes).value_or("");
  out.comment = r.Str("comment", true, kMaxCommentBytes).value_or("");
  if (!errors.empty()) return tl::unexpected(std::move(errors));
  return out;
}

void AppendRfc3339Millis(std::string& out, std::int64_t unix_ns) {
  std::int64_t s = unix_ns / 1'000'000'000;
  std::int64_t ns = unix_ns % 1'000'000'000;
  if (ns < 0) {
    ns += 1'000'000'000;
    --s;
  }
  const tz::CivilTime c = tz::FromLocalSeconds(s);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day,
                c.hour, c.minute, c.second, static_cast<int>(ns / 1'000'000));
  out += buf;
}

void AppendGettableSilence(std::string& out, const Silence& s, std::int64_t now) {
  out += "{\"id\":";
  AppendJsonString(out, s.id);
  out += ",\"status\":{\"state\":\"";
  out += Name(ApiStateAt(s, now));
  out += "\"},\"updatedAt\":";
  AppendTime(out, s.updated_at);
  out += ",\"comment\":";
  AppendJsonString(out, s.comment);
  out += ",\"createdBy\":";
  AppendJsonString(out, s.created_by);
  out += ",\"endsAt\":";
  AppendTime(out, s.ends_at);
  out += ",\"matchers\":";
  if (s.matchers.empty()) out += "null";  // a nil slice, as Go writes it
  for (std::size_t i = 0; i < s.matchers.size(); ++i) {
    const Matcher& m = s.matchers[i];
    out += i == 0 ? "[" : ",";
    out += m.is_equal ? "{\"isEqual\":true" : "{\"isEqual\":false";
    out += m.is_regex ? ",\"isRegex\":true" : ",\"isRegex\":false";
    out += ",\"name\":";
    AppendJsonString(out, m.name);
    out += ",\"value\":";
    AppendJsonString(out, m.value);
    out += "}";
    if (i + 1 == s.matchers.size()) out += "]";
  }
  out += ",\"startsAt\":";
  AppendTime(out, s.starts_at);
  out += "}";
}

void AppendGettableSilences(std::string& out, std::span<const Silence> silences, std::int64_t now) {
  out.push_back('[');
  for (std::size_t i = 0; i < silences.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendGettableSilence(out, silences[i], now);
  }
  out.push_back(']');
}

// ---- the matcher text syntax -----------------------------------------------------------------

Result<Matcher> ParseMatcher(std::string_view s) {
  if (s.size() > kMaxMatcherExpressionBytes) {
    return BadMatcher("matcher expression longer than " +
                      std::to_string(kMaxMatcherExpressionBytes) + " bytes");
  }
  // ^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$
  const auto bad_format = [&] { return BadMatcher("bad matcher format: " + std::string(s)); };
  std::size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  const auto name_char = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
  };
  const std::size_t name_start = i;
  if (i >= s.size() || !name_char(s[i], true)) return bad_format();
  while (i < s.size() && name_char(s[i], false)) ++i;
  Matcher m;
  m.name = std::string(s.substr(name_start, i - name_start));
  while (i < s.size() && IsSpace(s[i])) ++i;
  const std::string_view rest = s.substr(i);
  if (rest.starts_with("=~")) {
    m.is_regex = true;
    i += 2;
  } else if (rest.starts_with("=")) {
    i += 1;
  } else if (rest.starts_with("!=")) {
    m.is_equal = false;
    i += 2;
  } else if (rest.starts_with("!~")) {
    m.is_equal = false;
    m.is_regex = true;
    i += 2;
  } else {
    return bad_format();
  }
  while (i < s.size() && IsSpace(s[i])) ++i;
  std::size_t end = s.size();
  while (end > i && IsSpace(s[end - 1])) --end;
  const std::string_view raw = s.substr(i, end - i);  // Go's ms[3]

  std::string_view value = raw;
  bool expect_trailing_quote = false;
  if (value.starts_with('"')) {
    value.remove_prefix(1);
    expect_trailing_quote = true;
  }
  if (!ValidUtf8(value)) return BadMatcher("matcher value not valid UTF-8: " + std::string(raw));
  const auto unescaped_quote = [&] {
    return BadMatcher("matcher value contains unescaped double quote: " + std::string(raw));
  };
  bool escaped = false;
  for (std::size_t k = 0; k < value.size(); ++k) {
    const char c = value[k];
    if (escaped) {
      escaped = false;
      if (c == 'n') {
        m.value.push_back('\n');
      } else if (c == '"' || c == '\\') {
        m.value.push_back(c);
      } else {
        m.value.push_back('\\');  // a spurious escape: the backslash is literal
        m.value.push_back(c);
      }
      continue;
    }
    if (c == '\\') {
      if (k + 1 < value.size()) {
        escaped = true;
        continue;
      }
      m.value.push_back('\\');  // a backslash as the last byte is literal
    } else if (c == '"') {
      if (!expect_trailing_quote || k + 1 < value.size()) return unescaped_quote();
      expect_trailing_quote = false;
    } else {
      m.value.push_back(c);
    }
  }
  if (expect_trailing_quote) return unescaped_quote();
  if (m.is_regex) {
    auto re = LabelRegex::Compile(m.value);
    if (!re) return Fail(std::move(re.error()));
  }
  return m;
}

Result<std::vector<Matcher>> ParseMatchers(std::string_view text) {
  if (text.size() > kMaxMatcherExpressionBytes) {
    return BadMatcher("matcher expression longer than " +
                      std::to_string(kMaxMatcherExpressionBytes) + " bytes");
  }
  std::string_view s = text;
  if (s.starts_with('{')) s.remove_prefix(1);
  if (s.ends_with('}')) s.remove_suffix(1);
  // Split at commas outside quotes; Go ranges over runes, so an invalid byte becomes U+FFFD.
  std::vector<std::string> tokens;
  std::string token;
  bool inside_quotes = false, escaped = false;
  for (std::size_t i = 0, len = 0; i < s.size(); i += len) {
    const bool valid = DecodeValid(s, i, len);
    const char c = s[i];
    if (valid && c == ',') {
      if (!inside_quotes) {
        tokens.push_back(std::move(token));
        token.clear();
        continue;
      }
    } else if (valid && c == '"') {
      if (!escaped) {
        inside_quotes = !inside_quotes;
      } else {
        escaped = false;
      }
    } else if (valid && c == '\\') {
      escaped = !escaped;
    } else {
      escaped = false;
    }
    if (valid) {
      token.append(s.substr(i, len));
    } else {
      token += "\xEF\xBF\xBD";
    }
  }
  if (const std::string_view last = TrimUnicodeSpace(token); !last.empty()) {
    tokens.emplace_back(last);
  }
  std::vector<Matcher> out;
  for (const std::string& t : tokens) {
    auto m = ParseMatcher(t);
    if (!m) return tl::unexpected(std::move(m.error()));
    out.push_back(std::move(*m));
  }
  return out;
}

Result<std::vector<Matcher>> ParseFilter(std::span<const std::string> filters) {
  std::vector<Matcher> out;
  for (const std::string& f : filters) {
    auto m = ParseMatcher(f);
    if (!m) return tl::unexpected(std::move(m.error()));
    out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace opsorch::silence
