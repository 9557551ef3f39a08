// Reads a deployment's workflow configuration text from its source: a file, or an HTTP(S) URL
// the bootstrap names (customer-owned, so private addresses are allowed; the rest of the address
// rule, size and time caps hold).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/workflow/bootstrap.h>

namespace opsorch::workflow {

inline constexpr std::size_t kMaxConfigBytes = 8u << 20;
// A source may hold a package: its payload is at most kMaxConfigBytes, plus the container.
inline constexpr std::size_t kMaxSourceBytes = kMaxConfigBytes + (1u << 20);

// What a read found: the bytes, or (a URL that answered 304 to `If-None-Match`) nothing new.
struct SourceRead {
  std::optional<std::string> bytes;  // nullopt: unchanged since `etag`
  std::string etag;                  // the URL's ETag, sent as If-None-Match next time
};

// Errors name the source (file path, or the URL without its query) and what failed. `etag` is
// the previous read's (URLs only; "" for none).
Result<SourceRead> ReadConfigSource(const ConfigSource& source, std::string_view etag = {});

// The source for messages: the file path, or the URL without query (it may carry a token).
std::string DescribeSource(const ConfigSource& source);

}  // namespace opsorch::workflow
