// The SQLite store: one writer connection (SQLite has one writer anyway) used under a mutex,
// and a small pool of reader connections; WAL lets them read while the writer commits.
#include "engine/sqlite/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/log/log.h>
#include <opsorch/sqlite/sqlite_db.h>

#include "engine/store_schema.h"

namespace opsorch::engine::sqlite {
namespace {

using ::opsorch::sqlite::Connection;
using ::opsorch::sqlite::FoldCase;
using ::opsorch::sqlite::SqlError;
using ::opsorch::sqlite::Statement;

// Numbered migrations; PRAGMA user_version records how many have run.
constexpr std::string_view kMigrations[] = {
    R"sql(
CREATE TABLE services (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  team_id TEXT NOT NULL DEFAULT '', ack_target_s INTEGER NOT NULL DEFAULT 900,
  resolve_target_s INTEGER NOT NULL DEFAULT 7200, tags TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE TABLE teams (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  parent TEXT NOT NULL DEFAULT '') STRICT;
CREATE TABLE members (
  team_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '', handle TEXT NOT NULL DEFAULT '', role TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (team_id, id)) STRICT;
CREATE TABLE integrations (
  id TEXT PRIMARY KEY, service_id TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, key_prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE INDEX integrations_service ON integrations(service_id);
CREATE TABLE incidents (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, service_id TEXT NOT NULL,
  dedup_key TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL, urgency TEXT NOT NULL, severity TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
  acknowledged_at INTEGER NOT NULL DEFAULT 0, resolved_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL, alert_count INTEGER NOT NULL DEFAULT 0,
  timeline_count INTEGER NOT NULL DEFAULT 0, details TEXT NOT NULL DEFAULT '{}',
  fields TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}') STRICT;
-- At most one open incident per key: the rule the engine relies on, enforced by the database.
CREATE UNIQUE INDEX incidents_open_key ON incidents(service_id, dedup_key)
  WHERE status <> 'resolved' AND dedup_key <> '';
CREATE INDEX incidents_key_resolved ON incidents(service_id, dedup_key, resolved_at)
  WHERE dedup_key <> '';
CREATE INDEX incidents_created ON incidents(created_at);
CREATE TABLE alerts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, incident_seq INTEGER NOT NULL DEFAULT 0,
  service_id TEXT NOT NULL, integration_id TEXT NOT NULL DEFAULT '',
  dedup_key TEXT NOT NULL, action TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '', severity TEXT NOT NULL DEFAULT '',
  component TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL DEFAULT '',
  class TEXT NOT NULL DEFAULT '', custom_details TEXT NOT NULL DEFAULT '{}',
  links TEXT NOT NULL DEFAULT '[]', images TEXT NOT NULL DEFAULT '[]',
  client TEXT NOT NULL DEFAULT '', client_url TEXT NOT NULL DEFAULT '',
  event_at INTEGER NOT NULL, received_at INTEGER NOT NULL,
  held_until INTEGER NOT NULL DEFAULT 0) STRICT;
CREATE INDEX alerts_incident ON alerts(incident_seq);
CREATE INDEX alerts_received ON alerts(received_at);
CREATE INDEX alerts_held ON alerts(service_id, dedup_key) WHERE held_until > 0;
CREATE TABLE timeline (
  incident_seq INTEGER NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '', actor TEXT NOT NULL DEFAULT '{}',
  metadata TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (incident_seq, n)) STRICT;
CREATE TABLE deployments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, service_id TEXT NOT NULL,
  summary TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL,
  details TEXT NOT NULL DEFAULT '{}', links TEXT NOT NULL DEFAULT '[]') STRICT;
)sql",
    // 2: the SLA cache follows changes by updated_at.
    R"sql(
CREATE INDEX incidents_updated ON incidents(updated_at);
)sql",
    // 3: retention is the only reader of alerts by received_at, and only of unlinked ones; a
    // partial index spares every attached alert (nearly all) an index insert.
    R"sql(
DROP INDEX alerts_received;
CREATE INDEX alerts_unlinked_received ON alerts(received_at) WHERE incident_seq=0;
)sql",
    // 4: one row per event. The timeline entry an event causes is kept in its alert's row
    // (tl_n > 0; entries written before stay in `timeline`), and an incident's alerts are a
    // chain (incidents.last_alert_seq → alerts.prev_seq → … → 0) instead of the index on
    // alerts(incident_seq): under load the events of many incidents interleave, and that index
    // dirtied one page per incident per commit, most of what each commit wrote to the WAL.
    // The chain's links live in rows every event writes anyway (its alert, its incident).
    // And the SLA cache follows `sla_at` (the time of the last change to a column SLA
    // analytics reads) instead of updated_at, which every event changes: the index on
    // updated_at cost two index updates per incident per commit.
    R"sql(
ALTER TABLE alerts ADD COLUMN tl_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN tl_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN tl_body TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN tl_actor TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN tl_metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE alerts ADD COLUMN prev_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN last_alert_seq INTEGER NOT NULL DEFAULT 0;
UPDATE alerts SET prev_seq=coalesce((SELECT max(b.seq) FROM alerts b
  WHERE b.incident_seq=alerts.incident_seq AND b.seq<alerts.seq), 0) WHERE incident_seq>0;
UPDATE incidents SET last_alert_seq=coalesce((SELECT max(seq) FROM alerts
  WHERE incident_seq=incidents.seq), 0);
DROP INDEX alerts_incident;
ALTER TABLE incidents ADD COLUMN sla_at INTEGER NOT NULL DEFAULT 0;
UPDATE incidents SET sla_at=updated_at;
DROP INDEX incidents_updated;
CREATE INDEX incidents_sla_at ON incidents(sla_at);
)sql",
    // 5: paging. Catalog documents (people, schedules, policies, overrides) are kept whole; an
    // incident's escalation, the durable jobs and the notification outbox are rows.
    R"sql(
ALTER TABLE services ADD COLUMN escalation_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN ack_timeout_s INTEGER NOT NULL DEFAULT 0;
CREATE TABLE catalog (
  kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
  updated_at INTEGER NOT NULL, PRIMARY KEY (kind, id)) STRICT;
CREATE TABLE escalations (
  incident_seq INTEGER PRIMARY KEY, policy_id TEXT NOT NULL, snapshot TEXT NOT NULL,
  generation INTEGER NOT NULL, steps INTEGER NOT NULL, level INTEGER NOT NULL,
  loop INTEGER NOT NULL, state TEXT NOT NULL, next_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, unique_key TEXT NOT NULL UNIQUE,
  run_at INTEGER NOT NULL, incident_seq INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0, payload TEXT NOT NULL DEFAULT '{}') STRICT;
CREATE INDEX jobs_due ON jobs(run_at);
CREATE TABLE notifications (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, idem_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  incident_seq INTEGER NOT NULL, generation INTEGER NOT NULL, level INTEGER NOT NULL,
  person_id TEXT NOT NULL, contact_method TEXT NOT NULL, channel TEXT NOT NULL,
  urgency TEXT NOT NULL, status TEXT NOT NULL, due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT NOT NULL DEFAULT '',
  lease_until INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, sent_at INTEGER NOT NULL DEFAULT 0,
  action_used_at INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '') STRICT;
CREATE INDEX notifications_pending ON notifications(due_at) WHERE status='pending';
CREATE INDEX notifications_sending ON notifications(lease_until) WHERE status='sending';
CREATE INDEX notifications_incident ON notifications(incident_seq);
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
)sql",
    // 6: quiet and liveness. Services may auto-resolve and name recurring mute intervals; live
    // state (alerts firing through the Alertmanager API or held back by a silence, heartbeat
    // monitors' beats) is one small table, looked at again when due_at passes.
    R"sql(
ALTER TABLE services ADD COLUMN auto_resolve_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN mute_intervals TEXT NOT NULL DEFAULT '[]';
CREATE TABLE live (
  kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
  due_at INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT '', digest INTEGER NOT NULL DEFAULT 0,
  ends_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (kind, parent, id)) STRICT, WITHOUT ROWID;
-- The bodies apart: a refresh rewrites a narrow row (many to a page), not a body.
CREATE TABLE live_body (
  kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, parent, id)) STRICT, WITHOUT ROWID;
CREATE INDEX live_due ON live(due_at) WHERE due_at > 0;
-- Refreshes of live rows, appended (RefreshLive) and folded into the rows (FoldRefreshes).
CREATE TABLE live_refresh (
  seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, parent TEXT NOT NULL, id TEXT NOT NULL,
  ends_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT;
)sql",
    // 7: text search. An FTS5 index of the trigrams of each incident's folded title and description
    // (opsorch_fold's text: what a search compares), so that a search reads the incidents holding
    // the text's rarest trigrams instead of all of them (QueryIncidents). It keeps rowids only
    // (detail=none; about 110 MB for 1,000,000 incidents) and its own copy of the folded text, so
    // that a change or deletion takes out exactly the terms that went in: an index over the
    // incidents themselves (external content) would take out the terms of the text folded again,
    // and a C library whose case mappings changed since would make that an error for every change
    // and every retention of such an incident. Changes of title or description and deletions reach
    // it through triggers, which the event path's updates (other columns) never fire. New incidents
    // are indexed by the writer just before each commit, in one statement
    // (SqliteTx::IndexNewIncidents): with a trigger on INSERT every incident insert became a
    // statement transaction, at each of which FTS5 writes its pending terms out as a segment of
    // their own (measured on a prototype with 20-character titles: 21 µs per incident instead of
    // 3). A change before then finds no row to change: the insert writes the text as it is at the
    // commit. FTS5 merges a level's segments once 8 are there, not 4: half of what indexing cost
    // went into merging (1,000,000 incidents of about 100 characters, 500 per commit: 28 s with 4,
    // 13 s with 8), and searches took the same time over 13 segments as over 8. The update trigger
    // calls opsorch_fold, so the sqlite3 shell may read this database but not change an incident's
    // title or description.
    R"sql(
CREATE VIRTUAL TABLE incidents_fts USING fts5(folded_title, folded_description,
  tokenize='trigram case_sensitive 1', detail=none, columnsize=0);
INSERT INTO incidents_fts(incidents_fts, rank) VALUES ('automerge', 8);
CREATE TRIGGER incidents_fts_update AFTER UPDATE OF title, description ON incidents
  WHEN old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
  UPDATE incidents_fts SET folded_title=opsorch_fold(new.title),
    folded_description=opsorch_fold(new.description) WHERE rowid=new.seq;
END;
CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN
  DELETE FROM incidents_fts WHERE rowid=old.seq;
END;
-- The incidents already stored, merged into one segment.
INSERT INTO incidents_fts(rowid, folded_title, folded_description)
  SELECT seq, opsorch_fold(title), opsorch_fold(description) FROM incidents;
INSERT INTO incidents_fts(incidents_fts) VALUES ('optimize');
)sql",
    // 8: runbooks. A service names the runbooks its new incidents start (a JSON array of ids).
    R"sql(
ALTER TABLE services ADD COLUMN runbooks TEXT NOT NULL DEFAULT '[]';
)sql",
};

// The text search (migration 7). Queries of fewer than three characters have no trigram; they
// and text that is not valid UTF-8 scan, as every search did before the index.
constexpr std::size_t kSearchMinChars = 3;
// Trigrams probed per search (spread over a long text), and how many of the rarest the FTS5
// query asks for: every one narrows the candidates, and costs a seek per candidate.
constexpr std::size_t kSearchProbes = 16;
constexpr std::size_t kSearchTrigrams = 3;
// A probe reads at most this many of a trigram's incidents, nearest the start of the order.
constexpr std::int64_t kSearchProbeRows = 64;
// When even the rarest trigram is in at least one incident in two there, walking the
// incidents in order and testing each is cheaper than reading candidates from the index (a
// sequential read against a seek per candidate: 0.4 ms against 4.6 ms for a word in every
// title, 2.5 against 13 ms with a status filter).
constexpr std::int64_t kSearchDenseSpan = 2 * kSearchProbeRows;

