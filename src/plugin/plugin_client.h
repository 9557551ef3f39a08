// The supervised client of one configured plugin: a pool of processes, each lent to one call at
// a time; request framing (contract §8.3) and the response envelope with both error forms (§8.5).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/redactor.h>
#include <opsorch/common/result.h>
#include <opsorch/http/message.h>
#include <opsorch/plugin/plugin_host.h>
#include <opsorch/process/child_process.h>

namespace opsorch::plugin {

using process::Clock;

// Stops retired processes off the request path and waits for all of them on destruction.
class Reaper {
 public:
  ~Reaper();
  void Retire(std::unique_ptr<process::ChildProcess> process, std::chrono::milliseconds grace);

 private:
  struct Stopper {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::vector<Stopper> stoppers_;  // finished ones are joined at the next Retire
};

class PluginClient : public std::enable_shared_from_this<PluginClient> {
 public:
  PluginClient(std::string capability, std::string path, const JsonObject& config,
               PluginSettings settings, std::shared_ptr<Reaper> reaper, metrics::Registry* metrics);
  ~PluginClient();  // hands every process to the reaper
  PluginClient(const PluginClient&) = delete;
  PluginClient& operator=(const PluginClient&) = delete;

  // Sends `method` with `payload` (JSON text, "null" for none) and returns the `result` member
  // (null when absent). Plugin-reported errors keep their code when it is one a provider may
  // use (not_found → 404, bad_request → 400, conflict → 409, any other → 502).
  Result<JsonValue> Call(std::string_view method, std::string_view payload);

  // The same on an event loop: no thread waits; `done` runs on the loop's thread. Calls that find
  // every process busy queue without a thread and start when one is released.
  void CallAsync(http::Loop& loop, std::string_view method, std::string_view payload,
                 std::function<void(Result<JsonValue>)> done);

  // Server shutdown: calls in flight end now (their processes are killed) and new calls fail
  // fast, so that the worker threads can be joined without waiting for plugin deadlines.
  void Abort();

  const std::string& path() const { return path_; }

 private:
  struct Slot {
    std::unique_ptr<process::ChildProcess> process;
    bool busy = false;
    unsigned failures = 0;  // in a row; reset by a good answer
    Clock::time_point next_start{};
    std::string last_failure;
    int busy_pidfd = -1;  // while a call runs: its process's pidfd, for Abort() (guarded by mu_)
    pid_t busy_pid = -1;  // and its pid = process group
  };

  struct AsyncCall;

  std::string Request(std::string_view method, std::string_view payload) const;
  std::optional<std::size_t> FreeSlotLocked() const;
  Result<std::size_t> Acquire(Clock::time_point deadline);
  void Release(std::size_t slot);
  Status Prepare(Slot& slot);  // a live process on the slot, registered for Abort()
  Result<JsonValue> Completed(Slot& slot, Result<JsonValue> response);
  Result<JsonValue> CallOn(Slot& slot, std::string_view request, Clock::time_point deadline);
  void StartAsync(std::shared_ptr<AsyncCall> call);
  void WriteAsync(std::shared_ptr<AsyncCall> call);
  void ReadAsync(std::shared_ptr<AsyncCall> call);
  void FinishAsync(std::shared_ptr<AsyncCall> call, Result<JsonValue> response,
                   bool prepared = true);
  void Failed(Slot& slot, const Error& error);
  Result<JsonValue> Interpret(JsonValue response) const;
  void Count(std::string_view name, std::string_view help, std::string_view code);

  // Logs plugin stderr lines: masked, rate-limited by a token bucket shared by the pool. Shared
  // with the processes' stderr threads, which may outlive this client while being stopped.
  class StderrLog {
   public:
    StderrLog(std::string capability, std::string path, const JsonObject& config,
              double lines_per_second);
    void Line(std::string_view line);
    const Redactor& redactor() const { return redactor_; }

   private:
    const std::string capability_, path_;
    const Redactor redactor_;
    const double rate_;
    std::mutex mu_;
    double tokens_;
    Clock::time_point refilled_;
    std::uint64_t dropped_ = 0;
  };

  const std::string capability_;
  const std::string path_;
  // The binary's file name: what error messages (which reach responses) call the plugin; the
  // full path is only logged.
  const std::string name_;
  const PluginSettings settings_;
  std::string config_json_;  // serialized once: the request prefix is the same for every call
  std::shared_ptr<StderrLog> stderr_log_;
  const Redactor& redactor_;
  std::shared_ptr<Reaper> reaper_;
  metrics::Registry* metrics_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> slots_;
  unsigned waiting_ = 0;                           // threads blocked in Acquire
  std::deque<std::shared_ptr<AsyncCall>> queued_;  // event-loop calls waiting for a process
  bool aborted_ = false;
};

}  // namespace opsorch::plugin
