// The console's serving rules, its sessions and the pipeline's cookie authentication, against a
// real server: caching and compression headers, the CSP, the app's fallback, paths that try to
// leave the console's directory, login, CSRF refusals, fixation, logout, expiry and the actor.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/console/console.h>

#include "support/captured_logs.h"
#include "support/http_client.h"
#include "support/run_command.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(ConsoleServing, AcceptEncodingTable) {
  struct Row {
    const char* header;
    bool gzip;
  } rows[] = {
      {"", false},
      {"gzip", true},
      {"GZIP", true},
      {"br, gzip, deflate", true},
      {"gzip;q=0", false},
      {"gzip; q=0.0", false},
      {"gzip;q=0.5", true},
      {"x-gzip", true},
      {"*", true},
      {"*;q=0", false},
      {"*, gzip;q=0", false},
      {"identity", false},
      {"deflate, br", false},
      {"gzipped", false},
  };
  for (const Row& r : rows) EXPECT_EQ(console::AcceptsGzip(r.header), r.gzip) << r.header;
}

TEST(ConsoleServing, IfNoneMatchTable) {
  const std::string etag = "\"sha256-abc\"";
  struct Row {
    const char* header;
    bool match;
  } rows[] = {
      {"", false},
      {"\"sha256-abc\"", true},
      {"W/\"sha256-abc\"", true},
      {"\"x\", \"sha256-abc\"", true},
      {"*", true},
      {"\"sha256-ab\"", false},
      {"sha256-abc", false},
  };
  for (const Row& r : rows) EXPECT_EQ(console::EtagMatches(r.header, etag), r.match) << r.header;
}

TEST(ConsoleServing, CookieValuesTable) {
  struct Row {
    const char* header;
    const char* name;
    std::vector<std::string_view> values;
  } rows[] = {
      {"opsorch_session=abc", "opsorch_session", {"abc"}},
      {"a=1; opsorch_session=abc; b=2", "opsorch_session", {"abc"}},
      {"a=1;opsorch_session=\"abc\"", "opsorch_session", {"abc"}},
      // Another service on the same host planted one first: both are tried.
      {"opsorch_session=planted; opsorch_session=mine", "opsorch_session", {"planted", "mine"}},
      {"xopsorch_session=abc", "opsorch_session", {}},
      {"opsorch_session", "opsorch_session", {}},
      {"opsorch_session=", "opsorch_session", {}},
      {"", "opsorch_session", {}},
      {"__Host-opsorch_session=t", "__Host-opsorch_session", {"t"}},
  };
  for (const Row& r : rows) EXPECT_EQ(api::CookieValues(r.header, r.name), r.values) << r.header;
}

TEST(ConsoleServing, ConsoleCallRefusalTable) {
  struct Row {
    http::Method method;
    Headers headers;
    bool refused;
  } rows[] = {
      // The custom header is required on every call.
      {http::Method::kGet, {}, true},
      {http::Method::kGet, {{"X-OpsOrch-Console", "1"}}, false},
      {http::Method::kGet, {{"X-OpsOrch-Console", "yes"}}, true},
      {http::Method::kGet, {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "cross-site"}}, true},
      {http::Method::kGet, {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "same-site"}}, true},
      // Changes need positive evidence of the same origin.
      {http::Method::kPost, {{"X-OpsOrch-Console", "1"}}, true},
      {http::Method::kPost, {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "same-origin"}}, false},
      {http::Method::kPost, {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "none"}}, true},
      {http::Method::kPatch,
       {{"X-OpsOrch-Console", "1"}, {"Origin", "http://console.example:8080"}},
       false},
      {http::Method::kPatch,
       {{"X-OpsOrch-Console", "1"}, {"Origin", "http://evil.example:8080"}},
       true},
      {http::Method::kDelete, {{"X-OpsOrch-Console", "1"}, {"Origin", "null"}}, true},
      {http::Method::kPost, {{"Sec-Fetch-Site", "same-origin"}}, true},
  };
  for (const Row& r : rows) {
    http::Request req;
    req.method = r.method;
    req.headers.push_back({"Host", "console.example:8080"});
    for (const auto& [k, v] : r.headers) req.headers.push_back({k, v});
    EXPECT_EQ(!api::ConsoleCallRefusal(req).empty(), r.refused)
        << http::MethodName(r.method) << " with " << r.headers.size() << " headers";
  }
}

