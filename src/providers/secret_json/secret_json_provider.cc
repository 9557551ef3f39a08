#include "providers/secret_json/secret_json_provider.h"

#include <cerrno>
#include <system_error>

#include <opsorch/common/json_parse.h>
#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace opsorch::providers::secret_json {
namespace {

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Error StoreError(const std::string& path, std::string_view step, int err) {
  return MakeError(errc::kSecretStoreError, "failed to write secret file " + path + ": " +
                                                std::string(step) + ": " + ErrnoText(err));
}

// Reads the whole file; on failure returns the errno.
int ReadFile(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return err;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return 0;
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

Result<std::shared_ptr<JsonSecretProvider>> JsonSecretProvider::FromConfig(
    const JsonObject& config) {
  for (const auto& kv : config) {
    if (kv.key() != "path") {
      return Fail(errc::kBadRequest,
                  "json secret provider: unknown config key \"" + std::string(kv.key()) + "\"");
    }
  }
  const JsonValue* path = config.if_contains("path");
  if (path != nullptr && !path->is_null() && !path->is_string()) {
    return Fail(errc::kBadRequest, "json secret provider: config \"path\" must be a string");
  }
  if (path == nullptr || path->is_null() || path->get_string().empty()) {
    return Fail(errc::kBadRequest, "basic provider requires 'path' in config");
  }
  return Open(std::string(path->get_string()));
}

Result<std::shared_ptr<JsonSecretProvider>> JsonSecretProvider::Open(const std::string& path) {
  std::string text;
  if (const int err = ReadFile(path, text); err != 0) {
    return Fail(errc::kBadRequest, "failed to read secret file " + path + ": " + ErrnoText(err));
  }
  auto parsed = ParseJson(text);
  if (!parsed) {
    return Fail(errc::kBadRequest,
                "failed to parse secret file " + path + ": " + parsed.error().message);
  }
  if (!parsed->is_object()) {
    return Fail(errc::kBadRequest,
                "failed to parse secret file " + path + ": top-level value is not a JSON object");
  }
  return std::make_shared<JsonSecretProvider>(path, std::move(parsed->as_object()));
}

Result<std::string> JsonSecretProvider::Get(const std::string& key) {
  std::shared_lock lock(mu_);
  const JsonValue* v = secrets_.if_contains(key);
  if (v == nullptr) return Fail(errc::kNotFound, "secret not found: " + key);
  if (v->is_string()) return std::string(v->get_string());
  return boost::json::serialize(*v);
}

Status JsonSecretProvider::Put(const std::string& key, const std::string& value) {
  if (key.empty()) return Fail(errc::kBadRequest, "secret key is required");
  std::lock_guard write_lock(write_mu_);
  JsonObject next;
  {
    std::shared_lock lock(mu_);
    next = secrets_;
  }
  next[key] = value;
  // Memory changes only once the file is durable, so a failed Put changes nothing.
  if (auto ok = Persist(next); !ok) return ok;
  std::unique_lock lock(mu_);
  secrets_ = std::move(next);
  return Ok();
}

Status JsonSecretProvider::Persist(const JsonObject& secrets) const {
  const std::size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path_.substr(0, slash);
  const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  std::string tmp = dir + "/." + base + ".tmp-XXXXXX";

  // mkostemp creates the file with mode 0600 whatever the umask.
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Fail(StoreError(path_, "create temporary file", errno));
  const auto fail = [&](std::string_view step) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(StoreError(path_, step, err));
  };
  std::string data = boost::json::serialize(secrets);
  data.push_back('\n');
  if (::fchmod(fd, 0600) != 0) return fail("chmod");
  if (!WriteAll(fd, data)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(StoreError(path_, "close", err));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(StoreError(path_, "rename", err));
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Fail(StoreError(path_, "open directory", errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return Fail(StoreError(path_, "fsync directory", err));
  return Ok();
}

}  // namespace opsorch::providers::secret_json
