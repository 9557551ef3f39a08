// The incident engine: a store, a single writer that applies ingested events in durable group
// commits, integration-key authentication, and retention. The HTTP routes (engine/routes) and
// the `local` providers (engine/local_providers) are thin layers over it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/engine/event.h>
#include <opsorch/engine/store.h>

namespace opsorch::metrics {
class Registry;
}
namespace opsorch::net {
class NetList;
}

namespace opsorch::engine {

class Pager;
class Quiet;
class FiringCache;
struct RulesConfig;
struct Outcome;
struct SlaQuery;
struct SlaReport;
class SlaCache;

struct EngineOptions {
  std::string store_url;  // "sqlite:<path>" or "postgres://…"
  // How the store connects (PostgreSQL's pool, statement timeout, reconnects); its metrics go
  // to Open's registry unless it names its own.
  StoreOptions store;
  std::int64_t hold_resolve_ns = 5LL * 60 * 1'000'000'000;
  std::int64_t reopen_window_ns = 0;
  // Events per commit. A commit's WAL writes (and their fsync and checkpoint) grow more
  // slowly than its events: events of one incident share its row's page. With the fsync off
  // the writer thread, 4096 took 16 batch connections from 113–124 to 142 requests of 500 per
  // second against 2048 (8192: no better, and twice the wait; measured before SQLite's
  // migration 4 removed the per-incident indexes); a lone event still commits at once.
  std::size_t max_batch = 4096;
  std::size_t max_queued = 200'000;  // events not yet durably stored; beyond → 429
  std::chrono::hours incident_retention{24 * 730};
  std::chrono::hours alert_retention{24 * 365};
  std::chrono::minutes retention_interval{60};  // 0 = no retention job
  // Load the SLA cache when the engine opens (on the retention thread), so the first SLA report
  // or console status counter after a start does not wait for a scan of every incident.
  bool warm_sla_cache = false;

  // Paging (docs/PAGING.md). Action links in messages point at public_url (OPSORCH_PUBLIC_URL);
  // receivers on loopback or private networks are refused unless in outbound_allow_nets
  // (OPSORCH_OUTBOUND_ALLOW_NETS); e-mail goes through smtp_url (OPSORCH_SMTP_*).
  bool paging = true;
  std::string public_url = "http://localhost:8080";
  std::shared_ptr<const net::NetList> outbound_allow_nets;
  std::string smtp_url, smtp_from, smtp_username, smtp_password;
  bool smtp_require_tls = false;
  // Unix nanoseconds for the rules and the pager (tests inject one); null: the system clock.
  std::function<std::int64_t()> clock;
  bool paging_threads = true;  // false: tests drive the pager's passes themselves
  // A message being sent is leased to its node this long; then it is taken back (resent when
  // the transport is idempotent, else marked unknown).
  std::chrono::milliseconds paging_lease{120'000};
  // How often the pager looks for work nobody woke it for (another node's, delays, leases).
  std::chrono::milliseconds paging_sweep{1000};
};

// One authenticated event waiting for the writer.
struct Ingestion {
  IntegrationRow integration;
  Event event;
};

// A new incident of a service that names runbooks (ServiceRow::runbooks).
struct IncidentTriggered {
  std::string incident_id, service_id;
  std::vector<std::string> runbooks;  // the service's, in its order
  std::int64_t now = 0;               // the engine's clock, Unix nanoseconds
};
using IncidentHook = std::function<Status(Tx&, const IncidentTriggered&)>;

// The result for one event: the outcome, or why it failed (nothing was stored then).
struct IngestResult {
  Status status = Ok();
  // triggered | deduplicated | acknowledged | resolved | reopened | held | ignored | suppressed
  // (a silence holds the alert back) | refreshed (an Alertmanager API push of a firing alert)
  std::string action;
  std::string incident_id;
  std::string alert_id;
  std::string dedup_key;
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options,
                                              metrics::Registry* metrics = nullptr);
  // The same over a store opened by the caller (options.store_url and options.store are not
  // used).
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options,
                                              std::unique_ptr<Store> store,
                                              metrics::Registry* metrics = nullptr);
  ~Engine();  // stops taking events, commits everything queued, answers every caller
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  Store& store();
  // The pager (null when paging is off or the store cannot page).
  Pager* pager();
  // Silences, maintenance windows, mute intervals and heartbeats (null when the store cannot
  // keep them).
  Quiet* quiet();
  // Which Alertmanager API alerts fire now (the push route's hot path).
  FiringCache& firing();
  const RulesConfig& rules() const;
  std::int64_t Now() const;  // the engine's clock, Unix nanoseconds

