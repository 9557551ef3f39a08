#include "workflow/sandbox/lua_sandbox.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <lua.hpp>
#include <sodium.h>
#include <sys/random.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>

#include "workflow/sandbox/protocol.h"

namespace opsorch::workflow::sandbox {

namespace {

constexpr int kHookCount = 1000;           // VM instructions between deadline checks
constexpr int kJsonMaxDepth = 64;          // ctx.json and ctx.data
constexpr std::size_t kMaxPattern = 1024;  // string.find/match/gmatch/gsub pattern bytes
constexpr std::size_t kMaxFormat = 64 * 1024;
constexpr std::size_t kMaxLogs = 1000;
constexpr std::size_t kMaxMetrics = 10000;
constexpr std::size_t kMaxLogMessage = 64 * 1024;
constexpr std::size_t kCacheEntries = 256;
constexpr std::size_t kGcSlack = 4u << 20;  // full collection when this much above baseline

// json.null: a light userdata, immutable and the same in every run.
char kNullSentinel;

enum class Abort { kNone, kTimeout, kMemory };

std::int64_t NowNs(clockid_t clock) {
  timespec ts;
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

// Everything a run needs while Lua is running; C++ scratch space lives here so that a Lua
// error (longjmp) never skips a destructor on a C function's frame.
struct RunState {
  const ScriptInput* input = nullptr;
  const ScriptLimits* limits = nullptr;
  HostChannel* host = nullptr;
  ScriptOutput out;
  std::size_t side_bytes = 0;  // properties, headers, logs, metrics held outside Lua
  std::size_t logs_dropped = 0;
  Abort abort = Abort::kNone;
  // Wall-clock (cheap, vDSO) deadline; only once it passes is the thread CPU clock consulted.
  std::int64_t wall_deadline_ns = 0;
  std::int64_t cpu_deadline_ns = 0;
  bool running_script = false;
  // Scratch.
  std::string err;
  std::string text;
  JsonValue json;
  JsonObject reply;
  Message call_message;
  std::vector<std::vector<std::pair<std::string_view, int>>> keys;  // per encode depth
  std::string cache_key;
  std::string chunk_name_z;  // "=" + chunk name, NUL-terminated for Lua
  std::size_t compiled = 0;  // chunks added to the cache since it was last emptied
};

namespace {

// Registry slots of the pristine tables (integer keys in the registry).
enum RegistrySlot : int {
  kRegBase = 1,  // base functions a script gets
  kRegString,
  kRegTable,
  kRegMath,
  kRegUtf8,
  kRegStringMeta,
  kRegArrayMeta,
  kRegCache,
  kRegRandomSeed,
};
constexpr int kRegOffset = 1000;  // clear of LUA_RIDX_* and luaL_ref slots

void RegSet(lua_State* L, int slot) { lua_rawseti(L, LUA_REGISTRYINDEX, kRegOffset + slot); }
int RegGet(lua_State* L, int slot) { return lua_rawgeti(L, LUA_REGISTRYINDEX, kRegOffset + slot); }

RunState* Rs(lua_State* L) { return *static_cast<RunState**>(lua_getextraspace(L)); }

void* Allocate(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
  auto* a = static_cast<LuaSandbox::Alloc*>(ud);
  const std::size_t old = ptr != nullptr ? osize : 0;
  if (nsize == 0) {
    std::free(ptr);
    a->used -= old;
    return nullptr;
  }
  if (nsize > old && a->used - old + nsize > a->limit) return nullptr;
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nsize <= old ? ptr : nullptr;  // Lua assumes shrinking never fails
  a->used = a->used - old + nsize;
  return p;
}

void Hook(lua_State* L, lua_Debug*) {
  RunState* rs = Rs(L);
  if (rs == nullptr || !rs->running_script) return;
  if (rs->abort == Abort::kNone) {
    if (NowNs(CLOCK_MONOTONIC) < rs->wall_deadline_ns) return;
    if (NowNs(CLOCK_THREAD_CPUTIME_ID) < rs->cpu_deadline_ns) return;
    rs->abort = Abort::kTimeout;
  }
  // Keeps raising once aborted, so that no pcall can swallow it for long.
  luaL_error(L, "run aborted");
}

// Rethrows when the run was aborted, so that scripts cannot catch limits with pcall.
bool Aborted(lua_State* L, int status) {
  RunState* rs = Rs(L);
  if (rs == nullptr) return false;
  if (status == LUA_ERRMEM && rs->abort == Abort::kNone) rs->abort = Abort::kMemory;
  return rs->abort != Abort::kNone;
}

int SafePcall(lua_State* L) {
  luaL_checkany(L, 1);
  const int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  if (Aborted(L, status)) return lua_error(L);
  lua_pushboolean(L, status == LUA_OK);
  lua_insert(L, 1);
  return lua_gettop(L);
}

int SafeXpcall(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 1);  // [f, h, args..., f]
  lua_copy(L, 2, 1);    // [h, h, args..., f]
  lua_replace(L, 2);    // [h, f, args...]
  const int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
  if (Aborted(L, status)) return lua_error(L);
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

// ---- string wrappers: cheaper mitigation before the worker kill ---------------------------

std::size_t MaxString(lua_State* L) {
  RunState* rs = Rs(L);
  return rs != nullptr && rs->limits != nullptr ? rs->limits->max_string_bytes : (16u << 20);
}

int CallUpvalue(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

int PatternGuard(lua_State* L) {
  std::size_t subject = 0, pattern = 0;
  luaL_checklstring(L, 1, &subject);
  luaL_checklstring(L, 2, &pattern);
  if (pattern > kMaxPattern) {
    return luaL_error(L, "pattern of %d bytes exceeds the limit of %d bytes",
                      static_cast<int>(pattern), static_cast<int>(kMaxPattern));
  }
  if (subject > MaxString(L)) {
    return luaL_error(L, "subject of %I bytes exceeds max_string_bytes",
                      static_cast<lua_Integer>(subject));
  }
  return CallUpvalue(L);
}

int RepGuard(lua_State* L) {
  std::size_t len = 0, sep = 0;
  luaL_checklstring(L, 1, &len);
  const lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &sep);
  if (n > 0) {
    const double total = static_cast<double>(n) * static_cast<double>(len + sep);
    if (total > static_cast<double>(MaxString(L))) {
      return luaL_error(L, "string.rep result of %f bytes exceeds max_string_bytes", total);
    }
  }
  return CallUpvalue(L);
}

int FormatGuard(lua_State* L) {
  std::size_t len = 0;
  luaL_checklstring(L, 1, &len);
  if (len > kMaxFormat) return luaL_error(L, "format string too long");
  return CallUpvalue(L);
}

// ---- JSON <-> Lua ----------------------------------------------------------------------------

bool PushJsonObject(lua_State* L, RunState* rs, const JsonObject& o, int depth);

// Pushes `v`; false (rs->err set) when nested too deep. May raise memory errors: `v` is owned
// outside this frame.
bool PushJson(lua_State* L, RunState* rs, const JsonValue& v, int depth) {
  if (depth > kJsonMaxDepth) {
    rs->err = "JSON nested deeper than 64 levels";
    return false;
  }
  luaL_checkstack(L, 4, "JSON nesting");
  switch (v.kind()) {
    case boost::json::kind::null:
      lua_pushlightuserdata(L, &kNullSentinel);
      return true;
    case boost::json::kind::bool_:
      lua_pushboolean(L, v.get_bool());
      return true;
    case boost::json::kind::int64:
      lua_pushinteger(L, v.get_int64());
      return true;
    case boost::json::kind::uint64:
      if (v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        lua_pushinteger(L, static_cast<lua_Integer>(v.get_uint64()));
      } else {
        lua_pushnumber(L, static_cast<lua_Number>(v.get_uint64()));
      }
      return true;
    case boost::json::kind::double_:
      lua_pushnumber(L, v.get_double());
      return true;
    case boost::json::kind::string:
      lua_pushlstring(L, v.get_string().data(), v.get_string().size());
      return true;
    case boost::json::kind::array: {
      const auto& a = v.get_array();
      lua_createtable(L, static_cast<int>(std::min<std::size_t>(a.size(), 1 << 20)), 0);
      RegGet(L, kRegArrayMeta);
      lua_setmetatable(L, -2);
      lua_Integer i = 1;
      for (const auto& e : a) {
        if (!PushJson(L, rs, e, depth + 1)) return false;
        lua_rawseti(L, -2, i++);
      }
      return true;
    }
    case boost::json::kind::object:
      return PushJsonObject(L, rs, v.get_object(), depth);
  }
  return true;
}

bool PushJsonObject(lua_State* L, RunState* rs, const JsonObject& o, int depth) {
  lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(o.size(), 1 << 20)));
  for (const auto& kv : o) {
    lua_pushlstring(L, kv.key().data(), kv.key().size());
    if (!PushJson(L, rs, kv.value(), depth + 1)) return false;
    lua_rawset(L, -3);
  }
  return true;
}

bool IsArrayMarked(lua_State* L, int idx) {
  if (!lua_getmetatable(L, idx)) return false;
  RegGet(L, kRegArrayMeta);
  const bool marked = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return marked;
}

// Appends the JSON text of the value at `idx` to rs->text; false with rs->err on error. Raises
// only memory errors (all containers are in `rs`).
bool EncodeJson(lua_State* L, RunState* rs, int idx, int depth) {
  if (depth > kJsonMaxDepth) {
    rs->err = "value nested deeper than 64 levels (or a table contains itself)";
    return false;
  }
  std::string& out = rs->text;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      out += "null";
      return true;
    case LUA_TBOOLEAN:
      out += lua_toboolean(L, idx) ? "true" : "false";
      return true;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == &kNullSentinel) {
        out += "null";
        return true;
      }
      rs->err = "cannot encode a userdata value";
      return false;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        out += std::to_string(lua_tointeger(L, idx));
      } else {
        const double d = lua_tonumber(L, idx);
        if (!std::isfinite(d)) {
          rs->err = "cannot encode NaN or infinity";
          return false;
        }
        AppendJsonDouble(out, d);
      }
      return true;
    case LUA_TSTRING: {
      std::size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);
      if (!IsValidUtf8(std::string_view(s, n))) {
        rs->err = "string is not valid UTF-8 (use ctx.base64_encode for binary data)";
        return false;
      }
      AppendJsonString(out, std::string_view(s, n));
      return true;
    }
    case LUA_TTABLE:
      break;
    default:
      rs->err = std::string("cannot encode a ") + lua_typename(L, lua_type(L, idx)) + " value";
      return false;
  }
  if (!lua_checkstack(L, 4)) {
    rs->err = "stack overflow";
    return false;
  }
  // Classify: all string keys → object; keys exactly 1..n → array.
  auto& keys = rs->keys[depth];
  keys.clear();
  lua_Integer count = 0, max_int = 0;
  bool all_strings = true, all_ints = true;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    ++count;
    if (lua_type(L, -1) == LUA_TSTRING) {
      all_ints = false;
      std::size_t n = 0;
      const char* k = lua_tolstring(L, -1, &n);
      keys.emplace_back(std::string_view(k, n), 0);
    } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
      all_strings = false;
      max_int = std::max(max_int, lua_tointeger(L, -1));
    } else {
      all_strings = all_ints = false;
    }
  }
  const bool marked = IsArrayMarked(L, idx);
  const bool is_array = (count == 0 && marked) || (count > 0 && all_ints && max_int == count);
  if (is_array) {
    out += '[';
    for (lua_Integer i = 1; i <= count; ++i) {
      if (i > 1) out += ',';
      lua_rawgeti(L, idx, i);
      const bool ok = EncodeJson(L, rs, lua_gettop(L), depth + 1);
      lua_pop(L, 1);
      if (!ok) return false;
    }
    out += ']';
    return true;
  }
  if (!all_strings) {
    rs->err = marked ? "ctx.json.array table is not a sequence 1..n"
                     : "table mixes key types or is a sparse array (keys must be all strings or "
                       "exactly 1..n)";
    return false;
  }
  for (auto& k : keys) {
    if (!IsValidUtf8(k.first)) {
      rs->err = "object key is not valid UTF-8";
      return false;
    }
  }
  std::sort(keys.begin(), keys.end());
  out += '{';
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ',';
    // The key view stays valid: the table still references the string.
    AppendJsonString(out, keys[i].first);
    out += ':';
    lua_pushlstring(L, keys[i].first.data(), keys[i].first.size());
    lua_rawget(L, idx);
    const bool ok = EncodeJson(L, rs, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
    if (!ok) return false;
  }
  out += '}';
  return true;
}

