// Workflow packages: a workflow configuration (resources inlined) that a runtime accepts only
// when it is signed by publishers its bootstrap trusts (Ed25519, detached) and encrypted for
// that runtime (X25519 crypto_box of a content key per recipient, XChaCha20-Poly1305 payload).
// One layer proves who produced it, the other that it was produced for this runtime. Also the
// keys (text files), and encrypted bootstrap strings (crypto_secretbox under a key held outside
// the bootstrap). The container format, byte by byte: docs/WORKFLOWS.md ("Packages").
//
// Everything here is a pure function of its inputs (plus libsodium's random bytes when
// packing): the runtime, the CLI and the configuration service call the same code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/result.h>

namespace opsorch::workflow::package {

// ---- keys ----

// sign: Ed25519 (publishers, endorsers, major-version locks). recipient: X25519 (a runtime).
// packager: X25519 (who built the package; authenticates the recipient blocks). string: a
// 32-byte crypto_secretbox key for encrypted bootstrap strings (no public half).
enum class KeyPurpose : std::uint8_t { kSign, kRecipient, kPackager, kString };
std::string_view PurposeName(KeyPurpose p);  // "sign", "recipient", "packager", "string"

// Text form of a public key: "<purpose>:<64 lower-case hex>", e.g. "sign:3b6a…" (the `.pub`
// file, one line, and the bootstrap's `keys` values).
struct PublicKey {
  KeyPurpose purpose = KeyPurpose::kSign;
  std::array<std::uint8_t, 32> bytes{};
  std::string Text() const;
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

// Text form: "<purpose>-secret:<hex>" (Ed25519: the 64-byte libsodium secret key; others: 32
// bytes). The `.key` file, one line. Never logged.
//
// The bytes are zeroed (sodium_memzero) before their memory goes back to the allocator: on
// destruction, and when an assignment replaces them, so that a freed block never holds a key.
// The constructors keep `SecretKey{purpose, bytes}` compiling as when this was an aggregate.
// Growing `bytes` of a key that holds one may reallocate and free the old block unwiped: size
// it once, then fill it. Text() returns the secret in clear: its caller wipes that string.
struct SecretKey {
  KeyPurpose purpose = KeyPurpose::kSign;
  std::vector<std::uint8_t> bytes;

  SecretKey() = default;
  explicit SecretKey(KeyPurpose p) : purpose(p) {}
  SecretKey(KeyPurpose p, std::vector<std::uint8_t> b);
  SecretKey(const SecretKey&) = default;
  SecretKey(SecretKey&& other) noexcept = default;  // leaves other.bytes empty
  SecretKey& operator=(const SecretKey& other);
  SecretKey& operator=(SecretKey&& other) noexcept;
  ~SecretKey();

