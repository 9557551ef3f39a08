// Runbook runner benchmark driver (bench/runbooks.sh; method: docs/BENCHMARKS.md, "Runbooks").
// Three modes; every time is CLOCK_MONOTONIC (steady_clock, one clock for all processes of the
// machine) unless it is compared with a time the server wrote into a run (Unix time).
//
//   opsorch-runbook-bench serve --listen PORT
//     The loopback HTTP server the workflow step calls: POST /step answers {"ok":true} and
//     records when each request reached its handler (µs) with the body's runId and stepId.
//     GET /arrivals[?clear=1] lists them ("<steady ns> <runId> <stepId>" per line), GET /counts
//     the number per stepId.
//
//   opsorch-runbook-bench runs --url http://127.0.0.1:P --upstream http://127.0.0.1:U
//       [--runs 1000] [--connections 32] [--complete 8] [--plan bench] [--pid OPSORCH_PID]
//       [--upstream-pid PID] [--timeout 300] [--dump FILE]
//     Starts --runs runs of the plan (POST /orchestration/runs) over --connections keep-alive
//     connections, waits until every run waits at its manual step, then completes every run's
//     step "approve" over --complete connections and waits until every run completed. Prints
//     one line of key=value figures: automated steps per second (wall time from the first start
//     sent to the last automated step's finishedAt), and for each completion the time from
//     sending it to the loopback server receiving step "d"'s request.
//
//   opsorch-runbook-bench peer --boot BOOTSTRAP --upstream http://127.0.0.1:U [--threads 8]
//       [--seconds 5] [--deployment ops] [--step call]
//     The peer: the same workflow step (the same processors, the same POST to the same server)
//     through workflow::Runtime::RunStep, started as `opsorch serve` starts it, from --threads
//     threads for --seconds, without runbooks. Prints steps per second, the step's latency and
//     the time from calling RunStep to the server receiving the request.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/json.hpp>
#include <dirent.h>
#include <httplib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <opsorch/log/log.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/runtime.h>

namespace {

namespace json = boost::json;
namespace wf = opsorch::workflow;

std::int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::int64_t RealNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "opsorch-runbook-bench: %s\n", why.c_str());
  std::exit(2);
}

// ---- arguments --------------------------------------------------------------------------------

struct Args {
  std::string mode;
  int listen = 0;
  std::string url, upstream, plan = "bench", boot, deployment = "ops", step = "call", dump;
  long runs = 1000;
  int connections = 32, complete = 8, threads = 8;
  double seconds = 5, timeout = 300;
  long pid = 0, upstream_pid = 0;
};

Args Parse(int argc, char** argv) {
  if (argc < 2) Die("usage: opsorch-runbook-bench serve|runs|peer …");
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Die(k + ": needs a value");
    const std::string v = argv[++i];
    if (k == "--listen")
      a.listen = std::stoi(v);
    else if (k == "--url")
      a.url = v;
    else if (k == "--upstream")
      a.upstream = v;
    else if (k == "--plan")
      a.plan = v;
    else if (k == "--boot")
      a.boot = v;
    else if (k == "--deployment")
      a.deployment = v;
    else if (k == "--step")
      a.step = v;
    else if (k == "--runs")
      a.runs = std::stol(v);
    else if (k == "--connections")
      a.connections = std::stoi(v);
    else if (k == "--complete")
      a.complete = std::stoi(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--seconds")
      a.seconds = std::stod(v);
    else if (k == "--timeout")
      a.timeout = std::stod(v);
    else if (k == "--pid")
      a.pid = std::stol(v);
    else if (k == "--upstream-pid")
      a.upstream_pid = std::stol(v);
    else if (k == "--dump")
      a.dump = v;
    else
      Die("unknown option " + k);
  }
  if (a.mode == "serve" && a.listen <= 0) Die("serve: --listen PORT is required");
  if (a.mode == "runs" && (a.url.empty() || a.upstream.empty())) Die("runs: --url and --upstream");
  if (a.mode == "peer" && (a.boot.empty() || a.upstream.empty()))
    Die("peer: --boot and --upstream");
  if (a.mode != "serve" && a.mode != "runs" && a.mode != "peer") Die("mode: serve|runs|peer");
  if (a.runs < 1 || a.runs > 1000) Die("--runs: 1..1000 (one page of /orchestration/runs/query)");
  if (a.connections < 1 || a.complete < 1 || a.threads < 1) Die("bad numbers");
  return a;
}