  // Queues the events; `done` runs on the engine's sync thread once they are durably committed
  // (one result per event, in order), on the writer thread if the commit failed, or at once
  // with an error when the queue is full (code rate_limited) or the engine is stopping.
  void Ingest(std::vector<Ingestion> events, std::function<void(std::vector<IngestResult>)> done);
  // Blocking convenience (tests, seeding).
  std::vector<IngestResult> IngestSync(std::vector<Ingestion> events);

  // Any other write that must be as durable as an event (change events → deployments): runs
  // on the writer, in the next group commit; `done` gets its status once it is durable.
  void Submit(std::function<Status(Tx&)> write, std::function<void(Status)> done);

  // Called inside the write transaction that created a new incident of a service naming
  // runbooks (events and the API's create). A failure fails that transaction. Thread-safe; set
  // once after Open.
  //
  // - When: an event's trigger that opens a new incident (also one a heartbeat opens, or an
  //   alert a silence stops holding back), and the `local` incident provider's Create of an
  //   open incident with a service. Not for a deduplicated trigger, a reopen, an incident
  //   created already acknowledged or resolved (the API; a trigger meeting its held resolve),
  //   nor when a maintenance window or mute interval ends: a paused service's new incident is
  //   reported when it is created (its metadata then holds `paused`, readable through the Tx).
  // - Paging must be on (EngineOptions::paging; both stores can page): the pager keeps each
  //   service's runbooks beside its escalation policy, so without a pager the hook is never
  //   called. An event of a service without runbooks reads and allocates nothing for it.
  // - A service's runbooks are the pager's copy: a change through this node's admin API or
  //   seed holds at once; one made through another node (or straight in the store) once the
  //   pager reloads, within about 5 s.
  // - Failure: the error fails the unit — an event is answered with it and nothing of it is
  //   stored; the API's create fails. An incident the pager's runner opens (a heartbeat, a
  //   released alert) fails the runner's whole pass, which is tried again: return errors for
  //   failures of the store, and record a problem of the runbook itself in the Tx instead.
  // - Effects only through the Tx: a store may run a transaction again (a PostgreSQL conflict,
  //   a group commit re-run without a failed unit), so the hook can be called more than once
  //   for one incident, only the committed call's writes count. It may run on several threads
  //   at once (the writer, the worker pool's API calls).
  void SetIncidentHook(IncidentHook hook);

  // The integration owning `key`, if it exists and is not revoked. Cached briefly; a revoked
  // key stops working everywhere within the cache time (5 s), at once on this node.
  Result<std::optional<IntegrationRow>> Authenticate(std::string_view key);
  void ForgetKeys();  // after a revocation

  // SHA-256 hex of an integration key, as stored.
  static std::string HashKey(std::string_view key);
  // A new random key: 32 lower-case hex characters (PagerDuty's length).
  static std::string NewKey();

  // One retention pass now; returns incidents deleted.
  Result<std::int64_t> RunRetention();

  // SLA analytics over the in-memory SLA cache (engine/sla.h), brought up to date first.
  Result<SlaReport> Sla(const SlaQuery& q);
  // Incidents by state now (service and team of `q`; its window is ignored).
  Result<IncidentStateCounts> StateCounts(const SlaQuery& q);
  // The SLA cache itself (status pages draw their uptime bars from its incident spans).
  SlaCache& SlaData();

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::engine
