// The RFC 5322 / MIME message the SMTP transport sends; private to notify and its tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::notify::internal {

struct MailParts {
  std::string from;        // addr-spec
  std::string to;          // addr-spec
  std::string subject;     // UTF-8, no CR/LF
  std::string text;        // UTF-8
  std::string html;        // UTF-8, optional
  std::string message_id;  // "<…@opsorch>"
  std::int64_t date_unix = 0;
  std::string boundary;  // for multipart
};

// A plain addr-spec (local@domain, dot-atom both sides): no display name, quotes, comments or
// brackets, so nothing in it can end or extend a header.
bool ValidAddrSpec(std::string_view address);

// "<id@opsorch>"; an id with characters a Message-ID cannot hold is replaced by its SHA-256
// (still stable across retries).
std::string MessageIdFor(std::string_view delivery_id);

// The whole message with CRLF line ends. Errors (kBadRequest) name the part and the rule:
// a header value with CR/LF/NUL (header injection), an address that is not a plain addr-spec,
// invalid UTF-8, no body at all.
Result<std::string> BuildMessage(const MailParts& parts);

// Building blocks, exposed for tests.
std::string QuotedPrintable(std::string_view text);   // CRLF line ends, lines <= 76
std::string EncodeSubject(std::string_view subject);  // RFC 2047 when not short ASCII
std::string RfcDate(std::int64_t unix_seconds);       // "Thu, 01 Jan 1970 00:00:00 +0000"

}  // namespace opsorch::notify::internal
