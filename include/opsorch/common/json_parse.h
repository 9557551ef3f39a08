// The one JSON reader of opsorch. It wraps Boost.JSON's parser so that numbers are read
// correctly rounded (Boost.JSON 1.81 is off by an ULP for about one 17-digit literal in ten,
// which made metric values and metadata drift in transit) and a number outside the range of a
// double is an error, as in Go, instead of becoming infinity.
#pragma once

#include <cstddef>
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
};

// Errors are `bad_request`, worded like Go's encoding/json where it has a wording
// ("unexpected EOF", "json: ... at offset N"). Invalid UTF-8 is an error.
Result<JsonValue> ParseJson(std::string_view text, const JsonParseOptions& options = {});

}  // namespace opsorch
