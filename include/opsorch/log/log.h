// The logging facade. Text format keeps the reference's Go `log` shape
// ("2026/01/07 10:00:00 message key=value"), JSON format writes one object per line. spdlog
// does the I/O and is included only in src/log/log.cc. Never pass secret values here.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace opsorch::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

struct Field {
  std::string_view key;
  std::string_view value;
};

struct Options {
  Format format = Format::kText;
  Level level = Level::kInfo;
  // Synchronous by default: one write(2) per line costs ~1 µs, while handing each audit line to
  // a logger thread woke that thread per request and added ~10 µs to p50 at one connection
  // (measured with wrk, docs/BENCHMARKS.md). A line is also on its way before the response is.
  bool async = false;
};

// Safe to call more than once (tests); the last call wins.
void Init(const Options& options);
// Routes every line to `sink` instead of stderr (tests capture logs with it); null restores.
void SetSinkForTest(std::function<void(std::string_view)> sink);
// Blocks until queued lines are written.
void Flush();

void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, m, f);
}
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, m, f);
}
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) {
  Write(Level::kError, m, f);
}

// `audit_log {json}` in text format (contract §11); in JSON format the audit object is nested.
void Audit(std::string_view audit_json);

}  // namespace opsorch::log
