#include "engine/postgres/pg_db.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>

namespace opsorch::engine::postgres {
namespace {

// Past this many distinct statements a connection stops preparing new ones (dynamic SQL must
// not grow the server's memory without bound).
constexpr std::size_t kMaxPrepared = 256;
// Statements deferred before their results are read (Defer): each answer is a few bytes the
// server holds until then.

std::string StepName(std::string_view sql) {
  std::string out;
  for (char c : sql.substr(0, 60)) {
    const bool space = c == '\n' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out.push_back(space ? ' ' : c);
  }
  return out;
}

// Server notices ("relation already exists, skipping") would go to stderr, past the logger.
void DropNotice(void*, const char*) {}

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool IsRetryable(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";  // serialization failure, deadlock
}

// ---- Reconnect backoff -------------------------------------------------------------------------

ReconnectBackoff::ReconnectBackoff(std::chrono::milliseconds max, metrics::Counter* refused)
    : max_(std::max(max, kFirstPause)), refused_(refused) {}

Result<ReconnectBackoff::Ticket> ReconnectBackoff::Begin() {
  std::lock_guard lock(mu_);
  if (failures_ == 0) return Ticket{};
  const auto now = Clock::now();
  if (trying_ || now < next_) {
    if (refused_ != nullptr) refused_->Inc();
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        trying_ ? std::chrono::milliseconds(0) : next_ - now);
    // Shown to API callers (503): no host, no URL.
    return Fail(errc::kUnavailable, "the incident store's database is unreachable; " +
                                        (trying_ ? std::string("reconnecting now")
                                                 : "next reconnect attempt in " +
                                                       std::to_string(wait.count()) + " ms"));
  }
  trying_ = true;
  return Ticket{.gated = true};
}

void ReconnectBackoff::End(Ticket t, bool connected, std::string_view why) {
  std::lock_guard lock(mu_);
  if (t.gated) trying_ = false;
  const auto now = Clock::now();
  if (connected) {
    if (failures_ > 0) {
      log::Info(
          "postgres: connected again after " + std::to_string(failures_) + " failed attempts (" +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(now - down_since_).count()) +
          " ms)");
    }
    failures_ = 0;
    return;
  }
  // Connects started while the server still looked up fail together: one failure, not many
  // (each would double the pause).
  if (!t.gated && failures_ > 0) return;
  if (failures_ == 0) {
    down_since_ = now;
    log::Warn("postgres: cannot connect (" + std::string(why) +
              "); callers fail until a reconnect succeeds, tried after " +
              std::to_string(kFirstPause.count()) + " ms, the pause doubling up to " +
              std::to_string(max_.count()) + " ms");
  }
  ++failures_;
  pause_ = failures_ == 1 ? kFirstPause : std::min(pause_ * 2, max_);
  next_ = now + pause_;
}

bool ReconnectBackoff::Refusing() const {
  std::lock_guard lock(mu_);
  return failures_ > 0 && (trying_ || Clock::now() < next_);
}

// ---- Pool ------------------------------------------------------------------------------------

ConnectionPool::ConnectionPool(const std::string& url, ConnectOptions connect, Settings settings)
    : url_(url),
      connect_(std::move(connect)),
      settings_(settings),
      gauges_(std::make_shared<Gauges>()) {
  gauges_->max = static_cast<std::int64_t>(settings_.max);
}

ConnectionPool::~ConnectionPool() { gauges_->live = false; }

void ConnectionPool::Publish() {
  gauges_->idle.store(static_cast<std::int64_t>(idle_.size()), std::memory_order_relaxed);
  gauges_->in_use.store(static_cast<std::int64_t>(open_ - idle_.size()), std::memory_order_relaxed);
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  std::unique_lock lock(mu_);
  const auto available = [&] { return !idle_.empty() || open_ < settings_.max; };
  if (!available()) {
    if (settings_.waits != nullptr) settings_.waits->Inc();
    if (!freed_.wait_for(lock, settings_.wait, available)) {
      lock.unlock();  // not held while logging: the others would queue behind the log write
      if (settings_.timeouts != nullptr) settings_.timeouts->Inc();
      log::Warn("postgres: all " + std::to_string(settings_.max) +
                " pool connections stayed in use for " + std::to_string(settings_.wait.count()) +
                " ms (OPSORCH_ENGINE_PG_POOL, OPSORCH_ENGINE_PG_POOL_WAIT)");
      return Fail(errc::kUnavailable,
                  "the incident store is busy: no database connection "
                  "became free in time; try again");
    }
  }
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    Publish();
    return Lease(this, std::move(c));
  }
  ++open_;  // reserved while connecting, outside the lock
  Publish();
  lock.unlock();
  auto opened = Connection::Open(url_, connect_);
  if (!opened) {
    lock.lock();
    --open_;
    Publish();
    lock.unlock();
    freed_.notify_one();
    return Fail(std::move(opened.error()));
  }
  return Lease(this, std::move(*opened));
}

