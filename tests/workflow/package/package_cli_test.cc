// `opsorch workflow keygen|pack|inspect|verify|encrypt-string`, run as a child process of the
// real binary; and InlineResources, which `pack` uses.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/common/files.h>
#include <opsorch/workflow/config.h>
#include <opsorch/workflow/package.h>

#include "support/run_command.h"
#include "test_paths.h"

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
namespace fs = std::filesystem;
namespace pkg = package;

constexpr char kConfig[] = R"J({
  "resources": {"body": {"file": "lua/body.lua"}, "inline": "return 1"},
  "workflows": [{"name": "w", "steps": [
    {"id": "s", "url": "return 'http://example.com/'", "payload": {"resource": "body"}}
  ]}]
})J";

class Dir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("opsorch-pkgcli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "lua");
    Write("wf.json", kConfig);
    Write("lua/body.lua", "return ctx.body  -- the body as it came\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::trunc | std::ios::binary) << text;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Read(const std::string& name) const {
    std::string out;
    EXPECT_EQ(ReadWholeFile(Path(name), out, 16u << 20), 0) << name;
    return out;
  }

  // Runs `opsorch workflow ARGS` in the test directory: exit status and stdout + stderr.
  std::pair<int, std::string> Run(const std::string& args) const {
    return testing::RunCommand("cd '" + dir_.string() + "' && '" OPSORCH_BINARY "' workflow " +
                               args);
  }

  // Keys publisher (sign), endorser (sign), ci (packager), rt and other (recipient), s (string).
  void Keygen() {
    for (const auto& [purpose, name] :
         std::vector<std::pair<std::string, std::string>>{{"sign", "publisher"},
                                                          {"sign", "endorser"},
                                                          {"packager", "ci"},
                                                          {"recipient", "rt"},
                                                          {"recipient", "other"},
                                                          {"string", "s"}}) {
      auto [rc, out] = Run("keygen --purpose " + purpose + " -o " + name);
      ASSERT_EQ(rc, 0) << out;
      if (purpose != "string") {
        EXPECT_EQ(out, Read(name + ".pub")) << name;  // the public key text, printed
      } else {
        EXPECT_THAT(out, StartsWith("key id "));
      }
    }
  }

  fs::path dir_;
};

TEST_F(Dir, KeygenPackInspectVerify) {
  Keygen();
  auto [rc, out] =
      Run("pack wf.json --id budget --version 1.2.0 --description 'Budget alerts' --sign "
          "publisher.key --sign endorser.key --for rt.pub --for other.pub --packager ci.key -o "
          "budget.owfp");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("packed budget 1.2.0 for 2 recipient(s), signed by 2 key(s)"));

  std::tie(rc, out) = Run("inspect budget.owfp");
  ASSERT_EQ(rc, 0) << out;
  const std::string publisher = pkg::ReadPublicKeyFile(Path("publisher.pub"))->Text();
  EXPECT_THAT(out, HasSubstr("format version: 1"));
  EXPECT_THAT(out, HasSubstr("id:             budget"));
  EXPECT_THAT(out, HasSubstr("description:    Budget alerts"));
  EXPECT_THAT(out, HasSubstr("signed by:      " + publisher + " (verified)"));
  EXPECT_THAT(out, HasSubstr(pkg::ReadPublicKeyFile(Path("other.pub"))->Text()));

  std::tie(rc, out) = Run("inspect --json budget.owfp");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, HasSubstr(R"("format_version":1)"));
  EXPECT_THAT(out, HasSubstr(R"("id":"budget")"));
  EXPECT_THAT(out, HasSubstr(R"("signers":[")" + publisher));

  std::tie(rc, out) =
      Run("verify budget.owfp --signer publisher.pub --additional endorser.pub --min-additional 1 "
          "--packager-pub ci.pub --recipient-key rt.key --id budget");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, StartsWith("ok: budget 1.2.0 signed by publisher (" + publisher + ")"));

  // The payload is the configuration with the resource inlined, valid without its directory.
  auto opened = pkg::Open(
      Read("budget.owfp"),
      pkg::Policy{.required_signers = {{"p", *pkg::ReadPublicKeyFile(Path("publisher.pub"))}},
                  .recipient = *pkg::ReadSecretKeyFile(Path("other.key"))},
      std::nullopt);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_THAT(opened->payload, HasSubstr("the body as it came"));
  EXPECT_TRUE(ParseWorkflowConfig(opened->payload, "pkg", ""));
}

