// Replays fuzz_package's seed corpus (tests/fuzz/corpus_package/) through the fuzzer's own body
// in every build, and checks that the seeds reach every step of Open. The DISABLED_ test wrote
// the corpus; to refresh the seeds, run it again:
//   opsorch_wf_package_tests --gtest_also_run_disabled_tests
//     --gtest_filter='PackageCorpus.DISABLED_WriteSeeds'
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/package.h>

#include "fuzz/corpus_files.h"
#include "fuzz/package_check.h"
#include "test_paths.h"
#include "workflow/package/package_edit.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(OPSORCH_SOURCE_DIR) / "tests" / "fuzz" / "corpus_package";

TEST(PackageCorpus, FilesKeepTheInvariants) {
  const std::vector<CorpusFile> files = ReadCorpusDir(kCorpus);
  ASSERT_GE(files.size(), 20u) << kCorpus;  // a wrong path must not test nothing
  for (const CorpusFile& file : files) {
    for (const std::string& violation : CheckPackage(file.bytes)) {
      ADD_FAILURE() << file.name << ": " << violation;
    }
  }
}

// The seeds reach every check of Open, so the fuzzer starts from inputs that get past each one.
TEST(PackageCorpus, SeedsReachEveryCheck) {
  const std::map<std::string, std::string> want = {
      {"valid_minimal.owfp", "ok"},
      {"valid_description.owfp", "ok"},
      {"bad_magic.owfp", "malformed"},
      {"version2.owfp", "unknown_format_version"},
      {"trailing_byte.owfp", "malformed"},
      {"resigned_manifest_unknown_field.owfp", "bad_manifest"},
      {"flipped_payload.owfp", "bad_signature"},
      {"other_id.owfp", "package_id_mismatch"},
      {"untrusted_signer_only.owfp", "missing_required_signer"},
      {"publisher_only.owfp", "too_few_additional_signers"},
      {"anonymous_packager.owfp", "packager_not_allowed"},
      {"for_another_runtime.owfp", "not_a_recipient"},
      {"resigned_bad_box.owfp", "decrypt_failed"},
      {"older_version.owfp", "rollback"},
  };
  for (const auto& [name, outcome] : want) {
    const std::string bytes = ReadFileBytes(kCorpus / name);
    ASSERT_FALSE(bytes.empty()) << name;
    auto opened = pkg::Open(bytes, PackageFuzzPolicy(), kPackageFuzzLastVersion);
    EXPECT_EQ(opened ? "ok" : std::string(pkg::RefusalName(pkg::RefusalOf(opened.error()))),
              outcome)
        << name << ": " << (opened ? "" : opened.error().message);
  }
}

// Writes the seed corpus (packages are random: each run gives other bytes).
TEST(PackageCorpus, DISABLED_WriteSeeds) {
  const PackageFuzzKeys& k = FuzzKeys();
  const std::string config =
      R"J({"workflows":[{"name":"w","steps":[{"id":"s","results":"ctx.set_body('x')"}]}]})J";
  struct Spec {
    std::vector<const pkg::SecretKey*> signers;
    std::vector<const pkg::SecretKey*> recipients;
    const pkg::SecretKey* packager = nullptr;
    std::string id = "fuzz";
    std::string version = "1.0.0";
    std::string description;
  };
  auto make = [&](const Spec& s) {
    pkg::PackOptions o;
    o.id = s.id;
    o.version = s.version;
    o.description = s.description;
    o.created_ms = 1767323045000;
    for (const auto* x : s.signers) o.signers.push_back(*x);
    for (const auto* x : s.recipients) o.recipients.push_back(x->Public());
    if (s.packager != nullptr) o.packager = *s.packager;
    auto p = pkg::Pack(config, o);
    EXPECT_TRUE(p) << p.error().message;
    return *p;
  };
  const std::vector<pkg::SecretKey> all = {k.publisher, k.endorser, k.stranger};
  const std::string good =
      make({.signers = {&k.publisher, &k.endorser}, .recipients = {&k.runtime}, .packager = &k.ci});
  const PackageLayout l = LayoutOf(good);
  std::map<std::string, std::string> seeds = {
      {"valid_minimal.owfp", good},
      {"valid_description.owfp", make({.signers = {&k.publisher, &k.stranger, &k.endorser},
                                       .recipients = {&k.other_runtime, &k.runtime},
                                       .packager = &k.ci,
                                       .version = "2.3.4",
                                       .description = "seed \xe2\x9c\x93"})},
      {"other_id.owfp", make({.signers = {&k.publisher, &k.endorser},
                              .recipients = {&k.runtime},
                              .packager = &k.ci,
                              .id = "other"})},
      {"untrusted_signer_only.owfp",
       make({.signers = {&k.stranger}, .recipients = {&k.runtime}, .packager = &k.ci})},
      {"publisher_only.owfp",
       make({.signers = {&k.publisher}, .recipients = {&k.runtime}, .packager = &k.ci})},
      {"anonymous_packager.owfp",
       make({.signers = {&k.publisher, &k.endorser}, .recipients = {&k.runtime}})},
      {"for_another_runtime.owfp", make({.signers = {&k.publisher, &k.endorser},
                                         .recipients = {&k.other_runtime},
                                         .packager = &k.ci})},
      {"older_version.owfp", make({.signers = {&k.publisher, &k.endorser},
                                   .recipients = {&k.runtime},
                                   .packager = &k.ci,
                                   .version = "0.9.12"})},
      {"resigned_bad_box.owfp", Resign(Flip(good, l.recipients_at + 80), all)},
      {"resigned_bad_payload.owfp", Resign(Flip(good, l.ciphertext_at + 5), all)},
      {"resigned_manifest_unknown_field.owfp",
       WithManifest(good,
                    R"({"created":"2026-01-02T03:04:05Z","id":"fuzz","packager":")" +
                        k.ci.Public().Text() + R"(","version":"1.0.0","x":"y"})",
                    all)},
      {"resigned_manifest_duplicate_id.owfp",
       WithManifest(good,
                    R"({"created":"2026-01-02T03:04:05Z","id":"a","id":"fuzz","packager":")" +
                        k.ci.Public().Text() + R"(","version":"1.0.0"})",
                    all)},
      {"flipped_manifest.owfp", Flip(good, l.manifest_at + 3)},
      {"flipped_recipient.owfp", Flip(good, l.recipients_at + 1)},
      {"flipped_payload.owfp", Flip(good, l.ciphertext_at + 1)},
      {"flipped_signature.owfp", Flip(good, l.signature_count_at + 1 + 50)},
      {"bad_magic.owfp", "XWFP" + good.substr(4)},
      {"version2.owfp", "OWFP\x02" + good.substr(5)},
      {"trailing_byte.owfp", good + "\n"},
      {"plain_config.json", config},
      {"string_enc1.txt", *pkg::EncryptString("s3cret", k.strings)},
      {"key_public.txt", k.publisher.Public().Text() + "\n"},
      {"key_secret.txt", k.runtime.Text() + "\n"},
  };
  for (std::size_t cut :
       {std::size_t{4}, std::size_t{6}, l.manifest_at + 10, l.recipients_at,
        l.payload_nonce_at + 26, l.ciphertext_at + 8, l.signature_count_at, good.size() - 1}) {
    seeds["truncated_" + std::to_string(cut) + ".owfp"] = good.substr(0, cut);
  }
  fs::create_directories(kCorpus);
  for (const auto& [name, bytes] : seeds) {
    std::ofstream(kCorpus / name, std::ios::trunc | std::ios::binary) << bytes;
  }
}

}  // namespace
}  // namespace opsorch::testing
