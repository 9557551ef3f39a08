#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <system_error>
#include <thread>

#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/sla.h>

namespace opsorch::engine {
namespace {

constexpr std::array<std::string_view, 4> kUrgencies = {"high", "medium", "low", "other"};
constexpr double kNsPerSecond = 1e9;
// Rows changed this close to the watermark are fetched again: nodes' clocks differ a little,
// and a row committed late with an earlier updated_at must not be missed.
constexpr std::int64_t kOverlapNs = 10LL * 1'000'000'000;

std::uint8_t UrgencyIndex(std::string_view u) {
  for (std::uint8_t i = 0; i < 3; ++i) {
    if (kUrgencies[i] == u) return i;
  }
  return 3;
}

// PERCENTILE_CONT (linear interpolation between closest ranks) of p50, p90 and p95 in one
// pass: each nth_element works only on the part above the previous percentile, so the three
// cost about 1.5 partitions of `v` instead of three sorts. Reorders `v`.
void Percentiles(std::vector<float>& v, Distribution& d) {
  auto begin = v.begin();
  const double n = static_cast<double>(v.size() - 1);
  std::optional<double>* outs[] = {&d.p50, &d.p90, &d.p95};
  const double ps[] = {0.50, 0.90, 0.95};
  for (int i = 0; i < 3; ++i) {
    const double rank = ps[i] * n;
    const auto lo = static_cast<std::ptrdiff_t>(std::floor(rank));
    std::nth_element(begin, v.begin() + lo, v.end());
    const double a = v[static_cast<std::size_t>(lo)];
    double value = a;
    if (static_cast<double>(lo) < rank) {
      const double b = *std::min_element(v.begin() + lo + 1, v.end());
      value = a + (b - a) * (rank - static_cast<double>(lo));
    }
    *outs[i] = value;
    begin = v.begin() + lo;  // everything above is ≥ v[lo]: the next percentile is in there
  }
}

Distribution Summarise(std::vector<float>& v) {
  Distribution d;
  if (v.empty()) return d;
  double sum = 0;
  for (float x : v) sum += x;
  d.mean = sum / static_cast<double>(v.size());
  Percentiles(v, d);
  return d;
}

// Samples of one group while scanning; summarised at the end.
struct Accumulator {
  SlaStats stats;
  std::vector<float> mtta, mttr;  // seconds; float halves the memory a scan touches

  void Add(std::int64_t created, std::int64_t acked, std::int64_t resolved, std::int64_t ack_target,
           std::int64_t resolve_target, std::int64_t now) {
    ++stats.incidents;
    if (acked > 0) {
      ++stats.acknowledged;
      mtta.push_back(static_cast<float>(
          static_cast<double>(std::max<std::int64_t>(0, acked - created)) / kNsPerSecond));
    }
    if (resolved > 0) {
      ++stats.resolved;
      mttr.push_back(static_cast<float>(
          static_cast<double>(std::max<std::int64_t>(0, resolved - created)) / kNsPerSecond));
    }
    // Acknowledge target: met if acknowledged in time; a resolve without an ack counts as the
    // response; still open past the target is a breach, before it not yet decided.
    const std::int64_t responded = acked > 0 ? acked : resolved;
    if (responded > 0) {
      (responded - created <= ack_target ? stats.ack_met : stats.ack_breached) += 1;
    } else if (now - created > ack_target) {
      ++stats.ack_breached;
    }
    if (resolved > 0) {
      (resolved - created <= resolve_target ? stats.resolve_met : stats.resolve_breached) += 1;
    } else if (now - created > resolve_target) {
      ++stats.resolve_breached;
    }
  }

  // Adds another group's samples (before either is finished: Finish reorders them).
  void Merge(const Accumulator& o) {
    stats.incidents += o.stats.incidents;
    stats.acknowledged += o.stats.acknowledged;
    stats.resolved += o.stats.resolved;
    stats.ack_met += o.stats.ack_met;
    stats.ack_breached += o.stats.ack_breached;
    stats.resolve_met += o.stats.resolve_met;
    stats.resolve_breached += o.stats.resolve_breached;
    mtta.insert(mtta.end(), o.mtta.begin(), o.mtta.end());
    mttr.insert(mttr.end(), o.mttr.begin(), o.mttr.end());
  }

