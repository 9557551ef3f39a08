// A write group's incidents held in memory, so that a group of events costs a few statements
// instead of about five per event (docs/ENGINE.md, "PostgreSQL: a group's statements").
//
// The event path's reads for every (service, dedup key) of the group are answered from rows
// loaded for all keys at once: the open incidents (at the start, unlocked: a write checks that
// the row is still the version read; the writer's OpenIncidentCache answers for the keys it
// holds, checked the same way), the newest resolved incident and the held resolves of each key
// (locked, on first use). Its writes (new incidents, their state changes, alerts, timeline
// entries) are kept and written by Flush in one statement of multi-row inserts and updates,
// sent without waiting: the server checks it, and its answer comes with the COMMIT's. Numbers for
// new incidents and alerts are taken from their sequences a block at a time, so an unused number is
// skipped (PostgreSQL's own identity columns skip numbers on a rollback too).
//
// What the model cannot answer exactly (a key whose newest resolved incident it reopened, a third
// held resolve, a whole-row update of an incident it loaded) it does not guess: the key is
// demoted, the model's writes are flushed and the caller runs its statement as before.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/engine/store.h>

#include "engine/postgres/pg_db.h"
#include "engine/postgres/pg_rows.h"

namespace opsorch::engine::postgres {

// The (service, dedup key) pairs of a write group.
using KeySet = std::set<std::pair<std::string, std::string>>;

// A (service, dedup key) pair as GroupModel::ModelKey() joins it ("service\0key"), looked up
// without joining it: every event asks a few times, and a joined key was an allocation each.
struct KeyRef {
  std::string_view service, key;
};
struct ModelKeyHash {
  using is_transparent = void;
  // FNV-1a over service, a NUL, key: the same for a joined key and its parts.
  static std::size_t Of(std::string_view service, std::string_view key) {
    std::uint64_t h = 14695981039346656037ull;
    const auto mix = [&h](std::string_view s) {
      for (const char ch : s) {
        h ^= static_cast<unsigned char>(ch);
        h *= 1099511628211ull;
      }
    };
    mix(service);
    h *= 1099511628211ull;  // the NUL between them
    mix(key);
    return static_cast<std::size_t>(h);
  }
  std::size_t operator()(std::string_view joined) const {
    const std::size_t nul = joined.find('\0');  // service ids never hold one
    if (nul == std::string_view::npos) return Of(joined, {});
    return Of(joined.substr(0, nul), joined.substr(nul + 1));
  }
  std::size_t operator()(const std::string& joined) const {
    return (*this)(std::string_view(joined));
  }
  std::size_t operator()(KeyRef r) const { return Of(r.service, r.key); }
};
struct ModelKeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  bool operator()(std::string_view joined, KeyRef r) const {
    return joined.size() == r.service.size() + 1 + r.key.size() &&
           joined.substr(0, r.service.size()) == r.service && joined[r.service.size()] == '\0' &&
           joined.substr(r.service.size() + 1) == r.key;
  }
  bool operator()(KeyRef r, std::string_view joined) const { return (*this)(joined, r); }
};

