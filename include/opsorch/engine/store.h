// The incident engine's storage: one interface, two implementations (SQLite embedded,
// PostgreSQL for several nodes), the same Result-returning calls for both and the same
// behaviour suite run against both (tests/engine/store_behaviour_test.cc).
//
// Times are Unix nanoseconds (0 = never). Ids are strings: incidents "inc-<n>", alerts
// "al-<n>", timeline entries "<incident id>-t<n>"; services, teams and integrations carry the
// ids their admin gave them.
#pragma once

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

namespace opsorch::metrics {
class Registry;
}

namespace opsorch::engine {

struct ServiceRow {
  std::string id;
  std::string name;
  std::string description;
  std::string team_id;
  std::int64_t ack_target_s = 15 * 60;       // SLA: acknowledge within
  std::int64_t resolve_target_s = 120 * 60;  // SLA: resolve within
  JsonObject tags;                           // string → string
  std::int64_t created_at = 0;
  std::string escalation_policy;  // the policy that pages for it; "" = nobody is paged
  // An acknowledged incident not resolved within this long is open again and pages again
  // (PagerDuty's acknowledgement_timeout); 0 = never.
  std::int64_t ack_timeout_s = 0;
  // An incident still unresolved this long after it opened (or reopened) is resolved
  // (PagerDuty's auto_resolve_timeout); 0 = never.
  std::int64_t auto_resolve_s = 0;
  // Names of recurring mute intervals (time_interval documents): while one contains the
  // current time, new incidents are recorded but nobody is paged until it ends.
  std::vector<std::string> mute_intervals;
  // Ids of runbooks to start when a new incident of the service triggers (not when an event is
  // deduplicated into an open one, nor when one reopens): the engine's incident hook
  // (Engine::SetIncidentHook) hears of them in the transaction that creates the incident.
  std::vector<std::string> runbooks;
};

struct TeamRow {
  std::string id;
  std::string name;
  std::string description;
  std::string parent;
};

struct MemberRow {
  std::string team_id;
  std::string id;  // the person's stable id (usually the email)
  std::string name;
  std::string email;
  std::string handle;
  std::string role;
};

struct IntegrationRow {
  std::string id;
  std::string service_id;
  std::string name;
  std::string kind;        // "events_v2" | "alertmanager"
  std::string key_hash;    // hex SHA-256 of the key; the key itself is never stored
  std::string key_prefix;  // first 6 characters, to tell keys apart in listings
  std::int64_t created_at = 0;
  std::int64_t revoked_at = 0;  // 0 = active
};

struct IncidentRow {
  std::int64_t seq = 0;  // assigned by the store
  std::string id;        // "inc-<seq>"
  std::string service_id;
  std::string dedup_key;  // empty for incidents created through the API without one
  std::string title;
  std::string description;
  std::string status = "open";     // open | acknowledged | resolved
  std::string urgency = "high";    // high | medium | low
  std::string severity = "error";  // critical | error | warning | info
  std::string source;
  std::int64_t created_at = 0;
  std::int64_t acknowledged_at = 0;
  std::int64_t resolved_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t alert_count = 0;
  JsonObject details;   // custom_details of the first event
  JsonObject fields;    // free-form, from the API
  JsonObject metadata;  // free-form, from the API
};

struct AlertRow {
  std::int64_t seq = 0;
  std::string id;           // "al-<seq>"
  std::string incident_id;  // empty: not linked (ignored, or a held resolve)
  std::string service_id;
  std::string integration_id;
  std::string dedup_key;
  std::string action;  // trigger | acknowledge | resolve
  std::string summary;
  std::string source;
  std::string severity;
  std::string component;
  std::string group;
  std::string class_name;
  JsonObject custom_details;
  JsonArray links;
  JsonArray images;
  std::string client;
  std::string client_url;
  std::int64_t event_at = 0;  // the sender's timestamp, or received_at
  std::int64_t received_at = 0;
  std::int64_t held_until = 0;  // a resolve waiting for its trigger, until then
};

struct TimelineRow {
  std::string id;  // "<incident id>-t<n>"
  std::string incident_id;
  std::int64_t at = 0;
  std::string kind;  // triggered, deduplicated, acknowledged, resolved, reopened, note, …
  std::string body;
  JsonObject actor;
  JsonObject metadata;
  std::int64_t n = 0;  // the entry's number within its incident (set by the store's reads)
};

struct DeploymentRow {
  std::int64_t seq = 0;
  std::string id;  // "dep-<seq>"
  std::string service_id;
  std::string summary;
  std::string source;
  std::int64_t at = 0;
  JsonObject details;
  JsonArray links;
};

// Incidents by state (SlaCache::StateCounts).
struct IncidentStateCounts {
  std::int64_t triggered = 0, acknowledged = 0, resolved = 0;
  std::int64_t open_by_urgency[4] = {};  // high, medium, low, other: triggered + acknowledged
};

// Text search is indexed (SQLite: FTS5 trigrams; PostgreSQL: pg_trgm), so a search answers
// quickly however many incidents there are; the answer is the same as a scan's.
struct IncidentFilter {
  std::string text;                      // substring of title or description (case-insensitive)
  std::vector<std::string> statuses;     // any of
  std::vector<std::string> severities;   // any of
  std::vector<std::string> service_ids;  // any of
  std::int64_t created_from = 0;         // inclusive; 0 = unbounded
  std::int64_t created_to = 0;           // exclusive; 0 = unbounded
  std::int64_t limit = 0;                // 0 = no limit
  bool oldest_first = false;             // the order: newest first unless set
  std::int64_t before_seq = 0;           // paging: only incidents older than this one (0: all)
  std::int64_t after_seq = 0;            // paging: only incidents newer than this one (0: all)
};

struct AlertFilter {
  std::string text;
  std::vector<std::string> service_ids;
  std::vector<std::string> severities;
  std::string incident_id;
  std::vector<std::string> actions;  // any of (trigger, acknowledge, resolve)
  std::int64_t limit = 0;            // 0 = no limit; newest first
  std::int64_t before_seq = 0;       // paging: only alerts older than this one (0: all)
};

// A position in an incident's timeline, which is ordered by (at, n): ScanTimeline continues
// after it. The zero value is before the first entry.
struct TimelineCursor {
  std::int64_t at = INT64_MIN;
  std::int64_t n = 0;
};

// What SLA analytics needs of an incident, nothing more (millions of rows).
struct SlaRow {
  std::string service_id;
  std::string urgency;
  std::int64_t created_at = 0;
  std::int64_t acknowledged_at = 0;
  std::int64_t resolved_at = 0;
  std::int64_t seq = 0;
  // When one of the columns above last changed, at the latest updated_at (a store may use
  // updated_at itself).
  std::int64_t updated_at = 0;
};

// ---- Paging -------------------------------------------------------------------------------------

// A paging catalog document (a person, an on-call schedule, an escalation policy, a schedule
// override): validated JSON kept whole; the engine decodes every document of a kind into its
// in-memory catalog (opsorch/engine/paging_catalog.h), so the store never needs their insides.
struct CatalogDoc {
  std::string kind;    // "user" | "schedule" | "policy" | "override"
  std::string id;      // unique within the kind
  std::string parent;  // overrides: their schedule; "" otherwise
  JsonObject body;
  std::int64_t updated_at = 0;
};

// An incident's escalation: the policy as it was when the incident triggered (edits to the
// policy never strand it), and where it stands. `generation` fences everything scheduled for it:
// acknowledge, resolve, reopen and a manual escalation bump it, and a job or message of an older
// generation does nothing.
struct EscalationRow {
  std::int64_t incident_seq = 0;
  std::string policy_id;
  JsonObject snapshot;
  std::int64_t generation = 0;
  std::int64_t steps = 0;    // levels fired in this generation (empty levels included)
  std::int64_t level = 0;    // the rule fired last (0-based)
  std::int64_t loop = 0;     // how many times the policy has wrapped
  std::string state;         // active | acknowledged | resolved | exhausted
  std::int64_t next_at = 0;  // when the next level fires (0: none)
  std::int64_t started_at = 0;
  std::int64_t updated_at = 0;
};

// A durable timer: an escalation step now (kind "escalate"), more kinds as they come. A job runs
// inside one write transaction that also deletes it, so it runs once; `unique_key` makes a
// re-run of whatever scheduled it harmless.
struct JobRow {
  std::int64_t id = 0;
  std::string kind;
  std::string unique_key;
  std::int64_t run_at = 0;
  std::int64_t incident_seq = 0;
  std::int64_t generation = 0;
  JsonObject payload;
};

// One message to one person through one contact method (the outbox). `idempotency_key` is
// unique: (incident, generation, step, person, rule, contact method) for pages, so a re-run step
// cannot queue a message twice; it is also the message's id on the wire (webhook-id).
struct NotificationRow {
  std::int64_t seq = 0;
  std::string id;  // "ntf-<seq>"
  std::string idempotency_key;
  std::string kind = "page";      // page | test
  std::int64_t incident_seq = 0;  // 0 for tests
  std::int64_t generation = 0;
  std::int64_t level = 0;
  std::string person_id;
  std::string contact_method;  // the contact method's id within the person
  std::string channel;         // its type: webhook | slack | email | sms | voice
  std::string urgency;
  // pending → sending → sent | failed | unknown (a crash mid-send of a transport that cannot
  // safely resend), or cancelled (acknowledged or resolved before it was sent).
  std::string status = "pending";
  std::int64_t due_at = 0;  // pending: when to send (first try or retry)
  std::int64_t attempts = 0;
  std::string lease_owner;       // sending: the node sending it
  std::int64_t lease_until = 0;  // sending: after this the sweep takes it back
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t sent_at = 0;
  std::int64_t action_used_at = 0;  // one of its signed action links was used
  std::string detail;               // why it failed, or what the receiver said
};

// A row of live state the engine keeps beside incidents. Kinds:
// - "firing": an alert that fires now and that the engine must remember — pushed through the
//   Alertmanager API (due_at = its endsAt: unless refreshed it resolves then), or held back by
//   a silence (any ingestion path). parent = service id, id = dedup key (the fingerprint).
// - "beat": a heartbeat monitor's state (parent "", id = the monitor's id).
// body is the engine's JSON; the store never reads it.
struct LiveRow {
  std::string kind;
  std::string parent;
  std::string id;
  JsonObject body;
  std::int64_t due_at = 0;  // when the engine must look at it again; 0 = never
  std::int64_t updated_at = 0;
  // Kept beside the body so that the hot path (a push refreshing a firing alert) reads and
  // writes no JSON: the row's state, a digest of what a refresh may change, and when the alert
  // stops firing unless refreshed (0: never).
  std::string state;
  std::int64_t digest = 0;
  std::int64_t ends_at = 0;
};

// The kind of the live rows of alerts that fire, keyed (parent, id) = (service, dedup key) like
// an incident: the PostgreSQL store answers "none" for a write group's keys from one read.
inline constexpr std::string_view kFiringRow = "firing";

// One write transaction. Calls are made by the engine's rules; every Find* of an incident by
// (service, dedup key) holds that key until the transaction ends, so two nodes cannot both
// decide there is no open incident.
class Tx {
 public:
  virtual ~Tx() = default;
  // The two Find calls of the event path may leave the free-form columns (details, fields,
  // metadata) empty: the rules never read them, and parsing them per event costs. Write such a
  // row back with UpdateIncidentState, never UpdateIncident.
  virtual Result<std::optional<IncidentRow>> FindOpenIncident(std::string_view service_id,
                                                              std::string_view dedup_key) = 0;
  // The most recently resolved incident of the key, if resolved at or after `since`.
  virtual Result<std::optional<IncidentRow>> FindResolvedSince(std::string_view service_id,
                                                               std::string_view dedup_key,
                                                               std::int64_t since) = 0;
  // A held (out-of-order) resolve of the key still waiting at `now`; it is consumed.
  virtual Result<std::optional<AlertRow>> TakeHeldResolve(std::string_view service_id,
                                                          std::string_view dedup_key,
                                                          std::int64_t now) = 0;
  virtual Result<std::optional<IncidentRow>> GetIncidentForUpdate(std::string_view id) = 0;
  virtual Status InsertIncident(IncidentRow& row) = 0;  // sets seq and id
  virtual Status UpdateIncident(const IncidentRow& row) = 0;
  // Only status, severity, urgency, acknowledged_at, resolved_at, updated_at and alert_count.
  // The default writes the whole row, which is right for a store whose Find* load whole rows.
  virtual Status UpdateIncidentState(const IncidentRow& row) { return UpdateIncident(row); }
  virtual Status InsertAlert(AlertRow& row) = 0;  // sets seq and id
  virtual Status LinkAlert(std::string_view alert_id, std::string_view incident_id) = 0;
  virtual Status AppendTimeline(TimelineRow& row) = 0;  // sets id
  // The alert of an event and the timeline entry it caused, in one call so that a store may
  // keep the entry with the alert (one row per event instead of two). Sets both ids; the
  // stored entry's metadata has the alert's id as "alertId". The default is InsertAlert, then
  // AppendTimeline.
  virtual Status InsertAlertWithEntry(AlertRow& alert, TimelineRow& entry);
  virtual Status InsertDeployment(DeploymentRow& row) = 0;

