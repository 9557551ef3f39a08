#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <openssl/evp.h>
#include <sodium.h>

#include <opsorch/common/error.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/sla.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>

#include "engine/firing_cache.h"
#include "engine/pager.h"
#include "engine/quiet.h"
#include "engine/rules.h"
#include "engine/suppression.h"

namespace opsorch::engine {
namespace {

using Clock = std::chrono::steady_clock;

// A unit of the writer's queue: events, or one other write (Submit).
struct Request {
  std::vector<Ingestion> events;
  std::function<void(std::vector<IngestResult>)> done;
  std::function<Status(Tx&)> write;
  std::function<void(Status)> write_done;
  std::size_t Size() const { return write ? 1 : events.size(); }
};

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  RulesConfig rules;
  std::unique_ptr<Store> store;
  std::unique_ptr<Quiet> quiet;  // silences, maintenance, mute intervals, heartbeats
  FiringCache firing;            // what fires through the Alertmanager API
  std::unique_ptr<Pager> pager;  // destroyed first (~Engine): its runner submits writes

  std::int64_t NowNs() const { return options.clock ? options.clock() : Time::Now().UnixNanos(); }
  std::unique_ptr<SlaCache> sla;
  metrics::Registry* metrics = nullptr;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Request> queue;
  std::size_t queued_events = 0;  // queued or committed and not yet durable (bounded by max_queued)
  std::atomic<bool> stopping{false};  // read under retention_mu too
  std::thread writer;

  // Commits waiting for Store::Sync, each with what answers its callers. The writer commits a
  // group and goes on with the next while this thread fsyncs: one fsync covers every commit
  // made before it started, and nobody is answered before the fsync that covers them.
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::vector<std::function<void(const Status&)>> unsynced;
  bool sync_stop = false;
  std::thread syncer;

  std::mutex retention_mu;
  std::condition_variable retention_cv;
  std::thread retention;

  std::mutex keys_mu;
  struct CachedKey {
    std::optional<IntegrationRow> row;
    Clock::time_point until;
  };
  // Transparent hashing: a lookup by the request's string_view allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };
  std::unordered_map<std::string, CachedKey, KeyHash, std::equal_to<>> keys;

  void Count(std::string_view action, std::uint64_t n = 1) {
    if (metrics == nullptr) return;
    metrics
        ->GetCounter("opsorch_engine_events_total", "Events applied by the incident engine",
                     {{"action", action}})
        .Inc(n);
  }

