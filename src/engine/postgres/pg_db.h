// A thin RAII layer over libpq: connections with a prepared-statement cache, text parameters,
// results with typed reads. Every failure is an Error naming the SQL step; nothing throws.
// libpq's header stays in pg_db.cc (only its two handle types are named here).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

struct pg_conn;
struct pg_result;

namespace opsorch::metrics {
class Counter;
class Histogram;
class Registry;
}  // namespace opsorch::metrics

namespace opsorch::engine::postgres {

// A one-dimensional array in PostgreSQL's binary format (array_recv), built element by element
// for an `unnest($n::type[], …)` or `= ANY($n::type[])`: the server reads each element's bytes
// as they are instead of parsing (and us escaping) a text literal. Its element type is fixed:
// int8 or text, as the statement's cast says (the server checks it).
class BinaryArray {
 public:
  enum Type : std::uint32_t { kInt8 = 20, kText = 25 };             // the types' OIDs
  BinaryArray(Type type) : type_(type) { bytes_.resize(kHeader); }  // NOLINT: tables of them
  void Add(std::string_view s);
  void Add(std::int64_t v);
  std::size_t size() const { return n_; }
  // Whether a text element holds a NUL (which PostgreSQL text cannot store).
  bool has_nul() const { return nul_; }
  // Whether it has elements and every one equals the first.
  bool constant() const { return n_ > 0 && same_; }
  // The array's bytes (the builder is empty afterwards).
  std::string Take();
  // The first element's bytes as a binary parameter of the element type (then empty, as Take).
  std::string TakeFirst();

 private:
  static constexpr std::size_t kHeader = 20;  // ndim, flags, type, length, lower bound
  void Added(std::size_t at);                 // after an element's bytes were appended at `at`
  void Reset();
  Type type_;
  std::size_t n_ = 0;
  bool nul_ = false;
  bool same_ = true;
  std::size_t first_end_ = kHeader;  // where the first element's length and bytes end
  std::string bytes_;
};

// The largest value PostgreSQL takes (MaxAllocSize): a larger parameter is refused before it is
// sent.
inline constexpr std::size_t kMaxParameterBytes = (std::size_t{1} << 30) - 1;

// Parameters of one statement ($1, $2, … in the order added): text, but for arrays, which are
// sent in binary.
class Params {
 public:
  Params& Add(std::string_view v);
  Params& Add(std::int64_t v);
  Params& AddJson(const JsonObject& v);
  Params& AddJson(const JsonArray& v);
  // A text[] of the strings, for `= ANY($n::text[])` and unnest.
  Params& AddArray(const std::vector<std::string>& v);
  Params& AddArray(BinaryArray&& v);
  // One value of the array's element type, its first element (sent in binary): for a column
  // whose every row holds the same value.
  Params& AddFirst(BinaryArray&& v);

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<std::string>& values() const { return values_; }
  // Replaces element `element` of parameter `param`, an int8 array added by AddArray (no-op
  // if there is none such).
  void SetInt8(int param, std::size_t element, std::int64_t v);
  // Per value: 1 binary, 0 text (shorter than values(): the rest are text).
  const std::vector<int>& formats() const { return formats_; }
  // The first array (1-based, 0 none) with a text element holding a NUL.
  int array_with_nul() const { return array_with_nul_; }

 private:
  // A value in binary format (`has_nul`: a text element of it holds a NUL).
  Params& AddBinary(bool has_nul, std::string bytes);
  std::vector<std::string> values_;
  std::vector<int> formats_;
  int array_with_nul_ = 0;
};

// A result set (or a command's completion). Reads are of row `r`, column `c`.
class Rows {
 public:
  explicit Rows(pg_result* r) : r_(r) {}
  ~Rows();
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows& operator=(Rows&& o) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;

  int size() const;
  // The command tag ("COMMIT", or "ROLLBACK" for a COMMIT of a failed transaction, …).
  std::string_view Command() const;
  bool empty() const { return size() == 0; }
  std::int64_t Affected() const;  // rows changed by INSERT/UPDATE/DELETE

