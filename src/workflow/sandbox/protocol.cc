#include "workflow/sandbox/protocol.h"

#include <cmath>
#include <cstdint>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

namespace opsorch::workflow::sandbox {
namespace {

constexpr std::string_view kProtocolError = "script_worker";

constexpr char kB64Chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

tl::unexpected<Error> Bad(std::string_view what) {
  return Fail(kProtocolError, "script worker protocol: bad field " + std::string(what));
}

Result<std::int64_t> IntField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = Field(o, key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return Bad(key);
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    // Fast path for ASCII runs.
    if (*p < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    std::uint32_t cp;
    if ((*p & 0xE0) == 0xC0) {
      n = 1, cp = *p & 0x1F;
    } else if ((*p & 0xF0) == 0xE0) {
      n = 2, cp = *p & 0x0F;
    } else if ((*p & 0xF8) == 0xF0) {
      n = 3, cp = *p & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

std::string Base64Encode(std::string_view s) {
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += kB64Chars[v >> 18];
    out += kB64Chars[(v >> 12) & 63];
    out += kB64Chars[(v >> 6) & 63];
    out += kB64Chars[v & 63];
  }
  if (i + 1 == s.size()) {
    const std::uint32_t v = p[i] << 16;
    out += kB64Chars[v >> 18];
    out += kB64Chars[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == s.size()) {
    const std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += kB64Chars[v >> 18];
    out += kB64Chars[(v >> 12) & 63];
    out += kB64Chars[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view s) {
  // Padding is optional (many tokens omit it) but must be correct when present.
  std::size_t len = s.size();
  std::size_t pad = 0;
  while (len > 0 && s[len - 1] == '=' && pad < 2) --len, ++pad;
  if (pad > 0 && s.size() % 4 != 0) return std::nullopt;
  if (len % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(len / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const int v = B64Value(static_cast<unsigned char>(s[i]));
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

JsonValue BytesToJson(std::string_view s) {
  if (IsValidUtf8(s)) return JsonValue(boost::json::string_view(s.data(), s.size()));
  JsonObject o;
  o["b64"] = Base64Encode(s);
  return o;
}

Result<std::string> BytesFromJson(const JsonValue* v, std::string_view what) {
  if (v == nullptr || v->is_null()) return std::string();
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_object()) {
    const JsonValue* b = Field(v->get_object(), "b64");
    if (b != nullptr && b->is_string()) {
      auto d = Base64Decode(std::string_view(b->get_string()));
      if (d) return std::move(*d);
    }
  }
  return Bad(what);
}

std::string_view KindName(ProcessorKind kind) {
  switch (kind) {
    case ProcessorKind::kAuthentication:
      return "authentication";
    case ProcessorKind::kUrl:
      return "url";
    case ProcessorKind::kPayload:
      return "payload";
    case ProcessorKind::kResult:
      return "result";
    case ProcessorKind::kStatus:
      return "status";
    case ProcessorKind::kConnectFailed:
      return "connect_failed";
  }
  return "result";
}

std::optional<ProcessorKind> KindFromName(std::string_view name) {
  for (auto k : {ProcessorKind::kAuthentication, ProcessorKind::kUrl, ProcessorKind::kPayload,
                 ProcessorKind::kResult, ProcessorKind::kStatus, ProcessorKind::kConnectFailed}) {
    if (KindName(k) == name) return k;
  }
  return std::nullopt;
}

const JsonValue* Field(const JsonObject& o, std::string_view key) {
  return o.if_contains(boost::json::string_view(key.data(), key.size()));
}

std::string_view StringField(const JsonObject& o, std::string_view key) {
  const JsonValue* v = Field(o, key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->get_string());
}

JsonValue MessageToJson(const Message& m) {
  JsonObject o;
  o["body"] = BytesToJson(m.body);
  JsonObject props;
  for (const auto& [k, v] : m.properties) props[k] = BytesToJson(v);
  o["properties"] = std::move(props);
  boost::json::array headers;
  headers.reserve(m.headers.size());
  for (const auto& [k, v] : m.headers) {
    boost::json::array pair;
    pair.emplace_back(BytesToJson(k));
    pair.emplace_back(BytesToJson(v));
    headers.emplace_back(std::move(pair));
  }
  o["headers"] = std::move(headers);
  return o;
}

Result<Message> MessageFromJson(const JsonValue* v) {
  Message m;
  if (v == nullptr || v->is_null()) return m;
  if (!v->is_object()) return Bad("message");
  const JsonObject& o = v->get_object();
  auto body = BytesFromJson(Field(o, "body"), "message.body");
  if (!body) return Fail(body.error());
  m.body = std::move(*body);
  if (const JsonValue* p = Field(o, "properties"); p != nullptr && !p->is_null()) {
    if (!p->is_object()) return Bad("message.properties");
    for (const auto& kv : p->get_object()) {
      auto val = BytesFromJson(&kv.value(), "message.properties");
      if (!val) return Fail(val.error());
      m.properties.emplace(std::string(kv.key()), std::move(*val));
    }
  }
  if (const JsonValue* h = Field(o, "headers"); h != nullptr && !h->is_null()) {
    if (!h->is_array()) return Bad("message.headers");
    for (const auto& pair : h->get_array()) {
      if (!pair.is_array() || pair.get_array().size() != 2) return Bad("message.headers");
      auto name = BytesFromJson(&pair.get_array()[0], "message.headers");
      auto val = BytesFromJson(&pair.get_array()[1], "message.headers");
      if (!name || !val) return Bad("message.headers");
      m.headers.emplace_back(std::move(*name), std::move(*val));
    }
  }
  return m;
}

JsonObject ErrorToJson(const Error& e) {
  JsonObject o;
  o["code"] = BytesToJson(WireCode(e));
  o["message"] = BytesToJson(e.message);
  return o;
}

Result<Error> ErrorFromJson(const JsonValue* v) {
  if (v == nullptr || !v->is_object()) return Bad("error");
  auto code = BytesFromJson(Field(v->get_object(), "code"), "error.code");
  auto message = BytesFromJson(Field(v->get_object(), "message"), "error.message");
  if (!code || !message) return Bad("error");
  return Error{std::move(*code), std::move(*message)};
}

JsonObject RunRequestToJson(const ScriptInput& input, const ScriptLimits& limits) {
  JsonObject o;
  o["chunk"] = BytesToJson(input.chunk_name);
  o["source"] = BytesToJson(input.source);
  o["kind"] = boost::json::string_view(KindName(input.kind).data(), KindName(input.kind).size());
  o["data"] = input.data;
  o["message"] = MessageToJson(input.message);
  o["host_id"] = BytesToJson(input.host_id);
  o["path"] = BytesToJson(input.path);
  o["method"] = BytesToJson(input.method);
  o["status"] = input.status;
  if (!input.restricted_data.empty()) o["restricted_data"] = input.restricted_data;
  o["now_ms"] = input.now_ms;
  o["cpu_ms"] = static_cast<std::int64_t>(limits.cpu_time.count());
  o["memory_bytes"] = static_cast<std::uint64_t>(limits.memory_bytes);
  o["max_string_bytes"] = static_cast<std::uint64_t>(limits.max_string_bytes);
  return o;
}

Result<void> RunRequestFromJson(JsonObject& o, ScriptInput* input, ScriptLimits* limits) {
  auto chunk = BytesFromJson(Field(o, "chunk"), "chunk");
  auto source = BytesFromJson(Field(o, "source"), "source");
  auto host = BytesFromJson(Field(o, "host_id"), "host_id");
  auto path = BytesFromJson(Field(o, "path"), "path");
  auto method = BytesFromJson(Field(o, "method"), "method");
  if (!chunk || !source || !host || !path || !method) return Bad("run request strings");
  input->chunk_name = std::move(*chunk);
  input->source = std::move(*source);
  input->host_id = std::move(*host);
  input->path = std::move(*path);
  input->method = std::move(*method);
  auto kind = KindFromName(StringField(o, "kind"));
  if (!kind) return Bad("kind");
  input->kind = *kind;
  if (JsonValue* d = o.if_contains("data"); d != nullptr && d->is_object()) {
    input->data = std::move(d->get_object());
  }
  if (JsonValue* d = o.if_contains("restricted_data"); d != nullptr && d->is_object()) {
    input->restricted_data = std::move(d->get_object());
  }
  auto message = MessageFromJson(Field(o, "message"));
  if (!message) return Fail(message.error());
  input->message = std::move(*message);
  auto status = IntField(o, "status");
  auto now = IntField(o, "now_ms");
  auto cpu = IntField(o, "cpu_ms");
  auto mem = IntField(o, "memory_bytes");
  auto max_str = IntField(o, "max_string_bytes");
  if (!status || !now || !cpu || !mem || !max_str) return Bad("run request numbers");
  input->status = static_cast<int>(*status);
  input->now_ms = *now;
  limits->cpu_time = std::chrono::milliseconds(*cpu);
  limits->memory_bytes = static_cast<std::size_t>(*mem);
  limits->max_string_bytes = static_cast<std::size_t>(*max_str);
  return {};
}

JsonObject OutputToJson(const ScriptOutput& out) {
  JsonObject o;
  o["message"] = MessageToJson(out.message);
  o["host_id"] = BytesToJson(out.host_id);
  o["path"] = BytesToJson(out.path);
  o["method"] = BytesToJson(out.method);
  boost::json::array metrics;
  metrics.reserve(out.metrics.size());
  for (const auto& m : out.metrics) {
    JsonObject mo;
    mo["ts"] = m.timestamp_ms;
    mo["key"] = BytesToJson(m.key);
    mo["value"] = m.value;
    JsonObject dims;
    for (const auto& [k, v] : m.dimensions) dims[k] = BytesToJson(v);
    mo["dims"] = std::move(dims);
    metrics.emplace_back(std::move(mo));
  }
  o["metrics"] = std::move(metrics);
  boost::json::array logs;
  logs.reserve(out.logs.size());
  for (const auto& l : out.logs) {
    JsonObject lo;
    lo["ts"] = l.timestamp_ms;
    lo["level"] = BytesToJson(l.level);
    lo["msg"] = BytesToJson(l.message);
    logs.emplace_back(std::move(lo));
  }
  o["logs"] = std::move(logs);
  boost::json::array secrets;
  for (const auto& s : out.secrets) secrets.emplace_back(BytesToJson(s));
  o["secrets"] = std::move(secrets);
  o["stopped"] = out.stopped;
  return o;
}

Result<ScriptOutput> OutputFromJson(const JsonObject& o) {
  ScriptOutput out;
  auto message = MessageFromJson(Field(o, "message"));
  if (!message) return Fail(message.error());
  out.message = std::move(*message);
  auto host = BytesFromJson(Field(o, "host_id"), "host_id");
  auto path = BytesFromJson(Field(o, "path"), "path");
  auto method = BytesFromJson(Field(o, "method"), "method");
  if (!host || !path || !method) return Bad("result strings");
  out.host_id = std::move(*host);
  out.path = std::move(*path);
  out.method = std::move(*method);
  if (const JsonValue* ms = Field(o, "metrics"); ms != nullptr && ms->is_array()) {
    out.metrics.reserve(ms->get_array().size());
    for (const auto& mv : ms->get_array()) {
      if (!mv.is_object()) return Bad("metrics");
      const JsonObject& mo = mv.get_object();
      Metric m;
      auto ts = IntField(mo, "ts");
      auto key = BytesFromJson(Field(mo, "key"), "metrics.key");
      const JsonValue* value = Field(mo, "value");
      if (!ts || !key || value == nullptr || !value->is_number()) return Bad("metrics");
      m.timestamp_ms = *ts;
      m.key = std::move(*key);
      m.value = value->to_number<double>();
      if (const JsonValue* dims = Field(mo, "dims"); dims != nullptr && dims->is_object()) {
        for (const auto& kv : dims->get_object()) {
          auto dv = BytesFromJson(&kv.value(), "metrics.dims");
          if (!dv) return Fail(dv.error());
          m.dimensions.emplace(std::string(kv.key()), std::move(*dv));
        }
      }
      out.metrics.push_back(std::move(m));
    }
  }
  if (const JsonValue* ls = Field(o, "logs"); ls != nullptr && ls->is_array()) {
    out.logs.reserve(ls->get_array().size());
    for (const auto& lv : ls->get_array()) {
      if (!lv.is_object()) return Bad("logs");
      const JsonObject& lo = lv.get_object();
      LogLine l;
      auto ts = IntField(lo, "ts");
      auto level = BytesFromJson(Field(lo, "level"), "logs.level");
      auto msg = BytesFromJson(Field(lo, "msg"), "logs.msg");
      if (!ts || !level || !msg) return Bad("logs");
      l.timestamp_ms = *ts;
      l.level = std::move(*level);
      l.message = std::move(*msg);
      out.logs.push_back(std::move(l));
    }
  }
  if (const JsonValue* ss = Field(o, "secrets"); ss != nullptr && ss->is_array()) {
    for (const auto& sv : ss->get_array()) {
      auto s = BytesFromJson(&sv, "secrets");
      if (!s) return Fail(s.error());
      out.secrets.push_back(std::move(*s));
    }
  }
  if (const JsonValue* st = Field(o, "stopped"); st != nullptr && st->is_bool()) {
    out.stopped = st->get_bool();
  }
  return out;
}

}  // namespace opsorch::workflow::sandbox
