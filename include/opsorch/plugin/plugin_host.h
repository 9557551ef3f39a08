// The plugin host: serves any capability (and the secret store) through an external plugin
// binary speaking OpsOrch's stdio JSON-RPC (contract §8), supervised: lazy spawn without a shell,
// a deadline per call (the process is killed and replaced on expiry), respawn with backoff
// after a crash, a restart after garbage or an oversized answer, stderr logged (rate-limited,
// config values masked), and an orderly stop (EOF, SIGTERM, SIGKILL) of replaced processes.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/process/child_process.h>
#include <opsorch/providers/capability.h>
#include <opsorch/providers/provider.h>
#include <opsorch/providers/registry.h>

namespace opsorch::metrics {
class Registry;
}

namespace opsorch::plugin {

// A plugin path that came through the API (or a config the API stored): its canonical form
// (symlinks resolved) when that is an executable regular file inside one of `allowed_dirs`
// (canonical directories); otherwise bad_request with one message for every reason, so that
// the answer says nothing about which files exist. No directory allowed: always refused.
Result<std::string> ResolveAllowedPluginPath(const std::string& path,
                                             const std::vector<std::string>& allowed_dirs);

struct PluginSettings {
  // Per call, including the wait for a free process; on expiry → 504 plugin_timeout.
  std::chrono::milliseconds call_timeout{30'000};
  // Processes per plugin. The protocol allows one outstanding call per process; more processes
  // serve calls in parallel but each keeps its own in-memory state, so stateful plugins (the
  // mock adapters, anything caching) must stay at 1.
  unsigned pool_size = 1;
  std::size_t max_response_bytes = 16u << 20;     // larger answers → 502 plugin_protocol_error
  std::chrono::milliseconds stop_grace{2'000};    // EOF → SIGTERM → SIGKILL steps
  std::chrono::milliseconds max_backoff{30'000};  // respawn delay cap for a plugin that keeps dying
  unsigned max_waiting_calls = 256;     // beyond this, calls fail fast with plugin_unavailable
  double stderr_lines_per_second = 20;  // logged; bursts up to 5 s worth, the rest counted
  // The plugin's whole environment ("NAME=value"); see process::MinimalEnvironment.
  std::vector<std::string> environment = process::MinimalEnvironment({});
};

class PluginHost {
 public:
  explicit PluginHost(metrics::Registry* metrics = nullptr);
  // Stops every plugin process still running (in parallel, each with its grace steps) and waits.
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // A provider of capability `cap` (kSecret included) served by the binary at `path`. Nothing
  // is spawned yet (contract §8.1: lazy); `config` is sent with every call. When the provider
  // is destroyed (after a hot swap, once its last in-flight call returns), its processes are
  // stopped in the background.
  // A RemoteProvider (operations.h) for an API capability; a SecretProvider for kSecret.
  Result<providers::BuiltProvider> Create(providers::Capability cap, const std::string& path,
                                          const JsonObject& config,
                                          const PluginSettings& settings = {});

  // Server shutdown, after the HTTP server has drained: plugin calls still running are ended
  // (their processes killed) and new ones fail, so that no thread waits out a plugin deadline.
  void AbortCalls();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace opsorch::plugin