  // Paging (engine/pager). The defaults fail: a store without paging tables cannot page.
  virtual Result<std::optional<EscalationRow>> GetEscalation(std::int64_t incident_seq);
  virtual Status PutEscalation(const EscalationRow& row);
  virtual Status InsertJob(JobRow& row);  // a row with the same unique_key: nothing happens
  // Due jobs (run_at <= now), oldest first, that no other transaction holds (PostgreSQL: SKIP
  // LOCKED); delete each in this transaction once handled.
  virtual Result<std::vector<JobRow>> DueJobs(std::int64_t now, std::int64_t limit);
  virtual Status DeleteJob(std::int64_t id);
  // The job with this unique key, if any, is deleted (a timer moved: delete, then insert).
  virtual Status DeleteJobByKey(std::string_view unique_key);
  // False when a row with the same idempotency key exists (nothing is written then).
  virtual Result<bool> InsertNotification(NotificationRow& row);
  // Pending rows due at `now` become `sending`, leased to `owner` until `lease_until`.
  virtual Result<std::vector<NotificationRow>> ClaimNotifications(std::int64_t now,
                                                                  std::int64_t limit,
                                                                  std::string_view owner,
                                                                  std::int64_t lease_until);
  // Sending rows whose lease ran out (their sender died), oldest first.
  virtual Result<std::vector<NotificationRow>> ExpiredLeases(std::int64_t now, std::int64_t limit);
  virtual Result<std::optional<NotificationRow>> GetNotificationForUpdate(std::int64_t seq);
  // Writes status, due_at, attempts, lease, sent_at, action_used_at, detail and updated_at.
  virtual Status UpdateNotification(const NotificationRow& row);
  // Pending messages of the incident become cancelled; returns how many.
  virtual Result<std::int64_t> CancelNotifications(std::int64_t incident_seq, std::int64_t now,
                                                   std::string_view why);

