#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/common/files.h>
#include <opsorch/common/strings.h>
#include <opsorch/workflow/package.h>

#include "workflow/package/internal.h"

namespace opsorch::workflow::package {
namespace {

using internal::AppendHex;
using internal::EnsureSodium;
using internal::FromHex;
using internal::Hex;

constexpr std::size_t kMaxKeyFileBytes = 4096;

std::optional<KeyPurpose> PurposeByName(std::string_view name) {
  for (KeyPurpose p :
       {KeyPurpose::kSign, KeyPurpose::kRecipient, KeyPurpose::kPackager, KeyPurpose::kString}) {
    if (PurposeName(p) == name) return p;
  }
  return std::nullopt;
}

std::size_t SecretSize(KeyPurpose p) {
  return p == KeyPurpose::kSign ? crypto_sign_SECRETKEYBYTES : 32;
}

// "<purpose>-secret:<hex>" + `suffix`, built in one buffer reserved up front: no intermediate
// string holding the hex is freed unwiped on the way.
std::string SecretText(const SecretKey& key, std::string_view suffix) {
  const std::string_view name = PurposeName(key.purpose);
  constexpr std::string_view kSecret = "-secret:";
  std::string out;
  out.reserve(name.size() + kSecret.size() + 2 * key.bytes.size() + suffix.size());
  out.append(name).append(kSecret);
  AppendHex(out, key.bytes.data(), key.bytes.size());
  out.append(suffix);
  return out;
}

// Writes all of `text` to a new file (O_EXCL: an existing key is never replaced) with `mode`,
// whatever the umask.
Status WriteNewFile(const std::string& path, std::string_view text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) return Fail(errc::kConflict, path + ": already exists; not overwritten");
    return Fail(errc::kBadRequest, path + ": cannot create: " + ErrnoText(err));
  }
  int err = ::fchmod(fd, mode) == 0 ? 0 : errno;
  for (std::size_t done = 0; err == 0 && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      err = errno;
    else
      done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(path.c_str());
    return Fail(errc::kBadRequest, path + ": cannot write: " + ErrnoText(err));
  }
  return Ok();
}

}  // namespace

std::string_view PurposeName(KeyPurpose p) {
  switch (p) {
    case KeyPurpose::kSign:
      return "sign";
    case KeyPurpose::kRecipient:
      return "recipient";
    case KeyPurpose::kPackager:
      return "packager";
    case KeyPurpose::kString:
      return "string";
  }
  return "unknown";
}

std::string PublicKey::Text() const {
  return std::string(PurposeName(purpose)) + ":" + Hex(bytes.data(), bytes.size());
}

SecretKey::SecretKey(KeyPurpose p, std::vector<std::uint8_t> b) : purpose(p), bytes(std::move(b)) {}

void SecretKey::Wipe() noexcept {
  // Up to the capacity: a key shrunk in place keeps its old tail in the same block.
  bytes.resize(bytes.capacity());
  sodium_memzero(bytes.data(), bytes.size());
  bytes.clear();
}

SecretKey::~SecretKey() { Wipe(); }

SecretKey& SecretKey::operator=(const SecretKey& other) {
  if (this != &other) {
    Wipe();  // the copy may reuse this block or free it: either way it holds no key by then
    purpose = other.purpose;
    bytes = other.bytes;
  }
  return *this;
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    Wipe();
    purpose = other.purpose;
    bytes = std::move(other.bytes);
    other.Wipe();  // empty after a move with std::allocator; wiped should that ever change
  }
  return *this;
}

PublicKey SecretKey::Public() const {
  EnsureSodium();
  PublicKey pk;
  pk.purpose = purpose;
  if (purpose == KeyPurpose::kSign && bytes.size() == crypto_sign_SECRETKEYBYTES) {
    crypto_sign_ed25519_sk_to_pk(pk.bytes.data(), bytes.data());
  } else if ((purpose == KeyPurpose::kRecipient || purpose == KeyPurpose::kPackager) &&
             bytes.size() == crypto_scalarmult_SCALARBYTES) {
    crypto_scalarmult_base(pk.bytes.data(), bytes.data());
  }
  return pk;
}

std::string SecretKey::Text() const { return SecretText(*this, ""); }

Result<PublicKey> ParsePublicKey(std::string_view text) {
  text = TrimSpace(text);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Fail(errc::kBadRequest, "not a public key: expected <purpose>:<64 hex digits>");
  }
  const std::string_view name = text.substr(0, colon);
  const auto purpose = PurposeByName(name);
  if (!purpose || *purpose == KeyPurpose::kString) {
    if (name.ends_with("-secret")) {
      return Fail(errc::kBadRequest, "a secret key where a public key belongs (use the .pub file)");
    }
    return Fail(errc::kBadRequest,
                "not a public key: the purpose must be sign, recipient or packager");
  }
  PublicKey pk;
  pk.purpose = *purpose;
  if (!FromHex(text.substr(colon + 1), pk.bytes.data(), pk.bytes.size())) {
    return Fail(errc::kBadRequest, "not a " + std::string(name) +
                                       " public key: expected 64 lower-case hex digits after \"" +
                                       std::string(name) + ":\"");
  }
  return pk;
}