// ---- ctx ---------------------------------------------------------------------------------------

std::string_view CheckView(lua_State* L, int arg) {
  std::size_t n = 0;
  const char* s = luaL_checklstring(L, arg, &n);
  return {s, n};
}

void PushView(lua_State* L, std::string_view s) { lua_pushlstring(L, s.data(), s.size()); }

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) continue;
    if (std::strchr("!#$%&'*+-.^_`|~", c) == nullptr || c == '\0') return false;
  }
  return true;
}

int RaiseErr(lua_State* L, const char* fn) {
  RunState* rs = Rs(L);
  luaL_where(L, 1);
  lua_pushfstring(L, "%s: ", fn);
  PushView(L, rs->err);
  lua_concat(L, 3);
  return lua_error(L);
}

// Counts bytes kept outside Lua against max_string_bytes.
bool AddSide(RunState* rs, std::size_t add, std::size_t remove) {
  const std::size_t next = rs->side_bytes - std::min(rs->side_bytes, remove) + add;
  if (next > rs->limits->max_string_bytes) return false;
  rs->side_bytes = next;
  return true;
}

int CtxBody(lua_State* L) {
  PushView(L, Rs(L)->out.message.body);
  return 1;
}

int CtxSetBody(lua_State* L) {
  RunState* rs = Rs(L);
  std::size_t n = 0;
  const char* s = lua_isnil(L, 1) ? "" : luaL_checklstring(L, 1, &n);
  if (n > rs->limits->max_string_bytes) {
    return luaL_error(L, "ctx.set_body: body of %I bytes exceeds max_string_bytes (%I)",
                      static_cast<lua_Integer>(n),
                      static_cast<lua_Integer>(rs->limits->max_string_bytes));
  }
  rs->out.message.body.assign(s, n);
  return 0;
}

