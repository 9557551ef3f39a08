// A randomised replay: one generated workload of events and API writes goes through the
// incident engine on SQLite and on PostgreSQL, and everything a client can read afterwards
// (each event's answer, incidents, timelines, alerts) must be the same.
//
// Events are applied in groups, as the engine's group commit applies them: a gate (a write
// that blocks the writer) holds back the next commit while a group's Ingest calls and API
// writes are queued, so every store sees the same groups, each with many events and often
// several of one key. The SQLite run is the reference; the sqlite case runs it twice, which
// shows that the harness itself is deterministic, so a PostgreSQL difference is the store's.
//
// OPSORCH_REPLAY_SEEDS=3,99,… replays other seeds (a rewrite of a store deserves many);
// OPSORCH_REPLAY_DUMP=<dir> writes every run's lines there, to diff whole runs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/store.h>

#include "engine/rules.h"
#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1000 * kMs;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kT0 = 1'780'000'000LL * kSecond;

// Both windows active (the engine's reopen window is off by default); the clock's steps below
// cross each of them.
constexpr std::int64_t kHoldResolve = 5 * kMinute;
constexpr std::int64_t kReopenWindow = 10 * kMinute;

constexpr std::uint64_t kSeeds[] = {1, 7, 42, 20240611};
constexpr int kEventsPerSeed = 2000;
constexpr int kKeys = 12;  // per service: few, so keys repeat (and meet) all the time
const std::string kServices[] = {"svc-a", "svc-b"};
const std::string kMissing = "inc-999999999";  // no such incident

// ---- The workload --------------------------------------------------------------------------

// How far the clock moves before a group: {weight, min, max}. Zero puts two groups at one
// instant; the long steps cross the hold window and the reopen window.
struct Step {
  int weight;
  std::int64_t min, max;
};
constexpr Step kSteps[] = {{20, 0, 0},
                           {35, kMs, 5 * kSecond},
                           {18, 5 * kSecond, 2 * kMinute},
                           {12, 2 * kMinute, 8 * kMinute},
                           {15, 10 * kMinute, 40 * kMinute}};

constexpr int kActionWeights[] = {55, 15, 30};  // trigger, acknowledge, resolve
constexpr EventAction kActions[] = {EventAction::kTrigger, EventAction::kAcknowledge,
                                    EventAction::kResolve};
constexpr int kSeverityWeights[] = {15, 35, 30, 20};
constexpr Severity kSeverities[] = {Severity::kCritical, Severity::kError, Severity::kWarning,
                                    Severity::kInfo};

// The API's writes (the `local` incident provider's status changes and notes, the action
// links), queued through Engine::Submit so that they land among a group's events.
enum class ApiKind {
  kAcknowledge,
  kResolve,
  kReopen,
  kNote,
  kBackdatedNote,   // `at` in the past: it sorts before entries written earlier
  kCreate,          // an incident without a dedup key
  kFailAfterWrite,  // writes, then fails: none of it may remain
  kMissing,         // an incident that does not exist
};
struct ApiKindInfo {
  ApiKind kind;
  int weight;
  const char* name;
};
constexpr ApiKindInfo kApiKinds[] = {
    {ApiKind::kAcknowledge, 22, "acknowledge"},
    {ApiKind::kResolve, 22, "resolve"},
    {ApiKind::kReopen, 15, "reopen"},
    {ApiKind::kNote, 15, "note"},
    {ApiKind::kBackdatedNote, 7, "backdated-note"},
    {ApiKind::kCreate, 8, "create"},
    {ApiKind::kFailAfterWrite, 9, "fail-after-write"},
    {ApiKind::kMissing, 7, "missing"},
};

struct ApiWrite {
  ApiKindInfo info;
  bool recent = false;     // the target is among the newest incidents (likelier to be open)
  std::uint64_t pick = 0;  // which incident: chosen among those known when it is queued
  std::string text;
  std::int64_t back = 0;  // a backdated note's distance into the past
  Severity severity = Severity::kError;
};

// One call queued within a group: an Ingest call (its events) or one API write.
using Unit = std::variant<std::vector<Ingestion>, ApiWrite>;

struct Group {
  std::int64_t step = 0;
  std::vector<Unit> units;
};

IntegrationRow IntegrationOf(int service) {
  IntegrationRow i;
  i.service_id = kServices[service];
  i.id = "int-" + i.service_id;
  i.name = "pd " + i.service_id;
  i.kind = "events_v2";
  i.key_hash = Engine::HashKey("key-" + i.service_id);
  i.key_prefix = "key-sv";
  i.created_at = kT0;
  return i;
}

