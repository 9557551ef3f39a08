#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <utility>

#include <boost/json/serialize.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/api/api.h>
#include <opsorch/app/app.h>
#include <opsorch/app/providers.h>
#include <opsorch/common/blocking_pool.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/console/console.h>
#include <opsorch/demo/demo_world.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/routes.h>
#include <opsorch/engine/seed.h>
#include <opsorch/http/server.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/net/http_client.h>
#include <opsorch/orchestration/runbooks.h>
#include <opsorch/plugin/plugin_host.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/registry.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/provider_config.h>
#include <opsorch/workflow/metric_output.h>
#include <opsorch/workflow/runtime.h>
#include <opsorch/workflow/service.h>

namespace opsorch::app {
namespace {

using providers::Capability;

// Creates `path` containing "{}" if it does not exist yet (demo secret store).
Status EnsureJsonFile(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Fail(errc::kInternal, "cannot create " + path + ": " + ec.message());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Ok();
    return Fail(errc::kInternal, "cannot create " + path + ": " + std::strerror(errno));
  }
  const bool ok = ::write(fd, "{}\n", 3) == 3 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return Fail(errc::kInternal, "cannot write " + path);
  return Ok();
}

}  // namespace

struct App::Impl {
  config::Config config;
  AppOptions options;
  providers::ProviderRegistry registry;
  metrics::Registry metrics;
  // The workflow runtime (with a bootstrap) and the store of what it emitted, which the
  // `workflow` metric provider reads: both outlive the providers.
  std::unique_ptr<workflow::MetricStore> workflow_metrics;
  std::unique_ptr<workflow::Runtime> workflows;
  // Declared before the providers: they are destroyed first, handing their plugin processes to
  // the host, which stops them in order.
  std::unique_ptr<plugin::PluginHost> plugins;
  // Before the providers and the API, which refer to it.
  std::mutex engine_mu;
  std::unique_ptr<engine::Engine> engine;
  std::atomic<engine::Engine*> engine_ptr{nullptr};
  // Runbooks and their runner, opened with the engine (whose store keeps them). ~Impl stops the
  // runner before the engine and frees it after the engine has answered its last write.
  std::unique_ptr<orchestration::Runbooks> runbooks;
  std::atomic<orchestration::Runbooks*> runbooks_ptr{nullptr};
  std::atomic<bool> shutting_down{false};
  providers::ProviderSet providers;
  std::unique_ptr<api::Api> api;
  // After the API: destroyed first, finishing queued provider calls while the API still exists.
  std::unique_ptr<BlockingPool> pool;
  std::unique_ptr<http::Server> server;

  ~Impl() {
    shutting_down.store(true);  // the workflow runtime's flush must not open an engine now
    server.reset();             // drains in-flight requests within the shutdown grace
    // Plugin calls that outlived the drain must not hold the pool's threads until their
    // deadline: end them, then join the pool.
    if (plugins) plugins->AbortCalls();
    pool.reset();
    // The engine's writer answers queued events through the API's callbacks: stop it (it
    // commits and answers what is queued) while the API still exists.
    runbooks_ptr.store(nullptr);
    if (runbooks) runbooks->Stop();  // its last results are written through the engine
    // The runtime's last incident events go into the engine: stopped before it (the metric
    // store outlives it and the providers).
    if (workflows) workflows->Stop();
    engine_ptr.store(nullptr);
    engine.reset();
    runbooks.reset();
  }

  // `--demo` without a bootstrap of the operator's: the demo's workflow (src/demo), written under
  // the data directory so that its state survives restarts like any deployment's.
  Status WriteDemoWorkflow() {
    namespace fs = std::filesystem;
    const fs::path dir = fs::absolute(fs::path(config.data_dir) / "demo-workflow");
    std::error_code ec;
    fs::create_directories(dir / "state", ec);
    if (ec) return Fail(errc::kInternal, "cannot create " + dir.string() + ": " + ec.message());
    JsonObject deployment{
        {"id", "demo"},
        {"config", JsonObject{{"file", "workflow.json"}}},
        {"persistence_dir", (dir / "state").string()},
        // The demo seed's documented key of svc-database: a breach opens an incident there.
        {"incidents",
         JsonObject{{"routing_key", "demo-routing-key-000000000000002"}, {"source", "demo"}}}};
    const std::string boot =
        boost::json::serialize(JsonObject{{"deployments", JsonArray{std::move(deployment)}}});
    for (const auto& [name, text] :
         {std::pair<std::string, std::string_view>{"workflow.json", demo::WorkflowJson()},
          {"bootstrap.json", boot}}) {
      const fs::path tmp = dir / (name + ".tmp");
      {
        std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
        out << text;
        if (!out.flush()) return Fail(errc::kInternal, "cannot write " + tmp.string());
      }
      fs::rename(tmp, dir / name, ec);
      if (ec) return Fail(errc::kInternal, "cannot write " + (dir / name).string());
    }
    config.workflow_bootstrap = (dir / "bootstrap.json").string();
    return Ok();
  }

