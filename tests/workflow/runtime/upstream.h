// What the runtime tests share: a loopback HTTP server that records what it was sent
// (cpp-httplib), and a fresh directory per test.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

namespace opsorch::workflow {

// An empty directory of its own for the running test: <tmp>/<prefix>-<pid>-<test name>.
inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      (prefix + "-" + std::to_string(::getpid()) + "-" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A loopback upstream that records what it was sent.
class Upstream {
 public:
  Upstream() {
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Serving once bind returned: listen_after_bind only starts the accept loop.
  }
  ~Upstream() {
    server_.stop();
    thread_.join();
  }
  httplib::Server& server() { return server_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Record(const httplib::Request& r) {
    std::lock_guard lock(mu_);
    requests_.push_back(r.method + " " + r.target + " auth=" + r.get_header_value("Authorization") +
                        " body=" + r.body);
  }
  std::vector<std::string> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

}  // namespace opsorch::workflow
