// The generic codec behind include/opsorch/schema/codec.h, driven by the tables in fields.h.
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <type_traits>

#include <boost/json/monotonic_resource.hpp>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/schema/codec.h>

#include "schema/fields.h"

namespace opsorch::schema {
namespace {

using detail::Described;
using detail::IsOptional;
using detail::IsVector;
using detail::Omit;
using detail::Schema;

// ---------------------------------------------------------------------------------------------
// Encoding

template <class M>
bool IsEmpty(const M& v) {
  if constexpr (std::is_same_v<M, std::string> || std::is_same_v<M, JsonObject> ||
                std::is_same_v<M, StringMap> || IsVector<M>::value) {
    return v.empty();
  } else if constexpr (std::is_arithmetic_v<M>) {
    return v == 0;
  } else if constexpr (IsOptional<M>::value) {
    return !v.has_value();
  } else {
    return false;  // Go's omitempty never omits structs (Time, QueryScope, …).
  }
}

template <class M>
void EncodeValue(std::string& out, const M& v);

template <Described T>
void EncodeStruct(std::string& out, const T& value) {
  out.push_back('{');
  bool first = true;
  std::apply(
      [&](const auto&... field) {
        (
            [&] {
              const auto& member = value.*(field.member);
              if (field.omit == Omit::kOmitEmpty && IsEmpty(member)) return;
              if (!first) out.push_back(',');
              first = false;
              out.push_back('"');
              out.append(field.name);  // names are plain ASCII
              out.append("\":");
              EncodeValue(out, member);
            }(),
            ...);
      },
      Schema<T>::kFields);
  out.push_back('}');
}

template <class M>
void EncodeValue(std::string& out, const M& v) {
  if constexpr (std::is_same_v<M, std::string>) {
    AppendJsonString(out, v);
  } else if constexpr (std::is_same_v<M, std::int64_t>) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
  } else if constexpr (std::is_same_v<M, double>) {
    AppendJsonDouble(out, v);
  } else if constexpr (std::is_same_v<M, Time>) {
    out.push_back('"');
    AppendRfc3339Nano(out, v);
    out.push_back('"');
  } else if constexpr (std::is_same_v<M, JsonObject>) {
    AppendJsonObject(out, v);
  } else if constexpr (std::is_same_v<M, StringMap>) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, val] : v) {  // std::map: already sorted like Go's map encoding
      if (!first) out.push_back(',');
      first = false;
      AppendJsonString(out, k);
      out.push_back(':');
      AppendJsonString(out, val);
    }
    out.push_back('}');
  } else if constexpr (IsOptional<M>::value) {
    if (v) {
      EncodeValue(out, *v);
    } else {
      out.append("null");
    }
  } else if constexpr (IsVector<M>::value) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : v) {
      if (!first) out.push_back(',');
      first = false;
      EncodeValue(out, e);
    }
    out.push_back(']');
  } else {
    static_assert(Described<M>, "no encoding for this member type");
    EncodeStruct(out, v);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

// The path to the value being decoded, kept on the stack and only rendered on error:
// IncidentQuery.scope.service.
struct Path {
  const Path* parent;
  std::string_view name;
};

std::string RenderPath(const Path* p) {
  if (p == nullptr) return {};
  std::string head = RenderPath(p->parent);
  if (!head.empty()) head.push_back('.');
  head.append(p->name);
  return head;
}

std::string_view KindName(const JsonValue& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return "number";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
  }
  return "value";
}

template <class M>
constexpr std::string_view GoTypeName() {
  if constexpr (std::is_same_v<M, std::string>) {
    return "string";
  } else if constexpr (std::is_same_v<M, std::int64_t>) {
    return "int";
  } else if constexpr (std::is_same_v<M, double>) {
    return "float64";
  } else if constexpr (std::is_same_v<M, Time>) {
    return "time.Time";
  } else if constexpr (std::is_same_v<M, JsonObject>) {
    return "map[string]interface {}";
  } else if constexpr (std::is_same_v<M, StringMap>) {
    return "map[string]string";
  } else if constexpr (IsOptional<M>::value) {
    return GoTypeName<typename M::value_type>();
  } else if constexpr (std::is_same_v<M, std::vector<std::string>>) {
    return "[]string";
  } else if constexpr (IsVector<M>::value) {
    return "array";
  } else {
    return Schema<M>::kName;
  }
}