  Status StartWorkflows() {
    bool demo_workflow = false;
    if (options.demo && config.workflow_bootstrap.empty()) {
      if (auto st = WriteDemoWorkflow(); !st) return st;
      demo_workflow = true;
    }
    if (config.workflow_bootstrap.empty()) return Ok();
    // Incident events of deployments without an incidents url go to this server's own engine,
    // opened on first use as for a `local` capability (the runtime starts before it), through
    // what POST /v2/enqueue does. Called on the runtime's sender thread. Once the engine was
    // open and is gone again (shutdown), an event must not open it anew: it is refused as
    // unavailable.
    auto engine_seen = std::make_shared<std::atomic<bool>>(false);
    workflow::IncidentSink sink = [this, engine_seen](std::string body,
                                                      std::function<void(int)> done) {
      if (shutting_down.load() ||
          (engine_seen->load() && engine_ptr.load(std::memory_order_acquire) == nullptr)) {
        return done(503);
      }
      auto opened = EngineOrOpen();
      if (!opened) {
        log::Warn("workflow incident event not delivered: " + opened.error().message);
        return done(500);
      }
      engine_seen->store(true);
      engine::DecodeLimits limits;
      limits.max_webhook_body_bytes = config.body_limit;
      engine::EnqueueEventsV2(**opened, std::move(body), limits, std::move(done));
    };
    auto started = workflow::Runtime::StartFromFile(config.workflow_bootstrap,
                                                    workflow_metrics.get(), std::move(sink));
    if (!started && demo_workflow) {
      // The demo still serves everything else (its runbooks' workflow steps then fail, saying
      // why): e.g. an opsorch binary without its script worker beside it.
      log::Warn("demo workflow not started: " + started.error().message);
      config.workflow_bootstrap.clear();
      return Ok();
    }
    if (!started) return Fail(errc::kBadRequest, "workflow runtime: " + started.error().message);
    workflows = std::move(*started);
    // The runtime's own metrics on this server's /metrics (the server, which serves them, is
    // stopped before the runtime is destroyed).
    metrics.AddCollector([rt = workflows.get()](std::string& out) { out += rt->RenderMetrics(); });
    return Ok();
  }

  // The registry's plugin factory. A path from the operator's environment is trusted as it
  // is; a path set through the API (or stored by it) must resolve into OPSORCH_PLUGIN_DIRS.
  Result<providers::BuiltProvider> BuildPlugin(Capability cap,
                                               const providers::ProviderSpec& spec) {
    std::string path = spec.plugin;
    if (spec.plugin_from_api) {
      auto allowed = plugin::ResolveAllowedPluginPath(spec.plugin, config.plugin_dirs);
      if (!allowed) {
        log::Warn("plugin path refused", {{"capability", providers::Name(cap)},
                                          {"path", spec.plugin},
                                          {"reason", allowed.error().message}});
        return Fail(std::move(allowed.error()));
      }
      path = std::move(*allowed);  // the resolved file, so a later symlink swap changes nothing
    }
    plugin::PluginSettings ps;
    ps.environment = process::MinimalEnvironment(config.plugin_env);
    ps.call_timeout = config.plugin_timeout;
    ps.stop_grace = config.plugin_stop_grace;
    ps.max_response_bytes = config.plugin_max_response;
    ps.pool_size = config.For(cap).plugin_pool;
    return plugins->Create(cap, path, spec.config, ps);
  }

  // Where outbound page receivers may be private-class addresses (OPSORCH_OUTBOUND_ALLOW_NETS).
  std::shared_ptr<const net::NetList> allow_nets;

