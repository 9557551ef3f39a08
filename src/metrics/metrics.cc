#include <charconv>
#include <cstdio>

#include <opsorch/metrics/metrics.h>

namespace opsorch::metrics {
namespace {

void AppendDouble(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// Inserts an extra label into an already rendered label set: {a="x"} + le → {a="x",le="0.1"}.
std::string WithLabel(const std::string& labels, std::string_view key, std::string_view value) {
  std::string out;
  if (labels.empty()) {
    out = "{";
  } else {
    out.assign(labels, 0, labels.size() - 1);
    out.push_back(',');
  }
  out.append(key);
  out.append("=\"");
  out.append(value);
  out.append("\"}");
  return out;
}

}  // namespace

void Histogram::ObserveNanos(std::int64_t ns) {
  if (ns < 0) ns = 0;
  const double s = static_cast<double>(ns) / 1e9;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (s <= kBounds[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

std::string RenderLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> l) {
  if (l.size() == 0) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first) out.push_back(',');
    first = false;
    out.append(k);
    out.append("=\"");
    for (char c : v) {
      if (c == '\\') {
        out.append("\\\\");
      } else if (c == '"') {
        out.append("\\\"");
      } else if (c == '\n') {
        out.append("\\n");
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

Registry::Family& Registry::FamilyFor(std::string_view name, std::string_view help,
                                      bool histogram) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  auto& f = families_.emplace_back();
  f.name = name;
  f.help = help;
  f.histogram = histogram;
  return f;
}

Counter& Registry::GetCounter(
    std::string_view name, std::string_view help,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, false).counters[std::move(key)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::GetHistogram(
    std::string_view name, std::string_view help,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, true).histograms[std::move(key)];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

void Registry::AddCollector(Collector collector) {
  auto shared = std::make_shared<const Collector>(std::move(collector));
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(shared));
}

std::string Registry::Render() const {
  std::string out;
  std::vector<std::shared_ptr<const Collector>> collectors;
  std::unique_lock lock(mu_);
  collectors = collectors_;
  for (const auto& f : families_) {
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(f.histogram ? " histogram\n" : " counter\n");
    for (const auto& [labels, c] : f.counters) {
      out.append(f.name).append(labels).push_back(' ');
      AppendUint(out, c->Value());
      out.push_back('\n');
    }
    for (const auto& [labels, h] : f.histograms) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < Histogram::kBounds.size(); ++i) {
        cumulative += h->buckets_[i].load(std::memory_order_relaxed);
        std::string le;
        AppendDouble(le, Histogram::kBounds[i]);
        out.append(f.name).append("_bucket").append(WithLabel(labels, "le", le)).push_back(' ');
        AppendUint(out, cumulative);
        out.push_back('\n');
      }
      const std::uint64_t count = h->count_.load(std::memory_order_relaxed);
      out.append(f.name).append("_bucket").append(WithLabel(labels, "le", "+Inf")).push_back(' ');
      AppendUint(out, count);
      out.push_back('\n');
      out.append(f.name).append("_sum").append(labels).push_back(' ');
      AppendDouble(out, static_cast<double>(h->sum_ns_.load(std::memory_order_relaxed)) / 1e9);
      out.push_back('\n');
      out.append(f.name).append("_count").append(labels).push_back(' ');
      AppendUint(out, count);
      out.push_back('\n');
    }
  }
  lock.unlock();
  for (const auto& c : collectors) {
    if (*c) (*c)(out);
  }
  return out;
}

}  // namespace opsorch::metrics