// "http://127.0.0.1:1234" → host, port
std::pair<std::string, int> HostPort(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) Die("url needs a port: " + url);
  return {rest.substr(0, colon), std::stoi(rest.substr(colon + 1))};
}

std::unique_ptr<httplib::Client> Client(const std::string& url) {
  const auto [host, port] = HostPort(url);
  auto c = std::make_unique<httplib::Client>(host, port);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_connection_timeout(10);
  c->set_read_timeout(120);
  c->set_write_timeout(30);
  return c;
}

// ---- figures ----------------------------------------------------------------------------------

double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  const auto rank =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// "name_p50=… name_p95=… name_p99=… name_max=…" (values as given, e.g. ms)
std::string Dist(const std::string& name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s_n=%zu %s_p50=%.3f %s_p95=%.3f %s_p99=%.3f %s_max=%.3f",
                name.c_str(), v.size(), name.c_str(), Pct(v, 50), name.c_str(), Pct(v, 95),
                name.c_str(), Pct(v, 99), name.c_str(), v.empty() ? NAN : v.back());
  return buf;
}

// CPU time (user + system) of a process, and of its child processes that are alive, in ms.
double ProcCpuMs(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return 0;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(line.substr(close + 2));
  std::string field;
  std::vector<std::string> fields;  // from field 3 (state)
  while (in >> field) fields.push_back(field);
  if (fields.size() < 13) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) * 1000.0 / ticks;  // utime, stime
}

long ParentOf(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(line.substr(close + 2));
  std::string state;
  long ppid = -1;
  in >> state >> ppid;
  return ppid;
}

double ChildrenCpuMs(long pid) {
  double total = 0;
  DIR* d = opendir("/proc");
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long p = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    if (ParentOf(p) == pid) total += ProcCpuMs(p);
  }
  closedir(d);
  return total;
}

double SelfCpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000.0 +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000.0;
}

// Busy CPU time of the whole machine (all cores, /proc/stat: everything but idle and iowait), ms.
double MachineBusyMs() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  double v[8] = {};
  f >> cpu;
  for (double& x : v) f >> x;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000.0 /
         ticks;  // user nice system irq softirq steal
}

struct Cpu {
  double server = 0, workers = 0, upstream = 0, self = 0, machine = 0;
  static Cpu Take(const Args& a) {
    Cpu c;
    c.machine = MachineBusyMs();
    if (a.pid > 0) {
      c.server = ProcCpuMs(a.pid);
      c.workers = ChildrenCpuMs(a.pid);
    }
    if (a.upstream_pid > 0) c.upstream = ProcCpuMs(a.upstream_pid);
    c.self = SelfCpuMs();
    return c;
  }
  // "prefix_server_ms=… prefix_workers_ms=… …" of the difference
  std::string Since(const Cpu& before, const std::string& prefix) const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s_cpu_server_ms=%.0f %s_cpu_workers_ms=%.0f %s_cpu_upstream_ms=%.0f "
                  "%s_cpu_client_ms=%.0f %s_cpu_machine_ms=%.0f",
                  prefix.c_str(), server - before.server, prefix.c_str(), workers - before.workers,
                  prefix.c_str(), upstream - before.upstream, prefix.c_str(), self - before.self,
                  prefix.c_str(), machine - before.machine);
    return buf;
  }
};

// "2026-12-07T01:36:10.123456789Z" → Unix ns (UTC only; what FormatRfc3339Nano writes).
std::int64_t ParseRfc3339(std::string_view s) {
  if (s.size() < 20) return 0;
  std::tm tm{};
  tm.tm_year = std::atoi(std::string(s.substr(0, 4)).c_str()) - 1900;
  tm.tm_mon = std::atoi(std::string(s.substr(5, 2)).c_str()) - 1;
  tm.tm_mday = std::atoi(std::string(s.substr(8, 2)).c_str());
  tm.tm_hour = std::atoi(std::string(s.substr(11, 2)).c_str());
  tm.tm_min = std::atoi(std::string(s.substr(14, 2)).c_str());
  tm.tm_sec = std::atoi(std::string(s.substr(17, 2)).c_str());
  std::int64_t ns = static_cast<std::int64_t>(timegm(&tm)) * 1'000'000'000;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::int64_t frac = 0;
    int digits = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (digits < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
    }
    while (digits++ < 9) frac *= 10;
    ns += frac;
  }
  if (i >= s.size() || s[i] != 'Z') Die("timestamp not in UTC: " + std::string(s));
  return ns;
}