  void WriterLoop() {
    bool unsettled = false;       // a group may still be in flight in the store (WriteGroup)
    std::size_t last_events = 0;  // the last group's size
    while (true) {
      std::vector<Request> batch;
      std::size_t events = 0;
      {
        std::unique_lock lock(mu);
        if (queue.empty() && unsettled) {
          // Nothing to go on with: the group in flight is finished and answered now, unless
          // a group comes meanwhile (its units then run while the store still waits). Half the
          // last group's size at least: going on with the first event of a steady load would
          // split it into groups of one, each paying a commit.
          lock.unlock();
          store->Settle([this, last_events] {
            std::lock_guard l(mu);
            std::size_t waiting = 0;
            for (const Request& r : queue) {
              waiting += r.Size();
              if (2 * waiting >= last_events) return true;
            }
            return false;
          });
          unsettled = false;
          continue;
        }
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping and drained
        // Everything waiting, up to max_batch events, goes into one commit (group commit): the
        // fsync is shared, so throughput grows with load while a lone event still commits at
        // once. With a store that overlaps large groups (Store::OverlapUnits), half of it when
        // both halves are large: the second half runs while the first is in flight.
        std::size_t take = options.max_batch;
        if (const std::size_t overlap = store->OverlapUnits(); overlap > 0) {
          std::size_t waiting = 0;
          for (const Request& r : queue) {
            waiting += r.Size();
            if (waiting >= 2 * take) break;  // both halves full groups: nothing to split
          }
          if (waiting >= 2 * overlap) take = std::min(take, (waiting + 1) / 2);
        }
        while (!queue.empty() && (batch.empty() || events + queue.front().Size() <= take)) {
          events += queue.front().Size();
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
      }
      Apply(std::move(batch), events);
      unsettled = true;
      last_events = events;
    }
  }

  void SyncLoop() {
    while (true) {
      std::vector<std::function<void(const Status&)>> ready;
      {
        std::unique_lock lock(sync_mu);
        sync_cv.wait(lock, [&] { return sync_stop || !unsynced.empty(); });
        if (unsynced.empty()) return;  // stopping and drained
        ready.swap(unsynced);
      }
      const Status synced = store->Sync();
      if (!synced) log::Error("incident engine: " + synced.error().message);
      for (auto& answer : ready) answer(synced);
    }
  }

  // A group of requests, from the queue to its answers: the store may finish it after the
  // writer has gone on to the next (WriteGroup), so everything its units point into lives here.
  struct Group {
    std::vector<Request> batch;
    std::size_t events = 0;
    std::vector<std::vector<IngestResult>> results;
    std::vector<std::function<Status(Tx&)>> items;
    std::vector<std::size_t> write_index;
    // What each event's paging did, counted once the commit holds (an item may run twice).
    std::vector<PagingCounts> paging;
    // One view of silences and pauses for the whole group.
    std::shared_ptr<const QuietSnapshot> quiet;
    std::vector<Status> statuses;
    // A unit queued pages: the pager is woken once this group's commit holds (a flag per
    // group: the next group's units may run before this one is done).
    bool paging_work = false;
  };

  // Hands the group to the store; Committed answers it once the store knows the outcome.
  void Apply(std::vector<Request> batch, std::size_t events) {
    auto g = std::make_shared<Group>();
    g->batch = std::move(batch);
    g->events = events;
    const std::int64_t now = NowNs();
    g->results.resize(g->batch.size());
    g->write_index.assign(g->batch.size(), 0);
    g->paging.resize(pager ? events : 0);
    g->quiet = quiet ? quiet->Snapshot() : nullptr;
    std::size_t event_index = 0;
    for (std::size_t r = 0; r < g->batch.size(); ++r) {
      if (g->batch[r].write) {
        g->write_index[r] = g->items.size();
        g->items.push_back(g->batch[r].write);
        continue;
      }
      g->results[r].resize(g->batch[r].events.size());
      for (std::size_t i = 0; i < g->batch[r].events.size(); ++i) {
        IngestResult* out = &g->results[r][i];
        const Ingestion* in = &g->batch[r].events[i];
        out->dedup_key = in->event.dedup_key;
        PagingCounts* counts = pager ? &g->paging[event_index] : nullptr;
        ++event_index;
        g->items.push_back([this, out, in, now, counts, q = g->quiet.get(),
                            work = &g->paging_work](Tx& tx) -> Status {
          if (counts != nullptr) *counts = PagingCounts{};  // a re-run overwrites
          Result<Outcome> o = Outcome{};
          if (q != nullptr) {
            const QuietEnv env{*q, rules, pager.get(), &firing};
            QuietEffects fx;
            fx.counts = counts;
            o = ApplyQuietly(tx, in->integration, in->event, now, env, fx);
            if (fx.paging_work) *work = true;
          } else {
            o = ApplyEvent(tx, in->integration, in->event, now, rules);
          }
          if (!o) return Fail(std::move(o.error()));
          out->action = std::move(o->action);
          out->incident_id = std::move(o->incident_id);
          out->alert_id = std::move(o->alert_id);
          return Ok();
        });
      }
    }
    Group& ref = *g;
    store->WriteGroup(ref.items, ref.statuses, [this, g = std::move(g)](Status committed) mutable {
      Committed(std::move(g), std::move(committed));
    });
  }

  // Hands the answers to the sync thread (at once if the commit failed: there is nothing to
  // make durable).
  void Committed(std::shared_ptr<Group> g, Status committed) {
    if (pager && g->paging_work) pager->Wake();
    if (pager && committed) {
      PagingCounts total;
      std::size_t k = 0, e = 0;
      for (std::size_t r = 0; r < g->batch.size(); ++r) {
        if (g->batch[r].write) {
          ++k;
          continue;
        }
        for (std::size_t i = 0; i < g->batch[r].events.size(); ++i, ++k, ++e) {
          if (g->statuses[k]) total += g->paging[e];
        }
      }
      pager->Count(total);
    }
    if (!committed) {
      log::Error("incident engine: commit failed: " + committed.error().message);
    }
    // Runs once the commit is durable (`synced`), or at once with the commit's failure.
    auto answer = [this, g](const Status& synced) {
      auto& batch = g->batch;
      auto& results = g->results;
      const auto& statuses = g->statuses;
      std::size_t k = 0;
      // Counted per action once per group: a counter lookup per event cost as much as the rest.
      std::vector<std::pair<std::string, std::uint64_t>> counts;
      auto count = [&counts](std::string_view action) {
        for (auto& [a, n] : counts) {
          if (a == action) {
            ++n;
            return;
          }
        }
        counts.emplace_back(action, 1);
      };
      for (std::size_t r = 0; r < batch.size(); ++r) {
        if (batch[r].write) {
          ++k;
          continue;
        }
        for (auto& res : results[r]) {
          res.status = synced ? statuses[k] : synced;
          if (!res.status) res.action.clear();
          // A stale refresh is decoded again and counted then (alertmanager_routes.cc).
          if (!res.status || res.action != "stale") {
            count(res.status ? std::string_view(res.action) : "failed");
          }
          ++k;
        }
      }
      // Counted before anyone is answered: a caller that reads /metrics next sees its events.
      for (const auto& [action, n] : counts) Count(action, n);
      for (std::size_t r = 0; r < batch.size(); ++r) {
        if (batch[r].write) {
          batch[r].write_done(synced ? statuses[g->write_index[r]] : synced);
        } else {
          batch[r].done(std::move(results[r]));
        }
      }
      std::lock_guard lock(mu);
      queued_events -= g->events;
    };
    if (!committed) {
      answer(committed);
      return;
    }
    {
      std::lock_guard lock(sync_mu);
      unsynced.push_back(std::move(answer));
    }
    sync_cv.notify_one();
  }

  void RetentionLoop() {
    if (options.warm_sla_cache) {
      if (auto c = sla->StateCounts({}); !c) {
        log::Warn("incident engine: loading the SLA cache failed: " + c.error().message);
      }
    }
    std::unique_lock lock(retention_mu);
    while (
        !retention_cv.wait_for(lock, options.retention_interval, [&] { return stopping.load(); })) {
      lock.unlock();
      RunRetention();
      lock.lock();
    }
  }

  Result<std::int64_t> RunRetention() {
    const std::int64_t now = NowNs();
    const auto incidents_before =
        now -
        std::chrono::duration_cast<std::chrono::nanoseconds>(options.incident_retention).count();
    const auto alerts_before =
        now - std::chrono::duration_cast<std::chrono::nanoseconds>(options.alert_retention).count();
    auto n = store->DeleteExpired(incidents_before, alerts_before);
    if (!n) {
      log::Error("incident engine: retention failed: " + n.error().message);
    } else if (*n > 0) {
      log::Info("incident engine: retention deleted " + std::to_string(*n) + " incidents");
      sla->Reset();  // the cache only follows updates, not deletions
    }
    return n;
  }
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options,
                                             metrics::Registry* metrics) {
  StoreOptions store_options = options.store;
  if (store_options.metrics == nullptr) store_options.metrics = metrics;
  auto store = OpenStore(options.store_url, store_options);
  if (!store) return Fail(std::move(store.error()));
  return Open(options, std::move(*store), metrics);
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options,
                                             std::unique_ptr<Store> store,
                                             metrics::Registry* metrics) {
  if (sodium_init() < 0) return Fail(errc::kInternal, "libsodium failed to initialise");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->rules.hold_resolve_ns = options.hold_resolve_ns;
  impl->rules.reopen_window_ns = options.reopen_window_ns;
  impl->metrics = metrics;
  impl->store = std::move(store);
  impl->sla = std::make_unique<SlaCache>(*impl->store);
  Impl* raw = impl.get();
  auto engine = std::unique_ptr<Engine>(new Engine(std::move(impl)));
  if (raw->store->SupportsPaging()) {
    raw->quiet = std::make_unique<Quiet>(*raw->store, [raw] { return raw->NowNs(); });
    if (auto st = raw->quiet->Reload(); !st) return Fail(std::move(st.error()));
  }
  if (options.paging && raw->store->SupportsPaging()) {
    PagerOptions p;
    p.extra = [raw](Tx& tx, std::int64_t now, const std::vector<JobRow>& jobs,
                    PagingCounts& counts) -> Result<bool> {
      const auto q = raw->quiet->Snapshot();
      const QuietEnv env{*q, raw->rules, raw->pager.get(), &raw->firing};
      QuietEffects fx;
      fx.counts = &counts;
      return RunDue(tx, now, env, jobs, fx);
    };
    p.on_sweep = [raw] {
      raw->quiet->Refresh(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
              .count());
    };
    p.public_url = options.public_url;
    p.allow_nets = options.outbound_allow_nets;
    p.smtp_url = options.smtp_url;
    p.smtp_from = options.smtp_from;
    p.smtp_username = options.smtp_username;
    p.smtp_password = options.smtp_password;
    p.smtp_require_tls = options.smtp_require_tls;
    p.clock = options.clock;
    p.run_threads = options.paging_threads;
    p.sweep_interval = options.paging_sweep;
    p.lease = std::max<std::chrono::seconds>(
        std::chrono::seconds(1),
        std::chrono::duration_cast<std::chrono::seconds>(options.paging_lease));
    // A send must end well inside its lease, or another node would take the message back
    // while it is still on its way.
    p.send_timeout = std::min<std::chrono::milliseconds>(
        p.send_timeout, std::chrono::duration_cast<std::chrono::milliseconds>(p.lease) / 2);
    Engine* e = engine.get();
    auto pager = Pager::Create(
        *raw->store,
        [e](std::function<Status(Tx&)> write, std::function<void(Status)> done) {
          e->Submit(std::move(write), std::move(done));
        },
        std::move(p), metrics);
    if (!pager) return Fail(std::move(pager.error()));
    raw->pager = std::move(*pager);
  }
  // The threads start once `pager` is set: the writer reads it, and it never changes until the
  // writer has stopped (~Engine). (The pager's runner may queue a write before the writer runs.)
  raw->writer = std::thread([raw] { raw->WriterLoop(); });
  raw->syncer = std::thread([raw] { raw->SyncLoop(); });
  if (options.retention_interval.count() > 0) {
    raw->retention = std::thread([raw] { raw->RetentionLoop(); });
  }
  return engine;
}

Engine::~Engine() {
  // The pager's threads stop first (their writes go through the writer below); the pager itself
  // lives until the writer has stopped, because queued events still call it.
  if (impl_->pager) impl_->pager->Stop();
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  { std::lock_guard lock(impl_->retention_mu); }
  impl_->retention_cv.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
  {
    std::lock_guard lock(impl_->sync_mu);
    impl_->sync_stop = true;
  }
  impl_->sync_cv.notify_all();
  if (impl_->syncer.joinable()) impl_->syncer.join();  // after the writer: answers its last commit
  if (impl_->retention.joinable()) impl_->retention.join();
  impl_->pager.reset();
}

Store& Engine::store() { return *impl_->store; }

Pager* Engine::pager() { return impl_->pager.get(); }

Quiet* Engine::quiet() { return impl_->quiet.get(); }

FiringCache& Engine::firing() { return impl_->firing; }

const RulesConfig& Engine::rules() const { return impl_->rules; }

std::int64_t Engine::Now() const { return impl_->NowNs(); }

void Engine::Ingest(std::vector<Ingestion> events,
                    std::function<void(std::vector<IngestResult>)> done) {
  if (events.empty()) {
    done({});
    return;
  }
  Status refused = Ok();
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) {
      refused = Fail(errc::kUnavailable, "the incident engine is stopping");
    } else if (impl_->queued_events + events.size() > impl_->options.max_queued) {
      refused =
          Fail(errc::kRateLimited, "too many events waiting to be stored (" +
                                       std::to_string(impl_->queued_events) + "); retry shortly");
    } else {
      impl_->queued_events += events.size();
      impl_->queue.push_back(Request{std::move(events), std::move(done)});
    }
  }
  if (!refused) {
    std::vector<IngestResult> results(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      results[i].status = refused;
      results[i].dedup_key = events[i].event.dedup_key;
    }
    impl_->Count("refused", events.size());
    done(std::move(results));
    return;
  }
  impl_->cv.notify_one();
}