TEST_F(Dir, VerifyRefusalsExitOneWithTheReason) {
  Keygen();
  ASSERT_EQ(Run("pack wf.json --id budget --version 1.2.0 --sign publisher.key --for rt.pub -o "
                "p.owfp")
                .first,
            0);
  const std::string other = pkg::ReadPublicKeyFile(Path("other.pub"))->Text();
  struct Row {
    std::string args;
    std::string fragment;
  };
  for (const Row& r : std::vector<Row>{
           {"--signer publisher.pub --recipient-key other.key",
            "refused (not_a_recipient): this runtime (" + other +
                ") is not a recipient of the package"},
           {"--signer endorser.pub --recipient-key rt.key",
            "refused (missing_required_signer): not signed by required signer \"endorser\""},
           {"--signer publisher.pub --recipient-key rt.key --id other",
            "refused (package_id_mismatch)"},
           {"--signer publisher.pub --packager-pub ci.pub --recipient-key rt.key",
            "refused (packager_not_allowed)"},
           {"--signer publisher.pub --additional endorser.pub --min-additional 1 "
            "--recipient-key rt.key",
            "refused (too_few_additional_signers): 0 of the additional signers signed, 1 "
            "required"},
       }) {
    auto [rc, out] = Run("verify p.owfp " + r.args);
    EXPECT_EQ(rc, 1) << r.args << "\n" << out;
    EXPECT_THAT(out, HasSubstr(r.fragment)) << r.args;
    EXPECT_THAT(out, Not(HasSubstr("ok:")));
  }
  // A changed byte: inspect and verify both refuse.
  std::string bytes = Read("p.owfp");
  bytes[bytes.size() - 10] ^= 1;
  Write("bad.owfp", bytes);
  auto [rc, out] = Run("inspect bad.owfp");
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(out, HasSubstr("refused (bad_signature)"));
  std::tie(rc, out) = Run("verify bad.owfp --signer publisher.pub --recipient-key rt.key");
  EXPECT_EQ(rc, 1);
  EXPECT_THAT(out, HasSubstr("bad.owfp: refused (bad_signature)"));
}

TEST_F(Dir, UsageAndFileErrorsExitTwo) {
  Keygen();
  ASSERT_EQ(Run("pack wf.json --id budget --version 1.2.0 --sign publisher.key --for rt.pub -o "
                "p.owfp")
                .first,
            0);
  ::chmod(Path("rt.key").c_str(), 0644);
  struct Row {
    std::string args;
    std::string fragment;
  };
  for (const Row& r : std::vector<Row>{
           {"verify p.owfp --signer publisher.pub --recipient-key rt.key",
            "mode 0644 lets group or others at the secret key; make it private: chmod 600"},
           {"verify p.owfp --signer publisher.pub", "--recipient-key is required"},
           {"verify p.owfp --recipient-key other.key", "--bootstrap or at least one --signer"},
           {"verify p.owfp --signer publisher.pub --additional endorser.pub --recipient-key "
            "other.key",
            "--additional and --min-additional go together"},
           {"verify p.owfp --signer rt.pub --recipient-key other.key",
            "rt.pub: a recipient key; --signer takes a sign key"},
           {"verify missing.owfp --signer publisher.pub --recipient-key other.key",
            "missing.owfp: cannot read"},
           {"verify p.owfp --bootstrap b.json --signer publisher.pub",
            "--bootstrap takes the policy"},
           {"inspect", "file is required"},
           {"inspect missing.owfp", "cannot read"},
           {"keygen --purpose bogus -o x", "--purpose must be sign, recipient, packager or string"},
           {"keygen --purpose sign -o publisher", "already exists; not overwritten"},
           {"pack wf.json --id budget --version 1.2.0 --sign publisher.key --for rt.pub -o p.owfp",
            "p.owfp: exists; --force replaces it"},
           {"pack wf.json --id budget --version 1.2 --sign publisher.key --for rt.pub -o q.owfp",
            "version: must be MAJOR.MINOR.PATCH"},
           {"pack wf.json --id budget --version 1.2.0 --sign rt.key --for rt.pub -o q.owfp",
            "rt.key:"},
           {"pack wf.json --id budget --version 1.2.0 --sign publisher.key --for publisher.pub -o "
            "q.owfp",
            "publisher.pub: a sign key; --for takes a recipient key"},
           {"encrypt-string --key publisher.key x", "not a string key (a sign key)"},
       }) {
    auto [rc, out] = Run(r.args);
    EXPECT_EQ(rc, 2) << r.args << "\n" << out;
    EXPECT_THAT(out, HasSubstr(r.fragment)) << r.args;
  }
  EXPECT_FALSE(fs::exists(Path("q.owfp")));
}

