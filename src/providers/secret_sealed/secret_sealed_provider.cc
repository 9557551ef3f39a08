#include "providers/secret_sealed/secret_sealed_provider.h"

#include <cerrno>
#include <cstdlib>
#include <optional>

#include <boost/json/serialize.hpp>
#include <sodium.h>
#include <sys/stat.h>

#include <opsorch/common/json_parse.h>

#include "providers/secret_file.h"

namespace opsorch::providers::secret_sealed {
namespace {

constexpr std::string_view kPrefix = "sealed secret provider: ";
// Far above any plausible secret store; stops a wrong path from reading a huge file.
constexpr std::size_t kMaxFileBytes = std::size_t{64} << 20;

auto Bad(std::string message) { return Fail(errc::kBadRequest, std::string(kPrefix) + message); }

// An optional non-empty string field; absent and null are the same.
Result<std::optional<std::string>> StringField(const JsonObject& config, std::string_view name) {
  const JsonValue* v = config.if_contains(name);
  if (v == nullptr || v->is_null()) return std::nullopt;
  const std::string quoted = "config \"" + std::string(name) + "\"";
  if (!v->is_string()) return Bad(quoted + " must be a string");
  if (v->get_string().empty()) return Bad(quoted + " must not be empty");
  return std::string(v->get_string());
}

void Wipe(std::string& s) { ::sodium_memzero(s.data(), s.size()); }

}  // namespace

std::string GenerateSealedKey() {
  // sodium_init only fails without an entropy source, where libsodium itself aborts.
  if (!SodiumReady()) std::abort();
  unsigned char raw[kKeyBytes];
  ::randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(kKeyBytes, sodium_base64_VARIANT_ORIGINAL)];
  ::sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
  std::string key(b64);
  ::sodium_memzero(raw, sizeof raw);
  ::sodium_memzero(b64, sizeof b64);
  return key;
}

Result<std::shared_ptr<SealedSecretProvider>> SealedSecretProvider::FromConfig(
    const JsonObject& config) {
  for (const auto& kv : config) {
    if (kv.key() != "path" && kv.key() != "keyEnv" && kv.key() != "keyFile") {
      return Bad("unknown config key \"" + std::string(kv.key()) + "\"");
    }
  }
  const JsonValue* path_value = config.if_contains("path");
  if (path_value == nullptr || path_value->is_null() ||
      (path_value->is_string() && path_value->get_string().empty())) {
    return Bad("config \"path\" is required");
  }
  auto path = StringField(config, "path");
  if (!path) return Fail(std::move(path.error()));
  auto key_env = StringField(config, "keyEnv");
  if (!key_env) return Fail(std::move(key_env.error()));
  auto key_file = StringField(config, "keyFile");
  if (!key_file) return Fail(std::move(key_file.error()));
  if (*key_env && *key_file) {
    return Bad("config \"keyEnv\" and \"keyFile\" are mutually exclusive; set one");
  }

  auto key = *key_file ? SealedKey::FromFile(**key_file)
                       : SealedKey::FromEnv(key_env->value_or(std::string(kDefaultKeyEnv)));
  if (!key) return Fail(std::move(key.error()));
  return Open(**path, std::move(*key));
}

Result<std::shared_ptr<SealedSecretProvider>> SealedSecretProvider::Open(const std::string& path,
                                                                         SealedKey key) {
  std::string file;
  if (const int err = ReadWholeFile(path, file, kMaxFileBytes); err == ENOENT) {
    // No store yet: the first Put creates it. A missing directory would only fail then, so
    // report it now.
    struct stat st {};
    const std::string dir = DirectoryOf(path);
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Bad("directory " + dir + " of secret file " + path + " does not exist");
    }
    return std::make_shared<SealedSecretProvider>(path, std::move(key), JsonObject{});
  } else if (err != 0) {
    return Bad("failed to read secret file " + path + ": " + ErrnoText(err));
  }
  auto plain = Unseal(key, file, path);
  if (!plain) return Fail(std::move(plain.error()));
  // The parser's message could quote part of the plaintext, so it is not passed on.
  auto parsed = ParseJson(*plain);
  Wipe(*plain);
  if (!parsed || !parsed->is_object()) {
    return Bad(path + ": decrypted content is not a JSON object");
  }
  return std::make_shared<SealedSecretProvider>(path, std::move(key),
                                                std::move(parsed->as_object()));
}

Status SealedSecretProvider::Persist(const JsonObject& secrets) const {
  std::string plain = boost::json::serialize(secrets);
  const std::string sealed = Seal(key_, plain);
  Wipe(plain);
  return WriteFileAtomically(path_, sealed);
}

}  // namespace opsorch::providers::secret_sealed
