// Masks configuration values in text that leaves the plugin host (plugin stderr lines, plugin
// error messages): a plugin that echoes its config must not put a token into our logs. The
// workflow runtime masks its secrets with it too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>

namespace opsorch {

class Redactor {
 public:
  // Every string value (at any depth) of `config` of at least kMinLength characters is masked:
  // config holds URLs and ids next to secrets, and masking an innocent value costs little.
  // Shorter values are left alone, as masking every "prod" or "true" would garble the lines
  // more than it protects.
  static constexpr std::size_t kMinLength = 8;
  explicit Redactor(const JsonObject& config);
  // Exactly these values (the workflow runtime's secrets), those shorter than `min_length` left
  // alone.
  Redactor(const std::vector<std::string>& values, std::size_t min_length);

  std::string Apply(std::string_view text) const;

 private:
  void Collect(const JsonValue& v);
  void Add(std::string_view raw);
  void Finish();
  std::vector<std::string> values_;  // longest first, so that a value's prefix is not masked alone
};

}  // namespace opsorch
