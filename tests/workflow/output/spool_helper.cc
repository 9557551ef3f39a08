// Child process for the SIGKILL test: appends records and reports each acknowledged one on
// stdout ("ack <id>") right after Append returns; the parent kills it at some point.
// Usage: spool_helper <spool_dir> <url> <count> <threads> <sync|nosync>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <opsorch/workflow/metric_output.h>

int main(int argc, char** argv) {
  if (argc != 6) return 2;
  opsorch::workflow::OutputOptions o;
  o.id = "kill";
  o.spool_dir = argv[1];
  o.url = argv[2];
  o.batch_max = 50;
  o.segment_bytes = 16 << 10;  // many rotations while being killed
  o.flush_interval = std::chrono::milliseconds(5);
  o.retry_min = std::chrono::milliseconds(10);
  o.retry_max = std::chrono::milliseconds(50);
  o.sync_appends = std::string(argv[5]) == "sync";
  const int count = std::atoi(argv[3]);
  const int threads = std::atoi(argv[4]);
  auto out = opsorch::workflow::MetricOutput::Open(o);
  if (!out) {
    std::fprintf(stderr, "open: %s\n", out.error().message.c_str());
    return 3;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = t; i < count; i += threads) {
        const std::string line =
            "{\"id\":" + std::to_string(i) + ",\"pad\":\"" + std::string(40 + i % 50, 'x') + "\"}";
        if (!(*out)->Append({&line, 1})) continue;
        // One write(2) per ack so the parent never sees a torn ack line.
        const std::string ack = "ack " + std::to_string(i) + "\n";
        if (::write(STDOUT_FILENO, ack.data(), ack.size()) < 0) std::_Exit(4);
      }
    });
  }
  for (auto& t : pool) t.join();
  const char done[] = "done\n";
  if (::write(STDOUT_FILENO, done, sizeof done - 1) < 0) return 4;
  for (;;) ::pause();  // wait for SIGKILL
}
