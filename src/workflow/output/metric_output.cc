// MetricOutput: a disk spool (append-only segments + an atomically replaced cursor) and one
// sender thread that POSTs NDJSON batches with libcurl. See metric_output.h for the layout.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <compare>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/common/strings.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/log/log.h>
#include <opsorch/net/http_client.h>
#include <opsorch/workflow/metric_output.h>

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kCursorMagic = "opsorch-spool v1";

struct Pos {
  std::uint64_t seg = 0;
  std::uint64_t off = 0;
  friend auto operator<=>(const Pos&, const Pos&) = default;
};

std::string Errno(int e) { return std::strerror(e); }

std::string SegmentName(std::uint64_t seq) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "seg-%020llu.ndjson", static_cast<unsigned long long>(seq));
  return buf;
}

std::optional<std::uint64_t> ParseSegmentName(std::string_view name) {
  if (name.size() != 4 + 20 + 7 || name.substr(0, 4) != "seg-" || name.substr(24) != ".ndjson") {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto r = std::from_chars(name.data() + 4, name.data() + 24, v);
  if (r.ec != std::errc() || r.ptr != name.data() + 24) return std::nullopt;
  return v;
}

bool WriteAll(int fd, const char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
  return true;
}

// Reads up to `n` bytes at `off`; short only at end of file.
Result<std::size_t> ReadAt(int fd, char* p, std::size_t n, std::uint64_t off) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Fail(errc::kInternal, "reading spool segment: " + Errno(errno));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

// A plain name that is also a file name of its own (the spool directory).
bool ValidId(std::string_view id) { return IsPlainName(id, 128) && id != "." && id != ".."; }

bool ValidHeaderName(std::string_view n) {
  if (n.empty()) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

Status ValidateOptions(const OutputOptions& o) {
  const auto bad = [&](std::string m) {
    return Fail(errc::kBadRequest, "output " + o.id + ": " + m);
  };
  if (!ValidId(o.id)) return bad("id: must match [A-Za-z0-9._-]{1,128} and not be . or ..");
  if (!(o.url.starts_with("http://") || o.url.starts_with("https://")) || o.url.size() <= 8) {
    return bad("url: must be an http:// or https:// URL");
  }
  for (char c : o.url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad("url: must not contain spaces or control characters");
    }
  }
  if (o.spool_dir.empty()) return bad("spool_dir: required");
  for (const auto& [name, value] : o.headers) {
    if (!ValidHeaderName(name)) return bad("headers: invalid header name");
    // The value is never quoted: it may be a credential.
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return bad("headers[" + name + "]: value must not contain CR, LF or NUL");
    }
  }
  if (o.batch_max < 1 || o.batch_max > 100000) return bad("batch_max: must be 1..100000");
  if (o.batch_max_bytes < 1024) return bad("batch_max_bytes: must be at least 1024");
  if (o.segment_bytes < 4096) return bad("segment_bytes: must be at least 4096");
  if (o.flush_interval.count() < 0) return bad("flush_interval: must not be negative");
  if (o.retry_min.count() <= 0) return bad("retry_min: must be positive");
  if (o.retry_max < o.retry_min) return bad("retry_max: must be >= retry_min");
  if (o.request_timeout.count() <= 0) return bad("request_timeout: must be positive");
  if (o.max_spool_bytes == 0) return bad("max_spool_bytes: must be positive");
  return Ok();
}

class SpoolOutput final : public MetricOutput {
 public:
  explicit SpoolOutput(OutputOptions o) : o_(std::move(o)) {}

