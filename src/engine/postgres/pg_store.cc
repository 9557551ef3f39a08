// The PostgreSQL store, for several opsorch nodes on one database. Write batches run on one
// writer connection under a mutex: one transaction (savepoints per unit only after a unit
// failed), run again whole after a deadlock, serialization failure, lost connection or a key
// another node holds. Reads, catalog writes and retention use a small pool of autocommit
// connections. Per-key decisions are serialized across nodes with a transaction-level advisory
// lock, backed by the same partial unique index as SQLite.
#include "engine/postgres/pg_store.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>

#include "engine/postgres/pg_db.h"
#include "engine/postgres/pg_group.h"
#include "engine/postgres/pg_rows.h"
#include "engine/store_schema.h"

namespace opsorch::engine::postgres {
namespace {

// Numbered migrations; schema_migrations records which have run. The same tables, columns and
// semantics as the SQLite store (times in Unix ns, JSON as text written by AppendJson*).
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE services (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  team_id TEXT NOT NULL DEFAULT '', ack_target_s BIGINT NOT NULL DEFAULT 900,
  resolve_target_s BIGINT NOT NULL DEFAULT 7200, tags TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL DEFAULT 0);
CREATE TABLE teams (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  parent TEXT NOT NULL DEFAULT '');
CREATE TABLE members (
  team_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '', handle TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (team_id, id));
CREATE TABLE integrations (
  id TEXT PRIMARY KEY, service_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, key_prefix TEXT NOT NULL,
  created_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);
CREATE INDEX integrations_service ON integrations(service_id);
CREATE TABLE incidents (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, service_id TEXT NOT NULL,
  dedup_key TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL, urgency TEXT NOT NULL, severity TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL,
  acknowledged_at BIGINT NOT NULL DEFAULT 0, resolved_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL, alert_count BIGINT NOT NULL DEFAULT 0,
  timeline_count BIGINT NOT NULL DEFAULT 0, details TEXT NOT NULL DEFAULT '{}',
  fields TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}');
-- At most one open incident per key: the rule the engine relies on, enforced by the database
-- (the advisory lock of FindOpenIncident makes nodes wait for each other; this is the backstop).
CREATE UNIQUE INDEX incidents_open_key ON incidents(service_id, dedup_key)
  WHERE status <> 'resolved' AND dedup_key <> '';
CREATE INDEX incidents_key_resolved ON incidents(service_id, dedup_key, resolved_at)
  WHERE dedup_key <> '';
CREATE INDEX incidents_created ON incidents(created_at);
CREATE INDEX incidents_retention ON incidents(resolved_at) WHERE status = 'resolved';
CREATE TABLE alerts (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, incident_seq BIGINT NOT NULL DEFAULT 0,
  service_id TEXT NOT NULL, integration_id TEXT NOT NULL DEFAULT '',
  dedup_key TEXT NOT NULL, action TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '', severity TEXT NOT NULL DEFAULT '',
  component TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL DEFAULT '',
  class TEXT NOT NULL DEFAULT '', custom_details TEXT NOT NULL DEFAULT '{}',
  links TEXT NOT NULL DEFAULT '[]', images TEXT NOT NULL DEFAULT '[]',
  client TEXT NOT NULL DEFAULT '', client_url TEXT NOT NULL DEFAULT '',
  event_at BIGINT NOT NULL, received_at BIGINT NOT NULL,
  held_until BIGINT NOT NULL DEFAULT 0);
CREATE INDEX alerts_incident ON alerts(incident_seq);
CREATE INDEX alerts_received ON alerts(received_at);
CREATE INDEX alerts_held ON alerts(service_id, dedup_key) WHERE held_until > 0;
CREATE TABLE timeline (
  incident_seq BIGINT NOT NULL, n BIGINT NOT NULL, at BIGINT NOT NULL, kind TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '', actor TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (incident_seq, n));
CREATE TABLE deployments (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, service_id TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', at BIGINT NOT NULL,
  details TEXT NOT NULL DEFAULT '{}', links TEXT NOT NULL DEFAULT '[]');
)sql",
    // 2: the SLA cache follows changes by updated_at.
    R"sql(
CREATE INDEX incidents_updated ON incidents(updated_at);
)sql",
    // 3: paging (as the SQLite store's migration 5).
    R"sql(
ALTER TABLE services ADD COLUMN escalation_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN ack_timeout_s BIGINT NOT NULL DEFAULT 0;
CREATE TABLE catalog (
  kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
  updated_at BIGINT NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE escalations (
  incident_seq BIGINT PRIMARY KEY, policy_id TEXT NOT NULL, snapshot TEXT NOT NULL,
  generation BIGINT NOT NULL, steps BIGINT NOT NULL, level BIGINT NOT NULL,
  loop BIGINT NOT NULL, state TEXT NOT NULL, next_at BIGINT NOT NULL,
  started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE jobs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL,
  unique_key TEXT NOT NULL UNIQUE, run_at BIGINT NOT NULL,
  incident_seq BIGINT NOT NULL DEFAULT 0, generation BIGINT NOT NULL DEFAULT 0,
  payload TEXT NOT NULL DEFAULT '{}');
CREATE INDEX jobs_due ON jobs(run_at);
CREATE TABLE notifications (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL, incident_seq BIGINT NOT NULL, generation BIGINT NOT NULL,
  level BIGINT NOT NULL, person_id TEXT NOT NULL, contact_method TEXT NOT NULL,
  channel TEXT NOT NULL, urgency TEXT NOT NULL, status TEXT NOT NULL, due_at BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0, lease_owner TEXT NOT NULL DEFAULT '',
  lease_until BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL, sent_at BIGINT NOT NULL DEFAULT 0,
  action_used_at BIGINT NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '');
CREATE INDEX notifications_pending ON notifications(due_at) WHERE status='pending';
CREATE INDEX notifications_sending ON notifications(lease_until) WHERE status='sending';
CREATE INDEX notifications_incident ON notifications(incident_seq);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql",
    // 4: quiet and liveness (as the SQLite store's migration 6).
    R"sql(
ALTER TABLE services ADD COLUMN auto_resolve_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN mute_intervals TEXT NOT NULL DEFAULT '[]';
CREATE TABLE live (
  kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
  due_at BIGINT NOT NULL DEFAULT 0, updated_at BIGINT NOT NULL,
  state TEXT NOT NULL DEFAULT '', digest BIGINT NOT NULL DEFAULT 0,
  ends_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (kind, parent, id));
CREATE TABLE live_body (
  kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, parent, id));
CREATE INDEX live_due ON live(due_at) WHERE due_at > 0;
CREATE TABLE live_refresh (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL,
  parent TEXT NOT NULL, id TEXT NOT NULL, ends_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
)sql",
    // 5: text search (the SQLite store's migration 7). The searched text is copied, by
    // triggers, into a table of its own that pg_trgm's GIN index covers (EnsureSearchIndexes
    // makes it): an index on incidents itself would take new entries at every event, since an
    // event's UPDATE changes the indexed updated_at, so it is never a HOT update and every index
    // of the table gets the new row version (measured: batches of 200 such updates ran at 26
    // per second with two GIN indexes on incidents, 33-49 without). Only an incident's insert, a
    // change of its status, title or description, and its deletion write here; the event path's
    // updates name none of them but status, which the WHEN clause passes over unless it
    // changed. `body` is the title, a newline, the description: text without a newline is in
    // one of them exactly when it is in body, so one ILIKE and one index serve both. The status
    // is copied so that a search filtered by it narrows its candidates before reading
    // incidents. The sampled statistics are ten times the default: the planner weighs the index
    // against walking the newest incidents by how common the text is, estimated from them.
    R"sql(
CREATE TABLE incident_text (seq BIGINT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL);
ALTER TABLE incident_text ALTER COLUMN body SET STATISTICS 1000;
CREATE FUNCTION opsorch_incident_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO incident_text VALUES (NEW.seq, NEW.status, NEW.title || E'\n' || NEW.description);
  ELSIF TG_OP = 'UPDATE' THEN
    UPDATE incident_text SET status = NEW.status, body = NEW.title || E'\n' || NEW.description
      WHERE seq = NEW.seq;
  ELSE
    DELETE FROM incident_text WHERE seq = OLD.seq;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER incident_text_insert AFTER INSERT ON incidents
  FOR EACH ROW EXECUTE FUNCTION opsorch_incident_text();
CREATE TRIGGER incident_text_update AFTER UPDATE OF status, title, description ON incidents
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.title IS DISTINCT FROM
    NEW.title OR OLD.description IS DISTINCT FROM NEW.description)
  EXECUTE FUNCTION opsorch_incident_text();
CREATE TRIGGER incident_text_delete AFTER DELETE ON incidents
  FOR EACH ROW EXECUTE FUNCTION opsorch_incident_text();
INSERT INTO incident_text SELECT seq, status, title || E'\n' || description FROM incidents;
)sql",
    // 6: runbooks (the SQLite store's migration 8).
    R"sql(
ALTER TABLE services ADD COLUMN runbooks TEXT NOT NULL DEFAULT '[]';
)sql",
    // 7: the SLA cache follows `sla_at` (when a column SLA analytics reads last changed, as the
    // SQLite store's migration 4) instead of updated_at, which every event changes. Without an
    // index on a column an event changes, an event's update of its incident is a HOT update:
    // a new row version on the same page and no new index entries (the room for it: fillfactor).
    // Retention is all that reads alerts by received_at, and only unlinked ones: an event's
    // alert (linked) no longer adds an entry to that index.
    R"sql(
ALTER TABLE incidents ADD COLUMN sla_at BIGINT NOT NULL DEFAULT 0;
UPDATE incidents SET sla_at=updated_at;
DROP INDEX incidents_updated;
CREATE INDEX incidents_sla_at ON incidents(sla_at);
ALTER TABLE incidents SET (fillfactor = 85);
DROP INDEX alerts_received;
CREATE INDEX alerts_unlinked_received ON alerts(received_at) WHERE incident_seq = 0;
)sql",
    // 8: one row per event, as the SQLite store's migration 4: the timeline entry an event
    // causes is kept in its alert's row (tl_n > 0; entries written before stay in `timeline`).
    // A timeline row and its index entry were a third of what an event cost the server. Columns
    // with a constant default: no rewrite of the table.
    R"sql(
ALTER TABLE alerts ADD COLUMN tl_n BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN tl_kind TEXT NOT NULL DEFAULT '', ADD COLUMN tl_body TEXT NOT NULL DEFAULT '',
  ADD COLUMN tl_actor TEXT NOT NULL DEFAULT '{}', ADD COLUMN tl_metadata TEXT NOT NULL DEFAULT '{}';
)sql",
    // 9: a write group's flush is sent with its COMMIT and checked by the server (the writer
    // does not wait for it): this raises the error that aborts the transaction when a row the
    // group updates is no longer the version it read. A SQLSTATE of its own, no retry class.
    R"sql(
CREATE FUNCTION opsorch_check(ok boolean, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION 'check failed: %', what USING ERRCODE = 'OPS01';
  END IF;
  RETURN true;
END $$;
)sql",
    // 10: new incidents are copied to incident_text once per statement (a transition table)
    // rather than by a PL/pgSQL call and an INSERT per row: that was about 10 µs per new
    // incident, a third of what an event opening an incident cost the server. Updates keep
    // their row trigger: its WHEN clause, checked without calling the function, passes over
    // the updates of deduplicated events, which a statement trigger would have to read.
    R"sql(
DROP TRIGGER incident_text_insert ON incidents;
CREATE FUNCTION opsorch_incident_text_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO incident_text SELECT seq, status, title || E'\n' || description FROM new_incidents;
  RETURN NULL;
END $$;
CREATE TRIGGER incident_text_insert AFTER INSERT ON incidents
  REFERENCING NEW TABLE AS new_incidents FOR EACH STATEMENT
  EXECUTE FUNCTION opsorch_incident_text_inserted();
)sql",
    // 11: the index that finds a key's latest resolved incident holds resolved incidents only
    // (every lookup through it asks for status 'resolved'): a new incident, open, adds no entry
    // to it. Its resolve changes indexed columns anyway (not a HOT update) and adds the entry.
    R"sql(
DROP INDEX incidents_key_resolved;
CREATE INDEX incidents_key_resolved ON incidents(service_id, dedup_key, resolved_at)
  WHERE dedup_key <> '' AND status = 'resolved';
)sql",
    // 12: incident pages filled to half. An event's HOT update leaves a dead version on its
    // incident's page, and every later visit to a page short of its free-space target prunes
    // it, at a cost that grows with the incidents on the page: at 85 that was nearly every
    // visit over ~38 incidents. At 50, ~22: the group's flush cost the server 8-11 % less per
    // deduplicated event (measured: docs/BENCHMARKS.md), for an incidents heap up to 1.7x as
    // large (alerts, a row per event, are most of a store). 25 was slower again (more pages).
    // Pages filled before keep their rows until rewritten; no rewrite here. A fillfactor an
    // operator chose (anything but migration 7's 85, or none) is kept.
    R"sql(
DO $$
BEGIN
  IF coalesce((SELECT option_value FROM pg_options_to_table(
                 (SELECT reloptions FROM pg_class WHERE oid = 'incidents'::regclass))
               WHERE option_name = 'fillfactor'), '85') = '85' THEN
    ALTER TABLE incidents SET (fillfactor = 50);
  END IF;
END $$;
)sql",
};

// The search index of migration 5, once pg_trgm is there; the operator class is named in the
// extension's own schema, wherever that is.
constexpr std::string_view kSearchIndexes = R"sql(
DO $$
DECLARE trgm name;
BEGIN
  SELECT n.nspname INTO trgm FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
  IF trgm IS NOT NULL THEN
    EXECUTE format('CREATE INDEX IF NOT EXISTS incident_text_trgm ON incident_text '
                   'USING gin (body %I.gin_trgm_ops)', trgm);
  END IF;
END $$;
)sql";
constexpr std::string_view kHaveSearchIndexes =
    "SELECT to_regclass('incident_text_trgm') IS NOT NULL";

// A live row is its narrow part (live) and its body (live_body), joined.
constexpr std::string_view kLiveColumns =
    "kind, parent, id, body, due_at, updated_at, state, digest, ends_at FROM live JOIN live_body "
    "USING (kind, parent, id)";

LiveRow ReadLive(const Rows& s, int r) {
  return LiveRow{s.Text(r, 0), s.Text(r, 1), s.Text(r, 2), s.Object(r, 3), s.Int(r, 4),
                 s.Int(r, 5),  s.Text(r, 6), s.Int(r, 7),  s.Int(r, 8)};
}

