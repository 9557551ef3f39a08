#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include <opsorch/common/duration.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/strings.h>
#include <opsorch/config/config.h>

namespace opsorch::config {
namespace {

using providers::Capability;

Result<std::uint64_t> ParseUnsigned(std::string_view name, std::string_view v) {
  std::uint64_t out = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), out);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
    return Fail(errc::kBadRequest, "invalid " + std::string(name) + ": \"" + std::string(v) +
                                       "\" is not a non-negative integer");
  }
  return out;
}

Result<bool> ParseBool(std::string_view name, std::string_view v) {
  const std::string l = ToLower(v);
  if (l == "1" || l == "true" || l == "yes" || l == "on") return true;
  if (l == "0" || l == "false" || l == "no" || l == "off") return false;
  return Fail(errc::kBadRequest, "invalid " + std::string(name) + ": \"" + std::string(v) +
                                     "\" is not a boolean (true/false)");
}

// Non-empty, trimmed items of a `sep`-separated list.
std::vector<std::string_view> Split(std::string_view list, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const std::size_t at = list.find(sep);
    if (std::string_view item = TrimSpace(list.substr(0, at)); !item.empty()) out.push_back(item);
    if (at == std::string_view::npos) return out;
    list.remove_prefix(at + 1);
  }
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  s = TrimSpace(s);
  // A bare number is seconds (friendlier in env vars); everything else is Go syntax.
  std::int64_t seconds = 0;
  if (auto r = std::from_chars(s.data(), s.data() + s.size(), seconds);
      !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) {
    if (seconds < 0) return Fail(errc::kBadRequest, "duration must not be negative");
    if (seconds > std::numeric_limits<std::int64_t>::max() / 1000) {
      return Fail(errc::kBadRequest, "duration \"" + std::string(s) + "\" is out of range");
    }
    return std::chrono::milliseconds(seconds * 1000);
  }
  auto ns = ParseGoDuration(s);
  if (!ns) return Fail(std::move(ns.error()));
  if (*ns < 0) return Fail(errc::kBadRequest, "duration must not be negative");
  return std::chrono::milliseconds(*ns / 1'000'000);
}

Result<std::pair<std::string, std::uint16_t>> SplitHostPort(std::string_view addr) {
  const auto colon = addr.rfind(':');
  if (colon == std::string_view::npos) {
    return Fail(errc::kBadRequest,
                "invalid OPSORCH_ADDR \"" + std::string(addr) + "\": expected host:port or :port");
  }
  std::string host(addr.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port_text = addr.substr(colon + 1);
  std::uint32_t port = 0;
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port > 65535) {
    return Fail(errc::kBadRequest, "invalid OPSORCH_ADDR \"" + std::string(addr) + "\": bad port");
  }
  return std::make_pair(std::move(host), static_cast<std::uint16_t>(port));
}

