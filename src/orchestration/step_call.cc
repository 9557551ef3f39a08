#include "orchestration/step_call.h"

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/schema/observability.h>
#include <opsorch/workflow/metric_output.h>

namespace opsorch::orchestration {
namespace {

constexpr std::size_t kMaxInputBytes = 16 * 1024;

std::optional<double> Number(const JsonValue& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return std::nullopt;
}

// Reads an optional number field; a present non-number is an error.
std::optional<double> OptNumber(const FieldReader& r, std::string_view key) {
  const JsonValue* v = r.obj.if_contains(key);
  if (v == nullptr) return std::nullopt;
  auto n = Number(*v);
  if (!n || !std::isfinite(*n)) r.Error(key, "must be a number");
  return n;
}

const JsonValue* At(const JsonValue& body, std::string_view path) {
  const JsonValue* at = &body;
  while (!path.empty()) {
    const auto dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (at->is_object()) {
      at = at->get_object().if_contains(part);
    } else if (at->is_array()) {
      std::size_t i = 0;
      auto r = std::from_chars(part.data(), part.data() + part.size(), i);
      if (r.ec != std::errc() || r.ptr != part.data() + part.size() ||
          i >= at->get_array().size()) {
        return nullptr;
      }
      at = &at->get_array()[i];
    } else {
      return nullptr;
    }
    if (at == nullptr) return nullptr;
  }
  return at;
}

std::string Show(const JsonValue& v) {
  std::string out;
  AppendJsonValue(out, v);
  return std::string(Utf8Prefix(out, 200));
}

}  // namespace

std::string FormatNumber(double v) {
  std::string out;
  AppendJsonDouble(out, v);
  return out;
}

Result<StepCall> DecodeStepCall(const runbook::Step& step, const std::string& path) {
  Status status;
  const FieldReader r{step.with, path, &status};
  StepCall c;
  const auto workflow_step = [&](bool required) {
    c.deployment = r.Str("deployment", required);
    c.step = r.Str("step", required);
    if (!c.deployment.empty() && c.step.empty()) r.Error("step", "is required with deployment");
    if (const JsonValue* in = step.with.if_contains("input")) {
      if (!in->is_object()) {
        r.Error("input", "must be an object");
      } else if (boost::json::serialize(*in).size() > kMaxInputBytes) {
        r.Error("input", "must be at most 16 KiB");
      } else {
        c.input = in->get_object();
      }
    }
  };
  switch (step.type) {
    case runbook::StepType::kManual:
      r.OnlyKnown({"instructions"});
      c.instructions = r.Str("instructions");
      if (c.instructions.size() > kMaxStepText)
        r.Error("instructions", "must be at most 4096 bytes");
      break;
    case runbook::StepType::kInvoke:
      r.OnlyKnown({"deployment", "step", "input"});
      workflow_step(true);
      break;
    case runbook::StepType::kRecord:
      r.OnlyKnown({"text"});
      c.text = r.Str("text", true);
      if (c.text.size() > kMaxStepText) r.Error("text", "must be at most 4096 bytes");
      break;
    case runbook::StepType::kObserve:
    case runbook::StepType::kVerify: {
      r.OnlyKnown({"deployment", "step", "input", "expect", "metric"});
      const JsonValue* metric = step.with.if_contains("metric");
      if (metric != nullptr) {
        if (step.with.contains("deployment") || step.with.contains("step")) {
          r.Error("metric", "checks a metric or calls a workflow step, not both");
          break;
        }
        if (!metric->is_object()) {
          r.Error("metric", "must be an object");
          break;
        }
        const FieldReader m{metric->get_object(), path + ".metric", &status};
        m.OnlyKnown({"key", "dimensions", "above", "below", "maxAge"});
        c.metric = m.Str("key", true);
        if (const JsonValue* dims = metric->get_object().if_contains("dimensions")) {
          if (!dims->is_object() || dims->get_object().size() > 32) {
            m.Error("dimensions", "must be an object of at most 32 strings");
          } else {
            for (const auto& kv : dims->get_object()) {
              if (!kv.value().is_string()) {
                m.Error("dimensions." + std::string(kv.key()), "must be a string");
                break;
              }
              c.dimensions[std::string(kv.key())] = std::string(kv.value().get_string());
            }
          }
        }
        c.above = OptNumber(m, "above");
        c.below = OptNumber(m, "below");
        c.max_age = m.Duration("maxAge", c.max_age);
        if (status && (c.max_age < std::chrono::seconds(1) || c.max_age > std::chrono::hours(24))) {
          m.Error("maxAge", "must be from 1s to 24h");
        }
        if (status && step.type == runbook::StepType::kVerify && !c.above && !c.below) {
          m.Error("below", "a verify step needs a condition: above or below");
        }
        break;
      }
      workflow_step(true);
      if (const JsonValue* ex = step.with.if_contains("expect")) {
        if (!ex->is_object()) {
          r.Error("expect", "must be an object");
          break;
        }
        const FieldReader e{ex->get_object(), path + ".expect", &status};
        e.OnlyKnown({"path", "equals", "above", "below", "exists"});
        Expectation x;
        x.path = e.Str("path", true);
        if (x.path.size() > 256) e.Error("path", "must be at most 256 bytes");
        if (const JsonValue* eq = ex->get_object().if_contains("equals")) x.equals = *eq;
        x.above = OptNumber(e, "above");
        x.below = OptNumber(e, "below");
        if (const JsonValue* exists = ex->get_object().if_contains("exists")) {
          if (!exists->is_bool()) {
            e.Error("exists", "must be true or false");
          } else {
            x.exists = exists->get_bool();
          }
        }
        if (status && !x.equals && !x.above && !x.below && !x.exists) {
          e.Error("path", "needs a condition: equals, above, below or exists");
        }
        c.expect = std::move(x);
      }
      break;
    }
  }
  if (!status) return Fail(std::move(status.error()));
  return c;
}

std::string Expect(const Expectation& e, const JsonValue& body) {
  const JsonValue* v = At(body, e.path);
  if (e.exists) {
    if (*e.exists && v == nullptr) return e.path + " is missing";
    if (!*e.exists && v != nullptr) return e.path + " is present";
  }
  if (!e.equals && !e.above && !e.below) return {};
  if (v == nullptr) return e.path + " is missing";
  if (e.equals && *v != *e.equals) {
    return e.path + " is " + Show(*v) + ", not " + Show(*e.equals);
  }
  if (e.above || e.below) {
    auto n = Number(*v);
    if (!n) return e.path + " is " + Show(*v) + ", not a number";
    if (e.above && !(*n > *e.above)) {
      return e.path + " is " + FormatNumber(*n) + ", not above " + FormatNumber(*e.above);
    }
    if (e.below && !(*n < *e.below)) {
      return e.path + " is " + FormatNumber(*n) + ", not below " + FormatNumber(*e.below);
    }
  }
  return {};
}

std::optional<Sample> LatestValue(const workflow::MetricStore& store, const std::string& key,
                                  const workflow::Dimensions& dims) {
  schema::MetricQuery q;
  schema::MetricExpression ex;
  ex.metric_name = key;
  for (const auto& [k, v] : dims) ex.filters.push_back({k, "=", v});
  q.expression = std::move(ex);
  auto series = store.Query(q);
  if (!series) return std::nullopt;
  std::optional<Sample> best;
  for (const auto& s : *series) {
    if (!s.points) continue;
    for (const auto& p : *s.points) {
      const std::int64_t at = p.timestamp.UnixNanos();
      if (!best || at >= best->at_ns) best = Sample{p.value, at};
    }
  }
  return best;
}

}  // namespace opsorch::orchestration