Result<std::vector<LiveRow>> LiveRows(Result<Rows> rows) {
  if (!rows) return Fail(std::move(rows.error()));
  std::vector<LiveRow> out;
  for (int r = 0; r < rows->size(); ++r) out.push_back(ReadLive(*rows, r));
  return out;
}

constexpr std::string_view kNotificationColumns =
    "seq, idem_key, kind, incident_seq, generation, level, person_id, contact_method, channel, "
    "urgency, status, due_at, attempts, lease_owner, lease_until, created_at, updated_at, "
    "sent_at, action_used_at, detail";

NotificationRow ReadNotification(const Rows& s, int r) {
  NotificationRow n;
  n.seq = s.Int(r, 0);
  n.id = "ntf-" + std::to_string(n.seq);
  n.idempotency_key = s.Text(r, 1);
  n.kind = s.Text(r, 2);
  n.incident_seq = s.Int(r, 3);
  n.generation = s.Int(r, 4);
  n.level = s.Int(r, 5);
  n.person_id = s.Text(r, 6);
  n.contact_method = s.Text(r, 7);
  n.channel = s.Text(r, 8);
  n.urgency = s.Text(r, 9);
  n.status = s.Text(r, 10);
  n.due_at = s.Int(r, 11);
  n.attempts = s.Int(r, 12);
  n.lease_owner = s.Text(r, 13);
  n.lease_until = s.Int(r, 14);
  n.created_at = s.Int(r, 15);
  n.updated_at = s.Int(r, 16);
  n.sent_at = s.Int(r, 17);
  n.action_used_at = s.Int(r, 18);
  n.detail = s.Text(r, 19);
  return n;
}

constexpr std::string_view kEscalationColumns =
    "incident_seq, policy_id, snapshot, generation, steps, level, loop, state, next_at, "
    "started_at, updated_at";

EscalationRow ReadEscalation(const Rows& s, int r) {
  return EscalationRow{s.Int(r, 0), s.Text(r, 1), s.Object(r, 2), s.Int(r, 3),
                       s.Int(r, 4), s.Int(r, 5),  s.Int(r, 6),    s.Text(r, 7),
                       s.Int(r, 8), s.Int(r, 9),  s.Int(r, 10)};
}

// Session-level advisory lock around migrations, so nodes starting together take turns.
constexpr std::string_view kMigrationLock = "hashtextextended('opsorch.schema_migrations', 0)";

// Retries of a whole write batch after a serialization failure, deadlock, lost connection or
// contended key.
constexpr int kMaxRetries = 4;
constexpr std::int64_t kRetentionBatch = 1000;

// The advisory lock key of (service, dedup key), from SQL text expressions. The length prefix
// keeps ("a:b","c") and ("a","b:c") apart; a hash collision only makes two keys wait for each
// other.
std::string KeyLockId(std::string_view service, std::string_view key) {
  return "hashtextextended(length(" + std::string(service) + ")::text || ':' || " +
         std::string(service) + " || " + std::string(key) + ", 0)";
}

IncidentRow ReadIncident(const Rows& s, int r) {
  IncidentRow i = ReadIncidentState(s, r);
  i.details = s.Object(r, 14);
  i.fields = s.Object(r, 15);
  i.metadata = s.Object(r, 16);
  return i;
}

IntegrationRow ReadIntegration(const Rows& s, int r) {
  return IntegrationRow{s.Text(r, 0), s.Text(r, 1), s.Text(r, 2), s.Text(r, 3),
                        s.Text(r, 4), s.Text(r, 5), s.Int(r, 6),  s.Int(r, 7)};
}

// LIKE/ILIKE pattern matching `s` literally (with ESCAPE '\').
std::string EscapeLike(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// 16 random hex digits: a name no other node picks.
std::string RandomId() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned> digit(0, 15);
  std::string out;
  for (int i = 0; i < 16; ++i) out.push_back("0123456789abcdef"[digit(rd)]);
  return out;
}

// `$n`, numbering the parameters of a query built piece by piece.
class Numbered {
 public:
  std::string Next() { return "$" + std::to_string(++n_); }

 private:
  int n_ = 0;
};

class PgTx final : public Tx {
 public:
  // `model`: the group's incidents in memory (pg_group.h), or null: a statement per call.
  PgTx(Connection& c, KeySet& seen, bool holds_locks, GroupModel* model = nullptr)
      : c_(c), seen_(seen), ops_(holds_locks ? 1 : 0), model_(model) {}

  // A probe: no statement runs; every unit stops at its first statement, having named its
  // first key (recorded per unit in `unit_keys`), so the group's keys can be locked and loaded
  // at once before the units run for real.
  static PgTx Probe(Connection& c, KeySet& seen, std::vector<std::string>& unit_keys) {
    PgTx tx(c, seen, false);
    tx.contended_ = true;
    tx.unit_keys_ = &unit_keys;
    return tx;
  }
  void SetUnit(std::size_t i) {
    unit_ = i;
    if (unit_keys_ != nullptr && unit_keys_->size() <= i) unit_keys_->resize(i + 1);
    if (model_ != nullptr) model_->SetUnit(i);
  }
  GroupModel* model() { return model_; }

  // A key was held by another transaction while this one held locks: the attempt must be
  // rolled back and run again with all its keys locked up front (see TryBatch).
  bool contended() const { return contended_; }
  // Statements whose locks the transaction holds; a unit's savepoint rollback releases the
  // locks its statements took.
  int ops() const { return ops_; }
  void set_ops(int n) { ops_ = n; }
  // One statement of this transaction (its locks are held until the end).
  Result<Rows> Query(std::string_view sql, const Params& params) {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    return c_.Query(sql, params);
  }
  static Status Done(Result<Rows> r) {
    if (!r) return Fail(std::move(r.error()));
    return Ok();
  }
  Result<std::vector<NotificationRow>> Notifications(std::string_view sql, const Params& params) {
    auto rows = Query(sql, params);
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<NotificationRow> out;
    for (int r = 0; r < rows->size(); ++r) out.push_back(ReadNotification(*rows, r));
    return out;
  }

  static tl::unexpected<Error> Contended() {
    return Fail(errc::kInternal, "postgres: a dedup key is locked by another transaction");
  }

  Result<std::optional<IncidentRow>> FindOpenIncident(std::string_view service_id,
                                                      std::string_view dedup_key) override {
    if (model_ != nullptr && !contended_) {
      if (auto open = model_->TryOpen(service_id, dedup_key)) return std::move(*open);
    }
    if (auto st = LockKey(service_id, dedup_key); !st) return Fail(std::move(st.error()));
    static const std::string sql =
        "SELECT " + std::string(kIncidentStateColumns) +
        " FROM incidents WHERE service_id=$1 AND dedup_key=$2 AND status<>'resolved' AND "
        "dedup_key<>'' FOR UPDATE";
    return One(sql, Params().Add(service_id).Add(dedup_key), ReadIncidentState);
  }

  Result<std::optional<IncidentRow>> FindResolvedSince(std::string_view service_id,
                                                       std::string_view dedup_key,
                                                       std::int64_t since) override {
    if (Modelled(service_id, dedup_key)) {
      auto answer = model_->TryResolvedSince(service_id, dedup_key, since);
      if (!answer) return Fail(std::move(answer.error()));
      if (*answer) return std::move(**answer);
      if (auto st = model_->Demote(service_id, dedup_key); !st) return Fail(std::move(st.error()));
    }
    if (auto st = LockKey(service_id, dedup_key); !st) return Fail(std::move(st.error()));
    static const std::string sql =
        "SELECT " + std::string(kIncidentStateColumns) +
        " FROM incidents WHERE service_id=$1 AND dedup_key=$2 AND dedup_key<>'' AND "
        "status='resolved' AND resolved_at>=$3 ORDER BY resolved_at DESC, seq DESC LIMIT 1 "
        "FOR UPDATE";
    return One(sql, Params().Add(service_id).Add(dedup_key).Add(since), ReadIncidentState);
  }

  Result<std::optional<AlertRow>> TakeHeldResolve(std::string_view service_id,
                                                  std::string_view dedup_key,
                                                  std::int64_t now) override {
    if (Modelled(service_id, dedup_key)) {
      auto answer = model_->TryTakeHeld(service_id, dedup_key, now);
      if (!answer) return Fail(std::move(answer.error()));
      if (*answer) return std::move(**answer);
      if (auto st = model_->Demote(service_id, dedup_key); !st) return Fail(std::move(st.error()));
    }
    if (auto st = LockKey(service_id, dedup_key); !st) return Fail(std::move(st.error()));
    static const std::string sql =
        // `held_until>0` lets a generic plan use the partial index (a parameter alone does not).
        "UPDATE alerts SET held_until=0 WHERE seq=(SELECT seq FROM alerts WHERE service_id=$1 "
        "AND dedup_key=$2 AND held_until>0 AND held_until>$3 ORDER BY seq LIMIT 1 FOR UPDATE) "
        "RETURNING " +
        std::string(kAlertColumns);
    auto r = c_.Query(sql, Params().Add(service_id).Add(dedup_key).Add(now));
    if (!r) return Fail(std::move(r.error()));
    if (r->empty()) return std::optional<AlertRow>();
    return std::optional<AlertRow>(ReadAlert(*r, 0));
  }

