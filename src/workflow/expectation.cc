#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/workflow/config.h>
#include <opsorch/workflow/expectation.h>

namespace opsorch::workflow {
namespace {

constexpr std::size_t kMaxSummary = 1024;
constexpr std::size_t kMaxDedupKey = 255;

std::optional<double> Number(const FieldReader& r, std::string_view key) {
  const JsonValue* v = r.obj.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_number()) {
    r.Error(key, "must be a number");
    return std::nullopt;
  }
  const double d = v->to_number<double>();
  if (!std::isfinite(d)) {
    r.Error(key, "must be a finite number");
    return std::nullopt;
  }
  return d;
}

std::string FormatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

// The UTF-8 prefix of at most `max` bytes.
std::string Cut(std::string s, std::size_t max) {
  s.resize(Utf8Prefix(s, max).size());
  return s;
}

bool Breaches(const Expectation& e, const std::optional<double>& last, double value) {
  if (e.above && value > *e.above) return true;
  if (e.below && value < *e.below) return true;
  if (last && e.direction == Expectation::Direction::kUp && value - *last >= e.change) return true;
  if (last && e.direction == Expectation::Direction::kDown && *last - value >= e.change) {
    return true;
  }
  return false;
}

}  // namespace

Result<std::vector<Expectation>> DecodeExpectations(const JsonArray& list,
                                                    const std::string& path) {
  if (list.size() > kMaxExpectations) {
    return Fail(errc::kBadRequest,
                path + ": at most " + std::to_string(kMaxExpectations) + " expectations");
  }
  std::vector<Expectation> out;
  Status status;
  for (std::size_t i = 0; i < list.size() && status; ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return Fail(errc::kBadRequest, at + ": must be an object");
    const FieldReader r{list[i].get_object(), at, &status};
    r.OnlyKnown({"metric", "dimensions", "above", "below", "direction", "change", "for",
                 "clear_for", "severity", "summary", "comment"});
    Expectation e;
    e.metric = r.Str("metric", true);
    if (status && e.metric.size() > 256) r.Error("metric", "must be at most 256 bytes");
    for (const auto& kv : r.StringMap("dimensions")) {
      e.dimensions.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
    }
    e.above = Number(r, "above");
    e.below = Number(r, "below");
    const std::string direction = r.Str("direction");
    if (direction == "up") {
      e.direction = Expectation::Direction::kUp;
    } else if (direction == "down") {
      e.direction = Expectation::Direction::kDown;
    } else if (!direction.empty()) {
      r.Error("direction", "must be up or down");
    }
    const std::optional<double> change = Number(r, "change");
    if (status && e.direction != Expectation::Direction::kNone) {
      if (!change || *change <= 0) {
        r.Error("change", "must be a positive number with a direction (how far is a breach)");
      } else {
        e.change = *change;
      }
    } else if (status && change) {
      r.Error("change", "needs a direction (up or down)");
    }
    if (status && e.above && e.below && *e.below > *e.above) {
      // below 10 and above 5 would breach for every value: say so rather than page for ever.
      r.Error("below", "is above `above`: every value would be a breach");
    }
    if (status && !e.above && !e.below && e.direction == Expectation::Direction::kNone) {
      r.Error("metric", "say what a breach is: above, below, or a direction with a change");
    }
    e.hold = r.Duration("for", e.hold);
    e.clear = r.Duration("clear_for", e.clear);
    if (status && (e.hold > std::chrono::hours(24 * 7) || e.clear > std::chrono::hours(24 * 7))) {
      r.Error(e.hold > std::chrono::hours(24 * 7) ? "for" : "clear_for", "must be at most 168h");
    }
    const std::string severity = r.Str("severity");
    if (!severity.empty()) {
      if (severity != "critical" && severity != "error" && severity != "warning" &&
          severity != "info") {
        r.Error("severity", "must be critical, error, warning or info");
      }
      e.severity = severity;
    }
    e.summary = r.Str("summary");
    if (status && e.summary.size() > kMaxSummary) r.Error("summary", "must be at most 1024 bytes");
    out.push_back(std::move(e));
  }
  if (!status) return Fail(std::move(status.error()));
  return out;
}

bool Watches(const Expectation& e, const Metric& m) {
  if (m.key != e.metric) return false;
  for (const auto& [k, v] : e.dimensions) {
    auto it = m.dimensions.find(k);
    if (it == m.dimensions.end() || it->second != v) return false;
  }
  return true;
}

Evaluation Evaluate(const Expectation& e, const SeriesState& state, double value,
                    std::int64_t at_ms) {
  Evaluation ev;
  ev.next = state;
  const bool breach = Breaches(e, state.last, value);
  ev.next.last = value;
  if (breach) {
    ev.next.clear_since.reset();
    if (!ev.next.breach_since) ev.next.breach_since = at_ms;
    const std::int64_t held = std::max<std::int64_t>(0, at_ms - *ev.next.breach_since);
    if (!ev.next.firing && held >= e.hold.count()) {
      ev.next.firing = true;
      ev.transition = Transition::kTrigger;
    }
    return ev;
  }
  ev.next.breach_since.reset();
  if (!ev.next.firing) return ev;
  if (!ev.next.clear_since) ev.next.clear_since = at_ms;
  const std::int64_t cleared = std::max<std::int64_t>(0, at_ms - *ev.next.clear_since);
  if (cleared >= e.clear.count()) {
    ev.next.firing = false;
    ev.next.clear_since.reset();
    ev.transition = Transition::kResolve;
  }
  return ev;
}

std::string DedupKey(std::string_view deployment, const Metric& m) {
  // Length-prefixed parts (so no value can imitate a separator), dimensions in their sorted
  // order: the same series gives the same text wherever and whenever it is computed.
  std::string identity;
  const auto part = [&](std::string_view p) {
    identity += std::to_string(p.size());
    identity += ':';
    identity += p;
  };
  part(deployment);
  part(m.key);
  for (const auto& [k, v] : m.dimensions) {
    part(k);
    part(v);
  }
  const std::string digest = ConfigDigest(identity).substr(0, 32);
  std::string prefix = "wf-" + std::string(deployment) + "-" + m.key;
  prefix = Cut(std::move(prefix), kMaxDedupKey - digest.size() - 1);
  return prefix + "-" + digest;
}

std::string Summary(const Expectation& e, const Metric& m) {
  if (e.summary.empty()) {
    std::string out = m.key + " is " + FormatValue(m.value);
    if (!m.dimensions.empty()) {
      std::string dims;
      for (const auto& [k, v] : m.dimensions) dims += (dims.empty() ? "" : ", ") + k + "=" + v;
      out += " (" + dims + ")";
    }
    return Cut(std::move(out), kMaxSummary);
  }
  return FillPlaceholders(
      e.summary,
      [&](std::string_view name) -> std::optional<std::string> {
        if (name == "key") return m.key;
        if (name == "value") return FormatValue(m.value);
        if (auto it = m.dimensions.find(std::string(name)); it != m.dimensions.end()) {
          return it->second;
        }
        return std::nullopt;
      },
      kMaxSummary);
}

}  // namespace opsorch::workflow
