// The body of fuzz_alertmanager_push, shared with the corpus regression test
// (fuzz_corpora_test.cc): one input through DecodeAlertmanagerPush (include/opsorch/engine/
// decode.h), checked against a small model of what Alertmanager 0.25's POST /api/v2/alerts does
// with each element (api/v2 postAlertsHandler: the time defaults, removeEmptyLabels, then
// model.Alert.Validate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/event.h>

#include "fuzz/event_check.h"
#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// The integration key the push URL names; errors must never quote it.
inline constexpr std::string_view kAlertmanagerPushKey = "amPushIntegrationKey0002";

// The decoder's clock in the fuzz body: 2024-03-11T14:05:00Z, the day the seeds were written
// for, so that they hold both alerts still firing and alerts already resolved.
inline constexpr std::int64_t kPushNow = 1710165900LL * 1'000'000'000;
inline constexpr std::int64_t kPushResolveTimeout = 5LL * 60 * 1'000'000'000;  // Alertmanager's

// What Alertmanager would store for one element of the array, or nullopt when it (or opsorch's
// own rules: no NUL, times that fit int64 nanoseconds) refuses it.
struct PushModel {
  std::vector<std::pair<std::string, std::string>> labels;  // sorted, no empty values
  std::int64_t starts_at = 0;
  std::int64_t ends_at = 0;
};

// FNV-1a 64 of the label set as prometheus/common's labelSetToFingerprint computes it, written
// out again here so that the check does not only compare the decoder with itself.
inline std::string ModelFingerprint(
    const std::vector<std::pair<std::string, std::string>>& sorted) {
  std::uint64_t h = 14695981039346656037ULL;
  const auto add = [&h](std::string_view s) {
    for (const unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xFF;
    h *= 1099511628211ULL;
  };
  for (const auto& [name, value] : sorted) {
    add(name);
    add(value);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(h >> shift) & 0xF]);
  return out;
}

// model.LabelName.IsValid in prometheus/common as Alertmanager 0.25 links it.
inline bool ModelLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
          (i > 0 && c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

// A {string: string} field: nullopt when it is not one (or holds a NUL). Absent or null → empty.
inline std::optional<std::map<std::string, std::string>> ModelStringMap(const JsonObject& alert,
                                                                        std::string_view key) {
  std::map<std::string, std::string> out;
  const JsonValue* v = alert.if_contains(key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_object()) return std::nullopt;
  for (const auto& kv : v->get_object()) {
    if (!kv.value().is_string()) return std::nullopt;
    const std::string name(kv.key());
    const std::string value(kv.value().get_string());
    if (HasNulChar(name) || HasNulChar(value)) return std::nullopt;
    out.insert_or_assign(name, value);
  }
  return out;
}

// A time field: nullopt when refused; else Go's zero time (absent, null, 0001-01-01T00:00:00Z)
// as an empty optional inside.
inline std::optional<std::optional<std::int64_t>> ModelTime(const JsonObject& alert,
                                                            std::string_view key) {
  const JsonValue* v = alert.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
  if (!v->is_string()) return std::nullopt;
  auto t = ParseRfc3339(std::string_view(v->get_string()));
  if (!t) return std::nullopt;
  if (t->IsZero()) return std::optional<std::int64_t>();
  const auto ns = t->UnixNanosChecked();
  if (!ns) return std::nullopt;
  return std::optional<std::int64_t>(*ns);
}

inline std::optional<PushModel> ModelPushedAlert(const JsonValue& element, std::int64_t now,
                                                 std::int64_t resolve_timeout) {
  if (!element.is_object()) return std::nullopt;
  const JsonObject& alert = element.get_object();
  const JsonValue* labels_value = alert.if_contains("labels");
  if (labels_value == nullptr || labels_value->is_null()) return std::nullopt;  // swagger: required
  const auto labels = ModelStringMap(alert, "labels");
  const auto annotations = ModelStringMap(alert, "annotations");
  const auto starts = ModelTime(alert, "startsAt");
  const auto ends = ModelTime(alert, "endsAt");
  const JsonValue* url = alert.if_contains("generatorURL");
  if (!labels || !annotations || !starts || !ends) return std::nullopt;
  if (url != nullptr && !url->is_null() &&
      (!url->is_string() || HasNulChar(std::string_view(url->get_string())))) {
    return std::nullopt;
  }
  PushModel m;
  // postAlertsHandler: defaults first, then removeEmptyLabels, then Validate.
  m.starts_at = starts->has_value() ? **starts : ends->has_value() ? **ends : now;
  m.ends_at = ends->has_value() ? **ends : now + resolve_timeout;
  for (const auto& [name, value] : *labels) {
    if (!value.empty()) m.labels.emplace_back(name, value);
  }
  if (m.ends_at < m.starts_at || m.labels.empty()) return std::nullopt;
  for (const auto& [name, value] : m.labels) {
    if (!ModelLabelName(name)) return std::nullopt;
  }
  for (const auto& [name, value] : *annotations) {
    if (!ModelLabelName(name)) return std::nullopt;
  }
  return m;
}

// The index an element error names: "[i]" or "[i].field…"; nullopt for anything else.
inline std::optional<std::size_t> ErrorIndex(std::string_view field) {
  if (field.size() < 3 || field[0] != '[') return std::nullopt;
  std::size_t i = 1, index = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '9' && i < 12; ++i) {
    index = index * 10 + static_cast<std::size_t>(field[i] - '0');
  }
  if (i == 1 || i >= field.size() || field[i] != ']') return std::nullopt;
  if (i + 1 < field.size() && field[i + 1] != '.') return std::nullopt;
  return index;
}

