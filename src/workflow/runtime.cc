#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <opsorch/common/duration.h>
#include <opsorch/common/error.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/redactor.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/net/http_client.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/config.h>
#include <opsorch/workflow/expectation.h>
#include <opsorch/workflow/http_fetch.h>
#include <opsorch/workflow/package.h>
#include <opsorch/workflow/report.h>
#include <opsorch/workflow/runtime.h>

#include "workflow/config_source.h"
#include "workflow/state_store.h"

namespace opsorch::workflow {
namespace {

using Clock = std::chrono::steady_clock;
using ConfigPtr = std::shared_ptr<const WorkflowConfig>;

// Nested synchronous send_to_step calls: each level holds a thread and a script worker.
constexpr int kMaxCallDepth = 8;
// send_to_step calls one triggered run may make, its nested calls included (sync and async
// together): a caller's CPU limit does not count the time its callees take, so a loop of calls
// needs a bound of its own, and it must hold for the whole tree, not per level.
constexpr int kMaxCallsPerTree = 1000;
// Secrets learned from authentication processors, per deployment: per-request values (nonces,
// signatures) must not grow the list for ever; the oldest are forgotten first.
constexpr std::size_t kMaxLearnedSecrets = 256;
// Bytes of queued asynchronous payloads per deployment.
constexpr std::size_t kMaxQueuedBytes = 64u << 20;
// Secrets shorter than this are not masked: masking every "1" or "us" garbles lines more than
// it protects (the bootstrap documents it).
constexpr std::size_t kMinSecretLength = 4;
// Audit records waiting for the configuration service, and how many go in one report.
constexpr std::size_t kMaxPendingAudit = 5000;
constexpr std::size_t kAuditPerReport = 500;
constexpr std::size_t kAuditBytesPerReport = 128u << 10;
constexpr std::size_t kAuditWakeBacklog = 100;
// Series whose expectation state one deployment keeps: a dimension with unbounded values (a
// request id) must not grow the runtime for ever. Samples of further series are counted.
constexpr std::size_t kMaxSeriesPerDeployment = 10000;
// Incident events waiting for the sender (all deployments); beyond, dropped and counted. The
// step that emitted the metric never waits for a delivery.
constexpr std::size_t kMaxPendingIncidentEvents = 1000;
// Delivery attempts per incident event, and the first pause between two (doubling).
constexpr int kIncidentAttempts = 5;
constexpr std::chrono::milliseconds kIncidentRetryFirst{250};
// How long Stop lets the sender deliver what is queued.
constexpr std::chrono::seconds kIncidentFlush{2};
// Log lines RunStep hands back to its caller.
constexpr std::size_t kMaxCapturedLogs = 200;
// 9999-12-31T23:59:59.999Z: the last sample time an event's timestamp can carry.
constexpr std::int64_t kMaxTimestampMs = 253402300799999;

// RunStep's caller's buffer for the log lines of its call (null: none). Set around ExecStep on
// the calling thread, so that nested synchronous calls are included and runs on other threads
// (timer fires, asynchronous sends) are not.
thread_local std::vector<LogLine>* t_captured_logs = nullptr;

// Where a configuration load got to, for the status report (guarded by DeploymentRt::mu).
struct LoadState {
  std::string package_id, version, sha256;  // of the running package (empty: plain)
  std::int64_t loaded_at = 0, last_poll = 0, last_error_at = 0;
  std::string last_error, refusal;  // the last refused or failed load (cleared on success)
};

// A configuration source's bytes turned into configuration text, or why not.
struct Unpacked {
  std::string text;
  std::optional<package::PackageInfo> info;  // a package's (none: a plain configuration)
  std::string payload_sha256;                // of `text`, for a package
};
struct Refused {
  std::string reason;  // a package::RefusalName, "no_packaging", "invalid_config", "source_error"
  std::string message;
  // What the status report says instead, when `message` may quote the decrypted configuration
  // (the configuration service holds the package but is not one of its recipients).
  std::optional<std::string> reported;
};

// The anti-rollback record of the last package accepted.
struct Accepted {
  std::string version;
  std::string payload_sha256;  // of the decrypted configuration ("" in older records)
};

std::string AcceptedFile(const Deployment& d) { return d.persistence_dir + "/package.json"; }

// The anti-rollback record; absent: nothing accepted yet. A file that exists but does not read,
// or is another package's, is an error: silently starting from nothing would re-open the
// rollback it guards against.
Result<std::optional<Accepted>> ReadAccepted(const Deployment& d) {
  const std::string path = AcceptedFile(d);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<Accepted>();
  auto text = ReadTextFile(path, 64u << 10);
  if (!text) return Fail(text.error());
  auto doc = ParseJson(*text);
  const auto field = [&](const char* key) -> const JsonValue* {
    const JsonValue* v = doc && doc->is_object() ? doc->get_object().if_contains(key) : nullptr;
    return v != nullptr && v->is_string() ? v : nullptr;
  };
  const JsonValue* version = field("version");
  const JsonValue* id = field("packageId");
  if (version == nullptr || !package::ValidVersion(version->get_string()) || id == nullptr) {
    return Fail(errc::kBadRequest,
                path + ": not a package record (restore it, or delete it to accept any version)");
  }
  if (id->get_string() != d.packaging->policy.package_id) {
    return Fail(errc::kBadRequest, path + ": the record of package \"" +
                                       std::string(id->get_string()) + "\", not \"" +
                                       d.packaging->policy.package_id +
                                       "\" (give each deployment its own persistence_dir)");
  }
  Accepted a{std::string(version->get_string()), ""};
  if (const JsonValue* digest = field("payloadSha256")) a.payload_sha256 = digest->get_string();
  return std::optional<Accepted>(std::move(a));
}

// Written before the new configuration runs (temporary file, fsync, rename, directory fsync).
Status WriteAccepted(const Deployment& d, const package::PackageInfo& info,
                     const std::string& payload_sha256, std::int64_t now_ms) {
  JsonObject o;
  o["packageId"] = info.manifest.id;
  o["version"] = info.manifest.version;
  o["sha256"] = info.sha256;
  o["payloadSha256"] = payload_sha256;
  o["acceptedAt"] = now_ms;
  const std::string text = boost::json::serialize(o) + "\n";
  const std::string path = AcceptedFile(d);
  const std::string tmp = path + ".tmp";
  // A leftover (or planted) temporary file or symlink is replaced, never followed.
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(errc::kStorageError, tmp + ": " + ErrnoText(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Fail(errc::kStorageError, path + ": " + ErrnoText(errno));
  }
  const int dfd = ::open(d.persistence_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

// At most `max` bytes, cut on a UTF-8 character boundary, "…" when cut.
std::string Clip(std::string_view s, std::size_t max = 2000) {
  if (s.size() <= max) return std::string(s);
  return std::string(Utf8Prefix(s, max)) + "\u2026";
}

struct OutputRt {
  OutputEntry entry;
  std::unique_ptr<MetricOutput> output;
};

struct Job {
  std::function<void()> fn;
  std::size_t bytes = 0;  // payload held by the job (async sends)
};

// One expectation of the running configuration and the key its series' state is filed under.
struct ActiveExpectation {
  Expectation e;
  std::string key;  // ExpectationKey
};
using Expectations = std::vector<ActiveExpectation>;

struct DeploymentRt {
  std::size_t index = 0;
  Deployment def;
  JsonObject restricted;  // host id → host data, for authentication processors only
  std::unique_ptr<StateStore> state;
  std::vector<OutputRt> outputs;

  std::mutex mu;  // guards config, generation, inflight, the digests, load, accepted
  ConfigPtr config;
  std::uint64_t generation = 0;
  std::map<std::string, int, std::less<>> inflight;  // "workflow/step" → running timer runs
  std::string running_digest;        // of the source bytes the running configuration came from
  std::string etag;                  // the URL source's last ETag (If-None-Match on the next poll)
  std::string rejected_digest;       // the last bytes refused: not opened or parsed again
  std::atomic<bool> loading{false};  // one configuration load at a time
  LoadState load;                    // what runs and what the last load said (status reports)
  // Anti-rollback: the version (and configuration digest) of the last package accepted,
  // persisted in <persistence_dir>/package.json so that a restart cannot be fed an older one.
  std::optional<Accepted> accepted;
  std::atomic<std::uint64_t> runs{0}, failed_runs{0};

  // This deployment's redaction: the bootstrap's secrets plus what its authentication
  // processors set as headers (bounded, oldest forgotten).
  std::mutex secrets_mu;
  std::deque<std::string> learned;
  std::shared_ptr<const opsorch::Redactor> redactor;

  // Its queue of jobs, guarded by Impl::jobs_mu.
  std::deque<Job> queue;
  std::size_t running = 0;
  std::size_t queued_bytes = 0;

  // Expectations: the running configuration's, and the state of every series they watch.
  std::atomic<bool> watching{false};  // the configuration has expectations (no lock to learn it)
  std::mutex watch_mu;                // guards expectations, series, open, series_full_warned
  std::shared_ptr<const Expectations> expectations;
  // "<expectation key>\0<dedup key>" → state: a reload that keeps a declaration keeps its state.
  std::unordered_map<std::string, SeriesState> series;
  // dedup key → expectations firing for that series: two declarations on one series share its
  // incident, which opens with the first trigger and resolves with the last resolve.
  std::unordered_map<std::string, int> open;
  // dedup key → the action ("trigger" | "resolve") whose event was not delivered (retries used
  // up, or dropped from a full queue): sent again with the series' next sample while the series
  // is still in that state, so a receiver's outage longer than the retries loses no incident.
  std::mutex undelivered_mu;
  std::unordered_map<std::string, std::string> undelivered;
  bool series_full_warned = false;
  std::atomic<std::size_t> series_count{0};
  std::atomic<std::uint64_t> triggers{0}, resolves{0}, untracked{0};
  std::atomic<std::uint64_t> events_sent{0}, events_failed{0}, events_dropped{0};
  // From the breaching (or clearing) sample to the receiver's 2xx, per accepted event: bucket
  // counts (kEventLatencyBounds, then +Inf) and the sum in nanoseconds.
  std::array<std::atomic<std::uint64_t>, 15> event_latency{};
  std::atomic<std::uint64_t> event_latency_sum_ns{0};
};

// Upper bounds (seconds) of the transition-to-accepted histogram's buckets.
constexpr double kEventLatencyBounds[] = {0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
                                          0.015,  0.02,  0.03,  0.05,  0.1,   0.25,   1};

// One Events v2 event waiting for the sender.
struct IncidentEvent {
  DeploymentRt* d = nullptr;
  std::string action;  // trigger | resolve
  std::string dedup_key;
  std::string body;                     // the Events v2 JSON (holds the routing key: never logged)
  Clock::time_point at = Clock::now();  // the transition: queued while the sample was judged
};

// One trigger due at `due`; stale once its deployment loaded a newer configuration.
struct TimerEntry {
  Clock::time_point due;
  std::size_t deployment;
  std::uint64_t generation;
  std::size_t workflow, step;  // indices into that generation's config
  bool poll = false;           // a configuration poll instead of a step
};

// A min-heap on `due` (std::push_heap's max-heap with the order reversed); a plain vector so
// that a reload can drop its deployment's stale entries.
bool LaterDue(const TimerEntry& a, const TimerEntry& b) { return a.due > b.due; }

bool MatchesStatus(const StatusHandler& h, int status) {
  return status >= h.from && status <= h.to;
}

// data: processor → step → workflow → config → bootstrap deployment; the most specific level
// wins per top-level key.
JsonObject MergeData(std::initializer_list<const JsonObject*> levels_general_first) {
  JsonObject out;
  for (const JsonObject* level : levels_general_first) {
    for (const auto& kv : *level) out[kv.key()] = kv.value();
  }
  return out;
}

std::string StepKey(std::string_view workflow, std::string_view step) {
  return std::string(workflow) + "/" + std::string(step);
}

// scheme://host[:port] of a collector URL, for log lines (no user info, path or query, which
// may carry a token).
std::string Origin(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "?";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) {
    rest.remove_prefix(at + 1);
  }
  return std::string(url.substr(0, scheme + 3)) + std::string(rest);
}

// Text that reads back as the same double, for keys (JSON has AppendJsonDouble).
std::string NumberText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The key of an expectation's series state: its metric and a digest of what decides its
// transitions (filter, bounds, direction, for, clear_for). A reload that leaves these as they
// were keeps the series' state, open incidents included; severity and summary may change.
std::string ExpectationKey(const Expectation& e) {
  std::string text;
  const auto part = [&](std::string_view p) {
    text += std::to_string(p.size());
    text += ':';
    text += p;
  };
  part(e.metric);
  for (const auto& [k, v] : e.dimensions) {
    part(k);
    part(v);
  }
  part(e.above ? NumberText(*e.above) : "-");
  part(e.below ? NumberText(*e.below) : "-");
  part(e.direction == Expectation::Direction::kUp     ? "up"
       : e.direction == Expectation::Direction::kDown ? "down"
                                                      : "-");
  part(NumberText(e.change));
  part(std::to_string(e.hold.count()));
  part(std::to_string(e.clear.count()));
  return e.metric + "#" + ConfigDigest(text).substr(0, 16);
}

// The Events v2 event of a transition. A trigger carries the payload (summary, source, severity,
// the sample's time, and the sample and declaration as custom details); a resolve only names the
// dedup key, as Events v2 asks.
std::string IncidentEventBody(const IncidentTarget& t, std::string_view deployment,
                              std::string_view action, std::string_view dedup_key,
                              const Expectation* e, const Metric* m) {
  std::string out = R"({"routing_key":)";
  AppendJsonString(out, t.routing_key);
  out += R"(,"event_action":)";
  AppendJsonString(out, action);
  out += R"(,"dedup_key":)";
  AppendJsonString(out, dedup_key);
  out += R"(,"client":"opsorch workflows")";
  if (e != nullptr && m != nullptr) {
    out += R"(,"payload":{"summary":)";
    AppendJsonString(out, Summary(*e, *m));
    out += R"(,"source":)";
    AppendJsonString(out, t.source);
    out += R"(,"severity":)";
    AppendJsonString(out, e->severity);
    // A processor may stamp its sample with any integer: one outside 1970–9999 goes without.
    if (m->timestamp_ms >= 0 && m->timestamp_ms <= kMaxTimestampMs) {
      out += R"(,"timestamp":)";
      AppendJsonString(out, FormatRfc3339Nano(Time::FromUnixNanos(m->timestamp_ms * 1'000'000)));
    }
    out += R"(,"custom_details":{"metric":)";
    AppendJsonString(out, m->key);
    out += R"(,"value":)";
    AppendJsonDouble(out, m->value);
    out += R"(,"dimensions":)";
    AppendDimensionsJson(out, m->dimensions);
    out += R"(,"deployment":)";
    AppendJsonString(out, deployment);
    out += R"(,"expectation":{)";
    bool first = true;
    const auto field = [&](std::string_view name) {
      if (!first) out += ',';
      first = false;
      AppendJsonString(out, name);
      out += ':';
    };
    if (e->above) {
      field("above");
      AppendJsonDouble(out, *e->above);
    }
    if (e->below) {
      field("below");
      AppendJsonDouble(out, *e->below);
    }
    if (e->direction != Expectation::Direction::kNone) {
      field("direction");
      AppendJsonString(out, e->direction == Expectation::Direction::kUp ? "up" : "down");
      field("change");
      AppendJsonDouble(out, e->change);
    }
    field("for");
    AppendJsonString(out, FormatDuration(e->hold));
    field("clear_for");
    AppendJsonString(out, FormatDuration(e->clear));
    out += "}}}";
  }
  out += '}';
  return out;
}

// What one delivery attempt of an incident event came to.
enum class Delivery : std::uint8_t {
  kSent,     // 2xx
  kRetry,    // 429, 5xx, no connection, no answer in time: tried again after a pause
  kRefused,  // another 4xx: the receiver will not take it, however often it is sent
  kFailed,   // not to be tried again (the address rule, a redirect, stopping)
};
struct Attempted {
  Delivery outcome;
  std::string what;  // "HTTP 503", an error's text: for log lines
};

Attempted ClassifyStatus(int status) {
  const std::string what = "HTTP " + std::to_string(status);
  if (status >= 200 && status <= 299) return {Delivery::kSent, what};
  if (status == 429 || status >= 500) return {Delivery::kRetry, what};
  if (status >= 400) return {Delivery::kRefused, what};
  return {Delivery::kFailed, what + " (redirects are not followed)"};
}

}  // namespace

struct Runtime::Impl {
  std::vector<std::string> base_secrets;  // the bootstrap's
  RuntimeOptions options;
  std::unique_ptr<ScriptRunner> scripts;
  std::unique_ptr<HttpFetcher> fetcher;
  std::vector<std::unique_ptr<DeploymentRt>> deployments;

  // The bootstrap's secrets: runtime-level log lines are masked with them.
  std::shared_ptr<const opsorch::Redactor> base_redactor;

  // The jobs (one queue per deployment, served in turn) and their threads.
  std::mutex jobs_mu;
  std::condition_variable jobs_cv, idle_cv;
  std::size_t active = 0;
  std::size_t next_deployment = 0;  // round-robin start
  std::size_t per_deployment_cap = 0;
  bool stopping = false;
  std::atomic<bool> stop_requested{false};
  std::vector<std::thread> threads;

  // Triggers and polls.
  std::mutex timers_mu;
  std::condition_variable timers_cv;
  std::vector<TimerEntry> timers;  // heap ordered by LaterDue
  std::thread scheduler;

  std::atomic<std::uint64_t> runs{0}, failed_runs{0}, skipped_overlaps{0}, dropped{0}, reloads{0},
      rejected_reloads{0}, http_calls{0}, blocked_calls{0};
  bool stopped = false;

  // Reportability: the runtime's own metrics and audit records, and the status reports to the
  // configuration service (bootstrap `report`).
  RuntimeReport report;
  StatusReportTarget report_target;
  std::int64_t started_ms = 0;
  std::mutex report_mu;
  std::condition_variable report_cv;
  bool report_wake = false, report_stop = false;
  struct PendingAudit {
    std::uint64_t seq;
    AuditRecord record;
  };
  std::deque<PendingAudit> pending_audit;  // not yet delivered to the service (bounded)
  std::uint64_t audit_seq = 0;
  std::thread reporter;
  std::unique_ptr<net::HttpClient> report_client;

  // Incident events: one sender thread delivers them in order (a resolve never overtakes its
  // trigger), retrying with backoff; steps only queue them.
  std::mutex send_mu;
  std::condition_variable send_cv, send_idle_cv;
  std::deque<IncidentEvent> send_queue;  // bounded: kMaxPendingIncidentEvents
  bool send_busy = false, send_stop = false, send_full_warned = false;
  std::atomic<bool> send_abort{false};  // Stop's flush time is up: the delivery going on ends
  std::thread sender;
  std::unique_ptr<net::HttpClient> incident_client;  // for deployments with an incidents url

  std::int64_t NowMs() const {
    if (options.now_ms) return options.now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::shared_ptr<const opsorch::Redactor> Redactor(DeploymentRt& d) {
    std::lock_guard lock(d.secrets_mu);
    return d.redactor;
  }

  void Learn(DeploymentRt& d, const std::vector<std::string>& values) {
    std::lock_guard lock(d.secrets_mu);
    bool added = false;
    for (const std::string& v : values) {
      if (v.size() < kMinSecretLength) continue;
      if (std::find(d.learned.begin(), d.learned.end(), v) != d.learned.end()) continue;
      d.learned.push_back(v);
      if (d.learned.size() > kMaxLearnedSecrets) d.learned.pop_front();
      added = true;
    }
    if (!added && d.redactor) return;
    std::vector<std::string> all = base_secrets;
    all.insert(all.end(), d.learned.begin(), d.learned.end());
    d.redactor = std::make_shared<opsorch::Redactor>(all, kMinSecretLength);
  }

  // Runtime-level lines (reloads, outputs) can quote a configuration source or an error that
  // holds a substituted value: masked with the bootstrap's secrets.
  void RuntimeLog(log::Level level, const std::string& message, const DeploymentRt& d) {
    log::Write(level, base_redactor->Apply(message), {{"deployment", d.def.id}});
  }

  // ---- reportability ----

  // Audit records: to the local log, every output, and the next status report. The caller
  // decided it is news (FirstSeen) or a configuration decision; values are masked here.
  void Audit(DeploymentRt& d, AuditRecord r) {
    const auto redactor = Redactor(d);
    r.message = redactor->Apply(r.message);
    Dimensions detail;
    for (auto& [k, v] : r.detail) detail.emplace(k, redactor->Apply(v));
    r.detail = std::move(detail);
    report.AuditWritten(d.def.id, r.kind);
    if (options.local_logs) {
      log::Write(log::Level::kInfo, "workflow audit: " + r.message,
                 {{"deployment", d.def.id}, {"audit", r.kind}});
    }
    for (auto& o : d.outputs) {
      if (!o.entry.audit || !o.output) continue;
      const std::string line = AuditLineJson(r, o.entry.token);
      if (auto st = o.output->Append(std::span<const std::string>(&line, 1)); !st) {
        RuntimeLog(
            log::Level::kWarn,
            "workflow: output " + o.entry.id + " refused an audit record: " + st.error().message,
            d);
      }
    }
    if (options.observer.on_audit) options.observer.on_audit(r);
    if (report_target.url.empty()) return;
    bool wake = false;
    {
      std::lock_guard lock(report_mu);
      pending_audit.push_back({++audit_seq, std::move(r)});
      // A service that is down for long must not grow the agent: the oldest go first (the
      // outputs and the local log still have them).
      while (pending_audit.size() > kMaxPendingAudit) pending_audit.pop_front();
      // A burst (a new workflow's first calls and metrics) goes out now, not at the interval.
      wake = pending_audit.size() == kAuditWakeBacklog;
      if (wake) report_wake = true;
    }
    if (wake) report_cv.notify_all();
  }

  void WakeReporter() {
    if (report_target.url.empty()) return;
    {
      std::lock_guard lock(report_mu);
      report_wake = true;
    }
    report_cv.notify_all();
  }

  // Bytes a record takes in a report, as StatusDocument writes it (clipped).
  static std::size_t AuditBytes(const AuditRecord& r) {
    std::size_t n =
        96 + r.kind.size() + r.deployment.size() + std::min<std::size_t>(r.message.size(), 2004);
    for (const auto& [k, v] : r.detail) n += 8 + k.size() + std::min<std::size_t>(v.size(), 2004);
    return n * 2;  // escapes: never more than this for what the clip leaves
  }

  JsonObject StatusDocument(const std::vector<PendingAudit>& batch) {
    JsonObject agent;
    agent["version"] = std::string("opsorch ") + OPSORCH_VERSION;
    agent["startedAt"] = started_ms;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') agent["host"] = host;
    JsonArray deps;
    for (const auto& dp : deployments) {
      DeploymentRt& d = *dp;
      JsonObject o;
      o["id"] = d.def.id;
      o["source"] = base_redactor->Apply(DescribeSource(d.def.config));
      {
        std::lock_guard lock(d.mu);
        if (!d.load.package_id.empty()) {
          o["packageId"] = d.load.package_id;
          o["version"] = d.load.version;
          o["sha256"] = d.load.sha256;
        }
        if (d.load.loaded_at != 0) o["loadedAt"] = d.load.loaded_at;
        if (d.load.last_poll != 0) o["lastPoll"] = d.load.last_poll;
        if (!d.load.last_error.empty()) {
          o["lastError"] = Clip(d.load.last_error);
          o["lastErrorAt"] = d.load.last_error_at;
          o["refusal"] = d.load.refusal;
        }
      }
      o["runs"] = d.runs.load();
      o["failedRuns"] = d.failed_runs.load();
      deps.emplace_back(std::move(o));
    }
    JsonArray audit;
    for (const auto& p : batch) {
      // The service refuses a report with a string over 4 KiB: long messages (a refusal that
      // quotes a long path) are cut, never the report.
      AuditRecord r = p.record;
      r.message = Clip(r.message);
      for (auto& [k, v] : r.detail) v = Clip(v);
      audit.emplace_back(AuditJson(r));
    }
    JsonObject doc;
    doc["agent"] = std::move(agent);
    doc["deployments"] = std::move(deps);
    doc["audit"] = std::move(audit);
    return doc;
  }

  // Posts the status (and up to kAuditPerReport pending audit records) every interval, and soon
  // after a configuration load. Undelivered records stay pending for the next report.
  void Reporter() {
    std::unique_lock lock(report_mu);
    bool failing = false;
    // After a 429 (the service takes one report a second per agent) the next try comes after
    // its Retry-After, not a whole interval later.
    std::chrono::milliseconds retry_after{0};  // 0: none
    while (!report_stop) {
      if (retry_after.count() > 0) {
        report_cv.wait_for(lock, retry_after, [&] { return report_stop; });
        retry_after = std::chrono::milliseconds(0);
      } else {
        report_cv.wait_for(lock, report_target.interval,
                           [&] { return report_wake || report_stop; });
      }
      if (report_stop) break;
      report_wake = false;
      // At most kAuditPerReport records and kAuditBytesPerReport bytes of them: the service
      // refuses bigger reports, and a batch it refuses must not block every later one.
      std::vector<PendingAudit> batch;
      std::size_t batch_bytes = 0;
      for (std::size_t i = 0; i < pending_audit.size() && i < kAuditPerReport; ++i) {
        const std::size_t bytes = AuditBytes(pending_audit[i].record);
        if (!batch.empty() && batch_bytes + bytes > kAuditBytesPerReport) break;
        batch.push_back(pending_audit[i]);
        batch_bytes += bytes;
      }
      lock.unlock();
      const std::string body = boost::json::serialize(StatusDocument(batch));
      net::OutboundRequest req;
      req.method = "POST";
      req.url = report_target.url;
      req.headers = report_target.headers;
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body;
      req.timeout = report_target.timeout;
      req.max_response_bytes = 64u << 10;
      // The service is the operator's own (like the configuration source): private is allowed.
      req.allow_private = true;
      req.abort = &stop_requested;
      req.pool_key = "status-report";
      auto resp = report_client->Perform(req);
      const bool ok = resp && resp->status >= 200 && resp->status <= 299;
      if (!ok && !failing && !(resp && resp->status == 429)) {
        log::Warn(base_redactor->Apply(
            "workflow: status report to " + Origin(report_target.url) + " failed: " +
            (resp ? "HTTP status " + std::to_string(resp->status) : resp.error().message) +
            " (retried every " + std::to_string(report_target.interval.count()) + " ms)"));
      } else if (ok && failing) {
        log::Info("workflow: status reports delivered again");
      }
      if (ok) {
        failing = false;
      } else if (!(resp && resp->status == 429)) {
        failing = true;  // a 429 is pacing, not an outage
      }
      // 413: too big for this service whatever happens next; those records are in the outputs
      // and the log, so they go rather than stop every later report.
      const bool drop = !ok && resp && resp->status == 413;
      if (!ok && resp && resp->status == 429) {
        std::int64_t seconds = 1;
        for (const auto& [name, value] : resp->headers) {
          if (strcasecmp(name.c_str(), "retry-after") != 0) continue;
          seconds = std::clamp<std::int64_t>(std::atoll(value.c_str()), 1, 60);
        }
        retry_after = std::chrono::seconds(seconds);
      }
      lock.lock();
      if ((ok || drop) && !batch.empty()) {
        const std::uint64_t last = batch.back().seq;
        while (!pending_audit.empty() && pending_audit.front().seq <= last) {
          pending_audit.pop_front();
        }
        // More waiting: send them now rather than one batch per interval.
        if (!pending_audit.empty()) report_wake = true;
      }
    }
  }

  // ---- output of what processors emit ----

  // One Append per output for all metrics of a processor run: each Append is a durable write.
  void EmitMetrics(DeploymentRt& d, std::vector<Metric> metrics) {
    const auto r = Redactor(d);
    std::vector<Metric> kept;
    kept.reserve(metrics.size());
    for (Metric& m : metrics) {
      if (!std::isfinite(m.value)) {
        EmitLog(d, {NowMs(), "warn", "metric \"" + m.key + "\" dropped: value is not finite", {}});
        continue;
      }
      m.key = r->Apply(m.key);
      Dimensions dims;
      for (auto& [k, v] : m.dimensions) dims.emplace(r->Apply(k), r->Apply(v));
      m.dimensions = std::move(dims);
      if (options.observer.on_metric) options.observer.on_metric(d.def.id, m);
      if (options.metric_store != nullptr) options.metric_store->Add(m);
      Watch(d, m);
      if (options.report && report.FirstSeen(d.def.id, "metric_first_emit", m.key)) {
        const std::string key = Clip(m.key, 256);
        Audit(d, {NowMs(),
                  d.def.id,
                  "metric_first_emit",
                  "first emission of metric " + key,
                  {{"key", key}}});
      }
      kept.push_back(std::move(m));
    }
    if (kept.empty()) return;
    if (options.report) report.MetricsEmitted(d.def.id, kept.size());
    for (auto& o : d.outputs) {
      if (!o.entry.metrics || !o.output) continue;
      std::vector<std::string> lines;
      lines.reserve(kept.size());
      for (const Metric& m : kept) lines.push_back(MetricLine(m, d.def.id, o.entry.token));
      if (auto st = o.output->Append(lines); !st) {
        RuntimeLog(log::Level::kWarn,
                   "workflow: output " + o.entry.id + " refused " + std::to_string(lines.size()) +
                       " metrics: " + st.error().message,
                   d);
      }
    }
  }

  void EmitLog(DeploymentRt& d, LogLine l) {
    const auto r = Redactor(d);
    l.message = r->Apply(l.message);
    for (auto& [k, v] : l.context) v = r->Apply(v);
    if (t_captured_logs != nullptr && t_captured_logs->size() < kMaxCapturedLogs) {
      t_captured_logs->push_back(l);
    }
    if (options.observer.on_log) options.observer.on_log(d.def.id, l);
    const log::Level level = l.level == "error"   ? log::Level::kError
                             : l.level == "warn"  ? log::Level::kWarn
                             : l.level == "debug" ? log::Level::kDebug
                                                  : log::Level::kInfo;
    const auto ctx = [&](const char* key) -> std::string_view {
      auto it = l.context.find(key);
      return it == l.context.end() ? std::string_view() : std::string_view(it->second);
    };
    if (options.local_logs) {
      log::Write(level, "workflow: " + l.message,
                 {{"deployment", d.def.id}, {"workflow", ctx("workflow")}, {"step", ctx("step")}});
    }
    for (auto& o : d.outputs) {
      if (!o.entry.logs || !o.output) continue;
      const std::string line = LogLineJson(l, d.def.id, o.entry.token);
      if (auto st = o.output->Append(std::span<const std::string>(&line, 1)); !st) {
        RuntimeLog(log::Level::kWarn,
                   "workflow: output " + o.entry.id + " refused a log line: " + st.error().message,
                   d);
      }
    }
  }

  // ---- expectations and incident events ----

  // A metric (redacted) against the running configuration's expectations: each one that watches
  // it advances its series' state, and a transition becomes an incident event.
  void Watch(DeploymentRt& d, const Metric& m) {
    if (!d.watching.load(std::memory_order_acquire)) return;
    std::lock_guard lock(d.watch_mu);
    if (!d.expectations) return;
    std::string dedup;  // of the series, once an expectation watches it
    const Expectation* watching = nullptr;
    bool transition = false;
    for (const ActiveExpectation& a : *d.expectations) {
      if (!Watches(a.e, m)) continue;
      if (dedup.empty()) dedup = DedupKey(d.def.id, m);
      if (watching == nullptr) watching = &a.e;
      std::string key = a.key;
      key += '\0';
      key += dedup;
      auto it = d.series.find(key);
      if (it == d.series.end()) {
        if (d.series.size() >= kMaxSeriesPerDeployment) {
          d.untracked.fetch_add(1, std::memory_order_relaxed);
          if (!d.series_full_warned) {
            d.series_full_warned = true;
            RuntimeLog(log::Level::kWarn,
                       "workflow: expectations track at most " +
                           std::to_string(kMaxSeriesPerDeployment) +
                           " series per deployment; samples of further series (" + m.key +
                           ") are not evaluated (counted in "
                           "opsorch_workflow_expectation_untracked_samples_total)",
                       d);
          }
          continue;
        }
        it = d.series.emplace(std::move(key), SeriesState{}).first;
      }
      Evaluation ev = Evaluate(a.e, it->second, m.value, m.timestamp_ms);
      it->second = ev.next;
      transition = transition || ev.transition != Transition::kNone;
      if (ev.transition == Transition::kTrigger) {
        d.triggers.fetch_add(1, std::memory_order_relaxed);
        if (d.open[dedup]++ == 0) QueueIncident(d, "trigger", dedup, &a.e, &m);
      } else if (ev.transition == Transition::kResolve) {
        d.resolves.fetch_add(1, std::memory_order_relaxed);
        CloseSeries(d, dedup);
      }
    }
    d.series_count.store(d.series.size(), std::memory_order_relaxed);
    if (watching != nullptr && !transition) ResendUndelivered(d, dedup, *watching, m);
  }

  // The series' last event was not delivered and the series is still in that state: its next
  // sample sends it again (at most once per sample). With watch_mu held.
  void ResendUndelivered(DeploymentRt& d, const std::string& dedup, const Expectation& e,
                         const Metric& m) {
    std::string action;
    {
      std::lock_guard lock(d.undelivered_mu);
      auto it = d.undelivered.find(dedup);
      if (it == d.undelivered.end()) return;
      const bool firing = d.open.contains(dedup);
      if ((it->second == "trigger") != firing) {
        d.undelivered.erase(it);  // the series moved on: its newer event was queued
        return;
      }
      action = std::move(it->second);
      d.undelivered.erase(it);
    }
    if (action == "trigger") {
      QueueIncident(d, "trigger", dedup, &e, &m);
    } else {
      QueueIncident(d, "resolve", dedup, nullptr, nullptr);
    }
  }

  void Undelivered(DeploymentRt& d, const IncidentEvent& ev) {
    std::lock_guard lock(d.undelivered_mu);
    d.undelivered[ev.dedup_key] = ev.action;
  }
  void Delivered(DeploymentRt& d, const IncidentEvent& ev) {
    std::lock_guard lock(d.undelivered_mu);
    auto it = d.undelivered.find(ev.dedup_key);
    if (it != d.undelivered.end() && it->second == ev.action) d.undelivered.erase(it);
  }

  // One expectation stopped firing for the series `dedup`: the last one resolves its incident.
  // With watch_mu held.
  void CloseSeries(DeploymentRt& d, const std::string& dedup) {
    auto o = d.open.find(dedup);
    if (o == d.open.end()) return;
    if (--o->second > 0) return;
    d.open.erase(o);
    QueueIncident(d, "resolve", dedup, nullptr, nullptr);
  }

  // A newly loaded configuration's expectations. Series of declarations that are unchanged keep
  // their state; those of removed or changed ones are forgotten, and an incident that only they
  // held open is resolved (a changed declaration triggers again if the breach goes on).
  void WatchConfig(DeploymentRt& d, const WorkflowConfig& cfg) {
    auto active = std::make_shared<Expectations>();
    std::set<std::string, std::less<>> keys;
    for (const Expectation& e : cfg.expectations) {
      std::string key = ExpectationKey(e);
      if (!keys.insert(key).second) continue;  // the same declaration twice: one state
      active->push_back({e, std::move(key)});
    }
    {
      std::lock_guard lock(d.watch_mu);
      for (auto it = d.series.begin(); it != d.series.end();) {
        const std::size_t sep = it->first.find('\0');
        if (keys.contains(std::string_view(it->first).substr(0, sep))) {
          ++it;
          continue;
        }
        if (it->second.firing) CloseSeries(d, it->first.substr(sep + 1));
        it = d.series.erase(it);
      }
      if (active->empty()) {
        d.expectations.reset();
      } else {
        d.expectations = active;
      }
      d.series_full_warned = false;
      d.series_count.store(d.series.size(), std::memory_order_relaxed);
      d.watching.store(!active->empty(), std::memory_order_release);
    }
    if (!active->empty() && !d.def.incidents) {
      RuntimeLog(log::Level::kWarn,
                 "workflow: " + std::to_string(active->size()) +
                     " expectations are evaluated, but the bootstrap gives deployment " + d.def.id +
                     " no incidents section: their transitions are counted, no incident is "
                     "raised",
                 d);
    }
  }

  // Queues the event of a transition for the sender (never waits). Without an incidents section,
  // or in the test runner, the transition was only counted. With watch_mu held, so that the
  // events of one series are queued in the order of its transitions.
  void QueueIncident(DeploymentRt& d, std::string_view action, const std::string& dedup,
                     const Expectation* e, const Metric* m) {
    if (!d.def.incidents || !options.use_outputs) return;
    IncidentEvent ev{&d, std::string(action), dedup,
                     IncidentEventBody(*d.def.incidents, d.def.id, action, dedup, e, m)};
    bool warn = false;
    {
      std::lock_guard lock(send_mu);
      if (send_stop || send_queue.size() >= kMaxPendingIncidentEvents) {
        Undelivered(d, ev);  // before the count: whoever sees the count finds it recorded
        d.events_dropped.fetch_add(1, std::memory_order_relaxed);
        warn = !send_full_warned;
        send_full_warned = true;
      } else {
        send_queue.push_back(std::move(ev));
      }
    }
    if (warn) {
      RuntimeLog(log::Level::kWarn,
                 "workflow: incident " + std::string(action) + " for " + dedup +
                     " dropped: " + std::to_string(kMaxPendingIncidentEvents) +
                     " incident events are waiting for delivery, or the runtime is stopping",
                 d);
      return;
    }
    send_cv.notify_all();
  }

  void Sender() {
    std::unique_lock lock(send_mu);
    for (;;) {
      send_cv.wait(lock, [&] { return send_stop || !send_queue.empty(); });
      if (send_queue.empty() || send_abort.load()) break;
      IncidentEvent ev = std::move(send_queue.front());
      send_queue.pop_front();
      send_busy = true;
      lock.unlock();
      Deliver(ev);
      lock.lock();
      send_busy = false;
      if (send_queue.empty()) send_full_warned = false;
      send_idle_cv.notify_all();
    }
    // Stop's flush time is up: what is still queued is not delivered.
    if (!send_queue.empty()) {
      for (const IncidentEvent& ev : send_queue) {
        ev.d->events_dropped.fetch_add(1, std::memory_order_relaxed);
      }
      log::Warn("workflow: " + std::to_string(send_queue.size()) +
                " incident events not delivered before the stop");
      send_queue.clear();
    }
    send_idle_cv.notify_all();
  }

  static std::string Destination(const IncidentTarget& t) {
    return t.url.empty() ? std::string("the local incident engine") : Origin(t.url);
  }

  // One event, in order, with retries (250 ms doubling, kIncidentAttempts attempts). Log lines
  // name the action, the dedup key and the status, never the event (it holds the routing key).
  void Deliver(IncidentEvent& ev) {
    DeploymentRt& d = *ev.d;
    const IncidentTarget& t = *d.def.incidents;
    const std::string what =
        "workflow: incident " + ev.action + " for " + ev.dedup_key + " to " + Destination(t);
    std::chrono::milliseconds pause = kIncidentRetryFirst;
    for (int attempt = 1;; ++attempt) {
      const Attempted a = t.url.empty() ? AttemptSink(t, ev.body) : AttemptUrl(t, ev.body);
      if (a.outcome == Delivery::kSent) {
        d.events_sent.fetch_add(1, std::memory_order_relaxed);
        Delivered(d, ev);
        const auto took = std::chrono::duration<double>(Clock::now() - ev.at).count();
        std::size_t b = 0;
        while (b < std::size(kEventLatencyBounds) && took > kEventLatencyBounds[b]) ++b;
        d.event_latency[b].fetch_add(1, std::memory_order_relaxed);
        d.event_latency_sum_ns.fetch_add(static_cast<std::uint64_t>(took * 1e9),
                                         std::memory_order_relaxed);
        if (attempt > 1) {
          RuntimeLog(log::Level::kInfo, what + " delivered at attempt " + std::to_string(attempt),
                     d);
        }
        return;
      }
      if (a.outcome == Delivery::kRefused) {
        d.events_dropped.fetch_add(1, std::memory_order_relaxed);
        RuntimeLog(log::Level::kWarn, what + " refused (" + a.what + "): dropped", d);
        return;
      }
      if (a.outcome == Delivery::kFailed || attempt >= kIncidentAttempts) {
        Undelivered(d, ev);  // before the count: whoever sees the count finds it recorded
        d.events_failed.fetch_add(1, std::memory_order_relaxed);
        RuntimeLog(log::Level::kWarn,
                   what + " failed after " + std::to_string(attempt) + " attempt" +
                       (attempt > 1 ? "s" : "") + " (" + a.what + ")",
                   d);
        return;
      }
      std::unique_lock lock(send_mu);
      if (send_cv.wait_for(lock, pause, [&] { return send_abort.load(); })) {
        d.events_failed.fetch_add(1, std::memory_order_relaxed);
        RuntimeLog(log::Level::kWarn, what + " not delivered before the stop (" + a.what + ")", d);
        return;
      }
      pause *= 2;
    }
  }

  Attempted AttemptUrl(const IncidentTarget& t, const std::string& body) {
    net::OutboundRequest req;
    req.method = "POST";
    req.url = t.url;
    req.headers = {{"Content-Type", "application/json"}};
    req.body = body;
    req.timeout = t.timeout;
    req.connect_timeout = std::min<std::chrono::milliseconds>(t.timeout, std::chrono::seconds(5));
    req.max_response_bytes = 64u << 10;
    req.keep_body = false;
    // The operator's word, as for a host: a loopback or private receiver needs allow_private.
    req.allow_private = t.allow_private;
    req.abort = &send_abort;
    req.pool_key = "incidents";
    auto resp = incident_client->Perform(req);
    if (resp) return ClassifyStatus(resp->status);
    const ErrorCode code = resp.error().code;
    if (code == ErrorCode::kAddressDenied || code == ErrorCode::kBadRequest ||
        code == ErrorCode::kUnavailable) {
      return {Delivery::kFailed, resp.error().message};
    }
    return {Delivery::kRetry, resp.error().message};
  }

  // The local sink answers from any thread; the answer is waited for up to the timeout.
  Attempted AttemptSink(const IncidentTarget& t, const std::string& body) {
    struct Reply {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<int> status;
    };
    auto reply = std::make_shared<Reply>();
    options.incident_sink(body, [reply](int status) {
      {
        std::lock_guard lock(reply->mu);
        if (!reply->status) reply->status = status;
      }
      reply->cv.notify_all();
    });
    const auto deadline = Clock::now() + t.timeout;
    std::unique_lock lock(reply->mu);
    // In slices, so that Stop's deadline (send_abort) ends the wait too.
    while (!reply->status && !send_abort.load() && Clock::now() < deadline) {
      reply->cv.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (reply->status) return ClassifyStatus(*reply->status);
    return {Delivery::kRetry, "no answer within " + FormatDuration(t.timeout)};
  }

  // opsorch_workflow_expectation_* and opsorch_workflow_incident_events_total, per deployment.
  void RenderIncidentMetrics(std::string& out) const {
    if (deployments.empty()) return;
    const auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
      out.append("# HELP ").append(name).append(" ").append(help).append("\n");
      out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    const auto row = [&](std::string_view name, std::string labels, std::uint64_t value) {
      out.append(name).append(labels).append(" ").append(std::to_string(value)).append("\n");
    };
    constexpr std::string_view kTransitions = "opsorch_workflow_expectation_transitions_total";
    family(kTransitions, "counter",
           "Expectation transitions of workflow metric series (trigger: a breach held for its "
           "`for`; resolve: back in bounds for its `clear_for`).");
    for (const auto& d : deployments) {
      row(kTransitions,
          metrics::RenderLabels({{"deployment", d->def.id}, {"transition", "trigger"}}),
          d->triggers.load());
      row(kTransitions,
          metrics::RenderLabels({{"deployment", d->def.id}, {"transition", "resolve"}}),
          d->resolves.load());
    }
    constexpr std::string_view kEvents = "opsorch_workflow_incident_events_total";
    family(kEvents, "counter",
           "Events v2 events of expectation transitions, by result (sent: accepted; failed: not "
           "accepted after retries, or not to be retried; dropped: refused by the receiver with "
           "a 4xx, the queue was full, or the runtime stopped first).");
    for (const auto& d : deployments) {
      row(kEvents, metrics::RenderLabels({{"deployment", d->def.id}, {"result", "sent"}}),
          d->events_sent.load());
      row(kEvents, metrics::RenderLabels({{"deployment", d->def.id}, {"result", "failed"}}),
          d->events_failed.load());
      row(kEvents, metrics::RenderLabels({{"deployment", d->def.id}, {"result", "dropped"}}),
          d->events_dropped.load());
    }
    constexpr std::string_view kLatency = "opsorch_workflow_incident_event_seconds";
    family(kLatency, "histogram",
           "From the sample that made an expectation trigger or resolve to the receiver's "
           "acceptance of its event (retries included), per accepted event.");
    for (const auto& d : deployments) {
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b <= std::size(kEventLatencyBounds); ++b) {
        cumulative += d->event_latency[b].load();
        std::string le = "+Inf";
        if (b < std::size(kEventLatencyBounds)) {
          le.clear();
          AppendJsonDouble(le, kEventLatencyBounds[b]);
        }
        row(std::string(kLatency) + "_bucket",
            metrics::RenderLabels({{"deployment", d->def.id}, {"le", le}}), cumulative);
      }
      out.append(kLatency)
          .append("_sum")
          .append(metrics::RenderLabels({{"deployment", d->def.id}}))
          .append(" ");
      AppendJsonDouble(out, static_cast<double>(d->event_latency_sum_ns.load()) / 1e9);
      out.append("\n");
      row(std::string(kLatency) + "_count", metrics::RenderLabels({{"deployment", d->def.id}}),
          cumulative);
    }
    constexpr std::string_view kSeries = "opsorch_workflow_expectation_series";
    family(kSeries, "gauge", "Metric series whose expectation state is kept.");
    for (const auto& d : deployments) {
      row(kSeries, metrics::RenderLabels({{"deployment", d->def.id}}), d->series_count.load());
    }
    constexpr std::string_view kUntracked = "opsorch_workflow_expectation_untracked_samples_total";
    family(kUntracked, "counter",
           "Samples not evaluated because the deployment already tracks the maximum number of "
           "series (10000).");
    for (const auto& d : deployments) {
      row(kUntracked, metrics::RenderLabels({{"deployment", d->def.id}}), d->untracked.load());
    }
  }

  // ---- running a step ----

  struct Run;  // one step invocation

  // `calls_left` is the call budget of the tree the run belongs to (null: a new tree).
  Result<Message> ExecStep(DeploymentRt& d, const ConfigPtr& cfg, const Workflow& wf,
                           const Step& step, Message input, int depth, int* calls_left);

  // False (and counted as dropped) when the deployment's queue is full (jobs or payload bytes)
  // or the runtime is stopping.
  bool Enqueue(DeploymentRt& d, std::function<void()> fn, std::size_t bytes = 0) {
    {
      std::lock_guard lock(jobs_mu);
      if (stopping || d.queue.size() >= options.queue_limit ||
          d.queued_bytes + bytes > kMaxQueuedBytes) {
        dropped.fetch_add(1);
        report.QueueDropped(d.def.id);
        return false;
      }
      d.queue.push_back({std::move(fn), bytes});
      d.queued_bytes += bytes;
    }
    jobs_cv.notify_one();
    return true;
  }

  // The next job, deployments in turn, none running more than its share of the threads: a
  // deployment whose steps hang on slow hosts or spin to their CPU limit leaves threads to the
  // others. With jobs_mu held.
  DeploymentRt* PickJob(Job* job) {
    const std::size_t n = deployments.size();
    for (std::size_t k = 0; k < n; ++k) {
      DeploymentRt& d = *deployments[(next_deployment + k) % n];
      if (d.queue.empty() || d.running >= per_deployment_cap) continue;
      *job = std::move(d.queue.front());
      d.queue.pop_front();
      d.queued_bytes -= job->bytes;
      ++d.running;
      next_deployment = (d.index + 1) % n;
      return &d;
    }
    return nullptr;
  }

  void Worker() {
    std::unique_lock lock(jobs_mu);
    for (;;) {
      Job job;
      DeploymentRt* d = PickJob(&job);
      if (d == nullptr) {
        if (stopping) return;  // queues are cleared when stopping
        jobs_cv.wait(lock);
        continue;
      }
      ++active;
      lock.unlock();
      try {
        job.fn();
      } catch (const std::exception& e) {
        // bad_alloc in a job must not take the runtime down with it.
        log::Error(std::string("workflow: a run failed with an exception: ") + e.what(),
                   {{"deployment", d->def.id}});
      }
      job = Job{};
      lock.lock();
      --active;
      --d->running;
      jobs_cv.notify_all();  // a deployment at its share may take a thread again
      idle_cv.notify_all();
    }
  }

  bool AllIdle() const {  // with jobs_mu held
    if (active != 0) return false;
    for (const auto& d : deployments) {
      if (!d->queue.empty()) return false;
    }
    return true;
  }

  // ---- configuration loading ----

  // Loads the deployment's configuration if its text changed. Initial load errors are returned;
  // later ones keep the running configuration and are logged (once per distinct text).
  // `schedule`: start the new configuration's triggers.
  Status Load(std::size_t index, bool initial, bool schedule) {
    DeploymentRt& d = *deployments[index];
    if (d.loading.exchange(true)) return Ok();  // a load is already running (slow source)
    struct Done {
      std::atomic<bool>& flag;
      ~Done() { flag.store(false); }
    } done{d.loading};
    const std::string what = DescribeSource(d.def.config);
    std::string etag;
    {
      std::lock_guard lock(d.mu);
      etag = d.etag;
    }
    auto read = ReadConfigSource(d.def.config, etag);
    {
      std::lock_guard lock(d.mu);
      d.load.last_poll = NowMs();
      if (read) d.etag = read->etag;
    }
    if (read && !read->bytes) return Ok();  // 304: unchanged
    Result<std::string> bytes =
        read ? Result<std::string>(std::move(*read->bytes)) : Fail(std::move(read.error()));
    if (!bytes) {
      if (initial) return Fail(bytes.error());
      rejected_reloads.fetch_add(1);
      NoteFailure(d, {"source_error", bytes.error().message, std::nullopt}, /*audit=*/false);
      RuntimeLog(
          log::Level::kWarn,
          "workflow: configuration not reloaded, keeping the running one: " + bytes.error().message,
          d);
      return Ok();
    }
    const std::string digest = ConfigDigest(*bytes);
    {
      // Unchanged bytes, or bytes already refused: nothing to do (a poll must not re-verify,
      // re-parse and re-compile every processor, nor repeat the same error every few seconds).
      std::lock_guard lock(d.mu);
      if (d.running_digest == digest || d.rejected_digest == digest) {
        return Ok();
      }
    }
    auto unpacked = Unpack(d, std::move(*bytes));
    Result<ConfigPtr> parsed = Fail(errc::kInternal, "");
    if (unpacked) {
      std::string base_dir;
      // A package carries its resources inline: no file of this machine is read for it.
      if (!d.def.config.file.empty() && !unpacked->info) {
        base_dir = std::filesystem::path(d.def.config.file).parent_path().string();
      }
      parsed = ParseWorkflowConfig(unpacked->text, what, base_dir);
    }
    if (!unpacked || !parsed) {
      // A package's configuration is secret from everyone but its recipients: its parse
      // errors (which quote it) stay in this runtime's log.
      const Refused refused =
          !unpacked ? unpacked.error()
                    : Refused{"invalid_config", parsed.error().message,
                              unpacked->info ? std::optional<std::string>(
                                                   "the package's configuration does not "
                                                   "validate (the reason is in the agent's log)")
                                             : std::nullopt};
      if (initial) return Fail(errc::kBadRequest, refused.message);
      rejected_reloads.fetch_add(1);
      {
        std::lock_guard lock(d.mu);
        d.rejected_digest = digest;
      }
      NoteFailure(d, refused, /*audit=*/true);
      RuntimeLog(log::Level::kError,
                 std::string("workflow: new ") +
                     (unpacked && unpacked->info ? "package" : "configuration") + " refused (" +
                     refused.reason + "), keeping the running one: " + refused.message,
                 d);
      return Ok();
    }
    if (unpacked->info) {
      const package::PackageInfo& info = *unpacked->info;
      if (!d.accepted || d.accepted->version != info.manifest.version ||
          d.accepted->payload_sha256 != unpacked->payload_sha256) {
        if (auto st = WriteAccepted(d.def, info, unpacked->payload_sha256, NowMs()); !st) {
          // Running a package whose version cannot be recorded would let a restart roll back.
          const Refused refused{"storage_error", st.error().message, std::nullopt};
          if (initial) return Fail(errc::kStorageError, refused.message);
          {
            std::lock_guard lock(d.mu);
            d.etag.clear();  // try again on the next poll, not only when the package changes
          }
          NoteFailure(d, refused, /*audit=*/false);
          RuntimeLog(
              log::Level::kError,
              "workflow: package not loaded, its version cannot be recorded: " + st.error().message,
              d);
          return Ok();
        }
      }
    }
    const ConfigPtr cfg = *parsed;
    std::uint64_t generation;
    AuditRecord accepted{NowMs(), d.def.id, "config_accepted", "", {}};
    {
      std::lock_guard lock(d.mu);
      d.config = cfg;
      d.running_digest = digest;
      d.rejected_digest.clear();
      generation = ++d.generation;
      d.load.loaded_at = accepted.timestamp_ms;
      d.load.last_error.clear();
      d.load.refusal.clear();
      d.load.last_error_at = 0;
      if (unpacked->info) {
        const auto& m = unpacked->info->manifest;
        d.accepted = Accepted{m.version, unpacked->payload_sha256};
        d.load.package_id = m.id;
        d.load.version = m.version;
        d.load.sha256 = unpacked->info->sha256;
        accepted.message = "package " + m.id + " " + m.version + " accepted from " + what;
        accepted.detail = {{"packageId", m.id},
                           {"version", m.version},
                           {"sha256", unpacked->info->sha256},
                           {"source", what}};
        std::string signers;
        for (const auto& k : unpacked->info->signers) {
          signers += (signers.empty() ? "" : ",") + k.Text();
        }
        accepted.detail.emplace("signers", signers);
      } else {
        d.load.package_id.clear();
        d.load.version.clear();
        d.load.sha256.clear();
        accepted.message = "configuration accepted from " + what;
        accepted.detail = {{"source", what}, {"sha256", digest}};
      }
    }
    WatchConfig(d, *cfg);
    report.ConfigLoad(d.def.id, "accepted", "");
    Audit(d, std::move(accepted));
    if (!initial) {
      reloads.fetch_add(1);
      RuntimeLog(log::Level::kInfo, "workflow: configuration reloaded", d);
    }
    WakeReporter();
    if (schedule && options.start_triggers) ScheduleTriggers(index, cfg, generation);
    return Ok();
  }

  // The configuration text in a source's bytes: a package opened under the deployment's
  // packaging rules, or a plain configuration where the bootstrap allows one.
  tl::expected<Unpacked, Refused> Unpack(DeploymentRt& d, std::string bytes) {
    const bool is_package = package::LooksLikePackage(bytes);
    if (!d.def.packaging) {
      if (is_package) {
        return tl::unexpected(
            Refused{"no_packaging",
                    "the source holds a package, but the bootstrap gives deployment " + d.def.id +
                        " no packaging section (trusted signers and this runtime's recipient key)",
                    std::nullopt});
      }
      return Plain(std::move(bytes));
    }
    std::optional<Accepted> last;
    {
      std::lock_guard lock(d.mu);
      last = d.accepted;
    }
    const std::string plain_refusal(package::RefusalName(package::Refusal::kPlainNotAllowed));
    if (!is_package) {
      // Development only: once this deployment ran a package, a plain configuration from the
      // same source would be a way around every check.
      if (d.def.packaging->allow_plain && !last) return Plain(std::move(bytes));
      return tl::unexpected(Refused{
          plain_refusal,
          last ? "not a signed package, and this deployment already accepted package version " +
                     last->version + " (allow_plain holds only until the first package)"
               : "not a signed package, and the bootstrap's packaging section does not allow "
                 "plain configurations (allow_plain)",
          std::nullopt});
    }
    auto opened =
        package::Open(bytes, d.def.packaging->policy,
                      last ? std::optional<std::string_view>(last->version) : std::nullopt);
    if (!opened) {
      return tl::unexpected(
          Refused{std::string(package::RefusalName(package::RefusalOf(opened.error()))),
                  opened.error().message, std::nullopt});
    }
    std::string digest = ConfigDigest(opened->payload);
    // The same version again is a restart, not a release: it must be the same configuration
    // (else a known-bad build could be replayed under the version of a good one).
    if (last && last->version == opened->info.manifest.version && !last->payload_sha256.empty() &&
        last->payload_sha256 != digest) {
      return tl::unexpected(
          Refused{std::string(package::RefusalName(package::Refusal::kRollback)),
                  "version " + last->version +
                      " was already accepted with another configuration: a new release needs a new "
                      "version",
                  std::nullopt});
    }
    return Unpacked{std::move(opened->payload), std::move(opened->info), std::move(digest)};
  }

  static tl::expected<Unpacked, Refused> Plain(std::string bytes) {
    if (bytes.size() > kMaxConfigBytes) {
      return tl::unexpected(
          Refused{"invalid_config", "a configuration larger than 8 MiB", std::nullopt});
    }
    return Unpacked{std::move(bytes), std::nullopt};
  }

  // A refused or failed load: kept for the status report, counted, and (for a refusal) audited.
  void NoteFailure(DeploymentRt& d, const Refused& refused, bool audit) {
    const std::int64_t now = NowMs();
    const std::string message = base_redactor->Apply(refused.reported.value_or(refused.message));
    {
      std::lock_guard lock(d.mu);
      d.load.last_error = message;
      d.load.last_error_at = now;
      d.load.refusal = refused.reason;
    }
    report.ConfigLoad(d.def.id, audit ? "refused" : "failed", refused.reason);
    if (audit) {
      Audit(d, {now,
                d.def.id,
                "config_refused",
                "configuration from " + DescribeSource(d.def.config) + " refused (" +
                    refused.reason + "): " + message,
                {{"source", DescribeSource(d.def.config)}, {"refusal", refused.reason}}});
    }
    WakeReporter();
  }

  void ScheduleTriggers(std::size_t index, const ConfigPtr& cfg, std::uint64_t generation) {
    const auto now = Clock::now();
    std::vector<std::pair<std::size_t, std::size_t>> once;
    {
      std::lock_guard lock(timers_mu);
      // The replaced configuration's triggers go now, not when they come due (a daily timer
      // would otherwise linger for a day after every reload).
      std::erase_if(timers, [&](const TimerEntry& e) {
        return e.deployment == index && !e.poll && e.generation != generation;
      });
      std::make_heap(timers.begin(), timers.end(), LaterDue);
      for (std::size_t w = 0; w < cfg->workflows.size(); ++w) {
        for (std::size_t s = 0; s < cfg->workflows[w].steps.size(); ++s) {
          const Trigger& t = cfg->workflows[w].steps[s].trigger;
          if (t.kind == Trigger::Kind::kTimer) {
            timers.push_back({now + t.delay, index, generation, w, s, false});
            std::push_heap(timers.begin(), timers.end(), LaterDue);
          } else if (t.kind == Trigger::Kind::kOnce) {
            once.emplace_back(w, s);
          }
        }
      }
    }
    timers_cv.notify_all();
    for (auto [w, s] : once) Fire(index, cfg, w, s, /*timer=*/false);
  }

  // Runs a triggered step on the pool; timer fires skip (and count) while the previous run of
  // the same step is still going.
  void Fire(std::size_t index, ConfigPtr cfg, std::size_t w, std::size_t s, bool timer) {
    DeploymentRt& d = *deployments[index];
    const Workflow& wf = cfg->workflows[w];
    const Step& step = wf.steps[s];
    const std::string key = StepKey(wf.name, step.id);
    if (timer) {
      std::lock_guard lock(d.mu);
      int& n = d.inflight[key];
      if (n >= static_cast<int>(d.def.max_concurrent_runs)) {
        skipped_overlaps.fetch_add(1);
        report.SkippedOverlap(d.def.id);
        return;
      }
      ++n;
    }
    const bool queued = Enqueue(d, [this, &d, cfg = std::move(cfg), &wf, &step, key, timer] {
      (void)ExecStep(d, cfg, wf, step, Message{}, 0, nullptr);
      if (timer) {
        std::lock_guard lock(d.mu);
        --d.inflight[key];
      }
    });
    if (!queued && timer) {
      std::lock_guard lock(d.mu);
      --d.inflight[key];
    }
  }

  void Scheduler() {
    std::unique_lock lock(timers_mu);
    for (;;) {
      if (stopped) return;
      if (timers.empty()) {
        timers_cv.wait(lock);
        continue;
      }
      const TimerEntry next = timers.front();
      if (Clock::now() < next.due) {
        timers_cv.wait_until(lock, next.due);
        continue;
      }
      std::pop_heap(timers.begin(), timers.end(), LaterDue);
      timers.pop_back();
      DeploymentRt& d = *deployments[next.deployment];
      if (next.poll) {
        timers.push_back({next.due + d.def.config.poll, next.deployment, 0, 0, 0, true});
        std::push_heap(timers.begin(), timers.end(), LaterDue);
        lock.unlock();
        Enqueue(d, [this, i = next.deployment] { (void)Load(i, false, true); });
        lock.lock();
        continue;
      }
      ConfigPtr cfg;
      {
        std::lock_guard dl(d.mu);
        if (d.generation != next.generation) continue;  // replaced by a reload
        cfg = d.config;
      }
      const Trigger& t = cfg->workflows[next.workflow].steps[next.step].trigger;
      // Fixed rate, but never a burst to catch up after a stall.
      auto due = next.due + t.period;
      if (due < Clock::now()) due = Clock::now() + t.period;
      timers.push_back({due, next.deployment, next.generation, next.workflow, next.step, false});
      std::push_heap(timers.begin(), timers.end(), LaterDue);
      lock.unlock();
      Fire(next.deployment, std::move(cfg), next.workflow, next.step, /*timer=*/true);
      lock.lock();
    }
  }
};

// ---- one step invocation ----

struct Runtime::Impl::Run final : ScriptHost {
  Impl& rt;
  DeploymentRt& d;
  const ConfigPtr& cfg;
  const Workflow& wf;
  const Step& step;
  int depth;
  int* calls_left;  // shared by the whole tree of nested calls
  Message msg;
  Headers auth_headers;  // set by `authenticate`: sent with the call, never shown to scripts
  std::string host_id, path, method = "GET";
  int status = 0;
  bool stopped = false;
  ProcessorKind current = ProcessorKind::kResult;  // of the processor running now

  Run(Impl& rt_, DeploymentRt& d_, const ConfigPtr& cfg_, const Workflow& wf_, const Step& step_,
      int depth_, int* calls_left_, Message input)
      : rt(rt_),
        d(d_),
        cfg(cfg_),
        wf(wf_),
        step(step_),
        depth(depth_),
        calls_left(calls_left_),
        msg(std::move(input)) {}

  std::string Where(std::string_view part) const {
    return d.def.id + "/" + wf.name + "/" + step.id + "/" + std::string(part);
  }

  Dimensions LogContext() const { return {{"workflow", wf.name}, {"step", step.id}}; }

  // What a processor that sees restricted host data may do: set request headers (and, in an
  // authentication step, build the request to an authentication-only host). Everything that
  // could carry the data somewhere else — metrics, log lines, persisted state, other steps,
  // and, in an `authenticate` processor, the body, properties or URL — is refused: masking
  // catches the exact value, not a transformed one.
  Status CheckAuthenticationOutput(const ScriptOutput& out, const std::string& chunk) const {
    if (!out.metrics.empty() || !out.logs.empty()) {
      return Fail(script_errc::kScriptError,
                  "processor " + chunk +
                      ": authentication processors see restricted data: they cannot emit "
                      "metrics or log lines");
    }
    if (!step.authentication &&
        (out.message.body != msg.body || out.message.properties != msg.properties ||
         out.host_id != host_id || out.path != path ||
         (!out.method.empty() && out.method != method))) {
      return Fail(script_errc::kScriptError,
                  "processor " + chunk +
                      ": an authenticate processor sees restricted data: it can only set request "
                      "headers (set the URL in `url`, the body in `payload`)");
    }
    return Ok();
  }

  Status RunChain(const ProcessorChain& chain, ProcessorKind kind, std::string_view part) {
    for (std::size_t i = 0; i < chain.size() && !stopped; ++i) {
      const Processor& p = chain[i];
      ScriptInput in;
      in.chunk_name = Where(part) + (chain.size() > 1 ? "[" + std::to_string(i) + "]" : "");
      in.source = p.source;
      in.kind = kind;
      in.data = MergeData({&d.def.data, &cfg->data, &wf.data, &step.data, &p.data});
      // The message moves into the run (a body can be megabytes) and comes back in its output;
      // an authentication processor's output is compared with it, so that one gets a copy.
      in.message = kind == ProcessorKind::kAuthentication ? msg : std::move(msg);
      in.host_id = host_id;
      in.path = path;
      in.method = method;
      in.status = status;
      if (kind == ProcessorKind::kAuthentication) in.restricted_data = d.restricted;
      in.now_ms = rt.NowMs();
      current = kind;
      auto out = rt.scripts->Run(in, d.def.limits, *this);
      if (!out) return Fail(out.error());
      if (!out->secrets.empty()) rt.Learn(d, out->secrets);
      if (kind == ProcessorKind::kAuthentication) {
        if (auto st = CheckAuthenticationOutput(*out, in.chunk_name); !st) return st;
      }
      msg = std::move(out->message);
      host_id = std::move(out->host_id);
      path = std::move(out->path);
      if (!out->method.empty()) method = std::move(out->method);
      rt.EmitMetrics(d, std::move(out->metrics));
      for (auto& l : out->logs) {
        l.context = LogContext();
        rt.EmitLog(d, std::move(l));
      }
      stopped = out->stopped;
    }
    return Ok();
  }

  Result<Message> Execute() {
    const ProcessorKind auth_kind = ProcessorKind::kAuthentication;
    if (!step.auth.empty()) {
      // The headers `authenticate` sets go with the call only: later processors (and callers
      // through the result) never see them.
      Headers before = msg.headers;
      if (auto st = RunChain(step.auth, auth_kind, "authenticate"); !st) return Fail(st.error());
      auth_headers = std::move(msg.headers);
      msg.headers = std::move(before);
      // Which step starts sending which credential header is news to an operator; its value
      // never is anywhere.
      for (const auto& [name, value] : auth_headers) {
        if (rt.options.report && rt.report.FirstSeen(d.def.id, "auth_header_set",
                                                     StepKey(wf.name, step.id) + " " + name)) {
          rt.Audit(d, {rt.NowMs(),
                       d.def.id,
                       "auth_header_set",
                       "step " + StepKey(wf.name, step.id) + " sets credential header " + name,
                       {{"workflow", wf.name}, {"step", step.id}, {"header", name}}});
        }
      }
    }
    if (auto st = RunChain(step.url, step.authentication ? auth_kind : ProcessorKind::kUrl, "url");
        !st) {
      return Fail(st.error());
    }
    if (stopped) return std::move(msg);
    if (host_id.empty()) {
      if (auto st = RunChain(step.results, ProcessorKind::kResult, "results"); !st) {
        return Fail(st.error());
      }
      return std::move(msg);
    }
    auto host_it = d.def.hosts.find(host_id);
    if (host_it == d.def.hosts.end()) {
      rt.blocked_calls.fetch_add(1);
      return Fail(fetch_errc::kNotAllowed, "no host \"" + host_id + "\" in the bootstrap");
    }
    const HostEntry& host = host_it->second;
    if (host.authentication_only != step.authentication) {
      rt.blocked_calls.fetch_add(1);
      return Fail(fetch_errc::kNotAllowed,
                  host.authentication_only
                      ? "host \"" + host_id + "\" is for authentication steps only"
                      : "an authentication step sees restricted data: it may only call "
                        "authentication_only hosts, not \"" +
                            host_id + "\"");
    }
    const std::string chosen_host = host_id;
    if (!step.payload.empty()) {
      if (auto st = RunChain(step.payload,
                             step.authentication ? auth_kind : ProcessorKind::kPayload, "payload");
          !st) {
        return Fail(st.error());
      }
      if (stopped) return std::move(msg);
      if (host_id != chosen_host) {
        rt.blocked_calls.fetch_add(1);
        return Fail(fetch_errc::kNotAllowed,
                    "a payload processor cannot change the host (set it in `url`)");
      }
    }
    FetchRequest req;
    req.method = method;
    req.path = path;
    // Both are replaced by the response (or the connect-failure text) below.
    req.headers = std::move(msg.headers);
    for (auto& h : auth_headers) req.headers.push_back(std::move(h));
    if (!step.payload.empty()) req.body = std::move(msg.body);
    HostPolicy policy = host.policy;
    // A configuration may shorten the operator's timeout, never lengthen it.
    if (step.timeout) policy.timeout = std::min(policy.timeout, *step.timeout);
    if (rt.stop_requested.load()) return Fail(errc::kInternal, "the runtime is stopping");
    rt.http_calls.fetch_add(1);
    if (rt.options.report) NoteFirstCall(host, req.method, req.path);
    auto resp = rt.fetcher->Fetch(policy, req);
    if (rt.options.report) {
      rt.report.HttpCall(d.def.id, host_id,
                         resp ? RuntimeReport::StatusClass(resp->status)
                         : (resp.error().code == fetch_errc::kNotAllowed ||
                            resp.error().code == fetch_errc::kAddressDenied)
                             ? std::string_view("blocked")
                             : std::string_view("error"));
    }
    if (!resp) {
      const Error& e = resp.error();
      if (e.code == fetch_errc::kNotAllowed || e.code == fetch_errc::kAddressDenied) {
        rt.blocked_calls.fetch_add(1);
        rt.EmitLog(d, {rt.NowMs(), "warn", "call blocked: " + e.message, LogContext()});
        return Fail(e);
      }
      if ((e.code == fetch_errc::kConnectFailed || e.code == fetch_errc::kTimeout) &&
          !step.connect_failed.empty()) {
        msg.body = e.message;
        msg.headers.clear();
        status = 0;
        if (auto st =
                RunChain(step.connect_failed, ProcessorKind::kConnectFailed, "on_connect_failure");
            !st) {
          return Fail(st.error());
        }
        return std::move(msg);
      }
      return Fail(e);
    }
    status = resp->status;
    msg.body = std::move(resp->body);
    msg.headers = std::move(resp->headers);
    msg.properties["status_code"] = std::to_string(status);
    for (const StatusHandler& h : step.on_status) {
      if (!MatchesStatus(h, status)) continue;
      if (auto st = RunChain(h.processors, ProcessorKind::kStatus,
                             "on_status." + std::to_string(h.from) +
                                 (h.to != h.from ? "-" + std::to_string(h.to) : ""));
          !st) {
        return Fail(st.error());
      }
      return std::move(msg);
    }
    if (auto st = RunChain(step.results, ProcessorKind::kResult, "results"); !st) {
      return Fail(st.error());
    }
    return std::move(msg);
  }

  // The first call of this deployment to a host under an allowlist rule (or to the host at all,
  // when it has no allowlist) is an audit record: "calls to new hosts" are what an operator
  // reviews. Keyed by the rule, not the path, so that /projects/1 … /projects/9999 are one.
  void NoteFirstCall(const HostEntry& host, std::string_view method, std::string_view path) {
    std::string_view rule = "*";
    if (host.policy.allow) {
      const std::string_view bare = path.substr(0, path.find('?'));
      for (const AllowRule& a : *host.policy.allow) {
        if ((a.method == "*" || a.method == method) && PathMatches(a.path, bare)) {
          rule = a.path;
          break;
        }
      }
    }
    const std::string key = host_id + " " + std::string(method) + " " + std::string(rule);
    if (!rt.report.FirstSeen(d.def.id, "host_first_call", key)) return;
    rt.Audit(
        d, {rt.NowMs(),
            d.def.id,
            "host_first_call",
            "first call to host " + host_id + ": " + std::string(method) + " " + std::string(rule),
            {{"host", host_id},
             {"method", std::string(method)},
             {"pattern", std::string(rule)},
             {"workflow", wf.name},
             {"step", step.id}}});
  }

  // ScriptHost
  Result<std::optional<std::string>> PersistGet(std::string_view key) override {
    return d.state->Get(wf.name, step.id, key);
  }
  Status PersistSet(std::string_view key, std::optional<std::string_view> value) override {
    if (current == ProcessorKind::kAuthentication) {
      return Fail(errc::kBadRequest,
                  "authentication processors see restricted data: they cannot persist state");
    }
    return d.state->Set(wf.name, step.id, key, value);
  }
  const Step* FindStep(std::string_view id) const {
    for (const Step& s : wf.steps) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }

  // The callee for a send: a step of this workflow (workflows are isolated from each other);
  // from an authentication processor, only an authentication step.
  Result<const Step*> Callee(std::string_view step_id) {
    if (rt.stop_requested.load()) return Fail(errc::kInternal, "the runtime is stopping");
    if (--*calls_left < 0) {
      return Fail(errc::kBadRequest, "more than " + std::to_string(kMaxCallsPerTree) +
                                         " send_to_step calls in one triggered run");
    }
    const Step* callee = FindStep(step_id);
    if (callee == nullptr) {
      return Fail(errc::kNotFound,
                  "no step \"" + std::string(step_id) + "\" in workflow " + wf.name);
    }
    if (current == ProcessorKind::kAuthentication && !callee->authentication) {
      return Fail(errc::kBadRequest,
                  "authentication processors see restricted data: they can only call "
                  "authentication steps, not \"" +
                      std::string(step_id) + "\"");
    }
    return callee;
  }

  StepCallResult SendToStep(std::string_view step_id, Message message) override {
    auto callee = Callee(step_id);
    if (!callee) return {std::move(message), callee.error()};
    if (depth + 1 >= kMaxCallDepth) {
      return {std::move(message),
              MakeError(errc::kBadRequest, "send_to_step nested deeper than " +
                                               std::to_string(kMaxCallDepth) + " levels")};
    }
    auto r = rt.ExecStep(d, cfg, wf, **callee, std::move(message), depth + 1, calls_left);
    if (!r) return {Message{}, r.error()};
    return {std::move(*r), std::nullopt};
  }

  Status SendToStepAsync(std::string_view step_id, Message message) override {
    auto callee = Callee(step_id);
    if (!callee) return Fail(callee.error());
    std::size_t bytes = message.body.size();
    for (const auto& [k, v] : message.properties) bytes += k.size() + v.size();
    for (const auto& [k, v] : message.headers) bytes += k.size() + v.size();
    const bool queued = rt.Enqueue(
        d,
        [&rt = rt, &d = d, cfg = cfg, &wf = wf, callee = *callee,
         m = std::move(message)]() mutable {
          (void)rt.ExecStep(d, cfg, wf, *callee, std::move(m), 0, nullptr);
        },
        bytes);
    if (!queued) {
      return Fail(errc::kRateLimited, "send_to_step_async: the deployment's queue is full (" +
                                          std::to_string(rt.options.queue_limit) + " runs or " +
                                          std::to_string(kMaxQueuedBytes >> 20) +
                                          " MiB of payloads) or the runtime is stopping");
    }
    return Ok();
  }
};

Result<Message> Runtime::Impl::ExecStep(DeploymentRt& d, const ConfigPtr& cfg, const Workflow& wf,
                                        const Step& step, Message input, int depth,
                                        int* calls_left) {
  int budget = kMaxCallsPerTree;
  runs.fetch_add(1);
  d.runs.fetch_add(1, std::memory_order_relaxed);
  const auto started = Clock::now();
  Run run(*this, d, cfg, wf, step, depth, calls_left != nullptr ? calls_left : &budget,
          std::move(input));
  auto result = run.Execute();
  if (options.report) {
    report.StepFinished(d.def.id, wf.name, step.id, result.has_value(), Clock::now() - started);
  }
  if (!result) {
    d.failed_runs.fetch_add(1, std::memory_order_relaxed);
    const ErrorCode code = result.error().code;
    if (code == ErrorCode::kScriptTimeout || code == ErrorCode::kScriptMemory ||
        code == ErrorCode::kScriptWorker) {
      report.SandboxKill(d.def.id, code == ErrorCode::kScriptTimeout  ? "cpu"
                                   : code == ErrorCode::kScriptMemory ? "memory"
                                                                      : "worker");
    }
    failed_runs.fetch_add(1);
    EmitLog(d, {NowMs(), "error",
                "step " + step.id + " failed (" + std::string(WireCode(result.error())) +
                    "): " + result.error().message,
                run.LogContext()});
  }
  return result;
}

// ---- public ----

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::~Runtime() { Stop(); }

Result<std::unique_ptr<Runtime>> Runtime::StartFromFile(const std::string& bootstrap_file,
                                                        MetricStore* store, IncidentSink sink) {
  auto bootstrap = LoadBootstrap(bootstrap_file, ProcessEnvLookup());
  if (!bootstrap) return Fail(std::move(bootstrap.error()));
  RuntimeOptions options;
  options.metric_store = store;
  options.incident_sink = std::move(sink);
  options.scripts.min_workers = 0;
  return Start(std::move(*bootstrap), std::move(options));
}

Result<std::unique_ptr<Runtime>> Runtime::Start(Bootstrap bootstrap, RuntimeOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.threads == 0) impl->options.threads = 1;
  impl->base_redactor = std::make_shared<opsorch::Redactor>(bootstrap.secrets, kMinSecretLength);
  if (impl->options.scripts.worker_path.empty()) {
    // Installed layouts keep the worker next to the binary (the default); tests and unusual
    // layouts name it.
    if (const char* w = std::getenv("OPSORCH_SCRIPT_WORKER"); w != nullptr && *w != '\0') {
      impl->options.scripts.worker_path = w;
    }
  }
  auto scripts = ScriptRunner::Create(impl->options.scripts);
  if (!scripts) return Fail(scripts.error());
  impl->scripts = std::move(*scripts);
  auto fetcher = HttpFetcher::Create();
  if (!fetcher) return Fail(fetcher.error());
  impl->fetcher = std::move(*fetcher);

  bool incidents = false, incident_urls = false;
  for (Deployment& loaded : bootstrap.deployments) {
    if (loaded.incidents && impl->options.use_outputs) {
      // Without a url the events go to the local sink, which only `opsorch serve` has.
      if (loaded.incidents->url.empty() && !impl->options.incident_sink) {
        return Fail(errc::kBadRequest,
                    bootstrap.path + ": " + loaded.incidents->path +
                        ".url: required outside opsorch serve (the agent has no incident engine "
                        "of its own: name an Events v2 endpoint)");
      }
      incidents = true;
      incident_urls = incident_urls || !loaded.incidents->url.empty();
    }
    auto d = std::make_unique<DeploymentRt>();
    d->index = impl->deployments.size();
    d->def = std::move(loaded);
    const Deployment& def = d->def;
    d->redactor = impl->base_redactor;
    for (const auto& [id, host] : def.hosts) {
      if (!host.data.empty()) d->restricted[id] = host.data;
    }
    auto state = StateStore::Open(def.persistence_dir);
    if (!state) {
      return Fail(errc::kBadRequest, "deployment " + def.id + ": " + state.error().message);
    }
    d->state = std::move(*state);
    if (def.packaging) {
      auto accepted = ReadAccepted(def);
      if (!accepted) {
        return Fail(errc::kBadRequest, "deployment " + def.id + ": " + accepted.error().message);
      }
      d->accepted = std::move(*accepted);
    }
    if (impl->options.use_outputs) {
      for (const OutputEntry& e : def.outputs) {
        if (e.stdout) {
          d->outputs.push_back({e, MetricOutput::OpenStdout()});
          continue;
        }
        OutputOptions oo;
        oo.id = e.id;
        oo.url = e.url;
        oo.headers = e.headers;
        oo.spool_dir = def.persistence_dir + "/outputs";
        oo.sync_appends = e.sync;
        oo.deployment = def.id;
        oo.token = e.token;
        oo.batch_max = e.batch_max;
        oo.flush_interval = e.flush_interval;
        auto out = MetricOutput::Open(oo);
        if (!out) {
          return Fail(errc::kBadRequest,
                      "deployment " + def.id + ": output " + e.id + ": " + out.error().message);
        }
        d->outputs.push_back({e, std::move(*out)});
      }
    }
    impl->deployments.push_back(std::move(d));
  }
  impl->base_secrets = std::move(bootstrap.secrets);
  impl->report_target = std::move(bootstrap.report);
  impl->started_ms = impl->NowMs();
  if (!impl->report_target.url.empty()) {
    auto client = net::HttpClient::Create({.max_idle_handles = 2});
    if (!client) return Fail(client.error());
    impl->report_client = std::move(*client);
  }
  if (incident_urls) {
    auto client = net::HttpClient::Create({.max_idle_handles = 2});
    if (!client) return Fail(client.error());
    impl->incident_client = std::move(*client);
  }
  {
    Impl* self = impl.get();
    // Output backlogs and send failures are read when scraped, not counted on the hot path.
    impl->report.AddRenderHook([self](std::string& out) {
      std::vector<OutputGaugeRow> rows;
      for (const auto& d : self->deployments) {
        for (const auto& o : d->outputs) {
          if (o.output) rows.push_back({d->def.id, o.entry.id, o.output->Stats()});
        }
      }
      RenderOutputGauges(out, rows);
      self->RenderIncidentMetrics(out);
    });
  }
  // With several deployments none may hold more than half the threads (see PickJob).
  impl->per_deployment_cap = impl->deployments.size() > 1
                                 ? std::max<std::size_t>(1, impl->options.threads / 2)
                                 : impl->options.threads;

  Impl* raw = impl.get();
  for (unsigned i = 0; i < raw->options.threads; ++i) {
    raw->threads.emplace_back([raw] { raw->Worker(); });
  }
  if (incidents) raw->sender = std::thread([raw] { raw->Sender(); });
  std::unique_ptr<Runtime> runtime(new Runtime(std::move(impl)));
  // Every configuration loads before any trigger starts: a start-up that fails on the second
  // deployment must not have run the first one's steps.
  for (std::size_t i = 0; i < raw->deployments.size(); ++i) {
    if (auto st = raw->Load(i, /*initial=*/true, /*schedule=*/false); !st) {
      return Fail(errc::kBadRequest,
                  "deployment " + raw->deployments[i]->def.id + ": " + st.error().message);
    }
  }
  if (raw->options.start_triggers) {
    for (std::size_t i = 0; i < raw->deployments.size(); ++i) {
      DeploymentRt& d = *raw->deployments[i];
      ConfigPtr cfg;
      std::uint64_t generation;
      {
        std::lock_guard lock(d.mu);
        cfg = d.config;
        generation = d.generation;
      }
      raw->ScheduleTriggers(i, cfg, generation);
      if (d.def.config.poll.count() > 0) {
        std::lock_guard lock(raw->timers_mu);
        raw->timers.push_back({Clock::now() + d.def.config.poll, i, 0, 0, 0, true});
        std::push_heap(raw->timers.begin(), raw->timers.end(), LaterDue);
      }
    }
    raw->scheduler = std::thread([raw] { raw->Scheduler(); });
  }
  if (raw->report_client) {
    raw->report_wake = true;  // the first report right away: the service learns the agent is up
    raw->reporter = std::thread([raw] { raw->Reporter(); });
  }
  log::Info("workflow runtime started", {{"deployments", std::to_string(raw->deployments.size())}});
  // Where each deployment's metrics go, so that nobody wonders why nothing shows up.
  for (const auto& d : raw->deployments) {
    std::string where;
    for (const OutputEntry& e : d->def.outputs) {
      if (!e.metrics || !raw->options.use_outputs) continue;
      if (!where.empty()) where += ", ";
      where += e.id + (e.stdout ? " (stdout)" : " (" + Origin(e.url) + ")");
    }
    if (raw->options.metric_store != nullptr) {
      where += std::string(where.empty() ? "" : ", ") + "the workflow metric provider";
    }
    log::Info(where.empty()
                  ? "workflow deployment " + d->def.id +
                        ": its metrics are dropped: the bootstrap gives it no output (add "
                        "{\"id\":\"console\",\"stdout\":true} to see them; docs/WORKFLOWS.md)"
                  : "workflow deployment " + d->def.id + ": metrics go to " + where);
  }
  return runtime;
}

Result<Message> Runtime::RunStep(std::string_view deployment, std::string_view step_id,
                                 Message input, std::vector<LogLine>* logs) {
  for (auto& d : impl_->deployments) {
    if (d->def.id != deployment) continue;
    ConfigPtr cfg;
    {
      std::lock_guard lock(d->mu);
      cfg = d->config;
    }
    // "workflow/step", or a step id that only one workflow has.
    std::string_view wf_name;
    std::string_view sid = step_id;
    if (auto slash = step_id.find('/'); slash != std::string_view::npos) {
      wf_name = step_id.substr(0, slash);
      sid = step_id.substr(slash + 1);
    }
    const Workflow* found_wf = nullptr;
    const Step* found = nullptr;
    for (const Workflow& wf : cfg->workflows) {
      if (!wf_name.empty() && wf.name != wf_name) continue;
      for (const Step& s : wf.steps) {
        if (s.id != sid) continue;
        if (found != nullptr) {
          return Fail(errc::kBadRequest, "step \"" + std::string(sid) +
                                             "\" is in several workflows: name it workflow/step");
        }
        found_wf = &wf;
        found = &s;
      }
    }
    if (found == nullptr) {
      return Fail(errc::kNotFound, "no step \"" + std::string(step_id) + "\" in deployment " +
                                       std::string(deployment));
    }
    // The caller's buffer for this call's log lines (EmitLog appends), restored afterwards.
    struct Capture {
      std::vector<LogLine>* previous = t_captured_logs;
      explicit Capture(std::vector<LogLine>* to) { t_captured_logs = to; }
      ~Capture() { t_captured_logs = previous; }
      Capture(const Capture&) = delete;
      Capture& operator=(const Capture&) = delete;
    } capture(logs);
    auto out = impl_->ExecStep(*d, cfg, *found_wf, *found, std::move(input), 0, nullptr);
    if (logs == nullptr) return out;
    // Shown to people (a runbook step's output): masked like the log lines.
    const auto r = impl_->Redactor(*d);
    if (!out) {
      Error e = std::move(out.error());
      e.message = r->Apply(e.message);
      return Fail(std::move(e));
    }
    out->body = r->Apply(out->body);
    return out;
  }
  return Fail(errc::kNotFound, "no deployment \"" + std::string(deployment) + "\"");
}

bool Runtime::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->jobs_mu);
  return impl_->idle_cv.wait_for(lock, timeout, [&] { return impl_->AllIdle(); });
}

void Runtime::PollNow() {
  for (std::size_t i = 0; i < impl_->deployments.size(); ++i) (void)impl_->Load(i, false, true);
}

void Runtime::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->timers_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  // Running steps make no new calls from here on (nested sends and HTTP fail fast).
  impl_->stop_requested.store(true);
  impl_->timers_cv.notify_all();
  if (impl_->scheduler.joinable()) impl_->scheduler.join();
  {
    std::lock_guard lock(impl_->report_mu);
    impl_->report_stop = true;
  }
  impl_->report_cv.notify_all();
  if (impl_->reporter.joinable()) impl_->reporter.join();
  {
    // Runs already going finish; queued ones (timer fires, async sends) are dropped, so that a
    // stop waits for at most one run per thread.
    std::lock_guard lock(impl_->jobs_mu);
    impl_->stopping = true;
    for (auto& d : impl_->deployments) {
      impl_->dropped.fetch_add(d->queue.size());
      d->queue.clear();
      d->queued_bytes = 0;
    }
  }
  impl_->jobs_cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  if (impl_->sender.joinable()) {
    // What is queued is delivered for at most kIncidentFlush; then the delivery going on is
    // aborted and the rest dropped (counted).
    std::unique_lock lock(impl_->send_mu);
    impl_->send_stop = true;
    impl_->send_cv.notify_all();
    impl_->send_idle_cv.wait_for(lock, kIncidentFlush,
                                 [&] { return impl_->send_queue.empty() && !impl_->send_busy; });
    impl_->send_abort.store(true);
    impl_->send_cv.notify_all();
    lock.unlock();
    impl_->sender.join();
  }
  // Outputs are durable; a bounded flush only shortens what the next start has to send.
  for (auto& d : impl_->deployments) {
    for (auto& o : d->outputs) {
      if (o.output) o.output->Flush(std::chrono::seconds(2));
    }
  }
}

std::string Runtime::RenderMetrics() const { return impl_->report.Render(); }

std::vector<DeploymentStatus> Runtime::Deployments() const {
  std::vector<DeploymentStatus> out;
  for (const auto& d : impl_->deployments) {
    DeploymentStatus st;
    st.id = d->def.id;
    std::lock_guard lock(d->mu);
    st.package_id = d->load.package_id;
    st.version = d->load.version;
    st.sha256 = d->load.sha256;
    st.loaded_at_ms = d->load.loaded_at;
    st.last_error = d->load.last_error;
    st.refusal = d->load.refusal;
    out.push_back(std::move(st));
  }
  return out;
}

RuntimeStats Runtime::Stats() const {
  RuntimeStats s;
  s.runs = impl_->runs.load();
  s.failed_runs = impl_->failed_runs.load();
  s.skipped_overlaps = impl_->skipped_overlaps.load();
  s.dropped = impl_->dropped.load();
  s.reloads = impl_->reloads.load();
  s.rejected_reloads = impl_->rejected_reloads.load();
  s.http_calls = impl_->http_calls.load();
  s.blocked_calls = impl_->blocked_calls.load();
  return s;
}

}  // namespace opsorch::workflow