  // Where links in messages point: OPSORCH_PUBLIC_URL, else this server's own address.
  std::string PublicUrl() const {
    if (!config.public_url.empty()) return config.public_url;
    auto hp = config::SplitHostPort(config.addr);
    std::string host = hp ? hp->first : "";
    if (host.empty() || host == "0.0.0.0" || host == "::") host = "localhost";
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    const std::string scheme = config.tls_cert_file.empty() ? "http" : "https";
    return scheme + "://" + host + ":" + std::to_string(hp ? hp->second : 8080);
  }

  // The incident engine, opened on first use (a capability configured with `local`).
  Result<engine::Engine*> EngineOrOpen() {
    std::lock_guard lock(engine_mu);
    if (engine) return engine.get();
    engine::EngineOptions eo;
    eo.store_url =
        config.engine_store.empty()
            ? "sqlite:" + (std::filesystem::path(config.data_dir) / "opsorch.db").string()
            : config.engine_store;
    if (!eo.store_url.starts_with("postgres")) {
      std::error_code ec;
      std::filesystem::create_directories(config.data_dir, ec);
    }
    eo.hold_resolve_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(config.engine_hold_resolve).count();
    eo.reopen_window_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(config.engine_reopen_window).count();
    eo.incident_retention = std::chrono::hours(24 * config.engine_incident_retention_days);
    eo.alert_retention = std::chrono::hours(24 * config.engine_alert_retention_days);
    eo.store.pg_pool = static_cast<std::size_t>(config.engine_pg_pool);
    eo.store.pg_pool_wait = config.engine_pg_pool_wait;
    eo.store.pg_statement_timeout = config.engine_pg_statement_timeout;
    eo.store.pg_reconnect_max = config.engine_pg_reconnect_max;
    eo.warm_sla_cache = true;  // the console's status counters and the first SLA report
    eo.public_url = PublicUrl();
    eo.outbound_allow_nets = allow_nets;
    eo.smtp_url = config.smtp_url;
    eo.smtp_from = config.smtp_from;
    eo.smtp_username = config.smtp_username;
    eo.smtp_password = config.smtp_password;
    eo.smtp_require_tls = config.smtp_require_tls;
    eo.paging_lease = config.paging_lease;
    auto opened = engine::Engine::Open(eo, &metrics);
    if (!opened) {
      return Fail(errc::kBadRequest, "incident engine: " + opened.error().message);
    }
    // The demo's history first (its old incidents start no runbook), then the runbooks, then
    // the operator's seed, whose events start the runbooks their services name.
    if (options.demo) {
      if (auto st = engine::ApplySeed(**opened, engine::DemoSeed(PublicUrl())); !st) {
        return Fail(errc::kBadRequest, "incident engine demo seed: " + st.error().message);
      }
    }
    if (auto st = OpenRunbooks(**opened, eo.store_url.starts_with("postgres")); !st) {
      return Fail(std::move(st.error()));
    }
    if (!config.engine_seed_file.empty()) {
      std::string text;
      if (const int err = ReadWholeFile(config.engine_seed_file, text, 64u << 20); err != 0) {
        CloseRunbooks();
        return Fail(errc::kBadRequest, "OPSORCH_ENGINE_SEED: cannot read " +
                                           config.engine_seed_file + ": " + ErrnoText(err));
      }
      if (auto st = engine::ApplySeed(**opened, text); !st) {
        CloseRunbooks();
        return Fail(errc::kBadRequest, "OPSORCH_ENGINE_SEED: " + st.error().message);
      }
    }
    log::Info("incident engine: store " +
              (eo.store_url.starts_with("postgres") ? std::string("postgres") : eo.store_url));
    engine = std::move(*opened);
    engine_ptr.store(engine.get());
    runbooks_ptr.store(runbooks.get());
    return engine.get();
  }

