#include "providers/secret_sealed/secret_sealed_provider.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "providers/secret_sealed/sealed_format.h"

namespace opsorch::providers::secret_sealed {
namespace {

namespace fs = std::filesystem;

constexpr char kEnv[] = "OPSORCH_TEST_SEALED_KEY";
constexpr char kSecret[] = "correct-horse-battery-staple";

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteBytes(const std::string& path, const std::string& bytes, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  void Set(const std::string& value) { ::setenv(name_, value.c_str(), 1); }
  void Unset() { ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class SealedSecretProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "opsorch-sealed-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "secrets.sealed").string();
    key_ = GenerateSealedKey();
    env_.Set(key_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  JsonObject Config() const { return JsonObject{{"path", path_}, {"keyEnv", kEnv}}; }

  std::shared_ptr<SealedSecretProvider> Open(const JsonObject& config) {
    auto r = SealedSecretProvider::FromConfig(config);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : nullptr;
  }
  std::shared_ptr<SealedSecretProvider> Open() { return Open(Config()); }

  // The start-up error for the current file and config.
  Error OpenError(const JsonObject& config) {
    auto r = SealedSecretProvider::FromConfig(config);
    EXPECT_FALSE(r) << "provider opened unexpectedly";
    return r ? Error{} : r.error();
  }
  Error OpenError() { return OpenError(Config()); }

  // Writes a sealed file holding `plaintext` under the test key, as Put would.
  void WriteSealed(const std::string& plaintext) {
    auto key = SealedKey::FromBase64(key_, "test");
    ASSERT_TRUE(key);
    WriteBytes(path_, Seal(*key, plaintext));
  }

  // A store holding kSecret, written through the provider.
  void MakeStore() {
    auto p = Open();
    ASSERT_TRUE(p);
    ASSERT_TRUE(p->Put("db/password", kSecret));
    ASSERT_TRUE(p->Put("api/token", "tok-5f1e2d3c"));
  }

  void ExpectNoLeak(const Error& e, const std::vector<std::string>& extra = {}) {
    EXPECT_FALSE(e.message.empty());
    std::vector<std::string> secrets = {key_, kSecret, "tok-5f1e2d3c"};
    secrets.insert(secrets.end(), extra.begin(), extra.end());
    for (const auto& s : secrets) {
      EXPECT_EQ(e.message.find(s), std::string::npos) << e.message << " contains " << s;
    }
  }

  fs::path dir_;
  std::string path_;
  std::string key_;
  ScopedEnv env_{kEnv};
};

std::string Bad(const std::string& message) { return "sealed secret provider: " + message; }
// Error has no printer; compare this text so that a failure shows both sides.
std::string Str(const Error& e) { return std::string(WireCode(e)) + ": " + e.message; }

TEST_F(SealedSecretProviderTest, PutThenGetSurvivesANewInstance) {
  ASSERT_FALSE(fs::exists(path_));
  auto p = Open();  // a missing file is an empty store
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->Put("db/password", kSecret));
  ASSERT_TRUE(p->Put("providers/log/default", R"({"provider":"mock","config":null})"));
  ASSERT_TRUE(p->Put("db/password", "rotated"));  // overwrite
  EXPECT_EQ(*p->Get("db/password"), "rotated");

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::size_t files = 0;  // no temporary files left behind
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "secrets.sealed");
  }
  EXPECT_EQ(files, 1u);

  auto reopened = Open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened->Get("db/password"), "rotated");
  EXPECT_EQ(*reopened->Get("providers/log/default"), R"({"provider":"mock","config":null})");
}

