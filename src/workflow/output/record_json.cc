// MetricLine / LogLineJson: the NDJSON records an output sends.
#include <charconv>
#include <cmath>

#include <opsorch/common/json_writer.h>
#include <opsorch/workflow/metric_output.h>

namespace opsorch::workflow {
namespace {

// Shortest text that reads back as the same double; JSON has no NaN/Infinity, so those become
// null rather than an invalid line that would poison a whole batch at the collector.
void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (v == 0) v = 0;  // -0 → 0: some collectors parse "-0" as an integer and choke
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendTail(std::string& out, std::string_view deployment, std::string_view token) {
  out += ",\"deployment\":";
  AppendJsonString(out, deployment);
  out += ",\"token\":";
  AppendJsonString(out, token);
  out.push_back('}');
}

}  // namespace

void AppendDimensionsJson(std::string& out, const Dimensions& m) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : m) {  // std::map: keys already sorted
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, k);
    out.push_back(':');
    AppendJsonString(out, v);
  }
  out.push_back('}');
}

std::string MetricLine(const Metric& m, std::string_view deployment, std::string_view token) {
  std::string out;
  out.reserve(96 + m.key.size() + deployment.size() + token.size() + 32 * m.dimensions.size());
  out += "{\"type\":\"metric\",\"timestamp\":";
  out += std::to_string(m.timestamp_ms);
  out += ",\"key\":";
  AppendJsonString(out, m.key);
  out += ",\"value\":";
  AppendNumber(out, m.value);
  out += ",\"dimensions\":";
  AppendDimensionsJson(out, m.dimensions);
  AppendTail(out, deployment, token);
  return out;
}

std::string LogLineJson(const LogLine& l, std::string_view deployment, std::string_view token) {
  std::string out;
  out.reserve(96 + l.message.size() + deployment.size() + token.size() + 32 * l.context.size());
  out += "{\"type\":\"log\",\"timestamp\":";
  out += std::to_string(l.timestamp_ms);
  out += ",\"level\":";
  AppendJsonString(out, l.level);
  out += ",\"message\":";
  AppendJsonString(out, l.message);
  out += ",\"context\":";
  AppendDimensionsJson(out, l.context);
  AppendTail(out, deployment, token);
  return out;
}

std::string AuditLine(std::int64_t timestamp_ms, std::string_view kind, std::string_view message,
                      const Dimensions& detail, std::string_view deployment,
                      std::string_view token) {
  std::string out;
  out.reserve(112 + kind.size() + message.size() + deployment.size() + token.size() +
              32 * detail.size());
  out += "{\"type\":\"audit\",\"timestamp\":";
  out += std::to_string(timestamp_ms);
  out += ",\"kind\":";
  AppendJsonString(out, kind);
  out += ",\"message\":";
  AppendJsonString(out, message);
  out += ",\"detail\":";
  AppendDimensionsJson(out, detail);
  AppendTail(out, deployment, token);
  return out;
}

}  // namespace opsorch::workflow
