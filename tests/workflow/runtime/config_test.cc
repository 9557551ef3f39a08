// The workflow configuration reader: every processor is compiled at load, so a bad config is
// refused whole, with the source, the JSON path and the rule (for Lua: the line).
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/config.h>

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(WorkflowConfigTest, ReadsStepsTriggersChainsAndStatusRanges) {
  auto c = ParseWorkflowConfig(R"J({
    "data": {"level": "config"},
    "resources": {"shared": "ctx.info('shared')"},
    "workflows": [{
      "name": "w", "data": {"level": "workflow"},
      "steps": [
        {"id": "a", "trigger": {"timer": {"delay": "1s", "period": "1m"}},
         "url": "ctx.set_url('h', '/x')",
         "results": ["ctx.info('one')", {"resource": "shared", "data": {"k": 1}}],
         "on_status": {"404": "ctx.info('gone')", "500-599": {"lua": "ctx.info('5xx')"}},
         "on_connect_failure": "ctx.info('down')", "timeout": "3s"},
        {"id": "b", "trigger": {"once": true}},
        {"id": "c"},
        {"id": "off", "enabled": false}
      ]},
      {"name": "disabled", "enabled": false, "steps": [{"id": "x"}]}
    ]})J",
                               "wf.json", "");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ((*c)->workflows.size(), 1u);
  const Workflow& w = (*c)->workflows[0];
  ASSERT_EQ(w.steps.size(), 3u);
  const Step& a = w.steps[0];
  EXPECT_EQ(a.trigger.kind, Trigger::Kind::kTimer);
  EXPECT_EQ(a.trigger.delay, std::chrono::seconds(1));
  EXPECT_EQ(a.trigger.period, std::chrono::minutes(1));
  ASSERT_EQ(a.results.size(), 2u);
  EXPECT_EQ(a.results[1].name, "shared");
  EXPECT_EQ(a.results[1].data.at("k").as_int64(), 1);
  ASSERT_EQ(a.on_status.size(), 2u);
  EXPECT_EQ(a.on_status[0].from, 404);
  EXPECT_EQ(a.on_status[0].to, 404);
  EXPECT_EQ(a.on_status[1].from, 500);
  EXPECT_EQ(a.on_status[1].to, 599);
  EXPECT_EQ(a.connect_failed.size(), 1u);
  EXPECT_EQ(a.timeout, std::chrono::seconds(3));
  EXPECT_EQ(w.steps[1].trigger.kind, Trigger::Kind::kOnce);
  EXPECT_EQ(w.steps[2].trigger.kind, Trigger::Kind::kCall);
  EXPECT_EQ((*c)->digest.size(), 64u);
}

struct BadCase {
  const char* name;
  const char* json;
  const char* error;
};

class BadWorkflowConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadWorkflowConfigTest, NamesSourcePathAndRule) {
  auto c = ParseWorkflowConfig(GetParam().json, "wf.json", "");
  ASSERT_FALSE(c);
  EXPECT_EQ(WireCode(c.error()), "bad_request");
  EXPECT_THAT(c.error().message, HasSubstr(std::string("wf.json: ") + GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadWorkflowConfigTest,
    ::testing::Values(
        BadCase{"not_json", "{\"workflows\": [", "unexpected EOF"},
        BadCase{"no_workflows", "{}", "workflows: must be a non-empty array"},
        BadCase{"unknown",
                R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "urll": "x"}]}]})J",
                "workflows[0].steps[0].urll: unknown field"},
        BadCase{"dup_step",
                R"J({"workflows": [{"name": "w", "steps": [{"id": "a"}, {"id": "a"}]}]})J",
                "workflows[0].steps[1].id: \"a\" is used by another step of this workflow"},
        BadCase{
            "dup_workflow",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a"}]}, {"name": "w", "steps": [{"id": "a"}]}]})J",
            "workflows[1].name: is used by another workflow"},
        BadCase{"no_steps", R"J({"workflows": [{"name": "w", "steps": []}]})J",
                "workflows[0].steps: must be a non-empty array"},
        BadCase{
            "lua_syntax",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "results": ["ctx.info('ok')", "local x = = 1"]}]}]})J",
            "workflows[0].steps[0].results[1]: "},
        BadCase{
            "missing_resource",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "results": {"resource": "nope"}}]}]})J",
            "workflows[0].steps[0].results.resource: no resource named \"nope\""},
        BadCase{
            "both_lua_and_resource",
            R"J({"resources": {"r": "x = 1"}, "workflows": [{"name": "w", "steps": [{"id": "a", "url": {"lua": "x = 1", "resource": "r"}}]}]})J",
            "workflows[0].steps[0].url: exactly one of lua and resource is required"},
        BadCase{"processor_type",
                R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "url": 5}]}]})J",
                "workflows[0].steps[0].url: must be Lua source"},
        BadCase{
            "status_key",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "on_status": {"2xx": "x = 1"}}]}]})J",
            "workflows[0].steps[0].on_status.2xx: must be a status"},
        BadCase{
            "status_range",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "on_status": {"599-500": "x = 1"}}]}]})J",
            "workflows[0].steps[0].on_status.599-500: must be a status"},
        BadCase{"zero_timeout",
                R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "timeout": "0s"}]}]})J",
                "workflows[0].steps[0].timeout: must be at least 1ms"},
        BadCase{
            "timer_period",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "trigger": {"timer": {"delay": "1s"}}}]}]})J",
            "workflows[0].steps[0].trigger.timer.period: is required and must be at least 10ms"},
        BadCase{
            "trigger_empty_kind",
            R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "trigger": {"once": false, "cron": 1}}]}]})J",
            "workflows[0].steps[0].trigger.cron: unknown field"},
        BadCase{
            "file_resource_from_url",
            R"J({"resources": {"r": {"file": "r.lua"}}, "workflows": [{"name": "w", "steps": [{"id": "a"}]}]})J",
            "resources.r: file resources are only allowed in configurations read from a file"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(WorkflowConfigTest, LuaSyntaxErrorsNameTheLine) {
  auto c = ParseWorkflowConfig(
      R"J({"workflows": [{"name": "w", "steps": [{"id": "a", "results": "local a = 1\nlocal b = = 2"}]}]})J",
      "wf.json", "");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("line 2:"));
}

