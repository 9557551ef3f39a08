// The built opsorch binary run as a child process, as a user runs it (fork/exec, environment
// only), for end-to-end tests that need a real process: signals, restarts, the processes it
// starts. Plus the small helpers such tests share.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace opsorch::testing {

// The whole file, or "" when it cannot be read.
std::string ReadAll(const std::filesystem::path& p);

// Polls `pred` until it holds or `limit` passes; true when it held.
template <class Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A loopback TCP port that was free a moment ago (0 when none could be had).
std::uint16_t UnusedPort();

// `opsorch serve [extra]` with exactly the given environment (plus PATH and HOME), on a
// loopback port, stdout and stderr appended to `log`. Killed and reaped on destruction.
class ServerProcess {
 public:
  struct Exit {
    bool exited = false;  // false: still running after the limit (then killed)
    int code = -1;        // exit status, or -1 when killed by a signal
    int signal = 0;
    std::chrono::milliseconds took{0};

    // Exited by itself, with status 0.
    bool clean() const { return exited && code == 0; }
  };

  // Started and answering GET /health within 15 s; else nullptr and `*error` says why (with
  // the log). A port taken by someone else between choosing and binding it is retried.
  static std::unique_ptr<ServerProcess> Start(std::map<std::string, std::string> env,
                                              const std::vector<std::string>& extra,
                                              const std::filesystem::path& log, std::string* error);

  ~ServerProcess() { Kill(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  std::string Log() const { return ReadAll(log_); }

  // Not yet exited (reaps it when it has).
  bool Running();

  // SIGKILL and reap; the wait status.
  int Kill();

  // SIGTERM, then waits up to `limit` for the exit; after that, SIGKILL.
  Exit Terminate(std::chrono::milliseconds limit);

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::filesystem::path log_;
  int status_ = 0;  // wait status once reaped_
  bool reaped_ = false;
};

}  // namespace opsorch::testing
