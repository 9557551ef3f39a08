// URL shape, allowlist and redirect rules for outbound workflow calls (no network).
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/http_fetch.h>

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;

HostPolicy Host(std::string base_url) {
  HostPolicy host;
  host.id = "api";
  host.base_url = std::move(base_url);
  return host;
}

struct Accepted {
  std::string path;
  std::string url;
};

class BuildUrlAccepts : public ::testing::TestWithParam<Accepted> {};

TEST_P(BuildUrlAccepts, ProducesTheNormalisedUrl) {
  const auto& c = GetParam();
  auto url = BuildUrl(Host("http://api.example.com:8080/base"), c.path);
  ASSERT_TRUE(url.has_value()) << c.path << ": " << url.error().message;
  EXPECT_EQ(*url, c.url) << c.path;
}

constexpr const char* kB = "http://api.example.com:8080/base";

INSTANTIATE_TEST_SUITE_P(
    Table, BuildUrlAccepts,
    ::testing::Values(
        Accepted{"", std::string(kB)}, Accepted{"/", std::string(kB) + "/"},
        Accepted{"/x", std::string(kB) + "/x"}, Accepted{"/x/", std::string(kB) + "/x/"},
        Accepted{"/a/./b", std::string(kB) + "/a/b"},
        Accepted{"/a/b/../c", std::string(kB) + "/a/c"},
        Accepted{"/a/%2e%2e/c", std::string(kB) + "/c"},
        Accepted{"/api/%2E%2E/admin", std::string(kB) + "/admin"},
        Accepted{"/x/.", std::string(kB) + "/x/"}, Accepted{"/x/..", std::string(kB) + "/"},
        Accepted{"/%7Euser/%41%62", std::string(kB) + "/~user/Ab"},
        Accepted{"/a%3a%2C", std::string(kB) + "/a%3A%2C"},
        Accepted{"/caf\xc3\xa9", std::string(kB) + "/caf%C3%A9"},
        Accepted{"/{x}|y", std::string(kB) + "/%7Bx%7D%7Cy"},
        Accepted{"/@scope/pkg", std::string(kB) + "/@scope/pkg"},
        Accepted{"/a;v=1", std::string(kB) + "/a;v=1"}, Accepted{"/...", std::string(kB) + "/..."},
        Accepted{"?q=1", std::string(kB) + "?q=1"},
        Accepted{"/x?q=1&r=%2e", std::string(kB) + "/x?q=1&r=%2E"},
        Accepted{"/x?next=/a/../b?c", std::string(kB) + "/x?next=/a/../b?c"}));

struct Refused {
  std::string path;
  std::string rule;
};

class BuildUrlRefuses : public ::testing::TestWithParam<Refused> {};

TEST_P(BuildUrlRefuses, NamesTheRule) {
  const auto& c = GetParam();
  auto url = BuildUrl(Host("http://api.example.com/base"), c.path);
  ASSERT_FALSE(url.has_value()) << c.path << " gave " << *url;
  EXPECT_EQ(url.error().code, fetch_errc::kNotAllowed);
  EXPECT_THAT(url.error().message, HasSubstr(c.rule)) << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Table, BuildUrlRefuses,
    ::testing::Values(
        Refused{"@evil.com/x", "must start with '/'"}, Refused{"evil.com/x", "must start with '/'"},
        Refused{"http://evil.com/x", "must start with '/'"}, Refused{"//evil.com/x", "'//'"},
        Refused{"\\evil", "backslash"}, Refused{"/\\evil", "backslash"},
        Refused{"/a\r\nHost: evil", "control"}, Refused{"/a b", "space"},
        Refused{"/a\tb", "control"}, Refused{std::string("/a\0b", 4), "control"},
        Refused{"/a#frag", "fragment"}, Refused{"/..", "escapes the base path"},
        Refused{"/a/../..", "escapes the base path"}, Refused{"/%2e%2e/x", "escapes the base path"},
        Refused{"/.%2E/x", "escapes the base path"}, Refused{"/a%2fb", "encoded '/'"},
        Refused{"/a%5C..%5C", "encoded '/'"}, Refused{"/a%00", "encoded control"},
        Refused{"/a%0d%0a", "encoded control"}, Refused{"/a%zz", "malformed percent-escape"},
        Refused{"/a%2", "malformed percent-escape"}, Refused{"/a//b", "empty path segment"},
        Refused{"/..;/admin", "dot segment with parameters"}, Refused{"/x?a=b c", "space"},
        Refused{"/x?a#b", "fragment"},
        Refused{"/" + std::string(kMaxPathBytes, 'a'), "longer than 8192"}));

TEST(BuildUrl, NormalisesTheBaseUrl) {
  auto url = BuildUrl(Host("HTTP://Example.COM:80/Base/"), "/x");
  ASSERT_TRUE(url.has_value()) << url.error().message;
  EXPECT_EQ(*url, "http://example.com/Base/x");
  url = BuildUrl(Host("https://[::1]:443"), "");
  ASSERT_TRUE(url.has_value()) << url.error().message;
  EXPECT_EQ(*url, "https://[::1]/");
}

