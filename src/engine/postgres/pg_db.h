// A thin RAII layer over libpq: connections with a prepared-statement cache, text parameters,
// results with typed reads. Every failure is an Error naming the SQL step; nothing throws.
// libpq's header stays in pg_db.cc (only its two handle types are named here).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

struct pg_conn;
struct pg_result;

namespace opsorch::engine::postgres {

// Parameters of one statement, all sent as text ($1, $2, … in the order added).
class Params {
 public:
  Params& Add(std::string_view v);
  Params& Add(std::int64_t v);
  Params& AddJson(const JsonObject& v);
  Params& AddJson(const JsonArray& v);
  // A text[] literal, for `= ANY($n::text[])`.
  Params& AddArray(const std::vector<std::string>& v);

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
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

class Connection {
 public:
  // Connects to `url` (a postgres:// URI or a key=value string) and applies the session
  // settings every connection needs. The URL never appears in an error (it may hold a password).
  static Result<std::unique_ptr<Connection>> Open(const std::string& url);
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
  // Resets a lost connection and re-applies the session settings; Ok if already healthy.
  Status EnsureConnected();
  // (Re-)applies the settings every session starts with (statement_timeout).
  Status ApplySessionSettings();

  // Whether a statement failed with a serialization failure or deadlock since the last
  // ClearRetryable(): the transaction must then be rolled back and run again. Sticky, because
  // the statements after it fail with "transaction is aborted" instead.
  bool saw_retryable() const { return saw_retryable_; }
  void ClearRetryable() { saw_retryable_ = false; }

 private:
  explicit Connection(pg_conn* c) : c_(c) {}
  // The cached statement's name ("" = too many cached, send it unnamed).
  Result<const std::string*> Prepared(std::string_view sql, const Params& params);
  Result<Rows> Check(pg_result* r, std::string_view sql);
  Error ErrorFrom(pg_result* r, std::string_view sql);

  pg_conn* c_;
  std::map<std::string, std::string, std::less<>> prepared_;  // SQL → statement name
  bool saw_retryable_ = false;
};

// SQLSTATEs the write path retries the whole transaction on.
bool IsRetryable(std::string_view sqlstate);

}  // namespace opsorch::engine::postgres
