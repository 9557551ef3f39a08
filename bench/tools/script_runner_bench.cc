// opsorch-script-bench: latency of ScriptRunner::Run for a trivial processor (parent → worker →
// parent) and throughput at 1 and 2 threads. Usage: opsorch-script-bench [runs] [seconds]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include <opsorch/workflow/script.h>

namespace {

using opsorch::workflow::Message;
using opsorch::workflow::ProcessorKind;
using opsorch::workflow::ScriptHost;
using opsorch::workflow::ScriptInput;
using opsorch::workflow::ScriptLimits;
using opsorch::workflow::ScriptRunner;
using opsorch::workflow::ScriptRunnerOptions;
using opsorch::workflow::StepCallResult;
using Clock = std::chrono::steady_clock;

class NullHost : public ScriptHost {
 public:
  opsorch::Result<std::optional<std::string>> PersistGet(std::string_view) override {
    return std::optional<std::string>();
  }
  opsorch::Status PersistSet(std::string_view, std::optional<std::string_view>) override {
    return opsorch::Ok();
  }
  StepCallResult SendToStep(std::string_view, Message m) override { return {std::move(m), {}}; }
  opsorch::Status SendToStepAsync(std::string_view, Message) override { return opsorch::Ok(); }
};

ScriptInput TrivialInput() {
  ScriptInput in;
  in.chunk_name = "bench/wf/step/results";
  in.kind = ProcessorKind::kResult;
  in.source = "ctx.set_property('seen', 'yes') ctx.set_body(ctx.body())";
  in.message.body = R"({"status":"green","nodes":3})";
  in.message.properties["trace"] = "abc";
  in.status = 200;
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 20000;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  ScriptRunnerOptions options;
  options.min_workers = 2;
  options.max_workers = 4;
  auto runner = ScriptRunner::Create(options);
  if (!runner) {
    std::fprintf(stderr, "%s\n", runner.error().message.c_str());
    return 1;
  }
  const ScriptInput input = TrivialInput();
  const ScriptLimits limits;
  NullHost host;
  for (int i = 0; i < 1000; ++i) (void)(*runner)->Run(input, limits, host);  // warm-up

  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    auto r = (*runner)->Run(input, limits, host);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!r) {
      std::fprintf(stderr, "run failed: %s\n", r.error().message.c_str());
      return 1;
    }
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[static_cast<std::size_t>(p * (us.size() - 1))]; };
  std::printf("Run() latency, %d sequential runs: p50 %.1f us  p90 %.1f us  p99 %.1f us\n", runs,
              pct(0.50), pct(0.90), pct(0.99));

  for (int threads : {1, 2}) {
    std::atomic<bool> stop{false};
    std::atomic<long> done{0};
    std::vector<std::thread> pool;
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        NullHost h;
        long n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          if ((*runner)->Run(input, limits, h)) ++n;
        }
        done += n;
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : pool) th.join();
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%d thread(s): %.0f runs/s\n", threads, static_cast<double>(done.load()) / elapsed);
  }
  return 0;
}
