// opsorch-search-bench: times incident text searches on a store (see opsorch-generate-incidents
// and bench/search.sh): the store query behind POST /incidents/query, first page, newest first
// (--oldest: oldest first), each search without and with a status filter. Prints, per search,
// the incidents on the page and the median and p95 of --runs runs after one warm-up run.
//
//   opsorch-search-bench --store sqlite:/tmp/search.db [--runs 20] [--limit 100]
//                        [--status open] [--search TEXT]... [--oldest]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <opsorch/engine/store.h>

namespace {

struct Timing {
  std::size_t found = 0;
  double median_ms = 0;
  double p95_ms = 0;
};

// Nearest-rank percentile of sorted samples.
double Percentile(const std::vector<double>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

opsorch::Result<Timing> Time(opsorch::engine::Store& store,
                             const opsorch::engine::IncidentFilter& f, int runs) {
  Timing t;
  std::vector<double> ms;
  for (int i = 0; i <= runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto rows = store.QueryIncidents(f);
    const auto t1 = std::chrono::steady_clock::now();
    if (!rows) return opsorch::Fail(std::move(rows.error()));
    t.found = rows->size();
    if (i > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  t.median_ms = Percentile(ms, 0.5);
  t.p95_ms = Percentile(ms, 0.95);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Time incident text searches on an incident-engine store"};
  std::string url;
  int runs = 20;
  long long limit = 100;
  std::string status = "open";
  bool oldest = false;
  // What opsorch-generate-incidents writes: a host in about 10 incidents, a component in about
  // 5,000, words in every title or description, and two-character texts (no trigram: a scan),
  // one common and one in no incident.
  std::vector<std::string> searches = {"host-04711", "kafka-broker", " on host-",
                                       "runbook",    "db",           "zq"};
  cli.add_option("--store", url, "sqlite:<path> or postgres://…")->required();
  cli.add_option("--runs", runs, "timed runs per search (after one warm-up run)")
      ->check(CLI::Range(1, 100000));
  cli.add_option("--limit", limit, "page size")->check(CLI::Range(1, 1000));
  cli.add_option("--status", status, "the status of the filtered runs");
  cli.add_option("--search", searches, "a search text (repeat; replaces the default list)");
  cli.add_flag("--oldest", oldest, "oldest first instead of newest first");
  CLI11_PARSE(cli, argc, argv);

  const auto opening = std::chrono::steady_clock::now();
  auto store = opsorch::engine::OpenStore(url);  // migrates: an upgrade is timed here
  if (!store) {
    std::fprintf(stderr, "search-bench: %s\n", store.error().message.c_str());
    return 1;
  }
  std::printf("store opened (and migrated) in %.1f s\n\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - opening).count());
  std::printf("| search | status filter | incidents on the page | median ms | p95 ms |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto& text : searches) {
    for (const bool filtered : {false, true}) {
      opsorch::engine::IncidentFilter f;
      f.text = text;
      f.limit = limit;
      f.oldest_first = oldest;
      if (filtered) f.statuses = {status};
      auto t = Time(**store, f, runs);
      if (!t) {
        std::fprintf(stderr, "search-bench: %s: %s\n", text.c_str(), t.error().message.c_str());
        return 1;
      }
      std::printf("| \"%s\" | %s | %zu | %.2f | %.2f |\n", text.c_str(),
                  filtered ? status.c_str() : "—", t->found, t->median_ms, t->p95_ms);
    }
  }
  return 0;
}
