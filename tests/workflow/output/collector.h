// A loopback NDJSON collector for the output tests (cpp-httplib). It can be stopped and started
// again on the same port, and scripted to answer the next requests with given statuses.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace opsorch::workflow::testing {

struct Received {
  std::chrono::steady_clock::time_point at;
  int status = 0;
  std::string body;
  std::string content_type;
  std::string authorization;
};

class Collector {
 public:
  Collector() = default;
  ~Collector() { Stop(); }

  // Reserves a free port without listening on it (for "collector down" starts).
  // (httplib's bind_to_any_port also listens, and a listening socket nobody accepts on would
  // stall clients instead of refusing them.)
  int ReservePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
    if (fd >= 0) ::close(fd);
    return port_;
  }

  void Start() {
    Stop();
    server_ = std::make_unique<httplib::Server>();
    server_->set_tcp_nodelay(true);
    server_->set_keep_alive_timeout(1);  // Stop() waits for idle keep-alive connections
    server_->Post("/ingest", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu_);
      int status = 200;
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      }
      received_.push_back({std::chrono::steady_clock::now(), status, req.body,
                           req.get_header_value("Content-Type"),
                           req.get_header_value("Authorization")});
      res.status = status;
      if (status == 302) res.set_header("Location", "http://127.0.0.1:1/elsewhere");
      res.set_content(status / 100 == 2 ? "ok" : "no", "text/plain");
    });
    if (port_ == 0) {
      port_ = server_->bind_to_any_port("127.0.0.1");
    } else {
      for (int i = 0; i < 100 && !server_->bind_to_port("127.0.0.1", port_); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    thread_ = std::thread([s = server_.get()] { s->listen_after_bind(); });
    for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void Stop() {
    if (server_) {
      server_->stop();
      if (thread_.joinable()) thread_.join();
      server_.reset();
    }
  }

  void Script(std::vector<int> statuses) {
    std::lock_guard lk(mu_);
    script_.assign(statuses.begin(), statuses.end());
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/ingest"; }
  int port() const { return port_; }

  std::vector<Received> Requests() {
    std::lock_guard lk(mu_);
    return received_;
  }

  // Lines of the bodies answered with 2xx, in arrival order.
  std::vector<std::string> AcceptedLines() {
    std::vector<std::string> out;
    for (const auto& r : Requests()) {
      if (r.status / 100 != 2) continue;
      std::size_t start = 0;
      while (start < r.body.size()) {
        const std::size_t nl = r.body.find('\n', start);
        if (nl == std::string::npos) {
          out.push_back(r.body.substr(start) + "<unterminated>");
          break;
        }
        out.push_back(r.body.substr(start, nl - start));
        start = nl + 1;
      }
    }
    return out;
  }

 private:
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::deque<int> script_;
  std::vector<Received> received_;
};

}  // namespace opsorch::workflow::testing
