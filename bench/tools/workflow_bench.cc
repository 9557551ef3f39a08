// Steps per second of the workflow runtime: one step = a URL processor, a GET to a local HTTP
// server (keep-alive), a Lua results processor that decodes the JSON answer and emits a metric.
// Runs the real runtime (script workers, fetcher, metric store) from N threads for S seconds
// and prints steps/s and the per-step latency percentiles. bench/workflow.sh drives it.
//
// Usage: opsorch-workflow-bench URL [threads] [seconds] [report]
//   URL: base URL of the server, e.g. http://127.0.0.1:8080 (the step GETs URL/data.json)
//   report: 1 (default) the runtime's own metrics and audit records on, 0 off (their cost)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <opsorch/log/log.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/runtime.h>

namespace wf = opsorch::workflow;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URL [threads] [seconds]\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 5;
  const bool report = argc > 4 ? std::atoi(argv[4]) != 0 : true;
  opsorch::log::Options quiet;
  quiet.level = opsorch::log::Level::kError;
  opsorch::log::Init(quiet);

  const fs::path dir = fs::temp_directory_path() / ("opsorch-wfbench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "wf.json") << R"J({"workflows": [{"name": "bench", "steps": [{"id": "s",
    "url": "ctx.set_url('svc', '/data.json')",
    "results": "local v = ctx.json.decode(ctx.body()); ctx.metric('bench.value', v.value, {host = v.host})"}]}]})J";
  std::ofstream(dir / "boot.json")
      << R"J({"deployments": [{"id": "bench", "config": {"file": "wf.json"},
    "persistence_dir": "state", "hosts": {"svc": {"url": ")J" +
             url + R"J(", "allow_private": true,
    "allow": [{"method": "GET", "path": "/data.json"}]}}}]})J";
  auto bootstrap = wf::LoadBootstrap((dir / "boot.json").string(), wf::ProcessEnvLookup());
  if (!bootstrap) {
    std::fprintf(stderr, "bootstrap: %s\n", bootstrap.error().message.c_str());
    return 1;
  }
  wf::MetricStore store;
  wf::RuntimeOptions options;
  options.start_triggers = false;
  options.metric_store = &store;
  options.report = report;
  options.scripts.min_workers = static_cast<std::size_t>(threads);
  auto runtime = wf::Runtime::Start(std::move(*bootstrap), std::move(options));
  if (!runtime) {
    std::fprintf(stderr, "runtime: %s\n", runtime.error().message.c_str());
    return 1;
  }
  // Warm-up: workers spawned, connections open.
  for (int i = 0; i < 200; ++i) {
    if (auto r = (*runtime)->RunStep("bench", "s", {}); !r) {
      std::fprintf(stderr, "step: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<long> failures{0};
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto& lat = latencies[static_cast<std::size_t>(t)];
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        if (!(*runtime)->RunStep("bench", "s", {})) failures.fetch_add(1);
        lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    return all.empty() ? 0.0
                       : all[std::min(all.size() - 1, static_cast<std::size_t>(p * all.size()))];
  };
  std::printf(
      "report=%d threads=%d steps=%zu failures=%ld steps_per_s=%.0f p50_us=%.0f p99_us=%.0f\n",
      report ? 1 : 0, threads, all.size(), failures.load(), all.size() / elapsed, pct(0.5),
      pct(0.99));
  (*runtime)->Stop();
  runtime->reset();
  fs::remove_all(dir);
  return failures.load() == 0 ? 0 : 1;
}
