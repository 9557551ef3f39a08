#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <boost/json/serialize.hpp>

#include <opsorch/common/duration.h>
#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/store.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/orchestration/runbooks.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/runtime.h>

#include "orchestration/step_call.h"

namespace opsorch::orchestration {
namespace {

namespace s = ::opsorch::schema;
using engine::LiveRow;
using engine::Tx;
using runbook::RunStatus;
using runbook::StepStatus;
using runbook::TimePoint;

// Rows of the engine's `live` table this module owns.
// A run is the row (kind "run", parent <run id>, id "r"): keyed by its parent, so that reading
// one run is a primary-key prefix read (Store::Live), not a scan of every run.
constexpr std::string_view kRunKind = "run";
constexpr std::string_view kRunRowId = "r";
constexpr std::string_view kPlanKind = "runbook";             // the current version of a plan
constexpr std::string_view kVersionKind = "runbook-version";  // every version, immutable
constexpr std::size_t kMaxFieldsBytes = 16 * 1024;            // a run's inputs
constexpr std::size_t kMaxRunbookBytes = 256 * 1024;
constexpr std::size_t kMaxRunbookFiles = 500;
constexpr std::size_t kSweepBatch = 200;
constexpr std::chrono::milliseconds kSweepEvery{250};

TimePoint Tp(std::int64_t ns) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(ns)));
}
std::int64_t Ns(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
std::optional<TimePoint> OptTp(std::int64_t ns) {
  return ns == 0 ? std::nullopt : std::optional<TimePoint>(Tp(ns));
}
Time At(std::int64_t ns) { return ns == 0 ? Time{} : Time::FromUnixNanos(ns); }

std::string PadVersion(std::int64_t v) {
  std::string s = std::to_string(v);
  return std::string(s.size() < 10 ? 10 - s.size() : 0, '0') + s;
}

// FNV-1a over the canonical text: "is this upload the current version?" across nodes.
std::int64_t Digest(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return static_cast<std::int64_t>(h >> 1);
}

StepStatus StepStatusFrom(std::string_view s) {
  for (StepStatus st : {StepStatus::kPending, StepStatus::kRunning, StepStatus::kBlocked,
                        StepStatus::kSucceeded, StepStatus::kFailed, StepStatus::kSkipped}) {
    if (runbook::StepStatusName(st) == s) return st;
  }
  return StepStatus::kPending;
}

bool Finished(std::string_view status) {
  return status == "completed" || status == "failed" || status == "cancelled";
}

// What a run keeps beside the pure state, per step.
struct StepRec {
  std::string actor, note;
  JsonValue output;  // null: none
  std::int64_t updated_at = 0;
};

struct RunDoc {
  std::string id, plan_id;
  std::int64_t version = 0;
  std::string status = "created";
  std::string incident_id, service;
  JsonObject fields, started_by;
  std::int64_t created_at = 0, updated_at = 0;
  bool finish_noted = false;  // the incident's timeline has the run's end
  runbook::RunState state;
  std::vector<StepRec> recs;
};

JsonObject Encode(const RunDoc& r) {
  JsonObject o;
  o["planId"] = r.plan_id;
  o["planVersion"] = r.version;
  o["status"] = r.status;
  if (!r.incident_id.empty()) o["incidentId"] = r.incident_id;
  if (!r.service.empty()) o["service"] = r.service;
  o["fields"] = r.fields;
  o["startedBy"] = r.started_by;
  o["createdAt"] = r.created_at;
  o["updatedAt"] = r.updated_at;
  if (r.finish_noted) o["finishNoted"] = true;
  if (r.state.cancelled) o["cancelled"] = true;
  JsonArray steps;
  for (std::size_t i = 0; i < r.state.steps.size(); ++i) {
    const runbook::StepState& st = r.state.steps[i];
    const StepRec& rec = r.recs[i];
    JsonObject s;
    s["status"] = runbook::StepStatusName(st.status);
    if (st.attempts != 0) s["attempts"] = st.attempts;
    if (st.started_at) s["startedAt"] = Ns(*st.started_at);
    if (st.finished_at) s["finishedAt"] = Ns(*st.finished_at);
    if (st.next_attempt) s["nextAttempt"] = Ns(*st.next_attempt);
    if (st.checking_since) s["checkingSince"] = Ns(*st.checking_since);
    if (!st.error.empty()) s["error"] = st.error;
    if (!rec.actor.empty()) s["actor"] = rec.actor;
    if (!rec.note.empty()) s["note"] = rec.note;
    if (!rec.output.is_null()) s["output"] = rec.output;
    if (rec.updated_at != 0) s["updatedAt"] = rec.updated_at;
    steps.push_back(std::move(s));
  }
  o["steps"] = std::move(steps);
  return o;
}

RunDoc Decode(std::string id, const JsonObject& o, std::size_t steps) {
  RunDoc r;
  r.id = std::move(id);
  r.plan_id = StringField(o, "planId");
  r.version = IntField(o, "planVersion");
  r.status = StringField(o, "status");
  r.incident_id = StringField(o, "incidentId");
  r.service = StringField(o, "service");
  r.fields = ObjectField(o, "fields");
  r.started_by = ObjectField(o, "startedBy");
  r.created_at = IntField(o, "createdAt");
  r.updated_at = IntField(o, "updatedAt");
  r.finish_noted = BoolField(o, "finishNoted");
  r.state.cancelled = BoolField(o, "cancelled");
  r.state.steps.resize(steps);
  r.recs.resize(steps);
  const JsonValue* arr = o.if_contains("steps");
  if (arr == nullptr || !arr->is_array()) return r;
  for (std::size_t i = 0; i < steps && i < arr->get_array().size(); ++i) {
    const JsonValue& v = arr->get_array()[i];
    if (!v.is_object()) continue;
    const JsonObject& s = v.get_object();
    runbook::StepState& st = r.state.steps[i];
    st.status = StepStatusFrom(StringField(s, "status"));
    st.attempts = static_cast<int>(IntField(s, "attempts"));
    st.started_at = OptTp(IntField(s, "startedAt"));
    st.finished_at = OptTp(IntField(s, "finishedAt"));
    st.next_attempt = OptTp(IntField(s, "nextAttempt"));
    st.checking_since = OptTp(IntField(s, "checkingSince"));
    st.error = StringField(s, "error");
    StepRec& rec = r.recs[i];
    rec.actor = StringField(s, "actor");
    rec.note = StringField(s, "note");
    if (const JsonValue* out = s.if_contains("output")) rec.output = *out;
    rec.updated_at = IntField(s, "updatedAt");
  }
  return r;
}

// A plan version as the runner uses it: each step's `with` decoded once, not per attempt (a
// stored version that a stricter release no longer accepts fails only the steps concerned).
struct Plan : PlanVersion {
  std::vector<Result<StepCall>> calls;  // indexed like runbook.steps
};

// One automated attempt handed to an executor thread once the transaction that claimed it is
// durable.
struct Attempt {
  std::string run_id;
  std::size_t step = 0;
  int attempt = 0;
  std::int64_t claimed_at = 0;  // ns: the transaction that started it
  std::shared_ptr<const Plan> plan;
  std::string incident_id;
  JsonObject fields;
};

struct AttemptResult {
  enum class Kind : std::uint8_t { kOk, kFail, kNotYet, kRecord } kind = Kind::kOk;
  JsonValue output;
  std::string error;  // kFail / kNotYet: why
  std::string text;   // kRecord: the timeline entry
};

// Unique across nodes and restarts: 128 random bits (libsodium), as integration keys are made.
std::string NewRunId() { return "run-" + engine::Engine::NewKey(); }

// The workflow step's input: who calls, for what, with what.
std::string StepInput(const Attempt& a, const StepCall& call) {
  JsonObject in;
  in["runId"] = a.run_id;
  in["planId"] = a.plan->runbook.id;
  in["stepId"] = a.plan->runbook.steps[a.step].id;
  in["attempt"] = a.attempt;
  if (!a.incident_id.empty()) in["incidentId"] = a.incident_id;
  in["fields"] = a.fields;
  in["input"] = call.input;
  return boost::json::serialize(in);
}

JsonValue BodyValue(const std::string& body) {
  constexpr std::size_t kMaxOutput = 64 * 1024;
  if (body.size() <= kMaxOutput) {
    // Shallow enough that the run document holding it (four levels up) still reads back.
    JsonParseOptions o;
    o.max_depth = 16;
    if (auto parsed = ParseJson(body, o)) return std::move(*parsed);
  }
  return JsonValue(std::string(Utf8Prefix(body, kMaxOutput)));
}

// An entry on the run's incident's timeline. An incident that is gone (retention) has no
// timeline: the run goes on without it.
Status AppendEntry(Tx& tx, engine::TimelineRow& e) {
  Status st = tx.AppendTimeline(e);
  if (!st && st.error().code == errc::kNotFound) return Ok();
  return st;
}

JsonArray LogsValue(const std::vector<workflow::LogLine>& logs) {
  JsonArray out;
  for (const auto& l : logs) {
    if (out.size() >= 50) break;
    out.push_back(
        JsonObject{{"level", l.level}, {"message", std::string(Utf8Prefix(l.message, 1024))}});
  }
  return out;
}

}  // namespace

