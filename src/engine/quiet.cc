#include "engine/quiet.h"

#include <algorithm>
#include <chrono>

#include <opsorch/common/error.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>

namespace opsorch::engine {
namespace {

constexpr std::int64_t kNs = 1'000'000'000;
// How far ahead a mute interval's end is looked for: one that never ends within it is treated
// as ending then (the resume job looks again).
constexpr std::int64_t kMuteHorizonNs = 7LL * 24 * 3600 * kNs;

std::string Rfc3339(std::int64_t ns) { return FormatRfc3339Nano(Time::FromUnixNanos(ns)); }

Result<std::int64_t> TimeField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Fail(errc::kBadRequest, std::string(key) + ": is required (an RFC 3339 time)");
  }
  auto t = ParseRfc3339(std::string_view(v->get_string()));
  if (!t || !t->UnixNanosChecked()) {
    return Fail(errc::kBadRequest, std::string(key) + ": must be an RFC 3339 time");
  }
  return t->UnixNanos();
}

}  // namespace

void QuietSnapshot::SilencedBy(std::string_view service, const silence::Labels& labels,
                               std::int64_t now, std::vector<std::string>& ids) const {
  ids.clear();
  if (index.size() == 0) return;
  index.Match(service, labels, now, ids);
}

const silence::Silence* QuietSnapshot::FindSilence(std::string_view id) const {
  for (const auto& s : silences) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::int64_t QuietSnapshot::EarliestEnd(const std::vector<std::string>& ids) const {
  std::int64_t end = INT64_MAX;
  for (const auto& id : ids) {
    if (const auto* s = FindSilence(id); s != nullptr) end = std::min(end, s->ends_at);
  }
  return end == INT64_MAX ? 0 : end;
}

std::optional<Pause> PausedAt(const QuietSnapshot& q, std::string_view service, std::int64_t now) {
  std::optional<Pause> best;
  for (const auto& w : q.windows) {
    if (now < w.start || now >= w.end) continue;
    if (std::find(w.services.begin(), w.services.end(), service) == w.services.end()) continue;
    if (!best || w.end > best->until) best = Pause{"maintenance", w.id, w.end};
  }
  if (best) return best;
  const auto it = q.services.find(std::string(service));
  if (it == q.services.end()) return std::nullopt;
  for (const auto& name : it->second.mute_intervals) {
    const auto iv = q.intervals.find(name);
    if (iv == q.intervals.end() || !silence::Contains(iv->second, now)) continue;
    const std::int64_t until = silence::NextNotContained(iv->second, now, now + kMuteHorizonNs);
    if (!best || until > best->until) best = Pause{"mute_interval", name, until};
  }
  return best;
}

JsonObject SilenceToDoc(const silence::Silence& s) {
  JsonArray matchers;
  for (const auto& m : s.matchers) {
    matchers.push_back(JsonObject{
        {"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
  }
  return JsonObject{
      {"matchers", std::move(matchers)}, {"startsAt", s.starts_at},   {"endsAt", s.ends_at},
      {"updatedAt", s.updated_at},       {"createdBy", s.created_by}, {"comment", s.comment}};
}

Result<silence::Silence> SilenceFromDoc(const CatalogDoc& doc) {
  silence::Silence s;
  s.id = doc.id;
  s.scope = doc.parent;
  const JsonValue* ms = doc.body.if_contains("matchers");
  if (ms == nullptr || !ms->is_array()) {
    return Fail(errc::kInternal, "silence " + doc.id + ": stored without matchers");
  }
  for (const auto& v : ms->get_array()) {
    if (!v.is_object()) continue;
    const auto& o = v.get_object();
    silence::Matcher m;
    m.name = StringField(o, "name");
    m.value = StringField(o, "value");
    m.is_regex = BoolField(o, "isRegex");
    const JsonValue* e = o.if_contains("isEqual");
    m.is_equal = e == nullptr || !e->is_bool() || e->get_bool();
    s.matchers.push_back(std::move(m));
  }
  s.starts_at = IntField(doc.body, "startsAt");
  s.ends_at = IntField(doc.body, "endsAt");
  s.updated_at = IntField(doc.body, "updatedAt");
  s.created_by = StringField(doc.body, "createdBy");
  s.comment = StringField(doc.body, "comment");
  return s;
}

JsonObject WindowToJson(const MaintenanceWindow& w) {
  JsonArray services;
  for (const auto& s : w.services) services.emplace_back(s);
  return JsonObject{{"id", w.id},
                    {"startTime", Rfc3339(w.start)},
                    {"endTime", Rfc3339(w.end)},
                    {"description", w.description},
                    {"services", std::move(services)},
                    {"createdBy", w.created_by},
                    {"updatedAt", Rfc3339(w.updated_at)}};
}

Result<MaintenanceWindow> WindowFromJson(const JsonObject& body) {
  MaintenanceWindow w;
  w.id = StringField(body, "id");
  auto start = TimeField(body, "startTime");
  if (!start) return Fail(std::move(start.error()));
  auto end = TimeField(body, "endTime");
  if (!end) return Fail(std::move(end.error()));
  w.start = *start;
  w.end = *end;
  w.description = StringField(body, "description");
  w.created_by = StringField(body, "createdBy");
  if (const JsonValue* u = body.if_contains("updatedAt"); u != nullptr && u->is_string()) {
    if (auto t = ParseRfc3339(std::string_view(u->get_string()))) w.updated_at = t->UnixNanos();
  }
  if (const JsonValue* s = body.if_contains("services"); s != nullptr && s->is_array()) {
    for (const auto& v : s->get_array()) {
      if (v.is_string()) w.services.emplace_back(v.get_string());
    }
  }
  return w;
}

JsonObject HeartbeatToJson(const Heartbeat& h) {
  return JsonObject{{"id", h.id},
                    {"name", h.name},
                    {"service", h.service_id},
                    {"intervalSeconds", h.interval_s},
                    {"graceSeconds", h.grace_s},
                    {"severity", h.severity},
                    {"keyHash", h.key_hash},
                    {"keyPrefix", h.key_prefix},
                    {"updatedAt", h.updated_at}};
}

Result<Heartbeat> HeartbeatFromJson(const JsonObject& body) {
  Heartbeat h;
  h.id = StringField(body, "id");
  h.name = StringField(body, "name");
  h.service_id = StringField(body, "service");
  h.interval_s = IntField(body, "intervalSeconds");
  h.grace_s = IntField(body, "graceSeconds");
  h.severity = StringField(body, "severity");
  if (h.severity.empty()) h.severity = "critical";
  h.key_hash = StringField(body, "keyHash");
  h.key_prefix = StringField(body, "keyPrefix");
  h.updated_at = IntField(body, "updatedAt");
  if (h.id.empty() || h.service_id.empty() || h.interval_s <= 0) {
    return Fail(errc::kInternal, "heartbeat " + h.id + ": stored incomplete");
  }
  return h;
}

std::shared_ptr<const QuietSnapshot> Quiet::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Status Quiet::Reload() {
  // One at a time: a reload that read the store before another's change cannot replace the
  // snapshot of a reload that read it after.
  std::lock_guard serial(reload_mu_);
  auto version = store_.CatalogVersion();
  if (!version) return Fail(std::move(version.error()));
  auto next = std::make_shared<QuietSnapshot>();
  next->version = *version;

  auto silences = store_.Docs(kSilenceDoc);
  if (!silences) return Fail(std::move(silences.error()));
  std::vector<silence::Silence> live;
  for (const auto& doc : *silences) {
    auto s = SilenceFromDoc(doc);
    if (!s) {
      log::Error("quiet: " + s.error().message);
      continue;
    }
    // Expired ones stay for the API's listing; the index checks times itself.
    live.push_back(*s);
    next->silences.push_back(std::move(*s));
  }
  // Expired silences stay listed (until the routes' retention deletes them) but never mute.
  next->index = silence::SilenceIndex::Build(std::move(live), clock_());

  auto windows = store_.Docs(kMaintenanceDoc);
  if (!windows) return Fail(std::move(windows.error()));
  for (const auto& doc : *windows) {
    auto w = WindowFromJson(doc.body);
    if (!w) {
      log::Error("quiet: maintenance window " + doc.id + ": " + w.error().message);
      continue;
    }
    w->id = doc.id;
    next->windows.push_back(std::move(*w));
  }

  auto intervals = store_.Docs(kTimeIntervalDoc);
  if (!intervals) return Fail(std::move(intervals.error()));
  for (const auto& doc : *intervals) {
    auto set = silence::DecodeTimeIntervalSet(JsonValue(doc.body));
    if (!set) {
      log::Error("quiet: time interval " + doc.id + " cannot be read");
      continue;
    }
    next->intervals.emplace(doc.id, std::move(*set));
  }

  auto beats = store_.Docs(kHeartbeatDoc);
  if (!beats) return Fail(std::move(beats.error()));
  for (const auto& doc : *beats) {
    auto h = HeartbeatFromJson(doc.body);
    if (!h) {
      log::Error("quiet: " + h.error().message);
      continue;
    }
    next->heartbeats.emplace(h->id, std::move(*h));
  }

  auto services = store_.Services();
  if (!services) return Fail(std::move(services.error()));
  for (const auto& s : *services) {
    if (s.mute_intervals.empty() && s.auto_resolve_s == 0) continue;
    next->services.emplace(s.id, ServiceQuiet{s.mute_intervals, s.auto_resolve_s});
  }

  std::lock_guard lock(mu_);
  snapshot_ = std::move(next);
  return Ok();
}

void Quiet::Refresh(std::int64_t steady_now_ms) {
  {
    std::lock_guard lock(mu_);
    if (steady_now_ms < next_check_ms_) return;
    next_check_ms_ = steady_now_ms + 1000;
  }
  auto version = store_.CatalogVersion();
  bool reload = false;
  {
    std::lock_guard lock(mu_);
    reload = (version && *version != snapshot_->version) || steady_now_ms >= next_full_ms_;
    if (reload) next_full_ms_ = steady_now_ms + 5000;  // services carry no version
  }
  if (!reload) return;
  if (auto st = Reload(); !st) log::Error("quiet: reload failed: " + st.error().message);
}

}  // namespace opsorch::engine
