// Fields of a service that the admin API and the seed file decode alike.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/field_reader.h>
#include <opsorch/common/text_rules.h>

namespace opsorch::engine {

inline constexpr std::size_t kMaxServiceRunbooks = 20;

// `runbooks`: at most 20 distinct runbook ids, in the order given; absent or null is none.
// Errors name the element ("runbooks[2]: …"); the reader's status gets the first.
inline std::vector<std::string> ReadRunbooks(const FieldReader& r) {
  std::vector<std::string> out;
  const JsonArray* ids = r.Array("runbooks");
  if (ids == nullptr) return out;
  if (ids->size() > kMaxServiceRunbooks) {
    r.Error("runbooks", "at most " + std::to_string(kMaxServiceRunbooks) + " runbooks");
    return out;
  }
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const std::string key = "runbooks[" + std::to_string(i) + "]";
    const JsonValue& v = (*ids)[i];
    if (!v.is_string() || !IsPlainName(std::string_view(v.get_string()))) {
      r.Error(key, "must be a runbook id: 1-64 characters of [A-Za-z0-9._-]");
      return {};
    }
    const std::string_view id(v.get_string());
    if (const auto dup = std::find(out.begin(), out.end(), id); dup != out.end()) {
      r.Error(key, "\"" + std::string(id) + "\" is already runbooks[" +
                       std::to_string(dup - out.begin()) + "]");
      return {};
    }
    out.emplace_back(id);
  }
  return out;
}

}  // namespace opsorch::engine
