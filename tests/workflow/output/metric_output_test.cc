#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/log/log.h>
#include <opsorch/workflow/metric_output.h>

#include "collector.h"
#include "support/captured_logs.h"
#include "test_paths.h"

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::Collector;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "opsorch-spool-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using LogCapture = opsorch::testing::CapturedLogs;

std::string Record(int id) {
  return "{\"id\":" + std::to_string(id) + ",\"pad\":\"" + std::string(20 + id % 30, 'p') + "\"}";
}

OutputOptions Options(const std::string& dir, const std::string& url) {
  OutputOptions o;
  o.id = "test-out";
  o.url = url;
  o.spool_dir = dir;
  o.headers = {{"Authorization", "Bearer s3cr3t-value"}};
  o.batch_max = 1000;
  o.flush_interval = milliseconds(20);
  o.retry_min = milliseconds(20);
  o.retry_max = milliseconds(200);
  o.request_timeout = milliseconds(2000);
  return o;
}

std::unique_ptr<MetricOutput> MustOpen(const OutputOptions& o) {
  auto out = MetricOutput::Open(o);
  EXPECT_TRUE(out) << (out ? "" : out.error().message);
  return out ? std::move(*out) : nullptr;
}

void AppendRange(MetricOutput& out, int from, int to) {
  for (int i = from; i < to; ++i) {
    const std::string line = Record(i);
    ASSERT_TRUE(out.Append({&line, 1})) << i;
  }
}

// Ids of the accepted records, in arrival order; fails on a line that is not a record.
std::vector<int> Ids(Collector& c) {
  std::vector<int> ids;
  for (const auto& line : c.AcceptedLines()) {
    auto v = ParseJson(line);
    EXPECT_TRUE(v) << "malformed line delivered: " << line;
    if (!v) continue;
    ids.push_back(static_cast<int>(v->as_object().at("id").to_number<std::int64_t>()));
  }
  return ids;
}

std::vector<int> Iota(int from, int to) {
  std::vector<int> v;
  for (int i = from; i < to; ++i) v.push_back(i);
  return v;
}