TEST_F(Dir, PackRefusesAnInvalidConfiguration) {
  Keygen();
  const std::string base =
      " --id budget --version 1.0.0 --sign publisher.key --for rt.pub -o out.owfp";
  Write("syntax.json", R"({"workflows":[{"name":"w","steps":[{"id":"s","results":"return +"}]}]})");
  Write("unknown.json", R"({"workflows":[{"name":"w","steps":[{"id":"s"}]}],"extra":1})");
  Write("escape.json", R"({"resources":{"x":{"file":"../secret.lua"}},"workflows":[]})");
  Write("notjson.json", "{");
  for (const auto& [file, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"syntax.json", "syntax.json: workflows[0].steps[0].results"},
           {"unknown.json", "extra"},
           {"escape.json", "resources.x.file: must be a relative path inside"},
           {"notjson.json", "notjson.json: "}}) {
    auto [rc, out] = Run("pack " + file + base);
    EXPECT_EQ(rc, 1) << file << "\n" << out;
    EXPECT_THAT(out, HasSubstr("not packed: "));
    EXPECT_THAT(out, HasSubstr(fragment)) << file;
    EXPECT_FALSE(fs::exists(Path("out.owfp"))) << file;
  }
}

TEST_F(Dir, PackForceReplaces) {
  Keygen();
  const std::string args =
      "pack wf.json --id budget --version 1.0.0 --sign publisher.key --for rt.pub -o p.owfp";
  ASSERT_EQ(Run(args).first, 0);
  const std::string first = Read("p.owfp");
  ASSERT_EQ(Run(args).first, 2);
  EXPECT_EQ(Read("p.owfp"), first);
  ASSERT_EQ(Run(args + " --force").first, 0);
  EXPECT_NE(Read("p.owfp"), first);
  EXPECT_TRUE(pkg::Inspect(Read("p.owfp")));
  // No temporary file is left behind.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    files += e.path().string().find(".tmp.") != std::string::npos;
  EXPECT_EQ(files, 0u);
}

TEST_F(Dir, EncryptStringFromArgumentAndStdin) {
  Keygen();
  auto key = pkg::ReadSecretKeyFile(Path("s.key"));
  ASSERT_TRUE(key);
  auto [rc, out] = Run("encrypt-string --key s.key 'p@ss word'");
  ASSERT_EQ(rc, 0) << out;
  ASSERT_THAT(out, StartsWith("enc1:" + pkg::StringKeyId(*key) + ":"));
  EXPECT_EQ(*pkg::DecryptString(out.substr(0, out.size() - 1), *key), "p@ss word");
  std::tie(rc, out) = testing::RunCommand("cd '" + dir_.string() +
                                          "' && printf 'from stdin\\n' | '" OPSORCH_BINARY
                                          "' workflow encrypt-string --key s.key");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(*pkg::DecryptString(out.substr(0, out.size() - 1), *key), "from stdin");
}

