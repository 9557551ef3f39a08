#include <opsorch/common/strings.h>
#include <opsorch/common/text_rules.h>

namespace opsorch {

std::string FillPlaceholders(
    std::string_view tmpl,
    const std::function<std::optional<std::string>(std::string_view)>& lookup,
    std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size() && out.size() <= max_bytes; ++i) {
    const std::size_t close = tmpl[i] == '{' ? tmpl.find('}', i + 1) : std::string_view::npos;
    if (close == std::string_view::npos) {
      out.push_back(tmpl[i]);
      continue;
    }
    if (auto value = lookup(tmpl.substr(i + 1, close - i - 1))) {
      out += *value;
    } else {
      out += tmpl.substr(i, close - i + 1);  // unknown: left as written
    }
    i = close;
  }
  if (out.size() > max_bytes) out.resize(Utf8Prefix(out, max_bytes).size());
  return out;
}

}  // namespace opsorch