  Result<std::optional<IncidentRow>> GetIncidentForUpdate(std::string_view id) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    const std::int64_t seq = SeqOf(id, "inc-");
    if (seq == 0) return std::optional<IncidentRow>();
    if (model_ != nullptr && model_->HasIncident(seq)) {
      auto known = model_->TryGetForUpdate(seq);  // demotes the incident unless it is new
      if (!known) return Fail(std::move(known.error()));
      if (*known) return known;
    }
    static const std::string sql =
        "SELECT " + std::string(kIncidentColumns) + " FROM incidents WHERE seq=$1 FOR UPDATE";
    return One(sql, Params().Add(seq), ReadIncident);
  }

  Status InsertIncident(IncidentRow& r) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    if (!r.dedup_key.empty() && Modelled(r.service_id, r.dedup_key)) {
      return model_->InsertIncident(r);
    }
    // Beside a group model, the number comes from the model's block (pg_group.h).
    std::int64_t seq = 0;
    if (model_ != nullptr) {
      auto taken = model_->TakeIncidentSeq();
      if (!taken) return Fail(std::move(taken.error()));
      seq = *taken;
    }
    auto res = c_.Query(
        seq > 0 ? "INSERT INTO incidents (service_id, dedup_key, title, description, status, "
                  "urgency, severity, source, created_at, acknowledged_at, resolved_at, "
                  "updated_at, alert_count, details, fields, metadata, sla_at, seq) OVERRIDING "
                  "SYSTEM VALUE VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
                  "$12,$17) RETURNING seq"
                : "INSERT INTO incidents (service_id, dedup_key, title, description, status, "
                  "urgency, severity, source, created_at, acknowledged_at, resolved_at, "
                  "updated_at, alert_count, details, fields, metadata, sla_at) VALUES ($1,$2,$3,"
                  "$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$12) RETURNING seq",
        WithSeq(Params()
                    .Add(r.service_id)
                    .Add(r.dedup_key)
                    .Add(r.title)
                    .Add(r.description)
                    .Add(r.status)
                    .Add(r.urgency)
                    .Add(r.severity)
                    .Add(r.source)
                    .Add(r.created_at)
                    .Add(r.acknowledged_at)
                    .Add(r.resolved_at)
                    .Add(r.updated_at)
                    .Add(r.alert_count)
                    .AddJson(r.details)
                    .AddJson(r.fields)
                    .AddJson(r.metadata),
                seq));
    if (!res) return Fail(std::move(res.error()));
    r.seq = res->Int(0, 0);
    r.id = IncidentId(r.seq);
    return Ok();
  }

  Status UpdateIncident(const IncidentRow& r) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    if (model_ != nullptr && model_->HasIncident(r.seq)) {
      auto applied = model_->UpdateIncident(r);  // demotes the incident unless it is new
      if (!applied) return Fail(std::move(applied.error()));
      if (*applied) return Ok();
    }
    if (auto st = Directly(r); !st) return st;
    auto res = c_.Query(
        "UPDATE incidents SET title=$1, description=$2, status=$3, urgency=$4, severity=$5, "
        "service_id=$6, acknowledged_at=$7, resolved_at=$8, updated_at=$9, alert_count=$10, "
        "fields=$11, metadata=$12, sla_at=$9 WHERE seq=$13",
        Params()
            .Add(r.title)
            .Add(r.description)
            .Add(r.status)
            .Add(r.urgency)
            .Add(r.severity)
            .Add(r.service_id)
            .Add(r.acknowledged_at)
            .Add(r.resolved_at)
            .Add(r.updated_at)
            .Add(r.alert_count)
            .AddJson(r.fields)
            .AddJson(r.metadata)
            .Add(r.seq));
    if (!res) return Fail(std::move(res.error()));
    return Ok();
  }

  Status UpdateIncidentState(const IncidentRow& r) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    if (model_ != nullptr && model_->HasIncident(r.seq)) return model_->UpdateIncidentState(r);
    if (auto st = Directly(r); !st) return st;
    auto res = c_.Query(
        "UPDATE incidents SET status=$1, urgency=$2, severity=$3, acknowledged_at=$4, "
        "resolved_at=$5, updated_at=$6, alert_count=$7, sla_at=$6 WHERE seq=$8",
        Params()
            .Add(r.status)
            .Add(r.urgency)
            .Add(r.severity)
            .Add(r.acknowledged_at)
            .Add(r.resolved_at)
            .Add(r.updated_at)
            .Add(r.alert_count)
            .Add(r.seq));
    if (!res) return Fail(std::move(res.error()));
    return Ok();
  }

  Status InsertAlert(AlertRow& a) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    // A held resolve is read back by TakeHeldResolve of its key: the model's only if the key is.
    // Run ahead, an alert numbered from the pool must be of a key whose incident the model
    // checks (WriteGroup); any other goes to its statement, which is refused.
    if (model_ != nullptr && (a.held_until <= 0 || Modelled(a.service_id, a.dedup_key)) &&
        (!model_->ahead() || Modelled(a.service_id, a.dedup_key))) {
      return model_->InsertAlert(a);
    }
    return InsertAlertRow(a, nullptr);
  }

  // The entry is kept in the alert's row (migration 8) when it is of the alert's incident and
  // its time is the alert's received_at (which reads give back as its time).
  Status InsertAlertWithEntry(AlertRow& a, TimelineRow& t) override {
    const std::int64_t seq = SeqOf(t.incident_id, "inc-");
    if (seq == 0 || seq != SeqOf(a.incident_id, "inc-") || t.at != a.received_at) {
      return Tx::InsertAlertWithEntry(a, t);
    }
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    if (model_ != nullptr && model_->HasIncident(seq) &&
        (a.held_until <= 0 || Modelled(a.service_id, a.dedup_key)) &&
        (!model_->ahead() || Modelled(a.service_id, a.dedup_key))) {
      return model_->InsertAlertWithEntry(a, t);
    }
    return InsertAlertRow(a, &t);
  }

  // An alert's INSERT statement, with the timeline entry `entry` in its row if given (numbered
  // from its incident's row, which this transaction then holds, as in AppendTimeline).
  Status InsertAlertRow(AlertRow& a, TimelineRow* entry) {
    std::int64_t seq = 0;
    if (model_ != nullptr) {
      auto taken = model_->TakeAlertSeq();
      if (!taken) return Fail(std::move(taken.error()));
      seq = *taken;
    }
    // $1–$19 the alert, $20–$23 the entry, $24 the number taken from the model's block.
    static const std::string columns =
        "incident_seq, service_id, integration_id, dedup_key, action, summary, source, "
        "severity, component, grp, class, custom_details, links, images, client, client_url, "
        "event_at, received_at, held_until";
    static const std::string values =
        "$1::bigint, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text, "
        "$9::text, $10::text, $11::text, $12::text, $13::text, $14::text, $15::text, $16::text, "
        "$17::bigint, $18::bigint, $19::bigint";
    static const std::string sql[2][2] = {
        {"INSERT INTO alerts (" + columns + ") SELECT " + values + " RETURNING seq, 0",
         "INSERT INTO alerts (" + columns + ", seq) OVERRIDING SYSTEM VALUE SELECT " + values +
             ", $20::bigint RETURNING seq, 0"},
        {"WITH c AS (UPDATE incidents SET timeline_count=timeline_count+1 WHERE seq=$1 "
         "RETURNING timeline_count) INSERT INTO alerts (" +
             columns + ", tl_n, tl_kind, tl_body, tl_actor, tl_metadata) SELECT " + values +
             ", c.timeline_count, $20::text, $21::text, $22::text, $23::text FROM c RETURNING "
             "seq, tl_n",
         "WITH c AS (UPDATE incidents SET timeline_count=timeline_count+1 WHERE seq=$1 "
         "RETURNING timeline_count) INSERT INTO alerts (" +
             columns +
             ", tl_n, tl_kind, tl_body, tl_actor, tl_metadata, seq) OVERRIDING SYSTEM VALUE "
             "SELECT " +
             values +
             ", c.timeline_count, $20::text, $21::text, $22::text, $23::text, $24::bigint FROM c "
             "RETURNING seq, tl_n"}};
    Params p;
    p.Add(SeqOf(a.incident_id, "inc-"))
        .Add(a.service_id)
        .Add(a.integration_id)
        .Add(a.dedup_key)
        .Add(a.action)
        .Add(a.summary)
        .Add(a.source)
        .Add(a.severity)
        .Add(a.component)
        .Add(a.group)
        .Add(a.class_name)
        .AddJson(a.custom_details)
        .AddJson(a.links)
        .AddJson(a.images)
        .Add(a.client)
        .Add(a.client_url)
        .Add(a.event_at)
        .Add(a.received_at)
        .Add(a.held_until);
    // Without "alertId": the row is the alert (ScanTimeline adds it).
    if (entry != nullptr)
      p.Add(entry->kind).Add(entry->body).AddJson(entry->actor).AddJson(entry->metadata);
    auto res = c_.Query(sql[entry != nullptr][seq > 0], WithSeq(std::move(p), seq));
    if (!res) return Fail(std::move(res.error()));
    if (res->empty()) return Fail(errc::kNotFound, "incident " + a.incident_id + " not found");
    a.seq = res->Int(0, 0);
    a.id = AlertId(a.seq);
    if (entry != nullptr) {
      entry->id = entry->incident_id + "-t" + std::to_string(res->Int(0, 1));
    }
    return Ok();
  }

  Status LinkAlert(std::string_view alert_id, std::string_view incident_id) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    if (const std::int64_t seq = SeqOf(alert_id, "al-");
        model_ != nullptr && model_->HasAlert(seq)) {
      return model_->LinkAlert(seq, incident_id);
    }
    auto res = c_.Query("UPDATE alerts SET incident_seq=$1 WHERE seq=$2",
                        Params().Add(SeqOf(incident_id, "inc-")).Add(SeqOf(alert_id, "al-")));
    if (!res) return Fail(std::move(res.error()));
    return Ok();
  }

  Status AppendTimeline(TimelineRow& t) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    if (model_ != nullptr && model_->HasIncident(SeqOf(t.incident_id, "inc-"))) {
      return model_->AppendTimeline(t);
    }
    // The entry's number comes from its incident's row, which this transaction then holds:
    // concurrent appends to one incident take turns and numbers never repeat.
    auto res = c_.Query(
        "WITH c AS (UPDATE incidents SET timeline_count=timeline_count+1 WHERE seq=$1 "
        "RETURNING timeline_count) "
        "INSERT INTO timeline (incident_seq, n, at, kind, body, actor, metadata) "
        "SELECT $1::bigint, c.timeline_count, $2::bigint, $3::text, $4::text, $5::text, "
        "$6::text FROM c RETURNING n",
        Params()
            .Add(SeqOf(t.incident_id, "inc-"))
            .Add(t.at)
            .Add(t.kind)
            .Add(t.body)
            .AddJson(t.actor)
            .AddJson(t.metadata));
    if (!res) return Fail(std::move(res.error()));
    if (res->empty()) return Fail(errc::kNotFound, "incident " + t.incident_id + " not found");
    t.id = t.incident_id + "-t" + std::to_string(res->Int(0, 0));
    return Ok();
  }

  // ---- paging: rows of their own, locked row by row (SKIP LOCKED where nodes compete) ----

  Result<std::optional<EscalationRow>> GetEscalation(std::int64_t incident_seq) override {
    static const std::string sql = "SELECT " + std::string(kEscalationColumns) +
                                   " FROM escalations WHERE incident_seq=$1 FOR UPDATE";
    auto rows = Query(sql, Params().Add(incident_seq));
    if (!rows) return Fail(std::move(rows.error()));
    if (rows->empty()) return std::optional<EscalationRow>();
    return std::optional<EscalationRow>(ReadEscalation(*rows, 0));
  }

  Status PutEscalation(const EscalationRow& e) override {
    return Done(Query(
        "INSERT INTO escalations (incident_seq, policy_id, snapshot, generation, steps, level, "
        "loop, state, next_at, started_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
        "$11) ON CONFLICT (incident_seq) DO UPDATE SET policy_id=excluded.policy_id, "
        "snapshot=excluded.snapshot, generation=excluded.generation, steps=excluded.steps, "
        "level=excluded.level, loop=excluded.loop, state=excluded.state, "
        "next_at=excluded.next_at, started_at=excluded.started_at, updated_at=excluded.updated_at",
        Params()
            .Add(e.incident_seq)
            .Add(e.policy_id)
            .AddJson(e.snapshot)
            .Add(e.generation)
            .Add(e.steps)
            .Add(e.level)
            .Add(e.loop)
            .Add(e.state)
            .Add(e.next_at)
            .Add(e.started_at)
            .Add(e.updated_at)));
  }

  Status InsertJob(JobRow& j) override {
    auto rows = Query(
        "INSERT INTO jobs (kind, unique_key, run_at, incident_seq, generation, payload) "
        "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        Params()
            .Add(j.kind)
            .Add(j.unique_key)
            .Add(j.run_at)
            .Add(j.incident_seq)
            .Add(j.generation)
            .AddJson(j.payload));
    if (!rows) return Fail(std::move(rows.error()));
    if (!rows->empty()) j.id = rows->Int(0, 0);
    return Ok();
  }

  Result<std::vector<JobRow>> DueJobs(std::int64_t now, std::int64_t limit) override {
    auto rows = Query(
        "SELECT id, kind, unique_key, run_at, incident_seq, generation, payload FROM jobs "
        "WHERE run_at<=$1 ORDER BY run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        Params().Add(now).Add(limit));
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<JobRow> out;
    for (int r = 0; r < rows->size(); ++r) {
      out.push_back(JobRow{rows->Int(r, 0), rows->Text(r, 1), rows->Text(r, 2), rows->Int(r, 3),
                           rows->Int(r, 4), rows->Int(r, 5), rows->Object(r, 6)});
    }
    return out;
  }

  Status DeleteJob(std::int64_t id) override {
    return Done(Query("DELETE FROM jobs WHERE id=$1", Params().Add(id)));
  }

  Status DeleteJobByKey(std::string_view key) override {
    return Done(Query("DELETE FROM jobs WHERE unique_key=$1", Params().Add(key)));
  }

  Result<std::optional<LiveRow>> GetLive(std::string_view kind, std::string_view parent,
                                         std::string_view id, bool with_body) override {
    if (kind == kFiringRow && Modelled(parent, id)) {
      auto absent = model_->TryFiringAbsent(parent, id);
      if (!absent) return Fail(std::move(absent.error()));
      if (*absent) return std::optional<LiveRow>();
    }
    // FOR UPDATE: two nodes applying pushes of one alert take turns.
    static const std::string full =
        "SELECT " + std::string(kLiveColumns) + " WHERE kind=$1 AND parent=$2 AND id=$3 FOR UPDATE";
    static const std::string bare =
        "SELECT kind, parent, id, '{}', due_at, updated_at, state, digest, ends_at FROM live "
        "WHERE kind=$1 AND parent=$2 AND id=$3 FOR UPDATE";
    auto rows = LiveRows(Query(with_body ? full : bare, Params().Add(kind).Add(parent).Add(id)));
    if (!rows) return Fail(std::move(rows.error()));
    if (rows->empty()) return std::optional<LiveRow>();
    return std::optional<LiveRow>(std::move(rows->front()));
  }

  Status PutLive(const LiveRow& r) override {
    if (r.kind == kFiringRow && Modelled(r.parent, r.id)) model_->TouchFiring(r.parent, r.id);
    if (auto st = Done(
            Query("INSERT INTO live (kind, parent, id, due_at, updated_at, state, digest, ends_at) "
                  "VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (kind, parent, id) DO UPDATE SET "
                  "due_at=excluded.due_at, updated_at=excluded.updated_at, state=excluded.state, "
                  "digest=excluded.digest, ends_at=excluded.ends_at",
                  Params()
                      .Add(r.kind)
                      .Add(r.parent)
                      .Add(r.id)
                      .Add(r.due_at)
                      .Add(r.updated_at)
                      .Add(r.state)
                      .Add(r.digest)
                      .Add(r.ends_at)));
        !st) {
      return st;
    }
    return Done(Query(
        "INSERT INTO live_body (kind, parent, id, body) VALUES ($1,$2,$3,$4) ON CONFLICT (kind, "
        "parent, id) DO UPDATE SET body=excluded.body",
        Params().Add(r.kind).Add(r.parent).Add(r.id).AddJson(r.body)));
  }

  Result<bool> RefreshLive(std::string_view kind, std::string_view parent, std::string_view id,
                           std::string_view state, std::int64_t digest, std::int64_t ends_at,
                           std::int64_t updated_at) override {
    auto rows = Query(
        "INSERT INTO live_refresh (kind, parent, id, ends_at, updated_at) SELECT kind, parent, "
        "id, $6, $7 FROM live WHERE kind=$1 AND parent=$2 AND id=$3 AND state=$4 AND digest=$5 "
        "RETURNING 1",
        Params().Add(kind).Add(parent).Add(id).Add(state).Add(digest).Add(ends_at).Add(updated_at));
    if (!rows) return Fail(std::move(rows.error()));
    return rows->size() > 0;
  }

  Status FoldRefreshes() override {
    // One statement: what it deletes is what it applies (a refresh another node commits
    // meanwhile is either in both or in neither).
    return Done(Query(
        "WITH d AS (DELETE FROM live_refresh RETURNING kind, parent, id, ends_at, updated_at, "
        "seq), r AS (SELECT DISTINCT ON (kind, parent, id) kind, parent, id, ends_at, updated_at "
        "FROM d ORDER BY kind, parent, id, seq DESC) UPDATE live SET ends_at=r.ends_at, "
        "updated_at=r.updated_at FROM r WHERE live.kind=r.kind AND live.parent=r.parent AND "
        "live.id=r.id AND r.updated_at>=live.updated_at",
        Params()));
  }

  Status DeleteLive(std::string_view kind, std::string_view parent, std::string_view id) override {
    if (kind == kFiringRow && Modelled(parent, id)) model_->TouchFiring(parent, id);
    if (auto st = Done(Query("DELETE FROM live WHERE kind=$1 AND parent=$2 AND id=$3",
                             Params().Add(kind).Add(parent).Add(id)));
        !st) {
      return st;
    }
    return Done(Query("DELETE FROM live_body WHERE kind=$1 AND parent=$2 AND id=$3",
                      Params().Add(kind).Add(parent).Add(id)));
  }

  Result<std::vector<LiveRow>> DueLive(std::string_view kind, std::int64_t now,
                                       std::int64_t limit) override {
    return LiveRows(Query("SELECT " + std::string(kLiveColumns) +
                              " WHERE kind=$1 AND due_at>0 AND due_at<=$2 ORDER BY due_at LIMIT $3 "
                              "FOR UPDATE SKIP LOCKED",
                          Params().Add(kind).Add(now).Add(limit)));
  }

  Result<std::vector<LiveRow>> LiveOf(std::string_view kind, std::string_view parent) override {
    return LiveRows(Query("SELECT " + std::string(kLiveColumns) +
                              " WHERE kind=$1 AND parent=$2 ORDER BY id COLLATE \"C\" FOR UPDATE",
                          Params().Add(kind).Add(parent)));
  }

  Result<bool> InsertNotification(NotificationRow& n) override {
    auto rows = Query(
        "INSERT INTO notifications (idem_key, kind, incident_seq, generation, level, person_id, "
        "contact_method, channel, urgency, status, due_at, attempts, lease_owner, lease_until, "
        "created_at, updated_at, sent_at, action_used_at, detail) VALUES ($1,$2,$3,$4,$5,$6,$7,"
        "$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19) ON CONFLICT (idem_key) DO NOTHING "
        "RETURNING seq",
        Params()
            .Add(n.idempotency_key)
            .Add(n.kind)
            .Add(n.incident_seq)
            .Add(n.generation)
            .Add(n.level)
            .Add(n.person_id)
            .Add(n.contact_method)
            .Add(n.channel)
            .Add(n.urgency)
            .Add(n.status)
            .Add(n.due_at)
            .Add(n.attempts)
            .Add(n.lease_owner)
            .Add(n.lease_until)
            .Add(n.created_at)
            .Add(n.updated_at)
            .Add(n.sent_at)
            .Add(n.action_used_at)
            .Add(n.detail));
    if (!rows) return Fail(std::move(rows.error()));
    if (rows->empty()) return false;
    n.seq = rows->Int(0, 0);
    n.id = "ntf-" + std::to_string(n.seq);
    return true;
  }

  Result<std::vector<NotificationRow>> ClaimNotifications(std::int64_t now, std::int64_t limit,
                                                          std::string_view owner,
                                                          std::int64_t lease_until) override {
    // SKIP LOCKED: rows another node is claiming are left to it, so no message is claimed twice.
    static const std::string sql =
        "UPDATE notifications SET status='sending', lease_owner=$1, lease_until=$2, "
        "attempts=attempts+1, updated_at=$3 WHERE seq IN (SELECT seq FROM notifications WHERE "
        "status='pending' AND due_at<=$3 ORDER BY due_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED) "
        "RETURNING " +
        std::string(kNotificationColumns);
    return Notifications(sql, Params().Add(owner).Add(lease_until).Add(now).Add(limit));
  }

  Result<std::vector<NotificationRow>> ExpiredLeases(std::int64_t now,
                                                     std::int64_t limit) override {
    static const std::string sql = "SELECT " + std::string(kNotificationColumns) +
                                   " FROM notifications WHERE status='sending' AND lease_until<$1 "
                                   "ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED";
    return Notifications(sql, Params().Add(now).Add(limit));
  }

  Result<std::optional<NotificationRow>> GetNotificationForUpdate(std::int64_t seq) override {
    static const std::string sql = "SELECT " + std::string(kNotificationColumns) +
                                   " FROM notifications WHERE seq=$1 FOR UPDATE";
    auto rows = Notifications(sql, Params().Add(seq));
    if (!rows) return Fail(std::move(rows.error()));
    if (rows->empty()) return std::optional<NotificationRow>();
    return std::optional<NotificationRow>(std::move(rows->front()));
  }

  Status UpdateNotification(const NotificationRow& n) override {
    return Done(Query(
        "UPDATE notifications SET status=$1, due_at=$2, attempts=$3, lease_owner=$4, "
        "lease_until=$5, sent_at=$6, action_used_at=$7, detail=$8, updated_at=$9 WHERE seq=$10",
        Params()
            .Add(n.status)
            .Add(n.due_at)
            .Add(n.attempts)
            .Add(n.lease_owner)
            .Add(n.lease_until)
            .Add(n.sent_at)
            .Add(n.action_used_at)
            .Add(n.detail)
            .Add(n.updated_at)
            .Add(n.seq)));
  }

  Result<std::int64_t> CancelNotifications(std::int64_t incident_seq, std::int64_t now,
                                           std::string_view why) override {
    auto rows = Query(
        "UPDATE notifications SET status='cancelled', detail=$1, updated_at=$2 "
        "WHERE incident_seq=$3 AND status='pending'",
        Params().Add(why).Add(now).Add(incident_seq));
    if (!rows) return Fail(std::move(rows.error()));
    return rows->Affected();
  }

  Status InsertDeployment(DeploymentRow& d) override {
    if (contended_) return Contended();  // the attempt is void
    ++ops_;
    auto res = c_.Query(
        "INSERT INTO deployments (service_id, summary, source, at, details, links) "
        "VALUES ($1,$2,$3,$4,$5,$6) RETURNING seq",
        Params()
            .Add(d.service_id)
            .Add(d.summary)
            .Add(d.source)
            .Add(d.at)
            .AddJson(d.details)
            .AddJson(d.links));
    if (!res) return Fail(std::move(res.error()));
    d.seq = res->Int(0, 0);
    d.id = "dep-" + std::to_string(d.seq);
    return Ok();
  }

 private:
  // Holds (service, key) until the transaction ends, so that two nodes cannot both find no
  // open incident and both open one. A statement of its own: a READ COMMITTED statement reads
  // the snapshot taken when it started, so the SELECT after the wait must be a new statement to
  // see what the other node committed.
  //
  // Only a transaction that holds no locks yet waits for a key. Holding some, it only tries:
  // two batches waiting for each other would deadlock, and PostgreSQL takes a second
  // (deadlock_timeout) to notice. A failed try marks the attempt contended instead.
  Status LockKey(std::string_view service_id, std::string_view dedup_key) {
    if (!dedup_key.empty()) {
      seen_.emplace(service_id, dedup_key);
      if (unit_keys_ != nullptr && unit_ < unit_keys_->size() && (*unit_keys_)[unit_].empty()) {
        (*unit_keys_)[unit_] = GroupModel::ModelKey(service_id, dedup_key);
      }
    }
    // The attempt is void, or this is the probe: only collecting keys, never a statement.
    if (contended_) return Contended();
    if (dedup_key.empty()) return Ok();  // never matched by key (see the queries)
    static const std::string wait =
        "SELECT pg_advisory_xact_lock(" + KeyLockId("$1::text", "$2::text") + ")";
    static const std::string try_only =
        "SELECT pg_try_advisory_xact_lock(" + KeyLockId("$1::text", "$2::text") + ")";
    auto r = c_.Query(ops_ == 0 ? wait : try_only, Params().Add(service_id).Add(dedup_key));
    if (!r) return Fail(std::move(r.error()));
    if (ops_ > 0 && r->Text(0, 0) != "t") {
      contended_ = true;
      return Contended();
    }
    ++ops_;
    return Ok();
  }

  Result<std::optional<IncidentRow>> One(std::string_view sql, const Params& params,
                                         IncidentRow (*read)(const Rows&, int)) {
    auto r = c_.Query(sql, params);
    if (!r) return Fail(std::move(r.error()));
    if (r->empty()) return std::optional<IncidentRow>();
    return std::optional<IncidentRow>(read(*r, 0));
  }

  // Before a statement changes an incident the model does not hold: if its key is the model's,
  // the model's view of the key (its open incident, its newest resolved one) would be stale,
  // and its pending writes for the key must reach the database first.
  Status Directly(const IncidentRow& r) {
    if (r.dedup_key.empty() || !Modelled(r.service_id, r.dedup_key)) return Ok();
    return model_->Demote(r.service_id, r.dedup_key);
  }

  // `p` with `seq` as its last parameter, if one was taken (0: the column's default).
  static Params WithSeq(Params p, std::int64_t seq) {
    if (seq > 0) p.Add(seq);
    return p;
  }

  // The key's reads and writes are the group model's (never while only collecting keys).
  bool Modelled(std::string_view service_id, std::string_view dedup_key) const {
    return model_ != nullptr && !contended_ && model_->Covers(service_id, dedup_key);
  }

  Connection& c_;
  KeySet& seen_;
  int ops_;
  bool contended_ = false;
  GroupModel* model_ = nullptr;
  std::vector<std::string>* unit_keys_ = nullptr;  // a probe's record of each unit's first key
  std::size_t unit_ = 0;
};

