// The workflow configuration service over real HTTP: the assembled server (TestServer, with
// OPSORCH_DATA_DIR and OPSORCH_BEARER_TOKEN as a user sets them) for uploads, agents, serving,
// credentials, status reports and restarts; the service's routes on their own server with an
// injected clock for timestamps and for what a start makes of files left by a crash.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <opsorch/api/api.h>
#include <opsorch/common/blocking_pool.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/http/server.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/providers/provider_set.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/package.h>
#include <opsorch/workflow/runtime.h>
#include <opsorch/workflow/service.h>

#include "support/http_client.h"
#include "support/test_server.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace pkg = workflow::package;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kAdmin = "admin-token-for-tests";

std::string Sha256(std::string_view bytes) {
  if (sodium_init() < 0) std::abort();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[sizeof h * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

JsonObject Obj(const HttpResponse& r) {
  auto v = ParseJson(r.body);
  if (!v || !v->is_object()) {
    ADD_FAILURE() << "not a JSON object: " << r.status << " " << r.body;
    return {};
  }
  return v->get_object();
}

std::string Str(const JsonValue& v) { return std::string(v.as_string()); }

fs::path FreshDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("opsorch-wf-service-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  return dir;
}

// Any server of this file: requests with or without a credential.
class Client {
 public:
  explicit Client(std::uint16_t port) : port_(port) {}

  HttpResponse Send(std::string_view method, std::string_view path, std::string_view token = {},
                    std::string_view body = {}, Headers extra = {}) const {
    HttpClient c(port_);  // one connection per request: a refusal may close it
    if (!token.empty()) extra.emplace_back("Authorization", "Bearer " + std::string(token));
    return c.Request(method, path, extra, body);
  }
  HttpResponse Admin(std::string_view method, std::string_view path,
                     std::string_view body = {}) const {
    return Send(method, path, kAdmin, body);
  }
  // PUT /admin/agents/{id}: the token when the answer has one.
  std::string PutAgent(const std::string& id, const std::string& body) const {
    auto r = Admin("PUT", "/admin/agents/" + id, body);
    EXPECT_EQ(r.status, 200) << r.body;
    const JsonObject o = Obj(r);
    return o.contains("token") ? Str(o.at("token")) : std::string();
  }

 private:
  std::uint16_t port_;
};

// A package signed by a fresh publisher for a fresh runtime.
struct Keys {
  pkg::SecretKey signer = pkg::GenerateKey(pkg::KeyPurpose::kSign);
  pkg::SecretKey recipient = pkg::GenerateKey(pkg::KeyPurpose::kRecipient);
  pkg::SecretKey packager = pkg::GenerateKey(pkg::KeyPurpose::kPackager);

  std::string Pack(const std::string& id, const std::string& version,
                   const std::string& payload = R"({"workflows":[]})") const {
    pkg::PackOptions o;
    o.id = id;
    o.version = version;
    o.created_ms = 1765000000000;
    o.signers = {signer};
    o.recipients = {recipient.Public()};
    o.packager = packager;
    auto bytes = pkg::Pack(payload, o);
    EXPECT_TRUE(bytes) << bytes.error().message;
    return bytes ? *bytes : std::string();
  }
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    Start();
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  void Start() {
    server_.reset();
    auto s = TestServer::Start(
        {{"OPSORCH_DATA_DIR", dir_.string()}, {"OPSORCH_BEARER_TOKEN", std::string(kAdmin)}});
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(server_->Port());
  }
  const Client& c() const { return *client_; }

  fs::path dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Client> client_;
};

constexpr std::string_view kPlain = R"({"deployment":"budget","workflows":[]})";

TEST_F(ServiceTest, PlainUploadAnswersMetadataAndListsById) {
  auto r = c().Admin("PUT", "/admin/workflow-packages/zeta", kPlain);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonObject m = Obj(r);
  EXPECT_EQ(Str(m.at("id")), "zeta");
  EXPECT_EQ(Str(m.at("kind")), "plain");
  EXPECT_EQ(Str(m.at("sha256")), Sha256(kPlain));
  EXPECT_EQ(m.at("size").as_int64(), static_cast<std::int64_t>(kPlain.size()));
  EXPECT_GT(m.at("uploadedAt").as_int64(), 1'600'000'000'000);
  EXPECT_TRUE(m.at("signers").as_array().empty());
  EXPECT_TRUE(m.at("warnings").as_array().empty());
  EXPECT_FALSE(m.contains("packageId"));

  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/alpha", "{}").status, 200);
  auto one = c().Admin("GET", "/admin/workflow-packages/zeta");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Obj(one), m);
  auto list = c().Admin("GET", "/admin/workflow-packages");
  ASSERT_EQ(list.status, 200);
  const JsonArray ps = Obj(list).at("packages").as_array();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(Str(ps[0].at("id")), "alpha");
  EXPECT_EQ(Str(ps[1].at("id")), "zeta");
  EXPECT_EQ(c().Admin("GET", "/admin/workflow-packages/nope").status, 404);
}

TEST_F(ServiceTest, UploadRefusalsNameTheRule) {
  struct Row {
    std::string path, body, message;
  } rows[] = {
      {"/admin/workflow-packages/x", "hello", "body: neither a workflow package nor JSON"},
      {"/admin/workflow-packages/x", "[1,2]", "body: a plain configuration must be a JSON object"},
      {"/admin/workflow-packages/x", "", "body: neither a workflow package nor JSON"},
      {"/admin/workflow-packages/bad%20id", "{}", "id: must be 1-64 characters of [A-Za-z0-9._-]"},
      {"/admin/workflow-packages/" + std::string(65, 'a'), "{}", "id: must be 1-64"},
      {"/admin/workflow-packages/x", "OWFP", "package: truncated: the format version"},
      {"/admin/workflow-packages/x", std::string("OWFP\x07", 5),
       "package: container format version 7"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.path + " " + row.body);
    auto r = c().Admin("PUT", row.path, row.body);
    EXPECT_EQ(r.status, 400) << r.body;
    JsonObject e = Obj(r);
    EXPECT_EQ(Str(e.at("code")), "bad_request");
    EXPECT_EQ(Str(e.at("message")).rfind(row.message, 0), 0u) << Str(e.at("message"));
  }
  EXPECT_EQ(Obj(c().Admin("GET", "/admin/workflow-packages")).at("packages").as_array().size(), 0u);
}

TEST_F(ServiceTest, IdsOfDotsOrStartingWithADotAreRefused) {
  const std::string rule = "id: must be 1-64 characters of [A-Za-z0-9._-], not starting with a dot";
  for (const std::string id : {"%2e", "%2e%2e", "%2e%2e%2e", "...", ".hidden"}) {
    SCOPED_TRACE(id);
    auto p = c().Admin("PUT", "/admin/workflow-packages/" + id, "{}");
    EXPECT_EQ(p.status, 400) << p.body;
    EXPECT_EQ(Str(Obj(p).at("message")), rule);
    auto a = c().Admin("PUT", "/admin/agents/" + id, "");
    EXPECT_EQ(a.status, 400) << a.body;
    EXPECT_EQ(Str(Obj(a).at("message")), rule);
    EXPECT_EQ(c().Admin("GET", "/workflow-packages/" + id).status, 400);
  }
  auto listed = c().Admin("PUT", "/admin/agents/edge-1", R"({"packages":[".."]})");
  EXPECT_EQ(listed.status, 400);
  EXPECT_EQ(Str(Obj(listed).at("message")),
            "packages[0]: must be 1-64 characters of [A-Za-z0-9._-], not starting with a dot");
  const fs::path packages = dir_ / "workflow-service" / "packages";
  EXPECT_FALSE(fs::exists(packages) && !fs::is_empty(packages)) << "nothing stored";
  // Dots elsewhere are fine.
  EXPECT_EQ(c().Admin("PUT", "/admin/workflow-packages/v1..2", "{}").status, 200);
  EXPECT_EQ(c().Admin("PUT", "/admin/agents/edge.1", "").status, 200);
}

TEST_F(ServiceTest, PackageUploadAnswersItsManifestAndKeys) {
  const Keys k;
  const std::string bytes = k.Pack("budget", "1.2.0");
  auto r = c().Admin("PUT", "/admin/workflow-packages/budget", bytes);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonObject m = Obj(r);
  EXPECT_EQ(Str(m.at("kind")), "package");
  EXPECT_EQ(Str(m.at("packageId")), "budget");
  EXPECT_EQ(Str(m.at("version")), "1.2.0");
  EXPECT_EQ(Str(m.at("created")), "2025-12-06T05:46:40Z");
  EXPECT_EQ(Str(m.at("packager")), k.packager.Public().Text());
  ASSERT_EQ(m.at("signers").as_array().size(), 1u);
  EXPECT_EQ(Str(m.at("signers").as_array()[0]), k.signer.Public().Text());
  ASSERT_EQ(m.at("recipients").as_array().size(), 1u);
  EXPECT_EQ(Str(m.at("recipients").as_array()[0]), k.recipient.Public().Text());
  EXPECT_EQ(Str(m.at("sha256")), Sha256(bytes));
  EXPECT_TRUE(m.at("warnings").as_array().empty());

  // Stored under another id than its own: kept, with a word of warning.
  auto other = c().Admin("PUT", "/admin/workflow-packages/budget-staging", bytes);
  ASSERT_EQ(other.status, 200) << other.body;
  const JsonArray w = Obj(other).at("warnings").as_array();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(Str(w[0]).find("package id \"budget\" is not \"budget-staging\""), std::string::npos);
}

TEST_F(ServiceTest, MalformedContainerIsRefusedNamingTheRule) {
  const std::string bytes = Keys().Pack("budget", "1.0.0");
  auto trailing = c().Admin("PUT", "/admin/workflow-packages/budget", bytes + "x");
  EXPECT_EQ(trailing.status, 400);
  EXPECT_EQ(Str(Obj(trailing).at("message")).rfind("package: 1 byte", 0), 0u) << trailing.body;
  EXPECT_NE(trailing.body.find("after the last signature"), std::string::npos);
  auto truncated =
      c().Admin("PUT", "/admin/workflow-packages/budget", bytes.substr(0, bytes.size() - 1));
  EXPECT_EQ(truncated.status, 400);
  EXPECT_EQ(Str(Obj(truncated).at("message")).rfind("package: truncated: the signature 0", 0), 0u)
      << truncated.body;
  EXPECT_EQ(c().Admin("GET", "/admin/workflow-packages/budget").status, 404);
}

TEST_F(ServiceTest, TamperedPackageIsStoredWithAWarningAndServed) {
  const Keys k;
  std::string bytes = k.Pack("budget", "1.2.0");
  const auto at = bytes.find("1.2.0");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "9.9.9");  // the manifest still parses; its signature no longer holds
  auto r = c().Admin("PUT", "/admin/workflow-packages/budget", bytes);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonObject m = Obj(r);
  EXPECT_EQ(Str(m.at("kind")), "package");
  EXPECT_FALSE(m.contains("version")) << "nothing from an unverified manifest";
  ASSERT_EQ(m.at("warnings").as_array().size(), 1u);
  EXPECT_EQ(Str(m.at("warnings").as_array()[0]).rfind("bad_signature: the signature by sign:", 0),
            0u);
  auto served = c().Admin("GET", "/workflow-packages/budget");
  ASSERT_EQ(served.status, 200);
  EXPECT_EQ(served.body, bytes);
  EXPECT_EQ(served.Header("Content-Type"), "application/octet-stream");
}