  std::string Text(int r, int c) const;
  std::int64_t Int(int r, int c) const;
  JsonObject Object(int r, int c) const;
  JsonArray Array(int r, int c) const;
  bool IsNull(int r, int c) const;

 private:
  pg_result* r_;
};

// The reconnect backoff shared by one store's connections. While connects succeed it lets every
// one through. After one fails, the next is allowed only after a pause (100 ms, doubling up to
// `max`), and only one at a time: meanwhile every caller needing a connection fails at once
// (unavailable) instead of each hammering a server that is down or waiting on its connect
// timeout. A successful connect ends it.
class ReconnectBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirstPause{100};
  // `refused` counts callers failed without trying (may be null).
  ReconnectBackoff(std::chrono::milliseconds max, metrics::Counter* refused);

  // Whether a connect may be tried now; the error to answer with if not. Every Ok must be
  // followed by End with the outcome.
  struct Ticket {
    bool gated = false;  // the one attempt allowed after failures
  };
  Result<Ticket> Begin();
  void End(Ticket t, bool connected, std::string_view why);
  // True while Begin would refuse (the server is down and the pause has not run out).
  bool Refusing() const;
  std::int64_t FailuresForTest() const {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds max_;
  metrics::Counter* const refused_;
  mutable std::mutex mu_;
  std::int64_t failures_ = 0;  // consecutive failed connects; 0: the server is up
  std::chrono::milliseconds pause_{0};
  Clock::time_point next_;  // failures_ > 0: when the next attempt may start
  Clock::time_point down_since_;
  bool trying_ = false;  // the gated attempt is running
};

// How a connection behaves, the same for all of one store's connections but for the metrics
// of its role (writer or pool).
struct ConnectOptions {
  std::chrono::milliseconds statement_timeout{30'000};  // 0: none
  // More of the session's settings (SET statements), applied after statement_timeout.
  std::string session_settings;
  std::shared_ptr<ReconnectBackoff> backoff;  // null: every connect is tried
  // Time spent in libpq per statement (send to last result), as opsorch waits for it.
  metrics::Histogram* round_trip = nullptr;
  metrics::Counter* reconnects_ok = nullptr;  // a lost connection re-established
  metrics::Counter* reconnects_failed = nullptr;
};

class Connection {
 public:
  // Connects to `url` (a postgres:// URI or a key=value string) and applies the session
  // settings every connection needs. The URL never appears in an error (it may hold a password).
  static Result<std::unique_ptr<Connection>> Open(const std::string& url,
                                                  ConnectOptions options = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One or more statements without parameters or results (simple query protocol).
  Status Exec(std::string_view sql);
  // One statement, prepared once per connection and cached.
  Result<Rows> Query(std::string_view sql, const Params& params = {});
  // One statement whose rows are handed to `row` one at a time (single-row mode), for results
  // too large to hold twice. `row` gets a one-row Rows (read row 0).
  Status QueryEach(std::string_view sql, const Params& params,
                   const std::function<void(const Rows&)>& row);

  // False once the server connection is lost (EnsureConnected() may bring it back).
  bool Healthy() const;
  // True when no transaction is open (a connection can go back to a pool).
  bool Idle() const;
  // Resets a lost connection (also one the server closed while it was idle: a restart) and
  // re-applies the session settings; Ok if healthy. Through the reconnect backoff: while the
  // server is known to be down this fails at once (unavailable).
  Status EnsureConnected();
  // (Re-)applies the settings every session starts with (statement_timeout and
  // session_settings).
  Status ApplySessionSettings();

  // Whether a statement failed with a serialization failure or deadlock since the last
  // ClearRetryable(): the transaction must then be rolled back and run again. Sticky, because
  // the statements after it fail with "transaction is aborted" instead.
  bool saw_retryable() const { return saw_retryable_; }
  // The SQLSTATE of the last error a statement returned since ClearRetryable() ("": none).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  void ClearRetryable() {
    saw_retryable_ = false;
    last_sqlstate_.clear();
  }

