// The container: one table of packages (made well, tampered with, cut short, signed by the
// wrong keys, …) against one policy, each row with the Refusal and the words it must get.
#include <cctype>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/package.h>

#include "workflow/package/package_edit.h"

namespace opsorch::workflow::package {
namespace {

using testing::Flip;
using ::testing::HasSubstr;
using testing::LayoutOf;
using testing::ManifestOf;
using testing::Resign;
using testing::WithManifest;

constexpr std::string_view kPayload =
    R"J({"workflows":[{"name":"w","steps":[{"id":"s","results":"ctx.set_body('v')"}]}]})J";

struct World {
  SecretKey publisher = GenerateKey(KeyPurpose::kSign);
  SecretKey e1 = GenerateKey(KeyPurpose::kSign);
  SecretKey e2 = GenerateKey(KeyPurpose::kSign);
  SecretKey e3 = GenerateKey(KeyPurpose::kSign);
  SecretKey stranger = GenerateKey(KeyPurpose::kSign);
  SecretKey ci = GenerateKey(KeyPurpose::kPackager);
  SecretKey runtime = GenerateKey(KeyPurpose::kRecipient);
  SecretKey other_runtime = GenerateKey(KeyPurpose::kRecipient);
  SecretKey outsider_runtime = GenerateKey(KeyPurpose::kRecipient);

  struct Spec {
    std::vector<const SecretKey*> signers;
    const SecretKey* packager = nullptr;  // none: anonymous
    std::string id = "budget";
    std::string version = "1.2.0";
    std::string description;
  };
  std::string Make(const Spec& spec) const {
    PackOptions o;
    o.id = spec.id;
    o.version = spec.version;
    o.description = spec.description;
    o.created_ms = 1767323045000;  // 2026-01-02T03:04:05Z
    for (const auto* k : spec.signers) o.signers.push_back(*k);
    o.recipients = {runtime.Public(), other_runtime.Public()};
    if (spec.packager != nullptr) o.packager = *spec.packager;
    auto packed = Pack(kPayload, o);
    EXPECT_TRUE(packed) << packed.error().message;
    return packed ? *packed : std::string();
  }
  // Signed by the publisher and two of the three endorsers, packed by ci.
  std::string Good(std::string version = "1.2.0") const {
    return Make({.signers = {&publisher, &e1, &e2}, .packager = &ci, .version = version});
  }
  std::vector<SecretKey> AllSigners() const { return {publisher, e1, e2, e3, stranger}; }