struct Runbooks::Impl {
  RunbooksOptions options;
  engine::Engine& engine;
  engine::Store& store;

  std::mutex plans_mu;
  std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const Plan>> plans;

  std::mutex mu;
  std::condition_variable cv;       // executors: work queued; runner: wake
  std::condition_variable stop_cv;  // Stop: in-flight result commits answered
  std::deque<Attempt> queue;
  std::set<std::string> cancelled;  // runs cancelled through this node (queued attempts skip)
  std::size_t inflight = 0;         // result commits not yet answered (Stop waits for them)
  bool stopping = false;
  bool due_changed = false;
  bool wake = false;
  std::int64_t next_due = 0;  // ns: the earliest wake this node knows of (0: none)
  std::vector<std::thread> threads;

  // Attempts claimed and waiting for an executor (a gauge on /metrics; shared with the
  // registry's collector, which may outlive this).
  std::shared_ptr<std::atomic<std::size_t>> queued = std::make_shared<std::atomic<std::size_t>>(0);
  metrics::Counter* runs_started = nullptr;
  metrics::Counter* attempts_ok = nullptr;
  metrics::Counter* attempts_failed = nullptr;
  metrics::Counter* attempts_not_yet = nullptr;
  metrics::Counter* attempts_stale = nullptr;

  Impl(RunbooksOptions o) : options(std::move(o)), engine(*options.engine), store(engine.store()) {
    if (options.metrics != nullptr) {
      auto& m = *options.metrics;
      runs_started = &m.GetCounter("opsorch_runbook_runs_started_total",
                                   "Runbook runs started (by hand or by an incident).", {});
      constexpr std::string_view kHelp = "Automated runbook step attempts by result.";
      attempts_ok = &m.GetCounter("opsorch_runbook_attempts_total", kHelp, {{"result", "ok"}});
      attempts_failed =
          &m.GetCounter("opsorch_runbook_attempts_total", kHelp, {{"result", "failed"}});
      attempts_not_yet =
          &m.GetCounter("opsorch_runbook_attempts_total", kHelp, {{"result", "not_yet"}});
      attempts_stale =
          &m.GetCounter("opsorch_runbook_attempts_total", kHelp, {{"result", "stale"}});
      m.AddCollector([queued = queued](std::string& out) {
        out +=
            "# HELP opsorch_runbook_queued_attempts Automated runbook step attempts claimed and "
            "waiting for an executor thread (OPSORCH_RUNBOOK_THREADS).\n"
            "# TYPE opsorch_runbook_queued_attempts gauge\n"
            "opsorch_runbook_queued_attempts " +
            std::to_string(queued->load()) + "\n";
      });
    }
  }

  static void Count(metrics::Counter* c) {
    if (c != nullptr) c->Inc();
  }

  std::int64_t Now() const { return engine.Now(); }

  // ---- writes ----

  // A write whose unit may refuse the caller (not found, conflict): the refusal is reported
  // without failing the unit, because a failed unit sends the whole group commit down the
  // store's one-by-one retry path. `fn` sets `refused` (before writing anything) and returns Ok.
  Status SubmitOrRefuse(const std::function<Status(Tx&, Status& refused)>& fn) {
    auto refused = std::make_shared<Status>(Ok());
    Status st = SubmitWait([&fn, refused](Tx& tx) -> Status {
      *refused = Ok();
      return fn(tx, *refused);
    });
    if (!st) return st;
    return *refused;
  }

  // A write through the engine's writer, waited for until durable.
  Status SubmitWait(std::function<Status(Tx&)> fn) {
    auto p = std::make_shared<std::promise<Status>>();
    auto f = p->get_future();
    engine.Submit(std::move(fn), [p](Status st) { p->set_value(std::move(st)); });
    return f.get();
  }

  // ---- plans ----

  std::shared_ptr<const Plan> Cached(const std::string& id, std::int64_t version) {
    std::lock_guard lock(plans_mu);
    auto it = plans.find({id, version});
    return it == plans.end() ? nullptr : it->second;
  }

  Result<std::shared_ptr<const Plan>> FromRow(const std::string& id, const LiveRow& row) {
    auto v = std::make_shared<Plan>();
    v->doc = ObjectField(row.body, "doc");
    v->version = IntField(row.body, "version");
    v->updated_at = IntField(row.body, "updatedAt");
    v->source = StringField(row.body, "source");
    auto rb = runbook::DecodeRunbook(JsonValue(v->doc));
    if (!rb) {
      return Fail(errc::kInternal,
                  "stored runbook " + id + " version " + row.id + ": " + rb.error().message);
    }
    v->runbook = std::move(*rb);
    for (std::size_t i = 0; i < v->runbook.steps.size(); ++i) {
      v->calls.push_back(
          DecodeStepCall(v->runbook.steps[i], "steps[" + std::to_string(i) + "].with"));
    }
    std::shared_ptr<const Plan> out = v;
    std::lock_guard lock(plans_mu);
    plans.emplace(std::make_pair(id, v->version), out);
    return out;
  }

  // A version, inside a transaction.
  Result<std::shared_ptr<const Plan>> VersionIn(Tx& tx, const std::string& id,
                                                std::int64_t version) {
    if (auto hit = Cached(id, version)) return hit;
    auto row = tx.GetLive(kVersionKind, id, PadVersion(version));
    if (!row) return Fail(std::move(row.error()));
    if (!*row)
      return Fail(errc::kNotFound, "runbook " + id + " has no version " + std::to_string(version));
    return FromRow(id, **row);
  }

  // A version, outside a transaction.
  Result<std::shared_ptr<const Plan>> Version(const std::string& id, std::int64_t version) {
    if (auto hit = Cached(id, version)) return hit;
    auto rows = store.Live(kVersionKind, id);
    if (!rows) return Fail(std::move(rows.error()));
    const std::string want = PadVersion(version);
    for (const LiveRow& r : *rows) {
      if (r.id == want) return FromRow(id, r);
    }
    return Fail(errc::kNotFound, "runbook " + id + " has no version " + std::to_string(version));
  }

