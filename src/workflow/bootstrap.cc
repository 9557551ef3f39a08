#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/config.h>

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxBootstrapBytes = 4u << 20;

std::string Absolute(const std::string& base_dir, const std::string& path) {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  return p.lexically_normal().string();
}

// KEY=value lines; blank lines and '#' comments ignored. No quote processing, so that a secret
// is exactly what the file says (minus surrounding blanks).
Status ReadSecretFile(const std::string& path, std::map<std::string, std::string>* out) {
  auto text = ReadTextFile(path, 1u << 20);
  if (!text) return Fail(text.error());
  std::istringstream lines(*text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == first) {
      return Fail(errc::kBadRequest,
                  path + ":" + std::to_string(n) + ": must be KEY=value (the value is not shown)");
    }
    // Blanks around the key and the value are layout ("KEY = value"), not part of the secret.
    const auto trim = [](std::string v) {
      const auto b = v.find_first_not_of(" \t");
      if (b == std::string::npos) return std::string();
      return v.substr(b, v.find_last_not_of(" \t") - b + 1);
    };
    (*out)[trim(line.substr(first, eq - first))] = trim(line.substr(eq + 1));
  }
  return Ok();
}

// Replaces ${VAR} in every string of `v` (recursively); "$${" is a literal "${". Substituted
// values become secrets. The error names the path and the variable, never a value.
struct Substituter {
  const std::map<std::string, std::string>& files;
  const EnvLookup& env;
  std::set<std::string>* secrets;
  // The key of encrypted strings, read on first use (a bootstrap without one needs no key).
  std::optional<package::SecretKey> string_key;

  // An encrypted string ("enc1:…") is replaced by its plain text, which is a secret; it is not
  // searched for ${VAR} (what was encrypted is the value itself).
  Status Decrypt(JsonValue& v, const std::string& path) {
    if (!string_key) {
      auto key = StringKey(path);
      if (!key) return Fail(key.error());
      string_key = std::move(*key);
    }
    auto plain = package::DecryptString(v.get_string(), *string_key);
    if (!plain) return Fail(errc::kBadRequest, path + ": " + plain.error().message);
    if (!plain->empty()) secrets->insert(*plain);
    v = JsonValue(*plain);
    return Ok();
  }

  // OPSORCH_WORKFLOW_STRING_KEY (the key's text) or OPSORCH_WORKFLOW_STRING_KEY_FILE (a 0600
  // file): never the bootstrap itself, which is what the encryption protects.
  Result<package::SecretKey> StringKey(const std::string& path) const {
    const auto lookup = [&](const char* name) -> std::optional<std::string> {
      if (!env) return std::nullopt;
      auto v = env(name);
      if (v && v->empty()) return std::nullopt;
      return v;
    };
    Result<package::SecretKey> key = Fail(errc::kBadRequest, "");
    if (auto text = lookup("OPSORCH_WORKFLOW_STRING_KEY")) {
      key = package::ParseSecretKey(*text);
      if (!key) {
        return Fail(errc::kBadRequest,
                    path + ": OPSORCH_WORKFLOW_STRING_KEY: " + key.error().message);
      }
    } else if (auto file = lookup("OPSORCH_WORKFLOW_STRING_KEY_FILE")) {
      key = package::ReadSecretKeyFile(*file);
      if (!key) return Fail(errc::kBadRequest, path + ": " + key.error().message);
    } else {
      return Fail(errc::kBadRequest,
                  path +
                      ": is an encrypted string, but neither OPSORCH_WORKFLOW_STRING_KEY nor "
                      "OPSORCH_WORKFLOW_STRING_KEY_FILE names its key");
    }
    if (key->purpose != package::KeyPurpose::kString) {
      return Fail(errc::kBadRequest, path + ": the encrypted-string key is a " +
                                         std::string(package::PurposeName(key->purpose)) +
                                         " key, not a string key");
    }
    return key;
  }