  // Live state (LiveRow). The defaults fail, like paging's.
  // `with_body` false: the row without its body (state, digest and times only).
  virtual Result<std::optional<LiveRow>> GetLive(std::string_view kind, std::string_view parent,
                                                 std::string_view id, bool with_body = true);
  virtual Status PutLive(const LiveRow& row);  // insert or replace
  // A refresh: new ends_at and updated_at for the row, if it exists with this state and digest
  // (false: no such row, nothing written). Refreshes are appended to a log, not written into
  // the row: a push of 64 alerts then dirties a few sequential pages instead of one page per
  // alert. FoldRefreshes applies the log to the rows (the runner does before it looks at due
  // rows; Store::Live reads through it).
  virtual Result<bool> RefreshLive(std::string_view kind, std::string_view parent,
                                   std::string_view id, std::string_view state, std::int64_t digest,
                                   std::int64_t ends_at, std::int64_t updated_at);
  virtual Status FoldRefreshes();
  virtual Status DeleteLive(std::string_view kind, std::string_view parent, std::string_view id);
  // Rows of `kind` due at `now` (0 < due_at <= now), oldest first, that no other transaction
  // holds (PostgreSQL: SKIP LOCKED).
  virtual Result<std::vector<LiveRow>> DueLive(std::string_view kind, std::int64_t now,
                                               std::int64_t limit);
  // Every row of `kind` under `parent`, by id.
  virtual Result<std::vector<LiveRow>> LiveOf(std::string_view kind, std::string_view parent);
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates or upgrades the schema (numbered migrations). Safe to run on every start, and by
  // several nodes at once.
  virtual Status Migrate() = 0;

