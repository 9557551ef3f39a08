#include "plugin/plugin_client.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>

namespace opsorch::plugin {
namespace {

// The error a plugin's typed error stands for. bad_request, not_found and conflict keep their
// meaning; a code the plugin made up, or one opsorch also uses for its own work (rate_limited,
// timeout, unavailable, …), passes through as the plugin's own, 502. Only codes that would tell
// the client something false about its own request or about opsorch itself (unauthorized → 401,
// payload_too_large → 413, internal → 500, a missing provider → 501, the plugin host's own
// plugin_* codes) become provider_error naming the code.
Error PluginError(const std::string& code, std::string message) {
  const Error parsed(code, {});
  switch (parsed.code) {
    case ErrorCode::kBadRequest:
    case ErrorCode::kNotFound:
    case ErrorCode::kConflict:
    case ErrorCode::kProviderError:
      return Error(parsed.code, std::move(message));
    case ErrorCode::kUnauthorized:
    case ErrorCode::kForbidden:
    case ErrorCode::kPayloadTooLarge:
    case ErrorCode::kHeadersTooLarge:
    case ErrorCode::kInternal:
    case ErrorCode::kProviderMissing:
    case ErrorCode::kSecretProviderMissing:
    case ErrorCode::kPluginCrashed:
    case ErrorCode::kPluginProtocolError:
    case ErrorCode::kPluginUnavailable:
    case ErrorCode::kPluginTimeout:
      return Error(ErrorCode::kProviderError, code + ": " + message);
    default:
      return Error(ErrorCode::kProviderDefined, std::move(message), code);
  }
}

std::chrono::milliseconds Backoff(unsigned failures, std::chrono::milliseconds cap) {
  // First failure: respawn on the next call. Then 100 ms, 200 ms, … up to the cap.
  if (failures <= 1) return std::chrono::milliseconds(0);
  const unsigned shift = std::min(failures - 2, 20u);
  return std::min(std::chrono::milliseconds(100) * (1u << shift), cap);
}

}  // namespace

// One call on the event-loop path, passed from step to step (write, wait, read, wait, finish).
struct PluginClient::AsyncCall {
  std::shared_ptr<PluginClient> client;
  http::Loop* loop = nullptr;
  std::string request;
  std::size_t written = 0;
  Clock::time_point deadline;
  std::function<void(Result<JsonValue>)> done;
  std::size_t slot = 0;
};

Reaper::~Reaper() {
  std::vector<Stopper> stoppers;
  {
    std::lock_guard lock(mu_);
    stoppers.swap(stoppers_);
  }
  for (auto& s : stoppers) s.thread.join();
}

void Reaper::Retire(std::unique_ptr<process::ChildProcess> process,
                    std::chrono::milliseconds grace) {
  if (!process) return;
  std::lock_guard lock(mu_);
  // Join what has finished, so a plugin replaced on every call does not pile up threads.
  std::erase_if(stoppers_, [](Stopper& s) {
    if (!s.done->load()) return false;
    s.thread.join();
    return true;
  });
  // Rare (reconfiguration, shutdown, a replaced process), so a thread each keeps stops parallel.
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread t([p = std::move(process), grace, done]() mutable {
    p->Stop(grace);
    p.reset();
    done->store(true);
  });
  stoppers_.push_back(Stopper{std::move(t), std::move(done)});
}

PluginClient::PluginClient(std::string capability, std::string path, const JsonObject& config,
                           PluginSettings settings, std::shared_ptr<Reaper> reaper,
                           metrics::Registry* metrics)
    : capability_(std::move(capability)),
      path_(std::move(path)),
      name_(std::filesystem::path(path_).filename().string()),
      settings_(settings),
      stderr_log_(std::make_shared<StderrLog>(capability_, path_, config,
                                              settings.stderr_lines_per_second)),
      redactor_(stderr_log_->redactor()),
      reaper_(std::move(reaper)),
      metrics_(metrics),
      slots_(std::max(1u, settings.pool_size)) {
  AppendJsonObject(config_json_, config);
}

PluginClient::~PluginClient() {
  for (Slot& s : slots_) reaper_->Retire(std::move(s.process), settings_.stop_grace);
}

std::optional<std::size_t> PluginClient::FreeSlotLocked() const {
  std::optional<std::size_t> idle_empty;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].busy) continue;
    if (slots_[i].process) return i;  // a running process first: no spawn needed
    if (!idle_empty) idle_empty = i;
  }
  return idle_empty;
}