TEST_F(SealedSecretProviderTest, FileOnDiskHoldsNoPlaintextAndHasTheDocumentedLayout) {
  auto p = Open();
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->Put("db/password", kSecret));
  const std::string first = ReadBytes(path_);
  EXPECT_EQ(first.find(kSecret), std::string::npos);
  EXPECT_EQ(first.find("db/password"), std::string::npos);
  EXPECT_EQ(first.find(key_), std::string::npos);
  EXPECT_EQ(first.substr(0, 15), std::string("OPSORCH-SEALED\x01", 15));
  const std::string plaintext = std::string(R"({"db/password":")") + kSecret + "\"}";
  EXPECT_EQ(first.size(), 15 + 24 + plaintext.size() + 16);

  // The same content written again uses a fresh nonce, so the bytes differ.
  ASSERT_TRUE(p->Put("db/password", kSecret));
  const std::string second = ReadBytes(path_);
  ASSERT_EQ(second.size(), first.size());
  EXPECT_NE(second.substr(15, 24), first.substr(15, 24));
  EXPECT_NE(second.substr(39), first.substr(39));
}

TEST_F(SealedSecretProviderTest, WrongKeyIsAStartupError) {
  MakeStore();
  const std::string other = GenerateSealedKey();
  env_.Set(other);
  const Error e = OpenError();
  EXPECT_EQ(Str(e), Str(Error{"bad_request", Bad(path_ + ": wrong key or corrupted file")}));
  ExpectNoLeak(e, {other});
}

TEST_F(SealedSecretProviderTest, EveryFlippedByteIsRejected) {
  MakeStore();
  const std::string good = ReadBytes(path_);
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    WriteBytes(path_, bad);
    const Error e = OpenError();
    ExpectNoLeak(e);
    std::string expected = path_ + ": wrong key or corrupted file";  // nonce, ciphertext, tag
    if (i < 14) expected = path_ + ": not a sealed secret file (bad header)";
    if (i == 14) expected = path_ + ": unsupported version 0";
    EXPECT_EQ(Str(e), Str(Error{"bad_request", Bad(expected)})) << "byte " << i;
  }
  WriteBytes(path_, good);
  EXPECT_TRUE(Open());
}

TEST_F(SealedSecretProviderTest, TruncatedOrExtendedFileIsRejected) {
  MakeStore();
  const std::string good = ReadBytes(path_);
  const auto error_for = [&](const std::string& bytes) {
    WriteBytes(path_, bytes);
    const Error e = OpenError();
    ExpectNoLeak(e);
    return e.message;
  };
  EXPECT_EQ(error_for(good.substr(0, good.size() - 1)),
            Bad(path_ + ": wrong key or corrupted file"));
  EXPECT_EQ(error_for(good + "x"), Bad(path_ + ": wrong key or corrupted file"));
  EXPECT_EQ(error_for(good.substr(0, 15 + 24 + 15)), Bad(path_ + ": corrupted file (truncated)"));
  EXPECT_EQ(error_for(good.substr(0, 15)), Bad(path_ + ": corrupted file (truncated)"));
  EXPECT_EQ(error_for(good.substr(0, 14)), Bad(path_ + ": corrupted file (truncated)"));
  EXPECT_EQ(error_for(good.substr(0, 10)), Bad(path_ + ": not a sealed secret file (bad header)"));
  EXPECT_EQ(error_for(""), Bad(path_ + ": not a sealed secret file (bad header)"));
}

TEST_F(SealedSecretProviderTest, BadHeaderAndUnsupportedVersionAreNamed) {
  // A plain json secret file given to the sealed provider: refused, its content not quoted.
  WriteBytes(path_, std::string(R"({"db/password": ")") + kSecret + "\"}");
  Error e = OpenError();
  EXPECT_EQ(Str(e),
            Str(Error{"bad_request", Bad(path_ + ": not a sealed secret file (bad header)")}));
  ExpectNoLeak(e);

  fs::remove(path_);
  MakeStore();
  std::string file = ReadBytes(path_);
  file[14] = 2;  // a future version
  WriteBytes(path_, file);
  e = OpenError();
  EXPECT_EQ(Str(e), Str(Error{"bad_request", Bad(path_ + ": unsupported version 2")}));
  ExpectNoLeak(e);
}

TEST_F(SealedSecretProviderTest, DecryptedContentMustBeAJsonObject) {
  WriteSealed("[1, 2]");
  EXPECT_EQ(OpenError().message, Bad(path_ + ": decrypted content is not a JSON object"));
  WriteSealed(std::string("{\"db/password\": ") + kSecret);  // not JSON, secret inside
  const Error e = OpenError();
  EXPECT_EQ(e.message, Bad(path_ + ": decrypted content is not a JSON object"));
  ExpectNoLeak(e);
}

