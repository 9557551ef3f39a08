// Outbound HTTP for workflow steps (libcurl). A step names a host id from the bootstrap and a
// path; everything else — scheme, authority, base path, headers, what may be called — comes
// from the bootstrap. The checks hold against an untrusted path:
//   - the URL is built from the host's base URL and the path (never by string concatenation that
//     could move the authority: "@evil", "//evil", "\\evil", control characters are refused),
//     dot segments are resolved and unreserved percent-escapes decoded before the allowlist is
//     matched, and the base path cannot be escaped;
//   - the allowlist (method + path pattern) is checked on that normalised URL and again on every
//     redirect hop (redirects are followed here, not by libcurl; a hop to another origin is
//     refused);
//   - the address libcurl is about to connect to is checked (CURLOPT_OPENSOCKETFUNCTION), so
//     DNS answers, rebinding, and odd spellings (2130706433, 0177.0.0.1, 0x7f.1, [::ffff:7f00:1])
//     are judged by the address actually used: loopback, link-local (169.254.0.0/16 incl. the
//     metadata address, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7), CGNAT
//     (100.64/10), unspecified, multicast and broadcast are denied unless the host allows them;
//   - timeouts (connect and total) and a response size cap.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

namespace fetch_errc {
inline constexpr ErrorCode kNotAllowed = ErrorCode::kNotAllowed;        // allowlist / URL shape
inline constexpr ErrorCode kAddressDenied = ErrorCode::kAddressDenied;  // SSRF address check
inline constexpr ErrorCode kConnectFailed = ErrorCode::kConnectFailed;  // DNS, refused, TLS
inline constexpr ErrorCode kTimeout = ErrorCode::kTimeout;
inline constexpr ErrorCode kTooLarge = ErrorCode::kResponseTooLarge;
inline constexpr ErrorCode kTooManyRedirects = ErrorCode::kTooManyRedirects;  // > max_redirects
}  // namespace fetch_errc

// Longest path (with query) a workflow may pass.
inline constexpr std::size_t kMaxPathBytes = 8192;

// One allowlist entry. `method` is upper-case or "*". `path` is a pattern over the normalised
// path relative to the host's base path (what the workflow appends; "/" for the base itself),
// never the query: `*` matches a possibly empty run within one segment (no '/'), `**` matches
// any run of characters including '/'; everything else is literal. "/api/**" allows "/api/x/y"
// but not "/api" (list both if both are wanted). Patterns are written in normalised form:
// unreserved characters plain, other escapes upper-case ("%20").
struct AllowRule {
  std::string method;
  std::string path;
};

struct HostPolicy {
  std::string id;
  std::string base_url;  // http(s)://host[:port][/base/path]; validated by ValidateBaseUrl
  Headers headers;       // added to every call (after the step's own, replacing same names)
  std::optional<std::vector<AllowRule>> allow;  // nullopt: any method and path
  bool allow_private = false;  // permit loopback/private/link-local addresses for this host
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{30000};
  std::size_t max_response_bytes = 16u << 20;
  int max_redirects = 5;
};

struct FetchRequest {
  std::string method = "GET";
  std::string path;  // path and optional ?query, relative to the host's base path
  Headers headers;
  std::string body;
};

struct FetchResponse {
  int status = 0;
  Headers headers;
  std::string body;
  std::string url;  // final URL after redirects — for our logs only, never shown to scripts
};

// "http(s)://host[:port][/path]" without userinfo, query or fragment: bad_request naming the rule.
Status ValidateBaseUrl(std::string_view base_url);

// The normalised absolute URL for `path` on `host`, or not_allowed naming the rule. Checks the
// URL shape only (not the allowlist). `path` is "" or starts with '/' or '?'; at most
// kMaxPathBytes. Normalisation: scheme and host lower-case, default port dropped, escapes
// upper-case, unreserved escapes decoded, dot segments resolved below the base path (climbing
// above it is refused), bytes >= 0x80 and "<>{}|^`[]\"" escaped. Refused: control characters,
// spaces, '\', '#', "//", malformed escapes, encoded '/', '\' or control characters in the path,
// "..;x"-style segments.
Result<std::string> BuildUrl(const HostPolicy& host, std::string_view path);

// The allowlist check on a normalised absolute URL of `host`: not_allowed naming method and path.
Status CheckAllowed(const HostPolicy& host, std::string_view method, std::string_view url);

// The normalised URL a redirect from `current_url` (a URL of `host`) to `location` leads to:
// resolved per RFC 3986, same origin as the host and inside its base path, else not_allowed.
// The allowlist is not checked here.
Result<std::string> ResolveRedirect(const HostPolicy& host, std::string_view current_url,
                                    std::string_view location);

// True when `pattern` (AllowRule::path syntax) matches `path`. Linear in the path length.
bool PathMatches(std::string_view pattern, std::string_view path);

// The address rule is net::AddressAllowed (opsorch/net/http_client.h).

struct FetcherOptions {
  std::size_t max_idle_connections = 64;  // idle easy handles kept (each keeps <= 2 connections)
};

// Thread-safe: each call checks out a libcurl easy handle of its own (concurrent calls never
// share one) and returns it for reuse, so kept-alive connections live on. Idle handles are
// pooled per (host id, allow_private, origin): a connection opened under one host's policy is
// never offered to a call made under another policy. The address is checked when a socket is
// opened and again before every request, including on a reused connection.
class HttpFetcher {
 public:
  static Result<std::unique_ptr<HttpFetcher>> Create(const FetcherOptions& options = {});
  virtual ~HttpFetcher() = default;
  // `request.method` is upper-case letters. A workflow may not set Host or framing/hop-by-hop
  // headers (Content-Length, Transfer-Encoding, Connection, Expect, ...). `host.timeout` bounds
  // the whole call including redirect hops; redirects follow RFC 9110 (303, and 301/302 after
  // POST, become GET without body). Errors: fetch_errc codes (bad input is not_allowed), with
  // a message that names the host id, the path (never the query) and the rule, but never the
  // host's URL, header values or the address (scripts and logs see it).
  virtual Result<FetchResponse> Fetch(const HostPolicy& host, const FetchRequest& request) = 0;
};

}  // namespace opsorch::workflow
