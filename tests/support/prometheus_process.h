// The real clients of the Alertmanager API v2 as child processes, for end-to-end tests of
// opsorch's /integrations/alertmanager/{key} API (and of this harness against the real
// Alertmanager): Prometheus 2.42 with a generated configuration whose alerting rules the test
// switches on and off, Alertmanager 0.25 itself, and amtool 0.25. Loopback only; every process
// gets its own temporary directory and is killed and reaped by its destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace opsorch::testing {

inline constexpr const char* kPrometheusBinary = "/usr/bin/prometheus";
inline constexpr const char* kAlertmanagerBinary = "/usr/bin/prometheus-alertmanager";
inline constexpr const char* kAmtoolBinary = "/usr/bin/amtool";

// The ones of `paths` that are not executable, space-separated ("" when all are), for
// GTEST_SKIP() << "missing: " << …
std::string MissingBinaries(const std::vector<std::string>& paths);

// A process started with posix_spawn, stdin from /dev/null, stdout and stderr appended to a log
// file, environment PATH, HOME (the given directory) and TZ=UTC only. Killed and reaped on
// destruction.
class SpawnedProcess {
 public:
  // nullptr (and `*error`) when it cannot be spawned.
  static std::unique_ptr<SpawnedProcess> Spawn(const std::vector<std::string>& argv,
                                               const std::filesystem::path& log,
                                               const std::filesystem::path& home,
                                               std::string* error);
  ~SpawnedProcess() { Stop(); }
  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();  // reaps it when it has exited
  // SIGTERM, SIGKILL after `grace`; reaps. Safe to call again.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  std::string Log() const;

 private:
  SpawnedProcess() = default;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::filesystem::path log_;
};

// One alerting rule of Prometheus's generated rule file. It fires (expression
// `max(opsorch_test_firing{rule="<index>"}) > 0`, `for: 0s`, so the alert carries exactly
// `labels` plus alertname) while its switch, a gauge that Prometheus scrapes every second from a
// loopback /metrics server of the harness, is on.
struct PrometheusRule {
  std::string alert;                               // alertname
  std::map<std::string, std::string> labels;       // must be valid Prometheus label names
  std::map<std::string, std::string> annotations;  // Go templates: "{{ … }}" is expanded
  bool firing = true;                              // the switch's initial position
};

// `prometheus` on a free loopback port, evaluating every second and resending firing alerts
// (`--rules.alert.resend-delay=1s`: a firing alert goes out every 2 s with endsAt = evaluation
// + 4 s; a resolved one with its resolve time, every 2 s for 15 min) to one Alertmanager API v2
// at `alertmanager` + `path_prefix` + "/api/v2/alerts".
//
// Timing: Prometheus hands static targets to its notifier and scraper through discovery
// managers that update every 5 s, so the first alert leaves about 6 s after Start(); switching a
// rule off resolves it within about 2 s (next scrape + evaluation), and the resolved alert is
// sent with the next batch.
class PrometheusProcess {
 public:
  struct Options {
    std::string alertmanager;       // "127.0.0.1:PORT"
    std::string path_prefix = "/";  // e.g. "/integrations/alertmanager/KEY"
    std::vector<PrometheusRule> rules;
  };

  // Started and answering GET /-/ready within 20 s; else nullptr and `*error` says why (with
  // the log).
  static std::unique_ptr<PrometheusProcess> Start(const Options& options, std::string* error);
  ~PrometheusProcess();
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  // Turns the switch of the rule named `alert` on or off (Prometheus sees it at its next scrape).
  void SetFiring(std::string_view alert, bool firing);

  std::uint16_t port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Prometheus's own API, e.g. Api("/api/v1/alerts") or Api("/api/v1/alertmanagers"): the body
  // of a 200, else "".
  std::string Api(std::string_view target) const;
  std::string Log() const;
  // Kills Prometheus (TERM, then KILL) and stops the switch server; the destructor does too.
  void Stop();

 private:
  struct Switches;
  PrometheusProcess();

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::vector<std::string> rule_names_;
  std::unique_ptr<Switches> switches_;
  std::unique_ptr<SpawnedProcess> process_;
};

// `prometheus-alertmanager` on a free loopback port: clustering off (`--cluster.listen-address=`),
// its own storage, one route to a receiver without notifiers.
class AlertmanagerProcess {
 public:
  // Answering GET /-/ready within 20 s; else nullptr and `*error` (with the log).
  static std::unique_ptr<AlertmanagerProcess> Start(std::string* error);
  ~AlertmanagerProcess();
  AlertmanagerProcess(const AlertmanagerProcess&) = delete;
  AlertmanagerProcess& operator=(const AlertmanagerProcess&) = delete;

  std::uint16_t port() const { return port_; }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string BaseUrl() const { return "http://" + Address(); }
  std::string Log() const;
  void Stop();

 private:
  AlertmanagerProcess() = default;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<SpawnedProcess> process_;
};

struct AmtoolResult {
  int exit_code = -1;  // -1: killed by a signal, timed out or could not be started
  bool timed_out = false;
  std::string out, err;
};

// `amtool --alertmanager.url=<base_url> <args…>` with an empty HOME (no amtool.yml is read) and
// TZ=UTC, killed after `timeout`. amtool puts "/api/v2" after the URL's path, and asks
// GET …/api/v2/status before every command (its version check; "--no-version-check" skips it).
AmtoolResult RunAmtool(const std::vector<std::string>& args, const std::string& base_url,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace opsorch::testing