  ~SpoolOutput() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    abort_.store(true);
    sender_cv_.notify_all();
    sync_cv_.notify_all();
    if (sender_.joinable()) sender_.join();
    for (int fd : {seg_fd_, dir_fd_, lock_fd_}) {
      if (fd >= 0) ::close(fd);  // closing lock_fd_ releases the flock
    }
  }

  Status Init();
  Status Append(std::span<const std::string> lines) override;
  bool Flush(std::chrono::milliseconds timeout) override;
  OutputStats Stats() const override {
    std::lock_guard lk(mu_);
    return stats_;
  }

 private:
  std::string SegPath(std::uint64_t seq) const { return dir_ + "/" + SegmentName(seq); }
  Status OpenNewSegment(std::uint64_t seq);
  // Seals the current segment if `need` more bytes would overflow it.
  Status Rotate(std::unique_lock<std::mutex>& lk, std::size_t need);
  Status PersistCursor(Pos p);
  bool ReadyToSend(Clock::time_point now) const;
  void SenderLoop();
  // The next batch at `from`: whole lines, ≤ batch_max records and ≤ batch_max_bytes (one
  // longer record alone). Empty when nothing is readable before `limit`.
  Result<std::string> ReadBatch(int fd, Pos from, std::uint64_t limit, std::size_t& lines);
  // POSTs `body`; empty string on 2xx, else the reason (never a header value).
  std::string Post(net::HttpClient& client, const net::OutboundRequest& base,
                   const std::string& body);

  const OutputOptions o_;
  std::string dir_;
  int lock_fd_ = -1, dir_fd_ = -1, seg_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable sync_cv_;     // group-sync followers and Flush() wait here
  std::condition_variable sender_cv_;   // the sender waits here
  std::deque<std::uint64_t> segments_;  // ascending; back() is the one appends go to
  std::uint64_t cur_size_ = 0;          // bytes written to back()
  std::uint64_t cur_durable_ = 0;       // bytes of back() known to be on disk
  std::uint64_t written_seq_ = 0, synced_seq_ = 0, failed_seq_ = 0;
  std::uint64_t written_lines_ = 0, durable_lines_ = 0;
  std::uint64_t pending_lines_ = 0;  // durable, not yet sent (this run's appends only)
  bool syncing_ = false;
  bool broken_ = false;  // a failed fdatasync: the page cache may have dropped data
  bool full_logged_ = false;
  bool backlog_ = false;  // records left by the last run: send without waiting
  std::optional<Clock::time_point> pending_since_;
  int flush_waiters_ = 0;
  bool stop_ = false;
  Pos cursor_;  // everything before it was acknowledged by the collector
  OutputStats stats_;

  std::atomic<bool> abort_{false};  // cancels an in-flight POST on destruction
  std::thread sender_;
};

Status SpoolOutput::OpenNewSegment(std::uint64_t seq) {
  const std::string path = SegPath(seq);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Fail(errc::kInternal,
                "output " + o_.id + ": creating spool segment " + path + ": " + Errno(errno));
  }
  // The new name must survive a crash before any record in it is acknowledged.
  if (::fsync(dir_fd_) != 0) {
    const int e = errno;
    ::close(fd);
    return Fail(errc::kInternal, "output " + o_.id + ": syncing spool directory: " + Errno(e));
  }
  if (seg_fd_ >= 0) ::close(seg_fd_);
  seg_fd_ = fd;
  segments_.push_back(seq);
  cur_size_ = 0;
  cur_durable_ = 0;
  return Ok();
}

