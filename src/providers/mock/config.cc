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
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Fail(BadRequest(label_ + ": unknown config key \"" + std::string(kv.key()) +
                             "\" (known keys: " + list + ")"));
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
  if (!t->UnixNanosChecked()) {
    return Fail(BadRequest(label_ + ": config \"" + std::string(key) +
                           "\" " + std::string(Time::kNanosRange)));
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

Result<std::optional<Time>> ReadCommonConfig(const ConfigReader& reader,
                                             std::initializer_list<std::string_view> allowed) {
  if (auto ok = reader.CheckKnownKeys(allowed); !ok) return Fail(std::move(ok.error()));
  return reader.Timestamp(kNowKey);
}

}  // namespace opsorch::providers::mock