inline bool SixteenHex(std::string_view s) {
  if (s.size() != 16) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Invariants, under the server's limits and small ones (and a zero resolve timeout):
//  - no crash; a refusal has errors, each with a message, none quoting the integration key, and
//    only a body that is not a JSON array of at most 10000 alerts within the limits is refused;
//  - element errors name their element ("[i]…"), and every element is either an event (in
//    order) or has errors: exactly the elements the model of Alertmanager accepts are events;
//  - every event: CheckEvent's (event_check.h), the integration key as routing key, origin
//    alertmanager_api, push, dedup_key 16 hex digits equal to AlertmanagerFingerprint(labels)
//    and to the model's fingerprint, labels strictly sorted, non-empty, without empty values and
//    equal to the model's, starts_at/ends_at the model's (Alertmanager's defaults), starts_at ≤
//    ends_at, resolve iff ends_at ≤ now, timestamp = starts_at (trigger) or ends_at (resolve),
//    summary and source non-empty, custom_details {labels, annotations, generatorURL}, at most one
//    link;
//  - decoding again with another `now` gives the same fingerprint, and the same digest for
//    elements that gave their startsAt (the digest never depends on endsAt or on the clock).
inline std::vector<std::string> CheckAlertmanagerPush(std::string_view input) {
  std::vector<std::string> out;
  engine::DecodeLimits small;
  small.max_depth = 5;
  small.max_webhook_body_bytes = 2048;
  small.max_summary = 64;
  struct Variant {
    const char* tag;
    engine::DecodeLimits limits;
    std::int64_t resolve_timeout;
  };
  const Variant variants[] = {{"default limits", engine::DecodeLimits{}, kPushResolveTimeout},
                              {"small limits, no timeout", small, 0}};
  const std::vector<std::string> secrets = {std::string(kAlertmanagerPushKey)};
  const bool input_has_key = input.find(kAlertmanagerPushKey) != std::string_view::npos;
  const std::vector<std::string> no_secrets;
  const std::vector<std::string>& quoted = input_has_key ? no_secrets : secrets;

  for (const Variant& variant : variants) {
    const std::string tag = variant.tag;
    const engine::DecodeLimits& limits = variant.limits;
    const auto d = engine::DecodeAlertmanagerPush(input, kAlertmanagerPushKey, kPushNow,
                                                  variant.resolve_timeout, limits);
    JsonParseOptions options;
    options.max_depth = limits.max_depth;
    std::optional<JsonValue> doc;
    if (input.size() <= limits.max_webhook_body_bytes) {
      if (auto parsed = ParseJson(input, options)) doc = std::move(*parsed);
    }
    const JsonArray* items =
        doc && doc->is_array() && doc->get_array().size() <= 10'000 ? &doc->get_array() : nullptr;
    if (!d) {
      CheckFieldErrors(tag, d.error(), quoted, out);
      if (items != nullptr) out.push_back(tag + ": refused a JSON array of alerts");
      continue;
    }
    if (items == nullptr) {
      out.push_back(tag + ": accepted a body that is not a JSON array of alerts");
      continue;
    }
    if (!d->errors.empty()) CheckFieldErrors(tag + ", element errors", d->errors, quoted, out);
    std::vector<bool> has_error(items->size(), false);
    for (const engine::FieldError& e : d->errors) {
      const auto index = ErrorIndex(e.field);
      if (!index || *index >= items->size()) {
        out.push_back(tag + ": an element error names no element: " + Excerpt(e.field));
      } else {
        has_error[*index] = true;
      }
    }

    const auto again = engine::DecodeAlertmanagerPush(
        input, kAlertmanagerPushKey, kPushNow + 1'000'000'000, variant.resolve_timeout, limits);
    std::size_t next = 0;  // the next event
    for (std::size_t i = 0; i < items->size(); ++i) {
      const std::string where = tag + ", [" + std::to_string(i) + "]";
      const JsonValue& element = (*items)[i];
      const auto model = ModelPushedAlert(element, kPushNow, variant.resolve_timeout);
      if (has_error[i]) {
        if (model) out.push_back(where + ": refused, but Alertmanager accepts it");
        continue;
      }
      if (next >= d->events.size()) {
        out.push_back(where + ": neither an event nor an error");
        continue;
      }
      const engine::Event& e = d->events[next++];
      if (!model) {
        out.push_back(where + ": accepted, but Alertmanager refuses it");
        continue;
      }
      CheckEvent(where, e, limits, out);
      if (e.routing_key != kAlertmanagerPushKey)
        out.push_back(where + ": routing_key is not the key");
      if (e.origin != "alertmanager_api") out.push_back(where + ": origin is not alertmanager_api");
      if (!e.push) out.push_back(where + ": not a push");
      if (e.action == engine::EventAction::kAcknowledge) out.push_back(where + ": an acknowledge");
      if (e.labels.empty()) out.push_back(where + ": no labels");
      for (std::size_t k = 0; k < e.labels.size(); ++k) {
        if (k > 0 && !(e.labels[k - 1].first < e.labels[k].first)) {
          out.push_back(where + ": labels not strictly sorted by name");
        }
        if (e.labels[k].second.empty()) {
          out.push_back(where + ": label " + Excerpt(e.labels[k].first) +
                        " has an empty value (Alertmanager drops those before fingerprinting)");
        }
      }
      if (e.labels != model->labels) out.push_back(where + ": labels are not Alertmanager's");
      if (!SixteenHex(e.dedup_key)) out.push_back(where + ": dedup_key is not 16 hex digits");
      if (e.dedup_key != engine::AlertmanagerFingerprint(e.labels)) {
        out.push_back(where + ": dedup_key is not AlertmanagerFingerprint(labels)");
      }
      if (e.dedup_key != ModelFingerprint(model->labels)) {
        out.push_back(where + ": dedup_key " + e.dedup_key + " is not Alertmanager's " +
                      ModelFingerprint(model->labels));
      }
      if (e.starts_at != model->starts_at || e.ends_at != model->ends_at) {
        out.push_back(where + ": starts_at/ends_at " + std::to_string(e.starts_at) + "/" +
                      std::to_string(e.ends_at) + " are not Alertmanager's " +
                      std::to_string(model->starts_at) + "/" + std::to_string(model->ends_at));
      }
      if (e.starts_at > e.ends_at) out.push_back(where + ": starts_at after ends_at");
      const bool resolved = e.ends_at <= kPushNow;
      if ((e.action == engine::EventAction::kResolve) != resolved) {
        out.push_back(where + ": resolve is not ends_at <= now");
      }
      const std::int64_t stamp = resolved ? e.ends_at : e.starts_at;
      if (e.timestamp.UnixNanosChecked() != std::optional<std::int64_t>(stamp)) {
        out.push_back(where + ": timestamp is not " + (resolved ? "ends_at" : "starts_at"));
      }
      if (e.summary.empty() || e.source.empty()) out.push_back(where + ": empty summary or source");
      for (const char* key : {"labels", "annotations", "generatorURL"}) {
        if (!e.custom_details.contains(key)) {
          out.push_back(where + ": custom_details without " + std::string(key));
        }
      }
      if (e.links.size() > 1) out.push_back(where + ": more than one link");

      // The same element decoded a second later.
      const std::size_t k = next - 1;
      if (!again || k >= again->events.size()) {
        out.push_back(where + ": not an event when decoded a second later");
        continue;
      }
      const engine::Event& later = again->events[k];
      if (later.dedup_key != e.dedup_key) out.push_back(where + ": fingerprint depends on now");
      const auto later_model =
          ModelPushedAlert(element, kPushNow + 1'000'000'000, variant.resolve_timeout);
      if (later_model && later_model->starts_at == model->starts_at && later.digest != e.digest) {
        out.push_back(where + ": digest depends on now or endsAt");
      }
    }
    if (next != d->events.size()) {
      out.push_back(tag + ": " + std::to_string(d->events.size() - next) +
                    " events more than the elements without errors");
    }
  }
  return out;
}

}  // namespace opsorch::testing
