// The body of fuzz_pagerduty, shared with the corpus regression test (fuzz_corpora_test.cc):
// one input through the three PagerDuty Events v2 decoders (include/opsorch/engine/decode.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/event.h>

#include "fuzz/event_check.h"
#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// The server's limits, and small ones that short inputs reach (text limits stay PagerDuty's: the
// server does not change them).
inline std::vector<engine::DecodeLimits> PagerDutyLimits() {
  engine::DecodeLimits small;
  small.max_body_bytes = 2048;
  small.max_depth = 4;
  small.max_batch_events = 3;
  return {engine::DecodeLimits{}, small};
}

// Routing keys anywhere an event can carry one (the object, or the elements of a batch).
inline std::vector<std::string> RoutingKeysOf(std::string_view input) {
  std::vector<std::string> keys;
  JsonParseOptions options;
  options.max_depth = 64;
  auto v = ParseJson(input, options);
  if (!v) return keys;
  const auto add = [&](const JsonValue& o) {
    if (!o.is_object()) return;
    const JsonValue* k = o.get_object().if_contains("routing_key");
    if (k != nullptr && k->is_string()) keys.emplace_back(k->get_string());
  };
  add(*v);
  if (v->is_array()) {
    for (const JsonValue& e : v->get_array()) add(e);
  }
  return keys;
}

inline void CheckPagerDutyEventOutcome(const std::string& where,
                                       const engine::Decoded<engine::Event>& d,
                                       const engine::DecodeLimits& limits,
                                       const std::vector<std::string>& keys,
                                       std::vector<std::string>& out) {
  if (!d) {
    CheckFieldErrors(where, d.error(), keys, out);
    return;
  }
  const engine::Event& e = *d;
  CheckEvent(where, e, limits, out);
  if (e.origin != "events_v2") out.push_back(where + ": origin is not events_v2");
  if (CountCodePoints(e.routing_key) > 128)
    out.push_back(where + ": routing_key over 128 characters");
  if (e.dedup_key_generated) {
    if (e.action != engine::EventAction::kTrigger) {
      out.push_back(where + ": a dedup_key was generated for an acknowledge or resolve");
    }
    if (e.dedup_key.size() != 36) out.push_back(where + ": a generated dedup_key is not a UUID");
  }
  for (const JsonValue& image : e.images) {
    const JsonValue* src = image.is_object() ? image.get_object().if_contains("src") : nullptr;
    if (src == nullptr || !src->is_string() || src->get_string().size() < 8 ||
        !EqualsIgnoreCase(std::string_view(src->get_string()).substr(0, 8), "https://")) {
      out.push_back(where + ": an image without an https:// src");
    }
  }
  for (const JsonValue& link : e.links) {
    const JsonValue* href = link.is_object() ? link.get_object().if_contains("href") : nullptr;
    if (href == nullptr || !href->is_string() || href->get_string().empty()) {
      out.push_back(where + ": a link without href");
    }
  }
}

// Two outcomes of decoding the same event, compared (a generated dedup key differs by design).
inline void CompareEventOutcomes(const std::string& where, const engine::Decoded<engine::Event>& a,
                                 const engine::Decoded<engine::Event>& b,
                                 std::vector<std::string>& out) {
  if (a.has_value() != b.has_value()) {
    out.push_back(where + ": accepted one way and refused the other");
    return;
  }
  if (!a) {
    if (a.error().size() != b.error().size()) {
      out.push_back(where + ": a different number of errors");
      return;
    }
    for (std::size_t i = 0; i < a.error().size(); ++i) {
      if (a.error()[i].field != b.error()[i].field ||
          a.error()[i].message != b.error()[i].message) {
        out.push_back(where + ": different errors: " + a.error()[i].field + ": " +
                      a.error()[i].message + " / " + b.error()[i].field + ": " +
                      b.error()[i].message);
      }
    }
    return;
  }
  const engine::Event& x = *a;
  const engine::Event& y = *b;
  const bool same =
      x.action == y.action && x.routing_key == y.routing_key &&
      x.dedup_key_generated == y.dedup_key_generated &&
      (x.dedup_key_generated || x.dedup_key == y.dedup_key) && x.summary == y.summary &&
      x.source == y.source && x.severity == y.severity && x.timestamp == y.timestamp &&
      x.timestamp.offset_seconds == y.timestamp.offset_seconds && x.component == y.component &&
      x.group == y.group && x.class_name == y.class_name && x.custom_details == y.custom_details &&
      x.links == y.links && x.images == y.images && x.client == y.client &&
      x.client_url == y.client_url && x.origin == y.origin;
  if (!same) out.push_back(where + ": the decoded events differ");
}