std::vector<std::string> SegmentFiles(const std::string& spool) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(spool)) {
    if (e.path().filename().string().starts_with("seg-")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(MetricOutputTest, BatchesAreNdjsonAndAtMostBatchMax) {
  TempDir dir;
  Collector c;
  c.Start();
  auto o = Options(dir.path(), c.Url());
  o.batch_max = 7;
  o.flush_interval = milliseconds(10000);  // only full batches or Flush send
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  AppendRange(*out, 0, 50);
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  EXPECT_EQ(Ids(c), Iota(0, 50));
  const auto reqs = c.Requests();
  ASSERT_GE(reqs.size(), 8u);  // 50 / 7
  for (const auto& r : reqs) {
    EXPECT_EQ(r.content_type, "application/x-ndjson");
    EXPECT_EQ(r.authorization, "Bearer s3cr3t-value");
    ASSERT_FALSE(r.body.empty());
    EXPECT_EQ(r.body.back(), '\n');
    EXPECT_EQ(r.body.find("\n\n"), std::string::npos);
    EXPECT_LE(std::count(r.body.begin(), r.body.end(), '\n'), 7);
  }
  const auto stats = out->Stats();
  EXPECT_EQ(stats.appended, 50u);
  EXPECT_EQ(stats.sent, 50u);
  EXPECT_EQ(stats.spooled_bytes, 0u);
  EXPECT_EQ(stats.failed_posts, 0u);
}

TEST(MetricOutputTest, MultiLineAppendIsOneUnitAndInvalidLinesAreRefused) {
  TempDir dir;
  Collector c;
  c.Start();
  auto out = MustOpen(Options(dir.path(), c.Url()));
  ASSERT_TRUE(out);
  std::vector<std::string> lines = {Record(0), Record(1), Record(2)};
  ASSERT_TRUE(out->Append(lines));
  for (std::string bad :
       {std::string(), std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3)}) {
    std::vector<std::string> batch = {Record(3), bad};
    auto s = out->Append(batch);
    ASSERT_FALSE(s);
    EXPECT_EQ(WireCode(s.error()), "bad_request");
    EXPECT_NE(s.error().message.find("record 1"), std::string::npos) << s.error().message;
  }
  ASSERT_TRUE(out->Flush(milliseconds(5000)));
  EXPECT_EQ(Ids(c), Iota(0, 3));  // nothing of a refused call was written
}

TEST(MetricOutputTest, PartialBatchIsSentAfterFlushInterval) {
  TempDir dir;
  Collector c;
  c.Start();
  auto o = Options(dir.path(), c.Url());
  o.flush_interval = milliseconds(300);
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  const auto t0 = std::chrono::steady_clock::now();
  AppendRange(*out, 0, 3);
  while (Ids(c).size() < 3 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  const auto reqs = c.Requests();
  ASSERT_EQ(reqs.size(), 1u);  // one partial batch, not one POST per record
  EXPECT_GE(reqs[0].at - t0, milliseconds(250));
  EXPECT_LT(reqs[0].at - t0, milliseconds(3000));
  EXPECT_EQ(Ids(c), Iota(0, 3));
}

TEST(MetricOutputTest, CollectorDownRetriesWithBackoffThenDeliversInOrder) {
  TempDir dir;
  LogCapture logs;
  Collector c;
  c.ReservePort();
  auto o = Options(dir.path(), c.Url());
  o.batch_max = 10;
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  AppendRange(*out, 0, 35);
  std::this_thread::sleep_for(milliseconds(600));
  const auto down = out->Stats();
  // Backoff, not a hot loop: 600 ms with delays of 20..200 ms doubling → a handful of tries.
  EXPECT_GE(down.failed_posts, 3u);
  EXPECT_LE(down.failed_posts, 15u);
  EXPECT_EQ(down.sent, 0u);
  EXPECT_GT(down.spooled_bytes, 0u);
  c.Start();
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  EXPECT_EQ(Ids(c), Iota(0, 35));
  EXPECT_EQ(out->Stats().spooled_bytes, 0u);
  EXPECT_EQ(logs.Count("collector unreachable"), 1);  // one warning per outage
  EXPECT_EQ(logs.Count("collector reachable again"), 1);
  for (const auto& l : logs.Lines()) EXPECT_EQ(l.find("s3cr3t"), std::string::npos) << l;
}

TEST(MetricOutputTest, RetriesOn500400And302UntilA2xx) {
  TempDir dir;
  Collector c;
  c.Script({500, 400, 302, 500, 500});
  c.Start();
  auto o = Options(dir.path(), c.Url());
  o.retry_min = milliseconds(30);
  o.retry_max = milliseconds(100);
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  AppendRange(*out, 0, 20);
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  EXPECT_EQ(Ids(c), Iota(0, 20));  // exactly once, in order
  const auto reqs = c.Requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(out->Stats().failed_posts, 5u);
  // Every failed request was followed by a pause within [retry_min, retry_max] (+ slack).
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    const auto gap = reqs[i].at - reqs[i - 1].at;
    EXPECT_GE(gap, milliseconds(25)) << i;
    EXPECT_LE(gap, milliseconds(600)) << i;
  }
  // A refused batch is resent from the same place (it may grow by records appended since).
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_TRUE(reqs[i].body.starts_with(reqs[i - 1].body)) << i;
  }
}