TEST_F(SealedSecretProviderTest, KeyFromKeyFileToleratesTrailingWhitespace) {
  MakeStore();  // written with the key from the environment
  const std::string key_file = (dir_ / "sealed.key").string();
  for (const std::string& tail : {std::string(), std::string("\n"), std::string("\r\n \t\n")}) {
    WriteBytes(key_file, key_ + tail, 0600);
    auto p = Open(JsonObject{{"path", path_}, {"keyFile", key_file}});
    ASSERT_TRUE(p) << "tail size " << tail.size();
    EXPECT_EQ(*p->Get("db/password"), kSecret);
  }
  ASSERT_EQ(::chmod(key_file.c_str(), 0400), 0);  // read-only is fine too
  EXPECT_TRUE(Open(JsonObject{{"path", path_}, {"keyFile", key_file}}));

  // A different key in the file is the wrong key.
  WriteBytes(key_file, GenerateSealedKey() + "\n", 0600);
  const Error e = OpenError(JsonObject{{"path", path_}, {"keyFile", key_file}});
  EXPECT_EQ(e.message, Bad(path_ + ": wrong key or corrupted file"));
}

TEST_F(SealedSecretProviderTest, KeyFromEnvDefaultsToOpsorchSecretKey) {
  ScopedEnv default_env("OPSORCH_SECRET_KEY");
  default_env.Set(key_);
  env_.Unset();
  {
    auto p = Open(JsonObject{{"path", path_}});
    ASSERT_TRUE(p);
    ASSERT_TRUE(p->Put("db/password", kSecret));
  }
  // The same store opens with the same key under another variable name.
  env_.Set(key_);
  auto p = Open();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->Get("db/password"), kSecret);

  default_env.Unset();
  EXPECT_EQ(Str(OpenError(JsonObject{{"path", path_}})),
            Str(Error{"bad_request", Bad("environment variable OPSORCH_SECRET_KEY is not set")}));
  default_env.Set("");
  EXPECT_EQ(OpenError(JsonObject{{"path", path_}}).message,
            Bad("environment variable OPSORCH_SECRET_KEY is not set"));
  env_.Unset();
  EXPECT_EQ(OpenError().message, Bad(std::string("environment variable ") + kEnv + " is not set"));
}

TEST_F(SealedSecretProviderTest, BadKeyIsRejectedWithoutEchoingIt) {
  const std::string key_file = (dir_ / "sealed.key").string();
  const std::vector<std::string> bad_keys = {
      "AAECAwQFBgcICQoLDA0ODw==",                      // 16 bytes
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g",  // 33 bytes
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",   // 32 bytes, padding missing
      "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=",  // URL-safe alphabet
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",  // hex
      "not base64 at all, clearly",
      "AAECAwQF BgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  // space inside
  };
  for (const auto& bad : bad_keys) {
    env_.Set(bad);
    Error e = OpenError();
    EXPECT_EQ(Str(e), Str(Error{"bad_request",
                                Bad(std::string("key in ") + kEnv +
                                    " must be 32 bytes of standard base64 (44 characters)")}))
        << bad;
    ExpectNoLeak(e, {bad});

    WriteBytes(key_file, bad + "\n", 0600);
    e = OpenError(JsonObject{{"path", path_}, {"keyFile", key_file}});
    EXPECT_EQ(e.message,
              Bad("key in " + key_file + " must be 32 bytes of standard base64 (44 characters)"));
    ExpectNoLeak(e, {bad});
  }
  // The same 32 bytes in the standard alphabet are accepted.
  env_.Set("+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s=");
  EXPECT_TRUE(Open());
}

