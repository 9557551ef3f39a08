// opsorch as the workflow configuration service: it stores workflow packages (and plain
// development configurations) per id and serves them to agents (`opsorch agent`), which poll
// with If-None-Match; it keeps agents — each with its own token and the package ids it may
// fetch — and the status and audit records they report. The service is a distribution point,
// not a trust anchor: it stores a package whose signatures do not verify (with a warning),
// because the agent checks every package against its own bootstrap before loading it.
//
// State lives in files under one directory (packages/<id>.bin + .json, agents/<id>.json),
// written atomically and read at start. Nodes do not share it: run one service node, or give
// every node the same uploads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <opsorch/api/route.h>
#include <opsorch/common/blocking_pool.h>
#include <opsorch/common/result.h>
#include <opsorch/metrics/metrics.h>

namespace opsorch::workflow::service {

inline constexpr std::size_t kMaxUploadBytes = 9u << 20;  // a package: 8 MiB payload + envelope
inline constexpr std::size_t kMaxPlainBytes = 8u << 20;   // a plain configuration
inline constexpr std::size_t kMaxStatusBytes = 256u << 10;
inline constexpr std::size_t kMaxPackages = 256;
inline constexpr std::size_t kMaxAgents = 1024;
inline constexpr std::size_t kMaxAuditRecords = 1000;  // kept per agent, oldest dropped
// … and at most this many bytes of them as stored (JSON-escaped: `<` takes 6 bytes), so that
// one report rewrites a bounded file.
inline constexpr std::size_t kMaxAuditRingBytes = 1u << 20;
// An agent's last status (agent and deployments) as stored; a report beyond it is a 413.
inline constexpr std::size_t kMaxStoredStatusBytes = 256u << 10;
// Accepted status reports of one agent are at least this far apart (earlier ones: 429).
inline constexpr std::int64_t kMinReportIntervalMs = 1000;
// Full (200) answers of GET /workflow-packages/{id}: each reads the package into memory, so
// they are rationed per agent — kDownloadBurst at once, then one per kDownloadEveryMs (a 304
// costs nothing, the bearer token is not limited). Requests without a token (open mode) share
// one bucket of kOpenDownloadBurst, one per kOpenDownloadEveryMs.
inline constexpr int kDownloadBurst = 2;
inline constexpr std::int64_t kDownloadEveryMs = 5000;
inline constexpr int kOpenDownloadBurst = 4;
inline constexpr std::int64_t kOpenDownloadEveryMs = 1000;

struct ServiceOptions {
  std::string dir;  // created on the first write
  // Milliseconds since the Unix epoch (uploadedAt, createdAt, lastSeen, and the rate limits of
  // downloads and status reports); default: the system's.
  std::function<std::int64_t()> now_ms;
};

class ConfigService;

struct RoutesContext {
  std::shared_ptr<ConfigService> service;
  // OPSORCH_BEARER_TOKEN: accepted by GET /workflow-packages/{id} besides agent tokens.
  std::string bearer_token;
  // Refused agent credentials: opsorch_auth_failures_total{credential="workflow_agent"}.
  metrics::Registry* metrics = nullptr;
  // Reads package files for GET /workflow-packages/{id} (a 304 is answered without it); null:
  // read on the calling thread.
  BlockingPool* pool = nullptr;
};

// PUT/GET/DELETE /admin/workflow-packages[/{id}], PUT/GET/DELETE /admin/agents[/{id}],
// GET /workflow-packages/{id} and POST /agents/{id}/status (docs/API.md).
api::RouteTable Routes(const RoutesContext& context);

class ConfigService {
 public:
  // Reads what `options.dir` holds (nothing when it does not exist). A file that cannot be read
  // back is logged and left out; a directory that cannot be listed is an error.
  static Result<std::shared_ptr<ConfigService>> Open(ServiceOptions options);
  ~ConfigService();
  ConfigService(const ConfigService&) = delete;
  ConfigService& operator=(const ConfigService&) = delete;

  struct Impl;

 private:
  explicit ConfigService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend api::RouteTable Routes(const RoutesContext& context);
};

}  // namespace opsorch::workflow::service