TEST(MetricOutputTest, BackoffGrowsExponentiallyUpToRetryMax) {
  TempDir dir;
  Collector c;
  c.Script(std::vector<int>(7, 503));
  c.Start();
  auto o = Options(dir.path(), c.Url());
  o.retry_min = milliseconds(40);
  o.retry_max = milliseconds(320);
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  AppendRange(*out, 0, 1);
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  const auto reqs = c.Requests();
  ASSERT_EQ(reqs.size(), 8u);
  // Delay k is drawn from [max(min, d/2), d] with d = min(min·2^k, max).
  const int lo[] = {40, 40, 80, 160, 160, 160, 160};
  const int hi[] = {40, 80, 160, 320, 320, 320, 320};
  for (int k = 0; k < 7; ++k) {
    const auto gap = std::chrono::duration_cast<milliseconds>(reqs[k + 1].at - reqs[k].at);
    EXPECT_GE(gap.count(), lo[k] - 5) << k;
    EXPECT_LE(gap.count(), hi[k] + 150) << k;
  }
}

TEST(MetricOutputTest, RestartWhileCollectorDownLosesAndDuplicatesNothing) {
  TempDir dir;
  Collector c;
  c.Start();
  auto o = Options(dir.path(), c.Url());
  o.batch_max = 16;
  {
    auto out = MustOpen(o);
    ASSERT_TRUE(out);
    AppendRange(*out, 0, 40);
    ASSERT_TRUE(out->Flush(milliseconds(10000)));  // these are acknowledged before the outage
    c.Stop();
    AppendRange(*out, 40, 100);
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_EQ(out->Stats().sent, 40u);
  }  // destroyed while the collector is down
  {
    auto out = MustOpen(o);
    ASSERT_TRUE(out);
    EXPECT_GT(out->Stats().spooled_bytes, 0u);
    AppendRange(*out, 100, 120);
    c.Start();
    ASSERT_TRUE(out->Flush(milliseconds(10000)));
    EXPECT_EQ(out->Stats().sent, 80u);
  }
  EXPECT_EQ(Ids(c), Iota(0, 120));
  // Fully sent segments are deleted; the spool keeps only the (empty) live segment.
  const auto segs = SegmentFiles(dir.path() + "/test-out");
  EXPECT_LE(segs.size(), 1u);
}

TEST(MetricOutputTest, TornTailIsDroppedOnRecovery) {
  for (const auto& garbage :
       {std::string(R"({"id":999,"pad":"tor)"), std::string("\0\0\0\0\0\0\n", 7),
        std::string("{\"id\":998}\n\0\0\0", 14)}) {
    TempDir dir;
    Collector c;
    c.ReservePort();
    auto o = Options(dir.path(), c.Url());
    {
      auto out = MustOpen(o);
      ASSERT_TRUE(out);
      AppendRange(*out, 0, 10);
    }
    const auto segs = SegmentFiles(dir.path() + "/test-out");
    ASSERT_FALSE(segs.empty());
    {
      // The newest segment holding records gets a half-written record at its end.
      std::string target;
      for (const auto& s : segs) {
        if (fs::file_size(s) > 0) target = s;
      }
      ASSERT_FALSE(target.empty());
      std::ofstream f(target, std::ios::app | std::ios::binary);
      f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    auto out = MustOpen(o);
    ASSERT_TRUE(out);
    AppendRange(*out, 10, 15);
    c.Start();
    ASSERT_TRUE(out->Flush(milliseconds(10000)));
    auto ids = Ids(c);
    // A complete line before the NUL run is kept (it may have been acknowledged).
    if (garbage.starts_with("{\"id\":998}")) {
      auto expected = Iota(0, 10);
      expected.push_back(998);
      auto tail = Iota(10, 15);
      expected.insert(expected.end(), tail.begin(), tail.end());
      EXPECT_EQ(ids, expected);
    } else {
      EXPECT_EQ(ids, Iota(0, 15));
    }
  }
}

TEST(MetricOutputTest, SpoolCapRefusesAppendsAndRecoversAfterDelivery) {
  TempDir dir;
  LogCapture logs;
  Collector c;
  c.ReservePort();
  auto o = Options(dir.path(), c.Url());
  o.max_spool_bytes = 2000;
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  int accepted = 0;
  Status last;
  for (int i = 0; i < 100; ++i) {
    const std::string line = Record(i);
    last = out->Append({&line, 1});
    if (!last) break;
    ++accepted;
  }
  ASSERT_FALSE(last);
  EXPECT_EQ(WireCode(last.error()), "spool_full");
  EXPECT_NE(last.error().message.find("max_spool_bytes"), std::string::npos);
  EXPECT_GT(accepted, 10);
  EXPECT_LT(accepted, 100);
  const std::string one = Record(1000);
  EXPECT_FALSE(out->Append({&one, 1}));
  auto stats = out->Stats();
  EXPECT_EQ(stats.refused, 2u);
  EXPECT_LE(stats.spooled_bytes, 2000u);
  EXPECT_EQ(logs.Count("spool full"), 1);
  c.Start();
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  EXPECT_TRUE(out->Append({&one, 1}));
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  auto expected = Iota(0, accepted);
  expected.push_back(1000);
  EXPECT_EQ(Ids(c), expected);
}

TEST(MetricOutputTest, ConcurrentAppendersShareSyncsAndKeepPerThreadOrder) {
  TempDir dir;
  Collector c;
  c.Start();
  auto o = Options(dir.path(), c.Url());
  o.batch_max = 100;
  o.segment_bytes = 8192;  // rotations race with appends
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  constexpr int kThreads = 4, kPer = 300;
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        const std::string line = Record(t * 100000 + i);
        EXPECT_TRUE(out->Append({&line, 1}));
      }
    });
  }
  for (auto& th : pool) th.join();
  ASSERT_TRUE(out->Flush(milliseconds(20000)));
  const auto ids = Ids(c);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPer));
  std::vector<int> next(kThreads, 0);
  for (int id : ids) {
    const int t = id / 100000;
    EXPECT_EQ(id % 100000, next[t]++) << "thread " << t;
  }
  EXPECT_LE(SegmentFiles(dir.path() + "/test-out").size(), 2u);
}

