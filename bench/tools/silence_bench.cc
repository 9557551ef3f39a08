// Silence matching benchmark (opsorch_silence's SilenceIndex, public headers only).
//
//   opsorch-silence-bench [--events 1000000] [--sizes 10000,1000] [--seed 1] [--scopes 0]
//
// Builds indexes of --sizes silences shaped like real ones and matches --events random alerts
// against each, timing every Match call. Labels come from 1,000 alert names, 20,000 instances,
// 200 jobs, 4 severities, 3 envs, 8 regions, 20 teams, 100 services. Silence mix: 45%
// alertname+instance, 20% instance, 10% alertname+severity+env, 5% alertname+team+env!=
// (equality matchers); 8% job + a regex on instance with a literal prefix and a class
// ("host-0123[0-9]:9100"), 7% alertname + an alternation of three instances; 5% with only regex
// or negative matchers (prefix, suffix, class and group regexes, and all-negative ones; the last
// two no key can find, so every alert tests them). All silences are active and, unless
// --scopes K spreads them over K services, global (the worst case: every alert may match any of
// them). An alert has 8 labels (alertname, instance, job, severity, env, region, team, service);
// one in ten copies the alertname and instance of a random silence so that matches happen.
// Prints, per size: the build time, how many silences have no anchor, the median, p99 and mean
// nanoseconds per Match (each call timed with steady_clock, whose own cost is printed), the
// untimed throughput, how many alerts were silenced (and how many ids that made), and the heap
// allocations made by the Match calls after a warm-up, for the alerts no silence matched and
// for the others (counted by replacing operator new in this binary).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <opsorch/silence/silence.h>

