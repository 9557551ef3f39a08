#include <atomic>
#include <ctime>
#include <memory>
#include <mutex>

#include <spdlog/async.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>

namespace opsorch::log {
namespace {

class CallbackSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CallbackSink(std::function<void(std::string_view)> f) : f_(std::move(f)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    f_(std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  std::function<void(std::string_view)> f_;
};

struct State {
  std::mutex mu;
  std::shared_ptr<spdlog::logger> logger;
  Options options;
};

State& GetState() {
  static State s;
  return s;
}

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_json{false};

std::shared_ptr<spdlog::logger> MakeLogger(const Options& o,
                                           std::function<void(std::string_view)> sink_fn) {
  spdlog::sink_ptr sink;
  if (sink_fn) {
    sink = std::make_shared<CallbackSink>(std::move(sink_fn));
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  std::shared_ptr<spdlog::logger> logger;
  if (o.async) {
    static std::once_flag once;
    std::call_once(once, [] { spdlog::init_thread_pool(8192, 1); });
    logger = std::make_shared<spdlog::async_logger>("opsorch", sink, spdlog::thread_pool(),
                                                    spdlog::async_overflow_policy::block);
  } else {
    logger = std::make_shared<spdlog::logger>("opsorch", sink);
  }
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::err);
  return logger;
}

std::shared_ptr<spdlog::logger> Logger() {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  if (!s.logger) s.logger = MakeLogger(s.options, nullptr);
  return s.logger;
}

// "2026/01/07 10:00:00 " in local time, as Go's log package. Every audited request writes a
// line, so the text is rendered once per second per thread (localtime_r takes a global lock).
void AppendGoPrefix(std::string& out) {
  thread_local std::time_t cached_second = -1;
  thread_local char buf[32];
  thread_local std::size_t len = 0;
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    localtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "%Y/%m/%d %H:%M:%S ", &tm);
    cached_second = now;
  }
  out.append(buf, len);
}

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// Text lines carry values from requests (paths, ids, error texts): control characters are
// escaped so that nobody can end a line or forge one, and a field value with a space, '=' or
// '"' is quoted so that it cannot pose as further fields.
void AppendEscaped(std::string& out, std::string_view text, bool field_value) {
  const auto special = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  bool quote = false;
  if (field_value) {
    quote = text.empty();
    for (const unsigned char c : text) {
      if (special(c) || c == ' ' || c == '=' || c == '"' || c == '\\') {
        quote = true;
        break;
      }
    }
  }
  if (quote) out.push_back('"');
  for (const unsigned char c : text) {
    if (quote && (c == '"' || c == '\\')) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (special(c)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (quote) out.push_back('"');
}

void Emit(Level level, const std::string& line) {
  auto logger = Logger();
  logger->log(level == Level::kError ? spdlog::level::err : spdlog::level::info, line);
}

}  // namespace

void Init(const Options& options) {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  if (s.logger) s.logger->flush();
  s.options = options;
  s.logger = MakeLogger(options, nullptr);
  g_level = static_cast<int>(options.level);
  g_json = options.format == Format::kJson;
}

void SetSinkForTest(std::function<void(std::string_view)> sink) {
  State& s = GetState();
  std::lock_guard lock(s.mu);
  if (s.logger) s.logger->flush();
  Options o = s.options;
  o.async = false;  // tests read lines right after the call that wrote them
  s.logger = MakeLogger(o, std::move(sink));
}

void Flush() { Logger()->flush(); }

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line;
  line.reserve(96 + message.size());
  if (g_json.load(std::memory_order_relaxed)) {
    line.append("{\"time\":\"");
    AppendRfc3339Nano(line, Time::Now());
    line.append("\",\"level\":\"").append(LevelName(level)).append("\",\"msg\":");
    AppendJsonString(line, message);
    for (const auto& f : fields) {
      line.push_back(',');
      AppendJsonString(line, f.key);
      line.push_back(':');
      AppendJsonString(line, f.value);
    }
    line.push_back('}');
  } else {
    AppendGoPrefix(line);
    AppendEscaped(line, message, false);
    for (const auto& f : fields) {
      line.push_back(' ');
      AppendEscaped(line, f.key, false);
      line.push_back('=');
      AppendEscaped(line, f.value, true);
    }
  }
  Emit(level, line);
}

void Audit(std::string_view audit_json) {
  std::string line;
  line.reserve(64 + audit_json.size());
  if (g_json.load(std::memory_order_relaxed)) {
    line.append("{\"time\":\"");
    AppendRfc3339Nano(line, Time::Now());
    line.append("\",\"level\":\"info\",\"msg\":\"audit_log\",\"audit\":");
    line.append(audit_json);
    line.push_back('}');
  } else {
    AppendGoPrefix(line);
    line.append("audit_log ").append(audit_json);
  }
  Emit(Level::kInfo, line);
}

}  // namespace opsorch::log
