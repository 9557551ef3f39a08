// The built-in `json` secret provider: a JSON object file of logical key → value. Unlike the
// reference (contract §10.3, §13 #8), Put persists: the whole object is written to a temporary
// file (mode 0600) in the same directory, fsynced, renamed over the original, and the directory
// is fsynced, so a crash leaves either the old or the new file, never a torn one.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/providers/interfaces.h>

namespace opsorch::providers::secret_json {

inline constexpr std::string_view kProviderName = "json";

class JsonSecretProvider final : public SecretProvider {
 public:
  // Config: {"path": "<file>"} (required). Error texts follow the reference:
  // "basic provider requires 'path' in config", "failed to read secret file <path>: <reason>",
  // "failed to parse secret file <path>: <reason>".
  static Result<std::shared_ptr<JsonSecretProvider>> FromConfig(const JsonObject& config);
  static Result<std::shared_ptr<JsonSecretProvider>> Open(const std::string& path);

  // Strings are returned as-is, other JSON values as their compact JSON text.
  Result<std::string> Get(const std::string& key) override;
  Status Put(const std::string& key, const std::string& value) override;

  // Put writes and fsyncs a file.
  bool IsBlocking() const override { return true; }

  JsonSecretProvider(std::string path, JsonObject secrets)
      : path_(std::move(path)), secrets_(std::move(secrets)) {}

 private:
  Status Persist(const JsonObject& secrets) const;

  const std::string path_;
  std::mutex write_mu_;           // serialises Put: read-modify-write of the whole file
  mutable std::shared_mutex mu_;  // guards secrets_
  JsonObject secrets_;
};

}  // namespace opsorch::providers::secret_json