void Engine::Submit(std::function<Status(Tx&)> write, std::function<void(Status)> done) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping && impl_->queued_events < impl_->options.max_queued) {
      impl_->queued_events += 1;
      Request r;
      r.write = std::move(write);
      r.write_done = std::move(done);
      impl_->queue.push_back(std::move(r));
      impl_->cv.notify_one();
      return;
    }
  }
  done(Fail(errc::kRateLimited, "too many writes waiting to be stored; retry shortly"));
}

std::vector<IngestResult> Engine::IngestSync(std::vector<Ingestion> events) {
  std::mutex m;
  std::condition_variable cv;
  bool ready = false;
  std::vector<IngestResult> out;
  Ingest(std::move(events), [&](std::vector<IngestResult> r) {
    std::lock_guard lock(m);
    out = std::move(r);
    ready = true;
    cv.notify_one();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return ready; });
  return out;
}

std::string Engine::HashKey(std::string_view key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string Engine::NewKey() {
  unsigned char bytes[16];
  randombytes_buf(bytes, sizeof bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

void Engine::SetIncidentHook(IncidentHook hook) {
  // The pager calls it (it keeps the services' runbooks); without one nothing would.
  if (impl_->pager) impl_->pager->SetIncidentHook(std::move(hook));
}

Result<std::optional<IntegrationRow>> Engine::Authenticate(std::string_view key) {
  // Our keys are 16–128 characters; longer ones are refused before hashing or caching, so an
  // unauthenticated caller cannot fill the cache with 16 KiB "keys".
  if (key.size() > 256) return std::optional<IntegrationRow>();
  const auto now = Clock::now();
  // Cached by the key itself, so a hit costs no SHA-256 (the cache lives in this process's
  // memory, where the key already is while its request is handled).
  {
    std::lock_guard lock(impl_->keys_mu);
    if (auto it = impl_->keys.find(key); it != impl_->keys.end() && it->second.until > now) {
      return it->second.row;
    }
  }
  const std::string hash = HashKey(key);
  auto found = impl_->store->IntegrationByKeyHash(hash);
  if (!found) return Fail(std::move(found.error()));
  std::optional<IntegrationRow> row = std::move(*found);
  if (row && row->revoked_at != 0) row.reset();
  std::lock_guard lock(impl_->keys_mu);
  if (impl_->keys.size() > 100'000) impl_->keys.clear();  // bounded: unknown keys are cached too
  impl_->keys[std::string(key)] = Impl::CachedKey{row, now + std::chrono::seconds(5)};
  return row;
}

void Engine::ForgetKeys() {
  std::lock_guard lock(impl_->keys_mu);
  impl_->keys.clear();
}

Result<std::int64_t> Engine::RunRetention() { return impl_->RunRetention(); }

Result<SlaReport> Engine::Sla(const SlaQuery& q) { return impl_->sla->Report(q, impl_->NowNs()); }
Result<IncidentStateCounts> Engine::StateCounts(const SlaQuery& q) {
  return impl_->sla->StateCounts(q);
}

SlaCache& Engine::SlaData() { return *impl_->sla; }

}  // namespace opsorch::engine
