// The body of fuzz_script_protocol, shared with its corpus regression test
// (script_protocol_corpus_test.cc, in opsorch_wf_sandbox_tests): one input as a line of the
// script-worker protocol (src/workflow/sandbox/protocol.h), read the way both ends read it: the
// worker (worker_main.cc: ParseJson under kProtocolMaxDepth, then RunRequestFromJson for "run";
// lua_sandbox.cc: MessageFromJson/ErrorFromJson/BytesFromJson for a "reply") and the parent
// (script_runner.cc: OutputFromJson for "result", BytesFromJson for "error" and for the fields
// of a "call", MessageFromJson for send_to_step).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/serialize.hpp>

#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/workflow/script.h>

#include "fuzz/fuzz_util.h"
#include "workflow/sandbox/protocol.h"

namespace opsorch::testing {

// What a value looks like after the wire: serialized by one end, parsed by the other.
inline Result<JsonValue> OverTheWire(const JsonValue& v) {
  JsonParseOptions options;
  options.max_depth = workflow::sandbox::kProtocolMaxDepth;
  return ParseJson(boost::json::serialize(v), options);
}

inline bool SameOutput(const workflow::ScriptOutput& a, const workflow::ScriptOutput& b) {
  return a.message == b.message && a.host_id == b.host_id && a.path == b.path &&
         a.method == b.method && a.metrics == b.metrics && a.logs == b.logs &&
         a.secrets == b.secrets && a.stopped == b.stopped;
}

inline bool SameRunRequest(const workflow::ScriptInput& a, const workflow::ScriptLimits& la,
                           const workflow::ScriptInput& b, const workflow::ScriptLimits& lb) {
  return a.chunk_name == b.chunk_name && a.source == b.source && a.kind == b.kind &&
         a.data == b.data && a.message == b.message && a.host_id == b.host_id && a.path == b.path &&
         a.method == b.method && a.status == b.status && a.restricted_data == b.restricted_data &&
         a.now_ms == b.now_ms && la.cpu_time == lb.cpu_time && la.memory_bytes == lb.memory_bytes &&
         la.max_string_bytes == lb.max_string_bytes;
}

// A protocol error says what was wrong.
inline void CheckProtocolError(const std::string& where, const Error& e,
                               std::vector<std::string>& out) {
  if (e.message.empty()) out.push_back(where + ": error without a message");
}

inline void CheckBytes(const std::string& where, const JsonValue* v,
                       std::vector<std::string>& out) {
  namespace sb = workflow::sandbox;
  auto s = sb::BytesFromJson(v, "fuzz");
  if (!s) return CheckProtocolError(where, s.error(), out);
  // Whatever one end sends as bytes, the other reads back byte for byte.
  auto wire = OverTheWire(sb::BytesToJson(*s));
  auto back = wire ? sb::BytesFromJson(&*wire, "fuzz") : Result<std::string>(Fail(wire.error()));
  if (!back || *back != *s) out.push_back(where + ": bytes do not survive the wire");
  if (sb::Base64Decode(sb::Base64Encode(*s)) != *s) out.push_back(where + ": base64 round trip");
}

inline void CheckMessage(const std::string& where, const JsonValue* v,
                         std::vector<std::string>& out) {
  namespace sb = workflow::sandbox;
  auto m = sb::MessageFromJson(v);
  if (!m) return CheckProtocolError(where, m.error(), out);
  auto wire = OverTheWire(sb::MessageToJson(*m));
  if (!wire)
    return out.push_back(where + ": a message's encoding is not JSON: " + wire.error().message);
  auto back = sb::MessageFromJson(&*wire);
  if (!back || !(*back == *m)) out.push_back(where + ": message does not survive the wire");
}

inline void CheckErrorValue(const std::string& where, const JsonValue* v,
                            std::vector<std::string>& out) {
  namespace sb = workflow::sandbox;
  auto e = sb::ErrorFromJson(v);
  if (!e) return CheckProtocolError(where, e.error(), out);
  const JsonValue sent(sb::ErrorToJson(*e));
  auto wire = OverTheWire(sent);
  auto back = wire ? sb::ErrorFromJson(&*wire) : Result<Error>(Fail(wire.error()));
  // Compared as the sending end encodes them: code (as on the wire) and message.
  if (!back || JsonValue(sb::ErrorToJson(*back)) != sent) {
    out.push_back(where + ": error does not survive the wire");
  }
}

// Invariants: no crash; every refusal is an error with a code and a message; what a decoder
// accepts, encoded by the sending end and parsed by the receiving end, decodes to the same value
// (messages, bytes in JSON or base64 form, errors, run requests with their limits, results with
// metrics, logs, secrets).
inline std::vector<std::string> CheckScriptProtocol(std::string_view input) {
  namespace sb = workflow::sandbox;
  std::vector<std::string> out;
  JsonParseOptions options;
  options.max_depth = sb::kProtocolMaxDepth;
  auto parsed = ParseJson(input, options);
  if (!parsed) return out;
  const JsonValue& value = *parsed;

  // Decoders that take any value.
  CheckBytes("bytes", &value, out);
  CheckMessage("message", &value, out);
  CheckErrorValue("error", &value, out);
  if (!value.is_object()) return out;
  const JsonObject& o = value.get_object();

  // Worker side: a run request (read destructively, as the worker does) and a reply.
  {
    JsonObject copy = o;
    workflow::ScriptInput input_read;
    workflow::ScriptLimits limits_read;
    auto r = sb::RunRequestFromJson(copy, &input_read, &limits_read);
    if (!r) {
      CheckProtocolError("run request", r.error(), out);
    } else {
      auto wire = OverTheWire(JsonValue(sb::RunRequestToJson(input_read, limits_read)));
      if (!wire || !wire->is_object()) {
        out.push_back("run request: its encoding is not a JSON object");
      } else {
        workflow::ScriptInput again;
        workflow::ScriptLimits limits_again;
        auto r2 = sb::RunRequestFromJson(wire->get_object(), &again, &limits_again);
        if (!r2 || !SameRunRequest(input_read, limits_read, again, limits_again)) {
          out.push_back("run request does not survive the wire");
        }
      }
    }
  }
  CheckMessage("reply.message", sb::Field(o, "message"), out);
  CheckErrorValue("reply.error", sb::Field(o, "error"), out);
  CheckErrorValue("reply.step_error", sb::Field(o, "step_error"), out);
  CheckBytes("reply.value", sb::Field(o, "value"), out);

  // Parent side: a result, an error answer and a callback's fields.
  auto result = sb::OutputFromJson(o);
  if (!result) {
    CheckProtocolError("result", result.error(), out);
  } else {
    auto wire = OverTheWire(JsonValue(sb::OutputToJson(*result)));
    if (!wire || !wire->is_object()) {
      out.push_back("result: its encoding is not a JSON object");
    } else {
      auto again = sb::OutputFromJson(wire->get_object());
      if (!again || !SameOutput(*result, *again)) out.push_back("result does not survive the wire");
    }
  }
  for (const char* field :
       {"code", "message", "key", "step", "chunk", "source", "host_id", "path", "method"}) {
    CheckBytes(std::string("field ") + field, sb::Field(o, field), out);
  }
  if (auto kind = sb::KindFromName(sb::StringField(o, "kind"))) {
    if (sb::KindName(*kind) != sb::StringField(o, "kind")) out.push_back("kind name round trip");
  }
  return out;
}

}  // namespace opsorch::testing
