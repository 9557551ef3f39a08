// Helpers shared by the fuzz bodies (tests/fuzz/*_check.h), the libFuzzer entry points
// (tests/fuzz/fuzz_*.cc) and the corpus regression tests: a deterministic random source derived
// from the input (so that a body that splits its input into pieces does it the same way when a
// saved input is replayed), a UTF-8 check, and the entry point's abort on a violation.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace opsorch::testing {

// splitmix64 seeded with FNV-1a of the input: the same input always gets the same choices.
class InputRng {
 public:
  explicit InputRng(std::string_view input, std::uint64_t salt = 0) {
    std::uint64_t h = 1469598103934665603ull ^ salt;
    for (const char c : input) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    state_ = h;
  }
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [lo, hi].
  std::size_t Between(std::size_t lo, std::size_t hi) {
    return lo + static_cast<std::size_t>(Next() % (hi - lo + 1));
  }

 private:
  std::uint64_t state_;
};

inline bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, min = 0x10000;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    std::uint32_t cp = c & (0x7F >> n);
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

inline bool HasNulChar(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// A short, printable excerpt of `s` for violation messages.
inline std::string Excerpt(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// The libFuzzer entry points' common end: print every violation and abort, so that libFuzzer
// saves the input.
inline int AbortOnViolations(const char* target, const std::vector<std::string>& violations) {
  if (violations.empty()) return 0;
  for (const auto& v : violations) std::fprintf(stderr, "%s: %s\n", target, v.c_str());
  std::abort();
}

}  // namespace opsorch::testing