// The distinct trigrams (three characters) of folded search text, or none when the text is
// too short for the index or not valid UTF-8 (the tokenizer and this split must agree on what
// a character is) or holds a NUL (FTS5 query text ends there).
std::vector<std::string> SearchTrigrams(std::string_view folded) {
  std::vector<std::string> out;
  if (!ValidUtf8(folded) || folded.find('\0') != std::string_view::npos) return out;
  std::vector<std::size_t> starts;  // where each character begins
  for (std::size_t i = 0; i < folded.size(); ++i) {
    if ((static_cast<unsigned char>(folded[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() < kSearchMinChars) return out;
  starts.push_back(folded.size());
  for (std::size_t k = 0; k + kSearchMinChars < starts.size(); ++k) {
    std::string t(folded.substr(starts[k], starts[k + kSearchMinChars] - starts[k]));
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(std::move(t));
  }
  return out;
}

// An FTS5 string: the text in double quotes, its quotes doubled.
std::string FtsString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

constexpr std::string_view kNotificationColumns =
    "seq, idem_key, kind, incident_seq, generation, level, person_id, contact_method, channel, "
    "urgency, status, due_at, attempts, lease_owner, lease_until, created_at, updated_at, "
    "sent_at, action_used_at, detail";

// Every row a prepared, bound statement gives, each read by `read`.
template <class Row, class ReadFn>
Result<std::vector<Row>> StepAll(Statement& s, ReadFn read) {
  std::vector<Row> out;
  while (true) {
    auto row = s.Step();
    if (!row) return Fail(std::move(row.error()));
    if (!*row) break;
    out.push_back(read(s));
  }
  return out;
}

// The first of some rows, if any.
template <class Row>
Result<std::optional<Row>> FirstOf(Result<std::vector<Row>> rows) {
  if (!rows) return Fail(std::move(rows.error()));
  if (rows->empty()) return std::optional<Row>();
  return std::optional<Row>(std::move(rows->front()));
}

NotificationRow ReadNotification(const Statement& s) {
  NotificationRow r;
  r.seq = s.Int(0);
  r.id = "ntf-" + std::to_string(r.seq);
  r.idempotency_key = s.Text(1);
  r.kind = s.Text(2);
  r.incident_seq = s.Int(3);
  r.generation = s.Int(4);
  r.level = s.Int(5);
  r.person_id = s.Text(6);
  r.contact_method = s.Text(7);
  r.channel = s.Text(8);
  r.urgency = s.Text(9);
  r.status = s.Text(10);
  r.due_at = s.Int(11);
  r.attempts = s.Int(12);
  r.lease_owner = s.Text(13);
  r.lease_until = s.Int(14);
  r.created_at = s.Int(15);
  r.updated_at = s.Int(16);
  r.sent_at = s.Int(17);
  r.action_used_at = s.Int(18);
  r.detail = s.Text(19);
  return r;
}

// A live row is its narrow part (live) and its body (live_body), joined.
constexpr std::string_view kLiveColumns =
    "kind, parent, id, body, due_at, updated_at, state, digest, ends_at FROM live JOIN live_body "
    "USING (kind, parent, id)";

LiveRow ReadLive(const Statement& s) {
  return LiveRow{s.Text(0), s.Text(1), s.Text(2), s.Object(3), s.Int(4),
                 s.Int(5),  s.Text(6), s.Int(7),  s.Int(8)};
}

constexpr std::string_view kEscalationColumns =
    "incident_seq, policy_id, snapshot, generation, steps, level, loop, state, next_at, "
    "started_at, updated_at";

EscalationRow ReadEscalation(const Statement& s) {
  return EscalationRow{s.Int(0), s.Text(1), s.Object(2), s.Int(3), s.Int(4), s.Int(5),
                       s.Int(6), s.Text(7), s.Int(8),    s.Int(9), s.Int(10)};
}

IncidentRow ReadIncidentState(const Statement& s) {
  IncidentRow r;
  r.seq = s.Int(0);
  r.id = IncidentId(r.seq);
  r.service_id = s.Text(1);
  r.dedup_key = s.Text(2);
  r.title = s.Text(3);
  r.description = s.Text(4);
  r.status = s.Text(5);
  r.urgency = s.Text(6);
  r.severity = s.Text(7);
  r.source = s.Text(8);
  r.created_at = s.Int(9);
  r.acknowledged_at = s.Int(10);
  r.resolved_at = s.Int(11);
  r.updated_at = s.Int(12);
  r.alert_count = s.Int(13);
  return r;
}

IncidentRow ReadIncident(const Statement& s) {
  IncidentRow r = ReadIncidentState(s);  // the same first 14 columns
  r.details = s.Object(14);
  r.fields = s.Object(15);
  r.metadata = s.Object(16);
  return r;
}

AlertRow ReadAlert(const Statement& s) {
  AlertRow a;
  a.seq = s.Int(0);
  a.id = AlertId(a.seq);
  if (const std::int64_t inc = s.Int(1); inc > 0) a.incident_id = IncidentId(inc);
  a.service_id = s.Text(2);
  a.integration_id = s.Text(3);
  a.dedup_key = s.Text(4);
  a.action = s.Text(5);
  a.summary = s.Text(6);
  a.source = s.Text(7);
  a.severity = s.Text(8);
  a.component = s.Text(9);
  a.group = s.Text(10);
  a.class_name = s.Text(11);
  a.custom_details = s.Object(12);
  a.links = s.Array(13);
  a.images = s.Array(14);
  a.client = s.Text(15);
  a.client_url = s.Text(16);
  a.event_at = s.Int(17);
  a.received_at = s.Int(18);
  a.held_until = s.Int(19);
  return a;
}

// The `chain` of the incident whose seq is parameter 1 (?1): the seqs of its alerts, newest
// link first (see migration 4). UNION, not UNION ALL: a damaged chain with a cycle would
// otherwise never end (a link may point to a newer alert: a held resolve joins its incident
// after the trigger). Readers join the chain to alerts rather than test `seq IN chain`, which
// would build a second set of every seq.
constexpr std::string_view kAlertChain =
    "WITH RECURSIVE chain(seq) AS (SELECT last_alert_seq FROM incidents WHERE seq=?1 AND "
    "last_alert_seq>0 UNION SELECT a.prev_seq FROM alerts a JOIN chain ON a.seq=chain.seq "
    "WHERE a.prev_seq>0) ";
constexpr int kChainIncidentParameter = 1;

// `?,?,?` for n values.
std::string Placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ",?";
  return out;
}

// Incident columns only the store uses: the last timeline entry's number and the head of the
// incident's alert chain (migration 4).
struct IncidentLinks {
  std::int64_t timeline_count = 0;
  std::int64_t last_alert_seq = 0;
};

// The incident columns the event path changes, as the row holds them.
struct IncidentState {
  std::string status;
  std::string urgency;
  std::string severity;
  std::int64_t acknowledged_at = 0;
  std::int64_t resolved_at = 0;
  std::int64_t updated_at = 0;
  std::int64_t alert_count = 0;
  IncidentLinks links;
};

IncidentState StateOf(const IncidentRow& r, const IncidentLinks& links) {
  return IncidentState{r.status,      r.urgency,    r.severity,    r.acknowledged_at,
                       r.resolved_at, r.updated_at, r.alert_count, links};
}

void ApplyState(IncidentRow& r, const IncidentState& s) {
  r.status = s.status;
  r.urgency = s.urgency;
  r.severity = s.severity;
  r.acknowledged_at = s.acknowledged_at;
  r.resolved_at = s.resolved_at;
  r.updated_at = s.updated_at;
  r.alert_count = s.alert_count;
}

std::string JsonText(const JsonObject& v) {
  if (v.empty()) return "{}";
  std::string text;
  AppendJsonObject(text, v);
  return text;
}

std::string JsonText(const JsonArray& v) {
  if (v.empty()) return "[]";
  std::string text;
  AppendJsonValue(text, JsonValue(v));
  return text;
}

// The event path's lookups plus the links (see SqliteTx).
const std::string kTrackedColumns =
    std::string(kIncidentStateColumns) + ", timeline_count, last_alert_seq";

IncidentLinks ReadLinks(const Statement& s, int first) {
  return IncidentLinks{s.Int(first), s.Int(first + 1)};
}

// The open incident of each (service, dedup key) as the database holds it, kept by the writer
// across transactions: a repeated event, nearly every event under load, then finds its
// incident without a query. Only what this writer committed is kept; WriteBatch clears it when
// another connection (another node on the same file) has committed since, and entries are
// dropped whenever a transaction changes an incident in a way it does not track.
class OpenIncidentCache {
 public:
  struct Entry {
    IncidentRow row;  // the columns ReadIncidentState reads
    IncidentLinks links;
  };

  // The entry stays where it is until it is erased (Erase, Clear, or a Put of its key).
  Entry* Find(std::string_view service_id, std::string_view dedup_key) {
    Key(service_id, dedup_key);
    auto it = by_key_.find(key_);
    return it == by_key_.end() ? nullptr : &it->second;
  }

  void Put(IncidentRow row, const IncidentLinks& links) {
    Key(row.service_id, row.dedup_key);
    if (auto it = by_key_.find(key_); it != by_key_.end() && it->second.row.seq == row.seq) {
      it->second = Entry{std::move(row), links};  // the usual case: a repeat
      return;
    }
    if (by_key_.size() >= kMaxEntries) Clear();  // bounded; misses only cost the query
    Erase(row.seq);
    if (auto it = by_key_.find(key_); it != by_key_.end()) by_seq_.erase(it->second.row.seq);
    by_seq_[row.seq] = key_;
    by_key_[key_] = Entry{std::move(row), links};
  }

  void Erase(std::int64_t seq) {
    auto it = by_seq_.find(seq);
    if (it == by_seq_.end()) return;
    by_key_.erase(it->second);
    by_seq_.erase(it);
  }

  void Clear() {
    by_key_.clear();
    by_seq_.clear();
  }

 private:
  static constexpr std::size_t kMaxEntries = 100'000;

  void Key(std::string_view service_id, std::string_view dedup_key) {
    key_.assign(service_id);
    key_.push_back('\0');  // service ids are validated names: no NUL
    key_.append(dedup_key);
  }

  std::string key_;  // scratch, so that a lookup allocates only when the key is long
  std::unordered_map<std::string, Entry> by_key_;
  std::unordered_map<std::int64_t, std::string> by_seq_;
};

// One write transaction on the writer connection.
//
// Every event changes its incident twice (its state, then the timeline counter that numbers
// the new entry), and each UPDATE that names status or resolved_at rewrites the entries of the
// two partial key indexes even when the values stay the same. So the incidents this
// transaction has read are tracked: state changes and timeline numbers are kept here and
// written by one UPDATE of only the columns that changed, before the next read of incidents,
// the next incident insert, and the end of the unit of work (Flush, called by WriteBatch).
// The rows written are exactly those the direct statements wrote.
class SqliteTx final : public Tx {
 public:
  // `search_index`: the store has its text search index (migration 7), which this transaction
  // keeps in step with the incidents it inserts (IndexNewIncidents).
  SqliteTx(Connection& c, OpenIncidentCache& cache, bool search_index)
      : c_(c), cache_(cache), search_index_(search_index) {}

  // Writes the pending incident changes. WriteBatch calls it before each commit or release.
  Status Flush() {
    for (const std::int64_t seq : dirty_) {
      Tracked& t = tracked_.at(seq);
      t.dirty = false;
      if (auto st = WriteChanges(seq, t); !st) {
        dirty_.clear();
        return st;
      }
      t.stored = t.wanted;
    }
    dirty_.clear();
    return Ok();
  }

  // Forgets what was tracked: after a rollback the rows may hold something else, and so may
  // the cached rows this transaction touched.
  void Discard() {
    for (const auto& [seq, t] : tracked_) cache_.Erase(seq);
    tracked_.clear();
    dirty_.clear();
  }

  // After a rollback of the whole transaction: nothing it inserted is left to index either.
  void RolledBack() {
    Discard();
    unindexed_from_ = 0;
  }

  // Adds the incidents this transaction inserted to the text search index, in one statement
  // (see migration 7), with their title and description as they are now. WriteBatch calls it
  // just before the commit. Every row from the first seq inserted on is one of them:
  // AUTOINCREMENT hands out seqs above every seq used before, and the rows of a unit rolled
  // back to its savepoint are gone.
  Status IndexNewIncidents() {
    if (!search_index_ || unindexed_from_ == 0) return Ok();
    auto s = c_.Prepare(
        "INSERT INTO incidents_fts(rowid, folded_title, folded_description) SELECT seq, "
        "opsorch_fold(title), opsorch_fold(description) FROM incidents WHERE seq>=?");
    if (!s) return Fail(std::move(s.error()));
    if (auto st = (*s)->Bind(1, unindexed_from_).Run(); !st) return st;
    unindexed_from_ = 0;
    return Ok();
  }

  // After the commit (and the last Flush): what this transaction left in the rows it tracked.
  void Committed() {
    // Rows found in the cache are updated where they are, before any Put may clear it.
    for (auto& [seq, t] : tracked_) {
      if (t.cached == nullptr) continue;
      if (t.have_state && t.stored.status != "resolved") {
        ApplyState(t.cached->row, t.stored);
        t.cached->links = t.stored.links;
      } else {
        cache_.Erase(seq);
      }
    }
    for (auto& [seq, t] : tracked_) {
      if (t.cached != nullptr) continue;
      if (t.have_state && t.stored.status != "resolved" && !t.row.dedup_key.empty()) {
        ApplyState(t.row, t.stored);
        cache_.Put(std::move(t.row), t.stored.links);
      } else {
        cache_.Erase(seq);
      }
    }
    tracked_.clear();
  }

  Result<std::optional<IncidentRow>> FindOpenIncident(std::string_view service_id,
                                                      std::string_view dedup_key) override {
    if (auto* hit = cache_.Find(service_id, dedup_key)) {
      const std::int64_t seq = hit->row.seq;
      if (auto it = tracked_.find(seq); it != tracked_.end()) {
        // Read by this transaction already: its wanted state is the current one. (Resolved
        // here, or changed by an untracked write: ask the database, which knows.)
        if (it->second.have_state && it->second.wanted.status != "resolved") {
          IncidentRow row = it->second.Row();
          ApplyState(row, it->second.wanted);
          return std::optional<IncidentRow>(std::move(row));
        }
      } else {
        Tracked& t = tracked_[seq];
        t.have_state = true;
        t.cached = hit;
        t.stored = t.wanted = StateOf(hit->row, hit->links);
        return std::optional<IncidentRow>(hit->row);
      }
    }
    static const std::string sql = "SELECT " + kTrackedColumns +
                                   " FROM incidents WHERE service_id=? AND dedup_key=? AND "
                                   "status<>'resolved' AND dedup_key<>''";
    return FindTracked(sql, [&](Statement& s) { s.BindRef(1, service_id).BindRef(2, dedup_key); });
  }

  Result<std::optional<IncidentRow>> FindResolvedSince(std::string_view service_id,
                                                       std::string_view dedup_key,
                                                       std::int64_t since) override {
    static const std::string sql = "SELECT " + kTrackedColumns +
                                   " FROM incidents WHERE service_id=? AND dedup_key=? AND "
                                   "dedup_key<>'' AND status='resolved' AND resolved_at>=? "
                                   "ORDER BY resolved_at DESC, seq DESC LIMIT 1";
    return FindTracked(
        sql, [&](Statement& s) { s.BindRef(1, service_id).BindRef(2, dedup_key).Bind(3, since); });
  }

  Result<std::optional<AlertRow>> TakeHeldResolve(std::string_view service_id,
                                                  std::string_view dedup_key,
                                                  std::int64_t now) override {
    static const std::string sql = "SELECT " + std::string(kAlertColumns) +
                                   " FROM alerts WHERE service_id=? AND dedup_key=? AND "
                                   // `held_until>0` lets SQLite use the partial index; a
                                   // bound parameter alone does not, and it scanned the table.
                                   "held_until>0 AND held_until>? ORDER BY seq LIMIT 1";
    auto s = c_.Prepare(sql);
    if (!s) return Fail(std::move(s.error()));
    (*s)->BindRef(1, service_id).BindRef(2, dedup_key).Bind(3, now);
    auto row = (*s)->Step();
    if (!row) return Fail(std::move(row.error()));
    if (!*row) return std::optional<AlertRow>();
    AlertRow a = ReadAlert(**s);
    s->reset();
    auto u = c_.Prepare("UPDATE alerts SET held_until=0 WHERE seq=?");
    if (!u) return Fail(std::move(u.error()));
    if (auto st = (*u)->Bind(1, a.seq).Run(); !st) return Fail(std::move(st.error()));
    a.held_until = 0;
    return std::optional<AlertRow>(std::move(a));
  }

  Result<std::optional<IncidentRow>> GetIncidentForUpdate(std::string_view id) override {
    static const std::string sql =
        "SELECT " + std::string(kIncidentColumns) + " FROM incidents WHERE seq=?";
    const std::int64_t seq = SeqOf(id, "inc-");
    if (seq == 0) return std::optional<IncidentRow>();
    if (auto st = Flush(); !st) return Fail(std::move(st.error()));
    auto s = c_.Prepare(sql);
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, seq);
    auto row = (*s)->Step();
    if (!row) return Fail(std::move(row.error()));
    if (!*row) return std::optional<IncidentRow>();
    return std::optional<IncidentRow>(ReadIncident(**s));
  }

  Status InsertIncident(IncidentRow& r) override {
    // A pending change may close the key's open incident: it must reach the unique index first.
    if (auto st = Flush(); !st) return st;
    auto s = c_.Prepare(
        "INSERT INTO incidents (service_id, dedup_key, title, description, status, urgency, "
        "severity, source, created_at, acknowledged_at, resolved_at, updated_at, alert_count, "
        "details, fields, metadata, sla_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?12)");
    if (!s) return Fail(std::move(s.error()));
    const std::string details = JsonText(r.details);
    const std::string fields = JsonText(r.fields);
    const std::string metadata = JsonText(r.metadata);
    (*s)->BindRef(1, r.service_id)
        .BindRef(2, r.dedup_key)
        .BindRef(3, r.title)
        .BindRef(4, r.description)
        .BindRef(5, r.status)
        .BindRef(6, r.urgency)
        .BindRef(7, r.severity)
        .BindRef(8, r.source)
        .Bind(9, r.created_at)
        .Bind(10, r.acknowledged_at)
        .Bind(11, r.resolved_at)
        .Bind(12, r.updated_at)
        .Bind(13, r.alert_count)
        .BindRef(14, details)
        .BindRef(15, fields)
        .BindRef(16, metadata);
    if (auto st = (*s)->Run(); !st) return st;
    r.seq = c_.LastInsertRowid();
    r.id = IncidentId(r.seq);
    if (unindexed_from_ == 0 || r.seq < unindexed_from_) unindexed_from_ = r.seq;
    Tracked& t = tracked_[r.seq];
    t = Tracked{};
    t.have_state = true;
    t.row = r;
    t.stored = t.wanted = StateOf(r, IncidentLinks{});
    return Ok();
  }

  Status UpdateIncident(const IncidentRow& r) override {
    if (auto st = Flush(); !st) return st;
    tracked_.erase(r.seq);  // its state columns change here; the links are read again
    cache_.Erase(r.seq);
    auto s = c_.Prepare(
        "UPDATE incidents SET title=?, description=?, status=?, urgency=?, severity=?, "
        "service_id=?, acknowledged_at=?, resolved_at=?, updated_at=?, alert_count=?, fields=?, "
        "metadata=?, sla_at=?9 WHERE seq=?");
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, r.title)
        .Bind(2, r.description)
        .Bind(3, r.status)
        .Bind(4, r.urgency)
        .Bind(5, r.severity)
        .Bind(6, r.service_id)
        .Bind(7, r.acknowledged_at)
        .Bind(8, r.resolved_at)
        .Bind(9, r.updated_at)
        .Bind(10, r.alert_count)
        .BindJson(11, r.fields)
        .BindJson(12, r.metadata)
        .Bind(13, r.seq);
    return (*s)->Run();
  }

  Status UpdateIncidentState(const IncidentRow& r) override {
    if (auto it = tracked_.find(r.seq); it != tracked_.end() && it->second.have_state) {
      Tracked& t = it->second;
      t.wanted = StateOf(r, t.wanted.links);
      MarkDirty(r.seq, t);
      return Ok();
    }
    // A row this transaction has not read: written at once, every state column.
    if (auto st = Flush(); !st) return st;
    auto s = c_.Prepare(
        "UPDATE incidents SET status=?, urgency=?, severity=?, acknowledged_at=?, resolved_at=?, "
        "updated_at=?, alert_count=?, sla_at=?6 WHERE seq=?");
    if (!s) return Fail(std::move(s.error()));
    (*s)->BindRef(1, r.status)
        .BindRef(2, r.urgency)
        .BindRef(3, r.severity)
        .Bind(4, r.acknowledged_at)
        .Bind(5, r.resolved_at)
        .Bind(6, r.updated_at)
        .Bind(7, r.alert_count)
        .Bind(8, r.seq);
    if (auto st = (*s)->Run(); !st) return st;
    if (auto it = tracked_.find(r.seq); it != tracked_.end()) {
      // Only its counter was known; the state just written is now known too.
      it->second.have_state = true;
      it->second.row = r;
      it->second.stored = it->second.wanted = StateOf(r, it->second.wanted.links);
    } else {
      cache_.Erase(r.seq);
    }
    return Ok();
  }

  Status InsertAlert(AlertRow& a) override { return InsertAlertRow(a, nullptr); }

  Status InsertAlertWithEntry(AlertRow& a, TimelineRow& t) override {
    const std::int64_t seq = SeqOf(t.incident_id, "inc-");
    // The entry's time is read back as the alert's received_at.
    if (seq == 0 || seq != SeqOf(a.incident_id, "inc-") || t.at != a.received_at) {
      return Tx::InsertAlertWithEntry(a, t);
    }
    return InsertAlertRow(a, &t);
  }

  // Only an unlinked alert (a held resolve) is linked; it joins the head of the chain.
  Status LinkAlert(std::string_view alert_id, std::string_view incident_id) override {
    const std::int64_t seq = SeqOf(incident_id, "inc-");
    auto tracked = Links(seq, std::string(incident_id));
    if (!tracked) return Fail(std::move(tracked.error()));
    auto s =
        c_.Prepare("UPDATE alerts SET incident_seq=?, prev_seq=? WHERE seq=? AND incident_seq=0");
    if (!s) return Fail(std::move(s.error()));
    const std::int64_t alert = SeqOf(alert_id, "al-");
    if (auto st = (*s)->Bind(1, seq)
                      .Bind(2, (*tracked)->wanted.links.last_alert_seq)
                      .Bind(3, alert)
                      .Run();
        !st) {
      return st;
    }
    if (c_.Changes() != 1) {
      return Fail(errc::kInternal, "alert " + std::string(alert_id) + " is not an unlinked alert");
    }
    Chain(alert, seq, **tracked);
    return Ok();
  }

  Status AppendTimeline(TimelineRow& t) override {
    const std::int64_t seq = SeqOf(t.incident_id, "inc-");
    auto tracked = Links(seq, t.incident_id);
    if (!tracked) return Fail(std::move(tracked.error()));
    Tracked& incident = **tracked;
    const std::int64_t number = incident.wanted.links.timeline_count + 1;
    auto s = c_.Prepare(
        "INSERT INTO timeline (incident_seq, n, at, kind, body, actor, metadata) "
        "VALUES (?,?,?,?,?,?,?)");
    if (!s) return Fail(std::move(s.error()));
    const std::string actor = JsonText(t.actor);
    const std::string metadata = JsonText(t.metadata);
    (*s)->Bind(1, seq)
        .Bind(2, number)
        .Bind(3, t.at)
        .BindRef(4, t.kind)
        .BindRef(5, t.body)
        .BindRef(6, actor)
        .BindRef(7, metadata);
    if (auto st = (*s)->Run(); !st) return st;
    incident.wanted.links.timeline_count = number;
    MarkDirty(seq, incident);
    t.id = t.incident_id + "-t" + std::to_string(number);
    return Ok();
  }

  Status InsertDeployment(DeploymentRow& d) override {
    auto s = c_.Prepare(
        "INSERT INTO deployments (service_id, summary, source, at, details, links) "
        "VALUES (?,?,?,?,?,?)");
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, d.service_id)
        .Bind(2, d.summary)
        .Bind(3, d.source)
        .Bind(4, d.at)
        .BindJson(5, d.details)
        .BindJson(6, d.links);
    if (auto st = (*s)->Run(); !st) return st;
    d.seq = c_.LastInsertRowid();
    d.id = "dep-" + std::to_string(d.seq);
    return Ok();
  }

  // ---- paging (no incident rows: nothing to Flush first) ----

  Result<std::optional<EscalationRow>> GetEscalation(std::int64_t incident_seq) override {
    static const std::string sql =
        "SELECT " + std::string(kEscalationColumns) + " FROM escalations WHERE incident_seq=?";
    return OneRow<EscalationRow>(sql, incident_seq, ReadEscalation);
  }

  Status PutEscalation(const EscalationRow& e) override {
    auto s = c_.Prepare(
        "INSERT INTO escalations (incident_seq, policy_id, snapshot, generation, steps, level, "
        "loop, state, next_at, started_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT(incident_seq) DO UPDATE SET policy_id=excluded.policy_id, "
        "snapshot=excluded.snapshot, generation=excluded.generation, steps=excluded.steps, "
        "level=excluded.level, loop=excluded.loop, state=excluded.state, "
        "next_at=excluded.next_at, started_at=excluded.started_at, "
        "updated_at=excluded.updated_at");
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, e.incident_seq)
        .Bind(2, e.policy_id)
        .BindJson(3, e.snapshot)
        .Bind(4, e.generation)
        .Bind(5, e.steps)
        .Bind(6, e.level)
        .Bind(7, e.loop)
        .Bind(8, e.state)
        .Bind(9, e.next_at)
        .Bind(10, e.started_at)
        .Bind(11, e.updated_at);
    return (*s)->Run();
  }

  Status InsertJob(JobRow& j) override {
    auto s = c_.Prepare(
        "INSERT INTO jobs (kind, unique_key, run_at, incident_seq, generation, payload) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(unique_key) DO NOTHING");
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, j.kind)
        .Bind(2, j.unique_key)
        .Bind(3, j.run_at)
        .Bind(4, j.incident_seq)
        .Bind(5, j.generation)
        .BindJson(6, j.payload);
    if (auto st = (*s)->Run(); !st) return st;
    if (c_.Changes() > 0) j.id = c_.LastInsertRowid();
    return Ok();
  }

  Result<std::vector<JobRow>> DueJobs(std::int64_t now, std::int64_t limit) override {
    return Rows<JobRow>(
        "SELECT id, kind, unique_key, run_at, incident_seq, generation, payload FROM jobs "
        "WHERE run_at<=? ORDER BY run_at, id LIMIT ?",
        [&](Statement& s) { s.Bind(1, now).Bind(2, limit); },
        [](const Statement& s) {
          return JobRow{s.Int(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4), s.Int(5), s.Object(6)};
        });
  }

  Status DeleteJob(std::int64_t id) override {
    auto s = c_.Prepare("DELETE FROM jobs WHERE id=?");
    if (!s) return Fail(std::move(s.error()));
    return (*s)->Bind(1, id).Run();
  }

  Status DeleteJobByKey(std::string_view key) override {
    auto s = c_.Prepare("DELETE FROM jobs WHERE unique_key=?");
    if (!s) return Fail(std::move(s.error()));
    return (*s)->Bind(1, key).Run();
  }

  Result<std::optional<LiveRow>> GetLive(std::string_view kind, std::string_view parent,
                                         std::string_view id, bool with_body) override {
    static const std::string full =
        "SELECT " + std::string(kLiveColumns) + " WHERE kind=? AND parent=? AND id=?";
    // The body as '{}': nothing to read or parse.
    static const std::string bare =
        "SELECT kind, parent, id, '{}', due_at, updated_at, state, digest, ends_at FROM live "
        "WHERE kind=? AND parent=? AND id=?";
    return FirstOf(Rows<LiveRow>(
        with_body ? full : bare, [&](Statement& s) { s.Bind(1, kind).Bind(2, parent).Bind(3, id); },
        ReadLive));
  }

  Status PutLive(const LiveRow& r) override {
    auto s = c_.Prepare(
        "INSERT INTO live (kind, parent, id, due_at, updated_at, state, digest, ends_at) "
        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(kind, parent, id) DO UPDATE SET "
        "due_at=excluded.due_at, updated_at=excluded.updated_at, state=excluded.state, "
        "digest=excluded.digest, ends_at=excluded.ends_at");
    if (!s) return Fail(std::move(s.error()));
    if (auto st = (*s)->Bind(1, r.kind)
                      .Bind(2, r.parent)
                      .Bind(3, r.id)
                      .Bind(4, r.due_at)
                      .Bind(5, r.updated_at)
                      .Bind(6, r.state)
                      .Bind(7, r.digest)
                      .Bind(8, r.ends_at)
                      .Run();
        !st) {
      return st;
    }
    auto b = c_.Prepare(
        "INSERT INTO live_body (kind, parent, id, body) VALUES (?,?,?,?) ON CONFLICT(kind, "
        "parent, id) DO UPDATE SET body=excluded.body");
    if (!b) return Fail(std::move(b.error()));
    return (*b)->Bind(1, r.kind).Bind(2, r.parent).Bind(3, r.id).BindJson(4, r.body).Run();
  }

  Result<bool> RefreshLive(std::string_view kind, std::string_view parent, std::string_view id,
                           std::string_view state, std::int64_t digest, std::int64_t ends_at,
                           std::int64_t updated_at) override {
    // One statement: appended only if the row exists in this state with this digest.
    auto s = c_.Prepare(
        "INSERT INTO live_refresh (kind, parent, id, ends_at, updated_at) SELECT kind, parent, "
        "id, ?6, ?7 FROM live WHERE kind=?1 AND parent=?2 AND id=?3 AND state=?4 AND digest=?5");
    if (!s) return Fail(std::move(s.error()));
    // The texts outlive Run (which resets the statement): bound without copies.
    if (auto st = (*s)->BindRef(1, kind)
                      .BindRef(2, parent)
                      .BindRef(3, id)
                      .BindRef(4, state)
                      .Bind(5, digest)
                      .Bind(6, ends_at)
                      .Bind(7, updated_at)
                      .Run();
        !st) {
      return Fail(std::move(st.error()));
    }
    return c_.Changes() > 0;
  }

  Status FoldRefreshes() override {
    // The latest refresh of each row wins, unless the row was written since (a push that
    // changed it). Bounded by the largest seq seen first, like the PostgreSQL store.
    auto m = Rows<std::int64_t>(
        "SELECT coalesce(max(seq), 0) FROM live_refresh", [](Statement&) {},
        [](const Statement& q) { return q.Int(0); });
    if (!m) return Fail(std::move(m.error()));
    const std::int64_t max_seq = m->empty() ? 0 : m->front();
    if (max_seq == 0) return Ok();
    auto u = c_.Prepare(
        "UPDATE live SET ends_at=r.ends_at, updated_at=r.updated_at FROM (SELECT kind, parent, "
        "id, ends_at, updated_at FROM live_refresh WHERE seq IN (SELECT max(seq) FROM "
        "live_refresh WHERE seq<=?1 GROUP BY kind, parent, id)) AS r WHERE live.kind=r.kind AND "
        "live.parent=r.parent AND live.id=r.id AND r.updated_at>=live.updated_at");
    if (!u) return Fail(std::move(u.error()));
    if (auto st = (*u)->Bind(1, max_seq).Run(); !st) return st;
    auto d = c_.Prepare("DELETE FROM live_refresh WHERE seq<=?");
    if (!d) return Fail(std::move(d.error()));
    return (*d)->Bind(1, max_seq).Run();
  }

  Status DeleteLive(std::string_view kind, std::string_view parent, std::string_view id) override {
    for (const char* sql : {"DELETE FROM live WHERE kind=? AND parent=? AND id=?",
                            "DELETE FROM live_body WHERE kind=? AND parent=? AND id=?"}) {
      auto s = c_.Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      if (auto st = (*s)->Bind(1, kind).Bind(2, parent).Bind(3, id).Run(); !st) return st;
    }
    return Ok();
  }

  Result<std::vector<LiveRow>> DueLive(std::string_view kind, std::int64_t now,
                                       std::int64_t limit) override {
    return Rows<LiveRow>(
        "SELECT " + std::string(kLiveColumns) +
            " WHERE kind=? AND due_at>0 AND due_at<=? ORDER BY due_at LIMIT ?",
        [&](Statement& s) { s.Bind(1, kind).Bind(2, now).Bind(3, limit); }, ReadLive);
  }

  Result<std::vector<LiveRow>> LiveOf(std::string_view kind, std::string_view parent) override {
    return Rows<LiveRow>(
        "SELECT " + std::string(kLiveColumns) + " WHERE kind=? AND parent=? ORDER BY id",
        [&](Statement& s) { s.Bind(1, kind).Bind(2, parent); }, ReadLive);
  }

  Result<bool> InsertNotification(NotificationRow& n) override {
    auto s = c_.Prepare(
        "INSERT INTO notifications (idem_key, kind, incident_seq, generation, level, person_id, "
        "contact_method, channel, urgency, status, due_at, attempts, lease_owner, lease_until, "
        "created_at, updated_at, sent_at, action_used_at, detail) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(idem_key) DO NOTHING");
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, n.idempotency_key)
        .Bind(2, n.kind)
        .Bind(3, n.incident_seq)
        .Bind(4, n.generation)
        .Bind(5, n.level)
        .Bind(6, n.person_id)
        .Bind(7, n.contact_method)
        .Bind(8, n.channel)
        .Bind(9, n.urgency)
        .Bind(10, n.status)
        .Bind(11, n.due_at)
        .Bind(12, n.attempts)
        .Bind(13, n.lease_owner)
        .Bind(14, n.lease_until)
        .Bind(15, n.created_at)
        .Bind(16, n.updated_at)
        .Bind(17, n.sent_at)
        .Bind(18, n.action_used_at)
        .Bind(19, n.detail);
    if (auto st = (*s)->Run(); !st) return Fail(std::move(st.error()));
    if (c_.Changes() == 0) return false;
    n.seq = c_.LastInsertRowid();
    n.id = "ntf-" + std::to_string(n.seq);
    return true;
  }

  Result<std::vector<NotificationRow>> ClaimNotifications(std::int64_t now, std::int64_t limit,
                                                          std::string_view owner,
                                                          std::int64_t lease_until) override {
    static const std::string sql =
        "UPDATE notifications SET status='sending', lease_owner=?1, lease_until=?2, "
        "attempts=attempts+1, updated_at=?3 WHERE seq IN (SELECT seq FROM notifications WHERE "
        "status='pending' AND due_at<=?3 ORDER BY due_at, seq LIMIT ?4) RETURNING " +
        std::string(kNotificationColumns);
    return Rows<NotificationRow>(
        sql,
        [&](Statement& s) { s.BindRef(1, owner).Bind(2, lease_until).Bind(3, now).Bind(4, limit); },
        ReadNotification);
  }

  Result<std::vector<NotificationRow>> ExpiredLeases(std::int64_t now,
                                                     std::int64_t limit) override {
    static const std::string sql = "SELECT " + std::string(kNotificationColumns) +
                                   " FROM notifications WHERE status='sending' AND "
                                   "lease_until<? ORDER BY lease_until LIMIT ?";
    return Rows<NotificationRow>(
        sql, [&](Statement& s) { s.Bind(1, now).Bind(2, limit); }, ReadNotification);
  }

  Result<std::optional<NotificationRow>> GetNotificationForUpdate(std::int64_t seq) override {
    static const std::string sql =
        "SELECT " + std::string(kNotificationColumns) + " FROM notifications WHERE seq=?";
    return OneRow<NotificationRow>(sql, seq, ReadNotification);
  }

  Status UpdateNotification(const NotificationRow& n) override {
    auto s = c_.Prepare(
        "UPDATE notifications SET status=?, due_at=?, attempts=?, lease_owner=?, lease_until=?, "
        "sent_at=?, action_used_at=?, detail=?, updated_at=? WHERE seq=?");
    if (!s) return Fail(std::move(s.error()));
    (*s)->Bind(1, n.status)
        .Bind(2, n.due_at)
        .Bind(3, n.attempts)
        .Bind(4, n.lease_owner)
        .Bind(5, n.lease_until)
        .Bind(6, n.sent_at)
        .Bind(7, n.action_used_at)
        .Bind(8, n.detail)
        .Bind(9, n.updated_at)
        .Bind(10, n.seq);
    return (*s)->Run();
  }

  Result<std::int64_t> CancelNotifications(std::int64_t incident_seq, std::int64_t now,
                                           std::string_view why) override {
    auto s = c_.Prepare(
        "UPDATE notifications SET status='cancelled', detail=?, updated_at=? "
        "WHERE incident_seq=? AND status='pending'");
    if (!s) return Fail(std::move(s.error()));
    if (auto st = (*s)->BindRef(1, why).Bind(2, now).Bind(3, incident_seq).Run(); !st) {
      return Fail(std::move(st.error()));
    }
    return static_cast<std::int64_t>(c_.Changes());
  }

 private:
  template <class Row, class BindFn, class ReadFn>
  Result<std::vector<Row>> Rows(const std::string& sql, BindFn bind, ReadFn read) {
    auto s = c_.Prepare(sql);
    if (!s) return Fail(std::move(s.error()));
    bind(**s);
    return StepAll<Row>(**s, read);
  }

  // The row whose key (the statement's one parameter) is `key`, if any.
  template <class Row, class ReadFn>
  Result<std::optional<Row>> OneRow(const std::string& sql, std::int64_t key, ReadFn read) {
    return FirstOf(Rows<Row>(
        sql, [&](Statement& s) { s.Bind(1, key); }, read));
  }

  struct Tracked {
    bool have_state = false;  // false: only the links are known
    bool dirty = false;
    // With have_state: the columns ReadIncidentState reads, as stored when tracking began;
    // the cache's entry when found there (cached, which then stays unchanged until Committed),
    // else row.
    OpenIncidentCache::Entry* cached = nullptr;
    IncidentRow row;
    IncidentState stored;  // what the row holds
    IncidentState wanted;  // what it holds after Flush

    const IncidentRow& Row() const { return cached != nullptr ? cached->row : row; }
  };

  // The incident's tracked state; its links are read first if this transaction has not read
  // the row.
  Result<Tracked*> Links(std::int64_t seq, const std::string& incident_id) {
    if (auto it = tracked_.find(seq); it != tracked_.end()) return &it->second;
    auto n = c_.Prepare("SELECT timeline_count, last_alert_seq FROM incidents WHERE seq=?");
    if (!n) return Fail(std::move(n.error()));
    (*n)->Bind(1, seq);
    auto row = (*n)->Step();
    if (!row) return Fail(std::move(row.error()));
    if (!*row) return Fail(errc::kNotFound, "incident " + incident_id + " not found");
    Tracked fresh;
    fresh.stored.links = fresh.wanted.links = ReadLinks(**n, 0);
    return &tracked_.emplace(seq, std::move(fresh)).first->second;  // Committed() uncaches it
  }

  // The alert, whose prev_seq is the incident's chain head, becomes the head.
  void Chain(std::int64_t alert_seq, std::int64_t incident_seq, Tracked& incident) {
    incident.wanted.links.last_alert_seq = alert_seq;
    MarkDirty(incident_seq, incident);
  }

  // The alert's row, chained to its incident's alerts, with the timeline entry it caused
  // if `entry` (of the same incident) is given.
  Status InsertAlertRow(AlertRow& a, TimelineRow* entry) {
    Tracked* incident = nullptr;
    const std::int64_t incident_seq = SeqOf(a.incident_id, "inc-");
    if (incident_seq > 0) {
      auto t = Links(incident_seq, a.incident_id);
      if (!t) return Fail(std::move(t.error()));
      incident = *t;
    }
    auto s = c_.Prepare(
        "INSERT INTO alerts (incident_seq, service_id, integration_id, dedup_key, action, "
        "summary, source, severity, component, grp, class, custom_details, links, images, "
        "client, client_url, event_at, received_at, held_until, prev_seq, tl_n, tl_kind, "
        "tl_body, tl_actor, tl_metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
        "?,?)");
    if (!s) return Fail(std::move(s.error()));
    const std::string custom_details = JsonText(a.custom_details);
    const std::string links = JsonText(a.links);
    const std::string images = JsonText(a.images);
    (*s)->Bind(1, incident_seq)
        .BindRef(2, a.service_id)
        .BindRef(3, a.integration_id)
        .BindRef(4, a.dedup_key)
        .BindRef(5, a.action)
        .BindRef(6, a.summary)
        .BindRef(7, a.source)
        .BindRef(8, a.severity)
        .BindRef(9, a.component)
        .BindRef(10, a.group)
        .BindRef(11, a.class_name)
        .BindRef(12, custom_details)
        .BindRef(13, links)
        .BindRef(14, images)
        .BindRef(15, a.client)
        .BindRef(16, a.client_url)
        .Bind(17, a.event_at)
        .Bind(18, a.received_at)
        .Bind(19, a.held_until)
        .Bind(20, incident != nullptr ? incident->wanted.links.last_alert_seq : 0);
    std::int64_t number = 0;
    std::string actor = "{}";
    std::string metadata = "{}";  // without "alertId": the row is the alert
    if (entry != nullptr) {
      number = incident->wanted.links.timeline_count + 1;
      actor = JsonText(entry->actor);
      metadata = JsonText(entry->metadata);
    }
    (*s)->Bind(21, number)
        .BindRef(22, entry != nullptr ? std::string_view(entry->kind) : "")
        .BindRef(23, entry != nullptr ? std::string_view(entry->body) : "")
        .BindRef(24, actor)
        .BindRef(25, metadata);
    if (auto st = (*s)->Run(); !st) return st;
    a.seq = c_.LastInsertRowid();
    a.id = AlertId(a.seq);
    if (incident != nullptr) Chain(a.seq, incident_seq, *incident);
    if (entry != nullptr) {
      incident->wanted.links.timeline_count = number;
      entry->id = entry->incident_id + "-t" + std::to_string(number);
    }
    return Ok();
  }

  void MarkDirty(std::int64_t seq, Tracked& t) {
    if (t.dirty) return;
    t.dirty = true;
    dirty_.push_back(seq);
  }

  // One UPDATE of the columns whose wanted value differs from the stored one. The statement
  // text depends only on which columns (at most 2^9 shapes), so it is cached like any other.
  Status WriteChanges(std::int64_t seq, const Tracked& t) {
    const IncidentState& a = t.stored;
    const IncidentState& b = t.wanted;
    std::string sql = "UPDATE incidents SET ";
    std::size_t columns = 0;
    auto add = [&](bool changed, std::string_view column) {
      if (!changed) return false;
      if (columns++ > 0) sql += ", ";
      sql += column;
      sql += "=?";
      return true;
    };
    const bool status = t.have_state && add(a.status != b.status, "status");
    const bool urgency = t.have_state && add(a.urgency != b.urgency, "urgency");
    const bool severity = t.have_state && add(a.severity != b.severity, "severity");
    const bool acked =
        t.have_state && add(a.acknowledged_at != b.acknowledged_at, "acknowledged_at");
    const bool resolved = t.have_state && add(a.resolved_at != b.resolved_at, "resolved_at");
    const bool updated = t.have_state && add(a.updated_at != b.updated_at, "updated_at");
    // What SLA analytics reads (status only with the timestamps that go with it).
    const bool sla =
        t.have_state && (status || urgency || acked || resolved) && add(true, "sla_at");
    const bool alerts = t.have_state && add(a.alert_count != b.alert_count, "alert_count");
    const bool timeline = add(a.links.timeline_count != b.links.timeline_count, "timeline_count");
    const bool last_alert = add(a.links.last_alert_seq != b.links.last_alert_seq, "last_alert_seq");
    if (columns == 0) return Ok();
    sql += " WHERE seq=?";
    auto s = c_.Prepare(sql);
    if (!s) return Fail(std::move(s.error()));
    int i = 1;
    if (status) (*s)->BindRef(i++, b.status);
    if (urgency) (*s)->BindRef(i++, b.urgency);
    if (severity) (*s)->BindRef(i++, b.severity);
    if (acked) (*s)->Bind(i++, b.acknowledged_at);
    if (resolved) (*s)->Bind(i++, b.resolved_at);
    if (updated) (*s)->Bind(i++, b.updated_at);
    if (sla) (*s)->Bind(i++, b.updated_at);
    if (alerts) (*s)->Bind(i++, b.alert_count);
    if (timeline) (*s)->Bind(i++, b.links.timeline_count);
    if (last_alert) (*s)->Bind(i++, b.links.last_alert_seq);
    (*s)->Bind(i, seq);
    return (*s)->Run();
  }

  template <class BindFn>
  Result<std::optional<IncidentRow>> FindTracked(const std::string& sql, BindFn bind) {
    if (auto st = Flush(); !st) return Fail(std::move(st.error()));
    auto s = c_.Prepare(sql);
    if (!s) return Fail(std::move(s.error()));
    bind(**s);
    auto row = (*s)->Step();
    if (!row) return Fail(std::move(row.error()));
    if (!*row) return std::optional<IncidentRow>();
    IncidentRow r = ReadIncidentState(**s);
    Tracked& t = tracked_[r.seq];
    t = Tracked{};
    t.have_state = true;
    t.row = r;
    t.stored = t.wanted = StateOf(r, ReadLinks(**s, 14));
    return std::optional<IncidentRow>(std::move(r));
  }

  Connection& c_;
  OpenIncidentCache& cache_;
  const bool search_index_;
  std::int64_t unindexed_from_ = 0;  // the first incident inserted and not yet indexed (0: none)
  std::unordered_map<std::int64_t, Tracked> tracked_;
  std::vector<std::int64_t> dirty_;  // tracked rows with changes not yet written, in order
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  ~SqliteStore() override {
    if (checkpointer_.joinable()) {
      {
        std::lock_guard lock(checkpoint_mu_);
        checkpoint_stop_ = true;
      }
      checkpoint_cv_.notify_one();
      checkpointer_.join();
    }
    if (wal_fd_ >= 0) ::close(wal_fd_);
    // The writer connection closes last (members are destroyed in reverse order) and, as the
    // last connection, checkpoints and removes the WAL.
  }

  Status Open() {
    // A commit writes its WAL frames without fsyncing them; Sync() does, on the engine's sync
    // thread, while the writer applies the next group. SQLite still fsyncs the WAL before
    // every checkpoint and a new WAL header before frames follow it.
    auto w = Connection::Open(path_);
    if (!w) return Fail(std::move(w.error()));
    writer_ = std::move(*w);
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(writer_->raw(), "main"));
    wal_path_ = wal != nullptr ? wal : path_ + "-wal";
    // Checkpoints (copying the WAL back into the database and fsyncing it) ran inside the
    // commit that crossed SQLite's 1000-page threshold, on the engine's one writer thread: 15%
    // of its time under batched load, during which nothing was applied. They run on a thread of
    // their own instead; a commit only wakes it. A checkpoint only moves committed pages (and
    // fsyncs the WAL before it does).
    sqlite3_wal_hook(writer_->raw(), &SqliteStore::WalHook, this);
    checkpointer_ = std::thread([this] { CheckpointLoop(); });
    return Ok();
  }

  Status Sync() override {
    std::lock_guard lock(sync_mu_);
    if (!sync_failure_.empty()) return Fail(errc::kInternal, sync_failure_);
    if (wal_fd_ < 0) {
      // SQLite creates the WAL with the first transaction. fsync acts on the file, so a
      // descriptor of our own serves; SQLite keeps the file while it has connections open.
      wal_fd_ = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (wal_fd_ < 0) {
        return Fail(errc::kInternal, "sqlite: open " + wal_path_ + ": " + ErrnoText(errno));
      }
    }
    if (::fdatasync(wal_fd_) == 0) return Ok();
    sync_failure_ = "sqlite: fdatasync " + wal_path_ + ": " + ErrnoText(errno) +
                    "; nothing written since the last successful sync is promised (restart "
                    "opsorch once the disk is healthy)";
    return Fail(errc::kInternal, sync_failure_);
  }

  Status Migrate() override {
    if (auto st = MigrateUnsynced(); !st) return st;
    return Sync();
  }

  Status MigrateUnsynced() {
    std::lock_guard lock(write_mu_);
    auto v = writer_->Prepare("PRAGMA user_version");
    if (!v) return Fail(std::move(v.error()));
    auto row = (*v)->Step();
    if (!row) return Fail(std::move(row.error()));
    const std::int64_t current = *row ? (*v)->Int(0) : 0;
    v->reset();
    const auto total = static_cast<std::int64_t>(std::size(kMigrations));
    if (current > total) {
      return Fail(errc::kInternal, "sqlite: database " + path_ + " has schema version " +
                                       std::to_string(current) + ", newer than this opsorch (" +
                                       std::to_string(total) + ")");
    }
    for (std::int64_t i = current; i < total; ++i) {
      const std::string sql = "BEGIN IMMEDIATE;" + std::string(kMigrations[i]) +
                              "PRAGMA user_version=" + std::to_string(i + 1) + ";COMMIT;";
      if (auto st = writer_->Exec(sql); !st) {
        (void)writer_->Exec("ROLLBACK");
        return Fail(errc::kInternal,
                    "migration " + std::to_string(i + 1) + ": " + st.error().message);
      }
    }
    // The text search index (migration 7) may have been dropped by hand: searches then scan,
    // as they did before it, and nothing is indexed.
    auto fts = writer_->Prepare(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='incidents_fts'");
    if (!fts) return Fail(std::move(fts.error()));
    auto found = (*fts)->Step();
    if (!found) return Fail(std::move(found.error()));
    const bool indexed = *found && (*fts)->Int(0) > 0;
    if (!indexed && search_index_.load()) {
      log::Warn("sqlite: " + path_ + " has no incidents_fts table: incident text search scans");
    }
    search_index_.store(indexed);
    return Ok();
  }

  Status WriteBatch(const std::vector<std::function<Status(Tx&)>>& items,
                    std::vector<Status>& results) override {
    results.assign(items.size(), Ok());
    std::lock_guard lock(write_mu_);
    SqliteTx tx(*writer_, open_incidents_, search_index_);
    // Optimistic pass: every item in one transaction without savepoints (a savepoint per item
    // costs two statements and a statement journal). Items are re-runnable, so if one fails
    // the whole batch is rolled back and run again item by item below.
    if (auto st = writer_->Exec("BEGIN IMMEDIATE"); !st) {
      for (auto& r : results) r = st;
      return st;
    }
    if (auto st = ForgetOthersChanges(); !st) {
      (void)writer_->Exec("ROLLBACK");
      for (auto& r : results) r = st;
      return st;
    }
    bool all_ok = true;
    for (std::size_t i = 0; i < items.size() && all_ok; ++i)
      all_ok = static_cast<bool>(items[i](tx));
    // The pending incident changes of the last items, and the new incidents' search terms (a
    // failure here retries item by item).
    if (all_ok) all_ok = static_cast<bool>(tx.Flush());
    if (all_ok) all_ok = static_cast<bool>(tx.IndexNewIncidents());
    if (all_ok) return Commit(tx, results);
    (void)writer_->Exec("ROLLBACK");
    tx.RolledBack();
    if (auto st = writer_->Exec("BEGIN IMMEDIATE"); !st) {
      for (auto& r : results) r = st;
      return st;
    }
    if (auto st = ForgetOthersChanges(); !st) {
      (void)writer_->Exec("ROLLBACK");
      for (auto& r : results) r = st;
      return st;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      // SQLite rolls the whole transaction back by itself on some errors (disk full, I/O):
      // then every later item would commit on its own. Fail them instead.
      if (sqlite3_get_autocommit(writer_->raw()) != 0) {
        results[i] = Fail(errc::kInternal, "sqlite: the transaction was rolled back");
        continue;
      }
      if (auto st = writer_->Exec("SAVEPOINT item"); !st) {
        results[i] = st;
        continue;
      }
      results[i] = items[i](tx);
      if (results[i]) results[i] = tx.Flush();  // the item's own writes, inside its savepoint
      if (!results[i]) tx.Discard();            // rolled back below: what was tracked may be undone
      (void)writer_->Exec(results[i] ? "RELEASE item" : "ROLLBACK TO item; RELEASE item");
    }
    if (sqlite3_get_autocommit(writer_->raw()) != 0) {
      open_incidents_.Clear();
      Status gone = Fail(errc::kInternal, "sqlite: the transaction was rolled back");
      for (auto& r : results) r = gone;
      return gone;
    }
    // Not a unit's failure: without its search terms nothing may commit.
    if (auto st = tx.IndexNewIncidents(); !st) {
      (void)writer_->Exec("ROLLBACK");
      open_incidents_.Clear();
      for (auto& r : results) r = st;
      return st;
    }
    return Commit(tx, results);
  }

  Status Commit(SqliteTx& tx, std::vector<Status>& results) {
    if (auto st = writer_->Exec("COMMIT"); !st) {
      (void)writer_->Exec("ROLLBACK");
      open_incidents_.Clear();
      for (auto& r : results) r = st;
      return st;
    }
    tx.Committed();
    return Ok();
  }

  // Inside the write transaction: if another connection (another node) committed since this
  // writer last looked, the cached incidents may be stale.
  Status ForgetOthersChanges() {
    auto s = writer_->Prepare("PRAGMA data_version");
    if (!s) return Fail(std::move(s.error()));
    auto row = (*s)->Step();
    if (!row) return Fail(std::move(row.error()));
    const std::int64_t version = *row ? (*s)->Int(0) : -1;
    if (version != data_version_) open_incidents_.Clear();
    data_version_ = version;
    return Ok();
  }

  // Text of three characters or more is looked up in the search index (migration 7): its
  // rarest trigrams name the candidates, in the order asked for, so the first page reads a
  // few of them however many incidents hold a common word (and a text common enough is
  // tested row by row, PlanSearch); each candidate is then checked with the scan's own
  // predicate, so the answer is exactly the scan's.
  Result<std::vector<IncidentRow>> QueryIncidents(const IncidentFilter& f) override {
    const std::string folded = f.text.empty() ? std::string() : FoldCase(f.text);
    const std::vector<std::string> trigrams =
        search_index_.load() ? SearchTrigrams(folded) : std::vector<std::string>();
    return WithReader([&](Connection& c) -> Result<std::vector<IncidentRow>> {
      std::string match;
      if (!trigrams.empty()) {
        auto plan = PlanSearch(c, trigrams, f);
        if (!plan) return Fail(std::move(plan.error()));
        if (plan->none) return std::vector<IncidentRow>();
        match = std::move(plan->match);
      }
      // With the index the candidates come from incidents_fts, in its rowid (= seq) order:
      // CROSS JOIN keeps it the outer loop, and the bounds go to it.
      const std::string_view position = match.empty() ? "seq" : "incidents_fts.rowid";
      std::string sql = "SELECT " + std::string(kIncidentColumns);
      sql += match.empty() ? " FROM incidents WHERE 1=1"
                           : " FROM incidents_fts CROSS JOIN incidents ON "
                             "incidents.seq=incidents_fts.rowid WHERE incidents_fts MATCH ?";
      if (!f.statuses.empty()) sql += " AND status IN (" + Placeholders(f.statuses.size()) + ")";
      if (!f.severities.empty()) {
        sql += " AND severity IN (" + Placeholders(f.severities.size()) + ")";
      }
      if (!f.service_ids.empty()) {
        sql += " AND service_id IN (" + Placeholders(f.service_ids.size()) + ")";
      }
      if (f.created_from > 0) sql += " AND created_at>=?";
      if (f.created_to > 0) sql += " AND created_at<?";
      if (f.before_seq > 0) sql += " AND " + std::string(position) + "<?";
      if (f.after_seq > 0) sql += " AND " + std::string(position) + ">?";
      if (!f.text.empty()) {
        sql +=
            " AND (opsorch_fold(title) LIKE ? ESCAPE '\\' OR "
            "opsorch_fold(description) LIKE ? ESCAPE '\\')";
      }
      sql += " ORDER BY " + std::string(position) + (f.oldest_first ? " ASC" : " DESC");
      if (f.limit > 0) sql += " LIMIT ?";
      auto s = c.Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      int i = 1;
      if (!match.empty()) (*s)->Bind(i++, match);
      for (const auto& v : f.statuses) (*s)->Bind(i++, v);
      for (const auto& v : f.severities) (*s)->Bind(i++, v);
      for (const auto& v : f.service_ids) (*s)->Bind(i++, v);
      if (f.created_from > 0) (*s)->Bind(i++, f.created_from);
      if (f.created_to > 0) (*s)->Bind(i++, f.created_to);
      if (f.before_seq > 0) (*s)->Bind(i++, f.before_seq);
      if (f.after_seq > 0) (*s)->Bind(i++, f.after_seq);
      if (!f.text.empty()) {
        const std::string like = "%" + EscapeLike(folded) + "%";
        (*s)->Bind(i, like).Bind(i + 1, like);
        i += 2;
      }
      if (f.limit > 0) (*s)->Bind(i++, f.limit);
      return StepAll<IncidentRow>(**s, ReadIncident);
    });
  }

  Result<std::optional<IncidentRow>> GetIncident(std::string_view id) override {
    const std::int64_t seq = SeqOf(id, "inc-");
    if (seq == 0) return std::optional<IncidentRow>();
    return First<IncidentRow>(
        "SELECT " + std::string(kIncidentColumns) + " FROM incidents WHERE seq=?", seq,
        ReadIncident);
  }

  Status ScanTimeline(std::string_view incident_id, const TimelineCursor& after,
                      std::int64_t max_rows,
                      const std::function<bool(TimelineRow&&)>& fn) override {
    const std::int64_t seq = SeqOf(incident_id, "inc-");
    return WithReader([&](Connection& c) -> Status {
      // Entries kept in their alert's row (migration 4) carry the alert's seq. Rows come from
      // the statement one at a time; SQLite's sorter spills to temporary storage.
      static const std::string sql =
          std::string(kAlertChain) +
          "SELECT n, at, kind, body, actor, metadata, 0 FROM timeline WHERE incident_seq=?1 "
          "AND (at>?2 OR (at=?2 AND n>?3)) "
          "UNION ALL SELECT tl_n, received_at, tl_kind, tl_body, tl_actor, tl_metadata, "
          "alerts.seq FROM chain JOIN alerts ON alerts.seq=chain.seq WHERE tl_n>0 "
          "AND (received_at>?2 OR (received_at=?2 AND tl_n>?3)) ORDER BY 2, 1 LIMIT ?4";
      auto s = c.Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      (*s)->Bind(1, seq).Bind(2, after.at).Bind(3, after.n).Bind(4, max_rows > 0 ? max_rows : -1);
      while (true) {
        auto row = (*s)->Step();
        if (!row) return Fail(std::move(row.error()));
        if (!*row) return Ok();
        TimelineRow t;
        t.incident_id = std::string(incident_id);
        t.n = (*s)->Int(0);
        t.id = t.incident_id + "-t" + std::to_string(t.n);
        t.at = (*s)->Int(1);
        t.kind = (*s)->Text(2);
        t.body = (*s)->Text(3);
        t.actor = (*s)->Object(4);
        t.metadata = (*s)->Object(5);
        if (const std::int64_t alert = (*s)->Int(6); alert > 0)
          t.metadata["alertId"] = AlertId(alert);
        if (!fn(std::move(t))) return Ok();
      }
    });
  }

  Result<std::vector<TimelineRow>> TimelineOfKind(std::string_view incident_id,
                                                  std::string_view kind,
                                                  std::int64_t limit) override {
    // Entries written through AppendTimeline live in `timeline` (events' own entries are in
    // their alert rows): the incident's rows there, not its run of repeats.
    const std::string id(incident_id);
    return ReadAll<TimelineRow>(
        "SELECT n, at, kind, body, actor, metadata FROM timeline WHERE incident_seq=? AND "
        "kind=? ORDER BY at DESC, n DESC LIMIT ?",
        [&](Statement& s) {
          s.Bind(1, SeqOf(incident_id, "inc-")).Bind(2, kind).Bind(3, limit > 0 ? limit : -1);
        },
        [&id](const Statement& s) {
          TimelineRow t;
          t.incident_id = id;
          t.n = s.Int(0);
          t.id = id + "-t" + std::to_string(t.n);
          t.at = s.Int(1);
          t.kind = s.Text(2);
          t.body = s.Text(3);
          t.actor = s.Object(4);
          t.metadata = s.Object(5);
          return t;
        });
  }

  Result<std::vector<AlertRow>> QueryAlerts(const AlertFilter& f) override {
    std::string sql = f.incident_id.empty() ? "" : std::string(kAlertChain);
    sql += "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE 1=1";
    if (!f.text.empty()) sql += " AND opsorch_fold(summary) LIKE ? ESCAPE '\\'";
    if (!f.service_ids.empty()) {
      sql += " AND service_id IN (" + Placeholders(f.service_ids.size()) + ")";
    }
    if (!f.severities.empty()) {
      sql += " AND severity IN (" + Placeholders(f.severities.size()) + ")";
    }
    if (!f.actions.empty()) sql += " AND action IN (" + Placeholders(f.actions.size()) + ")";
    if (!f.incident_id.empty()) sql += " AND seq IN chain";
    if (f.before_seq > 0) sql += " AND seq<?";
    sql += " ORDER BY seq DESC";
    if (f.limit > 0) sql += " LIMIT ?";
    return ReadAll<AlertRow>(
        sql,
        [&](Statement& s) {
          // After the chain's ?1, each plain ? takes the next number.
          int i = f.incident_id.empty() ? 1 : kChainIncidentParameter + 1;
          if (!f.text.empty()) s.Bind(i++, "%" + EscapeLike(FoldCase(f.text)) + "%");
          for (const auto& v : f.service_ids) s.Bind(i++, v);
          for (const auto& v : f.severities) s.Bind(i++, v);
          for (const auto& v : f.actions) s.Bind(i++, v);
          if (f.before_seq > 0) s.Bind(i++, f.before_seq);
          if (f.limit > 0) s.Bind(i++, f.limit);
          if (!f.incident_id.empty()) s.Bind(kChainIncidentParameter, SeqOf(f.incident_id, "inc-"));
        },
        ReadAlert);
  }

  Result<std::optional<AlertRow>> GetAlert(std::string_view id) override {
    const std::int64_t seq = SeqOf(id, "al-");
    if (seq == 0) return std::optional<AlertRow>();
    return First<AlertRow>("SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE seq=?", seq,
                           ReadAlert);
  }

  Result<std::vector<SlaRow>> SlaRowsUpdatedSince(std::int64_t updated_after) override {
    // All rows: a sequential scan in rowid order, much faster than walking an index.
    const std::string_view sql =
        updated_after == 0
            ? "SELECT seq, service_id, urgency, created_at, acknowledged_at, resolved_at, "
              "sla_at FROM incidents ORDER BY seq"
            // sla_at: when a column read here last changed (migration 4), by its index.
            : "SELECT seq, service_id, urgency, created_at, acknowledged_at, resolved_at, "
              "sla_at FROM incidents WHERE sla_at>?";
    return WithReader([&](Connection& c) -> Result<std::vector<SlaRow>> {
      auto s = c.Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      if (updated_after != 0) (*s)->Bind(1, updated_after);
      std::vector<SlaRow> out;
      while (true) {
        auto row = (*s)->Step();
        if (!row) return Fail(std::move(row.error()));
        if (!*row) break;
        out.push_back(SlaRow{(*s)->Text(1), (*s)->Text(2), (*s)->Int(3), (*s)->Int(4), (*s)->Int(5),
                             (*s)->Int(0), (*s)->Int(6)});
      }
      return out;
    });
  }

  Status UpsertService(const ServiceRow& r) override {
    return WriteOne(
        "INSERT INTO services (id, name, description, team_id, ack_target_s, resolve_target_s, "
        "tags, created_at, escalation_policy, ack_timeout_s, auto_resolve_s, mute_intervals, "
        "runbooks) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON "
        "CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description, "
        "team_id=excluded.team_id, ack_target_s=excluded.ack_target_s, "
        "resolve_target_s=excluded.resolve_target_s, tags=excluded.tags, "
        "escalation_policy=excluded.escalation_policy, ack_timeout_s=excluded.ack_timeout_s, "
        "auto_resolve_s=excluded.auto_resolve_s, mute_intervals=excluded.mute_intervals, "
        "runbooks=excluded.runbooks",
        [&](Statement& s) {
          s.Bind(1, r.id)
              .Bind(2, r.name)
              .Bind(3, r.description)
              .Bind(4, r.team_id)
              .Bind(5, r.ack_target_s)
              .Bind(6, r.resolve_target_s)
              .BindJson(7, r.tags)
              .Bind(8, r.created_at)
              .Bind(9, r.escalation_policy)
              .Bind(10, r.ack_timeout_s)
              .Bind(11, r.auto_resolve_s)
              .BindJson(12, StringsToJson(r.mute_intervals))
              .BindJson(13, StringsToJson(r.runbooks));
        });
  }

  Status DeleteService(std::string_view id) override {
    return WriteOne("DELETE FROM services WHERE id=?", [&](Statement& s) { s.Bind(1, id); });
  }

  Result<std::vector<ServiceRow>> Services() override {
    return ReadAll<ServiceRow>(
        "SELECT id, name, description, team_id, ack_target_s, resolve_target_s, tags, "
        "created_at, escalation_policy, ack_timeout_s, auto_resolve_s, mute_intervals, runbooks "
        "FROM services ORDER BY id",
        [](Statement&) {},
        [](const Statement& s) {
          return ServiceRow{s.Text(0),
                            s.Text(1),
                            s.Text(2),
                            s.Text(3),
                            s.Int(4),
                            s.Int(5),
                            s.Object(6),
                            s.Int(7),
                            s.Text(8),
                            s.Int(9),
                            s.Int(10),
                            JsonToStrings(s.Array(11)),
                            JsonToStrings(s.Array(12))};
        });
  }

  Status UpsertTeam(const TeamRow& t) override {
    return WriteOne(
        "INSERT INTO teams (id, name, description, parent) VALUES (?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description, "
        "parent=excluded.parent",
        [&](Statement& s) {
          s.Bind(1, t.id).Bind(2, t.name).Bind(3, t.description).Bind(4, t.parent);
        });
  }

  Status DeleteTeam(std::string_view id) override {
    return WriteOne("DELETE FROM teams WHERE id=?", [&](Statement& s) { s.Bind(1, id); });
  }

  Result<std::vector<TeamRow>> Teams() override {
    return ReadAll<TeamRow>(
        "SELECT id, name, description, parent FROM teams ORDER BY id", [](Statement&) {},
        [](const Statement& s) {
          return TeamRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3)};
        });
  }

  Status UpsertMember(const MemberRow& m) override {
    return WriteOne(
        "INSERT INTO members (team_id, id, name, email, handle, role) VALUES (?,?,?,?,?,?) "
        "ON CONFLICT(team_id, id) DO UPDATE SET name=excluded.name, email=excluded.email, "
        "handle=excluded.handle, role=excluded.role",
        [&](Statement& s) {
          s.Bind(1, m.team_id)
              .Bind(2, m.id)
              .Bind(3, m.name)
              .Bind(4, m.email)
              .Bind(5, m.handle)
              .Bind(6, m.role);
        });
  }

  Status DeleteMember(std::string_view team_id, std::string_view member_id) override {
    return WriteOne("DELETE FROM members WHERE team_id=? AND id=?",
                    [&](Statement& s) { s.Bind(1, team_id).Bind(2, member_id); });
  }

  Result<std::vector<MemberRow>> Members(std::string_view team_id) override {
    return ReadAll<MemberRow>(
        "SELECT team_id, id, name, email, handle, role FROM members WHERE team_id=? ORDER BY id",
        [&](Statement& s) { s.Bind(1, team_id); },
        [](const Statement& s) {
          return MemberRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5)};
        });
  }

  // ---- paging ----

  bool SupportsPaging() const override { return true; }

  Status PutDoc(const CatalogDoc& d) override {
    return WriteOne(
        "INSERT INTO catalog (kind, id, parent, body, updated_at) VALUES (?,?,?,?,?) "
        "ON CONFLICT(kind, id) DO UPDATE SET parent=excluded.parent, body=excluded.body, "
        "updated_at=excluded.updated_at",
        [&](Statement& s) {
          s.Bind(1, d.kind)
              .Bind(2, d.id)
              .Bind(3, d.parent)
              .BindJson(4, d.body)
              .Bind(5, d.updated_at);
        });
  }

  Status DeleteDoc(std::string_view kind, std::string_view id) override {
    // A deletion moves the catalog's version forward too (other nodes reload): a counter in
    // settings, bumped in the same transaction. A schedule's overrides go with it.
    {
      std::lock_guard lock(write_mu_);
      if (auto st = writer_->Exec("BEGIN IMMEDIATE"); !st) return st;
      auto run = [&]() -> Status {
        auto d = writer_->Prepare(
            "DELETE FROM catalog WHERE (kind=?1 AND id=?2) OR (?1='schedule' AND "
            "kind='override' AND parent=?2)");
        if (!d) return Fail(std::move(d.error()));
        if (auto st = (*d)->Bind(1, kind).Bind(2, id).Run(); !st) return st;
        return writer_->Exec(
            "INSERT INTO settings (name, value) VALUES ('catalog.deleted', '1') ON "
            "CONFLICT(name) DO UPDATE SET value=CAST(CAST(value AS INTEGER)+1 AS TEXT)");
      };
      if (auto st = run(); !st) {
        (void)writer_->Exec("ROLLBACK");
        return st;
      }
      if (auto st = writer_->Exec("COMMIT"); !st) {
        (void)writer_->Exec("ROLLBACK");
        return st;
      }
    }
    return Sync();
  }

  Result<std::vector<LiveRow>> Live(std::string_view kind, std::string_view parent, bool any_parent,
                                    std::int64_t limit) override {
    auto rows = ReadAll<LiveRow>(
        "SELECT " + std::string(kLiveColumns) +
            " WHERE kind=?1 AND (?2 OR parent=?3) ORDER BY parent, id LIMIT ?4",
        [&](Statement& s) {
          s.Bind(1, kind)
              .Bind(2, static_cast<std::int64_t>(any_parent ? 1 : 0))
              .Bind(3, parent)
              .Bind(4, limit > 0 ? limit : std::int64_t{-1});
        },
        ReadLive);
    if (!rows || rows->empty()) return rows;
    // Read through the refreshes not folded yet: the latest of each row.
    auto refreshes = ReadAll<LiveRow>(
        "SELECT kind, parent, id, '{}', 0, updated_at, '', 0, ends_at FROM live_refresh WHERE "
        "seq IN (SELECT max(seq) FROM live_refresh WHERE kind=?1 GROUP BY parent, id)",
        [&](Statement& s) { s.Bind(1, kind); }, ReadLive);
    if (!refreshes) return Fail(std::move(refreshes.error()));
    ApplyRefreshes(*rows, *refreshes);
    return rows;
  }

  Result<std::vector<CatalogDoc>> Docs(std::string_view kind) override {
    return ReadAll<CatalogDoc>(
        "SELECT kind, id, parent, body, updated_at FROM catalog WHERE kind=? ORDER BY id",
        [&](Statement& s) { s.Bind(1, kind); },
        [](const Statement& s) {
          return CatalogDoc{s.Text(0), s.Text(1), s.Text(2), s.Object(3), s.Int(4)};
        });
  }

  Result<std::int64_t> CatalogVersion() override {
    auto v = ReadAll<std::int64_t>(
        "SELECT coalesce((SELECT max(updated_at) FROM catalog), 0) + coalesce((SELECT "
        "CAST(value AS INTEGER) FROM settings WHERE name='catalog.deleted'), 0)",
        [](Statement&) {}, [](const Statement& s) { return s.Int(0); });
    if (!v) return Fail(std::move(v.error()));
    return v->empty() ? 0 : v->front();
  }

  Result<std::optional<EscalationRow>> Escalation(std::int64_t incident_seq) override {
    static const std::string sql =
        "SELECT " + std::string(kEscalationColumns) + " FROM escalations WHERE incident_seq=?";
    return First<EscalationRow>(sql, incident_seq, ReadEscalation);
  }

  Result<std::vector<NotificationRow>> Notifications(std::int64_t incident_seq) override {
    static const std::string sql = "SELECT " + std::string(kNotificationColumns) +
                                   " FROM notifications WHERE incident_seq=? ORDER BY seq";
    return ReadAll<NotificationRow>(
        sql, [&](Statement& s) { s.Bind(1, incident_seq); }, ReadNotification);
  }

  Result<std::optional<NotificationRow>> Notification(std::int64_t seq) override {
    static const std::string sql =
        "SELECT " + std::string(kNotificationColumns) + " FROM notifications WHERE seq=?";
    return First<NotificationRow>(sql, seq, ReadNotification);
  }

  Result<std::int64_t> NextPagingWork() override {
    auto v = ReadAll<std::int64_t>(
        "SELECT min(coalesce((SELECT min(run_at) FROM jobs), 9223372036854775807), "
        "coalesce((SELECT min(due_at) FROM notifications WHERE status='pending'), "
        "9223372036854775807), coalesce((SELECT min(lease_until) FROM notifications WHERE "
        "status='sending'), 9223372036854775807), coalesce((SELECT min(due_at) FROM live WHERE "
        "due_at>0), 9223372036854775807), coalesce((SELECT updated_at+1000000000 FROM "
        "live_refresh ORDER BY seq LIMIT 1), 9223372036854775807))",
        [](Statement&) {}, [](const Statement& s) { return s.Int(0); });
    if (!v) return Fail(std::move(v.error()));
    return v->empty() ? INT64_MAX : v->front();
  }

  Result<std::string> SharedSetting(std::string_view name, std::string_view candidate) override {
    if (auto st = WriteOne("INSERT INTO settings (name, value) VALUES (?,?) ON CONFLICT(name) DO "
                           "NOTHING",
                           [&](Statement& s) { s.Bind(1, name).Bind(2, candidate); });
        !st) {
      return Fail(std::move(st.error()));
    }
    auto v = ReadAll<std::string>(
        "SELECT value FROM settings WHERE name=?", [&](Statement& s) { s.Bind(1, name); },
        [](const Statement& s) { return s.Text(0); });
    if (!v) return Fail(std::move(v.error()));
    if (v->empty()) return Fail(errc::kInternal, "setting " + std::string(name) + " vanished");
    return v->front();
  }

  Status InsertIntegration(const IntegrationRow& i) override {
    return WriteOne(
        "INSERT INTO integrations (id, service_id, name, kind, key_hash, key_prefix, created_at, "
        "revoked_at) VALUES (?,?,?,?,?,?,?,?)",
        [&](Statement& s) {
          s.Bind(1, i.id)
              .Bind(2, i.service_id)
              .Bind(3, i.name)
              .Bind(4, i.kind)
              .Bind(5, i.key_hash)
              .Bind(6, i.key_prefix)
              .Bind(7, i.created_at)
              .Bind(8, i.revoked_at);
        });
  }

  Status RevokeIntegration(std::string_view id, std::int64_t at) override {
    return WriteOne("UPDATE integrations SET revoked_at=? WHERE id=? AND revoked_at=0",
                    [&](Statement& s) { s.Bind(1, at).Bind(2, id); });
  }

  Result<std::vector<IntegrationRow>> Integrations(std::string_view service_id) override {
    return ReadAll<IntegrationRow>(
        "SELECT id, service_id, name, kind, key_hash, key_prefix, created_at, revoked_at "
        "FROM integrations WHERE service_id=? ORDER BY id",
        [&](Statement& s) { s.Bind(1, service_id); }, ReadIntegration);
  }

  Result<std::optional<IntegrationRow>> IntegrationByKeyHash(std::string_view hash) override {
    auto all = ReadAll<IntegrationRow>(
        "SELECT id, service_id, name, kind, key_hash, key_prefix, created_at, revoked_at "
        "FROM integrations WHERE key_hash=?",
        [&](Statement& s) { s.Bind(1, hash); }, ReadIntegration);
    if (!all) return Fail(std::move(all.error()));
    if (all->empty()) return std::optional<IntegrationRow>();
    return std::optional<IntegrationRow>(std::move(all->front()));
  }

  Result<std::int64_t> DeleteExpired(std::int64_t incidents_before,
                                     std::int64_t alerts_before) override {
    auto deleted = DeleteExpiredUnsynced(incidents_before, alerts_before);
    if (!deleted) return deleted;
    if (auto st = Sync(); !st) return Fail(std::move(st.error()));
    return deleted;
  }

  Result<std::int64_t> DeleteExpiredUnsynced(std::int64_t incidents_before,
                                             std::int64_t alerts_before) {
    std::int64_t deleted = 0;
    // Batches of 1000 keep each write transaction (and the time readers wait) short.
    while (true) {
      std::int64_t n = 0;
      std::lock_guard lock(write_mu_);
      const std::string sql =
          "BEGIN IMMEDIATE;"
          "CREATE TEMP TABLE IF NOT EXISTS doomed (seq INTEGER PRIMARY KEY);"
          "DELETE FROM doomed;"
          "INSERT INTO doomed SELECT seq FROM incidents WHERE status='resolved' AND "
          "resolved_at>0 AND resolved_at<" +
          std::to_string(incidents_before) +
          " LIMIT 1000;"
          "DELETE FROM timeline WHERE incident_seq IN (SELECT seq FROM doomed);"
          "WITH RECURSIVE chain(seq) AS (SELECT last_alert_seq FROM incidents WHERE seq IN "
          "(SELECT seq FROM doomed) AND last_alert_seq>0 UNION SELECT a.prev_seq FROM alerts "
          "a JOIN chain ON a.seq=chain.seq WHERE a.prev_seq>0) "
          "DELETE FROM alerts WHERE seq IN chain;"
          "DELETE FROM escalations WHERE incident_seq IN (SELECT seq FROM doomed);"
          "DELETE FROM notifications WHERE incident_seq IN (SELECT seq FROM doomed);"
          "DELETE FROM jobs WHERE incident_seq IN (SELECT seq FROM doomed);"
          "DELETE FROM incidents WHERE seq IN (SELECT seq FROM doomed);";
      if (auto st = writer_->Exec(sql); !st) {
        (void)writer_->Exec("ROLLBACK");
        return Fail(std::move(st.error()));
      }
      n = writer_->Changes();
      if (auto st = writer_->Exec("COMMIT"); !st) {
        (void)writer_->Exec("ROLLBACK");
        return Fail(std::move(st.error()));
      }
      deleted += n;
      if (n < 1000) break;
    }
    std::lock_guard lock(write_mu_);
    const std::string sql =
        // Unlinked alerts, held resolves included: one received before the cutoff (a year
        // ago by default) is long past its few minutes of hold.
        "DELETE FROM alerts WHERE incident_seq=0 AND received_at<" + std::to_string(alerts_before);
    if (auto st = writer_->Exec(sql); !st) return Fail(std::move(st.error()));
    return deleted;
  }

 private:
  static IntegrationRow ReadIntegration(const Statement& s) {
    return IntegrationRow{s.Text(0), s.Text(1), s.Text(2), s.Text(3),
                          s.Text(4), s.Text(5), s.Int(6),  s.Int(7)};
  }

  // How a search reads its candidates.
  struct SearchPlan {
    bool none = false;  // a trigram is in no incident: nothing can match
    std::string match;  // the FTS5 query naming the candidates; "": walk the incidents
  };

  // The FTS5 query that names a search's candidates: the kSearchTrigrams trigrams of the text
  // found in the fewest incidents where the query starts reading (the newest, or the oldest,
  // within its bounds), each probed by reading up to kSearchProbeRows of its rowids. Any of
  // the text's trigrams would do (an incident holding the text holds them all); the rarest
  // make the fewest candidates to check. No query when every trigram is dense there
  // (kSearchDenseSpan).
  static Result<SearchPlan> PlanSearch(Connection& c, const std::vector<std::string>& trigrams,
                                       const IncidentFilter& f) {
    std::string sql = "SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ?";
    if (f.before_seq > 0) sql += " AND rowid<?";
    if (f.after_seq > 0) sql += " AND rowid>?";
    sql += f.oldest_first ? " ORDER BY rowid ASC LIMIT ?" : " ORDER BY rowid DESC LIMIT ?";
    struct Probe {
      std::int64_t found = 0;  // rowids read (fewer than asked: all there are)
      std::int64_t span = 0;   // rowids between the first and the last read
      const std::string* trigram = nullptr;
    };
    std::vector<Probe> probes;
    const std::size_t step = (trigrams.size() + kSearchProbes - 1) / kSearchProbes;
    for (std::size_t k = 0; k < trigrams.size(); k += step) {
      auto s = c.Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      const std::string term = FtsString(trigrams[k]);
      int i = 1;
      (*s)->Bind(i++, term);
      if (f.before_seq > 0) (*s)->Bind(i++, f.before_seq);
      if (f.after_seq > 0) (*s)->Bind(i++, f.after_seq);
      (*s)->Bind(i, kSearchProbeRows);
      Probe p{0, 0, &trigrams[k]};
      std::int64_t first = 0;
      while (true) {
        auto row = (*s)->Step();
        if (!row) return Fail(std::move(row.error()));
        if (!*row) break;
        const std::int64_t rowid = (*s)->Int(0);
        if (p.found++ == 0) first = rowid;
        p.span = (rowid > first ? rowid - first : first - rowid) + 1;
      }
      if (p.found == 0) return SearchPlan{true, {}};
      probes.push_back(p);
    }
    // Rarest first: a trigram with fewer incidents than a probe reads, by their number; then
    // the ones whose first kSearchProbeRows incidents spread the widest.
    std::sort(probes.begin(), probes.end(), [](const Probe& a, const Probe& b) {
      const bool a_all = a.found < kSearchProbeRows, b_all = b.found < kSearchProbeRows;
      if (a_all != b_all) return a_all;
      return a_all ? a.found < b.found : a.span > b.span;
    });
    const Probe& rarest = probes.front();
    if (rarest.found == kSearchProbeRows && rarest.span <= kSearchDenseSpan) return SearchPlan{};
    SearchPlan plan;
    for (std::size_t k = 0; k < probes.size() && k < kSearchTrigrams; ++k) {
      if (k > 0) plan.match += " AND ";
      plan.match += FtsString(*probes[k].trigram);
    }
    return plan;
  }

  static std::string EscapeLike(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }

  template <class BindFn>
  Status WriteOne(std::string_view sql, BindFn bind) {
    {
      std::lock_guard lock(write_mu_);
      auto s = writer_->Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      bind(**s);
      if (auto st = (*s)->Run(); !st) return st;
    }
    return Sync();
  }

  template <class Row, class BindFn, class ReadFn>
  Result<std::vector<Row>> ReadAll(std::string_view sql, BindFn bind, ReadFn read) {
    return WithReader([&](Connection& c) -> Result<std::vector<Row>> {
      auto s = c.Prepare(sql);
      if (!s) return Fail(std::move(s.error()));
      bind(**s);
      return StepAll<Row>(**s, read);
    });
  }

  // The row with this seq, if any.
  template <class Row, class ReadFn>
  Result<std::optional<Row>> First(const std::string& sql, std::int64_t seq, ReadFn read) {
    return FirstOf(ReadAll<Row>(
        sql, [&](Statement& s) { s.Bind(1, seq); }, read));
  }

  // A reader connection from the pool (opened on demand), returned after `fn`.
  template <class Fn>
  auto WithReader(Fn fn) -> decltype(fn(std::declval<Connection&>())) {
    std::unique_ptr<Connection> c;
    {
      std::lock_guard lock(readers_mu_);
      if (!readers_.empty()) {
        c = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (!c) {
      auto opened = Connection::Open(path_);
      if (!opened) return Fail(std::move(opened.error()));
      c = std::move(*opened);
      // Readers read through mmap and need little page cache; a large sort (a long timeline)
      // spills to a temporary file instead of the heap, so a read's memory stays bounded
      // however much it reads (up to 8 pooled readers, each with ~1 MB of cache).
      if (auto st = c->Exec("PRAGMA cache_size=-1024; PRAGMA temp_store=FILE;"); !st) {
        return Fail(std::move(st.error()));
      }
    }
    auto result = fn(*c);
    std::lock_guard lock(readers_mu_);
    if (readers_.size() < 8) readers_.push_back(std::move(c));
    return result;
  }

  // Called by SQLite after each commit on the writer connection, with the WAL's size in pages.
  static int WalHook(void* self, sqlite3* db, const char*, int pages) {
    auto* store = static_cast<SqliteStore*>(self);
    if (pages >= kWalStallPages) {
      // The checkpointer is not keeping up (or a long read holds the WAL): checkpoint here, as
      // SQLite's own hook would, so the WAL cannot grow without bound.
      (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      return SQLITE_OK;
    }
    if (pages >= kWalCheckpointPages) {
      {
        std::lock_guard lock(store->checkpoint_mu_);
        store->checkpoint_wanted_ = true;
      }
      store->checkpoint_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  void CheckpointLoop() {
    std::unique_ptr<Connection> c;
    std::unique_lock lock(checkpoint_mu_);
    while (true) {
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stop_ || checkpoint_wanted_; });
      if (checkpoint_stop_) return;
      checkpoint_wanted_ = false;
      lock.unlock();
      if (!c) {
        // A checkpoint fsyncs the WAL before copying and the database file before the WAL
        // may be reused (at any synchronous level but OFF).
        auto opened = Connection::Open(path_);
        if (opened) c = std::move(*opened);
      }
      // PASSIVE: copies what no reader still needs, never waits for the writer or readers.
      if (c) {
        (void)sqlite3_wal_checkpoint_v2(c->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                                        nullptr);
      }
      lock.lock();
    }
  }

  static constexpr int kWalCheckpointPages = 1000;  // SQLite's default autocheckpoint
  static constexpr int kWalStallPages = 16000;      // 64 MB of 4 KiB pages

  const std::string path_;
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;
  std::atomic<bool> search_index_{true};  // incidents_fts is there (set by Migrate)
  OpenIncidentCache open_incidents_;      // under write_mu_
  std::int64_t data_version_ = -1;        // under write_mu_
  std::string wal_path_;
  int wal_fd_ = -1;
  std::mutex sync_mu_;
  std::string sync_failure_;  // set by the first failed fdatasync, then returned by every Sync
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stop_ = false;
  std::thread checkpointer_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  auto store = std::make_unique<SqliteStore>(path);
  if (auto st = store->Open(); !st) return Fail(std::move(st.error()));
  if (auto st = store->Migrate(); !st) return Fail(std::move(st.error()));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace opsorch::engine::sqlite
