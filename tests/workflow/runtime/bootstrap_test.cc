// The bootstrap reader: a malformed bootstrap names the file, the JSON path and the rule; ${VAR}
// values come from secret files and the environment and become secrets.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/bootstrap.h>

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& n) -> std::optional<std::string> {
    auto it = vars.find(n);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

constexpr const char* kGood = R"J({
  "deployments": [{
    "id": "d1",
    "config": {"file": "wf.json", "poll": "5s"},
    "hosts": {"svc": {"url": "https://svc.example.com/api", "headers": {"Authorization": "Bearer ${TOKEN}"},
                      "allow": [{"method": "GET", "path": "/items/*"}], "timeout": "2s",
                      "data": {"client_secret": "restricted-value-1"}}},
    "data": {"team": "ops"},
    "outputs": [{"id": "collector", "url": "http://collector.example.com/ingest", "logs": true, "token": "t1"}],
    "limits": {"cpu_time": "250ms", "memory_bytes": 8388608}
  }]
})J";

TEST(BootstrapTest, ReadsEveryField) {
  auto b = ParseBootstrap(kGood, "/etc/opsorch/boot.json", Env({{"TOKEN", "tok-123456"}}));
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->deployments.size(), 1u);
  const Deployment& d = b->deployments[0];
  EXPECT_EQ(d.id, "d1");
  EXPECT_EQ(d.config.file, "/etc/opsorch/wf.json");
  EXPECT_EQ(d.config.poll, std::chrono::seconds(5));
  const HostEntry& h = d.hosts.at("svc");
  EXPECT_EQ(h.policy.base_url, "https://svc.example.com/api");
  ASSERT_EQ(h.policy.headers.size(), 1u);
  EXPECT_EQ(h.policy.headers[0].second, "Bearer tok-123456");
  ASSERT_TRUE(h.policy.allow);
  EXPECT_EQ((*h.policy.allow)[0].path, "/items/*");
  EXPECT_EQ(h.policy.timeout, std::chrono::seconds(2));
  EXPECT_FALSE(h.policy.allow_private);
  EXPECT_EQ(d.outputs.at(0).token, "t1");
  EXPECT_TRUE(d.outputs.at(0).logs);
  EXPECT_EQ(d.limits.cpu_time, std::chrono::milliseconds(250));
  EXPECT_EQ(d.limits.memory_bytes, 8u << 20);
  EXPECT_EQ(d.max_concurrent_runs, 1u);
  // The substituted token and the restricted host data are secrets.
  EXPECT_THAT(b->secrets, ::testing::Contains("tok-123456"));
  EXPECT_THAT(b->secrets, ::testing::Contains("restricted-value-1"));
  EXPECT_THAT(b->secrets, ::testing::Contains("Bearer tok-123456"));  // header values too
}

struct BadCase {
  const char* name;
  const char* json;
  const char* error;  // substring of the message
};

class BadBootstrapTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadBootstrapTest, NamesFilePathAndRule) {
  auto b = ParseBootstrap(GetParam().json, "boot.json", Env({{"SET", "value-1"}}));
  ASSERT_FALSE(b);
  EXPECT_EQ(WireCode(b.error()), "bad_request");
  EXPECT_THAT(b.error().message, HasSubstr(std::string("boot.json: ") + GetParam().error));
}

constexpr const char* kCfg = R"J("config": {"file": "w.json"})J";