void ConnectionPool::Release(std::unique_ptr<Connection> c) {
  // A healthy connection left inside a transaction is not fit for the next caller: closed (the
  // server rolls back). A lost one is kept: its next user reconnects it.
  const bool keep = !c->Healthy() || c->Idle();
  if (!keep) c.reset();
  {
    std::lock_guard lock(mu_);
    if (keep) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
    Publish();
  }
  freed_.notify_one();
}

// ---- Metrics ---------------------------------------------------------------------------------

StoreMetrics RegisterStoreMetrics(metrics::Registry* registry) {
  StoreMetrics m;
  if (registry == nullptr) return m;
  constexpr std::string_view kRoundTrip =
      "Time opsorch waits for PostgreSQL per statement (send to last result), by connection "
      "role: the writer, or the pool (reads, API writes).";
  constexpr std::string_view kReconnects =
      "Attempts to re-establish a lost PostgreSQL connection, by connection role and result.";
  for (auto [role, options] :
       {std::pair<std::string_view, ConnectOptions*>{"writer", &m.writer}, {"pool", &m.pool}}) {
    options->round_trip = &registry->GetHistogram("opsorch_engine_pg_round_trip_seconds",
                                                  kRoundTrip, {{"role", role}});
    options->reconnects_ok = &registry->GetCounter("opsorch_engine_pg_reconnects_total",
                                                   kReconnects, {{"role", role}, {"result", "ok"}});
    options->reconnects_failed = &registry->GetCounter(
        "opsorch_engine_pg_reconnects_total", kReconnects, {{"role", role}, {"result", "failed"}});
  }
  m.refused = &registry->GetCounter(
      "opsorch_engine_pg_unavailable_total",
      "Calls failed at once, without a connection attempt, because PostgreSQL was unreachable "
      "and the reconnect pause (OPSORCH_ENGINE_PG_RECONNECT_MAX) had not run out.",
      {});
  constexpr std::string_view kGroups =
      "The PostgreSQL writer's groups of events and writes, by how their units ran: while the "
      "group before was still in flight (overlapped), from the writer's memory after it had "
      "landed (from_memory), or after a first round trip that locks and reads (read).";
  m.groups_overlapped =
      &registry->GetCounter("opsorch_engine_pg_groups_total", kGroups, {{"run", "overlapped"}});
  m.groups_from_memory =
      &registry->GetCounter("opsorch_engine_pg_groups_total", kGroups, {{"run", "from_memory"}});
  m.groups_read =
      &registry->GetCounter("opsorch_engine_pg_groups_total", kGroups, {{"run", "read"}});
  m.runs_ahead_dropped = &registry->GetCounter(
      "opsorch_engine_pg_runs_ahead_dropped_total",
      "Groups the PostgreSQL writer ran from memory and then ran again the usual way: the group "
      "before them failed, or a unit needed the database.",
      {});
  m.pool_waits = &registry->GetCounter(
      "opsorch_engine_pg_pool_waits_total",
      "Callers that found every PostgreSQL pool connection in use (OPSORCH_ENGINE_PG_POOL) and "
      "waited for one.",
      {});
  m.pool_timeouts = &registry->GetCounter(
      "opsorch_engine_pg_pool_wait_timeouts_total",
      "Callers that waited OPSORCH_ENGINE_PG_POOL_WAIT for a PostgreSQL pool connection in vain "
      "and failed.",
      {});
  return m;
}

