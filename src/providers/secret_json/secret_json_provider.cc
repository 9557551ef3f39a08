#include "providers/secret_json/secret_json_provider.h"

#include <boost/json/serialize.hpp>

#include <opsorch/common/json_parse.h>

#include "providers/secret_file.h"

namespace opsorch::providers::secret_json {
namespace {

constexpr std::size_t kMaxFileBytes = 64u << 20;  // a secret file is small; refuse a runaway one

}  // namespace

Result<std::shared_ptr<JsonSecretProvider>> JsonSecretProvider::FromConfig(
    const JsonObject& config) {
  for (const auto& kv : config) {
    if (kv.key() != "path") {
      return Fail(errc::kBadRequest,
                  "json secret provider: unknown config key \"" + std::string(kv.key()) + "\"");
    }
  }
  const JsonValue* path = config.if_contains("path");
  if (path != nullptr && !path->is_null() && !path->is_string()) {
    return Fail(errc::kBadRequest, "json secret provider: config \"path\" must be a string");
  }
  if (path == nullptr || path->is_null() || path->get_string().empty()) {
    return Fail(errc::kBadRequest, "basic provider requires 'path' in config");
  }
  return Open(std::string(path->get_string()));
}

Result<std::shared_ptr<JsonSecretProvider>> JsonSecretProvider::Open(const std::string& path) {
  std::string text;
  if (const int err = ReadWholeFile(path, text, kMaxFileBytes); err != 0) {
    return Fail(errc::kBadRequest, "failed to read secret file " + path + ": " + ErrnoText(err));
  }
  JsonParseOptions po;
  po.quote_values_in_errors = false;
  auto parsed = ParseJson(text, po);
  if (!parsed) {
    return Fail(errc::kBadRequest,
                "failed to parse secret file " + path + ": " + parsed.error().message);
  }
  if (!parsed->is_object()) {
    return Fail(errc::kBadRequest,
                "failed to parse secret file " + path + ": top-level value is not a JSON object");
  }
  return std::make_shared<JsonSecretProvider>(path, std::move(parsed->as_object()));
}

Status JsonSecretProvider::Persist(const JsonObject& secrets) const {
  std::string data = boost::json::serialize(secrets);
  data.push_back('\n');
  return WriteFileAtomically(path_, data);
}

}  // namespace opsorch::providers::secret_json
