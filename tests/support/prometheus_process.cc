#include "support/prometheus_process.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/server_process.h"

namespace opsorch::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::atomic<int> dir_counter{0};

// A fresh directory under the system's temporary directory.
fs::path FreshDir(std::string_view what) {
  const fs::path dir = fs::temp_directory_path() /
                       ("opsorch-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" +
                        std::to_string(++dir_counter));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  return dir;
}

// A YAML double-quoted scalar (the JSON string syntax is a subset of YAML's).
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

bool WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

// The child's whole environment: nothing of the test's (its OPSORCH_* variables, a user's
// amtool or Go settings) leaks in.
std::vector<std::string> ChildEnvironment(const fs::path& home) {
  const char* path = std::getenv("PATH");
  return {std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"),
          "HOME=" + home.string(), "TZ=UTC", "LANG=C"};
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

bool Ready(std::uint16_t port) {
  HttpClient c(port);
  return c.Connected() && c.Request("GET", "/-/ready").status == 200;
}

// Starts `make_argv(port)` on a fresh loopback port until it answers GET /-/ready (20 s); a
// port taken between choosing and binding it is retried. Sets *port.
std::unique_ptr<SpawnedProcess> StartOnFreePort(
    const std::function<std::vector<std::string>(std::uint16_t)>& make_argv, const fs::path& dir,
    std::string_view name, std::uint16_t* port, std::string* error) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    *port = UnusedPort();
    const fs::path log = dir / (std::string(name) + "-" + std::to_string(attempt) + ".log");
    auto p = SpawnedProcess::Spawn(make_argv(*port), log, dir, error);
    if (!p) return nullptr;
    const bool up = WaitFor([&] { return !p->Running() || Ready(*port); }, milliseconds(20'000)) &&
                    p->Running();
    if (up) return p;
    const std::string text = p->Log();
    p->Stop();
    *error = std::string(name) + " did not become ready on 127.0.0.1:" + std::to_string(*port) +
             "; log:\n" + text;
    if (text.find("address already in use") == std::string::npos) return nullptr;
  }
  return nullptr;
}

}  // namespace

std::string MissingBinaries(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths) {
    if (::access(p.c_str(), X_OK) != 0) out += (out.empty() ? "" : " ") + p;
  }
  return out;
}

// ---- SpawnedProcess -------------------------------------------------------------------------

std::unique_ptr<SpawnedProcess> SpawnedProcess::Spawn(const std::vector<std::string>& argv,
                                                      const fs::path& log, const fs::path& home,
                                                      std::string* error) {
  std::vector<std::string> args = argv;
  std::vector<std::string> env = ChildEnvironment(home);
  std::vector<char*> argp = Pointers(args);
  std::vector<char*> envp = Pointers(env);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  auto p = std::unique_ptr<SpawnedProcess>(new SpawnedProcess());
  p->log_ = log;
  const int rc = ::posix_spawn(&p->pid_, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    *error = "cannot start " + argv[0] + ": " + std::strerror(rc);
    p->pid_ = -1;
    return nullptr;
  }
  return p;
}

bool SpawnedProcess::Running() {
  // pid_ -1 would make waitpid wait for any child, and kill signal every process.
  if (reaped_ || pid_ <= 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

void SpawnedProcess::Stop(milliseconds grace) {
  if (!Running()) return;
  ::kill(pid_, SIGTERM);
  if (!WaitFor([&] { return !Running(); }, grace)) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }
}

std::string SpawnedProcess::Log() const { return ReadAll(log_); }

// ---- PrometheusProcess ----------------------------------------------------------------------

// The rules' switches, served as gauges on GET /metrics for Prometheus to scrape.
struct PrometheusProcess::Switches {
  std::mutex mu;
  std::vector<bool> firing;
  httplib::Server server;
  std::thread thread;
  int port = 0;

  ~Switches() {
    server.stop();
    if (thread.joinable()) thread.join();
  }

  bool Start() {
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      std::string text = "# TYPE opsorch_test_firing gauge\n";
      std::lock_guard lock(mu);
      for (std::size_t i = 0; i < firing.size(); ++i) {
        text += "opsorch_test_firing{rule=\"" + std::to_string(i) + "\"} " +
                (firing[i] ? "1" : "0") + "\n";
      }
      res.set_content(text, "text/plain; version=0.0.4");
    });
    port = server.bind_to_any_port("127.0.0.1");
    if (port <= 0) return false;
    thread = std::thread([this] { server.listen_after_bind(); });
    return WaitFor([this] { return server.is_running(); }, milliseconds(5000));
  }
};

PrometheusProcess::PrometheusProcess() = default;

