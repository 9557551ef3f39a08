// PagerDuty Events API v2 (alert and change events) → engine events. Validation follows what
// PagerDuty documents (incident-engine-reference §11); every broken rule is reported, not just
// the first, so that a sender can fix a payload in one round trip.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sodium.h>

#include <opsorch/common/strings.h>
#include <opsorch/engine/decode.h>

#include "engine/decode_util.h"

namespace opsorch::engine {
namespace {

using decode_internal::FieldErrors;
using decode_internal::ObjectReader;
using decode_internal::Refuse;

// PagerDuty's integration keys are exactly 32 characters, but the keys we accept are our own
// (issued per integration), so any non-empty key up to this length is taken.
constexpr std::size_t kMaxRoutingKey = 128;

std::optional<EventAction> ParseAction(std::string_view s) {
  for (const EventAction a :
       {EventAction::kTrigger, EventAction::kAcknowledge, EventAction::kResolve}) {
    if (Name(a) == s) return a;
  }
  return std::nullopt;
}

// A random (version 4) UUID, lower-case 8-4-4-4-12, as PagerDuty returns for a keyless trigger.
std::string NewUuid() {
  // sodium_init only fails without an entropy source, where randombytes_buf aborts anyway.
  static const int sodium_ready [[maybe_unused]] = ::sodium_init();
  unsigned char b[16];
  ::randombytes_buf(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0F]);
  }
  return out;
}

bool StartsWithHttps(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  return url.size() >= kScheme.size() && EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme);
}

// images[]: {src (required, https), href?, alt?}, kept as exactly those fields.
void ReadImages(ObjectReader& r, JsonArray& out) {
  const JsonValue* v = r.Find("images");
  if (v == nullptr) return;
  if (!v->is_array()) {
    r.Error("images", "must be an array");
    return;
  }
  const JsonArray& items = v->get_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string path = decode_internal::IndexPath("images", i);
    if (!items[i].is_object()) {
      r.errors().push_back(FieldError{path, "must be an object"});
      continue;
    }
    ObjectReader item(items[i].get_object(), path, r.errors());
    const std::string_view src = item.RequiredString("src").value_or(std::string_view());
    const bool https = StartsWithHttps(src);
    if (!src.empty() && !https) item.Error("src", "must start with https://");
    const auto href = item.String("href");
    const auto alt = item.String("alt");
    if (!https) continue;
    JsonObject image;
    image["src"] = src;
    if (href) image["href"] = *href;
    if (alt) image["alt"] = *alt;
    out.push_back(std::move(image));
  }
}

void ReadTimestamp(ObjectReader& r, Time& out) {
  const auto text = r.String("timestamp");
  if (!text) return;
  if (auto t = decode_internal::ParseIsoTimestamp(*text)) {
    if (!t->UnixNanosChecked()) {
      r.Error("timestamp", std::string(Time::kNanosRange));
      return;
    }
    out = *t;
  } else {
    r.Error("timestamp",
            "must be an ISO 8601 timestamp with a zone, e.g. 2015-07-17T08:42:58.315+0000");
  }
}

void ReadRoutingKey(ObjectReader& r, std::string& out) {
  if (auto key = r.RequiredString("routing_key")) {
    if (decode_internal::CountChars(*key) > kMaxRoutingKey) {
      r.Error("routing_key", "must be at most " + std::to_string(kMaxRoutingKey) + " characters");
    } else {
      out = std::string(*key);
    }
  }
}

// payload.* of a trigger.
void ReadTriggerPayload(ObjectReader& p, const DecodeLimits& limits, Event& e) {
  if (auto summary = p.RequiredString("summary")) {
    if (decode_internal::CountChars(*summary) > limits.max_summary) {
      p.Error("summary", "must be at most " + std::to_string(limits.max_summary) + " characters");
    } else {
      e.summary = std::string(*summary);
    }
  }
  if (auto source = p.RequiredString("source")) e.source = std::string(*source);
  if (p.Find("severity") == nullptr) {
    p.Error("severity", "is required");
  } else if (auto severity = p.String("severity")) {
    if (auto s = ParseSeverity(*severity)) {
      e.severity = *s;
    } else {
      p.Error("severity", "must be one of critical, error, warning, info");
    }
  }
  ReadTimestamp(p, e.timestamp);
  if (auto s = p.String("component")) e.component = std::string(*s);
  if (auto s = p.String("group")) e.group = std::string(*s);
  if (auto s = p.String("class")) e.class_name = std::string(*s);
  e.custom_details = decode_internal::ReadCustomDetails(p);
}

}  // namespace

