#include <cerrno>
#include <charconv>
#include <filesystem>
#include <set>

#include <sodium.h>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/workflow/config.h>

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxResourceBytes = 1u << 20;
constexpr std::size_t kMaxProcessorsPerChain = 32;

}  // namespace

bool ValidName(std::string_view name) { return IsPlainName(name); }

std::string ConfigDigest(std::string_view text) {
  unsigned char md[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(md, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

namespace {

// The text of a `{"file": rel}` resource (`where` names it in errors: "resources.x.file: …").
Result<std::string> ReadFileResource(const std::string& base_dir, const std::string& rel,
                                     const std::string& where) {
  auto error = [&where](const std::string& rule) {
    return Fail(errc::kBadRequest, where + ".file: " + rule);
  };
  const fs::path p = fs::path(rel);
  // A resource file must stay inside the configuration's directory — after symlinks are
  // resolved — and be a regular file: the config is untrusted and must not read
  // /etc/opsorch/secrets.env (or block on a FIFO) into a script or an error message.
  std::error_code ec;
  const fs::path dir = fs::canonical(base_dir, ec);
  const fs::path full = ec ? fs::path() : fs::weakly_canonical(dir / p, ec);
  const auto inside = full.lexically_relative(dir);
  if (p.is_absolute() || ec || inside.empty() || *inside.begin() == "..") {
    return error("must be a relative path inside the configuration's directory");
  }
  if (!fs::is_regular_file(full, ec)) return error("must be a regular file");
  std::string text;
  if (const int err = ReadWholeFile(full.string(), text, kMaxResourceBytes); err == EFBIG) {
    return error("larger than 1 MiB");
  } else if (err != 0) {
    return error("cannot read " + rel + ": " + ErrnoText(err));
  }
  return text;
}

struct Parser {
  std::string source;  // for messages
  std::string base_dir;
  std::map<std::string, std::string, std::less<>> resources;
  Status status;

  void Error(const std::string& where, const std::string& rule) {
    if (status) status = Fail(errc::kBadRequest, where + ": " + rule);
  }

  void ReadResources(const JsonObject& root) {
    const JsonValue* r = root.if_contains("resources");
    if (r == nullptr || r->is_null()) return;
    if (!r->is_object()) return Error("resources", "must be an object of name → Lua source");
    for (const auto& kv : r->get_object()) {
      const std::string where = "resources." + std::string(kv.key());
      if (kv.value().is_string()) {
        resources.emplace(std::string(kv.key()), std::string(kv.value().get_string()));
        continue;
      }
      const JsonObject* o = kv.value().if_object();
      const JsonValue* file = o != nullptr ? o->if_contains("file") : nullptr;
      if (o == nullptr || o->size() != 1 || file == nullptr || !file->is_string()) {
        return Error(where, "must be Lua source or {\"file\": \"path.lua\"}");
      }
      if (base_dir.empty()) {
        return Error(where, "file resources are only allowed in configurations read from a file");
      }
      auto text = ReadFileResource(base_dir, std::string(file->get_string()), where);
      if (!text) {
        if (status) status = Fail(std::move(text.error()));
        return;
      }
      resources.emplace(std::string(kv.key()), std::move(*text));
    }
  }

  void ReadOne(const JsonValue& v, const std::string& where, ProcessorChain* out) {
    Processor p;
    if (v.is_string()) {
      p.name = "inline";
      p.source = std::string(v.get_string());
    } else if (v.is_object()) {
      const FieldReader r{v.get_object(), where, &status};
      r.OnlyKnown({"lua", "resource", "data", "comment"});
      const std::string lua = r.Str("lua");
      const std::string resource = r.Str("resource");
      if (!status) return;
      if (lua.empty() == resource.empty())
        return Error(where, "exactly one of lua and resource is required");
      if (!lua.empty()) {
        p.name = "inline";
        p.source = lua;
      } else {
        auto it = resources.find(resource);
        if (it == resources.end())
          return Error(where + ".resource", "no resource named \"" + resource + "\"");
        p.name = resource;
        p.source = it->second;
      }
      if (const JsonObject* d = r.Object("data")) p.data = *d;
    } else {
      return Error(where, "must be Lua source, {\"lua\"|\"resource\", \"data\"} or a list of them");
    }
    if (!status) return;
    if (auto st = CheckScriptSyntax(source + ": " + where, p.source); !st) {
      return Error(where, st.error().message);
    }
    out->push_back(std::move(p));
  }

  ProcessorChain ReadChain(const JsonObject& step, std::string_view key, const std::string& where) {
    return ReadChainValue(step.if_contains(key), where + "." + std::string(key));
  }

  ProcessorChain ReadChainValue(const JsonValue* v, const std::string& w) {
    ProcessorChain chain;
    if (v == nullptr || v->is_null()) return chain;
    if (v->is_array()) {
      const auto& a = v->get_array();
      if (a.size() > kMaxProcessorsPerChain) {
        Error(w, "at most " + std::to_string(kMaxProcessorsPerChain) + " processors");
        return chain;
      }
      for (std::size_t i = 0; i < a.size() && status; ++i) {
        ReadOne(a[i], w + "[" + std::to_string(i) + "]", &chain);
      }
    } else {
      ReadOne(*v, w, &chain);
    }
    return chain;
  }

  static bool ParseStatus(std::string_view s, int* out) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 100 || v > 599) return false;
    *out = v;
    return true;
  }

  Step ReadStep(const JsonObject& o, const std::string& where) {
    const FieldReader r{o, where, &status};
    r.OnlyKnown({"id", "enabled", "authentication", "trigger", "data", "authenticate", "url",
                 "payload", "results", "on_status", "on_connect_failure", "timeout", "comment"});
    Step s;
    s.id = r.Str("id", true);
    if (status && !ValidName(s.id)) r.Error("id", "must be 1-64 characters of [A-Za-z0-9._-]");
    s.authentication = r.Bool("authentication", false);
    if (const JsonObject* t = r.Object("trigger")) {
      const FieldReader tr{*t, r.Path("trigger"), &status};
      tr.OnlyKnown({"timer", "once", "comment"});
      if (const JsonObject* timer = tr.Object("timer")) {
        const FieldReader tm{*timer, tr.Path("timer"), &status};
        tm.OnlyKnown({"delay", "period", "comment"});
        s.trigger.kind = Trigger::Kind::kTimer;
        s.trigger.delay = tm.Duration("delay", std::chrono::milliseconds(0));
        s.trigger.period = tm.Duration("period", std::chrono::milliseconds(0));
        if (status && s.trigger.period < std::chrono::milliseconds(10)) {
          tm.Error("period", "is required and must be at least 10ms");
        }
        if (status && t->contains("once")) tr.Error("once", "a trigger is either timer or once");
      } else if (tr.Bool("once", false)) {
        s.trigger.kind = Trigger::Kind::kOnce;
      } else if (status && !t->empty()) {
        tr.Error("timer", "a trigger needs timer or once: true (omit trigger for call-only steps)");
      }
    }
    if (const JsonObject* d = r.Object("data")) s.data = *d;
    s.auth = ReadChain(o, "authenticate", where);
    s.url = ReadChain(o, "url", where);
    s.payload = ReadChain(o, "payload", where);
    s.results = ReadChain(o, "results", where);
    s.connect_failed = ReadChain(o, "on_connect_failure", where);
    if (const JsonObject* st = r.Object("on_status")) {
      for (const auto& kv : *st) {
        if (!status) break;
        const std::string key(kv.key());
        const std::string w = r.Path("on_status") + "." + key;
        StatusHandler h;
        const auto dash = key.find('-');
        const bool ok = dash == std::string::npos
                            ? ParseStatus(key, &h.from) && (h.to = h.from, true)
                            : ParseStatus(std::string_view(key).substr(0, dash), &h.from) &&
                                  ParseStatus(std::string_view(key).substr(dash + 1), &h.to) &&
                                  h.from <= h.to;
        if (!ok) {
          Error(w, "must be a status (\"404\") or an inclusive range (\"500-599\") within 100-599");
          break;
        }
        h.processors = ReadChainValue(&kv.value(), w);
        s.on_status.push_back(std::move(h));
      }
    }
    if (o.contains("timeout")) {
      s.timeout = r.Duration("timeout", std::chrono::milliseconds(0));
      if (status && *s.timeout < std::chrono::milliseconds(1)) {
        r.Error("timeout", "must be at least 1ms (it can only shorten the host's timeout)");
      }
    }
    return s;
  }
};

}  // namespace

Result<std::shared_ptr<const WorkflowConfig>> ParseWorkflowConfig(std::string_view text,
                                                                  const std::string& source,
                                                                  const std::string& base_dir) {
  if (text.size() > (8u << 20)) return Fail(errc::kBadRequest, source + ": larger than 8 MiB");
  auto doc = ParseJson(text);
  if (!doc) return Fail(errc::kBadRequest, source + ": " + doc.error().message);
  if (!doc->is_object()) return Fail(errc::kBadRequest, source + ": must be a JSON object");
  const JsonObject& root = doc->get_object();

  Parser p{source, base_dir, {}, Ok()};
  const FieldReader r{root, "", &p.status};
  r.OnlyKnown({"data", "resources", "workflows", "expectations", "comment"});
  p.ReadResources(root);
  auto config = std::make_shared<WorkflowConfig>();
  config->digest = ConfigDigest(text);
  if (const JsonObject* d = r.Object("data")) config->data = *d;
  const JsonArray* workflows = r.Array("workflows");
  if (p.status && (workflows == nullptr || workflows->empty())) {
    r.Error("workflows", "must be a non-empty array");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; p.status && i < workflows->size(); ++i) {
    const std::string where = "workflows[" + std::to_string(i) + "]";
    if (!(*workflows)[i].is_object()) {
      p.Error(where, "must be an object");
      break;
    }
    const JsonObject& wo = (*workflows)[i].get_object();
    const FieldReader wr{wo, where, &p.status};
    wr.OnlyKnown({"name", "enabled", "data", "steps", "comment"});
    Workflow w;
    w.name = wr.Str("name", true);
    if (p.status && !ValidName(w.name))
      wr.Error("name", "must be 1-64 characters of [A-Za-z0-9._-]");
    if (p.status && !names.insert(w.name).second) wr.Error("name", "is used by another workflow");
    const bool enabled = wr.Bool("enabled", true);
    if (const JsonObject* d = wr.Object("data")) w.data = *d;
    const JsonArray* steps = wr.Array("steps");
    if (p.status && (steps == nullptr || steps->empty()))
      wr.Error("steps", "must be a non-empty array");
    std::set<std::string> step_ids;
    for (std::size_t j = 0; p.status && j < steps->size(); ++j) {
      const std::string sw = wr.Path("steps", j);
      if (!(*steps)[j].is_object()) {
        p.Error(sw, "must be an object");
        break;
      }
      const JsonObject& so = (*steps)[j].get_object();
      Step s = p.ReadStep(so, sw);
      if (p.status && !step_ids.insert(s.id).second) {
        p.Error(sw + ".id", "\"" + s.id + "\" is used by another step of this workflow");
      }
      const JsonValue* en = so.if_contains("enabled");
      if (p.status && en != nullptr && !en->is_bool())
        p.Error(sw + ".enabled", "must be true or false");
      if (en != nullptr && en->is_bool() && !en->get_bool()) continue;
      w.steps.push_back(std::move(s));
    }
    if (enabled) config->workflows.push_back(std::move(w));
  }
  if (const JsonArray* expectations = p.status ? r.Array("expectations") : nullptr) {
    auto decoded = DecodeExpectations(*expectations, "expectations");
    if (!decoded) {
      p.status = Fail(std::move(decoded.error()));
    } else {
      config->expectations = std::move(*decoded);
    }
  }
  if (!p.status) return Fail(errc::kBadRequest, source + ": " + p.status.error().message);
  return std::shared_ptr<const WorkflowConfig>(std::move(config));
}

Result<std::string> InlineResources(std::string_view config_text, const std::string& base_dir,
                                    const std::string& what) {
  auto doc = ParseJson(config_text);
  if (!doc) return Fail(errc::kBadRequest, what + ": " + doc.error().message);
  if (!doc->is_object()) return Fail(errc::kBadRequest, what + ": must be a JSON object");
  JsonValue* r = doc->get_object().if_contains("resources");
  if (r != nullptr && r->is_object()) {
    for (auto& kv : r->get_object()) {
      // Other shapes are left as they are, for ParseWorkflowConfig to name.
      const JsonObject* o = kv.value().if_object();
      const JsonValue* file = o != nullptr ? o->if_contains("file") : nullptr;
      if (o == nullptr || o->size() != 1 || file == nullptr || !file->is_string()) continue;
      const std::string where = "resources." + std::string(kv.key());
      if (base_dir.empty()) {
        return Fail(errc::kBadRequest,
                    what + ": " + where + ": file resources need the configuration's directory");
      }
      auto text = ReadFileResource(base_dir, std::string(file->get_string()), where);
      if (!text) return Fail(errc::kBadRequest, what + ": " + text.error().message);
      kv.value().emplace_string().assign(text->data(), text->size());
    }
  }
  std::string out;
  AppendJsonValue(out, *doc);
  return out;
}

}  // namespace opsorch::workflow
