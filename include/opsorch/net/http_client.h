// The one way out: every outbound HTTP call opsorch makes (workflow steps, workflow metric
// outputs, remote workflow configs, and the notification senders built on it) goes through
// HttpClient, so every one of them is checked by the same address rule and has the same limits.
//
// The address rule (SSRF) is applied to the address libcurl actually connects to — when a socket
// is opened and again before every request, including on a kept-alive connection — never to the
// spelling in a URL, which DNS or a numeric-host parser may turn into anything. Callers check the
// URL itself (scheme, allowlists) before calling; redirects are not followed here, so a caller
// that follows them sees and checks every hop.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include <opsorch/common/result.h>

namespace opsorch::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The SSRF address rule; `why` says which range denied it ("loopback", "link-local", …).
// IPv4 embedded in IPv6 (mapped ::ffff:0:0/96, compatible ::/96, NAT64 64:ff9b::/96, 6to4
// 2002::/16) is judged as that IPv4 address. allow_private permits loopback, private, link-local,
// CGNAT, unique-local and NAT64 local-use ranges; unspecified, multicast, broadcast and reserved
// (240/4) addresses are never allowed.
bool AddressAllowed(const sockaddr* address, bool allow_private, std::string* why);

// An operator's allow-list of networks (OPSORCH_OUTBOUND_ALLOW_NETS): loopback, private and
// link-local peers inside one of them are allowed without allow_private, so a notification can
// reach a receiver on 10.1.2.3 without opening every private range. Immutable once parsed; shared
// by requests through a shared_ptr so copying a request stays cheap.
class NetList {
 public:
  struct Net {
    int family = 0;                        // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};  // network address (IPv4 in the first 4 bytes)
    int prefix = 0;                        // bits
  };

  bool empty() const { return nets_.empty(); }
  const std::vector<Net>& nets() const { return nets_; }
  // Whether `address` lies in one of the nets. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d, what a
  // dual-stack socket reports for an IPv4 connection) is matched as its IPv4 address; the other
  // IPv4-in-IPv6 forms (NAT64, 6to4, …) reach a different host and must be listed as IPv6.
  bool Contains(const sockaddr* address) const;
  // Canonical text ("10.1.0.0/16,::1/128"): equal lists, equal text (the connection pool key).
  const std::string& canonical() const { return canonical_; }

 private:
  friend Result<NetList> ParseNetList(std::string_view text);
  std::vector<Net> nets_;
  std::string canonical_;
};

// "127.0.0.0/8, ::1/128, 10.1.0.0/16": CIDRs separated by commas and/or whitespace; a bare
// address is a single host (/32, /128); blank text is the empty list. Host bits beyond the prefix
// are refused (a typo like 10.1.2.3/16 more likely means something else). Errors (kBadRequest)
// name the entry and the rule.
Result<NetList> ParseNetList(std::string_view text);

// The address rule with an allow-list: a private-class peer (loopback, private, link-local, …) is
// allowed when allow_private is set or it lies in `allow_nets`. Never-allowed ranges
// (unspecified, multicast, broadcast, reserved) stay refused even when listed.
bool AddressAllowed(const sockaddr* address, bool allow_private, const NetList* allow_nets,
                    std::string* why);

struct OutboundRequest {
  std::string method = "GET";  // upper-case
  std::string url;             // absolute http(s) URL, already checked by the caller
  Headers headers;             // no CR, LF or NUL in names or values
  std::string_view body;       // sent when not empty, and always for POST, PUT and PATCH
  // The address rule's one switch: loopback/private/link-local peers allowed. Set only for
  // destinations an operator configured (a collector on localhost), never for ones a caller of
  // the API or a workflow chose.
  bool allow_private = false;
  // Operator-listed networks whose private-class peers are allowed too (see NetList). Null or
  // empty: none.
  std::shared_ptr<const NetList> allow_nets;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{30000};  // the whole call
  std::size_t max_response_bytes = 16u << 20;
  bool keep_body = true;  // false: the response body is read and dropped (still size-checked)
  // When set and true, the transfer stops (shutdown); the call fails with kUnavailable.
  const std::atomic<bool>* abort = nullptr;
  // Idle connections are reused only by calls with the same key, allow_private and allow_nets
  // content: a connection opened under one policy is never offered to a call made under another.
  std::string pool_key;
};

struct OutboundResponse {
  int status = 0;
  Headers headers;  // the final response's (after 1xx)
  std::string body;
};

struct ClientOptions {
  std::size_t max_idle_handles = 64;  // idle libcurl handles kept (each keeps <= 2 connections)
};

// Thread-safe: each call checks out a libcurl handle of its own and returns it for reuse, so
// kept-alive connections live on. Never a proxy from the environment, http and https only,
// TLS peers verified, no signals.
class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> Create(const ClientOptions& options = {});
  virtual ~HttpClient() = default;

  // The response, whatever its status. Errors (messages name the rule, never the URL or a
  // header value: they reach logs and scripts): kAddressDenied "address denied (loopback)",
  // kTimeout, kResponseTooLarge, kConnectFailed (DNS, refused, TLS: libcurl's fixed text for its
  // code), kUnavailable (aborted), kBadRequest (a header with CR/LF/NUL), kInternal.
  virtual Result<OutboundResponse> Perform(const OutboundRequest& request) = 0;
};

}  // namespace opsorch::net