// Pushes object[key] as a Lua value, or nil when absent (ctx.data, ctx.restricted_data).
int PushFieldOrNil(lua_State* L, RunState* rs, const JsonObject& object, std::string_view key,
                   const char* what) {
  const JsonValue* v = Field(object, key);
  if (v == nullptr) {
    lua_pushnil(L);
    return 1;
  }
  if (!PushJson(L, rs, *v, 0)) return RaiseErr(L, what);
  return 1;
}

int CtxData(lua_State* L) {
  RunState* rs = Rs(L);
  const JsonObject& data = rs->input->data;
  if (lua_isnoneornil(L, 1)) {
    // `data` outlives the run, so a memory error while pushing skips no destructor.
    if (!PushJsonObject(L, rs, data, 0)) return RaiseErr(L, "ctx.data");
    return 1;
  }
  return PushFieldOrNil(L, rs, data, CheckView(L, 1), "ctx.data");
}

int CtxProperty(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view key = CheckView(L, 1);
  auto& props = rs->out.message.properties;
  auto it = props.find(std::string(key));  // temporary gone before any raise
  if (it == props.end()) {
    lua_pushnil(L);
  } else {
    PushView(L, it->second);
  }
  return 1;
}

int CtxProperties(lua_State* L) {
  RunState* rs = Rs(L);
  lua_createtable(L, 0, static_cast<int>(rs->out.message.properties.size()));
  for (const auto& [k, v] : rs->out.message.properties) {
    PushView(L, k);
    PushView(L, v);
    lua_rawset(L, -3);
  }
  return 1;
}

const char* SetProperty(RunState* rs, std::string_view key, const char* value, std::size_t n) {
  if (!IsValidUtf8(key) || key.empty()) return "property name must be non-empty UTF-8";
  auto& props = rs->out.message.properties;
  auto it = props.find(std::string(key));
  const std::size_t old = it == props.end() ? 0 : key.size() + it->second.size();
  if (value == nullptr) {
    if (it != props.end()) {
      props.erase(it);
      AddSide(rs, 0, old);
    }
    return nullptr;
  }
  if (!AddSide(rs, key.size() + n, old)) return "properties exceed max_string_bytes";
  if (it == props.end()) {
    props.emplace(std::string(key), std::string(value, n));
  } else {
    it->second.assign(value, n);
  }
  return nullptr;
}

// Argument `idx` as text (a number is converted), or nullptr for nil / none.
const char* OptionalText(lua_State* L, int idx, std::size_t* n) {
  *n = 0;
  if (lua_isnoneornil(L, idx)) return nullptr;
  luaL_argexpected(L, lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER, idx,
                   "string or number");
  return lua_tolstring(L, idx, n);
}

int CtxSetProperty(lua_State* L) {
  const std::string_view key = CheckView(L, 1);
  std::size_t n = 0;
  const char* value = OptionalText(L, 2, &n);
  const char* err = SetProperty(Rs(L), key, value, n);
  if (err != nullptr) return luaL_error(L, "ctx.set_property: %s", err);
  return 0;
}

int CtxHeader(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view name = CheckView(L, 1);
  for (const auto& [k, v] : rs->out.message.headers) {
    if (EqualsIgnoreCase(k, name)) {
      PushView(L, v);
      return 1;
    }
  }
  lua_pushnil(L);
  return 1;
}

int CtxHeaders(lua_State* L) {
  RunState* rs = Rs(L);
  const bool all = lua_isnoneornil(L, 1);
  const std::string_view name = all ? std::string_view() : CheckView(L, 1);
  lua_newtable(L);
  RegGet(L, kRegArrayMeta);
  lua_setmetatable(L, -2);
  lua_Integer i = 1;
  if (all) {
    for (const auto& [k, v] : rs->out.message.headers) {
      lua_createtable(L, 2, 0);
      PushView(L, k);
      lua_rawseti(L, -2, 1);
      PushView(L, v);
      lua_rawseti(L, -2, 2);
      lua_rawseti(L, -2, i++);
    }
    return 1;
  }
  for (const auto& [k, v] : rs->out.message.headers) {
    if (EqualsIgnoreCase(k, name)) {
      PushView(L, v);
      lua_rawseti(L, -2, i++);
    }
  }
  return 1;
}

