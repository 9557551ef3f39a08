// Encrypted bootstrap strings: "enc1:<key id>:<base64url(nonce | secretbox)>".
#include <opsorch/workflow/package.h>

#include "workflow/package/internal.h"

namespace opsorch::workflow::package {
namespace {

using internal::EnsureSodium;
using internal::Hex;

constexpr std::size_t kKeyIdHex = 8;

Status CheckStringKey(const SecretKey& key) {
  if (key.purpose != KeyPurpose::kString || key.bytes.size() != crypto_secretbox_KEYBYTES) {
    return Fail(errc::kBadRequest, "not a string key (a " + std::string(PurposeName(key.purpose)) +
                                       " key); make one with `opsorch workflow keygen --purpose "
                                       "string`");
  }
  return Ok();
}

}  // namespace

std::string StringKeyId(const SecretKey& key) {
  EnsureSodium();
  std::uint8_t h[crypto_generichash_BYTES];  // BLAKE2b-256
  crypto_generichash(h, sizeof h, key.bytes.data(), key.bytes.size(), nullptr, 0);
  return Hex(h, kKeyIdHex / 2);
}

bool IsEncryptedString(std::string_view s) { return s.starts_with(kEncryptedPrefix); }

Result<std::string> EncryptString(std::string_view plain, const SecretKey& key) {
  if (Status st = CheckStringKey(key); !st) return Fail(std::move(st.error()));
  std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
  auto* b = reinterpret_cast<std::uint8_t*>(box.data());
  randombytes_buf(b, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size(), b,
                        key.bytes.data());
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string encoded(sodium_base64_encoded_len(box.size(), variant), '\0');
  sodium_bin2base64(encoded.data(), encoded.size(), b, box.size(), variant);
  encoded.resize(encoded.size() - 1);  // the terminating NUL
  return std::string(kEncryptedPrefix) + StringKeyId(key) + ":" + encoded;
}

Result<std::string> DecryptString(std::string_view text, const SecretKey& key) {
  if (Status st = CheckStringKey(key); !st) return Fail(std::move(st.error()));
  // The text itself is never quoted: it is harmless, but a wrongly pasted plain secret is not.
  auto malformed = [](const std::string& rule) {
    return Fail(errc::kBadRequest, "not an encrypted string: " + rule);
  };
  if (!IsEncryptedString(text)) return malformed("it does not start with \"enc1:\"");
  text.remove_prefix(kEncryptedPrefix.size());
  const auto colon = text.find(':');
  if (colon != kKeyIdHex) return malformed("expected enc1:<8 hex digits key id>:<base64url>");
  const std::string_view id = text.substr(0, colon);
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return malformed("the key id must be 8 lower-case hex digits");
    }
  }
  const std::string_view encoded = text.substr(colon + 1);
  std::string box(encoded.size(), '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<std::uint8_t*>(box.data()), box.size(), encoded.data(),
                        encoded.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != encoded.data() + encoded.size()) {
    return malformed("the part after the key id is not base64url without padding");
  }
  if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return malformed("too short");
  }
  const std::string mine = StringKeyId(key);
  if (id != mine) {
    return Fail(errc::kBadRequest,
                "encrypted with key " + std::string(id) + ", not with this key " + mine);
  }
  std::string plain(len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
  const auto* b = reinterpret_cast<const std::uint8_t*>(box.data());
  if (crypto_secretbox_open_easy(reinterpret_cast<std::uint8_t*>(plain.data()),
                                 b + crypto_secretbox_NONCEBYTES, len - crypto_secretbox_NONCEBYTES,
                                 b, key.bytes.data()) != 0) {
    return Fail(errc::kBadRequest,
                "encrypted string under key " + mine + " does not decrypt: it was changed");
  }
  return plain;
}

}  // namespace opsorch::workflow::package
