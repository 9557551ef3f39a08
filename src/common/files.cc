#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/common/files.h>

namespace opsorch {

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

int ReadWholeFile(const std::string& path, std::string& out, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return err;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      ::close(fd);
      return EFBIG;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return 0;
}

Result<std::string> ReadTextFile(const std::string& path, std::size_t max_bytes) {
  std::string text;
  if (const int err = ReadWholeFile(path, text, max_bytes); err == EFBIG) {
    return Fail(errc::kBadRequest,
                path + ": larger than " + std::to_string(max_bytes >> 20) + " MiB");
  } else if (err != 0) {
    return Fail(errc::kBadRequest, path + ": cannot read: " + ErrnoText(err));
  }
  return text;
}

}  // namespace opsorch