Status SpoolOutput::Init() {
  dir_ = (fs::path(o_.spool_dir) / o_.id).string();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    return Fail(errc::kBadRequest,
                "output " + o_.id + ": spool_dir: cannot create " + dir_ + ": " + ec.message());
  }
  dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    return Fail(errc::kBadRequest,
                "output " + o_.id + ": spool_dir: cannot open " + dir_ + ": " + Errno(errno));
  }
  lock_fd_ = ::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Fail(errc::kConflict,
                "output " + o_.id + ": spool " + dir_ + " is in use by another output");
  }

  std::vector<std::uint64_t> segs;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (auto seq = ParseSegmentName(entry.path().filename().string())) segs.push_back(*seq);
  }
  if (ec) return Fail(errc::kInternal, "output " + o_.id + ": listing spool: " + ec.message());
  std::sort(segs.begin(), segs.end());
  ::unlink((dir_ + "/cursor.tmp").c_str());

  // Cursor: where the last run's acknowledged prefix ends.
  Pos cursor{segs.empty() ? 0 : segs.front(), 0};
  if (FILE* f = std::fopen((dir_ + "/cursor").c_str(), "re")) {
    char buf[128] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    unsigned long long seg = 0, off = 0;
    char magic1[32] = {}, magic2[32] = {};
    if (std::sscanf(std::string(buf, n).c_str(), "%31s %31s %llu %llu", magic1, magic2, &seg,
                    &off) == 4 &&
        std::string(magic1) + " " + magic2 == kCursorMagic) {
      cursor = {seg, off};
    } else {
      // Resending everything duplicates; guessing could lose records.
      log::Warn("metric output: unreadable spool cursor, resending the whole spool",
                {{"output", o_.id}});
    }
  }
  // Segments before the cursor were sent; a crash came before their deletion.
  while (!segs.empty() && segs.front() < cursor.seg) {
    ::unlink(SegPath(segs.front()).c_str());
    segs.erase(segs.begin());
  }
  if (!segs.empty() && segs.front() > cursor.seg) cursor = {segs.front(), 0};

  // Torn-tail repair of the newest segment: keep the prefix of complete, NUL-free lines. Only
  // never-acknowledged bytes can follow the first bad line (an acknowledged record was synced,
  // and so was everything written before it).
  std::uint64_t spooled = 0;
  std::size_t repair = segs.size();  // the newest segment holding anything
  for (std::size_t i = segs.size(); i-- > 0;) {
    std::error_code size_ec;
    if (fs::file_size(SegPath(segs[i]), size_ec) > 0 || size_ec) {
      repair = i;
      break;
    }
  }
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const std::string path = SegPath(segs[i]);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Fail(errc::kInternal, "output " + o_.id + ": opening " + path);
    struct stat st {};
    ::fstat(fd, &st);
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (i == repair) {
      std::string data(size, '\0');
      auto got = ReadAt(fd, data.data(), data.size(), 0);
      if (!got) {
        ::close(fd);
        return Fail(errc::kInternal, "output " + o_.id + ": " + got.error().message);
      }
      data.resize(*got);
      std::size_t valid = 0;
      for (;;) {
        const std::size_t nl = data.find('\n', valid);
        if (nl == std::string::npos) break;
        if (std::memchr(data.data() + valid, '\0', nl - valid) != nullptr || nl == valid) break;
        valid = nl + 1;
      }
      if (valid < size) {
        if (::ftruncate(fd, static_cast<off_t>(valid)) != 0 || ::fdatasync(fd) != 0) {
          const int e = errno;
          ::close(fd);
          return Fail(errc::kInternal,
                      "output " + o_.id + ": truncating torn spool tail: " + Errno(e));
        }
        log::Warn("metric output: dropped a torn, unacknowledged record tail from the spool",
                  {{"output", o_.id}, {"bytes", std::to_string(size - valid)}});
        size = valid;
      }
    }
    ::close(fd);
    if (segs[i] == cursor.seg) {
      if (cursor.off > size) cursor.off = size;
      spooled += size - cursor.off;
    } else {
      spooled += size;
    }
  }

  segments_.assign(segs.begin(), segs.end());
  const std::uint64_t next = std::max(segs.empty() ? 0 : segs.back(), cursor.seg) + 1;
  if (auto s = OpenNewSegment(next); !s) return s;
  if (segs.empty()) cursor = {next, 0};
  cursor_ = cursor;
  stats_.spooled_bytes = spooled;
  backlog_ = spooled > 0;
  sender_ = std::thread([this] { SenderLoop(); });
  return Ok();
}

