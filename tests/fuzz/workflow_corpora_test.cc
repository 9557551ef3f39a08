// Replays the seed corpora of fuzz_workflow_config and fuzz_script_protocol
// (tests/fuzz/corpus_<name>/) through the fuzzers' own bodies in every build. Part of
// opsorch_workflow_tests, which links the workflow libraries these bodies need.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/config.h>

#include "fuzz/corpus_files.h"
#include "fuzz/script_protocol_check.h"
#include "fuzz/workflow_config_check.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kFuzzDir = fs::path(OPSORCH_SOURCE_DIR) / "tests" / "fuzz";

void ReplayCorpus(const char* name, std::vector<std::string> (*check)(std::string_view)) {
  const fs::path dir = kFuzzDir / (std::string("corpus_") + name);
  const std::vector<CorpusFile> files = ReadCorpusDir(dir);
  // Guards against a wrong path silently testing nothing.
  ASSERT_GE(files.size(), 10u) << dir;
  for (const CorpusFile& file : files) {
    for (const std::string& violation : check(file.bytes)) {
      ADD_FAILURE() << name << "/" << file.name << ": " << violation;
    }
  }
}

std::string Seed(const char* target, const char* file) {
  const fs::path path = kFuzzDir / (std::string("corpus_") + target) / file;
  EXPECT_TRUE(fs::exists(path)) << path;
  return ReadFileBytes(path);
}

TEST(FuzzCorpus, WorkflowConfigFilesKeepTheInvariants) {
  ReplayCorpus("workflow_config", &CheckWorkflowDocuments);
}

TEST(FuzzCorpus, ScriptProtocolFilesKeepTheInvariants) {
  ReplayCorpus("script_protocol", &CheckScriptProtocol);
}

// The full seeds are valid documents, so the fuzzer starts from inputs that reach every reader.
TEST(FuzzCorpus, FullWorkflowSeedsAreAccepted) {
  auto b = workflow::ParseBootstrap(Seed("workflow_config", "boot_full.json"), "boot.json",
                                    WorkflowFuzzLookup(), /*read_secret_files=*/false);
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->deployments.size(), 1u);
  EXPECT_THAT(b->secrets, ::testing::Contains(WorkflowFuzzVariables().at("TOKEN")));
  auto c = workflow::ParseWorkflowConfig(Seed("workflow_config", "wf_full.json"), "wf.json", "");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ((*c)->workflows.size(), 1u);
  EXPECT_EQ((*c)->workflows[0].steps.size(), 3u);
}

// A configuration fetched over HTTP (no base directory) cannot read files.
TEST(FuzzCorpus, FileResourcesAreRefusedWithoutABaseDirectory) {
  auto c = workflow::ParseWorkflowConfig(Seed("workflow_config", "wf_file_resource_refused.json"),
                                         "wf.json", "");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("file resources are only allowed"));
}

// A duplicate deployment id once was quoted in the error even when it came from a ${VAR}: the
// secret reached the start-up log line.
TEST(FuzzCorpus, DuplicateIdFromAVariableIsNotQuoted) {
  auto b =
      workflow::ParseBootstrap(Seed("workflow_config", "regress_duplicate_id_from_variable.json"),
                               "boot.json", WorkflowFuzzLookup(), /*read_secret_files=*/false);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message,
            "boot.json: deployments[1].id: the id is used by another deployment");
}

TEST(FuzzCorpus, RunRequestSeedSurvivesTheWire) {
  JsonParseOptions options;
  options.max_depth = workflow::sandbox::kProtocolMaxDepth;
  auto v = ParseJson(Seed("script_protocol", "run_full.json"), options);
  ASSERT_TRUE(v && v->is_object());
  workflow::ScriptInput input;
  workflow::ScriptLimits limits;
  ASSERT_TRUE(workflow::sandbox::RunRequestFromJson(v->get_object(), &input, &limits));
  EXPECT_EQ(input.kind, workflow::ProcessorKind::kResult);
  EXPECT_EQ(input.message.properties.at("bin"), std::string("\xff\x00", 2));
  EXPECT_EQ(limits.cpu_time, std::chrono::milliseconds(250));
}

}  // namespace
}  // namespace opsorch::testing