  // Runs `items.size()` units of work in one transaction (group commit): a failing unit is
  // rolled back alone and reported in `results` (items may run more than once, so they must
  // only write through the Tx and overwrite, not accumulate, what they report). A commit
  // failure fails every unit. Serialization conflicts (PostgreSQL) are retried. When it
  // returns the commit is visible, but durable only once a later Sync() has returned Ok.
  virtual Status WriteBatch(const std::vector<std::function<Status(Tx&)>>& items,
                            std::vector<Status>& results) = 0;
  // WriteBatch for the engine's writer, which goes on with the next group before this one's
  // outcome is known where a store can (PostgreSQL: the next group's units run while the server
  // works on this one's COMMIT). `done` gets what WriteBatch would have returned, on this
  // thread, from this call, a later WriteGroup or Settle(); `items` and `results` must live
  // until then, and groups are done in the order given. A WriteBatch from another thread
  // finishes the group in flight first (running it again there if it failed), and leaves its
  // `done` to the writer's next call. The default writes at once.
  virtual void WriteGroup(const std::vector<std::function<Status(Tx&)>>& items,
                          std::vector<Status>& results, std::function<void(Status)> done) {
    done(WriteBatch(items, results));
  }
  // The smallest group WriteGroup leaves in flight (0: none). The engine then splits what is
  // waiting in two groups when both would be that large, so that the second runs while the
  // first is in flight even when callers send in step.
  virtual std::size_t OverlapUnits() const { return 0; }
  // Finishes the group WriteGroup left in flight, if any (calling its `done`), unless `go_on`
  // (may be null; asked while it waits) says another group is waiting: then it returns, the
  // group still in flight, so that the next one's units run meanwhile.
  virtual void Settle(const std::function<bool()>& go_on) { (void)go_on; }
  // Makes every commit that returned before this call durable. Thread-safe, and may run while
  // WriteBatch does: that is the point (the engine applies the next batch while the previous
  // one is made durable: SQLite's fsync of its WAL, PostgreSQL's flush of its WAL on a session
  // of its own). A failed sync fails the callers it answers. SQLite's failures are for good
  // (after a failed fsync the kernel may have dropped the dirty pages, so nothing written since
  // can be promised); PostgreSQL's fail the sync after too, which may answer for the same
  // commits, and then recover.
  virtual Status Sync() { return Ok(); }
  // WriteBatch of one unit, then Sync: durable when it returns Ok.
  Status Write(const std::function<Status(Tx&)>& fn);