// ---- serve ------------------------------------------------------------------------------------

struct Arrival {
  std::int64_t ns;
  std::string run, step;
};

[[noreturn]] void Serve(const Args& a) {
  std::mutex mu;
  std::vector<Arrival> arrivals;
  arrivals.reserve(1 << 20);
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server.set_keep_alive_max_count(100000000);
  server.set_keep_alive_timeout(60);
  server.set_tcp_nodelay(true);
  server.Post("/step", [&](const httplib::Request& req, httplib::Response& res) {
    const std::int64_t t = SteadyNs();
    boost::system::error_code ec;
    const json::value doc = json::parse(req.body, ec);
    std::string run, step;
    if (!ec && doc.is_object()) {
      const auto& o = doc.get_object();
      if (const auto* v = o.if_contains("runId"); v && v->is_string()) run = v->get_string();
      if (const auto* v = o.if_contains("stepId"); v && v->is_string()) step = v->get_string();
    }
    if (run.empty() || step.empty()) {
      res.status = 400;
      return;
    }
    {
      std::lock_guard lock(mu);
      arrivals.push_back({t, std::move(run), std::move(step)});
    }
    res.set_content(R"({"ok":true})", "application/json");
  });
  server.Get("/arrivals", [&](const httplib::Request& req, httplib::Response& res) {
    std::string out;
    std::lock_guard lock(mu);
    out.reserve(arrivals.size() * 48);
    for (const auto& x : arrivals) {
      out += std::to_string(x.ns);
      out += ' ';
      out += x.run;
      out += ' ';
      out += x.step;
      out += '\n';
    }
    if (req.has_param("clear")) arrivals.clear();
    res.set_content(out, "text/plain");
  });
  server.Get("/counts", [&](const httplib::Request&, httplib::Response& res) {
    std::map<std::string, long> by;
    {
      std::lock_guard lock(mu);
      for (const auto& x : arrivals) ++by[x.step];
    }
    std::string out;
    for (const auto& [k, n] : by) out += k + " " + std::to_string(n) + "\n";
    res.set_content(out, "text/plain");
  });
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  if (!server.listen("127.0.0.1", a.listen))
    Die("cannot listen on 127.0.0.1:" + std::to_string(a.listen));
  std::exit(0);
}

std::vector<Arrival> FetchArrivals(const std::string& upstream, bool clear) {
  auto c = Client(upstream);
  auto r = c->Get(clear ? "/arrivals?clear=1" : "/arrivals");
  if (!r || r->status != 200) Die("upstream: GET /arrivals failed");
  std::vector<Arrival> out;
  std::istringstream in(r->body);
  Arrival x;
  while (in >> x.ns >> x.run >> x.step) out.push_back(x);
  return out;
}

std::map<std::string, long> FetchCounts(httplib::Client& c) {
  auto r = c.Get("/counts");
  if (!r || r->status != 200) Die("upstream: GET /counts failed");
  std::map<std::string, long> out;
  std::istringstream in(r->body);
  std::string k;
  long n = 0;
  while (in >> k >> n) out[k] = n;
  return out;
}

// ---- runs -------------------------------------------------------------------------------------

struct Run {
  std::string id;
  std::int64_t start_send = 0, start_answer = 0;        // steady ns
  std::int64_t complete_send = 0, complete_answer = 0;  // steady ns
};

