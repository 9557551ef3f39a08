// Helpers shared by keys.cc, package.cc and strings.cc (not a public interface).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <sodium.h>

#include <opsorch/common/result.h>
#include <opsorch/workflow/package.h>

namespace opsorch::workflow::package::internal {

// sodium_init() once per process; it is thread-safe, and the static makes the call cheap.
inline void EnsureSodium() {
  static const int rc = sodium_init();
  (void)rc;  // < 0 only when no random source exists: randombytes would abort anyway
}

// Appends into `out` without growing it past what the caller reserved, so that a secret's hex
// is written into one buffer the caller can wipe (a reallocation would free a copy unwiped).
inline void AppendHex(std::string& out, const std::uint8_t* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
}

inline std::string Hex(const std::uint8_t* p, std::size_t n) {
  std::string out;
  out.reserve(2 * n);
  AppendHex(out, p, n);
  return out;
}

// Lower-case hex only, exactly 2 * n digits: key texts have one spelling, so they compare as
// strings in bootstraps and logs.
inline bool FromHex(std::string_view s, std::uint8_t* out, std::size_t n) {
  if (s.size() != 2 * n) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = digit(s[2 * i]), lo = digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

// A refusal of Inspect or Open: bad_request whose wire code is the refusal's name, so that
// RefusalOf reads it back and an HTTP answer or a status report carries it as its code.
inline tl::unexpected<Error> Refuse(Refusal r, std::string message) {
  return Fail(Error(ErrorCode::kBadRequest, std::move(message), std::string(RefusalName(r))));
}

}  // namespace opsorch::workflow::package::internal
