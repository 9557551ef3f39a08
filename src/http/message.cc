#include <opsorch/common/strings.h>
#include <opsorch/http/message.h>

namespace opsorch::http {

std::string_view Request::Header(std::string_view name) const {
  for (const HeaderField& field : headers) {
    if (EqualsIgnoreCase(field.name, name)) return field.value;
  }
  return {};
}

}  // namespace opsorch::http
