// The agent's metrics endpoint (`opsorch agent --metrics-listen`): a small HTTP server on a
// loopback address serving GET /metrics (Prometheus text) and GET /health, on its own thread.
// Loopback only: the agent has no authentication of its own, so a collector on the same host
// scrapes it. A request whose Host is not loopback (localhost, 127.0.0.0/8 or [::1], with or
// without a port) is refused with 403, so that a web page that rebinds its DNS name to
// 127.0.0.1 cannot read the metrics from a browser on this host; HTTP/1.0 without Host is served.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::workflow {

class MetricsListener {
 public:
  // `address`: "127.0.0.1:9464" (any 127.0.0.0/8 address), "[::1]:9464" or "localhost:9464"
  // (bound as 127.0.0.1); port 0 picks a free one. Anything else, 0.0.0.0 and :: included, is
  // bad_request. `render` is called on the listener's thread for each GET /metrics.
  // Errors: bad_request (address), internal (cannot listen).
  static Result<std::unique_ptr<MetricsListener>> Start(std::string_view address,
                                                        std::function<std::string()> render);
  ~MetricsListener();  // Stop()
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  std::uint16_t Port() const;
  // Stops serving and joins the thread; idempotent (call it from one thread).
  void Stop();

 private:
  struct Impl;
  explicit MetricsListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::workflow