tl::unexpected<Error> TypeError(const JsonValue& v, const Path* path, std::string_view go_type) {
  std::string msg = "json: cannot unmarshal ";
  msg.append(KindName(v));
  if (v.is_number()) {
    msg.push_back(' ');
    AppendJsonValue(msg, v);
  }
  if (path != nullptr && path->parent != nullptr) {
    msg.append(" into Go struct field ");
    msg.append(RenderPath(path));
  } else {
    msg.append(" into Go value");
  }
  msg.append(" of type ");
  msg.append(go_type);
  return Fail(errc::kBadRequest, std::move(msg));
}

template <class M>
Status DecodeValue(const JsonValue& v, M& out, const Path* path, const DecodeOptions& opt);

bool ContainsNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

tl::unexpected<Error> NulError(const Path* path) {
  return Fail(errc::kBadRequest, RenderPath(path) + ": must not contain NUL characters");
}

// The first key or string with a NUL inside a free-form value, as a path under `path`.
Status CheckNoNul(const JsonValue& v, const Path* path) {
  if (v.is_string()) return ContainsNul(v.get_string()) ? Status(NulError(path)) : Ok();
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (ContainsNul(kv.key())) {
        return Fail(errc::kBadRequest, RenderPath(path) + ": keys must not contain NUL characters");
      }
      const Path child{path, kv.key()};
      if (auto st = CheckNoNul(kv.value(), &child); !st) return st;
    }
  } else if (v.is_array()) {
    const Path child{path, "[]"};
    for (const auto& e : v.get_array()) {
      if (auto st = CheckNoNul(e, &child); !st) return st;
    }
  }
  return Ok();
}

template <Described T>
Status DecodeStruct(const JsonValue& v, T& out, const Path* path, const DecodeOptions& opt) {
  if (v.is_null()) return Ok();  // Go: null leaves the value unchanged
  if (!v.is_object()) return TypeError(v, path, Schema<T>::kName);
  constexpr std::size_t kCount = std::tuple_size_v<std::decay_t<decltype(Schema<T>::kFields)>>;
  static constexpr auto kNames =
      std::apply([](const auto&... f) { return std::array<std::string_view, kCount>{f.name...}; },
                 Schema<T>::kFields);
  for (const auto& kv : v.get_object()) {
    const std::string_view key = kv.key();
    // Go prefers an exact match, then falls back to a case-insensitive one.
    std::size_t index = kCount;
    for (std::size_t i = 0; i < kCount; ++i) {
      if (kNames[i] == key) {
        index = i;
        break;
      }
    }
    if (index == kCount) {
      for (std::size_t i = 0; i < kCount; ++i) {
        if (EqualsIgnoreCase(kNames[i], key)) {
          index = i;
          break;
        }
      }
    }
    if (index == kCount) {
      bool tolerated = false;
      for (std::string_view extra : Schema<T>::kTolerated) {
        tolerated = tolerated || EqualsIgnoreCase(extra, key);
      }
      if (tolerated || !opt.strict) continue;
      std::string msg = "json: unknown field ";
      AppendJsonString(msg, key);
      return Fail(errc::kBadRequest, std::move(msg));
    }
    Status st = Ok();
    std::size_t i = 0;
    std::apply(
        [&](const auto&... field) {
          (
              [&] {
                if (i++ != index) return;
                const Path child{path, field.name};
                st = DecodeValue(kv.value(), out.*(field.member), &child, opt);
              }(),
              ...);
        },
        Schema<T>::kFields);
    if (!st) return st;
  }
  return Ok();
}