TEST(ConsoleSessions, IdleAndAbsoluteExpiryOnAnInjectedClock) {
  std::int64_t now = 1'000'000'000'000;
  constexpr std::int64_t kMinute = 60'000'000'000;
  console::SessionOptions o;
  o.idle = std::chrono::minutes(30);
  o.max_age = std::chrono::minutes(90);
  o.now_ns = [&] { return now; };
  console::Sessions s(o);
  auto a = s.Create({"alice", "Alice"});
  EXPECT_EQ(a.token.size(), 43u);  // 32 bytes, base64url without padding
  EXPECT_EQ(a.expires_at_ns, now + 30 * kMinute);
  // Each use moves the idle end; the absolute end does not move.
  for (int i = 0; i < 3; ++i) {
    now += 29 * kMinute;
    ASSERT_TRUE(s.Verify(a.token)) << i;
  }
  now += 29 * kMinute;  // 116 minutes after login: past max_age although never idle 30 min
  EXPECT_FALSE(s.Verify(a.token));
  auto b = s.Create({"bob", ""});
  now += 31 * kMinute;  // idle
  EXPECT_FALSE(s.Peek(b.token));
  EXPECT_FALSE(s.Verify(b.token));
  // Peek does not extend.
  auto c = s.Create({"carol", ""});
  now += 20 * kMinute;
  ASSERT_TRUE(s.Peek(c.token));
  now += 11 * kMinute;
  EXPECT_FALSE(s.Verify(c.token));
  EXPECT_EQ(s.Size(), 0u);
}

TEST(ConsoleSessions, RevokeCapacityAndUnknownTokens) {
  console::SessionOptions o;
  o.max_sessions = 3;
  std::int64_t now = 5'000'000'000;
  o.now_ns = [&] { return now++; };
  console::Sessions s(o);
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(s.Create({"u" + std::to_string(i), ""}).token);
  EXPECT_EQ(s.Size(), 3u);
  EXPECT_FALSE(s.Verify(tokens[0])) << "the session closest to its end made room";
  EXPECT_TRUE(s.Verify(tokens[3]));
  s.Revoke(tokens[3]);
  EXPECT_FALSE(s.Verify(tokens[3]));
  EXPECT_FALSE(s.Verify(""));
  EXPECT_FALSE(s.Verify(std::string(4096, 'a')));
  EXPECT_FALSE(s.Verify(tokens[1] + "x"));
  EXPECT_NE(tokens[1], tokens[2]);
}

// A console build directory of our own: index.html and one hashed asset.
class ConsoleDir {
 public:
  ConsoleDir() {
    root_ = std::filesystem::temp_directory_path() /
            ("opsorch-console-" + std::to_string(::getpid()) + "-" + std::to_string(++n_));
    std::filesystem::create_directories(root_ / "dist" / "assets");
    Write("dist/index.html", "<!doctype html><title>test console</title>");
    Write("dist/assets/app-ABC123.js", "console.log('app')");
    Write("dist/assets/tiny.js", "x=1");  // shorter than a std::string's inline buffer
    Write("secret.txt", "outside the console");
    std::filesystem::create_symlink(root_ / "secret.txt", root_ / "dist" / "assets" / "link.js");
  }
  ~ConsoleDir() { std::filesystem::remove_all(root_); }
  std::string Dist() const { return (root_ / "dist").string(); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel) << text;
  }

 private:
  static inline int n_ = 0;
  std::filesystem::path root_;
};

