// The assembled server: registry, live providers (resolved from env, the secret store, or the
// demo defaults), the route table and its pipeline, the HTTP server, and the workflow runtime
// when OPSORCH_WORKFLOW_BOOTSTRAP names one (its metrics then answer the `workflow` metric
// provider, which serves /metrics/* unless something else is configured for it). main() and
// the integration tests build the same App.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <opsorch/api/route.h>
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
  // Every route this server answers (the contract's, the engine's, /openapi.json).
  const api::RouteTable& Routes() const;

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::app
