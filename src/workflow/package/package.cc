// The container (docs/WORKFLOWS.md, "Packages"): parsed strictly from front to back, every
// length checked against what is left before it is used, so that no input reads out of bounds
// or allocates more than the file's own size.
#include <algorithm>
#include <cstring>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/common/time.h>
#include <opsorch/workflow/package.h>

#include "workflow/package/internal.h"

namespace opsorch::workflow::package {
namespace {

using internal::EnsureSodium;
using internal::Hex;
using internal::Refuse;

constexpr std::string_view kMagic = "OWFP";
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kBoxNonceBytes = crypto_box_NONCEBYTES;                             // 24
constexpr std::size_t kBoxBytes = crypto_box_MACBYTES + kKeyBytes;                        // 48
constexpr std::size_t kRecipientBlockBytes = kKeyBytes + kBoxNonceBytes + kBoxBytes;      // 104
constexpr std::size_t kPayloadNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;              // 16
constexpr std::size_t kSignatureBytes = crypto_sign_BYTES;                                // 64
constexpr std::size_t kSignatureEntryBytes = kKeyBytes + kSignatureBytes;                 // 96
constexpr std::size_t kMaxDescriptionBytes = 1024;
// The signed message is this context (its NUL included) and the hash of the signed bytes, so
// that a signature over a package can never be taken for a signature over anything else.
constexpr std::string_view kSignatureContext{"opsorch workflow package v1\0", 28};
constexpr std::size_t kSignedHashBytes = crypto_generichash_BYTES_MAX;  // BLAKE2b-512

static_assert(kRecipientBlockBytes == 104 && kSignatureEntryBytes == 96);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes);

const std::uint8_t* U8(std::string_view s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

void PutU16(std::string& out, std::size_t v) {
  out += static_cast<char>(v >> 8 & 0xff);
  out += static_cast<char>(v & 0xff);
}

void PutU32(std::string& out, std::size_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(v >> shift & 0xff);
}

void PutBytes(std::string& out, const std::uint8_t* p, std::size_t n) {
  out.append(reinterpret_cast<const char*>(p), n);
}

bool ValidId(std::string_view id) { return IsPlainName(id); }

bool ParseVersion(std::string_view v, std::uint32_t out[3]) {
  for (int i = 0; i < 3; ++i) {
    const auto end = i < 2 ? v.find('.') : v.size();
    if (end == std::string_view::npos || end == 0 || end > 9) return false;
    const std::string_view part = v.substr(0, end);
    // No leading zeros: one version has one spelling.
    if (part.size() > 1 && part[0] == '0') return false;
    std::uint32_t n = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<std::uint32_t>(c - '0');
    }
    out[i] = n;
    v = i < 2 ? v.substr(end + 1) : std::string_view();
  }
  return true;
}

// The signed message for the bytes before the signature count.
std::array<std::uint8_t, kSignatureContext.size() + kSignedHashBytes> SignedMessage(
    std::string_view signed_bytes) {
  std::array<std::uint8_t, kSignatureContext.size() + kSignedHashBytes> m{};
  std::memcpy(m.data(), kSignatureContext.data(), kSignatureContext.size());
  crypto_generichash(m.data() + kSignatureContext.size(), kSignedHashBytes, U8(signed_bytes),
                     signed_bytes.size(), nullptr, 0);
  return m;
}

// Counts the JSON strings of a document ParseJson accepted. For a flat object of strings the
// count is twice the members written, which tells a duplicated key (Boost.JSON keeps only the
// last) from a distinct one.
std::size_t CountStrings(std::string_view json) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '"') continue;
    ++n;
    for (++i; i < json.size() && json[i] != '"'; ++i) {
      if (json[i] == '\\') ++i;
    }
  }
  return n;
}

std::string ManifestJson(const Manifest& m) {
  // Keys in sorted order, no whitespace: the same fields always give the same bytes.
  std::string out = "{\"created\":";
  AppendJsonString(out, m.created);
  if (!m.description.empty()) {
    out += ",\"description\":";
    AppendJsonString(out, m.description);
  }
  out += ",\"id\":";
  AppendJsonString(out, m.id);
  out += ",\"packager\":";
  AppendJsonString(out, m.packager.Text());
  out += ",\"version\":";
  AppendJsonString(out, m.version);
  out += '}';
  return out;
}