TEST_F(SealedSecretProviderTest, LooseKeyFilePermissionsAreRefused) {
  const std::string key_file = (dir_ / "sealed.key").string();
  const JsonObject config{{"path", path_}, {"keyFile", key_file}};
  for (const mode_t mode : {0640, 0604, 0644, 0620, 0602, 0660, 0700 | 0001}) {
    WriteBytes(key_file, key_ + "\n", mode);
    const Error e = OpenError(config);
    EXPECT_NE(e.message.find(Bad("key file " + key_file + " is accessible by group or others")),
              std::string::npos)
        << e.message;
    ExpectNoLeak(e);
  }
  WriteBytes(key_file, key_ + "\n", 0644);
  EXPECT_EQ(OpenError(config).message,
            Bad("key file " + key_file +
                " is accessible by group or others (mode 0644); restrict it with chmod 600"));
  ASSERT_EQ(::chmod(key_file.c_str(), 0600), 0);
  EXPECT_TRUE(Open(config));

  fs::remove(key_file);
  EXPECT_EQ(OpenError(config).message,
            Bad("cannot read key file " + key_file + ": No such file or directory"));
  fs::create_directory(key_file);
  ::chmod(key_file.c_str(), 0700);
  EXPECT_EQ(OpenError(config).message, Bad("key file " + key_file + " is not a regular file"));
}

TEST_F(SealedSecretProviderTest, ConfigIsValidated) {
  const auto message = [&](const JsonObject& config) { return OpenError(config).message; };
  const std::string path_required = Bad("config \"path\" is required");
  EXPECT_EQ(Str(OpenError(JsonObject{})), Str(Error{"bad_request", path_required}));
  EXPECT_EQ(message(JsonObject{{"path", ""}}), path_required);
  EXPECT_EQ(message(JsonObject{{"path", nullptr}, {"keyEnv", kEnv}}), path_required);
  EXPECT_EQ(message(JsonObject{{"path", 3}}), Bad("config \"path\" must be a string"));
  EXPECT_EQ(message(JsonObject{{"path", path_}, {"key", key_}}), Bad("unknown config key \"key\""));
  EXPECT_EQ(message(JsonObject{{"path", path_}, {"keyEnv", kEnv}, {"keyFile", "/k"}}),
            Bad("config \"keyEnv\" and \"keyFile\" are mutually exclusive; set one"));
  EXPECT_EQ(message(JsonObject{{"path", path_}, {"keyEnv", 5}}),
            Bad("config \"keyEnv\" must be a string"));
  EXPECT_EQ(message(JsonObject{{"path", path_}, {"keyFile", ""}}),
            Bad("config \"keyFile\" must not be empty"));
  EXPECT_EQ(
      message(JsonObject{{"path", (dir_ / "nosuch" / "s.sealed").string()}, {"keyEnv", kEnv}}),
      Bad("directory " + (dir_ / "nosuch").string() + " of secret file " +
          (dir_ / "nosuch" / "s.sealed").string() + " does not exist"));
  // A null keyEnv/keyFile counts as absent.
  EXPECT_TRUE(Open(JsonObject{{"path", path_}, {"keyEnv", kEnv}, {"keyFile", nullptr}}));
}

TEST_F(SealedSecretProviderTest, GetReturnsStringsAsIsAndOtherValuesAsJson) {
  WriteSealed(R"({"db/password": "s3cr3t", "providers/incident/default": {"provider": "mock",
                "config": {"a": [1, true, null]}}, "n": 42, "list": ["x"]})");
  auto p = Open();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p->Get("db/password"), "s3cr3t");
  EXPECT_EQ(*p->Get("providers/incident/default"),
            R"({"provider":"mock","config":{"a":[1,true,null]}})");
  EXPECT_EQ(*p->Get("n"), "42");
  EXPECT_EQ(*p->Get("list"), R"(["x"])");
  // A Put keeps the other values' JSON types.
  ASSERT_TRUE(p->Put("k", "v"));
  auto reopened = Open();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(*reopened->Get("providers/incident/default"),
            R"({"provider":"mock","config":{"a":[1,true,null]}})");
  EXPECT_EQ(*reopened->Get("n"), "42");
}

