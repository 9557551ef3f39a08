// The runtime under a bootstrap `packaging` section: only packages signed by the trusted keys
// and encrypted for this runtime load, refusals keep the running configuration and say why,
// versions never go back (across restarts too); encrypted bootstrap strings; and what the
// runtime reports about itself (metrics, audit records, status reports to a loopback service).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/workflow/package.h>
#include <opsorch/workflow/runtime.h>

#include "test_paths.h"
#include "workflow/runtime/upstream.h"

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
namespace pkg = package;

// One step "s" that answers which version of the configuration runs.
std::string ConfigText(const std::string& version) {
  return R"J({"workflows": [{"name": "w", "steps": [{"id": "s", "results": "ctx.set_body(')J" +
         version + R"J(')"}]}]})J";
}

struct Keys {
  pkg::SecretKey publisher = pkg::GenerateKey(pkg::KeyPurpose::kSign);
  pkg::SecretKey endorser = pkg::GenerateKey(pkg::KeyPurpose::kSign);
  pkg::SecretKey stranger = pkg::GenerateKey(pkg::KeyPurpose::kSign);
  pkg::SecretKey ci = pkg::GenerateKey(pkg::KeyPurpose::kPackager);
  pkg::SecretKey other_ci = pkg::GenerateKey(pkg::KeyPurpose::kPackager);
  pkg::SecretKey runtime = pkg::GenerateKey(pkg::KeyPurpose::kRecipient);
  pkg::SecretKey other_runtime = pkg::GenerateKey(pkg::KeyPurpose::kRecipient);
  pkg::SecretKey strings = pkg::GenerateKey(pkg::KeyPurpose::kString);
};

class PackagingTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = FreshTestDir("opsorch-pkg"); }
  void TearDown() override {
    runtime_.reset();
    fs::remove_all(dir_);
  }

  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::trunc | std::ios::binary) << bytes;
  }

  struct PackSpec {
    std::string id = "d";
    std::string version = "1.0.0";
    std::string body = "v1";
    std::vector<const pkg::SecretKey*> signers;
    const pkg::SecretKey* packager = nullptr;
    std::vector<const pkg::SecretKey*> recipients;
    std::string config;  // the whole configuration text instead of ConfigText(body)
  };
  std::string Pack(PackSpec spec) {
    if (spec.signers.empty()) spec.signers = {&keys_.publisher};
    if (spec.packager == nullptr) spec.packager = &keys_.ci;
    if (spec.recipients.empty()) spec.recipients = {&keys_.runtime};
    pkg::PackOptions o;
    o.id = spec.id;
    o.version = spec.version;
    for (const auto* k : spec.signers) o.signers.push_back(*k);
    for (const auto* k : spec.recipients) o.recipients.push_back(k->Public());
    o.packager = *spec.packager;
    auto packed = pkg::Pack(spec.config.empty() ? ConfigText(spec.body) : spec.config, o);
    EXPECT_TRUE(packed) << packed.error().message;
    return packed ? *packed : std::string();
  }

  std::string KeysJson() {
    return R"J("keys": {"publisher": ")J" + keys_.publisher.Public().Text() +
           R"J(", "endorser": ")J" + keys_.endorser.Public().Text() + R"J(", "ci": ")J" +
           keys_.ci.Public().Text() + R"J("})J";
  }

  // One deployment "d" reading wf.pkg under `packaging` (JSON members, without braces).
  std::string Bootstrap(const std::string& packaging =
                            R"J("required_signers": ["publisher"], "packagers": ["ci"],
                                "recipient_key": "${RUNTIME_KEY}")J",
                        const std::string& top = "", const std::string& deployment_extra = "") {
    return "{" + KeysJson() + top +
           R"J(, "deployments": [{"id": "d", "config": {"file": "wf.pkg"},
               "persistence_dir": "state", "packaging": {)J" +
           packaging + "}" + deployment_extra + "}]}";
  }

  EnvLookup Env() {
    return [this](const std::string& n) -> std::optional<std::string> {
      if (n == "RUNTIME_KEY") return keys_.runtime.Text();
      if (n == "OPSORCH_WORKFLOW_STRING_KEY" && string_key_) return keys_.strings.Text();
      if (n == "API_TOKEN") return std::string("tok-SECRET-123");
      return std::nullopt;
    };
  }

  Result<std::unique_ptr<Runtime>> Start(const std::string& bootstrap) {
    Write("boot.json", bootstrap);
    auto b = LoadBootstrap((dir_ / "boot.json").string(), Env());
    if (!b) return Fail(b.error());
    RuntimeOptions o;
    o.scripts.worker_path = OPSORCH_SCRIPT_WORKER;
    o.start_triggers = false;
    o.use_outputs = false;
    o.threads = 2;
    o.local_logs = false;
    o.observer.on_audit = [this](const AuditRecord& r) {
      std::lock_guard lock(mu_);
      audit_.push_back(r);
    };
    o.observer.on_metric = [this](std::string_view, const Metric& m) {
      std::lock_guard lock(mu_);
      metric_keys_.push_back(m.key);
    };
    return Runtime::Start(std::move(*b), std::move(o));
  }
  void StartOk(const std::string& bootstrap) {
    auto r = Start(bootstrap);
    ASSERT_TRUE(r) << r.error().message;
    runtime_ = std::move(*r);
  }
  std::string Running() {
    auto r = runtime_->RunStep("d", "s", {});
    return r ? r->body : "error: " + r.error().message;
  }
  std::vector<AuditRecord> Audit() {
    std::lock_guard lock(mu_);
    return audit_;
  }
  std::size_t AuditCount(std::string_view kind) {
    std::size_t n = 0;
    for (const auto& r : Audit()) n += r.kind == kind;
    return n;
  }

  fs::path dir_;
  Keys keys_;
  bool string_key_ = true;
  std::unique_ptr<Runtime> runtime_;
  std::mutex mu_;
  std::vector<AuditRecord> audit_;
  std::vector<std::string> metric_keys_;
};