PrometheusProcess::~PrometheusProcess() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::unique_ptr<PrometheusProcess> PrometheusProcess::Start(const Options& options,
                                                            std::string* error) {
  if (options.alertmanager.empty()) {
    *error = "Options.alertmanager (host:port) is required";
    return nullptr;
  }
  auto p = std::unique_ptr<PrometheusProcess>(new PrometheusProcess());
  p->dir_ = FreshDir("prometheus");
  p->switches_ = std::make_unique<Switches>();
  for (const auto& r : options.rules) {
    p->rule_names_.push_back(r.alert);
    p->switches_->firing.push_back(r.firing);
  }
  if (!p->switches_->Start()) {
    *error = "cannot start the /metrics switch server";
    return nullptr;
  }

  // A map under `key` at the rule's indentation ("{}" when empty: a bare key would be null).
  const auto map_block = [](std::string_view key, const std::map<std::string, std::string>& m) {
    if (m.empty()) return "        " + std::string(key) + ": {}\n";
    std::string out = "        " + std::string(key) + ":\n";
    for (const auto& [k, v] : m) out += "          " + k + ": " + Quote(v) + "\n";
    return out;
  };
  std::string rules = "groups:\n  - name: opsorch-test\n    interval: 1s\n    rules:";
  if (options.rules.empty()) rules += " []";
  rules += "\n";
  for (std::size_t i = 0; i < options.rules.size(); ++i) {
    const PrometheusRule& r = options.rules[i];
    rules += "      - alert: " + Quote(r.alert) + "\n";
    rules += "        expr: " +
             Quote("max(opsorch_test_firing{rule=\"" + std::to_string(i) + "\"}) > 0") + "\n";
    rules += "        for: 0s\n";
    rules += map_block("labels", r.labels);
    rules += map_block("annotations", r.annotations);
  }
  // clang-format off
  const std::string config =
      "global:\n"
      "  scrape_interval: 1s\n"
      "  evaluation_interval: 1s\n"
      "rule_files:\n"
      "  - " + Quote((p->dir_ / "rules.yml").string()) + "\n"
      "scrape_configs:\n"
      "  - job_name: opsorch-test-switch\n"
      "    static_configs:\n"
      "      - targets: [" + Quote("127.0.0.1:" + std::to_string(p->switches_->port)) + "]\n"
      "alerting:\n"
      "  alertmanagers:\n"
      "    - api_version: v2\n"
      "      path_prefix: " + Quote(options.path_prefix) + "\n"
      "      static_configs:\n"
      "        - targets: [" + Quote(options.alertmanager) + "]\n";
  // clang-format on
  if (!WriteFile(p->dir_ / "rules.yml", rules) || !WriteFile(p->dir_ / "prometheus.yml", config)) {
    *error = "cannot write the configuration under " + p->dir_.string();
    return nullptr;
  }
  const fs::path dir = p->dir_;
  p->process_ = StartOnFreePort(
      [&](std::uint16_t port) -> std::vector<std::string> {
        return {kPrometheusBinary, "--config.file=" + (dir / "prometheus.yml").string(),
                "--storage.tsdb.path=" + (dir / "data").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(port),
                "--rules.alert.resend-delay=1s"};
      },
      dir, "prometheus", &p->port_, error);
  if (!p->process_) return nullptr;
  return p;
}

void PrometheusProcess::SetFiring(std::string_view alert, bool firing) {
  std::lock_guard lock(switches_->mu);
  for (std::size_t i = 0; i < rule_names_.size(); ++i) {
    if (rule_names_[i] == alert) switches_->firing[i] = firing;
  }
}

std::string PrometheusProcess::Api(std::string_view target) const {
  HttpClient c(port_);
  const HttpResponse r = c.Request("GET", target);
  return r.status == 200 ? r.body : std::string();
}

std::string PrometheusProcess::Log() const { return process_ ? process_->Log() : std::string(); }

void PrometheusProcess::Stop() {
  if (process_) process_->Stop();
  switches_.reset();
}

// ---- AlertmanagerProcess --------------------------------------------------------------------

AlertmanagerProcess::~AlertmanagerProcess() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::unique_ptr<AlertmanagerProcess> AlertmanagerProcess::Start(std::string* error) {
  auto a = std::unique_ptr<AlertmanagerProcess>(new AlertmanagerProcess());
  a->dir_ = FreshDir("alertmanager");
  if (!WriteFile(a->dir_ / "alertmanager.yml",
                 "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")) {
    *error = "cannot write " + (a->dir_ / "alertmanager.yml").string();
    return nullptr;
  }
  const fs::path dir = a->dir_;
  a->process_ = StartOnFreePort(
      [&](std::uint16_t port) -> std::vector<std::string> {
        return {kAlertmanagerBinary, "--config.file=" + (dir / "alertmanager.yml").string(),
                "--storage.path=" + (dir / "data").string(), "--cluster.listen-address=",
                "--web.listen-address=127.0.0.1:" + std::to_string(port)};
      },
      dir, "alertmanager", &a->port_, error);
  if (!a->process_) return nullptr;
  return a;
}

std::string AlertmanagerProcess::Log() const { return process_ ? process_->Log() : ""; }

void AlertmanagerProcess::Stop() {
  if (process_) process_->Stop();
}

// ---- amtool ---------------------------------------------------------------------------------

AmtoolResult RunAmtool(const std::vector<std::string>& args, const std::string& base_url,
                       milliseconds timeout) {
  AmtoolResult result;
  // An empty HOME: no ~/.config/prometheus/amtool.yml to read.
  const fs::path home = FreshDir("amtool-home");
  struct RemoveHome {
    const fs::path& dir;
    ~RemoveHome() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_home{home};
  std::vector<std::string> argv{kAmtoolBinary, "--alertmanager.url=" + base_url};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = ChildEnvironment(home);
  std::vector<char*> argp = Pointers(argv);
  std::vector<char*> envp = Pointers(env);

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.err = std::string("cannot start amtool: ") + std::strerror(rc);
    return result;
  }

  // Both pipes are drained as they fill (a full pipe would block amtool) until both close.
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (result.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace opsorch::testing