// Portable across standard libraries (std::mt19937_64 is fully specified; the distributions
// are not), so a seed names the same workload everywhere.
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  std::vector<Group> Workload(int events) {
    std::vector<Group> out;
    int made = 0;
    while (made < events) {
      Group g;
      g.step = StepOfClock();
      clock_ += g.step;
      // 1–3 Ingest calls of 1–60 events: a lone event, a few, or many.
      const int calls = 1 + Below(3);
      for (int c = 0; c < calls; ++c) {
        const int size = Pick({30, 40, 30});
        const int n = size == 0 ? 1 : size == 1 ? 2 + Below(11) : 13 + Below(48);
        g.units.emplace_back(Events(n));
        made += n;
      }
      // 0–3 API writes anywhere among them.
      const int writes = Pick({20, 30, 25, 25});
      for (int w = 0; w < writes; ++w) {
        g.units.insert(g.units.begin() + Below(static_cast<int>(g.units.size()) + 1), Api());
      }
      out.push_back(std::move(g));
    }
    return out;
  }

 private:
  int Below(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
  std::int64_t Between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool Chance(int percent) { return Below(100) < percent; }
  template <class Weights>
  int Pick(const Weights& weights) {
    int total = 0;
    for (int w : weights) total += w;
    int r = Below(total);
    int i = 0;
    for (int w : weights) {
      if (r < w) return i;
      r -= w;
      ++i;
    }
    return i - 1;
  }
  int Pick(std::initializer_list<int> weights) { return Pick<std::initializer_list<int>>(weights); }

  std::int64_t StepOfClock() {
    std::vector<int> weights;
    for (const Step& s : kSteps) weights.push_back(s.weight);
    const Step& s = kSteps[Pick(weights)];
    return Between(s.min, s.max);
  }

  std::vector<Ingestion> Events(int n) {
    std::vector<Ingestion> out;
    std::vector<std::pair<int, int>> used;  // (service, key) of this call so far
    for (int i = 0; i < n; ++i) {
      // Often a key already in this call: several events of one key in one commit. A third of
      // the keys are hot; the others go quiet long enough to leave the reopen window.
      std::pair<int, int> sk{Below(2), Chance(50) ? Below(kKeys / 3) : Below(kKeys)};
      if (!used.empty() && Chance(35)) sk = used[Below(static_cast<int>(used.size()))];
      used.push_back(sk);
      out.push_back(MakeEvent(sk.first, sk.second));
    }
    return out;
  }

  Ingestion MakeEvent(int service, int key) {
    Ingestion in;
    in.integration = IntegrationOf(service);
    engine::Event& e = in.event;
    e.action = kActions[Pick(kActionWeights)];
    e.routing_key = "key-" + kServices[service];
    e.dedup_key = "key-" + std::to_string(key);
    e.origin = "events_v2";
    if (Chance(20)) e.timestamp = Time::FromUnixNanos(clock_ - Between(0, 10 * kMinute));
    if (e.action != EventAction::kTrigger) return in;  // PagerDuty v2: no payload
    e.severity = kSeverities[Pick(kSeverityWeights)];
    e.summary = "disk " + std::to_string(Below(100)) + "% full on " + e.dedup_key;
    if (Chance(3)) {
      // Longer than a timeline body's excerpt (500 bytes), cut inside a multi-byte character.
      e.summary = std::string(499, 'x');
      for (int i = 0; i < 20; ++i) e.summary += "é✓";
    }
    if (Chance(4)) {
      // What a PostgreSQL array literal must escape or keep (the group's multi-row writes).
      e.summary = R"(say "hi" \ {a,b} NULL )" + e.dedup_key;
    }
    static const char* const kSources[] = {"", "db-1", "web-2", "naïve-host", "NULL", R"(a\"b)"};
    e.source = kSources[Below(6)];
    if (Chance(30)) e.component = "disk";
    if (Chance(20)) e.group = "storage";
    if (Chance(15)) e.class_name = "capacity";
    JsonObject details{{"free", std::to_string(Below(100)) + "%"}, {"n", Below(1000)}};
    if (Chance(20)) details["ratio"] = 0.25 * Below(8);
    if (Chance(5)) details["path"] = R"(C:\logs\"x"})";
    if (Chance(15))
      details["nested"] = JsonObject{{"b", JsonArray{1, "two", nullptr}}, {"a", true}};
    if (Chance(10)) details = JsonObject{};
    e.custom_details = std::move(details);
    if (Chance(20)) {
      e.links = JsonArray{
          JsonObject{{"href", "https://runbooks.example/" + e.dedup_key}, {"text", "runbook"}}};
    }
    if (Chance(10)) e.images = JsonArray{JsonObject{{"src", "https://img.example/1.png"}}};
    if (Chance(10)) {
      e.client = "Prometheus";
      e.client_url = "https://prom.example/graph";
    }
    return in;
  }

  ApiWrite Api() {
    std::vector<int> weights;
    for (const ApiKindInfo& k : kApiKinds) weights.push_back(k.weight);
    ApiWrite w;
    w.info = kApiKinds[Pick(weights)];
    // An old incident's reopen meets its key's newer open incident (a conflict) more often.
    w.recent = Chance(w.info.kind == ApiKind::kReopen ? 20 : 60);
    w.pick = rng_();
    w.text = std::string(w.info.name) + " " + std::to_string(Below(10'000));
    w.back = Between(0, 30 * kMinute);
    w.severity = kSeverities[Below(4)];
    return w;
  }

  std::mt19937_64 rng_;
  std::int64_t clock_ = kT0;
};

// ---- Running it ------------------------------------------------------------------------------

// Store ids in the order they first appear. PostgreSQL may skip numbers (a rolled-back insert
// still uses up its sequence value), so ids are compared by that order, never by number.
class Canon {
 public:
  std::string Incident(const std::string& id) { return Map(incidents_, "I", id); }
  std::string Alert(const std::string& id) { return Map(alerts_, "A", id); }
  bool KnowsIncident(const std::string& id) const { return incidents_.contains(id); }

  // Ids' numbers must grow in the order of first appearance (the order events created them):
  // lists are "newest first" by number.
  std::string Order() const {
    for (const auto* m : {&incidents_, &alerts_}) {
      std::vector<std::pair<int, const std::string*>> by_canon;  // canonical number, store id
      for (const auto& [raw, canon] : *m) by_canon.emplace_back(std::stoi(canon.substr(1)), &raw);
      std::sort(by_canon.begin(), by_canon.end());
      const auto number = [](const std::string* id) {
        return std::stoll(id->substr(id->find('-') + 1));
      };
      for (std::size_t i = 1; i < by_canon.size(); ++i) {
        const auto& [c0, id0] = by_canon[i - 1];
        const auto& [c1, id1] = by_canon[i];
        if (number(id1) <= number(id0)) {
          const std::string p = m == &incidents_ ? "I" : "A";
          return p + std::to_string(c1) + " is " + *id1 + ", but " + p + std::to_string(c0) +
                 " (created before it) is " + *id0;
        }
      }
    }
    return "in the order of creation";
  }

 private:
  static std::string Map(std::map<std::string, std::string>& m, const char* prefix,
                         const std::string& id) {
    if (id.empty()) return "-";
    auto [it, fresh] = m.try_emplace(id);
    if (fresh) it->second = prefix + std::to_string(m.size());
    return it->second;
  }
  std::map<std::string, std::string> incidents_, alerts_;
};

// Everything compared, flattened to (what, value) lines in a fixed order: the first line that
// differs names the seed, the incident and the field.
struct Line {
  std::string what, value;
};

std::string Json(const JsonValue& v) {
  // Sorted keys: PostgreSQL's jsonb keeps its own key order, which no client relies on.
  if (v.is_object()) {
    std::vector<const boost::json::key_value_pair*> kvs;
    for (const auto& kv : v.as_object()) kvs.push_back(&kv);
    std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    std::string out = "{";
    for (const auto* kv : kvs) {
      if (out.size() > 1) out += ",";
      out += boost::json::serialize(JsonValue(kv->key())) + ":" + Json(kv->value());
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (const auto& e : v.as_array()) out += (out.size() > 1 ? "," : "") + Json(e);
    return out + "]";
  }
  return boost::json::serialize(v);
}
std::string Json(const JsonObject& o) { return Json(JsonValue(o)); }

std::string At(std::int64_t ns) {
  if (ns == 0) return "0";
  std::ostringstream s;
  const std::int64_t d = ns - kT0;
  s << "T" << (d < 0 ? "-" : "+") << std::abs(d) / kSecond << "." << std::setw(9)
    << std::setfill('0') << std::abs(d) % kSecond;
  return s.str();
}

std::string StatusText(const Status& st) {
  if (st) return "ok";
  return "failed " + std::string(Name(st.error().code)) + ": " + st.error().message;
}

// The API write itself, as src/engine/local_providers.cc (Update, AppendTimeline, Create)
// makes it; `created` receives a created incident's id (overwritten when the store runs the
// unit again).
Status ApplyApi(Tx& tx, const ApiWrite& w, const std::string& target, std::int64_t now,
                std::string& created) {
  const JsonObject actor{{"type", "user"}, {"id", "replay@example.com"}};
  created.clear();
  if (w.info.kind == ApiKind::kCreate) {
    IncidentRow row;
    row.service_id = kServices[w.pick % 2];
    row.title = w.text;
    row.severity = std::string(Name(w.severity));
    row.urgency = std::string(UrgencyFor(w.severity));
    row.created_at = row.updated_at = now;
    row.metadata = JsonObject{{"via", "replay"}};
    if (auto st = tx.InsertIncident(row); !st) return st;
    TimelineRow t{"", row.id, now, "created", "Incident created: " + w.text, actor, {}};
    if (auto st = tx.AppendTimeline(t); !st) return st;
    created = row.id;
    return Ok();
  }
  auto found = tx.GetIncidentForUpdate(target);
  if (!found) return Fail(std::move(found.error()));
  if (!*found) return Fail(errc::kNotFound, "no such incident");
  IncidentRow row = std::move(**found);
  std::vector<TimelineRow> entries;
  row.metadata["lastWrite"] = w.info.name;
  switch (w.info.kind) {
    case ApiKind::kAcknowledge:
    case ApiKind::kResolve:
    case ApiKind::kReopen: {
      const std::string to = w.info.kind == ApiKind::kAcknowledge ? "acknowledged"
                             : w.info.kind == ApiKind::kResolve   ? "resolved"
                                                                  : "open";
      if (to == row.status) break;  // no change: only updated_at moves
      if (auto st = CheckTransition(row.status, to); !st) return st;
      const std::string from = row.status;
      row.status = to;
      std::string kind = "status_change";
      if (to == "acknowledged") {
        kind = "acknowledged";
        if (row.acknowledged_at == 0) row.acknowledged_at = now;
      } else if (to == "resolved") {
        kind = "resolved";
        row.resolved_at = now;
      } else if (from == "resolved") {
        kind = "reopened";
        row.resolved_at = row.acknowledged_at = 0;
      }
      entries.push_back(TimelineRow{"", row.id, now, kind,
                                    "Status changed from " + from + " to " + to, actor,
                                    JsonObject{{"from", from}, {"to", to}}});
      break;
    }
    case ApiKind::kNote:
    case ApiKind::kBackdatedNote:
    case ApiKind::kFailAfterWrite:
      entries.push_back(TimelineRow{"", row.id,
                                    w.info.kind == ApiKind::kBackdatedNote ? now - w.back : now,
                                    "note", w.text, actor, JsonObject{{"source", "replay"}}});
      if (w.info.kind == ApiKind::kFailAfterWrite) row.title = "never stored";
      break;
    case ApiKind::kCreate:
    case ApiKind::kMissing:
      break;
  }
  row.updated_at = now;
  if (auto st = tx.UpdateIncident(row); !st) return st;
  for (auto& e : entries) {
    if (auto st = tx.AppendTimeline(e); !st) return st;
  }
  if (w.info.kind == ApiKind::kFailAfterWrite) {
    return Fail(errc::kConflict, "refused after writing");
  }
  return Ok();
}

// Answers still to come for one group.
class Pending {
 public:
  void Add(int n) {
    std::lock_guard lock(mu_);
    left_ += n;
  }
  void Done() {
    std::lock_guard lock(mu_);
    --left_;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_ = 0;
};

// Holds the writer inside a commit of its own while the test queues the next group: when it
// opens, the writer takes everything queued as one group, the same on every store. (A retried
// commit runs it again; it is open by then.)
class Gate {
 public:
  Status Hold() {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return Ok();
  }
  void Refused() {
    std::lock_guard lock(mu_);
    refused_ = true;
    cv_.notify_all();
  }
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return entered_ || refused_; }) &&
           entered_;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false, refused_ = false;
};

struct Replayed {
  std::vector<Line> lines;
  std::map<std::string, int> seen;  // what the workload exercised (kCoverage)
  std::int64_t events = 0, groups = 0, writes = 0;
  double open_ms = 0, apply_ms = 0, read_ms = 0;
};

class Runner {
 public:
  explicit Runner(const std::vector<Group>& workload) : workload_(workload) {}

  Result<Replayed> Run(const std::string& backend) {
    const auto opening = std::chrono::steady_clock::now();
    auto store = OpenTestStore(backend);
    if (!store) return Fail(std::move(store.error()));
    for (int s = 0; s < 2; ++s) {
      if (auto st = (*store)->UpsertService(ServiceRow{
              kServices[s], "Service " + kServices[s], "", "team-a", 900, 7200, {}, kT0});
          !st) {
        return Fail(std::move(st.error()));
      }
      if (auto st = (*store)->InsertIntegration(IntegrationOf(s)); !st) {
        return Fail(std::move(st.error()));
      }
    }
    EngineOptions o;
    o.hold_resolve_ns = kHoldResolve;
    o.reopen_window_ns = kReopenWindow;
    o.retention_interval = std::chrono::minutes(0);
    o.paging_threads = false;  // nothing but the test queues writes
    o.clock = [this] { return clock_.load(); };
    auto engine = Engine::Open(o, std::move(*store));
    if (!engine) return Fail(std::move(engine.error()));
    engine_ = std::move(*engine);

    const auto start = std::chrono::steady_clock::now();
    for (std::size_t g = 0; g < workload_.size(); ++g) {
      if (auto st = RunGroup(g); !st) return Fail(std::move(st.error()));
    }
    const auto applied = std::chrono::steady_clock::now();
    if (auto st = ReadBack(); !st) return Fail(std::move(st.error()));
    const auto read = std::chrono::steady_clock::now();
    out_.open_ms = std::chrono::duration<double, std::milli>(start - opening).count();
    out_.apply_ms = std::chrono::duration<double, std::milli>(applied - start).count();
    out_.read_ms = std::chrono::duration<double, std::milli>(read - applied).count();
    out_.groups = static_cast<std::int64_t>(workload_.size());
    engine_.reset();
    return std::move(out_);
  }

 private:
  // One group: the gate holds the writer; the group's Ingest calls and API writes are queued
  // in order; the writer commits them together once the gate opens.
  Status RunGroup(std::size_t g) {
    const Group& group = workload_[g];
    // Shared with the engine's callbacks, which may outlive this call if the engine hangs.
    struct State {
      Gate gate;
      Pending pending;
      std::vector<std::vector<IngestResult>> results;
      std::vector<Status> statuses;
      std::vector<std::string> created, targets;
    };
    auto state = std::make_shared<State>();
    State& s = *state;
    s.results.resize(group.units.size());
    s.statuses.resize(group.units.size(), Ok());
    s.created.resize(group.units.size());
    s.targets.resize(group.units.size());
    s.pending.Add(1);
    engine_->Submit([state](Tx&) { return state->gate.Hold(); },
                    [state](Status st) {
                      if (!st) state->gate.Refused();
                      state->pending.Done();
                    });
    if (!s.gate.WaitEntered()) {
      s.gate.Open();  // should it get there later
      return Fail(errc::kInternal, "the writer never took the gate");
    }
    clock_ += group.step;

    for (std::size_t u = 0; u < group.units.size(); ++u) {
      s.pending.Add(1);
      if (const auto* events = std::get_if<std::vector<Ingestion>>(&group.units[u])) {
        engine_->Ingest(*events, [state, u](std::vector<IngestResult> r) {
          state->results[u] = std::move(r);
          state->pending.Done();
        });
        continue;
      }
      const ApiWrite& w = std::get<ApiWrite>(group.units[u]);
      s.targets[u] = Target(w);
      Engine* engine = engine_.get();
      engine_->Submit(
          [engine, w, state, u](Tx& tx) {
            return ApplyApi(tx, w, state->targets[u], engine->Now(), state->created[u]);
          },
          [state, u](Status st) {
            state->statuses[u] = std::move(st);
            state->pending.Done();
          });
    }
    s.gate.Open();
    if (!s.pending.Wait()) {
      return Fail(errc::kInternal, "group " + std::to_string(g) + " was not answered in 60 s");
    }
    const auto& results = s.results;
    const auto& statuses = s.statuses;
    const auto& created = s.created;
    const auto& targets = s.targets;

    // The answers, in queue order: that order also numbers the ids they name.
    for (std::size_t u = 0; u < group.units.size(); ++u) {
      const std::string unit = "group " + std::to_string(g) + " unit " + std::to_string(u);
      if (const auto* events = std::get_if<std::vector<Ingestion>>(&group.units[u])) {
        if (results[u].size() != events->size()) {
          return Fail(errc::kInternal, unit + ": " + std::to_string(results[u].size()) +
                                           " answers for " + std::to_string(events->size()));
        }
        for (std::size_t i = 0; i < events->size(); ++i) {
          const Ingestion& in = (*events)[i];
          const IngestResult& r = results[u][i];
          const std::string incident = Known(r.incident_id);
          const std::string alert = canon_.Alert(r.alert_id);
          Add(unit + " event " + std::to_string(i) + " (" + in.integration.service_id + "/" +
                  in.event.dedup_key + " " + std::string(Name(in.event.action)) + ")",
              StatusText(r.status) + " " + r.action + " incident=" + incident + " alert=" + alert +
                  " key=" + r.dedup_key);
          ++out_.seen[r.status ? "event " + r.action : "event failed"];
          if (r.action == "resolved" && in.event.action == EventAction::kTrigger) {
            ++out_.seen["trigger met its held resolve"];
          }
          const std::string key = in.integration.service_id + "/" + in.event.dedup_key;
          if (r.action == "triggered" && !had_incident_.insert(key).second) {
            ++out_.seen["trigger after the reopen window"];
          }
          if (!r.incident_id.empty()) had_incident_.insert(key);
        }
        out_.events += static_cast<std::int64_t>(events->size());
        continue;
      }
      const ApiWrite& w = std::get<ApiWrite>(group.units[u]);
      const std::string target = w.info.kind == ApiKind::kCreate ? "-"
                                 : targets[u] == kMissing        ? "missing"
                                                                 : canon_.Incident(targets[u]);
      const std::string made = Known(created[u]);
      Add(unit + " api " + w.info.name + " " + target,
          StatusText(statuses[u]) + " created=" + made);
      ++out_.seen["api " + std::string(w.info.name) + " " +
                  (statuses[u] ? "ok" : std::string(Name(statuses[u].error().code)))];
      ++out_.writes;
    }
    return Ok();
  }

  // The canonical id, remembering a new incident as a target for later API writes.
  std::string Known(const std::string& incident_id) {
    if (!incident_id.empty() && !canon_.KnowsIncident(incident_id)) {
      known_.push_back(incident_id);
    }
    return canon_.Incident(incident_id);
  }

  std::string Target(const ApiWrite& w) const {
    if (w.info.kind == ApiKind::kMissing || known_.empty()) return kMissing;
    const std::uint64_t n = known_.size();
    if (w.recent) return known_[n - 1 - w.pick % std::min<std::uint64_t>(n, 8)];
    return known_[w.pick % n];
  }

  void Add(const std::string& what, std::string value) {
    out_.lines.push_back(Line{what, std::move(value)});
  }

  JsonObject CanonMetadata(JsonObject m) {
    if (auto* id = m.if_contains("alertId"); id != nullptr && id->is_string()) {
      *id = canon_.Alert(std::string(id->as_string()));
    }
    return m;
  }

  Status ReadBack() {
    Store& store = engine_->store();
    Add("store id numbers", canon_.Order());
    IncidentFilter all;
    all.oldest_first = true;
    auto incidents = store.QueryIncidents(all);
    if (!incidents) return Fail(std::move(incidents.error()));
    Add("incidents", std::to_string(incidents->size()));
    for (const IncidentRow& r : *incidents) {
      const std::string id = canon_.Incident(r.id);
      const std::string p = "incident " + id + " (" + r.service_id + "/" + r.dedup_key + ")";
      Add(p + " service", r.service_id);
      Add(p + " dedup key", r.dedup_key);
      Add(p + " title", r.title);
      Add(p + " description", r.description);
      Add(p + " status", r.status);
      Add(p + " severity", r.severity);
      Add(p + " urgency", r.urgency);
      Add(p + " source", r.source);
      Add(p + " created", At(r.created_at));
      Add(p + " acknowledged", At(r.acknowledged_at));
      Add(p + " resolved", At(r.resolved_at));
      Add(p + " updated", At(r.updated_at));
      Add(p + " alert count", std::to_string(r.alert_count));
      Add(p + " details", Json(r.details));
      Add(p + " fields", Json(r.fields));
      Add(p + " metadata", Json(r.metadata));

      AlertFilter mine;
      mine.incident_id = r.id;
      auto alerts = store.QueryAlerts(mine);
      if (!alerts) return Fail(std::move(alerts.error()));
      std::string ids;
      for (const AlertRow& a : *alerts) ids += (ids.empty() ? "" : " ") + canon_.Alert(a.id);
      Add(p + " alerts (newest first)", ids);

      auto timeline = store.Timeline(r.id);
      if (!timeline) return Fail(std::move(timeline.error()));
      Add(p + " timeline entries", std::to_string(timeline->size()));
      for (std::size_t i = 0; i < timeline->size(); ++i) {
        const TimelineRow& t = (*timeline)[i];
        const std::string q = p + " timeline[" + std::to_string(i) + "]";
        Add(q + " id",
            t.id.starts_with(r.id + "-t") ? id + t.id.substr(r.id.size()) : "unexpected " + t.id);
        Add(q + " n", std::to_string(t.n));
        Add(q + " at", At(t.at));
        Add(q + " kind", t.kind);
        Add(q + " body", t.body);
        Add(q + " actor", Json(t.actor));
        Add(q + " metadata", Json(CanonMetadata(t.metadata)));
        if (t.metadata.contains("severityFrom")) ++out_.seen["severity raised"];
      }
      auto notes = store.TimelineOfKind(r.id, "note", 0);
      if (!notes) return Fail(std::move(notes.error()));
      std::string note_ids;
      for (const TimelineRow& t : *notes) {
        note_ids += (note_ids.empty() ? "" : " ") + t.id.substr(r.id.size());
      }
      Add(p + " notes (newest first)", note_ids);
    }

    // Every alert, newest first: linked ones with their fields, held resolves and ignored
    // events (no incident) too.
    auto alerts = store.QueryAlerts({});
    if (!alerts) return Fail(std::move(alerts.error()));
    Add("alerts", std::to_string(alerts->size()));
    for (const AlertRow& a : *alerts) {
      const std::string p =
          "alert " + canon_.Alert(a.id) + " (" + a.service_id + "/" + a.dedup_key + ")";
      Add(p + " incident", a.incident_id.empty() ? "-" : canon_.Incident(a.incident_id));
      Add(p + " service", a.service_id);
      Add(p + " integration", a.integration_id);
      Add(p + " dedup key", a.dedup_key);
      Add(p + " action", a.action);
      Add(p + " summary", a.summary);
      Add(p + " source", a.source);
      Add(p + " severity", a.severity);
      Add(p + " component/group/class", a.component + "|" + a.group + "|" + a.class_name);
      Add(p + " custom details", Json(a.custom_details));
      Add(p + " links", Json(JsonValue(a.links)));
      Add(p + " images", Json(JsonValue(a.images)));
      Add(p + " client", a.client + "|" + a.client_url);
      Add(p + " event at", At(a.event_at));
      Add(p + " received", At(a.received_at));
      Add(p + " held until", At(a.held_until));
    }

    // What SLA reports are computed from (updated_at left out: a store may keep its own).
    auto sla = store.SlaRowsUpdatedSince(0);
    if (!sla) return Fail(std::move(sla.error()));
    std::vector<std::pair<std::string, std::string>> rows;
    for (const SlaRow& s : *sla) {
      rows.emplace_back(canon_.Incident("inc-" + std::to_string(s.seq)),
                        s.service_id + " " + s.urgency + " created=" + At(s.created_at) +
                            " acknowledged=" + At(s.acknowledged_at) +
                            " resolved=" + At(s.resolved_at));
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return std::stoi(a.first.substr(1)) < std::stoi(b.first.substr(1));
    });
    Add("sla rows", std::to_string(rows.size()));
    for (auto& [id, value] : rows) Add("sla row of " + id, std::move(value));
    return Ok();
  }

  const std::vector<Group>& workload_;
  std::atomic<std::int64_t> clock_{kT0};
  std::unique_ptr<Engine> engine_;
  Canon canon_;
  std::vector<std::string> known_;      // incidents by first appearance (API write targets)
  std::set<std::string> had_incident_;  // service/key pairs that had one
  Replayed out_;
};

