#include "providers/secret_sealed/sealed_format.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/common/strings.h>

#include "providers/secret_file.h"

namespace opsorch::providers::secret_sealed {
namespace {

static_assert(kMagic.size() + 1 == kHeaderBytes);
static_assert(kNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

constexpr std::string_view kPrefix = "sealed secret provider: ";
// A key file is one line; anything much larger is the wrong file.
constexpr std::size_t kMaxKeyFileBytes = 4096;

auto Bad(std::string message) { return Fail(errc::kBadRequest, std::string(kPrefix) + message); }

unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Octal(unsigned mode) {
  std::string out = "0";
  for (int shift = 6; shift >= 0; shift -= 3) out.push_back(char('0' + ((mode >> shift) & 7)));
  return out;
}

}  // namespace

bool SodiumReady() {
  static const bool ready = ::sodium_init() >= 0;
  return ready;
}

void SealedKey::Free::operator()(unsigned char* p) const { ::sodium_free(p); }  // zeroes first

Result<SealedKey> SealedKey::FromBase64(std::string_view text, std::string_view source) {
  if (!SodiumReady()) return Bad("libsodium could not be initialised");
  auto* p = static_cast<unsigned char*>(::sodium_malloc(kKeyBytes));
  if (p == nullptr) return Bad("cannot allocate guarded memory for the key");
  SealedKey key;
  key.bytes_.reset(p);
  text = TrimSpace(text);  // a trailing newline in a key file is normal
  std::size_t len = 0;
  // No ignore set and no end pointer: anything that is not exactly base64 is rejected.
  if (text.empty() ||
      ::sodium_base642bin(p, kKeyBytes, text.data(), text.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != kKeyBytes) {
    return Bad("key in " + std::string(source) +
               " must be 32 bytes of standard base64 (44 characters)");
  }
  ::sodium_mprotect_readonly(p);
  return key;
}

Result<SealedKey> SealedKey::FromEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    return Bad("environment variable " + name + " is not set");
  }
  return FromBase64(value, name);
}

Result<SealedKey> SealedKey::FromFile(const std::string& path) {
  // O_NONBLOCK: a FIFO must not hang start-up; it is refused below as not a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Bad("cannot read key file " + path + ": " + ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Bad("cannot read key file " + path + ": " + ErrnoText(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Bad("key file " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Bad("key file " + path + " is accessible by group or others (mode " +
               Octal(st.st_mode & 0777) + "); restrict it with chmod 600");
  }
  // Read into one fixed buffer so that no copy of the key is left in freed memory.
  char buf[kMaxKeyFileBytes + 1];
  std::size_t used = 0;
  int err = 0;
  while (used < sizeof buf) {
    const ssize_t n = ::read(fd, buf + used, sizeof buf - used);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  Result<SealedKey> key = Bad("key file " + path + " is too large");
  if (err != 0) {
    key = Bad("cannot read key file " + path + ": " + ErrnoText(err));
  } else if (used <= kMaxKeyFileBytes) {
    key = FromBase64({buf, used}, path);
  }
  ::sodium_memzero(buf, sizeof buf);
  return key;
}

std::string Seal(const SealedKey& key, std::string_view plaintext) {
  std::string out(kHeaderBytes + kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* p = Bytes(out);
  std::memcpy(p, kMagic.data(), kMagic.size());
  p[kMagic.size()] = kFormatVersion;
  ::randombytes_buf(p + kHeaderBytes, kNonceBytes);
  unsigned long long written = 0;
  ::crypto_aead_xchacha20poly1305_ietf_encrypt(p + kHeaderBytes + kNonceBytes, &written,
                                               Bytes(plaintext), plaintext.size(), p, kHeaderBytes,
                                               nullptr, p + kHeaderBytes, key.bytes());
  return out;
}

Result<std::string> Unseal(const SealedKey& key, std::string_view file, const std::string& path) {
  if (file.size() < kMagic.size() || file.substr(0, kMagic.size()) != kMagic) {
    return Bad(path + ": not a sealed secret file (bad header)");
  }
  if (file.size() < kHeaderBytes) return Bad(path + ": corrupted file (truncated)");
  const unsigned version = static_cast<unsigned char>(file[kMagic.size()]);
  if (version != kFormatVersion) {
    return Bad(path + ": unsupported version " + std::to_string(version));
  }
  if (file.size() < kHeaderBytes + kNonceBytes + kTagBytes) {
    return Bad(path + ": corrupted file (truncated)");
  }
  const unsigned char* p = Bytes(file);
  const std::size_t cipher_bytes = file.size() - kHeaderBytes - kNonceBytes;
  std::string plain(cipher_bytes - kTagBytes, '\0');
  unsigned long long plain_bytes = 0;
  if (::crypto_aead_xchacha20poly1305_ietf_decrypt(
          Bytes(plain), &plain_bytes, nullptr, p + kHeaderBytes + kNonceBytes, cipher_bytes, p,
          kHeaderBytes, p + kHeaderBytes, key.bytes()) != 0) {
    return Bad(path + ": wrong key or corrupted file");
  }
  return plain;
}

}  // namespace opsorch::providers::secret_sealed
