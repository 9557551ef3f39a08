// Log and metric value types (contract §7).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/schema/scope.h>

namespace opsorch::schema {

struct LogFilter {
  std::string field;
  std::string op;  // "operator" on the wire: =, ==, !=, contains, regex
  std::string value;
};

struct LogExpression {
  std::string search;                    // ?
  std::vector<LogFilter> filters;        // ?
  std::vector<std::string> severity_in;  // severityIn?
  bool Empty() const { return search.empty() && filters.empty() && severity_in.empty(); }
};

struct LogQuery {
  std::optional<LogExpression> expression;  // expression? (pointer in the reference)
  Time start;
  Time end;
  QueryScope scope;
  std::int64_t limit = 0;  // ?
  JsonObject metadata;     // ?
};

struct LogEntry {
  Time timestamp;
  std::string message;
  std::string severity;  // ?
  std::string service;   // ?
  StringMap labels;      // ?
  JsonObject fields;     // ?
  JsonObject metadata;   // ?
};

struct LogEntries {
  NullableList<LogEntry> entries;  // null if nil
  std::string url;                 // ?
};

struct MetricFilter {
  std::string label;
  std::string op;  // "operator": =, !=, =~, !~
  std::string value;
};

struct MetricExpression {
  std::string metric_name;            // metricName
  std::string aggregation;            // ? avg|sum|max|min|count
  std::vector<MetricFilter> filters;  // ?
  std::vector<std::string> group_by;  // groupBy?
};

struct MetricQuery {
  std::optional<MetricExpression> expression;  // expression?
  Time start;
  Time end;
  std::int64_t step = 0;  // seconds, always emitted
  QueryScope scope;
  JsonObject metadata;  // ?
};

struct MetricDescriptor {
  std::string name;
  std::string type;  // counter|gauge|histogram
  std::string description;
  NullableList<std::string> labels;  // null if nil
  std::string unit;                  // ?
  std::string url;                   // ?
  JsonObject metadata;               // ?
};

struct MetricPoint {
  Time timestamp;
  double value = 0;
};

struct MetricSeries {
  std::string name;
  std::string service;               // ?
  JsonObject labels;                 // ? (obj)
  NullableList<MetricPoint> points;  // null if nil
  std::string url;                   // ?
  JsonObject metadata;               // ?
};

struct MetricDescriptors {  // response of /metrics/describe: {"metrics": [...]}
  NullableList<MetricDescriptor> metrics;
};

}  // namespace opsorch::schema