// For lists of ids (alerts newest first, notes): where they part.
std::string WhereListsDiffer(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string x, y;
  for (int i = 0;; ++i) {
    const bool more_a = static_cast<bool>(sa >> x), more_b = static_cast<bool>(sb >> y);
    if (!more_a && !more_b) return "";
    if (more_a && more_b && x == y) continue;
    return "\n    (from item " + std::to_string(i + 1) + ": " + (more_a ? x : "<end>") +
           " against " + (more_b ? y : "<end>") + ")";
  }
}

// "" when equal; else the first difference, readably.
std::string FirstDifference(const Replayed& want, const Replayed& got, const std::string& backend) {
  const std::size_t n = std::max(want.lines.size(), got.lines.size());
  for (std::size_t i = 0; i < n; ++i) {
    const Line end{"<nothing more>", ""};
    const Line& a = i < want.lines.size() ? want.lines[i] : end;
    const Line& b = i < got.lines.size() ? got.lines[i] : end;
    if (a.what == b.what && a.value == b.value) continue;
    std::string out = "first difference (line " + std::to_string(i + 1) + " of " +
                      std::to_string(want.lines.size()) + "):\n";
    if (a.what == b.what) {
      out += "  " + a.what + "\n    reference (sqlite): " + a.value + "\n    " + backend + ": " +
             b.value;
      if (a.what.ends_with("(newest first)")) out += WhereListsDiffer(a.value, b.value);
    } else {
      out += "  reference (sqlite): " + a.what + " = " + a.value + "\n  " + backend + ": " +
             b.what + " = " + b.value;
    }
    return out;
  }
  return "";
}

