// MetricStore: the `workflow` metric provider's data. One shared_mutex: Add takes it
// exclusively (short: a ring push and an LRU splice), Query/Describe share it.
#include <algorithm>
#include <chrono>
#include <deque>
#include <list>
#include <map>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include <opsorch/common/label_regex.h>
#include <opsorch/workflow/metric_output.h>

namespace opsorch::workflow {
namespace {

struct Point {
  std::int64_t ts_ms;
  double value;
};

// Fixed-capacity ring of points in arrival order (a deque: O(1) at both ends, so dropping
// expired points one by one stays cheap).
class Ring {
 public:
  explicit Ring(std::size_t cap) : cap_(std::max<std::size_t>(cap, 1)) {}
  void Push(Point p) {
    if (buf_.size() == cap_) buf_.pop_front();
    buf_.push_back(p);
  }
  template <class F>
  void ForEach(F&& f) const {
    for (const auto& p : buf_) f(p);
  }
  // Drops points older than `min_ts` from the oldest end (arrival order ≈ time order; a late
  // straggler is filtered out by Query's window instead).
  void DropOlderThan(std::int64_t min_ts) {
    while (!buf_.empty() && buf_.front().ts_ms < min_ts) buf_.pop_front();
  }
  bool Empty() const { return buf_.empty(); }
  std::int64_t NewestArrival() const { return buf_.empty() ? INT64_MIN : buf_.back().ts_ms; }

 private:
  std::size_t cap_;
  std::deque<Point> buf_;
};

struct SeriesId {
  std::string key;
  Dimensions dims;
  friend auto operator<=>(const SeriesId&, const SeriesId&) = default;
};

struct Series {
  Ring points;
  std::list<const SeriesId*>::iterator lru;
};

enum class Agg { kAvg, kSum, kMax, kMin, kCount };

struct Acc {
  double sum = 0, min = 0, max = 0;
  std::uint64_t n = 0;
  void Add(double v) {
    min = n == 0 ? v : std::min(min, v);
    max = n == 0 ? v : std::max(max, v);
    sum += v;
    ++n;
  }
  double Value(Agg a) const {
    switch (a) {
      case Agg::kSum:
        return sum;
      case Agg::kMax:
        return max;
      case Agg::kMin:
        return min;
      case Agg::kCount:
        return static_cast<double>(n);
      case Agg::kAvg:
        break;
    }
    return sum / static_cast<double>(n);
  }
};

struct Filter {
  std::string label;
  enum { kEq, kNe, kRe, kNre } op;
  std::string value;
  std::optional<LabelRegex> re;
  mutable std::unordered_map<std::string, bool> memo;  // distinct values repeat across series
  bool Matches(const Dimensions& d) const {
    const auto it = d.find(label);
    const std::string& v = it == d.end() ? kEmpty : it->second;
    switch (op) {
      case kEq:
        return v == value;
      case kNe:
        return v != value;
      default:
        break;
    }
    auto m = memo.find(v);
    if (m == memo.end()) m = memo.emplace(v, re->FullMatch(v)).first;
    return m->second == (op == kRe);
  }
  static inline const std::string kEmpty;
};

std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

struct MetricStore::Impl {
  MetricStoreOptions options;
  mutable std::shared_mutex mu;
  std::map<SeriesId, Series> series;
  std::list<const SeriesId*> lru;  // least recently written first