  // Statements sent together and answered together (libpq's pipeline mode): one round trip
  // for all, executed one after the other, each a statement of its own (its own snapshot under
  // READ COMMITTED). Prepared and cached as Query's are. All their results, or the first error
  // (the statements after a failed one are not executed).
  struct Statement {
    std::string_view sql;
    const Params* params;
  };
  Result<std::vector<Rows>> Pipeline(const std::vector<Statement>& statements);

  // A statement sent without waiting for its result (libpq's pipeline mode), so that the server
  // runs it while the caller goes on: a write whose outcome is only success or an error (it
  // raises one when what it checks does not hold). Drain() reads the results (and hands over
  // their rows when asked); every other call (Exec, Query, QueryEach, Pipeline) drains first, so it
  // runs after them, and a deferred statement's error is what that call returns. After a failed one
  // the server skips the deferred statements behind it (PostgreSQL's pipeline rules).
  // `flush` false: kept in libpq's buffer, sent with the next statement that flushes (so that
  // the server gets a transaction's statements in one packet, not one each).
  Status Defer(std::string_view sql, const Params& params = {}, bool flush = true);
  // A Defer with this many statements queued drains them first (their answers must not pile
  // up): a caller that needs its statements' answers by position drains before that.
  static constexpr std::size_t kMaxDeferred = 64;
  // Reads the deferred statements' results: Ok, or the first error. `failed_at`, when given, is
  // set to the index (among the statements deferred since the last drain) of the first that
  // failed or went unanswered (the connection was lost), or to their count. `results`, when
  // given, gets the rows of each statement that succeeded, in order.
  Status Drain(std::size_t* failed_at = nullptr, std::vector<Rows>* results = nullptr);
  std::size_t deferred() const { return deferred_.size(); }
  // Whether every deferred statement has been answered (or the connection failed: Drain says
  // so), waiting at most `wait` for it: the deferred statements are closed (a sync, which makes
  // the server send their answers) and what has come is read, and kept for Drain. Nothing
  // deferred: true.
  bool Answered(std::chrono::microseconds wait);
  // Tests only: reads every answer of the deferred statements, the sync's too, behind this
  // object's back, leaving libpq idle while Answered and Drain still expect them: the state
  // the writer once spun in after an immediate restart (Drain), by a path not found since.
  void SwallowAnswersForTest();

  // Counts the sessions this connection has had: a reconnect starts a new one.
  std::uint64_t Session() const { return sessions_; }

  // While held, Exec, Query, QueryEach, Pipeline, Defer and Drain fail at once, and refused()
  // says one did: the writer runs a group ahead while the one before it is still in
  // flight on this connection (pg_store.cc, "WriteGroup"), and that group may only use what it
  // holds in memory. Nothing is sent or read: the answers in flight stay for their Drain.
  void Hold(bool on) {
    held_ = on;
    if (on) refused_ = false;
  }
  bool refused() const { return refused_; }

 private:
  Connection(pg_conn* c, ConnectOptions options) : c_(c), options_(std::move(options)) {}
  // The cached statement's name ("" = too many cached, send it unnamed).
  Result<const std::string*> Prepared(std::string_view sql, const Params& params);
  // Refuses parameters PostgreSQL cannot take (a NUL in text, a value of 1 GiB or more), named.
  Status CheckParams(std::string_view sql, const Params& params);
  // Defer's send (Pipeline's too, which leaves the flush to its sync and passes the statement's
  // name, prepared and checked already).
  Status Send(std::string_view sql, const Params& params, bool flush, const std::string* prepared);
  Result<Rows> Check(pg_result* r, std::string_view sql);
  Error ErrorFrom(pg_result* r, std::string_view sql);
  // An idle connection has nothing to read: if its socket is readable the server closed it or
  // is about to (a restart), which only reading shows. One poll(), no round trip.
  void NoticeClosed();
  // Times one libpq call that waits for the server (steady_clock; the histogram is lock-free).
  template <class F>
  auto Timed(F call) {
    if (options_.round_trip == nullptr) return call();
    const auto start = std::chrono::steady_clock::now();
    auto r = call();
    ObserveRoundTrip(std::chrono::steady_clock::now() - start);
    return r;
  }
  void ObserveRoundTrip(std::chrono::steady_clock::duration d);
  // Hold's refusal (Ok when not held).
  Status Refuse(std::string_view sql);

