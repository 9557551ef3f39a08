// Alertmanager webhook payload (version 4, incident-engine-reference §12) → one engine event per
// alert. Alertmanager sends whole groups, firing and resolved alerts together, so each alert
// keeps its own identity (fingerprint) as the dedup key.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <openssl/evp.h>

#include <opsorch/common/strings.h>
#include <opsorch/engine/decode.h>

#include "engine/decode_util.h"

namespace opsorch::engine {
namespace {

using decode_internal::FieldErrors;
using decode_internal::ObjectReader;
using decode_internal::Refuse;

// Fields of the notification shared by all its alerts; they go into every custom_details.
struct Group {
  std::string group_key;
  std::string receiver;
  std::string external_url;
};

// A string → string map (labels, annotations): the object as received, for custom_details, and
// sorted, for the hash and the lookups.
struct StringMapField {
  JsonObject raw;
  std::map<std::string, std::string, std::less<>> sorted;

  std::string_view Get(std::string_view key) const {
    const auto it = sorted.find(key);
    return it == sorted.end() ? std::string_view() : std::string_view(it->second);
  }
};

StringMapField ReadStringMap(ObjectReader& r, std::string_view key) {
  StringMapField out;
  const JsonValue* v = r.Find(key);
  if (v == nullptr) return out;
  if (!v->is_object()) {
    r.Error(key, "must be an object");
    return out;
  }
  const std::string path = r.Path(key);
  for (const auto& kv : v->get_object()) {
    const std::string_view name(kv.key().data(), kv.key().size());
    if (!kv.value().is_string()) {
      r.errors().push_back(FieldError{path + "." + std::string(name), "must be a string"});
      continue;
    }
    if (decode_internal::View(kv.value().get_string()).find('\0') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
      r.errors().push_back(
          FieldError{path + "." + std::string(name), "must not contain NUL characters"});
      continue;
    }
    out.sorted.insert_or_assign(std::string(name),
                                std::string(decode_internal::View(kv.value().get_string())));
  }
  out.raw = v->get_object();
  return out;
}

// The identity Alertmanager would give the alert when a sender left out the fingerprint: the
// labels sorted by name, each name and value followed by 0xFF (the separator of Prometheus'
// own label hashing; it never occurs in UTF-8, so the encoding is unambiguous), SHA-256, first
// 16 hex digits (the length of a fingerprint).
std::string LabelHash(const std::map<std::string, std::string, std::less<>>& labels) {
  std::string data;
  for (const auto& [name, value] : labels) {
    data += name;
    data += '\xff';
    data += value;
    data += '\xff';
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  ::EVP_Digest(data.data(), data.size(), md, &md_len, ::EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < 8 && i < md_len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0x0F]);
  }
  return out;
}

// labels.severity: critical|page → critical, error, warning, info; anything else, or none,
// → warning. Case-insensitive: rule files write "Critical" as often as "critical".
Severity MapSeverity(std::string_view label) {
  const std::string s = ToLower(label);
  if (s == "critical" || s == "page") return Severity::kCritical;
  if (s == "error") return Severity::kError;
  if (s == "info") return Severity::kInfo;
  return Severity::kWarning;
}

// The rejected version, short enough for a message.
std::string DescribeVersion(const JsonValue* v) {
  if (v == nullptr) return "(none)";
  std::string text = boost::json::serialize(*v);
  constexpr std::size_t kMaxChars = 32;
  return decode_internal::TruncateChars(text, kMaxChars);
}

// An RFC 3339 time field: the text as received (for custom_details) and its value.
void ReadTime(ObjectReader& r, std::string_view key, std::string& text, Time& value) {
  const auto s = r.String(key);
  if (!s) return;
  if (auto t = ParseRfc3339(*s)) {
    // Alertmanager's zero time (0001-01-01) means "not set".
    if (!t->IsZero() && !t->UnixNanosChecked()) {
      r.Error(key, std::string(Time::kNanosRange));
      return;
    }
    text = std::string(*s);
    value = *t;
  } else {
    r.Error(key, "must be an RFC 3339 timestamp");
  }
}

std::optional<Event> DecodeAlert(const JsonValue& value, const std::string& path,
                                 const Group& group, std::string_view integration_key,
                                 const DecodeLimits& limits, FieldErrors& errors) {
  if (!value.is_object()) {
    errors.push_back(FieldError{path, "must be an object"});
    return std::nullopt;
  }
  const std::size_t errors_before = errors.size();
  ObjectReader r(value.get_object(), path, errors);
  Event e;
  e.origin = "alertmanager";
  e.routing_key = std::string(integration_key);

  if (r.Find("status") == nullptr) {
    r.Error("status", "is required");
  } else if (auto status = r.String("status")) {
    if (*status == "firing") {
      e.action = EventAction::kTrigger;
    } else if (*status == "resolved") {
      e.action = EventAction::kResolve;
    } else {
      r.Error("status", "must be \"firing\" or \"resolved\"");
    }
  }
  const StringMapField labels = ReadStringMap(r, "labels");
  const StringMapField annotations = ReadStringMap(r, "annotations");
  std::string starts_at_text, ends_at_text;
  Time starts_at, ends_at;
  ReadTime(r, "startsAt", starts_at_text, starts_at);
  ReadTime(r, "endsAt", ends_at_text, ends_at);
  const auto generator_url = r.String("generatorURL").value_or(std::string_view());
  const auto fingerprint =
      r.BoundedString("fingerprint", limits.max_dedup_key).value_or(std::string_view());
  if (errors.size() != errors_before) return std::nullopt;

  e.dedup_key = fingerprint.empty() ? LabelHash(labels.sorted) : std::string(fingerprint);
  e.labels.assign(labels.sorted.begin(), labels.sorted.end());  // what silences match

  std::string_view summary = annotations.Get("summary");
  if (summary.empty()) summary = annotations.Get("description");
  if (summary.empty()) summary = labels.Get("alertname");
  // Prometheus always sets alertname; other senders of this format may not, and the rules
  // expect every event to say something.
  e.summary = summary.empty() ? "Alertmanager alert " + e.dedup_key
                              : decode_internal::TruncateChars(summary, limits.max_summary);

  std::string_view source = labels.Get("instance");
  if (source.empty()) source = labels.Get("job");
  e.source = source.empty() ? "alertmanager" : std::string(source);
  e.severity = MapSeverity(labels.Get("severity"));
  e.timestamp = e.action == EventAction::kResolve ? ends_at : starts_at;

  e.custom_details["labels"] = labels.raw;
  e.custom_details["annotations"] = annotations.raw;
  e.custom_details["startsAt"] = starts_at_text;
  e.custom_details["endsAt"] = ends_at_text;
  e.custom_details["generatorURL"] = generator_url;
  e.custom_details["groupKey"] = group.group_key;
  e.custom_details["receiver"] = group.receiver;
  e.custom_details["externalURL"] = group.external_url;
  if (!generator_url.empty()) {
    JsonObject link;
    link["href"] = generator_url;
    link["text"] = "Source";
    e.links.push_back(std::move(link));
  }
  return e;
}

}  // namespace

