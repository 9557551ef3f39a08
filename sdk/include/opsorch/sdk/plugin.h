// The opsorch plugin SDK: turns providers registered in a ProviderRegistry into a plugin binary
// that speaks OpsOrch's stdio JSON-RPC (contract §8), so that any OpsOrch core, ours or the
// reference, can run it. Header-only; link `opsorch_base` (JSON, the schema codec, the provider
// interfaces) and nothing else.
//
//   int main() {
//     opsorch::providers::ProviderRegistry registry;
//     registry.Register<opsorch::providers::IncidentProvider>("acme", &AcmeIncidents::FromConfig);
//     return opsorch::sdk::ServeStdio(registry, "acme");
//   }
//
// Behaviour: one request line in, one response line out, until EOF on stdin. The provider of a
// capability is built from the `config` of the first call and rebuilt when a later call brings a
// different config. Errors are written in the object form {"code","message"}, which the
// reference core and opsorch both understand.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/result.h>
#include <opsorch/providers/capability.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/operations.h>
#include <opsorch/providers/registry.h>
#include <opsorch/schema/codec.h>

namespace opsorch::sdk {

namespace detail {

namespace s = ::opsorch::schema;
using providers::Capability;

// What a handler produces: the `result` JSON text (or "null"), or an error.
using Reply = Result<std::string>;

// One call: the operation whose method it names (providers/operations.h), its payload decoded,
// the provider's interface method called, the result encoded.
inline Reply Dispatch(Capability cap, const providers::ProviderPtr& base, std::string_view m,
                      const JsonValue& payload) {
  Reply reply = Fail(errc::kBadRequest, "unknown method " + std::string(m));
  providers::ForEachOperation([&](const auto& op) {
    using Op = std::decay_t<decltype(op)>;
    if (Op::kCapability != cap || op.method != m) return false;
    auto in = providers::DecodePayload<typename Op::Input>(payload);
    if (!in) {
      reply = Fail(std::move(in.error()));
      return true;
    }
    auto out = op.call(static_cast<typename Op::Provider&>(*base), *in);
    if (!out) {
      reply = Fail(std::move(out.error()));
      return true;
    }
    reply = providers::EncodeResult<typename Op::Output>(out);
    return true;
  });
  return reply;
}

// "incident.timeline.get" → incident; "messaging.send" → messaging.
inline std::optional<Capability> CapabilityOfMethod(std::string_view method) {
  const std::string_view head = method.substr(0, method.find('.'));
  for (std::size_t i = 0; i < providers::kCapabilityCount; ++i) {
    const auto cap = static_cast<Capability>(i);
    if (providers::Name(cap) == head) return cap;
  }
  return std::nullopt;
}

inline std::string ErrorLine(const Error& e) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(out, WireCode(e));
  out.append(",\"message\":");
  AppendJsonString(out, e.message);
  out.append("}}\n");
  return out;
}

}  // namespace detail

// Serves one capability at a time per call; the provider of each capability is created on
// first use from the call's config. Not thread-safe (a plugin process gets one call at a time).
class PluginServer {
 public:
  PluginServer(const providers::ProviderRegistry& registry, std::string provider_name)
      : registry_(registry), name_(std::move(provider_name)) {}

  // One request line → one response line (with its newline).
  std::string Handle(std::string_view line) {
    auto request = ParseJson(line);
    if (!request) return detail::ErrorLine(request.error());
    if (!request->is_object()) {
      return detail::ErrorLine(MakeError(errc::kBadRequest, "request must be a JSON object"));
    }
    const JsonObject& obj = request->get_object();
    const JsonValue* method = obj.if_contains("method");
    if (method == nullptr || !method->is_string()) {
      return detail::ErrorLine(MakeError(errc::kBadRequest, "request.method must be a string"));
    }
    const std::string_view m(method->get_string().data(), method->get_string().size());
    const auto cap = detail::CapabilityOfMethod(m);
    if (!cap || !registry_.Contains(*cap, name_)) {
      return detail::ErrorLine(MakeError(errc::kBadRequest, "unknown method " + std::string(m)));
    }
    JsonObject config;
    if (const JsonValue* c = obj.if_contains("config"); c != nullptr && c->is_object()) {
      config = c->get_object();
    }
    auto provider = ProviderFor(*cap, config);
    if (!provider) return detail::ErrorLine(provider.error());
    static const JsonValue kNull;
    const JsonValue* payload = obj.if_contains("payload");
    auto reply = detail::Dispatch(*cap, *provider, m, payload == nullptr ? kNull : *payload);
    if (!reply) return detail::ErrorLine(reply.error());
    std::string out = "{\"result\":";
    out.append(*reply).append("}\n");
    return out;
  }

 private:
  struct Built {
    std::string config_json;
    providers::ProviderPtr provider;
  };

  Result<providers::ProviderPtr> ProviderFor(providers::Capability cap, const JsonObject& config) {
    std::string key;
    AppendJsonObject(key, config);
    auto it = built_.find(cap);
    if (it != built_.end() && it->second.config_json == key) return it->second.provider;
    auto created = registry_.Create(cap, name_, config);
    if (!created) return Fail(std::move(created.error()));
    built_[cap] = Built{std::move(key), *created};
    return *created;
  }

  const providers::ProviderRegistry& registry_;
  std::string name_;
  std::map<providers::Capability, Built> built_;
};

// Reads requests from stdin until EOF and answers on stdout. Returns the exit code for main().
inline int ServeStdio(const providers::ProviderRegistry& registry, std::string provider_name) {
  PluginServer server(registry, std::move(provider_name));
  char* line = nullptr;
  std::size_t capacity = 0;
  while (true) {
    const ssize_t n = ::getline(&line, &capacity, stdin);
    if (n < 0) break;  // EOF: the core is done with us
    const std::string_view text(line, static_cast<std::size_t>(n));
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) continue;
    const std::string reply = server.Handle(text);
    if (std::fwrite(reply.data(), 1, reply.size(), stdout) != reply.size() ||
        std::fflush(stdout) != 0) {
      break;  // the core went away
    }
  }
  std::free(line);
  return 0;
}

}  // namespace opsorch::sdk