// Invariants, under each of PagerDutyLimits():
//  - no decoder crashes; every refusal has errors, each with a message, none quoting a routing
//    key of the input;
//  - an accepted event has an action and severity in range, a non-empty dedup_key of at most
//    max_dedup_key characters (a generated one only for a trigger, and a UUID), a summary of at
//    most max_summary characters (summary and source for a trigger), a routing key of at most
//    128 characters, no NUL and only UTF-8 in any text it keeps, https images, links with href,
//    and a timestamp that is zero or representable in int64 nanoseconds;
//  - each element of a batch decodes as that element sent alone does;
//  - an accepted change event has a routing key and a summary within the limit, the same text
//    and time rules.
inline std::vector<std::string> CheckPagerDuty(std::string_view input) {
  std::vector<std::string> out;
  const std::vector<std::string> keys = RoutingKeysOf(input);
  int variant = 0;
  for (const engine::DecodeLimits& limits : PagerDutyLimits()) {
    const std::string tag = variant++ == 0 ? "default limits" : "small limits";
    const auto event = engine::DecodePagerDutyEvent(input, limits);
    CheckPagerDutyEventOutcome(tag + ", event", event, limits, keys, out);

    const auto batch = engine::DecodePagerDutyBatch(input, limits);
    if (!batch) {
      CheckFieldErrors(tag + ", batch", batch.error(), keys, out);
    } else {
      if (batch->size() > limits.max_batch_events) {
        out.push_back(tag + ", batch: more events than max_batch_events");
      }
      JsonParseOptions options;
      options.max_depth = limits.max_depth + 1;
      auto array = ParseJson(input, options);
      if (!array || !array->is_array() || array->get_array().size() != batch->size()) {
        out.push_back(tag + ", batch: accepted, but the body is not an array of that many events");
      } else {
        for (std::size_t i = 0; i < batch->size(); ++i) {
          const std::string where = tag + ", batch[" + std::to_string(i) + "]";
          CheckPagerDutyEventOutcome(where, (*batch)[i], limits, keys, out);
          // The element sent alone (re-encoded: a batch allows one more level of nesting, for
          // the array, so each element gets the nesting a single event gets).
          std::string alone;
          AppendJsonValue(alone, array->get_array()[i]);
          if (alone.size() <= limits.max_body_bytes) {
            CompareEventOutcomes(where + " vs. the element sent alone", (*batch)[i],
                                 engine::DecodePagerDutyEvent(alone, limits), out);
          }
        }
      }
    }

    const auto change = engine::DecodePagerDutyChange(input, limits);
    const std::string where = tag + ", change";
    if (!change) {
      CheckFieldErrors(where, change.error(), keys, out);
    } else {
      const engine::ChangeEvent& c = *change;
      std::vector<std::string> found;
      if (c.routing_key.empty()) found.push_back("empty routing_key");
      if (c.summary.empty()) found.push_back("empty summary");
      if (CountCodePoints(c.summary) > limits.max_summary)
        found.push_back("summary over the limit");
      CheckStoredText("routing_key", c.routing_key, found);
      CheckStoredText("summary", c.summary, found);
      CheckStoredText("source", c.source, found);
      CheckStringObjects("links", c.links, found);
      CheckEventTime("timestamp", c.timestamp, /*zero_allowed=*/true, found);
      for (const std::string& f : found) out.push_back(where + ": accepted change: " + f);
    }
  }
  return out;
}

}  // namespace opsorch::testing
