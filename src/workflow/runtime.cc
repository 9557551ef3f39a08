#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <queue>
#include <thread>

#include <opsorch/common/error.h>
#include <opsorch/log/log.h>
#include <opsorch/workflow/config.h>
#include <opsorch/workflow/http_fetch.h>
#include <opsorch/workflow/runtime.h>

#include "plugin/redactor.h"
#include "workflow/config_source.h"
#include "workflow/state_store.h"

namespace opsorch::workflow {
namespace {

using Clock = std::chrono::steady_clock;
using ConfigPtr = std::shared_ptr<const WorkflowConfig>;

// Nested synchronous send_to_step calls: each level holds a thread and a script worker.
constexpr int kMaxCallDepth = 8;
// send_to_step calls one step run may make (sync and async together): the caller's CPU limit
// does not count the time its callees take, so a loop of calls needs a bound of its own.
constexpr int kMaxCallsPerRun = 1000;
// Secrets shorter than this are not masked: masking every "1" or "us" garbles lines more than
// it protects (the bootstrap documents it).
constexpr std::size_t kMinSecretLength = 4;

struct OutputRt {
  OutputEntry entry;
  std::unique_ptr<MetricOutput> output;
};

struct DeploymentRt {
  Deployment def;
  JsonObject restricted;  // host id → host data, for authentication processors only
  std::unique_ptr<StateStore> state;
  std::vector<OutputRt> outputs;

  std::mutex mu;  // guards config, generation, inflight
  ConfigPtr config;
  std::uint64_t generation = 0;
  std::map<std::string, int, std::less<>> inflight;  // "workflow/step" → running timer runs
};

// One trigger due at `due`; stale once its deployment loaded a newer configuration.
struct TimerEntry {
  Clock::time_point due;
  std::size_t deployment;
  std::uint64_t generation;
  std::size_t workflow, step;  // indices into that generation's config
  bool poll = false;           // a configuration poll instead of a step
  bool operator>(const TimerEntry& o) const { return due > o.due; }
};

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

}  // namespace

struct Runtime::Impl {
  Bootstrap bootstrap;
  RuntimeOptions options;
  std::unique_ptr<ScriptRunner> scripts;
  std::unique_ptr<HttpFetcher> fetcher;
  std::vector<std::unique_ptr<DeploymentRt>> deployments;

  std::mutex secrets_mu;
  std::vector<std::string> secrets;
  std::shared_ptr<const plugin::Redactor> redactor;

  // The job queue and its threads.
  std::mutex jobs_mu;
  std::condition_variable jobs_cv, idle_cv;
  std::deque<std::function<void()>> jobs;
  std::size_t active = 0;
  bool stopping = false;
  std::vector<std::thread> threads;

  // Triggers and polls.
  std::mutex timers_mu;
  std::condition_variable timers_cv;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers;
  std::thread scheduler;

  std::atomic<std::uint64_t> runs{0}, failed_runs{0}, skipped_overlaps{0}, dropped{0}, reloads{0},
      rejected_reloads{0}, http_calls{0}, blocked_calls{0};
  bool stopped = false;

  std::int64_t NowMs() const {
    if (options.now_ms) return options.now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::shared_ptr<const plugin::Redactor> Redactor() {
    std::lock_guard lock(secrets_mu);
    return redactor;
  }

  void AddSecrets(const std::vector<std::string>& values) {
    std::lock_guard lock(secrets_mu);
    bool added = false;
    for (const std::string& v : values) {
      if (v.size() < kMinSecretLength) continue;
      if (std::find(secrets.begin(), secrets.end(), v) != secrets.end()) continue;
      secrets.push_back(v);
      added = true;
    }
    if (added || !redactor)
      redactor = std::make_shared<plugin::Redactor>(secrets, kMinSecretLength);
  }

  // ---- output of what processors emit ----

  // One Append per output for all metrics of a processor run: each Append is a durable write.
  void EmitMetrics(DeploymentRt& d, std::vector<Metric> metrics) {
    const auto r = Redactor();
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
      kept.push_back(std::move(m));
    }
    if (kept.empty()) return;
    for (auto& o : d.outputs) {
      if (!o.entry.metrics || !o.output) continue;
      std::vector<std::string> lines;
      lines.reserve(kept.size());
      for (const Metric& m : kept) lines.push_back(MetricLine(m, d.def.id, o.entry.token));
      if (auto st = o.output->Append(lines); !st) {
        log::Warn("workflow: output " + o.entry.id + " refused " + std::to_string(lines.size()) +
                      " metrics: " + st.error().message,
                  {{"deployment", d.def.id}});
      }
    }
  }

