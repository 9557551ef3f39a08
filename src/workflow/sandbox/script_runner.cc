// The supervisor of the script workers: a pool of idle opsorch-script-worker processes, one lent
// to each Run for its whole duration (callbacks included), killed at its wall-clock deadline.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <opsorch/log/log.h>
#include <opsorch/plugin/plugin_host.h>
#include <opsorch/process/child_process.h>
#include <opsorch/workflow/script.h>

#include "workflow/sandbox/lua_sandbox.h"
#include "workflow/sandbox/protocol.h"

namespace opsorch::workflow {
namespace {

using process::ChildProcess;
using process::Clock;
using sandbox::BytesFromJson;
using sandbox::BytesToJson;
using sandbox::Field;
using sandbox::StringField;

constexpr auto kSpawnTimeout = std::chrono::seconds(10);
// ctx.persist.get/set calls one run may make (each is a host-side SQLite statement).
constexpr std::size_t kMaxPersistCallsPerRun = 10000;
constexpr auto kStopGrace = std::chrono::milliseconds(200);
// Wall-clock allowance on top of twice the CPU limit: scheduling on a loaded machine, and
// moving large bodies through the pipe.
constexpr auto kWallMargin = std::chrono::milliseconds(250);
// CPU the worker may use beyond cpu_time before a wall-clock overrun counts as a runaway (the
// hook stops Lua code at cpu_time; parsing the request and the answer take some too).
constexpr auto kCpuMargin = std::chrono::milliseconds(100);

std::string DefaultWorkerPath() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "opsorch-script-worker";
  std::string self(buf, static_cast<std::size_t>(n));
  const auto slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) +
         "/opsorch-script-worker";
}

JsonObject ReplyError(const Error& e) {
  JsonObject o;
  o["op"] = "reply";
  o["error"] = sandbox::ErrorToJson(e);
  return o;
}

// CPU time of process `pid` (the whole worker), or -1 when it cannot be read.
std::int64_t ProcessCpuNs(pid_t pid) {
  clockid_t clock;
  timespec ts;
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The wall-clock budget of one run on its worker, callbacks excluded.
struct RunClock {
  pid_t pid = -1;
  std::int64_t cpu_start_ns = -1;
  std::int64_t cpu_allow_ns = 0;
  Clock::duration remaining{};       // before the worker is suspected of running away
  Clock::duration hard_remaining{};  // never extended
  Clock::duration worker_wall{};     // spent so far

  // At the deadline: a worker that used less CPU than allowed is starved by a loaded machine,
  // not running away, so it gets more time (up to the hard limit); one that used more is
  // stuck in a long C call (the hook would have stopped Lua code) and is killed.
  bool Extend() {
    if (cpu_start_ns < 0 || hard_remaining <= Clock::duration::zero()) return false;
    const std::int64_t now = ProcessCpuNs(pid);
    if (now < 0) return false;
    const std::int64_t used = now - cpu_start_ns;
    if (used >= cpu_allow_ns) return false;
    remaining = std::max<Clock::duration>(std::chrono::milliseconds(20),
                                          std::chrono::nanoseconds(2 * (cpu_allow_ns - used)));
    return true;
  }
};

// Waits until `fd` is ready for `events` within the run's budget; false on timeout.
bool WaitFd(int fd, short events, RunClock& clock) {
  while (true) {
    const auto start = Clock::now();
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        std::min(clock.remaining, clock.hard_remaining));
    pollfd p{fd, events, 0};
    const int r = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    const auto spent = Clock::now() - start;
    clock.remaining -= spent;
    clock.hard_remaining -= spent;
    clock.worker_wall += spent;
    if (r > 0) return true;
    if (r < 0 && errno == EINTR) continue;
    if (clock.remaining > Clock::duration::zero() &&
        clock.hard_remaining > Clock::duration::zero()) {
      continue;
    }
    if (!clock.Extend()) return false;
  }
}

// One request/answer with the worker, like ChildProcess::RoundTrip but with a deadline that
// follows the worker's CPU use (RunClock::Extend).
Result<JsonValue> Exchange(ChildProcess& w, std::string_view line, RunClock& clock,
                           std::size_t max_answer) {
  std::size_t written = 0;
  while (true) {
    auto done = w.WriteSome(line, &written);
    if (!done) return Fail(std::move(done.error()));
    if (*done) break;
    if (!WaitFd(w.stdin_fd(), POLLOUT, clock)) {
      return Fail(errc::kPluginTimeout, "script worker did not read its request in time");
    }
  }
  while (true) {
    auto answer = w.ReadSome(max_answer);
    if (!answer) return Fail(std::move(answer.error()));
    if (*answer) return std::move(**answer);
    if (!WaitFd(w.stdout_fd(), POLLIN, clock)) {
      return Fail(errc::kPluginTimeout, "script worker did not answer in time");
    }
  }
}

