// What the transports share: the Standard Webhooks secret and signature, Retry-After, URL and id
// rules, and the HTTP outcome classification.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>

#include <boost/url/parse.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <opsorch/common/strings.h>
#include <opsorch/notify/transport.h>

#include "notify/internal.h"

namespace opsorch::notify {

namespace internal {

std::int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

DeliveryResult Sent(int status, std::string detail) {
  DeliveryResult r;
  r.state = DeliveryState::kSent;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

DeliveryResult Retry(int status, std::string detail, std::int64_t retry_after_s) {
  DeliveryResult r;
  r.state = DeliveryState::kRetry;
  r.status = status;
  r.detail = std::move(detail);
  r.retry_after_s = retry_after_s;
  return r;
}

DeliveryResult Failed(int status, std::string detail) {
  DeliveryResult r;
  r.state = DeliveryState::kFailed;
  r.status = status;
  r.detail = std::move(detail);
  return r;
}

DeliveryResult FromHttpError(const Error& error) {
  switch (error.code) {
    case ErrorCode::kAddressDenied:
    case ErrorCode::kBadRequest:
      return Failed(0, error.message);
    default:
      return Retry(0, error.message);
  }
}

std::int64_t RetryAfterOf(const net::Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "Retry-After")) {
      return ParseRetryAfter(value, NowUnix()).value_or(0);
    }
  }
  return 0;
}

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

std::string TruncateChars(std::string_view s, std::size_t max_chars) {
  // Code points start at every byte that is not a continuation byte.
  std::size_t chars = 0;
  std::size_t cut = std::string_view::npos;  // byte offset after max_chars - 1 code points
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars - 1) cut = i;
    if (++chars > max_chars) return std::string(s.substr(0, cut)) + "\xE2\x80\xA6";  // …
  }
  return std::string(s);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(std::max(n, 0)));
  return out;
}

namespace {
std::string Hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 0xF];
  }
  return out;
}
}  // namespace

std::string RandomHex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(raw.data());
  if (RAND_bytes(p, static_cast<int>(bytes)) != 1) {
    // The CSPRNG failing is not recoverable here; an id must still be unique, so fall back to
    // the clock and a counter rather than returning a constant.
    static std::atomic<std::uint64_t> counter{0};
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    const std::string seed = std::to_string(t) + ":" + std::to_string(++counter);
    return Sha256Hex(seed).substr(0, 2 * bytes);
  }
  return Hex(p, bytes);
}

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return Hex(digest, sizeof digest);
}

}  // namespace internal

std::string_view Name(DeliveryState state) {
  switch (state) {
    case DeliveryState::kSent:
      return "sent";
    case DeliveryState::kRetry:
      return "retry";
    case DeliveryState::kFailed:
      return "failed";
  }
  return "failed";
}

Result<std::string> DecodeWebhookSecret(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (!secret.starts_with(kPrefix)) {
    return Fail(errc::kBadRequest, "must be \"whsec_\" followed by base64");
  }
  std::string b64(secret.substr(kPrefix.size()));
  // The reference libraries decode with missing padding tolerated; so do we.
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (char c : b64) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '/')) {
      return Fail(errc::kBadRequest, "must be \"whsec_\" followed by base64");
    }
  }
  if (b64.size() % 4 == 1) return Fail(errc::kBadRequest, "is not valid base64");
  const std::size_t padding = (4 - b64.size() % 4) % 4;
  b64.append(padding, '=');
  std::string key(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return Fail(errc::kBadRequest, "is not valid base64");
  key.resize(static_cast<std::size_t>(n) - padding);
  // The spec asks for 24..64 random bytes; below 16 an HMAC key is too weak to accept at all.
  if (key.size() < 16) {
    return Fail(errc::kBadRequest, "key is too short (at least 16 bytes; 24 or more recommended)");
  }
  if (key.size() > 64) return Fail(errc::kBadRequest, "key is too long (at most 64 bytes)");
  return key;
}

std::string SignWebhook(std::string_view key, std::string_view id, std::int64_t timestamp,
                        std::string_view body) {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  return "v1," +
         internal::Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::optional<std::int64_t> ParseRetryAfter(std::string_view value, std::int64_t now_unix) {
  constexpr std::int64_t kMax = 7 * 24 * 3600;  // a week: anything longer is a receiver's bug
  value = TrimSpace(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t s = 0;
    if (value.size() > 12) return kMax;
    std::from_chars(value.data(), value.data() + value.size(), s);
    return std::min(s, kMax);
  }
  // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (the only form a sender may generate).
  if (value.size() != 29 || value[3] != ',' || value.substr(25) != " GMT") return std::nullopt;
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    const auto [end, ec] = std::from_chars(value.data() + pos, value.data() + pos + len, out);
    return ec == std::errc() && end == value.data() + pos + len;
  };
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  const auto month = std::find(kMonths.begin(), kMonths.end(), value.substr(8, 3));
  if (value[4] != ' ' || value[7] != ' ' || value[11] != ' ' || value[16] != ' ' ||
      value[19] != ':' || value[22] != ':' || month == kMonths.end() || !num(5, 2, day) ||
      !num(12, 4, year) || !num(17, 2, hh) || !num(20, 2, mm) || !num(23, 2, ss) || hh > 23 ||
      mm > 59 || ss > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{
      std::chrono::year(year),
      std::chrono::month(static_cast<unsigned>(month - kMonths.begin() + 1)),
      std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  const std::int64_t at =
      std::chrono::sys_days(ymd).time_since_epoch().count() * 86400 + hh * 3600 + mm * 60 + ss;
  return std::clamp<std::int64_t>(at - now_unix, 0, kMax);
}

Status CheckHttpUrl(std::string_view url) {
  if (url.size() > 4096) return Fail(errc::kBadRequest, "must be at most 4096 bytes");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return Fail(errc::kBadRequest, "must be an absolute http or https URL");
  const std::string scheme =
      ToLower(std::string_view(parsed->scheme().data(), parsed->scheme().size()));
  if (scheme != "http" && scheme != "https") {
    return Fail(errc::kBadRequest, "must be an http or https URL");
  }
  if (!parsed->has_authority() || parsed->encoded_host().empty()) {
    return Fail(errc::kBadRequest, "must name a host");
  }
  if (parsed->has_port()) {
    const auto port = parsed->port();
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        parsed->port_number() == 0) {
      return Fail(errc::kBadRequest, "must have a port 1..65535");
    }
  }
  if (parsed->has_userinfo()) {
    return Fail(errc::kBadRequest, "must not carry user:password@ (use the secret)");
  }
  if (parsed->has_fragment()) return Fail(errc::kBadRequest, "must not have a #fragment");
  return Ok();
}

bool ValidDeliveryId(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  // Printable ASCII; '.' separates the signed fields, ' ' and ',' the signature list.
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return c > 0x20 && c < 0x7F && c != '.' && c != ','; });
}

std::string NewDeliveryId() { return "msg_" + internal::RandomHex(16); }

}  // namespace opsorch::notify
