// The wire protocol between ScriptRunner (parent) and opsorch-script-worker (child).
//
// Framing: one JSON object per line in each direction (NDJSON); the parent writes the worker's
// stdin, the worker answers on stdout; stderr is free text that the parent logs. Every string
// that a script or a user controls is a "bytes" value: a JSON string when it is valid UTF-8,
// else {"b64":"<base64>"} (bodies may be binary; Boost.JSON rejects invalid UTF-8).
//
//   parent → worker  {"op":"init","version":1,"worker_memory_bytes":N,"seccomp":true}
//   worker → parent  {"op":"ready","version":1,"pid":P}        (limits applied; else exits)
//
// Then any number of runs, one at a time:
//   parent → worker  {"op":"run","chunk":B,"source":B,"kind":"result","data":{…},
//                     "message":M,"host_id":B,"path":B,"method":B,"status":200,
//                     "restricted_data":{…},"now_ms":T,"cpu_ms":C,"memory_bytes":N,
//                     "max_string_bytes":S}
//   zero or more callbacks, each answered before the script continues:
//   worker → parent  {"op":"call","fn":"persist_get","key":B}
//   parent → worker  {"op":"reply","value":B|null}
//   worker → parent  {"op":"call","fn":"persist_set","key":B,"value":B|null}
//   parent → worker  {"op":"reply"}
//   worker → parent  {"op":"call","fn":"send_to_step","step":B,"message":M}
//   parent → worker  {"op":"reply","message":M,"step_error":{"code":…,"message":…}|null}
//   worker → parent  {"op":"call","fn":"send_to_step_async","step":B,"message":M}
//   parent → worker  {"op":"reply"}
//   (a failed callback: {"op":"reply","error":{"code":…,"message":…}} → a Lua error)
//   and exactly one final answer:
//   worker → parent  {"op":"result","message":M,"host_id":B,"path":B,"method":B,
//                     "metrics":[{"ts":T,"key":B,"value":1.5,"dims":{"k":B}}],
//                     "logs":[{"ts":T,"level":"info","msg":B}],"secrets":[B],"stopped":false}
//   worker → parent  {"op":"error","code":"script_error|script_timeout|script_memory",
//                     "message":B}
//   where M = {"body":B,"properties":{"k":B},"headers":[["name",B],…]}.
//
// Tests only: {"op":"probe","syscall":"socket|getrandom|openat|execve"} makes the worker try
// that system call under its filter and answer {"op":"probe","result":R,"errno":E} (or die of
// SIGSYS). Only the parent can write stdin, so this opens nothing to scripts.
//
// The worker exits 0 on EOF, kExitOutOfMemory when a C++ allocation failed (RLIMIT_AS), and
// kExitProtocol on a malformed message. The parent kills it on a wall-clock overrun.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/workflow/script.h>

namespace opsorch::workflow::sandbox {

inline constexpr int kProtocolVersion = 1;
inline constexpr int kExitOutOfMemory = 3;
inline constexpr int kExitProtocol = 4;
inline constexpr std::size_t kProtocolMaxDepth = 160;  // data (64 deep) inside the envelope

bool IsValidUtf8(std::string_view s);
std::string Base64Encode(std::string_view s);
std::optional<std::string> Base64Decode(std::string_view s);  // strict; nullopt when invalid

JsonValue BytesToJson(std::string_view s);
// `what` names the field in the protocol error.
Result<std::string> BytesFromJson(const JsonValue* v, std::string_view what);

std::string_view KindName(ProcessorKind kind);
std::optional<ProcessorKind> KindFromName(std::string_view name);

JsonValue MessageToJson(const Message& m);
Result<Message> MessageFromJson(const JsonValue* v);

JsonObject ErrorToJson(const Error& e);
Result<Error> ErrorFromJson(const JsonValue* v);

// The run request without "op" (the caller adds it). Reading moves the data objects out of `o`.
JsonObject RunRequestToJson(const ScriptInput& input, const ScriptLimits& limits);
Result<void> RunRequestFromJson(JsonObject& o, ScriptInput* input, ScriptLimits* limits);

JsonObject OutputToJson(const ScriptOutput& out);
Result<ScriptOutput> OutputFromJson(const JsonObject& o);

// Helpers for reading fields of a protocol object.
const JsonValue* Field(const JsonObject& o, std::string_view key);
std::string_view StringField(const JsonObject& o, std::string_view key);

}  // namespace opsorch::workflow::sandbox