Result<Manifest> ParseManifest(std::string_view text) {
  auto bad = [](const std::string& rule) {
    return Refuse(Refusal::kBadManifest, "manifest: " + rule);
  };
  JsonParseOptions options;
  options.max_depth = 2;
  auto doc = ParseJson(text, options);
  if (!doc) return bad(doc.error().message);
  const JsonObject* o = doc->if_object();
  if (o == nullptr) return bad("must be a JSON object");
  for (const auto& kv : *o) {
    const std::string_view key = kv.key();
    if (key != "id" && key != "version" && key != "created" && key != "packager" &&
        key != "description") {
      std::string name;
      AppendJsonString(name, key);
      return bad("unknown field " + name +
                 " (fields: id, version, created, packager, description)");
    }
    if (!kv.value().is_string()) return bad(std::string(key) + ": must be a string");
  }
  if (CountStrings(text) != 2 * o->size()) return bad("a field appears twice");
  auto str = [o](std::string_view k) -> const boost::json::string* {
    const JsonValue* v = o->if_contains(k);
    return v != nullptr ? &v->get_string() : nullptr;
  };
  for (std::string_view k : {"id", "version", "created", "packager"}) {
    if (str(k) == nullptr) return bad(std::string(k) + ": is required");
  }
  Manifest m;
  m.id = std::string(*str("id"));
  m.version = std::string(*str("version"));
  m.created = std::string(*str("created"));
  if (const auto* d = str("description")) m.description = std::string(*d);
  if (!ValidId(m.id)) return bad("id: must be 1-64 characters of [A-Za-z0-9._-]");
  if (!ValidVersion(m.version)) {
    return bad("version: must be MAJOR.MINOR.PATCH (decimal numbers below 10^9, no leading zeros)");
  }
  if (!ParseRfc3339(m.created) || !m.created.ends_with("Z")) {
    return bad("created: must be an RFC 3339 time in UTC (ending in Z)");
  }
  const std::string packager(*str("packager"));
  auto pk = ParsePublicKey(packager);
  if (!pk || pk->purpose != KeyPurpose::kPackager || pk->Text() != packager) {
    return bad("packager: must be a packager public key, \"packager:<64 lower-case hex digits>\"");
  }
  m.packager = *pk;
  if (m.description.size() > kMaxDescriptionBytes) {
    return bad("description: at most 1024 bytes");
  }
  return m;
}

// A recipient block, as offsets into the file.
struct RecipientBlock {
  PublicKey key;
  std::size_t nonce = 0;  // offset of its nonce, followed by the box
};

// The container as read by Inspect, with what Open needs to decrypt.
struct Parsed {
  PackageInfo info;
  std::vector<RecipientBlock> blocks;
  std::size_t payload_nonce = 0;  // offset; also the end of the payload's associated data
  std::string_view ciphertext;
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  std::size_t pos() const { return pos_; }