  // Reads.
  virtual Result<std::vector<IncidentRow>> QueryIncidents(const IncidentFilter& f) = 0;
  virtual Result<std::optional<IncidentRow>> GetIncident(std::string_view id) = 0;
  // The incident's entries after `after` in (at, n) order, one at a time, until `fn` returns
  // false or `max_rows` (0: no limit) have been read: however long the timeline, the store
  // holds only a bounded part of it in memory.
  virtual Status ScanTimeline(std::string_view incident_id, const TimelineCursor& after,
                              std::int64_t max_rows,
                              const std::function<bool(TimelineRow&&)>& fn) = 0;
  // Every entry (tests and small timelines).
  Result<std::vector<TimelineRow>> Timeline(std::string_view incident_id);
  // The incident's entries of one kind written through AppendTimeline (notes, status updates:
  // not the entries events cause), newest first, at most `limit`. A status page reads public
  // updates with it without walking a long run of repeats. The default scans the timeline.
  virtual Result<std::vector<TimelineRow>> TimelineOfKind(std::string_view incident_id,
                                                          std::string_view kind,
                                                          std::int64_t limit);
  virtual Result<std::vector<AlertRow>> QueryAlerts(const AlertFilter& f) = 0;
  virtual Result<std::optional<AlertRow>> GetAlert(std::string_view id) = 0;
  // Every incident whose SlaRow columns changed after `updated_after` (0: all of them, by a
  // sequential scan), in no particular order: the SLA cache loads once and then follows
  // changes with this.
  virtual Result<std::vector<SlaRow>> SlaRowsUpdatedSince(std::int64_t updated_after);