TEST_F(ServiceTest, AgentGetsExactBytesWithEtagAnd304UntilReupload) {
  const std::string token = c().PutAgent("edge-1", R"({"packages":["budget"]})");
  ASSERT_EQ(token.size(), 43u) << "32 bytes, base64url without padding";
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/budget", kPlain).status, 200);

  auto r = c().Send("GET", "/workflow-packages/budget", token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, kPlain) << "the stored bytes exactly (no newline added)";
  const std::string etag = "\"" + Sha256(kPlain) + "\"";
  EXPECT_EQ(r.Header("ETag"), etag);
  EXPECT_EQ(r.Header("Cache-Control"), "no-cache");
  EXPECT_EQ(r.Header("Content-Type").rfind("application/json", 0), 0u);

  auto same = c().Send("GET", "/workflow-packages/budget", token, {}, {{"If-None-Match", etag}});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(same.Header("ETag"), etag);
  auto weak =
      c().Send("GET", "/workflow-packages/budget", token, {}, {{"If-None-Match", "W/" + etag}});
  EXPECT_EQ(weak.status, 304);

  const Keys k;
  const std::string bytes = k.Pack("budget", "2.0.0");
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/budget", bytes).status, 200);
  auto changed = c().Send("GET", "/workflow-packages/budget", token, {}, {{"If-None-Match", etag}});
  ASSERT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, bytes);
  EXPECT_EQ(changed.Header("ETag"), "\"" + Sha256(bytes) + "\"");
  EXPECT_EQ(changed.Header("Content-Type"), "application/octet-stream");
}