  // The runbook runner over the engine's store; services' runbooks start from the engine's
  // incident hook. With engine_mu held.
  Status OpenRunbooks(engine::Engine& eng, bool shared_store) {
    orchestration::RunbooksOptions ro;
    ro.engine = &eng;
    ro.workflows = [this] { return workflows.get(); };
    ro.workflow_metrics = workflows ? workflow_metrics.get() : nullptr;
    ro.runbook_dir = !config.runbook_dir.empty()
                         ? config.runbook_dir
                         : (std::filesystem::path(config.data_dir) / "runbooks").string();
    ro.threads = static_cast<unsigned>(config.runbook_threads);
    ro.retention = std::chrono::hours(24 * config.runbook_retention_days);
    ro.single_node = !shared_store;
    ro.metrics = &metrics;
    auto opened = orchestration::Runbooks::Open(std::move(ro));
    if (!opened) return Fail(errc::kBadRequest, "runbooks: " + opened.error().message);
    runbooks = std::move(*opened);
    if (options.demo) {
      auto docs = ParseJson(demo::RunbooksJson());
      for (const JsonValue& doc : docs && docs->is_array() ? docs->get_array() : JsonArray()) {
        const std::string text = boost::json::serialize(doc);
        const JsonValue* id = doc.is_object() ? doc.get_object().if_contains("id") : nullptr;
        auto put = runbooks->PutRunbook(id != nullptr && id->is_string() ? id->get_string() : "",
                                        text, "demo");
        if (!put) {
          CloseRunbooks();
          return Fail(errc::kInternal, "demo runbook: " + put.error().message);
        }
      }
    }
    eng.SetIncidentHook([rb = runbooks.get()](engine::Tx& tx, const engine::IncidentTriggered& t) {
      return rb->OnIncidentTriggered(tx, t);
    });
    return Ok();
  }

  // A failed start after the runbooks opened: their runner stops while its engine still runs.
  void CloseRunbooks() {
    if (!runbooks) return;
    runbooks->Stop();
    runbooks.reset();
  }

  Result<orchestration::Runbooks*> RunbooksOrOpen() {
    if (auto e = EngineOrOpen(); !e) return Fail(std::move(e.error()));
    std::lock_guard lock(engine_mu);
    if (!runbooks) return Fail(errc::kInternal, "runbooks are not open");
    return runbooks.get();
  }

  // Contract §9: env wins; else the stored config; else unconfigured (or mock in demo mode).
  Result<providers::BuiltProvider> Resolve(Capability cap) {
    const config::CapabilitySettings& s = config.For(cap);
    if (s.config_error) return Fail(*s.config_error);
    if (s.FromEnv()) return registry.Build(cap, {s.provider, s.plugin, s.config, false});
    if (auto secret = providers.Get<providers::SecretProvider>()) {
      const std::string key = "providers/" + std::string(providers::Name(cap)) + "/default";
      auto stored = secret->Get(key);
      if (stored) {
        auto parsed = schema::Decode<schema::ProviderConfig>(*stored);
        if (!parsed) {
          return Fail(errc::kBadRequest,
                      "invalid stored config " + key + ": " + parsed.error().message);
        }
        const JsonObject cfg = parsed->config ? *parsed->config : JsonObject();
        if (!parsed->plugin.empty()) {
          // Stored through the API, perhaps before the operator narrowed OPSORCH_PLUGIN_DIRS:
          // refused, but the server still starts (the capability stays unconfigured).
          if (auto allowed = plugin::ResolveAllowedPluginPath(parsed->plugin, config.plugin_dirs);
              !allowed) {
            log::Error("plugin path refused: the stored config of " +
                           std::string(providers::Name(cap)) + " is not loaded",
                       {{"path", parsed->plugin}, {"reason", allowed.error().message}});
            return providers::BuiltProvider{};
          }
        }
        return registry.Build(cap, {parsed->provider, parsed->plugin, cfg, true});
      }
      // The reference swallows this silently; we say why (contract §13 #8). A missing key is
      // the normal case and is only worth a debug line.
      log::Write(stored.error().code == errc::kNotFound ? log::Level::kDebug : log::Level::kWarn,
                 "stored provider config not loaded",
                 {{"capability", providers::Name(cap)}, {"error", stored.error().message}});
    }
    if (cap == Capability::kMetric && workflows && !options.demo) {
      // The runtime's metrics answer /metrics/* unless something else is configured for it (the
      // demo keeps its mock world's metrics, which the console's charts show).
      log::Info("capability metric served by workflow (nothing else configured for it)");
      return registry.Build(cap, {"workflow", {}, {}, false});
    }
    if (options.demo && cap != Capability::kSecret) {
      // The demo serves incidents, alerts, services and teams from the incident engine (so
      // that events sent to /v2/enqueue show up), the rest from the mock world.
      const bool local = cap == Capability::kIncident || cap == Capability::kAlert ||
                         cap == Capability::kService || cap == Capability::kTeam ||
                         cap == Capability::kOrchestration;
      return registry.Build(cap, {local ? "local" : "mock", {}, {}, false});
    }
    return providers::BuiltProvider{};
  }

