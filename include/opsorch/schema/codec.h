// Decoding and encoding of every schema type with Go encoding/json semantics (contract §6):
// case-insensitive field names, last duplicate wins, only the first JSON value is read, `null`
// leaves a field unchanged, strict mode rejects unknown fields, numbers as strings are rejected.
// Encoding follows the declaration order and omit rules of contract §7.
//
// Both are implemented once, generically, from per-type field tables (src/schema/fields.h) and
// explicitly instantiated for the types below in src/schema/codec.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

namespace opsorch::schema {

struct DecodeOptions {
  // Requests are strict (unknown field → error); plugin results are lenient (unknown dropped).
  bool strict = true;
  // Nesting deeper than this is rejected before any allocation-heavy work.
  std::size_t max_depth = 32;
  // Text that holds a NUL character (a string, a key or a string inside free-form fields) is
  // refused, naming the field: no store can keep it (PostgreSQL text cannot), and the ingestion
  // decoders refuse it too. Off for plugin results, which are not client input.
  bool refuse_nul = true;
};

// Errors have code bad_request and a message naming the field and the rule, e.g.
// `json: unknown field "foo"` or
// `json: cannot unmarshal string into Go struct field IncidentQuery.limit of type int`.
template <class T>
Result<T> Decode(std::string_view json, const DecodeOptions& options = {});

template <class T>
Result<T> FromJson(const JsonValue& value, const DecodeOptions& options = {});

// Appends the encoding of `value` (no trailing newline).
template <class T>
void Encode(const T& value, std::string& out);

template <class T>
std::string EncodeToString(const T& value) {
  std::string out;
  Encode(value, out);
  return out;
}

}  // namespace opsorch::schema