TEST_F(ServiceTest, CredentialsOfThePackageRoute) {
  const std::string mine = c().PutAgent("edge-1", R"({"packages":["budget"]})");
  const std::string theirs = c().PutAgent("edge-2", R"({"packages":["other"]})");
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/budget", kPlain).status, 200);

  auto none = c().Send("GET", "/workflow-packages/budget");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(Str(Obj(none).at("code")), "unauthorized");
  EXPECT_EQ(none.Header("WWW-Authenticate"), "Bearer");
  auto unknown = c().Send("GET", "/workflow-packages/budget", "not-a-token");
  EXPECT_EQ(unknown.status, 401);
  auto other = c().Send("GET", "/workflow-packages/budget", theirs);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(Str(Obj(other).at("code")), "forbidden");
  // Not allowed and absent look the same: no way to probe for ids.
  EXPECT_EQ(c().Send("GET", "/workflow-packages/secret-plan", mine).status, 403);
  EXPECT_EQ(c().Send("GET", "/workflow-packages/budget", mine).status, 200);
  EXPECT_EQ(c().Admin("GET", "/workflow-packages/budget").status, 200);
  EXPECT_EQ(c().Admin("GET", "/workflow-packages/absent").status, 404);

  // An agent's token is no admin credential.
  EXPECT_EQ(c().Send("GET", "/admin/agents", mine).status, 401);
  EXPECT_EQ(c().Send("GET", "/admin/workflow-packages/budget", mine).status, 401);
  EXPECT_EQ(c().Send("PUT", "/admin/workflow-packages/budget", mine, "{}").status, 401);
  EXPECT_EQ(c().Send("PUT", "/admin/agents/edge-1", mine, R"({"rotateToken":true})").status, 401);

  // Refusals are counted (4 on this route: none, unknown, other, secret-plan).
  const std::string metrics = c().Admin("GET", "/metrics").body;
  EXPECT_NE(metrics.find("opsorch_auth_failures_total{credential=\"workflow_agent\"} 4"),
            std::string::npos)
      << metrics.substr(metrics.find("opsorch_auth_failures_total"), 300);
}

std::string Report(const std::string& audit_json = "[]") {
  return R"({"agent":{"version":"opsorch 0.9.0","startedAt":1765000000000,"host":"edge-1"},)"
         R"("deployments":[{"id":"budget","source":"http://127.0.0.1:8080/workflow-packages/budget",)"
         R"("packageId":"budget","version":"1.2.0","sha256":")" +
         std::string(64, 'a') +
         R"(","loadedAt":1765000001000,"lastPoll":1765000002000,"lastError":"",)"
         R"("lastErrorAt":0,"refusal":"","runs":3,"failedRuns":0}],"audit":)" +
         audit_json + "}";
}

std::string AuditRecords(int from, int to) {
  std::string out = "[";
  for (int i = from; i < to; ++i) {
    if (i > from) out.push_back(',');
    out += R"({"timestamp":)" + std::to_string(1765000000000 + i) +
           R"(,"deployment":"budget","kind":"host_first_call","message":"m)" + std::to_string(i) +
           R"(","detail":{"host":"api.example"}})";
  }
  return out + "]";
}

TEST_F(ServiceTest, StatusNeedsTheAgentsOwnToken) {
  const std::string one = c().PutAgent("edge-1", "");
  const std::string two = c().PutAgent("edge-2", "");
  EXPECT_EQ(c().Send("POST", "/agents/edge-1/status", {}, Report()).status, 401);
  EXPECT_EQ(c().Send("POST", "/agents/edge-1/status", "nope", Report()).status, 401);
  EXPECT_EQ(c().Send("POST", "/agents/edge-1/status", two, Report()).status, 403);
  EXPECT_EQ(c().Send("POST", "/agents/edge-1/status", kAdmin, Report()).status, 403);
  EXPECT_EQ(c().Send("POST", "/agents/ghost/status", one, Report()).status, 403);
  EXPECT_EQ(c().Send("POST", "/agents/edge-1/status", one, Report()).status, 200);
  EXPECT_TRUE(Obj(c().Admin("GET", "/admin/agents/edge-2")).at("status").is_null());
}

TEST_F(ServiceTest, StatusDecodingRefusalsNameTheField) {
  const std::string token = c().PutAgent("edge-1", "");
  const std::string agent = R"("agent":{"version":"v","startedAt":1})";
  const auto doc = [&](const std::string& rest) { return "{" + agent + "," + rest + "}"; };
  const auto dep = [&](const std::string& fields) {
    return doc(R"("deployments":[{"id":"budget","source":"s")" + fields + "}]");
  };
  const auto rec = [&](const std::string& fields) {
    return doc(R"("deployments":[],"audit":[{"timestamp":1,"kind":"k","message":"m")" + fields +
               "}]");
  };
  std::string many_deps = R"("deployments":[)";
  for (int i = 0; i < 65; ++i)
    many_deps += std::string(i ? "," : "") + R"({"id":"d","source":"s"})";
  many_deps += "]";
  std::string detail17 = R"(,"detail":{)";
  for (int i = 0; i < 17; ++i)
    detail17 += std::string(i ? "," : "") + "\"k" + std::to_string(i) + "\":\"v\"";
  detail17 += "}";

  struct Row {
    std::string body, message;
  } rows[] = {
      {"not json", "body: not JSON"},
      {"[]", "body: must be a JSON object"},
      {doc(R"("deployments":[],"extra":1)"), "extra: unknown field"},
      {R"({"agent":{"version":"v","startedAt":1,"pid":7},"deployments":[]})",
       "agent.pid: unknown field"},
      {dep(R"(,"colour":"red")"), "deployments[0].colour: unknown field"},
      {rec(R"(,"severity":"high")"), "audit[0].severity: unknown field"},
      {R"({"deployments":[]})", "agent: is required"},
      {doc(R"("audit":[])"), "deployments: is required"},
      {R"({"agent":{"version":"v"},"deployments":[]})", "agent.startedAt: is required"},
      {R"({"agent":{"version":"v","startedAt":"now"},"deployments":[]})",
       "agent.startedAt: must be a non-negative integer"},
      {R"({"agent":{"version":"v","startedAt":-1},"deployments":[]})",
       "agent.startedAt: must be a non-negative integer"},
      {R"({"agent":{"version":7,"startedAt":1},"deployments":[]})",
       "agent.version: must be a string"},
      {R"({"agent":[],"deployments":[]})", "agent: must be an object"},
      {doc(R"("deployments":{})"), "deployments: must be an array"},
      {doc(many_deps), "deployments: must have at most 64 items"},
      {doc(R"("deployments":[],"audit":)" + AuditRecords(0, 501)),
       "audit: must have at most 500 items"},
      {R"({"agent":{"version":"v","startedAt":1,"host":")" + std::string(4097, 'h') +
           R"("},"deployments":[]})",
       "agent.host: must be at most 4096 bytes"},
      {dep(R"(,"lastError":")" + std::string(5000, 'e') + "\""),
       "deployments[0].lastError: must be at most 4096 bytes"},
      {dep(R"(,"runs":1.5)"), "deployments[0].runs: must be a non-negative integer"},
      {dep(R"(,"sha256":"ABC")"), "deployments[0].sha256: must be 64 lower-case hex digits"},
      {dep(R"(,"refusal":"bad signature!")"), "deployments[0].refusal: must be at most 64"},
      {doc(R"("deployments":[{"id":"a/b","source":"s"}])"), "deployments[0].id: must be 1-64"},
      {doc(R"("deployments":[{"id":"budget"}])"), "deployments[0].source: is required"},
      {doc(R"("deployments":[7])"), "deployments[0]: must be an object"},
      {rec(R"(,"detail":{"n":1})"), "audit[0].detail.n: must be a string"},
      {rec(detail17), "audit[0].detail: must have at most 16 entries"},
      {doc(R"("deployments":[],"audit":[{"timestamp":1,"message":"m"}])"),
       "audit[0].kind: is required"},
      {doc(R"("deployments":[],"audit":[{"timestamp":1,"kind":"k","message":5}])"),
       "audit[0].message: must be a string"},
      {rec(R"(,"detail":{"a":{"b":{"c":"d"}}})"),
       "body: not JSON (json: nesting exceeds"},  // deeper than a report goes
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.body.substr(0, 200));
    auto r = c().Send("POST", "/agents/edge-1/status", token, row.body);
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(Str(Obj(r).at("message")).rfind(row.message, 0), 0u) << Str(Obj(r).at("message"));
  }
  EXPECT_TRUE(Obj(c().Admin("GET", "/admin/agents/edge-1")).at("status").is_null());
  auto big = c().Send("POST", "/agents/edge-1/status", token, std::string(300 << 10, ' '));
  EXPECT_EQ(big.status, 413);
}

