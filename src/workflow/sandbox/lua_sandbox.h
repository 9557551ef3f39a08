// The Lua side of the worker: one Lua 5.4 state with the sandboxed library surface, reused for
// speed. Isolation comes from a fresh environment per run: new copies of every library table,
// a new ctx, the string metatable pointed at the run's own string table, the random generator
// reseeded, and the compiled chunk (cached by chunk name + source) given that environment as
// its _ENV. Scripts cannot reach the pristine tables (no getmetatable, debug, registry access),
// and the state is rebuilt after any run that hit a limit.
//
// Lua raises errors with longjmp, which skips C++ destructors: functions called from Lua keep
// every C++ temporary in the run's state object, never on their own frames.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/workflow/script.h>

struct lua_State;

namespace opsorch::workflow::sandbox {

// The worker's end of the callbacks: writes a call and waits for the parent's reply. An error
// means the channel broke (the worker then exits).
class HostChannel {
 public:
  virtual ~HostChannel() = default;
  virtual Result<JsonObject> Call(JsonObject request) = 0;
};

struct RunState;

class LuaSandbox {
 public:
  LuaSandbox();
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // Errors: script_error, script_timeout, script_memory, each naming the chunk.
  Result<ScriptOutput> Run(ScriptInput& input, const ScriptLimits& limits, HostChannel& host);

  // Allocator accounting, for tests and the periodic collection.
  struct Alloc {
    std::size_t used = 0;
    std::size_t limit = static_cast<std::size_t>(-1);
  };

 private:
  bool Build();
  void Close();

  lua_State* L_ = nullptr;
  Alloc alloc_;
  std::size_t baseline_ = 0;  // bytes in use right after Build()
  std::unique_ptr<RunState> rs_;
};

// Compiles without running (mode "t": bytecode is refused). Used by CheckScriptSyntax.
Status CompileOnly(std::string_view chunk_name, std::string_view source);

// "processor <chunk>: line 3: boom" out of Lua's "<chunkid>:3: boom".
std::string FormatLuaError(std::string_view chunk_name, std::string_view lua_message);

}  // namespace opsorch::workflow::sandbox
