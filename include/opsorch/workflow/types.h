// Value types shared by the workflow runtime's parts: the message a step carries, the metrics
// and log lines processors emit.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opsorch::workflow {

// Header names are kept as given; lookups are case-insensitive (HeaderValues in script.h).
using Headers = std::vector<std::pair<std::string, std::string>>;
using Dimensions = std::map<std::string, std::string>;

// What flows through one step: from the trigger or caller, through the processors, to the HTTP
// call and back, and to the caller of send_to_step.
struct Message {
  std::string body;
  std::map<std::string, std::string> properties;  // travel into called steps and back
  Headers headers;  // request headers set by processors; after the call, the response's
  friend bool operator==(const Message&, const Message&) = default;
};

struct Metric {
  std::int64_t timestamp_ms = 0;  // epoch milliseconds
  std::string key;
  double value = 0;
  Dimensions dimensions;
  friend bool operator==(const Metric&, const Metric&) = default;
};

// Levels: "debug", "info", "warn", "error".
struct LogLine {
  std::int64_t timestamp_ms = 0;
  std::string level;
  std::string message;
  Dimensions context;  // deployment, workflow, step
  friend bool operator==(const LogLine&, const LogLine&) = default;
};

}  // namespace opsorch::workflow
