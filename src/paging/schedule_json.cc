// The schedule and override wire shapes (camelCase) with strict validation. Every problem is
// collected as "<path>: <rule>"; any problem refuses the whole body (kBadRequest, the first
// problem as the message, all of them in Error::details).
#include <algorithm>
#include <array>
#include <cstdio>

#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/paging/schedule.h>

namespace opsorch::paging {
namespace {

constexpr std::int64_t kWeekSeconds = 7 * tz::kSecondsPerDay;

class Problems {
 public:
  void Add(const std::string& path, std::string_view rule) {
    list_.push_back(path + ": " + std::string(rule));
  }
  bool empty() const { return list_.empty(); }
  std::size_t size() const { return list_.size(); }
  Error ToError() const {
    Error e(errc::kBadRequest, list_.front());
    e.details = list_;
    return e;
  }

 private:
  std::vector<std::string> list_;
};

std::string Join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

std::string Index(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::size_t Utf8Length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Reads one object's fields, reporting into `problems` under the path `where`.
struct Reader {
  const JsonObject& obj;
  std::string where;
  Problems& problems;

  std::string Path(std::string_view key) const { return Join(where, key); }
  void Bad(std::string_view key, std::string_view rule) const { problems.Add(Path(key), rule); }

  void OnlyKnown(std::initializer_list<std::string_view> known) const {
    for (const auto& kv : obj) {
      const std::string_view key(kv.key().data(), kv.key().size());
      if (std::find(known.begin(), known.end(), key) == known.end()) Bad(key, "unknown field");
    }
  }

  const JsonValue* Get(std::string_view key) const {
    const JsonValue* v = obj.if_contains(key);
    return (v == nullptr || v->is_null()) ? nullptr : v;
  }

  // nullopt when absent (reported if required) or invalid (reported).
  std::optional<std::string> Str(std::string_view key, bool required, std::size_t max_chars) const {
    const JsonValue* v = Get(key);
    if (v == nullptr) {
      if (required) Bad(key, "is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      Bad(key, "must be a string");
      return std::nullopt;
    }
    const std::string_view s(v->get_string().data(), v->get_string().size());
    if (required && s.empty()) {
      Bad(key, "must not be empty");
      return std::nullopt;
    }
    if (HasNul(s)) {
      Bad(key, "must not contain NUL characters");
      return std::nullopt;
    }
    if (Utf8Length(s) > max_chars) {
      Bad(key, "must be at most " + std::to_string(max_chars) + " characters");
      return std::nullopt;
    }
    return std::string(s);
  }

  std::optional<std::int64_t> Int(std::string_view key, bool required) const {
    const JsonValue* v = Get(key);
    if (v == nullptr) {
      if (required) Bad(key, "is required");
      return std::nullopt;
    }
    if (!v->is_int64()) {
      Bad(key, "must be an integer");
      return std::nullopt;
    }
    return v->get_int64();
  }

  std::optional<std::int64_t> TimeField(std::string_view key, bool required) const {
    const JsonValue* v = Get(key);
    if (v == nullptr) {
      if (required) Bad(key, "is required");
      return std::nullopt;
    }
    if (!v->is_string()) {
      Bad(key, "must be an RFC 3339 time string");
      return std::nullopt;
    }
    auto t = ParseRfc3339(std::string_view(v->get_string().data(), v->get_string().size()));
    if (!t) {
      Bad(key, "must be an RFC 3339 time (" + t.error().message + ")");
      return std::nullopt;
    }
    // Within the engine's nanosecond range: every time it stores, compares and writes back
    // (outside it an offset could move a year out of 0000-9999, which no encoder round-trips).
    if (!t->UnixNanosChecked()) {
      Bad(key, std::string(Time::kNanosRange));
      return std::nullopt;
    }
    return t->seconds;  // sub-second precision is meaningless for shifts and dropped
  }

  const JsonArray* Array(std::string_view key, bool required) const {
    const JsonValue* v = Get(key);
    if (v == nullptr) {
      if (required) Bad(key, "is required");
      return nullptr;
    }
    if (!v->is_array()) {
      Bad(key, "must be an array");
      return nullptr;
    }
    return &v->get_array();
  }
};

// "HH:MM:SS" → seconds of the day.
std::optional<std::int64_t> ParseTimeOfDay(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto two = [&](std::size_t i) -> int {
    if (s[i] < '0' || s[i] > '9' || s[i + 1] < '0' || s[i + 1] > '9') return -1;
    return (s[i] - '0') * 10 + (s[i + 1] - '0');
  };
  const int h = two(0), m = two(3), sec = two(6);
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return std::nullopt;
  return h * 3600 + m * 60 + sec;
}

std::string FormatTimeOfDay(std::int64_t s) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return buf;
}

// A restriction as intervals on the week circle [0, 604800), Monday 00:00 local = 0.
std::vector<std::pair<std::int64_t, std::int64_t>> WeekIntervals(const Restriction& r) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  auto add = [&](std::int64_t start) {
    const std::int64_t end = start + r.duration_s;
    if (end <= kWeekSeconds) {
      out.emplace_back(start, end);
    } else {
      out.emplace_back(start, kWeekSeconds);
      out.emplace_back(0, end - kWeekSeconds);
    }
  };
  if (r.type == Restriction::Type::kDaily) {
    for (int d = 0; d < 7; ++d) add(d * tz::kSecondsPerDay + r.start_time_of_day_s);
  } else {
    add((r.start_day_of_week - 1) * tz::kSecondsPerDay + r.start_time_of_day_s);
  }
  return out;
}

bool Overlap(const Restriction& a, const Restriction& b) {
  for (const auto& x : WeekIntervals(a)) {
    for (const auto& y : WeekIntervals(b)) {
      if (x.first < y.second && y.first < x.second) return true;
    }
  }
  return false;
}

std::optional<Restriction> DecodeRestriction(const JsonValue& v, const std::string& path,
                                             Problems& problems) {
  if (!v.is_object()) {
    problems.Add(path, "must be an object");
    return std::nullopt;
  }
  const Reader r{v.get_object(), path, problems};
  r.OnlyKnown({"type", "startTimeOfDay", "durationSeconds", "startDayOfWeek"});
  Restriction out;
  bool ok = true;
  const auto type = r.Str("type", true, 16);
  const bool type_ok = type == "daily" || type == "weekly";
  if (type == "daily") {
    out.type = Restriction::Type::kDaily;
  } else if (type == "weekly") {
    out.type = Restriction::Type::kWeekly;
  } else {
    if (type) r.Bad("type", "must be \"daily\" or \"weekly\"");
    ok = false;
  }
  if (const auto tod = r.Str("startTimeOfDay", true, 8)) {
    if (auto s = ParseTimeOfDay(*tod)) {
      out.start_time_of_day_s = *s;
    } else {
      r.Bad("startTimeOfDay", "must be a time of day \"HH:MM:SS\" (00:00:00 to 23:59:59)");
      ok = false;
    }
  } else {
    ok = false;
  }
  const auto duration = r.Int("durationSeconds", true);
  if (duration && type_ok) {
    if (out.type == Restriction::Type::kDaily && (*duration < 1 || *duration > 86400)) {
      r.Bad("durationSeconds", "must be between 1 and 86400 for a daily restriction");
      ok = false;
    } else if (out.type == Restriction::Type::kWeekly && (*duration < 1 || *duration > 604800)) {
      r.Bad("durationSeconds", "must be between 1 and 604800 for a weekly restriction");
      ok = false;
    }
    out.duration_s = *duration;
  } else {
    ok = false;
  }
  const JsonValue* dow = r.Get("startDayOfWeek");
  if (type == "daily" && dow != nullptr) {
    r.Bad("startDayOfWeek", "is only allowed for a weekly restriction");
    ok = false;
  } else if (type == "weekly") {
    if (const auto d = r.Int("startDayOfWeek", false)) {
      if (*d < 1 || *d > 7) {
        r.Bad("startDayOfWeek", "must be between 1 (Monday) and 7 (Sunday)");
        ok = false;
      }
      out.start_day_of_week = static_cast<int>(*d);
    } else {
      if (dow == nullptr) r.Bad("startDayOfWeek", "is required for a weekly restriction");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Layer> DecodeLayer(const JsonValue& v, const std::string& path, std::size_t index,
                                 const UserExists& user_exists, Problems& problems) {
  if (!v.is_object()) {
    problems.Add(path, "must be an object");
    return std::nullopt;
  }
  const std::size_t before = problems.size();
  const Reader r{v.get_object(), path, problems};
  r.OnlyKnown({"id", "name", "start", "end", "rotationVirtualStart", "rotationTurnLengthSeconds",
               "users", "restrictions"});
  Layer out;
  if (auto id = r.Str("id", false, 64)) {
    if (!ValidScheduleId(*id)) r.Bad("id", "must be 1-64 letters, digits, '.', '_' or '-'");
    out.id = *id;
  } else {
    out.id = "L" + std::to_string(index);
  }
  out.name = r.Str("name", false, kMaxNameLength).value_or("");
  const auto start = r.TimeField("start", true);
  const auto end = r.TimeField("end", false);
  const auto virtual_start = r.TimeField("rotationVirtualStart", true);
  if (start) out.start_s = *start;
  if (end) {
    out.end_s = *end;
    if (start && *end <= *start) r.Bad("end", "must be after start");
  }
  if (virtual_start) out.rotation_virtual_start_s = *virtual_start;
  if (const auto turn = r.Int("rotationTurnLengthSeconds", true)) {
    // At least an hour: a rendering's size is its range over the turn length (a year of
    // one-second turns would be 31 million entries per layer).
    if (*turn < kMinTurnLengthSeconds) {
      r.Bad("rotationTurnLengthSeconds", "must be at least 3600 (one hour)");
    } else if (*turn > kMaxTurnLengthSeconds) {
      r.Bad("rotationTurnLengthSeconds", "must be <= 31622400 (366 days)");
    }
    out.turn_length_s = *turn;
  }
  if (const JsonArray* users = r.Array("users", true)) {
    const std::string upath = r.Path("users");
    if (users->empty()) {
      r.Bad("users", "must not be empty");
    } else if (users->size() > kMaxUsersPerLayer) {
      r.Bad("users", "must have at most " + std::to_string(kMaxUsersPerLayer) + " entries");
    } else {
      for (std::size_t i = 0; i < users->size(); ++i) {
        const JsonValue& u = (*users)[i];
        if (!u.is_string() || u.get_string().empty()) {
          problems.Add(Index(upath, i), "must be a non-empty user id string");
          continue;
        }
        std::string id(u.get_string());
        if (!user_exists || !user_exists(id)) {
          problems.Add(Index(upath, i), "unknown user \"" + id + "\"");
        }
        out.users.push_back(std::move(id));
      }
    }
  }
  if (const JsonArray* rs = r.Array("restrictions", false)) {
    const std::string rpath = r.Path("restrictions");
    if (rs->size() > kMaxRestrictionsPerLayer) {
      r.Bad("restrictions",
            "must have at most " + std::to_string(kMaxRestrictionsPerLayer) + " entries");
    } else {
      std::vector<std::optional<Restriction>> decoded;
      for (std::size_t i = 0; i < rs->size(); ++i) {
        decoded.push_back(DecodeRestriction((*rs)[i], Index(rpath, i), problems));
      }
      for (std::size_t i = 0; i < decoded.size(); ++i) {
        if (!decoded[i]) continue;
        for (std::size_t j = 0; j < i; ++j) {
          if (decoded[j] && Overlap(*decoded[j], *decoded[i])) {
            problems.Add(Index(rpath, i), "overlaps restrictions[" + std::to_string(j) + "]");
            break;
          }
        }
        out.restrictions.push_back(*decoded[i]);
      }
    }
  }
  if (problems.size() != before) return std::nullopt;
  return out;
}

}  // namespace

bool ValidScheduleId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<Schedule> DecodeSchedule(const JsonValue& body, const UserExists& user_exists) {
  if (!body.is_object()) return Fail(errc::kBadRequest, "request body must be a JSON object");
  Problems problems;
  const Reader r{body.get_object(), "", problems};
  r.OnlyKnown({"id", "name", "timeZone", "description", "layers"});
  Schedule out;
  if (auto id = r.Str("id", false, 64)) {
    if (!ValidScheduleId(*id)) r.Bad("id", "must be 1-64 letters, digits, '.', '_' or '-'");
    out.id = *id;
  }
  out.name = r.Str("name", true, kMaxNameLength).value_or("");
  out.description = r.Str("description", false, kMaxDescriptionLength).value_or("");
  if (auto zone = r.Str("timeZone", true, 64)) {
    if (auto z = tz::Zone::Locate(*zone); !z) {
      r.Bad("timeZone", z.error().message);
    } else {
      out.time_zone = std::string(z->name());
    }
  }
  if (const JsonArray* layers = r.Array("layers", true)) {
    if (layers->empty()) {
      r.Bad("layers", "must have at least one layer");
    } else if (layers->size() > kMaxLayers) {
      r.Bad("layers", "must have at most " + std::to_string(kMaxLayers) + " layers");
    } else {
      for (std::size_t i = 0; i < layers->size(); ++i) {
        const std::string path = Index("layers", i);
        auto layer = DecodeLayer((*layers)[i], path, i, user_exists, problems);
        if (!layer) continue;
        for (std::size_t j = 0; j < out.layers.size(); ++j) {
          if (out.layers[j].id == layer->id) {
            problems.Add(path + ".id", "duplicate of another layer's id \"" + layer->id + "\"");
            break;
          }
        }
        out.layers.push_back(std::move(*layer));
      }
    }
  }
  if (!problems.empty()) return Fail(problems.ToError());
  return out;
}

Result<Override> DecodeOverride(const JsonValue& body, const UserExists& user_exists,
                                std::string id) {
  if (!body.is_object()) return Fail(errc::kBadRequest, "request body must be a JSON object");
  Problems problems;
  const Reader r{body.get_object(), "", problems};
  r.OnlyKnown({"start", "end", "user"});
  Override out;
  out.id = std::move(id);
  const auto start = r.TimeField("start", true);
  const auto end = r.TimeField("end", true);
  if (start && end) {
    if (*end <= *start) {
      r.Bad("end", "must be after start");
    } else if (*end - *start > kMaxOverrideSeconds) {
      r.Bad("end", "must be at most 366 days after start");
    }
    out.start_s = *start;
    out.end_s = *end;
  }
  if (auto user = r.Str("user", true, 128)) {
    if (!user_exists || !user_exists(*user)) r.Bad("user", "unknown user \"" + *user + "\"");
    out.user = std::move(*user);
  }
  if (!problems.empty()) return Fail(problems.ToError());
  return out;
}

namespace {

void AppendTime(std::string& out, std::int64_t unix_s) {
  out.push_back('"');
  AppendRfc3339Nano(out, Time::FromUnixSeconds(unix_s));
  out.push_back('"');
}

void AppendLayer(std::string& out, const Layer& l) {
  out.append("{\"id\":");
  AppendJsonString(out, l.id);
  out.append(",\"name\":");
  AppendJsonString(out, l.name);
  out.append(",\"start\":");
  AppendTime(out, l.start_s);
  out.append(",\"end\":");
  if (l.end_s == 0) {
    out.append("null");
  } else {
    AppendTime(out, l.end_s);
  }
  out.append(",\"rotationVirtualStart\":");
  AppendTime(out, l.rotation_virtual_start_s);
  out.append(",\"rotationTurnLengthSeconds\":" + std::to_string(l.turn_length_s));
  out.append(",\"users\":[");
  for (std::size_t i = 0; i < l.users.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, l.users[i]);
  }
  out.append("],\"restrictions\":[");
  for (std::size_t i = 0; i < l.restrictions.size(); ++i) {
    const Restriction& r = l.restrictions[i];
    if (i > 0) out.push_back(',');
    out.append(r.type == Restriction::Type::kDaily ? "{\"type\":\"daily\""
                                                   : "{\"type\":\"weekly\"");
    if (r.type == Restriction::Type::kWeekly) {
      out.append(",\"startDayOfWeek\":" + std::to_string(r.start_day_of_week));
    }
    out.append(",\"startTimeOfDay\":\"" + FormatTimeOfDay(r.start_time_of_day_s) + "\"");
    out.append(",\"durationSeconds\":" + std::to_string(r.duration_s) + "}");
  }
  out.append("]}");
}

}  // namespace

std::string EncodeSchedule(const Schedule& s) {
  std::string out = "{\"id\":";
  AppendJsonString(out, s.id);
  out.append(",\"name\":");
  AppendJsonString(out, s.name);
  out.append(",\"timeZone\":");
  AppendJsonString(out, s.time_zone);
  out.append(",\"description\":");
  AppendJsonString(out, s.description);
  out.append(",\"layers\":[");
  for (std::size_t i = 0; i < s.layers.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendLayer(out, s.layers[i]);
  }
  out.append("]}");
  return out;
}

std::string EncodeOverride(const Override& o) {
  std::string out = "{\"id\":";
  AppendJsonString(out, o.id);
  out.append(",\"start\":");
  AppendTime(out, o.start_s);
  out.append(",\"end\":");
  AppendTime(out, o.end_s);
  out.append(",\"user\":");
  AppendJsonString(out, o.user);
  out.push_back('}');
  return out;
}

std::string EncodeEntries(const std::vector<Entry>& entries) {
  std::string out = "[";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"user\":");
    AppendJsonString(out, entries[i].user);
    out.append(",\"start\":");
    AppendTime(out, entries[i].start_s);
    out.append(",\"end\":");
    AppendTime(out, entries[i].end_s);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

}  // namespace opsorch::paging
