// Keys: text forms, purposes, key files and their modes.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/workflow/package.h>

namespace opsorch::workflow::package {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr KeyPurpose kAll[] = {KeyPurpose::kSign, KeyPurpose::kRecipient, KeyPurpose::kPackager,
                               KeyPurpose::kString};

class KeyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("opsorch-keys-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text, mode_t mode) {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
    ASSERT_EQ(::chmod(Path(name).c_str(), mode), 0);
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  fs::path dir_;
};

TEST(Keys, TextFormsRoundTrip) {
  for (KeyPurpose p : kAll) {
    const SecretKey k = GenerateKey(p);
    const std::string text = k.Text();
    EXPECT_TRUE(text.starts_with(std::string(PurposeName(p)) + "-secret:")) << text;
    auto parsed = ParseSecretKey("  " + text + "\n");
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->purpose, p);
    EXPECT_EQ(parsed->bytes, k.bytes);
    if (p == KeyPurpose::kString) continue;
    const PublicKey pk = k.Public();
    EXPECT_EQ(pk.Text().size(), PurposeName(p).size() + 1 + 64);
    auto parsed_pk = ParsePublicKey(pk.Text() + "\r\n");
    ASSERT_TRUE(parsed_pk) << parsed_pk.error().message;
    EXPECT_EQ(*parsed_pk, pk);
  }
  EXPECT_EQ(GenerateKey(KeyPurpose::kSign).bytes.size(), 64u);
  EXPECT_EQ(GenerateKey(KeyPurpose::kRecipient).bytes.size(), 32u);
}

TEST(Keys, ParseRefusesWithTheRule) {
  const std::string hex(64, 'a');
  struct Row {
    std::string text;
    bool is_public;
    std::string fragment;
  };
  const std::vector<Row> rows = {
      {"", true, "not a public key"},
      {hex, true, "not a public key"},
      {"string:" + hex, true, "the purpose must be sign, recipient or packager"},
      {"bogus:" + hex, true, "the purpose must be sign"},
      {"sign-secret:" + hex, true, "a secret key where a public key belongs"},
      {"sign:" + std::string(63, 'a'), true, "expected 64 lower-case hex digits"},
      {"sign:" + std::string(65, 'a'), true, "expected 64 lower-case hex digits"},
      {"sign:" + std::string(64, 'A'), true, "expected 64 lower-case hex digits"},
      {"recipient:" + std::string(63, 'a') + "g", true, "not a recipient public key"},
      {"sign: " + hex, true, "expected 64 lower-case hex digits"},
      {"sign:" + hex, false, "not a secret key"},
      {"bogus-secret:" + hex, false, "the purpose must be sign, recipient, packager or string"},
      {"recipient-secret:" + std::string(62, 'a'), false, "expected 64 lower-case hex digits"},
      {"sign-secret:" + hex, false, "expected 128 lower-case hex digits"},
      // A sign key whose public half is not its seed's.
      {"sign-secret:" + std::string(128, '1'), false, "its public half does not match"},
  };
  for (const Row& r : rows) {
    const std::string message = r.is_public ? ParsePublicKey(r.text).error().message
                                            : ParseSecretKey(r.text).error().message;
    EXPECT_THAT(message, HasSubstr(r.fragment)) << r.text;
  }
}

TEST(Keys, PublicHalvesAreTheLibsodiumOnes) {
  const SecretKey sign = GenerateKey(KeyPurpose::kSign);
  // Ed25519: libsodium's secret key ends with the public key.
  EXPECT_TRUE(std::equal(sign.bytes.begin() + 32, sign.bytes.end(), sign.Public().bytes.begin()));
  EXPECT_EQ(sign.Public().purpose, KeyPurpose::kSign);
  const SecretKey r = GenerateKey(KeyPurpose::kRecipient);
  EXPECT_NE(r.Public().bytes, PublicKey{}.bytes);
  EXPECT_EQ(r.Public().purpose, KeyPurpose::kRecipient);
}