  Status Apply(JsonValue& v, const std::string& path) {
    if (v.is_string()) {
      if (package::IsEncryptedString(v.get_string())) return Decrypt(v, path);
      std::string_view s = v.get_string();
      if (s.find('$') == std::string_view::npos) return Ok();
      std::string out;
      for (std::size_t i = 0; i < s.size(); ++i) {
        if (s.compare(i, 3, "$${") == 0) {
          out += "${";
          i += 2;
          continue;
        }
        if (s.compare(i, 2, "${") != 0) {
          out += s[i];
          continue;
        }
        const auto end = s.find('}', i + 2);
        if (end == std::string_view::npos) {
          return Fail(errc::kBadRequest, path + ": unterminated ${ (write $${ for a literal)");
        }
        const std::string name(s.substr(i + 2, end - i - 2));
        if (!ValidVariable(name)) {
          return Fail(
              errc::kBadRequest,
              path + ": ${" + name + "} is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)");
        }
        std::optional<std::string> value;
        if (auto it = files.find(name); it != files.end()) {
          value = it->second;
        } else if (env) {
          value = env(name);
        }
        if (!value) return Fail(errc::kBadRequest, path + ": ${" + name + "} is not set");
        if (!value->empty()) secrets->insert(*value);
        out += *value;
        i = end;
      }
      v = JsonValue(out);
    } else if (v.is_object()) {
      for (auto& kv : v.get_object()) {
        if (auto st = Apply(kv.value(), path + "." + std::string(kv.key())); !st) return st;
      }
    } else if (v.is_array()) {
      auto& a = v.get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (auto st = Apply(a[i], path + "[" + std::to_string(i) + "]"); !st) return st;
      }
    }
    return Ok();
  }

  static bool ValidVariable(std::string_view n) {
    if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
    for (char c : n) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_')) {
        return false;
      }
    }
    return true;
  }
};

void CollectStrings(const JsonValue& v, std::set<std::string>* out) {
  if (v.is_string()) {
    if (!v.get_string().empty()) out->insert(std::string(v.get_string()));
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) CollectStrings(kv.value(), out);
  } else if (v.is_array()) {
    for (const auto& e : v.get_array()) CollectStrings(e, out);
  }
}