INSTANTIATE_TEST_SUITE_P(
    Cases, BadBootstrapTest,
    ::testing::Values(
        BadCase{"not_json", "{", "unexpected EOF"},
        BadCase{"not_object", "[]", "must be a JSON object"},
        BadCase{"no_deployments", "{}", "deployments: must be a non-empty array"},
        BadCase{"unknown_top", R"J({"deployments": [], "hostz": 1})J", "hostz: unknown field"},
        BadCase{"missing_id", R"J({"deployments": [{"config": {"file": "w.json"}}]})J",
                "deployments[0].id: is required"},
        BadCase{"bad_id", R"J({"deployments": [{"id": "a b", "config": {"file": "w.json"}}]})J",
                "deployments[0].id: must be 1-64 characters"},
        BadCase{
            "dup_id",
            R"J({"deployments": [{"id": "a", "config": {"file": "w.json"}}, {"id": "a", "config": {"file": "w.json"}}]})J",
            "deployments[1].id: \"a\" is used by another deployment"},
        BadCase{"no_config", R"J({"deployments": [{"id": "a"}]})J",
                "deployments[0].config: is required"},
        BadCase{"both_sources",
                R"J({"deployments": [{"id": "a", "config": {"file": "w", "url": "http://x/y"}}]})J",
                "deployments[0].config.file: exactly one of file and url is required"},
        BadCase{"ftp_source", R"J({"deployments": [{"id": "a", "config": {"url": "ftp://x/y"}}]})J",
                "deployments[0].config.url: must be an http:// or https:// URL"},
        BadCase{
            "config_userinfo",
            R"J({"deployments": [{"id": "a", "config": {"url": "https://u:pw@cfg.example.com/w.json"}}]})J",
            "deployments[0].config.url: must not hold user information"},
        BadCase{
            "config_timeout",
            R"J({"deployments": [{"id": "a", "config": {"url": "https://cfg.example.com/w.json", "timeout": "0s"}}]})J",
            "deployments[0].config.timeout: must be from 100ms to 5m"},
        BadCase{"short_poll",
                R"J({"deployments": [{"id": "a", "config": {"file": "w", "poll": "1ms"}}]})J",
                "deployments[0].config.poll: must be 0 (load once) or at least 100ms"},
        BadCase{"bad_duration",
                R"J({"deployments": [{"id": "a", "config": {"file": "w", "poll": "soon"}}]})J",
                "deployments[0].config.poll: must be a non-negative duration"},
        BadCase{"host_no_url",
                R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {}}}]})J",
                "deployments[0].hosts.h.url: is required"},
        BadCase{
            "host_bad_url",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {"url": "ftp://x"}}}]})J",
            "deployments[0].hosts.h.url: "},
        BadCase{
            "host_userinfo",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {"url": "http://u:p@x"}}}]})J",
            "deployments[0].hosts.h.url: "},
        BadCase{
            "host_unknown_field",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {"url": "http://x", "allowlist": []}}}]})J",
            "deployments[0].hosts.h.allowlist: unknown field"},
        BadCase{
            "allow_method",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {"url": "http://x", "allow": [{"method": "get", "path": "/"}]}}}]})J",
            "deployments[0].hosts.h.allow[0].method: must be an upper-case HTTP method"},
        BadCase{
            "allow_path",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {"url": "http://x", "allow": [{"method": "GET", "path": "x"}]}}}]})J",
            "deployments[0].hosts.h.allow[0].path: must start with /"},
        BadCase{
            "unset_var",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "hosts": {"h": {"url": "http://x", "headers": {"A": "${NOPE}"}}}}]})J",
            "deployments[0].hosts.h.headers.A: ${NOPE} is not set"},
        BadCase{
            "bad_var",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "data": {"x": "${1A}"}}]})J",
            "deployments[0].data.x: ${1A} is not a valid variable name"},
        BadCase{
            "unterminated_var",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "data": {"x": "${SET"}}]})J",
            "deployments[0].data.x: unterminated ${"},
        BadCase{
            "output_url",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "outputs": [{"id": "o", "url": "file:///x"}]}]})J",
            "deployments[0].outputs[0].url: must be an http:// or https:// URL"},
        BadCase{
            "output_dup",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "outputs": [{"id": "o", "url": "http://c"}, {"id": "o", "url": "http://c"}]}]})J",
            "deployments[0].outputs[1].id: is used by another output"},
        BadCase{
            "limits_cpu",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "limits": {"cpu_time": "10m"}}]})J",
            "deployments[0].limits.cpu_time: must be from 1ms to 5m"},
        BadCase{
            "limits_memory",
            R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "limits": {"memory_bytes": 10}}]})J",
            "deployments[0].limits.memory_bytes: must be from 1 MiB to 1 GiB"},
        BadCase{"enabled_type",
                R"J({"deployments": [{"id": "a", "config": {"file": "w"}, "enabled": "no"}]})J",
                "deployments[0].enabled: must be true or false"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BootstrapTest, SecretFilesWinOverTheEnvironmentAndErrorsNeverShowValues) {
  const fs::path dir = fs::temp_directory_path() / ("opsorch-boot-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "secrets.env");
    f << "# comment\nTOKEN=from-file-secret\n\nOTHER = spaced-value\n";
  }
  {
    std::ofstream f(dir / "boot.json");
    f << R"J({"secret_files": ["secrets.env"], "deployments": [{"id": "a", "config": {"file": "w.json"},
          "data": {"t": "${TOKEN}", "o": "${OTHER}", "e": "${ENV_ONLY}", "lit": "$${NOT_A_VAR}"}}]})J";
  }
  auto b = LoadBootstrap((dir / "boot.json").string(),
                         Env({{"TOKEN", "from-env"}, {"ENV_ONLY", "env-value-1"}}));
  ASSERT_TRUE(b) << b.error().message;
  const JsonObject& data = b->deployments[0].data;
  EXPECT_EQ(data.at("t").as_string(), "from-file-secret");
  EXPECT_EQ(data.at("o").as_string(), "spaced-value");
  EXPECT_EQ(data.at("e").as_string(), "env-value-1");
  EXPECT_EQ(data.at("lit").as_string(), "${NOT_A_VAR}");
  EXPECT_EQ(b->deployments[0].config.file, (dir / "w.json").string());

  // A secret file line that is not KEY=value is refused without echoing it.
  {
    std::ofstream f(dir / "secrets.env");
    f << "this-is-a-secret-without-key\n";
  }
  auto bad = LoadBootstrap((dir / "boot.json").string(), Env({}));
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("secret_files[0]"));
  EXPECT_THAT(bad.error().message, HasSubstr(":1: must be KEY=value"));
  EXPECT_THAT(bad.error().message, ::testing::Not(HasSubstr("this-is-a-secret")));
  fs::remove_all(dir);
}

TEST(BootstrapTest, DisabledDeploymentsAreSkippedButValidated) {
  auto b = ParseBootstrap(
      R"J({"deployments": [{"id": "a", "enabled": false, "config": {"file": "w"}}, {"id": "b", "config": {"file": "w"}}]})J",
      "boot.json", Env({}));
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->deployments.size(), 1u);
  EXPECT_EQ(b->deployments[0].id, "b");
}

TEST(BootstrapTest, MissingFileNamesIt) {
  auto b = LoadBootstrap("/nonexistent/boot.json", Env({}));
  ASSERT_FALSE(b);
  EXPECT_THAT(b.error().message, HasSubstr("/nonexistent/boot.json: cannot read"));
}

}  // namespace
}  // namespace opsorch::workflow