  Result<PlanVersion> Put(std::string_view id, std::string_view text, std::string_view source) {
    if (text.size() > kMaxRunbookBytes) {
      return Fail(errc::kBadRequest,
                  "a runbook is at most " + std::to_string(kMaxRunbookBytes / 1024) + " KiB");
    }
    // At most 32 levels: the stored version row adds its own, and every read of it must succeed.
    JsonParseOptions po;
    po.max_depth = 32;
    auto doc = ParseJson(text, po);
    if (!doc) return Fail(doc.error());
    auto rb = runbook::DecodeRunbook(*doc);
    if (!rb) return Fail(std::move(rb.error()));
    if (rb->id != id) {
      return Fail(errc::kBadRequest,
                  "id: \"" + rb->id + "\" is not the id in the path (\"" + std::string(id) + "\")");
    }
    for (std::size_t i = 0; i < rb->steps.size(); ++i) {
      auto call = DecodeStepCall(rb->steps[i], "steps[" + std::to_string(i) + "].with");
      if (!call) return Fail(std::move(call.error()));
    }
    const JsonObject obj = doc->get_object();
    const std::int64_t digest = Digest(boost::json::serialize(obj));
    const std::int64_t now = Now();
    auto out = std::make_shared<PlanVersion>();
    const std::string pid(id);
    Status st = SubmitWait([&, out](Tx& tx) -> Status {
      auto cur = tx.GetLive(kPlanKind, "", pid);
      if (!cur) return Fail(std::move(cur.error()));
      std::int64_t version = 1;
      if (*cur) {
        const bool deleted = (*cur)->state == "deleted";
        if (!deleted && IntField((*cur)->body, "digest") == digest) {
          out->version = IntField((*cur)->body, "version");
          out->updated_at = IntField((*cur)->body, "updatedAt");
          out->source = StringField((*cur)->body, "source");
          return Ok();
        }
        version = IntField((*cur)->body, "version") + 1;
      }
      LiveRow v;
      v.kind = kVersionKind;
      v.parent = pid;
      v.id = PadVersion(version);
      v.body = JsonObject{
          {"doc", obj}, {"version", version}, {"updatedAt", now}, {"source", std::string(source)}};
      v.updated_at = now;
      v.state = "version";
      if (auto s2 = tx.PutLive(v); !s2) return s2;
      LiveRow p;
      p.kind = kPlanKind;
      p.id = pid;
      p.body = JsonObject{{"version", version},
                          {"digest", digest},
                          {"updatedAt", now},
                          {"source", std::string(source)}};
      p.updated_at = now;
      p.state = "active";
      if (auto s2 = tx.PutLive(p); !s2) return s2;
      out->version = version;
      out->updated_at = now;
      out->source = std::string(source);
      return Ok();
    });
    if (!st) return Fail(std::move(st.error()));
    out->runbook = std::move(*rb);
    out->doc = obj;
    return *out;
  }

  Result<std::vector<PlanVersion>> List() {
    auto rows = store.Live(kPlanKind, "");
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<PlanVersion> out;
    for (const LiveRow& r : *rows) {
      if (r.state == "deleted") continue;
      auto v = Version(r.id, IntField(r.body, "version"));
      if (!v) {
        log::Error("runbooks: " + v.error().message);
        continue;
      }
      out.push_back(**v);
    }
    return out;
  }

  Result<std::optional<PlanVersion>> Get(std::string_view id) {
    const std::string pid(id);
    auto rows = store.Live(kPlanKind, "");
    if (!rows) return Fail(std::move(rows.error()));
    for (const LiveRow& r : *rows) {
      if (r.id != pid || r.state == "deleted") continue;
      auto v = Version(pid, IntField(r.body, "version"));
      if (!v) return Fail(std::move(v.error()));
      return std::optional<PlanVersion>(**v);
    }
    return std::optional<PlanVersion>();
  }

  Status Delete(std::string_view id) {
    const std::string pid(id);
    const std::int64_t now = Now();
    return SubmitOrRefuse([&](Tx& tx, Status& refused) -> Status {
      auto cur = tx.GetLive(kPlanKind, "", pid);
      if (!cur) return Fail(std::move(cur.error()));
      if (!*cur || (*cur)->state == "deleted") {
        refused = Fail(errc::kNotFound, "runbook " + pid + " not found");
        return Ok();
      }
      // A tombstone, not a delete: the version numbers go on if it comes back, so runs of the
      // old versions keep theirs.
      LiveRow row = std::move(**cur);
      row.state = "deleted";
      row.body["digest"] = 0;
      row.body["updatedAt"] = now;
      row.updated_at = now;
      return tx.PutLive(row);
    });
  }

  // ---- runs: the transaction side ----

  struct Loaded {
    RunDoc doc;
    std::shared_ptr<const Plan> plan;
  };

  Result<std::optional<Loaded>> LoadIn(Tx& tx, const std::string& run_id) {
    auto row = tx.GetLive(kRunKind, run_id, kRunRowId);
    if (!row) return Fail(std::move(row.error()));
    if (!*row) return std::optional<Loaded>();
    return LoadRow(tx, **row);
  }

  Result<std::optional<Loaded>> LoadRow(Tx& tx, const LiveRow& row) {
    auto plan = VersionIn(tx, StringField(row.body, "planId"), IntField(row.body, "planVersion"));
    if (!plan) return Fail(std::move(plan.error()));
    Loaded l{Decode(row.parent, row.body, (*plan)->runbook.steps.size()), *plan};
    return std::optional<Loaded>(std::move(l));
  }

  // Advances the run at `now`, stamps the steps that changed, and collects the attempts it
  // started; the run's wake time is where the sweep looks next.
  runbook::Decision Move(Loaded& l, std::int64_t now, std::vector<Attempt>& started) {
    const auto before = l.doc.state.steps;
    std::vector<std::size_t> began;
    runbook::Decision d = runbook::Advance(l.plan->runbook, l.doc.state, Tp(now), &began);
    for (std::size_t i = 0; i < before.size(); ++i) {
      const auto& a = before[i];
      const auto& b = l.doc.state.steps[i];
      if (a.status != b.status || a.attempts != b.attempts) l.doc.recs[i].updated_at = now;
    }
    for (std::size_t i : began) {
      started.push_back(Attempt{l.doc.id, i, l.doc.state.steps[i].attempts, now, l.plan,
                                l.doc.incident_id, l.doc.fields});
    }
    l.doc.status = std::string(runbook::RunStatusName(d.status));
    return d;
  }

  Status Save(Tx& tx, Loaded& l, const runbook::Decision& d, std::int64_t now) {
    l.doc.updated_at = now;
    if (Finished(l.doc.status) && !l.doc.finish_noted && !l.doc.incident_id.empty()) {
      l.doc.finish_noted = true;
      engine::TimelineRow e;
      e.incident_id = l.doc.incident_id;
      e.at = now;
      e.kind = "runbook_" + l.doc.status;
      e.body = "Runbook \"" + l.plan->runbook.title + "\" " + l.doc.status + " (" + l.doc.id + ")";
      e.actor = JsonObject{{"type", "runbook"}, {"id", l.doc.id}};
      e.metadata =
          JsonObject{{"runId", l.doc.id}, {"planId", l.doc.plan_id}, {"status", l.doc.status}};
      if (auto st = AppendEntry(tx, e); !st) return st;
    }
    LiveRow row;
    row.kind = kRunKind;
    row.parent = l.doc.id;
    row.id = kRunRowId;
    row.body = Encode(l.doc);
    row.state = l.doc.status;
    row.updated_at = now;
    // Due when a retry, a re-check or a timeout is; a run that only waits for people is not.
    row.due_at = d.wake_at ? std::max<std::int64_t>(Ns(*d.wake_at), 1) : 0;
    return tx.PutLive(row);
  }