TEST_F(ServiceTest, EverythingSurvivesARestart) {
  const Keys k;
  const std::string bytes = k.Pack("budget", "1.2.0");
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/budget", bytes).status, 200);
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/dev", kPlain).status, 200);
  const std::string token =
      c().PutAgent("edge-1", R"({"packages":["budget","dev"],"description":"first edge"})");
  ASSERT_EQ(c().Send("POST", "/agents/edge-1/status", token, Report(AuditRecords(0, 3))).status,
            200);
  const std::string packages_before = c().Admin("GET", "/admin/workflow-packages").body;
  const std::string agents_before = c().Admin("GET", "/admin/agents").body;

  Start();  // a new server over the same directory
  EXPECT_EQ(c().Admin("GET", "/admin/workflow-packages").body, packages_before);
  EXPECT_EQ(c().Admin("GET", "/admin/agents").body, agents_before);
  auto r = c().Send("GET", "/workflow-packages/budget", token);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, bytes);
  EXPECT_EQ(c().Send("GET", "/workflow-packages/dev", token).body, kPlain);
  const JsonObject a = Obj(c().Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(Str(a.at("description")), "first edge");
  EXPECT_EQ(a.at("audit").as_array().size(), 3u);
  EXPECT_EQ(Str(a.at("status").at("deployments").as_array()[0].at("id")), "budget");
  // Only a hash of the token is on disk.
  const std::string file = [&] {
    std::ifstream in(dir_ / "workflow-service" / "agents" / "edge-1.json");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  EXPECT_EQ(file.find(token), std::string::npos);
  EXPECT_NE(file.find(Sha256(token)), std::string::npos);
}

TEST_F(ServiceTest, RotationReplacesTheTokenAndUpdatesKeepIt) {
  const std::string old = c().PutAgent("edge-1", R"({"packages":["budget"]})");
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/budget", kPlain).status, 200);
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/other", kPlain).status, 200);

  // An update without rotation: no token in the answer, the old one still works.
  auto upd = c().Admin("PUT", "/admin/agents/edge-1",
                       R"({"packages":["budget","other"],"description":"d"})");
  ASSERT_EQ(upd.status, 200);
  JsonObject u = Obj(upd);
  EXPECT_FALSE(u.contains("token"));
  EXPECT_EQ(u.at("packages").as_array(), (JsonArray{"budget", "other"}));
  EXPECT_EQ(c().Send("GET", "/workflow-packages/other", old).status, 200);

  const std::string fresh = c().PutAgent("edge-1", R"({"rotateToken":true})");
  ASSERT_FALSE(fresh.empty());
  EXPECT_NE(fresh, old);
  EXPECT_EQ(c().Send("GET", "/workflow-packages/budget", old).status, 401);
  EXPECT_EQ(c().Send("POST", "/agents/edge-1/status", old, Report()).status, 401);
  EXPECT_EQ(c().Send("GET", "/workflow-packages/other", fresh).status, 200);
  const JsonObject a = Obj(c().Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(a.at("packages").as_array(), (JsonArray{"budget", "other"})) << "kept by rotation";
  EXPECT_EQ(Str(a.at("description")), "d");

  for (const auto& [body, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"packages":[]})", "packages: must name at least one package id"},
           {R"({"packages":["a","a"]})", "packages[1]: is a duplicate"},
           {R"({"packages":["a b"]})", "packages[0]: must be 1-64 characters"},
           {R"({"description":")" + std::string(257, 'd') + "\"}",
            "description: must be at most 256"},
           {R"({"rotateToken":"yes"})", "rotateToken: must be true or false"},
           {R"({"token":"mine"})", "token: unknown field"}}) {
    auto r = c().Admin("PUT", "/admin/agents/edge-1", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(Str(Obj(r).at("message")).rfind(message, 0), 0u) << r.body;
  }
}

TEST_F(ServiceTest, DeletesRemovePackagesAndAgents) {
  const std::string token = c().PutAgent("edge-1", R"({"packages":["budget"]})");
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/budget", kPlain).status, 200);
  EXPECT_EQ(c().Admin("DELETE", "/admin/workflow-packages/budget").status, 204);
  EXPECT_EQ(c().Admin("GET", "/admin/workflow-packages/budget").status, 404);
  EXPECT_EQ(c().Send("GET", "/workflow-packages/budget", token).status, 404);
  EXPECT_EQ(c().Admin("DELETE", "/admin/workflow-packages/budget").status, 404);
  EXPECT_FALSE(fs::exists(dir_ / "workflow-service" / "packages" / "budget.bin"));

  EXPECT_EQ(c().Admin("DELETE", "/admin/agents/edge-1").status, 204);
  EXPECT_EQ(c().Admin("GET", "/admin/agents/edge-1").status, 404);
  EXPECT_EQ(c().Send("GET", "/workflow-packages/budget", token).status, 401);
  EXPECT_EQ(c().Admin("DELETE", "/admin/agents/edge-1").status, 404);

  Start();
  EXPECT_EQ(Obj(c().Admin("GET", "/admin/agents")).at("agents").as_array().size(), 0u);
  EXPECT_EQ(Obj(c().Admin("GET", "/admin/workflow-packages")).at("packages").as_array().size(), 0u);
}