  void EmitLog(DeploymentRt& d, LogLine l) {
    const auto r = Redactor();
    l.message = r->Apply(l.message);
    for (auto& [k, v] : l.context) v = r->Apply(v);
    if (options.observer.on_log) options.observer.on_log(d.def.id, l);
    const log::Level level = l.level == "error"   ? log::Level::kError
                             : l.level == "warn"  ? log::Level::kWarn
                             : l.level == "debug" ? log::Level::kDebug
                                                  : log::Level::kInfo;
    const auto ctx = [&](const char* key) -> std::string_view {
      auto it = l.context.find(key);
      return it == l.context.end() ? std::string_view() : std::string_view(it->second);
    };
    log::Write(level, "workflow: " + l.message,
               {{"deployment", d.def.id}, {"workflow", ctx("workflow")}, {"step", ctx("step")}});
    for (auto& o : d.outputs) {
      if (!o.entry.logs || !o.output) continue;
      const std::string line = LogLineJson(l, d.def.id, o.entry.token);
      if (auto st = o.output->Append(std::span<const std::string>(&line, 1)); !st) {
        log::Warn("workflow: output " + o.entry.id + " refused a log line: " + st.error().message,
                  {{"deployment", d.def.id}});
      }
    }
  }

  // ---- running a step ----

  struct Run;  // one step invocation

  Result<Message> ExecStep(DeploymentRt& d, const ConfigPtr& cfg, const Workflow& wf,
                           const Step& step, Message input, int depth);

  // False (and counted as dropped) when the queue is full or the runtime is stopping.
  bool Enqueue(std::function<void()> job) {
    {
      std::lock_guard lock(jobs_mu);
      if (stopping || jobs.size() >= options.queue_limit) {
        dropped.fetch_add(1);
        return false;
      }
      jobs.push_back(std::move(job));
    }
    jobs_cv.notify_one();
    return true;
  }