TEST(ConsoleServing, DevDirectoryHeadersFallbackAndEscapes) {
  ConsoleDir dir;
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"},
                                   {"OPSORCH_BEARER_TOKEN", "tok"},
                                   {"OPSORCH_CONSOLE_DIR", dir.Dist()}});
  ASSERT_TRUE(server) << server.error().message;
  HttpClient c((*server)->Port());

  // The index: no-cache, an ETag, revalidation, the CSP and its companions; no token needed.
  for (const char* path : {"/ui", "/ui/", "/ui/incidents/inc-1", "/ui/login?next=/x"}) {
    auto r = c.Request("GET", path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<!doctype html><title>test console</title>") << path;
    EXPECT_EQ(r.Header("Cache-Control"), "no-cache");
    EXPECT_EQ(r.Header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.Header("Content-Security-Policy"), console::kContentSecurityPolicy);
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(r.Header("X-Frame-Options"), "DENY");
    EXPECT_EQ(r.Header("Vary"), "Accept-Encoding");
    ASSERT_FALSE(r.Header("ETag").empty());
    auto again = c.Request("GET", path, {{"If-None-Match", r.Header("ETag")}});
    EXPECT_EQ(again.status, 304) << path;
    EXPECT_TRUE(again.body.empty());
  }
  // Edited on disk, served at once with a new ETag (no rebuild, no restart).
  const std::string before = c.Request("GET", "/ui/").Header("ETag");
  dir.Write("dist/index.html", "<!doctype html><title>edited</title>");
  auto edited = c.Request("GET", "/ui/", {{"If-None-Match", before}});
  EXPECT_EQ(edited.status, 200);
  EXPECT_EQ(edited.body, "<!doctype html><title>edited</title>");

  auto js = c.Request("GET", "/ui/assets/app-ABC123.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.Header("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(js.Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, "console.log('app')");
  EXPECT_EQ(c.Request("GET", "/ui/assets/tiny.js").body, "x=1");

  // Missing assets are 404s, not the app; nothing outside the directory is reachable.
  for (const char* path :
       {"/ui/assets/nope.js", "/ui/assets/../../secret.txt", "/ui/assets/%2e%2e/%2e%2e/secret.txt",
        "/ui/assets/..%2f..%2fsecret.txt", "/ui/assets/link.js", "/ui/assets/.hidden",
        "/ui/assets/a%00b.js", "/ui/assets/..\\..\\secret.txt"}) {
    auto r = c.Request("GET", path);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << path << " → " << r.status;
    EXPECT_EQ(r.body.find("outside the console"), std::string::npos) << path;
  }
  // `/` stays the OpsOrch health answer (with the token).
  auto root = c.Request("GET", "/", {{"Authorization", "Bearer tok"}});
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "{\"status\":\"ok\"}\n");
}

TEST(ConsoleServing, EmbeddedFilesAreServedGzipOrRaw) {
  const auto files = console::EmbeddedFiles();
  if (files.empty()) GTEST_SKIP() << "this build has no console (no Node.js at build time)";
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  std::size_t assets = 0;
  for (const console::EmbeddedFile& f : files) {
    const std::string path = f.path == "index.html" ? "/ui/" : "/ui/" + std::string(f.path);
    auto raw = c.Request("GET", path);
    ASSERT_EQ(raw.status, 200) << path;
    EXPECT_EQ(raw.body, f.raw) << path;
    EXPECT_FALSE(raw.HasHeader("Content-Encoding"));
    auto gz = c.Request("GET", path, {{"Accept-Encoding", "gzip, br"}});
    EXPECT_EQ(gz.Header("Content-Encoding"), "gzip") << path;
    EXPECT_EQ(gz.body, f.gzip) << path;
    EXPECT_LT(gz.body.size(), raw.body.size()) << path;
    EXPECT_EQ(raw.Header("ETag"), f.etag);
    if (f.path.starts_with("assets/")) {
      ++assets;
      EXPECT_EQ(raw.Header("Cache-Control"), "public, max-age=31536000, immutable");
    }
  }
  EXPECT_GE(assets, 2u) << "one JS and one CSS file";
}

