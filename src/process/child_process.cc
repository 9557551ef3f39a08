#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/process/child_process.h>

extern char** environ;

namespace opsorch::process {
namespace {

constexpr std::size_t kStderrLineMax = 4096;  // longer lines are cut (and marked) when logged

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string ErrnoText(int err) { return std::strerror(err); }

int MillisUntil(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1'000'000));
}

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

JsonParseOptions ResponseParseOptions() {
  JsonParseOptions o;
  o.max_depth = 128;  // provider results nest metadata; still bounded
  return o;
}

// RAII for the spawn attributes, so that every early return releases them.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::vector<std::string> MinimalEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    if (name.size() == entry.size() || name.starts_with("OPSORCH_")) continue;
    const bool wanted = name == "PATH" || name == "HOME" || name == "LANG" || name == "TZ" ||
                        name.starts_with("LC_") ||
                        std::find(extra.begin(), extra.end(), name) != extra.end();
    if (wanted) out.emplace_back(entry);
  }
  return out;
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::string& path, const std::vector<std::string>& environment, StderrSink sink) {
  // A plugin that exits while we write its request must give EPIPE, not kill the server.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    return Fail(errc::kPluginUnavailable, "start " + path + ": pipe: " + ErrnoText(errno));
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(in[0]), ::close(in[1]);
    return Fail(errc::kPluginUnavailable, "start " + path + ": pipe: " + ErrnoText(e));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    return Fail(errc::kPluginUnavailable, "start " + path + ": pipe: " + ErrnoText(e));
  }
  auto close_all = [&] {
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
  };

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&setup.actions, err[1], STDERR_FILENO);
  // Nothing of the server's (listening sockets, client connections, files) leaks into the child.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  // Own process group: a terminal's Ctrl-C reaches the server, which then stops plugins in
  // order; and Kill() reaches grandchildren too. Default signal handling and an empty mask, so
  // that the server's ignored SIGPIPE and blocked signals do not leak into the plugin.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  // Executed directly: no shell, no arguments (contract §8.1); only the environment given, so
  // that the server's own secrets (bearer token, secret key) never reach a plugin.
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  std::vector<char*> envp;
  envp.reserve(environment.size() + 1);
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, path.c_str(), &setup.actions, &setup.attr, argv, envp.data());
  if (rc != 0) {
    close_all();
    return Fail(errc::kPluginUnavailable, "cannot start: " + ErrnoText(rc));
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);

  auto p = std::unique_ptr<ChildProcess>(new ChildProcess());
  p->pid_ = pid;
  // Via syscall(): glibc 2.36's <sys/pidfd.h> lacks C linkage for C++. -1 (old kernel) falls
  // back to polling waitpid.
  p->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  p->stdin_fd_ = in[1];
  p->stdout_fd_ = out[0];
  p->stderr_fd_ = err[0];
  ::fcntl(p->stdin_fd_, F_SETFL, ::fcntl(p->stdin_fd_, F_GETFL) | O_NONBLOCK);
  ::fcntl(p->stdout_fd_, F_SETFL, ::fcntl(p->stdout_fd_, F_GETFL) | O_NONBLOCK);
  p->sink_ = std::move(sink);
  p->stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  p->stderr_thread_ = std::thread([raw = p.get(), stop = p->stop_fd_] { raw->DrainStderr(stop); });
  return p;
}

ChildProcess::ChildProcess() : reader_(ResponseParseOptions()) {}

ChildProcess::~ChildProcess() {
  if (!reaped_) Kill();
  if (stop_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
  }
  if (stderr_thread_.joinable()) stderr_thread_.join();
  CloseFd(stdin_fd_);
  CloseFd(stdout_fd_);
  CloseFd(stderr_fd_);
  CloseFd(stop_fd_);
  CloseFd(pidfd_);
}

void ChildProcess::DrainStderr(int stop_fd) {
  std::string line;
  char buf[4096];
  bool cut = false;  // the current line was too long; skip to its end
  pollfd fds[2] = {{stderr_fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) {
      // Stopping: what the process wrote before it exited is still worth logging.
      pollfd rest{stderr_fd_, POLLIN, 0};
      if (::poll(&rest, 1, 0) <= 0 || (rest.revents & POLLIN) == 0) break;
    }
    const ssize_t n = ::read(stderr_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        if (!line.empty() && sink_) sink_(line);
        line.clear();
        cut = false;
      } else if (line.size() < kStderrLineMax) {
        line.push_back(buf[i]);
      } else if (!cut) {
        cut = true;
        if (sink_) sink_(line + " [line cut]");
        line.clear();
      }
    }
  }
  if (!line.empty() && !cut && sink_) sink_(line);
}

void ChildProcess::CloseStdin() { CloseFd(stdin_fd_); }