  SlaStats Finish() {
    stats.mtta = Summarise(mtta);
    stats.mttr = Summarise(mttr);
    return stats;
  }
};

void AppendNumber(std::string& out, std::optional<double> v) {
  if (!v) {
    out.append("null");
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", *v);
  out.append(buf);
}

void AppendDistribution(std::string& out, const Distribution& d) {
  out.append("{\"mean\":");
  AppendNumber(out, d.mean);
  out.append(",\"p50\":");
  AppendNumber(out, d.p50);
  out.append(",\"p90\":");
  AppendNumber(out, d.p90);
  out.append(",\"p95\":");
  AppendNumber(out, d.p95);
  out.push_back('}');
}

std::optional<double> Compliance(std::int64_t met, std::int64_t breached) {
  if (met + breached == 0) return std::nullopt;
  return 100.0 * static_cast<double>(met) / static_cast<double>(met + breached);
}

void AppendStats(std::string& out, const SlaStats& s) {
  out.append("{\"incidents\":" + std::to_string(s.incidents));
  out.append(",\"acknowledged\":" + std::to_string(s.acknowledged));
  out.append(",\"resolved\":" + std::to_string(s.resolved));
  out.append(",\"mttaSeconds\":");
  AppendDistribution(out, s.mtta);
  out.append(",\"mttrSeconds\":");
  AppendDistribution(out, s.mttr);
  out.append(",\"ackBreaches\":" + std::to_string(s.ack_breached));
  out.append(",\"resolveBreaches\":" + std::to_string(s.resolve_breached));
  out.append(",\"ackCompliancePercent\":");
  AppendNumber(out, Compliance(s.ack_met, s.ack_breached));
  out.append(",\"resolveCompliancePercent\":");
  AppendNumber(out, Compliance(s.resolve_met, s.resolve_breached));
  out.push_back('}');
}

}  // namespace

void SlaCache::Reset() {
  std::lock_guard lock(mu_);
  loaded_ = false;
  watermark_ = 0;
  rows_.clear();
}

Status SlaCache::RefreshLocked() {
  const std::int64_t since = loaded_ ? std::max<std::int64_t>(1, watermark_ - kOverlapNs) : 0;
  auto changed = store_.SlaRowsUpdatedSince(since);
  if (!changed) return Fail(std::move(changed.error()));
  for (const SlaRow& r : *changed) {
    if (r.seq <= 0) continue;
    auto [it, inserted] =
        service_index_.try_emplace(r.service_id, static_cast<std::uint32_t>(service_names_.size()));
    if (inserted) service_names_.push_back(r.service_id);
    const auto index = static_cast<std::size_t>(r.seq - 1);
    if (index >= rows_.size()) rows_.resize(index + 1, Row{0, 3, 0, 0, 0});
    rows_[index] =
        Row{it->second, UrgencyIndex(r.urgency), r.created_at, r.acknowledged_at, r.resolved_at};
    watermark_ = std::max(watermark_, r.updated_at);
  }
  loaded_ = true;
  return Ok();
}

Result<std::vector<SlaCache::Span>> SlaCache::Spans(const std::vector<std::string>& services,
                                                    std::int64_t from) {
  std::lock_guard lock(mu_);
  if (auto st = RefreshLocked(); !st) return Fail(std::move(st.error()));
  std::vector<std::int32_t> slot(service_names_.size(), -1);
  for (std::size_t i = 0; i < services.size(); ++i) {
    auto it = service_index_.find(services[i]);
    if (it != service_index_.end()) slot[it->second] = static_cast<std::int32_t>(i);
  }
  static constexpr const char* kUrgency[] = {"high", "medium", "low", ""};
  std::vector<Span> out;
  for (const Row& r : rows_) {
    if (r.created == 0 || r.service >= slot.size() || slot[r.service] < 0) continue;
    if (r.resolved != 0 && r.resolved < from) continue;
    out.push_back(Span{services[static_cast<std::size_t>(slot[r.service])], r.created, r.resolved,
                       kUrgency[std::min<int>(r.urgency, 3)]});
  }
  return out;
}

Result<IncidentStateCounts> SlaCache::StateCounts(const SlaQuery& q) {
  std::vector<std::string> wanted;
  if (!q.team.empty()) {
    auto services = store_.Services();
    if (!services) return Fail(std::move(services.error()));
    for (const ServiceRow& sv : *services) {
      if (sv.team_id == q.team && (q.service.empty() || sv.id == q.service))
        wanted.push_back(sv.id);
    }
  } else if (!q.service.empty()) {
    wanted.push_back(q.service);
  }
  std::lock_guard lock(mu_);
  if (auto st = RefreshLocked(); !st) return Fail(std::move(st.error()));
  const bool all = q.service.empty() && q.team.empty();
  std::vector<char> slot(service_names_.size(), all ? 1 : 0);
  for (const std::string& id : wanted) {
    if (auto it = service_index_.find(id); it != service_index_.end()) slot[it->second] = 1;
  }
  IncidentStateCounts c;
  for (const Row& r : rows_) {
    if (r.created == 0 || r.service >= slot.size() || slot[r.service] == 0) continue;
    if (r.resolved > 0) {
      ++c.resolved;
      continue;
    }
    ++(r.acked > 0 ? c.acknowledged : c.triggered);
    ++c.open_by_urgency[r.urgency < 4 ? r.urgency : 3];
  }
  return c;
}

Result<SlaReport> SlaCache::Report(const SlaQuery& q, std::int64_t now) {
  auto services = store_.Services();
  if (!services) return Fail(std::move(services.error()));
  std::lock_guard lock(mu_);
  if (auto st = RefreshLocked(); !st) return Fail(std::move(st.error()));

  // The services of the report, by their cache index.
  struct Selected {
    const ServiceRow* row;
    Accumulator all;
    std::array<Accumulator, 4> by_urgency;
    std::vector<std::pair<std::int64_t, std::int64_t>> outages;
  };
  std::vector<Selected> selected;
  std::vector<std::int32_t> slot(service_names_.size(), -1);
  for (const ServiceRow& sv : *services) {
    if (!q.service.empty() && sv.id != q.service) continue;
    if (!q.team.empty() && sv.team_id != q.team) continue;
    auto it = service_index_.find(sv.id);
    if (it != service_index_.end()) slot[it->second] = static_cast<std::int32_t>(selected.size());
    selected.push_back(Selected{&sv, {}, {}, {}});
  }

  const std::int64_t eval = std::min(now, q.end);
  for (const Row& r : rows_) {
    if (r.created == 0 || r.service >= slot.size() || slot[r.service] < 0) continue;
    Selected& s = selected[static_cast<std::size_t>(slot[r.service])];
    // Outage interval: any incident open during the window, wherever it was created.
    const std::int64_t down_from = std::max(r.created, q.start);
    const std::int64_t down_to = std::min(r.resolved > 0 ? r.resolved : eval, eval);
    if (down_from < down_to) s.outages.emplace_back(down_from, down_to);
    if (r.created < q.start || r.created >= q.end) continue;
    // Times after the evaluation instant have not happened yet as far as this report goes.
    const std::int64_t acked = r.acked > 0 && r.acked <= eval ? r.acked : 0;
    const std::int64_t resolved = r.resolved > 0 && r.resolved <= eval ? r.resolved : 0;
    const std::int64_t ack_target = s.row->ack_target_s * 1'000'000'000;
    const std::int64_t resolve_target = s.row->resolve_target_s * 1'000'000'000;
    // Only the urgency group during the scan; the service's and the overall figures are merged
    // from these afterwards (one push per sample instead of three).
    s.by_urgency[r.urgency].Add(r.created, acked, resolved, ack_target, resolve_target, eval);
  }

  SlaReport report;
  report.start = q.start;
  report.end = q.end;
  report.evaluated_at = eval;
  Accumulator overall;
  const std::int64_t window = std::max<std::int64_t>(1, eval - q.start);
  for (Selected& s : selected) {
    ServiceSla out;
    out.id = s.row->id;
    out.name = s.row->name;
    out.team = s.row->team_id;
    out.ack_target_s = s.row->ack_target_s;
    out.resolve_target_s = s.row->resolve_target_s;
    for (const Accumulator& u : s.by_urgency) s.all.Merge(u);
    overall.Merge(s.all);  // the percentiles come after this loop (Finish reorders samples)
    // Merge the outage intervals; their union is the downtime.
    // Rows come in seq order, which is creation order up to concurrent writers: usually sorted
    // already, so check before paying for a sort.
    // The merge needs the intervals ordered by start only (ties in any order).
    const auto by_start = [](const auto& a, const auto& b) { return a.first < b.first; };
    if (!std::is_sorted(s.outages.begin(), s.outages.end(), by_start)) {
      std::sort(s.outages.begin(), s.outages.end(), by_start);
    }
    std::int64_t down = 0, cur_from = 0, cur_to = -1;
    for (const auto& [from, to] : s.outages) {
      if (from > cur_to) {
        if (cur_to > cur_from) down += cur_to - cur_from;
        cur_from = from;
        cur_to = to;
      } else {
        cur_to = std::max(cur_to, to);
      }
    }
    if (cur_to > cur_from) down += cur_to - cur_from;
    out.downtime_ns = down;
    out.uptime_pct =
        eval <= q.start
            ? 100.0
            : std::clamp(100.0 * static_cast<double>(window - down) / static_cast<double>(window),
                         0.0, 100.0);
    report.services.push_back(std::move(out));
  }
  // The percentiles (selections over every group's samples) are most of a report's time: two
  // threads share them when there are many, each on its own groups and vectors.
  const auto finish = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      report.services[i].all = selected[i].all.Finish();
      for (std::size_t u = 0; u < 4; ++u) {
        if (selected[i].by_urgency[u].stats.incidents > 0) {
          report.services[i].by_urgency[std::string(kUrgencies[u])] =
              selected[i].by_urgency[u].Finish();
        }
      }
    }
  };
  SlaStats overall_stats = overall.stats;
  const std::size_t half = selected.size() / 2;
  bool parallel = overall.stats.incidents > 100'000;
  if (parallel) {
    try {
      std::thread other([&] {
        finish(0, half);
        overall_stats.mtta = Summarise(overall.mtta);
      });
      finish(half, selected.size());
      overall_stats.mttr = Summarise(overall.mttr);
      other.join();
    } catch (const std::system_error&) {  // no thread to be had: do it here
      parallel = false;
    }
  }
  if (!parallel) {
    finish(0, selected.size());
    overall_stats.mtta = Summarise(overall.mtta);
    overall_stats.mttr = Summarise(overall.mttr);
  }
  report.overall = std::move(overall_stats);
  return report;
}

