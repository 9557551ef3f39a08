// The schedule computation. Everything below is built on two functions, so that the fast path
// (OnCallAt) and the rendered entries (RenderLayer, FinalSchedule) cannot disagree:
//   Rotation::Handoff(k)   the instant turn k starts;
//   WindowOnDay(r, day)    the instants of restriction r's window that starts on local day `day`.
#include <algorithm>
#include <utility>

#include <opsorch/paging/schedule.h>

namespace opsorch::paging {
namespace {

using tz::kSecondsPerDay;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t Mod(std::int64_t a, std::int64_t n) {
  std::int64_t r = a % n;
  return r < 0 ? r + n : r;
}

// A layer that can cover nothing (possible only for values built in code; the decoder refuses
// them).
bool Degenerate(const Layer& l) { return l.users.empty() || l.turn_length_s <= 0; }

class Rotation {
 public:
  Rotation(const Layer& layer, const tz::Zone& zone)
      : layer_(layer),
        zone_(zone),
        calendar_(layer.turn_length_s % kSecondsPerDay == 0),
        virtual_start_local_(zone.LocalSeconds(layer.rotation_virtual_start_s)) {}

  // Whole-day turns keep the virtual start's wall-clock time (the rulebook resolves handoffs
  // that fall into a DST gap or repeat); other lengths are fixed seconds.
  std::int64_t Handoff(std::int64_t k) const {
    if (!calendar_) return layer_.rotation_virtual_start_s + k * layer_.turn_length_s;
    return zone_.FromLocalSeconds(virtual_start_local_ + k * layer_.turn_length_s);
  }

  // The turn running at t: Handoff(k) <= t < Handoff(k + 1). The fixed-length estimate is off by
  // at most one turn for calendar turns (offsets differ by hours, turns last days).
  std::int64_t TurnAt(std::int64_t t) const {
    std::int64_t k = FloorDiv(t - layer_.rotation_virtual_start_s, layer_.turn_length_s);
    if (calendar_) {
      while (Handoff(k) > t) --k;
      while (Handoff(k + 1) <= t) ++k;
    }
    return k;
  }

  const std::string& User(std::int64_t k) const {
    return layer_
        .users[static_cast<std::size_t>(Mod(k, static_cast<std::int64_t>(layer_.users.size())))];
  }

 private:
  const Layer& layer_;
  const tz::Zone& zone_;
  bool calendar_;
  std::int64_t virtual_start_local_;
};

struct Span {
  std::int64_t start;
  std::int64_t end;
};

// The window of `r` that starts on local day `day` (days since 1970-01-01 in the zone), as
// instants; empty (start == end) when there is none that day or DST swallowed it. The end is
// the wall-clock time `duration` after the start, so windows keep their wall-clock shape on
// DST days.
Span WindowOnDay(const Restriction& r, const tz::Zone& zone, std::int64_t day) {
  if (r.type == Restriction::Type::kWeekly && tz::IsoWeekday(day) != r.start_day_of_week) {
    return {0, 0};
  }
  const std::int64_t local_start = day * kSecondsPerDay + r.start_time_of_day_s;
  return {zone.FromLocalSeconds(local_start), zone.FromLocalSeconds(local_start + r.duration_s)};
}

// Local days whose windows may reach an instant on local day d: a window lasts at most 7 days
// (weekly) or 1 day (daily), and a repeated hour can move an instant's local reading across
// midnight, hence the margins.
std::int64_t FirstCandidateDay(const Restriction& r, std::int64_t d) {
  return r.type == Restriction::Type::kWeekly ? d - 8 : d - 2;
}

bool InRestrictions(const Layer& layer, const tz::Zone& zone, std::int64_t t) {
  if (layer.restrictions.empty()) return true;
  const std::int64_t d = FloorDiv(zone.LocalSeconds(t), kSecondsPerDay);
  for (const Restriction& r : layer.restrictions) {
    for (std::int64_t day = FirstCandidateDay(r, d); day <= d + 1; ++day) {
      if (r.type == Restriction::Type::kWeekly && tz::IsoWeekday(day) != r.start_day_of_week) {
        continue;
      }
      const std::int64_t local_start = day * kSecondsPerDay + r.start_time_of_day_s;
      if (zone.FromLocalSeconds(local_start) > t) continue;
      if (t < zone.FromLocalSeconds(local_start + r.duration_s)) return true;
    }
  }
  return false;
}

bool Covers(const Layer& layer, const tz::Zone& zone, std::int64_t t) {
  if (Degenerate(layer) || t < layer.start_s || (layer.end_s != 0 && t >= layer.end_s)) {
    return false;
  }
  return InRestrictions(layer, zone, t);
}

// The restriction windows meeting [a, b), clipped to it, sorted and merged.
std::vector<Span> Windows(const Layer& layer, const tz::Zone& zone, std::int64_t a,
                          std::int64_t b) {
  std::vector<Span> out;
  if (layer.restrictions.empty()) {
    out.push_back({a, b});
    return out;
  }
  const std::int64_t first = FloorDiv(zone.LocalSeconds(a), kSecondsPerDay);
  const std::int64_t last = FloorDiv(zone.LocalSeconds(b), kSecondsPerDay) + 1;
  for (const Restriction& r : layer.restrictions) {
    for (std::int64_t day = FirstCandidateDay(r, first); day <= last; ++day) {
      Span w = WindowOnDay(r, zone, day);
      w.start = std::max(w.start, a);
      w.end = std::min(w.end, b);
      if (w.start < w.end) out.push_back(w);
    }
  }
  std::sort(out.begin(), out.end(), [](const Span& x, const Span& y) { return x.start < y.start; });
  std::vector<Span> merged;
  for (const Span& w : out) {
    if (!merged.empty() && w.start <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, w.end);
    } else {
      merged.push_back(w);
    }
  }
  return merged;
}

void Append(std::vector<Entry>& out, const std::string& user, std::int64_t start,
            std::int64_t end) {
  if (!out.empty() && out.back().end_s == start && out.back().user == user) {
    out.back().end_s = end;
    return;
  }
  out.push_back(Entry{user, start, end});
}

}  // namespace