  Status NewRunIn(Tx& tx, std::shared_ptr<const Plan> plan, RunDoc doc, std::int64_t now,
                  bool advance, std::vector<Attempt>& started, RunDoc* out) {
    Loaded l{std::move(doc), std::move(plan)};
    l.doc.state = runbook::NewRun(l.plan->runbook);
    l.doc.recs.assign(l.plan->runbook.steps.size(), StepRec{});
    l.doc.created_at = now;
    runbook::Decision d;
    if (advance) {
      d = Move(l, now, started);
    } else {
      d.wake_at = Tp(now);  // the runner starts it once this commit is visible
      l.doc.status = "created";
    }
    if (!l.doc.incident_id.empty()) {
      engine::TimelineRow e;
      e.incident_id = l.doc.incident_id;
      e.at = now;
      e.kind = "runbook_started";
      e.body = "Runbook \"" + l.plan->runbook.title + "\" started (" + l.doc.id + ")";
      e.actor = l.doc.started_by;
      e.metadata = JsonObject{
          {"runId", l.doc.id}, {"planId", l.doc.plan_id}, {"planVersion", l.doc.version}};
      if (auto st = AppendEntry(tx, e); !st) return st;
    }
    if (auto st = Save(tx, l, d, now); !st) return st;
    if (out != nullptr) *out = l.doc;
    return Ok();
  }

  // ---- runs: the executor side ----

  void Settled() {
    {
      std::lock_guard lock(mu);
      --inflight;
    }
    stop_cv.notify_all();
  }

  void Dispatch(std::vector<Attempt> started) {
    if (started.empty()) return;
    {
      std::lock_guard lock(mu);
      for (auto& a : started) queue.push_back(std::move(a));
      queued->store(queue.size());
    }
    cv.notify_all();
  }

  void NoteDue(const std::optional<TimePoint>& at) {
    if (!at) return;
    const std::int64_t ns = Ns(*at);
    bool sooner = false;
    {
      std::lock_guard lock(mu);
      if (next_due == 0 || ns < next_due) {
        next_due = ns;
        sooner = true;
      }
    }
    if (sooner) {
      {
        std::lock_guard lock(mu);
        due_changed = true;
      }
      cv.notify_all();
    }
  }

  AttemptResult Execute(const Attempt& a) {
    const runbook::Step& step = a.plan->runbook.steps[a.step];
    AttemptResult res;
    const Result<StepCall>& call = a.plan->calls[a.step];
    if (!call) {
      res.kind = AttemptResult::Kind::kFail;
      res.error = call.error().message;
      return res;
    }
    if (step.type == runbook::StepType::kRecord) {
      res.kind = AttemptResult::Kind::kRecord;
      res.text = RenderText(call->text, a);
      return res;
    }
    const bool check =
        step.type == runbook::StepType::kObserve || step.type == runbook::StepType::kVerify;
    if (!call->metric.empty()) return CheckMetric(*call);
    workflow::Runtime* rt = options.workflows ? options.workflows() : nullptr;
    if (rt == nullptr) {
      res.kind = AttemptResult::Kind::kFail;
      res.error =
          "no workflow runtime runs in this server (set OPSORCH_WORKFLOW_BOOTSTRAP): cannot call "
          "workflow step " +
          call->deployment + "/" + call->step;
      return res;
    }
    workflow::Message in;
    in.body = StepInput(a, *call);
    in.properties["runId"] = a.run_id;
    in.properties["stepId"] = step.id;
    if (!a.incident_id.empty()) in.properties["incidentId"] = a.incident_id;
    std::vector<workflow::LogLine> logs;
    auto out = rt->RunStep(call->deployment, call->step, std::move(in), &logs);
    JsonObject output;
    output["logs"] = LogsValue(logs);
    if (!out) {
      res.kind = check ? AttemptResult::Kind::kNotYet : AttemptResult::Kind::kFail;
      res.error =
          "workflow step " + call->deployment + "/" + call->step + ": " + out.error().message;
      res.output = std::move(output);
      return res;
    }
    JsonValue body = BodyValue(out->body);
    if (check && call->expect) {
      auto verdict = Expect(*call->expect, body);
      output["result"] = std::move(body);
      res.output = std::move(output);
      if (!verdict.empty()) {
        res.kind = AttemptResult::Kind::kNotYet;
        res.error = std::move(verdict);
      }
      return res;
    }
    output["result"] = std::move(body);
    res.output = std::move(output);
    return res;
  }

  AttemptResult CheckMetric(const StepCall& call) {
    AttemptResult res;
    if (options.workflow_metrics == nullptr) {
      res.kind = AttemptResult::Kind::kFail;
      res.error = "no workflow metrics in this server: cannot read " + call.metric;
      return res;
    }
    auto sample = LatestValue(*options.workflow_metrics, call.metric, call.dimensions);
    const std::int64_t max_age =
        std::chrono::duration_cast<std::chrono::nanoseconds>(call.max_age).count();
    if (!sample || Now() - sample->at_ns > max_age) {
      res.kind = AttemptResult::Kind::kNotYet;
      res.error =
          !sample ? "no sample of " + call.metric + " yet"
                  : "no sample of " + call.metric + " in the last " + FormatDuration(call.max_age);
      return res;
    }
    const std::optional<double> latest = sample->value;
    res.output = JsonObject{{"metric", call.metric}, {"value", *latest}};
    std::string why;
    if (call.above && !(*latest > *call.above)) {
      why =
          call.metric + " is " + FormatNumber(*latest) + ", not above " + FormatNumber(*call.above);
    } else if (call.below && !(*latest < *call.below)) {
      why =
          call.metric + " is " + FormatNumber(*latest) + ", not below " + FormatNumber(*call.below);
    }
    if (!why.empty()) {
      res.kind = AttemptResult::Kind::kNotYet;
      res.error = std::move(why);
    }
    return res;
  }

  // A record step's text: {runId}, {planId}, {planTitle}, {incidentId}, {fields.<name>}.
  static std::string RenderText(const std::string& tmpl, const Attempt& a) {
    return FillPlaceholders(
        tmpl,
        [&](std::string_view name) -> std::optional<std::string> {
          if (name == "runId") return a.run_id;
          if (name == "planId") return a.plan->runbook.id;
          if (name == "planTitle") return a.plan->runbook.title;
          if (name == "incidentId") return a.incident_id;
          if (name.starts_with("fields.")) {
            const JsonValue* v = a.fields.if_contains(name.substr(7));
            if (v != nullptr && v->is_string()) return std::string(v->get_string());
          }
          return std::nullopt;
        },
        kMaxStepText);
  }

