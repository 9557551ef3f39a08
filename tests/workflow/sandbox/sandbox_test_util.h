// Shared helpers of the sandbox tests: a fake ScriptHost and a runner factory.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/workflow/script.h>

#include "test_paths.h"

namespace opsorch::workflow::testing {

class FakeHost : public ScriptHost {
 public:
  Result<std::optional<std::string>> PersistGet(std::string_view key) override {
    std::lock_guard lock(mu);
    if (fail_persist) return Fail("storage_error", "persistence store is down");
    auto it = store.find(std::string(key));
    if (it == store.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status PersistSet(std::string_view key, std::optional<std::string_view> value) override {
    if (persist_delay.count() > 0) std::this_thread::sleep_for(persist_delay);
    std::lock_guard lock(mu);
    if (fail_persist) return Fail("storage_error", "persistence store is down");
    if (value) {
      store[std::string(key)] = std::string(*value);
    } else {
      store.erase(std::string(key));
    }
    return Ok();
  }
  StepCallResult SendToStep(std::string_view step_id, Message message) override {
    calls.push_back({std::string(step_id), message});
    if (on_step) return on_step(step_id, std::move(message));
    return StepCallResult{std::move(message), std::nullopt};
  }
  Status SendToStepAsync(std::string_view step_id, Message message) override {
    async_calls.push_back({std::string(step_id), std::move(message)});
    return Ok();
  }

  std::mutex mu;
  std::map<std::string, std::string> store;
  bool fail_persist = false;
  std::chrono::milliseconds persist_delay{0};  // a slow store
  std::function<StepCallResult(std::string_view, Message)> on_step;
  std::vector<std::pair<std::string, Message>> calls;
  std::vector<std::pair<std::string, Message>> async_calls;
};

inline ScriptRunnerOptions TestOptions() {
  ScriptRunnerOptions o;
  o.worker_path = OPSORCH_SCRIPT_WORKER;
  o.min_workers = 1;
  o.max_workers = 2;
  return o;
}

inline std::unique_ptr<ScriptRunner> MakeRunner(ScriptRunnerOptions o = TestOptions()) {
  auto r = ScriptRunner::Create(o);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? std::move(*r) : nullptr;
}

inline ScriptInput Input(std::string source, ProcessorKind kind = ProcessorKind::kResult) {
  ScriptInput in;
  in.chunk_name = "dep/wf/step/results";
  in.source = std::move(source);
  in.kind = kind;
  in.now_ms = 1700000000123;
  return in;
}

inline ScriptLimits FastLimits() {
  ScriptLimits l;
  l.cpu_time = std::chrono::milliseconds(200);
  l.memory_bytes = 8u << 20;
  return l;
}

}  // namespace opsorch::workflow::testing
