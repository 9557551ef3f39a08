#include "providers/mock/config.h"

#include <cmath>
#include <limits>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {

Status ConfigReader::CheckKnownKeys(std::initializer_list<std::string_view> allowed) const {
  for (const auto& kv : config_) {
    bool known = false;
    for (std::string_view a : allowed) known = known || kv.key() == a;
    if (!known) {
      return Fail(BadRequest(label_ + ": unknown config key \"" + std::string(kv.key()) + "\""));
    }
  }
  return Ok();
}

Error ConfigReader::TypeError(std::string_view key, std::string_view expected) const {
  return BadRequest(label_ + ": config \"" + std::string(key) + "\" must be " +
                    std::string(expected));
}

Result<std::optional<std::string>> ConfigReader::String(std::string_view key) const {
  const JsonValue* v = config_.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return Fail(TypeError(key, "a string"));
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<std::int64_t>> ConfigReader::Int(std::string_view key) const {
  const JsonValue* v = config_.if_contains(key);
  if (v == nullptr || v->is_null()) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->get_int64());
  if (v->is_uint64() &&
      v->get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_uint64()));
  }
  // Go clients marshal numbers as float64; accept integral values that fit.
  if (v->is_double()) {
    const double d = v->get_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e18) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
    }
  }
  return Fail(TypeError(key, "an integer"));
}

Result<std::optional<Time>> ConfigReader::Timestamp(std::string_view key) const {
  auto s = String(key);
  if (!s) return Fail(TypeError(key, "an RFC 3339 timestamp string"));
  if (!s->has_value()) return std::optional<Time>();
  auto t = ParseRfc3339(**s);
  if (!t) {
    return Fail(BadRequest(label_ + ": config \"" + std::string(key) +
                           "\" must be an RFC 3339 timestamp: " + t.error().message));
  }
  if (!FitsUnixNanos(*t)) {
    return Fail(BadRequest(label_ + ": config \"" + std::string(key) +
                           "\" must be between the years 1678 and 2262"));
  }
  // Normalise to UTC so that every time the provider derives from it formats with "Z".
  return std::optional<Time>(Time::FromUnixNanos(t->UnixNanos()));
}

Result<std::optional<std::int64_t>> ConfigReader::Duration(std::string_view key) const {
  auto s = String(key);
  if (!s) return Fail(TypeError(key, "a duration string such as \"10s\""));
  if (!s->has_value()) return std::optional<std::int64_t>();
  auto d = ParseGoDuration(**s);
  if (!d) {
    return Fail(BadRequest(
        label_ + ": config \"" + std::string(key) +
        "\" must be a duration such as \"500ms\", \"10s\" or \"1m\": " + d.error().message));
  }
  if (*d < 0) {
    return Fail(BadRequest(label_ + ": config \"" + std::string(key) + "\" must not be negative"));
  }
  return std::optional<std::int64_t>(*d);
}

Result<std::int64_t> ParseGoDuration(std::string_view s) {
  const std::string original(s);
  const auto invalid = [&]() { return Fail(BadRequest("invalid duration \"" + original + "\"")); };
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::int64_t{0};
  if (s.empty()) return invalid();
  // Accumulate in long double: exact enough for any duration that fits in int64 nanoseconds.
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      digits = true;
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        value += (s[i] - '0') * scale;
        scale /= 10;
        digits = true;
        ++i;
      }
    }
    if (!digits) return invalid();
    std::size_t j = i;
    while (j < s.size() && !(s[j] >= '0' && s[j] <= '9') && s[j] != '.') ++j;
    const std::string_view unit = s.substr(i, j - i);
    long double mult = 0;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = 1e3L;
    } else if (unit == "ms") {
      mult = 1e6L;
    } else if (unit == "s") {
      mult = 1e9L;
    } else if (unit == "m") {
      mult = 60e9L;
    } else if (unit == "h") {
      mult = 3600e9L;
    } else {
      return Fail(BadRequest(unit.empty() ? "missing unit in duration \"" + original + "\""
                                          : "unknown unit \"" + std::string(unit) +
                                                "\" in duration \"" + original + "\""));
    }
    total += value * mult;
    if (total > static_cast<long double>(std::numeric_limits<std::int64_t>::max())) {
      return Fail(BadRequest("invalid duration \"" + original + "\": out of range"));
    }
    s.remove_prefix(j);
  }
  const auto ns = static_cast<std::int64_t>(std::llround(total));
  return negative ? -ns : ns;
}

Result<std::optional<Time>> ReadCommonConfig(const ConfigReader& reader,
                                             std::initializer_list<std::string_view> allowed) {
  if (auto ok = reader.CheckKnownKeys(allowed); !ok) return Fail(std::move(ok.error()));
  return reader.Timestamp(kNowKey);
}

}  // namespace opsorch::providers::mock