const char* SetHeader(RunState* rs, std::string_view name, const char* value, std::size_t n) {
  if (!IsToken(name)) return "header name must be an HTTP token";
  if (value != nullptr) {
    const std::string_view v(value, n);
    if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
      return "header value must not contain CR, LF or NUL";
    }
  }
  auto& headers = rs->out.message.headers;
  std::size_t removed = 0;
  std::erase_if(headers, [&](const auto& h) {
    if (!EqualsIgnoreCase(h.first, name)) return false;
    removed += h.first.size() + h.second.size();
    return true;
  });
  if (!AddSide(rs, value == nullptr ? 0 : name.size() + n, removed)) {
    return "headers exceed max_string_bytes";
  }
  if (value == nullptr) return nullptr;
  headers.emplace_back(std::string(name), std::string(value, n));
  // Authentication values are credentials: redacted from every later log line and metric.
  if (rs->input->kind == ProcessorKind::kAuthentication && n > 0) {
    rs->out.secrets.emplace_back(value, n);
  }
  return nullptr;
}

int CtxSetHeader(lua_State* L) {
  const std::string_view name = CheckView(L, 1);
  std::size_t n = 0;
  const char* value = OptionalText(L, 2, &n);
  const char* err = SetHeader(Rs(L), name, value, n);
  if (err != nullptr) return luaL_error(L, "ctx.set_header: %s", err);
  return 0;
}

int CtxClearHeaders(lua_State* L) {
  RunState* rs = Rs(L);
  std::size_t removed = 0;
  for (const auto& h : rs->out.message.headers) removed += h.first.size() + h.second.size();
  rs->out.message.headers.clear();
  AddSide(rs, 0, removed);
  return 0;
}

bool BeforeCall(ProcessorKind k) {
  return k == ProcessorKind::kAuthentication || k == ProcessorKind::kUrl ||
         k == ProcessorKind::kPayload;
}

int CtxSetUrl(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view host = CheckView(L, 1);
  const std::string_view path = CheckView(L, 2);
  if (!BeforeCall(rs->input->kind)) {
    return luaL_error(L,
                      "ctx.set_url is only available before the HTTP call (authentication, url "
                      "and payload processors)");
  }
  if (host.size() + path.size() > rs->limits->max_string_bytes) {
    return luaL_error(L, "ctx.set_url: URL exceeds max_string_bytes");
  }
  rs->out.host_id.assign(host);
  rs->out.path.assign(path);
  return 0;
}

int CtxSetMethod(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view m = CheckView(L, 1);
  if (!BeforeCall(rs->input->kind)) {
    return luaL_error(L,
                      "ctx.set_method is only available before the HTTP call (authentication, "
                      "url and payload processors)");
  }
  if (!IsToken(m) || m.size() > 32) return luaL_error(L, "ctx.set_method: invalid method");
  rs->out.method.assign(m);
  return 0;
}

int CtxUrl(lua_State* L) {
  RunState* rs = Rs(L);
  PushView(L, rs->out.host_id);
  PushView(L, rs->out.path);
  return 2;
}

int CtxMethod(lua_State* L) {
  PushView(L, Rs(L)->out.method);
  return 1;
}

int CtxStatus(lua_State* L) {
  RunState* rs = Rs(L);
  if (BeforeCall(rs->input->kind)) {
    return luaL_error(L,
                      "ctx.status is only available after the HTTP call (result, status and "
                      "connect-failed processors)");
  }
  lua_pushinteger(L, rs->input->status);
  return 1;
}

// The dimensions are in rs->call_message.properties (scratch).
const char* AddMetric(RunState* rs, std::string_view key, double value, lua_Integer ts) {
  if (rs->out.metrics.size() >= kMaxMetrics) return "more than 10000 metrics in one run";
  std::size_t bytes = key.size() + 16;
  for (const auto& [k, v] : rs->call_message.properties) bytes += k.size() + v.size();
  if (!AddSide(rs, bytes, 0)) return "metrics exceed max_string_bytes";
  Metric m;
  m.timestamp_ms = ts;
  m.key.assign(key);
  m.value = value;
  m.dimensions = rs->call_message.properties;
  rs->out.metrics.push_back(std::move(m));
  return nullptr;
}

int CtxMetric(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view key = CheckView(L, 1);
  const double value = luaL_checknumber(L, 2);
  const lua_Integer ts = luaL_optinteger(L, 4, rs->input->now_ms);
  if (key.empty() || !IsValidUtf8(key)) return luaL_error(L, "ctx.metric: key must be UTF-8");
  if (!std::isfinite(value)) return luaL_error(L, "ctx.metric: value must be finite");
  rs->call_message.properties.clear();  // scratch for the dimensions
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING ||
          (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER &&
           lua_type(L, -1) != LUA_TBOOLEAN)) {
        return luaL_error(L, "ctx.metric: dimensions must map strings to strings");
      }
      std::size_t kn = 0, vn = 0;
      const char* k = lua_tolstring(L, -2, &kn);
      const char* v = lua_type(L, -1) == LUA_TBOOLEAN
                          ? (lua_toboolean(L, -1) ? "true" : "false")
                          : lua_tolstring(L, -1, &vn);  // converts the value, not the key
      if (lua_type(L, -1) == LUA_TBOOLEAN) vn = std::strlen(v);
      if (!IsValidUtf8(std::string_view(k, kn))) {
        return luaL_error(L, "ctx.metric: dimension name must be UTF-8");
      }
      rs->call_message.properties[std::string(k, kn)].assign(v, vn);
      lua_pop(L, 1);
    }
  }
  const char* err = AddMetric(rs, key, value, ts);
  if (err != nullptr) return luaL_error(L, "ctx.metric: %s", err);
  return 0;
}

void AddLog(RunState* rs, std::string_view level, std::string_view msg) {
  if (rs->out.logs.size() >= kMaxLogs || !AddSide(rs, msg.size() + 16, 0)) {
    ++rs->logs_dropped;
    return;
  }
  LogLine line;
  line.timestamp_ms = rs->input->now_ms;
  line.level.assign(level);
  line.message.assign(msg.substr(0, kMaxLogMessage));
  rs->out.logs.push_back(std::move(line));
}

// Joins the arguments from `first` on with tabs, via tostring (Lua-owned buffer).
std::string_view JoinArgs(lua_State* L, int first) {
  const int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = first; i <= n; ++i) {
    if (i > first) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  std::size_t len = 0;
  const char* s = lua_tolstring(L, -1, &len);
  return {s, len};
}

