// Prometheus text exposition (format 0.0.4) of counters and histograms. Observations are
// lock-free (relaxed atomics); only creating a new label combination takes a lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace opsorch::metrics {

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Bucket bounds are in seconds; observations are taken in nanoseconds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
  void ObserveNanos(std::int64_t ns);
  std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }

 private:
  friend class Registry;
  std::array<std::atomic<std::uint64_t>, kBounds.size()> buckets_{};  // non-cumulative
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

class Registry {
 public:
  // Returns the series for these label values, creating it on first use. The reference stays
  // valid for the registry's lifetime, so hot paths look it up once and keep it.
  Counter& GetCounter(std::string_view name, std::string_view help,
                      std::initializer_list<std::pair<std::string_view, std::string_view>> labels);
  Histogram& GetHistogram(
      std::string_view name, std::string_view help,
      std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

  // Appends exposition lines computed at render time (gauges read from elsewhere), complete
  // with # HELP/# TYPE. Collectors run in Render() after the families, in the order added,
  // outside the registry's lock (so one may itself use this registry). Thread-safe.
  using Collector = std::function<void(std::string& out)>;
  void AddCollector(Collector collector);

  // The whole exposition, families in registration order, then the collectors' lines.
  std::string Render() const;

 private:
  struct Family {
    std::string name, help;
    bool histogram = false;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // key: rendered labels
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // key: rendered labels
  };
  Family& FamilyFor(std::string_view name, std::string_view help, bool histogram);

  mutable std::mutex mu_;
  std::deque<Family> families_;
  // Shared so that Render() copies pointers, not the functions, before leaving the lock.
  std::vector<std::shared_ptr<const Collector>> collectors_;
};

// Renders {a="x",b="y"} with Prometheus escaping of \, " and newlines.
std::string RenderLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> l);

}  // namespace opsorch::metrics