TEST_F(PackagingTest, ASignedPackageForThisRuntimeLoadsAndItsVersionIsRecorded) {
  Write("wf.pkg", Pack({}));
  StartOk(Bootstrap());
  EXPECT_EQ(Running(), "v1");
  const auto st = runtime_->Deployments();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].package_id, "d");
  EXPECT_EQ(st[0].version, "1.0.0");
  EXPECT_EQ(st[0].sha256.size(), 64u);
  std::ifstream in(dir_ / "state" / "package.json");
  const std::string record((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(record, HasSubstr(R"("version":"1.0.0")"));
  ASSERT_EQ(AuditCount("config_accepted"), 1u);
  EXPECT_EQ(Audit()[0].detail.at("version"), "1.0.0");
  EXPECT_THAT(Audit()[0].detail.at("signers"), HasSubstr(keys_.publisher.Public().Text()));
}

// Every refusal keeps v1 running and names its own reason; a good v2 then loads.
TEST_F(PackagingTest, RefusedPackagesKeepTheRunningConfigurationAndSayWhy) {
  Write("wf.pkg", Pack({}));
  StartOk(Bootstrap());
  ASSERT_EQ(Running(), "v1");
  std::string tampered = Pack({.version = "1.1.0", .body = "evil"});
  tampered[tampered.size() - 200] ^= 0x01;  // inside the ciphertext
  struct Case {
    std::string name, bytes, refusal, message;
  };
  const std::vector<Case> cases = {
      {"tampered payload", tampered, "bad_signature", "signature"},
      {"signed by an untrusted key",
       Pack({.version = "1.1.0", .body = "evil", .signers = {&keys_.stranger}}),
       "missing_required_signer", "publisher"},
      {"another packager", Pack({.version = "1.1.0", .body = "evil", .packager = &keys_.other_ci}),
       "packager_not_allowed", "packager"},
      {"for another runtime",
       Pack({.version = "1.1.0", .body = "evil", .recipients = {&keys_.other_runtime}}),
       "not_a_recipient", "recipient"},
      {"another package id", Pack({.id = "other", .version = "1.1.0", .body = "evil"}),
       "package_id_mismatch", "other"},
      {"older version", Pack({.version = "0.9.0", .body = "evil"}), "rollback", "0.9.0"},
      {"plain configuration", ConfigText("evil"), "plain_not_allowed", "allow_plain"},
      {"truncated", Pack({.version = "1.1.0", .body = "evil"}).substr(0, 100), "malformed", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Write("wf.pkg", c.bytes);
    runtime_->PollNow();
    EXPECT_EQ(Running(), "v1");
    const auto st = runtime_->Deployments();
    EXPECT_EQ(st[0].version, "1.0.0");
    EXPECT_EQ(st[0].refusal, c.refusal);
    EXPECT_THAT(st[0].last_error, HasSubstr(c.message));
  }
  EXPECT_EQ(AuditCount("config_refused"), cases.size());
  Write("wf.pkg", Pack({.version = "2.0.0", .body = "v2"}));
  runtime_->PollNow();
  EXPECT_EQ(Running(), "v2");
  EXPECT_EQ(runtime_->Deployments()[0].refusal, "");
  EXPECT_THAT(
      runtime_->RenderMetrics(),
      HasSubstr(
          R"(opsorch_workflow_config_loads_total{deployment="d",outcome="refused",reason="rollback"} 1)"));
}

TEST_F(PackagingTest, AnOlderPackageIsRefusedAfterARestart) {
  Write("wf.pkg", Pack({.version = "2.0.0", .body = "v2"}));
  StartOk(Bootstrap());
  ASSERT_EQ(Running(), "v2");
  runtime_.reset();
  Write("wf.pkg", Pack({.version = "1.9.9", .body = "old"}));
  auto r = Start(Bootstrap());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("older than the last accepted 2.0.0"));
  // The same version again is a restart, not a rollback.
  Write("wf.pkg", Pack({.version = "2.0.0", .body = "v2"}));
  StartOk(Bootstrap());
  EXPECT_EQ(Running(), "v2");
}

// The same version again must be the same configuration: a replayed build under a good
// version is refused; a re-pack of the same configuration (another recipient) is not.
TEST_F(PackagingTest, TheSameVersionWithAnotherConfigurationIsRefused) {
  Write("wf.pkg", Pack({}));
  StartOk(Bootstrap());
  ASSERT_EQ(Running(), "v1");
  Write("wf.pkg", Pack({.body = "replayed"}));
  runtime_->PollNow();
  EXPECT_EQ(Running(), "v1");
  EXPECT_EQ(runtime_->Deployments()[0].refusal, "rollback");
  EXPECT_THAT(runtime_->Deployments()[0].last_error,
              HasSubstr("version 1.0.0 was already accepted with another configuration"));
  Write("wf.pkg", Pack({.recipients = {&keys_.runtime, &keys_.other_runtime}}));
  runtime_->PollNow();
  EXPECT_EQ(Running(), "v1");
  EXPECT_EQ(runtime_->Deployments()[0].refusal, "");
  // After a restart too.
  runtime_.reset();
  Write("wf.pkg", Pack({.body = "replayed"}));
  auto r = Start(Bootstrap());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("already accepted with another configuration"));
}