TEST_F(SealedSecretProviderTest, MissingKeyIsNotFound) {
  auto empty = Open();  // no file yet
  ASSERT_TRUE(empty);
  EXPECT_EQ(Str(empty->Get("nosuch").error()), Str(Error{"not_found", "secret not found: nosuch"}));
  MakeStore();
  auto p = Open();
  ASSERT_TRUE(p);
  EXPECT_EQ(Str(p->Get("nosuch").error()), Str(Error{"not_found", "secret not found: nosuch"}));
}

TEST_F(SealedSecretProviderTest, FailedPutChangesNothing) {
  auto p = Open();
  ASSERT_TRUE(p);
  EXPECT_EQ(WireCode(p->Put("", "v").error()), "bad_request");
  fs::remove_all(dir_);  // the temporary file cannot be created
  auto r = p->Put("db/password", kSecret);
  ASSERT_FALSE(r);
  EXPECT_EQ(WireCode(r.error()), "secret_store_error");
  EXPECT_EQ(r.error().message.rfind("failed to write secret file " + path_ + ": ", 0), 0u)
      << r.error().message;
  ExpectNoLeak(r.error());
  EXPECT_EQ(WireCode(p->Get("db/password").error()), "not_found");
}

TEST_F(SealedSecretProviderTest, ConcurrentPutsAndGetsKeepEveryAcknowledgedWrite) {
  auto p = Open();
  ASSERT_TRUE(p);
  constexpr int kWriters = 4, kPerWriter = 8;
  std::vector<std::vector<std::string>> acknowledged(kWriters);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        if (p->Put(key, "v-" + key)) acknowledged[t].push_back(key);
        EXPECT_EQ(*p->Get(key), "v-" + key);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (!done.load()) {
        for (int t = 0; t < kWriters; ++t) {
          auto v = p->Get("k" + std::to_string(t) + "-0");
          if (v) {
            EXPECT_EQ(*v, "v-k" + std::to_string(t) + "-0");
          }
        }
      }
    });
  }
  for (int t = 0; t < kWriters; ++t) threads[t].join();
  done = true;
  for (auto& th : threads) {
    if (th.joinable()) th.join();
  }

  auto reopened = Open();
  ASSERT_TRUE(reopened);
  std::size_t total = 0;
  for (const auto& keys : acknowledged) {
    total += keys.size();
    for (const auto& key : keys) {
      auto v = reopened->Get(key);
      ASSERT_TRUE(v) << key;
      EXPECT_EQ(*v, "v-" + key);
    }
  }
  EXPECT_EQ(total, std::size_t{kWriters * kPerWriter});
}

TEST_F(SealedSecretProviderTest, ErrorMessagesNeverContainTheKeyOrASecret) {
  MakeStore();
  const std::string good = ReadBytes(path_);
  std::vector<Error> errors;
  const std::string wrong = GenerateSealedKey();
  env_.Set(wrong);
  errors.push_back(OpenError());  // wrong key
  env_.Set(key_.substr(0, 40));   // a prefix of the real key
  errors.push_back(OpenError());
  env_.Set(key_ + key_);  // the real key twice
  errors.push_back(OpenError());
  env_.Set(key_);
  WriteSealed(std::string("{\"db/password\": \"") + kSecret);  // undecodable plaintext
  errors.push_back(OpenError());
  WriteBytes(path_, std::string(kSecret) + good);  // bad header starting with a secret
  errors.push_back(OpenError());
  for (const auto& e : errors) ExpectNoLeak(e, {wrong, key_.substr(0, 40)});
}

TEST(SealedSecretKeyTest, GeneratedKeysAreDistinct32ByteStandardBase64) {
  const std::string a = GenerateSealedKey();
  const std::string b = GenerateSealedKey();
  EXPECT_EQ(a.size(), 44u);
  EXPECT_EQ(a.back(), '=');
  EXPECT_NE(a, b);
  EXPECT_TRUE(SealedKey::FromBase64(a, "generated"));
  EXPECT_TRUE(SealedKey::FromBase64(b, "generated"));
}

}  // namespace
}  // namespace opsorch::providers::secret_sealed