std::vector<Entry> RenderLayer(const Schedule& schedule, const tz::Zone& zone, std::size_t layer,
                               std::int64_t since_s, std::int64_t until_s) {
  std::vector<Entry> out;
  if (layer >= schedule.layers.size()) return out;
  const Layer& l = schedule.layers[layer];
  if (Degenerate(l)) return out;
  const std::int64_t a = std::max(since_s, l.start_s);
  const std::int64_t b = l.end_s != 0 ? std::min(until_s, l.end_s) : until_s;
  if (a >= b) return out;
  const Rotation rotation(l, zone);
  for (const Span& w : Windows(l, zone, a, b)) {
    std::int64_t k = rotation.TurnAt(w.start);
    std::int64_t cur = w.start;
    while (cur < w.end) {
      const std::int64_t next = std::min(w.end, rotation.Handoff(k + 1));
      Append(out, rotation.User(k), cur, next);
      cur = next;
      ++k;
    }
  }
  return out;
}

std::vector<Entry> FinalSchedule(const Schedule& schedule, const tz::Zone& zone,
                                 const std::vector<Override>& overrides, std::int64_t since_s,
                                 std::int64_t until_s) {
  std::vector<Entry> out;
  if (since_s >= until_s) return out;
  // Sources in precedence order, each a sorted list of disjoint entries: overrides (the latest
  // first, one source each since they may overlap), then layers from the bottom up.
  std::vector<std::vector<Entry>> sources;
  sources.reserve(overrides.size() + schedule.layers.size());
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
    const std::int64_t a = std::max(since_s, it->start_s);
    const std::int64_t b = std::min(until_s, it->end_s);
    if (a < b && !it->user.empty()) sources.push_back({Entry{it->user, a, b}});
  }
  for (std::size_t i = schedule.layers.size(); i-- > 0;) {
    auto entries = RenderLayer(schedule, zone, i, since_s, until_s);
    if (!entries.empty()) sources.push_back(std::move(entries));
  }
  std::vector<std::int64_t> bounds;
  for (const auto& s : sources) {
    for (const Entry& e : s) {
      bounds.push_back(e.start_s);
      bounds.push_back(e.end_s);
    }
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  // Between two consecutive bounds no entry starts or ends, so one winner holds throughout.
  std::vector<std::size_t> cursor(sources.size(), 0);
  for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
    const std::int64_t p = bounds[i];
    for (std::size_t s = 0; s < sources.size(); ++s) {
      const auto& entries = sources[s];
      std::size_t& c = cursor[s];
      while (c < entries.size() && entries[c].end_s <= p) ++c;
      if (c < entries.size() && entries[c].start_s <= p) {
        Append(out, entries[c].user, p, bounds[i + 1]);
        break;
      }
    }
  }
  return out;
}

std::optional<std::string> OnCallAt(const Schedule& schedule, const tz::Zone& zone,
                                    const std::vector<Override>& overrides, std::int64_t t_s) {
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
    if (it->start_s <= t_s && t_s < it->end_s && !it->user.empty()) return it->user;
  }
  for (auto it = schedule.layers.rbegin(); it != schedule.layers.rend(); ++it) {
    if (!Covers(*it, zone, t_s)) continue;
    const Rotation rotation(*it, zone);
    return rotation.User(rotation.TurnAt(t_s));
  }
  return std::nullopt;
}

std::optional<std::int64_t> NextChange(const Schedule& schedule, const tz::Zone& zone,
                                       const std::vector<Override>& overrides, std::int64_t t_s,
                                       std::int64_t horizon_s) {
  const std::int64_t until = t_s + horizon_s + 1;
  const auto entries = FinalSchedule(schedule, zone, overrides, t_s, until);
  if (entries.empty()) return std::nullopt;
  // Merged entries: each boundary is a change of user or a gap's edge.
  if (entries.front().start_s > t_s) return entries.front().start_s;
  if (entries.front().end_s < until) return entries.front().end_s;
  return std::nullopt;
}

}  // namespace opsorch::paging
