// The body of fuzz_http, shared with the corpus regression test (fuzz_corpora_test.cc): raw
// request bytes through the server's parser and framing rules (src/http/request_parser.h).
// Defined in http_check.cc, the one test translation unit that includes Boost.Beast.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace opsorch::testing {

// Invariants, under the server's default limits and under tight ones:
//  - ParseRequest never consumes more than it was given, and a refusal says why;
//  - a request it accepts obeys the framing rules, checked against an independent reading of
//    the raw bytes: Transfer-Encoding only as exactly "chunked" (not in HTTP/1.0, not with
//    Content-Length), at most one Content-Length whose value is the body's length, exactly one
//    Host in HTTP/1.1 (at most one otherwise), no obs-fold, no bare CR or LF, header lines the
//    parser's fields one for one, the chunked body decoded independently, the body within the
//    limit, and the request ending exactly where the framing says;
//  - pipelined requests are read one after another with the same rules;
//  - the bytes fed in random pieces the way the server's read loop feeds them give the same
//    outcome, and the header views the server publishes before reading the body stay valid
//    (its scratch store does not grow while the body, and any trailer, is read).
// Returns one line per violated invariant.
std::vector<std::string> CheckHttpRequests(std::string_view input);

}  // namespace opsorch::testing