// A record of another package (a persistence_dir shared by mistake, a copied directory) refuses
// the start instead of letting this deployment roll back.
TEST_F(PackagingTest, AnotherPackagesRecordRefusesTheStart) {
  fs::create_directories(dir_ / "state");
  Write("state/package.json", R"({"packageId":"other","version":"9.0.0"})");
  Write("wf.pkg", Pack({}));
  auto r = Start(Bootstrap());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("the record of package \"other\", not \"d\""));
}

TEST_F(PackagingTest, AllowPlainHoldsOnlyUntilTheFirstPackage) {
  const std::string packaging = R"J("required_signers": ["publisher"],
      "recipient_key": "${RUNTIME_KEY}", "allow_plain": true)J";
  Write("wf.pkg", ConfigText("plain"));
  StartOk(Bootstrap(packaging));
  ASSERT_EQ(Running(), "plain");
  Write("wf.pkg", Pack({}));
  runtime_->PollNow();
  ASSERT_EQ(Running(), "v1");
  Write("wf.pkg", ConfigText("plain again"));
  runtime_->PollNow();
  EXPECT_EQ(Running(), "v1");
  EXPECT_EQ(runtime_->Deployments()[0].refusal, "plain_not_allowed");
  EXPECT_THAT(runtime_->Deployments()[0].last_error,
              HasSubstr("already accepted package version 1.0.0"));
}