Status SpoolOutput::Rotate(std::unique_lock<std::mutex>& lk, std::size_t need) {
  sync_cv_.wait(lk, [&] { return !syncing_; });
  // Another appender may have rotated while this one waited.
  if (cur_size_ == 0 || cur_size_ + need <= o_.segment_bytes) return Ok();
  if (::fdatasync(seg_fd_) != 0) {
    broken_ = true;
    return Fail(errc::kInternal, "output " + o_.id + ": syncing spool: " + Errno(errno));
  }
  synced_seq_ = written_seq_;
  if (written_lines_ > durable_lines_) {
    pending_lines_ += written_lines_ - durable_lines_;
    durable_lines_ = written_lines_;
    if (!pending_since_) pending_since_ = Clock::now();
  }
  sync_cv_.notify_all();
  return OpenNewSegment(segments_.back() + 1);
}

Status SpoolOutput::Append(std::span<const std::string> lines) {
  if (lines.empty()) return Ok();
  std::size_t total = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.empty() || l.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
      return Fail(errc::kBadRequest, "output " + o_.id + ": record " + std::to_string(i) +
                                         ": must be non-empty and hold no newline, CR or NUL");
    }
    total += l.size() + 1;
  }
  std::string buf;
  buf.reserve(total);
  for (const auto& l : lines) {
    buf += l;
    buf.push_back('\n');
  }

  std::unique_lock lk(mu_);
  if (broken_ || stop_) {
    return Fail(errc::kInternal,
                "output " + o_.id + ": spool closed or unusable after a disk error");
  }
  if (cur_size_ > 0 && cur_size_ + buf.size() > o_.segment_bytes) {
    if (auto s = Rotate(lk, buf.size()); !s) return s;
    if (broken_ || stop_) {
      return Fail(errc::kInternal,
                  "output " + o_.id + ": spool closed or unusable after a disk error");
    }
  }
  // Checked after a rotation, which may have let other appenders in.
  if (stats_.spooled_bytes + buf.size() > o_.max_spool_bytes) {
    stats_.refused += lines.size();
    if (!full_logged_) {
      full_logged_ = true;
      log::Warn("metric output: spool full, refusing records",
                {{"output", o_.id}, {"max_spool_bytes", std::to_string(o_.max_spool_bytes)}});
    }
    return Fail("spool_full", "output " + o_.id + ": spool holds " +
                                  std::to_string(stats_.spooled_bytes) +
                                  " unsent bytes; max_spool_bytes (" +
                                  std::to_string(o_.max_spool_bytes) + ") reached");
  }
  full_logged_ = false;
  if (!WriteAll(seg_fd_, buf.data(), buf.size(), cur_size_)) {
    const int e = errno;
    // Leave no partial record behind for the next append to glue onto.
    if (::ftruncate(seg_fd_, static_cast<off_t>(cur_size_)) != 0) broken_ = true;
    return Fail(errc::kInternal, "output " + o_.id + ": writing spool: " + Errno(e));
  }
  cur_size_ += buf.size();
  stats_.spooled_bytes += buf.size();
  stats_.appended += lines.size();
  written_lines_ += lines.size();
  const std::uint64_t mine = ++written_seq_;
  if (!o_.sync_appends) {
    // The page cache already holds the records; a process crash cannot take them back.
    synced_seq_ = mine;
    cur_durable_ = cur_size_;
    pending_lines_ += lines.size();
    durable_lines_ = written_lines_;
    if (!pending_since_) pending_since_ = Clock::now();
    sender_cv_.notify_one();
    return Ok();
  }

  // Group commit: one appender syncs everything written so far while the others wait.
  while (synced_seq_ < mine) {
    if (failed_seq_ >= mine) {
      return Fail(errc::kInternal, "output " + o_.id + ": syncing spool failed");
    }
    if (syncing_) {
      sync_cv_.wait(lk);
      continue;
    }
    syncing_ = true;
    const std::uint64_t target = written_seq_, target_lines = written_lines_;
    const std::uint64_t target_size = cur_size_, target_seg = segments_.back();
    const int fd = seg_fd_;  // Rotate waits for !syncing_, so fd stays open
    lk.unlock();
    const int rc = ::fdatasync(fd);
    const int e = errno;
    lk.lock();
    syncing_ = false;
    if (rc == 0) {
      synced_seq_ = std::max(synced_seq_, target);
      if (target_seg == segments_.back()) cur_durable_ = std::max(cur_durable_, target_size);
      if (target_lines > durable_lines_) {
        pending_lines_ += target_lines - durable_lines_;
        durable_lines_ = target_lines;
      }
      if (!pending_since_) pending_since_ = Clock::now();
      sender_cv_.notify_one();
    } else {
      failed_seq_ = target;
      broken_ = true;
      log::Error("metric output: spool fdatasync failed", {{"output", o_.id}, {"error", Errno(e)}});
    }
    sync_cv_.notify_all();
  }
  return Ok();
}

