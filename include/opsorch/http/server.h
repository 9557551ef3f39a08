// The HTTP/1.1 server: Boost.Beast + Asio C++20 coroutines, behind a pimpl so that only
// src/http/server.cc includes Beast.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <opsorch/common/result.h>
#include <opsorch/http/message.h>

namespace opsorch::http {

struct ServerOptions {
  std::string host = "0.0.0.0";         // "" or "0.0.0.0" → all IPv4; "::" → all IPv6
  std::uint16_t port = 8080;            // 0 → ephemeral (tests)
  unsigned threads = 0;                 // 0 → one per core
  std::size_t body_limit = 1 << 20;     // bigger → 413 JSON error, connection closed
  std::size_t header_limit = 16 << 10;  // bigger → 431 JSON error, connection closed
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive wait for the next request
  std::chrono::milliseconds read_timeout{30'000};  // first byte → whole request read
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds shutdown_grace{10'000};  // drain in-flight requests on stop
  std::string tls_cert_file;                         // both set → HTTPS
  std::string tls_key_file;
  bool handle_signals = false;  // SIGINT/SIGTERM → graceful Stop()
  // Called once on a server thread when shutdown_grace expires with requests still in flight;
  // it can make their handlers answer now (the app aborts plugin calls). Those answers get one
  // more second to go out before the remaining connections are closed.
  std::function<void()> on_grace_expired;
};

// Per-request observation hook (metrics, access log); called on the I/O thread after writing.
struct Exchange {
  const Request* request;
  int status;
  std::size_t response_bytes;
  std::chrono::nanoseconds duration;
};
using ExchangeObserver = std::function<void(const Exchange&)>;

class Server {
 public:
  // Binds and listens; errors (address in use, unreadable certificate…) are returned.
  static Result<std::unique_ptr<Server>> Create(const ServerOptions& options, Handler& handler,
                                                ExchangeObserver observer = {});
  virtual ~Server() = default;

  // The bound port (useful with port 0).
  virtual std::uint16_t Port() const = 0;
  // Serves on the configured threads; returns after Stop() has drained.
  virtual void Run() = 0;
  // Thread-safe, idempotent: stop accepting, close idle connections, let in-flight requests
  // finish (up to shutdown_grace), then return from Run().
  virtual void Stop() = 0;
};

}  // namespace opsorch::http
