// Request-path functions return Result<T>; exceptions are for start-up only (see STYLE.md).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

#include <opsorch/common/error.h>

namespace opsorch {

template <class T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

// A code by its wire name (a plugin's or a worker's answer): see Error(std::string_view, …).
inline tl::unexpected<Error> Fail(std::string_view wire_code, std::string message) {
  return tl::unexpected<Error>(Error(wire_code, std::move(message)));
}

inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

inline Status Ok() { return {}; }

}  // namespace opsorch
