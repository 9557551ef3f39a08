// Keys: text forms, purposes, key files (mode, owner, links), and secret bytes wiped before
// their memory is freed.
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <string_view>
#include <type_traits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/workflow/package.h>

// ---- freed-memory watch ----
// This binary's operator new/delete are malloc/free plus one check: while a test watches, every
// block freed on its thread is searched for the watched bytes before it goes back to malloc.
// That is how "a key is wiped before its memory is freed" can fail: nothing else can look at a
// block once it is freed.
namespace {

struct FreedWatchState {
  std::array<std::string_view, 2> needles;
  bool seen = false;
};
thread_local FreedWatchState* g_freed_watch = nullptr;

void CheckFreed(const void* p, std::size_t n) noexcept {
  FreedWatchState* w = g_freed_watch;
  if (w == nullptr || p == nullptr) return;
  for (std::string_view needle : w->needles) {
    if (!needle.empty() && ::memmem(p, n, needle.data(), needle.size()) != nullptr) w->seen = true;
  }
}

}  // namespace

void* operator new(std::size_t n) {
  for (;;) {
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}
// noinline: inlined into a caller, free() on the result of operator new reads to GCC as a
// mismatched pair (-Wmismatched-new-delete), which it is not here.
[[gnu::noinline]] void operator delete(void* p) noexcept {
  if (p != nullptr) CheckFreed(p, ::malloc_usable_size(p));
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t n) noexcept {
  CheckFreed(p, n);
  std::free(p);
}

namespace opsorch::workflow::package {
namespace {

// Reports whether a block freed on this thread during its lifetime held either needle.
class FreedMemoryWatch {
 public:
  FreedMemoryWatch(std::string_view a, std::string_view b) {
    state_.needles = {a, b};
    g_freed_watch = &state_;
  }
  ~FreedMemoryWatch() { g_freed_watch = nullptr; }
  FreedMemoryWatch(const FreedMemoryWatch&) = delete;
  FreedMemoryWatch& operator=(const FreedMemoryWatch&) = delete;
  bool Seen() const { return state_.seen; }

 private:
  FreedWatchState state_;
};

// Keeps the compiler from eliding an allocation the test makes on purpose.
void Escape(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

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

TEST(Keys, SecretKeyIsAValue) {
  static_assert(std::is_nothrow_move_constructible_v<SecretKey>);
  static_assert(std::is_nothrow_move_assignable_v<SecretKey>);
  const SecretKey k = GenerateKey(KeyPurpose::kRecipient);
  const SecretKey braced{k.purpose, k.bytes};  // as when SecretKey was an aggregate
  EXPECT_EQ(braced.purpose, KeyPurpose::kRecipient);
  EXPECT_EQ(braced.bytes, k.bytes);
  EXPECT_EQ(SecretKey{KeyPurpose::kString}.purpose, KeyPurpose::kString);
  EXPECT_EQ(SecretKey{}.purpose, KeyPurpose::kSign);

  SecretKey copy = k;
  EXPECT_EQ(copy.bytes, k.bytes);
  SecretKey moved = std::move(copy);
  EXPECT_EQ(moved.bytes, k.bytes);
  EXPECT_TRUE(copy.bytes.empty());  // NOLINT(bugprone-use-after-move): what a move leaves

  SecretKey assigned;
  assigned = moved;
  EXPECT_EQ(assigned.purpose, KeyPurpose::kRecipient);
  EXPECT_EQ(assigned.bytes, k.bytes);
  const SecretKey& same = assigned;
  assigned = same;  // self-assignment keeps the key (it must not wipe it first)
  EXPECT_EQ(assigned.bytes, k.bytes);
  assigned = std::move(assigned);  // NOLINT: likewise for a self-move
  EXPECT_EQ(assigned.bytes, k.bytes);
  assigned = GenerateKey(KeyPurpose::kSign);
  EXPECT_EQ(assigned.purpose, KeyPurpose::kSign);
  EXPECT_EQ(assigned.bytes.size(), 64u);

  assigned.Wipe();
  EXPECT_TRUE(assigned.bytes.empty());
}

TEST(Keys, SecretBytesAreWipedBeforeTheirMemoryIsFreed) {
  const SecretKey k = GenerateKey(KeyPurpose::kSign);
  // Ed25519: the seed half is the secret (the other half is the public key, copied freely).
  // The raw needle is its second half, so that a key shrunk in place is caught as well.
  const std::string raw(reinterpret_cast<const char*>(k.bytes.data()) + 16, 16);
  std::string text = k.Text();
  const std::string hex = text.substr(text.find(':') + 1, 64);
  sodium_memzero(text.data(), text.size());
  // Built before the watch, and freed after it.
  const std::string k_text = k.Text();
  std::string mismatched = k_text;
  mismatched.back() = mismatched.back() == '0' ? '1' : '0';

  {  // The watch can fail: a plain copy of the bytes, or of the text, freed as it is.
    FreedMemoryWatch watch(raw, hex);
    {
      const std::vector<std::uint8_t> plain = k.bytes;
      Escape(plain.data());
    }
    EXPECT_TRUE(watch.Seen());
  }
  {
    FreedMemoryWatch watch(raw, hex);
    {
      const std::string plain = k.Text();
      Escape(plain.data());
    }
    EXPECT_TRUE(watch.Seen());
  }

  FreedMemoryWatch watch(raw, hex);
  {
    const SecretKey copy = k;  // destroyed
    Escape(copy.bytes.data());
  }
  EXPECT_FALSE(watch.Seen()) << "destructor";
  {
    SecretKey a = k;
    a = GenerateKey(KeyPurpose::kString);  // move-assignment frees the block that held k
    Escape(a.bytes.data());
  }
  EXPECT_FALSE(watch.Seen()) << "move-assignment";
  {
    SecretKey a = k;
    const SecretKey larger{KeyPurpose::kSign, std::vector<std::uint8_t>(200, 7)};
    a = larger;  // copy-assignment reallocates
    Escape(a.bytes.data());
  }
  EXPECT_FALSE(watch.Seen()) << "copy-assignment";
  {
    SecretKey a = k;
    a.bytes.resize(8);  // the tail stays in the block until it is freed
    Escape(a.bytes.data());
  }
  EXPECT_FALSE(watch.Seen()) << "a key shrunk in place";
  {
    std::string t = k.Text();  // the caller's to wipe; what Text() built on the way is not
    sodium_memzero(t.data(), t.size());
  }
  EXPECT_FALSE(watch.Seen()) << "Text()";
  {
    auto parsed = ParseSecretKey(k_text);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_TRUE(sodium_memcmp(parsed->bytes.data(), k.bytes.data(), 64) == 0);
    // The same seed with a public half that does not match: refused, and nothing left behind.
    EXPECT_FALSE(ParseSecretKey(mismatched));
  }
  EXPECT_FALSE(watch.Seen()) << "ParseSecretKey";
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

TEST_F(KeyFiles, KeyFilesLeaveNoSecretInFreedMemory) {
  const SecretKey k = GenerateKey(KeyPurpose::kSign);
  const std::string raw(reinterpret_cast<const char*>(k.bytes.data()), 32);
  std::string text = k.Text();
  const std::string hex = text.substr(text.find(':') + 1, 64);
  sodium_memzero(text.data(), text.size());
  const std::string name = Path("w"), key_path = Path("w.key");
  FreedMemoryWatch watch(raw, hex);
  ASSERT_TRUE(WriteKeyFiles(k, name));
  EXPECT_FALSE(watch.Seen()) << "WriteKeyFiles";
  {
    auto read = ReadSecretKeyFile(key_path);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(sodium_memcmp(read->bytes.data(), k.bytes.data(), 64) == 0);
  }
  EXPECT_FALSE(watch.Seen()) << "ReadSecretKeyFile";
}

// As ssh: 0600 proves nothing when the file is someone else's, who can change it at will. Tests
// run as root, which can hand a file to another uid; elsewhere there is nothing to test.
TEST_F(KeyFiles, SecretKeyFileOwnedBySomeoneElseIsRefused) {
  const SecretKey k = GenerateKey(KeyPurpose::kRecipient);
  Write("k.key", k.Text() + "\n", 0600);
  ASSERT_TRUE(ReadSecretKeyFile(Path("k.key")));
  const uid_t me = ::geteuid();
  const uid_t other = me == 0 ? 1 : me + 1;
  if (::chown(Path("k.key").c_str(), other, static_cast<gid_t>(-1)) != 0) {
    GTEST_SKIP() << "cannot give a file to uid " << other << ": " << std::strerror(errno);
  }
  ASSERT_EQ(Mode(Path("k.key")), 0600u);
  auto read = ReadSecretKeyFile(Path("k.key"));
  ASSERT_FALSE(read) << "a 0600 key owned by uid " << other << " was read by uid " << me;
  EXPECT_THAT(read.error().message,
              HasSubstr(Path("k.key") + ": owned by uid " + std::to_string(other) +
                        ", not by this process (uid " + std::to_string(me) + ")"));
  EXPECT_THAT(read.error().message, HasSubstr("chown it or use a key file of your own"));
}

TEST_F(KeyFiles, SecretKeyFileThroughALinkIsRefused) {
  Write("real.key", GenerateKey(KeyPurpose::kRecipient).Text() + "\n", 0600);
  ASSERT_TRUE(ReadSecretKeyFile(Path("real.key")));
  fs::create_symlink(Path("real.key"), Path("link.key"));
  fs::create_symlink(Path("nowhere.key"), Path("dangling.key"));
  for (const char* link : {"link.key", "dangling.key"}) {
    auto read = ReadSecretKeyFile(Path(link));
    ASSERT_FALSE(read) << link << " was followed";
    EXPECT_THAT(read.error().message, HasSubstr(Path(link) + ": is a symbolic link"));
    EXPECT_THAT(read.error().message, HasSubstr("give the path of the file itself"));
  }
  // Not a regular file, and opening it does not wait for a writer.
  ASSERT_EQ(::mkfifo(Path("fifo.key").c_str(), 0600), 0);
  EXPECT_THAT(ReadSecretKeyFile(Path("fifo.key")).error().message,
              HasSubstr(Path("fifo.key") + ": not a regular file"));
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
