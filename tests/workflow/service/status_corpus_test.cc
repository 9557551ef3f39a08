// Replays fuzz_agent_status's seed corpus (tests/fuzz/corpus_agent_status/) through the fuzzer's
// own body in every build, and pins what some seeds must give.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fuzz/agent_status_check.h"
#include "fuzz/corpus_files.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace svc = opsorch::workflow::service;

const fs::path kCorpus = fs::path(OPSORCH_SOURCE_DIR) / "tests" / "fuzz" / "corpus_agent_status";

TEST(AgentStatusCorpus, FilesKeepTheInvariants) {
  const std::vector<CorpusFile> files = ReadCorpusDir(kCorpus);
  ASSERT_GE(files.size(), 10u) << kCorpus;  // a wrong path must not test nothing
  for (const CorpusFile& file : files) {
    for (const std::string& violation : CheckAgentStatus(file.bytes)) {
      ADD_FAILURE() << file.name << ": " << violation;
    }
  }
}

TEST(AgentStatusCorpus, SeedsDecodeOrAreRefusedNamingTheField) {
  struct Case {
    const char* file;
    const char* error;  // "" when the report decodes
  };
  for (const Case& c : std::vector<Case>{
           {"full.json", ""},
           {"minimal.json", ""},
           {"escaped.json", ""},
           {"bad_negative_time.json", "agent.startedAt"},
           {"bad_unknown_field.json", "extra: unknown field"},
           {"bad_id.json", "deployments[0].id"},
           {"bad_sha.json", "deployments[0].sha256"},
           {"bad_detail_count.json", "audit[0].detail"},
       }) {
    SCOPED_TRACE(c.file);
    auto report = svc::DecodeStatusReport(ReadFileBytes(kCorpus / c.file));
    if (*c.error == '\0') {
      EXPECT_TRUE(report) << report.error().message;
    } else {
      ASSERT_FALSE(report);
      EXPECT_THAT(report.error().message, ::testing::HasSubstr(c.error));
    }
  }
}

}  // namespace
}  // namespace opsorch::testing