Result<std::size_t> PluginClient::Acquire(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  if (aborted_) return Fail(errc::kPluginUnavailable, "the server is shutting down");
  auto slot = FreeSlotLocked();
  if (!slot) {
    if (waiting_ + queued_.size() >= settings_.max_waiting_calls) {
      return Fail(errc::kPluginUnavailable,
                  "plugin " + name_ + " is busy: " + std::to_string(waiting_ + queued_.size()) +
                      " calls are already waiting for a free process");
    }
    ++waiting_;
    const bool got = cv_.wait_until(
        lock, deadline, [&] { return aborted_ || (slot = FreeSlotLocked()).has_value(); });
    --waiting_;
    if (aborted_) return Fail(errc::kPluginUnavailable, "the server is shutting down");
    if (!got) {
      return Fail(errc::kPluginTimeout,
                  "plugin " + name_ + ": no process became free before the deadline");
    }
  }
  slots_[*slot].busy = true;
  return *slot;
}

void PluginClient::Release(std::size_t slot) {
  std::vector<std::shared_ptr<AsyncCall>> expired;
  std::shared_ptr<AsyncCall> next;
  {
    std::lock_guard lock(mu_);
    // Queued event-loop calls go first: they hold no thread while they wait.
    const auto now = Clock::now();
    while (!queued_.empty()) {
      auto call = std::move(queued_.front());
      queued_.pop_front();
      if (call->deadline <= now || aborted_) {
        expired.push_back(std::move(call));
        continue;
      }
      next = std::move(call);
      next->slot = slot;
      break;
    }
    if (!next) slots_[slot].busy = false;
  }
  for (auto& call : expired) {
    http::Loop& loop = *call->loop;
    loop.Post([call = std::move(call)] {
      call->done(Fail(errc::kPluginTimeout, "plugin " + call->client->name_ +
                                                ": no process became free before the deadline"));
    });
  }
  if (next) {
    // On the waiting call's own loop: its callbacks must run on its thread.
    http::Loop& loop = *next->loop;
    loop.Post([next = std::move(next)]() mutable {
      PluginClient& self = *next->client;
      self.StartAsync(std::move(next));
    });
    return;
  }
  cv_.notify_one();
}

std::string PluginClient::Request(std::string_view method, std::string_view payload) const {
  // Contract §8.3: keys in this order, config resent on every call.
  std::string request;
  request.reserve(32 + method.size() + config_json_.size() + payload.size());
  request.append("{\"method\":");
  AppendJsonString(request, method);
  request.append(",\"config\":").append(config_json_).append(",\"payload\":");
  request.append(payload.empty() ? std::string_view("null") : payload).append("}\n");
  return request;
}

Result<JsonValue> PluginClient::Call(std::string_view method, std::string_view payload) {
  const Clock::time_point deadline = Clock::now() + settings_.call_timeout;
  const std::string request = Request(method, payload);
  auto slot = Acquire(deadline);
  if (!slot) {
    Count("opsorch_plugin_failures_total", "Plugin calls that failed in the host",
          WireCode(slot.error()));
    return Fail(std::move(slot.error()));
  }
  // The slot is ours until Release: its fields are not touched by other calls.
  auto result = CallOn(slots_[*slot], request, deadline);
  Release(*slot);
  if (!result) return Fail(std::move(result.error()));
  return Interpret(std::move(*result));
}

Status PluginClient::Prepare(Slot& slot) {
  if (slot.process && !slot.process->Idle()) {
    // It exited between calls, or wrote output nobody asked for: start afresh.
    log::Warn("plugin process replaced before a call",
              {{"capability", capability_},
               {"plugin", path_},
               {"state", slot.process->ExitDescription()}});
    reaper_->Retire(std::move(slot.process), settings_.stop_grace);
  }
  if (!slot.process) {
    if (const auto now = Clock::now(); now < slot.next_start) {
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(slot.next_start - now).count();
      Count("opsorch_plugin_failures_total", "Plugin calls that failed in the host",
            Name(errc::kPluginUnavailable));
      return Fail(errc::kPluginUnavailable, "plugin " + name_ + " failed " +
                                                std::to_string(slot.failures) +
                                                " times in a row (last: " + slot.last_failure +
                                                "); next start in " + std::to_string(wait) + " ms");
    }
    auto spawned = process::ChildProcess::Spawn(
        path_, settings_.environment,
        [log = stderr_log_](std::string_view line) { log->Line(line); });
    if (!spawned) {
      Failed(slot, spawned.error());
      Error e = std::move(spawned.error());
      e.message = "plugin " + name_ + ": " + e.message;
      return Fail(std::move(e));
    }
    slot.process = std::move(*spawned);
    Count("opsorch_plugin_starts_total", "Plugin processes started", "");
  }
  std::lock_guard lock(mu_);
  if (aborted_) return Fail(errc::kPluginUnavailable, "the server is shutting down");
  slot.busy_pidfd = slot.process->pidfd();
  slot.busy_pid = slot.process->pid();
  return Ok();
}

