// Test receivers for the notify tests: a loopback cpp-httplib server recording every request,
// and the SMTP sink (tests/notify/smtp_sink.py) as a real child process.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/net/http_client.h>

#include "test_paths.h"

extern char** environ;

namespace opsorch::notify::testing {

struct Received {
  std::string path;
  std::string body;
  httplib::Headers headers;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// An HTTP receiver on 127.0.0.1, random port; `handler` answers, every request is recorded.
class Receiver {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  explicit Receiver(Handler handler) : handler_(std::move(handler)) {
    server_.set_tcp_nodelay(true);
    // Route handlers (not the pre-routing hook) see the body.
    auto record = [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        seen_.push_back({req.path, req.body, req.headers});
      }
      handler_(req, res);
    };
    server_.Post(".*", record);
    server_.Get(".*", record);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Received> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  Handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Received> seen_;
};

inline std::shared_ptr<const net::NetList> Loopback() {
  auto list = net::ParseNetList("127.0.0.0/8, ::1/128");
  EXPECT_TRUE(list);
  return std::make_shared<const net::NetList>(std::move(*list));
}

inline std::shared_ptr<net::HttpClient> Client() {
  auto client = net::HttpClient::Create();
  EXPECT_TRUE(client);
  return std::shared_ptr<net::HttpClient>(std::move(*client));
}

// A port nothing listens on now (bound, then closed).
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The SMTP sink as a child process writing to a fresh Maildir.
class SmtpSink {
 public:
  SmtpSink() {
    dir_ = std::filesystem::temp_directory_path() /
           ("opsorch-notify-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_));
    std::filesystem::remove_all(dir_);
    port_ = FreePort();
    const std::string script = std::string(OPSORCH_NOTIFY_TEST_DIR) + "/smtp_sink.py";
    const std::string port = std::to_string(port_);
    const std::string maildir = dir_.string();
    const char* argv[] = {"/usr/bin/python3", script.c_str(), port.c_str(), maildir.c_str(),
                          nullptr};
    if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
      ADD_FAILURE() << "cannot start the SMTP sink";
      pid_ = 0;
      return;
    }
    for (int i = 0; i < 500 && !Accepts(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(Accepts(port_)) << "the SMTP sink did not start";
  }
  ~SmtpSink() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::filesystem::remove_all(dir_);
  }
  std::string Url() const { return "smtp://127.0.0.1:" + std::to_string(port_) + "/opsorch.test"; }
  int port() const { return port_; }

  // The stored messages, parsed by Python's email package (tests/notify/read_maildir.py).
  JsonArray Messages() const {
    if (!std::filesystem::exists(dir_ / "new")) return {};
    const std::string cmd = "/usr/bin/python3 " + std::string(OPSORCH_NOTIFY_TEST_DIR) +
                            "/read_maildir.py " + dir_.string();
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return {};
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    auto v = ParseJson(out);
    EXPECT_TRUE(v && v->is_array()) << out;
    return v && v->is_array() ? v->get_array() : JsonArray{};
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

inline std::string Str(const JsonValue& v, std::string_view key) {
  const auto* o = v.if_object();
  const auto* f = o == nullptr ? nullptr : o->if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

}  // namespace opsorch::notify::testing
