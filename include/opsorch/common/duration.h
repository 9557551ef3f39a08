// Go's time.ParseDuration: the one duration syntax of opsorch (env vars and provider configs).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch {

// A sequence of decimal numbers with units ns, us (µs), ms, s, m, h, optionally signed, e.g.
// "300ms", "1.5s", "1h30m"; "0" needs no unit. Returns nanoseconds; errors are bad_request and
// quote the input.
Result<std::int64_t> ParseGoDuration(std::string_view s);

// The duration in its largest whole unit ("2h", "90m", "15s", "1500ms"), which ParseGoDuration
// reads back.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace opsorch