  pg_conn* c_;
  ConnectOptions options_;
  std::map<std::string, std::string, std::less<>> prepared_;  // SQL → statement name
  std::vector<std::string> deferred_;  // the SQL of statements sent by Defer, not drained yet
  // Answered's: the sync was sent, the answers read so far (null: the end of one statement's),
  // and whether they are complete. Drain takes them first.
  bool synced_ = false, sync_seen_ = false;
  std::deque<pg_result*> early_;
  pg_result* NextResult();
  void ForgetEarly();
  bool saw_retryable_ = false;
  std::string last_sqlstate_;
  std::uint64_t sessions_ = 1;
  bool held_ = false, refused_ = false;
};

// The connections of one store besides its writer: at most `max` open, kept open between uses
// (a lost one is kept too and reconnected by its next user, through the backoff). A caller
// finding all of them in use waits up to `wait` for one, then fails (unavailable).
class ConnectionPool {
 public:
  // What /metrics shows of the pool (gauges read at render time, so shared with the collector).
  struct Gauges {
    std::atomic<std::int64_t> in_use{0}, idle{0};
    std::int64_t max = 0;
    std::atomic<bool> live{true};  // false once the pool is gone: the collector shows nothing
  };
  struct Settings {
    std::size_t max = 8;
    std::chrono::milliseconds wait{5'000};
    metrics::Counter* waits = nullptr;     // callers that found every connection in use
    metrics::Counter* timeouts = nullptr;  // … and gave up
  };

  // A connection lent to one caller, given back when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->Release(std::move(c_));
    }
    Connection& operator*() const { return *c_; }
    Connection* operator->() const { return c_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> c_;
  };

  // `url` must outlive the pool.
  ConnectionPool(const std::string& url, ConnectOptions connect, Settings settings);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  Result<Lease> Acquire();
  const std::shared_ptr<Gauges>& gauges() const { return gauges_; }

 private:
  void Release(std::unique_ptr<Connection> c);
  void Publish();  // with mu_ held

  const std::string& url_;
  const ConnectOptions connect_;
  const Settings settings_;
  std::shared_ptr<Gauges> gauges_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // idle, lent, or being opened
};

// The metrics of one PostgreSQL store on `registry` (null: none, everything stays null): the
// round trips and reconnects by role, the pool's waits, and a collector for the pool's gauges
// that shows nothing once the pool is gone.
struct StoreMetrics {
  ConnectOptions writer, pool;  // only their metric pointers are set
  metrics::Counter* refused = nullptr;
  metrics::Counter* pool_waits = nullptr;
  metrics::Counter* pool_timeouts = nullptr;
  // The writer's groups by how they ran (pg_store.cc, WriteGroup): ahead of the group in flight
  // ("overlapped"), from memory once it had landed ("from_memory"), or reading first ("read");
  // and runs ahead dropped (the group before failed, or the run needed the database).
  metrics::Counter *groups_overlapped = nullptr, *groups_from_memory = nullptr,
                   *groups_read = nullptr, *runs_ahead_dropped = nullptr;
};
StoreMetrics RegisterStoreMetrics(metrics::Registry* registry);
void AddPoolGauges(metrics::Registry* registry,
                   std::shared_ptr<const ConnectionPool::Gauges> gauges);

// SQLSTATEs the write path retries the whole transaction on.
bool IsRetryable(std::string_view sqlstate);

}  // namespace opsorch::engine::postgres