  // The next `n` bytes, or a refusal saying which field the file ends in.
  Result<std::string_view> Take(std::size_t n, std::string_view field) {
    if (bytes_.size() - pos_ < n) {
      return Refuse(Refusal::kMalformed, "truncated: the " + std::string(field) + " at byte " +
                                             std::to_string(pos_) + " needs " + std::to_string(n) +
                                             " bytes, " + std::to_string(bytes_.size() - pos_) +
                                             " left");
    }
    const std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  Result<std::size_t> Int(std::size_t width, std::string_view field) {
    auto s = Take(width, field);
    if (!s) return Fail(std::move(s.error()));
    std::size_t v = 0;
    for (char c : *s) v = v << 8 | static_cast<std::uint8_t>(c);
    return v;
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

PublicKey KeyAt(std::string_view bytes, KeyPurpose purpose) {
  PublicKey k;
  k.purpose = purpose;
  std::memcpy(k.bytes.data(), bytes.data(), k.bytes.size());
  return k;
}

Result<Parsed> ParseContainer(std::string_view bytes) {
  EnsureSodium();
  if (!LooksLikePackage(bytes)) {
    return Refuse(Refusal::kMalformed, "not a workflow package (it does not start with \"OWFP\")");
  }
  Reader r(bytes);
  (void)r.Take(kMagic.size(), "magic");
  // The version byte decides how everything after it reads: nothing else is looked at first.
  auto version = r.Int(1, "format version");
  if (!version) return Fail(std::move(version.error()));
  if (*version != kFormatVersion) {
    return Refuse(Refusal::kUnknownFormatVersion,
                  "container format version " + std::to_string(*version) +
                      "; this build reads version " + std::to_string(kFormatVersion));
  }
  Parsed p;
  p.info.format_version = kFormatVersion;

  auto manifest_len = r.Int(2, "manifest length");
  if (!manifest_len) return Fail(std::move(manifest_len.error()));
  if (*manifest_len < 1 || *manifest_len > kMaxManifestBytes) {
    return Refuse(Refusal::kMalformed, "manifest length " + std::to_string(*manifest_len) +
                                           " is not within 1-" + std::to_string(kMaxManifestBytes));
  }
  auto manifest_text = r.Take(*manifest_len, "manifest");
  if (!manifest_text) return Fail(std::move(manifest_text.error()));

  auto recipients = r.Int(1, "recipient count");
  if (!recipients) return Fail(std::move(recipients.error()));
  if (*recipients < 1 || *recipients > kMaxRecipients) {
    return Refuse(Refusal::kMalformed, "recipient count " + std::to_string(*recipients) +
                                           " is not within 1-" + std::to_string(kMaxRecipients));
  }
  for (std::size_t i = 0; i < *recipients; ++i) {
    auto block = r.Take(kRecipientBlockBytes, "recipient block " + std::to_string(i));
    if (!block) return Fail(std::move(block.error()));
    RecipientBlock b{KeyAt(*block, KeyPurpose::kRecipient),
                     r.pos() - kRecipientBlockBytes + kKeyBytes};
    if (std::find(p.info.recipients.begin(), p.info.recipients.end(), b.key) !=
        p.info.recipients.end()) {
      return Refuse(Refusal::kMalformed, "recipient " + b.key.Text() + " is listed twice");
    }
    p.info.recipients.push_back(b.key);
    p.blocks.push_back(b);
  }

  p.payload_nonce = r.pos();
  if (auto n = r.Take(kPayloadNonceBytes, "payload nonce"); !n) return Fail(std::move(n.error()));
  auto ciphertext_len = r.Int(4, "ciphertext length");
  if (!ciphertext_len) return Fail(std::move(ciphertext_len.error()));
  if (*ciphertext_len <= kTagBytes || *ciphertext_len > kMaxPayloadBytes + kTagBytes) {
    return Refuse(Refusal::kMalformed, "ciphertext length " + std::to_string(*ciphertext_len) +
                                           " is not within 17-" +
                                           std::to_string(kMaxPayloadBytes + kTagBytes));
  }
  auto ciphertext = r.Take(*ciphertext_len, "ciphertext");
  if (!ciphertext) return Fail(std::move(ciphertext.error()));
  p.ciphertext = *ciphertext;
  p.info.payload_bytes = ciphertext->size();

  const std::string_view signed_bytes = bytes.substr(0, r.pos());
  auto signatures = r.Int(1, "signature count");
  if (!signatures) return Fail(std::move(signatures.error()));
  if (*signatures < 1 || *signatures > kMaxSignatures) {
    return Refuse(Refusal::kMalformed, "signature count " + std::to_string(*signatures) +
                                           " is not within 1-" + std::to_string(kMaxSignatures));
  }
  std::vector<std::string_view> entries;
  for (std::size_t i = 0; i < *signatures; ++i) {
    auto entry = r.Take(kSignatureEntryBytes, "signature " + std::to_string(i));
    if (!entry) return Fail(std::move(entry.error()));
    const PublicKey signer = KeyAt(*entry, KeyPurpose::kSign);
    if (std::find(p.info.signers.begin(), p.info.signers.end(), signer) != p.info.signers.end()) {
      return Refuse(Refusal::kMalformed, "signer " + signer.Text() + " signed twice");
    }
    p.info.signers.push_back(signer);
    entries.push_back(*entry);
  }
  if (r.pos() != bytes.size()) {
    const std::size_t extra = bytes.size() - r.pos();
    return Refuse(Refusal::kMalformed, std::to_string(extra) + (extra == 1 ? " byte" : " bytes") +
                                           " after the last signature");
  }

  auto manifest = ParseManifest(*manifest_text);
  if (!manifest) return Fail(std::move(manifest.error()));
  p.info.manifest = std::move(*manifest);

  const auto message = SignedMessage(signed_bytes);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto* sig = U8(entries[i]) + kKeyBytes;
    if (crypto_sign_verify_detached(sig, message.data(), message.size(),
                                    p.info.signers[i].bytes.data()) != 0) {
      return Refuse(Refusal::kBadSignature,
                    "the signature by " + p.info.signers[i].Text() +
                        " does not verify (the package was changed after it was signed)");
    }
  }

  std::uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, U8(bytes), bytes.size());
  p.info.sha256 = Hex(digest, sizeof digest);
  return p;
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

const std::string* NameOf(const std::vector<std::pair<std::string, PublicKey>>& keys,
                          const PublicKey& k) {
  for (const auto& [name, key] : keys) {
    if (key == k) return &name;
  }
  return nullptr;
}

}  // namespace

std::string_view RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kMalformed:
      return "malformed";
    case Refusal::kUnknownFormatVersion:
      return "unknown_format_version";
    case Refusal::kBadManifest:
      return "bad_manifest";
    case Refusal::kBadSignature:
      return "bad_signature";
    case Refusal::kPackageIdMismatch:
      return "package_id_mismatch";
    case Refusal::kMissingRequiredSigner:
      return "missing_required_signer";
    case Refusal::kTooFewAdditionalSigners:
      return "too_few_additional_signers";
    case Refusal::kPackagerNotAllowed:
      return "packager_not_allowed";
    case Refusal::kNotARecipient:
      return "not_a_recipient";
    case Refusal::kDecryptFailed:
      return "decrypt_failed";
    case Refusal::kRollback:
      return "rollback";
    case Refusal::kPlainNotAllowed:
      return "plain_not_allowed";
  }
  return "malformed";
}

