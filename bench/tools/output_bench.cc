// Append throughput of a workflow output's spool (MetricOutput::Append), synced and not, at 1
// and 4 threads and with 1 or 100 records per call. The sender POSTs to a closed loopback port,
// so it only retries: what is measured is the step path's cost of making records durable.
//
// Usage: opsorch-output-bench [dir]   (default: a directory under /tmp; use a disk, not tmpfs)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <opsorch/log/log.h>
#include <opsorch/workflow/metric_output.h>

namespace wf = opsorch::workflow;

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1
                                        ? std::filesystem::path(argv[1])
                                        : std::filesystem::temp_directory_path() /
                                              ("opsorch-output-bench-" + std::to_string(getpid()));
  opsorch::log::Options quiet;
  quiet.level = opsorch::log::Level::kError;
  opsorch::log::Init(quiet);
  const std::string line = wf::MetricLine(
      {1700000000000, "http.latency_ms", 12.5, {{"step", "s"}, {"workflow", "w"}}}, "dep", "tok");
  for (const bool sync : {true, false}) {
    std::filesystem::remove_all(dir);
    wf::OutputOptions o;
    o.id = "bench";
    o.url = "http://127.0.0.1:9/ingest";  // nothing listens: records stay in the spool
    o.spool_dir = dir.string();
    o.sync_appends = sync;
    auto out = wf::MetricOutput::Open(o);
    if (!out) {
      std::fprintf(stderr, "open: %s\n", out.error().message.c_str());
      return 1;
    }
    for (const auto& [threads, calls, per_call] :
         {std::tuple{1, sync ? 2000 : 50000, 1}, std::tuple{4, sync ? 1000 : 20000, 1},
          std::tuple{1, sync ? 200 : 2000, 100}}) {
      const std::vector<std::string> batch(static_cast<std::size_t>(per_call), line);
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
          for (int i = 0; i < calls; ++i) {
            if (!(*out)->Append(batch)) std::fprintf(stderr, "append failed\n");
          }
        });
      }
      for (auto& th : pool) th.join();
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("sync=%d threads=%d records/call=%d: %.0f records/s, %.1f us/call\n", sync,
                  threads, per_call, threads * calls * per_call / secs, secs * 1e6 / calls);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