  // Applies one attempt's result in a transaction; a result of an attempt that is no longer
  // the step's current one (timed out, cancelled, another node's) changes nothing.
  Status ApplyResult(Tx& tx, const Attempt& a, const AttemptResult& res, std::int64_t now,
                     std::vector<Attempt>& started, std::optional<TimePoint>& wake, bool& stale) {
    started.clear();
    wake.reset();
    stale = false;
    auto loaded = LoadIn(tx, a.run_id);
    if (!loaded) return Fail(std::move(loaded.error()));
    if (!*loaded) {
      stale = true;
      return Ok();
    }
    Loaded& l = **loaded;
    const runbook::Runbook& rb = l.plan->runbook;
    runbook::StepState& st = l.doc.state.steps[a.step];
    if (st.status != StepStatus::kRunning || st.attempts != a.attempt) {
      stale = true;
      return Ok();
    }
    StepRec& rec = l.doc.recs[a.step];
    if (l.doc.state.cancelled) {
      // Cancelled while it ran: nothing of its result is kept or written anywhere.
      stale = true;
      st.status = StepStatus::kSkipped;
      st.finished_at = Tp(now);
      rec.updated_at = now;
      runbook::Decision d = Move(l, now, started);
      return Save(tx, l, d, now);
    }
    const TimePoint t = Tp(now);
    Status applied = Ok();
    switch (res.kind) {
      case AttemptResult::Kind::kOk:
        rec.output = res.output;
        applied = runbook::Succeeded(rb, l.doc.state, a.step, t);
        break;
      case AttemptResult::Kind::kFail:
        if (!res.output.is_null()) rec.output = res.output;
        applied = runbook::Failed(rb, l.doc.state, a.step, res.error, t);
        break;
      case AttemptResult::Kind::kNotYet:
        if (!res.output.is_null()) rec.output = res.output;
        applied = runbook::NotYet(rb, l.doc.state, a.step, res.error, t);
        break;
      case AttemptResult::Kind::kRecord: {
        if (l.doc.incident_id.empty()) {
          rec.output = JsonObject{{"recorded", false}, {"reason", "the run has no incident"}};
        } else {
          engine::TimelineRow e;
          e.incident_id = l.doc.incident_id;
          e.at = now;
          e.kind = "runbook_note";
          e.body = res.text;
          e.actor = JsonObject{{"type", "runbook"}, {"id", l.doc.id}};
          e.metadata = JsonObject{
              {"runId", l.doc.id}, {"planId", l.doc.plan_id}, {"stepId", rb.steps[a.step].id}};
          if (auto s2 = AppendEntry(tx, e); !s2) return s2;
          rec.output = JsonObject{{"recorded", true}, {"entryId", e.id}};
        }
        applied = runbook::Succeeded(rb, l.doc.state, a.step, t);
        break;
      }
    }
    if (!applied) {
      stale = true;
      return Ok();
    }
    rec.updated_at = now;
    runbook::Decision d = Move(l, now, started);
    wake = d.wake_at;
    return Save(tx, l, d, now);
  }

  // `wait`: until the result is durable and its follow-up attempts are queued (tests); the
  // executors do not wait, so a slow fsync does not hold a thread per attempt.
  void RunAttempt(const Attempt& a, bool wait = false) {
    const AttemptResult res = Execute(a);
    switch (res.kind) {
      case AttemptResult::Kind::kOk:
      case AttemptResult::Kind::kRecord:
        Count(attempts_ok);
        break;
      case AttemptResult::Kind::kFail:
        Count(attempts_failed);
        break;
      case AttemptResult::Kind::kNotYet:
        Count(attempts_not_yet);
        break;
    }
    struct Out {
      std::vector<Attempt> started;
      std::optional<TimePoint> wake;
      bool stale = false;
    };
    auto out = std::make_shared<Out>();
    auto done = wait ? std::make_shared<std::promise<void>>() : nullptr;
    {
      std::lock_guard lock(mu);
      ++inflight;
    }
    engine.Submit(
        [this, a, res, out](Tx& tx) -> Status {
          return ApplyResult(tx, a, res, Now(), out->started, out->wake, out->stale);
        },
        [this, out, done, run = a.run_id](Status st) {
          struct Signal {
            std::shared_ptr<std::promise<void>> p;
            ~Signal() {
              if (p) p->set_value();
            }
          } signal{done};
          if (!st) {
            // The attempt's result is lost with the commit; its timeout hands the step back to
            // its failure policy.
            log::Error("runbooks: the result of a step of " + run +
                       " could not be stored: " + st.error().message);
            Settled();
            return;
          }
          if (out->stale) Count(attempts_stale);
          NoteDue(out->wake);
          Dispatch(std::move(out->started));
          Settled();
        });
    if (done) done->get_future().wait();
  }

  // ---- the runner ----

  // One pass over due runs: retries, re-checks and timeouts that are due, runs created by the
  // incident hook. Returns how many runs it looked at.
  std::size_t SweepOnce() {
    struct Out {
      std::vector<Attempt> started;
      std::optional<TimePoint> wake;
      std::size_t seen = 0;
    };
    auto out = std::make_shared<Out>();
    const std::int64_t now = Now();
    Status st = SubmitWait([this, out, now](Tx& tx) -> Status {
      out->started.clear();
      out->wake.reset();
      auto rows = tx.DueLive(kRunKind, now, kSweepBatch);
      if (!rows) return Fail(std::move(rows.error()));
      out->seen = rows->size();
      for (const LiveRow& row : *rows) {
        auto loaded = LoadRow(tx, row);
        if (!loaded) {
          // A run whose plan cannot be read: park it (not due) rather than fail every sweep.
          log::Error("runbooks: run " + row.parent + ": " + loaded.error().message);
          // Parked (not due) rather than failing every sweep — unless its body could not be
          // read, which writing it back would destroy.
          if (!row.body.empty()) {
            LiveRow parked = row;
            parked.due_at = 0;
            if (auto s2 = tx.PutLive(parked); !s2) return s2;
          }
          continue;
        }
        Loaded& l = **loaded;
        runbook::Decision d = Move(l, now, out->started);
        if (d.wake_at && (!out->wake || *d.wake_at < *out->wake)) out->wake = d.wake_at;
        if (auto s2 = Save(tx, l, d, now); !s2) return s2;
      }
      return Ok();
    });
    if (!st) {
      log::Error("runbooks: sweep failed: " + st.error().message);
      return 0;
    }
    NoteDue(out->wake);
    Dispatch(std::move(out->started));
    return out->seen;
  }

  // SQLite: one process owns the store, so an attempt still marked running was cut off when the
  // previous process stopped.
  void Interrupted() {
    auto rows = store.Live(kRunKind, "", /*any_parent=*/true);
    if (!rows) {
      log::Error("runbooks: cannot read runs: " + rows.error().message);
      return;
    }
    for (const LiveRow& row : *rows) {
      if (Finished(row.state)) continue;
      const JsonValue* steps = row.body.if_contains("steps");
      if (steps == nullptr || !steps->is_array()) continue;
      for (std::size_t i = 0; i < steps->get_array().size(); ++i) {
        const JsonValue& s = steps->get_array()[i];
        if (!s.is_object() || StringField(s.get_object(), "status") != "running") continue;
        Attempt a;
        a.run_id = row.parent;
        a.step = i;
        a.attempt = static_cast<int>(IntField(s.get_object(), "attempts"));
        AttemptResult res;
        res.kind = AttemptResult::Kind::kFail;
        res.error = "interrupted: opsorch stopped while this attempt ran";
        std::vector<Attempt> started;
        std::optional<TimePoint> wake;
        bool stale = false;
        const std::int64_t now = Now();
        Status st = SubmitWait(
            [&](Tx& tx) -> Status { return ApplyResult(tx, a, res, now, started, wake, stale); });
        if (!st) {
          log::Error("runbooks: run " + row.parent + ": " + st.error().message);
          continue;
        }
        log::Warn("runbooks: an attempt of " + row.parent + " was cut off by a restart",
                  {{"step", std::to_string(i)}});
        NoteDue(wake);
        Dispatch(std::move(started));
      }
    }
  }

  void LoadDirectory() {
    if (options.runbook_dir.empty()) return;
    std::error_code ec;
    if (!std::filesystem::is_directory(options.runbook_dir, ec)) return;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(options.runbook_dir, ec)) {
      if (e.path().extension() == ".json" && e.is_regular_file(ec)) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    if (files.size() > kMaxRunbookFiles) {
      log::Error("runbooks: " + options.runbook_dir + " holds more than " +
                 std::to_string(kMaxRunbookFiles) + " files; the rest are not loaded");
      files.resize(kMaxRunbookFiles);
    }
    for (const auto& f : files) {
      std::string text;
      if (const int err = ReadWholeFile(f.string(), text, kMaxRunbookBytes); err != 0) {
        log::Error("runbooks: cannot read " + f.string() + ": " + ErrnoText(err));
        continue;
      }
      auto doc = ParseJson(text);
      std::string id;
      if (doc && doc->is_object()) id = StringField(doc->get_object(), "id");
      auto put = Put(id, text, "file:" + f.filename().string());
      if (!put) {
        log::Error("runbooks: " + f.string() + ": " + put.error().message);
      }
    }
  }

