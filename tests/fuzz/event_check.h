// Invariants of the incident engine's decoded events, shared by the bodies of fuzz_pagerduty
// (pagerduty_check.h) and fuzz_alertmanager (alertmanager_check.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/event.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// Code points, as the decoders count PagerDuty's limits.
inline std::size_t CountCodePoints(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Text every store keeps: valid UTF-8 without NUL (PostgreSQL text cannot hold NUL).
inline void CheckStoredText(std::string_view what, std::string_view s,
                            std::vector<std::string>& out) {
  if (HasNulChar(s)) out.push_back(std::string(what) + " holds a NUL character");
  if (!ValidUtf8(s)) out.push_back(std::string(what) + " is not valid UTF-8");
}

// A timestamp an event may carry: zero (none given) or an instant whose Unix nanoseconds fit an
// int64 (what the stores keep), and one that survives its RFC 3339 form.
inline void CheckEventTime(std::string_view what, const Time& t, bool zero_allowed,
                           std::vector<std::string>& out) {
  if (t.nanos < 0 || t.nanos >= 1'000'000'000)
    out.push_back(std::string(what) + ": nanos out of range");
  if (t.IsZero()) {
    if (!zero_allowed) out.push_back(std::string(what) + ": zero time");
    return;
  }
  if (!t.UnixNanosChecked()) {
    out.push_back(std::string(what) + " " + FormatRfc3339Nano(t) +
                  " is not representable in int64 nanoseconds");
  }
  const std::string text = FormatRfc3339Nano(t);
  auto back = ParseRfc3339(text);
  if (!back || *back != t) out.push_back(std::string(what) + ": " + text + " does not parse back");
}

// Every string of a links/images array as kept: objects of strings only.
inline void CheckStringObjects(std::string_view what, const JsonArray& items,
                               std::vector<std::string>& out) {
  for (const JsonValue& item : items) {
    if (!item.is_object()) {
      out.push_back(std::string(what) + ": an element is not an object");
      continue;
    }
    for (const auto& kv : item.get_object()) {
      if (!kv.value().is_string()) {
        out.push_back(std::string(what) + "." + std::string(kv.key()) + " is not a string");
        continue;
      }
      CheckStoredText(std::string(what) + "." + std::string(kv.key()),
                      std::string_view(kv.value().get_string()), out);
    }
  }
}

inline bool ValidAction(engine::EventAction a) {
  return a == engine::EventAction::kTrigger || a == engine::EventAction::kAcknowledge ||
         a == engine::EventAction::kResolve;
}

inline bool ValidSeverity(engine::Severity s) {
  return s == engine::Severity::kCritical || s == engine::Severity::kError ||
         s == engine::Severity::kWarning || s == engine::Severity::kInfo;
}

// The fields every accepted event has, whatever format it came in.
inline void CheckEvent(const std::string& where, const engine::Event& e,
                       const engine::DecodeLimits& limits, std::vector<std::string>& out) {
  std::vector<std::string> found;
  if (!ValidAction(e.action)) found.push_back("action out of range");
  if (!ValidSeverity(e.severity)) found.push_back("severity out of range");
  if (e.routing_key.empty()) found.push_back("empty routing_key");
  if (e.dedup_key.empty()) found.push_back("empty dedup_key");
  if (CountCodePoints(e.dedup_key) > limits.max_dedup_key) {
    found.push_back("dedup_key longer than " + std::to_string(limits.max_dedup_key) +
                    " characters");
  }
  if (CountCodePoints(e.summary) > limits.max_summary) {
    found.push_back("summary longer than " + std::to_string(limits.max_summary) + " characters");
  }
  if (e.action == engine::EventAction::kTrigger && (e.summary.empty() || e.source.empty())) {
    found.push_back("a trigger without summary or source");
  }
  CheckStoredText("routing_key", e.routing_key, found);
  CheckStoredText("dedup_key", e.dedup_key, found);
  CheckStoredText("summary", e.summary, found);
  CheckStoredText("source", e.source, found);
  CheckStoredText("component", e.component, found);
  CheckStoredText("group", e.group, found);
  CheckStoredText("class", e.class_name, found);
  CheckStoredText("client", e.client, found);
  CheckStoredText("client_url", e.client_url, found);
  CheckStringObjects("links", e.links, found);
  CheckStringObjects("images", e.images, found);
  CheckEventTime("timestamp", e.timestamp, /*zero_allowed=*/true, found);
  for (const std::string& f : found) out.push_back(where + ": accepted event: " + f);
}

// A value that cannot occur in an error text by chance (at least 16 letters and digits, both):
// only such keys are looked for in error messages.
inline bool LooksLikeKey(std::string_view s) {
  bool letter = false, digit = false;
  for (const char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      letter = true;
    } else {
      return false;
    }
  }
  return s.size() >= 16 && letter && digit;
}

// Every refusal names a field or says why, and quotes none of `secrets` (integration keys) that
// looks like a key.
inline void CheckFieldErrors(const std::string& where,
                             const std::vector<engine::FieldError>& errors,
                             const std::vector<std::string>& secrets,
                             std::vector<std::string>& out) {
  if (errors.empty()) out.push_back(where + ": refused without an error");
  for (const engine::FieldError& e : errors) {
    if (e.message.empty()) {
      out.push_back(where + ": an error without a message (field \"" + Excerpt(e.field) + "\")");
    }
    for (const std::string& secret : secrets) {
      if (LooksLikeKey(secret) && (e.message.find(secret) != std::string::npos ||
                                   e.field.find(secret) != std::string::npos)) {
        out.push_back(where + ": an error quotes an integration key: " + Excerpt(e.field) + ": " +
                      Excerpt(e.message));
      }
    }
  }
}

}  // namespace opsorch::testing