TEST(WorkflowConfigTest, FileResourcesStayInsideTheConfigDirectory) {
  const fs::path dir = fs::temp_directory_path() / ("opsorch-wfcfg-" + std::to_string(::getpid()));
  fs::create_directories(dir / "lib");
  std::ofstream(dir / "lib" / "ok.lua") << "ctx.info('from file')";
  auto ok = ParseWorkflowConfig(
      R"J({"resources": {"r": {"file": "lib/ok.lua"}}, "workflows": [{"name": "w", "steps": [{"id": "a", "results": {"resource": "r"}}]}]})J",
      "wf.json", dir.string());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)->workflows[0].steps[0].results[0].source, "ctx.info('from file')");
  for (const char* escape : {"../etc/passwd", "/etc/passwd", "lib/../../x.lua"}) {
    auto bad =
        ParseWorkflowConfig(std::string(R"J({"resources": {"r": {"file": ")J") + escape +
                                R"J("}}, "workflows": [{"name": "w", "steps": [{"id": "a"}]}]})J",
                            "wf.json", dir.string());
    ASSERT_FALSE(bad) << escape;
    EXPECT_THAT(
        bad.error().message,
        HasSubstr(
            "resources.r.file: must be a relative path inside the configuration's directory"));
  }
  // A symlink pointing outside, and something that is not a regular file, are refused too.
  fs::create_symlink("/etc/hostname", dir / "lib" / "link.lua");
  auto link = ParseWorkflowConfig(
      R"J({"resources": {"r": {"file": "lib/link.lua"}}, "workflows": [{"name": "w", "steps": [{"id": "a"}]}]})J",
      "wf.json", dir.string());
  ASSERT_FALSE(link);
  EXPECT_THAT(link.error().message, HasSubstr("inside the configuration's directory"));
  auto not_file = ParseWorkflowConfig(
      R"J({"resources": {"r": {"file": "lib"}}, "workflows": [{"name": "w", "steps": [{"id": "a"}]}]})J",
      "wf.json", dir.string());
  ASSERT_FALSE(not_file);
  EXPECT_THAT(not_file.error().message, HasSubstr("resources.r.file: must be a regular file"));
  fs::remove_all(dir);
}

TEST(WorkflowConfigTest, DigestFollowsTheText) {
  const std::string a = R"J({"workflows": [{"name": "w", "steps": [{"id": "a"}]}]})J";
  auto c1 = ParseWorkflowConfig(a, "wf.json", "");
  auto c2 = ParseWorkflowConfig(a + " ", "wf.json", "");
  ASSERT_TRUE(c1 && c2);
  EXPECT_EQ((*c1)->digest, ConfigDigest(a));
  EXPECT_NE((*c1)->digest, (*c2)->digest);
}

}  // namespace
}  // namespace opsorch::workflow