namespace {
std::atomic<std::uint64_t> g_allocations{0};
// Out of line, so that GCC does not pair a visible malloc with operator delete and warn.
[[gnu::noinline]] void* Allocate(std::size_t n) { return std::malloc(n == 0 ? 1 : n); }
[[gnu::noinline]] void Release(void* p) { std::free(p); }
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = Allocate(n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { Release(p); }
void operator delete(void* p, std::size_t) noexcept { Release(p); }

namespace {

using opsorch::silence::Labels;
using opsorch::silence::Matcher;
using opsorch::silence::Silence;
using opsorch::silence::SilenceIndex;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kNow = 1767614400'000'000'000;  // 2026-01-05T12:00:00Z
constexpr std::int64_t kHour = 3600'000'000'000;

struct Vocabulary {
  std::vector<std::string> alertnames, instances, jobs, severities, envs, regions, teams, services;
};

Vocabulary MakeVocabulary() {
  Vocabulary v;
  const char* families[] = {"DiskFull",     "HighCPU",     "HighMemory", "InstanceDown",
                            "HttpErrors",   "SlowQueries", "CertExpiry", "QueueBacklog",
                            "PodCrashLoop", "NodeNotReady"};
  char buf[64];
  for (const char* f : families) {
    for (int i = 0; i < 100; ++i) v.alertnames.push_back(std::string(f) + "_" + std::to_string(i));
  }
  for (int i = 0; i < 20000; ++i) {
    std::snprintf(buf, sizeof buf, "host-%05d:9100", i);
    v.instances.emplace_back(buf);
  }
  for (int i = 0; i < 200; ++i) {
    std::snprintf(buf, sizeof buf, "job-%03d", i);
    v.jobs.emplace_back(buf);
  }
  v.severities = {"critical", "warning", "info", "page"};
  v.envs = {"prod", "staging", "dev"};
  for (int i = 0; i < 8; ++i) v.regions.push_back("eu-" + std::to_string(i));
  for (int i = 0; i < 20; ++i) v.teams.push_back("team-" + std::to_string(i));
  for (int i = 0; i < 100; ++i) v.services.push_back("svc-" + std::to_string(i));
  return v;
}

Matcher Eq(std::string n, std::string v) { return {std::move(n), std::move(v), false, true}; }
Matcher Ne(std::string n, std::string v) { return {std::move(n), std::move(v), false, false}; }
Matcher Re(std::string n, std::string v) { return {std::move(n), std::move(v), true, true}; }
Matcher Nre(std::string n, std::string v) { return {std::move(n), std::move(v), true, false}; }

std::vector<Silence> MakeSilences(std::size_t n, const Vocabulary& v, std::mt19937_64& rng,
                                  int scopes) {
  auto pick = [&](const std::vector<std::string>& list) { return list[rng() % list.size()]; };
  std::vector<Silence> out;
  char buf[64];
  for (std::size_t i = 0; i < n; ++i) {
    Silence s;
    std::snprintf(buf, sizeof buf, "%08llx-%04zx-4000-8000-%012zx",
                  static_cast<unsigned long long>(rng() & 0xffffffffu), i & 0xffff, i);
    s.id = buf;
    const int r = static_cast<int>(rng() % 100);
    if (r < 45) {
      s.matchers = {Eq("alertname", pick(v.alertnames)), Eq("instance", pick(v.instances))};
    } else if (r < 65) {
      s.matchers = {Eq("instance", pick(v.instances))};
    } else if (r < 75) {
      s.matchers = {Eq("alertname", pick(v.alertnames)), Eq("severity", pick(v.severities)),
                    Eq("env", pick(v.envs))};
    } else if (r < 83) {
      std::snprintf(buf, sizeof buf, "host-%04d[0-9]:9100", static_cast<int>(rng() % 2000));
      s.matchers = {Eq("job", pick(v.jobs)), Re("instance", buf)};
    } else if (r < 90) {
      s.matchers = {
          Eq("alertname", pick(v.alertnames)),
          Re("instance", pick(v.instances) + "|" + pick(v.instances) + "|" + pick(v.instances))};
    } else if (r < 95) {
      s.matchers = {Eq("alertname", pick(v.alertnames)), Eq("team", pick(v.teams)),
                    Ne("env", "dev")};
    } else {
      // Only regex or negative matchers, as selective as real ones.
      switch (rng() % 6) {
        case 0:  // a fast prefix, found by key
          s.matchers = {Re("alertname", "DiskFull_" + std::to_string(rng() % 100) + ".*"),
                        Ne("severity", "info"), Eq("team", pick(v.teams))};
          break;
        case 1:  // LabelRegex behind a literal prefix, found by key
          std::snprintf(buf, sizeof buf, "host-1%03d[0-9]:9100", static_cast<int>(rng() % 1000));
          s.matchers = {Re("instance", buf)};
          break;
        case 2:  // LabelRegex behind a literal prefix and a negative matcher
          s.matchers = {Ne("env", "prod"), Re("team", "team-1[0-9]"),
                        Re("alertname", "SlowQueries_" + std::to_string(rng() % 100) +
                                            "|CertExpiry_" + std::to_string(rng() % 100))};
          break;
        case 3:  // a fast suffix, found by key
          std::snprintf(buf, sizeof buf, ".*%04d:9100", static_cast<int>(rng() % 10000));
          s.matchers = {Re("instance", buf), Nre("alertname", "Http.*")};
          break;
        case 4:  // negative matchers only: tested for every alert
          s.matchers = {Nre("severity", "critical|warning|page"), Ne("env", "prod"),
                        Ne("env", "staging"), Ne("region", "eu-" + std::to_string(rng() % 8)),
                        Nre("team", "team-([0-9]|1[0-8])")};
          break;
        default:  // a group: LabelRegex behind a required substring, tested for every alert
          s.matchers = {Re("alertname", "(DiskFull|HighCPU)_" + std::to_string(rng() % 100)),
                        Eq("severity", pick(v.severities))};
          break;
      }
    }
    s.starts_at = kNow - static_cast<std::int64_t>(rng() % 48) * kHour;
    s.ends_at = kNow + (1 + static_cast<std::int64_t>(rng() % 72)) * kHour;
    s.updated_at = s.starts_at;
    s.created_by = "bench";
    s.comment = "maintenance";
    if (scopes > 0) s.scope = "svc-" + std::to_string(rng() % static_cast<unsigned>(scopes));
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Labels> MakeEvents(std::size_t n, const Vocabulary& v,
                               const std::vector<Silence>& silences, std::mt19937_64& rng) {
  auto pick = [&](const std::vector<std::string>& list) { return list[rng() % list.size()]; };
  std::vector<Labels> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Labels l = {{"alertname", pick(v.alertnames)},
                {"instance", pick(v.instances)},
                {"job", pick(v.jobs)},
                {"severity", pick(v.severities)},
                {"env", pick(v.envs)},
                {"region", pick(v.regions)},
                {"team", pick(v.teams)},
                {"service", pick(v.services)}};
    if (rng() % 10 == 0) {  // copy a silence's equality values
      for (const Matcher& m : silences[rng() % silences.size()].matchers) {
        if (m.is_regex || !m.is_equal) continue;
        for (auto& [name, value] : l) {
          if (name == m.name) value = m.value;
        }
      }
    }
    std::shuffle(l.begin(), l.end(), rng);  // labels come in any order
    out.push_back(std::move(l));
  }
  return out;
}

void Run(std::size_t size, std::size_t events, std::uint64_t seed, int scopes) {
  std::mt19937_64 rng(seed);
  const Vocabulary v = MakeVocabulary();
  std::vector<Silence> silences = MakeSilences(size, v, rng, scopes);
  const std::vector<Labels> alerts = MakeEvents(events, v, silences, rng);
  std::vector<std::string> services;
  for (std::size_t i = 0; i < events; ++i) {
    services.push_back(scopes > 0 ? "svc-" + std::to_string(rng() % static_cast<unsigned>(scopes))
                                  : "svc-0");
  }

  const auto b0 = Clock::now();
  const SilenceIndex index = SilenceIndex::Build(silences);
  const auto b1 = Clock::now();
  const double build_ms = std::chrono::duration<double, std::milli>(b1 - b0).count();

  std::vector<std::string> ids;
  ids.reserve(64);
  for (std::size_t i = 0; i < std::min<std::size_t>(events, 10000); ++i) {  // warm-up
    index.Match(services[i], alerts[i], kNow, ids);
  }

  // Timed per call.
  std::vector<std::uint32_t> ns(events);
  std::size_t silenced = 0, hits = 0;
  std::uint64_t allocs_silenced = 0, allocs_not_silenced = 0;
  for (std::size_t i = 0; i < events; ++i) {
    const std::uint64_t a0 = g_allocations.load(std::memory_order_relaxed);
    const auto t0 = Clock::now();
    index.Match(services[i], alerts[i], kNow, ids);
    const auto t1 = Clock::now();
    const std::uint64_t allocs = g_allocations.load(std::memory_order_relaxed) - a0;
    ns[i] = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    silenced += ids.empty() ? 0 : 1;
    hits += ids.size();
    (ids.empty() ? allocs_not_silenced : allocs_silenced) += allocs;
  }

  // Untimed throughput.
  const auto u0 = Clock::now();
  for (std::size_t i = 0; i < events; ++i) index.Match(services[i], alerts[i], kNow, ids);
  const auto u1 = Clock::now();
  const double mean_ns =
      std::chrono::duration<double, std::nano>(u1 - u0).count() / static_cast<double>(events);

  // The clock's own cost, timed the same way around nothing.
  std::vector<std::uint32_t> empty(100000);
  for (auto& e : empty) {
    const auto t0 = Clock::now();
    const auto t1 = Clock::now();
    e = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  }
  auto quantile = [](std::vector<std::uint32_t> v, double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  };
  std::printf(
      "silences=%zu scopes=%d build_ms=%.1f unanchored=%zu events=%zu median_ns=%u p99_ns=%u "
      "p999_ns=%u max_ns=%u untimed_mean_ns=%.0f clock_ns=%u silenced=%zu ids=%zu "
      "allocations_not_silenced=%llu allocations_silenced=%llu\n",
      size, scopes, build_ms, index.unanchored(), events, quantile(ns, 0.5), quantile(ns, 0.99),
      quantile(ns, 0.999), *std::max_element(ns.begin(), ns.end()), mean_ns, quantile(empty, 0.5),
      silenced, hits, static_cast<unsigned long long>(allocs_not_silenced),
      static_cast<unsigned long long>(allocs_silenced));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 1'000'000;
  std::vector<std::size_t> sizes = {10'000, 1'000};
  std::uint64_t seed = 1;
  int scopes = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) {
      std::fprintf(stderr, "opsorch-silence-bench: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--events") {
      events = std::strtoull(value, nullptr, 10);
    } else if (a == "--seed") {
      seed = std::strtoull(value, nullptr, 10);
    } else if (a == "--scopes") {
      scopes = std::atoi(value);
    } else if (a == "--sizes") {
      sizes.clear();
      for (const char* p = value; *p != '\0';) {
        char* end = nullptr;
        sizes.push_back(std::strtoull(p, &end, 10));
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p != '\0') break;
      }
    } else {
      std::fprintf(stderr,
                   "usage: opsorch-silence-bench [--events N] [--sizes A,B] [--seed S] "
                   "[--scopes K]\n");
      return 2;
    }
    ++i;
  }
  if (events == 0 || sizes.empty()) return 2;
  for (const std::size_t size : sizes) Run(size, events, seed, scopes);
  return 0;
}