class PgStore final : public Store {
 public:
  PgStore(std::string url, const StoreOptions& options)
      : url_(std::move(url)),
        metrics_(RegisterStoreMetrics(options.metrics)),
        backoff_(std::make_shared<ReconnectBackoff>(options.pg_reconnect_max, metrics_.refused)),
        pool_(url_, ConnectFor(metrics_.pool, options),
              ConnectionPool::Settings{.max = options.pg_pool,
                                       .wait = options.pg_pool_wait,
                                       .waits = metrics_.pool_waits,
                                       .timeouts = metrics_.pool_timeouts}) {
    writer_options_ = ConnectFor(metrics_.writer, options);
    // Once per session rather than two SET LOCAL statements per group (TryBatch says why), and
    // read committed whatever the role's default: a group's read must see what the keys'
    // previous holders committed while its lock statement waited for them.
    writer_options_.session_settings =
        "SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan; SET "
        "default_transaction_isolation = 'read committed'";
    // The syncer's commits are what makes the writer's durable: never asynchronous, whatever the
    // database's or role's default says (a stronger one, remote_apply say, is kept).
    syncer_options_ = ConnectFor(metrics_.writer, options);
    syncer_options_.session_settings =
        "SELECT set_config('synchronous_commit', 'on', false) WHERE "
        "current_setting('synchronous_commit') = 'off'";
    AddPoolGauges(options.metrics, pool_.gauges());
  }

  Status Open() {
    auto w = Connection::Open(url_, writer_options_);
    if (!w) return Fail(std::move(w.error()));
    writer_ = std::move(*w);
    return Ok();
  }

  Status Migrate() override {
    std::lock_guard lock(write_mu_);
    if (auto st = writer_->EnsureConnected(); !st) return st;
    // No statement timeout while waiting for another node's migrations or running our own.
    if (auto st = writer_->Exec("SET statement_timeout = 0"); !st) return st;
    Status result = Ok();
    if (auto st = writer_->Exec("SELECT pg_advisory_lock(" + std::string(kMigrationLock) + ")");
        !st) {
      result = st;
    } else {
      result = MigrateLocked();
      if (!writer_->Idle()) (void)writer_->Exec("ROLLBACK");
      if (result) EnsureSearchIndexes();
      (void)writer_->Exec("SELECT pg_advisory_unlock(" + std::string(kMigrationLock) + ")");
    }
    (void)writer_->ApplySessionSettings();
    return result;
  }

  ~PgStore() override {
    // The node's sync row (Sync) goes with it; one left by a killed node is a few bytes.
    if (syncer_ && syncer_->Healthy()) {
      (void)syncer_->Query("DELETE FROM settings WHERE name=$1", Params().Add(sync_row_));
    }
  }

  // Commits are asynchronous (TryBatch): this waits for the WAL flush instead, on a session of
  // its own, while the writer goes on (as the SQLite store's fsync runs beside its writer). An
  // autocommit statement that writes commits synchronously: its commit waits for the WAL to be
  // flushed through its own commit record, which comes after every commit the writer made
  // before this call. (It must write: a transaction that wrote no WAL before its commit record
  // commits asynchronously whatever the setting.) It writes the node's own row of `settings`,
  // so nodes never wait for each other's syncs. The commits are then durable unless the server
  // lost them first, in a crash and restart: the writer's session, seen alive by the same
  // statement after them, shows it did not.
  //
  // A sync that cannot vouch for them fails, and so do the next ones that may answer for
  // commits it covered (`taint_`): a caller's answer is handed to the first sync that starts
  // after its commit returned, but that sync may already have covered the commits of the one
  // before. The same when the writer starts a new session: commits of the old one that no sync
  // has covered yet may be lost.
  Status Sync() override {
    std::lock_guard lock(sync_mu_);
    std::int64_t mark = 0;
    {
      std::lock_guard session(session_mu_);
      if (taint_ > 0) {
        --taint_;
        return Fail(errc::kUnavailable,
                    "postgres: commits of an ended session of the writer cannot be vouched for");
      }
      if (!unsynced_) return Ok();  // nothing committed since the last sync
      unsynced_ = false;
      mark = writer_mark_;
    }
    Status st = FlushAndCheck(mark);
    if (!st) {
      std::lock_guard session(session_mu_);
      taint_ = std::max(taint_, 1);
    }
    return st;
  }

  Status WriteBatch(const std::vector<std::function<Status(Tx&)>>& items,
                    std::vector<Status>& results) override {
    std::lock_guard lock(write_mu_);
    // A group the engine's writer left in flight lands first; its `done` waits for the writer
    // (landed_), which calls WriteGroup or Settle next.
    LandInFlight();
    Group g;
    g.items = &items;
    g.results = &results;
    Probe(g);
    return *Run(g, /*fly=*/false, /*more=*/false);
  }

  // The writer runs ahead: group N+1's units run against its memory (the open incidents N left,
  // numbers taken before) while the server still works on N's flush and COMMIT, sent without
  // waiting. N+1 is sent once N has landed, and only if N committed; if N did not, N runs
  // again and N+1 after it, as if nothing had run ahead. What N+1 used is checked by the server
  // as any remembered row is (its version), so a change by anyone else in between fails it.
  // A group that needs anything else (a key not remembered, a read, a new incident) is run
  // the usual way once N has landed.
  //
  // A run ahead numbers its alerts before taking its keys' locks, which keeps a key's alerts in
  // the order stored, across nodes: it only touches keys whose open incident it remembers, and
  // every alert stored for such a key under its lock changes that incident, whose version the
  // run's write checks (suppressed Alertmanager alerts, stored unlinked, never took the lock).
  // Numbers for a run ahead are taken at the end of the groups before it, but only while groups
  // come one after the other (one arrives while another is in flight), and not after a group
  // that read many of its keys (TryBatch): a number taken and not used is skipped, and a lone
  // group, or a stream of new keys, would skip a block each.
  void WriteGroup(const std::vector<std::function<Status(Tx&)>>& items,
                  std::vector<Status>& results, std::function<void(Status)> done) override {
    std::vector<std::pair<std::function<void(Status)>, Status>> answered;
    {
      std::lock_guard lock(write_mu_);
      Group g;
      g.items = &items;
      g.results = &results;
      g.done = std::move(done);
      const bool more = in_flight_.has_value();
      // Small groups are answered before the writer goes on, as before: what they could overlap
      // is short, and overlapped they only make the next groups smaller, each paying its
      // statements, its commit and its sync.
      const bool fly = items.size() >= kFlyUnits;
      {
        Held held(*writer_, more);  // the probe sends nothing anyway
        Probe(g);
      }
      std::optional<GroupModel> ahead;
      if (in_flight_) {
        const bool ran = RunAhead(g, ahead);
        const bool committed = LandInFlight();
        // landed_xid_ is the version of the rows the run took as to come (0: unknown).
        if (ran && committed && landed_xid_ > 0) {
          ahead->SettlePending(GroupModel::XminOf(landed_xid_));
        } else if (ran) {
          Count(metrics_.runs_ahead_dropped);
          ahead.reset();
        }
      }
      // After the landing: nothing overlaps, but the first round trip is still saved.
      const bool overlapped = ahead.has_value();
      if (!ahead && !g.ran_ahead) RunAhead(g, ahead);
      std::optional<Status> st;
      if (!ahead || !SendAhead(g, *ahead, more)) {
        if (ahead) Count(metrics_.runs_ahead_dropped);
        Count(metrics_.groups_read);
        st = Run(g, fly, more);
      } else {
        Count(overlapped ? metrics_.groups_overlapped : metrics_.groups_from_memory);
      }
      if (st) landed_.emplace_back(std::move(g.done), *st);
      if (!fly) LandInFlight();
      answered.swap(landed_);
    }
    for (auto& [d, st] : answered) d(std::move(st));
  }

