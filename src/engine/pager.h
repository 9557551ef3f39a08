// The pager: applies escalation decisions (engine/escalation.h) to the store and delivers the
// outbox through the notification transports.
//
// - Hooks run inside the write transaction that changes an incident (an event, an API call, an
//   action link): a trigger snapshots the service's policy and fires its first level in that same
//   transaction, so the page is queued by the commit that answers 202; acknowledge and resolve
//   bump the escalation's generation (fencing every job and message scheduled before) and cancel
//   unsent messages.
// - One runner thread per node is woken right after such a commit (and by a slow sweep): in one
//   write it runs due escalation jobs, takes back messages whose sender died (an idempotent
//   webhook is sent again with the same webhook-id; anything else is marked unknown, never resent
//   blindly), records delivery results, and claims due messages (leased to this node; SKIP LOCKED
//   on PostgreSQL, so two nodes never claim one message). Once that write is durable the claimed
//   messages go to a small pool of sender threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/engine/store.h>
#include <opsorch/net/http_client.h>

namespace opsorch::metrics {
class Registry;
}

namespace opsorch::engine {

struct PagingCounts;

struct PagerOptions {
  std::string public_url = "http://localhost:8080";  // action links: OPSORCH_PUBLIC_URL
  std::shared_ptr<const net::NetList> allow_nets;    // OPSORCH_OUTBOUND_ALLOW_NETS
  std::shared_ptr<net::HttpClient> http;             // null: one of its own
  // E-mail (OPSORCH_SMTP_*): empty url = e-mail contact methods fail with a clear reason.
  std::string smtp_url, smtp_from, smtp_username, smtp_password;
  bool smtp_require_tls = false;
  std::function<std::int64_t()> clock;  // Unix nanoseconds; null: the system clock
  std::chrono::milliseconds sweep_interval{1000};
  std::chrono::seconds lease{120};  // a message's sender has this long before it is taken back
  std::chrono::milliseconds send_timeout{15000};
  int max_attempts = 3;  // per message; then failed (the person's next rule still follows)
  std::chrono::seconds retry_base{15};
  std::chrono::hours link_ttl{24};
  int senders = 4;
  bool run_threads = true;  // false: tests drive RunOnce() with an injected clock
  // The engine's share of each runner pass, in the pass's write after the escalation jobs:
  // the due jobs of kinds the pager does not know, and whatever else the engine keeps timers
  // for (engine/suppression.h). Returns whether more is due now. Null: none.
  std::function<Result<bool>(Tx&, std::int64_t now, const std::vector<JobRow>& jobs,
                             PagingCounts& counts)>
      extra;
  // Called by the runner's idle sweep (another node's changes reach this one through it).
  std::function<void()> on_sweep;
};

// What one write transaction's paging did, for /metrics: counted only once the transaction
// committed (a store may run a write again after a conflict), by whoever ran it (Pager::Count).
struct PagingCounts {
  std::int64_t levels_paged = 0;
  std::int64_t levels_skipped = 0;
  std::int64_t unpaged = 0;
  std::vector<std::pair<std::string, std::string>> notifications;  // (channel, final status)
  PagingCounts& operator+=(const PagingCounts& o);
};

// A verified action link.
struct LinkClaims {
  std::int64_t notification_seq = 0;
  std::int64_t incident_seq = 0;
  std::string person;
  std::string action;  // acknowledge | resolve | escalate
  std::int64_t expires_s = 0;
};

// A test message's outcome (opsorch page test).
struct TestOutcome {
  std::string contact_method;
  std::string channel;
  std::string state;  // sent | retry | failed
  std::string detail;
};

class Pager {
 public:
  // Runs `write` in the engine's next durable group commit; `done` gets its status once durable.
  using SubmitFn = std::function<void(std::function<Status(Tx&)>, std::function<void(Status)>)>;

  // Runs `write` through `submit` and waits until it is durable (or failed).
  static Status SubmitAndWait(const SubmitFn& submit, std::function<Status(Tx&)> write);

  static Result<std::unique_ptr<Pager>> Create(Store& store, SubmitFn submit, PagerOptions options,
                                               metrics::Registry* metrics = nullptr);
  ~Pager();  // Stop()
  Pager(const Pager&) = delete;
  Pager& operator=(const Pager&) = delete;

  // Stops the runner and the senders, records their results and hands unsent claims back (a
  // write through SubmitFn: the engine's writer must still run). The hooks below stay usable.
  void Stop();

  std::int64_t Now() const;

  // The catalog snapshot (never null) and its reload after an admin change.
  std::shared_ptr<const PagingCatalog> Catalog() const;
  Status ReloadCatalog();

  // In the write transaction that changed the incident. `change`: triggered | reopened |
  // acknowledged | resolved. Anything else does nothing.
  // `counts` (may be null) is overwritten with what this call did.
  Status OnIncidentChange(Tx& tx, std::string_view incident_id, std::string_view service_id,
                          std::string_view change, std::int64_t now,
                          PagingCounts* counts = nullptr);
  // A new open incident of `service_id` was created in `tx` (Engine::SetIncidentHook says
  // when): the incident hook hears of it if the service names runbooks. Kept apart from
  // OnIncidentChange("triggered"), which a paused service's new incident skips and the end of
  // its pause calls later in another transaction.
  Status OnIncidentCreated(Tx& tx, std::string_view incident_id, std::string_view service_id,
                           std::int64_t now);
  void SetIncidentHook(IncidentHook hook);
  // "Escalate now": the next level fires at once (conflict when the incident has no escalation
  // or nothing is left to fire).
  Status EscalateNow(Tx& tx, std::string_view incident_id, const JsonObject& actor,
                     std::int64_t now, PagingCounts* counts = nullptr);
  // Reassign: the incident's escalation starts over at once on another policy (`policy_id`), or
  // on the given people (a one-level policy of them); messages still queued for the previous
  // assignees are cancelled, and an acknowledged incident is open again (PagerDuty: a reassigned
  // incident is triggered for its new assignees). Not found, conflict (resolved), bad request
  // (an unknown person or policy).
  struct ReassignTo {
    std::vector<std::string> users;
    std::string policy_id;
  };
  Status Reassign(Tx& tx, std::string_view incident_id, const ReassignTo& to,
                  const JsonObject& actor, std::int64_t now, PagingCounts* counts = nullptr);
  // Counts a committed transaction's paging in /metrics.
  void Count(const PagingCounts& counts);
  // Something may be due now: the runner looks at once.
  void Wake();

  // One pass of the runner (what the thread does when woken): returns when its write is durable
  // and the claimed messages are handed to the senders (or, without threads, delivered).
  Status RunOnce();

  // Signed, expiring action links.
  std::string ActionLink(const NotificationRow& n, std::string_view action,
                         std::int64_t expires_s) const;
  Result<LinkClaims> VerifyLink(std::string_view token) const;  // forbidden / gone / bad_request
  // A calendar subscription token (no expiry: calendar apps keep the URL) for a schedule or a
  // person ("schedule" | "user"), and its check (forbidden when forged).
  std::string CalendarToken(std::string_view kind, std::string_view id) const;
  Result<std::pair<std::string, std::string>> VerifyCalendarToken(std::string_view token) const;

  // One test message to each of the person's contact methods, sent now (not queued).
  std::vector<TestOutcome> SendTest(const Person& person);

  struct Impl;

 private:
  explicit Pager(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::engine
