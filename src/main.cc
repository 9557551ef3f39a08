// opsorch: the command line. The only translation unit that includes CLI11.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <malloc.h>
#include <signal.h>

#include <opsorch/app/app.h>
#include <opsorch/app/cli.h>
#include <opsorch/config/config.h>
#include <opsorch/log/log.h>
#include <opsorch/providers/secrets.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/runtime.h>
#include <opsorch/workflow/test_runner.h>

namespace {

namespace wf = opsorch::workflow;

int Fatal(const std::string& prefix, const std::string& message) {
  opsorch::log::Error(prefix + message);
  opsorch::log::Flush();
  return 1;
}

int Serve(bool demo, const std::string& console_dir) {
  auto config = opsorch::config::LoadFromEnv(opsorch::config::ProcessEnv());
  if (!config) return Fatal("failed to init server: ", config.error().message);
  if (!console_dir.empty()) config->console_dir = console_dir;
  opsorch::log::Init(config->log);
  opsorch::app::AppOptions options;
  options.demo = demo;
  auto app = opsorch::app::App::Create(std::move(*config), options);
  if (!app) return Fatal("failed to init server: ", app.error().message);
  (*app)->Run();
  app->reset();
  opsorch::log::Info("opsorch stopped");
  opsorch::log::Flush();
  return 0;
}

// `opsorch agent`: the workflow runtime alone, until SIGINT or SIGTERM.
int Agent(const std::string& bootstrap_file) {
  auto config = opsorch::config::LoadFromEnv(opsorch::config::ProcessEnv());
  if (!config) return Fatal("failed to start agent: ", config.error().message);
  opsorch::log::Init(config->log);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before any thread starts, so that only sigwait below receives them.
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto runtime = wf::Runtime::StartFromFile(bootstrap_file, nullptr);
  if (!runtime) return Fatal("failed to start agent: ", runtime.error().message);
  int sig = 0;
  sigwait(&signals, &sig);
  opsorch::log::Info("workflow agent stopping");
  (*runtime)->Stop();
  opsorch::log::Info("workflow agent stopped");
  opsorch::log::Flush();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives threads up to 8 malloc arenas per core and keeps what each one grew to: a
  // large read served once by each of the ~20 request and worker threads would leave ~20
  // peaks of heap behind. Four arenas bound that (thread caches keep small allocations
  // lock-free); MALLOC_ARENA_MAX in the environment still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 4);
  CLI::App cli{
      "opsorch: the OpsOrch Core API server (incidents, alerts, logs, metrics, tickets, "
      "messaging, services, deployments, teams, orchestration).\n"
      "Configuration comes from OPSORCH_* environment variables; see docs/CONFIGURATION.md."};
  cli.set_version_flag("--version", std::string("opsorch ") + OPSORCH_VERSION);
  cli.require_subcommand(1);

  bool demo = false;
  CLI::App* serve = cli.add_subcommand("serve", "Run the HTTP API server");
  serve->add_flag(
      "--demo", demo,
      "Serve the demo world for every capability not configured otherwise: incidents, alerts, "
      "services and teams from the built-in incident engine (`local`, a seeded store in "
      "$OPSORCH_DATA_DIR/opsorch.db), the other six from `mock`; secrets in "
      "$OPSORCH_DATA_DIR/secrets.json. Listens on 127.0.0.1 unless OPSORCH_ADDR is set");
  std::string console_dir;
  serve->add_option("--console-dir", console_dir,
                    "Serve the web console (/ui/) from this directory, read on every request, "
                    "instead of the files built into the binary (console work: `node "
                    "console/build.mjs --outdir DIR`; same as OPSORCH_CONSOLE_DIR)");
  serve->footer(
      "Environment (all settings; docs/CONFIGURATION.md has every variable):\n"
      "  OPSORCH_ADDR                 listen address (default :8080; --demo: 127.0.0.1:8080)\n"
      "  OPSORCH_BEARER_TOKEN         token every request needs (none: anyone who can connect)\n"
      "  OPSORCH_METRICS_TOKEN        a second token, for GET /metrics and /health only\n"
      "  OPSORCH_CORS_ORIGIN          Access-Control-Allow-Origin (default *)\n"
      "  OPSORCH_TLS_CERT_FILE, OPSORCH_TLS_KEY_FILE   serve HTTPS\n"
      "  OPSORCH_<CAP>_PROVIDER / _CONFIG / _PLUGIN     a capability's provider, its JSON\n"
      "                               config, or a plugin binary (CAP: INCIDENT, ALERT, LOG,\n"
      "                               METRIC, TICKET, MESSAGING, SERVICE, DEPLOYMENT, TEAM,\n"
      "                               ORCHESTRATION, SECRET)\n"
      "  OPSORCH_PLUGIN_DIRS          directories plugins set through the API must be in\n"
      "  OPSORCH_PLUGIN_ENV           variables passed to plugins besides PATH, HOME, LANG, TZ\n"
      "  OPSORCH_DATA_DIR             data directory (default ./data)\n"
      "  OPSORCH_ENGINE_STORE         incident engine store: sqlite:<path> or postgres://...\n"
      "  OPSORCH_ENGINE_SEED          a catalog of teams, services and integration keys\n"
      "  OPSORCH_WORKFLOW_BOOTSTRAP   run the workflow runtime inside the server\n"
      "  OPSORCH_CONSOLE_SESSION_IDLE, OPSORCH_CONSOLE_SESSION_MAX   console login lifetime\n"
      "  OPSORCH_PUBLIC_URL           base of the action links in pages (default: this address)\n"
      "  OPSORCH_OUTBOUND_ALLOW_NETS  CIDRs where loopback/private page receivers are allowed\n"
      "  OPSORCH_SMTP_URL, _FROM, _USERNAME, _PASSWORD, _REQUIRE_TLS   e-mail for pages\n"
      "  OPSORCH_LOG_FORMAT, OPSORCH_LOG_LEVEL, OPSORCH_ACCESS_LOG   logging");

  CLI::App* keygen = cli.add_subcommand(
      "keygen",
      "Print a new key for the `sealed` secret provider (base64 of 32 random bytes); store it in "
      "OPSORCH_SECRET_KEY or a key file with mode 0600");

  std::string bootstrap_file;
  CLI::App* agent = cli.add_subcommand(
      "agent", "Run the workflow runtime alone for a bootstrap file (see docs/WORKFLOWS.md)");
  agent->add_option("--bootstrap", bootstrap_file, "The bootstrap JSON file")
      ->envname("OPSORCH_WORKFLOW_BOOTSTRAP")
      ->required();

  CLI::App* workflow = cli.add_subcommand("workflow", "Workflow tools");
  workflow->require_subcommand(1);
  std::vector<std::string> test_files;
  CLI::App* wtest = workflow->add_subcommand(
      "test", "Run workflow test files against the real runtime with mocked HTTP services");
  wtest->add_option("files", test_files, "Test files (*.test.json)")->required();

  opsorch::app::CliTarget target;
  std::string oncall_schedule, oncall_at, page_user;
  CLI::App* oncall = cli.add_subcommand(
      "oncall", "Print who is on call (asks a running opsorch: OPSORCH_SERVER or OPSORCH_ADDR, "
                "with OPSORCH_BEARER_TOKEN)");
  oncall->add_option("--schedule", oncall_schedule, "Only this schedule");
  oncall->add_option("--at", oncall_at, "An RFC 3339 time (default: now)");
  oncall->add_option("--server", target.server, "The server's base URL");
  CLI::App* page = cli.add_subcommand("page", "Paging tools");
  page->require_subcommand(1);
  CLI::App* page_test = page->add_subcommand(
      "test", "Send a test message to each of a person's contact methods and print the outcome");
  page_test->add_option("--user", page_user, "The person's id")->required();
  page_test->add_option("--server", target.server, "The server's base URL");

  // CLI11 would answer an unknown command with "A subcommand is required": name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    const std::string command = argv[1];
    bool known = false;
    for (const CLI::App* sub : cli.get_subcommands({})) known = known || sub->get_name() == command;
    if (!known) {
      std::fprintf(stderr,
                   "opsorch: unknown command \"%s\" (commands: serve, agent, workflow, keygen, oncall, page; "
                   "see opsorch --help)\n",
                   command.c_str());
      return 2;
    }
  }
  CLI11_PARSE(cli, argc, argv);
  if (serve->parsed()) return Serve(demo, console_dir);
  if (agent->parsed()) return Agent(bootstrap_file);
  if (oncall->parsed()) {
    return opsorch::app::OnCallCommand(target, oncall_schedule, oncall_at, stdout);
  }
  if (page_test->parsed()) return opsorch::app::PageTestCommand(target, page_user, stdout);
  if (wtest->parsed()) {
    opsorch::log::Options quiet;
    quiet.level = opsorch::log::Level::kError;  // test output is the PASS/FAIL lines
    opsorch::log::Init(quiet);
    const auto summary = wf::RunWorkflowTests(test_files, std::cout);
    return summary.failed == 0 && summary.passed > 0 ? 0 : 1;
  }
  if (keygen->parsed()) {
    std::printf("%s\n", opsorch::providers::secrets::GenerateSealedKey().c_str());
    return 0;
  }
  return 0;
}