  std::size_t OverlapUnits() const override { return kFlyUnits; }

  void Settle(const std::function<bool()>& go_on) override {
    std::vector<std::pair<std::function<void(Status)>, Status>> answered;
    {
      std::lock_guard lock(write_mu_);
      bool early = false;
      if (in_flight_ && go_on) {
        // Asked every 100 µs: about the cost of one event's units, against a large group's few
        // milliseconds at the server (only large groups are left in flight).
        while (!(early = go_on()) && !writer_->Answered(std::chrono::microseconds(100))) {
        }
      }
      if (!early) LandInFlight();
      answered.swap(landed_);
    }
    for (auto& [d, st] : answered) d(std::move(st));
  }

  // A search is the same ILIKE over title and description with the index or without. With it
  // (migration 5) the incidents are read through incident_text, joined on seq: the text is
  // looked for in its body and the status in its copy, so that the planner can read the
  // incidents holding the text's trigrams when they are few, or walk the copy's narrow rows
  // newest (or oldest) first until the page is full, which is cheaper for a common text; the
  // other filters are the incident's own. Each condition is asked of one table only: asked of
  // both, the planner counted the status twice and took a common text with a status filter for
  // a rare one (a sequential scan of the copy, 0.5 s for 1,000,000 incidents). Text with a
  // newline could match across body's separator: it is looked for in incidents.
  Result<std::vector<IncidentRow>> QueryIncidents(const IncidentFilter& f) override {
    const bool indexed =
        !f.text.empty() && f.text.find('\n') == std::string::npos && search_indexed_.load();
    // The incident columns, named through `i.` when joined.
    static const std::string joined_columns = [] {
      std::string out;
      std::string_view rest = kIncidentColumns;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(", ");
        out += (out.empty() ? "i." : ", i.") + std::string(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 2);
      }
      return out;
    }();
    const std::string_view own = indexed ? "i." : "";     // the incident's own columns
    const std::string_view copied = indexed ? "t." : "";  // the ones copied to incident_text
    std::string sql =
        indexed ? "SELECT " + joined_columns +
                      " FROM incident_text t JOIN incidents i ON i.seq = t.seq "
                      "WHERE true"
                : "SELECT " + std::string(kIncidentColumns) + " FROM incidents WHERE true";
    Params p;
    Numbered n;
    if (!f.text.empty()) {
      const std::string like = n.Next();
      sql += indexed ? " AND t.body ILIKE " + like + " ESCAPE E'\\\\'"
                     : " AND (title ILIKE " + like + " ESCAPE E'\\\\' OR description ILIKE " +
                           like + " ESCAPE E'\\\\')";
      p.Add("%" + EscapeLike(f.text) + "%");
    }
    const auto column = [](std::string_view table, std::string_view name) {
      return std::string(table) + std::string(name);
    };
    if (!f.statuses.empty()) {
      sql += " AND " + column(copied, "status") + " = ANY(" + n.Next() + "::text[])";
      p.AddArray(f.statuses);
    }
    if (!f.severities.empty()) {
      sql += " AND " + column(own, "severity") + " = ANY(" + n.Next() + "::text[])";
      p.AddArray(f.severities);
    }
    if (!f.service_ids.empty()) {
      sql += " AND " + column(own, "service_id") + " = ANY(" + n.Next() + "::text[])";
      p.AddArray(f.service_ids);
    }
    if (f.created_from > 0) {
      sql += " AND " + column(own, "created_at") + ">=" + n.Next();
      p.Add(f.created_from);
    }
    if (f.created_to > 0) {
      sql += " AND " + column(own, "created_at") + "<" + n.Next();
      p.Add(f.created_to);
    }
    if (f.before_seq > 0) {
      sql += " AND " + column(copied, "seq") + "<" + n.Next();
      p.Add(f.before_seq);
    }
    if (f.after_seq > 0) {
      sql += " AND " + column(copied, "seq") + ">" + n.Next();
      p.Add(f.after_seq);
    }
    sql += " ORDER BY " + column(copied, "seq") + (f.oldest_first ? " ASC" : " DESC");
    if (f.limit > 0) {
      sql += " LIMIT " + n.Next();
      p.Add(f.limit);
    }
    if (f.text.empty()) return ReadAll<IncidentRow>(sql, p, ReadIncident);
    // Planned for its own text every time: which plan is fast depends on how common the text
    // is, and after five runs of a prepared statement PostgreSQL may settle on one generic
    // plan for every text (the walk, which reads every incident for a rare one).
    return WithConnection(
        /*idempotent=*/true, [&](Connection& c) -> Result<std::vector<IncidentRow>> {
          if (auto st = c.Exec("BEGIN; SET LOCAL plan_cache_mode = force_custom_plan"); !st) {
            return Fail(std::move(st.error()));
          }
          auto r = c.Query(sql, p);
          if (auto st = c.Exec(r ? "COMMIT" : "ROLLBACK"); !st && r) {
            return Fail(std::move(st.error()));
          }
          if (!r) return Fail(std::move(r.error()));
          std::vector<IncidentRow> out;
          out.reserve(static_cast<std::size_t>(r->size()));
          for (int i = 0; i < r->size(); ++i) out.push_back(ReadIncident(*r, i));
          return out;
        });
  }

  Result<std::optional<IncidentRow>> GetIncident(std::string_view id) override {
    const std::int64_t seq = SeqOf(id, "inc-");
    if (seq == 0) return std::optional<IncidentRow>();
    static const std::string sql =
        "SELECT " + std::string(kIncidentColumns) + " FROM incidents WHERE seq=$1";
    return First(ReadAll<IncidentRow>(sql, Params().Add(seq), ReadIncident));
  }

  Status ScanTimeline(std::string_view incident_id, const TimelineCursor& after,
                      std::int64_t max_rows,
                      const std::function<bool(TimelineRow&&)>& fn) override {
    const std::string id(incident_id);
    Params p;
    p.Add(SeqOf(incident_id, "inc-")).Add(after.at).Add(after.n);
    // Entries kept in their alert's row (migration 8) carry the alert's seq.
    std::string sql =
        "SELECT n, at, kind, body, actor, metadata, 0 FROM timeline WHERE incident_seq=$1 "
        "AND (at, n) > ($2, $3) UNION ALL SELECT tl_n, received_at, tl_kind, tl_body, tl_actor, "
        "tl_metadata, seq FROM alerts WHERE incident_seq=$1 AND tl_n > 0 AND (received_at, "
        "tl_n) > ($2, $3) ORDER BY 2, 1";
    if (max_rows > 0) {
      sql += " LIMIT $4";
      p.Add(max_rows);
    }
    // Not retried on a lost connection: `fn` has seen some rows already.
    return WithConnection(/*idempotent=*/false, [&](Connection& c) -> Status {
      // Single-row mode: rows arrive one at a time; after `fn` says stop the rest is drained.
      bool more = true;
      return c.QueryEach(sql, p, [&](const Rows& s) {
        if (!more) return;
        TimelineRow t;
        t.incident_id = id;
        t.n = s.Int(0, 0);
        t.id = id + "-t" + std::to_string(t.n);
        t.at = s.Int(0, 1);
        t.kind = s.Text(0, 2);
        t.body = s.Text(0, 3);
        t.actor = s.Object(0, 4);
        t.metadata = s.Object(0, 5);
        if (const std::int64_t alert = s.Int(0, 6); alert > 0)
          t.metadata["alertId"] = AlertId(alert);
        more = fn(std::move(t));
      });
    });
  }

  Result<std::vector<TimelineRow>> TimelineOfKind(std::string_view incident_id,
                                                  std::string_view kind,
                                                  std::int64_t limit) override {
    const std::string id(incident_id);
    return ReadAll<TimelineRow>(
        "SELECT n, at, kind, body, actor, metadata FROM timeline WHERE incident_seq=$1 AND "
        "kind=$2 ORDER BY at DESC, n DESC LIMIT $3",
        Params().Add(SeqOf(incident_id, "inc-")).Add(kind).Add(limit > 0 ? limit : INT64_MAX),
        [&id](const Rows& s, int r) {
          TimelineRow t;
          t.incident_id = id;
          t.n = s.Int(r, 0);
          t.id = id + "-t" + std::to_string(t.n);
          t.at = s.Int(r, 1);
          t.kind = s.Text(r, 2);
          t.body = s.Text(r, 3);
          t.actor = s.Object(r, 4);
          t.metadata = s.Object(r, 5);
          return t;
        });
  }

  Result<std::vector<AlertRow>> QueryAlerts(const AlertFilter& f) override {
    std::string sql = "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE true";
    Params p;
    Numbered n;
    if (!f.text.empty()) {
      sql += " AND summary ILIKE " + n.Next() + " ESCAPE E'\\\\'";
      p.Add("%" + EscapeLike(f.text) + "%");
    }
    if (!f.service_ids.empty()) {
      sql += " AND service_id = ANY(" + n.Next() + "::text[])";
      p.AddArray(f.service_ids);
    }
    if (!f.severities.empty()) {
      sql += " AND severity = ANY(" + n.Next() + "::text[])";
      p.AddArray(f.severities);
    }
    if (!f.incident_id.empty()) {
      sql += " AND incident_seq=" + n.Next();
      p.Add(SeqOf(f.incident_id, "inc-"));
    }
    if (!f.actions.empty()) {
      sql += " AND action = ANY(" + n.Next() + "::text[])";
      p.AddArray(f.actions);
    }
    if (f.before_seq > 0) {
      sql += " AND seq<" + n.Next();
      p.Add(f.before_seq);
    }
    sql += " ORDER BY seq DESC";
    if (f.limit > 0) {
      sql += " LIMIT " + n.Next();
      p.Add(f.limit);
    }
    return ReadAll<AlertRow>(sql, p, ReadAlert);
  }

  Result<std::optional<AlertRow>> GetAlert(std::string_view id) override {
    const std::int64_t seq = SeqOf(id, "al-");
    if (seq == 0) return std::optional<AlertRow>();
    static const std::string sql =
        "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE seq=$1";
    return First(ReadAll<AlertRow>(sql, Params().Add(seq), ReadAlert));
  }

  Result<std::vector<SlaRow>> SlaRowsUpdatedSince(std::int64_t updated_after) override {
    if (updated_after == 0) {  // all rows: a sequential scan
      return StreamSlaRows(
          "SELECT service_id, urgency, created_at, acknowledged_at, resolved_at, seq, sla_at "
          "FROM incidents",
          Params());
    }
    return StreamSlaRows(
        "SELECT service_id, urgency, created_at, acknowledged_at, resolved_at, seq, sla_at "
        "FROM incidents WHERE sla_at>$1",  // by its index (migration 7)
        Params().Add(updated_after));
  }

  // ---- paging ----

  bool SupportsPaging() const override { return true; }

  Status PutDoc(const CatalogDoc& d) override {
    return WriteOne(
        "INSERT INTO catalog (kind, id, parent, body, updated_at) VALUES ($1,$2,$3,$4,$5) "
        "ON CONFLICT (kind, id) DO UPDATE SET parent=excluded.parent, body=excluded.body, "
        "updated_at=excluded.updated_at",
        Params().Add(d.kind).Add(d.id).Add(d.parent).AddJson(d.body).Add(d.updated_at));
  }

  Status DeleteDoc(std::string_view kind, std::string_view id) override {
    // One statement (one transaction): the document, a schedule's overrides, and the counter
    // that moves the catalog's version forward for the other nodes.
    return WriteOne(
        "WITH gone AS (DELETE FROM catalog WHERE (kind=$1 AND id=$2) OR ($1='schedule' AND "
        "kind='override' AND parent=$2) RETURNING 1) INSERT INTO settings (name, value) VALUES "
        "('catalog.deleted', '1') ON CONFLICT (name) DO UPDATE SET "
        "value=(settings.value::bigint + 1)::text",
        Params().Add(kind).Add(id));
  }

  Result<std::vector<LiveRow>> Live(std::string_view kind, std::string_view parent, bool any_parent,
                                    std::int64_t limit) override {
    auto rows = ReadAll<LiveRow>(
        "SELECT " + std::string(kLiveColumns) +
            " WHERE kind=$1 AND ($2 OR parent=$3) ORDER BY parent COLLATE \"C\", id COLLATE "
            "\"C\" LIMIT $4",
        Params()
            .Add(kind)
            .Add(any_parent ? "true" : "false")
            .Add(parent)
            .Add(limit > 0 ? limit : std::int64_t{INT64_MAX}),
        ReadLive);
    if (!rows || rows->empty()) return rows;
    // Read through the refreshes not folded yet: the latest of each row.
    auto refreshes = ReadAll<LiveRow>(
        "SELECT DISTINCT ON (parent, id) kind, parent, id, '{}', 0::bigint, updated_at, '', "
        "0::bigint, ends_at FROM live_refresh WHERE kind=$1 ORDER BY parent, id, seq DESC",
        Params().Add(kind), ReadLive);
    if (!refreshes) return Fail(std::move(refreshes.error()));
    ApplyRefreshes(*rows, *refreshes);
    return rows;
  }

  Result<std::vector<CatalogDoc>> Docs(std::string_view kind) override {
    return ReadAll<CatalogDoc>(
        "SELECT kind, id, parent, body, updated_at FROM catalog WHERE kind=$1 ORDER BY id "
        "COLLATE \"C\"",
        Params().Add(kind), [](const Rows& s, int r) {
          return CatalogDoc{s.Text(r, 0), s.Text(r, 1), s.Text(r, 2), s.Object(r, 3), s.Int(r, 4)};
        });
  }

  Result<std::int64_t> CatalogVersion() override {
    auto v = ReadAll<std::int64_t>(
        "SELECT coalesce((SELECT max(updated_at) FROM catalog), 0) + coalesce((SELECT "
        "value::bigint FROM settings WHERE name='catalog.deleted'), 0)",
        Params(), [](const Rows& s, int r) { return s.Int(r, 0); });
    if (!v) return Fail(std::move(v.error()));
    return v->empty() ? 0 : v->front();
  }

  Result<std::optional<EscalationRow>> Escalation(std::int64_t incident_seq) override {
    static const std::string sql =
        "SELECT " + std::string(kEscalationColumns) + " FROM escalations WHERE incident_seq=$1";
    return First(ReadAll<EscalationRow>(sql, Params().Add(incident_seq), ReadEscalation));
  }

  Result<std::vector<NotificationRow>> Notifications(std::int64_t incident_seq) override {
    static const std::string sql = "SELECT " + std::string(kNotificationColumns) +
                                   " FROM notifications WHERE incident_seq=$1 ORDER BY seq";
    return ReadAll<NotificationRow>(sql, Params().Add(incident_seq), ReadNotification);
  }

  Result<std::optional<NotificationRow>> Notification(std::int64_t seq) override {
    static const std::string sql =
        "SELECT " + std::string(kNotificationColumns) + " FROM notifications WHERE seq=$1";
    return First(ReadAll<NotificationRow>(sql, Params().Add(seq), ReadNotification));
  }

  Result<std::int64_t> NextPagingWork() override {
    auto v = ReadAll<std::int64_t>(
        "SELECT least(coalesce((SELECT min(run_at) FROM jobs), 9223372036854775807), "
        "coalesce((SELECT min(due_at) FROM notifications WHERE status='pending'), "
        "9223372036854775807), coalesce((SELECT min(lease_until) FROM notifications WHERE "
        "status='sending'), 9223372036854775807), coalesce((SELECT min(due_at) FROM live WHERE "
        "due_at>0), 9223372036854775807), coalesce((SELECT updated_at+1000000000 FROM "
        "live_refresh ORDER BY seq LIMIT 1), 9223372036854775807))",
        Params(), [](const Rows& s, int r) { return s.Int(r, 0); });
    if (!v) return Fail(std::move(v.error()));
    return v->empty() ? INT64_MAX : v->front();
  }

  Result<std::string> SharedSetting(std::string_view name, std::string_view candidate) override {
    if (auto st = WriteOne("INSERT INTO settings (name, value) VALUES ($1,$2) ON CONFLICT (name) "
                           "DO NOTHING",
                           Params().Add(name).Add(candidate));
        !st) {
      return Fail(std::move(st.error()));
    }
    auto v = ReadAll<std::string>("SELECT value FROM settings WHERE name=$1", Params().Add(name),
                                  [](const Rows& s, int r) { return s.Text(r, 0); });
    if (!v) return Fail(std::move(v.error()));
    if (v->empty()) return Fail(errc::kInternal, "setting " + std::string(name) + " vanished");
    return v->front();
  }

  Status UpsertService(const ServiceRow& r) override {
    return WriteOne(
        "INSERT INTO services (id, name, description, team_id, ack_target_s, resolve_target_s, "
        "tags, created_at, escalation_policy, ack_timeout_s, auto_resolve_s, mute_intervals, "
        "runbooks) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (id) DO "
        "UPDATE SET "
        "name=excluded.name, "
        "description=excluded.description, team_id=excluded.team_id, "
        "ack_target_s=excluded.ack_target_s, resolve_target_s=excluded.resolve_target_s, "
        "tags=excluded.tags, escalation_policy=excluded.escalation_policy, "
        "ack_timeout_s=excluded.ack_timeout_s, auto_resolve_s=excluded.auto_resolve_s, "
        "mute_intervals=excluded.mute_intervals, runbooks=excluded.runbooks",
        Params()
            .Add(r.id)
            .Add(r.name)
            .Add(r.description)
            .Add(r.team_id)
            .Add(r.ack_target_s)
            .Add(r.resolve_target_s)
            .AddJson(r.tags)
            .Add(r.created_at)
            .Add(r.escalation_policy)
            .Add(r.ack_timeout_s)
            .Add(r.auto_resolve_s)
            .AddJson(StringsToJson(r.mute_intervals))
            .AddJson(StringsToJson(r.runbooks)));
  }

  Status DeleteService(std::string_view id) override {
    return WriteOne("DELETE FROM services WHERE id=$1", Params().Add(id));
  }

  // Text keys sort bytewise (COLLATE "C"), as SQLite's BINARY collation does.
  Result<std::vector<ServiceRow>> Services() override {
    return ReadAll<ServiceRow>(
        "SELECT id, name, description, team_id, ack_target_s, resolve_target_s, tags, "
        "created_at, escalation_policy, ack_timeout_s, auto_resolve_s, mute_intervals, runbooks "
        "FROM services ORDER BY id COLLATE \"C\"",
        Params(), [](const Rows& s, int r) {
          return ServiceRow{s.Text(r, 0),
                            s.Text(r, 1),
                            s.Text(r, 2),
                            s.Text(r, 3),
                            s.Int(r, 4),
                            s.Int(r, 5),
                            s.Object(r, 6),
                            s.Int(r, 7),
                            s.Text(r, 8),
                            s.Int(r, 9),
                            s.Int(r, 10),
                            JsonToStrings(s.Array(r, 11)),
                            JsonToStrings(s.Array(r, 12))};
        });
  }

  Status UpsertTeam(const TeamRow& t) override {
    return WriteOne(
        "INSERT INTO teams (id, name, description, parent) VALUES ($1,$2,$3,$4) "
        "ON CONFLICT (id) DO UPDATE SET name=excluded.name, description=excluded.description, "
        "parent=excluded.parent",
        Params().Add(t.id).Add(t.name).Add(t.description).Add(t.parent));
  }

  Status DeleteTeam(std::string_view id) override {
    return WriteOne("DELETE FROM teams WHERE id=$1", Params().Add(id));
  }

  Result<std::vector<TeamRow>> Teams() override {
    return ReadAll<TeamRow>(
        "SELECT id, name, description, parent FROM teams ORDER BY id COLLATE \"C\"", Params(),
        [](const Rows& s, int r) {
          return TeamRow{s.Text(r, 0), s.Text(r, 1), s.Text(r, 2), s.Text(r, 3)};
        });
  }

  Status UpsertMember(const MemberRow& m) override {
    return WriteOne(
        "INSERT INTO members (team_id, id, name, email, handle, role) VALUES ($1,$2,$3,$4,$5,$6) "
        "ON CONFLICT (team_id, id) DO UPDATE SET name=excluded.name, email=excluded.email, "
        "handle=excluded.handle, role=excluded.role",
        Params().Add(m.team_id).Add(m.id).Add(m.name).Add(m.email).Add(m.handle).Add(m.role));
  }

  Status DeleteMember(std::string_view team_id, std::string_view member_id) override {
    return WriteOne("DELETE FROM members WHERE team_id=$1 AND id=$2",
                    Params().Add(team_id).Add(member_id));
  }

  Result<std::vector<MemberRow>> Members(std::string_view team_id) override {
    return ReadAll<MemberRow>(
        "SELECT team_id, id, name, email, handle, role FROM members WHERE team_id=$1 "
        "ORDER BY id COLLATE \"C\"",
        Params().Add(team_id), [](const Rows& s, int r) {
          return MemberRow{s.Text(r, 0), s.Text(r, 1), s.Text(r, 2),
                           s.Text(r, 3), s.Text(r, 4), s.Text(r, 5)};
        });
  }

  Status InsertIntegration(const IntegrationRow& i) override {
    return WriteOne(
        "INSERT INTO integrations (id, service_id, name, kind, key_hash, key_prefix, created_at, "
        "revoked_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        Params()
            .Add(i.id)
            .Add(i.service_id)
            .Add(i.name)
            .Add(i.kind)
            .Add(i.key_hash)
            .Add(i.key_prefix)
            .Add(i.created_at)
            .Add(i.revoked_at));
  }

  Status RevokeIntegration(std::string_view id, std::int64_t at) override {
    return WriteOne("UPDATE integrations SET revoked_at=$1 WHERE id=$2 AND revoked_at=0",
                    Params().Add(at).Add(id));
  }

  Result<std::vector<IntegrationRow>> Integrations(std::string_view service_id) override {
    return ReadAll<IntegrationRow>(
        "SELECT id, service_id, name, kind, key_hash, key_prefix, created_at, revoked_at "
        "FROM integrations WHERE service_id=$1 ORDER BY id COLLATE \"C\"",
        Params().Add(service_id), ReadIntegration);
  }

  Result<std::optional<IntegrationRow>> IntegrationByKeyHash(std::string_view hash) override {
    return First(ReadAll<IntegrationRow>(
        "SELECT id, service_id, name, kind, key_hash, key_prefix, created_at, revoked_at "
        "FROM integrations WHERE key_hash=$1",
        Params().Add(hash), ReadIntegration));
  }

  Result<std::int64_t> DeleteExpired(std::int64_t incidents_before,
                                     std::int64_t alerts_before) override {
    // Batches of 1000, each its own statement (and transaction), keep locks short. Rows are
    // locked as they are chosen: an incident another node is reopening right now is skipped,
    // one it reopened meanwhile no longer qualifies (the condition is rechecked on the row).
    const std::string incidents_sql =
        "WITH doomed AS (SELECT seq FROM incidents WHERE status='resolved' AND resolved_at>0 "
        "AND resolved_at<$1 ORDER BY resolved_at LIMIT " +
        std::to_string(kRetentionBatch) +
        " FOR UPDATE SKIP LOCKED), "
        "t AS (DELETE FROM timeline WHERE incident_seq IN (SELECT seq FROM doomed)), "
        "a AS (DELETE FROM alerts WHERE incident_seq IN (SELECT seq FROM doomed)), "
        "e AS (DELETE FROM escalations WHERE incident_seq IN (SELECT seq FROM doomed)), "
        "n AS (DELETE FROM notifications WHERE incident_seq IN (SELECT seq FROM doomed)), "
        "j AS (DELETE FROM jobs WHERE incident_seq IN (SELECT seq FROM doomed)) "
        "DELETE FROM incidents WHERE seq IN (SELECT seq FROM doomed)";
    const std::string alerts_sql =
        // Held resolves included: received before the cutoff, their hold is long over.
        // `incident_seq=0`: the partial index of migration 7.
        "DELETE FROM alerts WHERE seq IN (SELECT seq FROM alerts WHERE incident_seq=0 AND "
        "received_at<$1 LIMIT " +
        std::to_string(kRetentionBatch) + " FOR UPDATE SKIP LOCKED)";
    return WithConnection(/*idempotent=*/false, [&](Connection& c) -> Result<std::int64_t> {
      std::int64_t deleted = 0;
      while (true) {
        auto r = c.Query(incidents_sql, Params().Add(incidents_before));
        if (!r) return Fail(std::move(r.error()));
        deleted += r->Affected();
        if (r->Affected() < kRetentionBatch) break;
      }
      while (true) {
        auto r = c.Query(alerts_sql, Params().Add(alerts_before));
        if (!r) return Fail(std::move(r.error()));
        if (r->Affected() < kRetentionBatch) break;
      }
      return deleted;
    });
  }

 private:
  static void Count(metrics::Counter* c) {
    if (c != nullptr) c->Inc();
  }
  // Connection::Hold for a scope.
  struct Held {
    Held(Connection& c, bool on) : c_(c), on_(on) {
      if (on_) c_.Hold(true);
    }
    ~Held() {
      if (on_) c_.Hold(false);
    }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    Connection& c_;
    const bool on_;
  };
  // All but kCommitted and kFailed: rolled back (or the connection is gone, which rolls back),
  // so running the batch again is safe. kContended needs no pause (the retry waits for its
  // keys); kUnitFailed (only without savepoints) is no retry, the next run uses savepoints.
  // kStale: a row answered from open_cache_ had changed; run again without the cache.
  // kInFlight: sent up to its COMMIT and left for Land (TryBatch's `fly`).
  enum class Outcome { kCommitted, kRetry, kContended, kUnitFailed, kStale, kFailed, kInFlight };
  // The SQLSTATE of opsorch_check (migration 9).
  static constexpr std::string_view kCheckFailed = "OPS01";
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  // The smallest group WriteGroup leaves in flight.
  static constexpr std::size_t kFlyUnits = 128;

  // A group of units, from WriteBatch or WriteGroup: what they point into is the caller's until
  // it is answered (`done`; WriteBatch's own has none).
  struct Group {
    const std::vector<std::function<Status(Tx&)>>* items = nullptr;
    std::vector<Status>* results = nullptr;
    std::function<void(Status)> done;
    KeySet seen;                         // the keys its runs met
    std::vector<std::string> unit_keys;  // each unit's first key (the probe's)
    Params keys;                         // RunAhead's: the lock statement's arrays
    std::size_t pool_copied = 0;         // RunAhead's: the numbers it was given
    bool ran_ahead = false;              // RunAhead ran its units
    bool savepoints = false;
    int retries = 0;
    Status failure = Ok();
  };
  // A group whose statements, COMMIT included, were sent without waiting for their answers.
  struct InFlight {
    Group group;
    bool has_model = false;  // its incidents went to the writer's memory (kPendingXmin)
    bool used_cache = false;
    std::int64_t xid = 0;  // its transaction's id, when known at sending (else: at xid_at)
    // Indexes among its deferred statements (kNone: none).
    std::size_t xid_at = kNone, pool_at = kNone, commit_at = 0;
    Status send_error = Ok();  // a statement that could not be sent (Land takes it as failed)
  };

  static const std::string& KeyLockSql() {
    // OFFSET 0 keeps the sorted subquery whole, so the locks are taken in its order.
    static const std::string sql = "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT " +
                                   KeyLockId("s", "d") +
                                   " AS k FROM unnest($1::text[], $2::text[]) AS u(s, d) "
                                   "ORDER BY k OFFSET 0) AS sorted";
    return sql;
  }
  static const std::string& AlertBlockSql() {
    static const std::string sql = GroupModel::BlockSql("alerts");
    return sql;
  }
  // The size of the block of alert numbers a group takes at its end for the ones after it (0:
  // none): the pool is kept at twice the largest recent group (a run ahead that runs out of
  // numbers is run the usual way).
  static std::int64_t KeyedUnits(const std::vector<std::string>& unit_keys) {
    std::int64_t keyed = 0;
    for (const std::string& k : unit_keys) keyed += k.empty() ? 0 : 1;
    return keyed;
  }
  // `keyed`: the group's units with a key (KeyedUnits).
  std::int64_t PoolWant(std::int64_t keyed) {
    pool_group_ = std::max(keyed, pool_group_ - pool_group_ / 8);
    const auto have = static_cast<std::int64_t>(alert_pool_.size());
    return std::min<std::int64_t>(std::max<std::int64_t>(0, 2 * pool_group_ - have), 10000);
  }

  // The units' keys, without a statement (PgTx::Probe), so that the first attempt locks and
  // loads them all at once.
  void Probe(Group& g) {
    g.unit_keys.assign(g.items->size(), std::string());
    PgTx probe = PgTx::Probe(*writer_, g.seen, g.unit_keys);
    for (std::size_t i = 0; i < g.items->size(); ++i) {
      probe.SetUnit(i);
      (void)(*g.items)[i](probe);
    }
  }

  // Runs a group until it commits or fails: first without savepoints (each costs two round
  // trips per unit); if a unit fails, the batch is rolled back and run again with one savepoint
  // per unit. nullopt: left in flight (`fly`), for LandInFlight.
  std::optional<Status> Run(Group& g, bool fly, bool more) {
    while (true) {
      g.results->assign(g.items->size(), Ok());
      const Outcome o = TryBatch(g, fly, more);
      if (o == Outcome::kInFlight) return std::nullopt;
      if (o == Outcome::kCommitted) return Ok();
      if (!Again(g, o)) return Failed(g);
    }
  }
  // The group's end when it will not run again: every unit fails with why.
  static Status Failed(Group& g) {
    for (auto& r : *g.results) r = g.failure;
    return g.failure;
  }

  // After an attempt that did not commit: whether to run the group again.
  bool Again(Group& g, Outcome o) {
    // What the cache holds is only known true after a commit; a stale entry means another
    // writer shares these keys, so the next groups read theirs (kCacheCooldown groups).
    open_cache_.Clear();
    alert_pool_.clear();
    if (o == Outcome::kStale) cache_cooldown_ = kCacheCooldown;
    if (o == Outcome::kFailed) return false;
    if (o == Outcome::kUnitFailed) {
      g.savepoints = true;
      return true;
    }
    if (g.retries == kMaxRetries) return false;
    ++g.retries;
    return o != Outcome::kRetry || Backoff(g.retries);
  }

  // Lands the group in flight, if any: its outcome, and if it did not commit, its runs again
  // (to the end, nothing left in flight). Its answer waits in landed_. True if it committed as
  // sent (landed_xid_: its transaction's id).
  bool LandInFlight() {
    if (!in_flight_) return false;
    InFlight f = std::move(*in_flight_);
    in_flight_.reset();
    Group& g = f.group;
    const Outcome o = Land(f, g.failure);
    Status st = Ok();
    if (o != Outcome::kCommitted) {
      st = Again(g, o) ? *Run(g, /*fly=*/false, /*more=*/false) : Failed(g);
    }
    landed_.emplace_back(std::move(g.done), std::move(st));
    return o == Outcome::kCommitted;
  }

  // Runs the group's units against the writer's memory alone, sending nothing (Hold): every
  // key remembered, alert numbers from the pool. False (and `model` empty) if it needed
  // anything else, or a unit failed: the group then runs the usual way.
  // Its units run at most once (g.ran_ahead): what failed them before the landing (a read, a
  // new incident, a unit's own error) fails them after it too.
  bool RunAhead(Group& g, std::optional<GroupModel>& model) {
    Connection& c = *writer_;
    if (g.seen.empty() || cache_cooldown_ > 0 || alert_pool_.empty() || !c.Healthy() ||
        c.Session() != writer_session_ || !open_cache_.Holds(g.seen)) {
      return false;
    }
    g.ran_ahead = true;
    model.emplace(c, g.unit_keys, &open_cache_);
    model->RunAhead(alert_pool_);
    g.pool_copied = alert_pool_.size();
    g.keys = model->Cover(g.seen);
    g.results->assign(g.items->size(), Ok());
    bool ok = true;
    {
      Held held(c, true);
      PgTx tx(c, g.seen, /*holds_locks=*/true, &*model);
      for (std::size_t i = 0; i < g.items->size() && ok; ++i) {
        tx.SetUnit(i);
        (*g.results)[i] = (*g.items)[i](tx);
        ok = (*g.results)[i] && !tx.contended() && !c.refused();
      }
    }
    // Its statement is made now, while the group before may still be in flight.
    if (ok) ok = static_cast<bool>(model->Prepare());
    if (!ok) model.reset();
    return ok;
  }

  // Sends a group RunAhead ran, and leaves it in flight: its transaction (BEGIN, its keys'
  // locks, its id, the model's writes checked by the server, COMMIT) in one go. False if it
  // could not be sent before its COMMIT (nothing of it happened): it then runs the usual way.
  bool SendAhead(Group& g, GroupModel& model, bool more) {
    Connection& c = *writer_;
    // A session the server ended while idle (a restart, idle_session_timeout) is noticed here,
    // without a round trip, before anything is sent: sent into it, the COMMIT's outcome would
    // be unknown. A new session is a new writer session: the usual run notes it.
    if (c.deferred() != 0 || !c.EnsureConnected() || c.Session() != writer_session_) {
      return false;
    }
    c.ClearRetryable();
    static const Params none;
    static const std::string xid_sql(GroupModel::kXidSql);
    // The numbers it used are the pool's smallest, and a block that came since is larger.
    const std::size_t used = g.pool_copied - model.TakeAlertPool().size();
    alert_pool_.resize(alert_pool_.size() - std::min(used, alert_pool_.size()));
    InFlight f;
    // One packet: the COMMIT's flush sends them all.
    Status st = c.Defer("BEGIN", none, /*flush=*/false);
    if (st) st = c.Defer(KeyLockSql(), g.keys, /*flush=*/false);
    f.xid_at = c.deferred();
    if (st) st = c.Defer(xid_sql, none, /*flush=*/false);
    if (st) st = model.SendPrepared();
    if (const std::int64_t want = more ? PoolWant(KeyedUnits(g.unit_keys)) : 0; st && want > 0) {
      f.pool_at = c.deferred();
      st = c.Defer(AlertBlockSql(), Params().Add(want), /*flush=*/false);
    }
    if (!st) {
      RollBack(c);
      return false;
    }
    f.commit_at = c.deferred();
    f.send_error = c.Defer("COMMIT", none);
    f.has_model = true;
    f.used_cache = true;
    model.Remember(open_cache_, OpenIncidentCache::kPendingXmin);
    f.group = std::move(g);
    in_flight_ = std::move(f);
    return true;
  }

  // One attempt at a batch. Keys seen by earlier attempts are locked first, all at once and in
  // one global order: a transaction that waits while holding keys always waits in that order,
  // so batches cannot deadlock on keys.
  // `fly`: with the group's incidents in memory, it may be left in flight (kInFlight) once its
  // COMMIT is sent; `more`: another group is waiting (a block of numbers is taken for it).
  Outcome TryBatch(Group& g, bool fly, bool more) {
    const auto& items = *g.items;
    auto& results = *g.results;
    KeySet& seen = g.seen;
    const bool savepoints = g.savepoints;
    const auto& unit_keys = g.unit_keys;
    Status& failure = g.failure;
    Connection& c = *writer_;
    // Numbers taken from here on may be smaller than those of a block taken earlier (a group's
    // statements take them as they go), so no group may use those any more.
    alert_pool_.clear();
    // Lost before COMMIT was sent: the server rolled back, so another attempt is safe.
    auto lost_or = [&](Status st) {
      failure = std::move(st);
      if (!c.Healthy()) return Outcome::kRetry;
      const bool retry = c.saw_retryable();
      RollBack(c);
      return retry ? Outcome::kRetry : Outcome::kFailed;
    };
    if (auto st = c.EnsureConnected(); !st) {
      failure = st;
      return Outcome::kRetry;
    }
    if (auto st = NoteWriterSession(c); !st) return lost_or(st);
    c.ClearRetryable();
    // The writer's session (its session_settings) commits without waiting for the WAL flush:
    // Sync() waits, on another session, while this one goes on with the next group. And it
    // plans generically: the group's statements take arrays whose custom plans cost more to
    // make than to run.
    static const std::string begin = "BEGIN";
    const std::string& lock = KeyLockSql();
    const std::string& alert_block = AlertBlockSql();
    // Without savepoints the group's incidents are kept in memory and written at the end
    // (pg_group.h), and the transaction's first statements (BEGIN, the keys' locks, the open
    // incidents, a block of alert numbers) go in one round trip; with savepoints (a unit
    // failed) every call is its statement, so that a failing unit's writes roll back alone.
    std::optional<GroupModel> model;
    std::int64_t xid = 0;
    if (!savepoints && !seen.empty()) {
      model.emplace(c, unit_keys, cache_cooldown_ == 0 ? &open_cache_ : nullptr);
      if (cache_cooldown_ > 0) --cache_cooldown_;
      // The read takes the keys the cache does not know; the transaction's id is the version
      // of the rows it writes (for the cache). The alert numbers are taken here, after the
      // keys' locks, by every group: a key's alerts are numbered in the order they are stored,
      // across nodes too.
      static const std::string xid_sql(GroupModel::kXidSql);
      static const std::string incident_block = GroupModel::BlockSql("incidents");
      const Params none, keys = model->Cover(seen), block = model->AlertBlockParams();
      const std::optional<Params> incidents = model->IncidentBlockParams(opened_per_read_, opened_);
      const std::optional<Params> load = model->LoadParams();
      std::vector<Connection::Statement> statements = {{begin, &none}, {lock, &keys}};
      const std::size_t load_at = statements.size();
      if (load) statements.push_back({GroupModel::LoadSql(), &*load});
      const std::size_t block_at = statements.size();
      statements.push_back({alert_block, &block});
      const std::size_t incidents_at = statements.size();
      if (incidents) statements.push_back({incident_block, &*incidents});
      statements.push_back({xid_sql, &none});
      auto first = c.Pipeline(statements);
      if (!first) return lost_or(Fail(std::move(first.error())));
      if (load) model->TakeLoaded((*first)[load_at]);
      model->TakeAlertBlock((*first)[block_at]);
      if (incidents) model->TakeIncidentBlock((*first)[incidents_at]);
      xid = first->back().Int(0, 0);
    } else {
      if (auto st = c.Exec(begin); !st) return lost_or(st);
      if (!seen.empty()) {
        std::vector<std::string> services, keys;
        for (const auto& [service, key] : seen) {
          services.push_back(service);
          keys.push_back(key);
        }
        auto r = c.Query(lock, Params().AddArray(services).AddArray(keys));
        if (!r) return lost_or(Fail(std::move(r.error())));
      }
    }
    PgTx tx(c, seen, /*holds_locks=*/!seen.empty(), model ? &*model : nullptr);
    for (std::size_t i = 0; i < items.size(); ++i) {
      tx.SetUnit(i);
      if (tx.contended()) {
        // The attempt will be rolled back: the remaining units only run to name their keys
        // (they stop at their first key, without a round trip).
        (void)items[i](tx);
        continue;
      }
      if (savepoints) {
        if (auto st = c.Exec("SAVEPOINT item"); !st) return lost_or(st);
      }
      const int ops = tx.ops();
      results[i] = items[i](tx);
      if (!c.Healthy() || c.saw_retryable()) {
        return lost_or(results[i] ? Status(Fail(errc::kInternal, "postgres: batch aborted"))
                                  : results[i]);
      }
      if (!savepoints) {
        if (!results[i] && !tx.contended()) {
          failure = results[i];
          // The unit may have failed on a flush of the model's (its error comes with the next
          // statement): a changed row the cache answered for means the cache was stale.
          const bool stale = Stale(c, model);
          RollBack(c);
          if (!c.Healthy()) return Outcome::kRetry;
          return stale ? Outcome::kStale : Outcome::kUnitFailed;
        }
        continue;
      }
      if (!results[i]) tx.set_ops(ops);  // the rollback releases the unit's locks
      auto st = c.Exec(results[i] ? "RELEASE SAVEPOINT item"
                                  : "ROLLBACK TO SAVEPOINT item; RELEASE SAVEPOINT item");
      if (!st) return lost_or(st);
    }
    if (tx.contended()) {
      failure = PgTx::Contended();
      RollBack(c);
      return c.Healthy() ? Outcome::kContended : Outcome::kRetry;
    }
    if (model) {
      if (auto st = model->Flush(); !st) {
        // Which unit's write it was is unknown: the run with savepoints finds out.
        if (!c.Healthy() || c.saw_retryable()) return lost_or(st);
        failure = st;
        RollBack(c);
        return c.Healthy() ? Outcome::kUnitFailed : Outcome::kRetry;
      }
    }
    // The COMMIT goes with the model's deferred writes, answered in one round trip (Land).
    // The group's incidents go to the writer's memory now, their version to come with the
    // answer (kPendingXmin): a group may run ahead on them (WriteGroup) meanwhile.
    static const Params none;
    // The statements' answers are read by position: none may be drained on the way (Defer
    // drains a long queue first), so a long queue of early flushes is read here.
    if (c.deferred() + 2 >= Connection::kMaxDeferred) {
      if (auto st = c.Drain(); !st) {
        if (!c.Healthy() || c.saw_retryable()) return lost_or(st);
        failure = st;
        const bool stale = Stale(c, model);
        RollBack(c);
        if (!c.Healthy()) return Outcome::kRetry;
        return stale ? Outcome::kStale : Outcome::kUnitFailed;
      }
    }
    std::size_t pool_at = kNone;
    Status commit = Ok();
    // Not after a group that read many of its keys: a group runs ahead only when the writer
    // remembers all its keys, and one that had to read many is likely followed by more such (a
    // stream of new keys took a pool per group, 0.9 µs of the server's time per event, to throw
    // it away). A few new keys among known ones (up to an eighth) still take it.
    const std::int64_t keyed = KeyedUnits(g.unit_keys);
    const bool pool = more && model && model->read_keys() * 8 <= static_cast<std::size_t>(keyed);
    if (const std::int64_t want = pool ? PoolWant(keyed) : 0; want > 0) {
      pool_at = c.deferred();
      commit = c.Defer(AlertBlockSql(), Params().Add(want), /*flush=*/false);
      if (!commit) return lost_or(commit);
    }
    const std::size_t commit_at = c.deferred();
    commit = c.Defer("COMMIT", none);
    InFlight f;
    f.has_model = model.has_value();
    f.used_cache = model && model->used_cache();
    f.xid = xid;
    f.pool_at = pool_at;
    f.commit_at = commit_at;
    f.send_error = std::move(commit);
    if (model && model->read_keys() > 0) {
      opened_ = model->incidents_opened();
      opened_per_read_ = static_cast<double>(opened_) / static_cast<double>(model->read_keys());
    }
    if (model) model->Remember(open_cache_, OpenIncidentCache::kPendingXmin);
    if (fly && model) {
      f.group = std::move(g);
      in_flight_ = std::move(f);
      return Outcome::kInFlight;
    }
    return Land(f, failure);
  }

  // Reads the answers of a group's statements up to its COMMIT (or takes the error that kept
  // it from being sent). If one of them failed, the server skipped the COMMIT (the transaction
  // stays aborted until the ROLLBACK here), and the run with savepoints finds out which unit it
  // was, as for a failed flush. A COMMIT the server answers with ROLLBACK (the transaction had
  // failed, and nobody said so) committed nothing: never taken for a commit.
  Outcome Land(InFlight& f, Status& failure) {
    Connection& c = *writer_;
    std::size_t failed_at = 0;
    std::vector<Rows> answers;
    Status commit = std::move(f.send_error);
    if (commit) commit = c.Drain(&failed_at, &answers);
    if (commit && (answers.empty() || answers.back().Command() != "COMMIT")) {
      failure = Fail(errc::kInternal, "postgres: the group's transaction had failed");
      RollBack(c);
      return c.Healthy() ? Outcome::kUnitFailed : Outcome::kRetry;
    }
    if (!commit && failed_at < f.commit_at && c.Healthy()) {
      failure = commit;
      const bool retry = c.saw_retryable();
      const bool stale = c.last_sqlstate() == kCheckFailed && f.used_cache;
      RollBack(c);
      if (!c.Healthy() || retry) return Outcome::kRetry;
      return stale ? Outcome::kStale : Outcome::kUnitFailed;
    }
    if (auto st = commit; !st) {
      failure = st;
      if (!c.Healthy()) {
        // COMMIT was sent: it may or may not have happened, so running the batch again could
        // apply it twice.
        failure = Fail(errc::kInternal,
                       "postgres: connection lost during COMMIT; the outcome is unknown");
        return Outcome::kFailed;
      }
      RollBack(c);
      return c.saw_retryable() ? Outcome::kRetry : Outcome::kFailed;
    }
    {
      std::lock_guard lock(session_mu_);
      unsynced_ = true;
    }
    // Positions hold when every statement sent since they were taken was answered here.
    const bool whole = answers.size() == f.commit_at + 1;
    const std::int64_t xid =
        f.xid != 0 ? f.xid : (whole && f.xid_at < answers.size() ? answers[f.xid_at].Int(0, 0) : 0);
    landed_xid_ = xid;
    if (f.has_model && xid > 0) {
      open_cache_.Age(xid);
      open_cache_.Settle(GroupModel::XminOf(xid));
    } else if (f.has_model) {
      open_cache_.Clear();  // versions unknown: nothing to check against
    }
    if (whole && f.pool_at < answers.size()) {
      GroupModel::AddToPool(alert_pool_, answers[f.pool_at]);
    }
    return Outcome::kCommitted;
  }

  // Whether the group failed on a row the cache answered for that had changed: the cache was
  // stale, the units were not wrong.
  static bool Stale(const Connection& c, const std::optional<GroupModel>& model) {
    return c.last_sqlstate() == kCheckFailed && model && model->used_cache();
  }
  // Ends what a connection's transaction did, whatever its deferred statements said (an error
  // there must not keep the ROLLBACK from being sent).
  static void RollBack(Connection& c) {
    (void)c.Drain();
    if (c.Healthy() && !c.Idle()) (void)c.Exec("ROLLBACK");
  }

  // Notes a new session of the writer (its first, or one after a reconnect) and marks it: a
  // session-level advisory lock on a random key that only this server session holds, and loses
  // when it ends (a restart ends them all). The sync session tests for it in microseconds;
  // listing the sessions (pg_stat_activity) copied every backend's status, a quarter of a
  // millisecond per sync. Taken on the server, so a proxy cannot fake it.
  Status NoteWriterSession(Connection& c) {
    if (c.Session() == writer_session_) return Ok();
    std::int64_t mark = 0;
    for (int attempt = 0; attempt < 4 && mark == 0; ++attempt) {
      std::random_device rd;
      const auto key = static_cast<std::int64_t>(rd() & 0x7fffffffu) + 1;
      auto r = c.Query("SELECT pg_try_advisory_lock($1::int, $2::int)",
                       Params().Add(kSessionMarkClass).Add(key));
      if (!r) return Fail(std::move(r.error()));
      if (!r->empty() && r->Text(0, 0) == "t") mark = key;
    }
    if (mark == 0)
      return Fail(errc::kInternal, "postgres: the writer's session could not be marked");
    std::lock_guard lock(session_mu_);
    // Commits of the session before that no sync has vouched for yet may be gone with it: the
    // syncs that may answer for them fail.
    if (writer_session_ != 0) taint_ = 2;
    // What the cache believes may be gone with the server's asynchronous commits.
    open_cache_.Clear();
    writer_session_ = c.Session();
    writer_mark_ = mark;
    return Ok();
  }

  // The synchronous write of Sync, and the check that the writer's session is still alive.
  Status FlushAndCheck(std::int64_t mark) {
    if (!syncer_) {
      auto c = Connection::Open(url_, syncer_options_);
      if (!c) return Fail(std::move(c.error()));
      syncer_ = std::move(*c);
    }
    if (auto st = syncer_->EnsureConnected(); !st) return st;
    auto r = syncer_->Query(
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
        "value=excluded.value RETURNING CASE WHEN pg_try_advisory_lock($3::int, $4::int) THEN "
        "NOT pg_advisory_unlock($3::int, $4::int) ELSE true END",
        Params()
            .Add(sync_row_)
            .Add(static_cast<std::int64_t>(++syncs_))
            .Add(kSessionMarkClass)
            .Add(mark));
    if (!r) return Fail(std::move(r.error()));
    // Taken: nobody held the writer's mark, so its session has ended.
    if (r->empty() || r->Text(0, 0) != "t") {
      return Fail(errc::kUnavailable,
                  "postgres: the writer's session ended before its commits were flushed");
    }
    return Ok();
  }

  // 10, 20, 40, 80 ms plus jitter, so two nodes that collided do not collide again. False, at
  // once: PostgreSQL is unreachable and its reconnect pause has not run out, so another attempt
  // would fail without trying; the batch fails fast (unavailable) instead of holding every
  // queued event through its retries.
  bool Backoff(int retry) {
    if (backoff_->Refusing()) return false;
    thread_local std::minstd_rand rng{std::random_device{}()};
    const int base = 10 << (retry - 1);
    std::uniform_int_distribution<int> jitter(0, base);
    std::this_thread::sleep_for(std::chrono::milliseconds(base + jitter(rng)));
    return true;
  }

  Status MigrateLocked() {
    Connection& c = *writer_;
    if (auto st = c.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                         "KEY, applied_at BIGINT NOT NULL)");
        !st) {
      return st;
    }
    auto v = c.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!v) return Fail(std::move(v.error()));
    const std::int64_t current = v->Int(0, 0);
    const auto total = static_cast<std::int64_t>(std::size(kMigrations));
    if (current > total) {
      return Fail(errc::kInternal, "postgres: the database has schema version " +
                                       std::to_string(current) + ", newer than this opsorch (" +
                                       std::to_string(total) + ")");
    }
    for (std::int64_t i = current; i < total; ++i) {
      const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      const std::string sql = "BEGIN;" + std::string(kMigrations[i]) +
                              ";INSERT INTO schema_migrations (version, applied_at) VALUES (" +
                              std::to_string(i + 1) + "," + std::to_string(now) + ");COMMIT;";
      if (auto st = c.Exec(sql); !st) {
        (void)c.Exec("ROLLBACK");
        return Fail(errc::kInternal,
                    "migration " + std::to_string(i + 1) + ": " + st.error().message);
      }
    }
    return Ok();
  }

  // The search index (kSearchIndexes) when it is missing: after migration 5, and at every
  // start until pg_trgm can be had (an operator created it, or granted CREATE on the database).
  // Without it searches read incidents in order and test each one: correct, slow on a large
  // store, logged with PostgreSQL's reason, never a reason not to start. Building it locks
  // incident_text against writes (new incidents wait) for as long as it takes: about 30 s for
  // 1,000,000 incidents.
  void EnsureSearchIndexes() {
    Connection& c = *writer_;
    const auto have = [&] {
      auto r = c.Query(kHaveSearchIndexes);
      return r && r->Text(0, 0) == "t";
    };
    if (have()) {
      search_indexed_.store(true);
      return;
    }
    std::string why = "the index is missing";
    if (auto st = c.Exec("CREATE EXTENSION IF NOT EXISTS pg_trgm"); !st) {
      why = st.error().message;
    } else if (auto built = c.Exec(std::string(kSearchIndexes) + "ANALYZE incident_text;");
               !built) {
      why = built.error().message;
    } else if (have()) {
      log::Info("postgres: incident search index created (pg_trgm)");
      search_indexed_.store(true);
      return;
    }
    if (!c.Idle()) (void)c.Exec("ROLLBACK");
    search_indexed_.store(false);
    log::Warn("postgres: incident text search has no index and reads every incident (" + why +
              "); CREATE EXTENSION pg_trgm as a superuser, or grant CREATE on the database, "
              "and restart opsorch");
  }

  Status WriteOne(std::string_view sql, const Params& params) {
    return WithConnection(/*idempotent=*/false, [&](Connection& c) -> Status {
      auto r = c.Query(sql, params);
      if (!r) return Fail(std::move(r.error()));
      return Ok();
    });
  }

  template <class Row, class ReadFn>
  Result<std::vector<Row>> ReadAll(std::string_view sql, const Params& params, ReadFn read) {
    return WithConnection(/*idempotent=*/true, [&](Connection& c) -> Result<std::vector<Row>> {
      auto r = c.Query(sql, params);
      if (!r) return Fail(std::move(r.error()));
      std::vector<Row> out;
      out.reserve(static_cast<std::size_t>(r->size()));
      for (int i = 0; i < r->size(); ++i) out.push_back(read(*r, i));
      return out;
    });
  }

  // Millions of rows: streamed one at a time instead of held as one result and as rows.
  Result<std::vector<SlaRow>> StreamSlaRows(std::string_view sql, const Params& params) {
    return WithConnection(
        /*idempotent=*/true, [&](Connection& c) -> Result<std::vector<SlaRow>> {
          std::vector<SlaRow> out;
          auto st = c.QueryEach(sql, params, [&](const Rows& s) {
            out.push_back(SlaRow{s.Text(0, 0), s.Text(0, 1), s.Int(0, 2), s.Int(0, 3), s.Int(0, 4),
                                 s.Int(0, 5), s.Int(0, 6)});
          });
          if (!st) return Fail(std::move(st.error()));
          return out;
        });
  }

  template <class Row>
  static Result<std::optional<Row>> First(Result<std::vector<Row>> all) {
    if (!all) return Fail(std::move(all.error()));
    if (all->empty()) return std::optional<Row>();
    return std::optional<Row>(std::move(all->front()));
  }

  // A pooled autocommit connection (opened on demand up to the pool's size, else waited for;
  // reconnected if it was lost), returned after `fn`. An idempotent `fn` is run once more if
  // the connection was lost under it.
  template <class Fn>
  auto WithConnection(bool idempotent, Fn fn) -> decltype(fn(std::declval<Connection&>())) {
    auto lease = pool_.Acquire();
    if (!lease) return Fail(std::move(lease.error()));
    Connection& c = **lease;
    if (auto st = c.EnsureConnected(); !st) return Fail(std::move(st.error()));
    auto result = fn(c);
    if (!result && idempotent && !c.Healthy()) {
      if (c.EnsureConnected()) result = fn(c);
    }
    return result;
  }

  // The store's settings with one role's metrics; every connection shares the backoff.
  ConnectOptions ConnectFor(const ConnectOptions& role, const StoreOptions& options) const {
    ConnectOptions o = role;
    o.statement_timeout = options.pg_statement_timeout;
    o.backoff = backoff_;
    return o;
  }

  const std::string url_;  // may hold a password: never logged
  const StoreMetrics metrics_;
  const std::shared_ptr<ReconnectBackoff> backoff_;  // shared by the writer and the pool
  ConnectOptions writer_options_, syncer_options_;
  std::mutex write_mu_;
  // The writer's open incidents between groups (pg_group.h), under write_mu_. Groups after a
  // stale entry read their keys instead, for kCacheCooldown of them: keys another node also
  // writes would otherwise fail group after group.
  OpenIncidentCache open_cache_;
  int cache_cooldown_ = 0;
  // Of the keys the last group read, the share that opened an incident (GroupModel::
  // IncidentBlockParams): the next group takes that many numbers with its reads.
  double opened_per_read_ = 0;
  std::int64_t opened_ = 0;  // … and the incidents it opened (the most the next one takes)
  // WriteGroup's, under write_mu_: the group in flight, the answers of groups landed that their
  // caller has not had yet (delivered by the writer's next WriteGroup or Settle, outside the
  // lock), the xid of the last group landed, and alert numbers taken after every number this
  // writer used (a run ahead numbers from them, smallest first; emptied by any other run).
  std::optional<InFlight> in_flight_;
  std::vector<std::pair<std::function<void(Status)>, Status>> landed_;
  std::int64_t landed_xid_ = 0;
  std::vector<std::int64_t> alert_pool_;
  std::int64_t pool_group_ = 0;  // PoolWant's recent largest group
  static constexpr int kCacheCooldown = 64;
  std::unique_ptr<Connection> writer_;
  // The writer's session (which a crash of the server ends), numbered: Sync() vouches only for
  // commits of the session still alive.
  std::mutex session_mu_;
  std::uint64_t writer_session_ = 0;  // Connection::Session() of the writer when noted (0: none)
  std::int64_t writer_mark_ = 0;      // the key of the writer session's mark (NoteWriterSession)
  // The class (first key) of the marks: apart from the key locks, which take one 64-bit key.
  static constexpr std::int64_t kSessionMarkClass = 0x6f70736f;  // "opso"
  bool unsynced_ = false;  // a commit since the last sync started
  int taint_ = 0;          // syncs still to fail (Sync)
  std::mutex sync_mu_;
  std::unique_ptr<Connection> syncer_;
  const std::string sync_row_ = "sync." + RandomId();  // this node's row of `settings`
  std::int64_t syncs_ = 0;
  std::atomic<bool> search_indexed_{false};  // incident_text's GIN index exists (Migrate)
  ConnectionPool pool_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const StoreOptions& options) {
  auto store = std::make_unique<PgStore>(url, options);
  if (auto st = store->Open(); !st) return Fail(std::move(st.error()));
  if (auto st = store->Migrate(); !st) return Fail(std::move(st.error()));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace opsorch::engine::postgres
