#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opsorch/common/json_writer.h>

namespace opsorch {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes below 0x80 that Go writes unescaped with HTML escaping on.
constexpr bool SafeAscii(unsigned char c) {
  return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c < 0x80;
}

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid (as Go's utf8.DecodeRune: no
// overlong forms, no surrogates, nothing above U+10FFFF). Sets `cp`.
std::size_t DecodeUtf8(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c0 = b(0);
  const std::size_t left = s.size() - i;
  const auto cont = [](unsigned char c) { return (c & 0xC0) == 0x80; };
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    if (left < 2 || !cont(b(1))) return 0;
    cp = ((c0 & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    return 2;
  }
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    if (left < 3 || !cont(b(1)) || !cont(b(2))) return 0;
    cp = ((c0 & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return 3;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    if (left < 4 || !cont(b(1)) || !cont(b(2)) || !cont(b(3))) return 0;
    cp = ((c0 & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
    if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t start = 0;  // first byte not yet copied
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (SafeAscii(c)) {
        ++i;
        continue;
      }
      out.append(s.data() + start, i - start);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
      }
      start = ++i;
      continue;
    }
    std::uint32_t cp = 0;
    const std::size_t n = DecodeUtf8(s, i, cp);
    if (n == 0) {
      out.append(s.data() + start, i - start);
      out.append("\\ufffd");
      start = ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      out.append(s.data() + start, i - start);
      out.append(cp == 0x2028 ? "\\u2028" : "\\u2029");
      start = i + n;
    }
    i += n;
  }
  out.append(s.data() + start, s.size() - start);
  out.push_back('"');
}

void AppendJsonDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {  // Go refuses to encode these; null keeps the document valid.
    out.append("null");
    return;
  }
  char buf[64];
  const double a = std::fabs(v);
  const bool scientific = a != 0 && (a < 1e-6 || a >= 1e21);
  auto res = std::to_chars(buf, buf + sizeof buf, v,
                           scientific ? std::chars_format::scientific : std::chars_format::fixed);
  std::size_t n = static_cast<std::size_t>(res.ptr - buf);
  if (scientific && n >= 4 && buf[n - 4] == 'e' && buf[n - 3] == '-' && buf[n - 2] == '0') {
    buf[n - 2] = buf[n - 1];  // e-07 → e-7, as Go
    --n;
  }
  out.append(buf, n);
}

void AppendJsonObject(std::string& out, const JsonObject& o) {
  // Go encodes maps with sorted keys.
  std::vector<const boost::json::key_value_pair*> items;
  items.reserve(o.size());
  for (const auto& kv : o) items.push_back(&kv);
  std::sort(items.begin(), items.end(),
            [](const auto* a, const auto* b) { return a->key() < b->key(); });
  out.push_back('{');
  bool first = true;
  for (const auto* kv : items) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, kv->key());
    out.push_back(':');
    AppendJsonValue(out, kv->value());
  }
  out.push_back('}');
}

void AppendJsonValue(std::string& out, const JsonValue& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out.append("null");
      break;
    case boost::json::kind::bool_:
      out.append(v.get_bool() ? "true" : "false");
      break;
    case boost::json::kind::int64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
      out.append(buf, static_cast<std::size_t>(r.ptr - buf));
      break;
    }
    case boost::json::kind::uint64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, static_cast<std::size_t>(r.ptr - buf));
      break;
    }
    case boost::json::kind::double_:
      AppendJsonDouble(out, v.get_double());
      break;
    case boost::json::kind::string:
      AppendJsonString(out, v.get_string());
      break;
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonValue(out, e);
      }
      out.push_back(']');
      break;
    }
    case boost::json::kind::object:
      AppendJsonObject(out, v.get_object());
      break;
  }
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  std::string out;
  out.reserve(32 + code.size() + message.size());
  out.append("{\"code\":");
  AppendJsonString(out, code);
  out.append(",\"message\":");
  AppendJsonString(out, message);
  out.push_back('}');
  return out;
}

}  // namespace opsorch