Result<JsonValue> PluginClient::Completed(Slot& slot, Result<JsonValue> response) {
  {
    std::lock_guard lock(mu_);
    slot.busy_pidfd = -1;  // before the process (and its pidfd) may be destroyed below
    slot.busy_pid = -1;
  }
  if (!response) {
    // Dead, hung or out of sync: it cannot serve another call.
    slot.process->Kill();
    slot.process.reset();
    Error e = std::move(response.error());
    e.message = "plugin " + name_ + ": " + e.message;
    Failed(slot, e);
    return Fail(std::move(e));
  }
  slot.failures = 0;
  return response;
}

Result<JsonValue> PluginClient::CallOn(Slot& slot, std::string_view request,
                                       Clock::time_point deadline) {
  if (auto st = Prepare(slot); !st) return Fail(std::move(st.error()));
  return Completed(slot, slot.process->RoundTrip(request, deadline, settings_.max_response_bytes));
}

// ---- the event-loop path --------------------------------------------------------------------

void PluginClient::CallAsync(http::Loop& loop, std::string_view method, std::string_view payload,
                             std::function<void(Result<JsonValue>)> done) {
  auto call = std::make_shared<AsyncCall>();
  call->client = shared_from_this();
  call->loop = &loop;
  call->request = Request(method, payload);
  call->deadline = Clock::now() + settings_.call_timeout;
  call->done = std::move(done);
  std::optional<std::size_t> slot;
  std::optional<Error> refused;  // answered after the lock is released
  {
    std::lock_guard lock(mu_);
    if (aborted_) {
      refused = MakeError(errc::kPluginUnavailable, "the server is shutting down");
    } else if ((slot = FreeSlotLocked())) {
      slots_[*slot].busy = true;
    } else if (queued_.size() >= settings_.max_waiting_calls) {
      refused = MakeError(errc::kPluginUnavailable,
                          "plugin " + name_ + " is busy: " + std::to_string(queued_.size()) +
                              " calls are already waiting for a free process");
    } else {
      queued_.push_back(std::move(call));  // started by the Release that frees a process
      return;
    }
  }
  if (refused) {
    Count("opsorch_plugin_failures_total", "Plugin calls that failed in the host",
          WireCode(*refused));
    call->done(Fail(std::move(*refused)));
    return;
  }
  call->slot = *slot;
  StartAsync(std::move(call));
}

void PluginClient::StartAsync(std::shared_ptr<AsyncCall> call) {
  Slot& slot = slots_[call->slot];
  if (auto st = Prepare(slot); !st) {
    FinishAsync(std::move(call), Fail(std::move(st.error())), /*prepared=*/false);
    return;
  }
  WriteAsync(std::move(call));
}

void PluginClient::WriteAsync(std::shared_ptr<AsyncCall> call) {
  process::ChildProcess& process = *slots_[call->slot].process;
  auto done = process.WriteSome(call->request, &call->written);
  if (!done) return FinishAsync(std::move(call), Fail(std::move(done.error())));
  if (*done) return ReadAsync(std::move(call));
  const int fd = process.stdin_fd();
  http::Loop& loop = *call->loop;
  const auto deadline = call->deadline;
  loop.WaitFd(fd, /*writable=*/true, deadline, [call = std::move(call)](bool ready) mutable {
    PluginClient& self = *call->client;
    if (!ready) {
      return self.FinishAsync(
          std::move(call), Fail(errc::kPluginTimeout, "plugin did not read its request in time"));
    }
    self.WriteAsync(std::move(call));
  });
}

void PluginClient::ReadAsync(std::shared_ptr<AsyncCall> call) {
  process::ChildProcess& process = *slots_[call->slot].process;
  auto answer = process.ReadSome(settings_.max_response_bytes);
  if (!answer) return FinishAsync(std::move(call), Fail(std::move(answer.error())));
  if (*answer) return FinishAsync(std::move(call), std::move(**answer));
  const int fd = process.stdout_fd();
  http::Loop& loop = *call->loop;
  const auto deadline = call->deadline;
  loop.WaitFd(fd, /*writable=*/false, deadline, [call = std::move(call)](bool ready) mutable {
    PluginClient& self = *call->client;
    if (!ready) {
      return self.FinishAsync(std::move(call),
                              Fail(errc::kPluginTimeout, "plugin did not answer in time"));
    }
    self.ReadAsync(std::move(call));
  });
}