Decoded<std::vector<Event>> DecodeAlertmanager(std::string_view body,
                                               std::string_view integration_key,
                                               const DecodeLimits& limits) {
  DecodeLimits webhook = limits;
  webhook.max_body_bytes = limits.max_webhook_body_bytes;
  auto parsed = decode_internal::ParseBody(body, webhook);
  if (!parsed) return Refuse(std::move(parsed.error()));
  if (!parsed->is_object()) return Refuse("", "must be a JSON object");
  FieldErrors errors;
  ObjectReader top(parsed->get_object(), "", errors);

  // Another version has another shape: checking its fields against version 4 would only add
  // noise to the one error that matters.
  const JsonValue* version = top.Find("version");
  if (version == nullptr || !version->is_string() || version->get_string() != "4") {
    return Refuse("version", "must be \"4\" (got " + DescribeVersion(version) + ")");
  }

  Group group;
  if (auto s = top.String("groupKey")) group.group_key = std::string(*s);
  if (auto s = top.String("receiver")) group.receiver = std::string(*s);
  if (auto s = top.String("externalURL")) group.external_url = std::string(*s);

  std::vector<Event> events;
  const JsonValue* alerts = top.Find("alerts");
  if (alerts == nullptr) {
    top.Error("alerts", "is required");
  } else if (!alerts->is_array()) {
    top.Error("alerts", "must be an array");
  } else {
    const JsonArray& items = alerts->get_array();
    events.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      auto e = DecodeAlert(items[i], decode_internal::IndexPath("alerts", i), group,
                           integration_key, limits, errors);
      if (e) events.push_back(std::move(*e));
    }
  }
  if (!errors.empty()) return Refuse(std::move(errors));
  return events;
}

}  // namespace opsorch::engine

