// The request parser of the HTTP server, private to the http module (and its tests and fuzzer):
// Boost.Beast's basic_parser copying the request line and header fields into a reusable
// scratch area, plus the message-framing rules Beast leaves to its user (RFC 9112 §6).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

namespace opsorch::http {

struct Span {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
};

// Per-connection storage the parser fills; reused (capacity kept) from request to request.
struct RequestScratch {
  std::string store;  // request-line pieces and header fields, copied from the read buffer
  Span method;
  Span target;
  std::vector<std::pair<Span, Span>> fields;
  std::string body;
  boost::beast::http::verb verb = boost::beast::http::verb::unknown;
  int version = 11;
  bool expect_continue = false;
  // Why the header was refused by FramingError (empty: it was not); the 400's message.
  std::string refused;

  Span Append(std::string_view s) {
    Span span{static_cast<std::uint32_t>(store.size()), static_cast<std::uint32_t>(s.size())};
    store.append(s.data(), s.size());
    return span;
  }
  std::string_view View(Span s) const { return std::string_view(store).substr(s.offset, s.length); }
  void Clear(std::size_t max_retained_body);
};

// The framing rules a request must pass before its body is read, or why it does not:
// Transfer-Encoding only as exactly "chunked" (any other coding, or chunked not alone, would let
// a front end and this server disagree on where the body ends), not in HTTP/1.0 and not with a
// Content-Length; at most one Content-Length field with one value; exactly one Host in HTTP/1.1.
// Empty when the header is acceptable.
std::string FramingError(const RequestScratch& scratch);

// Obsolete line folding (a header line starting with SP or HTAB, RFC 9112 §5.2) in the raw
// bytes of a complete header block: refused, since intermediaries unfold it differently.
bool HasObsFold(std::string_view header_block);

// The parser's callbacks see views into the read buffer, which is consumed as parsing
// proceeds (and obs-folded values live on the parser's stack), hence the copy into `store`.
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit RequestParser(RequestScratch& scratch) : scratch_(scratch) {}

 private:
  void on_request_impl(boost::beast::http::verb verb, boost::beast::string_view method,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code&) override;
  void on_response_impl(int, boost::beast::string_view, int,
                        boost::beast::error_code& ec) override;
  void on_field_impl(boost::beast::http::field field, boost::beast::string_view name,
                     boost::beast::string_view value, boost::beast::error_code&) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         boost::beast::error_code&) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code&) override;
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 boost::beast::error_code&) override;
  void on_finish_impl(boost::beast::error_code&) override {}

  RequestScratch& scratch_;
};

// Outcome of ParseRequest, for tests and the fuzzer: one request parsed from `bytes` as the
// server would (header and body limits, framing rules).
struct ParsedRequest {
  bool complete = false;  // a whole request was parsed
  std::string error;      // why it was refused (empty: not refused)
  std::size_t consumed = 0;
  RequestScratch scratch;
};
ParsedRequest ParseRequest(std::string_view bytes, std::size_t header_limit,
                           std::size_t body_limit);

}  // namespace opsorch::http
