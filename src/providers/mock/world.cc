#include "providers/mock/world.h"

#include <algorithm>
#include <map>

#include <opsorch/common/strings.h>

#include "providers/mock/util.h"

namespace opsorch::providers::mock {
namespace {

// ---------------------------------------------------------------------------------------------
// Seed tables. Times are minutes before `now` (or after an incident's creation for timelines).
// ---------------------------------------------------------------------------------------------

struct TeamRow {
  const char* id;
  const char* name;
  const char* parent;
  const char* timezone;
  const char* description;
};

constexpr TeamRow kTeams[] = {
    {"engineering", "Engineering", "", "America/New_York", "All product engineering teams"},
    {"team-payments", "Payments", "engineering", "America/New_York",
     "Checkout, payments, orders and the ledger"},
    {"team-platform", "Platform", "engineering", "Europe/Berlin", "API gateway and web frontend"},
    {"team-identity", "Identity", "engineering", "Europe/London",
     "Login, MFA and customer notifications"},
    {"team-data", "Data", "engineering", "America/Los_Angeles",
     "Search, analytics and inventory sync"},
    {"team-sre", "Site Reliability", "engineering", "America/Chicago",
     "Databases, incident response and reliability tooling"},
};

struct MemberRow {
  const char* team;
  const char* local;  // email local part, also the member id before the domain
  const char* name;
  const char* handle;
  const char* role;
};

constexpr MemberRow kMembers[] = {
    {"engineering", "maria.chen", "Maria Chen", "mchen", "lead"},
    {"engineering", "david.okafor", "David Okafor", "dokafor", "manager"},
    {"engineering", "priya.raman", "Priya Raman", "praman", "engineer"},
    {"team-payments", "alice.johnson", "Alice Johnson", "alice", "lead"},
    {"team-payments", "bob.martinez", "Bob Martinez", "bob", "engineer"},
    {"team-payments", "carol.nguyen", "Carol Nguyen", "carol", "oncall"},
    {"team-payments", "dan.weber", "Dan Weber", "dan", "engineer"},
    {"team-platform", "erin.kowalski", "Erin Kowalski", "erin", "lead"},
    {"team-platform", "frank.osei", "Frank Osei", "frank", "oncall"},
    {"team-platform", "grace.liu", "Grace Liu", "grace", "engineer"},
    {"team-platform", "hiro.tanaka", "Hiro Tanaka", "hiro", "engineer"},
    {"team-identity", "ivan.petrov", "Ivan Petrov", "ivan", "lead"},
    {"team-identity", "julia.santos", "Julia Santos", "julia", "oncall"},
    {"team-identity", "kevin.brooks", "Kevin Brooks", "kevin", "engineer"},
    {"team-data", "lena.fischer", "Lena Fischer", "lena", "lead"},
    {"team-data", "mohammed.ali", "Mohammed Ali", "mo", "engineer"},
    {"team-data", "nora.kim", "Nora Kim", "nora", "oncall"},
    {"team-data", "oscar.diaz", "Oscar Diaz", "oscar", "engineer"},
    {"team-sre", "paula.rossi", "Paula Rossi", "paula", "lead"},
    {"team-sre", "quentin.moreau", "Quentin Moreau", "quentin", "oncall"},
    {"team-sre", "rachel.adams", "Rachel Adams", "rachel", "oncall"},
    {"team-sre", "sanjay.patel", "Sanjay Patel", "sanjay", "engineer"},
    {"team-sre", "tom.becker", "Tom Becker", "tom", "engineer"},
};

struct ServiceRow {
  const char* id;
  const char* display;
  const char* team;
  const char* tier;
  const char* language;
  const char* region;
  const char* description;
  std::vector<const char*> dependencies;
};

const std::vector<ServiceRow>& ServiceRows() {
  static const std::vector<ServiceRow> rows = {
      {"svc-checkout",
       "Checkout",
       "team-payments",
       "tier-1",
       "go",
       "us-east-1",
       "Cart checkout and order placement API",
       {"svc-payments", "svc-inventory", "svc-orders", "svc-identity"}},
      {"svc-payments",
       "Payments",
       "team-payments",
       "tier-1",
       "java",
       "us-east-1",
       "Card authorization and capture against external processors",
       {"svc-ledger", "svc-database"}},
      {"svc-ledger",
       "Ledger",
       "team-payments",
       "tier-1",
       "go",
       "us-east-1",
       "Double-entry ledger and nightly reconciliation",
       {"svc-database"}},
      {"svc-orders",
       "Orders",
       "team-payments",
       "tier-1",
       "java",
       "us-east-1",
       "Order lifecycle and ERP export",
       {"svc-database", "svc-notifications"}},
      {"svc-identity",
       "Identity",
       "team-identity",
       "tier-1",
       "go",
       "eu-west-1",
       "Login, OAuth tokens and MFA",
       {"svc-database", "svc-notifications"}},
      {"svc-notifications",
       "Notifications",
       "team-identity",
       "tier-2",
       "python",
       "eu-west-1",
       "Email, SMS and push delivery",
       {}},
      {"svc-api-gateway",
       "API Gateway",
       "team-platform",
       "tier-1",
       "go",
       "us-east-1",
       "Public API edge: routing, auth and rate limiting",
       {"svc-identity", "svc-checkout", "svc-search"}},
      {"svc-web",
       "Web",
       "team-platform",
       "tier-1",
       "typescript",
       "us-east-1",
       "Customer-facing web application",
       {"svc-api-gateway"}},
      {"svc-search",
       "Search",
       "team-data",
       "tier-2",
       "java",
       "us-west-2",
       "Product search and ranking",
       {"svc-inventory"}},
      {"svc-analytics",
       "Analytics",
       "team-data",
       "tier-3",
       "python",
       "us-west-2",
       "Event ingestion and business dashboards",
       {}},
      {"svc-inventory",
       "Inventory",
       "team-data",
       "tier-2",
       "kotlin",
       "eu-central-1",
       "Stock levels and warehouse sync",
       {"svc-database"}},
      {"svc-database",
       "Database",
       "team-sre",
       "tier-1",
       "postgresql",
       "us-east-1",
       "Shared PostgreSQL clusters (orders-db, ledger-db)",
       {}},
  };
  return rows;
}

struct TimelineRow {
  int at;             // minutes after the incident was created
  const char* kind;   // created, alert, note, status_change, deploy, resolved
  const char* actor;  // "user:<local>", "system:<id>" or "automation:<id>"
  const char* body;
};

struct IncidentRow {
  const char* id;
  const char* service;
  const char* severity;
  const char* status;
  int created;  // minutes ago
  const char* title;
  const char* description;
  const char* impact;
  bool customer_facing;
  const char* commander;  // email local part
  std::vector<TimelineRow> timeline;
};

const std::vector<IncidentRow>& IncidentRows() {
  static const std::vector<IncidentRow> rows = {
      {"inc-001",
       "svc-database",
       "sev2",
       "resolved",
       20160,
       "Primary database failover during maintenance window",
       "A planned minor-version upgrade of orders-db triggered an unplanned failover; writes "
       "failed for about 6 minutes.",
       "Checkout and order writes failed for 6 minutes",
       true,
       "paula.rossi",
       {{0, "created", "system:alertmanager", "Incident created from alert PostgresPrimaryDown"},
        {1, "alert", "system:alertmanager", "PostgresPrimaryDown firing for orders-db-0 (al-001)"},
        {4, "status_change", "user:quentin.moreau", "Status changed from open to investigating"},
        {9, "note", "user:quentin.moreau", "Replica promoted; application pools reconnecting"},
        {35, "resolved", "user:paula.rossi",
         "Writes healthy for 25 minutes; resolving. Postmortem in TCK-001"}}},
      {"inc-002",
       "svc-search",
       "sev3",
       "resolved",
       17280,
       "Search index lag after schema migration",
       "Product search returned stale results for up to 40 minutes after the catalog schema "
       "migration.",
       "Stale search results",
       true,
       "lena.fischer",
       {{0, "created", "system:alertmanager", "Incident created from alert SearchIndexLagHigh"},
        {2, "alert", "system:alertmanager", "SearchIndexLagHigh: index lag 1840s (al-003)"},
        {10, "status_change", "user:nora.kim", "Status changed from open to investigating"},
        {25, "note", "user:nora.kim",
         "Reindex worker stuck on a malformed document batch; skipping batch 8812"},
        {55, "resolved", "user:lena.fischer", "Index lag back under 30s"}}},
      {"inc-003",
       "svc-notifications",
       "sev4",
       "resolved",
       14400,
       "Delayed email notifications due to provider throttling",
       "The outbound email provider throttled our sending domain; password-reset and receipt "
       "emails were delayed by up to 25 minutes.",
       "Emails delayed up to 25 minutes",
       true,
       "julia.santos",
       {{0, "created", "user:julia.santos",
         "Incident declared after support reports of missing receipts"},
        {5, "status_change", "user:julia.santos", "Status changed from open to investigating"},
        {12, "note", "user:julia.santos",
         "Provider confirms a rate limit on the sending domain; increase requested"},
        {70, "resolved", "user:julia.santos", "Queue drained; rate limit raised to 200 msg/s"}}},
      {"inc-004",
       "svc-identity",
       "sev1",
       "resolved",
       11520,
       "Login failures after OAuth signing key rotation",
       "Automated key rotation published a JWKS document without the previous key; about 38% "
       "of logins failed for 22 minutes.",
       "38% of logins failing",
       true,
       "ivan.petrov",
       {{0, "created", "system:alertmanager", "Incident created from alert LoginErrorRateHigh"},
        {1, "alert", "system:alertmanager",
         "LoginErrorRateHigh: 38% of /oauth/token requests failing (al-005)"},
        {3, "status_change", "user:kevin.brooks", "Status changed from open to investigating"},
        {8, "note", "user:kevin.brooks", "Re-published JWKS including the previous signing key"},
        {22, "note", "user:ivan.petrov", "Error rate back to baseline; monitoring"},
        {45, "resolved", "user:ivan.petrov",
         "Resolved. Follow-up TCK-002 adds a JWKS overlap check"}}},
      {"inc-005",
       "svc-ledger",
       "sev3",
       "resolved",
       8640,
       "Ledger reconciliation job missed SLA",
       "Nightly reconciliation finished 3 hours late after a slow query plan on the settlements "
       "table.",
       "Finance reports delayed",
       false,
       "alice.johnson",
       {{0, "created", "system:scheduler", "Reconciliation job exceeded its 4h SLA"},
        {15, "status_change", "user:dan.weber", "Status changed from open to investigating"},
        {50, "note", "user:dan.weber",
         "Planner switched to a sequential scan after statistics went stale; ran ANALYZE"},
        {180, "resolved", "user:alice.johnson",
         "Job completed; stats freshness alert tracked in TCK-004"}}},
      {"inc-006",
       "svc-inventory",
       "sev3",
       "resolved",
       7200,
       "Inventory sync drift between warehouses",
       "Stock counts for the EU warehouse drifted from the source of truth by up to 4% after a "
       "consumer crash loop.",
       "Overselling risk on 120 SKUs",
       true,
       "lena.fischer",
       {{0, "created", "system:alertmanager", "Incident created from alert InventoryDriftHigh"},
        {5, "alert", "system:alertmanager", "InventoryDriftHigh: 4.1% drift for eu-1 (al-008)"},
        {12, "status_change", "user:oscar.diaz", "Status changed from open to investigating"},
        {30, "note", "user:oscar.diaz",
         "Consumer OOM on an oversized batch; raised the memory limit and replayed offsets"},
        {95, "resolved", "user:lena.fischer", "Drift back to 0.0%"}}},
      {"inc-007",
       "svc-analytics",
       "sev4",
       "resolved",
       5760,
       "Analytics dashboards showing stale data",
       "The hourly aggregation DAG stalled behind a long-running backfill; dashboards lagged by "
       "5 hours.",
       "Internal dashboards stale",
       false,
       "mohammed.ali",
       {{0, "created", "user:mohammed.ali", "Incident declared from a dashboard freshness check"},
        {20, "note", "user:mohammed.ali", "Paused the backfill; aggregation DAG catching up"},
        {130, "resolved", "user:mohammed.ali", "Dashboards current"}}},
      {"inc-008",
       "svc-api-gateway",
       "sev2",
       "resolved",
       4320,
       "Elevated 5xx on API gateway after config push",
       "A route config push removed upstream keepalive settings; 7% of requests returned 502 for "
       "18 minutes.",
       "7% of API requests failing",
       true,
       "erin.kowalski",
       {{0, "created", "system:alertmanager", "Incident created from alert GatewayHigh5xxRate"},
        {1, "alert", "system:alertmanager", "GatewayHigh5xxRate: 7.2% 5xx over 5m (al-010)"},
        {4, "status_change", "user:frank.osei", "Status changed from open to investigating"},
        {9, "deploy", "automation:deploy-bot",
         "Rollback of svc-api-gateway to v3.8.2 started (deploy-004)"},
        {18, "note", "user:frank.osei", "5xx rate back under 0.1%"},
        {40, "resolved", "user:erin.kowalski", "Resolved; postmortem in TCK-005"}}},
      {"inc-009",
       "svc-web",
       "sev3",
       "resolved",
       2880,
       "Static assets returning 404 after CDN purge",
       "A full CDN purge raced with the web release; cached HTML referenced asset hashes that no "
       "longer existed.",
       "Broken pages for some users",
       true,
       "grace.liu",
       {{0, "created", "user:grace.liu", "Incident declared after synthetic check failures"},
        {3, "status_change", "user:hiro.tanaka", "Status changed from open to investigating"},
        {10, "deploy", "automation:deploy-bot",
         "Redeployed svc-web v5.2.0 with asset retention (deploy-006)"},
        {25, "resolved", "user:grace.liu", "Synthetic checks green"}}},
      {"inc-010",
       "svc-orders",
       "sev3",
       "acknowledged",
       1560,
       "Order export backlog growing",
       "The ERP export queue has been growing since the partner API change; exports are about "
       "4 hours behind.",
       "Order exports to ERP delayed 4h",
       false,
       "bob.martinez",
       {{0, "created", "system:alertmanager", "Incident created from alert OrderExportBacklog"},
        {2, "alert", "system:alertmanager", "OrderExportBacklog: 12,400 messages pending (al-013)"},
        {30, "status_change", "user:bob.martinez", "Status changed from open to acknowledged"},
        {300, "note", "user:bob.martinez",
         "Partner API now rejects orders without a tax region; patch in review (TCK-008)"}}},
      {"inc-011",
       "svc-payments",
       "sev1",
       "investigating",
       300,
       "Payment authorization failures with card processor",
       "Authorization requests to the primary card processor are timing out; 14% of card "
       "payments are failing.",
       "14% of card payments failing",
       true,
       "alice.johnson",
       {{0, "created", "system:alertmanager", "Incident created from alert PaymentAuthFailureRate"},
        {1, "alert", "system:alertmanager",
         "PaymentAuthFailureRate: 14.2% failures over 10m (al-014)"},
        {6, "status_change", "user:carol.nguyen", "Status changed from open to acknowledged"},
        {15, "status_change", "user:carol.nguyen",
         "Status changed from acknowledged to investigating"},
        {40, "note", "user:carol.nguyen",
         "Processor status page reports degraded performance in us-east"},
        {90, "note", "user:carol.nguyen",
         "Started run-003 (Roll back a production deployment) for v2.14.1"},
        {102, "deploy", "automation:deploy-bot",
         "Rollback of svc-payments to v2.14.0 completed (deploy-010)"},
        {180, "note", "user:alice.johnson",
         "Rollback did not help; evaluating failover to the secondary processor (TCK-009)"}}},
      {"inc-012",
       "svc-checkout",
       "sev2",
       "investigating",
       180,
       "Checkout latency spike: p99 above 2s",
       "Checkout p99 latency rose from 450ms to 2.3s; correlated with payment authorization "
       "retries.",
       "Slow checkout for all users",
       true,
       "bob.martinez",
       {{0, "created", "system:alertmanager", "Incident created from alert CheckoutLatencyHigh"},
        {1, "alert", "system:alertmanager", "CheckoutLatencyHigh: p99 2.31s (al-016)"},
        {10, "status_change", "user:dan.weber", "Status changed from open to investigating"},
        {30, "note", "user:dan.weber", "Latency tracks payment retries; linked to inc-011"}}},
      {"inc-013",
       "svc-database",
       "sev2",
       "acknowledged",
       120,
       "Replica lag on orders-db exceeds 5 minutes",
       "Streaming replica orders-db-1 is more than 6 minutes behind the primary; "
       "read-after-write inconsistencies reported.",
       "Stale order history reads",
       true,
       "paula.rossi",
       {{0, "created", "system:alertmanager", "Incident created from alert PostgresReplicationLag"},
        {1, "alert", "system:alertmanager", "PostgresReplicationLag: 372s on orders-db-1 (al-018)"},
        {8, "status_change", "user:quentin.moreau", "Status changed from open to acknowledged"},
        {95, "note", "user:quentin.moreau",
         "Started run-001 (Database primary failover) to prepare a replica swap; awaiting "
         "approval"}}},
      {"inc-014",
       "svc-notifications",
       "sev3",
       "open",
       70,
       "Elevated MFA SMS delivery failures",
       "The SMS provider reports 'undeliverable' for 9% of MFA codes sent to +44 numbers.",
       "Some UK users cannot complete MFA",
       true,
       "julia.santos",
       {{0, "created", "system:alertmanager", "Incident created from alert MfaSmsFailureRate"},
        {1, "alert", "system:alertmanager", "MfaSmsFailureRate: 9.1% undeliverable (al-020)"}}},
      {"inc-015",
       "svc-search",
       "sev4",
       "open",
       25,
       "Search relevance regression reported by support",
       "Support reports that exact SKU searches no longer rank the matching product first.",
       "Degraded search quality",
       true,
       "lena.fischer",
       {{0, "created", "user:nora.kim", "Incident declared from a support escalation"}}},
  };
  return rows;
}

struct AlertRow {
  const char* id;
  const char* service;
  const char* severity;
  const char* status;
  int created;  // minutes ago
  int updated;  // minutes ago
  const char* incident;
  const char* rule;
  const char* title;
};

constexpr AlertRow kAlerts[] = {
    {"al-001", "svc-database", "sev2", "resolved", 20159, 20125, "inc-001", "PostgresPrimaryDown",
     "orders-db-0 stopped accepting connections"},
    {"al-002", "svc-checkout", "sev2", "resolved", 20158, 20126, "inc-001", "CheckoutWriteErrors",
     "Checkout order writes failing"},
    {"al-003", "svc-search", "sev3", "resolved", 17278, 17226, "inc-002", "SearchIndexLagHigh",
     "Search index lag above 300s"},
    {"al-004", "svc-notifications", "sev4", "resolved", 14398, 14330, "inc-003",
     "EmailQueueBacklog", "Email send queue above 5,000 messages"},
    {"al-005", "svc-identity", "sev1", "resolved", 11519, 11480, "inc-004", "LoginErrorRateHigh",
     "Login error rate above 5%"},
    {"al-006", "svc-api-gateway", "sev2", "resolved", 11518, 11482, "inc-004",
     "GatewayAuth401Spike", "Gateway 401 responses up 12x"},
    {"al-007", "svc-ledger", "sev3", "resolved", 8640, 8460, "inc-005", "ReconciliationSlaMissed",
     "Nightly reconciliation exceeded its 4h SLA"},
    {"al-008", "svc-inventory", "sev3", "resolved", 7195, 7105, "inc-006", "InventoryDriftHigh",
     "Warehouse stock drift above 1%"},
    {"al-009", "svc-analytics", "sev4", "resolved", 5760, 5630, "inc-007", "DashboardFreshness",
     "Dashboard aggregates older than 60 minutes"},
    {"al-010", "svc-api-gateway", "sev2", "resolved", 4319, 4280, "inc-008", "GatewayHigh5xxRate",
     "Gateway 5xx rate above 1%"},
    {"al-011", "svc-web", "sev3", "resolved", 4318, 4282, "inc-008", "WebSyntheticCheckFailed",
     "Web synthetic checkout journey failing"},
    {"al-012", "svc-web", "sev3", "resolved", 2879, 2855, "inc-009", "StaticAsset404Rate",
     "404 rate on /static above 5%"},
    {"al-013", "svc-orders", "sev3", "acknowledged", 1558, 1530, "inc-010", "OrderExportBacklog",
     "ERP export queue above 10,000 messages"},
    {"al-014", "svc-payments", "sev1", "firing", 299, 299, "inc-011", "PaymentAuthFailureRate",
     "Payment authorization failures above 5%"},
    {"al-015", "svc-payments", "sev2", "firing", 290, 290, "inc-011", "ProcessorLatencyHigh",
     "Card processor p95 latency above 2s"},
    {"al-016", "svc-checkout", "sev2", "acknowledged", 179, 170, "inc-012", "CheckoutLatencyHigh",
     "Checkout p99 latency above 1s"},
    {"al-017", "svc-checkout", "sev3", "firing", 175, 175, "inc-012", "CheckoutErrorBudgetBurn",
     "Checkout error budget burning 6x"},
    {"al-018", "svc-database", "sev2", "acknowledged", 119, 112, "inc-013",
     "PostgresReplicationLag", "orders-db-1 replication lag above 60s"},
    {"al-019", "svc-orders", "sev3", "firing", 100, 100, "inc-013", "StaleReadsDetected",
     "Read-after-write mismatches on order history"},
    {"al-020", "svc-notifications", "sev3", "firing", 69, 69, "inc-014", "MfaSmsFailureRate",
     "MFA SMS undeliverable rate above 2%"},
    {"al-021", "svc-identity", "sev4", "firing", 60, 60, "inc-014", "MfaCompletionDrop",
     "MFA completion rate down 7%"},
    {"al-022", "svc-search", "sev4", "firing", 24, 24, "inc-015", "SearchClickThroughDrop",
     "Top-result click-through down 22%"},
    {"al-023", "svc-database", "sev4", "firing", 45, 45, "", "DiskUsageHigh",
     "orders-db-0 data volume 81% full"},
    {"al-024", "svc-analytics", "sev4", "suppressed", 600, 300, "", "WarehouseLoadSlow",
     "Warehouse load twice as slow (maintenance window)"},
    {"al-025", "svc-inventory", "sev3", "suppressed", 240, 240, "", "InventoryConsumerRestarts",
     "Inventory consumer restarted 3 times in 15m (maintenance window)"},
    {"al-026", "svc-ledger", "sev4", "resolved", 900, 860, "", "LedgerApiLatency",
     "Ledger API p95 latency above 500ms"},
    {"al-027", "svc-api-gateway", "sev4", "firing", 15, 15, "", "GatewayCertExpiry",
     "TLS certificate for api.demo.opsorch.dev expires in 13 days"},
    {"al-028", "svc-web", "sev4", "acknowledged", 360, 330, "", "WebVitalsLcpRegression",
     "Largest contentful paint p75 above 2.5s"},
    {"al-029", "svc-identity", "sev3", "resolved", 1440, 1420, "", "TokenCacheEvictions",
     "Token cache eviction rate high"},
    {"al-030", "svc-payments", "sev3", "firing", 8, 8, "inc-011", "ProcessorWebhookDelay",
     "Card processor webhooks delayed by 3 minutes"},
};

struct TicketRow {
  const char* id;
  const char* incident;
  const char* service;
  const char* status;
  const char* type;
  std::vector<const char*> assignees;  // email local parts
  const char* reporter;
  int created;  // minutes ago
  int updated;
  const char* title;
  const char* description;
};

const std::vector<TicketRow>& TicketRows() {
  static const std::vector<TicketRow> rows = {
      {"TCK-001",
       "inc-001",
       "svc-database",
       "done",
       "postmortem",
       {"paula.rossi"},
       "quentin.moreau",
       20100,
       18000,
       "Postmortem: orders-db failover during maintenance",
       "Timeline, contributing factors and actions for inc-001."},
      {"TCK-002",
       "inc-004",
       "svc-identity",
       "done",
       "follow-up",
       {"kevin.brooks"},
       "ivan.petrov",
       11400,
       7000,
       "Add JWKS overlap check to key rotation",
       "Rotation must keep the previous key published until all tokens signed with it expire."},
      {"TCK-003",
       "inc-004",
       "svc-identity",
       "done",
       "postmortem",
       {"ivan.petrov"},
       "ivan.petrov",
       11400,
       8000,
       "Postmortem: login failures after key rotation",
       "Timeline, contributing factors and actions for inc-004."},
      {"TCK-004",
       "inc-005",
       "svc-ledger",
       "in_progress",
       "follow-up",
       {"dan.weber"},
       "alice.johnson",
       8400,
       1500,
       "Alert on stale planner statistics for settlements",
       "Page when pg_stat_user_tables.last_analyze is older than 24h on settlements."},
      {"TCK-005",
       "inc-008",
       "svc-api-gateway",
       "in_progress",
       "postmortem",
       {"erin.kowalski", "frank.osei"},
       "erin.kowalski",
       4250,
       600,
       "Postmortem: gateway 5xx after config push",
       "Timeline, contributing factors and actions for inc-008."},
      {"TCK-006",
       "inc-009",
       "svc-web",
       "todo",
       "follow-up",
       {"hiro.tanaka"},
       "grace.liu",
       2850,
       2850,
       "Retain previous asset hashes across CDN purges",
       "Keep the previous release's assets for 24h so cached HTML keeps working."},
      {"TCK-007",
       "inc-006",
       "svc-inventory",
       "done",
       "follow-up",
       {"oscar.diaz"},
       "lena.fischer",
       7000,
       5000,
       "Cap inventory consumer batch size",
       "Bound batch size so a single poll cannot exceed the consumer's memory limit."},
      {"TCK-008",
       "inc-010",
       "svc-orders",
       "in_progress",
       "follow-up",
       {"bob.martinez"},
       "bob.martinez",
       1300,
       200,
       "Send tax region in ERP export payload",
       "The partner API now requires taxRegion on every order."},
      {"TCK-009",
       "inc-011",
       "svc-payments",
       "in_progress",
       "task",
       {"alice.johnson", "carol.nguyen"},
       "alice.johnson",
       120,
       30,
       "Evaluate failover to secondary card processor",
       "Check contract limits, fraud rules parity and the switch-over runbook."},
      {"TCK-010",
       "inc-012",
       "svc-checkout",
       "todo",
       "follow-up",
       {"dan.weber"},
       "bob.martinez",
       150,
       150,
       "Tune checkout retry budget for payment calls",
       "Retries amplify processor latency; cap at one retry with jitter."},
      {"TCK-011",
       "inc-013",
       "svc-database",
       "todo",
       "task",
       {"quentin.moreau", "rachel.adams"},
       "paula.rossi",
       90,
       90,
       "Rebuild orders-db-1 replica",
       "Re-seed the lagging replica from a fresh base backup."},
      {"TCK-012",
       "inc-014",
       "svc-notifications",
       "todo",
       "task",
       {"julia.santos"},
       "julia.santos",
       50,
       50,
       "Contact SMS provider about GB deliverability",
       "Open a priority case with the SMS provider including failing message ids."},
  };
  return rows;
}

struct DeploymentRow {
  const char* id;
  const char* service;
  const char* environment;
  const char* version;
  const char* status;
  int started;        // minutes ago
  int finished;       // minutes ago; -1 = not finished
  const char* actor;  // "user:<local>" or "automation:<id>"
  const char* incident;
  const char* rollback_of;
  const char* note;
};

constexpr DeploymentRow kDeployments[] = {
    {"deploy-001", "svc-database", "prod", "v15.6.2", "success", 20170, 20150, "user:sanjay.patel",
     "inc-001", "", "PostgreSQL minor upgrade on orders-db"},
    {"deploy-002", "svc-search", "staging", "v8.3.0", "cancelled", 17400, 17395, "user:nora.kim",
     "", "", "Superseded by schema migration rollout"},
    {"deploy-003", "svc-api-gateway", "prod", "v3.9.0", "success", 4330, 4322, "user:grace.liu",
     "inc-008", "", "Route config refactor"},
    {"deploy-004", "svc-api-gateway", "prod", "v3.8.2", "success", 4311, 4305,
     "automation:deploy-bot", "inc-008", "deploy-003", "Rollback after 5xx spike"},
    {"deploy-005", "svc-web", "staging", "v5.2.0", "success", 3000, 2990, "user:hiro.tanaka", "",
     "", "Asset pipeline upgrade"},
    {"deploy-006", "svc-web", "prod", "v5.2.0", "success", 2870, 2862, "automation:deploy-bot",
     "inc-009", "", "Redeploy with asset retention"},
    {"deploy-007", "svc-ledger", "prod", "v1.22.3", "success", 1500, 1492, "user:dan.weber", "", "",
     "Settlement export performance fixes"},
    {"deploy-008", "svc-payments", "prod", "v2.14.1", "success", 320, 311, "user:bob.martinez", "",
     "", "Processor client timeout tuning"},
    {"deploy-009", "svc-checkout", "staging", "v7.3.0", "failed", 240, 232, "user:dan.weber", "",
     "", "Integration tests failed: payment sandbox timeout"},
    {"deploy-010", "svc-payments", "prod", "v2.14.0", "success", 205, 198, "automation:deploy-bot",
     "inc-011", "deploy-008", "Rollback during inc-011 (run-003)"},
    {"deploy-011", "svc-orders", "prod", "v6.0.4", "running", 12, -1, "user:bob.martinez", "", "",
     "ERP export tax region patch (TCK-008)"},
    {"deploy-012", "svc-search", "prod", "v8.4.0", "queued", 2, -1, "user:nora.kim", "", "",
     "Ranking tweak for exact SKU matches"},
};

struct StepRow {
  const char* id;
  const char* title;
  const char* type;
  std::vector<const char*> depends_on;
  const char* description;
};

struct PlanRow {
  const char* id;
  const char* title;
  const char* version;
  const char* description;
  std::vector<std::pair<const char*, const char*>> tags;
  int estimated_minutes;
  std::vector<StepRow> steps;
};

const std::vector<PlanRow>& PlanRows() {
  static const std::vector<PlanRow> rows = {
      {"plan-cache-flush",
       "Flush application cache",
       "1",
       "Snapshot hot keys, flush a service's cache cluster after approval and re-warm it.",
       {{"category", "cache"}, {"team", "team-platform"}, {"environment", "prod"}},
       15,
       {{"snapshot-keys",
         "Snapshot hot keys",
         "automated",
         {},
         "Record the 10k hottest keys so they can be re-warmed"},
        {"approve-flush",
         "Approve cache flush",
         "manual",
         {"snapshot-keys"},
         "Service owner approves the flush window"},
        {"flush-cache",
         "Flush cache cluster",
         "automated",
         {"approve-flush"},
         "FLUSHALL on every shard of the service's cache cluster"},
        {"warm-cache",
         "Warm cache",
         "automated",
         {"flush-cache"},
         "Replay the snapshot of hot keys"}}},
      {"plan-db-failover",
       "Database primary failover",
       "3",
       "Promote a healthy replica to primary and repoint application connection pools.",
       {{"category", "failover"},
        {"service", "svc-database"},
        {"team", "team-sre"},
        {"environment", "prod"}},
       30,
       {{"check-replica-health",
         "Check replica health",
         "automated",
         {},
         "Verify replica lag below 30s and the WAL receiver is streaming"},
        {"approve-failover",
         "Approve failover",
         "manual",
         {"check-replica-health"},
         "Incident commander confirms the failover window and customer communication"},
        {"promote-replica",
         "Promote replica",
         "automated",
         {"approve-failover"},
         "pg_ctl promote on the chosen replica"},
        {"repoint-pools",
         "Repoint connection pools",
         "automated",
         {"promote-replica"},
         "Update PgBouncer targets and reload"},
        {"verify-writes",
         "Verify application writes",
         "manual",
         {"repoint-pools"},
         "Check write error rates on checkout, orders and ledger"}}},
      {"plan-incident-comms",
       "Customer communications for a major incident",
       "4",
       "Draft, review and publish status page updates and keep stakeholders informed.",
       {{"category", "communications"}, {"team", "team-sre"}},
       20,
       {{"draft-statuspage",
         "Draft status page update",
         "manual",
         {},
         "Write a customer-facing summary of impact"},
        {"notify-stakeholders",
         "Notify stakeholders",
         "automated",
         {"draft-statuspage"},
         "Post the draft to #exec-updates and the support channel"},
        {"publish-statuspage",
         "Publish status page",
         "manual",
         {"draft-statuspage"},
         "Publish the reviewed update on status.demo.opsorch.dev"},
        {"schedule-updates",
         "Schedule update reminders",
         "automated",
         {"publish-statuspage"},
         "Remind the incident commander every 30 minutes"}}},
      {"plan-rollback-deploy",
       "Roll back a production deployment",
       "2",
       "Freeze deploys, redeploy the previous version and verify health.",
       {{"category", "rollback"}, {"environment", "prod"}},
       25,
       {{"identify-release",
         "Identify the release to roll back",
         "manual",
         {},
         "Pick the bad deployment and its predecessor"},
        {"freeze-deploys",
         "Freeze deploys",
         "automated",
         {"identify-release"},
         "Block new deployments of the service"},
        {"rollback",
         "Deploy previous version",
         "automated",
         {"freeze-deploys"},
         "Redeploy the previous version through the pipeline"},
        {"verify-health",
         "Verify error rate and latency",
         "manual",
         {"rollback"},
         "Confirm error rate and latency are back to baseline"},
        {"announce",
         "Announce rollback",
         "manual",
         {"verify-health"},
         "Post the outcome in #incidents"}}},
      {"plan-rotate-credentials",
       "Rotate leaked credentials",
       "1",
       "Revoke an exposed credential, issue and roll out a new one, and audit its use.",
       {{"category", "security"}, {"team", "team-identity"}},
       40,
       {{"revoke", "Revoke the exposed credential", "manual", {}, "Revoke the key at the issuer"},
        {"issue-new",
         "Issue a new credential",
         "automated",
         {"revoke"},
         "Create a replacement in the secret store"},
        {"rollout-secret",
         "Roll out the new secret",
         "automated",
         {"issue-new"},
         "Restart consumers with the new secret"},
        {"audit-access",
         "Audit access logs",
         "manual",
         {"revoke"},
         "Review use of the old credential since exposure"}}},
      {"plan-scale-out",
       "Scale out a service",
       "2",
       "Check quota, add replicas and confirm saturation drops.",
       {{"category", "capacity"}, {"team", "team-platform"}, {"environment", "prod"}},
       10,
       {{"check-quota",
         "Check cluster quota",
         "automated",
         {},
         "Ensure the namespace has CPU and memory quota for the new replicas"},
        {"scale-deployment",
         "Scale deployment",
         "automated",
         {"check-quota"},
         "Double the replica count"},
        {"verify-saturation",
         "Verify saturation",
         "manual",
         {"scale-deployment"},
         "Confirm CPU below 60% and latency at baseline"}}},
  };
  return rows;
}

// ---------------------------------------------------------------------------------------------

std::string Email(std::string_view local) {
  return std::string(local) + "@" + std::string(kDemoDomain);
}

Time MinutesAgo(Time now, std::int64_t minutes) { return now.Add(-minutes * kNanosPerMinute); }

// "user:<local>" → {"type":"user","id":"<email>","name":…}; "system:x" →
// {"type":"system","id":"x"}.
JsonObject Actor(std::string_view spec, const std::map<std::string, std::string>& names) {
  const auto colon = spec.find(':');
  const std::string type(spec.substr(0, colon));
  const std::string rest(spec.substr(colon + 1));
  JsonObject actor;
  actor["type"] = type;
  if (type == "user") {
    const std::string email = Email(rest);
    actor["id"] = email;
    if (auto it = names.find(email); it != names.end()) actor["name"] = it->second;
  } else {
    actor["id"] = rest;
  }
  return actor;
}

JsonArray StringArray(const std::vector<std::string>& items) {
  JsonArray a;
  for (const auto& i : items) a.emplace_back(i);
  return a;
}

}  // namespace

MockWorld BuildWorld(Time now) {
  MockWorld w;
  w.now = now;

  // Teams and members.
  std::map<std::string, std::string> names;  // email → display name
  for (const auto& row : kTeams) {
    TeamSeed seed;
    seed.team.id = row.id;
    seed.team.name = row.name;
    seed.team.parent = row.parent;
    seed.team.url = "https://teams." + std::string(kDemoDomain) + "/" + row.id;
    seed.team.tags = {{"timezone", row.timezone},
                      {"slack", std::string("#") + row.id},
                      {"kind", *row.parent == '\0' ? "org" : "team"}};
    seed.team.metadata["description"] = row.description;
    w.teams.push_back(std::move(seed));
  }
  for (const auto& row : kMembers) {
    auto team = std::find_if(w.teams.begin(), w.teams.end(),
                             [&](const TeamSeed& t) { return t.team.id == row.team; });
    s::TeamMember m;
    m.id = Email(row.local);
    m.name = row.name;
    m.email = m.id;
    m.handle = row.handle;
    m.role = row.role;
    m.metadata["team"] = row.team;
    names[m.id] = m.name;
    team->members.push_back(std::move(m));
  }
  for (auto& t : w.teams) {
    t.team.metadata["memberCount"] = static_cast<std::int64_t>(t.members.size());
    for (const auto& m : t.members) {
      if (m.role == "lead") t.team.metadata["lead"] = m.id;
      if (m.role == "oncall" && !t.team.metadata.contains("oncall")) {
        t.team.metadata["oncall"] = m.id;
      }
    }
  }

  // Services.
  for (const auto& row : ServiceRows()) {
    ServiceSeed seed;
    seed.service.id = row.id;
    seed.service.name = std::string(row.id).substr(4);  // "svc-checkout" → "checkout"
    seed.service.url = "https://services." + std::string(kDemoDomain) + "/" + row.id;
    seed.service.tags = {{"team", row.team},
                         {"tier", row.tier},
                         {"environment", "prod"},
                         {"language", row.language}};
    seed.service.metadata["displayName"] = row.display;
    seed.service.metadata["description"] = row.description;
    seed.service.metadata["region"] = row.region;
    seed.service.metadata["repository"] = "https://github.com/opsorch-demo/" + seed.service.name;
    JsonArray deps;
    for (const char* d : row.dependencies) deps.emplace_back(d);
    seed.service.metadata["dependencies"] = std::move(deps);
    seed.team = row.team;
    seed.environment = "prod";
    seed.region = row.region;
    w.services.push_back(std::move(seed));
  }
  const auto service_region = [&](std::string_view id) -> std::string {
    for (const auto& sv : w.services) {
      if (sv.service.id == id) return sv.region;
    }
    return {};
  };
  const auto service_team = [&](std::string_view id) -> std::string {
    for (const auto& sv : w.services) {
      if (sv.service.id == id) return sv.team;
    }
    return {};
  };

  // Alerts first, so incidents can list the alerts that reference them.
  std::map<std::string, std::vector<std::string>> alerts_by_incident;
  for (const auto& row : kAlerts) {
    s::Alert a;
    a.id = row.id;
    a.title = row.title;
    a.description = std::string(row.rule) + " on " + row.service + " (prod, " +
                    service_region(row.service) + ")" +
                    (*row.incident != '\0' ? std::string(". Linked to ") + row.incident : "") + ".";
    a.status = row.status;
    a.severity = row.severity;
    a.service = row.service;
    a.url = "https://alerts." + std::string(kDemoDomain) + "/alerts/" + row.id;
    a.created_at = MinutesAgo(now, row.created);
    a.updated_at = MinutesAgo(now, row.updated);
    a.fields["rule"] = row.rule;
    a.fields["environment"] = "prod";
    a.fields["region"] = service_region(row.service);
    a.fields["source"] = "prometheus";
    if (*row.incident != '\0') {
      a.fields["incidentId"] = row.incident;
      alerts_by_incident[row.incident].push_back(row.id);
    }
    a.metadata["fingerprint"] = Hex(Hash64(row.id), 16);
    a.metadata["labels"] = JsonObject{{"alertname", row.rule},
                                      {"service", row.service},
                                      {"severity", row.severity},
                                      {"team", service_team(row.service)}};
    w.alerts.push_back(std::move(a));
  }

  // Tickets, so incidents can list theirs.
  std::map<std::string, std::vector<std::string>> tickets_by_incident;
  for (const auto& row : TicketRows()) {
    s::Ticket t;
    t.id = row.id;
    t.key = row.id;
    t.title = row.title;
    t.description = row.description;
    t.status = row.status;
    for (const char* a : row.assignees) t.assignees.push_back(Email(a));
    t.reporter = Email(row.reporter);
    t.url = "https://tickets." + std::string(kDemoDomain) + "/browse/" + row.id;
    t.created_at = MinutesAgo(now, row.created);
    t.updated_at = MinutesAgo(now, row.updated);
    t.fields["incidentId"] = row.incident;
    t.fields["service"] = row.service;
    t.fields["type"] = row.type;
    t.metadata["project"] = "OPS";
    tickets_by_incident[row.incident].push_back(row.id);
    w.tickets.push_back(std::move(t));
  }

  // Incidents and timelines.
  std::map<std::string, Time> degraded_since;  // service → oldest unresolved incident
  for (const auto& row : IncidentRows()) {
    IncidentSeed seed;
    s::Incident& inc = seed.incident;
    inc.id = row.id;
    inc.title = row.title;
    inc.description = row.description;
    inc.status = row.status;
    inc.severity = row.severity;
    inc.service = row.service;
    inc.url = "https://incidents." + std::string(kDemoDomain) + "/incidents/" + row.id;
    inc.created_at = MinutesAgo(now, row.created);
    inc.updated_at = inc.created_at;
    inc.fields["impact"] = row.impact;
    inc.fields["customerFacing"] = row.customer_facing;
    inc.fields["environment"] = "prod";
    inc.fields["region"] = service_region(row.service);
    inc.metadata["commander"] = Email(row.commander);
    inc.metadata["slackChannel"] = std::string("#") + row.id;
    inc.metadata["alertIds"] = StringArray(alerts_by_incident[row.id]);
    inc.metadata["ticketIds"] = StringArray(tickets_by_incident[row.id]);
    int n = 0;
    for (const auto& tr : row.timeline) {
      s::TimelineEntry e;
      e.id = inc.id + "-t" + std::to_string(++n);
      e.incident_id = inc.id;
      e.at = inc.created_at.Add(tr.at * kNanosPerMinute);
      e.kind = tr.kind;
      e.body = tr.body;
      e.actor = Actor(tr.actor, names);
      if (e.at > inc.updated_at) inc.updated_at = e.at;
      seed.timeline.push_back(std::move(e));
    }
    if (inc.status != "resolved") {
      auto [it, inserted] = degraded_since.emplace(inc.service, inc.created_at);
      if (!inserted && inc.created_at < it->second) it->second = inc.created_at;
    }
    w.incidents.push_back(std::move(seed));
  }
  for (auto& sv : w.services) {
    if (auto it = degraded_since.find(sv.service.id); it != degraded_since.end()) {
      sv.degraded_since = it->second;
    }
  }

  // Deployments.
  for (const auto& row : kDeployments) {
    s::Deployment d;
    d.id = row.id;
    d.service = row.service;
    d.environment = row.environment;
    d.version = row.version;
    d.status = row.status;
    d.started_at = MinutesAgo(now, row.started);
    if (row.finished >= 0) d.finished_at = MinutesAgo(now, row.finished);
    d.url = "https://deploy." + std::string(kDemoDomain) + "/deployments/" + row.id;
    d.actor = Actor(row.actor, names);
    d.fields["commit"] = Hex(Hash64(std::string(row.id) + row.version), 7);
    d.fields["pipeline"] = std::string(row.service).substr(4) + "-release";
    d.fields["description"] = row.note;
    if (*row.incident != '\0') d.fields["incidentId"] = row.incident;
    if (*row.rollback_of != '\0') d.fields["rollbackOf"] = row.rollback_of;
    d.metadata["team"] = service_team(row.service);
    w.deployments.push_back(std::move(d));
  }

  // Orchestration plans.
  for (const auto& row : PlanRows()) {
    s::OrchestrationPlan p;
    p.id = row.id;
    p.title = row.title;
    p.description = row.description;
    p.url = "https://orchestration." + std::string(kDemoDomain) + "/plans/" + row.id;
    p.version = row.version;
    for (const auto& [k, v] : row.tags) p.tags[k] = v;
    p.fields["estimatedMinutes"] = row.estimated_minutes;
    p.steps.emplace();
    for (const auto& sr : row.steps) {
      s::OrchestrationStep step;
      step.id = sr.id;
      step.title = sr.title;
      step.type = sr.type;
      step.description = sr.description;
      for (const char* d : sr.depends_on) step.depends_on.emplace_back(d);
      p.steps->push_back(std::move(step));
    }
    w.plans.push_back(std::move(p));
  }

  // Orchestration runs: one running (manual approval ready), one completed, one blocked.
  const auto plan = [&](std::string_view id) -> const s::OrchestrationPlan& {
    return *std::find_if(w.plans.begin(), w.plans.end(),
                         [&](const s::OrchestrationPlan& p) { return p.id == id; });
  };
  const auto state = [](const char* step, const char* status, std::string actor,
                        std::optional<Time> started, std::optional<Time> finished,
                        std::optional<Time> updated, std::string note = {}) {
    s::OrchestrationStepState st;
    st.step_id = step;
    st.status = status;
    st.actor = std::move(actor);
    st.note = std::move(note);
    st.started_at = started;
    st.finished_at = finished;
    st.updated_at = updated;
    return st;
  };
  const std::int64_t ten_s = 10 * kNanosPerSecond;
  const std::string automation = "system-automation";
  {
    s::OrchestrationRun r;
    r.id = "run-001";
    r.plan_id = "plan-db-failover";
    r.plan = plan(r.plan_id);
    r.status = "running";
    r.scope = {"svc-database", "team-sre", "prod"};
    r.created_at = MinutesAgo(now, 25);
    const Time t1 = r.created_at.Add(ten_s);
    r.steps.emplace();
    r.steps->push_back(
        state("check-replica-health", "succeeded", automation, r.created_at, t1, t1));
    r.steps->push_back(state("approve-failover", "ready", "", std::nullopt, std::nullopt, t1));
    r.steps->push_back(state("promote-replica", "pending", "", {}, {}, {}));
    r.steps->push_back(state("repoint-pools", "pending", "", {}, {}, {}));
    r.steps->push_back(state("verify-writes", "pending", "", {}, {}, {}));
    r.updated_at = t1;
    r.fields["incidentId"] = "inc-013";
    r.metadata["startedBy"] = Email("quentin.moreau");
    w.runs.push_back(std::move(r));
  }
  {
    s::OrchestrationRun r;
    r.id = "run-002";
    r.plan_id = "plan-cache-flush";
    r.plan = plan(r.plan_id);
    r.status = "completed";
    r.scope = {"svc-search", "team-data", "prod"};
    r.created_at = MinutesAgo(now, 2880);
    const Time t1 = r.created_at.Add(ten_s);
    const Time t2 = r.created_at.Add(6 * kNanosPerMinute);
    const Time t3 = t2.Add(ten_s);
    const Time t4 = t3.Add(ten_s);
    r.steps.emplace();
    r.steps->push_back(state("snapshot-keys", "succeeded", automation, r.created_at, t1, t1));
    r.steps->push_back(state("approve-flush", "succeeded", Email("lena.fischer"), std::nullopt, t2,
                             t2, "Approved for the low-traffic window"));
    r.steps->push_back(state("flush-cache", "succeeded", automation, t2, t3, t3));
    r.steps->push_back(state("warm-cache", "succeeded", automation, t3, t4, t4));
    r.updated_at = t4;
    r.fields["reason"] = "Stale facets after catalog import";
    r.metadata["startedBy"] = Email("nora.kim");
    w.runs.push_back(std::move(r));
  }
  {
    s::OrchestrationRun r;
    r.id = "run-003";
    r.plan_id = "plan-rollback-deploy";
    r.plan = plan(r.plan_id);
    r.status = "blocked";
    r.scope = {"svc-payments", "team-payments", "prod"};
    r.created_at = MinutesAgo(now, 210);
    const Time t1 = MinutesAgo(now, 208);
    const Time t2 = t1.Add(ten_s);
    const Time t3 = MinutesAgo(now, 198);
    const Time t4 = MinutesAgo(now, 190);
    r.steps.emplace();
    r.steps->push_back(state("identify-release", "succeeded", Email("carol.nguyen"), std::nullopt,
                             t1, t1, "Rolling back v2.14.1 (deploy-008) to v2.14.0"));
    r.steps->push_back(state("freeze-deploys", "succeeded", automation, t1, t2, t2));
    r.steps->push_back(state("rollback", "succeeded", automation, t2, t3, t3));
    r.steps->push_back(state("verify-health", "blocked", Email("carol.nguyen"), std::nullopt,
                             std::nullopt, t4,
                             "Authorization failures unchanged after rollback; cause looks "
                             "upstream (inc-011)"));
    r.steps->push_back(state("announce", "pending", "", {}, {}, {}));
    r.updated_at = t4;
    r.fields["incidentId"] = "inc-011";
    r.fields["deploymentId"] = "deploy-010";
    r.metadata["startedBy"] = Email("carol.nguyen");
    w.runs.push_back(std::move(r));
  }
  for (auto& r : w.runs) {
    r.url = "https://orchestration." + std::string(kDemoDomain) + "/runs/" + r.id;
  }
  return w;
}

ServiceDirectory::ServiceDirectory(const MockWorld& world) : services_(world.services) {
  for (std::size_t i = 0; i < services_.size(); ++i) {
    by_key_.emplace(ToLower(services_[i].service.id), i);
    by_key_.emplace(ToLower(services_[i].service.name), i);
  }
}

const ServiceSeed* ServiceDirectory::Find(std::string_view id_or_name) const {
  auto it = by_key_.find(ToLower(id_or_name));
  return it == by_key_.end() ? nullptr : &services_[it->second];
}

bool ServiceDirectory::ServiceMatches(std::string_view item_service,
                                      std::string_view wanted) const {
  if (EqualsIgnoreCase(item_service, wanted)) return true;
  const ServiceSeed* a = Find(item_service);
  return a != nullptr && a == Find(wanted);
}

std::string ServiceDirectory::TeamOf(std::string_view service) const {
  const ServiceSeed* sv = Find(service);
  return sv == nullptr ? std::string() : sv->team;
}

std::string ServiceDirectory::EnvironmentOf(std::string_view service) const {
  const ServiceSeed* sv = Find(service);
  return sv == nullptr ? std::string() : sv->environment;
}

bool ServiceDirectory::ScopeMatches(const s::QueryScope& scope, std::string_view service,
                                    std::string_view environment, std::string_view team) const {
  if (!scope.service.empty() && (service.empty() || !ServiceMatches(service, scope.service))) {
    return false;
  }
  if (!scope.team.empty()) {
    const std::string owner = team.empty() ? TeamOf(service) : std::string(team);
    if (!EqualsIgnoreCase(owner, scope.team)) return false;
  }
  if (!scope.environment.empty()) {
    const std::string env = environment.empty() ? EnvironmentOf(service) : std::string(environment);
    if (!EqualsIgnoreCase(env, scope.environment)) return false;
  }
  return true;
}

}  // namespace opsorch::providers::mock
