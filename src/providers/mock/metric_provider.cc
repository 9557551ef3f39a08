#include "providers/mock/metric_provider.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <regex>

#include <opsorch/common/strings.h>
#include <opsorch/demo/demo_world.h>

namespace opsorch::providers::mock {
namespace {

struct MetricDef {
  std::string name;
  std::string type;  // counter | gauge | histogram
  std::string unit;
  std::string description;
  std::vector<std::string> services;  // empty = every service
  double base = 0;                    // typical value for an average service
  double daily_amplitude = 0;         // relative swing of the daily curve
  double noise = 0;                   // relative noise
  double degraded_factor = 1;         // multiplier while the service has an unresolved incident
  double min = 0;
  double max = -1;  // < 0: unbounded
};

// The catalog is the demo world's `metrics`. Counters are reported as per-second rates (what a
// graph of rate(x[1m]) shows); histograms as their p95 in the stated unit.
const std::vector<MetricDef>& Catalog() {
  static const std::vector<MetricDef> defs = [] {
    std::vector<MetricDef> out;
    ForEachDataRow(demo::World(), "metrics", [&](const JsonObject& row) {
      MetricDef d;
      d.name = DataString(row, "name");
      d.type = DataString(row, "type");
      d.unit = DataString(row, "unit");
      d.description = DataString(row, "description");
      d.services = DataStrings(row, "services");
      d.base = DataNumber(row, "base");
      d.daily_amplitude = DataNumber(row, "dailyAmplitude");
      d.noise = DataNumber(row, "noise");
      d.degraded_factor = DataNumber(row, "degradedFactor", 1);
      d.min = DataNumber(row, "min", 0);
      d.max = DataNumber(row, "max", -1);
      out.push_back(std::move(d));
    });
    return out;
  }();
  return defs;
}

const MetricDef* FindMetric(std::string_view name) {
  for (const auto& d : Catalog()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

bool Carries(const MetricDef& def, const std::string& service) {
  return def.services.empty() ||
         std::find(def.services.begin(), def.services.end(), service) != def.services.end();
}

StringMap SeriesLabels(const ServiceSeed& sv) {
  return {{"service", sv.service.id},
          {"team", sv.team},
          {"environment", sv.environment},
          {"region", sv.region}};
}

constexpr double kTwoPi = 2 * std::numbers::pi;

// The value of `def` for `sv` at `t`. `actual` adds noise and the incident anomaly; without it
// this is the baseline a graph would draw as "expected".
double Value(const MetricDef& def, const ServiceSeed& sv, Time t, std::uint64_t seed, bool actual) {
  const std::uint64_t key = Hash64(sv.service.id, Hash64(def.name, seed));
  const double scale = 0.6 + 0.8 * static_cast<double>(key % 1000) / 1000.0;
  const double phase = static_cast<double>((key >> 10) % 1000) / 1000.0 * kTwoPi;
  const double secs = static_cast<double>(t.UnixNanos()) / 1e9;
  double v = def.base * scale *
             (1 + def.daily_amplitude * std::sin(kTwoPi * secs / 86400.0 + phase) +
              0.05 * std::sin(kTwoPi * secs / 1200.0 + 2 * phase));
  if (actual) {
    if (!sv.degraded_since.IsZero() && t >= sv.degraded_since && def.degraded_factor != 1) {
      // Ramp in over five minutes so the graph shows an onset rather than a step.
      const double since = static_cast<double>(t.UnixNanos() - sv.degraded_since.UnixNanos());
      const double ramp = std::min(1.0, since / static_cast<double>(5 * kNanosPerMinute));
      v *= 1 + (def.degraded_factor - 1) * ramp;
    }
    Rng rng(Mix64(key ^ static_cast<std::uint64_t>(t.UnixNanos())));
    v += (rng.Uniform() * 2 - 1) * def.noise * v;
  }
  v = std::max(v, def.min);
  if (def.max >= 0) v = std::min(v, def.max);
  return v;
}

enum class LabelOp { kEquals, kNotEquals, kRegex, kNotRegex };

struct CompiledFilter {
  std::string label;
  LabelOp op;
  std::string value;
  std::regex regex;
};

Result<std::vector<CompiledFilter>> CompileFilters(const std::vector<s::MetricFilter>& filters) {
  std::vector<CompiledFilter> out;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    const auto& f = filters[i];
    const std::string name = "filter " + std::to_string(i) + " (" + f.label + ")";
    if (TrimSpace(f.label).empty()) {
      return Fail(BadRequest("filter " + std::to_string(i) + ": label is required"));
    }
    CompiledFilter c{std::string(TrimSpace(f.label)), LabelOp::kEquals, f.value, {}};
    const std::string_view op = TrimSpace(f.op);
    if (op == "=" || op == "==") {
      c.op = LabelOp::kEquals;
    } else if (op == "!=") {
      c.op = LabelOp::kNotEquals;
    } else if (op == "=~" || op == "!~") {
      c.op = op == "=~" ? LabelOp::kRegex : LabelOp::kNotRegex;
      if (f.value.size() > MockMetricProvider::kMaxRegexLength) {
        return Fail(BadRequest(name + ": regex longer than " +
                               std::to_string(MockMetricProvider::kMaxRegexLength) +
                               " characters"));
      }
      // std::regex reports bad patterns by throwing; keep that from escaping the request path.
      try {
        c.regex = std::regex(f.value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Fail(BadRequest(name + ": invalid regex \"" + f.value + "\": " + e.what()));
      }
    } else {
      return Fail(
          BadRequest(name + ": unsupported operator \"" + f.op + "\" (want =, !=, =~ or !~)"));
    }
    out.push_back(std::move(c));
  }
  return out;
}

// Prometheus semantics: regexes are anchored (full match); a missing label is "".
Result<bool> LabelsMatch(const StringMap& labels, const std::vector<CompiledFilter>& filters) {
  for (const auto& f : filters) {
    auto it = labels.find(f.label);
    const std::string v = it == labels.end() ? std::string() : it->second;
    bool ok = false;
    switch (f.op) {
      case LabelOp::kEquals:
        ok = v == f.value;
        break;
      case LabelOp::kNotEquals:
        ok = v != f.value;
        break;
      case LabelOp::kRegex:
      case LabelOp::kNotRegex:
        try {
          ok = std::regex_match(v, f.regex) == (f.op == LabelOp::kRegex);
        } catch (const std::regex_error& err) {
          return Fail(BadRequest("filter on label " + f.label + ": regex failed: " + err.what()));
        }
        break;
    }
    if (!ok) return false;
  }
  return true;
}

double Aggregate(std::string_view aggregation, const std::vector<double>& values) {
  if (aggregation == "count") return static_cast<double>(values.size());
  if (aggregation == "max") return *std::max_element(values.begin(), values.end());
  if (aggregation == "min") return *std::min_element(values.begin(), values.end());
  double sum = 0;
  for (double v : values) sum += v;
  return aggregation == "sum" ? sum : sum / static_cast<double>(values.size());
}

// A PromQL rendering of the query for the deep link.
std::string Expression(const MetricDef& def, const s::MetricExpression& expr,
                       const s::QueryScope& scope, std::string_view aggregation) {
  std::vector<std::string> matchers;
  if (!scope.service.empty()) matchers.push_back("service=\"" + scope.service + "\"");
  if (!scope.team.empty()) matchers.push_back("team=\"" + scope.team + "\"");
  if (!scope.environment.empty()) matchers.push_back("environment=\"" + scope.environment + "\"");
  for (const auto& f : expr.filters) matchers.push_back(f.label + f.op + "\"" + f.value + "\"");
  std::string selector = def.name;
  if (!matchers.empty()) {
    selector += "{";
    for (std::size_t i = 0; i < matchers.size(); ++i) {
      selector += (i ? "," : "") + matchers[i];
    }
    selector += "}";
  }
  std::string out(aggregation);
  if (!expr.group_by.empty()) {
    out += " by (";
    for (std::size_t i = 0; i < expr.group_by.size(); ++i) {
      out += (i ? "," : "") + expr.group_by[i];
    }
    out += ")";
  }
  return out + " (" + selector + ")";
}

}  // namespace

Result<std::shared_ptr<MockMetricProvider>> MockMetricProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, "mock metric provider");
  auto now = ReadCommonConfig(reader, {kNowKey, kSeedKey});
  if (!now) return Fail(std::move(now.error()));
  auto seed = reader.Int(kSeedKey);
  if (!seed) return Fail(std::move(seed.error()));
  Options options;
  options.now = *now;
  options.seed = static_cast<std::uint64_t>(seed->value_or(0));
  return std::make_shared<MockMetricProvider>(options);
}

Result<NullableList<s::MetricDescriptor>> MockMetricProvider::Describe(const s::QueryScope& scope) {
  std::vector<s::MetricDescriptor> out;
  for (const auto& def : Catalog()) {
    JsonArray services;
    for (const auto& sv : directory_.services()) {
      if (Carries(def, sv.service.id) && directory_.ScopeMatches(scope, sv.service.id)) {
        services.emplace_back(sv.service.id);
      }
    }
    if (services.empty()) continue;
    s::MetricDescriptor d;
    d.name = def.name;
    d.type = def.type;
    d.description = def.description;
    d.labels = std::vector<std::string>{"service", "team", "environment", "region"};
    d.unit = def.unit;
    d.url = "https://metrics." + std::string(kDemoDomain) + "/graph?g0.expr=" + def.name;
    d.metadata["services"] = std::move(services);
    out.push_back(std::move(d));
  }
  return out;
}

Result<NullableList<s::MetricSeries>> MockMetricProvider::Query(const s::MetricQuery& q) {
  if (!q.expression || TrimSpace(q.expression->metric_name).empty()) {
    return Fail(BadRequest("expression.metricName is required"));
  }
  const s::MetricExpression& expr = *q.expression;
  if ((!q.start.IsZero() && !q.start.UnixNanosChecked()) ||
      (!q.end.IsZero() && !q.end.UnixNanosChecked())) {
    return Fail(BadRequest("start and end " + std::string(Time::kNanosRange)));
  }
  const std::int64_t step = q.step > 0 ? q.step : kDefaultStepSeconds;
  Time end = q.end;
  if (end.IsZero()) {
    // A defaulted end is aligned down to the step, so that repeated live queries within one
    // step return identical points on round timestamps.
    const Time now = clock_.Now();
    end = Time::FromUnixSeconds(now.seconds - ((now.seconds % step) + step) % step);
  }
  const Time start = q.start.IsZero() ? end.Add(-kDefaultWindow) : q.start;
  if (end < start) return Fail(BadRequest("end must not be before start"));
  // In seconds: a difference of two far-apart UnixNanos values could overflow.
  const std::int64_t window_seconds =
      end.seconds - start.seconds - (end.nanos < start.nanos ? 1 : 0);
  const std::int64_t points = window_seconds / step + 1;
  if (points > kMaxPoints) {
    return Fail(BadRequest("query would return " + std::to_string(points) +
                           " points per series; the limit is " + std::to_string(kMaxPoints) +
                           " (increase step or shorten the window)"));
  }
  auto filters = CompileFilters(expr.filters);
  if (!filters) return Fail(std::move(filters.error()));

  const MetricDef* def = FindMetric(TrimSpace(expr.metric_name));
  std::string aggregation = ToLower(TrimSpace(expr.aggregation));
  if (aggregation.empty())
    aggregation = def != nullptr && def->type == std::string_view("counter") ? "sum" : "avg";
  if (aggregation != "avg" && aggregation != "sum" && aggregation != "max" &&
      aggregation != "min" && aggregation != "count") {
    return Fail(BadRequest("unsupported aggregation \"" + expr.aggregation +
                           "\" (want avg, sum, max, min or count)"));
  }
  // An unknown metric is not an error: Prometheus answers an empty result too.
  if (def == nullptr) return std::vector<s::MetricSeries>{};

  // Select the per-service series, then group them by the groupBy label values.
  std::map<std::vector<std::string>, std::vector<const ServiceSeed*>> groups;
  for (const auto& sv : directory_.services()) {
    if (!Carries(*def, sv.service.id) || !directory_.ScopeMatches(q.scope, sv.service.id)) {
      continue;
    }
    const StringMap labels = SeriesLabels(sv);
    auto ok = LabelsMatch(labels, *filters);
    if (!ok) return Fail(std::move(ok.error()));
    if (!*ok) continue;
    std::vector<std::string> key;
    for (const auto& g : expr.group_by) {
      auto it = labels.find(g);
      key.push_back(it == labels.end() ? std::string() : it->second);
    }
    groups[key].push_back(&sv);
  }

  const std::string url = "https://metrics." + std::string(kDemoDomain) + "/graph?g0.expr=" +
                          PercentEncode(Expression(*def, expr, q.scope, aggregation));
  std::vector<s::MetricSeries> out;
  std::vector<double> actual, baseline;
  for (const auto& [key, members] : groups) {
    // Labels shared by every member series describe the aggregate.
    StringMap common = SeriesLabels(*members.front());
    for (const ServiceSeed* m : members) {
      const StringMap l = SeriesLabels(*m);
      std::erase_if(common, [&](const auto& kv) {
        auto it = l.find(kv.first);
        return it == l.end() || it->second != kv.second;
      });
    }
    s::MetricSeries series;
    series.name = def->name;
    if (auto it = common.find("service"); it != common.end()) series.service = it->second;
    for (const auto& [k, v] : common) series.labels[k] = v;
    series.url = url;
    series.metadata = JsonObject{{"aggregation", aggregation},
                                 {"step", step},
                                 {"type", def->type},
                                 {"unit", def->unit},
                                 {"series", static_cast<std::int64_t>(members.size())}};
    s::MetricSeries base = series;
    base.name = std::string(def->name) + ".baseline";
    base.metadata["baseline"] = true;
    series.points.emplace();
    base.points.emplace();
    series.points->reserve(static_cast<std::size_t>(points));
    base.points->reserve(static_cast<std::size_t>(points));
    for (std::int64_t i = 0; i < points; ++i) {
      // Whole seconds are added to the seconds field: i * step * 1e9 could overflow.
      Time t = start;
      t.seconds += i * step;
      actual.clear();
      baseline.clear();
      for (const ServiceSeed* m : members) {
        actual.push_back(Value(*def, *m, t, seed_, true));
        baseline.push_back(Value(*def, *m, t, seed_, false));
      }
      series.points->push_back({t, Aggregate(aggregation, actual)});
      base.points->push_back({t, Aggregate(aggregation, baseline)});
    }
    out.push_back(std::move(series));
    out.push_back(std::move(base));
  }
  return out;
}

}  // namespace opsorch::providers::mock
