// Runs one processor (a Lua 5.4 chunk) in the sandbox. Scripts run in a pool of worker
// processes (`opsorch-script-worker`) with OS limits (RLIMIT_AS/NOFILE/CORE, a seccomp
// allowlist); inside the worker a count hook (CPU-time deadline) and an allocator cap stop
// ordinary loops and memory bombs with a clean error that pcall cannot swallow, and the
// supervisor kills a worker that overruns its wall-clock deadline (a long C call such as a
// pathological pattern match never returns to the hook) and replaces it. Each run sees a fresh
// environment: nothing a run does (globals, changed library tables, random seed) reaches a
// later run. The worker protocol is described in src/workflow/sandbox/protocol.h.
//
// The Lua surface (docs/WORKFLOWS.md documents it for authors):
//   base: assert error ipairs next pairs pcall print(→ctx.info) select tonumber tostring type
//   xpcall _G _VERSION — no dofile/loadfile/load/require/collectgarbage/raw*/get-/setmetatable;
//   string (no dump; find/match/gmatch/gsub refuse patterns > 1 KiB and subjects above
//   max_string_bytes; rep refuses results above max_string_bytes), table, math, utf8.
//   Never io, os, debug, package, coroutine. Source only: bytecode is refused.
//   ctx.body() / ctx.set_body(s|nil)
//   ctx.json.decode(s) / ctx.json.encode(v) / ctx.json.null / ctx.json.array([t])
//       objects ↔ tables, arrays ↔ sequences, null ↔ ctx.json.null, integers stay integers,
//       depth ≤ 64, keys sorted on encode; {} encodes as an object, json.array({}) as [].
//   ctx.data([key]) -> table | value | nil    (merged data, JSON values as Lua values)
//   ctx.property(k) / ctx.properties() / ctx.set_property(k, v|nil)
//   ctx.header(name) -> first value | nil      (names case-insensitive)
//   ctx.headers([name]) -> {v…} | {{name, v}…}  ctx.set_header(name, v|nil) / ctx.clear_headers()
//   ctx.set_url(host_id, path) / ctx.set_method(m)   authentication, url, payload only
//   ctx.url() -> host_id, path   ctx.method()   ctx.status() (result/status/connect-failed only)
//   ctx.metric(key, value[, dims[, ts]])   ctx.log(level, ...) ctx.debug/info/warn/error(...)
//   ctx.persist.get(k) -> s | nil / ctx.persist.set(k, v|nil)    ctx.now() -> epoch ms
//   ctx.sha256(s) ctx.hmac_sha256(key, s) (lowercase hex) ctx.crc32(s) (unsigned integer)
//   ctx.base64_encode/decode(s) ctx.hex(s)
//   ctx.send_to_step(step, body[, props]) -> {body=, properties=, headers=, error=, error_code=}
//   ctx.send_to_step_async(step, body[, props])      ctx.stop()
//   auth context only: ctx.restricted_data(host_id) -> table | nil; headers set there are
//   returned in ScriptOutput::secrets.
// Per run at most 1000 log lines (more are dropped and counted) and 10000 metrics; values kept
// outside Lua (properties, headers, logs, metrics) count against max_string_bytes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/common/strings.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

// Error codes of a processor run (all map to 502 if they ever reach HTTP).
namespace script_errc {
inline constexpr ErrorCode kScriptError = ErrorCode::kScriptError;      // raised or runtime error
inline constexpr ErrorCode kScriptTimeout = ErrorCode::kScriptTimeout;  // CPU/wall deadline
inline constexpr ErrorCode kScriptMemory = ErrorCode::kScriptMemory;    // allocator cap / RLIMIT_AS
inline constexpr ErrorCode kScriptWorker = ErrorCode::kScriptWorker;    // worker died/unavailable
}  // namespace script_errc

