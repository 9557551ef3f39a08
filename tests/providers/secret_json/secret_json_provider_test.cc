#include "providers/secret_json/secret_json_provider.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace opsorch::providers::secret_json {
namespace {

namespace fs = std::filesystem;

class JsonSecretProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "opsorch-secret-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "secrets.json").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& text) {
    std::ofstream out(path_);
    out << text;
  }
  std::shared_ptr<JsonSecretProvider> Open() {
    auto r = JsonSecretProvider::FromConfig(JsonObject{{"path", path_}});
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : nullptr;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(JsonSecretProviderTest, MissingPathHasTheReferenceMessage) {
  const Error expected{"bad_request", "basic provider requires 'path' in config"};
  EXPECT_EQ(JsonSecretProvider::FromConfig({}).error(), expected);
  EXPECT_EQ(JsonSecretProvider::FromConfig(JsonObject{{"path", ""}}).error(), expected);
  EXPECT_EQ(JsonSecretProvider::FromConfig(JsonObject{{"path", nullptr}}).error(), expected);
}

TEST_F(JsonSecretProviderTest, ConfigKeysAndTypesAreValidated) {
  auto r = JsonSecretProvider::FromConfig(JsonObject{{"path", path_}, {"secrets", 1}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(),
            (Error{"bad_request", "json secret provider: unknown config key \"secrets\""}));
  r = JsonSecretProvider::FromConfig(JsonObject{{"path", 3}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "json secret provider: config \"path\" must be a string");
}

TEST_F(JsonSecretProviderTest, UnreadableFileNamesPathAndReason) {
  auto r = JsonSecretProvider::FromConfig(JsonObject{{"path", path_}});  // does not exist
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "failed to read secret file " + path_ + ": No such file or directory");
  r = JsonSecretProvider::FromConfig(JsonObject{{"path", dir_.string()}});  // a directory
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "failed to read secret file " + dir_.string() + ": Is a directory");
}

TEST_F(JsonSecretProviderTest, BadJsonNamesPathAndReason) {
  Write("{\"a\": ");
  auto r = JsonSecretProvider::FromConfig(JsonObject{{"path", path_}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("failed to parse secret file " + path_ + ": ", 0), 0u)
      << r.error().message;
  EXPECT_GT(r.error().message.size(), ("failed to parse secret file " + path_ + ": ").size());
  Write("[1, 2]");
  r = JsonSecretProvider::FromConfig(JsonObject{{"path", path_}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "failed to parse secret file " + path_ + ": top-level value is not a JSON object");
}

TEST_F(JsonSecretProviderTest, GetReturnsStringsAsIsAndOtherValuesAsJson) {
  Write(R"({"db/password": "s3cr3t", "providers/incident/default": {"provider": "mock",
           "config": {"a": [1, true, null]}}, "n": 42, "list": ["x"]})");
  auto p = Open();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->Get("db/password"), "s3cr3t");
  EXPECT_EQ(*p->Get("providers/incident/default"),
            R"({"provider":"mock","config":{"a":[1,true,null]}})");
  EXPECT_EQ(*p->Get("n"), "42");
  EXPECT_EQ(*p->Get("list"), R"(["x"])");
  auto missing = p->Get("nosuch");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), (Error{"not_found", "secret not found: nosuch"}));
}

TEST_F(JsonSecretProviderTest, PutPersistsDurablyWithMode0600) {
  Write(R"({"keep": {"nested": 1}})");
  ::chmod(path_.c_str(), 0644);
  auto p = Open();
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->Put("providers/log/default", R"({"provider":"mock","config":null})"));
  ASSERT_TRUE(p->Put("keep2", "v2"));
  EXPECT_EQ(*p->Get("keep2"), "v2");  // memory updated

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  // No temporary files are left behind.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "secrets.json");
  }
  EXPECT_EQ(files, 1u);

  // A new provider reads back what was put, and what was there before.
  auto reopened = Open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened->Get("providers/log/default"), R"({"provider":"mock","config":null})");
  EXPECT_EQ(*reopened->Get("keep2"), "v2");
  EXPECT_EQ(*reopened->Get("keep"), R"({"nested":1})");
}

TEST_F(JsonSecretProviderTest, FailedPutChangesNothing) {
  Write("{}");
  auto p = Open();
  ASSERT_TRUE(p);
  fs::remove_all(dir_);  // the directory is gone: the temp file cannot be created
  auto r = p->Put("k", "v");
  ASSERT_FALSE(r);
  EXPECT_EQ(WireCode(r.error()), "secret_store_error");
  EXPECT_EQ(r.error().message.rfind("failed to write secret file " + path_, 0), 0u);
  EXPECT_FALSE(p->Get("k"));
  EXPECT_EQ(WireCode(p->Put("", "v").error()), "bad_request");
}

TEST_F(JsonSecretProviderTest, ConcurrentPutsAreAllPersisted) {
  Write("{}");
  auto p = Open();
  ASSERT_TRUE(p);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(p->Put(key, key));
        EXPECT_EQ(*p->Get(key), key);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto reopened = Open();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 10; ++i) {
      const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(*reopened->Get(key), key);
    }
  }
}

}  // namespace
}  // namespace opsorch::providers::secret_json