// Login, the cookie on API calls, CSRF refusals, fixation, logout, and the session's actor.
TEST(ConsoleSessionsApp, LoginCookieCsrfFixationLogoutAndActor) {
  CapturedLogs logs;
  auto server = TestServer::Start(
      {{"OPSORCH_INCIDENT_PROVIDER", "mock"}, {"OPSORCH_BEARER_TOKEN", "the-real-token"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  const std::string host = "127.0.0.1:" + std::to_string((*server)->Port());
  const Headers console_call = {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "same-origin"}};

  auto state = c.Request("GET", "/ui/session");
  EXPECT_EQ(state.body,
            "{\"authRequired\":true,\"authenticated\":false,\"actor\":null,\"expiresAt\":null}\n");

  // Wrong token, no console header, another origin: no session.
  struct Bad {
    Headers headers;
    std::string body;
    int status;
  } bad[] = {
      {console_call, R"({"token":"wrong"})", 401},
      {console_call, R"({"token":"the-real-token","extra":1})", 400},
      {console_call, R"({"token":"the-real-token","name":"a\u0007b"})", 400},
      {console_call, R"({"token":"the-real-token","name":"admin\u202egnp.exe"})", 400},
      {console_call, R"({"token":"the-real-token","name":"a\u2028b"})", 400},
      {console_call, R"({"token":"the-real-token","name":"a\u200bb"})", 400},
      {console_call, R"({"token":"the-real-token","name":"a\u0085b"})", 400},
      {console_call, R"({"token":["the-real-token"]})", 400},
      {{{"Sec-Fetch-Site", "same-origin"}}, R"({"token":"the-real-token"})", 403},
      {{{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "cross-site"}},
       R"({"token":"the-real-token"})",
       403},
      {{{"X-OpsOrch-Console", "1"}, {"Origin", "http://evil.example"}},
       R"({"token":"the-real-token"})",
       403},
  };
  for (const Bad& b : bad) {
    auto r = c.Request("POST", "/ui/session", b.headers, b.body);
    EXPECT_EQ(r.status, b.status) << b.body;
    EXPECT_FALSE(r.HasHeader("Set-Cookie")) << b.body;
    EXPECT_EQ(r.body.find("the-real-token"), std::string::npos);
  }

  // Fixation: a cookie planted before login is neither kept nor accepted.
  Headers planted = console_call;
  planted.emplace_back("Cookie", "opsorch_session=attacker-chosen-value");
  auto login =
      c.Request("POST", "/ui/session", planted, R"({"token":"the-real-token","name":"Alice Ops"})");
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string set = login.Header("Set-Cookie");
  EXPECT_NE(set.find("HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("Path=/"), std::string::npos) << set;
  EXPECT_EQ(set.find("Max-Age"), std::string::npos) << "a browser-session cookie: " << set;
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "plain http";
  const std::string value = set.substr(16, set.find(';') - 16);  // after "opsorch_session="
  ASSERT_EQ(set.rfind("opsorch_session=", 0), 0u) << set;
  EXPECT_NE(value, "attacker-chosen-value");
  EXPECT_EQ(login.body.find("the-real-token"), std::string::npos);
  const std::string cookie = "opsorch_session=" + value;

  Headers with_cookie = console_call;
  with_cookie.emplace_back("Cookie", cookie);
  EXPECT_EQ(c.Request("GET", "/incidents/inc-001", with_cookie).status, 200);
  EXPECT_EQ(
      c.Request("GET", "/incidents/inc-001",
                {{"Cookie", "opsorch_session=attacker-chosen-value"}, {"X-OpsOrch-Console", "1"}})
          .status,
      401);
  auto me = c.Request("GET", "/ui/session", {{"Cookie", cookie}});
  EXPECT_NE(me.body.find("\"authenticated\":true,\"actor\":\"Alice Ops\""), std::string::npos)
      << me.body;

  // The cookie alone is refused: without the console header, from another origin, or a change
  // without proof of the same origin.
  struct Refused {
    const char* method;
    Headers headers;
  } refused[] = {
      {"GET", {{"Cookie", cookie}}},
      {"POST", {{"Cookie", cookie}, {"X-OpsOrch-Console", "1"}}},
      {"POST", {{"Cookie", cookie}, {"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "cross-site"}}},
      {"POST", {{"Cookie", cookie}, {"X-OpsOrch-Console", "1"}, {"Origin", "http://evil.example"}}},
      {"POST", {{"Cookie", cookie}, {"Sec-Fetch-Site", "same-origin"}}},
  };
  for (const Refused& r : refused) {
    auto resp = c.Request(r.method, "/incidents/inc-001/timeline", r.headers,
                          R"({"kind":"note","body":"forged"})");
    EXPECT_EQ(resp.status, 403) << r.method << " " << r.headers.size();
  }
  // A same-origin change by Origin alone (plain http to a non-loopback name sends no Fetch
  // Metadata) passes.
  auto by_origin = c.Request("POST", "/incidents/inc-001/timeline",
                             {{"Cookie", cookie},
                              {"X-OpsOrch-Console", "1"},
                              {"Host", host},
                              {"Origin", "http://" + host}},
                             R"({"kind":"note","body":"by origin"})");
  EXPECT_LT(by_origin.status, 300) << by_origin.body;

  // The session is the actor, whatever actor headers or body the page sends.
  Headers note = with_cookie;
  note.emplace_back("X-User-Id", "mallory");
  note.emplace_back("X-Actor-Name", "Mallory");
  auto appended = c.Request(
      "POST", "/incidents/inc-001/timeline", note,
      R"({"kind":"note","body":"from the console","actor":{"id":"mallory","name":"Mallory"}})");
  ASSERT_LT(appended.status, 300) << appended.body;
  const std::string timeline =
      c.Request("GET", "/incidents/inc-001/timeline", {{"Authorization", "Bearer the-real-token"}})
          .body;
  EXPECT_NE(timeline.find("from the console"), std::string::npos) << timeline;
  // (The mock provider keeps only a body's actor, which a session's call cannot set; the
  // engine's timelines record the caller, the session.)
  EXPECT_EQ(timeline.find("Mallory"), std::string::npos) << timeline;
  const auto audit = logs.Matching("\"action\":\"incident.timeline.appended\"");
  ASSERT_FALSE(audit.empty());
  EXPECT_NE(audit.back().find("\"actor_id\":\"Alice Ops\""), std::string::npos) << audit.back();
  EXPECT_TRUE(logs.Matching("mallory").empty());
  EXPECT_TRUE(logs.Matching("the-real-token").empty());
  EXPECT_TRUE(logs.Matching(value).empty()) << "no session id in the logs";

  // Logout ends it and clears the cookie.
  auto out = c.Request("POST", "/ui/logout", with_cookie);
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.Header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(c.Request("GET", "/incidents/inc-001", with_cookie).status, 401);
}

// Under TLS the cookie is Secure and __Host- prefixed (no other host or plain-http page can plant
// one), and only that name is read.
TEST(ConsoleSessionsApp, UnderTlsTheCookieIsSecureAndHostPrefixed) {
  char tmpl[] = "/tmp/opsorch-console-tls-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
                         "-keyout " +
                         dir + "/k.pem -out " + dir + "/c.pem >/dev/null 2>&1")
                            .c_str()),
            0);
  {
    auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"},
                                     {"OPSORCH_BEARER_TOKEN", "tls-token"},
                                     {"OPSORCH_TLS_CERT_FILE", dir + "/c.pem"},
                                     {"OPSORCH_TLS_KEY_FILE", dir + "/k.pem"}});
    ASSERT_TRUE(server) << server.error().message;
    const std::string base = "https://127.0.0.1:" + std::to_string((*server)->Port());
    const std::string common = "curl -sk -i --max-time 5 -H 'X-OpsOrch-Console: 1' ";
    const std::string login =
        CommandOutput(common + "-H 'Sec-Fetch-Site: same-origin' -d '{\"token\":\"tls-token\"}' " +
                      base + "/ui/session");
    const auto at = login.find("Set-Cookie: __Host-opsorch_session=");
    ASSERT_NE(at, std::string::npos) << login;
    const std::string line = login.substr(at, login.find('\r', at) - at);
    EXPECT_NE(line.find("; Secure"), std::string::npos) << line;
    EXPECT_NE(line.find("; Path=/"), std::string::npos) << line;
    EXPECT_EQ(line.find("Domain"), std::string::npos) << line;
    const std::string value = line.substr(35, line.find(';') - 35);
    const auto status = [&](const std::string& cookie) {
      const std::string out =
          CommandOutput(common + "-o /dev/null -w '%{http_code}' -H 'Cookie: " + cookie + "' " +
                        base + "/incidents/inc-001");
      return out;
    };
    EXPECT_EQ(status("__Host-opsorch_session=" + value), "200");
    EXPECT_EQ(status("opsorch_session=" + value), "401") << "the plain-http name is not read";
  }
  std::filesystem::remove_all(dir);
}

// Guessing the token: after 10 failures in a minute an address is refused (429, Retry-After),
// the right token included, and every failure is counted.
TEST(ConsoleSessionsApp, FailedLoginsAreThrottledAndCounted) {
  auto server =
      TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}, {"OPSORCH_BEARER_TOKEN", "right"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  const Headers h = {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "same-origin"}};
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(c.Request("POST", "/ui/session", h, R"({"token":"guess"})").status, 401) << i;
  }
  auto refused = c.Request("POST", "/ui/session", h, R"({"token":"right"})");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_FALSE(refused.Header("Retry-After").empty());
  EXPECT_FALSE(refused.HasHeader("Set-Cookie"));
  const std::string metrics =
      c.Request("GET", "/metrics", {{"Authorization", "Bearer right"}}).body;
  EXPECT_NE(metrics.find("opsorch_auth_failures_total{credential=\"console_login\"} 11"),
            std::string::npos)
      << metrics.substr(0, 2000);
}

TEST(ConsoleSessionsApp, WithoutABearerTokenThereIsNoLogin) {
  auto server = TestServer::Start({{"OPSORCH_INCIDENT_PROVIDER", "mock"}});
  ASSERT_TRUE(server);
  HttpClient c((*server)->Port());
  EXPECT_EQ(c.Request("GET", "/ui/session").body,
            "{\"authRequired\":false,\"authenticated\":true,\"actor\":null,\"expiresAt\":null}\n");
  auto r = c.Request("POST", "/ui/session",
                     {{"X-OpsOrch-Console", "1"}, {"Sec-Fetch-Site", "same-origin"}},
                     R"({"token":"anything"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.HasHeader("Set-Cookie"));
}

}  // namespace
}  // namespace opsorch::testing