TEST_F(KeyFiles, WriteKeyFilesWritesPrivateKeyAndPublicKey) {
  const SecretKey k = GenerateKey(KeyPurpose::kRecipient);
  ASSERT_TRUE(WriteKeyFiles(k, Path("rt")));
  EXPECT_EQ(Mode(Path("rt.key")), 0600u);
  EXPECT_EQ(Mode(Path("rt.pub")), 0644u);
  auto sk = ReadSecretKeyFile(Path("rt.key"));
  ASSERT_TRUE(sk) << sk.error().message;
  EXPECT_EQ(sk->bytes, k.bytes);
  auto pk = ReadPublicKeyFile(Path("rt.pub"));
  ASSERT_TRUE(pk) << pk.error().message;
  EXPECT_EQ(*pk, k.Public());
}

TEST_F(KeyFiles, WriteKeyFilesEvenUnderAPermissiveUmask) {
  const mode_t old = ::umask(0);
  const Status st = WriteKeyFiles(GenerateKey(KeyPurpose::kSign), Path("s"));
  ::umask(old);
  ASSERT_TRUE(st);
  EXPECT_EQ(Mode(Path("s.key")), 0600u);
}

TEST_F(KeyFiles, WriteKeyFilesNeverOverwrites) {
  const SecretKey first = GenerateKey(KeyPurpose::kSign);
  ASSERT_TRUE(WriteKeyFiles(first, Path("k")));
  const Status again = WriteKeyFiles(GenerateKey(KeyPurpose::kSign), Path("k"));
  ASSERT_FALSE(again);
  EXPECT_THAT(again.error().message, HasSubstr("already exists"));
  EXPECT_EQ(ReadSecretKeyFile(Path("k.key"))->bytes, first.bytes);
  // Only the .pub in the way: nothing is written, not even the .key.
  Write("p.pub", "x", 0644);
  ASSERT_FALSE(WriteKeyFiles(GenerateKey(KeyPurpose::kSign), Path("p")));
  EXPECT_FALSE(fs::exists(Path("p.key")));
}

TEST_F(KeyFiles, StringKeysHaveNoPublicFile) {
  ASSERT_TRUE(WriteKeyFiles(GenerateKey(KeyPurpose::kString), Path("s")));
  EXPECT_TRUE(fs::exists(Path("s.key")));
  EXPECT_FALSE(fs::exists(Path("s.pub")));
}

TEST_F(KeyFiles, SecretKeyFileReadableByOthersIsRefused) {
  const SecretKey k = GenerateKey(KeyPurpose::kRecipient);
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    Write("k.key", k.Text() + "\n", mode);
    auto read = ReadSecretKeyFile(Path("k.key"));
    ASSERT_FALSE(read) << std::oct << mode;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    EXPECT_THAT(read.error().message, HasSubstr(std::string("mode ") + octal));
    EXPECT_THAT(read.error().message, HasSubstr("chmod 600 " + Path("k.key")));
  }
  for (mode_t mode : {0600, 0400}) {
    Write("k.key", k.Text() + "\n", mode);
    EXPECT_TRUE(ReadSecretKeyFile(Path("k.key"))) << std::oct << mode;
  }
}

TEST_F(KeyFiles, SecretKeyFileErrorsNameTheFile) {
  EXPECT_THAT(ReadSecretKeyFile(Path("missing.key")).error().message,
              HasSubstr(Path("missing.key") + ": cannot read"));
  EXPECT_THAT(ReadSecretKeyFile(dir_.string()).error().message, HasSubstr("not a regular file"));
  Write("pub-as-key.key", GenerateKey(KeyPurpose::kSign).Public().Text(), 0600);
  EXPECT_THAT(ReadSecretKeyFile(Path("pub-as-key.key")).error().message,
              HasSubstr("not a secret key"));
  Write("big.key", std::string(5000, 'a'), 0600);
  EXPECT_THAT(ReadSecretKeyFile(Path("big.key")).error().message, HasSubstr("too large"));
  Write("key-as-pub.pub", GenerateKey(KeyPurpose::kSign).Text(), 0644);
  EXPECT_THAT(ReadPublicKeyFile(Path("key-as-pub.pub")).error().message,
              HasSubstr("a secret key where a public key belongs"));
}

}  // namespace
}  // namespace opsorch::workflow::package
