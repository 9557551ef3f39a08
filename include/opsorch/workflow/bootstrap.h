// The bootstrap: the customer-owned, immutable-while-running document that says what workflows
// may reach and where their output goes. Workflows never see it: they name a host id and append
// a path. Format and rules: docs/WORKFLOWS.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/workflow/http_fetch.h>
#include <opsorch/workflow/package.h>
#include <opsorch/workflow/script.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

struct HostEntry {
  HostPolicy policy;
  bool authentication_only = false;  // callable only from authentication steps
  JsonObject data;                   // restricted: visible only to authentication processors
};

struct OutputEntry {
  std::string id;
  std::string url;      // an NDJSON collector; or
  bool stdout = false;  // NDJSON lines on opsorch's standard output
  Headers headers;
  std::string token;
  bool metrics = true;
  bool logs = false;
  bool audit = true;  // audit records (configuration decisions, first calls and metric keys)
  std::size_t batch_max = 1000;
  std::chrono::milliseconds flush_interval{1000};
  // fdatasync before a processor run goes on: survives a power cut, costs a disk sync per run.
  // Off, records are written to the spool file (a crash or restart of opsorch loses nothing).
  bool sync = false;
};

// Where the workflow configuration comes from: a file (re-read when it changes) or an HTTP(S)
// URL (polled). `poll` 0 = load once.
struct ConfigSource {
  std::string file;  // absolute, resolved against the bootstrap's directory
  std::string url;
  Headers headers;
  std::chrono::milliseconds poll{0};
  std::chrono::milliseconds timeout{10000};
};

// The deployment's `packaging` section: once present, only packages that pass every check of
// `policy` are loaded (deny by default); `allow_plain` (development) also accepts a plain JSON
// configuration.
struct PackagingRules {
  package::Policy policy;
  bool allow_plain = false;
};

// The deployment's `incidents` section: where the Events v2 events for its configuration's
// expectations go (docs/WORKFLOWS.md, "Expected behaviour: workflows that raise incidents").
struct IncidentTarget {
  std::string routing_key;  // the Events v2 integration key: a secret (Bootstrap::secrets)
  // An Events v2 endpoint (https://events.pagerduty.com/v2/enqueue, another opsorch's
  // http://host/v2/enqueue). Empty: the runtime's local sink (RuntimeOptions::incident_sink,
  // the engine of `opsorch serve`); without one the runtime refuses to start.
  std::string url;
  std::string source;                        // payload.source; default the deployment id
  std::chrono::milliseconds timeout{10000};  // per delivery attempt
  bool allow_private = false;  // `url` may be a loopback or private address (as for hosts)
  std::string path;            // "deployments[0].incidents", for messages
};

struct Deployment {
  std::string id;
  ConfigSource config;
  std::optional<PackagingRules> packaging;
  std::map<std::string, HostEntry, std::less<>> hosts;
  JsonObject data;
  std::string persistence_dir;  // absolute
  std::vector<OutputEntry> outputs;
  ScriptLimits limits;
  std::size_t max_concurrent_runs = 1;      // per timer step; fires beyond it are skipped, counted
  std::optional<IncidentTarget> incidents;  // none: expectations are evaluated, nothing is sent
};

// Where the runtime reports on itself (`report`): its status and audit records are POSTed to
// `url` (the configuration service's POST /agents/{id}/status) every `interval`.
struct StatusReportTarget {
  std::string url;  // empty: no reports
  Headers headers;
  std::chrono::milliseconds interval{15000};
  std::chrono::milliseconds timeout{10000};
};

struct Bootstrap {
  std::string path;                     // the file it was read from (for messages)
  std::vector<Deployment> deployments;  // enabled ones only
  StatusReportTarget report;
  // Every value substituted from ${VAR}, every header value (hosts, outputs, configuration
  // source), every restricted host data string and every incidents routing key: redacted from
  // log lines and metrics.
  std::vector<std::string> secrets;
};

// Reads and validates the whole file. Errors (bad_request) name the file, the JSON path and the
// rule: "bootstrap.json: deployments[0].hosts[1].url: must be http(s)://host[:port][/path]".
// `env` looks up ${VAR} values (after the bootstrap's secret files, which win).
// `read_secret_files` false ignores `secret_files` (the test runner: tests declare their values).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
Result<Bootstrap> LoadBootstrap(const std::string& path, const EnvLookup& env,
                                bool read_secret_files = true);
Result<Bootstrap> ParseBootstrap(std::string_view text, const std::string& path,
                                 const EnvLookup& env, bool read_secret_files = true);
EnvLookup ProcessEnvLookup();

}  // namespace opsorch::workflow
