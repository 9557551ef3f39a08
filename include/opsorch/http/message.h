// Plain request/response values handed between the Beast server (src/http/) and the API layer.
// Nothing here includes Boost.Beast, so the API layer compiles without it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opsorch::http {

enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };

struct HeaderField {
  std::string_view name;
  std::string_view value;
};

// Views point into the server's receive buffer and stay valid until the response is complete.
struct Request {
  Method method = Method::kGet;
  std::string_view method_text;  // as sent, e.g. "GET"
  std::string_view target;       // raw request target, e.g. "/incidents/a%2Fb?x=1"
  std::vector<HeaderField> headers;
  std::string_view body;
  std::string_view remote_address;
  bool tls = false;

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
};

}  // namespace opsorch::http