void PluginClient::FinishAsync(std::shared_ptr<AsyncCall> call, Result<JsonValue> response,
                               bool prepared) {
  if (prepared) response = Completed(slots_[call->slot], std::move(response));
  Release(call->slot);
  // Failures were counted where they happened (Failed, Prepare): not again here.
  if (!response) return call->done(Fail(std::move(response.error())));
  call->done(Interpret(std::move(*response)));
}

void PluginClient::Failed(Slot& slot, const Error& error) {
  ++slot.failures;
  slot.last_failure = error.message;
  slot.next_start = Clock::now() + Backoff(slot.failures, settings_.max_backoff);
  Count("opsorch_plugin_failures_total", "Plugin calls that failed in the host", WireCode(error));
  log::Warn("plugin call failed", {{"capability", capability_},
                                   {"plugin", path_},
                                   {"code", WireCode(error)},
                                   {"error", redactor_.Apply(error.message)}});
}

void PluginClient::Abort() {
  std::deque<std::shared_ptr<AsyncCall>> queued;
  {
    std::lock_guard lock(mu_);
    aborted_ = true;
    queued.swap(queued_);
    for (Slot& s : slots_) {
      // Through the pidfd: the exact process, even if it exited and its pid was reused.
      if (s.busy_pidfd < 0) continue;
      // The leader through its pidfd (the exact process, even if its pid was reused); the rest
      // of its group only if the leader was still there (then the group id is still its own),
      // so that a wrapper script's child does not keep the pipes open.
      if (::syscall(SYS_pidfd_send_signal, s.busy_pidfd, SIGKILL, nullptr, 0) == 0 &&
          s.busy_pid > 0) {
        ::kill(-s.busy_pid, SIGKILL);
      }
    }
  }
  cv_.notify_all();
  for (auto& call : queued) {
    http::Loop& loop = *call->loop;
    loop.Post([call = std::move(call)] {
      call->done(Fail(errc::kPluginUnavailable, "the server is shutting down"));
    });
  }
}

Result<JsonValue> PluginClient::Interpret(JsonValue response) const {
  if (!response.is_object()) {
    return Fail(errc::kPluginProtocolError,
                "plugin " + name_ + " answered with a JSON value that is not an object");
  }
  JsonObject& obj = response.get_object();
  const JsonValue* error = obj.if_contains("error");
  if (error == nullptr || error->is_null()) {
    JsonValue* result = obj.if_contains("result");
    return result == nullptr ? JsonValue(nullptr) : std::move(*result);
  }
  // Both forms of contract §8.5; a plugin's message may echo its config, so it is masked.
  if (error->is_string()) {
    return Fail(errc::kProviderError, redactor_.Apply(error->get_string()));
  }
  if (error->is_object()) {
    std::string code, message;
    if (const JsonValue* c = error->get_object().if_contains("code"); c && c->is_string()) {
      code = std::string(c->get_string());
    }
    if (const JsonValue* m = error->get_object().if_contains("message"); m && m->is_string()) {
      message = redactor_.Apply(m->get_string());
    }
    if (code.empty()) return Fail(errc::kProviderError, std::move(message));
    return Fail(PluginError(code, std::move(message)));
  }
  std::string text;
  AppendJsonValue(text, *error);
  return Fail(errc::kProviderError, redactor_.Apply(text));
}

PluginClient::StderrLog::StderrLog(std::string capability, std::string path,
                                   const JsonObject& config, double lines_per_second)
    : capability_(std::move(capability)),
      path_(std::move(path)),
      redactor_(config),
      rate_(lines_per_second),
      tokens_(lines_per_second * 5),
      refilled_(Clock::now()) {}

void PluginClient::StderrLog::Line(std::string_view line) {
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    tokens_ = std::min(rate_ * 5,
                       tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate_);
    refilled_ = now;
    if (tokens_ < 1) {
      ++dropped_;
      return;
    }
    tokens_ -= 1;
    dropped = std::exchange(dropped_, 0);
  }
  if (dropped > 0) {
    const std::string n = std::to_string(dropped);
    log::Warn("plugin stderr",
              {{"capability", capability_}, {"plugin", path_}, {"dropped_lines", n}});
  }
  const std::string masked = redactor_.Apply(line);
  log::Warn("plugin stderr", {{"capability", capability_}, {"plugin", path_}, {"line", masked}});
}

void PluginClient::Count(std::string_view name, std::string_view help, std::string_view code) {
  if (metrics_ == nullptr) return;
  if (code.empty()) {
    metrics_->GetCounter(name, help, {{"capability", capability_}}).Inc();
  } else {
    metrics_->GetCounter(name, help, {{"capability", capability_}, {"code", code}}).Inc();
  }
}

}  // namespace opsorch::plugin