// What a writer's committed groups left of their keys' open incidents (the state columns, the
// timeline count and the row version, xmin), kept from one group to the next so that a group
// whose keys are all here reads nothing before its units run. An entry is only a belief: the
// group's flush checks the version of every row it answered from, as it does for a row it read,
// so a change made since by anyone (another node, an API call) fails the group, whose writer
// then empties the cache and runs it again with reads. Bounded in entries and bytes (titles and
// descriptions can be long), and emptied a billion transactions after its first entry: a
// version is xmin, 32 bits, which repeats after four billion.
class OpenIncidentCache {
 public:
  struct Entry {
    IncidentRow row;  // the state columns (kIncidentStateColumns), as a read gives them
    std::int64_t timeline_count = 0;
    std::int64_t xmin = 0;
    std::size_t bytes = 0;  // counted by Put
  };
  // The entry, to be moved from by a group (which either puts it back, through Put, or fails,
  // and then the writer empties the cache).
  Entry* Find(const std::string& model_key) {
    const auto it = map_.find(model_key);
    return it == map_.end() ? nullptr : &it->second;
  }
  void Put(const std::string& model_key, Entry e) {
    const IncidentRow& r = e.row;
    e.bytes = model_key.size() + r.id.size() + r.service_id.size() + r.dedup_key.size() +
              r.title.size() + r.description.size() + r.status.size() + r.urgency.size() +
              r.severity.size() + r.source.size() + 256;
    // In place when the key is there (every group puts back what it took): one lookup, no
    // node made or freed.
    auto it = map_.find(model_key);
    const std::size_t old = it == map_.end() ? 0 : it->second.bytes;
    if ((it == map_.end() && map_.size() >= kMaxEntries) || bytes_ - old + e.bytes > kMaxBytes) {
      Clear();
      it = map_.end();
    }
    bytes_ += e.bytes;
    if (e.xmin == kPendingXmin) pending_.push_back(model_key);
    if (it == map_.end()) {
      map_.emplace(model_key, std::move(e));
    } else {
      bytes_ -= old;
      it->second = std::move(e);
    }
  }
  // An entry put with this version was written by the group in flight: its version, that
  // group's xid, is known once the group has landed (Settle), or never (Clear).
  static constexpr std::int64_t kPendingXmin = -1;
  // Whether every key of `keys` that has a dedup key is here.
  bool Holds(const KeySet& keys) const;
  // The group in flight committed with this xmin: its entries get it.
  void Settle(std::int64_t xmin) {
    for (const std::string& mk : pending_) {
      const auto it = map_.find(mk);
      if (it != map_.end() && it->second.xmin == kPendingXmin) it->second.xmin = xmin;
    }
    pending_.clear();
  }
  void Erase(const std::string& model_key) {
    const auto it = map_.find(model_key);
    if (it == map_.end()) return;
    bytes_ -= it->second.bytes;
    map_.erase(it);
  }
  void Clear() {
    map_.clear();
    pending_.clear();
    bytes_ = 0;
    first_txid_ = 0;
  }
  // Before a group's entries are put: `txid`, its transaction's full id (txid_current()).
  void Age(std::int64_t txid) {
    if (first_txid_ != 0 && txid - first_txid_ > kMaxAge) Clear();
    if (first_txid_ == 0) first_txid_ = txid;
  }
  std::size_t size() const { return map_.size(); }
  static constexpr std::size_t kMaxEntries = 1 << 16;
  static constexpr std::size_t kMaxBytes = 64 << 20;
  static constexpr std::int64_t kMaxAge = 1'000'000'000;

 private:
  std::unordered_map<std::string, Entry, ModelKeyHash, ModelKeyEq> map_;  // by ModelKey()
  std::vector<std::string> pending_;  // keys put with kPendingXmin since the last Settle
  std::size_t bytes_ = 0;
  std::int64_t first_txid_ = 0;
};

class GroupModel {
 public:
  // `unit_keys`: each unit's first key as ModelKey() makes it ("" for none), from the probe.
  // `cache` (may be null): open incidents known from earlier groups, answered without a read.
  GroupModel(Connection& c, std::vector<std::string> unit_keys, OpenIncidentCache* cache)
      : c_(c), unit_keys_(std::move(unit_keys)), cache_(cache) {}

  static std::string ModelKey(std::string_view service, std::string_view key);

  // Before Cover: the group runs ahead of the one in flight (pg_store.cc, "WriteGroup"). Its
  // keys are answered from the cache, copied (the cache stays whole should the run be
  // dropped), and its alerts are numbered from `alert_pool` (taken after every number this
  // writer used before; smallest last), never from a new block: the run sends no statement.
  void RunAhead(std::vector<std::int64_t> alert_pool) {
    ahead_ = true;
    alert_seqs_ = std::move(alert_pool);
  }
  bool ahead() const { return ahead_; }
  // The numbers of the pool the run left (for the next group).
  std::vector<std::int64_t> TakeAlertPool() { return std::move(alert_seqs_); }
  // The group in flight, whose rows this one took from the cache with kPendingXmin, landed
  // with `xmin`.
  void SettlePending(std::int64_t xmin);

