// The built-in `sealed` secret provider: the `json` provider's semantics (a JSON object of
// logical key → value, persisted atomically on Put) with the file encrypted at rest by
// libsodium (format in sealed_format.h). Config:
//   {"path": "<file>", "keyEnv": "<VAR>"}   key from an environment variable
//   {"path": "<file>", "keyFile": "<file>"} key from a file with mode 0600 or 0400
// At most one of keyEnv/keyFile; with neither, the key is read from OPSORCH_SECRET_KEY.
// A missing file is an empty store, created on the first Put. Neither the key nor any secret
// value appears in an error message.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/providers/interfaces.h>

#include "providers/secret_file.h"
#include "providers/secret_sealed/sealed_format.h"

namespace opsorch::providers::secret_sealed {

inline constexpr std::string_view kProviderName = "sealed";
inline constexpr std::string_view kDefaultKeyEnv = "OPSORCH_SECRET_KEY";

// A new key for users (`opsorch keygen`): 32 random bytes as standard base64 (44 characters).
std::string GenerateSealedKey();

class SealedSecretProvider final : public FileSecretStore {
 public:
  // Validates the config, loads the key and decrypts the file. Errors are bad_request and start
  // with "sealed secret provider: ", e.g. "... config \"path\" is required",
  // "... key in OPSORCH_SECRET_KEY must be 32 bytes of standard base64 (44 characters)",
  // "... <path>: wrong key or corrupted file".
  static Result<std::shared_ptr<SealedSecretProvider>> FromConfig(const JsonObject& config);
  static Result<std::shared_ptr<SealedSecretProvider>> Open(const std::string& path, SealedKey key);

  SealedSecretProvider(std::string path, SealedKey key, JsonObject secrets)
      : FileSecretStore(std::move(secrets)), path_(std::move(path)), key_(std::move(key)) {}

 private:
  // Encrypts, writes and fsyncs the file; errors are secret_store_error "failed to write secret
  // file <path>: <step>: <reason>".
  Status Persist(const JsonObject& secrets) const override;

  const std::string path_;
  const SealedKey key_;
};

}  // namespace opsorch::providers::secret_sealed