TEST_F(Dir, VerifyWithABootstrap) {
  Keygen();
  ASSERT_EQ(Run("pack wf.json --id budget --version 1.2.0 --sign publisher.key --sign "
                "endorser.key --for rt.pub --packager ci.key -o p.owfp")
                .first,
            0);
  auto pub = [this](const std::string& n) {
    return pkg::ReadPublicKeyFile(Path(n + ".pub"))->Text();
  };
  auto bootstrap = [&](const std::string& packaging) {
    return R"({"keys": {"publisher": ")" + pub("publisher") + R"(", "endorser": ")" +
           pub("endorser") + R"(", "ci": ")" + pub("ci") +
           R"("}, "deployments": [
             {"id": "other", "config": {"file": "wf.json"}, "persistence_dir": "state-o",
              "packaging": {"package_id": "else", "required_signers": ["publisher"],
                            "recipient_key_file": "other.key"}},
             {"id": "main", "config": {"file": "p.owfp"}, "persistence_dir": "state",
              "packaging": {)" +
           packaging + "}}]}";
  };
  Write("boot.json", bootstrap(R"("package_id": "budget", "required_signers": ["publisher"],
        "additional_signers": ["endorser"], "required_additional_signers": 1,
        "packagers": ["ci"], "recipient_key_file": "rt.key")"));
  auto [rc, out] = Run("verify p.owfp --bootstrap boot.json");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_THAT(out, StartsWith("ok: budget 1.2.0 signed by publisher (" + pub("publisher") +
                              "), endorser (" + pub("endorser") + ")"));
  std::tie(rc, out) = Run("verify p.owfp --bootstrap boot.json --deployment main");
  EXPECT_EQ(rc, 0) << out;
  // The other deployment's policy: another id, another recipient.
  std::tie(rc, out) = Run("verify p.owfp --bootstrap boot.json --deployment other");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("refused (package_id_mismatch)"));
  std::tie(rc, out) = Run("verify p.owfp --bootstrap boot.json --deployment nope");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_THAT(out, HasSubstr("no enabled deployment \"nope\""));

  Write("boot.json", bootstrap(R"("package_id": "budget", "required_signers": ["publisher"],
        "recipient_key_file": "other.key")"));
  std::tie(rc, out) = Run("verify p.owfp --bootstrap boot.json");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("refused (not_a_recipient)"));

  Write("boot.json", bootstrap(R"("package_id": "nobody", "required_signers": ["publisher"],
        "recipient_key_file": "rt.key")"));
  std::tie(rc, out) = Run("verify p.owfp --bootstrap boot.json");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_THAT(out, HasSubstr("no deployment of boot.json takes package id \"budget\""));
}

// --- InlineResources ---

TEST_F(Dir, InlineResourcesReplacesFileResourcesByTheirText) {
  auto inlined = InlineResources(kConfig, dir_.string(), "wf.json");
  ASSERT_TRUE(inlined) << inlined.error().message;
  EXPECT_THAT(*inlined, HasSubstr(R"("body":"return ctx.body  -- the body as it came\n")"));
  EXPECT_THAT(*inlined, HasSubstr(R"("inline":"return 1")"));
  EXPECT_THAT(*inlined, Not(HasSubstr("\"file\"")));
  auto config = ParseWorkflowConfig(*inlined, "pkg", "");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ((*config)->workflows[0].steps[0].payload[0].source,
            "return ctx.body  -- the body as it came\n");
}

TEST_F(Dir, InlineResourcesKeepsTheFileRules) {
  fs::create_directories(dir_ / "cfg");
  Write("outside.lua", "return 'outside'");
  fs::create_symlink(dir_ / "outside.lua", dir_ / "cfg" / "link.lua");
  fs::create_directories(dir_ / "cfg" / "adir");
  Write("cfg/big.lua", std::string((1u << 20) + 1, '-'));
  const std::string cfg = (dir_ / "cfg").string();
  auto with = [](const std::string& file) {
    return R"({"resources":{"r":{"file":")" + file + R"("}},"workflows":[]})";
  };
  struct Row {
    std::string file;
    std::string fragment;
  };
  for (const Row& r : std::vector<Row>{
           {"../outside.lua", "c.json: resources.r.file: must be a relative path inside"},
           {"link.lua", "resources.r.file: must be a relative path inside"},
           {"/etc/passwd", "must be a relative path inside"},
           {"adir", "resources.r.file: must be a regular file"},
           {"missing.lua", "must be a regular file"},
           {"big.lua", "resources.r.file: larger than 1 MiB"},
       }) {
    auto inlined = InlineResources(with(r.file), cfg, "c.json");
    ASSERT_FALSE(inlined) << r.file;
    EXPECT_THAT(inlined.error().message, HasSubstr(r.fragment)) << r.file;
  }
  EXPECT_THAT(InlineResources(with("x.lua"), "", "c.json").error().message,
              HasSubstr("file resources need the configuration's directory"));
  EXPECT_THAT(InlineResources("[1]", cfg, "c.json").error().message,
              HasSubstr("c.json: must be a JSON object"));
  // Shapes other than {"file": …} are left for ParseWorkflowConfig to name.
  auto odd = InlineResources(R"({"resources":{"r":{"file":"x","y":1}},"workflows":[]})", cfg, "c");
  ASSERT_TRUE(odd);
  EXPECT_THAT(*odd, HasSubstr(R"("file":"x")"));
}

}  // namespace
}  // namespace opsorch::workflow