  // An attempt that waited in the queue past its timeout (the sweep fails it and applies its
  // policy), or whose run was cancelled here, is not started: a late start would overlap a retry.
  bool Expired(const Attempt& a) {
    const auto timeout = a.plan->runbook.steps[a.step].timeout;
    if (timeout.count() > 0 &&
        Now() - a.claimed_at >=
            std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count()) {
      return true;
    }
    std::lock_guard lock(mu);
    return cancelled.contains(a.run_id);
  }

  // Ended runs past the retention, deleted in batches (their incidents' timelines keep what
  // they wrote).
  Result<std::size_t> Retention() {
    const std::int64_t cutoff =
        Now() - std::chrono::duration_cast<std::chrono::nanoseconds>(options.retention).count();
    auto rows = store.Live(kRunKind, "", /*any_parent=*/true);
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<std::string> old;
    for (const LiveRow& r : *rows) {
      if (Finished(r.state) && r.updated_at < cutoff) old.push_back(r.parent);
    }
    for (std::size_t i = 0; i < old.size(); i += kSweepBatch) {
      const std::size_t end = std::min(old.size(), i + kSweepBatch);
      Status st = SubmitWait([&](Tx& tx) -> Status {
        for (std::size_t k = i; k < end; ++k) {
          if (auto s2 = tx.DeleteLive(kRunKind, old[k], kRunRowId); !s2) return s2;
        }
        return Ok();
      });
      if (!st) return Fail(std::move(st.error()));
    }
    return old.size();
  }

  void ExecutorLoop() {
    for (;;) {
      Attempt a;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        // Stopping: queued attempts are handed back by Stop, not started.
        if (stopping || queue.empty()) return;
        a = std::move(queue.front());
        queue.pop_front();
        queued->store(queue.size());
      }
      if (Expired(a)) {
        Count(attempts_stale);
        continue;
      }
      RunAttempt(a);
    }
  }

  // Stop: attempts claimed but never started go back to pending, due now, so that the next
  // process (or another node) starts them instead of waiting for their timeouts or failing them
  // as interrupted.
  void HandBack() {
    {
      std::unique_lock lock(mu);
      stop_cv.wait_for(lock, std::chrono::seconds(10), [&] { return inflight == 0; });
    }
    std::deque<Attempt> left;
    {
      std::lock_guard lock(mu);
      left.swap(queue);
      queued->store(0);
    }
    for (const Attempt& a : left) {
      const std::int64_t now = Now();
      Status st = SubmitWait([&](Tx& tx) -> Status {
        auto loaded = LoadIn(tx, a.run_id);
        if (!loaded) return Fail(std::move(loaded.error()));
        if (!*loaded) return Ok();
        Loaded& l = **loaded;
        runbook::StepState& s = l.doc.state.steps[a.step];
        if (s.status != StepStatus::kRunning || s.attempts != a.attempt) return Ok();
        s.status = StepStatus::kPending;
        s.attempts -= 1;
        s.next_attempt = Tp(now);
        runbook::Decision d;
        d.wake_at = Tp(now);
        l.doc.status = std::string(
            runbook::RunStatusName(runbook::Decide(l.plan->runbook, l.doc.state, Tp(now)).status));
        return Save(tx, l, d, now);
      });
      if (!st) log::Error("runbooks: run " + a.run_id + ": not handed back: " + st.error().message);
    }
  }

  void RunnerLoop() {
    auto next_retention = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    for (;;) {
      if (std::chrono::steady_clock::now() >= next_retention) {
        next_retention = std::chrono::steady_clock::now() + std::chrono::hours(1);
        if (auto n = Retention(); !n) {
          log::Error("runbooks: retention: " + n.error().message);
        } else if (*n > 0) {
          log::Info("runbooks: retention deleted " + std::to_string(*n) + " ended runs");
        }
      }
      {
        std::unique_lock lock(mu);
        auto until = std::chrono::steady_clock::now() + kSweepEvery;
        if (next_due != 0) {
          const auto in = std::chrono::nanoseconds(std::max<std::int64_t>(next_due - Now(), 0));
          until = std::min(until, std::chrono::steady_clock::now() + in);
        }
        cv.wait_until(lock, until, [&] { return stopping || wake || due_changed; });
        if (stopping) return;
        if (due_changed && !wake && (next_due == 0 || next_due > Now()) &&
            std::chrono::steady_clock::now() < until) {
          due_changed = false;  // a sooner wake time: wait again, for it
          continue;
        }
        due_changed = false;
        wake = false;
        if (next_due != 0 && next_due <= Now()) next_due = 0;
      }
      while (SweepOnce() == kSweepBatch) {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
    }
  }

  void Wake() {
    {
      std::lock_guard lock(mu);
      wake = true;
    }
    cv.notify_all();
  }
};

Runbooks::Runbooks(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runbooks::~Runbooks() { Stop(); }

Result<std::unique_ptr<Runbooks>> Runbooks::Open(RunbooksOptions options) {
  if (options.engine == nullptr) return Fail(errc::kInternal, "runbooks: no engine");
  if (!options.engine->store().SupportsPaging()) {
    return Fail(errc::kBadRequest, "runbooks: the engine's store cannot keep runs");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  Impl* raw = impl.get();
  std::unique_ptr<Runbooks> rb(new Runbooks(std::move(impl)));
  raw->LoadDirectory();
  if (raw->options.single_node) raw->Interrupted();
  if (raw->options.runner) {
    const unsigned n = std::max(1u, raw->options.threads);
    for (unsigned i = 0; i < n; ++i) raw->threads.emplace_back([raw] { raw->ExecutorLoop(); });
    raw->threads.emplace_back([raw] { raw->RunnerLoop(); });
  }
  return rb;
}

void Runbooks::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping && impl_->threads.empty()) return;
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  const bool had_threads = !impl_->threads.empty();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  if (had_threads) impl_->HandBack();
}

Result<PlanVersion> Runbooks::PutRunbook(std::string_view id, std::string_view json_text,
                                         std::string_view source) {
  return impl_->Put(id, json_text, source);
}
Result<std::optional<PlanVersion>> Runbooks::GetRunbook(std::string_view id) {
  return impl_->Get(id);
}
Result<std::vector<PlanVersion>> Runbooks::ListRunbooks() { return impl_->List(); }
Status Runbooks::DeleteRunbook(std::string_view id) { return impl_->Delete(id); }

namespace {

s::OrchestrationPlan ToPlan(const PlanVersion& v, bool with_steps) {
  s::OrchestrationPlan p;
  const runbook::Runbook& rb = v.runbook;
  p.id = rb.id;
  p.title = rb.title;
  p.description = rb.description;
  p.version = std::to_string(v.version);
  p.fields["source"] = v.source;
  if (!rb.version.empty()) p.fields["documentVersion"] = rb.version;
  if (v.updated_at != 0) p.fields["updatedAt"] = FormatRfc3339Nano(At(v.updated_at));
  if (!with_steps) return p;
  std::vector<s::OrchestrationStep> steps;
  for (const runbook::Step& st : rb.steps) {
    s::OrchestrationStep o;
    o.id = st.id;
    o.title = st.title;
    o.type = std::string(runbook::StepTypeName(st.type));
    o.description = st.description;
    o.depends_on = st.depends_on;
    o.fields["onFailure"] = st.on_failure == runbook::OnFailure::kStop       ? "stop"
                            : st.on_failure == runbook::OnFailure::kContinue ? "continue"
                                                                             : "retry";
    if (st.retries > 0) o.fields["retries"] = st.retries;
    if (st.timeout.count() > 0) o.fields["timeout"] = FormatDuration(st.timeout);
    if (!st.with.empty()) o.fields["with"] = st.with;
    steps.push_back(std::move(o));
  }
  p.steps = std::move(steps);
  return p;
}

}  // namespace

