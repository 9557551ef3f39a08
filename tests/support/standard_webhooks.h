// The receiving side of Standard Webhooks for the paging tests, written with OpenSSL
// independently of the product's signing code: what a receiver computes to check a page.
#pragma once

#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace opsorch::testing {

inline std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

inline std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &n);
  return std::string(reinterpret_cast<const char*>(mac), n);
}

// The `webhook-signature` a receiver expects: "v1," + base64(HMAC-SHA256(key, id.ts.body)).
inline std::string WebhookSignature(std::string_view key, std::string_view id,
                                    std::string_view timestamp, std::string_view body) {
  const std::string content =
      std::string(id) + "." + std::string(timestamp) + "." + std::string(body);
  return "v1," + Base64(HmacSha256(key, content));
}

// The webhook-id a message goes out with: "msg_" + the first 32 hex digits of the SHA-256 of its
// idempotency key (stable across resends).
inline std::string WebhookIdOf(std::string_view idempotency_key) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(idempotency_key.data(), idempotency_key.size(), d, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "msg_";
  for (unsigned int i = 0; i < len && out.size() < 36; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 15]);
  }
  return out;
}

}  // namespace opsorch::testing
