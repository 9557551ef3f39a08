#include "support/test_server.h"

#include <opsorch/config/config.h>

namespace opsorch::testing {

Result<std::unique_ptr<TestServer>> TestServer::Start(std::map<std::string, std::string> env,
                                                      bool demo) {
  if (!env.contains("OPSORCH_ADDR")) env["OPSORCH_ADDR"] = "127.0.0.1:0";
  if (!env.contains("OPSORCH_HTTP_THREADS")) env["OPSORCH_HTTP_THREADS"] = "2";
  auto config = config::LoadFromEnv([&](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  if (!config) return Fail(std::move(config.error()));
  app::AppOptions options;
  options.demo = demo;
  options.handle_signals = false;
  auto app = app::App::Create(std::move(*config), options);
  if (!app) return Fail(std::move(app.error()));
  auto server = std::unique_ptr<TestServer>(new TestServer());
  server->app_ = std::move(*app);
  server->thread_ = std::thread([s = server.get()] { s->app_->Run(); });
  return server;
}

TestServer::~TestServer() {
  if (app_) app_->Stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace opsorch::testing
