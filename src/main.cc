// opsorch: the command line. The only translation unit that includes CLI11.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
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
#include <opsorch/workflow/metrics_listener.h>
#include <opsorch/workflow/package_cli.h>
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
int Agent(const std::string& bootstrap_file, const std::string& metrics_listen) {
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
  std::unique_ptr<wf::MetricsListener> listener;
  if (!metrics_listen.empty()) {
    auto started = wf::MetricsListener::Start(
        metrics_listen, [rt = runtime->get()] { return rt->RenderMetrics(); });
    if (!started)
      return Fatal("failed to start agent: --metrics-listen: ", started.error().message);
    listener = std::move(*started);
    opsorch::log::Info("workflow agent metrics on http://" +
                       metrics_listen.substr(0, metrics_listen.rfind(':')) + ":" +
                       std::to_string(listener->Port()) + "/metrics");
  }
  int sig = 0;
  sigwait(&signals, &sig);
  opsorch::log::Info("workflow agent stopping");
  if (listener) listener->Stop();
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
      "  OPSORCH_ENGINE_PG_POOL, _PG_POOL_WAIT, _PG_STATEMENT_TIMEOUT, _PG_RECONNECT_MAX\n"
      "                               PostgreSQL store: pool connections (8) and the wait for\n"
      "                               one (5s), statement timeout (30s), longest reconnect\n"
      "                               pause (5s)\n"
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
  std::string metrics_listen;
  agent
      ->add_option("--metrics-listen", metrics_listen,
                   "Serve the runtime's own metrics (GET /metrics, Prometheus text) on this "
                   "loopback address, e.g. 127.0.0.1:9464 (loopback only: it has no token)")
      ->envname("OPSORCH_AGENT_METRICS_LISTEN");

  CLI::App* workflow = cli.add_subcommand("workflow", "Workflow tools");
  workflow->require_subcommand(1);
  std::vector<std::string> test_files;
  CLI::App* wtest = workflow->add_subcommand(
      "test", "Run workflow test files against the real runtime with mocked HTTP services");
  wtest->add_option("files", test_files, "Test files (*.test.json)")->required();

  // Packages (docs/WORKFLOWS.md, "Packages"); the commands live in package_cli.cc.
  std::string wk_purpose, wk_name;
  CLI::App* wkeygen = workflow->add_subcommand(
      "keygen", "Write a key pair for workflow packages: NAME.key (0600) and NAME.pub");
  wkeygen->add_option("--purpose", wk_purpose, "sign, recipient, packager or string")->required();
  wkeygen->add_option("-o", wk_name, "NAME: writes NAME.key and NAME.pub")->required();

  wf::PackArgs pack_args;
  CLI::App* wpack = workflow->add_subcommand(
      "pack", "Sign and encrypt a workflow configuration (resources inlined) into a package");
  wpack->add_option("config", pack_args.config, "The workflow configuration")->required();
  wpack->add_option("--id", pack_args.id, "Package id ([A-Za-z0-9._-]{1,64})")->required();
  wpack->add_option("--version", pack_args.version, "MAJOR.MINOR.PATCH")->required();
  wpack->add_option("--description", pack_args.description, "Free text (at most 1024 bytes)");
  wpack->add_option("--sign", pack_args.sign_keys, "A sign key file (NAME.key); repeatable")
      ->required();
  wpack
      ->add_option("--for", pack_args.recipient_pubs,
                   "A runtime's recipient public key (NAME.pub); repeatable")
      ->required();
  wpack->add_option("--packager", pack_args.packager_key,
                    "The packager key (NAME.key); default: a fresh, anonymous one");
  wpack->add_option("-o", pack_args.output, "The package file to write")->required();
  wpack->add_flag("--force", pack_args.force, "Replace an existing package file");

  std::string inspect_file;
  bool inspect_json = false;
  CLI::App* winspect = workflow->add_subcommand(
      "inspect",
      "Show a package's manifest, signers and recipients (verifies the signatures; "
      "does not decrypt)");
  winspect->add_option("file", inspect_file, "The package")->required();
  winspect->add_flag("--json", inspect_json, "One JSON object");

  wf::VerifyArgs verify_args;
  std::size_t verify_min_additional = 0;
  CLI::App* wverify = workflow->add_subcommand(
      "verify", "Run every check a runtime runs on a package (except anti-rollback)");
  wverify->add_option("file", verify_args.file, "The package")->required();
  wverify->add_option("--bootstrap", verify_args.bootstrap,
                      "Take the policy and recipient key from this bootstrap's deployment");
  wverify->add_option("--deployment", verify_args.deployment,
                      "The deployment (default: the one whose package_id is the package's id)");
  wverify->add_option("--signer", verify_args.signer_pubs, "A required signer (NAME.pub)");
  wverify->add_option("--additional", verify_args.additional_pubs,
                      "An additional signer (NAME.pub)");
  CLI::Option* min_additional = wverify->add_option("--min-additional", verify_min_additional,
                                                    "How many --additional signers must sign");
  wverify->add_option("--packager-pub", verify_args.packager_pubs,
                      "An allowed packager (NAME.pub; default: any)");
  wverify->add_option("--recipient-key", verify_args.recipient_key,
                      "This runtime's recipient key (NAME.key)");
  wverify->add_option("--id", verify_args.id, "The package id the runtime expects");

  std::string enc_key;
  std::vector<std::string> enc_value;
  CLI::App* wencrypt = workflow->add_subcommand(
      "encrypt-string", "Encrypt a bootstrap string (enc1:…) with a string key");
  wencrypt->add_option("--key", enc_key, "The string key (NAME.key)")->required();
  wencrypt->add_option("value", enc_value, "The value (default: stdin, newline stripped)")
      ->expected(0, 1);

  opsorch::app::CliTarget target;
  std::string oncall_schedule, oncall_at, page_user;
  CLI::App* oncall = cli.add_subcommand(
      "oncall",
      "Print who is on call (asks a running opsorch: OPSORCH_SERVER or OPSORCH_ADDR, "
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
                   "opsorch: unknown command \"%s\" (commands: serve, agent, workflow, keygen, "
                   "oncall, page; "
                   "see opsorch --help)\n",
                   command.c_str());
      return 2;
    }
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = cli.exit(e);
    // The package commands promise 2 for any usage error: scripts tell it from a refusal (1).
    for (const CLI::App* sub : {wkeygen, wpack, winspect, wverify, wencrypt}) {
      if (rc != 0 && sub->parsed()) return wf::kExitUsage;
    }
    return rc;
  }
  if (serve->parsed()) return Serve(demo, console_dir);
  if (agent->parsed()) return Agent(bootstrap_file, metrics_listen);
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
  if (wkeygen->parsed()) return wf::KeygenCommand(wk_purpose, wk_name, stdout, stderr);
  if (wpack->parsed()) return wf::PackCommand(pack_args, stdout, stderr);
  if (winspect->parsed()) return wf::InspectCommand(inspect_file, inspect_json, stdout, stderr);
  if (wverify->parsed()) {
    if (min_additional->count() > 0) verify_args.min_additional = verify_min_additional;
    return wf::VerifyCommand(verify_args, stdout, stderr);
  }
  if (wencrypt->parsed()) {
    std::optional<std::string> value;
    if (!enc_value.empty()) value = enc_value.front();
    return wf::EncryptStringCommand(enc_key, value, stdin, stdout, stderr);
  }
  if (keygen->parsed()) {
    std::printf("%s\n", opsorch::providers::secrets::GenerateSealedKey().c_str());
    return 0;
  }
  return 0;
}