TEST(MetricOutputTest, SecondOpenOfTheSameSpoolIsRefused) {
  TempDir dir;
  auto o = Options(dir.path(), "http://127.0.0.1:1/ingest");
  auto first = MustOpen(o);
  ASSERT_TRUE(first);
  auto second = MetricOutput::Open(o);
  ASSERT_FALSE(second);
  EXPECT_EQ(WireCode(second.error()), "conflict");
}

TEST(MetricOutputTest, OptionErrorsNameTheOption) {
  TempDir dir;
  struct Case {
    std::function<void(OutputOptions&)> change;
    const char* names;
  };
  const Case cases[] = {
      {[](OutputOptions& o) { o.id = "../x"; }, "id:"},
      {[](OutputOptions& o) { o.url = "ftp://x/"; }, "url:"},
      {[](OutputOptions& o) { o.url = "http://a b/"; }, "url:"},
      {[](OutputOptions& o) { o.spool_dir.clear(); }, "spool_dir:"},
      {[](OutputOptions& o) { o.batch_max = 0; }, "batch_max:"},
      {[](OutputOptions& o) { o.retry_min = milliseconds(0); }, "retry_min:"},
      {[](OutputOptions& o) { o.retry_max = milliseconds(1); }, "retry_max:"},
      {[](OutputOptions& o) { o.request_timeout = milliseconds(0); }, "request_timeout:"},
      {[](OutputOptions& o) { o.max_spool_bytes = 0; }, "max_spool_bytes:"},
      {[](OutputOptions& o) {
         o.headers = {{"X-A", "v\r\nX-Evil: 1"}};
       },
       "headers[X-A]"},
      {[](OutputOptions& o) {
         o.headers = {{"Bad Name", "v"}};
       },
       "headers:"},
  };
  for (const auto& c : cases) {
    auto o = Options(dir.path(), "http://127.0.0.1:1/ingest");
    c.change(o);
    auto out = MetricOutput::Open(o);
    ASSERT_FALSE(out) << c.names;
    EXPECT_EQ(WireCode(out.error()), "bad_request");
    EXPECT_NE(out.error().message.find(c.names), std::string::npos) << out.error().message;
    EXPECT_EQ(out.error().message.find("X-Evil"), std::string::npos);  // values never quoted
  }
}