bool SpoolOutput::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  const Pos target{segments_.back(), cur_size_};
  ++flush_waiters_;
  sender_cv_.notify_one();
  const bool ok = sync_cv_.wait_for(lk, timeout, [&] { return cursor_ >= target || stop_; }) &&
                  cursor_ >= target;
  --flush_waiters_;
  return ok;
}

bool SpoolOutput::ReadyToSend(Clock::time_point now) const {
  const Pos end{segments_.back(), cur_durable_};
  if (!(cursor_ < end)) return false;
  return backlog_ || flush_waiters_ > 0 || pending_lines_ >= o_.batch_max ||
         (pending_since_ && now >= *pending_since_ + o_.flush_interval);
}

Status SpoolOutput::PersistCursor(Pos p) {
  const std::string tmp = dir_ + "/cursor.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(errc::kInternal, "opening " + tmp + ": " + Errno(errno));
  const std::string text =
      std::string(kCursorMagic) + " " + std::to_string(p.seg) + " " + std::to_string(p.off) + "\n";
  const bool ok = WriteAll(fd, text.data(), text.size(), 0) && ::fdatasync(fd) == 0;
  const int e = errno;
  ::close(fd);
  if (!ok) return Fail(errc::kInternal, "writing " + tmp + ": " + Errno(e));
  if (::rename(tmp.c_str(), (dir_ + "/cursor").c_str()) != 0 || ::fsync(dir_fd_) != 0) {
    return Fail(errc::kInternal, "replacing spool cursor: " + Errno(errno));
  }
  return Ok();
}

Result<std::string> SpoolOutput::ReadBatch(int fd, Pos from, std::uint64_t limit,
                                           std::size_t& lines) {
  lines = 0;
  std::string buf;
  std::size_t want = o_.batch_max_bytes;
  for (;;) {
    const std::uint64_t room = limit > from.off ? limit - from.off : 0;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(want, room));
    buf.resize(n);
    auto got = ReadAt(fd, buf.data(), n, from.off);
    if (!got) return tl::unexpected(got.error());
    buf.resize(*got);
    std::size_t end = 0;
    while (lines < o_.batch_max) {
      const std::size_t nl = buf.find('\n', end);
      if (nl == std::string::npos) break;
      end = nl + 1;
      ++lines;
    }
    if (lines > 0 || *got < n || n == room) {
      buf.resize(end);  // an unterminated remainder (none in synced data) waits
      return buf;
    }
    want *= 2;  // one record longer than batch_max_bytes: read it whole
  }
}

std::string SpoolOutput::Post(net::HttpClient& client, const net::OutboundRequest& base,
                              const std::string& body) {
  net::OutboundRequest request = base;
  request.body = body;
  auto response = client.Perform(request);
  if (!response) return response.error().message;  // names the rule, never the URL
  if (response->status >= 200 && response->status < 300) return "";
  return "HTTP " + std::to_string(response->status);
}

