// The assembled server: registry, live providers (resolved from env, the secret store, or the
// demo defaults), the API handler and the HTTP server. main() and the integration tests build
// the same App.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <memory>

#include <opsorch/common/result.h>
#include <opsorch/config/config.h>
#include <opsorch/providers/provider_set.h>
#include <opsorch/providers/registry.h>

namespace opsorch::app {

struct AppOptions {
  // Every capability left unconfigured after env and stored configs gets `mock`, and without a
  // secret provider configured, `json` on <data_dir>/secrets.json (created if missing).
  bool demo = false;
  // SIGINT/SIGTERM trigger a graceful Stop() (off in tests).
  bool handle_signals = true;
  // Registers providers that live outside opsorch_core (the workflow runtime's `workflow`
  // metric provider), after the built-in ones and before capabilities are configured.
  std::function<Status(providers::ProviderRegistry&)> register_providers;
  // A provider for capabilities that neither the environment nor a stored config configures
  // (before the demo's defaults): `opsorch serve` with a workflow bootstrap answers metrics
  // with `workflow` unless told otherwise.
  std::map<providers::Capability, std::string> fallback_providers;
};

class App {
 public:
  // Runs the contract's start-up sequence. Errors are the fatal ones; their message is what
  // follows "failed to init server: ". Non-fatal capability failures are logged.
  static Result<std::unique_ptr<App>> Create(config::Config config, AppOptions options = {});
  ~App();

  std::uint16_t Port() const;
  void Run();   // blocks until Stop() (or SIGINT/SIGTERM when run from main)
  void Stop();  // graceful: drains in-flight requests

  providers::ProviderSet& Providers();

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::app
