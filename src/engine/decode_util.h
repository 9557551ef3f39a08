// Helpers shared by the ingestion decoders (decode_pagerduty.cc, decode_alertmanager.cc): the
// body checks every format starts with, a field reader that collects errors, and UTF-8 aware
// length rules.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/event.h>

namespace opsorch::engine::decode_internal {

using FieldErrors = std::vector<FieldError>;

inline tl::unexpected<FieldErrors> Refuse(FieldErrors errors) {
  return tl::unexpected<FieldErrors>(std::move(errors));
}

inline tl::unexpected<FieldErrors> Refuse(std::string field, std::string message) {
  return Refuse(FieldErrors{FieldError{std::move(field), std::move(message)}});
}

inline std::string_view View(const boost::json::string& s) { return {s.data(), s.size()}; }

// Size limit, then the one JSON reader under the nesting limit. `extra_depth` is for the array
// around a batch, so that each element gets the nesting a single event gets.
inline Decoded<JsonValue> ParseBody(std::string_view body, const DecodeLimits& limits,
                                    std::size_t extra_depth = 0) {
  if (body.size() > limits.max_body_bytes) {
    return Refuse("", "request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  JsonParseOptions options;
  options.max_depth = limits.max_depth + extra_depth;
  // Bodies carry integration keys; a parse error must not quote a value back.
  options.quote_values_in_errors = false;
  auto parsed = ParseJson(body, options);
  if (!parsed) return Refuse("", "invalid JSON: " + parsed.error().message);
  return std::move(*parsed);
}

// Length in code points: PagerDuty's limits are in characters, and the reader has already
// refused invalid UTF-8, so every byte that is not a continuation byte starts one.
inline std::size_t CountChars(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// At most `max_chars` code points; a longer text keeps `max_chars - 1` of them and ends in "…",
// as Alertmanager's and Grafana's own PagerDuty notifiers truncate. Never cuts a code point.
inline std::string TruncateChars(std::string_view s, std::size_t max_chars) {
  if (CountChars(s) <= max_chars) return std::string(s);
  if (max_chars == 0) return {};
  std::size_t kept = 0;
  std::size_t end = 0;
  for (; end < s.size(); ++end) {
    if ((static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) continue;
    if (kept == max_chars - 1) break;
    ++kept;
  }
  std::string out(s.substr(0, end));
  out += "\u2026";
  return out;
}

// RFC 3339, plus the ISO 8601 offset without a colon that PagerDuty documents
// ("2015-07-17T08:42:58.315+0000"), normalised to ±hh:mm for ParseRfc3339.
inline std::optional<Time> ParseIsoTimestamp(std::string_view s) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (s.size() > 5) {
    const std::size_t sign = s.size() - 5;
    if ((s[sign] == '+' || s[sign] == '-') && is_digit(s[sign - 1]) && is_digit(s[sign + 1]) &&
        is_digit(s[sign + 2]) && is_digit(s[sign + 3]) && is_digit(s[sign + 4])) {
      std::string normal(s.substr(0, sign + 3));
      normal += ':';
      normal += s.substr(sign + 3);
      auto t = ParseRfc3339(normal);
      if (t) return *t;
      return std::nullopt;
    }
  }
  auto t = ParseRfc3339(s);
  if (t) return *t;
  return std::nullopt;
}

// Reads the fields of one JSON object, appending every rule broken to a shared error list under
// the field's dotted path. JSON null counts as absent, as for Go senders' unset pointers.
class ObjectReader {
 public:
  ObjectReader(const JsonObject& object, std::string prefix, FieldErrors& errors)
      : object_(object), prefix_(std::move(prefix)), errors_(errors) {}

  const JsonValue* Find(std::string_view key) const {
    const JsonValue* v = object_.if_contains(key);
    return v == nullptr || v->is_null() ? nullptr : v;
  }

  std::string Path(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }

  void Error(std::string_view key, std::string message) {
    errors_.push_back(FieldError{Path(key), std::move(message)});
  }

  FieldErrors& errors() { return errors_; }

  // Absent → nullopt; present but not a string → an error and nullopt.
  std::optional<std::string_view> String(std::string_view key) {
    const JsonValue* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      Error(key, "must be a string");
      return std::nullopt;
    }
    // PostgreSQL text cannot hold NUL: refused here (400, not retried) rather than failing the
    // write (which would answer 500 and make the sender retry the same event for ever).
    if (std::string_view(v->get_string().data(), v->get_string().size()).find('\0') !=
        std::string_view::npos) {
      Error(key, "must not contain NUL characters");
      return std::nullopt;
    }
    return View(v->get_string());
  }

  // Present, a string and not empty; else the one error that says which.
  std::optional<std::string_view> RequiredString(std::string_view key) {
    if (Find(key) == nullptr) {
      Error(key, "is required");
      return std::nullopt;
    }
    auto s = String(key);
    if (s && s->empty()) {
      Error(key, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  // Optional string of at most `max_chars` code points.
  std::optional<std::string_view> BoundedString(std::string_view key, std::size_t max_chars) {
    auto s = String(key);
    if (s && CountChars(*s) > max_chars) {
      Error(key, "must be at most " + std::to_string(max_chars) + " characters");
      return std::nullopt;
    }
    return s;
  }

 private:
  const JsonObject& object_;
  std::string prefix_;
  FieldErrors& errors_;
};

inline std::string IndexPath(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// links[]: {href (required), text?}, kept as exactly those fields (PagerDuty and change events).
inline void ReadLinks(ObjectReader& r, JsonArray& out) {
  const JsonValue* v = r.Find("links");
  if (v == nullptr) return;
  if (!v->is_array()) {
    r.Error("links", "must be an array");
    return;
  }
  const JsonArray& items = v->get_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string path = IndexPath(r.Path("links"), i);
    if (!items[i].is_object()) {
      r.errors().push_back(FieldError{path, "must be an object"});
      continue;
    }
    ObjectReader item(items[i].get_object(), path, r.errors());
    const auto href = item.RequiredString("href");
    const auto text = item.String("text");
    if (!href) continue;
    JsonObject link;
    link["href"] = *href;
    if (text) link["text"] = *text;
    out.push_back(std::move(link));
  }
}

// custom_details: any JSON. Objects are kept as they are; anything else is shown the way
// PagerDuty shows it, as {"details": value}.
inline JsonObject ReadCustomDetails(const ObjectReader& r) {
  const JsonValue* v = r.Find("custom_details");
  if (v == nullptr) return {};
  if (v->is_object()) return v->get_object();
  JsonObject wrapped;
  wrapped["details"] = *v;
  return wrapped;
}

}  // namespace opsorch::engine::decode_internal