void SpoolOutput::SenderLoop() {
  // The collector is the operator's (bootstrap) choice: private and loopback addresses are
  // allowed, the rest of the address rule (unspecified, multicast, broadcast) still holds.
  auto client = net::HttpClient::Create({.max_idle_handles = 1});
  net::OutboundRequest base;
  base.method = "POST";
  base.url = o_.url;
  bool own_content_type = true;
  for (const auto& [name, value] : o_.headers) {
    if (EqualsIgnoreCase(name, "Content-Type")) own_content_type = false;
    base.headers.emplace_back(name, value);
  }
  if (own_content_type) base.headers.emplace_back("Content-Type", "application/x-ndjson");
  base.allow_private = true;
  base.timeout = o_.request_timeout;
  base.connect_timeout = std::min(o_.request_timeout, std::chrono::milliseconds(10000));
  base.keep_body = false;
  base.abort = &abort_;
  base.pool_key = "metric-output";

  std::mt19937_64 rng(std::random_device{}());
  int attempt = 0;
  bool outage = false;
  std::uint64_t outage_failures = 0;
  Clock::time_point outage_start;
  int read_fd = -1;
  std::uint64_t read_seg = 0;

  for (;;) {
    Pos from;
    std::uint64_t limit = 0;
    bool sealed = false;
    {
      std::unique_lock lk(mu_);
      for (;;) {
        if (stop_) break;
        const auto now = Clock::now();
        if (ReadyToSend(now)) break;
        if (pending_since_ && cursor_ < Pos{segments_.back(), cur_durable_}) {
          sender_cv_.wait_until(lk, *pending_since_ + o_.flush_interval);
        } else {
          sender_cv_.wait(lk);
        }
      }
      if (stop_) break;
      from = cursor_;
      sealed = from.seg != segments_.back();
      limit = sealed ? UINT64_MAX : cur_durable_;
    }

    if (read_fd < 0 || read_seg != from.seg) {
      if (read_fd >= 0) ::close(read_fd);
      read_seg = from.seg;
      read_fd = ::open(SegPath(from.seg).c_str(), O_RDONLY | O_CLOEXEC);
    }
    std::size_t lines = 0;
    Result<std::string> body = read_fd >= 0 ? ReadBatch(read_fd, from, limit, lines)
                                            : Fail(errc::kInternal, "segment missing");
    if (!body && !sealed) {
      // The live segment is unreadable (removed or damaged by someone else): wait, retry.
      log::Error("metric output: cannot read the spool",
                 {{"output", o_.id}, {"error", body.error().message}});
      if (read_fd >= 0) ::close(read_fd);
      read_fd = -1;
      std::unique_lock lk(mu_);
      sender_cv_.wait_for(lk, o_.retry_max, [&] { return stop_; });
      continue;
    }
    if (!body || (body->empty() && sealed)) {
      // End of a sealed segment (or an unreadable one): move on and delete it.
      if (!body) {
        log::Error("metric output: skipping unreadable spool segment",
                   {{"output", o_.id}, {"error", body.error().message}});
      }
      std::uint64_t leftover = 0;  // an unterminated remainder (not expected in sealed data)
      struct stat st {};
      if (read_fd >= 0 && ::fstat(read_fd, &st) == 0 &&
          static_cast<std::uint64_t>(st.st_size) > from.off) {
        leftover = static_cast<std::uint64_t>(st.st_size) - from.off;
      }
      std::uint64_t next;
      {
        std::lock_guard lk(mu_);
        next = segments_.size() > 1 ? segments_[1] : segments_.back();
      }
      if (auto s = PersistCursor({next, 0}); !s) {
        log::Error("metric output: cannot persist spool cursor",
                   {{"output", o_.id}, {"error", s.error().message}});
      }
      if (read_fd >= 0) ::close(read_fd);
      read_fd = -1;
      ::unlink(SegPath(from.seg).c_str());
      std::lock_guard lk(mu_);
      if (!segments_.empty() && segments_.front() == from.seg) segments_.pop_front();
      cursor_ = {next, 0};
      stats_.spooled_bytes -= std::min(stats_.spooled_bytes, leftover);
      sync_cv_.notify_all();
      continue;
    }
    if (body->empty()) continue;  // raced with nothing new; re-check under the lock

    const std::string failure =
        client ? Post(**client, base, *body) : "no HTTP client: " + client.error().message;
    if (!failure.empty() && abort_.load()) break;  // cancelled by the destructor
    if (failure.empty()) {
      const Pos to{from.seg, from.off + body->size()};
      if (auto s = PersistCursor(to); !s) {
        log::Error("metric output: cannot persist spool cursor (records may be resent)",
                   {{"output", o_.id}, {"error", s.error().message}});
      }
      if (outage) {
        log::Info(
            "metric output: collector reachable again",
            {{"output", o_.id},
             {"failed_posts", std::to_string(outage_failures)},
             {"outage_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              Clock::now() - outage_start)
                                              .count())}});
      }
      outage = false;
      outage_failures = 0;
      attempt = 0;
      std::lock_guard lk(mu_);
      cursor_ = to;
      stats_.sent += lines;
      stats_.spooled_bytes -= std::min<std::uint64_t>(stats_.spooled_bytes, body->size());
      pending_lines_ -= std::min<std::uint64_t>(pending_lines_, lines);
      if (!(cursor_ < Pos{segments_.back(), cur_durable_})) {
        backlog_ = false;
        pending_since_.reset();
      }
      sync_cv_.notify_all();
      continue;
    }

    if (!outage) {
      outage = true;
      outage_start = Clock::now();
      log::Warn("metric output: collector unreachable, retrying with backoff",
                {{"output", o_.id}, {"reason", failure}});
    }
    ++outage_failures;
    // Exponential backoff with jitter, kept within [retry_min, retry_max].
    const auto base = o_.retry_min.count();
    const auto cap = o_.retry_max.count();
    std::int64_t delay = base;
    for (int k = 0; k < attempt && delay < cap; ++k) delay *= 2;
    delay = std::min<std::int64_t>(delay, cap);
    std::uniform_int_distribution<std::int64_t> jitter(std::max<std::int64_t>(base, delay / 2),
                                                       delay);
    const auto wait = std::chrono::milliseconds(jitter(rng));
    if (attempt < 62) ++attempt;
    std::unique_lock lk(mu_);
    ++stats_.failed_posts;
    sender_cv_.wait_for(lk, wait, [&] { return stop_; });
  }

  if (read_fd >= 0) ::close(read_fd);
}

