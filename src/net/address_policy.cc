// The SSRF address rule, applied to the address libcurl actually connects to (never to the
// spelling in a URL, which DNS or a numeric-host parser may turn into anything).
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <opsorch/common/error.h>
#include <opsorch/net/http_client.h>

namespace opsorch::net {
namespace {

enum class Verdict { kPublic, kPrivate, kNever };

struct Range {
  std::uint32_t net;
  int bits;
  Verdict verdict;
  const char* why;
};

// Order matters only for overlaps (none here).
constexpr std::array<Range, 14> kV4Ranges{{
    {0x00000000, 8, Verdict::kNever, "unspecified"},      // 0.0.0.0/8 ("this network")
    {0x0A000000, 8, Verdict::kPrivate, "private"},        // 10/8
    {0x64400000, 10, Verdict::kPrivate, "cgnat"},         // 100.64/10
    {0x7F000000, 8, Verdict::kPrivate, "loopback"},       // 127/8
    {0xA9FE0000, 16, Verdict::kPrivate, "link-local"},    // 169.254/16, cloud metadata
    {0xAC100000, 12, Verdict::kPrivate, "private"},       // 172.16/12
    {0xC0000000, 24, Verdict::kPrivate, "reserved"},      // 192.0.0/24 IETF protocol
    {0xC0A80000, 16, Verdict::kPrivate, "private"},       // 192.168/16
    {0xC6120000, 15, Verdict::kPrivate, "benchmarking"},  // 198.18/15, used internally
    {0xE0000000, 4, Verdict::kNever, "multicast"},        // 224/4
    {0xFFFFFFFF, 32, Verdict::kNever, "broadcast"},       // before 240/4 for the better name
    {0xF0000000, 4, Verdict::kNever, "reserved"},         // 240/4
    {0xC0586300, 24, Verdict::kPrivate, "reserved"},      // 192.88.99/24 6to4 relay anycast
    {0x00000000, 0, Verdict::kPublic, ""},
}};

Verdict ClassifyV4(std::uint32_t a, std::string* why) {
  for (const Range& r : kV4Ranges) {
    const std::uint32_t mask = r.bits == 0 ? 0 : ~std::uint32_t{0} << (32 - r.bits);
    if ((a & mask) == r.net) {
      *why = r.why;
      return r.verdict;
    }
  }
  return Verdict::kPublic;
}

std::uint32_t V4At(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

bool AllZero(const std::uint8_t* p, int n) {
  for (int i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

Verdict ClassifyV6(const std::uint8_t* b, std::string* why) {
  // Forms that carry an IPv4 address a gateway or the kernel will use: judge that address.
  auto embedded = [&](std::uint32_t v4) {
    const Verdict v = ClassifyV4(v4, why);
    if (v != Verdict::kPublic) *why += " (embedded IPv4)";
    return v;
  };
  if (AllZero(b, 15)) {
    *why = b[15] == 0 ? "unspecified" : b[15] == 1 ? "loopback" : "reserved";
    return b[15] == 0 ? Verdict::kNever : b[15] == 1 ? Verdict::kPrivate : Verdict::kNever;
  }
  if (AllZero(b, 10) && b[10] == 0xFF && b[11] == 0xFF) return embedded(V4At(b + 12));  // mapped
  if (AllZero(b, 12)) return embedded(V4At(b + 12));  // compatible (deprecated)
  static constexpr std::uint8_t kNat64[12] = {0x00, 0x64, 0xFF, 0x9B};
  if (std::memcmp(b, kNat64, 12) == 0) return embedded(V4At(b + 12));
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0x00 &&
      b[5] == 0x01) {
    *why = "nat64 local-use";  // 64:ff9b:1::/48 (RFC 8215): translates to anything
    return Verdict::kPrivate;
  }
  if (b[0] == 0x20 && b[1] == 0x02) return embedded(V4At(b + 2));  // 6to4 2002::/16
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) {
    *why = "teredo";  // 2001::/32: the IPv4 inside is obfuscated and may be anything
    return Verdict::kPrivate;
  }
  if (b[0] == 0xFF) {
    *why = "multicast";
    return Verdict::kNever;
  }
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) {
    *why = "link-local";
    return Verdict::kPrivate;
  }
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) {
    *why = "site-local";
    return Verdict::kPrivate;
  }
  if ((b[0] & 0xFE) == 0xFC) {
    *why = "unique-local";
    return Verdict::kPrivate;
  }
  if (b[0] == 0x01 && AllZero(b + 1, 7)) {
    *why = "discard-only";  // 100::/64
    return Verdict::kNever;
  }
  return Verdict::kPublic;
}

bool PrefixMatches(const std::uint8_t* address, const std::uint8_t* net, int prefix) {
  const int whole = prefix / 8;
  if (std::memcmp(address, net, static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (address[whole] & mask) == (net[whole] & mask);
}

bool HostBitsZero(const std::uint8_t* net, int prefix, int total_bytes) {
  for (int bit = prefix; bit < total_bytes * 8; ++bit) {
    if ((net[bit / 8] >> (7 - bit % 8)) & 1) return false;
  }
  return true;
}

Result<NetList::Net> ParseNet(std::string_view entry) {
  auto bad = [&](std::string_view rule) {
    return Fail(errc::kBadRequest,
                "allow-list entry \"" + std::string(entry) + "\": " + std::string(rule));
  };
  const std::size_t slash = entry.find('/');
  const std::string address(entry.substr(0, slash));
  NetList::Net net;
  if (::inet_pton(AF_INET, address.c_str(), net.bytes.data()) == 1) {
    net.family = AF_INET;
    net.prefix = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), net.bytes.data()) == 1) {
    net.family = AF_INET6;
    net.prefix = 128;
  } else {
    return bad("must be an IPv4 or IPv6 address with an optional /prefix (10.1.0.0/16)");
  }
  if (slash != std::string_view::npos) {
    const std::string_view digits = entry.substr(slash + 1);
    const int max = net.prefix;
    int prefix = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() ||
        end != digits.data() + digits.size() || prefix < 0 || prefix > max) {
      return bad(max == 32 ? "prefix length must be 0..32 for IPv4"
                           : "prefix length must be 0..128 for IPv6");
    }
    net.prefix = prefix;
  }
  if (!HostBitsZero(net.bytes.data(), net.prefix, net.family == AF_INET ? 4 : 16)) {
    return bad("has address bits set beyond the prefix (write the network address)");
  }
  return net;
}

