// File helpers of the file-backed secret stores (json, sealed; they read with ReadWholeFile of
// common/files.h): the crash-safe replace (temp file in the same directory, fsync, rename,
// fsync of the directory).
#pragma once

#include <cstddef>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <opsorch/common/files.h>
#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/providers/interfaces.h>

namespace opsorch::providers {

// The directory part of `path` ("." when there is none), as rename and fsync need it.
std::string DirectoryOf(const std::string& path);

// Replaces `path` with `data` (mode 0600) so that a crash leaves the old or the new content,
// never a torn file. Errors: secret_store_error "failed to write secret file <path>: <step>:
// <reason>"; the data never appears in them.
Status WriteFileAtomically(const std::string& path, std::string_view data);

// A secret store kept as one JSON object in memory and written whole by Persist() on every Put
// (the `json` and `sealed` providers differ only in how the file is read and written).
class FileSecretStore : public SecretProvider {
 public:
  // Strings are returned as-is, other JSON values as their compact JSON text. A missing key is
  // not_found "secret not found: <key>".
  Result<std::string> Get(const std::string& key) override;
  // Memory changes only once Persist succeeded, so a failed Put changes nothing. Errors:
  // bad_request for an empty key, or Persist's error.
  Status Put(const std::string& key, const std::string& value) override;
  // Put writes and fsyncs a file.

 protected:
  explicit FileSecretStore(JsonObject secrets) : secrets_(std::move(secrets)) {}
  virtual Status Persist(const JsonObject& secrets) const = 0;

 private:
  std::mutex write_mu_;           // serialises Put: read-modify-write of the whole file
  mutable std::shared_mutex mu_;  // guards secrets_
  JsonObject secrets_;
};

}  // namespace opsorch::providers
