// Reconfiguration under load, in-process so that ThreadSanitizer (`make test-tsan`) sees every
// thread: clients keep calling a capability while POST /providers swaps it between the
// in-process mock and the mock plugin. Every request must succeed; no request may see a torn
// provider; replaced plugin processes are stopped.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/providers/interfaces.h>

#include "support/http_client.h"
#include "support/server_process.h"
#include "support/test_plugins.h"
#include "support/test_server.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;

TEST(HotSwap, RequestsSucceedWhileTheProviderIsReplacedAgainAndAgain) {
  const fs::path dir = fs::temp_directory_path() / ("opsorch-swap-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "secrets.json") << "{}";
  auto server = TestServer::Start(
      {{"OPSORCH_SECRET_PROVIDER", "json"},
       {"OPSORCH_SECRET_CONFIG", R"({"path":")" + (dir / "secrets.json").string() + R"("})"},
       {"OPSORCH_INCIDENT_PROVIDER", "mock"},
       {"OPSORCH_PLUGIN_STOP_GRACE", "200ms"},
       {"OPSORCH_PLUGIN_DIRS", TestPluginDirs()}});
  ASSERT_TRUE(server) << server.error().message;
  const std::uint16_t port = (*server)->Port();

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::string> failures;
  std::mutex failures_mu;
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      auto c = std::make_unique<HttpClient>(port);
      while (!stop.load()) {
        auto r = t == 0 ? c->Request("GET", "/incidents/inc-001")
                        : c->Request("POST", "/incidents/query", {}, R"({"limit":2})");
        if (r.status == 200) {
          ++ok;
        } else {
          ++bad;
          std::lock_guard lock(failures_mu);
          failures.push_back(std::to_string(r.status) + " " + r.body);
        }
        if (r.closed || r.status == 0) c = std::make_unique<HttpClient>(port);
      }
    });
  }
  HttpClient admin(port);
  for (int i = 0; i < 20; ++i) {
    const std::string body =
        i % 2 == 0 ? R"({"provider":"mock","plugin":")" + std::string(OPSORCH_PLUGIN_MOCK) + R"("})"
                   : std::string(R"({"provider":"mock"})");
    auto r = admin.Request("POST", "/providers/incident", {}, body);
    EXPECT_EQ(r.status, 200) << r.body;
    // Each provider serves some requests before the next swap, however slow the machine (a
    // sanitizer build beside other tests answers only a few per 20 ms): wait for progress, not
    // for a time.
    const int before = ok.load();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (ok.load() < before + 3 && bad.load() == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GE(ok.load(), 60);
  EXPECT_EQ(bad.load(), 0) << (failures.empty() ? "" : failures.front());

  // The last POST configured the in-process mock: the stored config says so.
  std::ifstream in(dir / "secrets.json");
  const std::string stored((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(stored.find(R"(\"provider\":\"mock\")"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("plugin"), std::string::npos) << stored;
  server->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opsorch::testing
