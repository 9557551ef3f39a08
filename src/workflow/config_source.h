// Reads a deployment's workflow configuration text from its source: a file, or an HTTP(S) URL
// the bootstrap names (customer-owned, so private addresses are allowed; the rest of the address
// rule, size and time caps hold).
#pragma once

#include <string>

#include <opsorch/common/result.h>
#include <opsorch/workflow/bootstrap.h>

namespace opsorch::workflow {

inline constexpr std::size_t kMaxConfigBytes = 8u << 20;

// Errors name the source (file path, or the URL without its query) and what failed.
Result<std::string> ReadConfigSource(const ConfigSource& source);

// The source for messages: the file path, or the URL without query (it may carry a token).
std::string DescribeSource(const ConfigSource& source);

}  // namespace opsorch::workflow