int LogAt(lua_State* L, const char* level) {
  const std::string_view msg = JoinArgs(L, 1);
  AddLog(Rs(L), level, msg);
  return 0;
}

int CtxLog(lua_State* L) {
  const std::string_view level = CheckView(L, 1);
  if (level != "debug" && level != "info" && level != "warn" && level != "error") {
    return luaL_error(L, "ctx.log: level must be debug, info, warn or error");
  }
  const std::string_view msg = JoinArgs(L, 2);
  AddLog(Rs(L), level, msg);
  return 0;
}
int CtxDebug(lua_State* L) { return LogAt(L, "debug"); }
int CtxInfo(lua_State* L) { return LogAt(L, "info"); }
int CtxWarn(lua_State* L) { return LogAt(L, "warn"); }
int CtxError(lua_State* L) { return LogAt(L, "error"); }

int CtxNow(lua_State* L) {
  lua_pushinteger(L, Rs(L)->input->now_ms);
  return 1;
}

void PushHex(lua_State* L, const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  luaL_pushresultsize(&b, n * 2);
}

// libsodium rather than OpenSSL: the worker then maps no libcrypto (a few MB of RSS per worker).
int CtxSha256(lua_State* L) {
  const std::string_view s = CheckView(L, 1);
  unsigned char md[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(md, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  PushHex(L, md, sizeof md);
  return 1;
}

int CtxHmacSha256(lua_State* L) {
  const std::string_view key = CheckView(L, 1);
  const std::string_view s = CheckView(L, 2);
  unsigned char md[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()),
                              key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  crypto_auth_hmacsha256_final(&state, md);
  PushHex(L, md, sizeof md);
  return 1;
}

std::uint32_t Crc32(std::string_view s) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : s) c = table[(c ^ ch) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

int CtxCrc32(lua_State* L) {
  lua_pushinteger(L, static_cast<lua_Integer>(Crc32(CheckView(L, 1))));
  return 1;
}

int CtxHex(lua_State* L) {
  const std::string_view s = CheckView(L, 1);
  PushHex(L, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return 1;
}

int CtxBase64Encode(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view s = CheckView(L, 1);
  rs->text = Base64Encode(s);
  PushView(L, rs->text);
  return 1;
}

int CtxBase64Decode(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view s = CheckView(L, 1);
  auto decoded = Base64Decode(s);
  if (!decoded) return luaL_error(L, "ctx.base64_decode: invalid base64");
  rs->text = std::move(*decoded);
  PushView(L, rs->text);
  return 1;
}

int CtxStop(lua_State* L) {
  Rs(L)->out.stopped = true;
  return 0;
}

int CtxRestrictedData(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view host = CheckView(L, 1);
  if (rs->input->kind != ProcessorKind::kAuthentication) {
    return luaL_error(L, "ctx.restricted_data is only available in authentication processors");
  }
  return PushFieldOrNil(L, rs, rs->input->restricted_data, host, "ctx.restricted_data");
}

int JsonDecode(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view s = CheckView(L, 1);
  JsonParseOptions options;
  options.max_depth = kJsonMaxDepth;
  options.quote_values_in_errors = false;
  {
    auto parsed = ParseJson(s, options);
    if (parsed) {
      rs->json = std::move(*parsed);
      rs->err.clear();
    } else {
      rs->err = parsed.error().message;
    }
  }
  if (!rs->err.empty()) return RaiseErr(L, "ctx.json.decode");
  if (!PushJson(L, rs, rs->json, 0)) return RaiseErr(L, "ctx.json.decode");
  return 1;
}

int JsonEncode(lua_State* L) {
  RunState* rs = Rs(L);
  luaL_checkany(L, 1);
  rs->text.clear();
  if (!EncodeJson(L, rs, 1, 0)) return RaiseErr(L, "ctx.json.encode");
  PushView(L, rs->text);
  return 1;
}

int JsonArray(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  RegGet(L, kRegArrayMeta);
  lua_setmetatable(L, 1);
  return 1;
}

// Sends `rs->reply`'s request; on failure rs->err is set. No Lua calls inside.
bool HostCall(RunState* rs, JsonObject request) {
  const std::int64_t started = NowNs(CLOCK_MONOTONIC);
  auto reply = rs->host->Call(std::move(request));
  // Time spent in the parent's callback is not the script's.
  rs->wall_deadline_ns += NowNs(CLOCK_MONOTONIC) - started;
  if (!reply) {
    rs->err = reply.error().message;
    return false;
  }
  rs->reply = std::move(*reply);
  if (const JsonValue* e = Field(rs->reply, "error"); e != nullptr && !e->is_null()) {
    auto err = ErrorFromJson(e);
    rs->err = err ? err->message : "callback failed";
    return false;
  }
  return true;
}

bool PersistGetCall(RunState* rs, std::string_view key) {
  JsonObject req;
  req["op"] = "call";
  req["fn"] = "persist_get";
  req["key"] = BytesToJson(key);
  if (!HostCall(rs, std::move(req))) return false;
  const JsonValue* v = Field(rs->reply, "value");
  if (v == nullptr || v->is_null()) {
    rs->text.clear();
    rs->err = "absent";
    return true;
  }
  auto value = BytesFromJson(v, "value");
  if (!value) {
    rs->err = value.error().message;
    return false;
  }
  rs->text = std::move(*value);
  rs->err.clear();
  return true;
}

int PersistGet(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view key = CheckView(L, 1);
  if (!PersistGetCall(rs, key)) return RaiseErr(L, "ctx.persist.get");
  if (!rs->err.empty()) {
    lua_pushnil(L);
  } else {
    PushView(L, rs->text);
  }
  return 1;
}

bool PersistSetCall(RunState* rs, std::string_view key, const char* value, std::size_t n) {
  JsonObject req;
  req["op"] = "call";
  req["fn"] = "persist_set";
  req["key"] = BytesToJson(key);
  req["value"] = value == nullptr ? JsonValue(nullptr) : BytesToJson(std::string_view(value, n));
  return HostCall(rs, std::move(req));
}

int PersistSet(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view key = CheckView(L, 1);
  std::size_t n = 0;
  const char* value = nullptr;
  if (!lua_isnoneornil(L, 2)) {
    luaL_argexpected(L, lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER, 2,
                     "string or number");
    value = lua_tolstring(L, 2, &n);
  }
  if (n > rs->limits->max_string_bytes) {
    return luaL_error(L, "ctx.persist.set: value exceeds max_string_bytes");
  }
  if (!PersistSetCall(rs, key, value, n)) return RaiseErr(L, "ctx.persist.set");
  return 0;
}

// Reads the (body, props) arguments at 2 and 3 into rs->call_message. May raise (Lua errors)
// before any C++ temporary exists.
void ReadCallMessage(lua_State* L, RunState* rs) {
  std::size_t n = 0;
  const char* body = lua_isnoneornil(L, 2) ? "" : luaL_checklstring(L, 2, &n);
  rs->call_message.body.assign(body, n);
  rs->call_message.properties.clear();
  rs->call_message.headers.clear();
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING ||
          (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)) {
        luaL_error(L, "properties must map strings to strings");
      }
      std::size_t kn = 0, vn = 0;
      const char* k = lua_tolstring(L, -2, &kn);
      const char* v = lua_tolstring(L, -1, &vn);
      if (!IsValidUtf8(std::string_view(k, kn))) luaL_error(L, "property name must be UTF-8");
      rs->call_message.properties[std::string(k, kn)].assign(v, vn);
      lua_pop(L, 1);
    }
  }
}

