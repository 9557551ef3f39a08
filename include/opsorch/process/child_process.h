// A child process that answers one JSON line per request (plugins and workflow script workers):
// spawned without a shell and with an environment of the caller's choosing, talking over
// stdin/stdout, with its stderr drained line by line by a thread of its own. Not thread-safe:
// callers lend a process to one call at a time (the protocols have no request ids).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>

#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/result.h>

namespace opsorch::process {

using Clock = std::chrono::steady_clock;
using StderrSink = std::function<void(std::string_view line)>;

// The environment a child process (plugin or script worker) starts with: PATH, HOME, LANG,
// LC_*, TZ and the variables named in `extra`, as this process has them. Nothing else is
// inherited, so opsorch's own secrets (OPSORCH_BEARER_TOKEN, OPSORCH_SECRET_KEY, provider
// configs) never reach a child; names starting with OPSORCH_ are skipped even when listed.
std::vector<std::string> MinimalEnvironment(const std::vector<std::string>& extra);

class ChildProcess {
 public:
  // `environment` ("NAME=value" entries) is the child's whole environment: nothing of the
  // server's is inherited (see MinimalEnvironment).
  // Errors: plugin_unavailable naming the path and the errno text (e.g. no such file).
  static Result<std::unique_ptr<ChildProcess>> Spawn(const std::string& path,
                                                     const std::vector<std::string>& environment,
                                                     StderrSink sink);
  ~ChildProcess();  // kills the process group if still running, reaps, joins the stderr thread
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Writes `request` (one line, with its newline) and reads the next JSON value from stdout.
  // Any error leaves the process unusable (dead, hung or out of sync): plugin_crashed,
  // plugin_timeout or plugin_protocol_error, each with a message that says what happened.
  Result<JsonValue> RoundTrip(std::string_view request, Clock::time_point deadline,
                              std::size_t max_response_bytes);

  // The steps of RoundTrip, for callers that wait on the descriptors themselves (an event loop):
  // WriteSome writes from `request` at `*written` without blocking and says whether all of it
  // is out; ReadSome reads what is there and returns the answer once it is complete (nullopt:
  // wait for stdout to become readable and call again). Errors are those of RoundTrip.
  Result<bool> WriteSome(std::string_view request, std::size_t* written);
  Result<std::optional<JsonValue>> ReadSome(std::size_t max_response_bytes);
  int stdin_fd() const { return stdin_fd_; }
  int stdout_fd() const { return stdout_fd_; }

  // Before lending the process to a call: false when it has exited or wrote output nobody asked
  // for since the last answer (then it must be replaced, not used).
  bool Idle();

  // EOF on stdin, then SIGTERM after `grace`, then SIGKILL after another `grace`; reaps. Blocks.
  void Stop(std::chrono::milliseconds grace);
  // SIGKILL to the process group; reaps.
  void Kill();

  pid_t pid() const { return pid_; }
  // The pidfd of this exact process (safe against pid reuse), or -1 (old kernel). Valid for the
  // life of this object.
  int pidfd() const { return pidfd_; }
  // "exit status 3", "signal 11 (Segmentation fault)", or "running".
  std::string ExitDescription();

 private:
  ChildProcess();
  // Waits up to `timeout` for the child to exit; true when it has been reaped.
  bool WaitExit(std::chrono::milliseconds timeout);
  void CloseStdin();
  void DrainStderr(int stop_fd);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  int stop_fd_ = -1;  // eventfd that ends the stderr thread
  bool reaped_ = false;
  int wait_status_ = 0;
  std::string pending_;       // stdout bytes read past the last answer
  std::size_t received_ = 0;  // bytes of the current answer so far
  JsonStreamReader reader_;
  StderrSink sink_;
  std::thread stderr_thread_;
};

}  // namespace opsorch::process