// A package's configuration is secret from the service that distributes it: when it does not
// validate, the status says so without quoting it.
TEST_F(PackagingTest, AnInvalidPackagedConfigurationIsNotQuotedInTheStatus) {
  Write("wf.pkg", Pack({}));
  StartOk(Bootstrap());
  Write("wf.pkg",
        Pack({.version = "1.1.0", .config = R"J({"workflows": [{"name": "w", "steps": [{"id": "s",
                                      "results": "local secret_plan = ("}]}]})J"}));
  runtime_->PollNow();
  EXPECT_EQ(Running(), "v1");
  const auto st = runtime_->Deployments()[0];
  EXPECT_EQ(st.refusal, "invalid_config");
  EXPECT_THAT(st.last_error, HasSubstr("does not validate"));
  EXPECT_THAT(st.last_error, Not(HasSubstr("secret_plan")));
  for (const auto& r : Audit()) {
    EXPECT_THAT(r.message, Not(HasSubstr("secret_plan")));
  }
}

TEST_F(PackagingTest, AdditionalSignersAreCountedAgainstTheirMinimum) {
  const std::string packaging =
      R"J("required_signers": ["publisher"], "additional_signers": ["endorser"],
          "required_additional_signers": 1, "recipient_key": "${RUNTIME_KEY}")J";
  Write("wf.pkg", Pack({}));
  auto r = Start(Bootstrap(packaging));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("0 of the additional signers signed, 1 required"));
  Write("wf.pkg", Pack({.signers = {&keys_.publisher, &keys_.endorser}}));
  StartOk(Bootstrap(packaging));
  EXPECT_EQ(Running(), "v1");
}

TEST_F(PackagingTest, PlainConfigurationsOnlyWhereTheBootstrapAllowsThem) {
  Write("wf.pkg", ConfigText("plain"));
  auto refused = Start(Bootstrap());
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("allow_plain"));
  StartOk(Bootstrap(R"J("required_signers": ["publisher"], "recipient_key": "${RUNTIME_KEY}",
                        "allow_plain": true)J"));
  EXPECT_EQ(Running(), "plain");
  // Packages still go through every check under allow_plain.
  Write("wf.pkg", Pack({.body = "evil", .signers = {&keys_.stranger}}));
  runtime_->PollNow();
  EXPECT_EQ(Running(), "plain");
  EXPECT_EQ(runtime_->Deployments()[0].refusal, "missing_required_signer");
}

TEST_F(PackagingTest, APackageNeedsAPackagingSection) {
  Write("wf.pkg", Pack({}));
  Write("boot.json", "");
  auto r = Start(R"J({"deployments": [{"id": "d", "config": {"file": "wf.pkg"},
                      "persistence_dir": "state"}]})J");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("no packaging section"));
}

