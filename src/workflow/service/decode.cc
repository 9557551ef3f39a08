// The service's request bodies, decoded strictly: every field known, typed and bounded, and an
// error names the field ("deployments[3].lastPoll") and the rule it broke.
#include <algorithm>
#include <initializer_list>
#include <limits>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>

#include "workflow/service/service_impl.h"

namespace opsorch::workflow::service {
namespace {

class Checker {
 public:
  bool ok() const { return static_cast<bool>(status_); }
  Status Take() { return std::move(status_); }

  void Refuse(std::string_view field, std::string_view rule) {
    if (status_) {
      status_ = Fail(errc::kBadRequest, std::string(field) + ": " + std::string(rule));
    }
  }

  static std::string Field(std::string_view where, std::string_view key) {
    return where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
  }

  void OnlyKnown(const JsonObject& o, std::string_view where,
                 std::initializer_list<std::string_view> known) {
    for (const auto& kv : o) {
      const std::string_view k(kv.key().data(), kv.key().size());
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        Refuse(Field(where, k), "unknown field");
      }
    }
  }

  const JsonValue* Get(const JsonObject& o, std::string_view where, std::string_view key,
                       bool required) {
    const JsonValue* v = o.if_contains(key);
    if (v == nullptr || v->is_null()) {
      if (required) Refuse(Field(where, key), "is required");
      return nullptr;
    }
    return v;
  }

  // A string of at most `max` bytes, without NUL characters.
  void Str(const JsonObject& o, std::string_view where, std::string_view key, bool required,
           std::size_t max = kMaxStatusString) {
    const JsonValue* v = Get(o, where, key, required);
    if (v == nullptr) return;
    if (!v->is_string()) return Refuse(Field(where, key), "must be a string");
    StrValue(v->get_string(), Field(where, key), max);
  }

  void StrValue(std::string_view s, const std::string& field, std::size_t max) {
    if (s.size() > max) return Refuse(field, "must be at most " + std::to_string(max) + " bytes");
    if (s.find('\0') != std::string_view::npos) {
      Refuse(field, "must not contain NUL characters");
    }
  }

  // An id the runtime reports (its bootstrap's rule). `may_be_empty`: "" stands for none (the
  // runtime writes the field unconditionally).
  void Id(const JsonObject& o, std::string_view where, std::string_view key, bool required,
          bool may_be_empty = false) {
    const JsonValue* v = Get(o, where, key, required);
    if (v == nullptr) return;
    if (!v->is_string() ||
        !(ValidReportedId(v->get_string()) || (may_be_empty && v->get_string().empty()))) {
      Refuse(Field(where, key), kReportedIdRule);
    }
  }

  // Names of kinds and refusals: short and plain (metrics-label-like).
  void Name(const JsonObject& o, std::string_view where, std::string_view key, bool required,
            bool may_be_empty = false) {
    const JsonValue* v = Get(o, where, key, required);
    if (v == nullptr) return;
    const auto plain = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-' || c == ':';
    };
    if (!v->is_string() || (v->get_string().empty() && !may_be_empty) ||
        v->get_string().size() > 64 ||
        !std::all_of(v->get_string().begin(), v->get_string().end(), plain)) {
      Refuse(Field(where, key), may_be_empty ? "must be at most 64 characters of [A-Za-z0-9._:-]"
                                             : "must be 1-64 characters of [A-Za-z0-9._:-]");
    }
  }

  // Milliseconds since the epoch, or a count: a non-negative integer.
  void NonNegative(const JsonObject& o, std::string_view where, std::string_view key,
                   bool required) {
    const JsonValue* v = Get(o, where, key, required);
    if (v == nullptr) return;
    if (!v->is_int64() || v->get_int64() < 0) {
      Refuse(Field(where, key), "must be a non-negative integer");
    }
  }