Result<std::vector<s::OrchestrationPlan>> Runbooks::QueryPlans(const s::OrchestrationPlanQuery& q) {
  auto all = impl_->List();
  if (!all) return Fail(std::move(all.error()));
  std::vector<s::OrchestrationPlan> out;
  const std::string needle = ToLower(q.query);
  const auto limit = static_cast<std::size_t>(providers::PageSize(q.limit));
  for (const PlanVersion& v : *all) {
    if (!needle.empty() && ToLower(v.runbook.id).find(needle) == std::string::npos &&
        ToLower(v.runbook.title).find(needle) == std::string::npos &&
        ToLower(v.runbook.description).find(needle) == std::string::npos) {
      continue;
    }
    out.push_back(ToPlan(v, true));
    if (out.size() >= limit) break;
  }
  return out;
}

Result<std::optional<s::OrchestrationPlan>> Runbooks::GetPlan(std::string_view id) {
  auto v = impl_->Get(id);
  if (!v) return Fail(std::move(v.error()));
  if (!*v) return Fail(errc::kNotFound, "plan " + std::string(id) + " not found");
  return std::optional<s::OrchestrationPlan>(ToPlan(**v, true));
}

namespace {

s::OrchestrationRun ToRun(const RunDoc& r, const PlanVersion& plan, bool with_plan_steps) {
  s::OrchestrationRun o;
  o.id = r.id;
  o.plan_id = r.plan_id;
  o.plan = ToPlan(plan, with_plan_steps);
  o.status = r.status;
  o.scope.service = r.service;
  o.created_at = At(r.created_at);
  o.updated_at = At(r.updated_at);
  o.fields = r.fields;
  if (!r.incident_id.empty()) o.fields["incidentId"] = r.incident_id;
  o.metadata["planVersion"] = r.version;
  if (!r.started_by.empty()) o.metadata["startedBy"] = r.started_by;
  std::vector<s::OrchestrationStepState> steps;
  for (std::size_t i = 0; i < r.state.steps.size(); ++i) {
    const runbook::StepState& st = r.state.steps[i];
    const StepRec& rec = r.recs[i];
    const runbook::Step& def = plan.runbook.steps[i];
    s::OrchestrationStepState x;
    x.step_id = def.id;
    x.status = std::string(runbook::StepStatusName(st.status));
    x.actor = rec.actor;
    x.note = rec.note;
    if (st.started_at) x.started_at = At(Ns(*st.started_at));
    if (st.finished_at) x.finished_at = At(Ns(*st.finished_at));
    if (rec.updated_at != 0) x.updated_at = At(rec.updated_at);
    x.fields["type"] = std::string(runbook::StepTypeName(def.type));
    x.fields["title"] = def.title;
    if (st.attempts != 0) x.fields["attempts"] = st.attempts;
    if (!st.error.empty()) x.fields["error"] = st.error;
    if (st.next_attempt) x.fields["nextAttemptAt"] = FormatRfc3339Nano(At(Ns(*st.next_attempt)));
    if (!rec.output.is_null()) x.fields["output"] = rec.output;
    steps.push_back(std::move(x));
  }
  o.steps = std::move(steps);
  return o;
}

}  // namespace

Result<std::vector<s::OrchestrationRun>> Runbooks::QueryRuns(const s::OrchestrationRunQuery& q) {
  auto rows = impl_->store.Live(kRunKind, "", /*any_parent=*/true);
  if (!rows) return Fail(std::move(rows.error()));
  struct Item {
    std::int64_t created;
    const LiveRow* row;
  };
  std::vector<Item> items;
  for (const LiveRow& r : *rows) {
    if (!q.statuses.empty() &&
        std::find(q.statuses.begin(), q.statuses.end(), r.state) == q.statuses.end()) {
      continue;
    }
    const std::string plan = StringField(r.body, "planId");
    if (!q.plan_ids.empty() &&
        std::find(q.plan_ids.begin(), q.plan_ids.end(), plan) == q.plan_ids.end()) {
      continue;
    }
    if (!q.scope.service.empty() && StringField(r.body, "service") != q.scope.service) continue;
    items.push_back({IntField(r.body, "createdAt"), &r});
  }
  // Newest first; the id breaks ties so the order is stable.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.created != b.created ? a.created > b.created : a.row->parent < b.row->parent;
  });
  const std::string needle = ToLower(q.query);
  const auto limit = static_cast<std::size_t>(providers::PageSize(q.limit));
  std::vector<s::OrchestrationRun> out;
  for (const Item& it : items) {
    auto plan =
        impl_->Version(StringField(it.row->body, "planId"), IntField(it.row->body, "planVersion"));
    if (!plan) {
      log::Error("runbooks: run " + it.row->parent + ": " + plan.error().message);
      continue;
    }
    if (!needle.empty() && ToLower(it.row->parent).find(needle) == std::string::npos &&
        ToLower((*plan)->runbook.title).find(needle) == std::string::npos &&
        ToLower((*plan)->runbook.id).find(needle) == std::string::npos) {
      continue;
    }
    const RunDoc doc = Decode(it.row->parent, it.row->body, (*plan)->runbook.steps.size());
    out.push_back(ToRun(doc, **plan, false));
    if (out.size() >= limit) break;
  }
  return out;
}

Result<std::optional<s::OrchestrationRun>> Runbooks::GetRun(std::string_view id) {
  auto rows = impl_->store.Live(kRunKind, id);
  if (!rows) return Fail(std::move(rows.error()));
  for (const LiveRow& r : *rows) {
    if (r.id != kRunRowId) continue;
    auto plan = impl_->Version(StringField(r.body, "planId"), IntField(r.body, "planVersion"));
    if (!plan) return Fail(std::move(plan.error()));
    const RunDoc doc = Decode(r.parent, r.body, (*plan)->runbook.steps.size());
    return std::optional<s::OrchestrationRun>(ToRun(doc, **plan, true));
  }
  return Fail(errc::kNotFound, "run " + std::string(id) + " not found");
}