TEST(ServiceLimits, UploadsAreBoundByTheRouteAndTheServersBodyLimit) {
  const fs::path dir = FreshDir("limits");
  std::string plain(workflow::service::kMaxPlainBytes + 10, ' ');
  plain.front() = '{';
  plain.back() = '}';
  {
    auto s = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()},
                                {"OPSORCH_BEARER_TOKEN", std::string(kAdmin)},
                                {"OPSORCH_HTTP_BODY_LIMIT", std::to_string(16u << 20)}});
    ASSERT_TRUE(s) << s.error().message;
    const Client c((*s)->Port());
    auto big = c.Admin("PUT", "/admin/workflow-packages/big", plain);
    EXPECT_EQ(big.status, 400);
    EXPECT_EQ(Str(Obj(big).at("message")), "body: a plain configuration is at most 8388608 bytes");
    auto over = c.Admin("PUT", "/admin/workflow-packages/big",
                        std::string(workflow::service::kMaxUploadBytes + 1, 'x'));
    EXPECT_EQ(over.status, 413);
    EXPECT_EQ(Str(Obj(over).at("code")), "payload_too_large");
  }
  // The server's own limit (1 MiB by default) applies first.
  auto s = TestServer::Start(
      {{"OPSORCH_DATA_DIR", dir.string()}, {"OPSORCH_BEARER_TOKEN", std::string(kAdmin)}});
  ASSERT_TRUE(s) << s.error().message;
  // Refused on its Content-Length, before the body is read (sending it would race the close).
  HttpClient raw((*s)->Port());
  auto r =
      raw.Raw("PUT /admin/workflow-packages/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              std::string(kAdmin) + "\r\nContent-Length: " + std::to_string(2u << 20) + "\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  fs::remove_all(dir);
}

TEST(ServiceOpen, WithoutABearerTokenThePackageRouteIsOpenLikeEveryOther) {
  const fs::path dir = FreshDir("open");
  auto s = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()}});
  ASSERT_TRUE(s) << s.error().message;
  const Client c((*s)->Port());
  ASSERT_EQ(c.Send("PUT", "/admin/workflow-packages/p", {}, "{}").status, 200);
  const std::string token = c.PutAgent("edge-1", R"({"packages":["other"]})");
  EXPECT_EQ(c.Send("GET", "/workflow-packages/p").status, 200);
  // A credential that is presented is still checked.
  EXPECT_EQ(c.Send("GET", "/workflow-packages/p", "unknown").status, 401);
  EXPECT_EQ(c.Send("GET", "/workflow-packages/p", token).status, 403);
  // A status report always needs the agent's own token.
  EXPECT_EQ(c.Send("POST", "/agents/edge-1/status", {}, Report()).status, 401);
  EXPECT_EQ(c.Send("POST", "/agents/edge-1/status", token, Report()).status, 200);
  fs::remove_all(dir);
}

TEST(ServiceOpen, CrossSiteReadsOfPackagesAreRefused) {
  const fs::path dir = FreshDir("open-cross-site");
  auto s = TestServer::Start({{"OPSORCH_DATA_DIR", dir.string()}});
  ASSERT_TRUE(s) << s.error().message;
  const Client c((*s)->Port());
  ASSERT_EQ(c.Send("PUT", "/admin/workflow-packages/p", {}, R"({"secret":1})").status, 200);
  // A web page in the operator's browser: the fetch metadata, or a foreign Origin.
  for (const Headers& h :
       {Headers{{"Sec-Fetch-Site", "cross-site"}}, Headers{{"Sec-Fetch-Site", "same-site"}},
        Headers{{"Origin", "https://evil.example"}}}) {
    SCOPED_TRACE(h[0].first + ": " + h[0].second);
    auto r = c.Send("GET", "/workflow-packages/p", {}, {}, h);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(Str(Obj(r).at("code")), "forbidden");
    EXPECT_EQ(r.body.find("secret"), std::string::npos);
  }
  // curl, an agent, the console's own origin.
  EXPECT_EQ(c.Send("GET", "/workflow-packages/p").body, R"({"secret":1})");
  EXPECT_EQ(
      c.Send("GET", "/workflow-packages/p", {}, {}, {{"Sec-Fetch-Site", "same-origin"}}).status,
      200);
  fs::remove_all(dir);
}