// Runs of the plan as the server lists them (one page of at most 1000).
json::array QueryRuns(httplib::Client& c, const std::string& plan, const std::string& status) {
  std::string body = R"({"planIds":[")" + plan + R"("],"limit":1000)";
  if (!status.empty()) body += R"(,"statuses":[")" + status + R"("])";
  body += "}";
  auto r = c.Post("/orchestration/runs/query", body, "application/json");
  if (!r || r->status != 200) {
    Die("POST /orchestration/runs/query: " +
        (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error())));
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_array()) return {};
  return std::move(v.as_array());
}

// Waits until the upstream has `n` requests of each of `steps`, then until the server lists
// `n` runs in `status`; returns when it saw them (steady ns).
std::int64_t WaitFor(const Args& a, httplib::Client& up, httplib::Client& srv,
                     const std::vector<std::string>& steps, const std::string& status) {
  const std::int64_t deadline = SteadyNs() + static_cast<std::int64_t>(a.timeout * 1e9);
  for (;;) {
    const auto counts = FetchCounts(up);
    bool all = true;
    for (const auto& s : steps) {
      auto it = counts.find(s);
      if (it == counts.end() || it->second < a.runs) all = false;
    }
    if (all) break;
    if (SteadyNs() > deadline) Die("timed out waiting for the upstream calls of " + status);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (;;) {
    const json::array runs = QueryRuns(srv, a.plan, status);
    if (static_cast<long>(runs.size()) >= a.runs) return SteadyNs();
    if (SteadyNs() > deadline) {
      Die("timed out: " + std::to_string(runs.size()) + " of " + std::to_string(a.runs) +
          " runs are " + status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Step times of every run the server lists: run id → step id → (startedAt, finishedAt) Unix ns.
struct StepTimes {
  std::int64_t started = 0, finished = 0;
  std::string status;
};
std::unordered_map<std::string, std::map<std::string, StepTimes>> Times(const json::array& runs,
                                                                        const std::string& want) {
  std::unordered_map<std::string, std::map<std::string, StepTimes>> out;
  for (const auto& rv : runs) {
    const auto& r = rv.as_object();
    const std::string id(r.at("id").as_string());
    if (r.at("status").as_string() != want) {
      Die("run " + id + " is " + std::string(r.at("status").as_string()) + ", not " + want);
    }
    auto& m = out[id];
    for (const auto& sv : r.at("steps").as_array()) {
      const auto& s = sv.as_object();
      StepTimes t;
      t.status = s.at("status").as_string();
      if (const auto* v = s.if_contains("startedAt"); v && v->is_string()) {
        t.started = ParseRfc3339(v->get_string());
      }
      if (const auto* v = s.if_contains("finishedAt"); v && v->is_string()) {
        t.finished = ParseRfc3339(v->get_string());
      }
      m[std::string(s.at("stepId").as_string())] = t;
    }
  }
  return out;
}

// Runs `total` requests over `conns` connections; `fn(client, i)` makes request i.
template <class Fn>
void Parallel(const std::string& url, int conns, long total, Fn fn) {
  std::atomic<long> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < conns; ++t) {
    pool.emplace_back([&] {
      auto c = Client(url);
      for (;;) {
        const long i = next.fetch_add(1);
        if (i >= total) return;
        fn(*c, i);
      }
    });
  }
  for (auto& th : pool) th.join();
}

[[noreturn]] void Runs(const Args& a) {
  (void)FetchArrivals(a.upstream, true);  // earlier calls (the warm-up) do not count
  auto up = Client(a.upstream);
  auto srv = Client(a.url);
  std::vector<Run> runs(static_cast<std::size_t>(a.runs));
  std::atomic<long> bad{0};
  std::string first_error;
  std::mutex err_mu;
  const auto fail = [&](const std::string& what) {
    bad.fetch_add(1);
    std::lock_guard lock(err_mu);
    if (first_error.empty()) first_error = what;
  };

  // -- 1. start every run; the automated steps a, b, c run until each run waits for approval
  const Cpu cpu0 = Cpu::Take(a);
  const std::int64_t t0_real = RealNs();
  const std::int64_t t0 = SteadyNs();
  Parallel(a.url, a.connections, a.runs, [&](httplib::Client& c, long i) {
    Run& r = runs[static_cast<std::size_t>(i)];
    const std::string body =
        R"({"planId":")" + a.plan + R"(","fields":{"n":)" + std::to_string(i) + "}}";
    r.start_send = SteadyNs();
    auto res = c.Post("/orchestration/runs", body, "application/json");
    r.start_answer = SteadyNs();
    if (!res || res->status != 201) {
      fail("start: " +
           (res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error())));
      return;
    }
    boost::system::error_code ec;
    const json::value v = json::parse(res->body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("id")) {
      fail("start: no id in " + res->body);
      return;
    }
    r.id = std::string(v.at("id").as_string());
  });
  if (bad.load() > 0) Die(std::to_string(bad.load()) + " starts failed; first: " + first_error);
  std::int64_t started_all = 0;
  for (const Run& r : runs) started_all = std::max(started_all, r.start_answer);
  const std::int64_t seen_blocked = WaitFor(a, *up, *srv, {"a", "b", "c"}, "blocked");
  const Cpu cpu1 = Cpu::Take(a);
  const auto blocked = Times(QueryRuns(*srv, a.plan, ""), "blocked");
  if (static_cast<long>(blocked.size()) != a.runs)
    Die("the server lists a different number of runs");
  std::int64_t last_auto = 0;
  std::vector<double> per_run_ms;  // start sent → the run's last automated step finished
  std::unordered_map<std::string, const Run*> by_id;
  for (const Run& r : runs) by_id[r.id] = &r;
  for (const auto& [id, steps] : blocked) {
    std::int64_t last = 0;
    for (const char* s : {"a", "b", "c"}) {
      const StepTimes& t = steps.at(s);
      if (t.status != "succeeded" || t.finished == 0)
        Die("run " + id + ": step " + s + " is " + t.status);
      last = std::max(last, t.finished);
    }
    if (steps.at("approve").status != "blocked") Die("run " + id + ": approve is not blocked");
    last_auto = std::max(last_auto, last);
    auto it = by_id.find(id);
    if (it == by_id.end()) Die("the server lists a run the client did not start: " + id);
    // Unix time of the start's send: t0_real plus its steady offset from t0.
    per_run_ms.push_back((last - (t0_real + (it->second->start_send - t0))) / 1e6);
  }
  const double auto_wall_s = (last_auto - t0_real) / 1e9;
  const double seen_wall_s = (seen_blocked - t0) / 1e9;

  // -- 2. complete every approval; step d runs
  const std::int64_t c0_real = RealNs();
  const std::int64_t c0 = SteadyNs();
  Parallel(a.url, a.complete, a.runs, [&](httplib::Client& c, long i) {
    Run& r = runs[static_cast<std::size_t>(i)];
    const std::string target = "/orchestration/runs/" + r.id + "/steps/approve/complete";
    r.complete_send = SteadyNs();
    auto res = c.Post(target, R"({"actor":"bench@example.com"})", "application/json");
    r.complete_answer = SteadyNs();
    if (!res || res->status != 200) {
      fail("complete: " +
           (res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error())));
    }
  });
  if (bad.load() > 0)
    Die(std::to_string(bad.load()) + " completions failed; first: " + first_error);
  std::int64_t completed_all = 0;
  for (const Run& r : runs) completed_all = std::max(completed_all, r.complete_answer);
  const std::int64_t seen_completed = WaitFor(a, *up, *srv, {"d"}, "completed");
  const Cpu cpu2 = Cpu::Take(a);
  const auto done = Times(QueryRuns(*srv, a.plan, ""), "completed");
  std::int64_t last_d = 0;
  for (const auto& [id, steps] : done) last_d = std::max(last_d, steps.at("d").finished);

  // -- 3. what the loopback server saw: every step called exactly once; when d arrived
  const auto arrivals = FetchArrivals(a.upstream, true);
  std::map<std::pair<std::string, std::string>, int> calls;
  std::unordered_map<std::string, std::int64_t> d_at;
  for (const auto& x : arrivals) {
    ++calls[{x.run, x.step}];
    if (x.step == "d") d_at.emplace(x.run, x.ns);
  }
  long duplicates = 0, missing = 0;
  for (const Run& r : runs) {
    for (const char* s : {"a", "b", "c", "d"}) {
      auto it = calls.find({r.id, s});
      if (it == calls.end())
        ++missing;
      else if (it->second > 1)
        duplicates += it->second - 1;
    }
  }
  if (!a.dump.empty()) {
    // Per run, steady ns: start sent/answered, completion sent/answered, d's request arrived.
    std::ofstream out(a.dump);
    for (const Run& r : runs) {
      auto it = d_at.find(r.id);
      out << r.id << ' ' << r.start_send << ' ' << r.start_answer << ' ' << r.complete_send << ' '
          << r.complete_answer << ' ' << (it == d_at.end() ? 0 : it->second) << '\n';
    }
  }
  std::vector<double> to_d_ms, answer_ms, answer_to_d_ms;
  for (const Run& r : runs) {
    auto it = d_at.find(r.id);
    if (it == d_at.end()) continue;
    to_d_ms.push_back((it->second - r.complete_send) / 1e6);
    answer_ms.push_back((r.complete_answer - r.complete_send) / 1e6);
    answer_to_d_ms.push_back((it->second - r.complete_answer) / 1e6);
  }
  // The slowest 1% of completions: was it the completion's own answer (its transaction and
  // fsync) or what came after it (the hand-off to an executor, the processors, the request)?
  std::vector<double> tail_answer_ms, tail_after_ms;
  {
    std::vector<double> sorted = to_d_ms;
    std::sort(sorted.begin(), sorted.end());
    const double cut = Pct(sorted, 99);
    for (std::size_t i = 0; i < to_d_ms.size(); ++i) {
      if (to_d_ms[i] < cut) continue;
      tail_answer_ms.push_back(answer_ms[i]);
      tail_after_ms.push_back(answer_to_d_ms[i]);
    }
  }
  // The most completions answered whose d had not reached the server yet: how far the runner's
  // executors fell behind the completions (d attempts queued or running).
  long backlog = 0, backlog_max = 0;
  {
    std::vector<std::pair<std::int64_t, int>> ev;
    for (const Run& r : runs) {
      auto it = d_at.find(r.id);
      if (it == d_at.end() || it->second <= r.complete_answer) continue;
      ev.push_back({r.complete_answer, +1});
      ev.push_back({it->second, -1});
    }
    std::sort(ev.begin(), ev.end());
    for (const auto& e : ev) backlog_max = std::max(backlog_max, backlog += e.second);
  }
  std::vector<double> start_ms;
  for (const Run& r : runs) start_ms.push_back((r.start_answer - r.start_send) / 1e6);

  const double n = static_cast<double>(a.runs);
  std::printf(
      "runs=%ld connections=%d complete_conns=%d "
      "auto_wall_s=%.3f auto_steps_per_s=%.1f auto_seen_wall_s=%.3f starts_wall_s=%.3f "
      "runs_started_per_s=%.1f %s %s %s "
      "complete_wall_s=%.3f d_wall_s=%.3f d_steps_per_s=%.1f "
      "whole_wall_s=%.3f whole_auto_steps_per_s=%.1f whole_runs_per_s=%.1f "
      "completed_seen_wall_s=%.3f d_phase_s=%.3f %s %s %s %s %s %s d_backlog_max=%ld calls=%zu "
      "duplicates=%ld missing=%ld\n",
      a.runs, a.connections, a.complete, auto_wall_s, 3 * n / auto_wall_s, seen_wall_s,
      (started_all - t0) / 1e9, n / ((started_all - t0) / 1e9), Dist("start_ms", start_ms).c_str(),
      Dist("run_auto_ms", per_run_ms).c_str(), cpu1.Since(cpu0, "auto").c_str(),
      (completed_all - c0) / 1e9, (last_d - c0_real) / 1e9, n / ((last_d - c0_real) / 1e9),
      (last_d - t0_real) / 1e9, 4 * n / ((last_d - t0_real) / 1e9), n / ((last_d - t0_real) / 1e9),
      (seen_completed - t0) / 1e9, (seen_completed - c0) / 1e9, Dist("to_d_ms", to_d_ms).c_str(),
      Dist("complete_ms", answer_ms).c_str(), Dist("answer_to_d_ms", answer_to_d_ms).c_str(),
      Dist("tail_complete_ms", tail_answer_ms).c_str(),
      Dist("tail_answer_to_d_ms", tail_after_ms).c_str(), cpu2.Since(cpu1, "d").c_str(),
      backlog_max, arrivals.size(), duplicates, missing);
  std::exit(duplicates == 0 && missing == 0 ? 0 : 1);
}

// ---- peer -------------------------------------------------------------------------------------

[[noreturn]] void Peer(const Args& a) {
  opsorch::log::Options quiet;
  quiet.level = opsorch::log::Level::kError;
  opsorch::log::Init(quiet);
  wf::MetricStore store;
  // As `opsorch serve` starts its runtime (Runtime::StartFromFile: script workers on demand,
  // at most 8 idle).
  auto runtime = wf::Runtime::StartFromFile(a.boot, &store, {});
  if (!runtime) Die("runtime: " + runtime.error().message);
  wf::Runtime& rt = **runtime;
  const auto input = [](const std::string& run, long i) {
    // The shape of a runbook step's input (runbooks.cc, StepInput).
    wf::Message m;
    m.body = R"({"runId":")" + run +
             R"(","planId":"bench","stepId":"p","attempt":1,"fields":{"n":)" + std::to_string(i) +
             R"(},"input":{}})";
    m.properties["runId"] = run;
    m.properties["stepId"] = "p";
    return m;
  };
  // Warm-up: script workers spawned, connections open.
  std::vector<std::thread> warm;
  for (int t = 0; t < a.threads; ++t) {
    warm.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (auto r = rt.RunStep(a.deployment, a.step, input("warm-" + std::to_string(t), i)); !r) {
          Die("step: " + r.error().message);
        }
      }
    });
  }
  for (auto& th : warm) th.join();
  (void)FetchArrivals(a.upstream, true);

  struct Call {
    std::int64_t begin, end;
  };
  std::vector<std::vector<Call>> calls(static_cast<std::size_t>(a.threads));
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0};
  const Cpu cpu0 = Cpu::Take(a);
  const double children0 = ChildrenCpuMs(getpid());
  const std::int64_t t0 = SteadyNs();
  std::vector<std::thread> pool;
  for (int t = 0; t < a.threads; ++t) {
    pool.emplace_back([&, t] {
      auto& mine = calls[static_cast<std::size_t>(t)];
      mine.reserve(200000);
      for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::int64_t b = SteadyNs();
        if (!rt.RunStep(a.deployment, a.step,
                        input("peer-" + std::to_string(t) + "-" + std::to_string(i), i))) {
          failures.fetch_add(1);
        }
        mine.push_back({b, SteadyNs()});
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = (SteadyNs() - t0) / 1e9;
  const Cpu cpu1 = Cpu::Take(a);
  const double children1 = ChildrenCpuMs(getpid());
  std::vector<double> lat_ms, to_arrival_ms;
  std::unordered_map<std::string, std::int64_t> at;
  for (const auto& x : FetchArrivals(a.upstream, true)) at.emplace(x.run, x.ns);
  std::size_t steps = 0;
  for (int t = 0; t < a.threads; ++t) {
    const auto& mine = calls[static_cast<std::size_t>(t)];
    for (std::size_t i = 0; i < mine.size(); ++i) {
      ++steps;
      lat_ms.push_back((mine[i].end - mine[i].begin) / 1e6);
      auto it = at.find("peer-" + std::to_string(t) + "-" + std::to_string(i));
      if (it != at.end()) to_arrival_ms.push_back((it->second - mine[i].begin) / 1e6);
    }
  }
  std::printf(
      "threads=%d steps=%zu failures=%ld steps_per_s=%.1f %s %s cpu_runtime_ms=%.0f "
      "cpu_workers_ms=%.0f cpu_upstream_ms=%.0f seconds=%.3f\n",
      a.threads, steps, failures.load(), steps / elapsed, Dist("step_ms", lat_ms).c_str(),
      Dist("to_arrival_ms", to_arrival_ms).c_str(), cpu1.self - cpu0.self, children1 - children0,
      cpu1.upstream - cpu0.upstream, elapsed);
  rt.Stop();
  std::fflush(stdout);
  std::_Exit(failures.load() == 0 ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  if (a.mode == "serve") Serve(a);
  if (a.mode == "runs") Runs(a);
  Peer(a);
}