namespace opsorch::engine {
namespace {

// Alertmanager 0.25 (prometheus/common model.LabelName.IsValid): [a-zA-Z_][a-zA-Z0-9_]*.
bool ValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

constexpr std::size_t kMaxPushAlerts = 10'000;

// A push's labels or annotations: the pairs sorted by name (for the fingerprint, the digest and
// silences), checked as strings without NUL. The object itself is moved into custom_details
// afterwards, not copied (a push is mostly these maps, and every alert of every push is read).
using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs ReadPairs(ObjectReader& r, std::string_view key) {
  Pairs out;
  const JsonValue* v = r.Find(key);
  if (v == nullptr) return out;
  if (!v->is_object()) {
    r.Error(key, "must be an object");
    return out;
  }
  out.reserve(v->get_object().size());
  for (const auto& kv : v->get_object()) {
    const std::string_view name(kv.key().data(), kv.key().size());
    if (!kv.value().is_string()) {
      r.errors().push_back(FieldError{r.Path(key) + "." + std::string(name), "must be a string"});
      continue;
    }
    const std::string_view value = decode_internal::View(kv.value().get_string());
    if (value.find('\0') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
      r.errors().push_back(
          FieldError{r.Path(key) + "." + std::string(name), "must not contain NUL characters"});
      continue;
    }
    out.emplace_back(std::string(name), std::string(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string_view Get(const Pairs& pairs, std::string_view name) {
  for (const auto& [k, v] : pairs) {
    if (k == name) return v;
  }
  return {};
}

JsonObject Take(JsonObject& o, std::string_view key) {
  JsonValue* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? std::move(v->get_object()) : JsonObject();
}

// The hot path of a push: an alert that is plainly valid and, by `active`, already fires with
// the same annotations becomes a refresh-only event without copying a single string (a push of
// firing alerts is almost all such). Anything unusual returns nullopt and takes the full path,
// which also words the errors.
using View = std::pair<std::string_view, std::string_view>;

bool ViewPairs(const JsonValue* v, std::vector<View>& out, bool drop_empty) {
  out.clear();
  if (v == nullptr) return true;
  if (!v->is_object()) return false;
  for (const auto& kv : v->get_object()) {
    if (!kv.value().is_string()) return false;
    const std::string_view name(kv.key().data(), kv.key().size());
    const std::string_view value = decode_internal::View(kv.value().get_string());
    if (name.find('\0') != std::string_view::npos || value.find('\0') != std::string_view::npos ||
        !ValidLabelName(name)) {
      return false;
    }
    if (drop_empty && value.empty()) continue;
    out.emplace_back(name, value);
  }
  std::sort(out.begin(), out.end());
  return true;
}

std::uint64_t Fnv(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::optional<Event> TryRefresh(const JsonValue& value, std::int64_t now,
                                std::int64_t resolve_timeout_ns, const ActiveFn& active,
                                std::vector<View>& labels, std::vector<View>& annotations) {
  if (!value.is_object()) return std::nullopt;
  const JsonObject& o = value.get_object();
  if (!ViewPairs(o.if_contains("labels"), labels, true) || labels.empty()) return std::nullopt;
  if (!ViewPairs(o.if_contains("annotations"), annotations, false)) return std::nullopt;
  auto time_of = [&o](std::string_view key, std::optional<std::int64_t>& out) {
    const JsonValue* v = o.if_contains(key);
    if (v == nullptr) return true;
    if (!v->is_string()) return false;
    auto t = ParseRfc3339(decode_internal::View(v->get_string()));
    if (!t || (!t->IsZero() && !t->UnixNanosChecked())) return false;
    if (!t->IsZero()) out = t->UnixNanos();
    return true;
  };
  std::optional<std::int64_t> starts_given, ends_given;
  if (!time_of("startsAt", starts_given) || !time_of("endsAt", ends_given)) return std::nullopt;
  std::string_view generator_url;
  if (const JsonValue* g = o.if_contains("generatorURL"); g != nullptr) {
    if (!g->is_string()) return std::nullopt;
    generator_url = decode_internal::View(g->get_string());
  }
  const std::int64_t ends = ends_given.value_or(now + resolve_timeout_ns);
  const std::int64_t starts = starts_given ? *starts_given : (ends_given ? *ends_given : now);
  if (ends < starts || ends <= now) return std::nullopt;  // invalid, or a resolve
  // The same fingerprint and digest as the full path (AlertmanagerFingerprint, DecodePushed).
  std::uint64_t f = 14695981039346656037ULL;
  for (const auto& [k, v] : labels) {
    f = Fnv(Fnv(Fnv(Fnv(f, k), "\xff"), v), "\xff");
  }
  std::uint64_t h = 14695981039346656037ULL;
  auto add = [&h](std::string_view s) {
    h = Fnv(h, s);
    h ^= 0xFF;
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : annotations) {
    add(k);
    add(v);
  }
  add(generator_url);
  add(starts_given ? std::to_string(starts) : std::string());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string fingerprint(16, '0');
  for (int i = 15; i >= 0; --i) {
    fingerprint[static_cast<std::size_t>(i)] = kHex[f & 0xF];
    f >>= 4;
  }
  const auto digest = static_cast<std::int64_t>(h);
  if (!active(fingerprint, digest)) return std::nullopt;
  Event e;
  e.origin = "alertmanager_api";
  e.push = true;
  e.refresh_only = true;
  e.action = EventAction::kTrigger;
  e.dedup_key = std::move(fingerprint);
  e.digest = digest;
  e.starts_at = starts;
  e.ends_at = ends;
  return e;
}

std::optional<Event> DecodePushed(JsonValue& value, const std::string& path,
                                  std::string_view integration_key, std::int64_t now,
                                  std::int64_t resolve_timeout_ns, const DecodeLimits& limits,
                                  FieldErrors& errors) {
  if (!value.is_object()) {
    errors.push_back(FieldError{path, "must be an object"});
    return std::nullopt;
  }
  const std::size_t errors_before = errors.size();
  ObjectReader r(value.get_object(), path, errors);
  if (r.Find("labels") == nullptr) r.Error("labels", "is required");
  Pairs labels = ReadPairs(r, "labels");
  // Alertmanager drops labels with an empty value before anything else (api.go
  // removeEmptyLabels): they are not part of the alert's identity.
  std::erase_if(labels, [](const auto& l) { return l.second.empty(); });
  const Pairs annotations = ReadPairs(r, "annotations");
  std::string starts_at_text, ends_at_text;
  Time starts_at, ends_at;
  ReadTime(r, "startsAt", starts_at_text, starts_at);
  ReadTime(r, "endsAt", ends_at_text, ends_at);
  const std::string generator_url(r.String("generatorURL").value_or(std::string_view()));
  if (errors.size() != errors_before) return std::nullopt;
  // Alertmanager's Alert.Validate, after its defaults.
  if (labels.empty()) {
    r.Error("labels", "must have at least one label pair");
    return std::nullopt;
  }
  for (const auto& [name, v] : labels) {
    if (!ValidLabelName(name)) {
      errors.push_back(FieldError{r.Path("labels") + "." + name,
                                  "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"});
    }
  }
  for (const auto& [name, v] : annotations) {
    if (!ValidLabelName(name)) {
      errors.push_back(FieldError{r.Path("annotations") + "." + name,
                                  "is not a valid annotation name ([a-zA-Z_][a-zA-Z0-9_]*)"});
    }
  }
  if (errors.size() != errors_before) return std::nullopt;
  // Go's zero time (or none) is "not set"; the Unix epoch is a time like any other.
  const bool has_ends = !ends_at.IsZero();
  const std::int64_t ends = has_ends ? ends_at.UnixNanos() : now + resolve_timeout_ns;
  const std::int64_t starts =
      !starts_at.IsZero() ? starts_at.UnixNanos() : (has_ends ? ends_at.UnixNanos() : now);
  if (ends < starts) {
    r.Error("endsAt", "must not be before startsAt");
    return std::nullopt;
  }

  Event e;
  e.origin = "alertmanager_api";
  e.push = true;
  e.routing_key = std::string(integration_key);
  e.dedup_key = AlertmanagerFingerprint(labels);
  e.starts_at = starts;
  e.ends_at = ends;
  e.action = ends <= now ? EventAction::kResolve : EventAction::kTrigger;
  std::string_view summary = Get(annotations, "summary");
  if (summary.empty()) summary = Get(annotations, "description");
  if (summary.empty()) summary = Get(labels, "alertname");
  e.summary = summary.empty() ? "Alertmanager alert " + e.dedup_key
                              : decode_internal::TruncateChars(summary, limits.max_summary);
  std::string_view source = Get(labels, "instance");
  if (source.empty()) source = Get(labels, "job");
  e.source = source.empty() ? "alertmanager" : std::string(source);
  e.severity = MapSeverity(Get(labels, "severity"));
  e.timestamp = Time::FromUnixNanos(e.action == EventAction::kResolve ? ends : starts);
  // FNV-1a 64 over the sorted annotations, the generator URL and the start, separated by 0xFF.
  std::uint64_t h = 14695981039346656037ULL;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xFF;
    h *= 1099511628211ULL;
  };
  for (const auto& [k, v] : annotations) {
    add(k);
    add(v);
  }
  add(generator_url);
  // The start as sent: one left out (and so "now") must not make every refresh look changed.
  add(starts_at.IsZero() ? std::string() : std::to_string(starts));
  e.digest = static_cast<std::int64_t>(h);
  e.labels = std::move(labels);
  JsonObject& o = value.get_object();
  e.custom_details.reserve(3);
  e.custom_details["labels"] = Take(o, "labels");
  e.custom_details["annotations"] = Take(o, "annotations");
  if (!generator_url.empty()) {
    JsonObject link;
    link["href"] = generator_url;
    link["text"] = "Source";
    e.links.push_back(std::move(link));
  }
  e.custom_details["generatorURL"] = generator_url;
  return e;
}

}  // namespace

std::string AlertmanagerFingerprint(
    const std::vector<std::pair<std::string, std::string>>& labels) {
  // Sorted by name: callers pass decoded labels (sorted); sort a copy of anything else.
  std::vector<const std::pair<std::string, std::string>*> order;
  order.reserve(labels.size());
  for (const auto& l : labels) order.push_back(&l);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  for (const auto* l : order) {
    add(l->first);
    add("\xff");
    add(l->second);
    add("\xff");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[h & 0xF];
    h >>= 4;
  }
  return out;
}

Decoded<PushDecoded> DecodeAlertmanagerPush(std::string_view body, std::string_view integration_key,
                                            std::int64_t now, std::int64_t resolve_timeout_ns,
                                            const DecodeLimits& limits, const ActiveFn* active) {
  DecodeLimits push = limits;
  push.max_body_bytes = limits.max_webhook_body_bytes;
  auto parsed = decode_internal::ParseBody(body, push);
  if (!parsed) return Refuse(std::move(parsed.error()));
  if (!parsed->is_array()) return Refuse("", "must be a JSON array of alerts");
  JsonArray& items = parsed->get_array();
  if (items.size() > kMaxPushAlerts) {
    return Refuse("", "must hold at most " + std::to_string(kMaxPushAlerts) + " alerts (got " +
                          std::to_string(items.size()) + ")");
  }
  PushDecoded out;
  out.events.reserve(items.size());
  std::vector<View> labels, annotations;  // reused by every alert's hot path
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (active != nullptr && *active) {
      if (auto e = TryRefresh(items[i], now, resolve_timeout_ns, *active, labels, annotations)) {
        e->routing_key = std::string(integration_key);
        out.events.push_back(std::move(*e));
        continue;
      }
    }
    auto e = DecodePushed(items[i], decode_internal::IndexPath("", i), integration_key, now,
                          resolve_timeout_ns, limits, out.errors);
    if (e) out.events.push_back(std::move(*e));
  }
  return out;
}

}  // namespace opsorch::engine
