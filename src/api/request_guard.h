// Checks the request pipeline makes before routing, as pure functions of the request.
#pragma once

#include <string>
#include <string_view>

#include <opsorch/http/message.h>

namespace opsorch::api {

// True when a browser sent this request on behalf of a page of another origin: Sec-Fetch-Site
// other than same-origin/none, or an Origin ("null" included) whose host:port is not the
// request's Host. `allowed_origin` (the configured CORS origin, unless it is "*") is accepted
// too. Requests without either header are not a browser's and pass: with no bearer token, the
// configuration routes rely on this to refuse what a hostile web page makes a browser send.
bool IsCrossSite(const http::Request& req, std::string_view allowed_origin);

// A client-supplied request id as it may be used (in the response header, the audit and access
// lines): 1–128 visible ASCII characters, no spaces. Anything else gives "" (generate one).
std::string_view AcceptableRequestId(std::string_view id);

}  // namespace opsorch::api