bool StepCall(RunState* rs, std::string_view fn, std::string_view step) {
  JsonObject req;
  req["op"] = "call";
  req["fn"] = boost::json::string_view(fn.data(), fn.size());
  req["step"] = BytesToJson(step);
  req["message"] = MessageToJson(rs->call_message);
  return HostCall(rs, std::move(req));
}

bool ReadStepReply(RunState* rs) {
  auto m = MessageFromJson(Field(rs->reply, "message"));
  if (!m) {
    rs->err = m.error().message;
    return false;
  }
  rs->call_message = std::move(*m);
  rs->text.clear();
  rs->err.clear();
  if (const JsonValue* e = Field(rs->reply, "step_error"); e != nullptr && !e->is_null()) {
    auto err = ErrorFromJson(e);
    if (!err) {
      rs->err = err.error().message;
      return false;
    }
    rs->text = std::string(WireCode(*err));
    rs->err = err->message;
  }
  return true;
}

int SendToStep(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view step = CheckView(L, 1);
  ReadCallMessage(L, rs);
  if (!StepCall(rs, "send_to_step", step) || !ReadStepReply(rs)) {
    return RaiseErr(L, "ctx.send_to_step");
  }
  lua_createtable(L, 0, 5);
  PushView(L, rs->call_message.body);
  lua_setfield(L, -2, "body");
  lua_createtable(L, 0, static_cast<int>(rs->call_message.properties.size()));
  for (const auto& [k, v] : rs->call_message.properties) {
    PushView(L, k);
    PushView(L, v);
    lua_rawset(L, -3);
  }
  lua_setfield(L, -2, "properties");
  lua_createtable(L, static_cast<int>(rs->call_message.headers.size()), 0);
  lua_Integer i = 1;
  for (const auto& [k, v] : rs->call_message.headers) {
    lua_createtable(L, 2, 0);
    PushView(L, k);
    lua_rawseti(L, -2, 1);
    PushView(L, v);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, i++);
  }
  lua_setfield(L, -2, "headers");
  if (!rs->text.empty() || !rs->err.empty()) {
    PushView(L, rs->err);
    lua_setfield(L, -2, "error");
    PushView(L, rs->text);
    lua_setfield(L, -2, "error_code");
  }
  return 1;
}

int SendToStepAsync(lua_State* L) {
  RunState* rs = Rs(L);
  const std::string_view step = CheckView(L, 1);
  ReadCallMessage(L, rs);
  if (!StepCall(rs, "send_to_step_async", step)) return RaiseErr(L, "ctx.send_to_step_async");
  return 0;
}

int Print(lua_State* L) { return LogAt(L, "info"); }

constexpr luaL_Reg kCtxFuncs[] = {{"body", CtxBody},
                                  {"set_body", CtxSetBody},
                                  {"data", CtxData},
                                  {"property", CtxProperty},
                                  {"properties", CtxProperties},
                                  {"set_property", CtxSetProperty},
                                  {"header", CtxHeader},
                                  {"headers", CtxHeaders},
                                  {"set_header", CtxSetHeader},
                                  {"clear_headers", CtxClearHeaders},
                                  {"set_url", CtxSetUrl},
                                  {"set_method", CtxSetMethod},
                                  {"url", CtxUrl},
                                  {"method", CtxMethod},
                                  {"status", CtxStatus},
                                  {"metric", CtxMetric},
                                  {"log", CtxLog},
                                  {"debug", CtxDebug},
                                  {"info", CtxInfo},
                                  {"warn", CtxWarn},
                                  {"error", CtxError},
                                  {"now", CtxNow},
                                  {"sha256", CtxSha256},
                                  {"hmac_sha256", CtxHmacSha256},
                                  {"crc32", CtxCrc32},
                                  {"hex", CtxHex},
                                  {"base64_encode", CtxBase64Encode},
                                  {"base64_decode", CtxBase64Decode},
                                  {"send_to_step", SendToStep},
                                  {"send_to_step_async", SendToStepAsync},
                                  {"stop", CtxStop},
                                  {"restricted_data", CtxRestrictedData},
                                  {nullptr, nullptr}};

constexpr luaL_Reg kJsonFuncs[] = {
    {"decode", JsonDecode}, {"encode", JsonEncode}, {"array", JsonArray}, {nullptr, nullptr}};
constexpr luaL_Reg kPersistFuncs[] = {{"get", PersistGet}, {"set", PersistSet}, {nullptr, nullptr}};

// ---- state setup -------------------------------------------------------------------------------

// Keeps only `names` of the table at the top of the stack in a new table, replacing it.
void KeepOnly(lua_State* L, std::initializer_list<const char*> names) {
  lua_createtable(L, 0, static_cast<int>(names.size()));
  for (const char* n : names) {
    lua_getfield(L, -2, n);
    lua_setfield(L, -2, n);
  }
  lua_remove(L, -2);
}

