// JSON output with Go encoding/json's byte-level behaviour: HTML-safe escaping (<, >, & as
// \u003c…), U+2028/U+2029 escaped, invalid UTF-8 replaced by U+FFFD, object keys sorted, and
// float64 formatting ('f' unless the exponent is < -6 or >= 21).
#pragma once

#include <string>
#include <string_view>

#include <opsorch/common/json.h>

namespace opsorch {

void AppendJsonString(std::string& out, std::string_view s);
void AppendJsonDouble(std::string& out, double v);
// Free-form values: keys sorted (Go maps), numbers as written above.
void AppendJsonValue(std::string& out, const JsonValue& v);
void AppendJsonObject(std::string& out, const JsonObject& o);

// {"code":"…","message":"…"} — the body of every JSON error response.
std::string ErrorBody(std::string_view code, std::string_view message);

}  // namespace opsorch
