// The configuration service's state: package metadata and agents in memory, files on disk, and
// the decoders of its request bodies. Private to src/workflow/service/.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/workflow/service.h>

namespace opsorch::workflow::service {

// Package and agent ids, which name files (<id>.bin, <id>.json): [A-Za-z0-9._-]{1,64}, not
// starting with a dot (".", ".." and hidden files are no ids).
bool ValidId(std::string_view id);
inline constexpr std::string_view kIdRule =
    "must be 1-64 characters of [A-Za-z0-9._-], not starting with a dot";
// Ids a runtime reports (deployment ids, package ids of manifests): the bootstrap's rule,
// [A-Za-z0-9._-]{1,64}. They name no file here.
bool ValidReportedId(std::string_view id);
inline constexpr std::string_view kReportedIdRule = "must be 1-64 characters of [A-Za-z0-9._-]";

// A token bucket kept as its theoretical arrival time (GCRA): `burst` takes at once, then one
// per `every_ms`.
struct Bucket {
  std::int64_t tat = 0;
};
// 0 when a take is allowed now (and taken); else the milliseconds until one would be.
std::int64_t TakeFrom(Bucket& b, std::int64_t now, int burst, std::int64_t every_ms);

std::string Sha256Hex(std::string_view bytes);

// What GET /admin/workflow-packages/{id} answers, and packages/<id>.json holds.
struct PackageMeta {
  std::string id;
  bool package = false;  // kind "package", else "plain"
  // From a manifest whose signatures verify; absent for plain ones and unverified packages.
  std::optional<std::string> package_id, version, created, packager;
  std::vector<std::string> signers, recipients;  // public keys in text form
  std::string sha256;                            // of the stored bytes (the ETag)
  std::uint64_t size = 0;
  std::int64_t uploaded_at = 0;  // ms
  std::vector<std::string> warnings;
};
void AppendPackageMeta(std::string& out, const PackageMeta& m);

// Classifies an upload: a package (Inspect; a bad signature is a warning, other refusals are a
// 400 naming the rule) or a plain configuration (a JSON object). uploaded_at is left 0.
Result<PackageMeta> Describe(std::string_view id, std::string_view bytes);

struct AgentRecord {
  std::string id;
  std::string token_sha256;  // hex; the token itself is never kept
  std::vector<std::string> packages;
  std::string description;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> last_seen;
  std::string status;             // the last report's {"agent","deployments"}, serialized; "": none
  std::deque<std::string> audit;  // serialized records, oldest first
  std::size_t audit_bytes = 0;    // their serialized sizes, summed
};
// The milliseconds until `a` may report again (0: now): kMinReportIntervalMs after its last
// accepted report. A clock stepped back (now before lastSeen) does not lock the agent out.
std::int64_t ReportWaitMs(const AgentRecord& a, std::int64_t now);
inline constexpr std::string_view kReportIntervalRule =
    "status reports: at most one per 1000 ms per agent; send it again after Retry-After";
static_assert(kMinReportIntervalMs == 1000, "kReportIntervalRule names the interval");
// Drops the oldest records until the ring holds at most kMaxAuditRecords records and
// kMaxAuditRingBytes bytes.
void TrimAudit(AgentRecord& a);
// `audit_limit`: the newest this many records.
void AppendAgent(std::string& out, const AgentRecord& a, std::size_t audit_limit);

// POST /agents/{id}/status, decoded strictly: errors name the field and the rule; a status
// whose stored form exceeds kMaxStoredStatusBytes is a 413.
struct StatusReport {
  std::string status;              // {"agent":…,"deployments":[…]}, keys sorted
  std::vector<std::string> audit;  // each record, keys sorted
};
inline constexpr std::size_t kMaxDeployments = 64;
inline constexpr std::size_t kMaxAuditPerReport = 500;
inline constexpr std::size_t kMaxStatusString = 4096;
inline constexpr std::size_t kMaxDetailEntries = 16;
Result<StatusReport> DecodeStatusReport(std::string_view body);

// PUT /admin/agents/{id}.
struct AgentInput {
  std::optional<std::vector<std::string>> packages;  // 1..64 unique ids
  std::optional<std::string> description;            // ≤ 256 bytes
  bool rotate_token = false;
};
inline constexpr std::size_t kMaxAgentPackages = 64;
inline constexpr std::size_t kMaxDescription = 256;
Result<AgentInput> DecodeAgentInput(std::string_view body);

struct ConfigService::Impl {
  explicit Impl(ServiceOptions o);

  std::int64_t Now() const { return options.now_ms(); }

  // Every change runs under write_mu: copy the current entry, write its files, then swap it in
  // under mu. Readers take only mu, so a slow fsync never holds up a GET, and two changes
  // cannot write their files in the opposite order of their commits.
  Result<PackageMeta> PutPackage(const std::string& id, std::string_view bytes);
  Status DeletePackage(const std::string& id);
  std::shared_ptr<const PackageMeta> FindPackage(std::string_view id) const;
  std::vector<std::shared_ptr<const PackageMeta>> Packages() const;
  // The stored bytes with the metadata that describes them (read together: an upload cannot
  // slip in between).
  Result<std::pair<std::string, std::shared_ptr<const PackageMeta>>> ReadPackage(
      const std::string& id) const;

  struct AgentPut {
    std::shared_ptr<const AgentRecord> agent;
    std::string token;  // only when created or rotated
  };
  Result<AgentPut> PutAgent(const std::string& id, const AgentInput& in);
  Status DeleteAgent(const std::string& id);
  std::shared_ptr<const AgentRecord> FindAgent(std::string_view id) const;
  std::vector<std::shared_ptr<const AgentRecord>> Agents() const;
  // The agent this token belongs to, or null.
  std::shared_ptr<const AgentRecord> AgentByToken(std::string_view token) const;
  // Runs under the agent's own mutex, not write_mu: a report (one agent file, fsync'd) holds up
  // neither admin changes nor other agents' reports. A report less than kMinReportIntervalMs
  // after the agent's last accepted one is refused (kRateLimited, `retry_after_ms` set).
  Status RecordStatus(const std::string& id, const StatusReport& report,
                      std::int64_t* retry_after_ms);

  // A full download of a package: 0 when it may start now, else the milliseconds until one
  // may. `agent` null: a request without a token (open mode), from the shared bucket.
  std::int64_t TakeDownload(const AgentRecord* agent);

  Status Load();

  ServiceOptions options;
  std::string packages_dir, agents_dir;

  std::mutex write_mu;
  // Per agent (striped: bounded, and two agents rarely share one): taken by every change of an
  // agent's record and file. Admin changes take write_mu first, then this.
  std::array<std::mutex, 64> agent_mu;
  std::mutex& AgentMutex(std::string_view id);
  // Package files: GET reads them shared, an upload or delete replaces them exclusively.
  mutable std::shared_mutex files_mu;
  mutable std::mutex mu;  // the two maps
  std::map<std::string, std::shared_ptr<const PackageMeta>, std::less<>> packages;
  std::map<std::string, std::shared_ptr<const AgentRecord>, std::less<>> agents;

  // Download buckets: one per agent that downloaded (erased with the agent, so at most
  // kMaxAgents), and the shared one of open mode. Taken before mu, never while holding it.
  std::mutex limit_mu;
  std::map<std::string, Bucket, std::less<>> download_buckets;
  Bucket open_bucket;

 private:
  Status EnsureDirs();
  Status WriteAgent(const AgentRecord& a);
  Status LoadPackages();  // with mu held
  Status LoadAgents();
};

}  // namespace opsorch::workflow::service