  // Catalog (admin API and seed file).
  virtual Status UpsertService(const ServiceRow& s) = 0;
  virtual Status DeleteService(std::string_view id) = 0;
  virtual Result<std::vector<ServiceRow>> Services() = 0;
  virtual Status UpsertTeam(const TeamRow& t) = 0;
  virtual Status DeleteTeam(std::string_view id) = 0;
  virtual Result<std::vector<TeamRow>> Teams() = 0;
  virtual Status UpsertMember(const MemberRow& m) = 0;
  virtual Status DeleteMember(std::string_view team_id, std::string_view member_id) = 0;
  virtual Result<std::vector<MemberRow>> Members(std::string_view team_id) = 0;
  virtual Status InsertIntegration(const IntegrationRow& i) = 0;
  virtual Status RevokeIntegration(std::string_view id, std::int64_t at) = 0;
  virtual Result<std::vector<IntegrationRow>> Integrations(std::string_view service_id) = 0;
  virtual Result<std::optional<IntegrationRow>> IntegrationByKeyHash(std::string_view hash) = 0;

  // Whether the paging tables and calls below exist (the defaults fail).
  virtual bool SupportsPaging() const { return false; }
  // Paging catalog documents and state (reads).
  virtual Status PutDoc(const CatalogDoc& doc);
  virtual Status DeleteDoc(std::string_view kind, std::string_view id);
  virtual Result<std::vector<CatalogDoc>> Docs(std::string_view kind);
  // The newest updated_at of any document (0: none): nodes compare it to reload their catalog.
  virtual Result<std::int64_t> CatalogVersion();
  virtual Result<std::optional<EscalationRow>> Escalation(std::int64_t incident_seq);
  virtual Result<std::vector<NotificationRow>> Notifications(std::int64_t incident_seq);
  virtual Result<std::optional<NotificationRow>> Notification(std::int64_t seq);
  // The earliest moment paging has work: a due job, a pending message, a lease to take back.
  // INT64_MAX when there is none.
  virtual Result<std::int64_t> NextPagingWork();
  // Live state (reads): every row of `kind` under `parent` ("" with any_parent: all), by id,
  // at most `limit` (0: all).
  virtual Result<std::vector<LiveRow>> Live(std::string_view kind, std::string_view parent,
                                            bool any_parent = false, std::int64_t limit = 0);
  // A value shared by every node (the action-link key): `candidate` is stored if none is yet,
  // and the stored value is returned.
  virtual Result<std::string> SharedSetting(std::string_view name, std::string_view candidate);

  // Retention: deletes resolved incidents resolved before `incidents_before` (with their
  // alerts and timeline) and unlinked alerts received before `alerts_before`, in batches.
  // Returns the number of incidents deleted.
  virtual Result<std::int64_t> DeleteExpired(std::int64_t incidents_before,
                                             std::int64_t alerts_before) = 0;
};

// How a store talks to its database (OPSORCH_ENGINE_PG_*, validated by config). PostgreSQL
// uses all of it; SQLite ignores it.
struct StoreOptions {
  // Connections for reads and API writes, besides the one writer connection. A caller finding
  // them all busy waits up to pool_wait for one, then fails (unavailable): a burst cannot open
  // connections without bound (PostgreSQL's max_connections is shared by every node).
  std::size_t pg_pool = 8;
  std::chrono::milliseconds pg_pool_wait{5'000};
  // Every statement is bounded, so a stuck lock or a runaway query cannot hold a request (or
  // the writer, and with it all ingestion) forever.
  std::chrono::milliseconds pg_statement_timeout{30'000};
  // After a failed connect the next is tried 100 ms later, the pause doubling up to this; until
  // then callers needing a connection fail at once (unavailable) instead of each connecting.
  std::chrono::milliseconds pg_reconnect_max{5'000};
  // Where the store's metrics go (round trips, pool, reconnects); null: nowhere.
  metrics::Registry* metrics = nullptr;
};

// "sqlite:<path>" (or a bare path) → SQLite; "postgres://…" / "postgresql://…" → PostgreSQL.
Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const StoreOptions& options = {});

}  // namespace opsorch::engine
