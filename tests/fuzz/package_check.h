// The body of fuzz_package, shared with its corpus regression test
// (tests/workflow/package/package_corpus_test.cc, in opsorch_wf_package_tests): one input read
// as a workflow package (include/opsorch/workflow/package.h: Inspect, and Open with a fixed
// policy whose keys come from fixed seeds, so that the seed corpus holds packages that open),
// and as an encrypted string and key texts. Invariants:
//  - nothing crashes, reads out of bounds or leaks (the sanitizers);
//  - every refusal is bad_request with a message, and its Refusal is one the step can produce:
//    Inspect only container and signature refusals, Open those (the very same error) or a
//    policy refusal once Inspect accepted;
//  - what Inspect accepts is within the format's limits (1-32 distinct signers, 1-64 distinct
//    recipients, ciphertext 17 bytes to 8 MiB + 16, a valid manifest), and reading it twice
//    gives the same answer;
//  - what Open accepts has a payload 16 bytes shorter than its ciphertext, and passed every
//    check of the policy.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <sodium.h>

#include <opsorch/common/error.h>
#include <opsorch/workflow/package.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

namespace pkg = workflow::package;

// A key of `purpose` from a 32-byte seed filled with `fill`: the same keys in every process.
inline pkg::SecretKey PackageFuzzKey(pkg::KeyPurpose purpose, std::uint8_t fill) {
  if (sodium_init() < 0) std::abort();
  pkg::SecretKey k;
  k.purpose = purpose;
  std::uint8_t seed[32];
  std::memset(seed, fill, sizeof seed);
  if (purpose == pkg::KeyPurpose::kSign) {
    std::uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    k.bytes.resize(crypto_sign_SECRETKEYBYTES);
    crypto_sign_seed_keypair(pk, k.bytes.data(), seed);
  } else {
    k.bytes.assign(seed, seed + sizeof seed);
  }
  return k;
}

struct PackageFuzzKeys {
  pkg::SecretKey publisher = PackageFuzzKey(pkg::KeyPurpose::kSign, 1);
  pkg::SecretKey endorser = PackageFuzzKey(pkg::KeyPurpose::kSign, 2);
  pkg::SecretKey stranger = PackageFuzzKey(pkg::KeyPurpose::kSign, 3);
  pkg::SecretKey ci = PackageFuzzKey(pkg::KeyPurpose::kPackager, 4);
  pkg::SecretKey runtime = PackageFuzzKey(pkg::KeyPurpose::kRecipient, 5);
  pkg::SecretKey other_runtime = PackageFuzzKey(pkg::KeyPurpose::kRecipient, 6);
  pkg::SecretKey strings = PackageFuzzKey(pkg::KeyPurpose::kString, 7);
};

inline const PackageFuzzKeys& FuzzKeys() {
  static const PackageFuzzKeys* keys = new PackageFuzzKeys();
  return *keys;
}

// Package id "fuzz", signed by the publisher and at least one of endorser and stranger (which
// signs nothing in the seeds but the untrusted ones), packed by ci, for runtime.
inline const pkg::Policy& PackageFuzzPolicy() {
  static const pkg::Policy* policy = [] {
    const PackageFuzzKeys& k = FuzzKeys();
    auto* p = new pkg::Policy();
    p->package_id = "fuzz";
    p->required_signers = {{"publisher", k.publisher.Public()}};
    p->additional_signers = {{"endorser", k.endorser.Public()}, {"stranger", k.stranger.Public()}};
    p->required_additional = 1;
    p->packagers = {{"ci", k.ci.Public()}};
    p->recipient = k.runtime;
    return p;
  }();
  return *policy;
}

// The last accepted version the fuzzer opens against: seeds below it test the rollback refusal.
inline constexpr std::string_view kPackageFuzzLastVersion = "1.0.0";

inline void CheckRefusal(const std::string& where, const Error& e, std::vector<std::string>& out) {
  if (e.code != ErrorCode::kBadRequest) out.push_back(where + ": error is not bad_request");
  if (e.message.empty()) out.push_back(where + ": empty message");
  if (RefusalName(pkg::RefusalOf(e)) != e.wire) {
    out.push_back(where + ": wire code " + Excerpt(e.wire) + " is not a refusal name");
  }
}

