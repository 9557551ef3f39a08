#include "providers/mock/log_provider.h"

#include <algorithm>
#include <map>
#include <regex>
#include <string_view>

#include <opsorch/common/strings.h>
#include <opsorch/demo/demo_world.h>

namespace opsorch::providers::mock {
namespace {

struct LogTemplate {
  std::string severity;
  // Placeholders: {ms} latency, {n} small count, {id} short hex id, {user}, {order}, {status}.
  std::string text;
};

std::vector<LogTemplate> Templates(const JsonObject& parent, std::string_view key) {
  std::vector<LogTemplate> out;
  ForEachDataRow(parent, key, [&](const JsonObject& row) {
    out.push_back({DataString(row, "severity"), DataString(row, "text")});
  });
  return out;
}

const JsonObject& LogData() {
  static const JsonObject kNone;
  const JsonValue* v = demo::World().if_contains("logTemplates");
  return v != nullptr && v->is_object() ? v->get_object() : kNone;
}

// The demo world's `logTemplates`: lines any service writes, and each service's own.
const std::vector<LogTemplate>& GenericTemplates() {
  static const std::vector<LogTemplate> t = Templates(LogData(), "generic");
  return t;
}

const std::map<std::string, std::vector<LogTemplate>, std::less<>>& ServiceTemplates() {
  static const auto t = [] {
    std::map<std::string, std::vector<LogTemplate>, std::less<>> out;
    const JsonValue* services = LogData().if_contains("services");
    if (services == nullptr || !services->is_object()) return out;
    for (const auto& kv : services->get_object()) {
      out[std::string(kv.key())] = Templates(services->get_object(), kv.key());
    }
    return out;
  }();
  return t;
}

std::string Fill(std::string_view text, Rng& rng, std::int64_t latency_ms) {
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') {
      out.push_back(text[i]);
      continue;
    }
    const std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) {  // a lone '{' is text (the data is editable JSON)
      out.append(text.substr(i));
      break;
    }
    const std::string_view key = text.substr(i + 1, close - i - 1);
    if (key == "ms") {
      out += std::to_string(latency_ms);
    } else if (key == "n") {
      out += std::to_string(rng.Range(1, 9));
    } else if (key == "id") {
      out += Hex(rng.Next(), 8);
    } else if (key == "user") {
      out += "u-" + std::to_string(rng.Range(10000, 99999));
    } else if (key == "order") {
      out += "ord-" + std::to_string(rng.Range(100000, 999999));
    } else if (key == "status") {
      static constexpr int kStatuses[] = {200, 200, 200, 200, 201, 204, 304, 404};
      out += std::to_string(kStatuses[rng.Below(std::size(kStatuses))]);
    }
    i = close;
  }
  return out;
}

