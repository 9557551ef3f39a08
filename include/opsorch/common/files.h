// Reading whole files with a size cap: configuration documents, secret stores, seeds.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch {

// Reads the whole file into `out`; returns 0 or the errno. EFBIG when larger than `max_bytes`.
// Does not block on FIFOs or devices longer than a read of them does: callers that must refuse
// them check the file type first.
int ReadWholeFile(const std::string& path, std::string& out, std::size_t max_bytes);

// The text of errno `err` ("No such file or directory").
std::string ErrnoText(int err);

// ReadWholeFile with errors that name the file: bad_request "<path>: cannot read: <reason>" or
// "<path>: larger than <N> MiB".
Result<std::string> ReadTextFile(const std::string& path, std::size_t max_bytes);

}  // namespace opsorch