void AddPoolGauges(metrics::Registry* registry,
                   std::shared_ptr<const ConnectionPool::Gauges> gauges) {
  if (registry == nullptr) return;
  registry->AddCollector([gauges = std::move(gauges)](std::string& out) {
    if (!gauges->live.load()) return;
    out +=
        "# HELP opsorch_engine_pg_pool_connections PostgreSQL pool connections open, by state: "
        "lent to a caller, or idle.\n"
        "# TYPE opsorch_engine_pg_pool_connections gauge\n"
        "opsorch_engine_pg_pool_connections{state=\"in_use\"} " +
        std::to_string(gauges->in_use.load(std::memory_order_relaxed)) +
        "\n"
        "opsorch_engine_pg_pool_connections{state=\"idle\"} " +
        std::to_string(gauges->idle.load(std::memory_order_relaxed)) +
        "\n"
        "# HELP opsorch_engine_pg_pool_max_connections PostgreSQL pool connections at most "
        "(OPSORCH_ENGINE_PG_POOL), besides the writer's.\n"
        "# TYPE opsorch_engine_pg_pool_max_connections gauge\n"
        "opsorch_engine_pg_pool_max_connections " +
        std::to_string(gauges->max) + "\n";
  });
}

Params& Params::Add(std::string_view v) {
  values_.emplace_back(v);
  return *this;
}

Params& Params::Add(std::int64_t v) {
  values_.push_back(std::to_string(v));
  return *this;
}

Params& Params::AddJson(const JsonObject& v) {
  std::string text;
  AppendJsonObject(text, v);
  values_.push_back(std::move(text));
  return *this;
}

Params& Params::AddJson(const JsonArray& v) {
  std::string text;
  AppendJsonValue(text, JsonValue(v));
  values_.push_back(std::move(text));
  return *this;
}

Params& Params::AddArray(const std::vector<std::string>& v) {
  BinaryArray a(BinaryArray::kText);
  for (const auto& s : v) a.Add(s);
  return AddArray(std::move(a));
}

Params& Params::AddFirst(BinaryArray&& v) { return AddBinary(v.has_nul(), v.TakeFirst()); }

Params& Params::AddArray(BinaryArray&& v) { return AddBinary(v.has_nul(), v.Take()); }

Params& Params::AddBinary(bool has_nul, std::string bytes) {
  if (has_nul && array_with_nul_ == 0) array_with_nul_ = size() + 1;
  values_.push_back(std::move(bytes));
  formats_.resize(values_.size(), 0);
  formats_.back() = 1;
  return *this;
}

