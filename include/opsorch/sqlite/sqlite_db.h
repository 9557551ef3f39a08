// A thin RAII layer over the SQLite C API: connections with a prepared-statement cache and
// statements with typed binds and reads. Every failure is an Error naming the SQL step; nothing
// throws.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <sqlite3.h>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>

namespace opsorch::sqlite {

class Statement {
 public:
  explicit Statement(sqlite3_stmt* s) : s_(s) {}
  ~Statement() { Reset(); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, std::string_view v);
  // Binds without copying: `v` must stay alive and unchanged until the statement is reset
  // (the returned Statement is destroyed). The writer's hot path binds row fields this way.
  Statement& BindRef(int i, std::string_view v);
  Statement& Bind(int i, std::int64_t v);
  Statement& BindJson(int i, const JsonObject& v);
  Statement& BindJson(int i, const JsonArray& v);
  // SQLITE_ROW → true, SQLITE_DONE → false.
  Result<bool> Step();
  Status Run();  // steps to completion

  std::string Text(int col) const;
  std::int64_t Int(int col) const;
  JsonObject Object(int col) const;
  JsonArray Array(int col) const;
  bool IsNull(int col) const;
  // Virtual-machine steps run since the previous call (or since it was prepared); the counter
  // restarts at zero. A measure of work that does not depend on the machine: tests check with
  // it that a write's cost does not grow with the size of a table.
  std::int64_t TakeVmSteps();

 private:
  void Reset();
  sqlite3_stmt* s_;
};

class Connection {
 public:
  // Opens (creating) the database file with the settings every connection needs. Commits are
  // not fsynced (synchronous=NORMAL: SQLite fsyncs the WAL before checkpoints only); a caller
  // that promises durability fsyncs the WAL itself (SqliteStore::Sync).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status Exec(std::string_view sql);  // one or more statements, no results
  // A cached statement, reset and with cleared bindings when the returned object is destroyed.
  Result<std::unique_ptr<Statement>> Prepare(std::string_view sql);
  std::int64_t LastInsertRowid() const;
  int Changes() const;
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

Error SqlError(sqlite3* db, std::string_view what);

// Unicode simple case folding (lower case) of UTF-8 text; invalid bytes are kept as they are.
// SQLite's LIKE folds ASCII only, so text search compares opsorch_fold(column) with a folded
// pattern; every connection has opsorch_fold registered.
std::string FoldCase(std::string_view utf8);

}  // namespace opsorch::sqlite
