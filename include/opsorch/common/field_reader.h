// Reading a JSON object field by field with errors that name the field and the rule
// (`services[2].ackTargetMinutes: must be a positive integer`); the first error wins. Shared by
// the engine's seed file and admin API and the workflow runtime's bootstrap and configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <opsorch/common/duration.h>
#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

namespace opsorch {

inline bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

struct FieldReader {
  const JsonObject& obj;
  std::string where;  // prefix of error messages, e.g. "services[2]"
  Status* status;

  void Error(std::string_view key, std::string_view rule) const {
    if (*status) {
      *status = Fail(errc::kBadRequest, (where.empty() ? std::string() : where + ".") +
                                            std::string(key) + ": " + std::string(rule));
    }
  }

  // Refuses keys outside `known` (strict request bodies).
  void OnlyKnown(std::initializer_list<std::string_view> known) const {
    for (const auto& kv : obj) {
      bool ok = false;
      for (std::string_view k : known) ok = ok || kv.key() == k;
      if (!ok) Error(std::string_view(kv.key().data(), kv.key().size()), "unknown field");
    }
  }

  std::string Str(std::string_view key, bool required = false) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) Error(key, "is required");
      return {};
    }
    if (!v->is_string()) {
      Error(key, "must be a string");
      return {};
    }
    if (required && v->get_string().empty()) Error(key, "must not be empty");
    if (HasNul(v->get_string())) {
      Error(key, "must not contain NUL characters");  // no store can keep them
      return {};
    }
    return std::string(v->get_string());
  }

  std::int64_t PositiveInt(std::string_view key, std::int64_t fallback) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_int64() || v->get_int64() <= 0) {
      Error(key, "must be a positive integer");
      return fallback;
    }
    return v->get_int64();
  }

  const JsonArray* Array(std::string_view key) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return nullptr;
    if (!v->is_array()) {
      Error(key, "must be an array");
      return nullptr;
    }
    return &v->get_array();
  }

  // A string → string map (tags).
  JsonObject StringMap(std::string_view key) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_object()) {
      Error(key, "must be an object of strings");
      return {};
    }
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string()) {
        Error(std::string(key) + "." + std::string(kv.key()), "must be a string");
        return {};
      }
      if (HasNul(kv.key())) {
        Error(key, "keys must not contain NUL characters");
        return {};
      }
      if (HasNul(kv.value().get_string())) {
        Error(std::string(key) + "." + std::string(kv.key()), "must not contain NUL characters");
        return {};
      }
    }
    return v->get_object();
  }
  bool Bool(std::string_view key, bool fallback) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_bool()) {
      Error(key, "must be true or false");
      return fallback;
    }
    return v->get_bool();
  }

  // A Go duration string ("500ms", "1m30s"); negative refused.
  std::chrono::milliseconds Duration(std::string_view key,
                                     std::chrono::milliseconds fallback) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_string()) {
      Error(key, "must be a duration string such as \"30s\"");
      return fallback;
    }
    auto ns = ParseGoDuration(v->get_string());
    if (!ns || *ns < 0) {
      Error(key, "must be a non-negative duration such as \"30s\"");
      return fallback;
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(*ns));
  }

  const JsonObject* Object(std::string_view key) const {
    const JsonValue* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) return nullptr;
    if (!v->is_object()) {
      Error(key, "must be an object");
      return nullptr;
    }
    return &v->get_object();
  }

  // The path of a nested value, for a nested reader: "hosts[1]".
  std::string Path(std::string_view key) const {
    return (where.empty() ? std::string() : where + ".") + std::string(key);
  }
  std::string Path(std::string_view key, std::size_t index) const {
    return Path(key) + "[" + std::to_string(index) + "]";
  }
};

}  // namespace opsorch
