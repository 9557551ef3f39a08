// opsorch-generate-incidents: fills an incident-engine store with N synthetic incidents spread
// over services, urgencies and a time window, for the SLA benchmark. Deterministic for a seed.
//
//   opsorch-generate-incidents --store sqlite:/tmp/sla.db --incidents 1000000 [--services 20]
//                              [--days 90] [--seed 1]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <opsorch/common/time.h>
#include <opsorch/engine/store.h>

int main(int argc, char** argv) {
  CLI::App cli{"Fill an incident-engine store with synthetic incidents (SLA benchmark)"};
  std::string url;
  long long incidents = 1'000'000;
  int services = 20;
  int days = 90;
  unsigned seed = 1;
  cli.add_option("--store", url, "sqlite:<path> or postgres://…")->required();
  cli.add_option("--incidents", incidents, "how many incidents")->check(CLI::PositiveNumber);
  cli.add_option("--services", services, "spread over this many services")
      ->check(CLI::Range(1, 10000));
  cli.add_option("--days", days, "created within the last N days")->check(CLI::Range(1, 3650));
  cli.add_option("--seed", seed, "random seed");
  CLI11_PARSE(cli, argc, argv);

  auto store = opsorch::engine::OpenStore(url);
  if (!store) {
    std::fprintf(stderr, "generate: %s\n", store.error().message.c_str());
    return 1;
  }
  const std::int64_t now = opsorch::Time::Now().UnixNanos();
  const std::int64_t window = static_cast<std::int64_t>(days) * 86400 * 1'000'000'000LL;
  for (int s = 0; s < services; ++s) {
    opsorch::engine::ServiceRow row;
    row.id = "svc-" + std::to_string(s);
    row.name = "Service " + std::to_string(s);
    row.team_id = "team-" + std::to_string(s % 5);
    row.created_at = now - window;
    if (auto st = (*store)->UpsertService(row); !st) {
      std::fprintf(stderr, "generate: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> service(0, services - 1);
  // Creation times advance with the incident number, as they do in a real store (ids are
  // handed out in commit order), with a random gap of about window/incidents between them.
  const double mean_gap = static_cast<double>(window) / static_cast<double>(incidents);
  std::exponential_distribution<double> gap(1.0 / mean_gap);
  double clock = static_cast<double>(now - window);
  std::discrete_distribution<int> urgency({2, 5, 3});  // high, medium, low
  std::exponential_distribution<double> ack_minutes(1.0 / 12);
  std::exponential_distribution<double> resolve_minutes(1.0 / 90);
  std::bernoulli_distribution acked(0.85), resolved(0.97);
  static const char* kUrgency[] = {"high", "medium", "low"};
  static const char* kSeverity[] = {"critical", "error", "info"};

  const auto started = std::chrono::steady_clock::now();
  constexpr long long kBatch = 20'000;
  for (long long done = 0; done < incidents;) {
    std::vector<opsorch::engine::IncidentRow> rows;
    const long long n = std::min(kBatch, incidents - done);
    rows.reserve(static_cast<std::size_t>(n));
    for (long long i = 0; i < n; ++i) {
      opsorch::engine::IncidentRow r;
      const int u = urgency(rng);
      r.service_id = "svc-" + std::to_string(service(rng));
      r.title = "synthetic incident";
      r.urgency = kUrgency[u];
      r.severity = kSeverity[u];
      clock += gap(rng);
      r.created_at = std::min(static_cast<std::int64_t>(clock), now);
      if (acked(rng)) {
        r.acknowledged_at = r.created_at + static_cast<std::int64_t>(ack_minutes(rng) * 60e9) + 1;
      }
      if (resolved(rng)) {
        r.resolved_at = std::max(r.acknowledged_at, r.created_at) +
                        static_cast<std::int64_t>(resolve_minutes(rng) * 60e9) + 1;
        r.status = "resolved";
      } else {
        r.status = r.acknowledged_at ? "acknowledged" : "open";
      }
      r.updated_at = std::max({r.created_at, r.acknowledged_at, r.resolved_at});
      rows.push_back(std::move(r));
    }
    std::vector<std::function<opsorch::Status(opsorch::engine::Tx&)>> items;
    items.push_back([&rows](opsorch::engine::Tx& tx) -> opsorch::Status {
      for (auto& r : rows) {
        if (auto st = tx.InsertIncident(r); !st) return st;
      }
      return opsorch::Ok();
    });
    std::vector<opsorch::Status> results;
    if (auto st = (*store)->WriteBatch(items, results); !st || !results.front()) {
      std::fprintf(stderr, "generate: %s\n",
                   (!st ? st.error() : results.front().error()).message.c_str());
      return 1;
    }
    done += n;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("generated %lld incidents over %d services in %.1f s\n", incidents, services, secs);
  return 0;
}