inline std::vector<std::string> CheckPackage(std::string_view input) {
  std::vector<std::string> out;
  const auto info = pkg::Inspect(input);
  const auto opened = pkg::Open(input, PackageFuzzPolicy(), kPackageFuzzLastVersion);
  if (!pkg::LooksLikePackage(input) && (info || opened)) {
    out.push_back("accepted without the magic");
  }
  if (!info) {
    CheckRefusal("Inspect", info.error(), out);
    const pkg::Refusal r = pkg::RefusalOf(info.error());
    if (r != pkg::Refusal::kMalformed && r != pkg::Refusal::kUnknownFormatVersion &&
        r != pkg::Refusal::kBadManifest && r != pkg::Refusal::kBadSignature) {
      out.push_back("Inspect refused with a policy refusal: " + std::string(RefusalName(r)));
    }
    if (opened) {
      out.push_back("Open accepted what Inspect refused: " + Excerpt(info.error().message));
    } else if (!(opened.error() == info.error())) {
      out.push_back("Open and Inspect refuse differently: " + Excerpt(opened.error().message) +
                    " / " + Excerpt(info.error().message));
    }
  } else {
    const pkg::PackageInfo& i = *info;
    if (i.format_version != pkg::kFormatVersion) out.push_back("format version not 1");
    if (i.signers.empty() || i.signers.size() > pkg::kMaxSignatures) out.push_back("signer count");
    if (i.recipients.empty() || i.recipients.size() > pkg::kMaxRecipients) {
      out.push_back("recipient count");
    }
    for (std::size_t a = 0; a < i.signers.size(); ++a) {
      if (std::count(i.signers.begin(), i.signers.end(), i.signers[a]) != 1) {
        out.push_back("duplicate signer accepted");
      }
    }
    for (std::size_t a = 0; a < i.recipients.size(); ++a) {
      if (std::count(i.recipients.begin(), i.recipients.end(), i.recipients[a]) != 1) {
        out.push_back("duplicate recipient accepted");
      }
    }
    if (i.payload_bytes <= 16 || i.payload_bytes > pkg::kMaxPayloadBytes + 16) {
      out.push_back("payload size out of range");
    }
    if (i.sha256.size() != 64) out.push_back("sha256 is not 64 hex digits");
    if (!pkg::ValidVersion(i.manifest.version) || i.manifest.id.empty() ||
        i.manifest.id.size() > 64 || !i.manifest.created.ends_with("Z") ||
        i.manifest.packager.purpose != pkg::KeyPurpose::kPackager ||
        i.manifest.description.size() > 1024 || !ValidUtf8(i.manifest.description)) {
      out.push_back("a manifest against its rules was accepted: " + Excerpt(i.manifest.id));
    }
    const auto again = pkg::Inspect(input);
    if (!again || again->sha256 != i.sha256 || again->signers != i.signers) {
      out.push_back("a second Inspect differs");
    }
    if (!opened) {
      CheckRefusal("Open", opened.error(), out);
      const pkg::Refusal r = pkg::RefusalOf(opened.error());
      if (r == pkg::Refusal::kMalformed || r == pkg::Refusal::kUnknownFormatVersion ||
          r == pkg::Refusal::kBadManifest || r == pkg::Refusal::kBadSignature ||
          r == pkg::Refusal::kPlainNotAllowed) {
        out.push_back("Open refused what Inspect accepted with " + std::string(RefusalName(r)));
      }
    } else {
      const pkg::Policy& p = PackageFuzzPolicy();
      if (opened->payload.size() + 16 != i.payload_bytes) out.push_back("payload size mismatch");
      if (opened->info.manifest.id != p.package_id) out.push_back("opened another package id");
      if (std::find(i.signers.begin(), i.signers.end(), p.required_signers[0].second) ==
          i.signers.end()) {
        out.push_back("opened without the required signer");
      }
      if (pkg::CompareVersions(i.manifest.version, kPackageFuzzLastVersion) < 0) {
        out.push_back("opened an older version");
      }
    }
  }
  // The same bytes as an encrypted string and as key texts: refused or read, never a crash.
  if (auto s = pkg::DecryptString(input, FuzzKeys().strings); s && !pkg::IsEncryptedString(input)) {
    out.push_back("decrypted a string without the enc1: prefix");
  }
  if (auto k = pkg::ParsePublicKey(input);
      k && pkg::ParsePublicKey(k->Text()).value_or(pkg::PublicKey{}) != *k) {
    out.push_back("a public key's text does not read back");
  }
  if (auto k = pkg::ParseSecretKey(input); k && pkg::ParseSecretKey(k->Text())->bytes != k->bytes) {
    out.push_back("a secret key's text does not read back");
  }
  return out;
}

}  // namespace opsorch::testing
