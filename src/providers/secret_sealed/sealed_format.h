// The sealed secret file format and its key. Version 1 of the file:
//
//   offset  size    content
//   0       14      ASCII "OPSORCH-SEALED" (no terminator)
//   14      1       format version, 0x01
//   15      24      nonce: fresh random bytes on every write
//   39      n + 16  XChaCha20-Poly1305 (libsodium crypto_aead_xchacha20poly1305_ietf) ciphertext
//                   of the n-byte plaintext, followed by the 16-byte tag
//
// The additional authenticated data is the 15-byte header (magic and version), so the version
// cannot be altered without the tag failing. The plaintext is a compact JSON object. The key is
// 32 random bytes, written by users as standard base64 with padding (44 characters).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::providers::secret_sealed {

inline constexpr std::string_view kMagic = "OPSORCH-SEALED";
inline constexpr unsigned char kFormatVersion = 1;
inline constexpr std::size_t kHeaderBytes = 15;  // magic + version
inline constexpr std::size_t kNonceBytes = 24;
inline constexpr std::size_t kTagBytes = 16;
inline constexpr std::size_t kKeyBytes = 32;

// sodium_init() once per process; false when libsodium cannot be initialised.
bool SodiumReady();

// A 32-byte key in libsodium guarded memory (read-only once loaded, zeroed when freed).
// Errors are bad_request and name where the key came from, never the key text.
class SealedKey {
 public:
  static Result<SealedKey> FromBase64(std::string_view text, std::string_view source);
  // Reads the variable `name`. Error: "... environment variable <name> is not set".
  static Result<SealedKey> FromEnv(const std::string& name);
  // The file must be a regular file with no group/other permission bits (0600 or 0400).
  static Result<SealedKey> FromFile(const std::string& path);

  const unsigned char* bytes() const { return bytes_.get(); }

 private:
  SealedKey() = default;
  struct Free {
    void operator()(unsigned char* p) const;
  };
  std::unique_ptr<unsigned char, Free> bytes_;
};

// The file bytes for `plaintext`, under a fresh nonce.
std::string Seal(const SealedKey& key, std::string_view plaintext);

// The plaintext of a sealed file, or a bad_request error naming `path`:
// "sealed secret provider: <path>: not a sealed secret file (bad header)",
// "...: unsupported version <N>", "...: corrupted file (truncated)",
// "...: wrong key or corrupted file". The caller should zero the plaintext when done.
Result<std::string> Unseal(const SealedKey& key, std::string_view file, const std::string& path);

}  // namespace opsorch::providers::secret_sealed