TEST_F(PackagingTest, BootstrapRulesNameTheFieldAndTheRule) {
  const std::string runtime_key = "\"recipient_key\": \"${RUNTIME_KEY}\"";
  fs::create_directories(dir_);
  Write("loose.key", keys_.runtime.Text());
  ::chmod((dir_ / "loose.key").c_str(), 0644);
  Write("signer.key", keys_.publisher.Text());
  ::chmod((dir_ / "signer.key").c_str(), 0600);
  struct Case {
    std::string name, packaging, top, error;
  };
  const std::vector<Case> cases = {
      {"unknown key name", R"J("required_signers": ["nobody"], )J" + runtime_key, "",
       "packaging.required_signers[0]: \"nobody\" is not a key in `keys`"},
      {"wrong purpose", R"J("required_signers": ["ci"], )J" + runtime_key, "",
       "\"ci\" is a packager key; this list takes sign keys"},
      {"nobody must sign", runtime_key, "", "name at least one required signer"},
      {"more additional than listed",
       R"J("required_signers": ["publisher"], "additional_signers": ["endorser"],
           "required_additional_signers": 2, )J" +
           runtime_key,
       "", "required_additional_signers: must be an integer from 0 to the number"},
      {"no recipient key", R"J("required_signers": ["publisher"])J", "",
       "exactly one of recipient_key"},
      {"recipient key file readable by others",
       R"J("required_signers": ["publisher"], "recipient_key_file": "loose.key")J", "",
       "recipient_key_file: "},
      {"a signing key as recipient key",
       R"J("required_signers": ["publisher"], "recipient_key_file": "signer.key")J", "",
       "must be a recipient key, not a sign key"},
      {"a required signer also additional",
       R"J("required_signers": ["publisher"], "additional_signers": ["publisher"],
           "required_additional_signers": 1, )J" +
           runtime_key,
       "", "\"publisher\" is also a required signer"},
      {"unknown packaging field",
       R"J("required_signers": ["publisher"], "sign_by": 1, )J" + runtime_key, "",
       "packaging.sign_by: unknown field"},
      {"report url scheme", R"J("required_signers": ["publisher"], )J" + runtime_key,
       R"J(, "report": {"url": "ftp://x"})J", "report.url: must be an http:// or https:// URL"},
      {"report interval", R"J("required_signers": ["publisher"], )J" + runtime_key,
       R"J(, "report": {"url": "http://127.0.0.1:1/agents/a/status", "interval": "10ms"})J",
       "report.interval: must be from 1s to 1h"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Write("boot.json", Bootstrap(c.packaging, c.top));
    auto b = LoadBootstrap((dir_ / "boot.json").string(), Env());
    ASSERT_FALSE(b);
    EXPECT_THAT(b.error().message, HasSubstr(c.error));
    // A secret key never appears in an error.
    EXPECT_THAT(b.error().message, Not(HasSubstr(keys_.runtime.Text().substr(20))));
  }
  Write("boot.json", R"J({"deployments": [
      {"id": "a", "config": {"file": "wf.json"}, "persistence_dir": "shared"},
      {"id": "b", "config": {"file": "wf.json"}, "persistence_dir": "shared"}]})J");
  auto shared = LoadBootstrap((dir_ / "boot.json").string(), Env());
  ASSERT_FALSE(shared);
  EXPECT_THAT(shared.error().message,
              HasSubstr("deployments[1].persistence_dir: is also the directory of deployments[0]"));
  Write("boot.json", R"J({"keys": {"k": "sign:abc"}, "deployments": [{"id": "d",
                          "config": {"file": "wf.json"}}]})J");
  auto bad_key = LoadBootstrap((dir_ / "boot.json").string(), Env());
  ASSERT_FALSE(bad_key);
  EXPECT_THAT(bad_key.error().message, HasSubstr("keys.k: "));
}

TEST_F(PackagingTest, EncryptedBootstrapStringsAreDecryptedWithAKeyHeldOutsideTheFile) {
  auto enc = pkg::EncryptString("Bearer very-secret-token-42", keys_.strings);
  ASSERT_TRUE(enc) << enc.error().message;
  const std::string boot = R"J({"deployments": [{"id": "d", "config": {"file": "wf.json"},
      "hosts": {"api": {"url": "http://127.0.0.1:1", "headers": {"Authorization": ")J" +
                           *enc + R"J("}}}}]})J";
  Write("boot.json", boot);
  auto b = LoadBootstrap((dir_ / "boot.json").string(), Env());
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->deployments[0].hosts.at("api").policy.headers[0].second,
            "Bearer very-secret-token-42");
  // The plain text is a secret: masked wherever it would be logged.
  EXPECT_NE(std::find(b->secrets.begin(), b->secrets.end(), "Bearer very-secret-token-42"),
            b->secrets.end());

  string_key_ = false;
  auto no_key = LoadBootstrap((dir_ / "boot.json").string(), Env());
  ASSERT_FALSE(no_key);
  EXPECT_THAT(no_key.error().message,
              HasSubstr("deployments[0].hosts.api.headers.Authorization: is an encrypted string, "
                        "but neither OPSORCH_WORKFLOW_STRING_KEY"));

  const pkg::SecretKey other = pkg::GenerateKey(pkg::KeyPurpose::kString);
  auto wrong = LoadBootstrap((dir_ / "boot.json").string(),
                             [&](const std::string& n) -> std::optional<std::string> {
                               if (n == "OPSORCH_WORKFLOW_STRING_KEY") return other.Text();
                               return std::nullopt;
                             });
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message, HasSubstr("Authorization: "));
  EXPECT_THAT(wrong.error().message, Not(HasSubstr("very-secret")));
}

