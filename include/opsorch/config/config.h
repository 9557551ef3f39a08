// Configuration comes from OPSORCH_* environment variables only (contract §1), plus a few
// opsorch extensions documented in docs/CONFIGURATION.md.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/log/log.h>
#include <opsorch/providers/capability.h>

namespace opsorch::config {

struct CapabilitySettings {
  std::string provider;               // OPSORCH_<CAP>_PROVIDER, trimmed and lower-cased
  std::string plugin;                 // OPSORCH_<CAP>_PLUGIN, trimmed
  JsonObject config;                  // OPSORCH_<CAP>_CONFIG, {} when empty
  unsigned plugin_pool = 1;           // OPSORCH_<CAP>_PLUGIN_POOL: processes per plugin
  std::optional<Error> config_error;  // invalid _CONFIG: reported in start-up order

  bool FromEnv() const { return !provider.empty() || !plugin.empty(); }
};

struct Config {
  // Contract variables.
  std::string addr = ":8080";
  bool addr_from_env = false;  // OPSORCH_ADDR was set (`--demo` listens on loopback otherwise)
  std::string cors_origin = "*";
  std::string bearer_token;
  std::string metrics_token;  // OPSORCH_METRICS_TOKEN: also accepted on GET /metrics
  std::string tls_cert_file;
  std::string tls_key_file;
  std::array<CapabilitySettings, providers::kCapabilityCount> capabilities;

  // opsorch extensions.
  std::string data_dir = "./data";
  unsigned http_threads = 0;  // 0 → one per core
  std::size_t body_limit = 1 << 20;
  std::size_t header_limit = 16 << 10;
  std::size_t json_max_depth = 64;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  log::Options log;
  bool access_log = false;
  unsigned blocking_threads = 16;  // run provider calls that may block (plugins, files)
  std::chrono::milliseconds plugin_timeout{30'000};
  std::chrono::milliseconds plugin_stop_grace{2'000};
  std::size_t plugin_max_response = 16u << 20;
  // OPSORCH_PLUGIN_DIRS: directories (canonical, absolute) that plugin paths set through the API
  // (POST /providers/<cap>, and configs stored by it) must resolve into. Empty: the API cannot
  // set plugin paths at all. Paths from OPSORCH_<CAP>_PLUGIN are the operator's and not checked.
  std::vector<std::string> plugin_dirs;
  // OPSORCH_PLUGIN_ENV: names of variables passed on to plugins besides PATH, HOME, LANG, LC_*
  // and TZ (never an OPSORCH_ variable).
  std::vector<std::string> plugin_env;
  // Workflow runtime: the bootstrap file that `opsorch serve` runs (empty: no runtime).
  std::string workflow_bootstrap;
  // Runbooks (the `local` orchestration provider): *.json files loaded at start
  // (OPSORCH_RUNBOOK_DIR; empty → <data_dir>/runbooks), and automated attempts run in parallel
  // (OPSORCH_RUNBOOK_THREADS).
  std::string runbook_dir;
  std::int64_t runbook_threads = 8;
  std::int64_t runbook_retention_days = 90;  // OPSORCH_RUNBOOK_RETENTION_DAYS: ended runs kept
  // Incident engine (the `local` provider and the ingestion endpoints).
  std::string engine_store;  // empty → sqlite:<data_dir>/opsorch.db
  std::string engine_seed_file;
  std::chrono::milliseconds engine_reopen_window{0};
  std::chrono::milliseconds engine_hold_resolve{5 * 60'000};
  std::int64_t engine_incident_retention_days = 730;
  std::int64_t engine_alert_retention_days = 365;
  // PostgreSQL store (ignored by SQLite): pool connections besides the writer
  // (OPSORCH_ENGINE_PG_POOL, 1..1000) and how long a caller waits for a free one
  // (OPSORCH_ENGINE_PG_POOL_WAIT, up to 10m; 0: not at all); the statement timeout
  // (OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT, 1s..24h); the longest pause between reconnect attempts
  // (OPSORCH_ENGINE_PG_RECONNECT_MAX, 100ms..10m).
  std::int64_t engine_pg_pool = 8;
  std::chrono::milliseconds engine_pg_pool_wait{5'000};
  std::chrono::milliseconds engine_pg_statement_timeout{30'000};
  std::chrono::milliseconds engine_pg_reconnect_max{5'000};
  // Paging (docs/PAGING.md). OPSORCH_PUBLIC_URL: the base of links in messages (empty: derived
  // from the listen address). OPSORCH_OUTBOUND_ALLOW_NETS: CIDRs where loopback/private
  // receivers are allowed (parsed and checked when the engine opens). OPSORCH_SMTP_URL,
  // OPSORCH_SMTP_FROM, OPSORCH_SMTP_USERNAME, OPSORCH_SMTP_PASSWORD, OPSORCH_SMTP_REQUIRE_TLS.
  std::string public_url;
  std::string outbound_allow_nets;
  std::string smtp_url, smtp_from, smtp_username, smtp_password;
  bool smtp_require_tls = false;
  // OPSORCH_PAGING_LEASE: how long a node may take to send a message before another node (or
  // this one after a restart) takes it back.
  std::chrono::milliseconds paging_lease{120'000};
  // The web console (/ui/): OPSORCH_CONSOLE_DIR serves its files from a directory instead of the
  // embedded ones (development; `serve --console-dir` sets it too); a login session ends after
  // OPSORCH_CONSOLE_SESSION_IDLE without a request and OPSORCH_CONSOLE_SESSION_MAX after login.
  std::string console_dir;
  std::chrono::milliseconds console_session_idle{2 * 3600'000};
  std::chrono::milliseconds console_session_max{12 * 3600'000};

  CapabilitySettings& For(providers::Capability c) { return capabilities[providers::Index(c)]; }
  const CapabilitySettings& For(providers::Capability c) const {
    return capabilities[providers::Index(c)];
  }
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup ProcessEnv();

// Errors here are fatal start-up errors (bad number, bad duration…), each naming the variable.
// Invalid _CONFIG JSON is not an error here: it is recorded per capability, because whether it
// is fatal depends on the capability (contract §1.1).
Result<Config> LoadFromEnv(const EnvLookup& env);

// "host:port" → host and port; ":8080" → all interfaces.
Result<std::pair<std::string, std::uint16_t>> SplitHostPort(std::string_view addr);

// The address to listen on: OPSORCH_ADDR's host ("" → all interfaces), except that the demo
// (`serve --demo`) listens on 127.0.0.1 unless OPSORCH_ADDR was set: a demo world with no
// token is for the operator's own machine.
std::string ListenHost(const Config& c, bool demo);
bool IsLoopbackHost(std::string_view host);

// Go-style durations: "300ms", "1.5s", "2m", "1h", or a bare number of seconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view s);

}  // namespace opsorch::config
