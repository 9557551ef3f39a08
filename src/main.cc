// opsorch: the command line. The only translation unit that includes CLI11.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <opsorch/app/app.h>
#include <opsorch/config/config.h>
#include <opsorch/log/log.h>

#include "providers/secret_sealed/secret_sealed_provider.h"

namespace {

int Serve(bool demo) {
  auto config = opsorch::config::LoadFromEnv(opsorch::config::ProcessEnv());
  if (!config) {
    opsorch::log::Error("failed to init server: " + config.error().message);
    opsorch::log::Flush();
    return 1;
  }
  opsorch::log::Init(config->log);
  opsorch::app::AppOptions options;
  options.demo = demo;
  auto app = opsorch::app::App::Create(std::move(*config), options);
  if (!app) {
    opsorch::log::Error("failed to init server: " + app.error().message);
    opsorch::log::Flush();
    return 1;
  }
  (*app)->Run();
  opsorch::log::Info("opsorch stopped");
  opsorch::log::Flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "opsorch: the OpsOrch Core API server (incidents, alerts, logs, metrics, tickets, "
      "messaging, services, deployments, teams, orchestration).\n"
      "Configuration comes from OPSORCH_* environment variables; see docs/CONFIGURATION.md."};
  cli.set_version_flag("--version", std::string("opsorch ") + OPSORCH_VERSION);
  cli.require_subcommand(1);

  bool demo = false;
  CLI::App* serve = cli.add_subcommand("serve", "Run the HTTP API server");
  serve->add_flag("--demo", demo,
                  "Serve a demo world: every capability not configured otherwise uses the "
                  "built-in `mock` provider, and secrets go to $OPSORCH_DATA_DIR/secrets.json");

  CLI::App* keygen = cli.add_subcommand(
      "keygen",
      "Print a new key for the `sealed` secret provider (base64 of 32 random bytes); store it in "
      "OPSORCH_SECRET_KEY or a key file with mode 0600");

  CLI11_PARSE(cli, argc, argv);
  if (serve->parsed()) return Serve(demo);
  if (keygen->parsed()) {
    std::printf("%s\n", opsorch::providers::secret_sealed::GenerateSealedKey().c_str());
    return 0;
  }
  return 0;
}