struct ScriptLimits {
  // Instruction hook deadline (thread CPU time, callbacks excluded). The supervisor kills the
  // worker once 2 × cpu_time + 250 ms of wall-clock time (callbacks excluded) have passed and
  // it has used more than cpu_time + 100 ms of CPU (a starved worker is given more time), and
  // at the latest after ten times that wall-clock time.
  std::chrono::milliseconds cpu_time{1000};
  std::size_t memory_bytes = 32u << 20;      // Lua allocator cap
  std::size_t max_string_bytes = 16u << 20;  // body; and properties+headers+logs+metrics
};

// Which processor of a step is running: decides what ctx allows. set_url/set_method only before
// the call (authentication, url, payload); status() only after it (result, status,
// connect-failed: 0 there); restricted_data only in authentication.
enum class ProcessorKind { kAuthentication, kUrl, kPayload, kResult, kStatus, kConnectFailed };

struct ScriptInput {
  std::string chunk_name;  // "deployment/workflow/step/results" — appears in error messages
  std::string source;      // Lua source text
  ProcessorKind kind = ProcessorKind::kResult;
  JsonObject data;  // merged data (processor → step → workflow → config → bootstrap)
  Message message;
  std::string host_id, path, method;  // the request as set so far
  int status = 0;                     // HTTP status after the call (0 before / connect failure)
  JsonObject restricted_data;         // host id → host data; only filled for kAuthentication
  std::int64_t now_ms = 0;            // ctx.now(); the test runner pins it
};

struct ScriptOutput {
  Message message;
  std::string host_id, path, method;
  std::vector<Metric> metrics;  // timestamps defaulted to now_ms
  std::vector<LogLine> logs;
  // Values a script set as headers in the authentication context: redacted from every log line
  // and metric afterwards.
  std::vector<std::string> secrets;
  bool stopped = false;  // ctx.stop(): skip the remaining processors of this run
};

struct StepCallResult {
  Message message;
  std::optional<Error> error;  // the callee failed
};

// The runtime side of the ctx calls that cannot be answered inside the worker. Called on the
// thread that called ScriptRunner::Run, while the script waits.
class ScriptHost {
 public:
  virtual ~ScriptHost() = default;
  virtual Result<std::optional<std::string>> PersistGet(std::string_view key) = 0;
  virtual Status PersistSet(std::string_view key, std::optional<std::string_view> value) = 0;
  virtual StepCallResult SendToStep(std::string_view step_id, Message message) = 0;
  virtual Status SendToStepAsync(std::string_view step_id, Message message) = 0;
};

struct ScriptRunnerOptions {
  std::string worker_path;      // empty: opsorch-script-worker next to /proc/self/exe
  std::size_t min_workers = 1;  // spawned at start; a killed worker is replaced at once
  std::size_t max_workers = 8;  // idle pool cap; nested send_to_step calls may exceed it
  // Idle workers beyond min_workers are stopped after this long unused (0: never).
  std::chrono::milliseconds idle_timeout{30000};
  std::size_t worker_memory_bytes = 256u << 20;  // RLIMIT_AS of each worker
  bool seccomp = true;                           // syscall allowlist in the worker
};

class ScriptRunner {
 public:
  static Result<std::unique_ptr<ScriptRunner>> Create(const ScriptRunnerOptions& options);
  virtual ~ScriptRunner() = default;
  // Thread-safe; blocks the calling thread for the run (and the callbacks into `host`).
  virtual Result<ScriptOutput> Run(const ScriptInput& input, const ScriptLimits& limits,
                                   ScriptHost& host) = 0;
  virtual std::size_t LiveWorkers() const = 0;
  virtual std::uint64_t WorkersReplaced() const = 0;
};

// Values of header `name` (ASCII case-insensitive), in order.
inline std::vector<std::string_view> HeaderValues(const Headers& headers, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

// Compiles `source` without running it (syntax check at config load): script_error naming the
// chunk and line.
Status CheckScriptSyntax(std::string_view chunk_name, std::string_view source);

}  // namespace opsorch::workflow