Decoded<Event> DecodePagerDutyEvent(std::string_view body, const DecodeLimits& limits) {
  auto parsed = decode_internal::ParseBody(body, limits);
  if (!parsed) return Refuse(std::move(parsed.error()));
  return DecodePagerDutyEvent(*parsed, limits);
}

Decoded<Event> DecodePagerDutyEvent(const JsonValue& value, const DecodeLimits& limits) {
  if (!value.is_object()) return Refuse("", "must be a JSON object");
  FieldErrors errors;
  ObjectReader top(value.get_object(), "", errors);
  Event e;
  e.origin = "events_v2";

  ReadRoutingKey(top, e.routing_key);

  std::optional<EventAction> action;
  if (top.Find("event_action") == nullptr) {
    top.Error("event_action", "is required");
  } else if (auto text = top.String("event_action")) {
    action = ParseAction(*text);
    if (!action) top.Error("event_action", "must be one of trigger, acknowledge, resolve");
  }
  if (action) e.action = *action;

  // Not trimmed: PagerDuty matches dedup keys byte for byte. An empty key is no key.
  const bool has_dedup_key = top.Find("dedup_key") != nullptr;
  const auto dedup_key = top.BoundedString("dedup_key", limits.max_dedup_key);
  if (dedup_key) e.dedup_key = std::string(*dedup_key);
  const bool bad_dedup_key = has_dedup_key && !dedup_key;  // already reported
  if (action && *action != EventAction::kTrigger && e.dedup_key.empty() && !bad_dedup_key) {
    top.Error("dedup_key", "is required for acknowledge and resolve");
  }

  // The payload is validated for triggers only: PagerDuty ignores it on acknowledge and
  // resolve, and Alertmanager sends its templated payload with every resolve.
  const JsonValue* payload = top.Find("payload");
  if (payload != nullptr && !payload->is_object()) {
    top.Error("payload", "must be an object");
  } else if (action == EventAction::kTrigger) {
    if (payload == nullptr) {
      top.Error("payload", "is required for trigger");
    } else {
      ObjectReader p(payload->get_object(), "payload", errors);
      ReadTriggerPayload(p, limits, e);
    }
  }

  ReadImages(top, e.images);
  decode_internal::ReadLinks(top, e.links);
  if (auto s = top.String("client")) e.client = std::string(*s);
  if (auto s = top.String("client_url")) e.client_url = std::string(*s);

  if (!errors.empty()) return Refuse(std::move(errors));
  if (e.dedup_key.empty()) {
    e.dedup_key = NewUuid();
    e.dedup_key_generated = true;
  }
  return e;
}

Decoded<std::vector<Decoded<Event>>> DecodePagerDutyBatch(std::string_view body,
                                                          const DecodeLimits& limits) {
  auto parsed = decode_internal::ParseBody(body, limits, /*extra_depth=*/1);
  if (!parsed) return Refuse(std::move(parsed.error()));
  if (!parsed->is_array()) return Refuse("", "must be a JSON array");
  const JsonArray& items = parsed->get_array();
  if (items.size() > limits.max_batch_events) {
    return Refuse("", "batch has " + std::to_string(items.size()) + " events; at most " +
                          std::to_string(limits.max_batch_events) + " are allowed");
  }
  std::vector<Decoded<Event>> out;
  out.reserve(items.size());
  for (const JsonValue& item : items) out.push_back(DecodePagerDutyEvent(item, limits));
  return out;
}

Decoded<ChangeEvent> DecodePagerDutyChange(std::string_view body, const DecodeLimits& limits) {
  auto parsed = decode_internal::ParseBody(body, limits);
  if (!parsed) return Refuse(std::move(parsed.error()));
  if (!parsed->is_object()) return Refuse("", "must be a JSON object");
  FieldErrors errors;
  ObjectReader top(parsed->get_object(), "", errors);
  ChangeEvent c;
  ReadRoutingKey(top, c.routing_key);
  const JsonValue* payload = top.Find("payload");
  if (payload == nullptr) {
    top.Error("payload", "is required");
  } else if (!payload->is_object()) {
    top.Error("payload", "must be an object");
  } else {
    ObjectReader p(payload->get_object(), "payload", errors);
    if (auto summary = p.RequiredString("summary")) {
      if (decode_internal::CountChars(*summary) > limits.max_summary) {
        p.Error("summary", "must be at most " + std::to_string(limits.max_summary) + " characters");
      } else {
        c.summary = std::string(*summary);
      }
    }
    if (auto s = p.String("source")) c.source = std::string(*s);
    ReadTimestamp(p, c.timestamp);
    c.custom_details = decode_internal::ReadCustomDetails(p);
  }
  decode_internal::ReadLinks(top, c.links);
  if (!errors.empty()) return Refuse(std::move(errors));
  return c;
}

}  // namespace opsorch::engine
