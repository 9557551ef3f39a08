// opsorch-script-worker: runs workflow processors (Lua chunks) for ScriptRunner. The protocol is
// described in protocol.h. One run at a time; state between runs is not visible to scripts.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include <boost/json/serialize.hpp>
#include <unistd.h>

#include <opsorch/common/json_parse.h>

#include "workflow/sandbox/lua_sandbox.h"
#include "workflow/sandbox/protocol.h"
#include "workflow/sandbox/worker_limits.h"

#if defined(__SANITIZE_ADDRESS__)
// LeakSanitizer stops the world with clone + ptrace at exit, which the filter forbids.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif

namespace opsorch::workflow::sandbox {
namespace {

constexpr std::size_t kMaxLine = std::size_t{1} << 30;

[[noreturn]] void Die(int code, std::string_view why) {
  const std::string line = "opsorch-script-worker: " + std::string(why) + "\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
  ::_exit(code);
}

void OutOfMemory() {
  static const char kMsg[] = "opsorch-script-worker: out of memory\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
  ::_exit(kExitOutOfMemory);
}

class LineReader {
 public:
  // nullopt on EOF.
  bool Next(std::string_view* line) {
    buf_.erase(0, consumed_);
    consumed_ = 0;
    std::size_t scan = 0;
    while (true) {
      const std::size_t nl = buf_.find('\n', scan);
      if (nl != std::string::npos) {
        *line = std::string_view(buf_).substr(0, nl);
        consumed_ = nl + 1;
        return true;
      }
      scan = buf_.size();
      if (buf_.size() > kMaxLine) Die(kExitProtocol, "request line too long");
      char chunk[64 * 1024];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  std::string buf_;
  std::size_t consumed_ = 0;
};

void WriteLine(std::string line) {
  line.push_back('\n');
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(0);  // the parent is gone
    off += static_cast<std::size_t>(n);
  }
}

JsonObject ReadMessage(LineReader& in) {
  std::string_view line;
  if (!in.Next(&line)) ::_exit(0);
  JsonParseOptions options;
  options.max_depth = kProtocolMaxDepth;
  auto v = ParseJson(line, options);
  if (!v || !v->is_object()) Die(kExitProtocol, "malformed message from the parent");
  return std::move(v->get_object());
}

class StdioChannel : public HostChannel {
 public:
  explicit StdioChannel(LineReader& in) : in_(in) {}
  Result<JsonObject> Call(JsonObject request) override {
    WriteLine(boost::json::serialize(request));
    JsonObject reply = ReadMessage(in_);
    if (StringField(reply, "op") != "reply") Die(kExitProtocol, "expected a reply");
    return reply;
  }

 private:
  LineReader& in_;
};

int Main() {
  std::set_new_handler(OutOfMemory);
  LineReader in;
  JsonObject init = ReadMessage(in);
  if (StringField(init, "op") != "init") Die(kExitProtocol, "first message must be init");
  std::size_t as_bytes = 0;
  if (const JsonValue* v = Field(init, "worker_memory_bytes"); v != nullptr && v->is_number()) {
    as_bytes = v->to_number<std::size_t>();
  }
  bool seccomp = true;
  if (const JsonValue* v = Field(init, "seccomp"); v != nullptr && v->is_bool()) {
    seccomp = v->get_bool();
  }
  if (auto s = ApplyWorkerLimits(as_bytes, seccomp); !s) Die(1, s.error().message);

  JsonObject ready;
  ready["op"] = "ready";
  ready["version"] = kProtocolVersion;
  ready["pid"] = static_cast<std::int64_t>(::getpid());
  WriteLine(boost::json::serialize(ready));

  LuaSandbox sandbox;
  StdioChannel channel(in);
  while (true) {
    JsonObject msg = ReadMessage(in);
    const std::string_view op = StringField(msg, "op");
    if (op == "probe") {
      int err = 0;
      const long r = ProbeSyscall(StringField(msg, "syscall"), &err);
      JsonObject answer;
      answer["op"] = "probe";
      answer["result"] = static_cast<std::int64_t>(r);
      answer["errno"] = err;
      WriteLine(boost::json::serialize(answer));
      continue;
    }
    if (op != "run") Die(kExitProtocol, "unknown op");
    ScriptInput input;
    ScriptLimits limits;
    if (auto s = RunRequestFromJson(msg, &input, &limits); !s)
      Die(kExitProtocol, s.error().message);
    msg = JsonObject();  // the request's copy of the body is no longer needed
    auto out = sandbox.Run(input, limits, channel);
    JsonObject answer;
    if (out) {
      answer = OutputToJson(*out);
      answer["op"] = "result";
    } else {
      answer["op"] = "error";
      answer["code"] = BytesToJson(WireCode(out.error()));
      answer["message"] = BytesToJson(out.error().message);
    }
    WriteLine(boost::json::serialize(answer));
  }
}

}  // namespace
}  // namespace opsorch::workflow::sandbox

int main() {
  try {
    return opsorch::workflow::sandbox::Main();
  } catch (const std::bad_alloc&) {
    opsorch::workflow::sandbox::OutOfMemory();
  } catch (const std::exception& e) {
    opsorch::workflow::sandbox::Die(1, e.what());
  }
}
