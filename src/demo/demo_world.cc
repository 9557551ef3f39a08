#include <cstddef>
#include <string>

#include <opsorch/common/json_parse.h>
#include <opsorch/demo/demo_world.h>

namespace opsorch::demo {

// Generated from demo_world.json by embed.cmake.
extern const unsigned char kDemoWorldJson[];
extern const std::size_t kDemoWorldJsonSize;
extern const unsigned char kDemoRunbooksJson[];
extern const std::size_t kDemoRunbooksJsonSize;
extern const unsigned char kDemoWorkflowJson[];
extern const std::size_t kDemoWorkflowJsonSize;

std::string_view WorldJson() {
  return {reinterpret_cast<const char*>(kDemoWorldJson), kDemoWorldJsonSize};
}

std::string_view RunbooksJson() {
  return {reinterpret_cast<const char*>(kDemoRunbooksJson), kDemoRunbooksJsonSize};
}

std::string_view WorkflowJson() {
  return {reinterpret_cast<const char*>(kDemoWorkflowJson), kDemoWorkflowJsonSize};
}

const JsonObject& World() {
  static const JsonObject kWorld = [] {
    auto parsed = ParseJson(WorldJson());
    if (!parsed || !parsed->is_object()) return JsonObject{};
    return parsed->get_object();
  }();
  return kWorld;
}

std::string Email(std::string_view local) {
  const JsonValue* domain = World().if_contains("domain");
  return std::string(local) + "@" +
         (domain != nullptr && domain->is_string() ? std::string(domain->get_string()) : "");
}

}  // namespace opsorch::demo
