// opsorch-generate-incidents: fills an incident-engine store with N synthetic incidents spread
// over services, urgencies and a time window, for the SLA and search benchmarks. Deterministic
// for a seed. Titles and descriptions vary the way real ones do (a component out of 200, a
// problem, a host out of 100,000, the service; a runbook and a region in the description), so
// that a search has rare and common words to find: "host-04711" is in about 10 incidents,
// "kafka-broker" in about 5,000, " on host-" in every title, "runbook" only in descriptions.
//
//   opsorch-generate-incidents --store sqlite:/tmp/sla.db --incidents 1000000 [--services 20]
//                              [--days 90] [--seed 1]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include <opsorch/common/time.h>
#include <opsorch/engine/store.h>

namespace {

// 200 components, separated by spaces.
constexpr std::string_view kComponentList =
    "api-gateway auth-service billing-worker cart-service catalog-api checkout-api cdn-edge "
    "config-server consul-agent cron-scheduler dns-resolver email-sender etcd-member "
    "feature-flags fluentd-forwarder frontend-web geo-ip grafana haproxy image-resizer "
    "inventory-db invoice-renderer jenkins-agent kafka-broker kibana kube-apiserver "
    "kube-scheduler kubelet ldap-proxy load-balancer logstash mailer memcached "
    "metrics-collector minio mongodb mysql-primary mysql-replica nats-server nginx-ingress "
    "notification-hub oauth-proxy order-service payment-gateway pgbouncer postgres-primary "
    "postgres-replica prometheus push-gateway rabbitmq rate-limiter recommendation-engine "
    "redis-cache redis-sentinel report-generator search-indexer elasticsearch session-store "
    "shipping-api sms-gateway solr-node spark-executor sso-portal statsd storage-node "
    "stripe-webhook tax-calculator thumbnailer traefik user-profile vault-server "
    "video-transcoder vpn-gateway warehouse-sync webhook-relay websocket-hub zookeeper "
    "airflow-worker alertmanager analytics-etl audit-logger backup-agent blob-store "
    "cassandra-node ceph-osd clickhouse cockroach-node coredns cortex-ingester dask-worker "
    "druid-broker envoy-proxy event-bus fastly-purge flink-taskmanager gitlab-runner "
    "graphql-router hadoop-namenode hbase-region helm-controller istio-pilot "
    "jaeger-collector kafka-connect keycloak kong-gateway ksql-server loki-ingester "
    "mariadb-galera mesos-agent nomad-client ntp-server opensearch openvpn pagerduty-bridge "
    "phpfpm-pool presto-coordinator pulsar-broker puppet-master qdrant redshift-loader "
    "riak-node saltmaster scylla-node sentry-relay sidekiq-queue snowflake-sync spinnaker "
    "squid-proxy superset tempo-distributor terraform-runner thanos-store timescale-db "
    "trino-worker unbound-dns varnish-cache vector-agent victoria-metrics weaviate-node "
    "yarn-nodemanager zipkin ad-server address-validator batch-scheduler cache-warmer "
    "cert-manager chat-service checkout-frontend cms-backend comment-service coupon-service "
    "currency-converter customer-portal data-lake-ingest device-registry document-store "
    "fraud-detector fulfillment-api gift-card-service identity-broker ledger-service "
    "loyalty-points map-tiles media-cdn mobile-bff news-feed onboarding-flow partner-api "
    "pdf-export pricing-engine profile-images quote-service refund-processor review-service "
    "risk-scoring search-api secrets-sync subscription-billing support-desk survey-service "
    "telemetry-pipeline ticketing-api translation-service trial-manager upload-service "
    "usage-metering voucher-service wallet-service leaderboard-api matchmaker order-history "
    "password-reset queue-monitor rollout-controller shard-balancer token-service "
    "uptime-probe webhook-dispatcher zone-replicator notification-email";

constexpr std::string_view kProblems[] = {"disk usage above 90%",
                                          "high error rate",
                                          "latency above SLO",
                                          "OOM killed",
                                          "certificate expires soon",
                                          "replication lag",
                                          "connection pool exhausted",
                                          "health check failing",
                                          "CPU throttled",
                                          "queue backlog growing",
                                          "5xx responses spiking",
                                          "pod crash looping",
                                          "TLS handshake errors",
                                          "slow queries",
                                          "packet loss",
                                          "file descriptors exhausted",
                                          "GC pauses over 1s",
                                          "deadlocks detected",
                                          "backup failed",
                                          "clock skew detected"};

constexpr std::string_view kRegions[] = {"eu-west-1", "eu-central-1",   "us-east-1",
                                         "us-west-2", "ap-southeast-1", "ap-northeast-1"};

std::string Padded(unsigned long long n, int width) {
  std::string digits = std::to_string(n);
  if (static_cast<int>(digits.size()) < width) {
    digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  }
  return digits;
}

template <class List>
std::string_view Pick(std::mt19937_64& rng, const List& items) {
  return items[std::uniform_int_distribution<std::size_t>(0, std::size(items) - 1)(rng)];
}

std::vector<std::string_view> Words(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    const std::size_t space = list.find(' ');
    out.push_back(list.substr(0, space));
    if (space == std::string_view::npos) break;
    list.remove_prefix(space + 1);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{
      "Fill an incident-engine store with synthetic incidents (SLA and search benchmarks)"};
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
  // The text has a generator of its own: the other columns stay what they were for a seed
  // before titles varied (the SLA figures compare across versions).
  std::mt19937_64 text_rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_int_distribution<unsigned> host(0, 99'999);
  std::uniform_int_distribution<unsigned> runbook(0, 9'999);
  const std::vector<std::string_view> components = Words(kComponentList);
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
      const std::string_view component = Pick(text_rng, components);
      const std::string_view problem = Pick(text_rng, kProblems);
      r.title = std::string(component) + " " + std::string(problem) + " on host-" +
                Padded(host(text_rng), 5) + " (" + r.service_id + ")";
      r.description = "Reported by the " + std::string(component) + " monitor in " +
                      std::string(Pick(text_rng, kRegions)) + "; runbook RB-" +
                      Padded(runbook(text_rng), 4) + ".";
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