// Metrics and audit records after known runs: each first host rule, metric key and credential
// header once, and no secret anywhere.
TEST_F(PackagingTest, RunsAreCountedAndFirstsAreAuditedOnceWithoutSecrets) {
  Upstream upstream;
  upstream.server().Get(R"(/base/items/\d+)", [](const httplib::Request&, httplib::Response& w) {
    w.set_content("7", "text/plain");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [
      {"id": "s",
       "authenticate": "ctx.set_header('X-Api-Key', 'learned-' .. 'key-9876')",
       "url": "ctx.set_url('api', '/items/' .. ctx.body())",
       "results": "ctx.metric('items.count', tonumber(ctx.body()), {api = 'tok-SECRET-123'}); ctx.metric('items.seen', 1)"},
      {"id": "fails", "results": "error('boom')"}]}]})J");
  StartOk(
      R"J({"deployments": [{"id": "d", "config": {"file": "wf.json"}, "persistence_dir": "state",
      "hosts": {"api": {"url": ")J" +
      upstream.url() +
      R"J(/base", "allow_private": true, "headers": {"Authorization": "Bearer ${API_TOKEN}"},
          "allow": [{"method": "GET", "path": "/items/*"}]}}}]})J");
  for (const char* id : {"1", "2", "3"}) {
    auto r = runtime_->RunStep("d", "s", {.body = id});
    ASSERT_TRUE(r) << r.error().message;
  }
  ASSERT_FALSE(runtime_->RunStep("d", "fails", {}));

  EXPECT_EQ(AuditCount("host_first_call"), 1u);
  EXPECT_EQ(AuditCount("metric_first_emit"), 2u);
  EXPECT_EQ(AuditCount("auth_header_set"), 1u);
  for (const auto& r : Audit()) {
    if (r.kind == "host_first_call") {
      EXPECT_EQ(r.detail.at("pattern"), "/items/*");
      EXPECT_EQ(r.detail.at("host"), "api");
    }
    if (r.kind == "auth_header_set") EXPECT_EQ(r.detail.at("header"), "X-Api-Key");
  }
  const std::string text = runtime_->RenderMetrics();
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(opsorch_workflow_step_runs_total{deployment="d",workflow="w",step="s",outcome="ok"} 3)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(opsorch_workflow_step_runs_total{deployment="d",workflow="w",step="fails",outcome="failed"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(opsorch_workflow_http_calls_total{deployment="d",host="api",status_class="2xx"} 3)"));
  EXPECT_THAT(text, HasSubstr(R"(opsorch_workflow_metrics_emitted_total{deployment="d"} 6)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(opsorch_workflow_audit_records_total{deployment="d",kind="host_first_call"} 1)"));
  for (const std::string secret : {"tok-SECRET-123", "learned-key-9876"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret)));
    for (const auto& r : Audit()) {
      EXPECT_THAT(r.message, Not(HasSubstr(secret)));
      for (const auto& [k, v] : r.detail) EXPECT_THAT(v, Not(HasSubstr(secret)));
    }
  }
  runtime_.reset();  // its kept-alive connection would hold the upstream's stop for seconds
}

