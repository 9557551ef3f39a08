// Small rules shared by many decoders: the plain name (ids of runbooks, workflows, deployments,
// packages and outputs), reading fields of a JSON object the store or the engine wrote itself,
// and filling "{name}" placeholders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>

namespace opsorch {

// 1..max_len characters of [A-Za-z0-9._-]: safe in paths, logs, metric labels and URLs.
inline bool IsPlainName(std::string_view s, std::size_t max_len = 64) {
  if (s.empty() || s.size() > max_len) return false;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A field of a JSON object opsorch wrote itself (stored bodies): its value, or the zero value
// when it is absent or of another type. Not for outside input (FieldReader names errors).
inline std::int64_t IntField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}
inline std::string StringField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}
inline bool BoolField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}
inline JsonObject ObjectField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->get_object() : JsonObject();
}

// `tmpl` with every "{name}" that `lookup` knows replaced by its value; unknown names stay as
// written. Stops growing past `max_bytes` and cuts there on a UTF-8 boundary.
std::string FillPlaceholders(
    std::string_view tmpl,
    const std::function<std::optional<std::string>(std::string_view)>& lookup,
    std::size_t max_bytes);

}  // namespace opsorch
