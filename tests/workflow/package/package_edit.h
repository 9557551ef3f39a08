// Test-only surgery on a package: where its fields are (read here independently of the
// implementation, from the layout in docs/WORKFLOWS.md), and re-signing after a change, so that
// a test reaches the check after the signatures with a package that is otherwise wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <sodium.h>

#include <opsorch/workflow/package.h>

namespace opsorch::testing {

struct PackageLayout {
  std::size_t manifest_at = 7, manifest_len = 0;
  std::size_t recipients_at = 0, recipient_count = 0;  // recipients_at: the first block
  std::size_t payload_nonce_at = 0, ciphertext_at = 0, ciphertext_len = 0;
  std::size_t signature_count_at = 0, signature_count = 0;
};

inline std::size_t Be(const std::string& b, std::size_t at, int width) {
  std::size_t v = 0;
  for (int i = 0; i < width; ++i) v = v << 8 | static_cast<std::uint8_t>(b[at + i]);
  return v;
}

// Only for well-formed packages (those Pack made, before surgery).
inline PackageLayout LayoutOf(const std::string& b) {
  PackageLayout l;
  l.manifest_len = Be(b, 5, 2);
  l.recipient_count = static_cast<std::uint8_t>(b[l.manifest_at + l.manifest_len]);
  l.recipients_at = l.manifest_at + l.manifest_len + 1;
  l.payload_nonce_at = l.recipients_at + 104 * l.recipient_count;
  l.ciphertext_len = Be(b, l.payload_nonce_at + 24, 4);
  l.ciphertext_at = l.payload_nonce_at + 28;
  l.signature_count_at = l.ciphertext_at + l.ciphertext_len;
  l.signature_count = static_cast<std::uint8_t>(b[l.signature_count_at]);
  return l;
}

// Signs everything before the signature count again with each of `signers` whose key is in the
// signature list, as Pack does (the layout must still read).
inline std::string Resign(std::string b, const std::vector<workflow::package::SecretKey>& signers) {
  const PackageLayout l = LayoutOf(b);
  std::uint8_t message[28 + 64];
  std::memcpy(message, "opsorch workflow package v1\0", 28);
  crypto_generichash(message + 28, 64, reinterpret_cast<const std::uint8_t*>(b.data()),
                     l.signature_count_at, nullptr, 0);
  for (std::size_t i = 0; i < l.signature_count; ++i) {
    const std::size_t at = l.signature_count_at + 1 + 96 * i;
    for (const auto& s : signers) {
      const auto pk = s.Public();
      if (std::memcmp(b.data() + at, pk.bytes.data(), 32) != 0) continue;
      crypto_sign_detached(reinterpret_cast<std::uint8_t*>(b.data() + at + 32), nullptr, message,
                           sizeof message, s.bytes.data());
    }
  }
  return b;
}

// The package with another manifest (its length field fixed), re-signed.
inline std::string WithManifest(const std::string& b, const std::string& manifest,
                                const std::vector<workflow::package::SecretKey>& signers) {
  const PackageLayout l = LayoutOf(b);
  std::string out = b.substr(0, 5);
  out += static_cast<char>(manifest.size() >> 8);
  out += static_cast<char>(manifest.size() & 0xff);
  out += manifest;
  out += b.substr(l.manifest_at + l.manifest_len);
  return Resign(out, signers);
}

inline std::string ManifestOf(const std::string& b) {
  const PackageLayout l = LayoutOf(b);
  return b.substr(l.manifest_at, l.manifest_len);
}

inline std::string Flip(std::string b, std::size_t at, std::uint8_t mask = 0x01) {
  b[at] = static_cast<char>(static_cast<std::uint8_t>(b[at]) ^ mask);
  return b;
}

}  // namespace opsorch::testing