std::string FormatNet(const NetList::Net& net) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(net.family, net.bytes.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(net.prefix);
}

}  // namespace

Result<NetList> ParseNetList(std::string_view text) {
  NetList list;
  auto is_sep = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  std::size_t i = 0;
  bool expect_entry = false;  // after a comma: an empty entry ("a,,b", "a,") is a typo
  while (i < text.size()) {
    if (text[i] == ',') {
      if (expect_entry || list.nets_.empty()) {
        return Fail(errc::kBadRequest, "allow-list: empty entry between commas");
      }
      expect_entry = true;
      ++i;
      continue;
    }
    if (is_sep(text[i])) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !is_sep(text[end])) ++end;
    auto net = ParseNet(text.substr(i, end - i));
    if (!net) return Fail(std::move(net.error()));
    list.nets_.push_back(*net);
    expect_entry = false;
    i = end;
  }
  if (expect_entry) return Fail(errc::kBadRequest, "allow-list: empty entry after a comma");
  for (const auto& net : list.nets_) {
    if (!list.canonical_.empty()) list.canonical_ += ',';
    list.canonical_ += FormatNet(net);
  }
  return list;
}

bool NetList::Contains(const sockaddr* address) const {
  if (address == nullptr) return false;
  std::uint8_t v4[4];
  std::uint8_t v6[16];
  bool have_v4 = false;
  bool have_v6 = false;
  if (address->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof in);
    std::memcpy(v4, &in.sin_addr.s_addr, 4);
    have_v4 = true;
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, address, sizeof in6);
    std::memcpy(v6, in6.sin6_addr.s6_addr, 16);
    have_v6 = true;
    if (AllZero(v6, 10) && v6[10] == 0xFF && v6[11] == 0xFF) {  // mapped: the same IPv4 host
      std::memcpy(v4, v6 + 12, 4);
      have_v4 = true;
    }
  }
  for (const Net& net : nets_) {
    if (net.family == AF_INET && have_v4 && PrefixMatches(v4, net.bytes.data(), net.prefix)) {
      return true;
    }
    if (net.family == AF_INET6 && have_v6 && PrefixMatches(v6, net.bytes.data(), net.prefix)) {
      return true;
    }
  }
  return false;
}

bool AddressAllowed(const sockaddr* address, bool allow_private, std::string* why) {
  return AddressAllowed(address, allow_private, nullptr, why);
}

bool AddressAllowed(const sockaddr* address, bool allow_private, const NetList* allow_nets,
                    std::string* why) {
  std::string reason;
  Verdict verdict = Verdict::kNever;
  if (address == nullptr) {
    reason = "no address";
  } else if (address->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, address, sizeof in);
    const auto* p = reinterpret_cast<const std::uint8_t*>(&in.sin_addr.s_addr);
    verdict = ClassifyV4(V4At(p), &reason);
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, address, sizeof in6);
    verdict = ClassifyV6(in6.sin6_addr.s6_addr, &reason);
  } else {
    reason = "unsupported address family";
  }
  const bool allowed =
      verdict == Verdict::kPublic ||
      (verdict == Verdict::kPrivate &&
       (allow_private || (allow_nets != nullptr && allow_nets->Contains(address))));
  if (why != nullptr) *why = allowed ? std::string() : reason;
  return allowed;
}

}  // namespace opsorch::net