class ScriptRunnerImpl final : public ScriptRunner {
 public:
  ScriptRunnerImpl(ScriptRunnerOptions options, std::string path)
      : options_(std::move(options)), path_(std::move(path)) {}

  ~ScriptRunnerImpl() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    reaper_cv_.notify_all();
    if (reaper_.joinable()) reaper_.join();
    std::vector<IdleWorker> idle;
    {
      std::lock_guard lock(mu_);
      idle.swap(idle_);
    }
    for (auto& w : idle) w.process->Stop(kStopGrace);
  }

  Status Prestart() {
    for (std::size_t i = 0; i < options_.min_workers; ++i) {
      auto w = Spawn();
      if (!w) return Fail(std::move(w.error()));
      std::lock_guard lock(mu_);
      idle_.push_back({std::move(*w), Clock::now()});
    }
    if (options_.idle_timeout.count() > 0) reaper_ = std::thread([this] { Reap(); });
    return {};
  }

  Result<ScriptOutput> Run(const ScriptInput& input, const ScriptLimits& limits,
                           ScriptHost& host) override {
    auto worker = Acquire();
    if (!worker) {
      return Fail(script_errc::kScriptWorker,
                  "processor " + input.chunk_name + ": " + worker.error().message);
    }
    bool healthy = true;
    auto result = RunOn(**worker, input, limits, host, &healthy);
    if (healthy) {
      Release(std::move(*worker));
    } else {
      Discard(std::move(*worker));
    }
    return result;
  }

  std::size_t LiveWorkers() const override { return live_.load(); }
  std::uint64_t WorkersReplaced() const override { return replaced_.load(); }

 private:
  Result<std::unique_ptr<ChildProcess>> Spawn() {
    // The worker runs untrusted scripts: it gets no variable of opsorch's (MinimalEnvironment).
    auto p = ChildProcess::Spawn(path_, process::MinimalEnvironment({}), [](std::string_view line) {
      log::Warn("script worker stderr", {{"line", line}});
    });
    if (!p) return Fail(script_errc::kScriptWorker, p.error().message);
    JsonObject init;
    init["op"] = "init";
    init["version"] = sandbox::kProtocolVersion;
    init["worker_memory_bytes"] = static_cast<std::uint64_t>(options_.worker_memory_bytes);
    init["seccomp"] = options_.seccomp;
    auto ready =
        (*p)->RoundTrip(boost::json::serialize(init) + "\n", Clock::now() + kSpawnTimeout, 4096);
    if (!ready || !ready->is_object() || StringField(ready->get_object(), "op") != "ready") {
      const std::string why = ready ? "unexpected answer to init" : ready.error().message;
      (*p)->Kill();
      return Fail(script_errc::kScriptWorker, "script worker " + path_ + " did not start: " + why);
    }
    live_.fetch_add(1);
    return std::move(*p);
  }

  Result<std::unique_ptr<ChildProcess>> Acquire() {
    while (true) {
      std::unique_ptr<ChildProcess> w;
      {
        std::lock_guard lock(mu_);
        if (idle_.empty()) break;
        w = std::move(idle_.back().process);  // the most recently used: the others age out
        idle_.pop_back();
      }
      if (w->Idle()) return w;
      Discard(std::move(w));  // died while idle (killed from outside, OOM killer)
    }
    // Never wait for a busy worker: a runaway script elsewhere must not delay this run.
    return Spawn();
  }

  void Release(std::unique_ptr<ChildProcess> w) {
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < options_.max_workers) {
        idle_.push_back({std::move(w), Clock::now()});
        return;
      }
    }
    w->Stop(kStopGrace);
    live_.fetch_sub(1);
  }

  void Discard(std::unique_ptr<ChildProcess> w) {
    w->Kill();
    w.reset();
    live_.fetch_sub(1);
    replaced_.fetch_add(1);
    // Keep the pool warm: the replacement is spawned now, not by the next caller.
    std::size_t idle_count;
    {
      std::lock_guard lock(mu_);
      idle_count = idle_.size();
    }
    if (idle_count < options_.min_workers) {
      auto fresh = Spawn();
      if (fresh) {
        std::lock_guard lock(mu_);
        idle_.push_back({std::move(*fresh), Clock::now()});
      }
    }
  }

  // Maps a failed round trip to the run's error; the worker is not reused afterwards.
  Error WorkerFailure(ChildProcess& w, const Error& e, const ScriptInput& input,
                      std::chrono::milliseconds wall) {
    const std::string who = "processor " + input.chunk_name + ": ";
    if (e.code == errc::kPluginTimeout) {
      w.Kill();
      return MakeError(script_errc::kScriptTimeout,
                       who + "killed after " + std::to_string(wall.count()) +
                           " ms of wall-clock time (a long-running library call, such as a "
                           "pathological pattern match, does not stop at the CPU limit)");
    }
    if (e.code == errc::kPluginCrashed) {
      const std::string exit = w.ExitDescription();
      if (exit == "exit status " + std::to_string(sandbox::kExitOutOfMemory)) {
        return MakeError(script_errc::kScriptMemory,
                         who + "the script worker ran out of memory (worker_memory_bytes " +
                             std::to_string(options_.worker_memory_bytes) + ")");
      }
      std::string hint;
      if (exit.rfind("signal 31", 0) == 0) hint = "; a forbidden system call (seccomp)";
      if (exit.rfind("signal 9", 0) == 0) hint = "; killed (perhaps by the kernel's OOM killer)";
      return MakeError(script_errc::kScriptWorker,
                       who + "the script worker died (" + exit + hint + ")");
    }
    return MakeError(script_errc::kScriptWorker, who + "script worker failed: " + e.message);
  }

  // One reply to a callback; false when the worker asked for something unknown.
  bool Callback(const JsonObject& call, ScriptHost& host, JsonObject* reply) {
    const std::string_view fn = StringField(call, "fn");
    reply->clear();
    (*reply)["op"] = "reply";
    if (fn == "persist_get") {
      auto key = BytesFromJson(Field(call, "key"), "key");
      if (!key) return false;
      auto v = host.PersistGet(*key);
      if (!v) {
        *reply = ReplyError(v.error());
      } else {
        (*reply)["value"] = *v ? BytesToJson(**v) : JsonValue(nullptr);
      }
      return true;
    }
    if (fn == "persist_set") {
      auto key = BytesFromJson(Field(call, "key"), "key");
      if (!key) return false;
      const JsonValue* value = Field(call, "value");
      Status s;
      if (value == nullptr || value->is_null()) {
        s = host.PersistSet(*key, std::nullopt);
      } else {
        auto v = BytesFromJson(value, "value");
        if (!v) return false;
        s = host.PersistSet(*key, std::string_view(*v));
      }
      if (!s) *reply = ReplyError(s.error());
      return true;
    }
    if (fn == "send_to_step" || fn == "send_to_step_async") {
      auto step = BytesFromJson(Field(call, "step"), "step");
      auto message = sandbox::MessageFromJson(Field(call, "message"));
      if (!step || !message) return false;
      if (fn == "send_to_step_async") {
        auto s = host.SendToStepAsync(*step, std::move(*message));
        if (!s) *reply = ReplyError(s.error());
        return true;
      }
      StepCallResult r = host.SendToStep(*step, std::move(*message));
      (*reply)["message"] = sandbox::MessageToJson(r.message);
      (*reply)["step_error"] = r.error ? JsonValue(sandbox::ErrorToJson(*r.error)) : nullptr;
      return true;
    }
    return false;
  }

  Result<ScriptOutput> RunOn(ChildProcess& w, const ScriptInput& input, const ScriptLimits& limits,
                             ScriptHost& host, bool* healthy) {
    JsonObject request = sandbox::RunRequestToJson(input, limits);
    request["op"] = "run";
    std::string line = boost::json::serialize(request);
    line.push_back('\n');
    request = JsonObject();
    RunClock clock;
    clock.pid = w.pid();
    clock.cpu_start_ns = ProcessCpuNs(clock.pid);
    clock.cpu_allow_ns = std::chrono::nanoseconds(limits.cpu_time + kCpuMargin).count();
    // The worker's share of the run; time spent in host callbacks is not counted.
    clock.remaining = std::chrono::duration_cast<Clock::duration>(
        2 * limits.cpu_time + kWallMargin +
        std::chrono::milliseconds(line.size() / (1u << 20)));  // ~1 ms per MB moved
    clock.hard_remaining = 10 * clock.remaining;
    const std::size_t max_answer = 16 * limits.max_string_bytes + (1u << 20);
    Clock::duration host_time{};
    std::size_t persist_calls = 0;
    while (true) {
      auto answer = Exchange(w, line, clock, max_answer);
      if (!answer) {
        *healthy = false;
        return Fail(WorkerFailure(
            w, answer.error(), input,
            std::chrono::duration_cast<std::chrono::milliseconds>(clock.worker_wall)));
      }
      if (!answer->is_object()) {
        *healthy = false;
        return Fail(script_errc::kScriptWorker,
                    "processor " + input.chunk_name + ": script worker sent a non-object");
      }
      const JsonObject& o = answer->get_object();
      const std::string_view op = StringField(o, "op");
      if (op == "result") {
        auto out = sandbox::OutputFromJson(o);
        if (!out) *healthy = false;
        return out;
      }
      if (op == "error") {
        auto code = BytesFromJson(Field(o, "code"), "code");
        auto message = BytesFromJson(Field(o, "message"), "message");
        if (!code || !message) {
          *healthy = false;
          return Fail(script_errc::kScriptWorker,
                      "processor " + input.chunk_name + ": script worker sent a malformed error");
        }
        return Fail(std::move(*code), std::move(*message));
      }
      if (op != "call") {
        *healthy = false;
        return Fail(script_errc::kScriptWorker,
                    "processor " + input.chunk_name + ": unexpected message from script worker");
      }
      JsonObject reply;
      bool ok = false;
      // ctx.persist work runs here, in the host, while the worker's clocks stand still: it is
      // counted against the run's cpu_time and capped in number, so that a script cannot make
      // the host work without bound (send_to_step runs a step under its own limits).
      const bool persist = StringField(o, "fn").starts_with("persist_");
      const auto host_started = Clock::now();
      try {
        ok = Callback(o, host, &reply);
      } catch (const std::exception& e) {
        *healthy = false;
        return Fail(script_errc::kScriptWorker,
                    "processor " + input.chunk_name + ": callback failed: " + e.what());
      }
      if (!ok) {
        *healthy = false;
        return Fail(script_errc::kScriptWorker,
                    "processor " + input.chunk_name + ": malformed callback from script worker");
      }
      if (persist) {
        host_time += Clock::now() - host_started;
        if (++persist_calls > kMaxPersistCallsPerRun) {
          *healthy = false;  // the worker waits for a reply it will not get
          return Fail(script_errc::kScriptError, "processor " + input.chunk_name + ": more than " +
                                                     std::to_string(kMaxPersistCallsPerRun) +
                                                     " ctx.persist calls in one run");
        }
        if (host_time > limits.cpu_time) {
          *healthy = false;
          return Fail(script_errc::kScriptTimeout,
                      "processor " + input.chunk_name + ": ctx.persist calls used more than the " +
                          std::to_string(limits.cpu_time.count()) + " ms cpu_time (" +
                          std::to_string(persist_calls) + " calls)");
        }
      }
      line = boost::json::serialize(reply);
      line.push_back('\n');
    }
  }

  // Workers beyond min_workers that stayed idle for idle_timeout are stopped: a burst of
  // concurrent runs must not leave its workers' memory behind for good.
  void Reap() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      reaper_cv_.wait_for(lock, std::clamp<Clock::duration>(options_.idle_timeout / 4,
                                                            std::chrono::milliseconds(10),
                                                            std::chrono::seconds(1)));
      if (stopping_) return;
      const auto cutoff = Clock::now() - options_.idle_timeout;
      std::vector<std::unique_ptr<ChildProcess>> expired;
      // idle_ is ordered by release time, oldest first.
      while (idle_.size() > options_.min_workers && idle_.front().since < cutoff) {
        expired.push_back(std::move(idle_.front().process));
        idle_.erase(idle_.begin());
      }
      if (expired.empty()) continue;
      lock.unlock();
      for (auto& w : expired) {
        w->Stop(kStopGrace);
        live_.fetch_sub(1);
      }
      lock.lock();
    }
  }

  struct IdleWorker {
    std::unique_ptr<ChildProcess> process;
    Clock::time_point since;
  };

  const ScriptRunnerOptions options_;
  const std::string path_;
  std::mutex mu_;
  std::vector<IdleWorker> idle_;  // oldest release first
  bool stopping_ = false;
  std::condition_variable reaper_cv_;
  std::thread reaper_;
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> replaced_{0};
};

}  // namespace

Result<std::unique_ptr<ScriptRunner>> ScriptRunner::Create(const ScriptRunnerOptions& options) {
  std::string path = options.worker_path.empty() ? DefaultWorkerPath() : options.worker_path;
  if (::access(path.c_str(), X_OK) != 0) {
    return Fail(script_errc::kScriptWorker, "script worker " + path + " is not executable");
  }
  if (options.max_workers == 0) {
    return Fail(script_errc::kScriptWorker, "script runner: max_workers must be at least 1");
  }
  auto runner = std::make_unique<ScriptRunnerImpl>(options, std::move(path));
  if (auto s = runner->Prestart(); !s) return Fail(std::move(s.error()));
  return std::unique_ptr<ScriptRunner>(std::move(runner));
}

Status CheckScriptSyntax(std::string_view chunk_name, std::string_view source) {
  return sandbox::CompileOnly(chunk_name, source);
}

}  // namespace opsorch::workflow