// The lines `service` logged during the minute starting at `minute` (Unix minutes).
void GenerateMinute(const ServiceSeed& sv, std::int64_t minute, std::uint64_t seed,
                    std::vector<s::LogEntry>& out) {
  Rng rng(Mix64(seed ^ Hash64(sv.service.id) ^ Mix64(static_cast<std::uint64_t>(minute))));
  const auto& all = ServiceTemplates();
  auto it = all.find(sv.service.id);
  const std::vector<LogTemplate>& templates = it != all.end() ? it->second : GenericTemplates();
  const std::uint64_t count = rng.Below(3);  // 0–2 lines, one a minute on average
  for (std::uint64_t k = 0; k < count; ++k) {
    const Time ts = Time::FromUnixNanos(
        minute * kNanosPerMinute + static_cast<std::int64_t>(rng.Below(60'000)) * kNanosPerMilli);
    const bool degraded = !sv.degraded_since.IsZero() && ts >= sv.degraded_since;
    const double roll = rng.Uniform();
    const char* severity = "info";
    if (roll < (degraded ? 0.25 : 0.03)) {
      severity = "error";
    } else if (roll < (degraded ? 0.45 : 0.11)) {
      severity = "warn";
    } else if (roll < (degraded ? 0.55 : 0.26)) {
      severity = "debug";
    }
    std::vector<const LogTemplate*> candidates;
    for (const auto& t : templates) {
      if (t.severity == severity) candidates.push_back(&t);
    }
    if (candidates.empty()) {
      for (const auto& t : GenericTemplates()) {
        if (t.severity == severity) candidates.push_back(&t);
      }
    }
    if (candidates.empty()) continue;  // the data has no line of this severity
    const LogTemplate& tmpl = *candidates[rng.Below(candidates.size())];
    const std::int64_t latency =
        severity == std::string_view("info") || severity == std::string_view("debug")
            ? rng.Range(3, degraded ? 900 : 250)
            : rng.Range(400, degraded ? 4800 : 1500);

    s::LogEntry e;
    e.timestamp = ts;
    e.message = Fill(tmpl.text, rng, latency);
    e.severity = severity;
    e.service = sv.service.id;
    const std::string host = sv.service.name + "-" + std::to_string(rng.Range(1, 4));
    e.labels = {{"host", host + ".prod.internal"},
                {"pod", host + "-" + Hex(Hash64(host), 5)},
                {"region", sv.region},
                {"environment", sv.environment}};
    e.fields["traceId"] = Hex(rng.Next(), 16) + Hex(rng.Next(), 16);
    e.fields["latencyMs"] = latency;
    out.push_back(std::move(e));
  }
}

enum class FilterOp { kEquals, kNotEquals, kContains, kRegex, kNotRegex };

struct CompiledFilter {
  std::size_t index;
  std::string field;
  FilterOp op;
  std::string value;
  std::regex regex;
};

Result<std::vector<CompiledFilter>> CompileFilters(const std::vector<s::LogFilter>& filters) {
  std::vector<CompiledFilter> out;
  for (std::size_t i = 0; i < filters.size(); ++i) {
    const auto& f = filters[i];
    const std::string name = "filter " + std::to_string(i) + " (" + f.field + ")";
    if (TrimSpace(f.field).empty()) {
      return Fail(BadRequest("filter " + std::to_string(i) + ": field is required"));
    }
    CompiledFilter c{i, std::string(TrimSpace(f.field)), FilterOp::kEquals, f.value, {}};
    const std::string op = ToLower(TrimSpace(f.op));
    if (op == "=" || op == "==") {
      c.op = FilterOp::kEquals;
    } else if (op == "!=") {
      c.op = FilterOp::kNotEquals;
    } else if (op == "contains") {
      c.op = FilterOp::kContains;
    } else if (op == "regex" || op == "=~" || op == "!~") {
      c.op = op == "!~" ? FilterOp::kNotRegex : FilterOp::kRegex;
      if (f.value.size() > MockLogProvider::kMaxRegexLength) {
        return Fail(BadRequest(name + ": regex longer than " +
                               std::to_string(MockLogProvider::kMaxRegexLength) + " characters"));
      }
      // std::regex reports bad patterns by throwing; keep that from escaping the request path.
      try {
        c.regex = std::regex(f.value, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Fail(BadRequest(name + ": invalid regex \"" + f.value + "\": " + e.what()));
      }
    } else {
      return Fail(BadRequest(name + ": unsupported operator \"" + f.op +
                             "\" (want =, ==, !=, contains or regex)"));
    }
    out.push_back(std::move(c));
  }
  return out;
}

// The value a filter looks at: message, severity, service, a label or a field; "" if absent.
std::string FieldValue(const s::LogEntry& e, const std::string& field) {
  if (EqualsIgnoreCase(field, "message")) return e.message;
  if (EqualsIgnoreCase(field, "severity") || EqualsIgnoreCase(field, "level")) return e.severity;
  if (EqualsIgnoreCase(field, "service")) return e.service;
  if (auto it = e.labels.find(field); it != e.labels.end()) return it->second;
  if (const JsonValue* v = e.fields.if_contains(field)) {
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
  }
  return {};
}

// Equality is case-insensitive ("ERROR" finds error lines); regexes are taken literally.
Result<bool> Matches(const s::LogEntry& e, const std::vector<CompiledFilter>& filters) {
  for (const auto& f : filters) {
    const std::string v = FieldValue(e, f.field);
    bool ok = false;
    switch (f.op) {
      case FilterOp::kEquals:
        ok = EqualsIgnoreCase(v, f.value);
        break;
      case FilterOp::kNotEquals:
        ok = !EqualsIgnoreCase(v, f.value);
        break;
      case FilterOp::kContains:
        ok = ContainsIgnoreCase(v, f.value);
        break;
      case FilterOp::kRegex:
      case FilterOp::kNotRegex:
        try {
          ok = std::regex_search(v, f.regex) == (f.op == FilterOp::kRegex);
        } catch (const std::regex_error& err) {
          return Fail(BadRequest("filter " + std::to_string(f.index) + " (" + f.field +
                                 "): regex failed: " + err.what()));
        }
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Result<std::shared_ptr<MockLogProvider>> MockLogProvider::FromConfig(const JsonObject& config) {
  const ConfigReader reader(config, "mock log provider");
  auto now = ReadCommonConfig(reader, {kNowKey, kSeedKey});
  if (!now) return Fail(std::move(now.error()));
  auto seed = reader.Int(kSeedKey);
  if (!seed) return Fail(std::move(seed.error()));
  Options options;
  options.now = *now;
  options.seed = static_cast<std::uint64_t>(seed->value_or(0));
  return std::make_shared<MockLogProvider>(options);
}

Result<s::LogEntries> MockLogProvider::Query(const s::LogQuery& q) {
  if ((!q.start.IsZero() && !q.start.UnixNanosChecked()) ||
      (!q.end.IsZero() && !q.end.UnixNanosChecked())) {
    return Fail(BadRequest("start and end " + std::string(Time::kNanosRange)));
  }
  const Time end = q.end.IsZero() ? clock_.Now() : q.end;
  const Time start = q.start.IsZero() ? end.Add(-kDefaultWindow) : q.start;
  if (end < start) return Fail(BadRequest("end must not be before start"));
  const std::int64_t limit =
      q.limit <= 0 ? kDefaultLimit : std::min<std::int64_t>(q.limit, kMaxLimit);

  const s::LogExpression expr = q.expression.value_or(s::LogExpression{});
  auto filters = CompileFilters(expr.filters);
  if (!filters) return Fail(std::move(filters.error()));

  std::vector<const ServiceSeed*> services;
  for (const auto& sv : directory_.services()) {
    if (directory_.ScopeMatches(q.scope, sv.service.id)) services.push_back(&sv);
  }

  s::LogEntries result;
  result.entries.emplace();
  auto& out = *result.entries;
  const std::int64_t last = FloorDiv(end.UnixNanos(), kNanosPerMinute);
  const std::int64_t first =
      std::max(FloorDiv(start.UnixNanos(), kNanosPerMinute), last - kMaxScan / kNanosPerMinute + 1);
  std::vector<s::LogEntry> minute_entries;
  for (std::int64_t minute = last; minute >= first && std::ssize(out) < limit; --minute) {
    minute_entries.clear();
    for (const ServiceSeed* sv : services) GenerateMinute(*sv, minute, seed_, minute_entries);
    std::sort(minute_entries.begin(), minute_entries.end(),
              [](const s::LogEntry& a, const s::LogEntry& b) {
                if (a.timestamp != b.timestamp) return a.timestamp > b.timestamp;
                if (a.service != b.service) return a.service < b.service;
                return a.message < b.message;
              });
    for (auto& e : minute_entries) {
      if (e.timestamp < start || e.timestamp > end) continue;
      if (!ContainsIgnoreCase(e.message, expr.search) &&
          !ContainsIgnoreCase(e.service, expr.search)) {
        continue;
      }
      if (!EmptyOrContainsIgnoreCase(expr.severity_in, e.severity)) continue;
      auto ok = Matches(e, *filters);
      if (!ok) return Fail(std::move(ok.error()));
      if (!*ok) continue;
      out.push_back(std::move(e));
      if (std::ssize(out) >= limit) break;
    }
  }

  result.url = "https://logs." + std::string(kDemoDomain) +
               "/search?start=" + PercentEncode(FormatRfc3339Nano(start)) +
               "&end=" + PercentEncode(FormatRfc3339Nano(end));
  if (!q.scope.service.empty()) result.url += "&service=" + PercentEncode(q.scope.service);
  if (!expr.search.empty()) result.url += "&q=" + PercentEncode(expr.search);
  return result;
}

}  // namespace opsorch::providers::mock
