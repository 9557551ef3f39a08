#include "api/request_guard.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace opsorch::api {
namespace {

struct CrossSiteRow {
  const char* name;
  std::vector<http::HeaderField> headers;
  const char* allowed_origin;
  bool cross_site;
};

TEST(RequestGuard, CrossSiteTable) {
  const CrossSiteRow rows[] = {
      {"curl: no browser headers", {{"Host", "ops:8080"}}, "*", false},
      {"same origin", {{"Host", "ops:8080"}, {"Origin", "http://ops:8080"}}, "*", false},
      {"same origin, host case", {{"Host", "OPS:8080"}, {"Origin", "http://ops:8080"}}, "*", false},
      {"other port", {{"Host", "ops:8080"}, {"Origin", "http://ops:3000"}}, "*", true},
      {"other host", {{"Host", "ops:8080"}, {"Origin", "https://evil.example"}}, "*", true},
      {"host as prefix", {{"Host", "ops"}, {"Origin", "http://ops.evil.example"}}, "*", true},
      {"null origin", {{"Host", "ops"}, {"Origin", "null"}}, "*", true},
      {"origin without host header", {{"Origin", "http://ops"}}, "*", true},
      {"fetch metadata cross-site", {{"Host", "ops"}, {"Sec-Fetch-Site", "cross-site"}}, "*", true},
      {"fetch metadata same-site", {{"Host", "ops"}, {"Sec-Fetch-Site", "same-site"}}, "*", true},
      {"fetch metadata same-origin",
       {{"Host", "ops"}, {"Sec-Fetch-Site", "same-origin"}},
       "*",
       false},
      {"fetch metadata none (address bar)",
       {{"Host", "ops"}, {"Sec-Fetch-Site", "none"}},
       "*",
       false},
      {"same-origin metadata but a foreign Origin",
       {{"Host", "ops"}, {"Sec-Fetch-Site", "same-origin"}, {"Origin", "https://evil.example"}},
       "*",
       true},
      {"the configured console origin",
       {{"Host", "ops"}, {"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://console.example"}},
       "https://console.example",
       false},
      {"a wildcard CORS origin allows nothing extra",
       {{"Host", "ops"}, {"Origin", "*"}},
       "*",
       true},
  };
  for (const CrossSiteRow& r : rows) {
    http::Request req;
    req.headers = r.headers;
    EXPECT_EQ(IsCrossSite(req, r.allowed_origin), r.cross_site) << r.name;
  }
}

TEST(RequestGuard, RequestIdsMustBePlain) {
  EXPECT_EQ(AcceptableRequestId("abc-123_X.y:z"), "abc-123_X.y:z");
  EXPECT_EQ(AcceptableRequestId(std::string(128, 'a')), std::string(128, 'a'));
  for (const std::string& bad :
       {std::string(""), std::string(129, 'a'), std::string("x status=500 remote=10.6.6.6"),
        std::string("a\tb"), std::string("a\r\nb"), std::string("caf\xc3\xa9"),
        std::string("a\x7f"), std::string("a\0b", 3)}) {
    EXPECT_EQ(AcceptableRequestId(bad), "") << bad;
  }
}

}  // namespace
}  // namespace opsorch::api