TEST(MetricOutputTest, DestructionDuringBackoffIsPromptAndKeepsTheSpool) {
  TempDir dir;
  Collector c;
  c.ReservePort();
  auto o = Options(dir.path(), c.Url());
  o.retry_min = milliseconds(20000);
  o.retry_max = milliseconds(30000);
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  AppendRange(*out, 0, 5);
  EXPECT_FALSE(out->Flush(milliseconds(200)));
  const auto t0 = std::chrono::steady_clock::now();
  out.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(2000));
  c.Start();
  o.retry_min = milliseconds(20);
  o.retry_max = milliseconds(100);
  out = MustOpen(o);
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->Flush(milliseconds(10000)));
  EXPECT_EQ(Ids(c), Iota(0, 5));
}

// Runs the helper, which appends records and acknowledges each on stdout; SIGKILLs it once
// `kill_after` acks arrived (or after "done"), and returns the acknowledged ids.
std::set<int> RunAndKill(const std::string& spool, const std::string& url, int count, int threads,
                         int kill_after, bool sync) {
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDOUT_FILENO);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    const std::string n = std::to_string(count), t = std::to_string(threads);
    ::execl(OPSORCH_SPOOL_HELPER, OPSORCH_SPOOL_HELPER, spool.c_str(), url.c_str(), n.c_str(),
            t.c_str(), sync ? "sync" : "nosync", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::set<int> acked;
  std::string buf;
  bool killed = false;
  char chunk[4096];
  for (;;) {
    const ssize_t r = ::read(pipefd[0], chunk, sizeof chunk);
    if (r <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(r));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      const std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.starts_with("ack ")) acked.insert(std::stoi(line.substr(4)));
      const bool done = line == "done";
      if (!killed && (done || static_cast<int>(acked.size()) >= kill_after)) {
        ::kill(pid, SIGKILL);  // acks already in the pipe are still read below
        killed = true;
      }
    }
  }
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "helper status " << status;
  return acked;
}

void ExpectAllAckedDelivered(bool collector_up_during_run, int count, int threads, int kill_after,
                             bool sync = true) {
  TempDir dir;
  Collector c;
  if (collector_up_during_run) {
    c.Start();
  } else {
    c.ReservePort();
  }
  const auto acked = RunAndKill(dir.path(), c.Url(), count, threads, kill_after, sync);
  ASSERT_GE(static_cast<int>(acked.size()), std::min(count, kill_after));
  if (!collector_up_during_run) c.Start();
  auto o = Options(dir.path(), c.Url());
  o.id = "kill";
  auto out = MustOpen(o);
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->Flush(milliseconds(20000)));
  const auto ids = Ids(c);  // also fails on any malformed (torn) line
  const std::set<int> got(ids.begin(), ids.end());
  for (int id : acked) EXPECT_TRUE(got.count(id)) << "acknowledged record " << id << " lost";
  if (!collector_up_during_run) {
    // Nothing was sent before the crash, so nothing may arrive twice.
    EXPECT_EQ(got.size(), ids.size());
  }
}

TEST(MetricOutputCrashTest, SigkillRightAfterLastAppendLosesNothing) {
  ExpectAllAckedDelivered(false, 300, 1, 1 << 30);
}

TEST(MetricOutputCrashTest, SigkillMidStreamWithConcurrentAppendersLosesNothing) {
  ExpectAllAckedDelivered(false, 100000, 3, 400);
}

TEST(MetricOutputCrashTest, SigkillWhileSendingLosesNothing) {
  ExpectAllAckedDelivered(true, 100000, 2, 600);
}

TEST(MetricOutputCrashTest, SigkillWithoutPerAppendSyncLosesNothing) {
  ExpectAllAckedDelivered(false, 100000, 3, 3000, /*sync=*/false);
}

// Prints Append throughput (records/s); the floor only catches a pathological regression.
}  // namespace
}  // namespace opsorch::workflow