  // Zeroes every byte of the buffer (capacity, not only size) and empties `bytes`.
  void Wipe() noexcept;
  PublicKey Public() const;  // not for kString
  std::string Text() const;
};

// Errors name the rule ("not a sign public key", "expected 64 hex digits").
Result<PublicKey> ParsePublicKey(std::string_view text);  // surrounding whitespace allowed
Result<SecretKey> ParseSecretKey(std::string_view text);
SecretKey GenerateKey(KeyPurpose purpose);
// A secret key file must be a regular file not readable or writable by group or others.
Result<SecretKey> ReadSecretKeyFile(const std::string& path);
Result<PublicKey> ReadPublicKeyFile(const std::string& path);
// Writes NAME.key (mode 0600) and NAME.pub (0644; not for kString); refuses to overwrite.
Status WriteKeyFiles(const SecretKey& key, const std::string& name);

// ---- the container ----

inline constexpr std::uint8_t kFormatVersion = 1;
inline constexpr std::size_t kMaxPayloadBytes = 8u << 20;  // as a plain configuration
inline constexpr std::size_t kMaxManifestBytes = 16u << 10;
inline constexpr std::size_t kMaxRecipients = 64;
inline constexpr std::size_t kMaxSignatures = 32;

// `version` is MAJOR.MINOR.PATCH (decimal, each < 10^9): versions are compared numerically for
// anti-rollback. `created` is RFC 3339 UTC. `id` is [A-Za-z0-9._-]{1,64}.
struct Manifest {
  std::string id;
  std::string version;
  std::string created;
  PublicKey packager;       // kPackager
  std::string description;  // optional, ≤ 1024 bytes
};

// Why a package was refused: one reason per check, so that tests and the agent's status can
// tell them apart. The Error's message says it in words, naming the key or field.
enum class Refusal : std::uint8_t {
  kMalformed,             // bad magic, truncated, lengths that do not add up, trailing bytes
  kUnknownFormatVersion,  // a version byte this build does not read
  kBadManifest,           // manifest JSON invalid or a field against its rule
  kBadSignature,          // a signature that does not verify (tampered manifest or payload)
  kPackageIdMismatch,
  kMissingRequiredSigner,
  kTooFewAdditionalSigners,
  kPackagerNotAllowed,
  kNotARecipient,
  kDecryptFailed,    // this runtime is listed but its block or the payload does not open
  kRollback,         // older than the last accepted version
  kPlainNotAllowed,  // not a package, and the bootstrap does not allow plain configurations
};
std::string_view RefusalName(Refusal r);  // "malformed", "bad_signature", … (metrics label)

// What can be read without decrypting.
struct PackageInfo {
  std::uint8_t format_version = 0;
  Manifest manifest;
  std::vector<PublicKey> signers;     // in file order; every signature verified
  std::vector<PublicKey> recipients;  // kRecipient
  std::size_t payload_bytes = 0;      // ciphertext length
  std::string sha256;                 // hex of the whole file
};

struct PackOptions {
  std::string id, version, description;
  std::int64_t created_ms = 0;        // 0: now
  std::vector<SecretKey> signers;     // kSign, at least one
  std::vector<PublicKey> recipients;  // kRecipient, at least one
  std::optional<SecretKey> packager;  // kPackager; none: a fresh one (an anonymous packager)
};

// True when `bytes` starts with the package magic (a configuration source decides by this
// whether it holds a package or a plain configuration).
bool LooksLikePackage(std::string_view bytes);

Result<std::string> Pack(std::string_view payload, const PackOptions& options);

// Parses the container and verifies every signature against its own public key (no trust
// decision, no decryption). Errors carry the Refusal as RefusalOf(error).
Result<PackageInfo> Inspect(std::string_view bytes);

// The bootstrap's packaging rules for one deployment (docs/WORKFLOWS.md).
struct Policy {
  std::string package_id;  // empty: any id (`verify` without --id); a bootstrap always sets it
  std::vector<std::pair<std::string, PublicKey>> required_signers;    // name → key; all must sign
  std::vector<std::pair<std::string, PublicKey>> additional_signers;  // at least N of these
  std::size_t required_additional = 0;
  std::vector<std::pair<std::string, PublicKey>> packagers;  // empty: any packager
  SecretKey recipient;                                       // this runtime's (kRecipient)
};

struct Opened {
  PackageInfo info;
  std::string payload;  // the workflow configuration
};

// Every check, in this order: container, signatures, package id, required signers, additional
// signers, packager, recipient, decryption, then anti-rollback against `last_accepted_version`
// (a version equal to it is accepted: a restart re-reads the same package).
Result<Opened> Open(std::string_view bytes, const Policy& policy,
                    std::optional<std::string_view> last_accepted_version);

// The Refusal of an error returned by Inspect or Open (kMalformed for other errors).
Refusal RefusalOf(const Error& error);

// -1, 0, 1; both must be valid MAJOR.MINOR.PATCH.
int CompareVersions(std::string_view a, std::string_view b);
bool ValidVersion(std::string_view v);

// ---- encrypted bootstrap strings ----

// "enc1:<8 hex key id>:<base64url without padding of nonce(24) | secretbox ciphertext>": the
// key id (the first 4 bytes of BLAKE2b-256 of the key) lets a wrong key be named as such.
inline constexpr std::string_view kEncryptedPrefix = "enc1:";
bool IsEncryptedString(std::string_view s);
// The key id of a kString key: what `enc1:` texts name and `keygen --purpose string` prints.
std::string StringKeyId(const SecretKey& key);
Result<std::string> EncryptString(std::string_view plain, const SecretKey& key);  // kString
Result<std::string> DecryptString(std::string_view text, const SecretKey& key);   // kString

}  // namespace opsorch::workflow::package