Refusal RefusalOf(const Error& error) {
  if (error.code != ErrorCode::kBadRequest) return Refusal::kMalformed;
  for (int i = 0; i <= static_cast<int>(Refusal::kPlainNotAllowed); ++i) {
    const auto r = static_cast<Refusal>(i);
    if (error.wire == RefusalName(r)) return r;
  }
  return Refusal::kMalformed;
}

bool ValidVersion(std::string_view v) {
  std::uint32_t parts[3];
  return ParseVersion(v, parts);
}

int CompareVersions(std::string_view a, std::string_view b) {
  std::uint32_t x[3] = {}, y[3] = {};
  ParseVersion(a, x);
  ParseVersion(b, y);
  for (int i = 0; i < 3; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

bool LooksLikePackage(std::string_view bytes) { return bytes.starts_with(kMagic); }

Result<std::string> Pack(std::string_view payload, const PackOptions& options) {
  EnsureSodium();
  auto bad = [](const std::string& m) { return Fail(errc::kBadRequest, m); };
  if (payload.empty()) return bad("the configuration is empty");
  if (payload.size() > kMaxPayloadBytes) return bad("the configuration is larger than 8 MiB");
  if (!ValidId(options.id)) return bad("id: must be 1-64 characters of [A-Za-z0-9._-]");
  if (!ValidVersion(options.version)) {
    return bad("version: must be MAJOR.MINOR.PATCH (decimal numbers below 10^9, no leading zeros)");
  }
  if (options.description.size() > kMaxDescriptionBytes) {
    return bad("description: at most 1024 bytes");
  }
  if (!ValidUtf8(options.description)) return bad("description: must be UTF-8");
  if (options.signers.empty() || options.signers.size() > kMaxSignatures) {
    return bad("between 1 and " + std::to_string(kMaxSignatures) + " signers are needed");
  }
  if (options.recipients.empty() || options.recipients.size() > kMaxRecipients) {
    return bad("between 1 and " + std::to_string(kMaxRecipients) + " recipients are needed");
  }
  std::vector<PublicKey> signer_keys;
  for (const SecretKey& s : options.signers) {
    if (s.purpose != KeyPurpose::kSign || s.bytes.size() != crypto_sign_SECRETKEYBYTES) {
      return bad("a signer key must be a sign secret key, not " +
                 std::string(PurposeName(s.purpose)));
    }
    const PublicKey pk = s.Public();
    if (std::find(signer_keys.begin(), signer_keys.end(), pk) != signer_keys.end()) {
      return bad("signer " + pk.Text() + " is given twice");
    }
    signer_keys.push_back(pk);
  }
  for (std::size_t i = 0; i < options.recipients.size(); ++i) {
    const PublicKey& rk = options.recipients[i];
    if (rk.purpose != KeyPurpose::kRecipient) {
      return bad("a recipient must be a recipient public key, not " + rk.Text());
    }
    if (std::find(options.recipients.begin(), options.recipients.begin() + i, rk) !=
        options.recipients.begin() + i) {
      return bad("recipient " + rk.Text() + " is given twice");
    }
  }
  SecretKey packager = options.packager ? *options.packager : GenerateKey(KeyPurpose::kPackager);
  if (packager.purpose != KeyPurpose::kPackager || packager.bytes.size() != kKeyBytes) {
    sodium_memzero(packager.bytes.data(), packager.bytes.size());
    return bad("the packager key must be a packager secret key");
  }

  Manifest m;
  m.id = options.id;
  m.version = options.version;
  m.description = options.description;
  m.packager = packager.Public();
  const std::int64_t ms =
      options.created_ms != 0 ? options.created_ms : Time::Now().UnixNanos() / 1000000;
  m.created = FormatRfc3339Nano(Time::FromUnixNanos(ms * 1000000));
  const std::string manifest = ManifestJson(m);
  if (manifest.size() > kMaxManifestBytes) {
    sodium_memzero(packager.bytes.data(), packager.bytes.size());
    return bad("the manifest is larger than 16 KiB");
  }

  std::string out;
  out.reserve(kMagic.size() + 3 + manifest.size() + 1 +
              options.recipients.size() * kRecipientBlockBytes + kPayloadNonceBytes + 4 +
              payload.size() + kTagBytes + 1 + options.signers.size() * kSignatureEntryBytes);
  out += kMagic;
  out += static_cast<char>(kFormatVersion);
  PutU16(out, manifest.size());
  out += manifest;

  std::uint8_t content_key[kKeyBytes];
  crypto_aead_xchacha20poly1305_ietf_keygen(content_key);
  out += static_cast<char>(options.recipients.size());
  for (const PublicKey& rk : options.recipients) {
    std::uint8_t nonce[kBoxNonceBytes], box[kBoxBytes];
    randombytes_buf(nonce, sizeof nonce);
    if (crypto_box_easy(box, content_key, sizeof content_key, nonce, rk.bytes.data(),
                        packager.bytes.data()) != 0) {
      sodium_memzero(content_key, sizeof content_key);
      sodium_memzero(packager.bytes.data(), packager.bytes.size());
      return bad("recipient " + rk.Text() + " is not a usable X25519 public key");
    }
    PutBytes(out, rk.bytes.data(), rk.bytes.size());
    PutBytes(out, nonce, sizeof nonce);
    PutBytes(out, box, sizeof box);
  }
  sodium_memzero(packager.bytes.data(), packager.bytes.size());

  std::uint8_t payload_nonce[kPayloadNonceBytes];
  randombytes_buf(payload_nonce, sizeof payload_nonce);
  PutBytes(out, payload_nonce, sizeof payload_nonce);
  const std::size_t ad_len = out.size() - kPayloadNonceBytes;
  const std::size_t c_len = payload.size() + kTagBytes;
  PutU32(out, c_len);
  const std::size_t c_at = out.size();
  out.resize(c_at + c_len);
  unsigned long long written = 0;
  auto* base = reinterpret_cast<std::uint8_t*>(out.data());
  crypto_aead_xchacha20poly1305_ietf_encrypt(base + c_at, &written, U8(payload), payload.size(),
                                             base, ad_len, nullptr, payload_nonce, content_key);
  sodium_memzero(content_key, sizeof content_key);

  const auto message = SignedMessage(out);
  out += static_cast<char>(options.signers.size());
  for (std::size_t i = 0; i < options.signers.size(); ++i) {
    std::uint8_t sig[kSignatureBytes];
    crypto_sign_detached(sig, nullptr, message.data(), message.size(),
                         options.signers[i].bytes.data());
    PutBytes(out, signer_keys[i].bytes.data(), signer_keys[i].bytes.size());
    PutBytes(out, sig, sizeof sig);
  }
  return out;
}

Result<PackageInfo> Inspect(std::string_view bytes) {
  auto p = ParseContainer(bytes);
  if (!p) return Fail(std::move(p.error()));
  return std::move(p->info);
}

Result<Opened> Open(std::string_view bytes, const Policy& policy,
                    std::optional<std::string_view> last_accepted_version) {
  auto parsed = ParseContainer(bytes);
  if (!parsed) return Fail(std::move(parsed.error()));
  const PackageInfo& info = parsed->info;
  const Manifest& m = info.manifest;
  auto signed_by = [&info](const PublicKey& k) {
    return std::find(info.signers.begin(), info.signers.end(), k) != info.signers.end();
  };

  // An empty package_id takes any id (the CLI without --id); a bootstrap always names one.
  if (!policy.package_id.empty() && m.id != policy.package_id) {
    return Refuse(Refusal::kPackageIdMismatch,
                  "package id " + Quoted(m.id) + " is not " + Quoted(policy.package_id));
  }
  for (const auto& [name, key] : policy.required_signers) {
    if (!signed_by(key)) {
      return Refuse(Refusal::kMissingRequiredSigner,
                    "not signed by required signer " + Quoted(name) + " (" + key.Text() + ")");
    }
  }
  if (policy.required_additional > 0) {
    std::size_t count = 0;
    std::string who;
    for (const auto& [name, key] : policy.additional_signers) {
      if (!signed_by(key)) continue;
      ++count;
      who += (who.empty() ? "" : ", ") + Quoted(name);
    }
    if (count < policy.required_additional) {
      return Refuse(Refusal::kTooFewAdditionalSigners,
                    std::to_string(count) + " of the additional signers signed, " +
                        std::to_string(policy.required_additional) + " required" +
                        (who.empty() ? std::string() : " (" + who + ")"));
    }
  }
  if (!policy.packagers.empty() && NameOf(policy.packagers, m.packager) == nullptr) {
    return Refuse(Refusal::kPackagerNotAllowed,
                  "packager " + m.packager.Text() + " is not one of the allowed packagers");
  }

  const SecretKey& sk = policy.recipient;
  if (sk.purpose != KeyPurpose::kRecipient || sk.bytes.size() != kKeyBytes) {
    return Refuse(Refusal::kNotARecipient, "this runtime's key is not a recipient secret key (" +
                                               std::string(PurposeName(sk.purpose)) + ")");
  }
  const PublicKey me = sk.Public();
  const RecipientBlock* block = nullptr;
  for (const RecipientBlock& b : parsed->blocks) {
    if (b.key == me) block = &b;
  }
  if (block == nullptr) {
    return Refuse(Refusal::kNotARecipient,
                  "this runtime (" + me.Text() + ") is not a recipient of the package");
  }

  const auto* file = U8(bytes);
  std::uint8_t content_key[kKeyBytes];
  if (crypto_box_open_easy(content_key, file + block->nonce + kBoxNonceBytes, kBoxBytes,
                           file + block->nonce, m.packager.bytes.data(), sk.bytes.data()) != 0) {
    return Refuse(Refusal::kDecryptFailed, "the recipient block for " + me.Text() +
                                               " does not open: it was not made by packager " +
                                               m.packager.Text() + " for this key");
  }
  Opened opened;
  opened.payload.resize(parsed->ciphertext.size() - kTagBytes);
  unsigned long long plain_len = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<std::uint8_t*>(opened.payload.data()), &plain_len, nullptr,
      U8(parsed->ciphertext), parsed->ciphertext.size(), file, parsed->payload_nonce,
      file + parsed->payload_nonce, content_key);
  sodium_memzero(content_key, sizeof content_key);
  if (rc != 0) {
    return Refuse(Refusal::kDecryptFailed,
                  "the payload does not decrypt with the content key of " + me.Text());
  }

  if (last_accepted_version) {
    if (!ValidVersion(*last_accepted_version)) {
      // Fail closed: without a readable last version no rollback can be ruled out.
      return Refuse(Refusal::kRollback, "the last accepted version " +
                                            Quoted(*last_accepted_version) +
                                            " is not MAJOR.MINOR.PATCH");
    }
    if (CompareVersions(m.version, *last_accepted_version) < 0) {
      return Refuse(Refusal::kRollback, "version " + m.version +
                                            " is older than the last accepted " +
                                            std::string(*last_accepted_version) + " (rollback)");
    }
  }
  opened.info = std::move(parsed->info);
  return opened;
}

}  // namespace opsorch::workflow::package