std::string SlaJson(const SlaReport& r) {
  std::string out;
  out.reserve(512 + r.services.size() * 1024);
  out.append("{\"start\":\"");
  AppendRfc3339Nano(out, Time::FromUnixNanos(r.start));
  out.append("\",\"end\":\"");
  AppendRfc3339Nano(out, Time::FromUnixNanos(r.end));
  out.append("\",\"evaluatedAt\":\"");
  AppendRfc3339Nano(out, Time::FromUnixNanos(r.evaluated_at));
  out.append("\",\"overall\":");
  AppendStats(out, r.overall);
  out.append(",\"services\":[");
  for (std::size_t i = 0; i < r.services.size(); ++i) {
    const ServiceSla& s = r.services[i];
    if (i > 0) out.push_back(',');
    out.append("{\"service\":");
    AppendJsonString(out, s.id);
    out.append(",\"name\":");
    AppendJsonString(out, s.name);
    out.append(",\"team\":");
    AppendJsonString(out, s.team);
    out.append(",\"targets\":{\"ackMinutes\":" + std::to_string(s.ack_target_s / 60) +
               ",\"resolveMinutes\":" + std::to_string(s.resolve_target_s / 60) + "}");
    out.append(",\"uptimePercent\":");
    AppendNumber(out, s.uptime_pct);
    out.append(",\"downtimeSeconds\":");
    AppendNumber(out, static_cast<double>(s.downtime_ns) / kNsPerSecond);
    out.append(",\"overall\":");
    AppendStats(out, s.all);
    out.append(",\"byUrgency\":{");
    bool first = true;
    for (const auto& [u, st] : s.by_urgency) {
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(out, u);
      out.push_back(':');
      AppendStats(out, st);
    }
    out.append("}}");
  }
  out.append("]}");
  return out;
}