bool ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (reaped_) return true;
  if (pidfd_ >= 0) {
    pollfd p{pidfd_, POLLIN, 0};
    const auto deadline = Clock::now() + timeout;
    while (::poll(&p, 1, MillisUntil(deadline)) < 0 && errno == EINTR) {
    }
  }
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const pid_t r = ::waitpid(pid_, &wait_status_, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      reaped_ = true;
      return true;
    }
    if (pidfd_ >= 0 || Clock::now() >= deadline) return false;
    ::usleep(2000);  // no pidfd (old kernel): poll the exit status
  }
}

void ChildProcess::Kill() {
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);  // the whole group: grandchildren must not keep the pipes open
  ::kill(pid_, SIGKILL);
  // After SIGKILL the exit is immediate; the bound only guards against a stuck kernel.
  WaitExit(std::chrono::seconds(5));
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (reaped_) return;
  CloseStdin();  // plugins loop on stdin and exit on EOF (contract §8.7)
  if (WaitExit(grace)) return;
  ::kill(-pid_, SIGTERM);
  if (WaitExit(grace)) return;
  Kill();
}

std::string ChildProcess::ExitDescription() {
  if (!reaped_ && !WaitExit(std::chrono::milliseconds(0))) return "running";
  if (WIFEXITED(wait_status_)) return "exit status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) {
    const int sig = WTERMSIG(wait_status_);
    const char* name = ::sigdescr_np(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "unknown exit";
}

bool ChildProcess::Idle() {
  if (reaped_) return false;
  // Read whatever arrived since the last answer without waiting.
  char buf[4096];
  while (true) {
    const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n > 0) {
      pending_.append(buf, static_cast<std::size_t>(n));
      if (pending_.size() > (1u << 20)) return false;
      continue;
    }
    if (n == 0) return false;  // stdout closed: it exited (or is exiting)
    if (errno == EINTR) continue;
    break;  // EAGAIN: nothing more
  }
  for (char c : pending_) {
    if (!IsSpace(c)) return false;
  }
  pending_.clear();
  // No waitpid here (a syscall per call): an exit shows as EOF above, or at the latest as
  // EPIPE/EOF during the call.
  return true;
}

Result<bool> ChildProcess::WriteSome(std::string_view request, std::size_t* written) {
  while (*written < request.size()) {
    const ssize_t n = ::write(stdin_fd_, request.data() + *written, request.size() - *written);
    if (n > 0) {
      *written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    if (n < 0 && errno == EPIPE) {
      WaitExit(std::chrono::milliseconds(100));
      return Fail(errc::kPluginCrashed,
                  "plugin exited before reading the request (" + ExitDescription() + ")");
    }
    return Fail(errc::kPluginCrashed, "writing to plugin: " + ErrnoText(errno));
  }
  received_ = 0;
  return true;
}

Result<std::optional<JsonValue>> ChildProcess::ReadSome(std::size_t max_response_bytes) {
  char buf[64 * 1024];
  while (true) {
    if (!pending_.empty()) {
      auto used = reader_.Feed(pending_);
      if (!used) {
        reader_.Reset();
        return Fail(errc::kPluginProtocolError,
                    "plugin wrote something that is not JSON: " + used.error().message);
      }
      pending_.erase(0, *used);
      if (reader_.Done()) return std::optional<JsonValue>(reader_.Take());
    }
    const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return std::optional<JsonValue>();
    if (n <= 0) {
      WaitExit(std::chrono::milliseconds(100));
      return Fail(errc::kPluginCrashed,
                  std::string(reader_.InValue() || received_ > 0
                                  ? "plugin exited in the middle of its answer"
                                  : "plugin exited before answering") +
                      " (" + ExitDescription() + ")");
    }
    received_ += static_cast<std::size_t>(n);
    if (received_ > max_response_bytes) {
      return Fail(errc::kPluginProtocolError, "plugin answer exceeds the limit of " +
                                                  std::to_string(max_response_bytes) + " bytes");
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

Result<JsonValue> ChildProcess::RoundTrip(std::string_view request, Clock::time_point deadline,
                                          std::size_t max_response_bytes) {
  // A plugin that does not read its stdin cannot block us past the deadline.
  std::size_t written = 0;
  while (true) {
    auto done = WriteSome(request, &written);
    if (!done) return Fail(std::move(done.error()));
    if (*done) break;
    pollfd p{stdin_fd_, POLLOUT, 0};
    const int left = MillisUntil(deadline);
    if (left == 0 || ::poll(&p, 1, left) == 0) {
      return Fail(errc::kPluginTimeout, "plugin did not read its request in time");
    }
  }
  while (true) {
    auto answer = ReadSome(max_response_bytes);
    if (!answer) return Fail(std::move(answer.error()));
    if (*answer) return std::move(**answer);
    pollfd p{stdout_fd_, POLLIN, 0};
    const int left = MillisUntil(deadline);
    if (left == 0) return Fail(errc::kPluginTimeout, "plugin did not answer in time");
    const int pr = ::poll(&p, 1, left);
    if (pr == 0) return Fail(errc::kPluginTimeout, "plugin did not answer in time");
  }
}

}  // namespace opsorch::process
