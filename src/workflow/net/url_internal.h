// Helpers shared by the URL policy and the fetcher (not part of the public interface).
#pragma once

#include <string>
#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/workflow/http_fetch.h>

namespace opsorch::workflow::url {

// A base URL split into the parts the fetcher compares and rebuilds.
struct BaseParts {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case, IPv6 literals keep their brackets
  std::string port;    // empty when the scheme's default
  std::string path;    // normalised, no trailing '/', "" for the root
  std::string Origin() const { return scheme + "://" + host + (port.empty() ? "" : ":" + port); }
};

// The rule that failed is the error message (no URL in it).
Result<BaseParts> ParseBase(std::string_view base_url);

// The path of `url` (an absolute URL of `host`) relative to the host's base path, without the
// query: what allow rules match and what error messages may show.
Result<std::string> RelativePath(const BaseParts& base, std::string_view url);

}  // namespace opsorch::workflow::url