template <class M>
Status DecodeValue(const JsonValue& v, M& out, const Path* path, const DecodeOptions& opt) {
  if constexpr (std::is_same_v<M, std::string>) {
    if (v.is_null()) return Ok();
    if (!v.is_string()) return TypeError(v, path, "string");
    if (opt.refuse_nul && ContainsNul(v.get_string())) return NulError(path);
    out.assign(v.get_string().data(), v.get_string().size());
    return Ok();
  } else if constexpr (std::is_same_v<M, std::int64_t>) {
    if (v.is_null()) return Ok();
    if (v.is_int64()) {
      out = v.get_int64();
      return Ok();
    }
    if (v.is_uint64() &&
        v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      out = static_cast<std::int64_t>(v.get_uint64());
      return Ok();
    }
    if (v.is_double() && v.get_double() == 0 && std::signbit(v.get_double())) {
      out = 0;  // the literal `-0` (ParseJson keeps its sign for free-form objects)
      return Ok();
    }
    return TypeError(v, path, "int");
  } else if constexpr (std::is_same_v<M, double>) {
    if (v.is_null()) return Ok();
    if (!v.is_number()) return TypeError(v, path, "float64");
    out = v.to_number<double>();
    return Ok();
  } else if constexpr (std::is_same_v<M, Time>) {
    if (v.is_null()) return Ok();
    if (!v.is_string()) return TypeError(v, path, "time.Time");
    auto t = ParseRfc3339(v.get_string());
    if (!t) {
      return Fail(errc::kBadRequest, RenderPath(path) + ": " + t.error().message);
    }
    out = *t;
    return Ok();
  } else if constexpr (std::is_same_v<M, JsonObject>) {
    if (v.is_null()) {
      out.clear();
      return Ok();
    }
    if (!v.is_object()) return TypeError(v, path, "map[string]interface {}");
    if (opt.refuse_nul) {
      if (auto st = CheckNoNul(v, path); !st) return st;
    }
    // Copy into the default resource: the parsed document lives in a short-lived arena.
    out = JsonObject(v.get_object(), boost::json::storage_ptr());
    return Ok();
  } else if constexpr (std::is_same_v<M, StringMap>) {
    if (v.is_null()) {
      out.clear();
      return Ok();
    }
    if (!v.is_object()) return TypeError(v, path, "map[string]string");
    for (const auto& kv : v.get_object()) {
      if (kv.value().is_null()) continue;
      if (opt.refuse_nul && ContainsNul(kv.key())) {
        return Fail(errc::kBadRequest, RenderPath(path) + ": keys must not contain NUL characters");
      }
      const Path child{path, kv.key()};
      if (!kv.value().is_string()) return TypeError(kv.value(), &child, "string");
      if (opt.refuse_nul && ContainsNul(kv.value().get_string())) return NulError(&child);
      out.insert_or_assign(std::string(kv.key()), std::string(kv.value().get_string()));
    }
    return Ok();
  } else if constexpr (IsOptional<M>::value) {
    if (v.is_null()) {
      out.reset();
      return Ok();
    }
    if (!out) out.emplace();
    return DecodeValue(v, *out, path, opt);
  } else if constexpr (IsVector<M>::value) {
    if (v.is_null()) {
      out.clear();
      return Ok();
    }
    if (!v.is_array()) return TypeError(v, path, GoTypeName<M>());
    const auto& arr = v.get_array();
    out.clear();
    out.resize(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i) {
      if (auto st = DecodeValue(arr[i], out[i], path, opt); !st) return st;
    }
    return Ok();
  } else {
    static_assert(Described<M>, "no decoding for this member type");
    return DecodeStruct(v, out, path, opt);
  }
}

template <class T>
constexpr std::string_view TopLevelName() {
  if constexpr (Described<T>) {
    return Schema<T>::kName;
  } else {
    return "value";
  }
}

}  // namespace

template <class T>
Result<T> FromJson(const JsonValue& value, const DecodeOptions& options) {
  T out{};
  const Path root{nullptr, TopLevelName<T>()};
  if (!value.is_null() && Described<T> && !value.is_object()) {
    return Fail(errc::kBadRequest, "json: cannot unmarshal " + std::string(KindName(value)) +
                                       " into Go value of type schema." +
                                       std::string(TopLevelName<T>()));
  }
  if (auto st = DecodeValue(value, out, &root, options); !st) return Fail(std::move(st.error()));
  return out;
}

template <class T>
Result<T> Decode(std::string_view json, const DecodeOptions& options) {
  if (TrimSpace(json).empty()) return Fail(errc::kBadRequest, "EOF");
  // Request bodies are small: parse into a stack arena, then copy out only what we keep.
  unsigned char arena[4096];
  boost::json::monotonic_resource mr(arena, sizeof arena);
  JsonParseOptions po;
  po.max_depth = options.max_depth;
  po.allow_trailing_data = true;  // only the first value is read (Go's json.Decoder)
  po.storage = &mr;
  auto parsed = ParseJson(json, po);
  if (!parsed) return Fail(std::move(parsed.error()));
  const JsonValue& value = *parsed;
  return FromJson<T>(value, options);
}

