// The one JSON reader of opsorch. It wraps Boost.JSON's parser so that numbers are read
// correctly rounded (Boost.JSON 1.81 is off by an ULP for about one 17-digit literal in ten,
// which made metric values and metadata drift in transit) and a number outside the range of a
// double is an error, as in Go, instead of becoming infinity.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include <boost/json/storage_ptr.hpp>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

namespace opsorch {

struct JsonParseOptions {
  std::size_t max_depth = 64;
  // Go's json.Decoder reads the first value and leaves the rest; whole documents (files,
  // env vars) must not have anything after the value.
  bool allow_trailing_data = false;
  boost::json::storage_ptr storage = {};  // where the value is allocated
  // Error messages quote an out-of-range number, as Go does; off for documents that hold
  // secrets (a numeric secret must not reach a log line through a parse error).
  bool quote_values_in_errors = true;
};

// Errors are `bad_request`, worded like Go's encoding/json where it has a wording
// ("unexpected EOF", "json: ... at offset N"). Invalid UTF-8 is an error.
Result<JsonValue> ParseJson(std::string_view text, const JsonParseOptions& options = {});

// Reads consecutive JSON values from a byte stream that arrives in pieces (plugin stdout):
// Feed() consumes bytes up to the end of the current value and says how many it took; once
// Done(), Take() returns the value and readies the reader for the next one. Whitespace between
// values is skipped. After an error the reader must be Reset().
class JsonStreamReader {
 public:
  explicit JsonStreamReader(const JsonParseOptions& options = {});
  ~JsonStreamReader();
  JsonStreamReader(const JsonStreamReader&) = delete;
  JsonStreamReader& operator=(const JsonStreamReader&) = delete;

  Result<std::size_t> Feed(std::string_view data);
  bool Done() const;
  // True while a value has started but not finished (used to tell "no answer" from a torn one).
  bool InValue() const;
  JsonValue Take();
  void Reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch
