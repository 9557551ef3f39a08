#include "engine/postgres/pg_group.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <deque>
#include <mutex>
#include <tuple>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>

#include "engine/postgres/pg_rows.h"
#include "engine/store_schema.h"

namespace opsorch::engine::postgres {
namespace {

// "$first::bigint[], $first+1::text[], …", a parameter per letter of `types` (i: bigint, t:
// text), each between `open` and `close`.
std::string ArrayParams(int first, std::string_view types, std::string_view open = "",
                        std::string_view close = "") {
  std::string out;
  for (const char t : types) {
    if (!out.empty()) out += ", ";
    out += std::string(open) + "$" + std::to_string(first++) +
           (t == 'i' ? "::bigint[]" : "::text[]") + std::string(close);
  }
  return out;
}

// Parameters sent as one value for every row (FlushRows::Take), by number.
using Folded = std::bitset<80>;

// "unnest($first::bigint[]), unnest($first+1::text[]), …": a multi-row insert's select list;
// a folded parameter is a plain "$n::text" there, the same value in every row.
std::string Unnests(int first, std::string_view types, const Folded& folded = {}) {
  std::string out;
  for (const char t : types) {
    if (!out.empty()) out += ", ";
    const int n = first++;
    const std::string type = t == 'i' ? "bigint" : "text";
    out += folded[static_cast<std::size_t>(n)]
               ? "$" + std::to_string(n) + "::" + type
               : "unnest($" + std::to_string(n) + "::" + type + "[])";
  }
  return out;
}

// A group's write (GroupModel::Flush) with the parts in `mask` (1 new incidents, 2 incident
// updates, 4 new alerts, 8 alert updates, 16 timeline rows, 32 rows read and not written, to
// check and lock), their arrays numbered in that order, then the expected counts of the parts
// that check. Inserts and the incidents' update take their rows from unnest in a select list,
// which yields them one by one (in FROM, unnest's rows are first copied into a tuplestore: 1.8
// against 0.9 ms for 1,000 rows), and the inserts return nothing: they insert every row or fail.
// The others return a row per row they found still the version read; opsorch_check (migration 9)
// fails the statement, and so the transaction, unless every row was. Parameters in `folded` are
// one value for all rows instead of an array (Unnests).
std::string FlushSql(int mask, const Folded& folded = {}) {
  int n = 1;
  std::string with;
  const auto part = [&](int bit, std::string_view name, std::string_view types, const auto& body) {
    if ((mask & bit) == 0) return;
    with += with.empty() ? "WITH " : ", ";
    with += std::string(name) + " AS (" + body(n) + ")";
    n += static_cast<int>(types.size());
  };
  part(1, "ni", "ittttttttiiiiiittt", [&](int first) {
    return "INSERT INTO incidents (seq, service_id, dedup_key, title, description, status, "
           "urgency, severity, source, created_at, acknowledged_at, resolved_at, updated_at, "
           "alert_count, timeline_count, details, fields, metadata, sla_at) OVERRIDING SYSTEM "
           "VALUE SELECT " +
           Unnests(first, "ittttttttiiiiiittt", folded) + ", " +
           Unnests(first + 12, "i", folded);  // sla_at
  });
  part(2, "ui", "itttiiiiii", [&](int first) {
    return "UPDATE incidents i SET status=u.status, urgency=u.urgency, severity=u.severity, "
           "acknowledged_at=u.ack, resolved_at=u.res, updated_at=u.upd, alert_count=u.ac, "
           "timeline_count=u.tc, sla_at=CASE WHEN i.status<>u.status OR i.urgency<>u.urgency OR "
           "i.acknowledged_at<>u.ack OR i.resolved_at<>u.res THEN u.upd ELSE i.sla_at END FROM "
           "(SELECT " +
           Unnests(first, "itttiiiiii", folded) +
           ") AS u(seq, status, urgency, severity, ack, res, upd, ac, tc, x) WHERE "
           "i.seq=u.seq AND (u.x=0 OR i.xmin::text::bigint=u.x) RETURNING 1";
  });
  part(4, "na", "iitttttttttttttttiiiitttt", [&](int first) {
    return "INSERT INTO alerts (seq, incident_seq, service_id, integration_id, dedup_key, "
           "action, summary, source, severity, component, grp, class, custom_details, links, "
           "images, client, client_url, event_at, received_at, held_until, tl_n, tl_kind, "
           "tl_body, tl_actor, tl_metadata) OVERRIDING SYSTEM VALUE SELECT " +
           Unnests(first, "iitttttttttttttttiiiitttt", folded);
  });
  part(8, "ua", "iii", [&](int first) {
    return "UPDATE alerts a SET incident_seq=u.inc, held_until=u.held FROM unnest(" +
           ArrayParams(first, "iii") + ") AS u(seq, inc, held) WHERE a.seq=u.seq RETURNING 1";
  });
  part(16, "nt", "iiitttt", [&](int first) {
    return "INSERT INTO timeline (incident_seq, n, at, kind, body, actor, metadata) SELECT " +
           Unnests(first, "iiitttt", folded);
  });
  // Rows the group read but does not write, still the version read, locked from here on (what
  // the group decided from them holds when it commits).
  part(32, "vi", "ii", [&](int first) {
    return "SELECT 1 FROM incidents i, unnest(" + ArrayParams(first, "ii") +
           ") AS v(seq, x) WHERE i.seq=v.seq AND i.xmin::text::bigint=v.x FOR SHARE OF i";
  });
  // The updates must each have found their row, still the version read: checked by the server
  // (migration 9's opsorch_check), since the writer does not wait for this statement. The
  // expected counts are the last parameters.
  std::string check;
  const auto count = [&](int bit, std::string_view cte) {
    if ((mask & bit) == 0) return;
    check += (check.empty() ? "(SELECT count(*) FROM " : " AND (SELECT count(*) FROM ") +
             std::string(cte) + ")=$" + std::to_string(n++);
  };
  count(2, "ui");
  count(8, "ua");
  count(32, "vi");
  return with + " SELECT " +
         (check.empty() ? std::string("true")
                        : "opsorch_check(" + check + ", 'rows of the group changed meanwhile')");
}

// Incidents of the keys in $1 (services) and $2 (dedup keys) that meet `condition` (and what
// follows it: order, limit, lock), by an index lookup per key (LATERAL), never a scan of the
// table for a large group.
// Columns: the state columns, timeline_count (14) and the row version's xmin (15). OFFSET 0
// keeps the subquery a lookup per key: without it the planner may flatten it into a join and
// hash the keys against a scan of the whole table.
std::string KeyedIncidents(std::string_view condition) {
  return "SELECT i.* FROM unnest($1::text[], $2::text[]) AS u(s, d) CROSS JOIN LATERAL (SELECT " +
         std::string(kIncidentStateColumns) +
         ", timeline_count, xmin::text::bigint FROM incidents WHERE service_id=u.s AND "
         "dedup_key=u.d AND dedup_key<>'' AND " +
         std::string(condition) + " OFFSET 0) AS i";
}

// The order FindResolvedSince picks in: the latest resolved_at, then the highest seq.
bool Later(const IncidentRow& a, const IncidentRow& b) {
  return std::tie(a.resolved_at, a.seq) > std::tie(b.resolved_at, b.seq);
}

}  // namespace

std::string GroupModel::ModelKey(std::string_view service, std::string_view key) {
  std::string k;
  k.reserve(service.size() + key.size() + 1);
  k.append(service);
  k.push_back('\0');  // service ids are plain names: never a NUL
  k.append(key);
  return k;
}

GroupModel::Key* GroupModel::Find(std::string_view service, std::string_view key) {
  const auto it = keys_.find(KeyRef{service, key});
  if (it == keys_.end() || it->second.demoted) return nullptr;
  return &it->second;
}

bool GroupModel::Covers(std::string_view service, std::string_view key) const {
  const auto it = keys_.find(KeyRef{service, key});
  return it != keys_.end() && !it->second.demoted;
}

void GroupModel::AddIncident(IncidentRow row, std::int64_t timeline_count, bool is_new) {
  const std::int64_t seq = row.seq;
  if (Key* k = Find(row.service_id, row.dedup_key)) k->incidents.push_back(seq);
  Incident& inc = incidents_[seq];
  inc.row = std::move(row);
  inc.timeline_count = timeline_count;
  inc.is_new = is_new;
  if (is_new) MarkDirty(seq, inc);
}

const std::string& GroupModel::LoadSql() {
  // The incidents the event path updates. Not locked (a row lock cost more than the rest of the
  // read): the keys' locks keep other writers of the event path away, and the flush updates a
  // row only if it is still the version read (its xmin), so a change by anyone else (an API
  // call) fails the group, which then runs again: without the writer's memory of its open
  // incidents if that was what changed (reading them), else with statements that lock as
  // FindOpenIncident does.
  static const std::string sql = KeyedIncidents("status<>'resolved'");
  return sql;
}

Params GroupModel::Cover(const KeySet& keys) {
  std::vector<std::string> services, dedup;
  services.reserve(keys.size());
  dedup.reserve(keys.size());
  for (const auto& [service, key] : keys) {
    if (key.empty()) continue;  // never matched by key
    std::string mk = ModelKey(service, key);
    OpenIncidentCache::Entry* e = cache_ != nullptr ? cache_->Find(mk) : nullptr;
    Key& k = keys_[std::move(mk)];
    services.push_back(service);
    dedup.push_back(key);
    if (e == nullptr) {
      load_services_.push_back(service);
      load_dedup_.push_back(key);
      ++read_keys_;
      continue;
    }
    // As TakeLoaded would have it: not locked, written back only if still this version.
    const std::int64_t seq = e->row.seq;
    k.open = seq;
    AddIncident(ahead_ ? e->row : std::move(e->row), e->timeline_count, /*is_new=*/false);
    Incident& inc = incidents_.at(seq);
    inc.locked = false;
    inc.xmin = e->xmin;
    used_cache_ = true;
  }
  return Params().AddArray(services).AddArray(dedup);
}

bool OpenIncidentCache::Holds(const KeySet& keys) const {
  for (const auto& [service, key] : keys) {
    if (!key.empty() && !map_.contains(KeyRef{service, key})) return false;
  }
  return true;
}

void GroupModel::SettlePending(std::int64_t xmin) {
  for (auto& [seq, inc] : incidents_) {
    if (inc.xmin == OpenIncidentCache::kPendingXmin) inc.xmin = xmin;
  }
  if (prepared_) {
    for (const auto& [param, element] : prepared_->pending) {
      prepared_->params.SetInt8(param, static_cast<std::size_t>(element), xmin);
    }
    prepared_->pending.clear();
  }
}

std::optional<Params> GroupModel::IncidentBlockParams(double opened_per_read,
                                                      std::int64_t opened) const {
  const auto share = static_cast<std::int64_t>(std::clamp(opened_per_read, 0.0, 1.0) *
                                               static_cast<double>(load_services_.size()));
  const std::int64_t want = std::min({share, opened, std::int64_t{10000}});
  if (want < 1) return std::nullopt;
  return Params().Add(want);
}

std::optional<Params> GroupModel::LoadParams() {
  if (load_services_.empty()) return std::nullopt;
  Params p;
  p.AddArray(load_services_).AddArray(load_dedup_);
  load_services_.clear();
  load_dedup_.clear();
  return p;
}

void GroupModel::Remember(OpenIncidentCache& cache, std::int64_t xid) {
  for (const auto& [mk, k] : keys_) {
    const auto it = k.open != 0 && !k.demoted ? incidents_.find(k.open) : incidents_.end();
    // Only an open incident whose version is known: one this transaction wrote, or one it
    // read (loaded, or from the cache) and checked or left alone.
    if (it == incidents_.end() || (!it->second.written && it->second.xmin == 0) ||
        it->second.dirty) {
      cache.Erase(mk);
      continue;
    }
    Incident& inc = it->second;
    OpenIncidentCache::Entry e;
    IncidentRow& r = e.row;
    IncidentRow& m = inc.row;
    // The state columns only, as a read gives them (a new incident's row holds more).
    r.seq = m.seq;
    r.id = std::move(m.id);
    r.service_id = std::move(m.service_id);
    r.dedup_key = std::move(m.dedup_key);
    r.title = std::move(m.title);
    r.description = std::move(m.description);
    r.status = std::move(m.status);
    r.urgency = std::move(m.urgency);
    r.severity = std::move(m.severity);
    r.source = std::move(m.source);
    r.created_at = m.created_at;
    r.acknowledged_at = m.acknowledged_at;
    r.resolved_at = m.resolved_at;
    r.updated_at = m.updated_at;
    r.alert_count = m.alert_count;
    e.timeline_count = inc.timeline_count;
    e.xmin = inc.written ? xid : inc.xmin;
    if (e.xmin == 0) {  // a version not known: nothing the flush could check against
      cache.Erase(mk);
      continue;
    }
    cache.Put(mk, std::move(e));
  }
}

void GroupModel::TakeLoaded(const Rows& rows) {
  for (int r = 0; r < rows.size(); ++r) {
    IncidentRow row = ReadIncidentState(rows, r);
    Key* k = Find(row.service_id, row.dedup_key);
    if (k == nullptr) continue;
    k->open = row.seq;
    const std::int64_t seq = row.seq;
    AddIncident(std::move(row), rows.Int(r, 14), /*is_new=*/false);
    Incident& inc = incidents_.at(seq);
    inc.locked = false;
    inc.xmin = rows.Int(r, 15);
  }
}

Params GroupModel::AlertBlockParams() const {
  std::int64_t keyed = 0;
  for (const std::string& k : unit_keys_) keyed += k.empty() ? 0 : 1;
  return Params().Add(std::clamp<std::int64_t>(keyed, 1, 10000));
}

std::optional<std::optional<IncidentRow>> GroupModel::TryOpen(std::string_view service,
                                                              std::string_view key) const {
  const auto it = keys_.find(KeyRef{service, key});
  if (it == keys_.end() || it->second.demoted) return std::nullopt;
  if (it->second.open == 0) return std::optional<IncidentRow>();
  return std::optional<IncidentRow>(incidents_.at(it->second.open).row);
}

template <class Loaded>
std::pair<std::vector<std::string>, std::vector<std::string>> GroupModel::Unloaded(Loaded loaded) {
  std::vector<std::string> services, dedup;
  for (auto& [mk, k] : keys_) {
    bool& flag = loaded(k);
    if (k.demoted || flag) continue;
    flag = true;
    const auto nul = mk.find('\0');
    services.push_back(mk.substr(0, nul));
    dedup.push_back(mk.substr(nul + 1));
  }
  return {std::move(services), std::move(dedup)};
}

Status GroupModel::LoadResolved() {
  auto [services, dedup] = Unloaded([](Key& k) -> bool& { return k.resolved_loaded; });
  if (services.empty()) return Ok();
  // Not locked: most keys never use it (TryResolvedSince locks the one it hands out).
  static const std::string sql =
      KeyedIncidents("status='resolved' ORDER BY resolved_at DESC, seq DESC LIMIT 1");
  return EachIncident(sql, services, dedup,
                      [&](IncidentRow&& row, std::int64_t tc, std::int64_t xmin, Key& k) {
                        k.resolved_db = row.seq;
                        // A row the model holds already (flushed earlier in the group) keeps the
                        // model's state.
                        if (incidents_.count(row.seq) > 0) return;
                        const std::int64_t seq = row.seq;
                        AddIncident(std::move(row), tc, /*is_new=*/false);
                        // Written back (say, a note through the API) only if still this version.
                        Incident& inc = incidents_.at(seq);
                        inc.locked = false;
                        inc.xmin = xmin;
                      });
}

Result<std::optional<std::optional<IncidentRow>>> GroupModel::TryResolvedSince(
    std::string_view service, std::string_view key, std::int64_t since) {
  using Answer = std::optional<std::optional<IncidentRow>>;
  Key* k = Find(service, key);
  if (k == nullptr) return Answer();
  if (!k->resolved_loaded) {
    if (auto st = LoadResolved(); !st) return Fail(std::move(st.error()));
  }
  // The newest resolved incident in the database, unless the model reopened it (then the one
  // before it is unknown), against every incident of the key the model resolved.
  const IncidentRow* best = nullptr;
  if (k->resolved_db != 0) {
    const IncidentRow& db = incidents_.at(k->resolved_db).row;
    if (db.status != "resolved") return Answer();
    best = &db;
  }
  for (std::int64_t seq : k->incidents) {
    const IncidentRow& row = incidents_.at(seq).row;
    if (row.status != "resolved") continue;
    if (best == nullptr || Later(row, *best)) best = &row;
  }
  if (best == nullptr || best->resolved_at < since) return Answer(std::optional<IncidentRow>());
  Incident& chosen = incidents_.at(best->seq);
  // One this group changed (resolved it, say, so that a second resolve finds it) is checked by
  // the flush's version check; the database does not know its state yet.
  if (!chosen.locked && !(chosen.dirty && chosen.xmin != 0)) {
    // Locked now, as FindResolvedSince locks it (a reopen updates it); if it changed since it
    // was read, the statements answer instead.
    static const std::string lock =
        "SELECT status, resolved_at, updated_at, alert_count, timeline_count FROM incidents "
        "WHERE seq=$1 FOR UPDATE";
    auto rows = c_.Query(lock, Params().Add(chosen.row.seq));
    if (!rows) return Fail(std::move(rows.error()));
    const IncidentRow& m = chosen.row;
    if (rows->empty() || rows->Text(0, 0) != m.status || rows->Int(0, 1) != m.resolved_at ||
        rows->Int(0, 2) != m.updated_at || rows->Int(0, 3) != m.alert_count) {
      if (auto st = Demote(service, key); !st) return Fail(std::move(st.error()));
      return Answer();
    }
    chosen.timeline_count = rows->Int(0, 4);
    chosen.locked = true;
  }
  return Answer(std::optional<IncidentRow>(chosen.row));
}

Status GroupModel::LoadHeld(std::int64_t now) {
  auto [services, dedup] = Unloaded([now](Key& k) -> bool& {
    if (!k.held_loaded) k.held_since = now;
    return k.held_loaded;
  });
  if (services.empty()) return Ok();
  // Two per key: whether a second one waits decides if the model can hand out the next. Not
  // locked: TryTakeHeld locks the one it hands out.
  static const std::string sql =
      "SELECT a.* FROM unnest($1::text[], $2::text[]) AS u(s, d) CROSS JOIN LATERAL (SELECT " +
      std::string(kAlertColumns) +
      " FROM alerts WHERE service_id=u.s AND dedup_key=u.d AND held_until>0 AND held_until>$3 "
      "ORDER BY seq LIMIT 2) AS a ORDER BY a.seq";
  auto rows = c_.Query(sql, Params().AddArray(services).AddArray(dedup).Add(now));
  if (!rows) return Fail(std::move(rows.error()));
  for (int r = 0; r < rows->size(); ++r) {
    AlertRow a = ReadAlert(*rows, r);
    Key* k = Find(a.service_id, a.dedup_key);
    if (k == nullptr) continue;
    k->held.push_back(a.seq);
    if (k->held.size() == 2) k->held_complete = false;
    held_.emplace(a.seq, Held{std::move(a), false});
  }
  return Ok();
}

Result<std::optional<std::optional<AlertRow>>> GroupModel::TryTakeHeld(std::string_view service,
                                                                       std::string_view key,
                                                                       std::int64_t now) {
  using Answer = std::optional<std::optional<AlertRow>>;
  Key* k = Find(service, key);
  if (k == nullptr) return Answer();
  if (!k->held_loaded) {
    if (auto st = LoadHeld(now); !st) return Fail(std::move(st.error()));
  }
  if (now < k->held_since) return Answer();  // the load left out rows held until before now
  for (std::int64_t seq : k->held) {
    Held& h = held_.at(seq);
    if (h.row.held_until > 0 && h.row.held_until > now) {
      if (!h.locked) {
        // Locked now, as TakeHeldResolve locks it (retention skips it meanwhile); taken or
        // linked since it was read: the statements answer instead.
        static const std::string lock =
            "SELECT held_until, incident_seq FROM alerts WHERE seq=$1 FOR UPDATE";
        auto rows = c_.Query(lock, Params().Add(seq));
        if (!rows) return Fail(std::move(rows.error()));
        if (rows->empty() || rows->Int(0, 0) != h.row.held_until || rows->Int(0, 1) != 0) {
          if (auto st = Demote(service, key); !st) return Fail(std::move(st.error()));
          return Answer();
        }
        h.locked = true;
      }
      h.row.held_until = 0;
      h.dirty = true;
      return Answer(std::optional<AlertRow>(h.row));
    }
  }
  if (!k->held_complete) return Answer();  // a third one may wait in the database
  for (std::int64_t seq : k->held_new) {
    const auto it = new_alert_index_.find(seq);
    if (it == new_alert_index_.end()) continue;
    AlertRow& a = new_alerts_[it->second];
    if (a.held_until > 0 && a.held_until > now) {
      a.held_until = 0;
      return Answer(std::optional<AlertRow>(a));
    }
  }
  return Answer(std::optional<AlertRow>());
}

Status GroupModel::LoadFiring() {
  auto [services, dedup] = Unloaded([](Key& k) -> bool& { return k.firing_loaded; });
  if (services.empty()) return Ok();
  // A lookup per key (OFFSET 0, as in KeyedIncidents).
  static const std::string sql =
      "SELECT l.* FROM unnest($1::text[], $2::text[]) AS u(s, d) CROSS JOIN LATERAL (SELECT "
      "parent, id FROM live WHERE kind='firing' AND parent=u.s AND id=u.d OFFSET 0) AS l";
  auto rows = c_.Query(sql, Params().AddArray(services).AddArray(dedup));
  if (!rows) return Fail(std::move(rows.error()));
  for (int r = 0; r < rows->size(); ++r) {
    if (Key* k = Find(rows->Text(r, 0), rows->Text(r, 1))) k->firing_exists = true;
  }
  return Ok();
}

Result<std::optional<bool>> GroupModel::TryFiringAbsent(std::string_view service,
                                                        std::string_view key) {
  Key* k = Find(service, key);
  if (k == nullptr || k->firing_touched) return std::optional<bool>();
  if (!k->firing_loaded) {
    if (auto st = LoadFiring(); !st) return Fail(std::move(st.error()));
  }
  // A row that exists is read (and locked) by the caller's statement.
  if (k->firing_exists) return std::optional<bool>();
  return std::optional<bool>(true);
}

void GroupModel::TouchFiring(std::string_view service, std::string_view key) {
  if (Key* k = Find(service, key)) k->firing_touched = true;
}

Result<std::optional<IncidentRow>> GroupModel::TryGetForUpdate(std::int64_t seq) {
  const auto it = incidents_.find(seq);
  if (it == incidents_.end()) return std::optional<IncidentRow>();
  if (it->second.is_new) return std::optional<IncidentRow>(it->second.row);
  const IncidentRow& row = it->second.row;
  if (auto st = Demote(row.service_id, row.dedup_key); !st) return Fail(std::move(st.error()));
  return std::optional<IncidentRow>();
}

std::int64_t GroupModel::NewIncidentsAhead() const {
  // The distinct keys of the units still to run that have no open incident now: each opens at
  // most one unless it resolves in between (then another block is taken).
  std::set<std::string_view> seen;
  for (std::size_t i = unit_; i < unit_keys_.size(); ++i) {
    const std::string& mk = unit_keys_[i];
    if (mk.empty()) continue;
    const auto it = keys_.find(std::string_view(mk));
    if (it == keys_.end() || it->second.demoted || it->second.open != 0) continue;
    seen.insert(mk);
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(seen.size()));
}

std::string GroupModel::BlockSql(std::string_view table) {
  // The sequence's name is resolved once per statement, not once per number (which cost more
  // than the numbers themselves): OFFSET 0 keeps the planner from pulling the subquery up into
  // the join, which evaluated it for every row.
  return "SELECT nextval(s.id) FROM (SELECT pg_get_serial_sequence('" + std::string(table) +
         "', 'seq')::regclass AS id OFFSET 0) AS s, generate_series(1, $1::bigint)";
}

void GroupModel::AddToPool(std::vector<std::int64_t>& pool, const Rows& rows) {
  for (int r = 0; r < rows.size(); ++r) pool.push_back(rows.Int(r, 0));
  // Handed out from the back, smallest first: rows are numbered in the order they are made.
  std::sort(pool.rbegin(), pool.rend());
}

Status GroupModel::TakeBlock(std::vector<std::int64_t>& pool, std::string_view table,
                             std::int64_t want) {
  auto rows = c_.Query(BlockSql(table), Params().Add(std::clamp<std::int64_t>(want, 1, 10000)));
  if (!rows) return Fail(std::move(rows.error()));
  AddToPool(pool, *rows);
  if (pool.empty()) {
    return Fail(errc::kInternal, "postgres: no sequence numbers for " + std::string(table));
  }
  return Ok();
}

Status GroupModel::InsertIncident(IncidentRow& row) {
  Key* k = Find(row.service_id, row.dedup_key);
  if (k == nullptr) return Fail(errc::kInternal, "postgres: incident insert outside the model");
  auto seq = TakeIncidentSeq();
  if (!seq) return Fail(std::move(seq.error()));
  row.seq = *seq;
  row.id = IncidentId(row.seq);
  if (row.status != "resolved") k->open = row.seq;
  AddIncident(row, 0, /*is_new=*/true);
  Incident& inc = incidents_.at(row.seq);
  AppendJsonObject(inc.details_json, row.details);
  AppendJsonObject(inc.fields_json, row.fields);
  AppendJsonObject(inc.metadata_json, row.metadata);
  pending_bytes_ += inc.details_json.size() + inc.fields_json.size() + inc.metadata_json.size() +
                    row.title.size() + row.description.size() + row.service_id.size() +
                    row.dedup_key.size() + row.source.size() + row.status.size() +
                    row.urgency.size() + row.severity.size() + 256;
  return MaybeFlush();
}

Status GroupModel::UpdateIncidentState(const IncidentRow& row) {
  Incident& inc = incidents_.at(row.seq);
  Key* k = Find(inc.row.service_id, inc.row.dedup_key);
  IncidentRow& m = inc.row;
  m.status = row.status;
  m.urgency = row.urgency;
  m.severity = row.severity;
  m.acknowledged_at = row.acknowledged_at;
  m.resolved_at = row.resolved_at;
  m.updated_at = row.updated_at;
  m.alert_count = row.alert_count;
  MarkDirty(row.seq, inc);
  if (k != nullptr) {
    if (m.status == "resolved") {
      if (k->open == m.seq) k->open = 0;
    } else {
      k->open = m.seq;
    }
  }
  return Ok();
}

Result<bool> GroupModel::UpdateIncident(const IncidentRow& row) {
  Incident& inc = incidents_.at(row.seq);
  // Only a new incident is known whole; a loaded one would need its free-form columns.
  if (!inc.is_new || row.service_id != inc.row.service_id) {
    if (auto st = Demote(inc.row.service_id, inc.row.dedup_key); !st) {
      return Fail(std::move(st.error()));
    }
    return false;
  }
  inc.row.title = row.title;
  inc.row.description = row.description;
  inc.row.fields = row.fields;
  inc.row.metadata = row.metadata;
  inc.fields_json.clear();
  AppendJsonObject(inc.fields_json, row.fields);
  inc.metadata_json.clear();
  AppendJsonObject(inc.metadata_json, row.metadata);
  pending_bytes_ +=
      inc.fields_json.size() + inc.metadata_json.size() + row.title.size() + row.description.size();
  if (auto st = UpdateIncidentState(row); !st) return Fail(std::move(st.error()));
  if (auto st = MaybeFlush(); !st) return Fail(std::move(st.error()));
  return true;
}

Result<GroupModel::AlertJson*> GroupModel::AddAlert(AlertRow& row) {
  auto seq = TakeAlertSeq();
  if (!seq) return Fail(std::move(seq.error()));
  row.seq = *seq;
  row.id = AlertId(row.seq);
  if (row.held_until > 0) {
    Key* k = Find(row.service_id, row.dedup_key);
    if (k == nullptr) return Fail(errc::kInternal, "postgres: held alert outside the model");
    k->held_new.push_back(row.seq);
  }
  new_alert_index_[row.seq] = new_alerts_.size();
  new_alerts_.push_back(row);
  AlertJson& json = new_alert_json_.emplace_back();
  AppendJsonObject(json.details, row.custom_details);
  AppendJsonValue(json.links, JsonValue(row.links));
  AppendJsonValue(json.images, JsonValue(row.images));
  // Every column counts: the early flush is what keeps a group's arrays bounded.
  pending_bytes_ += json.details.size() + json.links.size() + json.images.size() +
                    row.service_id.size() + row.integration_id.size() + row.dedup_key.size() +
                    row.action.size() + row.summary.size() + row.source.size() +
                    row.severity.size() + row.component.size() + row.group.size() +
                    row.class_name.size() + row.client.size() + row.client_url.size() + 256;
  return &json;
}

Status GroupModel::InsertAlert(AlertRow& row) {
  if (auto json = AddAlert(row); !json) return Fail(std::move(json.error()));
  return MaybeFlush();
}

Status GroupModel::InsertAlertWithEntry(AlertRow& a, TimelineRow& t) {
  const std::int64_t seq = SeqOf(t.incident_id, "inc-");
  Incident& inc = incidents_.at(seq);
  auto added = AddAlert(a);
  if (!added) return Fail(std::move(added.error()));
  AlertJson& json = **added;
  json.tl_n = ++inc.timeline_count;
  MarkDirty(seq, inc);
  json.tl_kind = t.kind;
  json.tl_body = t.body;
  json.tl_actor.clear();
  AppendJsonObject(json.tl_actor, t.actor);
  // Without "alertId": the row is the alert (ScanTimeline adds it).
  json.tl_metadata.clear();
  AppendJsonObject(json.tl_metadata, t.metadata);
  pending_bytes_ += t.kind.size() + t.body.size() + json.tl_actor.size() + json.tl_metadata.size();
  t.id = t.incident_id + "-t" + std::to_string(json.tl_n);
  return MaybeFlush();
}

Status GroupModel::LinkAlert(std::int64_t alert_seq, std::string_view incident_id) {
  if (const auto it = new_alert_index_.find(alert_seq); it != new_alert_index_.end()) {
    new_alerts_[it->second].incident_id = std::string(incident_id);
    return Ok();
  }
  Held& h = held_.at(alert_seq);
  h.row.incident_id = std::string(incident_id);
  h.dirty = true;
  return Ok();
}

Status GroupModel::AppendTimeline(TimelineRow& t) {
  const std::int64_t seq = SeqOf(t.incident_id, "inc-");
  Incident& inc = incidents_.at(seq);
  const std::int64_t n = ++inc.timeline_count;
  MarkDirty(seq, inc);
  std::string actor, metadata;
  AppendJsonObject(actor, t.actor);
  AppendJsonObject(metadata, t.metadata);
  pending_bytes_ += t.kind.size() + t.body.size() + actor.size() + metadata.size() + 64;
  new_entries_.push_back(
      Entry{seq, n, t.at, t.kind, t.body, std::move(actor), std::move(metadata)});
  t.id = t.incident_id + "-t" + std::to_string(n);
  return MaybeFlush();
}

namespace {

// The fold patterns (parts, parameters sent as one value) flush statements were made with:
// each is a statement text that every connection prepares and keeps (Connection's cache holds
// 256 and never evicts), and which columns hold one value is up to the senders. Past kMax
// patterns a group folds as the known one of its parts that folds the most of its constant
// columns and no other (or none).
class FoldPatterns {
 public:
  static constexpr std::size_t kMax = 32;
  // The statement for parts `mask` with the `constant` parameters available to fold; sets
  // `folded` to those it folds. Texts are made once and kept (as long as the process).
  const std::string* Choose(int mask, const Folded& constant, Folded& folded) {
    static const auto plain = [] {
      std::array<std::string, 64> out;
      for (int m = 1; m < 64; ++m) out[static_cast<std::size_t>(m)] = FlushSql(m);
      return out;
    }();
    folded.reset();
    if (constant.none()) return &plain[static_cast<std::size_t>(mask)];
    std::lock_guard lock(mu_);
    const Known* best = nullptr;
    for (const Known& k : known_) {
      if (k.mask != mask) continue;
      if (k.folded == constant) {
        folded = constant;
        return &k.sql;
      }
      if ((k.folded & ~constant).none() &&
          (best == nullptr || k.folded.count() > best->folded.count())) {
        best = &k;
      }
    }
    if (known_.size() < kMax) {
      folded = constant;
      return &known_.emplace_back(Known{mask, constant, FlushSql(mask, constant)}).sql;
    }
    if (best == nullptr) return &plain[static_cast<std::size_t>(mask)];
    folded = best->folded;
    return &best->sql;
  }