  Policy MakePolicy() const {
    Policy p;
    p.package_id = "budget";
    p.required_signers = {{"publisher", publisher.Public()}};
    p.additional_signers = {{"e1", e1.Public()}, {"e2", e2.Public()}, {"e3", e3.Public()}};
    p.required_additional = 2;
    p.packagers = {{"ci", ci.Public()}};
    p.recipient = runtime;
    return p;
  }
  // A manifest as Pack writes it, "$P" standing for ci's key text.
  std::string M(std::string text) const {
    const auto at = text.find("$P");
    if (at != std::string::npos) text.replace(at, 2, ci.Public().Text());
    return text;
  }
};

const World& W() {
  static const World* w = new World();
  return *w;
}

struct Case {
  std::string name;
  std::function<std::string()> package;
  std::function<void(Policy&)> policy;  // empty: the base policy
  std::optional<std::string> last_accepted;
  std::optional<Refusal> want;  // none: opens
  std::string fragment;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string PrintCase(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

// Each rule of the manifest, in a validly signed package.
std::string BadManifest(const std::string& manifest) {
  return WithManifest(W().Good(), W().M(manifest), W().AllSigners());
}

std::vector<Case> Cases() {
  const World& w = W();
  std::vector<Case> c;
  auto add = [&c](Case x) { c.push_back(std::move(x)); };

  // --- accepted ---
  add({"Good", [] { return W().Good(); }});
  add({"UntrustedExtraSignatureIsFine", [] {
         return W().Make(
             {.signers = {&W().publisher, &W().e1, &W().stranger, &W().e3}, .packager = &W().ci});
       }});
  add({"EqualVersionAccepted", [] { return W().Good("1.2.0"); }, {}, "1.2.0"});
  add({"NewerVersionAccepted", [] { return W().Good("1.10.0"); }, {}, "1.9.99"});
  add({"AnyPackagerWhenNoneListed",
       [] {
         return W().Make({.signers = {&W().publisher, &W().e1, &W().e2}});
       },
       [](Policy& p) { p.packagers.clear(); }});
  add({"AnyIdWhenNoneRequired", [] { return W().Good(); },
       [](Policy& p) { p.package_id.clear(); }});

  // --- the container ---
  add({"BadMagic",
       [] { return "OWFQ" + W().Good().substr(4); },
       {},
       {},
       Refusal::kMalformed,
       "does not start with \"OWFP\""});
  add({"PlainJsonIsNoPackage",
       [] { return std::string(kPayload); },
       {},
       {},
       Refusal::kMalformed,
       "not a workflow package"});
  add({"FormatVersion2",
       [] { return "OWFP\x02" + W().Good().substr(5); },
       {},
       {},
       Refusal::kUnknownFormatVersion,
       "container format version 2; this build reads version 1"});
  add({"FormatVersion0",
       [] { return std::string("OWFP\0", 5) + W().Good().substr(5); },
       {},
       {},
       Refusal::kUnknownFormatVersion,
       "container format version 0"});
  add({"FormatVersionCheckedBeforeTruncation",
       [] { return std::string("OWFP\x07"); },
       {},
       {},
       Refusal::kUnknownFormatVersion,
       "format version 7"});
  add({"TrailingByte",
       [] { return W().Good() + "x"; },
       {},
       {},
       Refusal::kMalformed,
       "1 byte after the last signature"});
  add({"ManifestLengthZero",
       [] {
         std::string b = W().Good();
         b[5] = b[6] = 0;
         return b;
       },
       {},
       {},
       Refusal::kMalformed,
       "manifest length 0 is not within 1-16384"});
  add({"ManifestLengthTooLarge",
       [] {
         std::string b = W().Good();
         b[5] = 0x40, b[6] = 0x01;
         return b;
       },
       {},
       {},
       Refusal::kMalformed,
       "manifest length 16385"});
  add({"RecipientCountZero",
       [] {
         std::string b = W().Good();
         b[LayoutOf(b).recipients_at - 1] = 0;
         return b;
       },
       {},
       {},
       Refusal::kMalformed,
       "recipient count 0"});
  add({"DuplicateRecipient",
       [] {
         std::string b = W().Good();
         const auto l = LayoutOf(b);
         b.replace(l.recipients_at + 104, 104, b.substr(l.recipients_at, 104));
         return Resign(b, W().AllSigners());
       },
       {},
       {},
       Refusal::kMalformed,
       "is listed twice"});
  add({"CiphertextLengthTooSmall",
       [] {
         std::string b = W().Good();
         const auto at = LayoutOf(b).payload_nonce_at + 24;
         b[at] = b[at + 1] = b[at + 2] = 0, b[at + 3] = 16;
         return b;
       },
       {},
       {},
       Refusal::kMalformed,
       "ciphertext length 16 is not within 17-"});
  add({"SignatureCountZero",
       [] {
         std::string b = W().Good();
         const auto l = LayoutOf(b);
         return b.substr(0, l.signature_count_at) + std::string(1, '\0');
       },
       {},
       {},
       Refusal::kMalformed,
       "signature count 0"});
  add({"DuplicateSigner",
       [] {
         std::string b = W().Good();
         const auto l = LayoutOf(b);
         b[l.signature_count_at] = static_cast<char>(l.signature_count + 1);
         return b + b.substr(l.signature_count_at + 1, 96);
       },
       {},
       {},
       Refusal::kMalformed,
       "signed twice"});

  // --- signatures ---
  add({"TamperedPayloadByte",
       [] {
         const std::string b = W().Good();
         return Flip(b, LayoutOf(b).ciphertext_at + 10);
       },
       {},
       {},
       Refusal::kBadSignature,
       "does not verify"});
  add({"TamperedManifestByte",
       [] {
         const std::string b = W().Good();
         const auto at = b.find("budget");
         return Flip(b, at + 5);  // "budgeu": still a valid manifest
       },
       {},
       {},
       Refusal::kBadSignature,
       "does not verify"});
  add({"TamperedRecipientBlock",
       [] {
         const std::string b = W().Good();
         return Flip(b, LayoutOf(b).recipients_at + 70);
       },
       {},
       {},
       Refusal::kBadSignature,
       "the signature by sign:"});
  add({"TamperedSignature",
       [] {
         const std::string b = W().Good();
         return Flip(b, LayoutOf(b).signature_count_at + 1 + 96 + 40);
       },
       {},
       {},
       Refusal::kBadSignature,
       "the signature by " + w.e1.Public().Text()});
  // Checked before the policy: a tampered package never gets as far as its id.
  add({"BadSignatureBeforePackageId",
       [] {
         const std::string b = W().Good();
         return Flip(b, LayoutOf(b).ciphertext_at);
       },
       [](Policy& p) { p.package_id = "other"; },
       {},
       Refusal::kBadSignature,
       "does not verify"});

  // --- the manifest, each rule (validly signed) ---
  const std::string ok_fields = R"("created":"2026-01-02T03:04:05Z","packager":"$P")";
  add({"ManifestNotJson",
       [] { return BadManifest("{\"id\":"); },
       {},
       {},
       Refusal::kBadManifest,
       "manifest: "});
  add({"ManifestNotObject",
       [] { return BadManifest(R"(["budget"])"); },
       {},
       {},
       Refusal::kBadManifest,
       "manifest: must be a JSON object"});
  add({"ManifestUnknownField",
       [ok_fields] {
         return BadManifest("{" + ok_fields + R"(,"id":"budget","version":"1.2.0","x":"y"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "manifest: unknown field \"x\""});
  add({"ManifestNonString",
       [ok_fields] { return BadManifest("{" + ok_fields + R"(,"id":"budget","version":1})"); },
       {},
       {},
       Refusal::kBadManifest,
       "version: must be a string"});
  add({"ManifestDuplicateField",
       [ok_fields] {
         return BadManifest("{" + ok_fields + R"(,"id":"other","id":"budget","version":"1.2.0"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "a field appears twice"});
  add({"ManifestMissingId",
       [ok_fields] { return BadManifest("{" + ok_fields + R"(,"version":"1.2.0"})"); },
       {},
       {},
       Refusal::kBadManifest,
       "id: is required"});
  add({"ManifestMissingCreated",
       [] { return BadManifest(R"({"id":"budget","packager":"$P","version":"1.2.0"})"); },
       {},
       {},
       Refusal::kBadManifest,
       "created: is required"});
  add({"ManifestBadId",
       [ok_fields] {
         return BadManifest("{" + ok_fields + R"(,"id":"bud get","version":"1.2.0"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "id: must be 1-64 characters"});
  add({"ManifestIdTooLong",
       [ok_fields] {
         return BadManifest("{" + ok_fields + R"(,"id":")" + std::string(65, 'a') +
                            R"(","version":"1.2.0"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "id: must be 1-64 characters"});
  for (const char* v : {"1.2", "1.2.3.4", "01.2.3", "1.2.x", "1000000000.0.0", "", "1..2"}) {
    std::string name = std::string("ManifestVersion_") + v;
    for (char& ch : name) {
      if (ch == '.') ch = '_';
    }
    if (*v == '\0') name += "Empty";
    add({name,
         [ok_fields, v] {
           return BadManifest("{" + ok_fields + R"(,"id":"budget","version":")" + v + "\"}");
         },
         {},
         {},
         Refusal::kBadManifest,
         "version: must be MAJOR.MINOR.PATCH"});
  }
  for (const char* created : {"2026-01-02", "2026-01-02T03:04:05+01:00", "yesterday"}) {
    std::string name = "ManifestCreated_";
    for (const char* p = created; *p; ++p)
      name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    add({name,
         [created] {
           return BadManifest(std::string(R"({"created":")") + created +
                              R"(","id":"budget","packager":"$P","version":"1.2.0"})");
         },
         {},
         {},
         Refusal::kBadManifest,
         "created: must be an RFC 3339 time in UTC"});
  }
  add({"ManifestPackagerWrongPurpose",
       [] {
         return BadManifest(R"({"created":"2026-01-02T03:04:05Z","id":"budget","packager":")" +
                            W().publisher.Public().Text() + R"(","version":"1.2.0"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "packager: must be a packager public key"});
  add({"ManifestPackagerUpperCaseHex",
       [] {
         std::string text = W().ci.Public().Text();
         for (std::size_t i = 9; i < text.size(); ++i)
           text[i] = static_cast<char>(std::toupper(text[i]));
         return BadManifest(R"({"created":"2026-01-02T03:04:05Z","id":"budget","packager":")" +
                            text + R"(","version":"1.2.0"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "packager: must be a packager public key"});
  add({"ManifestDescriptionTooLong",
       [] {
         return BadManifest(R"({"created":"2026-01-02T03:04:05Z","description":")" +
                            std::string(1025, 'd') +
                            R"(","id":"budget","packager":"$P","version":"1.2.0"})");
       },
       {},
       {},
       Refusal::kBadManifest,
       "description: at most 1024 bytes"});
  add({"ManifestInvalidUtf8",
       [] {
         return BadManifest(
             "{\"created\":\"2026-01-02T03:04:05Z\",\"description\":\"\xff\","
             "\"id\":\"budget\",\"packager\":\"$P\",\"version\":\"1.2.0\"}");
       },
       {},
       {},
       Refusal::kBadManifest,
       "manifest: "});
  // A signer may re-sign another manifest, but the payload's associated data covers it.
  add({"ManifestSwappedAndResigned",
       [] {
         const std::string b = W().Good();
         std::string m = ManifestOf(b);
         m.replace(m.find("1.2.0"), 5, "9.2.0");
         return WithManifest(b, m, W().AllSigners());
       },
       {},
       {},
       Refusal::kDecryptFailed,
       "the payload does not decrypt"});

  // --- the policy, in the order Open checks it ---
  add({"PackageIdMismatch",
       [] { return W().Good(); },
       [](Policy& p) { p.package_id = "x"; },
       {},
       Refusal::kPackageIdMismatch,
       "package id \"budget\" is not \"x\""});
  add({"PackageIdBeforeSigners",
       [] { return W().Make({.signers = {&W().stranger}}); },
       [](Policy& p) { p.package_id = "x"; },
       {},
       Refusal::kPackageIdMismatch,
       "package id \"budget\" is not \"x\""});
  add({"SignedByUntrustedKeyOnly",
       [] { return W().Make({.signers = {&W().stranger}, .packager = &W().ci}); },
       {},
       {},
       Refusal::kMissingRequiredSigner,
       "not signed by required signer \"publisher\" (" + w.publisher.Public().Text() + ")"});
  add({"MissingRequiredSigner",
       [] {
         return W().Make({.signers = {&W().e1, &W().e2, &W().e3}, .packager = &W().ci});
       },
       {},
       {},
       Refusal::kMissingRequiredSigner,
       "not signed by required signer \"publisher\""});
  add({"TooFewAdditionalSigners",
       [] {
         return W().Make({.signers = {&W().publisher, &W().e3}, .packager = &W().ci});
       },
       {},
       {},
       Refusal::kTooFewAdditionalSigners,
       "1 of the additional signers signed, 2 required (\"e3\")"});
  add({"NoAdditionalSigner",
       [] {
         return W().Make({.signers = {&W().publisher, &W().stranger}, .packager = &W().ci});
       },
       {},
       {},
       Refusal::kTooFewAdditionalSigners,
       "0 of the additional signers signed, 2 required"});
  add({"PackagerNotAllowed",
       [] {
         return W().Make({.signers = {&W().publisher, &W().e1, &W().e2}});
       },
       {},
       {},
       Refusal::kPackagerNotAllowed,
       "is not one of the allowed packagers"});
  add({"WrongRecipient",
       [] { return W().Good(); },
       [](Policy& p) { p.recipient = W().outsider_runtime; },
       {},
       Refusal::kNotARecipient,
       "this runtime (" + w.outsider_runtime.Public().Text() +
           ") is not a recipient of the package"});
  add({"RecipientKeyOfWrongPurpose",
       [] { return W().Good(); },
       [](Policy& p) { p.recipient = W().ci; },
       {},
       Refusal::kNotARecipient,
       "not a recipient secret key (packager)"});
  add({"SecondRecipientOpensToo", [] { return W().Good(); },
       [](Policy& p) { p.recipient = W().other_runtime; }});
  add({"TamperedRecipientBoxResigned",
       [] {
         const std::string b = W().Good();
         return Resign(Flip(b, LayoutOf(b).recipients_at + 60), W().AllSigners());
       },
       {},
       {},
       Refusal::kDecryptFailed,
       "the recipient block for recipient:"});
  add({"TamperedPayloadResigned",
       [] {
         const std::string b = W().Good();
         return Resign(Flip(b, LayoutOf(b).ciphertext_at + 3), W().AllSigners());
       },
       {},
       {},
       Refusal::kDecryptFailed,
       "the payload does not decrypt"});
  add({"Rollback",
       [] { return W().Good("1.2.0"); },
       {},
       "1.3.0",
       Refusal::kRollback,
       "version 1.2.0 is older than the last accepted 1.3.0 (rollback)"});
  add({"RollbackComparesNumerically",
       [] { return W().Good("1.9.0"); },
       {},
       "1.10.0",
       Refusal::kRollback,
       "version 1.9.0 is older than the last accepted 1.10.0"});
  add({"UnreadableLastVersionFailsClosed",
       [] { return W().Good(); },
       {},
       "1.3",
       Refusal::kRollback,
       "is not MAJOR.MINOR.PATCH"});
  // Decryption is checked before anti-rollback.
  add({"NotARecipientBeforeRollback", [] { return W().Good("1.0.0"); },
       [](Policy& p) { p.recipient = W().outsider_runtime; }, "2.0.0", Refusal::kNotARecipient,
       "is not a recipient"});
  return c;
}

class OpenTable : public ::testing::TestWithParam<Case> {};

TEST_P(OpenTable, RefusesWithItsOwnReason) {
  const Case& c = GetParam();
  Policy policy = W().MakePolicy();
  if (c.policy) c.policy(policy);
  const std::string bytes = c.package();
  std::optional<std::string_view> last;
  if (c.last_accepted) last = *c.last_accepted;
  auto opened = Open(bytes, policy, last);
  if (!c.want) {
    ASSERT_TRUE(opened) << opened.error().message;
    EXPECT_EQ(opened->payload, kPayload);
    return;
  }
  ASSERT_FALSE(opened) << "opened";
  EXPECT_EQ(RefusalName(RefusalOf(opened.error())), RefusalName(*c.want)) << opened.error().message;
  EXPECT_THAT(opened.error().message, HasSubstr(c.fragment));
  EXPECT_EQ(opened.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(WireCode(opened.error()), RefusalName(*c.want));
  // Inspect refuses exactly the container and signature failures, with the same error.
  auto info = Inspect(bytes);
  const bool container = *c.want == Refusal::kMalformed ||
                         *c.want == Refusal::kUnknownFormatVersion ||
                         *c.want == Refusal::kBadManifest || *c.want == Refusal::kBadSignature;
  EXPECT_EQ(!info, container);
  if (!info) {
    EXPECT_EQ(info.error(), opened.error());
  }
}

INSTANTIATE_TEST_SUITE_P(Package, OpenTable, ::testing::ValuesIn(Cases()), PrintCase);

TEST(Package, RoundTripKeepsThePayloadAndTheInfo) {
  const World& w = W();
  const std::string bytes = w.Make({.signers = {&w.publisher, &w.e1, &w.e2},
                                    .packager = &w.ci,
                                    .version = "3.0.1",
                                    .description = "budget alerts \xe2\x9c\x93 <&>"});
  ASSERT_TRUE(LooksLikePackage(bytes));
  auto opened = Open(bytes, w.MakePolicy(), "3.0.0");
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened->payload, kPayload);
  const PackageInfo& info = opened->info;
  EXPECT_EQ(info.format_version, 1);
  EXPECT_EQ(info.manifest.id, "budget");
  EXPECT_EQ(info.manifest.version, "3.0.1");
  EXPECT_EQ(info.manifest.created, "2026-01-02T03:04:05Z");
  EXPECT_EQ(info.manifest.description, "budget alerts \xe2\x9c\x93 <&>");
  EXPECT_EQ(info.manifest.packager, w.ci.Public());
  EXPECT_EQ(info.signers,
            (std::vector<PublicKey>{w.publisher.Public(), w.e1.Public(), w.e2.Public()}));
  EXPECT_EQ(info.recipients,
            (std::vector<PublicKey>{w.runtime.Public(), w.other_runtime.Public()}));
  EXPECT_EQ(info.payload_bytes, kPayload.size() + 16);
  EXPECT_EQ(info.sha256.size(), 64u);
  auto inspected = Inspect(bytes);
  ASSERT_TRUE(inspected);
  EXPECT_EQ(inspected->sha256, info.sha256);
  EXPECT_EQ(inspected->signers, info.signers);
  // The layout adds up: header, manifest, 2 recipient blocks, nonce, length, ciphertext, 3
  // signatures.
  const auto l = LayoutOf(bytes);
  EXPECT_EQ(bytes.size(),
            7 + l.manifest_len + 1 + 2 * 104 + 24 + 4 + kPayload.size() + 16 + 1 + 3 * 96);
}

TEST(Package, ManifestIsCanonicalJson) {
  const World& w = W();
  const std::string bytes = w.Good();
  EXPECT_EQ(ManifestOf(bytes), R"({"created":"2026-01-02T03:04:05Z","id":"budget","packager":")" +
                                   w.ci.Public().Text() + R"(","version":"1.2.0"})");
}

// Nonces and the content key are fresh each time.
TEST(Package, TwoPacksOfTheSameInputDiffer) { EXPECT_NE(W().Good(), W().Good()); }

// Whatever the prefix, a cut-short package is malformed (never an out-of-bounds read: the
// sanitizer builds run this too).
TEST(Package, TruncatedAtEveryOffsetIsMalformed) {
  const World& w = W();
  PackOptions o;
  o.id = "t";
  o.version = "0.0.1";
  o.signers = {w.publisher};
  o.recipients = {w.runtime.Public()};
  auto bytes = Pack("{}", o);
  ASSERT_TRUE(bytes);
  for (std::size_t n = 0; n < bytes->size(); ++n) {
    auto opened = Open(std::string_view(*bytes).substr(0, n), w.MakePolicy(), std::nullopt);
    ASSERT_FALSE(opened) << n;
    ASSERT_EQ(RefusalOf(opened.error()), Refusal::kMalformed)
        << n << ": " << opened.error().message;
    if (n >= 4) {
      ASSERT_THAT(opened.error().message, HasSubstr("truncated")) << n;
    }
  }
  Policy p = w.MakePolicy();
  p.required_additional = 0;
  p.packagers.clear();
  p.package_id = "t";
  EXPECT_TRUE(Open(*bytes, p, std::nullopt));
}

TEST(Package, PackRefusesBadOptions) {
  const World& w = W();
  struct Row {
    std::string name;
    std::function<void(PackOptions&)> edit;
    std::string payload;
    std::string fragment;
  };
  const std::vector<Row> rows = {
      {"bad id", [](PackOptions& o) { o.id = "a/b"; }, "{}", "id: must be"},
      {"bad version", [](PackOptions& o) { o.version = "v1"; }, "{}", "version: must be"},
      {"no signer", [](PackOptions& o) { o.signers.clear(); }, "{}", "signers are needed"},
      {"no recipient", [](PackOptions& o) { o.recipients.clear(); }, "{}", "recipients are needed"},
      {"signer of wrong purpose", [&w](PackOptions& o) { o.signers = {w.runtime}; }, "{}",
       "must be a sign secret key, not recipient"},
      {"same signer twice",
       [&w](PackOptions& o) {
         o.signers = {w.e1, w.e1};
       },
       "{}", "is given twice"},
      {"recipient of wrong purpose", [&w](PackOptions& o) { o.recipients = {w.ci.Public()}; }, "{}",
       "must be a recipient public key"},
      {"same recipient twice",
       [&w](PackOptions& o) {
         o.recipients = {w.runtime.Public(), w.runtime.Public()};
       },
       "{}", "is given twice"},
      {"packager of wrong purpose", [&w](PackOptions& o) { o.packager = w.runtime; }, "{}",
       "must be a packager secret key"},
      {"empty payload", [](PackOptions&) {}, "", "empty"},
      {"payload too large", [](PackOptions&) {}, std::string(kMaxPayloadBytes + 1, ' '),
       "larger than 8 MiB"},
      {"description too long", [](PackOptions& o) { o.description = std::string(1025, 'x'); }, "{}",
       "at most 1024 bytes"},
      {"description not UTF-8", [](PackOptions& o) { o.description = "\xc3"; }, "{}", "UTF-8"},
  };
  for (const Row& row : rows) {
    PackOptions o;
    o.id = "budget";
    o.version = "1.0.0";
    o.signers = {w.publisher};
    o.recipients = {w.runtime.Public()};
    row.edit(o);
    auto packed = Pack(row.payload, o);
    ASSERT_FALSE(packed) << row.name;
    EXPECT_THAT(packed.error().message, HasSubstr(row.fragment)) << row.name;
  }
}

TEST(Package, RefusalNamesAreDistinctAndRoundTrip) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(Refusal::kPlainNotAllowed); ++i) {
    const auto r = static_cast<Refusal>(i);
    EXPECT_TRUE(names.insert(RefusalName(r)).second) << RefusalName(r);
    Error e(ErrorCode::kBadRequest, "x", std::string(RefusalName(r)));
    EXPECT_EQ(RefusalOf(e), r);
  }
  EXPECT_EQ(RefusalOf(Error(ErrorCode::kInternal, "x")), Refusal::kMalformed);
}

TEST(Package, VersionsCompareNumerically) {
  struct Row {
    const char* a;
    const char* b;
    int want;
  };
  for (const Row& r : std::vector<Row>{{"1.2.3", "1.2.3", 0},
                                       {"1.2.3", "1.2.4", -1},
                                       {"1.10.0", "1.9.9", 1},
                                       {"2.0.0", "10.0.0", -1},
                                       {"0.0.0", "0.0.1", -1},
                                       {"999999999.0.0", "1.0.0", 1}}) {
    EXPECT_EQ(CompareVersions(r.a, r.b), r.want) << r.a << " " << r.b;
    EXPECT_EQ(CompareVersions(r.b, r.a), -r.want) << r.b << " " << r.a;
  }
  for (const char* bad : {"1", "1.2", "1.2.3.", ".1.2", "1.2.3-rc1", "01.0.0", "1.0.00",
                          "1000000000.0.0", "+1.0.0", " 1.0.0"}) {
    EXPECT_FALSE(ValidVersion(bad)) << bad;
  }
  EXPECT_TRUE(ValidVersion("0.0.0"));
  EXPECT_TRUE(ValidVersion("999999999.999999999.999999999"));
}

}  // namespace
}  // namespace opsorch::workflow::package
