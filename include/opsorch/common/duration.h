// Go's time.ParseDuration: the one duration syntax of opsorch (env vars and provider configs).
#pragma once

#include <cstdint>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch {

// A sequence of decimal numbers with units ns, us (µs), ms, s, m, h, optionally signed, e.g.
// "300ms", "1.5s", "1h30m"; "0" needs no unit. Returns nanoseconds; errors are bad_request and
// quote the input.
Result<std::int64_t> ParseGoDuration(std::string_view s);

}  // namespace opsorch
