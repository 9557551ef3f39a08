// opsorch-sla-report: times SLA reports on a store (see opsorch-generate-incidents): the first
// one loads the SLA cache, the later ones are what GET /analytics/sla costs.
//
//   opsorch-sla-report --store sqlite:/tmp/sla.db [--days 90] [--reports 5] [--team team-1]
#include <chrono>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <opsorch/common/time.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/sla.h>

int main(int argc, char** argv) {
  CLI::App cli{"Time SLA reports over an incident-engine store"};
  std::string url, team;
  int days = 90, reports = 5;
  cli.add_option("--store", url, "sqlite:<path> or postgres://…")->required();
  cli.add_option("--days", days, "report window, ending now")->check(CLI::Range(1, 3650));
  cli.add_option("--reports", reports, "how many reports")->check(CLI::Range(1, 1000));
  cli.add_option("--team", team, "only this team's services");
  CLI11_PARSE(cli, argc, argv);

  opsorch::engine::EngineOptions options;
  options.store_url = url;
  options.retention_interval = std::chrono::minutes(0);
  auto engine = opsorch::engine::Engine::Open(options);
  if (!engine) {
    std::fprintf(stderr, "sla-report: %s\n", engine.error().message.c_str());
    return 1;
  }
  for (int i = 0; i < reports; ++i) {
    const std::int64_t now = opsorch::Time::Now().UnixNanos();
    opsorch::engine::SlaQuery q;
    q.end = now;
    q.start = now - static_cast<std::int64_t>(days) * 86400 * 1'000'000'000LL;
    q.team = team;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = (*engine)->Sla(q);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r) {
      std::fprintf(stderr, "sla-report: %s\n", r.error().message.c_str());
      return 1;
    }
    std::printf("report %d: %lld incidents over %zu services in %.1f ms%s\n", i + 1,
                static_cast<long long>(r->overall.incidents), r->services.size(),
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                i == 0 ? " (loads the SLA cache)" : "");
  }
  return 0;
}
