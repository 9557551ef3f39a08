#include "providers/secret_file.h"

#include <cerrno>
#include <system_error>

#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace opsorch::providers {
namespace {

Error StoreError(const std::string& path, std::string_view step, int err) {
  return MakeError(errc::kSecretStoreError, "failed to write secret file " + path + ": " +
                                                std::string(step) + ": " + ErrnoText(err));
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

std::string DirectoryOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = DirectoryOf(path);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string tmp = dir + "/." + base + ".tmp-XXXXXX";

  // mkostemp creates the file with mode 0600 whatever the umask.
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Fail(StoreError(path, "create temporary file", errno));
  const auto fail = [&](std::string_view step) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(StoreError(path, step, err));
  };
  if (::fchmod(fd, 0600) != 0) return fail("chmod");
  if (!WriteAll(fd, data)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(StoreError(path, "close", err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(StoreError(path, "rename", err));
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Fail(StoreError(path, "open directory", errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return Fail(StoreError(path, "fsync directory", err));
  return Ok();
}

Result<std::string> FileSecretStore::Get(const std::string& key) {
  std::shared_lock lock(mu_);
  const JsonValue* v = secrets_.if_contains(key);
  if (v == nullptr) return Fail(errc::kNotFound, "secret not found: " + key);
  if (v->is_string()) return std::string(v->get_string());
  return boost::json::serialize(*v);
}

Status FileSecretStore::Put(const std::string& key, const std::string& value) {
  if (key.empty()) return Fail(errc::kBadRequest, "secret key is required");
  std::lock_guard write_lock(write_mu_);
  JsonObject next;
  {
    std::shared_lock lock(mu_);
    next = secrets_;
  }
  next[key] = value;
  if (auto ok = Persist(next); !ok) return ok;
  std::unique_lock lock(mu_);
  secrets_ = std::move(next);
  return Ok();
}

}  // namespace opsorch::providers