  Status ConfigureSecret() {
    config::CapabilitySettings& s = config.For(Capability::kSecret);
    if (s.config_error) return Fail(*s.config_error);
    if (!s.FromEnv() && options.demo) {
      const std::string path = (std::filesystem::path(config.data_dir) / "secrets.json").string();
      if (auto st = EnsureJsonFile(path); !st) return st;
      s.provider = "json";
      s.config = JsonObject{{"path", path}};
    }
    if (!s.FromEnv()) return Ok();
    auto p = registry.Build(Capability::kSecret, {s.provider, s.plugin, s.config, false});
    if (!p) return Fail(std::move(p.error()));
    providers.Set(Capability::kSecret, std::move(*p));
    return Ok();
  }

  Status ConfigureCapabilities() {
    for (Capability cap : providers::kStartupOrder) {
      if (cap == Capability::kSecret) continue;
      auto p = Resolve(cap);
      if (!p) {
        if (providers::StartupFailureIsFatal(cap)) return Fail(std::move(p.error()));
        log::Error("Failed to initialize " + std::string(providers::Name(cap)) +
                   " provider: " + p.error().message);
        continue;
      }
      providers.Set(cap, std::move(*p));
    }
    return Ok();
  }
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
App::~App() = default;

Result<std::unique_ptr<App>> App::Create(config::Config config, AppOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->options = options;
  const config::Config& c = impl->config;

  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return Fail(errc::kBadRequest,
                "both OPSORCH_TLS_CERT_FILE and OPSORCH_TLS_KEY_FILE must be set together");
  }
  impl->workflow_metrics = std::make_unique<workflow::MetricStore>();
  if (auto st = impl->StartWorkflows(); !st) return Fail(std::move(st.error()));
  {
    // The demo pages its own sink on loopback; anything else needs the operator's word.
    const std::string allow = !c.outbound_allow_nets.empty() ? c.outbound_allow_nets
                              : options.demo                 ? "127.0.0.0/8,::1/128"
                                                             : "";
    if (!allow.empty()) {
      auto nets = net::ParseNetList(allow);
      if (!nets) {
        return Fail(errc::kBadRequest,
                    "invalid OPSORCH_OUTBOUND_ALLOW_NETS: " + nets.error().message);
      }
      impl->allow_nets = std::make_shared<const net::NetList>(std::move(*nets));
    }
  }
  ProviderSources sources;
  sources.outbound_allow_nets = impl->allow_nets;
  sources.engine = [raw = impl.get()] { return raw->EngineOrOpen(); };
  sources.runbooks = [raw = impl.get()] { return raw->RunbooksOrOpen(); };
  sources.workflow_metrics = impl->workflows ? impl->workflow_metrics.get() : nullptr;
  sources.plugins = [raw = impl.get()](Capability cap, const providers::ProviderSpec& spec) {
    return raw->BuildPlugin(cap, spec);
  };
  if (auto st = RegisterProviders(impl->registry, std::move(sources)); !st) {
    return Fail(std::move(st.error()));
  }
  impl->plugins = std::make_unique<plugin::PluginHost>(&impl->metrics);
  impl->pool = std::make_unique<BlockingPool>(c.blocking_threads);
  if (auto st = impl->ConfigureSecret(); !st) return Fail(std::move(st.error()));
  if (auto st = impl->ConfigureCapabilities(); !st) return Fail(std::move(st.error()));

