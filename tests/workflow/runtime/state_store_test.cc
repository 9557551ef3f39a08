// Persisted step state: survives reopening, isolated per (workflow, step), and bounded per step
// so that a workflow cannot fill the disk its outputs spool to.
#include "workflow/state_store.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("opsorch-state-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StateStoreTest, ValuesSurviveReopeningAndStayPerStep) {
  {
    auto s = StateStore::Open(dir_.string());
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE((*s)->Set("w", "a", "k", "one"));
    ASSERT_TRUE((*s)->Set("w", "b", "k", "two"));
    ASSERT_TRUE((*s)->Set("w", "a", "gone", "x"));
    ASSERT_TRUE((*s)->Set("w", "a", "gone", std::nullopt));
  }
  auto s = StateStore::Open(dir_.string());
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->Get("w", "a", "k").value(), std::optional<std::string>("one"));
  EXPECT_EQ((*s)->Get("w", "b", "k").value(), std::optional<std::string>("two"));
  EXPECT_EQ((*s)->Get("w", "a", "gone").value(), std::nullopt);
  EXPECT_EQ((fs::status(dir_).permissions() & fs::perms::all), fs::perms::owner_all);
}

TEST_F(StateStoreTest, BytesPerStepAreBounded) {
  auto s = StateStore::Open(dir_.string());
  ASSERT_TRUE(s);
  const std::string mib(StateStore::kMaxValueBytes, 'x');
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE((*s)->Set("w", "a", "k" + std::to_string(i), mib)) << i;
  }
  auto over = (*s)->Set("w", "a", "k64", mib);
  ASSERT_FALSE(over);
  EXPECT_THAT(over.error().message, HasSubstr("at most 64 MiB of values per step"));
  // Replacing a value is not counted twice; another step has its own quota.
  EXPECT_TRUE((*s)->Set("w", "a", "k0", mib));
  EXPECT_TRUE((*s)->Set("w", "b", "k0", mib));
  // One value over 1 MiB and empty or long keys are refused outright.
  auto big = (*s)->Set("w", "c", "k", std::string(StateStore::kMaxValueBytes + 1, 'x'));
  ASSERT_FALSE(big);
  EXPECT_THAT(big.error().message, HasSubstr("at most 1 MiB"));
  EXPECT_FALSE((*s)->Set("w", "c", "", "v"));
  EXPECT_FALSE((*s)->Set("w", "c", std::string(StateStore::kMaxKeyBytes + 1, 'k'), "v"));
}

// A write's quota check reads kept totals: its cost must not grow with the keys a step holds
// (it once summed every row of the step, so that N writes cost O(N²) host CPU outside the
// script's limits). Counted in SQLite VM steps, which do not depend on the machine's speed.
TEST_F(StateStoreTest, WriteCostDoesNotGrowWithTheNumberOfKeys) {
  auto s = StateStore::Open(dir_.string());
  ASSERT_TRUE(s);
  std::int64_t early = 0;
  for (int i = 0; i < 4000; ++i) {
    ASSERT_TRUE((*s)->Set("w", "a", "key-" + std::to_string(i), "value"));
    if (i == 20) early = (*s)->LastSetVmSteps();
  }
  const std::int64_t late = (*s)->LastSetVmSteps();
  ASSERT_GT(early, 0);
  EXPECT_LT(late, early * 3 / 2) << "a write at 4000 keys took " << late
                                 << " VM steps, at 20 keys " << early;
  // Overwrites and deletes too.
  ASSERT_TRUE((*s)->Set("w", "a", "key-7", "changed"));
  EXPECT_LT((*s)->LastSetVmSteps(), early * 3 / 2);
  ASSERT_TRUE((*s)->Set("w", "a", "key-8", std::nullopt));
  EXPECT_LT((*s)->LastSetVmSteps(), early * 3 / 2);
}

TEST_F(StateStoreTest, KeptTotalsFollowDeletesAndReopening) {
  {
    auto s = StateStore::Open(dir_.string());
    ASSERT_TRUE(s);
    for (std::size_t i = 0; i < StateStore::kMaxKeysPerStep; ++i) {
      ASSERT_TRUE((*s)->Set("w", "a", "k" + std::to_string(i), "v")) << i;
    }
    auto full = (*s)->Set("w", "a", "one-more", "v");
    ASSERT_FALSE(full);
    EXPECT_THAT(full.error().message, HasSubstr("at most 10000 keys per step"));
    EXPECT_TRUE((*s)->Set("w", "a", "k0", "overwrite is fine"));
    EXPECT_TRUE((*s)->Set("w", "a", "k1", std::nullopt));
    EXPECT_TRUE((*s)->Set("w", "a", "k1", std::nullopt));  // deleting twice counts once
    EXPECT_TRUE((*s)->Set("w", "a", "one-more", "v"));
    EXPECT_FALSE((*s)->Set("w", "a", "two-more", "v"));
  }
  auto s = StateStore::Open(dir_.string());
  ASSERT_TRUE(s);
  EXPECT_FALSE((*s)->Set("w", "a", "two-more", "v"));
  EXPECT_TRUE((*s)->Set("w", "a", "k2", std::nullopt));
  EXPECT_TRUE((*s)->Set("w", "a", "two-more", "v"));
}

}  // namespace
}  // namespace opsorch::workflow
