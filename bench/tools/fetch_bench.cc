// Keep-alive GET latency (p50/p99) and throughput of HttpFetcher at 1 and 2 threads.
//   opsorch-fetch-bench [--url http://127.0.0.1:PORT/path] [--requests N] [--body-bytes N]
// Without --url it starts a cpp-httplib upstream on 127.0.0.1 (when built with it). Only point
// --url at loopback or a host you own.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#ifdef OPSORCH_FETCH_BENCH_HTTPLIB
#include <httplib.h>
#endif

#include <opsorch/workflow/http_fetch.h>

namespace {

using opsorch::workflow::FetchRequest;
using opsorch::workflow::HostPolicy;
using opsorch::workflow::HttpFetcher;
using Clock = std::chrono::steady_clock;

struct RunResult {
  std::vector<double> latencies_us;
  double seconds = 0;
  int failures = 0;
};

RunResult Run(HttpFetcher& fetcher, const HostPolicy& host, const std::string& path, int threads,
              int requests_per_thread) {
  std::vector<std::vector<double>> per_thread(threads);
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      FetchRequest request;
      request.path = path;
      auto& lat = per_thread[t];
      lat.reserve(requests_per_thread);
      for (int i = 0; i < requests_per_thread; ++i) {
        const auto t0 = Clock::now();
        auto response = fetcher.Fetch(host, request);
        const auto t1 = Clock::now();
        if (!response || response->status != 200) {
          if (failures.fetch_add(1) == 0 && !response) {
            std::fprintf(stderr, "first failure: %s: %s\n", std::string(opsorch::WireCode(response.error())).c_str(),
                         response.error().message.c_str());
          }
          continue;
        }
        lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  for (auto& w : workers) w.join();
  RunResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& lat : per_thread) {
    result.latencies_us.insert(result.latencies_us.end(), lat.begin(), lat.end());
  }
  std::sort(result.latencies_us.begin(), result.latencies_us.end());
  result.failures = failures.load();
  return result;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int requests = 5000;
  std::size_t body_bytes = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--url" && has_value) {
      url = argv[++i];
    } else if (arg == "--requests" && has_value) {
      requests = std::atoi(argv[++i]);
    } else if (arg == "--body-bytes" && has_value) {
      body_bytes = static_cast<std::size_t>(std::atol(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--url URL] [--requests N] [--body-bytes N]\n", argv[0]);
      return 2;
    }
  }

#ifdef OPSORCH_FETCH_BENCH_HTTPLIB
  std::unique_ptr<httplib::Server> server;
  std::thread server_thread;
  if (url.empty()) {
    server = std::make_unique<httplib::Server>();
    server->set_tcp_nodelay(true);  // off by default: ~40 ms per request (Nagle + delayed ACK)
    server->set_keep_alive_max_count(1000000);
    server->Get("/bench", [body = std::string(body_bytes, 'x')](const httplib::Request&,
                                                                httplib::Response& res) {
      res.set_content(body, "text/plain");
    });
    const int port = server->bind_to_any_port("127.0.0.1");
    server_thread = std::thread([&] { server->listen_after_bind(); });
    while (!server->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    url = "http://127.0.0.1:" + std::to_string(port) + "/bench";
  }
#endif
  if (url.empty()) {
    std::fprintf(stderr, "--url is required (built without cpp-httplib)\n");
    return 2;
  }

  // The host is the URL's origin; the path is what a workflow would append.
  const std::size_t authority = url.find("://");
  const std::size_t slash = url.find('/', authority == std::string::npos ? 0 : authority + 3);
  HostPolicy host;
  host.id = "bench";
  host.base_url = slash == std::string::npos ? url : url.substr(0, slash);
  host.allow_private = true;  // the upstream is on loopback
  const std::string path = slash == std::string::npos ? "/" : url.substr(slash);

  auto fetcher = HttpFetcher::Create();
  if (!fetcher) {
    std::fprintf(stderr, "%s\n", fetcher.error().message.c_str());
    return 1;
  }
  Run(**fetcher, host, path, 2, 200);  // warm-up: connections, caches
  std::printf("%-8s %10s %10s %10s %12s %8s\n", "threads", "requests", "p50_us", "p99_us",
              "req_per_s", "failed");
  int rc = 0;
  for (int threads : {1, 2}) {
    const RunResult r = Run(**fetcher, host, path, threads, requests / threads);
    const double rps = static_cast<double>(r.latencies_us.size()) / r.seconds;
    std::printf("%-8d %10zu %10.1f %10.1f %12.0f %8d\n", threads, r.latencies_us.size(),
                Percentile(r.latencies_us, 0.50), Percentile(r.latencies_us, 0.99), rps,
                r.failures);
    if (r.failures != 0) rc = 1;
  }
  fetcher->reset();

#ifdef OPSORCH_FETCH_BENCH_HTTPLIB
  if (server) {
    server->stop();
    server_thread.join();
  }
#endif
  return rc;
}