std::vector<std::uint64_t> Seeds() {
  const char* env = std::getenv("OPSORCH_REPLAY_SEEDS");
  if (env == nullptr || *env == '\0') return {std::begin(kSeeds), std::end(kSeeds)};
  std::vector<std::uint64_t> seeds;
  std::stringstream s(env);
  for (std::string part; std::getline(s, part, ',');) seeds.push_back(std::stoull(part));
  return seeds;
}

void Dump(const std::string& backend, std::uint64_t seed, const Replayed& r) {
  const char* dir = std::getenv("OPSORCH_REPLAY_DUMP");
  if (dir == nullptr || *dir == '\0') return;
  std::ofstream out(std::string(dir) + "/replay-" + std::to_string(seed) + "-" + backend + ".txt");
  for (const Line& l : r.lines) out << l.what << " = " << l.value << "\n";
}

std::string Summary(const std::string& backend, std::uint64_t seed, const Replayed& r) {
  std::ostringstream s;
  s << "[replay] seed " << seed << " on " << backend << ": " << r.events << " events and "
    << r.writes << " API writes in " << r.groups << " groups: opened in "
    << static_cast<int>(r.open_ms) << " ms, applied in " << static_cast<int>(r.apply_ms)
    << " ms, read back in " << static_cast<int>(r.read_ms) << " ms";
  return s.str();
}