  void Worker() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(jobs_mu);
        jobs_cv.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;  // stopping and nothing left
        job = std::move(jobs.front());
        jobs.pop_front();
        ++active;
      }
      job();
      {
        std::lock_guard lock(jobs_mu);
        --active;
      }
      idle_cv.notify_all();
    }
  }

  // ---- configuration loading ----

  // Loads the deployment's configuration if its text changed. Initial load errors are returned;
  // later ones keep the running configuration and are logged.
  Status Load(std::size_t index, bool initial) {
    DeploymentRt& d = *deployments[index];
    const std::string what = DescribeSource(d.def.config);
    auto text = ReadConfigSource(d.def.config);
    if (!text) {
      if (initial) return Fail(text.error());
      rejected_reloads.fetch_add(1);
      log::Warn(
          "workflow: configuration not reloaded, keeping the running one: " + text.error().message,
          {{"deployment", d.def.id}});
      return Ok();
    }
    std::string base_dir;
    if (!d.def.config.file.empty()) {
      base_dir = std::filesystem::path(d.def.config.file).parent_path().string();
    }
    {
      // Unchanged text: nothing to do (a poll must not re-parse and re-compile every processor).
      std::lock_guard lock(d.mu);
      if (d.config && d.config->digest == ConfigDigest(*text)) return Ok();
    }
    auto parsed = ParseWorkflowConfig(*text, what, base_dir);
    if (!parsed) {
      if (initial) return Fail(parsed.error());
      rejected_reloads.fetch_add(1);
      log::Error("workflow: new configuration rejected, keeping the running one: " +
                     parsed.error().message,
                 {{"deployment", d.def.id}});
      return Ok();
    }
    std::uint64_t generation;
    {
      std::lock_guard lock(d.mu);
      if (d.config && d.config->digest == (*parsed)->digest) return Ok();
      d.config = *parsed;
      generation = ++d.generation;
    }
    if (!initial) {
      reloads.fetch_add(1);
      log::Info("workflow: configuration reloaded", {{"deployment", d.def.id}});
    }
    if (options.start_triggers) ScheduleTriggers(index, *parsed, generation);
    return Ok();
  }

  void ScheduleTriggers(std::size_t index, const ConfigPtr& cfg, std::uint64_t generation) {
    const auto now = Clock::now();
    std::vector<std::pair<std::size_t, std::size_t>> once;
    {
      std::lock_guard lock(timers_mu);
      for (std::size_t w = 0; w < cfg->workflows.size(); ++w) {
        for (std::size_t s = 0; s < cfg->workflows[w].steps.size(); ++s) {
          const Trigger& t = cfg->workflows[w].steps[s].trigger;
          if (t.kind == Trigger::Kind::kTimer) {
            timers.push({now + t.delay, index, generation, w, s, false});
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
        return;
      }
      ++n;
    }
    const bool queued = Enqueue([this, &d, cfg = std::move(cfg), &wf, &step, key, timer] {
      (void)ExecStep(d, cfg, wf, step, Message{}, 0);
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
      const TimerEntry next = timers.top();
      if (Clock::now() < next.due) {
        timers_cv.wait_until(lock, next.due);
        continue;
      }
      timers.pop();
      DeploymentRt& d = *deployments[next.deployment];
      if (next.poll) {
        timers.push({next.due + d.def.config.poll, next.deployment, 0, 0, 0, true});
        lock.unlock();
        Enqueue([this, i = next.deployment] { (void)Load(i, false); });
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
      timers.push({due, next.deployment, next.generation, next.workflow, next.step, false});
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
  Message msg;
  std::string host_id, path, method = "GET";
  int status = 0;
  bool stopped = false;

  Run(Impl& rt_, DeploymentRt& d_, const ConfigPtr& cfg_, const Workflow& wf_, const Step& step_,
      int depth_, Message input)
      : rt(rt_), d(d_), cfg(cfg_), wf(wf_), step(step_), depth(depth_), msg(std::move(input)) {}

  std::string Where(std::string_view part) const {
    return d.def.id + "/" + wf.name + "/" + step.id + "/" + std::string(part);
  }

  Dimensions LogContext() const { return {{"workflow", wf.name}, {"step", step.id}}; }

  Status RunChain(const ProcessorChain& chain, ProcessorKind kind, std::string_view part) {
    for (std::size_t i = 0; i < chain.size() && !stopped; ++i) {
      const Processor& p = chain[i];
      ScriptInput in;
      in.chunk_name = Where(part) + (chain.size() > 1 ? "[" + std::to_string(i) + "]" : "");
      in.source = p.source;
      in.kind = kind;
      in.data = MergeData({&d.def.data, &cfg->data, &wf.data, &step.data, &p.data});
      in.message = msg;
      in.host_id = host_id;
      in.path = path;
      in.method = method;
      in.status = status;
      if (kind == ProcessorKind::kAuthentication) in.restricted_data = d.restricted;
      in.now_ms = rt.NowMs();
      auto out = rt.scripts->Run(in, d.def.limits, *this);
      if (!out) return Fail(out.error());
      if (!out->secrets.empty()) rt.AddSecrets(out->secrets);
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
    if (auto st = RunChain(step.auth, auth_kind, "authenticate"); !st) return Fail(st.error());
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
    if (host.authentication_only && !step.authentication) {
      rt.blocked_calls.fetch_add(1);
      return Fail(fetch_errc::kNotAllowed,
                  "host \"" + host_id + "\" is for authentication steps only");
    }
    FetchRequest req;
    req.method = method;
    req.path = path;
    req.headers = msg.headers;
    if (!step.payload.empty()) {
      if (auto st = RunChain(step.payload,
                             step.authentication ? auth_kind : ProcessorKind::kPayload, "payload");
          !st) {
        return Fail(st.error());
      }
      if (stopped) return std::move(msg);
      req.method = method;
      req.path = path;
      req.headers = msg.headers;
      req.body = msg.body;
    }
    HostPolicy policy = host.policy;
    if (step.timeout) policy.timeout = *step.timeout;
    rt.http_calls.fetch_add(1);
    auto resp = rt.fetcher->Fetch(policy, req);
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

  // ScriptHost
  Result<std::optional<std::string>> PersistGet(std::string_view key) override {
    return d.state->Get(wf.name, step.id, key);
  }
  Status PersistSet(std::string_view key, std::optional<std::string_view> value) override {
    return d.state->Set(wf.name, step.id, key, value);
  }
  const Step* FindStep(std::string_view id) const {
    for (const Step& s : wf.steps) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }
  int calls = 0;
  Status CountCall() {
    if (++calls > kMaxCallsPerRun) {
      return Fail(errc::kBadRequest, "more than " + std::to_string(kMaxCallsPerRun) +
                                         " send_to_step calls in one step run");
    }
    return Ok();
  }

  StepCallResult SendToStep(std::string_view step_id, Message message) override {
    if (auto st = CountCall(); !st) return {std::move(message), st.error()};
    // Workflows are isolated from each other: a step calls steps of its own workflow only.
    const Step* callee = FindStep(step_id);
    if (callee == nullptr) {
      return {std::move(message), MakeError(errc::kNotFound, "no step \"" + std::string(step_id) +
                                                                 "\" in workflow " + wf.name)};
    }
    if (depth + 1 >= kMaxCallDepth) {
      return {std::move(message),
              MakeError(errc::kBadRequest, "send_to_step nested deeper than " +
                                               std::to_string(kMaxCallDepth) + " levels")};
    }
    auto r = rt.ExecStep(d, cfg, wf, *callee, std::move(message), depth + 1);
    if (!r) return {Message{}, r.error()};
    return {std::move(*r), std::nullopt};
  }
  Status SendToStepAsync(std::string_view step_id, Message message) override {
    if (auto st = CountCall(); !st) return st;
    const Step* callee = FindStep(step_id);
    if (callee == nullptr) {
      return Fail(errc::kNotFound,
                  "no step \"" + std::string(step_id) + "\" in workflow " + wf.name);
    }
    const bool queued = rt.Enqueue(
        [&rt = rt, &d = d, cfg = cfg, &wf = wf, callee, m = std::move(message)]() mutable {
          (void)rt.ExecStep(d, cfg, wf, *callee, std::move(m), 0);
        });
    if (!queued) {
      return Fail(errc::kRateLimited, "send_to_step_async: the runtime's queue is full (" +
                                          std::to_string(rt.options.queue_limit) +
                                          " pending runs) or it is stopping");
    }
    return Ok();
  }
};

Result<Message> Runtime::Impl::ExecStep(DeploymentRt& d, const ConfigPtr& cfg, const Workflow& wf,
                                        const Step& step, Message input, int depth) {
  runs.fetch_add(1);
  Run run(*this, d, cfg, wf, step, depth, std::move(input));
  auto result = run.Execute();
  if (!result) {
    failed_runs.fetch_add(1);
    EmitLog(d,
            {NowMs(), "error",
             "step " + step.id + " failed (" + result.error().code + "): " + result.error().message,
             run.LogContext()});
  }
  return result;
}

// ---- public ----

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::~Runtime() { Stop(); }

Result<std::unique_ptr<Runtime>> Runtime::Start(Bootstrap bootstrap, RuntimeOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  if (impl->options.threads == 0) impl->options.threads = 1;
  impl->AddSecrets(bootstrap.secrets);
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

  for (Deployment& def : bootstrap.deployments) {
    auto d = std::make_unique<DeploymentRt>();
    d->def = def;
    for (const auto& [id, host] : def.hosts) {
      if (!host.data.empty()) d->restricted[id] = host.data;
    }
    auto state = StateStore::Open(def.persistence_dir);
    if (!state) {
      return Fail(errc::kBadRequest, "deployment " + def.id + ": " + state.error().message);
    }
    d->state = std::move(*state);
    if (impl->options.use_outputs) {
      for (const OutputEntry& e : def.outputs) {
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
  impl->bootstrap = std::move(bootstrap);

  Impl* raw = impl.get();
  for (unsigned i = 0; i < raw->options.threads; ++i) {
    raw->threads.emplace_back([raw] { raw->Worker(); });
  }
  std::unique_ptr<Runtime> runtime(new Runtime(std::move(impl)));
  for (std::size_t i = 0; i < raw->deployments.size(); ++i) {
    if (auto st = raw->Load(i, /*initial=*/true); !st) {
      return Fail(errc::kBadRequest,
                  "deployment " + raw->deployments[i]->def.id + ": " + st.error().message);
    }
  }
  if (raw->options.start_triggers) {
    {
      std::lock_guard lock(raw->timers_mu);
      for (std::size_t i = 0; i < raw->deployments.size(); ++i) {
        const auto poll = raw->deployments[i]->def.config.poll;
        if (poll.count() > 0) raw->timers.push({Clock::now() + poll, i, 0, 0, 0, true});
      }
    }
    raw->scheduler = std::thread([raw] { raw->Scheduler(); });
  }
  log::Info("workflow runtime started", {{"deployments", std::to_string(raw->deployments.size())}});
  return runtime;
}

Result<Message> Runtime::RunStep(std::string_view deployment, std::string_view step_id,
                                 Message input) {
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
    return impl_->ExecStep(*d, cfg, *found_wf, *found, std::move(input), 0);
  }
  return Fail(errc::kNotFound, "no deployment \"" + std::string(deployment) + "\"");
}

bool Runtime::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->jobs_mu);
  return impl_->idle_cv.wait_for(lock, timeout,
                                 [&] { return impl_->jobs.empty() && impl_->active == 0; });
}

void Runtime::PollNow() {
  for (std::size_t i = 0; i < impl_->deployments.size(); ++i) (void)impl_->Load(i, false);
}

void Runtime::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->timers_mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->timers_cv.notify_all();
  if (impl_->scheduler.joinable()) impl_->scheduler.join();
  {
    // Runs already going finish; queued ones (timer fires, async sends) are dropped, so that a
    // stop waits for at most one run per thread.
    std::lock_guard lock(impl_->jobs_mu);
    impl_->stopping = true;
    impl_->dropped.fetch_add(impl_->jobs.size());
    impl_->jobs.clear();
  }
  impl_->jobs_cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  // Outputs are durable; a bounded flush only shortens what the next start has to send.
  for (auto& d : impl_->deployments) {
    for (auto& o : d->outputs) {
      if (o.output) o.output->Flush(std::chrono::seconds(2));
    }
  }
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