std::string SlaCsv(const SlaReport& r) {
  std::string out =
      "service,urgency,incidents,acknowledged,resolved,mtta_mean_s,mtta_p50_s,mtta_p90_s,"
      "mtta_p95_s,mttr_mean_s,mttr_p50_s,mttr_p90_s,mttr_p95_s,ack_breaches,resolve_breaches,"
      "uptime_percent\n";
  const auto num = [](std::optional<double> v) {
    if (!v) return std::string();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *v);
    return std::string(buf);
  };
  // Service ids come from the admin; quote every one so commas or quotes cannot break a row.
  const auto quoted = [](std::string_view s) {
    std::string q = "\"";
    for (char c : s) {
      if (c == '"') q.push_back('"');
      q.push_back(c);
    }
    return q + "\"";
  };
  const auto row = [&](const std::string& service, std::string_view urgency, const SlaStats& s,
                       const std::string& uptime) {
    out += quoted(service) + "," + std::string(urgency) + "," + std::to_string(s.incidents) + "," +
           std::to_string(s.acknowledged) + "," + std::to_string(s.resolved) + "," +
           num(s.mtta.mean) + "," + num(s.mtta.p50) + "," + num(s.mtta.p90) + "," +
           num(s.mtta.p95) + "," + num(s.mttr.mean) + "," + num(s.mttr.p50) + "," +
           num(s.mttr.p90) + "," + num(s.mttr.p95) + "," + std::to_string(s.ack_breached) + "," +
           std::to_string(s.resolve_breached) + "," + uptime + "\n";
  };
  for (const ServiceSla& s : r.services) {
    row(s.id, "all", s.all, num(s.uptime_pct));
    for (const auto& [u, st] : s.by_urgency) row(s.id, u, st, "");
  }
  return out;
}

}  // namespace opsorch::engine