namespace {

void PutBigEndian(std::string& out, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out[at + static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

void AppendBigEndian(std::string& out, std::uint64_t v, int bytes) {
  out.resize(out.size() + static_cast<std::size_t>(bytes));
  PutBigEndian(out, out.size() - static_cast<std::size_t>(bytes), v, bytes);
}

}  // namespace

void BinaryArray::Add(std::string_view s) {
  if (s.find('\0') != std::string_view::npos) nul_ = true;
  const std::size_t at = bytes_.size();
  AppendBigEndian(bytes_, s.size(), 4);
  bytes_.append(s);
  Added(at);
}

void BinaryArray::Add(std::int64_t v) {
  const std::size_t at = bytes_.size();
  AppendBigEndian(bytes_, 8, 4);
  AppendBigEndian(bytes_, static_cast<std::uint64_t>(v), 8);
  Added(at);
}

void BinaryArray::Added(std::size_t at) {
  if (n_++ == 0) {
    first_end_ = bytes_.size();
  } else if (same_) {
    // Length and bytes alike, compared as encoded.
    const std::size_t size = bytes_.size() - at;
    same_ = size == first_end_ - kHeader &&
            bytes_.compare(at, size, bytes_, kHeader, first_end_ - kHeader) == 0;
  }
}

void Params::SetInt8(int param, std::size_t element, std::int64_t v) {
  const auto i = static_cast<std::size_t>(param);
  if (param < 0 || i >= formats_.size() || formats_[i] != 1) return;
  std::string& bytes = values_[i];
  // The header (20 bytes), then each element: its length (4), its value (8, big-endian).
  const std::size_t at = 20 + 12 * element + 4;
  if (bytes.size() < at + 8) return;
  PutBigEndian(bytes, at, static_cast<std::uint64_t>(v), 8);
}

std::string BinaryArray::Take() {
  if (n_ == 0) bytes_.resize(12);  // no dimensions: an empty array
  PutBigEndian(bytes_, 0, n_ == 0 ? 0 : 1, 4);
  PutBigEndian(bytes_, 4, 0, 4);  // no NULLs
  PutBigEndian(bytes_, 8, type_, 4);
  if (n_ > 0) {
    PutBigEndian(bytes_, 12, n_, 4);
    PutBigEndian(bytes_, 16, 1, 4);
  }
  std::string out = std::move(bytes_);
  Reset();
  return out;
}

std::string BinaryArray::TakeFirst() {
  std::string out = n_ == 0 ? std::string() : bytes_.substr(kHeader + 4, first_end_ - kHeader - 4);
  Reset();
  return out;
}

void BinaryArray::Reset() {
  bytes_.assign(kHeader, '\0');
  n_ = 0;
  nul_ = false;
  same_ = true;
  first_end_ = kHeader;
}

Rows::~Rows() { PQclear(r_); }

Rows& Rows::operator=(Rows&& o) noexcept {
  if (this != &o) {
    PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

int Rows::size() const { return r_ ? PQntuples(r_) : 0; }

std::string_view Rows::Command() const { return r_ ? PQcmdStatus(r_) : ""; }

std::int64_t Rows::Affected() const {
  const char* n = r_ ? PQcmdTuples(r_) : "";
  std::int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

std::string Rows::Text(int r, int c) const {
  return std::string(PQgetvalue(r_, r, c), static_cast<std::size_t>(PQgetlength(r_, r, c)));
}

std::int64_t Rows::Int(int r, int c) const {
  const char* p = PQgetvalue(r_, r, c);
  std::int64_t v = 0;
  std::from_chars(p, p + PQgetlength(r_, r, c), v);
  return v;
}

bool Rows::IsNull(int r, int c) const { return PQgetisnull(r_, r, c) != 0; }

JsonObject Rows::Object(int r, int c) const {
  const std::string text = Text(r, c);
  if (text.empty()) return {};
  auto v = ParseJson(text);
  return v && v->is_object() ? std::move(v->get_object()) : JsonObject();
}

JsonArray Rows::Array(int r, int c) const {
  const std::string text = Text(r, c);
  if (text.empty()) return {};
  auto v = ParseJson(text);
  return v && v->is_array() ? std::move(v->get_array()) : JsonArray();
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url,
                                                     ConnectOptions options) {
  ReconnectBackoff::Ticket ticket;
  if (options.backoff) {
    auto t = options.backoff->Begin();
    if (!t) return Fail(std::move(t.error()));
    ticket = *t;
  }
  // Keywords before `dbname` are defaults the URL may override; those after it are ours. A
  // server that vanishes without a word (a network cut, a dead host) closes nothing: keepalives
  // and the TCP user timeout end such a connection within about a minute, so a statement in
  // flight fails rather than waits for ever (or ~15 minutes of retransmissions).
  const char* keys[] = {"connect_timeout",  "keepalives_idle",  "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "application_name",
                        "dbname",           "client_encoding",  nullptr};
  const char* values[] = {"10", "30", "10", "3", "30000", "opsorch", url.c_str(), "UTF8", nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (c == nullptr) {
    if (options.backoff) options.backoff->End(ticket, false, "out of memory");
    return Fail(errc::kInternal, "postgres: connect: out of memory");
  }
  auto backoff = options.backoff;
  auto conn = std::unique_ptr<Connection>(new Connection(c, std::move(options)));
  PQsetNoticeProcessor(c, DropNotice, nullptr);
  const bool ok = PQstatus(c) == CONNECTION_OK;
  const std::string why = ok ? "" : TrimNewline(PQerrorMessage(c));
  if (backoff) backoff->End(ticket, ok, why);
  if (!ok) return Fail(errc::kInternal, "postgres: connect: " + why);
  if (auto st = conn->ApplySessionSettings(); !st) return Fail(std::move(st.error()));
  return conn;
}

Connection::~Connection() {
  ForgetEarly();
  PQfinish(c_);
}

void Connection::ForgetEarly() {
  for (pg_result* r : early_) PQclear(r);
  early_.clear();
  synced_ = sync_seen_ = false;
}

Status Connection::ApplySessionSettings() {
  // An integer is milliseconds.
  std::string sql = "SET statement_timeout = " + std::to_string(options_.statement_timeout.count());
  if (!options_.session_settings.empty()) sql += "; " + options_.session_settings;
  return Exec(sql);
}

bool Connection::Healthy() const { return PQstatus(c_) == CONNECTION_OK; }

bool Connection::Idle() const { return PQtransactionStatus(c_) == PQTRANS_IDLE; }

void Connection::NoticeClosed() {
  // Bounded: a server that keeps sending must not keep us here.
  for (int i = 0; i < 4 && Healthy(); ++i) {
    pollfd p{PQsocket(c_), POLLIN, 0};
    if (p.fd < 0 || ::poll(&p, 1, 0) <= 0) return;
    // Reads what is there (a FATAL "terminating connection"); at EOF the status turns bad.
    if (PQconsumeInput(c_) == 0) return;
  }
}

Status Connection::EnsureConnected() {
  if (Healthy() && Idle()) NoticeClosed();
  if (Healthy()) return Ok();
  ReconnectBackoff::Ticket ticket;
  if (options_.backoff) {
    auto t = options_.backoff->Begin();
    if (!t) return Fail(std::move(t.error()));
    ticket = *t;
  }
  PQreset(c_);
  prepared_.clear();  // the server forgot them with the old session
  deferred_.clear();  // and rolled back what they were part of
  ForgetEarly();
  const bool ok = Healthy();
  const std::string why = ok ? "" : TrimNewline(PQerrorMessage(c_));
  if (options_.backoff) options_.backoff->End(ticket, ok, why);
  if (metrics::Counter* n = ok ? options_.reconnects_ok : options_.reconnects_failed) n->Inc();
  if (!ok) return Fail(errc::kInternal, "postgres: reconnect: " + why);
  ++sessions_;
  return ApplySessionSettings();
}

void Connection::ObserveRoundTrip(std::chrono::steady_clock::duration d) {
  options_.round_trip->ObserveNanos(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

Error Connection::ErrorFrom(pg_result* r, std::string_view sql) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  // The primary message only: DETAIL quotes row values (a key hash, say), which must not reach
  // a log line or a response.
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = primary ? std::string(primary) : TrimNewline(PQerrorMessage(c_));
  if (message.empty()) message = "unknown error";
  const std::string sqlstate = state ? state : (Healthy() ? "" : "08006");
  last_sqlstate_ = sqlstate;
  if (IsRetryable(sqlstate)) saw_retryable_ = true;
  if (sqlstate.starts_with("23")) {
    // Integrity constraints, as SQLite's SQLITE_CONSTRAINT. A client can cause this (a second
    // open incident for a key): say what, not the SQL or the constraint's name.
    return MakeError(errc::kConflict, "conflicts with an existing record");
  }
  ErrorCode code = errc::kInternal;
  if (sqlstate == "22021" || sqlstate == "22P05") {
    code = errc::kBadRequest;  // text the database's encoding cannot hold
  }
  std::string text = "postgres: " + StepName(sql) + ": " + message;
  if (!sqlstate.empty()) text += " (SQLSTATE " + sqlstate + ")";
  return MakeError(code, std::move(text));
}

Result<Rows> Connection::Check(pg_result* r, std::string_view sql) {
  switch (r ? PQresultStatus(r) : PGRES_FATAL_ERROR) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
    case PGRES_EMPTY_QUERY:
      return Rows(r);
    default: {
      Error e = ErrorFrom(r, sql);
      PQclear(r);
      return Fail(std::move(e));
    }
  }
}

Status Connection::Refuse(std::string_view sql) {
  if (!held_) return Ok();
  refused_ = true;
  return Fail(errc::kInternal, "postgres: no statement may run while the writer runs ahead (" +
                                   std::string(sql.substr(0, 40)) + ")");
}

Status Connection::Exec(std::string_view sql) {
  if (auto st = Refuse(sql); !st) return st;
  if (auto st = Drain(); !st) return st;
  const std::string text(sql);
  auto r = Check(Timed([&] { return PQexec(c_, text.c_str()); }), sql);
  if (!r) return Fail(std::move(r.error()));
  return Ok();
}

Result<const std::string*> Connection::Prepared(std::string_view sql, const Params& params) {
  if (auto st = CheckParams(sql, params); !st) return Fail(std::move(st.error()));
  static const std::string kUnnamed;
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return &it->second;
  if (prepared_.size() >= kMaxPrepared) return &kUnnamed;
  const std::string name = "opsorch_" + std::to_string(prepared_.size() + 1);
  const std::string text(sql);
  auto r = Check(Timed([&] { return PQprepare(c_, name.c_str(), text.c_str(), 0, nullptr); }), sql);
  if (!r) return Fail(std::move(r.error()));
  return &prepared_.emplace(text, name).first->second;
}

Status Connection::CheckParams(std::string_view sql, const Params& params) {
  // libpq sends text parameters NUL-terminated: a NUL inside one would silently cut it short,
  // and PostgreSQL text cannot hold one anyway.
  for (int i = 0; i < params.size(); ++i) {
    // PostgreSQL takes no value over 1 GiB (and libpq's lengths are ints): refused here, named,
    // rather than allocated there.
    if (const std::size_t size = params.values()[i].size(); size >= kMaxParameterBytes) {
      return Fail(errc::kBadRequest, "postgres: " + StepName(sql) + ": parameter $" +
                                         std::to_string(i + 1) + " is " + std::to_string(size) +
                                         " bytes, more than PostgreSQL takes in one value");
    }
    const bool binary = static_cast<std::size_t>(i) < params.formats().size() &&
                        params.formats()[static_cast<std::size_t>(i)] == 1;
    if ((binary && params.array_with_nul() == i + 1) ||
        (!binary && params.values()[i].find('\0') != std::string::npos)) {
      return Fail(errc::kBadRequest, "postgres: " + StepName(sql) + ": parameter $" +
                                         std::to_string(i + 1) +
                                         " contains a NUL character, which PostgreSQL text "
                                         "cannot store");
    }
  }
  return Ok();
}

namespace {

// A statement's parameters as libpq takes them: lengths and formats only when some are binary.
struct Wire {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;

  void Set(const Params& p) {
    values.clear();
    lengths.clear();
    formats.clear();
    for (const auto& v : p.values()) values.push_back(v.c_str());
    if (p.formats().empty()) return;
    formats = p.formats();
    formats.resize(values.size(), 0);
    for (const auto& v : p.values()) lengths.push_back(static_cast<int>(v.size()));
  }
  const int* Lengths() const { return lengths.empty() ? nullptr : lengths.data(); }
  const int* Formats() const { return formats.empty() ? nullptr : formats.data(); }
};

}  // namespace

Result<Rows> Connection::Query(std::string_view sql, const Params& params) {
  if (auto st = Refuse(sql); !st) return Fail(std::move(st.error()));
  if (auto st = Drain(); !st) return Fail(std::move(st.error()));
  auto name = Prepared(sql, params);
  if (!name) return Fail(std::move(name.error()));
  Wire w;
  w.Set(params);
  if ((*name)->empty()) {
    const std::string text(sql);
    return Check(Timed([&] {
                   return PQexecParams(c_, text.c_str(), params.size(), nullptr, w.values.data(),
                                       w.Lengths(), w.Formats(), 0);
                 }),
                 sql);
  }
  return Check(Timed([&] {
                 return PQexecPrepared(c_, (*name)->c_str(), params.size(), w.values.data(),
                                       w.Lengths(), w.Formats(), 0);
               }),
               sql);
}

Result<std::vector<Rows>> Connection::Pipeline(const std::vector<Statement>& statements) {
  if (auto st = Refuse(statements.empty() ? "" : statements.front().sql); !st) {
    return Fail(std::move(st.error()));
  }
  if (auto st = Drain(); !st) return Fail(std::move(st.error()));
  // Prepared (and their parameters checked) first, a round trip each once per connection: a
  // pipeline cannot wait for one.
  std::vector<const std::string*> names;
  names.reserve(statements.size());
  for (const Statement& st : statements) {
    auto name = Prepared(st.sql, *st.params);
    if (!name) return Fail(std::move(name.error()));
    names.push_back(*name);
  }
  // Sent together (the sync flushes them), answered together.
  for (std::size_t i = 0; i < statements.size(); ++i) {
    if (auto sent = Send(statements[i].sql, *statements[i].params, /*flush=*/false, names[i]);
        !sent) {
      return Fail(sent.error());
    }
  }
  std::vector<Rows> out;
  if (auto st = Drain(nullptr, &out); !st) return Fail(std::move(st.error()));
  if (out.size() != statements.size()) return Fail(ErrorFrom(nullptr, statements.front().sql));
  return out;
}

Status Connection::QueryEach(std::string_view sql, const Params& params,
                             const std::function<void(const Rows&)>& row) {
  if (auto st = Refuse(sql); !st) return st;
  if (auto st = Drain(); !st) return st;
  auto name = Prepared(sql, params);
  if (!name) return Fail(std::move(name.error()));
  Wire w;
  w.Set(params);
  const std::string text(sql);
  // The round trip is the time spent in libpq, not in `row`.
  using SteadyClock = std::chrono::steady_clock;
  const bool timed = options_.round_trip != nullptr;
  SteadyClock::duration waited{0};
  auto mark = timed ? SteadyClock::now() : SteadyClock::time_point();
  const int sent = (*name)->empty()
                       ? PQsendQueryParams(c_, text.c_str(), params.size(), nullptr,
                                           w.values.data(), w.Lengths(), w.Formats(), 0)
                       : PQsendQueryPrepared(c_, (*name)->c_str(), params.size(), w.values.data(),
                                             w.Lengths(), w.Formats(), 0);
  if (sent == 0) return Fail(ErrorFrom(nullptr, sql));
  PQsetSingleRowMode(c_);
  Status status = Ok();
  const auto next = [&] {
    PGresult* r = PQgetResult(c_);
    if (timed) {
      const auto now = SteadyClock::now();
      waited += now - mark;
      if (r == nullptr) ObserveRoundTrip(waited);
      mark = now;
    }
    return r;
  };
  // Every result must be read, even after an error, before the connection is usable again.
  while (PGresult* r = next()) {
    if (!status) {
      PQclear(r);
      continue;
    }
    auto rows = Check(r, sql);
    if (!rows) {
      status = Fail(std::move(rows.error()));
    } else if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
      row(*rows);
    }
    if (timed) mark = SteadyClock::now();
  }
  return status;
}

Status Connection::Defer(std::string_view sql, const Params& params, bool flush) {
  return Send(sql, params, flush, nullptr);
}

Status Connection::Send(std::string_view sql, const Params& params, bool flush,
                        const std::string* prepared) {
  if (auto st = Refuse(sql); !st) return st;
  // A long queue is read first: its answers must not pile up unread.
  if (deferred_.size() >= Connection::kMaxDeferred) {
    if (auto st = Drain(); !st) return st;
  }
  // A statement not prepared yet is prepared first when nothing is queued (a round trip outside
  // pipeline mode, once per connection); behind queued ones it goes unnamed, so nothing waits.
  static const std::string kUnnamed;
  Result<const std::string*> name = &kUnnamed;
  if (prepared != nullptr) {
    name = prepared;  // Pipeline's: prepared and checked
  } else if (deferred_.empty()) {
    name = Prepared(sql, params);
  } else if (auto st = CheckParams(sql, params); !st) {
    name = Fail(std::move(st.error()));
  } else if (const auto it = prepared_.find(sql); it != prepared_.end()) {
    name = &it->second;
  }
  if (!name) return Fail(std::move(name.error()));
  if (PQpipelineStatus(c_) == PQ_PIPELINE_OFF && PQenterPipelineMode(c_) != 1) {
    return Fail(ErrorFrom(nullptr, sql));
  }
  Wire w;
  w.Set(params);
  const std::string text(sql);
  const int sent = (*name)->empty()
                       ? PQsendQueryParams(c_, text.c_str(), params.size(), nullptr,
                                           w.values.data(), w.Lengths(), w.Formats(), 0)
                       : PQsendQueryPrepared(c_, (*name)->c_str(), params.size(), w.values.data(),
                                             w.Lengths(), w.Formats(), 0);
  if (sent == 1) deferred_.emplace_back(sql);
  // Handed to the server now (libpq would keep it until its buffer fills): the point is that
  // the server works on it meanwhile. A blocking flush also reads what the server sends.
  if (sent != 1 || (flush && PQflush(c_) != 0)) {
    Error e = ErrorFrom(nullptr, sql);
    (void)Drain();
    return Fail(std::move(e));
  }
  return Ok();
}

bool Connection::Answered(std::chrono::microseconds wait) {
  if (deferred_.empty() || sync_seen_ || !Healthy()) return true;
  if (!synced_) {
    if (PQpipelineSync(c_) != 1) return true;  // Drain reports it
    synced_ = true;
  }
  while (true) {
    // What came, read without blocking: asked first, because what a TLS connection decrypted
    // already may never make the socket readable again.
    if (PQconsumeInput(c_) == 0) return true;  // the connection failed: Drain reports it
    // What libpq holds already, without blocking. One NULL ends a statement's answers; two in
    // a row while libpq is not busy mean it has gone idle, expecting nothing more, though the
    // sync has not come: nothing will, and waiting for the socket would say "not yet" for
    // ever (Settle would loop until the next group came). Answered then: Drain gives the
    // connection up (see there).
    bool idle = false;
    for (int nulls = 0; PQisBusy(c_) == 0;) {
      pg_result* r = PQgetResult(c_);
      if (r != nullptr) {
        nulls = 0;
      } else if (!Healthy()) {
        break;
      } else if (++nulls > 1) {
        idle = true;
        break;
      }
      early_.push_back(r);
      if (r != nullptr && PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        sync_seen_ = true;
        return true;
      }
    }
    if (idle || !Healthy()) return true;
    pollfd p{PQsocket(c_), POLLIN, 0};
    const timespec ts{0, static_cast<long>(wait.count()) * 1000};
    if (p.fd < 0) return true;
    if (::ppoll(&p, 1, &ts, nullptr) <= 0) return false;
    wait = std::chrono::microseconds(0);  // read what came, then answer
  }
}

void Connection::SwallowAnswersForTest() {
  if (deferred_.empty() || sync_seen_ || !Healthy()) return;
  if (!synced_) {
    if (PQpipelineSync(c_) != 1) return;
    synced_ = true;
  }
  // Bounded: a connection that fails meanwhile answers NULL for ever.
  for (int i = 0; i < 10000 && Healthy(); ++i) {
    pg_result* r = PQgetResult(c_);
    if (r == nullptr) continue;
    const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) return;
  }
}

pg_result* Connection::NextResult() {
  if (early_.empty()) return PQgetResult(c_);
  pg_result* r = early_.front();
  early_.pop_front();
  return r;
}

Status Connection::Drain(std::size_t* failed_at, std::vector<Rows>* results) {
  if (failed_at != nullptr) *failed_at = deferred_.size();
  if (auto st = Refuse("(drain)"); !st) return st;
  if (PQpipelineStatus(c_) == PQ_PIPELINE_OFF) {
    deferred_.clear();
    ForgetEarly();
    return Ok();
  }
  const auto sql_of = [this](std::size_t i) -> std::string_view {
    return deferred_.empty() ? std::string_view() : deferred_[std::min(i, deferred_.size() - 1)];
  };
  std::optional<Error> failed;
  std::size_t index = 0;  // results read: each statement has one (or an aborted one)
  auto run = [&] {
    if (!synced_ && PQpipelineSync(c_) != 1) {
      failed = ErrorFrom(nullptr, sql_of(0));
      if (failed_at != nullptr) *failed_at = 0;
      return 0;
    }
    int nulls = 0;  // in a row
    while (true) {
      pg_result* r = NextResult();
      if (r == nullptr) {
        if (!Healthy() && early_.empty()) break;  // what Answered read still counts
        // One ends a statement's results. Two in a row: libpq has gone idle, expecting nothing
        // more, yet the sync has not come. Seen after an immediate restart: PQgetResult then
        // returns at once, forever, never reading the socket (the server's goodbye sat unread
        // in it). Nothing more will be read for this pipeline: the socket is read once (a
        // server that ended the session shows as a lost connection), and a connection that
        // still looks fine is given up (shut down, read to its end: libpq sees it lost, and
        // the next use reconnects). What was answered counts; the rest failed, with the
        // outcome of an unanswered COMMIT unknown (Land).
        if (++nulls > 1 && early_.empty()) {
          if (PQconsumeInput(c_) != 0 && Healthy()) {
            if (const int fd = PQsocket(c_); fd >= 0) ::shutdown(fd, SHUT_RDWR);
            for (int i = 0; i < 64 && Healthy() && PQconsumeInput(c_) != 0; ++i) {
            }
          }
          break;
        }
        continue;
      }
      nulls = 0;
      const ExecStatusType status = PQresultStatus(r);
      if (status == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      if (status != PGRES_PIPELINE_ABORTED) {
        auto checked = Check(r, sql_of(index));
        if (!checked) {
          if (!failed) {
            failed = std::move(checked.error());
            if (failed_at != nullptr) *failed_at = index;
          }
        } else if (results != nullptr) {
          results->push_back(std::move(*checked));
        }
      } else {
        PQclear(r);
      }
      ++index;
    }
    if (Healthy()) PQexitPipelineMode(c_);
    return 0;
  };
  Timed(run);
  ForgetEarly();  // nothing left, unless the connection failed midway
  if (!failed && index < deferred_.size()) {
    // The connection went before every statement was answered.
    failed = ErrorFrom(nullptr, sql_of(index));
    if (failed_at != nullptr) *failed_at = index;
  }
  deferred_.clear();
  if (failed) return Fail(std::move(*failed));
  return Ok();
}

}  // namespace opsorch::engine::postgres