  // The first reads of a group, sent by the caller in one round trip with its BEGIN and its lock
  // statement (Connection::Pipeline), each a statement of its own:
  // - the open incident of every key, with its row version (after the keys' lock statement, so
  //   that it sees what the keys' previous holders committed): LoadSql() with the same two arrays
  //   as the lock statement (the keys' services and dedup keys, from Cover), whose rows go to
  //   TakeLoaded;
  // - a first block of alert numbers, one per unit that named a key: BlockSql("alerts") with
  //   AlertBlockParams(), whose rows go to TakeAlertBlock;
  // - a first block of incident numbers, when earlier groups opened incidents for keys they
  //   read: BlockSql("incidents") with IncidentBlockParams(), whose rows go to
  //   TakeIncidentBlock.
  static const std::string& LoadSql();
  // The keys the model answers for (all of them have a dedup key), and the arrays of services
  // and dedup keys that the lock statement takes. The keys the cache knows are answered from
  // it; LoadParams() are the arrays of the others, for LoadSql() (none: no read is needed).
  Params Cover(const KeySet& keys);
  std::optional<Params> LoadParams();
  void TakeLoaded(const Rows& rows);
  // After the group committed: what it left of its keys goes to `cache` (`xid`: the
  // transaction's id, the version of every row it wrote, as xmin shows it; 0: unknown, and then
  // none of them). Moves the rows out: the model is done.
  void Remember(OpenIncidentCache& cache, std::int64_t xid);
  // The statement that gives a transaction's full id; xmin shows it modulo 2^32 (XminOf).
  static constexpr std::string_view kXidSql = "SELECT txid_current()";
  static std::int64_t XminOf(std::int64_t txid) { return txid & 0xffffffffLL; }
  // Whether a row answered from the cache was checked (a failed check of such a row means the
  // cache was stale, not that a unit failed).
  bool used_cache() const { return used_cache_; }
  static std::string BlockSql(std::string_view table);
  Params AlertBlockParams() const;
  void TakeAlertBlock(const Rows& rows) { AddToPool(alert_seqs_, rows); }
  // After Cover, before LoadParams: `opened_per_read` (of the keys the last group that read
  // keys read, the share that opened an incident, 0 to 1) times the keys this group reads, and
  // at most `opened` (the incidents that group opened); none if that is under one. Without it
  // the numbers come a block at a time as units open incidents (1, 2, 6, 18, …: a round trip
  // each, seven for 500 new keys); with it a group like the one before takes them with its
  // reads. Numbers it leaves are skipped (gaps, as any block's), never more than the group
  // before used.
  std::optional<Params> IncidentBlockParams(double opened_per_read, std::int64_t opened) const;
  void TakeIncidentBlock(const Rows& rows) { AddToPool(incident_seqs_, rows); }
  // The keys Cover left for the read, and the incidents the units opened (for the store's
  // `opened_per_read`).
  std::size_t read_keys() const { return read_keys_; }
  std::int64_t incidents_opened() const { return incidents_taken_; }
  // Adds a block's numbers to `pool`, kept smallest last (handed out from the back).
  static void AddToPool(std::vector<std::int64_t>& pool, const Rows& rows);
  // The unit now running (for the size of the next block of numbers).
  void SetUnit(std::size_t i) { unit_ = i; }

  // Whether the key's reads and writes are the model's (loaded and not demoted).
  bool Covers(std::string_view service, std::string_view key) const;
  bool HasIncident(std::int64_t seq) const { return incidents_.count(seq) > 0; }
  bool HasAlert(std::int64_t seq) const {
    return new_alert_index_.count(seq) > 0 || held_.count(seq) > 0;
  }

  // Reads of a covered key. nullopt from the Try* calls: the model cannot tell (the key has been
  // demoted); the caller runs its statement.
  // The key's open incident, if the model covers the key (nullopt: it does not; the caller
  // runs its statement). One lookup: every event asks.
  std::optional<std::optional<IncidentRow>> TryOpen(std::string_view service,
                                                    std::string_view key) const;
  Result<std::optional<std::optional<IncidentRow>>> TryResolvedSince(std::string_view service,
                                                                     std::string_view key,
                                                                     std::int64_t since);
  Result<std::optional<std::optional<AlertRow>>> TryTakeHeld(std::string_view service,
                                                             std::string_view key,
                                                             std::int64_t now);
  // Whether the key has no live "firing" row (engine/suppression.h): ApplyQuietly asks for every
  // event without an open incident. Loaded for every key on first use; nullopt once the group
  // wrote the key's row (the caller reads it).
  Result<std::optional<bool>> TryFiringAbsent(std::string_view service, std::string_view key);
  void TouchFiring(std::string_view service, std::string_view key);
  // A model incident read for update: only a new one is known whole (nullopt: demoted).
  Result<std::optional<IncidentRow>> TryGetForUpdate(std::int64_t seq);