TEST(BuildUrl, RefusesAHostWithAnInvalidBaseUrl) {
  auto url = BuildUrl(Host("http://user@example.com"), "/x");
  ASSERT_FALSE(url.has_value());
  EXPECT_EQ(url.error().code, fetch_errc::kNotAllowed);
  EXPECT_THAT(url.error().message, HasSubstr("userinfo"));
}

TEST(ValidateBaseUrl, AcceptsPlainHttpAndHttpsUrls) {
  for (const char* ok : {"http://h", "https://h:8443/base", "http://[::1]:80/", "http://h/a/b/",
                         "http://2130706433:80", "http://0x7f.0.0.1"}) {
    EXPECT_TRUE(ValidateBaseUrl(ok).has_value()) << ok;
  }
}

TEST(ValidateBaseUrl, RefusesEverythingElseNamingTheRule) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ftp://h", "scheme"},
      {"file:///etc/passwd", "scheme"},
      {"http://user:pw@h", "userinfo"},
      {"http://evil.com@127.0.0.1", "userinfo"},
      {"http://h?x=1", "query"},
      {"http://h#f", "fragment"},
      {"h/path", "absolute"},
      {"http:///path", "missing host"},
      {"http:/path", "missing host"},
      {"http://h/a/../..", "escapes the base path"},
      {"http://h:0", "port"},
      {"http://h:99999", "port"},
      {"http://h:65616", "port"},
      {"http://h:", "port"},
      {"http://h\\x", "absolute"},
      {"http://h /x", "absolute"},
  };
  for (const auto& [url, rule] : cases) {
    auto status = ValidateBaseUrl(url);
    ASSERT_FALSE(status.has_value()) << url;
    EXPECT_EQ(status.error().code, errc::kBadRequest) << url;
    EXPECT_THAT(status.error().message, HasSubstr("base_url")) << url;
    EXPECT_THAT(status.error().message, HasSubstr(rule)) << url;
  }
}

struct Match {
  std::string pattern;
  std::string path;
  bool matches;
};

class PathMatchesTable : public ::testing::TestWithParam<Match> {};

TEST_P(PathMatchesTable, Matches) {
  const auto& c = GetParam();
  EXPECT_EQ(PathMatches(c.pattern, c.path), c.matches) << c.pattern << " vs " << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PathMatchesTable,
    ::testing::Values(Match{"/a", "/a", true}, Match{"/a", "/a/", false}, Match{"/a", "/ab", false},
                      Match{"/a", "/A", false}, Match{"", "", true}, Match{"", "/", false},
                      Match{"/items/*", "/items/1", true}, Match{"/items/*", "/items/", true},
                      Match{"/items/*", "/items", false}, Match{"/items/*", "/items/1/2", false},
                      Match{"/items/*/edit", "/items/42/edit", true},
                      Match{"/items/*/edit", "/items/4/2/edit", false},
                      Match{"/v*/x", "/v2/x", true}, Match{"/v*/x", "/w2/x", false},
                      Match{"/*.json", "/a.json", true}, Match{"/*.json", "/a/b.json", false},
                      Match{"/api/**", "/api/x/y/z", true}, Match{"/api/**", "/api/", true},
                      Match{"/api/**", "/api", false}, Match{"/api/**", "/apix/y", false},
                      Match{"/**/edit", "/a/b/c/edit", true},
                      Match{"/**/edit", "/a/b/c/edit/x", false},
                      Match{"/**", "/anything/at/all", true}, Match{"**", "", true},
                      Match{"/a/***", "/a/b/c", true}, Match{"/a*b*c", "/aXbYc", true},
                      Match{"/a*b*c", "/aXbY/c", false}, Match{"/a**c", "/aX/Y/c", true},
                      Match{"/%7Bx%7D", "/%7Bx%7D", true}));

TEST(PathMatches, AdversarialInputsStayFast) {
  const std::string path = "/" + std::string(8000, 'a');
  const std::string star_path = "/" + std::string(4000, '*') + "/";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(PathMatches("/**a**a**a**a**a**a**a**a**a**a**b", path));
  EXPECT_FALSE(PathMatches("/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", path));
  EXPECT_FALSE(PathMatches(star_path, path));
  EXPECT_TRUE(PathMatches("/**a**a**a**a**a**a**a**a**a**a**a", path));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // A backtracking matcher needs astronomically long here; the NFA needs milliseconds.
  EXPECT_LT(elapsed, std::chrono::seconds(1));
}

struct AllowCase {
  std::string method;
  std::string url;
  std::string refusal;  // empty: allowed
};

class CheckAllowedTable : public ::testing::TestWithParam<AllowCase> {};

