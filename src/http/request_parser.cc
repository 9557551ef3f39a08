#include "http/request_parser.h"

#include <algorithm>
#include <limits>

#include <boost/beast/http/error.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/field.hpp>

#include <opsorch/common/strings.h>

namespace opsorch::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

void RequestScratch::Clear(std::size_t max_retained_body) {
  store.clear();
  fields.clear();
  expect_continue = false;
  verb = bhttp::verb::unknown;
  version = 11;
  refused.clear();
  if (body.capacity() > max_retained_body) {
    std::string().swap(body);
  } else {
    body.clear();
  }
}

std::string FramingError(const RequestScratch& scratch) {
  int hosts = 0, lengths = 0, encodings = 0;
  bool length_list = false;
  // Transfer codings of every Transfer-Encoding line, in order.
  std::vector<std::string_view> codings;
  for (const auto& [n, v] : scratch.fields) {
    const std::string_view name = scratch.View(n);
    const std::string_view value = scratch.View(v);
    if (EqualsIgnoreCase(name, "Host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "Content-Length")) {
      ++lengths;
      if (value.find(',') != std::string_view::npos) length_list = true;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      ++encodings;
      std::string_view rest = value;
      while (true) {
        const std::size_t comma = rest.find(',');
        codings.push_back(TrimSpace(rest.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
  }
  if (lengths > 1 || length_list) return "more than one Content-Length";
  if (encodings > 0) {
    if (scratch.version < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (lengths > 0) return "both Content-Length and Transfer-Encoding";
    if (codings.size() != 1 || !EqualsIgnoreCase(codings.front(), "chunked")) {
      return "unsupported Transfer-Encoding (only \"chunked\" is accepted)";
    }
  }
  if (scratch.version >= 11 && hosts == 0) return "missing Host header";
  if (hosts > 1) return "more than one Host header";
  return {};
}

bool HasObsFold(std::string_view block) {
  for (std::size_t i = block.find('\n'); i != std::string_view::npos && i + 1 < block.size();
       i = block.find('\n', i + 1)) {
    const char next = block[i + 1];
    if (next == ' ' || next == '\t') return true;
  }
  return false;
}

void RequestParser::on_request_impl(bhttp::verb verb, beast::string_view method,
                                    beast::string_view target, int version, beast::error_code&) {
  scratch_.verb = verb;
  scratch_.version = version;
  scratch_.method = scratch_.Append(std::string_view(method.data(), method.size()));
  scratch_.target = scratch_.Append(std::string_view(target.data(), target.size()));
}

void RequestParser::on_response_impl(int, beast::string_view, int, beast::error_code& ec) {
  ec = bhttp::error::bad_version;  // unreachable for a request parser
}

void RequestParser::on_field_impl(bhttp::field field, beast::string_view name,
                                  beast::string_view value, beast::error_code&) {
  // Trailer fields (after a chunked body) are dropped: the server hands out views into `store`
  // once the header is complete, and appending to it now could move it from under them.
  if (is_header_done()) return;
  const std::string_view v(value.data(), value.size());
  if (field == bhttp::field::expect && EqualsIgnoreCase(TrimSpace(v), "100-continue")) {
    scratch_.expect_continue = true;
  }
  Span n = scratch_.Append(std::string_view(name.data(), name.size()));
  Span s = scratch_.Append(v);
  scratch_.fields.emplace_back(n, s);
}

void RequestParser::on_header_impl(beast::error_code& ec) {
  scratch_.refused = FramingError(scratch_);
  if (!scratch_.refused.empty()) ec = bhttp::error::bad_field;
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& length,
                                      beast::error_code&) {
  // The parser has already checked Content-Length against body_limit.
  if (length) scratch_.body.reserve(static_cast<std::size_t>(*length));
}

std::size_t RequestParser::on_body_impl(beast::string_view body, beast::error_code&) {
  scratch_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, beast::string_view extensions,
                                         beast::error_code& ec) {
  // Beast takes any byte inside a quoted extension value, a bare LF included; a front end that
  // ends the chunk line there would see another body. Control characters other than HTAB are
  // not allowed in an extension (RFC 9112 §7.1.1: quoted-string).
  for (const char c : extensions) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) {
      ec = bhttp::error::bad_chunk_extension;
      return;
    }
  }
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                              beast::error_code&) {
  scratch_.body.append(body.data(), body.size());
  return body.size();
}

ParsedRequest ParseRequest(std::string_view bytes, std::size_t header_limit,
                           std::size_t body_limit) {
  ParsedRequest out;
  RequestParser parser(out.scratch);
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(header_limit, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(static_cast<std::uint64_t>(body_limit));
  beast::error_code ec;
  std::size_t n = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (!ec && parser.is_header_done() && HasObsFold(bytes.substr(0, n))) {
    out.error = "obsolete line folding in a header";
    return out;
  }
  out.consumed = n;
  if (ec == bhttp::error::need_more) return out;
  if (!ec && !parser.is_done()) {
    parser.eager(true);
    while (!ec && !parser.is_done() && out.consumed < bytes.size()) {
      n = parser.put(boost::asio::buffer(bytes.data() + out.consumed, bytes.size() - out.consumed),
                     ec);
      out.consumed += n;
      if (ec == bhttp::error::need_more) return out;
      if (n == 0 && !ec) break;
    }
  }
  if (ec) {
    out.error = !out.scratch.refused.empty() ? out.scratch.refused : ec.message();
    return out;
  }
  out.complete = parser.is_done();
  return out;
}

}  // namespace opsorch::http