// One seed: the backend's run, then the SQLite reference's.
struct SeedRuns {
  Result<Replayed> got, want;
};

SeedRuns ReplaySeed(std::uint64_t seed, const std::string& backend) {
  const std::vector<Group> workload = Generator(seed).Workload(kEventsPerSeed);
  SeedRuns r;
  // The backend first: without a PostgreSQL server the case fails at once, saying why.
  r.got = Runner(workload).Run(backend);
  if (r.got) r.want = Runner(workload).Run("sqlite");
  return r;
}

// What the reference run must have exercised, or the workload no longer tests what it claims.
const char* const kCoverage[] = {
    "event triggered",       "event deduplicated",
    "event acknowledged",    "event resolved",
    "event reopened",        "event held",
    "event ignored",         "trigger met its held resolve",
    "api acknowledge ok",    "api resolve ok",
    "api reopen ok",         "api reopen conflict",
    "api note ok",           "api backdated-note ok",
    "api create ok",         "api fail-after-write conflict",
    "api missing not_found", "trigger after the reopen window",
    "severity raised",
};

class StoreReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(StoreReplay, AGeneratedWorkloadLeavesWhatSqliteLeaves) {
  // The seeds run side by side, each on its own engine and database: a PostgreSQL run mostly
  // waits for round trips.
  const std::vector<std::uint64_t> seeds = Seeds();
  std::vector<std::future<SeedRuns>> runs;
  for (const std::uint64_t seed : seeds) {
    runs.push_back(std::async(std::launch::async, ReplaySeed, seed, GetParam()));
  }
  std::map<std::string, int> seen;  // over every seed
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const std::uint64_t seed = seeds[i];
    SCOPED_TRACE("seed " + std::to_string(seed));
    const SeedRuns r = runs[i].get();
    ASSERT_TRUE(r.got) << "seed " << seed << " on " << GetParam() << ": " << r.got.error().message;
    ASSERT_TRUE(r.want) << "seed " << seed << ", the SQLite reference: " << r.want.error().message;
    const Replayed& got = *r.got;
    const Replayed& want = *r.want;
    std::cout << Summary(GetParam(), seed, got) << "\n"
              << Summary("sqlite (reference)", seed, want) << "\n";
    Dump(GetParam(), seed, got);
    Dump("sqlite-reference", seed, want);
    for (const auto& [what, n] : want.seen) {
      seen[what] += n;
      // Events never fail here, and API writes only as the API would refuse them.
      const bool unexpected =
          what == "event failed" || (what.starts_with("api ") && !what.ends_with(" ok") &&
                                     !what.ends_with(" conflict") && !what.ends_with(" not_found"));
      EXPECT_FALSE(unexpected) << "seed " << seed << ": " << n << " × " << what;
    }
    // Each seed is compared, so that one run names every seed that fails.
    const std::string diff = FirstDifference(want, got, GetParam());
    EXPECT_TRUE(diff.empty()) << "seed " << seed << " (rerun just it: OPSORCH_REPLAY_SEEDS=" << seed
                              << "), " << GetParam() << " against sqlite, " << diff;
  }
  for (const char* what : kCoverage) {
    EXPECT_GT(seen.count(what), 0u) << "the workload never had: " << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreReplay, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace opsorch::engine
