#include "plugin/redactor.h"

#include <algorithm>

namespace opsorch::plugin {

Redactor::Redactor(const JsonObject& config) {
  for (const auto& kv : config) Collect(kv.value());
  std::sort(values_.begin(), values_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
}

void Redactor::Collect(const JsonValue& v) {
  if (v.is_string()) {
    if (v.get_string().size() >= kMinLength) values_.emplace_back(v.get_string());
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) Collect(kv.value());
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) Collect(e);
  }
}

std::string Redactor::Apply(std::string_view text) const {
  std::string out(text);
  for (const std::string& value : values_) {
    for (std::size_t at = out.find(value); at != std::string::npos; at = out.find(value, at + 10)) {
      out.replace(at, value.size(), "[redacted]");
    }
  }
  return out;
}

}  // namespace opsorch::plugin