  void Hex64(const JsonObject& o, std::string_view where, std::string_view key) {
    const JsonValue* v = Get(o, where, key, false);
    if (v == nullptr) return;
    const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    if (!v->is_string() || v->get_string().size() != 64 ||
        !std::all_of(v->get_string().begin(), v->get_string().end(), hex)) {
      Refuse(Field(where, key), "must be 64 lower-case hex digits");
    }
  }

  const JsonObject* Object(const JsonObject& o, std::string_view where, std::string_view key,
                           bool required) {
    const JsonValue* v = Get(o, where, key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      Refuse(Field(where, key), "must be an object");
      return nullptr;
    }
    return &v->get_object();
  }

  const JsonArray* Array(const JsonObject& o, std::string_view where, std::string_view key,
                         bool required, std::size_t max) {
    const JsonValue* v = Get(o, where, key, required);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Refuse(Field(where, key), "must be an array");
      return nullptr;
    }
    if (v->get_array().size() > max) {
      Refuse(Field(where, key), "must have at most " + std::to_string(max) + " items");
      return nullptr;
    }
    return &v->get_array();
  }

 private:
  Status status_;
};

std::string Index(std::string_view key, std::size_t i) {
  return std::string(key) + "[" + std::to_string(i) + "]";
}

void CheckAgent(Checker& c, const JsonObject& a) {
  c.OnlyKnown(a, "agent", {"version", "startedAt", "host"});
  c.Str(a, "agent", "version", true);
  c.NonNegative(a, "agent", "startedAt", true);
  c.Str(a, "agent", "host", false);
}

void CheckDeployment(Checker& c, const JsonValue& v, const std::string& where) {
  if (!v.is_object()) return c.Refuse(where, "must be an object");
  const JsonObject& d = v.get_object();
  c.OnlyKnown(d, where,
              {"id", "source", "packageId", "version", "sha256", "loadedAt", "lastPoll",
               "lastError", "lastErrorAt", "refusal", "runs", "failedRuns"});
  c.Id(d, where, "id", true);
  c.Str(d, where, "source", true);
  c.Id(d, where, "packageId", false);
  c.Str(d, where, "version", false);
  c.Hex64(d, where, "sha256");
  for (std::string_view k : {"loadedAt", "lastPoll", "lastErrorAt", "runs", "failedRuns"}) {
    c.NonNegative(d, where, k, false);
  }
  c.Str(d, where, "lastError", false);
  c.Name(d, where, "refusal", false, /*may_be_empty=*/true);  // "": a failure, not a refusal
}

void CheckAuditRecord(Checker& c, const JsonValue& v, const std::string& where) {
  if (!v.is_object()) return c.Refuse(where, "must be an object");
  const JsonObject& r = v.get_object();
  c.OnlyKnown(r, where, {"timestamp", "deployment", "kind", "message", "detail"});
  c.NonNegative(r, where, "timestamp", true);
  c.Id(r, where, "deployment", false, /*may_be_empty=*/true);  // "": about the agent itself
  c.Name(r, where, "kind", true);
  c.Str(r, where, "message", true);
  const JsonObject* detail = c.Object(r, where, "detail", false);
  if (detail == nullptr) return;
  const std::string field = Checker::Field(where, "detail");
  if (detail->size() > kMaxDetailEntries) {
    return c.Refuse(field, "must have at most " + std::to_string(kMaxDetailEntries) + " entries");
  }
  for (const auto& kv : *detail) {
    const std::string_view k(kv.key().data(), kv.key().size());
    if (k.empty() || k.size() > 256) return c.Refuse(field, "keys must be 1-256 bytes");
    if (k.find('\0') != std::string_view::npos) {
      return c.Refuse(field, "keys must not contain NUL characters");
    }
    if (!kv.value().is_string()) return c.Refuse(Checker::Field(field, k), "must be a string");
    c.StrValue(kv.value().get_string(), Checker::Field(field, k), kMaxStatusString);
  }
}

}  // namespace