template <class T>
void Encode(const T& value, std::string& out) {
  EncodeValue(out, value);
}

// Explicit instantiations: every type that crosses the wire, and the list/optional wrappers the
// API layer and the plugin host use.
#define OPSORCH_CODEC_INSTANTIATE(T)                                      \
  template Result<T> Decode<T>(std::string_view, const DecodeOptions&);   \
  template Result<T> FromJson<T>(const JsonValue&, const DecodeOptions&); \
  template void Encode<T>(const T&, std::string&);
#define OPSORCH_CODEC_INSTANTIATE_ALL(T) \
  OPSORCH_CODEC_INSTANTIATE(T)           \
  OPSORCH_CODEC_INSTANTIATE(NullableList<T>)

OPSORCH_CODEC_INSTANTIATE(QueryScope)
OPSORCH_CODEC_INSTANTIATE(IncidentQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(Incident)
OPSORCH_CODEC_INSTANTIATE(CreateIncidentInput)
OPSORCH_CODEC_INSTANTIATE(UpdateIncidentInput)
OPSORCH_CODEC_INSTANTIATE_ALL(TimelineEntry)
OPSORCH_CODEC_INSTANTIATE(TimelineAppendInput)
OPSORCH_CODEC_INSTANTIATE_ALL(Alert)
OPSORCH_CODEC_INSTANTIATE(LogQuery)
OPSORCH_CODEC_INSTANTIATE(LogEntries)
OPSORCH_CODEC_INSTANTIATE(MetricQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(MetricSeries)
OPSORCH_CODEC_INSTANTIATE_ALL(MetricDescriptor)
OPSORCH_CODEC_INSTANTIATE(MetricDescriptors)
OPSORCH_CODEC_INSTANTIATE(TicketQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(Ticket)
OPSORCH_CODEC_INSTANTIATE(CreateTicketInput)
OPSORCH_CODEC_INSTANTIATE(UpdateTicketInput)
OPSORCH_CODEC_INSTANTIATE(Message)
OPSORCH_CODEC_INSTANTIATE(MessageResult)
OPSORCH_CODEC_INSTANTIATE(ServiceQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(Service)
OPSORCH_CODEC_INSTANTIATE(DeploymentQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(Deployment)
OPSORCH_CODEC_INSTANTIATE(TeamQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(Team)
OPSORCH_CODEC_INSTANTIATE_ALL(TeamMember)
OPSORCH_CODEC_INSTANTIATE(OrchestrationPlanQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(OrchestrationPlan)
OPSORCH_CODEC_INSTANTIATE(std::optional<OrchestrationPlan>)
OPSORCH_CODEC_INSTANTIATE(OrchestrationRunQuery)
OPSORCH_CODEC_INSTANTIATE_ALL(OrchestrationRun)
OPSORCH_CODEC_INSTANTIATE(OrchestrationStepState)
OPSORCH_CODEC_INSTANTIATE(std::optional<OrchestrationRun>)
OPSORCH_CODEC_INSTANTIATE(StartRunInput)
OPSORCH_CODEC_INSTANTIATE(CompleteStepInput)
OPSORCH_CODEC_INSTANTIATE(ProviderConfig)
OPSORCH_CODEC_INSTANTIATE(IdPayload)
OPSORCH_CODEC_INSTANTIATE(TeamIdPayload)
OPSORCH_CODEC_INSTANTIATE(PlanIdPayload)
OPSORCH_CODEC_INSTANTIATE(RunIdPayload)
OPSORCH_CODEC_INSTANTIATE(UpdateIncidentPayload)
OPSORCH_CODEC_INSTANTIATE(UpdateTicketPayload)
OPSORCH_CODEC_INSTANTIATE(TimelineAppendPayload)
OPSORCH_CODEC_INSTANTIATE(CompleteStepPayload)
OPSORCH_CODEC_INSTANTIATE(SecretKeyPayload)
OPSORCH_CODEC_INSTANTIATE(SecretPutPayload)

#undef OPSORCH_CODEC_INSTANTIATE_ALL
#undef OPSORCH_CODEC_INSTANTIATE

}  // namespace opsorch::schema