TEST_P(CheckAllowedTable, AppliesTheRules) {
  HostPolicy host = Host("http://h.example/api");
  host.allow = std::vector<AllowRule>{
      {"GET", "/items/*"}, {"POST", "/items"}, {"*", "/public/**"}, {"GET", "/"}};
  const auto& c = GetParam();
  auto status = CheckAllowed(host, c.method, c.url);
  if (c.refusal.empty()) {
    EXPECT_TRUE(status.has_value()) << c.method << " " << c.url << ": " << status.error().message;
  } else {
    ASSERT_FALSE(status.has_value()) << c.method << " " << c.url;
    EXPECT_EQ(status.error().code, fetch_errc::kNotAllowed);
    EXPECT_THAT(status.error().message, HasSubstr(c.refusal)) << c.method << " " << c.url;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CheckAllowedTable,
    ::testing::Values(
        AllowCase{"GET", "http://h.example/api/items/1", ""},
        AllowCase{"GET", "http://h.example/api/items/1?x=/public/a", ""},
        AllowCase{"GET", "http://h.example/api/items/1/x", "no allow rule matches GET /items/1/x"},
        AllowCase{"DELETE", "http://h.example/api/items/1", "no allow rule matches DELETE"},
        AllowCase{"POST", "http://h.example/api/items", ""},
        AllowCase{"PUT", "http://h.example/api/public/a/b", ""},
        AllowCase{"GET", "http://h.example/api/public", "no allow rule"},
        AllowCase{"GET", "http://h.example/api", ""}, AllowCase{"GET", "http://h.example/api/", ""},
        AllowCase{"GET", "http://h.example:80/api/items/1", ""},
        AllowCase{"GET", "http://other.example/api/items/1", "origin"},
        AllowCase{"GET", "https://h.example/api/items/1", "origin"},
        AllowCase{"GET", "http://h.example:81/api/items/1", "origin"},
        AllowCase{"GET", "http://u@h.example/api/items/1", "origin"},
        AllowCase{"GET", "http://h.example/other/items/1", "base path"},
        AllowCase{"GET", "http://h.example/apix/items/1", "base path"},
        AllowCase{"GET", "http://h.example/api/public/%2e%2e/admin",
                  "no allow rule matches GET /admin"},
        AllowCase{"GET", "http://h.example/api/items/1/../../admin", "no allow rule"},
        AllowCase{"get", "http://h.example/api/items/1", "method"},
        AllowCase{"GET\r\nX", "http://h.example/api/items/1", "method"},
        AllowCase{"", "http://h.example/api/items/1", "method"}));

TEST(CheckAllowed, AbsentListAllowsAnythingAndEmptyListNothing) {
  HostPolicy host = Host("http://h.example");
  EXPECT_TRUE(CheckAllowed(host, "PATCH", "http://h.example/any/thing").has_value());
  host.allow = std::vector<AllowRule>{};
  EXPECT_FALSE(CheckAllowed(host, "GET", "http://h.example/").has_value());
}

struct RedirectCase {
  std::string location;
  std::string result;  // normalised URL, or the refusal's rule
  bool ok;
};

class ResolveRedirectTable : public ::testing::TestWithParam<RedirectCase> {};

TEST_P(ResolveRedirectTable, Resolves) {
  const auto& c = GetParam();
  auto url = ResolveRedirect(Host("http://h.example/api"), "http://h.example/api/x/y", c.location);
  if (c.ok) {
    ASSERT_TRUE(url.has_value()) << c.location << ": " << url.error().message;
    EXPECT_EQ(*url, c.result);
  } else {
    ASSERT_FALSE(url.has_value()) << c.location << " gave " << *url;
    EXPECT_EQ(url.error().code, fetch_errc::kNotAllowed);
    EXPECT_THAT(url.error().message, HasSubstr(c.result)) << c.location;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolveRedirectTable,
    ::testing::Values(RedirectCase{"/api/ok", "http://h.example/api/ok", true},
                      RedirectCase{"z", "http://h.example/api/x/z", true},
                      RedirectCase{"../z", "http://h.example/api/z", true},
                      RedirectCase{"?q=1", "http://h.example/api/x/y?q=1", true},
                      RedirectCase{"/api/ok#frag", "http://h.example/api/ok", true},
                      RedirectCase{"http://h.example/api/ok", "http://h.example/api/ok", true},
                      RedirectCase{"HTTP://H.EXAMPLE:80/api/ok", "http://h.example/api/ok", true},
                      RedirectCase{"//evil.example/api/ok", "origin", false},
                      RedirectCase{"http://evil.example/api/ok", "origin", false},
                      RedirectCase{"https://h.example/api/ok", "origin", false},
                      RedirectCase{"http://h.example:81/api/ok", "origin", false},
                      RedirectCase{"http://h.example:65616/api/ok", "origin", false},
                      RedirectCase{"http://h.example:/api/ok", "origin", false},
                      RedirectCase{"http://evil@h.example/api/ok", "origin", false},
                      RedirectCase{"/other", "base path", false},
                      RedirectCase{"/api/../admin", "base path", false},
                      RedirectCase{"/api/%2e%2e/admin", "base path", false},
                      RedirectCase{"/api/a b", "valid URI reference", false},
                      RedirectCase{"/api/a\\b", "valid URI reference", false},
                      RedirectCase{"file:///etc/passwd", "origin", false}));

}  // namespace
}  // namespace opsorch::workflow