void Wrap(lua_State* L, const char* name, lua_CFunction guard) {
  lua_getfield(L, -1, name);
  lua_pushcclosure(L, guard, 1);
  lua_setfield(L, -2, name);
}

int BuildPristine(lua_State* L) {
  luaL_requiref(L, "_G", luaopen_base, 0);
  KeepOnly(L, {"assert", "error", "ipairs", "next", "pairs", "select", "tonumber", "tostring",
               "type", "_VERSION"});
  lua_pushcfunction(L, SafePcall);
  lua_setfield(L, -2, "pcall");
  lua_pushcfunction(L, SafeXpcall);
  lua_setfield(L, -2, "xpcall");
  lua_pushcfunction(L, Print);
  lua_setfield(L, -2, "print");
  RegSet(L, kRegBase);

  luaL_requiref(L, "string", luaopen_string, 0);
  // The string metatable (its __index is repointed at each run's copy).
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  RegSet(L, kRegStringMeta);
  lua_pop(L, 1);
  KeepOnly(L, {"byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match", "rep",
               "reverse", "sub", "upper", "pack", "packsize", "unpack"});
  for (const char* n : {"find", "match", "gmatch", "gsub"}) Wrap(L, n, PatternGuard);
  Wrap(L, "rep", RepGuard);
  Wrap(L, "format", FormatGuard);
  RegSet(L, kRegString);

  luaL_requiref(L, "table", luaopen_table, 0);
  RegSet(L, kRegTable);
  luaL_requiref(L, "math", luaopen_math, 0);
  lua_getfield(L, -1, "randomseed");
  RegSet(L, kRegRandomSeed);
  RegSet(L, kRegMath);
  luaL_requiref(L, "utf8", luaopen_utf8, 0);
  RegSet(L, kRegUtf8);

  lua_createtable(L, 0, 1);  // marks tables that encode as JSON arrays
  RegSet(L, kRegArrayMeta);
  lua_newtable(L);
  RegSet(L, kRegCache);
  return 0;
}

void CopyTable(lua_State* L, int slot) {
  RegGet(L, slot);
  const int src = lua_gettop(L);
  lua_createtable(L, 0, 32);
  lua_pushnil(L);
  while (lua_next(L, src) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, src);
}

// Seeded from getrandom(2) (allowed by the worker's filter; std::random_device may open
// /dev/urandom, which is not).
std::uint64_t NextSeed() {
  static std::mt19937_64 rng = [] {
    std::uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) {
      seed = static_cast<std::uint64_t>(NowNs(CLOCK_MONOTONIC));
    }
    return std::mt19937_64(seed);
  }();
  return rng();
}

// Builds the run's environment, gets (or compiles) the chunk, and runs it. Called in protected
// mode; leaves nothing on the stack.
int RunEntry(lua_State* L) {
  RunState* rs = Rs(L);
  CopyTable(L, kRegBase);
  const int env = lua_gettop(L);
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  CopyTable(L, kRegString);
  RegGet(L, kRegStringMeta);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_setfield(L, env, "string");
  CopyTable(L, kRegTable);
  lua_setfield(L, env, "table");
  CopyTable(L, kRegMath);
  lua_setfield(L, env, "math");
  CopyTable(L, kRegUtf8);
  lua_setfield(L, env, "utf8");
  // A seed of our own: math.randomseed(n) in one run must not fix the next run's sequence.
  RegGet(L, kRegRandomSeed);
  lua_pushinteger(L, static_cast<lua_Integer>(NextSeed()));
  lua_pushinteger(L, static_cast<lua_Integer>(NextSeed()));
  lua_call(L, 2, 0);

  lua_createtable(L, 0, 40);
  luaL_setfuncs(L, kCtxFuncs, 0);
  lua_createtable(L, 0, 4);
  luaL_setfuncs(L, kJsonFuncs, 0);
  lua_pushlightuserdata(L, &kNullSentinel);
  lua_setfield(L, -2, "null");
  lua_setfield(L, -2, "json");
  lua_createtable(L, 0, 2);
  luaL_setfuncs(L, kPersistFuncs, 0);
  lua_setfield(L, -2, "persist");
  lua_setfield(L, env, "ctx");

  // The compiled chunk, cached by chunk name + source.
  RegGet(L, kRegCache);
  const int cache = lua_gettop(L);
  PushView(L, rs->cache_key);
  const int key = lua_gettop(L);
  lua_pushvalue(L, key);
  if (lua_rawget(L, cache) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    const std::string& src = rs->input->source;
    if (luaL_loadbufferx(L, src.data(), src.size(), rs->chunk_name_z.c_str(), "t") != LUA_OK) {
      return lua_error(L);
    }
    ++rs->compiled;
    lua_pushvalue(L, key);
    lua_pushvalue(L, -2);
    lua_rawset(L, cache);
  }
  lua_pushvalue(L, env);
  if (lua_setupvalue(L, -2, 1) == nullptr) lua_pop(L, 1);
  rs->running_script = true;
  rs->wall_deadline_ns = NowNs(CLOCK_MONOTONIC) + rs->limits->cpu_time.count() * 1'000'000;
  rs->cpu_deadline_ns = NowNs(CLOCK_THREAD_CPUTIME_ID) + rs->limits->cpu_time.count() * 1'000'000;
  lua_call(L, 0, 0);
  rs->running_script = false;
  return 0;
}

std::string ChunkId(std::string_view chunk_name) {
  // What Lua prints for a "=name" source: the name cut to LUA_IDSIZE - 1 bytes.
  return std::string(chunk_name.substr(0, LUA_IDSIZE - 1));
}

}  // namespace

std::string FormatLuaError(std::string_view chunk_name, std::string_view msg) {
  const std::string id = ChunkId(chunk_name);
  std::string out = "processor " + std::string(chunk_name) + ": ";
  if (!id.empty() && msg.size() > id.size() + 1 && msg.substr(0, id.size()) == id &&
      msg[id.size()] == ':') {
    msg.remove_prefix(id.size() + 1);
    const std::size_t colon = msg.find(':');
    if (colon != std::string_view::npos && colon > 0 &&
        msg.substr(0, colon).find_first_not_of("0123456789") == std::string_view::npos) {
      out += "line ";
      out += msg.substr(0, colon);
      out += ":";
      msg.remove_prefix(colon + 1);
    }
  }
  out += msg;
  return out;
}

