// Plain request/response values handed between the Beast server (src/http/) and the API layer.
// Nothing here includes Boost.Beast, so the API layer compiles without it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/loop.h>

namespace opsorch::http {

enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

// "GET", "POST", …; "OTHER" for kOther.
std::string_view MethodName(Method m);

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// The event loop a request is handled on (see common/loop.h).
using Loop = ::opsorch::Loop;

// Views point into the server's receive buffer and stay valid until the response is complete.
struct Request {
  Method method = Method::kGet;
  std::string_view method_text;  // as sent, e.g. "GET"
  std::string_view target;       // raw request target, e.g. "/incidents/a%2Fb?x=1"
  std::vector<HeaderField> headers;
  std::string_view body;
  std::string_view remote_address;
  bool tls = false;
  Loop* loop = nullptr;  // null when the request does not come from a server loop (tests)

  // First header with this name, compared case-insensitively; empty if absent.
  std::string_view Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  // Both views must outlive the response write (static strings, or owned by the Handler): they
  // are constant per server, so no response pays an allocation for them.
  std::string_view content_type;   // empty → no Content-Type header
  std::string_view fixed_headers;  // pre-rendered "Name: value\r\n" lines, written verbatim
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // per-response headers

  void AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// Called exactly once per request, on any thread.
using ResponseCallback = std::function<void(Response)>;

class Handler {
 public:
  virtual ~Handler() = default;
  // May call `done` before returning (the fast path) or later from another thread.
  virtual void Handle(const Request& request, ResponseCallback done) = 0;
  // The 413 for a request to `target` whose body exceeds the server's limit of `limit` bytes,
  // when the route answers errors in a format of its own; nullopt: the server's JSON error.
  // Called on the event loop; the connection is closed after the answer.
  virtual std::optional<Response> PayloadTooLarge(std::string_view /*target*/,
                                                  std::size_t /*limit*/) {
    return std::nullopt;
  }
};

}  // namespace opsorch::http