  api::ApiOptions api_options;
  api_options.cors_origin = c.cors_origin;
  api_options.bearer_token = c.bearer_token;
  api_options.metrics_token = c.metrics_token;
  api_options.access_log = c.access_log;
  api_options.extra_schemas = engine::RouteSchemas();
  console::SessionOptions session_options;
  session_options.idle = std::chrono::duration_cast<std::chrono::seconds>(c.console_session_idle);
  session_options.max_age = std::chrono::duration_cast<std::chrono::seconds>(c.console_session_max);
  auto sessions = std::make_shared<console::Sessions>(std::move(session_options));
  api_options.sessions = sessions;
  // The route table: the contract's routes, then the incident engine's.
  api::RouteTable routes = api::CoreRoutes(api::CoreRoutesContext{
      impl->registry, impl->providers, impl->metrics, impl->pool.get(), c.json_max_depth});
  engine::EngineRoutesContext engine_routes;
  engine_routes.engine = [raw = impl.get()] {
    return raw->engine_ptr.load(std::memory_order_acquire);
  };
  engine_routes.limits.max_webhook_body_bytes = c.body_limit;
  engine_routes.metrics = &impl->metrics;
  for (auto* table :
       {&engine::IngestRoutes, &engine::AdminRoutes, &engine::PagingRoutes,
        &engine::AlertmanagerRoutes, &engine::QuietRoutes, &engine::StatusPageRoutes}) {
    for (auto& r : (*table)(engine_routes)) routes.push_back(std::move(r));
  }
  if (options.demo) {
    for (auto& r : engine::DemoSinkRoutes()) routes.push_back(std::move(r));
  }
  for (auto& r : orchestration::Routes(
           {[raw = impl.get()] { return raw->runbooks_ptr.load(std::memory_order_acquire); }})) {
    routes.push_back(std::move(r));
  }
  {
    // The workflow configuration service: packages and agents under the data directory (the
    // directory is created on the first upload).
    workflow::service::ServiceOptions wso;
    wso.dir = (std::filesystem::path(c.data_dir) / "workflow-service").string();
    auto wf = workflow::service::ConfigService::Open(std::move(wso));
    if (!wf) return Fail(std::move(wf.error()));
    for (auto& r : workflow::service::Routes(
             {std::move(*wf), c.bearer_token, &impl->metrics, impl->pool.get()})) {
      routes.push_back(std::move(r));
    }
  }
  for (auto& r :
       console::ConsoleRoutes({c.bearer_token, c.console_dir, sessions, &impl->metrics})) {
    routes.push_back(std::move(r));
  }
  auto api = api::Api::Create(std::move(api_options), std::move(routes), impl->providers,
                              impl->metrics, impl->pool.get());
  if (!api) return Fail(std::move(api.error()));
  impl->api = std::move(*api);

  auto hp = config::SplitHostPort(c.addr);
  if (!hp) return Fail(std::move(hp.error()));
  http::ServerOptions so;
  so.host = config::ListenHost(c, options.demo);
  so.port = hp->second;
  so.threads = c.http_threads;
  so.body_limit = c.body_limit;
  so.header_limit = c.header_limit;
  so.idle_timeout = c.idle_timeout;
  so.read_timeout = c.read_timeout;
  so.shutdown_grace = c.shutdown_grace;
  so.tls_cert_file = c.tls_cert_file;
  so.tls_key_file = c.tls_key_file;
  so.handle_signals = options.handle_signals;
  // Plugin calls still running when the drain grace expires are ended, so that their clients
  // get a 502 instead of a dropped connection and no thread waits out a plugin deadline.
  so.on_grace_expired = [raw = impl.get()] { raw->plugins->AbortCalls(); };
  auto server = http::Server::Create(so, *impl->api);
  if (!server) return Fail(std::move(server.error()));
  impl->server = std::move(*server);
  log::Info("opsorch core api listening on " + so.host + ":" +
            std::to_string(impl->server->Port()));
  if (c.bearer_token.empty() && !config::IsLoopbackHost(so.host)) {
    log::Warn(
        "WARNING: no OPSORCH_BEARER_TOKEN is set and the API listens on " + so.host +
        ", which is reachable from other machines: anyone who can connect can read and change "
        "incidents and configuration. Set OPSORCH_BEARER_TOKEN, or listen on 127.0.0.1 "
        "(OPSORCH_ADDR=127.0.0.1:" +
        std::to_string(impl->server->Port()) + "); see docs/CONFIGURATION.md (threat model)");
  }
  return std::unique_ptr<App>(new App(std::move(impl)));
}

std::uint16_t App::Port() const { return impl_->server->Port(); }
void App::Run() { impl_->server->Run(); }
void App::Stop() { impl_->server->Stop(); }
providers::ProviderSet& App::Providers() { return impl_->providers; }
const api::RouteTable& App::Routes() const { return impl_->api->Routes(); }

}  // namespace opsorch::app
