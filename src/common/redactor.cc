#include <algorithm>

#include <opsorch/common/json_writer.h>
#include <opsorch/common/redactor.h>

namespace opsorch {

Redactor::Redactor(const JsonObject& config) {
  for (const auto& kv : config) Collect(kv.value());
  Finish();
}

Redactor::Redactor(const std::vector<std::string>& values, std::size_t min_length) {
  for (const std::string& v : values) {
    if (v.size() >= min_length) Add(v);
  }
  Finish();
}

void Redactor::Finish() {
  std::sort(values_.begin(), values_.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
}

void Redactor::Collect(const JsonValue& v) {
  if (v.is_string()) {
    const std::string_view raw(v.get_string().data(), v.get_string().size());
    if (raw.size() >= kMinLength) Add(raw);
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) Collect(kv.value());
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) Collect(e);
  }
}

void Redactor::Add(std::string_view raw) {
  values_.emplace_back(raw);
  // A plugin that logs its config as JSON writes the value escaped: mask those spellings too.
  std::string go_escaped;  // Go's encoding/json: \" \\ and \u0026 \u003c \u003e …
  AppendJsonString(go_escaped, raw);
  go_escaped = go_escaped.substr(1, go_escaped.size() - 2);
  if (go_escaped != raw) values_.push_back(go_escaped);
  std::string minimal;  // most other encoders: only quote and backslash escaped
  for (char c : raw) {
    if (c == '"' || c == '\\') minimal.push_back('\\');
    minimal.push_back(c);
  }
  if (minimal != raw && minimal != go_escaped) values_.push_back(std::move(minimal));
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

}  // namespace opsorch
