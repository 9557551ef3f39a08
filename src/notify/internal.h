// Pieces the transports share (HTTP outcome classification, UTF-8 helpers, the clock); private
// to the notify module and its tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <opsorch/common/error.h>
#include <opsorch/net/http_client.h>
#include <opsorch/notify/transport.h>

namespace opsorch::notify::internal {

std::int64_t NowUnix();

DeliveryResult Sent(int status, std::string detail = {});
DeliveryResult Retry(int status, std::string detail, std::int64_t retry_after_s = 0);
DeliveryResult Failed(int status, std::string detail);

// An HttpClient error as an outcome: address denied and refused headers are permanent (only the
// operator can change them), connection failures, timeouts and aborts are temporary. The
// client's messages never hold a URL or a header value, so they are kept as the detail.
DeliveryResult FromHttpError(const Error& error);

// Retry-After of a response, in seconds from now (0: absent or malformed).
std::int64_t RetryAfterOf(const net::Headers& headers);

bool ValidUtf8(std::string_view s);
// At most `max_chars` code points; a cut text ends in "…" within the limit and never splits a
// character.
std::string TruncateChars(std::string_view s, std::size_t max_chars);

// Base64 (standard alphabet, padded) through OpenSSL.
std::string Base64Encode(std::string_view bytes);
// Random bytes as lower-case hex (OpenSSL's CSPRNG).
std::string RandomHex(std::size_t bytes);
// SHA-256 as lower-case hex.
std::string Sha256Hex(std::string_view bytes);

}  // namespace opsorch::notify::internal