class StdoutOutput final : public MetricOutput {
 public:
  Status Append(std::span<const std::string> lines) override {
    std::string text;
    for (const auto& l : lines) {
      if (l.empty() || l.find_first_of(std::string_view("\n\r\0", 3)) != std::string::npos) {
        return Fail(errc::kBadRequest, "a record must be one non-empty line");
      }
      text.append(l).push_back('\n');
    }
    std::lock_guard lock(mu_);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    appended_ += lines.size();
    return Ok();
  }
  bool Flush(std::chrono::milliseconds) override { return true; }
  OutputStats Stats() const override {
    std::lock_guard lock(mu_);
    OutputStats s;
    s.appended = s.sent = appended_;
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::uint64_t appended_ = 0;
};

}  // namespace

std::unique_ptr<MetricOutput> MetricOutput::OpenStdout() {
  return std::make_unique<StdoutOutput>();
}

Result<std::unique_ptr<MetricOutput>> MetricOutput::Open(const OutputOptions& options) {
  if (auto s = ValidateOptions(options); !s) return tl::unexpected(s.error());
  try {
    auto out = std::make_unique<SpoolOutput>(options);
    if (auto s = out->Init(); !s) return tl::unexpected(s.error());
    return std::unique_ptr<MetricOutput>(std::move(out));
  } catch (const std::exception& e) {
    return Fail(errc::kInternal, "output " + options.id + ": " + e.what());
  }
}

}  // namespace opsorch::workflow
