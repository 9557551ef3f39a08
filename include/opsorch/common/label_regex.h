// A small regular-expression matcher for metric label filters (=~, !~). std::regex backtracks
// (exponential time on patterns such as (a+)+b, recursion deep enough to overflow the stack on
// long inputs), and label filters come from API callers, so this one simulates the NFA instead
// (Pike VM): time O(len(value) · len(program)), memory O(len(program)), no recursion on input.
//
// Syntax (an RE2/Prometheus subset over Unicode code points; the whole value must match):
// literals, `.` (any code point but '\n'), `[...]`/`[^...]` with ranges and escapes,
// `\d \D \w \W \s \S`, `\` + punctuation, groups `(...)` and `(?:...)`, `|`, `* + ?`, `{m}`,
// `{m,}`, `{m,n}` (m, n ≤ 100; a trailing `?` for laziness is accepted and changes nothing in
// a whole-value match), `^` and `$` (value start and end). Not supported (bad_request): back
// references, look-around, named classes, flags.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch {

class LabelRegex {
 public:
  static constexpr std::size_t kMaxPatternBytes = 512;
  static constexpr std::size_t kMaxProgram = 4096;  // instructions after expanding {m,n}

  // bad_request naming the rule that failed.
  static Result<LabelRegex> Compile(std::string_view pattern);

  // Whole-value match. Invalid UTF-8 bytes are read as U+FFFD.
  bool FullMatch(std::string_view value) const;

  LabelRegex(LabelRegex&&) noexcept;
  LabelRegex& operator=(LabelRegex&&) noexcept;
  ~LabelRegex();

 private:
  struct Program;
  explicit LabelRegex(std::unique_ptr<Program> program);
  std::unique_ptr<Program> program_;
};

}  // namespace opsorch
