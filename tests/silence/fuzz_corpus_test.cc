// Replays fuzz_silence's seed corpus (tests/fuzz/corpus_silence/) through the fuzzer's own body
// (tests/fuzz/silence_check.h) in every build, so that inputs that once broke an invariant stay
// fixed without a clang build; and pins what a few seeds must give.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "fuzz/corpus_files.h"
#include "fuzz/silence_check.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(OPSORCH_TEST_DATA_DIR) / "fuzz" / "corpus_silence";

TEST(FuzzCorpusSilence, EveryFileKeepsTheInvariants) {
  const std::vector<CorpusFile> files = ReadCorpusDir(kCorpus);
  ASSERT_GE(files.size(), 10u) << kCorpus;  // a wrong path must not test nothing
  for (const CorpusFile& file : files) {
    for (const std::string& violation : CheckSilence(file.bytes)) {
      ADD_FAILURE() << file.name << ": " << violation;
    }
  }
}

// The valid seeds reach the code behind the decoders.
TEST(FuzzCorpusSilence, ValidSeedsDecode) {
  for (const char* name : {"silence_valid.json", "silence_regex_update.json"}) {
    const std::string bytes = ReadFileBytes(kCorpus / name);
    auto d = silence::DecodePostableSilence(bytes, kSilenceFuzzNow);
    EXPECT_TRUE(d) << name << ": " << (d ? "" : silence::ToError(d.error()).message);
  }
  for (const char* name :
       {"interval_weeknights.json", "interval_dst_berlin.json", "interval_snake_case.json"}) {
    const std::string bytes = ReadFileBytes(kCorpus / name);
    auto s = silence::DecodeTimeIntervalSet(std::string_view(bytes));
    EXPECT_TRUE(s) << name << ": " << (s ? "" : silence::ToError(s.error()).message);
  }
  for (const char* name : {"matchers_braces.txt", "matcher_escapes.txt"}) {
    EXPECT_TRUE(silence::ParseMatchers(ReadFileBytes(kCorpus / name))) << name;
  }
}

}  // namespace
}  // namespace opsorch::testing
