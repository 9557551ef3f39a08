// The built-in `json` secret provider: a JSON object file of logical key → value. Unlike the
// reference (contract §10.3, §13 #8), Put persists: the whole object is written to a temporary
// file (mode 0600) in the same directory, fsynced, renamed over the original, and the directory
// is fsynced, so a crash leaves either the old or the new file, never a torn one.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/providers/interfaces.h>

#include "providers/secret_file.h"

namespace opsorch::providers::secret_json {

inline constexpr std::string_view kProviderName = "json";

class JsonSecretProvider final : public FileSecretStore {
 public:
  // Config: {"path": "<file>"} (required). Error texts follow the reference:
  // "basic provider requires 'path' in config", "failed to read secret file <path>: <reason>",
  // "failed to parse secret file <path>: <reason>".
  static Result<std::shared_ptr<JsonSecretProvider>> FromConfig(const JsonObject& config);
  static Result<std::shared_ptr<JsonSecretProvider>> Open(const std::string& path);

  JsonSecretProvider(std::string path, JsonObject secrets)
      : FileSecretStore(std::move(secrets)), path_(std::move(path)) {}

 private:
  Status Persist(const JsonObject& secrets) const override;

  const std::string path_;
};

}  // namespace opsorch::providers::secret_json
