#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/strings.h>

// basic_parser with our own handler; this is the only translation unit that compiles it.
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

#include <opsorch/common/error.h>

namespace opsorch {
namespace {

namespace bj = boost::json;

// Builds the value like Boost.JSON's own parser, except for numbers: a literal that is not an
// exact integer is re-read with std::from_chars, which is correctly rounded.
class Handler {
 public:
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  Handler(bj::storage_ptr sp, unsigned char* temp, std::size_t temp_size)
      : st(std::move(sp), temp, temp_size) {}

  bj::value_stack st;
  std::string number;        // earlier parts of a number split across writes
  std::string out_of_range;  // the literal that overflowed a double, for the message

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_object_begin(bj::error_code&) { return true; }
  bool on_object_end(std::size_t n, bj::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(bj::error_code&) { return true; }
  bool on_array_end(std::size_t n, bj::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view s, bj::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, bj::string_view s, bj::error_code&) {
    // Go reads every free-form number as a float64, so `-0` keeps its sign; an integer field
    // still accepts it (schema codec).
    const bool negative_zero = i == 0 && ((!number.empty() && number.front() == '-') ||
                                          (number.empty() && !s.empty() && s.front() == '-'));
    number.clear();
    if (negative_zero) {
      st.push_double(-0.0);
    } else {
      st.push_int64(i);
    }
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, bj::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double approx, bj::string_view s, bj::error_code& ec) {
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
      number.append(s.data(), s.size());
      text = number;
    }
    double d = 0;
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (err == std::errc::result_out_of_range) {
      if (std::isinf(approx) || std::fabs(approx) >= 1.0) {
        out_of_range = std::string(text);
        ec = bj::error::exponent_overflow;
        return false;
      }
      d = text.front() == '-' ? -0.0 : 0.0;  // underflow: Go reads it as zero
    } else if (err != std::errc() || end != text.data() + text.size()) {
      d = approx;  // cannot happen for a literal the parser accepted; keep its reading
    }
    number.clear();
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }
};

// `offset` is where the error is reported; `window` the text parsed in this call and `at` the
// error's position in it.
Error ParseError(const bj::error_code& ec, const Handler& h, const JsonParseOptions& options,
                 std::size_t offset, std::string_view window, std::size_t at) {
  // Boost.JSON calls a malformed UTF-8 sequence a syntax error: say what it is.
  if (const std::size_t bad = FirstInvalidUtf8(window.substr(0, at + 4));
      ec != bj::error::incomplete && bad != std::string_view::npos && bad <= at) {
    return MakeError(errc::kBadRequest, "json: invalid UTF-8 at offset " +
                                            std::to_string(offset - at + bad) +
                                            " (JSON text must be UTF-8)");
  }
  const std::size_t max_depth = options.max_depth;
  if (ec == bj::error::too_deep) {
    return MakeError(errc::kBadRequest,
                     "json: nesting exceeds the limit of " + std::to_string(max_depth) + " levels");
  }
  if (ec == bj::error::incomplete) return MakeError(errc::kBadRequest, "unexpected EOF");
  if (!h.out_of_range.empty()) {
    if (!options.quote_values_in_errors) {
      return MakeError(errc::kBadRequest, "json: a number at offset " + std::to_string(offset) +
                                              " is out of the range of a float64");
    }
    return MakeError(errc::kBadRequest,
                     "json: number " + h.out_of_range + " is out of the range of a float64");
  }
  return MakeError(errc::kBadRequest,
                   "json: " + ec.message() + " at offset " + std::to_string(offset));
}

bj::parse_options ToBoost(const JsonParseOptions& options) {
  bj::parse_options po;
  po.max_depth = options.max_depth;
  po.allow_invalid_utf8 = false;
  return po;
}

}  // namespace

Result<JsonValue> ParseJson(std::string_view text, const JsonParseOptions& options) {
  // Scratch space for the value stack; most request bodies never need more.
  unsigned char temp[1024];
  bj::basic_parser<Handler> parser(ToBoost(options), options.storage, temp, sizeof temp);
  parser.handler().st.reset(options.storage);
  bj::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return Fail(ParseError(ec, parser.handler(), options, used, text, used));
  if (!options.allow_trailing_data) {
    for (std::size_t i = used; i < text.size(); ++i) {
      const char c = text[i];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return Fail(errc::kBadRequest,
                    "json: invalid character after top-level value at offset " + std::to_string(i));
      }
    }
  }
  return parser.handler().st.release();
}

struct JsonStreamReader::Impl {
  explicit Impl(const JsonParseOptions& o) : options(o), parser(ToBoost(o), o.storage, nullptr, 0) {
    parser.handler().st.reset(options.storage);
  }
  JsonParseOptions options;
  bj::basic_parser<Handler> parser;
  std::size_t offset = 0;  // bytes consumed for the current value, for messages
  bool started = false;
};

JsonStreamReader::JsonStreamReader(const JsonParseOptions& options)
    : impl_(std::make_unique<Impl>(options)) {}
JsonStreamReader::~JsonStreamReader() = default;

Result<std::size_t> JsonStreamReader::Feed(std::string_view data) {
  Impl& m = *impl_;
  std::size_t skipped = 0;
  if (!m.started) {  // whitespace between values is not part of any value
    while (skipped < data.size() && (data[skipped] == ' ' || data[skipped] == '\n' ||
                                     data[skipped] == '\r' || data[skipped] == '\t')) {
      ++skipped;
    }
    if (skipped == data.size()) return skipped;
    m.started = true;
  }
  bj::error_code ec;
  const std::size_t used =
      m.parser.write_some(true, data.data() + skipped, data.size() - skipped, ec);
  if (ec) {
    return Fail(
        ParseError(ec, m.parser.handler(), m.options, m.offset + used, data.substr(skipped), used));
  }
  m.offset += used;
  return skipped + used;
}

bool JsonStreamReader::Done() const { return impl_->parser.done(); }
bool JsonStreamReader::InValue() const { return impl_->started && !impl_->parser.done(); }

JsonValue JsonStreamReader::Take() {
  JsonValue v = impl_->parser.handler().st.release();
  Reset();
  return v;
}

void JsonStreamReader::Reset() {
  Impl& m = *impl_;
  m.parser.reset();
  m.parser.handler().st.reset(m.options.storage);
  m.parser.handler().number.clear();
  m.parser.handler().out_of_range.clear();
  m.offset = 0;
  m.started = false;
}

}  // namespace opsorch