  std::int64_t Now() const { return options.now_ms ? options.now_ms() : SystemNowMs(); }
  std::int64_t RetentionMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(options.retention).count();
  }
};

MetricStore::MetricStore(MetricStoreOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
MetricStore::~MetricStore() = default;

void MetricStore::Add(const Metric& metric) {
  Impl& s = *impl_;
  const std::int64_t min_ts = s.Now() - s.RetentionMs();
  if (metric.timestamp_ms < min_ts || s.options.max_series == 0) return;
  try {
    std::unique_lock lk(s.mu);
    SeriesId id{metric.key, metric.dimensions};
    auto it = s.series.find(id);
    if (it == s.series.end()) {
      if (s.series.size() >= s.options.max_series) {
        // Evict the series written least recently: a stale label set, most likely.
        const SeriesId* victim = s.lru.front();
        s.lru.pop_front();
        s.series.erase(*victim);
      }
      it = s.series.emplace(std::move(id), Series{Ring(s.options.max_points_per_series), {}}).first;
      it->second.lru = s.lru.insert(s.lru.end(), &it->first);
    } else {
      s.lru.splice(s.lru.end(), s.lru, it->second.lru);
    }
    it->second.points.DropOlderThan(min_ts);
    it->second.points.Push({metric.timestamp_ms, metric.value});
  } catch (const std::exception&) {
    // Out of memory: the point is dropped; the spool still has it.
  }
}

Result<std::vector<schema::MetricSeries>> MetricStore::Query(
    const schema::MetricQuery& query) const {
  const auto bad = [](std::string m) { return Fail(errc::kBadRequest, std::move(m)); };
  if (!query.expression || query.expression->metric_name.empty()) {
    return bad("expression.metricName: required");
  }
  const auto& ex = *query.expression;
  std::optional<Agg> agg;
  if (ex.aggregation == "avg")
    agg = Agg::kAvg;
  else if (ex.aggregation == "sum")
    agg = Agg::kSum;
  else if (ex.aggregation == "max")
    agg = Agg::kMax;
  else if (ex.aggregation == "min")
    agg = Agg::kMin;
  else if (ex.aggregation == "count")
    agg = Agg::kCount;
  else if (!ex.aggregation.empty()) {
    return bad("expression.aggregation: must be one of avg, sum, max, min, count");
  }
  if (query.step < 0) return bad("step: must be >= 0");
  if (query.step > 366LL * 24 * 3600 * 100) return bad("step: must be at most 100 years");
  if (!query.start.IsZero() && !query.end.IsZero() && query.end < query.start) {
    return bad("end: must not be before start");
  }
  std::vector<Filter> filters;
  for (std::size_t i = 0; i < ex.filters.size(); ++i) {
    const auto& f = ex.filters[i];
    const std::string where = "expression.filters[" + std::to_string(i) + "]";
    if (f.label.empty()) return bad(where + ".label: required");
    Filter c{f.label, Filter::kEq, f.value, std::nullopt, {}};
    if (f.op == "=")
      c.op = Filter::kEq;
    else if (f.op == "!=")
      c.op = Filter::kNe;
    else if (f.op == "=~" || f.op == "!~") {
      c.op = f.op == "=~" ? Filter::kRe : Filter::kNre;
      auto re = LabelRegex::Compile(f.value);
      if (!re) return bad(where + ".value: " + re.error().message);
      c.re = std::move(*re);
    } else {
      return bad(where + ".operator: must be one of =, !=, =~, !~");
    }
    filters.push_back(std::move(c));
  }

  const Impl& s = *impl_;
  // Inclusive window in epoch ms (start rounded up, end down); a zero time leaves it open.
  std::int64_t lo = s.Now() - s.RetentionMs();
  std::int64_t hi = INT64_MAX;
  if (!query.start.IsZero()) {
    const auto& t = query.start;
    lo = std::max(lo, t.seconds * 1000 + (t.nanos + 999'999) / 1'000'000);
  }
  if (!query.end.IsZero()) hi = query.end.seconds * 1000 + query.end.nanos / 1'000'000;
  const std::int64_t step_ms = query.step * 1000;
  const bool group = !ex.group_by.empty();

  // groups: output labels → bucket start → accumulator
  std::map<Dimensions, std::map<std::int64_t, Acc>> groups;
  std::map<Dimensions, std::size_t> contributors;
  try {
    std::shared_lock lk(s.mu);
    auto it = s.series.lower_bound(SeriesId{ex.metric_name, {}});
    for (; it != s.series.end() && it->first.key == ex.metric_name; ++it) {
      const Dimensions& dims = it->first.dims;
      if (!std::all_of(filters.begin(), filters.end(),
                       [&](const Filter& f) { return f.Matches(dims); })) {
        continue;
      }
      Dimensions out;
      if (group) {
        for (const auto& g : ex.group_by) {
          if (auto d = dims.find(g); d != dims.end()) out.emplace(g, d->second);
        }
      } else {
        out = dims;
      }
      std::map<std::int64_t, Acc>* buckets = nullptr;
      it->second.points.ForEach([&](const Point& p) {
        if (p.ts_ms < lo || p.ts_ms > hi) return;
        if (buckets == nullptr) {
          buckets = &groups[out];
          ++contributors[out];
        }
        const std::int64_t b = step_ms > 0 ? FloorDiv(p.ts_ms, step_ms) * step_ms : p.ts_ms;
        (*buckets)[b].Add(p.value);
      });
    }
  } catch (const std::exception& e) {
    return Fail(errc::kInternal, std::string("metric store: ") + e.what());
  }

  std::vector<schema::MetricSeries> result;
  result.reserve(groups.size());
  for (auto& [labels, buckets] : groups) {
    schema::MetricSeries ms;
    ms.name = ex.metric_name;
    for (const auto& [k, v] : labels) ms.labels[k] = v;
    ms.points.emplace();
    ms.points->reserve(buckets.size());
    for (const auto& [b, acc] : buckets) {
      // Raw points stay raw unless something has to be combined.
      const double v = agg ? acc.Value(*agg) : acc.n == 1 ? acc.sum : acc.Value(Agg::kAvg);
      ms.points->push_back({Time::FromUnixNanos(b * 1'000'000), v});
    }
    result.push_back(std::move(ms));
  }
  return result;
}

std::vector<schema::MetricDescriptor> MetricStore::Describe() const {
  const Impl& s = *impl_;
  std::map<std::string, std::set<std::string>> labels;
  const std::int64_t min_ts = s.Now() - s.RetentionMs();
  {
    std::shared_lock lk(s.mu);
    for (const auto& [id, series] : s.series) {
      if (series.points.NewestArrival() < min_ts) continue;  // expired: nothing to query
      auto& l = labels[id.key];
      for (const auto& [k, v] : id.dims) l.insert(k);
    }
  }
  std::vector<schema::MetricDescriptor> out;
  out.reserve(labels.size());
  for (auto& [name, l] : labels) {
    schema::MetricDescriptor d;
    d.name = name;
    d.type = "gauge";
    d.description = "metric produced by workflows";
    d.labels.emplace(l.begin(), l.end());
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace opsorch::workflow
