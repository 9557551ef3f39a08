// Daily uptime bars from state intervals, and uptime with Statuspage's weights.
#include <algorithm>
#include <array>

#include "statuspage/page.h"

namespace opsorch::statuspage {
namespace {

// Sums over 90 days of nanoseconds times 10^7 need more than 64 bits.
__extension__ using Int128 = __int128;

constexpr int kMaxDays = 3660;

// Downtime in tenths of a nanosecond (major × 10 + partial × 3) and observed time in the same
// unit, with nonsensical fields clamped: no negative times, downtime at most the observed time.
struct Weighted {
  Int128 down = 0;
  Int128 observed = 0;
};

Weighted Weigh(const DayBar& d) {
  const Int128 observed = std::max<std::int64_t>(d.observed_ns, 0);
  const Int128 major = std::max<std::int64_t>(d.major_outage_ns, 0);
  const Int128 partial = std::max<std::int64_t>(d.partial_outage_ns, 0);
  return {std::min(major * 10 + partial * 3, observed * 10), observed * 10};
}

std::optional<std::int64_t> E4(const Weighted& w) {
  if (w.observed <= 0) return std::nullopt;
  return static_cast<std::int64_t>((w.observed - w.down) * 1'000'000 / w.observed);
}

std::optional<double> Fraction(const Weighted& w) {
  if (w.observed <= 0) return std::nullopt;
  return 1.0 - static_cast<double>(w.down) / static_cast<double>(w.observed);
}

Weighted Sum(const std::vector<DayBar>& days) {
  Weighted total;
  for (const DayBar& d : days) {
    const Weighted w = Weigh(d);
    total.down += w.down;
    total.observed += w.observed;
  }
  return total;
}

}  // namespace

std::optional<std::int64_t> DayUptimeE4(const DayBar& day) { return E4(Weigh(day)); }
std::optional<std::int64_t> UptimeE4(const std::vector<DayBar>& days) { return E4(Sum(days)); }
std::optional<double> DayUptime(const DayBar& day) { return Fraction(Weigh(day)); }
std::optional<double> Uptime(const std::vector<DayBar>& days) { return Fraction(Sum(days)); }

std::vector<DayBar> DailyBars(const std::vector<Interval>& intervals, std::int64_t now,
                              std::int64_t since, int days) {
  days = std::clamp(days, 1, kMaxDays);
  now = ClampTime(now);
  const std::int64_t first_day = DayStart(now) - (days - 1) * kNanosPerDay;
  const std::int64_t lo = std::max(first_day, ClampTime(since));
  const std::int64_t hi = now;

  std::vector<DayBar> bars(static_cast<std::size_t>(days));
  for (int d = 0; d < days; ++d) {
    DayBar& b = bars[static_cast<std::size_t>(d)];
    b.day_start = first_day + d * kNanosPerDay;
    const std::int64_t from = std::max(b.day_start, lo);
    const std::int64_t to = std::min(b.day_start + kNanosPerDay, hi);
    b.observed_ns = std::max<std::int64_t>(to - from, 0);
  }

  // A sweep over the interval ends: between two consecutive ends the worst state with an open
  // interval holds, and that stretch is split at midnights into the day bars.
  struct Edge {
    std::int64_t at;
    int delta;
    ComponentState state;
  };
  std::vector<Edge> edges;
  for (const Interval& in : intervals) {
    if (in.state == ComponentState::kOperational) continue;  // the default; no time to add
    const std::int64_t from = std::max(ClampTime(in.from), lo);
    const std::int64_t to = in.to == 0 ? hi : std::min(ClampTime(in.to), hi);
    if (to <= from) continue;
    edges.push_back({from, +1, in.state});
    edges.push_back({to, -1, in.state});
  }
  std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.at < b.at; });

  auto add = [&](std::int64_t from, std::int64_t to, ComponentState state) {
    while (from < to) {
      const auto index = static_cast<std::size_t>(FloorDiv(from - first_day, kNanosPerDay));
      DayBar& b = bars[index];
      const std::int64_t end = std::min(to, b.day_start + kNanosPerDay);
      const std::int64_t ns = end - from;
      switch (state) {
        case ComponentState::kMajorOutage:
          b.major_outage_ns += ns;
          break;
        case ComponentState::kPartialOutage:
          b.partial_outage_ns += ns;
          break;
        case ComponentState::kDegraded:
          b.degraded_ns += ns;
          break;
        case ComponentState::kMaintenance:
          b.maintenance_ns += ns;
          break;
        case ComponentState::kOperational:
          break;
      }
      from = end;
    }
  };

  std::array<int, 5> open{};  // open intervals per state
  std::int64_t prev = lo;
  for (std::size_t i = 0; i < edges.size();) {
    const std::int64_t at = edges[i].at;
    for (int s = 4; s > 0; --s) {
      if (open[static_cast<std::size_t>(s)] > 0) {
        add(prev, at, static_cast<ComponentState>(s));
        break;
      }
    }
    for (; i < edges.size() && edges[i].at == at; ++i) {
      open[static_cast<std::size_t>(edges[i].state)] += edges[i].delta;
    }
    prev = at;
  }
  return bars;
}

}  // namespace opsorch::statuspage