// The runtime posts its status to the configuration service: at start, after a refusal, and
// with each audit record delivered once.
TEST_F(PackagingTest, StatusReportsCarryTheRunningPackageTheRefusalAndTheAuditOnce) {
  Upstream service;
  std::mutex mu;
  std::vector<std::string> reports;
  service.server().Post("/agents/edge-1/status",
                        [&](const httplib::Request& r, httplib::Response& w) {
                          if (r.get_header_value("Authorization") != "Bearer agent-token-1234") {
                            w.status = 401;
                            return;
                          }
                          std::lock_guard lock(mu);
                          reports.push_back(r.body);
                          w.set_content(R"({"status":"ok"})", "application/json");
                        });
  const auto wait_for = [&](const std::function<bool(const std::string&)>& pred) {
    // Progress, not a time: the reporter posts soon after each load (bounded so a regression
    // fails instead of hanging).
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard lock(mu);
        for (const auto& r : reports) {
          if (pred(r)) return r;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::string();
  };
  Write("wf.pkg", Pack({}));
  StartOk(Bootstrap(R"J("required_signers": ["publisher"], "packagers": ["ci"],
                        "recipient_key": "${RUNTIME_KEY}")J",
                    R"J(, "report": {"url": ")J" + service.url() +
                        R"J(/agents/edge-1/status", "interval": "1h",
                        "headers": {"Authorization": "Bearer agent-token-1234"}})J"));
  const std::string first =
      wait_for([](const std::string& r) { return r.find("config_accepted") != std::string::npos; });
  ASSERT_FALSE(first.empty());
  auto doc = ParseJson(first);
  ASSERT_TRUE(doc) << first;
  const auto& dep = doc->at("deployments").at(0);
  EXPECT_EQ(dep.at("id").as_string(), "d");
  EXPECT_EQ(dep.at("version").as_string(), "1.0.0");
  EXPECT_EQ(dep.at("packageId").as_string(), "d");
  EXPECT_THAT(std::string(doc->at("agent").at("version").as_string()), HasSubstr("opsorch "));

  std::string tampered = Pack({.version = "1.1.0", .body = "evil"});
  tampered[tampered.size() - 200] ^= 0x01;
  Write("wf.pkg", tampered);
  runtime_->PollNow();
  const std::string refused = wait_for([](const std::string& r) {
    return r.find("\"refusal\":\"bad_signature\"") != std::string::npos;
  });
  ASSERT_FALSE(refused.empty());
  auto rdoc = ParseJson(refused);
  ASSERT_TRUE(rdoc);
  EXPECT_EQ(rdoc->at("deployments").at(0).at("version").as_string(), "1.0.0");
  // The first report's audit records are not sent again.
  std::size_t accepted = 0;
  {
    std::lock_guard lock(mu);
    for (const auto& r : reports) {
      for (std::size_t at = r.find("config_accepted"); at != std::string::npos;
           at = r.find("config_accepted", at + 1)) {
        ++accepted;
      }
    }
  }
  EXPECT_EQ(accepted, 1u);
  {
    std::lock_guard lock(mu);
    for (const auto& r : reports) {
      EXPECT_THAT(r, Not(HasSubstr("agent-token-1234")));
      EXPECT_THAT(r, Not(HasSubstr(keys_.runtime.Text().substr(20))));
    }
  }
  runtime_.reset();  // its kept-alive connection would hold the service's stop for seconds
}

// Many long "first" records: reports stay within what a service takes (the service refuses
// more than 256 KiB), so later records and statuses keep arriving.
TEST_F(PackagingTest, StatusReportsStayBoundedUnderAFloodOfAuditRecords) {
  Upstream service;
  std::mutex mu;
  std::vector<std::string> reports;
  service.server().Post("/status", [&](const httplib::Request& r, httplib::Response& w) {
    std::lock_guard lock(mu);
    reports.push_back(r.body);
    if (r.body.size() > (256u << 10)) {
      w.status = 413;
      return;
    }
    w.set_content(R"({"status":"ok"})", "application/json");
  });
  Write("wf.json", R"J({"workflows": [{"name": "w", "steps": [{"id": "s",
      "results": "for i = 1, 600 do ctx.metric(string.rep('k', 400) .. i, 1) end"}]}]})J");
  StartOk(R"J({"report": {"url": ")J" + service.url() +
          R"J(/status", "interval": "1h"}, "deployments": [{"id": "d",
          "config": {"file": "wf.json"}, "persistence_dir": "state"}]})J");
  ASSERT_TRUE(runtime_->RunStep("d", "s", {}));
  bool all = false;
  for (int i = 0; i < 1000 && !all; ++i) {
    {
      std::lock_guard lock(mu);
      std::size_t first_emits = 0;
      for (const auto& r : reports) {
        for (std::size_t at = r.find("metric_first_emit"); at != std::string::npos;
             at = r.find("metric_first_emit", at + 1)) {
          ++first_emits;
        }
      }
      all = first_emits >= 600;
    }
    if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(all);
  std::lock_guard lock(mu);
  EXPECT_GE(reports.size(), 3u);
  for (const auto& r : reports) EXPECT_LE(r.size(), 256u << 10);
  runtime_.reset();
}

}  // namespace
}  // namespace opsorch::workflow