 private:
  struct Known {
    int mask;
    Folded folded;
    std::string sql;
  };
  std::mutex mu_;
  std::deque<Known> known_;  // never erased: the texts' addresses hold
};

// One flush statement's rows: each part's column arrays, typed as the statement's casts say.
struct FlushRows {
  static constexpr BinaryArray::Type I = BinaryArray::kInt8, T = BinaryArray::kText;
  BinaryArray ni[18] = {I, T, T, T, T, T, T, T, T, I, I, I, I, I, I, T, T, T};
  BinaryArray ui[10] = {I, T, T, T, I, I, I, I, I, I};
  BinaryArray na[25] = {I, I, T, T, T, T, T, T, T, T, T, T, T, T, T, T, T, I, I, I, I, T, T, T, T};
  BinaryArray ua[3] = {I, I, I};
  BinaryArray nt[7] = {I, I, I, T, T, T, T};
  BinaryArray vi[2] = {I, I};
  std::int64_t n_ni = 0, n_ui = 0, n_na = 0, n_ua = 0, n_nt = 0, n_vi = 0;

  bool empty() const { return n_ni + n_ui + n_na + n_ua + n_nt + n_vi == 0; }
  // Calls f(arrays, present, foldable, versions) for each part in the statement's order:
  // `foldable`, whether its constant columns may go as one value (not the parts unnested in
  // FROM); `versions`, its column of versions checked (-1: none).
  template <typename F>
  void ForEachPart(F&& f) {
    f(ni, n_ni > 0, true, -1);
    f(ui, n_ui > 0, true, 9);
    f(na, n_na > 0, true, -1);
    f(ua, n_ua > 0, false, -1);
    f(nt, n_nt > 0, true, -1);
    f(vi, n_vi > 0, false, -1);
  }
  // The parameters (0-based) of the versions checked: ui's last array, vi's last (-1: absent).
  int UiVersions() const { return n_ui > 0 ? (n_ni > 0 ? 18 : 0) + 9 : -1; }
  int ViVersions() const {
    return n_vi > 0 ? (n_ni > 0 ? 18 : 0) + (n_ui > 0 ? 10 : 0) + (n_na > 0 ? 25 : 0) +
                          (n_ua > 0 ? 3 : 0) + (n_nt > 0 ? 7 : 0) + 1
                    : -1;
  }
  // The statement (FlushSql of the parts with rows) and its parameters; takes the arrays.
  std::pair<const std::string*, Params> Take() {
    // One statement: data-modifying CTEs all run (on one snapshot; the rows each touches are
    // distinct: a new incident is inserted in its final state, never also updated). Only the
    // parts with rows are in it (a statement per combination): an empty part still costs its
    // plan's start, a tenth of a millisecond for all five, which a small group of single events
    // pays.
    const int mask = (n_ni > 0 ? 1 : 0) | (n_ui > 0 ? 2 : 0) | (n_na > 0 ? 4 : 0) |
                     (n_ua > 0 ? 8 : 0) | (n_nt > 0 ? 16 : 0) | (n_vi > 0 ? 32 : 0);
    // A column with the same value in every row (the service, the integration, the action, an
    // empty class, …: most of an alert's 25 for events from one source) goes as that value,
    // not as an array: the server decodes and unnests each array element by element, a tenth
    // of its time on a batch of single-source events. Never the first column (the rows'
    // count comes from the arrays left) nor the versions (settled in place later), nor the
    // parts unnested in FROM (ua, vi).
    Folded constant;
    int n = 1;
    ForEachPart([&](auto& arrays, bool present, bool foldable, int versions) {
      if (!present) return;
      for (std::size_t j = 0; j < std::size(arrays); ++j, ++n) {
        if (foldable && j != 0 && static_cast<int>(j) != versions && arrays[j].constant()) {
          constant[static_cast<std::size_t>(n)] = true;
        }
      }
    });
    static FoldPatterns patterns;
    Folded folded;
    const std::string* sql = patterns.Choose(mask, constant, folded);
    Params p;
    n = 1;
    ForEachPart([&](auto& arrays, bool present, bool, int) {
      if (!present) return;
      for (auto& a : arrays) {
        if (folded[static_cast<std::size_t>(n++)]) {
          p.AddFirst(std::move(a));
        } else {
          p.AddArray(std::move(a));
        }
      }
    });
    if (n_ui > 0) p.Add(n_ui);
    if (n_ua > 0) p.Add(n_ua);
    if (n_vi > 0) p.Add(n_vi);
    return {sql, std::move(p)};
  }
};

}  // namespace

Status GroupModel::Flush() {
  if (auto st = Prepare(); !st) return st;
  return SendPrepared();
}

Status GroupModel::SendPrepared() {
  if (!prepared_) return Ok();
  Prepared p = std::move(*prepared_);
  prepared_.reset();
  if (!p.pending.empty()) {
    return Fail(errc::kInternal, "postgres: a row version was never settled");
  }
  return c_.Defer(*p.sql, p.params, /*flush=*/false);  // with the caller's COMMIT
}

Status GroupModel::Prepare() {
  FlushRows f;
  std::vector<std::int64_t> ui_pending, vi_pending;  // elements whose version is to come
  for (std::int64_t seq : dirty_) {
    const Incident& inc = incidents_.at(seq);
    const IncidentRow& r = inc.row;
    auto& ni = f.ni;
    auto& ui = f.ui;
    if (inc.is_new) {
      ni[0].Add(r.seq);
      ni[1].Add(r.service_id);
      ni[2].Add(r.dedup_key);
      ni[3].Add(r.title);
      ni[4].Add(r.description);
      ni[5].Add(r.status);
      ni[6].Add(r.urgency);
      ni[7].Add(r.severity);
      ni[8].Add(r.source);
      ni[9].Add(r.created_at);
      ni[10].Add(r.acknowledged_at);
      ni[11].Add(r.resolved_at);
      ni[12].Add(r.updated_at);
      ni[13].Add(r.alert_count);
      ni[14].Add(inc.timeline_count);
      ni[15].Add(inc.details_json);
      ni[16].Add(inc.fields_json);
      ni[17].Add(inc.metadata_json);
      ++f.n_ni;
    } else {
      ui[0].Add(r.seq);
      ui[1].Add(r.status);
      ui[2].Add(r.urgency);
      ui[3].Add(r.severity);
      ui[4].Add(r.acknowledged_at);
      ui[5].Add(r.resolved_at);
      ui[6].Add(r.updated_at);
      ui[7].Add(r.alert_count);
      ui[8].Add(inc.timeline_count);
      ui[9].Add(inc.locked ? 0 : inc.xmin);  // 0: no check (this transaction holds the row)
      if (!inc.locked && inc.xmin == OpenIncidentCache::kPendingXmin) ui_pending.push_back(f.n_ui);
      ++f.n_ui;
    }
  }
  for (std::size_t i = 0; i < new_alerts_.size(); ++i) {
    const AlertRow& a = new_alerts_[i];
    const AlertJson& json = new_alert_json_[i];
    auto& na = f.na;
    na[0].Add(a.seq);
    na[1].Add(SeqOf(a.incident_id, "inc-"));
    na[2].Add(a.service_id);
    na[3].Add(a.integration_id);
    na[4].Add(a.dedup_key);
    na[5].Add(a.action);
    na[6].Add(a.summary);
    na[7].Add(a.source);
    na[8].Add(a.severity);
    na[9].Add(a.component);
    na[10].Add(a.group);
    na[11].Add(a.class_name);
    na[12].Add(json.details);
    na[13].Add(json.links);
    na[14].Add(json.images);
    na[15].Add(a.client);
    na[16].Add(a.client_url);
    na[17].Add(a.event_at);
    na[18].Add(a.received_at);
    na[19].Add(a.held_until);
    na[20].Add(json.tl_n);
    na[21].Add(json.tl_kind);
    na[22].Add(json.tl_body);
    na[23].Add(json.tl_actor);
    na[24].Add(json.tl_metadata);
    ++f.n_na;
  }
  for (const auto& [seq, h] : held_) {
    if (!h.dirty) continue;
    auto& ua = f.ua;
    ua[0].Add(seq);
    ua[1].Add(SeqOf(h.row.incident_id, "inc-"));
    ua[2].Add(h.row.held_until);
    ++f.n_ua;
  }
  for (const Entry& e : new_entries_) {
    auto& nt = f.nt;
    nt[0].Add(e.incident_seq);
    nt[1].Add(e.n);
    nt[2].Add(e.at);
    nt[3].Add(e.kind);
    nt[4].Add(e.body);
    nt[5].Add(e.actor);
    nt[6].Add(e.metadata);
    ++f.n_nt;
  }
  std::vector<Incident*> verified;
  for (auto& [seq, inc] : incidents_) {
    if (inc.locked || inc.dirty || inc.xmin == 0) continue;
    if (inc.xmin == OpenIncidentCache::kPendingXmin) vi_pending.push_back(f.n_vi);
    f.vi[0].Add(seq);
    f.vi[1].Add(inc.xmin);
    verified.push_back(&inc);
    ++f.n_vi;
  }
  if (f.empty()) return Ok();
  // Sent without waiting: the server writes these rows while the writer runs the next units.
  // If a row the model holds changed since it was read (or was deleted), the statement fails,
  // and with it the transaction: the caller runs the group again with a statement per call.
  {
    Prepared p;
    const int ui_versions = f.UiVersions(), vi_versions = f.ViVersions();
    auto [sql, params] = f.Take();
    p.sql = sql;
    p.params = std::move(params);
    for (const std::int64_t e : ui_pending) p.pending.emplace_back(ui_versions, e);
    for (const std::int64_t e : vi_pending) p.pending.emplace_back(vi_versions, e);
    prepared_ = std::move(p);
  }
  for (Incident* inc : verified) inc->locked = true;  // share-locked by the statement
  for (std::int64_t seq : dirty_) {
    Incident& inc = incidents_.at(seq);
    inc.locked = true;  // updated (or inserted) by this transaction
    inc.written = true;
    inc.is_new = false;
    inc.dirty = false;
  }
  dirty_.clear();
  for (auto& [seq, h] : held_) h.dirty = false;
  // Held resolves of this group are in the database now. A key not loaded yet finds them there;
  // a loaded one keeps them as loaded rows (after the ones loaded, unless a third may wait
  // before them: then the model no longer hands any out beyond the loaded ones).
  for (const AlertRow& a : new_alerts_) {
    if (a.held_until <= 0) continue;
    Key* k = Find(a.service_id, a.dedup_key);
    if (k == nullptr || !k->held_loaded || !k->held_complete) continue;
    k->held.push_back(a.seq);
    held_.emplace(a.seq, Held{a, false, true});
  }
  for (auto& [mk, k] : keys_) k.held_new.clear();
  new_alerts_.clear();
  new_alert_json_.clear();
  new_alert_index_.clear();
  new_entries_.clear();
  pending_bytes_ = 0;
  return Ok();
}

Status GroupModel::Demote(std::string_view service_view, std::string_view key_view) {
  // Copies: the caller's views may point into an incident this erases.
  const std::string service(service_view), key(key_view);
  if (auto st = Flush(); !st) return st;
  const auto it = keys_.find(KeyRef{service, key});
  if (it == keys_.end()) return Ok();
  it->second.demoted = true;
  for (std::int64_t seq : it->second.incidents) incidents_.erase(seq);
  std::erase_if(held_, [&](const auto& kv) {
    return kv.second.row.service_id == service && kv.second.row.dedup_key == key;
  });
  return Ok();
}

}  // namespace opsorch::engine::postgres