// The real runtime as an agent: it polls its package with its token and reports to the
// service, which shows what it loaded and, after a tampered upload, what it refused.
TEST_F(ServiceTest, TheWorkflowRuntimePollsWithItsTokenAndReportsToTheService) {
  const Keys k;
  const std::string token = c().PutAgent("edge-1", R"({"packages":["d"]})");
  const std::string config =
      R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body('v1')"}]}]})J";
  const std::string v1 = k.Pack("d", "1.0.0", config);
  ASSERT_EQ(c().Admin("PUT", "/admin/workflow-packages/d", v1).status, 200);

  const fs::path agent_dir = dir_ / "agent";
  fs::create_directories(agent_dir);
  const std::string base = "http://127.0.0.1:" + std::to_string(server_->Port());
  const std::string auth = R"("headers": {"Authorization": "Bearer )" + token + R"("})";
  std::ofstream(agent_dir / "boot.json")
      << R"({"keys": {"publisher": ")" << k.signer.Public().Text() << R"(", "ci": ")"
      << k.packager.Public().Text() << R"("}, "report": {"url": ")" << base
      << R"(/agents/edge-1/status", "interval": "1h", )" << auth
      << R"(}, "deployments": [{"id": "d", "config": {"url": ")" << base
      << R"(/workflow-packages/d", "poll": "1h", )" << auth
      << R"(}, "persistence_dir": "state", "packaging": {"required_signers": ["publisher"],)"
      << R"("packagers": ["ci"], "recipient_key": "${RUNTIME_KEY}"}}]})";
  auto boot = workflow::LoadBootstrap((agent_dir / "boot.json").string(),
                                      [&](const std::string& n) -> std::optional<std::string> {
                                        if (n == "RUNTIME_KEY") return k.recipient.Text();
                                        return std::nullopt;
                                      });
  ASSERT_TRUE(boot) << boot.error().message;
  workflow::RuntimeOptions o;
  o.scripts.worker_path = OPSORCH_SCRIPT_WORKER;
  o.start_triggers = false;
  o.use_outputs = false;
  o.threads = 2;
  o.local_logs = false;
  auto runtime = workflow::Runtime::Start(std::move(*boot), std::move(o));
  ASSERT_TRUE(runtime) << runtime.error().message;

  // The deployment as the service last heard of it (null until a report arrived).
  const auto deployment = [&]() -> JsonValue {
    const JsonObject a = Obj(c().Admin("GET", "/admin/agents/edge-1"));
    if (!a.contains("status") || a.at("status").is_null()) return nullptr;
    return a.at("status").at("deployments").at(0);
  };
  const auto wait_for = [&](const std::function<bool(const JsonValue&)>& pred) {
    for (int i = 0; i < 1000; ++i) {  // progress, bounded: a regression fails, not hangs
      const JsonValue d = deployment();
      if (!d.is_null() && pred(d)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  ASSERT_TRUE(wait_for([&](const JsonValue& d) {
    return d.as_object().contains("sha256") && Str(d.at("sha256")) == Sha256(v1);
  })) << c().Admin("GET", "/admin/agents/edge-1").body;
  const JsonObject a = Obj(c().Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(Str(a.at("status").at("agent").at("version")).rfind("opsorch ", 0), 0u);
  bool accepted = false;
  for (const JsonValue& rec : a.at("audit").as_array()) {
    accepted = accepted || Str(rec.at("kind")) == "config_accepted";
  }
  EXPECT_TRUE(accepted) << a;
  // Reports are accepted at most once a second per agent: the refusal's report comes later.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));

  std::string tampered = k.Pack("d", "1.1.0", config);
  tampered[tampered.size() - 200] ^= 0x01;
  auto up = c().Admin("PUT", "/admin/workflow-packages/d", tampered);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(Obj(up).at("warnings").as_array().size(), 1u);
  (*runtime)->PollNow();
  ASSERT_TRUE(wait_for([](const JsonValue& d) {
    return d.as_object().contains("refusal") && Str(d.at("refusal")) == "bad_signature";
  })) << c().Admin("GET", "/admin/agents/edge-1").body;
  EXPECT_EQ(Str(deployment().at("version")), "1.0.0") << "the accepted package keeps running";
  (*runtime)->Stop();
}

// The service's routes alone, on a server of their own, with the clock in the test's hand.
class ClockedServer {
 public:
  ClockedServer(const fs::path& dir, std::atomic<std::int64_t>* now)
      : ClockedServer(dir, [now] { return now->load(); }) {}
  // `bearer` "": open mode (no OPSORCH_BEARER_TOKEN).
  ClockedServer(const fs::path& dir, std::function<std::int64_t()> clock,
                std::string bearer = std::string(kAdmin)) {
    workflow::service::ServiceOptions o;
    o.dir = dir.string();
    o.now_ms = std::move(clock);
    auto svc = workflow::service::ConfigService::Open(std::move(o));
    EXPECT_TRUE(svc) << svc.error().message;
    if (!svc) return;
    api::ApiOptions ao;
    ao.bearer_token = bearer;
    auto a = api::Api::Create(std::move(ao),
                              workflow::service::Routes({*svc, bearer, &metrics_, &pool_}),
                              providers_, metrics_, &pool_);
    EXPECT_TRUE(a) << a.error().message;
    if (!a) return;
    api_ = std::move(*a);
    http::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.threads = 1;
    auto s = http::Server::Create(so, *api_);
    EXPECT_TRUE(s) << s.error().message;
    if (!s) return;
    server_ = std::move(*s);
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~ClockedServer() {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return server_ != nullptr; }
  Client client() const { return Client(server_->Port()); }
  // The one event-loop thread (threads = 1: Run serves on the calling thread).
  std::thread::id loop_thread() const { return thread_.get_id(); }

 private:
  metrics::Registry metrics_;
  providers::ProviderSet providers_;
  std::unique_ptr<api::Api> api_;
  BlockingPool pool_{2};  // after the API: its queued calls finish while the API exists
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

TEST(ServiceClock, TimestampsComeFromTheInjectedClock) {
  const fs::path dir = FreshDir("clock");
  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockedServer s(dir, &now);
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  EXPECT_EQ(Obj(c.Admin("PUT", "/admin/workflow-packages/p", "{}")).at("uploadedAt").as_int64(),
            1'700'000'000'000);
  now += 5000;
  const std::string token = c.PutAgent("edge-1", "");
  JsonObject a = Obj(c.Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(a.at("createdAt").as_int64(), 1'700'000'005'000);
  EXPECT_TRUE(a.at("lastSeen").is_null());
  now += 1000;
  ASSERT_EQ(c.Send("POST", "/agents/edge-1/status", token, Report()).status, 200);
  a = Obj(c.Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(a.at("lastSeen").as_int64(), 1'700'000'006'000);
  EXPECT_EQ(a.at("createdAt").as_int64(), 1'700'000'005'000);
  fs::remove_all(dir);
}

TEST(ServiceClock, StatusIsStoredAndAuditRingKeepsTheNewest1000) {
  const fs::path dir = FreshDir("ring");
  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockedServer s(dir, &now);
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  const std::string token = c.PutAgent("edge-1", "");
  auto fresh = Obj(c.Admin("GET", "/admin/agents/edge-1"));
  EXPECT_TRUE(fresh.at("lastSeen").is_null());
  EXPECT_TRUE(fresh.at("status").is_null());
  EXPECT_EQ(fresh.at("packages").as_array(), JsonArray{"edge-1"}) << "default: its own id";

  // 1100 records in three posts: the first 100 fall out.
  for (auto [from, to] : {std::pair{0, 400}, std::pair{400, 800}, std::pair{800, 1100}}) {
    now += workflow::service::kMinReportIntervalMs;
    auto r = c.Send("POST", "/agents/edge-1/status", token, Report(AuditRecords(from, to)));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Str(Obj(r).at("status")), "ok");
  }
  auto list = c.Admin("GET", "/admin/agents");
  ASSERT_EQ(list.status, 200);
  const JsonArray agents = Obj(list).at("agents").as_array();
  ASSERT_EQ(agents.size(), 1u);
  const JsonObject& a = agents[0].as_object();
  EXPECT_EQ(Str(a.at("id")), "edge-1");
  EXPECT_FALSE(a.at("lastSeen").is_null());
  const JsonObject& status = a.at("status").as_object();
  EXPECT_EQ(Str(status.at("agent").at("version")), "opsorch 0.9.0");
  EXPECT_EQ(status.at("deployments").as_array()[0].at("runs").as_int64(), 3);
  EXPECT_FALSE(status.contains("audit"));
  const JsonArray& shown = a.at("audit").as_array();
  ASSERT_EQ(shown.size(), 100u) << "the newest 100 by default";
  EXPECT_EQ(Str(shown.front().at("message")), "m1000");
  EXPECT_EQ(Str(shown.back().at("message")), "m1099");
  EXPECT_EQ(Str(shown.back().at("detail").at("host")), "api.example");

  const JsonArray all =
      Obj(c.Admin("GET", "/admin/agents/edge-1?audit=1000")).at("audit").as_array();
  ASSERT_EQ(all.size(), 1000u);
  EXPECT_EQ(Str(all.front().at("message")), "m100");
  EXPECT_EQ(Str(all.back().at("message")), "m1099");
  EXPECT_EQ(c.Admin("GET", "/admin/agents/edge-1?audit=1001").status, 400);
  // What is kept, not only what is shown: the agent's file holds exactly the ring.
  std::ifstream in(dir / "agents" / "edge-1.json");
  auto file = ParseJson(std::string(std::istreambuf_iterator<char>(in), {}));
  ASSERT_TRUE(file) << file.error().message;
  const JsonArray& kept = file->at("audit").as_array();
  ASSERT_EQ(kept.size(), 1000u);
  EXPECT_EQ(Str(kept.front().at("message")), "m100");
  fs::remove_all(dir);
}

TEST(ServiceClock, AStartTrustsTheBytesOverLeftoversOfACrash) {
  const fs::path dir = FreshDir("crash");
  const fs::path packages = dir / "packages";
  std::atomic<std::int64_t> now{1'700'000'000'000};
  {
    ClockedServer s(dir, &now);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s.client().Admin("PUT", "/admin/workflow-packages/a", R"({"v":0})").status, 200);
  }
  // A re-upload that renamed its bytes but not its metadata, an upload that wrote only its
  // bytes, and a temporary file.
  std::ofstream(packages / "a.bin", std::ios::trunc) << R"({"v":1})";
  std::ofstream(packages / "b.bin") << "{}";
  std::ofstream(packages / "c.json.tmp") << "{";
  now += 1000;
  ClockedServer s(dir, &now);
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  const JsonObject a = Obj(c.Admin("GET", "/admin/workflow-packages/a"));
  EXPECT_EQ(Str(a.at("sha256")), Sha256(R"({"v":1})"));
  EXPECT_EQ(a.at("size").as_int64(), 7);
  EXPECT_EQ(a.at("uploadedAt").as_int64(), 1'700'000'000'000) << "kept from the old metadata";
  EXPECT_EQ(c.Admin("GET", "/workflow-packages/a").body, R"({"v":1})");
  EXPECT_EQ(c.Admin("GET", "/admin/workflow-packages/b").status, 404);
  EXPECT_FALSE(fs::exists(packages / "b.bin"));
  EXPECT_FALSE(fs::exists(packages / "c.json.tmp"));
  fs::remove_all(dir);
}

std::string Etag(std::string_view bytes) { return "\"" + Sha256(bytes) + "\""; }

TEST(ServiceClock, FullDownloadsAreRationedPerAgent) {
  const fs::path dir = FreshDir("download-limit");
  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockedServer s(dir, &now);
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  ASSERT_EQ(c.Admin("PUT", "/admin/workflow-packages/p", "{}").status, 200);
  const std::string one = c.PutAgent("edge-1", R"({"packages":["p"]})");
  const std::string two = c.PutAgent("edge-2", R"({"packages":["p"]})");
  const auto get = [&](const std::string& token, Headers h = {}) {
    return c.Send("GET", "/workflow-packages/p", token, {}, std::move(h));
  };

  EXPECT_EQ(get(one).status, 200);
  EXPECT_EQ(get(one).status, 200);
  auto third = get(one);
  ASSERT_EQ(third.status, 429) << third.body;
  EXPECT_EQ(third.Header("Retry-After"), "5");
  EXPECT_EQ(Str(Obj(third).at("code")), "rate_limited");
  EXPECT_EQ(Str(Obj(third).at("message")),
            "full downloads of workflow packages: at most 2 at once, then one per 5 s per agent; "
            "poll with If-None-Match (a 304 is not counted)");
  // Polling costs nothing, other agents have their own bucket, the bearer token has none.
  EXPECT_EQ(get(one, {{"If-None-Match", Etag("{}")}}).status, 304);
  EXPECT_EQ(get(two).status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(std::string(kAdmin)).status, 200);

  now += workflow::service::kDownloadEveryMs;
  EXPECT_EQ(get(one).status, 200);
  EXPECT_EQ(get(one).status, 429);

  // An agent deleted takes its bucket with it (the buckets are bounded by the agents).
  ASSERT_EQ(c.Admin("DELETE", "/admin/agents/edge-1").status, 204);
  const std::string again = c.PutAgent("edge-1", R"({"packages":["p"]})");
  EXPECT_EQ(get(again).status, 200);
  fs::remove_all(dir);
}

TEST(ServiceClock, DownloadsWithoutATokenShareOneBucketInOpenMode) {
  const fs::path dir = FreshDir("download-limit-open");
  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockedServer s(
      dir, [&] { return now.load(); }, /*bearer=*/"");
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  ASSERT_EQ(c.Send("PUT", "/admin/workflow-packages/p", {}, "{}").status, 200);
  const std::string token = c.PutAgent("edge-1", R"({"packages":["p"]})");
  for (int i = 0; i < workflow::service::kOpenDownloadBurst; ++i) {
    EXPECT_EQ(c.Send("GET", "/workflow-packages/p").status, 200) << i;
  }
  auto over = c.Send("GET", "/workflow-packages/p");
  ASSERT_EQ(over.status, 429) << over.body;
  EXPECT_EQ(over.Header("Retry-After"), "1");
  EXPECT_NE(Str(Obj(over).at("message")).find("shared by every request without a token"),
            std::string::npos);
  EXPECT_EQ(c.Send("GET", "/workflow-packages/p", token).status, 200) << "its own bucket";
  now += workflow::service::kOpenDownloadEveryMs;
  EXPECT_EQ(c.Send("GET", "/workflow-packages/p").status, 200);
  fs::remove_all(dir);
}

TEST(ServiceClock, StatusReportsAreAcceptedAtMostOnceASecondPerAgent) {
  const fs::path dir = FreshDir("report-interval");
  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockedServer s(dir, &now);
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  const std::string one = c.PutAgent("edge-1", "");
  const std::string two = c.PutAgent("edge-2", "");
  const auto post = [&](const std::string& id, const std::string& token, const std::string& body) {
    return c.Send("POST", "/agents/" + id + "/status", token, body);
  };
  ASSERT_EQ(post("edge-1", one, Report()).status, 200);

  now += 400;
  auto early = post("edge-1", one, Report(AuditRecords(0, 1)));
  ASSERT_EQ(early.status, 429) << early.body;
  EXPECT_EQ(early.Header("Retry-After"), "1");
  EXPECT_EQ(Str(Obj(early).at("code")), "rate_limited");
  EXPECT_EQ(Str(Obj(early).at("message")),
            "status reports: at most one per 1000 ms per agent; send it again after Retry-After");
  JsonObject a = Obj(c.Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(a.at("lastSeen").as_int64(), 1'700'000'000'000) << "nothing of it was kept";
  EXPECT_TRUE(a.at("audit").as_array().empty());
  EXPECT_EQ(post("edge-2", two, Report()).status, 200) << "per agent";

  now += 600;
  ASSERT_EQ(post("edge-1", one, Report(AuditRecords(0, 1))).status, 200);
  a = Obj(c.Admin("GET", "/admin/agents/edge-1"));
  EXPECT_EQ(a.at("lastSeen").as_int64(), 1'700'000'001'000);
  EXPECT_EQ(a.at("audit").as_array().size(), 1u);

  // A refused report is not an accepted one.
  now += 1000;
  EXPECT_EQ(post("edge-1", one, "not json").status, 400);
  EXPECT_EQ(post("edge-1", one, Report()).status, 200);
  fs::remove_all(dir);
}

// Blocks the first clock reading made off the event loop after Arm() until Release(): a slow
// step of whatever holds a lock around it (an agent file's fsync).
class ClockGate {
 public:
  std::int64_t Read(std::int64_t now) {
    std::unique_lock lock(mu_);
    if (armed_ && std::this_thread::get_id() != loop_) {
      armed_ = false;
      holding_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    return now;
  }
  void Arm(std::thread::id loop) {
    std::lock_guard lock(mu_);
    loop_ = loop;
    armed_ = true;
  }
  bool WaitHolding(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return holding_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread::id loop_;
  bool armed_ = false, holding_ = false, released_ = false;
};

TEST(ServiceClock, AStatusReportDoesNotHoldUpAdminChanges) {
  const fs::path dir = FreshDir("report-lock");
  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockGate gate;
  ClockedServer s(dir, [&] { return gate.Read(now.load()); });
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  const std::string token = c.PutAgent("edge-1", "");
  std::future<HttpResponse> report, put;
  struct ReleaseAtExit {  // before the futures wait, whatever fails
    ClockGate* gate;
    ~ReleaseAtExit() { gate->Release(); }
  } release{&gate};

  // The report stops inside its write, as a slow fsync would.
  gate.Arm(s.loop_thread());
  report = std::async(std::launch::async,
                      [&] { return c.Send("POST", "/agents/edge-1/status", token, Report()); });
  ASSERT_TRUE(gate.WaitHolding(std::chrono::seconds(5))) << "the report never read the clock";
  put = std::async(std::launch::async,
                   [&] { return c.Admin("PUT", "/admin/workflow-packages/p", "{}"); });
  const bool put_done = put.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  gate.Release();
  EXPECT_TRUE(put_done) << "an admin change waited for an agent's status report";
  EXPECT_EQ(put.get().status, 200);
  EXPECT_EQ(report.get().status, 200);
  fs::remove_all(dir);
}

// Deployments whose lastError and audit records whose message are 4000 `<` each: stored as
// \u003c, six times their size in the body.
std::string EscapingReport(int deployments, int records, int first_timestamp = 1) {
  const std::string lt(4000, '<');
  std::string out = R"({"agent":{"version":"v","startedAt":1},"deployments":[)";
  for (int i = 0; i < deployments; ++i) {
    out += std::string(i ? "," : "") + R"({"id":"d)" + std::to_string(i) +
           R"(","source":"s","lastError":")" + lt + "\"}";
  }
  out += R"(],"audit":[)";
  for (int i = 0; i < records; ++i) {
    out += std::string(i ? "," : "") + R"({"timestamp":)" + std::to_string(first_timestamp + i) +
           R"(,"kind":"k","message":")" + lt + "\"}";
  }
  return out + "]}";
}

TEST(ServiceClock, AReportFullOfEscapedCharactersSurvivesARestart) {
  namespace svc = workflow::service;
  const fs::path dir = FreshDir("escaping");
  const fs::path file = dir / "agents" / "edge-1.json";
  std::atomic<std::int64_t> now{1'700'000'000'000};
  std::string token, before;
  {
    ClockedServer s(dir, &now);
    ASSERT_TRUE(s.ok());
    const Client c = s.client();
    token = c.PutAgent("edge-1", "");
    // 80 KB in the body, 480 KB as stored.
    const std::string big = EscapingReport(20, 0);
    ASSERT_LT(big.size(), svc::kMaxStatusBytes);
    auto r = c.Send("POST", "/agents/edge-1/status", token, big);
    ASSERT_EQ(r.status, 413) << r.body;
    EXPECT_EQ(Str(Obj(r).at("message"))
                  .rfind("agent, deployments: must take at most 262144 bytes as stored", 0),
              0u)
        << r.body;
    // Each under the body limit; together three times the ring's bytes as stored.
    for (int i = 0; i < 3; ++i) {
      now += svc::kMinReportIntervalMs;
      const std::string body = EscapingReport(8, 40, i * 100);
      ASSERT_LT(body.size(), svc::kMaxStatusBytes);
      auto ok = c.Send("POST", "/agents/edge-1/status", token, body);
      ASSERT_EQ(ok.status, 200) << ok.body;
    }
    before = c.Admin("GET", "/admin/agents/edge-1?audit=1000").body;
  }
  // The ring is bounded by its stored bytes, and so is the file.
  EXPECT_LE(fs::file_size(file),
            svc::kMaxAuditRingBytes + svc::kMaxStoredStatusBytes + (64u << 10));
  auto stored = [&] {
    std::ifstream in(file);
    return ParseJson(std::string(std::istreambuf_iterator<char>(in), {}));
  }();
  ASSERT_TRUE(stored) << stored.error().message;
  const JsonArray& ring = stored->at("audit").as_array();
  ASSERT_FALSE(ring.empty());
  EXPECT_LT(ring.size(), 120u);
  EXPECT_EQ(ring.back().at("timestamp").as_int64(), 239) << "the newest are kept";

  now += svc::kMinReportIntervalMs;
  ClockedServer s(dir, &now);  // a restart
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  EXPECT_EQ(c.Admin("GET", "/admin/agents/edge-1?audit=1000").body, before);
  EXPECT_EQ(c.Send("POST", "/agents/edge-1/status", token, Report()).status, 200)
      << "its token still works";
  fs::remove_all(dir);
}

TEST(ServiceClock, AnAgentFileOfAnEarlierVersionIsLoadedAndTrimmed) {
  namespace svc = workflow::service;
  const fs::path dir = FreshDir("earlier-file");
  fs::create_directories(dir / "agents");
  // As an earlier version could write it: a 4 MiB ring and a 1.5 MiB status, all escaped.
  std::string esc;
  for (int i = 0; i < 4000; ++i) esc += "\\u003c";
  std::string text = R"({"id":"edge-1","tokenSha256":")" + Sha256("old-token") +
                     R"(","packages":["edge-1"],"description":"","createdAt":1,"lastSeen":2,)"
                     R"("status":{"agent":{"startedAt":1,"version":"v"},"deployments":[)";
  for (int i = 0; i < 64; ++i) {
    text += std::string(i ? "," : "") + R"({"id":"d","lastError":")" + esc + R"(","source":"s"})";
  }
  text += R"(]},"audit":[)";
  for (int i = 0; i < 170; ++i) {
    text += std::string(i ? "," : "") + R"({"kind":"k","message":")" + esc + R"(","timestamp":)" +
            std::to_string(i) + "}";
  }
  text += "]}\n";
  ASSERT_GT(text.size(), 5'500'000u);
  std::ofstream(dir / "agents" / "edge-1.json") << text;

  std::atomic<std::int64_t> now{1'700'000'000'000};
  ClockedServer s(dir, &now);
  ASSERT_TRUE(s.ok());
  const Client c = s.client();
  auto got = c.Admin("GET", "/admin/agents/edge-1?audit=1000");
  ASSERT_EQ(got.status, 200) << "not dropped at the start";
  const JsonObject a = Obj(got);
  EXPECT_TRUE(a.at("status").is_null()) << "over today's bound: dropped until the next report";
  const JsonArray& ring = a.at("audit").as_array();
  ASSERT_FALSE(ring.empty());
  EXPECT_LE(ring.size() * 24'000, svc::kMaxAuditRingBytes);
  EXPECT_EQ(ring.back().at("timestamp").as_int64(), 169);
  EXPECT_EQ(c.Send("POST", "/agents/edge-1/status", "old-token", Report()).status, 200);
  EXPECT_LE(fs::file_size(dir / "agents" / "edge-1.json"),
            svc::kMaxAuditRingBytes + svc::kMaxStoredStatusBytes + (64u << 10));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::testing