Result<SecretKey> ParseSecretKey(std::string_view text) {
  EnsureSodium();
  text = TrimSpace(text);
  const auto colon = text.find(':');
  const std::string_view head = text.substr(0, colon == std::string_view::npos ? 0 : colon);
  if (colon == std::string_view::npos || !head.ends_with("-secret")) {
    // The text is not quoted: it may be a secret in the wrong place.
    return Fail(errc::kBadRequest, "not a secret key: expected <purpose>-secret:<hex digits>");
  }
  const std::string_view name = head.substr(0, head.size() - 7);
  const auto purpose = PurposeByName(name);
  if (!purpose) {
    return Fail(errc::kBadRequest,
                "not a secret key: the purpose must be sign, recipient, packager or string");
  }
  SecretKey key;
  key.purpose = *purpose;
  key.bytes.resize(SecretSize(*purpose));
  if (!FromHex(text.substr(colon + 1), key.bytes.data(), key.bytes.size())) {
    sodium_memzero(key.bytes.data(), key.bytes.size());
    return Fail(errc::kBadRequest, "not a " + std::string(name) + " secret key: expected " +
                                       std::to_string(2 * key.bytes.size()) +
                                       " lower-case hex digits");
  }
  if (*purpose == KeyPurpose::kSign) {
    // libsodium's Ed25519 secret key is seed | public key: a mismatched half would make
    // signatures that verify under no published key.
    std::uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES],
        sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_ed25519_sk_to_seed(seed, key.bytes.data());
    crypto_sign_seed_keypair(pk, sk, seed);
    const bool same = sodium_memcmp(sk, key.bytes.data(), sizeof sk) == 0;
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    if (!same) {
      sodium_memzero(key.bytes.data(), key.bytes.size());
      return Fail(errc::kBadRequest, "not a sign secret key: its public half does not match");
    }
  }
  return key;
}

SecretKey GenerateKey(KeyPurpose purpose) {
  EnsureSodium();
  SecretKey key;
  key.purpose = purpose;
  key.bytes.resize(SecretSize(purpose));
  switch (purpose) {
    case KeyPurpose::kSign: {
      std::uint8_t pk[crypto_sign_PUBLICKEYBYTES];
      crypto_sign_keypair(pk, key.bytes.data());
      break;
    }
    case KeyPurpose::kRecipient:
    case KeyPurpose::kPackager:
    case KeyPurpose::kString:
      // An X25519 secret key is any 32 random bytes (clamped when used), as is a secretbox key.
      randombytes_buf(key.bytes.data(), key.bytes.size());
      break;
  }
  return key;
}

Result<SecretKey> ReadSecretKeyFile(const std::string& path) {
  // O_NOFOLLOW: whoever can replace the path with a link would choose which file is the key.
  // The checks below are on the opened descriptor, so the file checked is the file read.
  // O_NONBLOCK: a FIFO planted at the path must not hang the caller before the type check.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    struct stat link {};
    // lstat only words the error; the refusal itself came from open.
    if (err == ELOOP && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      return Fail(errc::kBadRequest, path +
                                         ": is a symbolic link; a secret key file is not read "
                                         "through a link: give the path of the file itself");
    }
    return Fail(errc::kBadRequest, path + ": cannot read: " + ErrnoText(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(errc::kBadRequest, path + ": not a regular file");
  }
  // As ssh: a key someone else owns is theirs to change, so 0600 alone proves nothing (for
  // root, which can open any file, it is the only check that means something).
  if (const uid_t me = ::geteuid(); st.st_uid != me) {
    ::close(fd);
    return Fail(errc::kBadRequest, path + ": owned by uid " + std::to_string(st.st_uid) +
                                       ", not by this process (uid " + std::to_string(me) +
                                       "): chown it or use a key file of your own");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Fail(errc::kBadRequest, path + ": mode " + mode +
                                       " lets group or others at the secret key; make it "
                                       "private: chmod 600 " +
                                       path);
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  std::size_t size = 0;
  int err = 0;
  while (size < text.size()) {
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  Result<SecretKey> key = err != 0 ? Fail(errc::kBadRequest, ErrnoText(err))
                          : size > kMaxKeyFileBytes
                              ? Fail(errc::kBadRequest, "too large for a key file")
                              : ParseSecretKey(std::string_view(text).substr(0, size));
  sodium_memzero(text.data(), text.size());
  if (!key) return Fail(errc::kBadRequest, path + ": " + key.error().message);
  return key;
}

Result<PublicKey> ReadPublicKeyFile(const std::string& path) {
  auto text = ReadTextFile(path, kMaxKeyFileBytes);
  if (!text) return Fail(std::move(text.error()));
  auto key = ParsePublicKey(*text);
  if (!key) return Fail(errc::kBadRequest, path + ": " + key.error().message);
  return key;
}

Status WriteKeyFiles(const SecretKey& key, const std::string& name) {
  const std::string key_path = name + ".key", pub_path = name + ".pub";
  const bool has_public = key.purpose != KeyPurpose::kString;
  // Checked before the .key is created so that a refusal leaves nothing behind; O_EXCL below
  // still decides a race.
  struct stat st {};
  if (has_public && ::lstat(pub_path.c_str(), &st) == 0) {
    return Fail(errc::kConflict, pub_path + ": already exists; not overwritten");
  }
  std::string text = SecretText(key, "\n");
  Status written = WriteNewFile(key_path, text, 0600);
  sodium_memzero(text.data(), text.size());
  if (!written) return written;
  if (has_public) {
    if (Status pub = WriteNewFile(pub_path, key.Public().Text() + "\n", 0644); !pub) {
      ::unlink(key_path.c_str());
      return pub;
    }
  }
  return Ok();
}

}  // namespace opsorch::workflow::package
