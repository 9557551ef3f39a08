// URL shape and allowlist checks for outbound workflow calls. The path comes from an untrusted
// workflow, so it is parsed by hand with a closed character set rather than handed to a general
// URL parser that might accept (and later re-interpret) more than we check.
#include <algorithm>
#include <cctype>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <opsorch/common/strings.h>
#include <opsorch/workflow/http_fetch.h>

#include "workflow/net/url_internal.h"

namespace opsorch::workflow {
namespace {

constexpr std::size_t kMaxBaseUrl = 2048;

std::string_view Sv(boost::core::string_view s) { return {s.data(), s.size()}; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// Printable ASCII with no delimiter meaning in a path or query; browsers escape them, so do we.
bool NeedsEscape(unsigned char c) {
  return c >= 0x80 ||
         std::string_view("\"<>[]^`{|}").find(static_cast<char>(c)) != std::string_view::npos;
}

void AppendEscaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 0xF];
}

tl::unexpected<Error> Refuse(std::string rule) {
  return Fail(fetch_errc::kNotAllowed, std::move(rule));
}

// Canonical form of one path or query component: escapes checked and upper-cased, unreserved
// escapes decoded (in the path only) so "%2e%2e" is seen as "..", unsafe bytes escaped.
// Encoded '/', '\' and control characters are refused: upstream servers that decode them
// before routing would otherwise see segments our matcher never saw.
Result<std::string> Canonicalise(std::string_view in, bool is_path) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c <= 0x20 || c == 0x7f) return Refuse("control character or space in path");
    if (c == '\\') return Refuse("backslash in path");
    if (c == '#') return Refuse("fragment ('#') in path");
    if (c == '%') {
      if (i + 2 >= in.size()) return Refuse("malformed percent-escape");
      const int h = HexValue(in[i + 1]);
      const int l = HexValue(in[i + 2]);
      if (h < 0 || l < 0) return Refuse("malformed percent-escape");
      const auto v = static_cast<unsigned char>(h * 16 + l);
      if (v < 0x20 || v == 0x7f) return Refuse("encoded control character in path");
      if (is_path && (v == '/' || v == '\\')) return Refuse("encoded '/' or '\\' in path");
      if (is_path && IsUnreserved(v)) {
        out += static_cast<char>(v);
      } else {
        AppendEscaped(out, v);
      }
      i += 2;
      continue;
    }
    if (NeedsEscape(c)) {
      AppendEscaped(out, c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Resolves dot segments of a canonical path ("" or starting with '/') without ever climbing
// above its root, which stands for the host's base path.
Result<std::string> ResolveDots(std::string_view path) {
  if (path.empty()) return std::string();
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  std::size_t pos = 1;
  while (true) {
    const std::size_t slash = path.find('/', pos);
    const std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    const bool last = slash == std::string_view::npos;
    const std::string_view bare = seg.substr(0, seg.find(';'));
    if (seg.empty() && !last) return Refuse("empty path segment ('//')");
    if (bare != seg && (bare == "." || bare == "..")) {
      // Tomcat-style servers treat "..;x" as ".."; we cannot know, so refuse.
      return Refuse("dot segment with parameters in path");
    }
    if (seg == ".") {
      trailing_slash = last;
    } else if (seg == "..") {
      if (segments.empty()) return Refuse("path escapes the base path");
      segments.pop_back();
      trailing_slash = last;
    } else if (seg.empty()) {
      trailing_slash = true;
    } else {
      segments.push_back(seg);
      trailing_slash = false;
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string out;
  for (const auto seg : segments) {
    out += '/';
    out += seg;
  }
  if (trailing_slash || out.empty()) out += '/';
  return out;
}

struct RelativeParts {
  std::string path;   // "" or "/..."
  std::string query;  // "" or "?..."
};

Result<RelativeParts> NormaliseRelative(std::string_view input) {
  if (input.size() > kMaxPathBytes) {
    return Refuse("path longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  const std::size_t q = input.find('?');
  const std::string_view raw_path = input.substr(0, q);
  // Character checks first, so "\evil" is reported as a backslash rather than a missing '/'.
  auto path = Canonicalise(raw_path, true);
  if (!path) return Fail(path.error());
  if (!raw_path.empty() && raw_path.front() != '/') return Refuse("path must start with '/'");
  if (raw_path.starts_with("//")) return Refuse("path must not start with '//' (authority)");
  RelativeParts out;
  auto resolved = ResolveDots(*path);
  if (!resolved) return Fail(resolved.error());
  out.path = std::move(*resolved);
  if (q != std::string_view::npos) {
    auto query = Canonicalise(input.substr(q + 1), false);
    if (!query) return Fail(query.error());
    out.query = "?" + *query;
  }
  return out;
}

std::string DefaultPort(std::string_view scheme) { return scheme == "https" ? "443" : "80"; }

// The canonical port for a URL ("" for the scheme's default), or "invalid". Boost's
// port_number() wraps above 65535 ("65616" reads as 80), so the digits are read here.
std::string PortString(std::string_view scheme, std::string_view digits) {
  unsigned long port = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return "invalid";
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) return "invalid";
  }
  if (digits.empty() || port == 0) return "invalid";
  const std::string number = std::to_string(port);
  return number == DefaultPort(scheme) ? std::string() : number;
}

std::string JoinUrl(const url::BaseParts& base, const RelativeParts& rel) {
  std::string path = base.path + rel.path;
  if (path.empty()) path = "/";
  return base.Origin() + path + rel.query;
}

}  // namespace

namespace url {

Result<BaseParts> ParseBase(std::string_view base_url) {
  auto bad = [](std::string rule) { return Fail(errc::kBadRequest, "base_url: " + rule); };
  if (base_url.size() > kMaxBaseUrl) return bad("longer than 2048 bytes");
  try {
    // parse_uri (not parse_absolute_uri) so a fragment is named as such.
    auto parsed = boost::urls::parse_uri({base_url.data(), base_url.size()});
    if (!parsed) return bad("not an absolute URL");
    const boost::urls::url_view& u = *parsed;
    BaseParts out;
    out.scheme = ToLower(Sv(u.scheme()));
    if (out.scheme != "http" && out.scheme != "https") return bad("scheme must be http or https");
    if (!u.has_authority()) return bad("missing host");
    if (u.has_userinfo()) return bad("userinfo ('user@') is not allowed");
    if (u.host_type() == boost::urls::host_type::ipvfuture) return bad("IPvFuture host");
    out.host = ToLower(Sv(u.encoded_host()));
    if (out.host.empty()) return bad("missing host");
    if (out.host.find('%') != std::string::npos) return bad("percent-escape in host");
    if (u.has_port()) {
      const std::string port = PortString(out.scheme, Sv(u.port()));
      if (port == "invalid") return bad("invalid port");
      out.port = port;
    }
    if (u.has_query()) return bad("query is not allowed");
    if (u.has_fragment()) return bad("fragment is not allowed");
    auto rel = NormaliseRelative(Sv(u.encoded_path()));
    if (!rel) return bad("path: " + rel.error().message);
    out.path = rel->path;
    while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
    return out;
  } catch (const std::exception&) {
    return bad("cannot be parsed");
  }
}

Result<std::string> RelativePath(const BaseParts& base, std::string_view url) {
  try {
    auto parsed = boost::urls::parse_absolute_uri({url.data(), url.size()});
    if (!parsed) return Refuse("not an absolute URL");
    const boost::urls::url_view& u = *parsed;
    const std::string scheme = ToLower(Sv(u.scheme()));
    const std::string port = u.has_port() ? PortString(scheme, Sv(u.port())) : "";
    if (scheme != base.scheme || ToLower(Sv(u.encoded_host())) != base.host || port != base.port ||
        u.has_userinfo()) {
      return Refuse("URL is not on the host's origin");
    }
    const std::string_view path = Sv(u.encoded_path());
    if (!path.starts_with(base.path) ||
        (path.size() > base.path.size() && path[base.path.size()] != '/')) {
      return Refuse("URL is outside the host's base path");
    }
    std::string rel(path.substr(base.path.size()));
    if (rel.empty()) rel = "/";
    return rel;
  } catch (const std::exception&) {
    return Refuse("URL cannot be parsed");
  }
}

}  // namespace url

Status ValidateBaseUrl(std::string_view base_url) {
  auto parts = url::ParseBase(base_url);
  if (!parts) return Fail(parts.error());
  return Ok();
}

Result<std::string> BuildUrl(const HostPolicy& host, std::string_view path) {
  auto base = url::ParseBase(host.base_url);
  if (!base) return Refuse("host base_url invalid (" + base.error().message + ")");
  auto rel = NormaliseRelative(path);
  if (!rel) return Fail(rel.error());
  return JoinUrl(*base, *rel);
}

Status CheckAllowed(const HostPolicy& host, std::string_view method, std::string_view url) {
  if (method.empty() || method.size() > 32 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Refuse("method must be upper-case letters");
  }
  auto base = url::ParseBase(host.base_url);
  if (!base) return Refuse("host base_url invalid (" + base.error().message + ")");
  auto rel = url::RelativePath(*base, url);
  if (!rel) return Fail(rel.error());
  // Re-normalise so a caller passing a non-normalised URL cannot match a rule it should not.
  auto norm = NormaliseRelative(*rel);
  if (!norm) return Fail(norm.error());
  if (!host.allow) return Ok();
  for (const AllowRule& rule : *host.allow) {
    if ((rule.method == "*" || rule.method == method) && PathMatches(rule.path, norm->path)) {
      return Ok();
    }
  }
  return Refuse("no allow rule matches " + std::string(method) + " " + norm->path);
}

Result<std::string> ResolveRedirect(const HostPolicy& host, std::string_view current_url,
                                    std::string_view location) {
  auto base = url::ParseBase(host.base_url);
  if (!base) return Refuse("host base_url invalid (" + base.error().message + ")");
  try {
    while (!location.empty() && (location.back() == ' ' || location.back() == '\t')) {
      location.remove_suffix(1);
    }
    auto current = boost::urls::parse_absolute_uri({current_url.data(), current_url.size()});
    if (!current) return Refuse("redirect: current URL cannot be parsed");
    auto ref = boost::urls::parse_uri_reference({location.data(), location.size()});
    if (!ref) return Refuse("redirect Location is not a valid URI reference");
    boost::urls::url dest;
    if (!boost::urls::resolve(*current, *ref, dest)) {
      return Refuse("redirect Location cannot be resolved");
    }
    dest.remove_fragment();
    auto rel = url::RelativePath(
        *base, dest.buffer().data() == nullptr
                   ? std::string_view()
                   : std::string_view(dest.buffer().data(), dest.buffer().size()));
    if (!rel) return Refuse("redirect: " + rel.error().message);
    std::string relative = *rel;
    if (dest.has_query()) relative += "?" + std::string(Sv(dest.encoded_query()));
    auto rebuilt = BuildUrl(host, relative);
    if (!rebuilt) return Refuse("redirect: " + rebuilt.error().message);
    return rebuilt;
  } catch (const std::exception&) {
    return Refuse("redirect Location cannot be parsed");
  }
}

// NFA simulation over the pattern's positions: O(|pattern| * |path|) time, no backtracking, so
// an adversarial path cannot make matching blow up.
bool PathMatches(std::string_view pattern, std::string_view path) {
  enum class Kind : unsigned char { kLiteral, kStar, kDoubleStar };
  struct Token {
    Kind kind;
    char c;
  };
  std::vector<Token> tokens;
  tokens.reserve(pattern.size());
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '*') {
      tokens.push_back({Kind::kLiteral, pattern[i]});
    } else if (i + 1 < pattern.size() && pattern[i + 1] == '*') {
      while (i + 1 < pattern.size() && pattern[i + 1] == '*') ++i;  // "***" is "**"
      tokens.push_back({Kind::kDoubleStar, 0});
    } else {
      tokens.push_back({Kind::kStar, 0});
    }
  }
  const std::size_t n = tokens.size();
  std::vector<char> current(n + 1, 0);
  std::vector<char> next(n + 1, 0);
  // Stars match the empty string: a state in front of a star also stands behind it.
  auto close = [&](std::vector<char>& states) {
    for (std::size_t i = 0; i < n; ++i) {
      if (states[i] && tokens[i].kind != Kind::kLiteral) states[i + 1] = 1;
    }
  };
  current[0] = 1;
  close(current);
  for (const char c : path) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!current[i]) continue;
      switch (tokens[i].kind) {
        case Kind::kLiteral:
          if (tokens[i].c == c) {
            next[i + 1] = 1;
            any = true;
          }
          break;
        case Kind::kStar:
          if (c != '/') {
            next[i] = 1;
            any = true;
          }
          break;
        case Kind::kDoubleStar:
          next[i] = 1;
          any = true;
          break;
      }
    }
    if (!any) return false;
    close(next);
    current.swap(next);
  }
  return current[n] != 0;
}

}  // namespace opsorch::workflow