  // Writes. InsertIncident needs a covered key; the others need a model incident or alert
  // (HasIncident/HasAlert), except InsertAlert, which takes any alert whose key is covered or
  // that is not held.
  Status InsertIncident(IncidentRow& row);
  // False: the model cannot apply it (the incident was demoted); the caller runs its statement.
  Result<bool> UpdateIncident(const IncidentRow& row);
  Status UpdateIncidentState(const IncidentRow& row);
  Status InsertAlert(AlertRow& row);
  // The alert of an event and the entry it caused in its incident's timeline, in one row (the
  // entry's columns tl_* of the alert): one row per event, as on SQLite. Needs a model incident
  // (the alert's and the entry's), and the entry's time equal to the alert's received_at.
  Status InsertAlertWithEntry(AlertRow& alert, TimelineRow& entry);
  Status LinkAlert(std::int64_t alert_seq, std::string_view incident_id);
  Status AppendTimeline(TimelineRow& row);

  // Writes what the model holds; the model keeps answering for its keys. Sent without waiting
  // for the server (Connection::Defer): an error, a changed row included, comes from the
  // connection's next call that waits (the caller's COMMIT, Drain, or a read).
  Status Flush();
  // Flush in two halves, for a group run ahead (pg_store.cc, "WriteGroup"), so that its
  // statement is made while the group before is in flight: Prepare makes it (the model's state
  // is as after a flush), with the versions still to come (kPendingXmin) as they are;
  // SettlePending fills them in; SendPrepared sends it (refused while any is still to come).
  Status Prepare();
  Status SendPrepared();
  // Numbers for rows the caller inserts itself while a model is in use: from the same blocks,
  // so that rows are numbered in the order the group's units made them.
  // Blocks of incident numbers start at one and double with use, never past the keys ahead
  // that have no open incident: a group of resolves for unknown keys wastes none, and numbers
  // skipped are at most those used (the SLA cache is indexed by number). A first block taken
  // with the reads (IncidentBlockParams) skips at most what the group before it used.
  Result<std::int64_t> TakeIncidentSeq() {
    ++incidents_taken_;
    return NextSeq(incident_seqs_, "incidents", [this] {
      return std::min(NewIncidentsAhead(), std::max<std::int64_t>(1, 2 * (incidents_taken_ - 1)));
    });
  }
  Result<std::int64_t> TakeAlertSeq() {
    return NextSeq(alert_seqs_, "alerts", [this] { return UnitsAhead(); });
  }

  // Flushes, then leaves the key (and its incidents) to the statements.
  Status Demote(std::string_view service, std::string_view key);

 private:
  struct Incident {
    IncidentRow row;  // the state columns; the free-form ones too when `is_new`
    std::int64_t timeline_count = 0;
    bool is_new = false;  // not in the database yet
    bool dirty = false;   // changed since loaded or flushed
    // This transaction holds its row: a new one, one it updated, a newest resolved one once
    // handed out. An open incident read at the start is not locked: its flush checks `xmin`.
    bool locked = true;
    bool written = false;   // inserted or updated by this transaction (its version: the xid)
    std::int64_t xmin = 0;  // the version read, when not locked
    std::string details_json, fields_json, metadata_json;  // a new one's, encoded once
  };
  struct Key {
    std::int64_t open = 0;  // the open incident (0: none)
    bool resolved_loaded = false;
    std::int64_t resolved_db = 0;  // the newest resolved incident in the database when loaded
    bool held_loaded = false;
    std::int64_t held_since = 0;          // the held resolves loaded were those held past this
    bool held_complete = true;            // no other held resolve past held_since in the database
    std::vector<std::int64_t> held;       // loaded held resolves, by seq
    std::vector<std::int64_t> held_new;   // held resolves of this group, by seq
    std::vector<std::int64_t> incidents;  // the model's incidents of the key
    bool demoted = false;
    bool firing_loaded = false;
    bool firing_exists = false;
    bool firing_touched = false;  // written in this group: the row's existence is the database's
  };