Result<s::OrchestrationRun> Runbooks::StartRun(std::string_view plan_id, const JsonObject& fields,
                                               const JsonObject& actor) {
  if (plan_id.empty()) return Fail(errc::kBadRequest, "planId is required");
  if (boost::json::serialize(fields).size() > kMaxFieldsBytes) {
    return Fail(errc::kBadRequest,
                "fields: at most " + std::to_string(kMaxFieldsBytes / 1024) + " KiB");
  }
  std::string incident;
  if (const JsonValue* v = fields.if_contains("incidentId")) {
    if (!v->is_string() || v->get_string().empty()) {
      return Fail(errc::kBadRequest, "fields.incidentId: must be an incident id");
    }
    incident = std::string(v->get_string());
  }
  Impl& m = *impl_;
  const std::string pid(plan_id);
  const std::int64_t now = m.Now();
  std::vector<Attempt> started;
  RunDoc created;
  std::shared_ptr<const Plan> used;
  Status st = m.SubmitOrRefuse([&](Tx& tx, Status& refused) -> Status {
    started.clear();
    auto cur = tx.GetLive(kPlanKind, "", pid);
    if (!cur) return Fail(std::move(cur.error()));
    if (!*cur || (*cur)->state == "deleted") {
      refused = Fail(errc::kNotFound, "plan " + pid + " not found");
      return Ok();
    }
    auto plan = m.VersionIn(tx, pid, IntField((*cur)->body, "version"));
    if (!plan) return Fail(std::move(plan.error()));
    used = *plan;
    RunDoc doc;
    doc.id = NewRunId();
    doc.plan_id = pid;
    doc.version = (*plan)->version;
    doc.fields = fields;
    doc.fields.erase("incidentId");
    doc.started_by = actor;
    if (!incident.empty()) {
      auto inc = tx.GetIncidentForUpdate(incident);
      if (!inc) return Fail(std::move(inc.error()));
      if (!*inc) {
        refused = Fail(errc::kBadRequest, "fields.incidentId: no incident " + incident);
        return Ok();
      }
      doc.incident_id = incident;
      doc.service = (*inc)->service_id;
    }
    return m.NewRunIn(tx, *plan, std::move(doc), now, true, started, &created);
  });
  if (!st) return Fail(std::move(st.error()));
  Impl::Count(m.runs_started);
  m.Dispatch(std::move(started));
  return ToRun(created, *used, true);
}

Status Runbooks::CompleteStep(std::string_view run_id, std::string_view step_id,
                              std::string_view actor, std::string_view note) {
  if (actor.size() > 256 || note.size() > 4096) {
    return Fail(errc::kBadRequest,
                actor.size() > 256 ? "actor: at most 256 bytes" : "note: at most 4096 bytes");
  }
  Impl& m = *impl_;
  const std::string rid(run_id), sid(step_id), who(actor), why(note);
  const std::int64_t now = m.Now();
  std::vector<Attempt> started;
  std::optional<TimePoint> wake;
  Status st = m.SubmitOrRefuse([&](Tx& tx, Status& refused) -> Status {
    started.clear();
    auto loaded = m.LoadIn(tx, rid);
    if (!loaded) return Fail(std::move(loaded.error()));
    if (!*loaded) {
      refused = Fail(errc::kNotFound, "run " + rid + " not found");
      return Ok();
    }
    Impl::Loaded& l = **loaded;
    const runbook::Runbook& rb = l.plan->runbook;
    std::size_t idx = rb.steps.size();
    for (std::size_t i = 0; i < rb.steps.size(); ++i) {
      if (rb.steps[i].id == sid) idx = i;
    }
    if (idx == rb.steps.size()) {
      refused = Fail(errc::kNotFound, "run " + rid + " has no step " + sid);
      return Ok();
    }
    if (Finished(l.doc.status)) {
      refused = Fail(errc::kConflict, "run " + rid + " is " + l.doc.status);
      return Ok();
    }
    if (auto s2 = runbook::Completed(rb, l.doc.state, idx, Tp(now)); !s2) {
      refused = std::move(s2);
      return Ok();
    }
    l.doc.recs[idx].actor = who;
    l.doc.recs[idx].note = why;
    l.doc.recs[idx].updated_at = now;
    runbook::Decision d = m.Move(l, now, started);
    wake = d.wake_at;
    return m.Save(tx, l, d, now);
  });
  if (!st) return st;
  m.NoteDue(wake);
  m.Dispatch(std::move(started));
  return Ok();
}

Status Runbooks::CancelRun(std::string_view run_id, std::string_view actor) {
  Impl& m = *impl_;
  const std::string rid(run_id), who(actor);
  const std::int64_t now = m.Now();
  Status st = m.SubmitOrRefuse([&](Tx& tx, Status& refused) -> Status {
    auto loaded = m.LoadIn(tx, rid);
    if (!loaded) return Fail(std::move(loaded.error()));
    if (!*loaded) {
      refused = Fail(errc::kNotFound, "run " + rid + " not found");
      return Ok();
    }
    Impl::Loaded& l = **loaded;
    if (Finished(l.doc.status)) {
      refused = Fail(errc::kConflict, "run " + rid + " is already " + l.doc.status);
      return Ok();
    }
    l.doc.state.cancelled = true;
    l.doc.fields["cancelledBy"] = who;
    // What has not run never will: skipped (an attempt still running finishes; its result is
    // kept, the run stays cancelled).
    for (std::size_t i = 0; i < l.doc.state.steps.size(); ++i) {
      runbook::StepState& st = l.doc.state.steps[i];
      if (st.status == StepStatus::kPending || st.status == StepStatus::kBlocked) {
        st.status = StepStatus::kSkipped;
        st.finished_at = Tp(now);
        st.next_attempt.reset();
        l.doc.recs[i].updated_at = now;
      }
    }
    std::vector<Attempt> none;
    runbook::Decision d = m.Move(l, now, none);
    return m.Save(tx, l, d, now);
  });
  if (st) {
    std::lock_guard lock(m.mu);
    m.cancelled.insert(rid);  // attempts of it still queued here are not started
  }
  return st;
}

Status Runbooks::OnIncidentTriggered(engine::Tx& tx, const engine::IncidentTriggered& t) {
  Impl& m = *impl_;
  bool any = false;
  for (const std::string& id : t.runbooks) {
    auto cur = tx.GetLive(kPlanKind, "", id);
    if (!cur) return Fail(std::move(cur.error()));
    if (!*cur || (*cur)->state == "deleted") {
      engine::TimelineRow e;
      e.incident_id = t.incident_id;
      e.at = t.now;
      e.kind = "runbook_missing";
      e.body = "Runbook " + id + " named by service " + t.service_id + " does not exist";
      e.metadata = JsonObject{{"planId", id}};
      if (auto st = AppendEntry(tx, e); !st) return st;
      continue;
    }
    auto plan = m.VersionIn(tx, id, IntField((*cur)->body, "version"));
    if (!plan) {
      // A runbook that cannot be read must not keep incidents from opening: said on the
      // timeline (a store failure is the transaction's own and fails it).
      log::Error("runbooks: " + plan.error().message);
      engine::TimelineRow e;
      e.incident_id = t.incident_id;
      e.at = t.now;
      e.kind = "runbook_missing";
      e.body = "Runbook " + id + " named by service " + t.service_id + " could not be read";
      e.metadata = JsonObject{{"planId", id}};
      if (auto st = AppendEntry(tx, e); !st) return st;
      continue;
    }
    RunDoc doc;
    doc.id = NewRunId();
    doc.plan_id = id;
    doc.version = (*plan)->version;
    doc.incident_id = t.incident_id;
    doc.service = t.service_id;
    doc.fields = JsonObject{{"service", t.service_id}, {"trigger", "incident"}};
    doc.started_by = JsonObject{{"type", "system"}, {"id", "incident-trigger"}};
    std::vector<Attempt> none;
    if (auto st = m.NewRunIn(tx, *plan, std::move(doc), t.now, false, none, nullptr); !st) {
      return st;
    }
    any = true;
  }
  if (any) {
    // The runner's next pass starts them once this commit is visible (the pass after a wake
    // that came too early is at most kSweepEvery later).
    Impl::Count(m.runs_started);
    m.Wake();
  }
  return Ok();
}

void Runbooks::Sweep() { impl_->SweepOnce(); }

Result<std::size_t> Runbooks::RunRetention() { return impl_->Retention(); }

std::size_t Runbooks::RunQueued() {
  std::size_t n = 0;
  for (;;) {
    Attempt a;
    {
      std::lock_guard lock(impl_->mu);
      if (impl_->queue.empty()) return n;
      a = std::move(impl_->queue.front());
      impl_->queue.pop_front();
    }
    impl_->RunAttempt(a, true);
    ++n;
  }
}

}  // namespace opsorch::orchestration