Headers ReadHeaders(const FieldReader& r, std::string_view key) {
  Headers out;
  const JsonObject m = r.StringMap(key);
  for (const auto& kv : m) {
    out.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

bool ValidMethod(std::string_view m) {
  if (m == "*") return true;
  if (m.empty() || m.size() > 16) return false;
  for (char c : m) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

HostEntry ReadHost(const JsonObject& o, const std::string& where, std::string id, Status* status) {
  const FieldReader r{o, where, status};
  r.OnlyKnown({"url", "headers", "allow", "authentication_only", "data", "allow_private",
               "connect_timeout", "timeout", "max_response_bytes", "max_redirects", "comment"});
  HostEntry h;
  h.policy.id = std::move(id);
  h.policy.base_url = r.Str("url", true);
  if (*status && !h.policy.base_url.empty()) {
    if (auto st = ValidateBaseUrl(h.policy.base_url); !st) r.Error("url", st.error().message);
  }
  h.policy.headers = ReadHeaders(r, "headers");
  if (const JsonArray* allow = r.Array("allow")) {
    h.policy.allow.emplace();
    for (std::size_t i = 0; i < allow->size() && *status; ++i) {
      const std::string aw = r.Path("allow", i);
      if (!(*allow)[i].is_object()) {
        *status = Fail(errc::kBadRequest, aw + ": must be an object {\"method\", \"path\"}");
        break;
      }
      const FieldReader a{(*allow)[i].get_object(), aw, status};
      a.OnlyKnown({"method", "path", "comment"});
      AllowRule rule{a.Str("method", true), a.Str("path", true)};
      if (*status && !ValidMethod(rule.method)) {
        a.Error("method", "must be an upper-case HTTP method such as GET, or *");
      }
      if (*status && rule.path.front() != '/') a.Error("path", "must start with /");
      h.policy.allow->push_back(std::move(rule));
    }
  }
  h.authentication_only = r.Bool("authentication_only", false);
  if (const JsonObject* data = r.Object("data")) h.data = *data;
  h.policy.allow_private = r.Bool("allow_private", false);
  h.policy.connect_timeout = r.Duration("connect_timeout", h.policy.connect_timeout);
  h.policy.timeout = r.Duration("timeout", h.policy.timeout);
  h.policy.max_response_bytes = static_cast<std::size_t>(
      r.PositiveInt("max_response_bytes", static_cast<std::int64_t>(h.policy.max_response_bytes)));
  const JsonValue* redirects = o.if_contains("max_redirects");
  if (redirects != nullptr) {
    if (!redirects->is_int64() || redirects->get_int64() < 0 || redirects->get_int64() > 20) {
      r.Error("max_redirects", "must be an integer from 0 to 20");
    } else {
      h.policy.max_redirects = static_cast<int>(redirects->get_int64());
    }
  }
  return h;
}

using KeyMap = std::map<std::string, package::PublicKey, std::less<>>;

// Names from the bootstrap's `keys`, each of the purpose the role needs.
std::vector<std::pair<std::string, package::PublicKey>> ReadKeyNames(const FieldReader& r,
                                                                     std::string_view field,
                                                                     const KeyMap& keys,
                                                                     package::KeyPurpose purpose) {
  std::vector<std::pair<std::string, package::PublicKey>> out;
  const JsonArray* names = r.Array(field);
  if (names == nullptr) return out;
  if (names->size() > package::kMaxSignatures) {
    r.Error(field, "must list at most " + std::to_string(package::kMaxSignatures) + " keys");
    return out;
  }
  for (std::size_t i = 0; i < names->size() && *r.status; ++i) {
    const std::string at = std::string(field) + "[" + std::to_string(i) + "]";
    if (!(*names)[i].is_string()) {
      r.Error(at, "must be the name of a key in `keys`");
      break;
    }
    const std::string name((*names)[i].get_string());
    auto it = keys.find(name);
    if (it == keys.end()) {
      r.Error(at, "\"" + name + "\" is not a key in `keys`");
      break;
    }
    if (it->second.purpose != purpose) {
      r.Error(at, "\"" + name + "\" is a " + std::string(package::PurposeName(it->second.purpose)) +
                      " key; this list takes " + std::string(package::PurposeName(purpose)) +
                      " keys");
      break;
    }
    for (const auto& [n, k] : out) {
      if (k == it->second) r.Error(at, "\"" + name + "\" is listed twice");
    }
    out.emplace_back(name, it->second);
  }
  return out;
}

// The `packaging` section: deny by default — once it exists, only packages that pass every
// check load (plain configurations too only with `allow_plain`).
PackagingRules ReadPackaging(const FieldReader& r, const std::string& deployment_id,
                             const std::string& base_dir, const KeyMap& keys) {
  r.OnlyKnown({"package_id", "required_signers", "additional_signers",
               "required_additional_signers", "packagers", "recipient_key", "recipient_key_file",
               "allow_plain", "comment"});
  PackagingRules p;
  p.policy.package_id = r.Str("package_id");
  if (p.policy.package_id.empty()) p.policy.package_id = deployment_id;
  if (*r.status && !ValidName(p.policy.package_id)) {
    r.Error("package_id", "must be 1-64 characters of [A-Za-z0-9._-]");
  }
  p.policy.required_signers = ReadKeyNames(r, "required_signers", keys, package::KeyPurpose::kSign);
  p.policy.additional_signers =
      ReadKeyNames(r, "additional_signers", keys, package::KeyPurpose::kSign);
  // One signature must not count twice (a required signer that is also "additional").
  for (const auto& [name, key] : p.policy.additional_signers) {
    for (const auto& [required, rkey] : p.policy.required_signers) {
      if (key == rkey) {
        r.Error("additional_signers", "\"" + name + "\" is also a required signer (\"" + required +
                                          "\"): a signature counts once");
      }
    }
  }
  const JsonValue* n = r.obj.if_contains("required_additional_signers");
  if (n != nullptr &&
      (!n->is_int64() || n->get_int64() < 0 ||
       static_cast<std::size_t>(n->get_int64()) > p.policy.additional_signers.size())) {
    r.Error("required_additional_signers",
            "must be an integer from 0 to the number of additional_signers");
  } else if (n != nullptr) {
    p.policy.required_additional = static_cast<std::size_t>(n->get_int64());
  }
  if (*r.status && p.policy.required_signers.empty() && p.policy.required_additional == 0) {
    r.Error("required_signers",
            "name at least one required signer (or require additional signers): a package "
            "nobody has to sign proves nothing");
  }
  p.policy.packagers = ReadKeyNames(r, "packagers", keys, package::KeyPurpose::kPackager);
  const std::string key_text = r.Str("recipient_key");
  const std::string key_file = r.Str("recipient_key_file");
  if (*r.status && key_text.empty() == key_file.empty()) {
    r.Error("recipient_key",
            "exactly one of recipient_key (a ${VAR} or an encrypted string) and "
            "recipient_key_file (a 0600 file) is required: the runtime's own recipient key");
  }
  if (*r.status) {
    auto key = key_text.empty() ? package::ReadSecretKeyFile(Absolute(base_dir, key_file))
                                : package::ParseSecretKey(key_text);
    if (!key) {
      // The text may be the key itself: only a file's error (which names the file) is quoted.
      r.Error(key_text.empty() ? "recipient_key_file" : "recipient_key",
              key_text.empty() ? key.error().message : "is not a recipient secret key");
    } else if (key->purpose != package::KeyPurpose::kRecipient) {
      r.Error(key_text.empty() ? "recipient_key_file" : "recipient_key",
              "must be a recipient key, not a " + std::string(package::PurposeName(key->purpose)) +
                  " key");
    } else {
      p.policy.recipient = std::move(*key);
    }
  }
  p.allow_plain = r.Bool("allow_plain", false);
  return p;
}

// The `incidents` section: where the Events v2 events of the configuration's expectations go.
IncidentTarget ReadIncidents(const FieldReader& r, const std::string& deployment_id) {
  r.OnlyKnown({"routing_key", "url", "source", "timeout", "allow_private", "comment"});
  IncidentTarget t;
  t.path = r.where;
  t.routing_key = r.Str("routing_key", true);
  // Never quoted: the key is a credential (whoever has it opens incidents).
  if (*r.status && t.routing_key.size() > 255) {
    r.Error("routing_key", "must be at most 255 characters (an Events v2 integration key)");
  }
  if (*r.status && std::any_of(t.routing_key.begin(), t.routing_key.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      })) {
    r.Error("routing_key", "must not contain control characters");
  }
  t.url = r.Str("url");
  if (*r.status && !t.url.empty()) {
    if (t.url.rfind("http://", 0) != 0 && t.url.rfind("https://", 0) != 0) {
      r.Error("url", "must be an http:// or https:// URL (an Events v2 endpoint)");
    } else {
      // The URL is quoted in log lines: a credential belongs in routing_key.
      const auto authority = t.url.substr(t.url.find("//") + 2);
      if (authority.substr(0, authority.find('/')).find('@') != std::string::npos) {
        r.Error("url", "must not hold user information");
      }
    }
  }
  t.source = r.Str("source");
  if (t.source.empty()) t.source = deployment_id;
  if (*r.status && t.source.size() > 255) r.Error("source", "must be at most 255 bytes");
  t.timeout = r.Duration("timeout", t.timeout);
  if (*r.status &&
      (t.timeout < std::chrono::milliseconds(100) || t.timeout > std::chrono::minutes(1))) {
    r.Error("timeout", "must be from 100ms to 1m");
  }
  t.allow_private = r.Bool("allow_private", false);
  if (*r.status && t.allow_private && t.url.empty()) {
    r.Error("allow_private", "only applies to a url");
  }
  return t;
}

Deployment ReadDeployment(const JsonObject& o, const std::string& where,
                          const std::string& base_dir, const std::string& data_dir,
                          const KeyMap& keys, Status* status) {
  const FieldReader r{o, where, status};
  r.OnlyKnown({"id", "enabled", "config", "hosts", "data", "persistence_dir", "outputs", "limits",
               "max_concurrent_runs", "packaging", "incidents", "comment"});
  Deployment d;
  d.id = r.Str("id", true);
  if (*status && !ValidName(d.id)) r.Error("id", "must be 1-64 characters of [A-Za-z0-9._-]");

  if (const JsonObject* c = r.Object("config")) {
    const FieldReader cr{*c, r.Path("config"), status};
    cr.OnlyKnown({"file", "url", "headers", "poll", "timeout", "comment"});
    const std::string file = cr.Str("file");
    d.config.url = cr.Str("url");
    if (*status && file.empty() == d.config.url.empty()) {
      cr.Error("file", "exactly one of file and url is required");
    }
    if (!file.empty()) d.config.file = Absolute(base_dir, file);
    if (*status && !d.config.url.empty() && d.config.url.rfind("http://", 0) != 0 &&
        d.config.url.rfind("https://", 0) != 0) {
      cr.Error("url", "must be an http:// or https:// URL");
    }
    if (*status && !d.config.url.empty()) {
      // Credentials go in `headers`: a URL is quoted in log lines and error messages.
      const auto authority = d.config.url.substr(d.config.url.find("//") + 2);
      if (authority.substr(0, authority.find('/')).find('@') != std::string::npos) {
        cr.Error("url", "must not hold user information (put credentials in headers)");
      }
    }
    d.config.headers = ReadHeaders(cr, "headers");
    d.config.poll = cr.Duration("poll", d.config.poll);
    d.config.timeout = cr.Duration("timeout", d.config.timeout);
    if (*status && (d.config.timeout < std::chrono::milliseconds(100) ||
                    d.config.timeout > std::chrono::minutes(5))) {
      cr.Error("timeout", "must be from 100ms to 5m");
    }
    if (*status && d.config.poll.count() != 0 && d.config.poll < std::chrono::milliseconds(100)) {
      cr.Error("poll", "must be 0 (load once) or at least 100ms");
    }
  } else if (*status) {
    r.Error("config", "is required ({\"file\": …} or {\"url\": …})");
  }

  if (const JsonObject* hosts = r.Object("hosts")) {
    for (const auto& kv : *hosts) {
      if (!*status) break;
      const std::string id(kv.key());
      const std::string hw = r.Path("hosts") + "." + id;
      if (!ValidName(id)) {
        *status =
            Fail(errc::kBadRequest, hw + ": host id must be 1-64 characters of [A-Za-z0-9._-]");
        break;
      }
      if (!kv.value().is_object()) {
        *status = Fail(errc::kBadRequest, hw + ": must be an object");
        break;
      }
      d.hosts.emplace(id, ReadHost(kv.value().get_object(), hw, id, status));
    }
  }
  if (const JsonObject* data = r.Object("data")) d.data = *data;
  const std::string persistence = r.Str("persistence_dir");
  d.persistence_dir = persistence.empty() ? Absolute(data_dir, "workflows/" + d.id)
                                          : Absolute(base_dir, persistence);

  if (const JsonArray* outputs = r.Array("outputs")) {
    std::set<std::string> ids;
    for (std::size_t i = 0; i < outputs->size() && *status; ++i) {
      const std::string ow = r.Path("outputs", i);
      if (!(*outputs)[i].is_object()) {
        *status = Fail(errc::kBadRequest, ow + ": must be an object");
        break;
      }
      const FieldReader orr{(*outputs)[i].get_object(), ow, status};
      orr.OnlyKnown({"id", "url", "stdout", "headers", "token", "metrics", "logs", "audit",
                     "batch_max", "flush_interval", "sync", "comment"});
      OutputEntry out;
      out.id = orr.Str("id", true);
      if (*status && !ValidName(out.id))
        orr.Error("id", "must be 1-64 characters of [A-Za-z0-9._-]");
      if (*status && !ids.insert(out.id).second) orr.Error("id", "is used by another output");
      out.stdout = orr.Bool("stdout", false);
      out.url = orr.Str("url", !out.stdout);
      if (*status && out.stdout && !out.url.empty()) {
        orr.Error("url", "must not be given with \"stdout\": true (one destination per output)");
      }
      if (*status && !out.stdout && out.url.rfind("http://", 0) != 0 &&
          out.url.rfind("https://", 0) != 0) {
        orr.Error("url", "must be an http:// or https:// URL");
      }
      out.headers = ReadHeaders(orr, "headers");
      out.token = orr.Str("token");
      out.metrics = orr.Bool("metrics", true);
      out.logs = orr.Bool("logs", false);
      out.audit = orr.Bool("audit", true);
      out.batch_max = static_cast<std::size_t>(orr.PositiveInt("batch_max", 1000));
      if (*status && out.batch_max > 10000) orr.Error("batch_max", "must be at most 10000");
      out.flush_interval = orr.Duration("flush_interval", out.flush_interval);
      out.sync = orr.Bool("sync", false);
      d.outputs.push_back(std::move(out));
    }
  }
  if (const JsonObject* limits = r.Object("limits")) {
    const FieldReader lr{*limits, r.Path("limits"), status};
    lr.OnlyKnown({"cpu_time", "memory_bytes", "comment"});
    d.limits.cpu_time = lr.Duration("cpu_time", d.limits.cpu_time);
    d.limits.memory_bytes = static_cast<std::size_t>(
        lr.PositiveInt("memory_bytes", static_cast<std::int64_t>(d.limits.memory_bytes)));
    if (*status && (d.limits.cpu_time < std::chrono::milliseconds(1) ||
                    d.limits.cpu_time > std::chrono::minutes(5))) {
      lr.Error("cpu_time", "must be from 1ms to 5m");
    }
    if (*status && (d.limits.memory_bytes < (1u << 20) || d.limits.memory_bytes > (1u << 30))) {
      lr.Error("memory_bytes", "must be from 1 MiB to 1 GiB");
    }
  }
  d.max_concurrent_runs = static_cast<std::size_t>(r.PositiveInt("max_concurrent_runs", 1));
  if (const JsonObject* packaging = r.Object("packaging"); packaging != nullptr && *status) {
    d.packaging =
        ReadPackaging(FieldReader{*packaging, r.Path("packaging"), status}, d.id, base_dir, keys);
  }
  if (const JsonObject* incidents = r.Object("incidents"); incidents != nullptr && *status) {
    d.incidents = ReadIncidents(FieldReader{*incidents, r.Path("incidents"), status}, d.id);
  }
  return d;
}

KeyMap ReadKeys(const FieldReader& root, Status* status) {
  KeyMap keys;
  const JsonObject* o = root.Object("keys");
  if (o == nullptr) return keys;
  if (o->size() > 256) root.Error("keys", "must hold at most 256 keys");
  for (const auto& kv : *o) {
    if (!*status) break;
    const std::string name(kv.key());
    const std::string at = "keys." + name;
    if (!ValidName(name)) {
      *status =
          Fail(errc::kBadRequest, at + ": key names must be 1-64 characters of [A-Za-z0-9._-]");
      break;
    }
    if (!kv.value().is_string()) {
      *status = Fail(errc::kBadRequest, at + ": must be a public key such as \"sign:<64 hex>\"");
      break;
    }
    auto key = package::ParsePublicKey(kv.value().get_string());
    if (!key) {
      *status = Fail(errc::kBadRequest, at + ": " + key.error().message);
      break;
    }
    keys.emplace(name, *key);
  }
  return keys;
}

StatusReportTarget ReadReport(const FieldReader& r) {
  r.OnlyKnown({"url", "headers", "interval", "timeout", "comment"});
  StatusReportTarget t;
  t.url = r.Str("url", true);
  if (*r.status && t.url.rfind("http://", 0) != 0 && t.url.rfind("https://", 0) != 0) {
    r.Error("url", "must be an http:// or https:// URL");
  }
  if (*r.status) {
    const auto authority = t.url.substr(t.url.find("//") + 2);
    if (authority.substr(0, authority.find('/')).find('@') != std::string::npos) {
      r.Error("url", "must not hold user information (put credentials in headers)");
    }
  }
  t.headers = ReadHeaders(r, "headers");
  t.interval = r.Duration("interval", t.interval);
  if (*r.status && (t.interval < std::chrono::seconds(1) || t.interval > std::chrono::hours(1))) {
    r.Error("interval", "must be from 1s to 1h");
  }
  t.timeout = r.Duration("timeout", t.timeout);
  if (*r.status &&
      (t.timeout < std::chrono::milliseconds(100) || t.timeout > std::chrono::minutes(1))) {
    r.Error("timeout", "must be from 100ms to 1m");
  }
  return t;
}

}  // namespace

EnvLookup ProcessEnvLookup() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<Bootstrap> ParseBootstrap(std::string_view text, const std::string& path,
                                 const EnvLookup& env, bool read_secret_files) {
  const auto prefixed = [&](const Error& e) {
    return Fail(errc::kBadRequest, path + ": " + e.message);
  };
  JsonParseOptions po;
  po.quote_values_in_errors = false;  // the document holds secrets
  auto doc = ParseJson(text, po);
  if (!doc) return prefixed(doc.error());
  if (!doc->is_object()) return Fail(errc::kBadRequest, path + ": must be a JSON object");

  // Relative paths in the bootstrap are the bootstrap's directory's, whatever the working
  // directory later: made absolute once, here.
  std::error_code abs_ec;
  const std::string base_dir = fs::absolute(fs::path(path), abs_ec).parent_path().string();
  if (abs_ec) return Fail(errc::kBadRequest, path + ": " + abs_ec.message());
  Status status;
  const FieldReader root{doc->get_object(), "", &status};
  root.OnlyKnown({"secret_files", "deployments", "keys", "report", "comment"});
  if (!status) return prefixed(status.error());

  std::map<std::string, std::string> file_secrets;
  if (const JsonArray* files = read_secret_files ? root.Array("secret_files") : nullptr) {
    for (std::size_t i = 0; i < files->size(); ++i) {
      if (!(*files)[i].is_string()) {
        return Fail(errc::kBadRequest,
                    path + ": secret_files[" + std::to_string(i) + "]: must be a file path");
      }
      const std::string f = Absolute(base_dir, std::string((*files)[i].get_string()));
      if (auto st = ReadSecretFile(f, &file_secrets); !st) {
        return Fail(errc::kBadRequest,
                    path + ": secret_files[" + std::to_string(i) + "]: " + st.error().message);
      }
    }
  }
  if (!status) return prefixed(status.error());

  std::set<std::string> secrets;
  for (const auto& kv : file_secrets) {
    if (!kv.second.empty()) secrets.insert(kv.second);
  }
  JsonValue* deployments = doc->get_object().if_contains("deployments");
  if (deployments == nullptr || !deployments->is_array() || deployments->get_array().empty()) {
    return Fail(errc::kBadRequest, path + ": deployments: must be a non-empty array");
  }
  Substituter sub{file_secrets, env, &secrets, std::nullopt};
  if (auto st = sub.Apply(*deployments, "deployments"); !st) return prefixed(st.error());
  if (JsonValue* report = doc->get_object().if_contains("report")) {
    if (auto st = sub.Apply(*report, "report"); !st) return prefixed(st.error());
  }
  const KeyMap keys = ReadKeys(root, &status);
  if (!status) return prefixed(status.error());

  std::string data_dir = "data";
  if (env) {
    if (auto d = env("OPSORCH_DATA_DIR"); d && !d->empty()) data_dir = *d;
  }
  data_dir = fs::absolute(data_dir).lexically_normal().string();

  Bootstrap b;
  b.path = path;
  if (const JsonObject* report = root.Object("report")) {
    b.report = ReadReport(FieldReader{*report, "report", &status});
    if (!status) return prefixed(status.error());
    for (const auto& [name, value] : b.report.headers) secrets.insert(value);
  }
  std::set<std::string> ids;
  std::map<std::string, std::string> persistence;  // directory → where the deployment is
  const auto& arr = deployments->get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const std::string where = "deployments[" + std::to_string(i) + "]";
    if (!arr[i].is_object())
      return Fail(errc::kBadRequest, path + ": " + where + ": must be an object");
    Deployment d = ReadDeployment(arr[i].get_object(), where, base_dir, data_dir, keys, &status);
    if (!status) return prefixed(status.error());
    if (!ids.insert(d.id).second) {
      // Not quoted when a ${VAR} value (a secret) went into it.
      const bool secret = std::any_of(secrets.begin(), secrets.end(), [&](const std::string& s) {
        return d.id.find(s) != std::string::npos;
      });
      return Fail(errc::kBadRequest, path + ": " + where + ".id: " +
                                         (secret ? std::string("the id") : "\"" + d.id + "\"") +
                                         " is used by another deployment");
    }
    const JsonValue* enabled = arr[i].get_object().if_contains("enabled");
    if (enabled != nullptr && !enabled->is_bool()) {
      return Fail(errc::kBadRequest, path + ": " + where + ".enabled: must be true or false");
    }
    if (enabled != nullptr && !enabled->get_bool()) continue;
    // Step state, spools and the anti-rollback record are per deployment: two running ones
    // sharing a directory would read each other's.
    if (auto [it, fresh] = persistence.emplace(d.persistence_dir, where); !fresh) {
      return Fail(errc::kBadRequest, path + ": " + where +
                                         ".persistence_dir: is also the directory of " +
                                         it->second + " (each deployment needs its own)");
    }
    // Header values are credentials more often than not (Authorization, API keys), written
    // literally or through ${VAR}.
    for (const auto& [id, host] : d.hosts) {
      CollectStrings(JsonValue(host.data), &secrets);
      for (const auto& [name, value] : host.policy.headers) secrets.insert(value);
    }
    for (const auto& o : d.outputs) {
      for (const auto& [name, value] : o.headers) secrets.insert(value);
    }
    for (const auto& [name, value] : d.config.headers) secrets.insert(value);
    if (d.packaging) secrets.insert(d.packaging->policy.recipient.Text());
    // A routing key written literally is as much a credential as one from ${VAR}.
    if (d.incidents) secrets.insert(d.incidents->routing_key);
    b.deployments.push_back(std::move(d));
  }
  // Longest first, so that a secret containing another is masked whole.
  b.secrets.assign(secrets.begin(), secrets.end());
  std::stable_sort(b.secrets.begin(), b.secrets.end(),
                   [](const std::string& a, const std::string& c) { return a.size() > c.size(); });
  return b;
}

Result<Bootstrap> LoadBootstrap(const std::string& path, const EnvLookup& env,
                                bool read_secret_files) {
  auto text = ReadTextFile(path, kMaxBootstrapBytes);
  if (!text) return Fail(text.error());
  return ParseBootstrap(*text, path, env, read_secret_files);
}

}  // namespace opsorch::workflow