std::string ListenHost(const Config& c, bool demo) {
  if (demo && !c.addr_from_env) return "127.0.0.1";
  auto hp = SplitHostPort(c.addr);
  if (!hp || hp->first.empty()) return "0.0.0.0";
  return hp->first;
}

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Result<Config> LoadFromEnv(const EnvLookup& env) {
  Config c;
  const auto get = [&](std::string_view name) { return env(name).value_or(""); };

  if (auto v = env("OPSORCH_ADDR"); v && !TrimSpace(*v).empty()) {
    c.addr = TrimSpace(*v);
    c.addr_from_env = true;
  }
  if (auto v = env("OPSORCH_CORS_ORIGIN"); v && !v->empty()) c.cors_origin = *v;
  c.bearer_token = TrimSpace(get("OPSORCH_BEARER_TOKEN"));
  c.metrics_token = TrimSpace(get("OPSORCH_METRICS_TOKEN"));
  c.tls_cert_file = TrimSpace(get("OPSORCH_TLS_CERT_FILE"));
  c.tls_key_file = TrimSpace(get("OPSORCH_TLS_KEY_FILE"));

  for (Capability cap : providers::kStartupOrder) {
    const std::string prefix = "OPSORCH_" + std::string(providers::EnvName(cap));
    CapabilitySettings& s = c.For(cap);
    s.provider = ToLower(TrimSpace(get(prefix + "_PROVIDER")));
    s.plugin = TrimSpace(get(prefix + "_PLUGIN"));
    if (const std::string pool(TrimSpace(get(prefix + "_PLUGIN_POOL"))); !pool.empty()) {
      auto n = ParseUnsigned(prefix + "_PLUGIN_POOL", pool);
      if (!n) return Fail(std::move(n.error()));
      if (*n == 0 || *n > 64) {
        return Fail(errc::kBadRequest, "invalid " + prefix + "_PLUGIN_POOL: must be 1..64");
      }
      s.plugin_pool = static_cast<unsigned>(*n);
    }
    // OPSORCH_SECRET_CONFIG is not trimmed (contract §1); the others are.
    std::string raw = get(prefix + "_CONFIG");
    std::string_view text = cap == Capability::kSecret ? std::string_view(raw) : TrimSpace(raw);
    if (text.empty()) continue;
    JsonParseOptions po;
    po.quote_values_in_errors = false;  // configs hold tokens
    auto v = ParseJson(text, po);
    const std::string what = cap == Capability::kSecret
                                 ? std::string("invalid OPSORCH_SECRET_CONFIG: ")
                                 : "invalid config in " + prefix + "_CONFIG: ";
    if (!v) {
      s.config_error = MakeError(errc::kBadRequest, what + v.error().message);
    } else if (!v->is_object()) {
      s.config_error = MakeError(errc::kBadRequest, what + "expected a JSON object");
    } else {
      s.config = std::move(v->get_object());
    }
  }

  if (auto v = env("OPSORCH_DATA_DIR"); v && !TrimSpace(*v).empty()) c.data_dir = TrimSpace(*v);
  struct SizeVar {
    std::string_view name;
    std::size_t* out;
  };
  for (const SizeVar& sv : {SizeVar{"OPSORCH_HTTP_BODY_LIMIT", &c.body_limit},
                            SizeVar{"OPSORCH_HTTP_HEADER_LIMIT", &c.header_limit},
                            SizeVar{"OPSORCH_JSON_MAX_DEPTH", &c.json_max_depth},
                            SizeVar{"OPSORCH_PLUGIN_MAX_RESPONSE", &c.plugin_max_response}}) {
    if (auto v = env(sv.name); v && !TrimSpace(*v).empty()) {
      auto n = ParseUnsigned(sv.name, TrimSpace(*v));
      if (!n) return Fail(std::move(n.error()));
      if (*n == 0)
        return Fail(errc::kBadRequest, "invalid " + std::string(sv.name) + ": must be > 0");
      *sv.out = static_cast<std::size_t>(*n);
    }
  }
  if (auto v = env("OPSORCH_HTTP_THREADS"); v && !TrimSpace(*v).empty()) {
    auto n = ParseUnsigned("OPSORCH_HTTP_THREADS", TrimSpace(*v));
    if (!n) return Fail(std::move(n.error()));
    c.http_threads = static_cast<unsigned>(*n);
  }
  const std::string plugin_dirs = get("OPSORCH_PLUGIN_DIRS");
  const std::string plugin_env = get("OPSORCH_PLUGIN_ENV");
  for (std::string_view dir : Split(plugin_dirs, ':')) {
    std::error_code ec;
    const std::filesystem::path canonical = std::filesystem::canonical(std::string(dir), ec);
    if (ec || !std::filesystem::path(dir).is_absolute() ||
        !std::filesystem::is_directory(canonical, ec)) {
      return Fail(errc::kBadRequest, "invalid OPSORCH_PLUGIN_DIRS: \"" + std::string(dir) +
                                         "\" is not an absolute path of a directory");
    }
    c.plugin_dirs.push_back(canonical.string());
  }
  for (std::string_view name : Split(plugin_env, ',')) {
    if (name.starts_with("OPSORCH_")) {
      return Fail(errc::kBadRequest, "invalid OPSORCH_PLUGIN_ENV: " + std::string(name) +
                                         ": opsorch's own variables are never passed to plugins");
    }
    if (name.find('=') != std::string_view::npos) {
      return Fail(errc::kBadRequest,
                  "invalid OPSORCH_PLUGIN_ENV: \"" + std::string(name) + "\" is not a name");
    }
    c.plugin_env.emplace_back(name);
  }
  if (auto v = env("OPSORCH_ENGINE_STORE"); v) c.engine_store = std::string(TrimSpace(*v));
  if (auto v = env("OPSORCH_ENGINE_SEED"); v) c.engine_seed_file = std::string(TrimSpace(*v));
  for (auto [name, out] :
       {std::pair<std::string_view, std::string*>{"OPSORCH_PUBLIC_URL", &c.public_url},
        {"OPSORCH_OUTBOUND_ALLOW_NETS", &c.outbound_allow_nets},
        {"OPSORCH_SMTP_URL", &c.smtp_url},
        {"OPSORCH_SMTP_FROM", &c.smtp_from},
        {"OPSORCH_SMTP_USERNAME", &c.smtp_username}}) {
    if (auto v = env(name); v) *out = std::string(TrimSpace(*v));
  }
  if (auto v = env("OPSORCH_SMTP_PASSWORD"); v) c.smtp_password = *v;  // not trimmed: a secret
  if (auto v = env("OPSORCH_SMTP_REQUIRE_TLS"); v) {
    const std::string b = ToLower(TrimSpace(*v));
    if (b != "true" && b != "false" && b != "1" && b != "0" && !b.empty()) {
      return Fail(errc::kBadRequest, "invalid OPSORCH_SMTP_REQUIRE_TLS: must be true or false");
    }
    c.smtp_require_tls = b == "true" || b == "1";
  }
  if (!c.public_url.empty() && !c.public_url.starts_with("http://") &&
      !c.public_url.starts_with("https://")) {
    return Fail(errc::kBadRequest,
                "invalid OPSORCH_PUBLIC_URL: must start with http:// or https://");
  }
  if (auto v = env("OPSORCH_WORKFLOW_BOOTSTRAP"); v) {
    c.workflow_bootstrap = std::string(TrimSpace(*v));
  }
  if (auto v = env("OPSORCH_RUNBOOK_DIR"); v) c.runbook_dir = std::string(TrimSpace(*v));
  if (auto v = env("OPSORCH_RUNBOOK_THREADS"); v) {
    std::int64_t n = 0;
    const std::string_view t = TrimSpace(*v);
    auto r = std::from_chars(t.data(), t.data() + t.size(), n);
    if (r.ec != std::errc() || r.ptr != t.data() + t.size() || n < 1 || n > 256) {
      return Fail(errc::kBadRequest, "invalid OPSORCH_RUNBOOK_THREADS: must be from 1 to 256");
    }
    c.runbook_threads = n;
  }
  struct DaysVar {
    std::string_view name;
    std::int64_t* out;
  };
  for (const DaysVar& dv :
       {DaysVar{"OPSORCH_ENGINE_INCIDENT_RETENTION_DAYS", &c.engine_incident_retention_days},
        DaysVar{"OPSORCH_ENGINE_ALERT_RETENTION_DAYS", &c.engine_alert_retention_days},
        DaysVar{"OPSORCH_RUNBOOK_RETENTION_DAYS", &c.runbook_retention_days}}) {
    if (auto v = env(dv.name); v && !TrimSpace(*v).empty()) {
      auto n = ParseUnsigned(dv.name, TrimSpace(*v));
      if (!n) return Fail(std::move(n.error()));
      if (*n < 1 || *n > 3650) {
        return Fail(errc::kBadRequest, "invalid " + std::string(dv.name) + ": must be 1..3650");
      }
      *dv.out = static_cast<std::int64_t>(*n);
    }
  }
  if (auto v = env("OPSORCH_BLOCKING_THREADS"); v && !TrimSpace(*v).empty()) {
    auto n = ParseUnsigned("OPSORCH_BLOCKING_THREADS", TrimSpace(*v));
    if (!n) return Fail(std::move(n.error()));
    if (*n == 0 || *n > 1024) {
      return Fail(errc::kBadRequest, "invalid OPSORCH_BLOCKING_THREADS: must be 1..1024");
    }
    c.blocking_threads = static_cast<unsigned>(*n);
  }
  struct DurationVar {
    std::string_view name;
    std::chrono::milliseconds* out;
  };
  for (const DurationVar& dv :
       {DurationVar{"OPSORCH_HTTP_IDLE_TIMEOUT", &c.idle_timeout},
        DurationVar{"OPSORCH_HTTP_READ_TIMEOUT", &c.read_timeout},
        DurationVar{"OPSORCH_SHUTDOWN_GRACE", &c.shutdown_grace},
        DurationVar{"OPSORCH_PLUGIN_TIMEOUT", &c.plugin_timeout},
        DurationVar{"OPSORCH_PLUGIN_STOP_GRACE", &c.plugin_stop_grace},
        DurationVar{"OPSORCH_ENGINE_REOPEN_WINDOW", &c.engine_reopen_window},
        DurationVar{"OPSORCH_ENGINE_HOLD_RESOLVE", &c.engine_hold_resolve},
        DurationVar{"OPSORCH_ENGINE_PG_POOL_WAIT", &c.engine_pg_pool_wait},
        DurationVar{"OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT", &c.engine_pg_statement_timeout},
        DurationVar{"OPSORCH_ENGINE_PG_RECONNECT_MAX", &c.engine_pg_reconnect_max},
        DurationVar{"OPSORCH_PAGING_LEASE", &c.paging_lease},
        DurationVar{"OPSORCH_CONSOLE_SESSION_IDLE", &c.console_session_idle},
        DurationVar{"OPSORCH_CONSOLE_SESSION_MAX", &c.console_session_max}}) {
    if (auto v = env(dv.name); v && !TrimSpace(*v).empty()) {
      auto d = ParseDuration(*v);
      if (!d)
        return Fail(errc::kBadRequest,
                    "invalid " + std::string(dv.name) + ": " + d.error().message);
      *dv.out = *d;
    }
  }
  for (const auto& [name, d] : {std::pair{"OPSORCH_CONSOLE_SESSION_IDLE", c.console_session_idle},
                                std::pair{"OPSORCH_CONSOLE_SESSION_MAX", c.console_session_max}}) {
    if (d < std::chrono::minutes(1) || d > std::chrono::hours(24 * 30)) {
      return Fail(errc::kBadRequest,
                  "invalid " + std::string(name) + ": must be between 1m and 720h");
    }
  }
  {
    using std::chrono::milliseconds;
    struct Bounds {
      std::string_view name;
      milliseconds value, min, max;
      std::string_view range;
    };
    for (const Bounds& b :
         {Bounds{"OPSORCH_ENGINE_PG_POOL_WAIT", c.engine_pg_pool_wait, milliseconds(0),
                 std::chrono::minutes(10), "from 0 to 10m"},
          Bounds{"OPSORCH_ENGINE_PG_STATEMENT_TIMEOUT", c.engine_pg_statement_timeout,
                 std::chrono::seconds(1), std::chrono::hours(24), "from 1s to 24h"},
          Bounds{"OPSORCH_ENGINE_PG_RECONNECT_MAX", c.engine_pg_reconnect_max, milliseconds(100),
                 std::chrono::minutes(10), "from 100ms to 10m"}}) {
      if (b.value < b.min || b.value > b.max) {
        return Fail(errc::kBadRequest,
                    "invalid " + std::string(b.name) + ": must be " + std::string(b.range));
      }
    }
  }
  if (auto v = env("OPSORCH_ENGINE_PG_POOL"); v && !TrimSpace(*v).empty()) {
    auto n = ParseUnsigned("OPSORCH_ENGINE_PG_POOL", TrimSpace(*v));
    if (!n) return Fail(std::move(n.error()));
    if (*n < 1 || *n > 1000) {
      return Fail(errc::kBadRequest, "invalid OPSORCH_ENGINE_PG_POOL: must be 1..1000");
    }
    c.engine_pg_pool = static_cast<std::int64_t>(*n);
  }
  if (auto v = env("OPSORCH_CONSOLE_DIR"); v) c.console_dir = std::string(TrimSpace(*v));
  if (c.paging_lease < std::chrono::seconds(1)) {
    return Fail(errc::kBadRequest, "invalid OPSORCH_PAGING_LEASE: must be at least 1s");
  }
  if (auto v = env("OPSORCH_LOG_FORMAT"); v && !TrimSpace(*v).empty()) {
    const std::string f = ToLower(TrimSpace(*v));
    if (f == "text") {
      c.log.format = log::Format::kText;
    } else if (f == "json") {
      c.log.format = log::Format::kJson;
    } else {
      return Fail(errc::kBadRequest, "invalid OPSORCH_LOG_FORMAT: \"" + f + "\" (text or json)");
    }
  }
  if (auto v = env("OPSORCH_LOG_LEVEL"); v && !TrimSpace(*v).empty()) {
    const std::string l = ToLower(TrimSpace(*v));
    if (l == "debug") {
      c.log.level = log::Level::kDebug;
    } else if (l == "info") {
      c.log.level = log::Level::kInfo;
    } else if (l == "warn") {
      c.log.level = log::Level::kWarn;
    } else if (l == "error") {
      c.log.level = log::Level::kError;
    } else {
      return Fail(errc::kBadRequest,
                  "invalid OPSORCH_LOG_LEVEL: \"" + l + "\" (debug, info, warn or error)");
    }
  }
  if (auto v = env("OPSORCH_ACCESS_LOG"); v && !TrimSpace(*v).empty()) {
    auto b = ParseBool("OPSORCH_ACCESS_LOG", TrimSpace(*v));
    if (!b) return Fail(std::move(b.error()));
    c.access_log = *b;
  }
  if (auto hp = SplitHostPort(c.addr); !hp) return Fail(std::move(hp.error()));
  return c;
}

}  // namespace opsorch::config