  Key* Find(std::string_view service, std::string_view key);
  void MarkDirty(std::int64_t seq, Incident& inc) {
    if (!inc.dirty) dirty_.push_back(seq);
    inc.dirty = true;
  }
  Status LoadResolved();
  Status LoadHeld(std::int64_t now);
  Status LoadFiring();
  // Runs a KeyedIncidents statement for the keys and hands each row, its timeline_count, its
  // version (xmin) and its key (one the model covers) to `fn`.
  template <class Fn>
  Status EachIncident(const std::string& sql, const std::vector<std::string>& services,
                      const std::vector<std::string>& dedup, Fn fn) {
    auto rows = c_.Query(sql, Params().AddArray(services).AddArray(dedup));
    if (!rows) return Fail(std::move(rows.error()));
    for (int r = 0; r < rows->size(); ++r) {
      IncidentRow row = ReadIncidentState(*rows, r);
      if (Key* k = Find(row.service_id, row.dedup_key)) {
        fn(std::move(row), rows->Int(r, 14), rows->Int(r, 15), *k);
      }
    }
    return Ok();
  }
  // The keys not demoted that `loaded` says are not loaded yet, as arrays for unnest (and marks
  // them loaded).
  template <class Loaded>
  std::pair<std::vector<std::string>, std::vector<std::string>> Unloaded(Loaded loaded);
  void AddIncident(IncidentRow row, std::int64_t timeline_count, bool is_new);
  // The next number of `table`; a new block of `want()` numbers when none is left (`want` is
  // only asked then: counting the units ahead costs a pass over them).
  template <class Want>
  Result<std::int64_t> NextSeq(std::vector<std::int64_t>& pool, std::string_view table, Want want) {
    if (pool.empty()) {
      if (auto st = TakeBlock(pool, table, want()); !st) return Fail(std::move(st.error()));
    }
    const std::int64_t seq = pool.back();
    pool.pop_back();
    return seq;
  }
  struct AlertJson;
  // InsertAlert without the flush: the alert's encoded columns, to add an entry to.
  Result<AlertJson*> AddAlert(AlertRow& row);
  Status TakeBlock(std::vector<std::int64_t>& pool, std::string_view table, std::int64_t want);
  std::int64_t NewIncidentsAhead() const;
  std::int64_t UnitsAhead() const {
    return static_cast<std::int64_t>(unit_keys_.size()) - static_cast<std::int64_t>(unit_);
  }

  Connection& c_;
  std::vector<std::string> unit_keys_;
  OpenIncidentCache* cache_;
  bool ahead_ = false;  // RunAhead
  struct Prepared {
    const std::string* sql = nullptr;  // kept for the process (FlushRows)
    Params params;
    std::vector<std::pair<int, std::int64_t>> pending;  // (parameter, element) to settle
  };
  std::optional<Prepared> prepared_;                     // Prepare's, not sent yet
  std::vector<std::string> load_services_, load_dedup_;  // the keys the cache did not know
  bool used_cache_ = false;
  std::size_t unit_ = 0;
  std::unordered_map<std::string, Key, ModelKeyHash, ModelKeyEq> keys_;
  std::unordered_map<std::int64_t, Incident> incidents_;
  std::vector<std::int64_t> dirty_;  // incidents changed since loaded or flushed
  // Alerts: those of this group not flushed yet, and loaded held resolves (with their changes).
  std::vector<AlertRow> new_alerts_;
  struct AlertJson {
    std::string details, links, images;  // encoded once, when the alert is made
    // The timeline entry kept in the alert's row (tl_n 0: none).
    std::int64_t tl_n = 0;
    std::string tl_kind, tl_body, tl_actor = "{}", tl_metadata = "{}";
  };
  std::vector<AlertJson> new_alert_json_;  // beside new_alerts_
  // What the pending rows will send, about: past kFlushBytes they are written at once, so that
  // no statement (nor libpq's buffer, nor the server's parse of it) grows with a group of large
  // events.
  std::size_t pending_bytes_ = 0;
  static constexpr std::size_t kFlushBytes = 8 << 20;
  Status MaybeFlush() { return pending_bytes_ > kFlushBytes ? Flush() : Ok(); }
  std::int64_t incidents_taken_ = 0;  // numbers used for new incidents by this model
  std::size_t read_keys_ = 0;         // keys Cover left to LoadParams
  std::unordered_map<std::int64_t, std::size_t> new_alert_index_;
  struct Held {
    AlertRow row;
    bool dirty = false;
    bool locked = false;  // read without a lock; locked (and checked) when handed out
  };
  std::unordered_map<std::int64_t, Held> held_;
  struct Entry {
    std::int64_t incident_seq, n, at;
    std::string kind, body, actor, metadata;
  };
  std::vector<Entry> new_entries_;
  std::vector<std::int64_t> incident_seqs_, alert_seqs_;  // taken, not used yet (reversed)
};

}  // namespace opsorch::engine::postgres