LuaSandbox::LuaSandbox() : rs_(std::make_unique<RunState>()) {
  // Never resized later: EncodeJson holds references into it across recursion.
  rs_->keys.resize(kJsonMaxDepth + 2);
}

LuaSandbox::~LuaSandbox() { Close(); }

void LuaSandbox::Close() {
  if (L_ != nullptr) lua_close(L_);
  L_ = nullptr;
  if (rs_) rs_->compiled = 0;
}

bool LuaSandbox::Build() {
  alloc_.limit = static_cast<std::size_t>(-1);
  L_ = lua_newstate(Allocate, &alloc_);
  if (L_ == nullptr) return false;
  *static_cast<RunState**>(lua_getextraspace(L_)) = nullptr;
  lua_pushcfunction(L_, BuildPristine);
  if (lua_pcall(L_, 0, 0, 0) != LUA_OK) {
    Close();
    return false;
  }
  lua_sethook(L_, Hook, LUA_MASKCOUNT, kHookCount);
  lua_gc(L_, LUA_GCCOLLECT);
  baseline_ = alloc_.used;
  return true;
}

Result<ScriptOutput> LuaSandbox::Run(ScriptInput& input, const ScriptLimits& limits,
                                     HostChannel& host) {
  if (L_ == nullptr && !Build()) {
    return Fail(script_errc::kScriptMemory,
                "processor " + input.chunk_name + ": cannot create a Lua state");
  }
  RunState& rs = *rs_;
  rs.input = &input;
  rs.limits = &limits;
  rs.host = &host;
  rs.out = ScriptOutput();
  rs.out.message = std::move(input.message);
  rs.out.host_id = input.host_id;
  rs.out.path = input.path;
  rs.out.method = input.method;
  rs.side_bytes = 0;
  for (const auto& [k, v] : rs.out.message.properties) rs.side_bytes += k.size() + v.size();
  for (const auto& [k, v] : rs.out.message.headers) rs.side_bytes += k.size() + v.size();
  rs.logs_dropped = 0;
  rs.abort = Abort::kNone;
  rs.running_script = false;
  rs.err.clear();
  rs.cache_key.assign(input.chunk_name);
  rs.cache_key.push_back('\0');
  rs.cache_key.append(input.source);
  rs.chunk_name_z = "=" + input.chunk_name;

  // Bound the cache: drop it whole when it grows past kCacheEntries (rare: configs are finite).
  if (rs.compiled >= kCacheEntries) {
    lua_newtable(L_);
    RegSet(L_, kRegCache);
    rs.compiled = 0;
  }

  *static_cast<RunState**>(lua_getextraspace(L_)) = &rs;
  alloc_.limit = alloc_.used + limits.memory_bytes;
  lua_settop(L_, 0);
  lua_pushcfunction(L_, RunEntry);
  const int status = lua_pcall(L_, 0, 0, 0);
  alloc_.limit = static_cast<std::size_t>(-1);
  *static_cast<RunState**>(lua_getextraspace(L_)) = nullptr;
  rs.running_script = false;

  std::string lua_message;
  if (status != LUA_OK) {
    std::size_t n = 0;
    const char* m = lua_type(L_, -1) == LUA_TSTRING ? lua_tolstring(L_, -1, &n) : nullptr;
    lua_message = m != nullptr
                      ? std::string(m, n)
                      : std::string("(error object is a ") + luaL_typename(L_, -1) + " value)";
  }
  lua_settop(L_, 0);
  if (status == LUA_ERRMEM && rs.abort == Abort::kNone) rs.abort = Abort::kMemory;

  // Detach the run's environment so that it can be collected.
  RegGet(L_, kRegStringMeta);
  RegGet(L_, kRegString);
  lua_setfield(L_, -2, "__index");
  lua_pop(L_, 1);

  rs.input = nullptr;
  rs.host = nullptr;
  rs.json = nullptr;
  rs.reply.clear();
  rs.call_message = Message();
  if (rs.text.capacity() > (1u << 20)) rs.text = std::string();

  if (rs.abort != Abort::kNone) {
    // A run that hit a limit may have left the state half-built: start afresh next time.
    Close();
    if (rs.abort == Abort::kTimeout) {
      return Fail(script_errc::kScriptTimeout, "processor " + input.chunk_name +
                                                   ": exceeded the CPU time limit of " +
                                                   std::to_string(limits.cpu_time.count()) + " ms");
    }
    return Fail(script_errc::kScriptMemory, "processor " + input.chunk_name +
                                                ": exceeded the memory limit of " +
                                                std::to_string(limits.memory_bytes) + " bytes");
  }
  if (alloc_.used > baseline_ + kGcSlack) lua_gc(L_, LUA_GCCOLLECT);
  if (status != LUA_OK) {
    return Fail(script_errc::kScriptError, FormatLuaError(input.chunk_name, lua_message));
  }
  ScriptOutput out = std::move(rs.out);
  if (rs.logs_dropped > 0) {
    out.logs.push_back(LogLine{input.now_ms,
                               "warn",
                               std::to_string(rs.logs_dropped) +
                                   " log lines dropped (limit 1000 per run or max_string_bytes)",
                               {}});
  }
  return out;
}

Status CompileOnly(std::string_view chunk_name, std::string_view source) {
  LuaSandbox::Alloc alloc;
  alloc.limit = 64u << 20;  // compiling is bounded too: the parser allocates per token
  lua_State* L = lua_newstate(Allocate, &alloc);
  if (L == nullptr) return Fail(script_errc::kScriptMemory, "cannot create a Lua state");
  const std::string name = "=" + std::string(chunk_name);
  const int status = luaL_loadbufferx(L, source.data(), source.size(), name.c_str(), "t");
  std::string message;
  if (status != LUA_OK) {
    std::size_t n = 0;
    const char* m = lua_tolstring(L, -1, &n);
    message = m != nullptr ? std::string(m, n) : "unknown error";
  }
  lua_close(L);
  if (status == LUA_ERRMEM) {
    return Fail(script_errc::kScriptMemory,
                "processor " + std::string(chunk_name) + ": source too large to compile");
  }
  if (status != LUA_OK) return Fail(script_errc::kScriptError, FormatLuaError(chunk_name, message));
  return {};
}

}  // namespace opsorch::workflow::sandbox
