// Where workflow metrics and log lines go. An output is durable: records are appended to a spool
// on disk before Append returns, a sender thread POSTs them as NDJSON in batches (≤ batch_max
// records) and forgets them only after a 2xx, so neither a collector outage nor a restart loses
// anything. Retries back off exponentially with jitter; one warning per outage, one line when
// it recovers.
//
// Spool layout (<spool_dir>/<id>/): append-only segment files `seg-<20-digit seq>.ndjson` (one
// record per '\n'-terminated line), `cursor` ("opsorch-spool v1 <seq> <offset>\n", replaced
// atomically after each 2xx: everything before it was acknowledged) and `lock` (flock: one
// output per spool). Recovery on Open truncates the newest segment after its last complete line
// (a torn, never-acknowledged tail) and starts a fresh segment for new appends. Delivery is
// at-least-once: a crash between a 2xx and the cursor update resends that one batch.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/schema/observability.h>
#include <opsorch/workflow/types.h>

namespace opsorch::workflow {

// One NDJSON line per record:
//   {"type":"metric","timestamp":<ms>,"key":"…","value":<n>,"dimensions":{…},
//    "deployment":"…","token":"…"}
//   {"type":"log","timestamp":<ms>,"level":"info","message":"…","context":{…},
//    "deployment":"…","token":"…"}
// Keys in exactly that order; dimensions/context keys sorted. Numbers are the shortest text that
// reads back as the same double ("3", "0.1", "1e+300"); a non-finite value (callers refuse them
// earlier) is written as null so a line is always valid JSON.
std::string MetricLine(const Metric& m, std::string_view deployment, std::string_view token);
std::string LogLineJson(const LogLine& l, std::string_view deployment, std::string_view token);
// The runtime's audit records (report.h), the same conventions and tail:
//   {"type":"audit","timestamp":…,"kind":"…","message":"…","detail":{…},"deployment":…,"token":…}
std::string AuditLine(std::int64_t timestamp_ms, std::string_view kind, std::string_view message,
                      const Dimensions& detail, std::string_view deployment,
                      std::string_view token);
// `{"key":"value",…}` of a string map, keys sorted, strings escaped as in the records above.
void AppendDimensionsJson(std::string& out, const Dimensions& m);

struct OutputOptions {
  std::string id;                // for logs and the spool directory name: [A-Za-z0-9._-]{1,128}
  std::string url;               // http(s) NDJSON endpoint (customer-owned: no SSRF rule applies)
  Headers headers;               // e.g. Authorization
  std::string spool_dir;         // the spool is <spool_dir>/<id>; both created if missing
  std::string deployment;        // written into every record
  std::string token;             // routing token written into every record
  std::size_t batch_max = 1000;  // records per POST, 1..100000
  std::size_t batch_max_bytes = 4u << 20;          // body cap (one longer record still goes alone)
  std::uint64_t segment_bytes = 8ull << 20;        // a segment is sealed once it grows past this
  std::chrono::milliseconds flush_interval{1000};  // how long a partial batch waits
  std::chrono::milliseconds retry_min{500};
  std::chrono::milliseconds retry_max{30000};
  std::chrono::milliseconds request_timeout{10000};
  std::uint64_t max_spool_bytes = 256ull << 20;  // beyond: Append refuses (counted, logged)
  // true: Append returns after fdatasync (survives power loss; ~1 sync per group of concurrent
  // appends). false: after write(2) only — survives SIGKILL and restarts, not a power cut.
  bool sync_appends = true;
};

struct OutputStats {
  std::uint64_t appended = 0, sent = 0, failed_posts = 0, refused = 0;
  std::uint64_t spooled_bytes = 0;  // not yet acknowledged by the collector
};

class MetricOutput {
 public:
  // Opens (or creates) the spool and starts the sender; records left from the last run are
  // sent first. Errors: bad_request naming the option.
  static Result<std::unique_ptr<MetricOutput>> Open(const OutputOptions& options);
  // Records written as NDJSON lines to this process's standard output (no spool, no retries):
  // for trying workflows out and for a log collector that reads stdout.
  static std::unique_ptr<MetricOutput> OpenStdout();
  virtual ~MetricOutput() = default;  // stops the sender; the spool keeps what is unsent
  // Durable (written and fdatasync'd; concurrent appends share one sync) before it returns
  // (with sync_appends = false: written to the file, which a process crash does not undo).
  // Each line is one record without its '\n'; empty lines and lines holding '\n', '\r' or NUL
  // are refused (bad_request) — they would break NDJSON framing or torn-tail recovery. Beyond
  // max_spool_bytes: "spool_full", nothing of the call written, counted in `refused`.
  virtual Status Append(std::span<const std::string> lines) = 0;
  // Waits until everything appended so far was acknowledged, or `timeout`; false on timeout.
  virtual bool Flush(std::chrono::milliseconds timeout) = 0;
  virtual OutputStats Stats() const = 0;
};

// The recent metrics workflows produced, kept in memory for the `workflow` metric provider
// (`POST /metrics/query`, `GET /metrics/describe`). Bounded: per series a ring of points
// (max_points_per_series), at most max_series series, points older than `retention` dropped.
struct MetricStoreOptions {
  std::size_t max_series = 10000;
  std::size_t max_points_per_series = 10000;
  std::chrono::seconds retention{24 * 3600};
  std::function<std::int64_t()> now_ms;  // epoch ms; null: the system clock (tests pin it)
};

class MetricStore {
 public:
  explicit MetricStore(MetricStoreOptions options = {});
  ~MetricStore();
  void Add(const Metric& metric);  // thread-safe
  // expression.metricName selects the key (required); filters (=, !=, =~, !~) over dimensions;
  // groupBy keeps those dimensions (others dropped, series merged); aggregation (avg, sum, max,
  // min, count) over points in each `step`-second bucket (step 0: raw points); [start, end].
  // Details: a missing dimension reads as "" (as in Prometheus); =~ and !~ match the whole value
  // with a linear-time matcher (RE2-like subset, see label_regex.h; pattern ≤ 512 bytes);
  // buckets are aligned to multiples of `step` since the epoch and stamped with their start;
  // aggregation defaults to avg when points must be combined (step > 0 or merged series at one
  // timestamp); a zero start/end leaves that side open. Series are sorted by labels, points by
  // time; series without points in the window are left out. `scope` is not applied here.
  Result<std::vector<schema::MetricSeries>> Query(const schema::MetricQuery& query) const;
  // One descriptor per key (type "gauge", labels = dimension names seen, sorted).
  std::vector<schema::MetricDescriptor> Describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsorch::workflow