Result<StatusReport> DecodeStatusReport(std::string_view body) {
  JsonParseOptions po;
  po.max_depth = 5;  // report → audit → record → detail → value
  auto v = ParseJson(body, po);
  if (!v) return Fail(errc::kBadRequest, "body: not JSON (" + v.error().message + ")");
  if (!v->is_object()) return Fail(errc::kBadRequest, "body: must be a JSON object");
  const JsonObject& o = v->get_object();
  Checker c;
  c.OnlyKnown(o, "", {"agent", "deployments", "audit"});
  const JsonObject* agent = c.Object(o, "", "agent", true);
  if (agent != nullptr) CheckAgent(c, *agent);
  const JsonArray* deployments = c.Array(o, "", "deployments", true, kMaxDeployments);
  if (deployments != nullptr) {
    for (std::size_t i = 0; i < deployments->size() && c.ok(); ++i) {
      CheckDeployment(c, (*deployments)[i], Index("deployments", i));
    }
  }
  const JsonArray* audit = c.Array(o, "", "audit", false, kMaxAuditPerReport);
  if (audit != nullptr) {
    for (std::size_t i = 0; i < audit->size() && c.ok(); ++i) {
      CheckAuditRecord(c, (*audit)[i], Index("audit", i));
    }
  }
  if (!c.ok()) return Fail(std::move(c.Take().error()));

  StatusReport r;
  r.status = "{\"agent\":";
  AppendJsonObject(r.status, *agent);
  r.status += ",\"deployments\":";
  AppendJsonValue(r.status, JsonValue(*deployments));
  r.status.push_back('}');
  // Bounded as stored, not as sent: escaping (`<` is stored as \u003c) makes it up to 6 times
  // the body's size, and the agent file must stay readable at the next start.
  if (r.status.size() > kMaxStoredStatusBytes) {
    return Fail(errc::kPayloadTooLarge,
                "agent, deployments: must take at most " + std::to_string(kMaxStoredStatusBytes) +
                    " bytes as stored (JSON-escaped: <, >, & and control characters take 6 "
                    "bytes each); these take " +
                    std::to_string(r.status.size()));
  }
  if (audit != nullptr) {
    for (const JsonValue& rec : *audit) {
      std::string one;
      AppendJsonObject(one, rec.get_object());
      r.audit.push_back(std::move(one));
    }
  }
  return r;
}

Result<AgentInput> DecodeAgentInput(std::string_view body) {
  AgentInput in;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return in;  // all defaults
  JsonParseOptions po;
  po.max_depth = 3;
  auto v = ParseJson(body, po);
  if (!v) return Fail(errc::kBadRequest, "body: not JSON (" + v.error().message + ")");
  if (!v->is_object()) return Fail(errc::kBadRequest, "body: must be a JSON object");
  const JsonObject& o = v->get_object();
  Checker c;
  c.OnlyKnown(o, "", {"packages", "description", "rotateToken"});
  if (const JsonArray* p = c.Array(o, "", "packages", false, kMaxAgentPackages)) {
    if (p->empty()) c.Refuse("packages", "must name at least one package id");
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < p->size() && c.ok(); ++i) {
      const JsonValue& id = (*p)[i];
      if (!id.is_string() || !ValidId(id.get_string())) {
        c.Refuse(Index("packages", i), kIdRule);
      } else if (std::find(ids.begin(), ids.end(), id.get_string()) != ids.end()) {
        c.Refuse(Index("packages", i), "is a duplicate");
      } else {
        ids.emplace_back(id.get_string());
      }
    }
    in.packages = std::move(ids);
  }
  c.Str(o, "", "description", false, kMaxDescription);
  if (const JsonValue* d = o.if_contains("description"); d != nullptr && d->is_string()) {
    in.description = std::string(d->get_string());
  }
  if (const JsonValue* r = c.Get(o, "", "rotateToken", false)) {
    if (!r->is_bool()) {
      c.Refuse("rotateToken", "must be true or false");
    } else {
      in.rotate_token = r->get_bool();
    }
  }
  if (!c.ok()) return Fail(std::move(c.Take().error()));
  return in;
}

}  // namespace opsorch::workflow::service
