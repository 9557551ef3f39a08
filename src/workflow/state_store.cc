#include "workflow/state_store.h"

#include <filesystem>
#include <system_error>

#include <opsorch/common/error.h>
#include <opsorch/sqlite/sqlite_db.h>

namespace opsorch::workflow {

StateStore::StateStore(std::string dir) : dir_(std::move(dir)) {}
StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(errc::kBadRequest, "persistence directory " + dir + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  if (ec) return Fail(errc::kBadRequest, "persistence directory " + dir + ": " + ec.message());
  return std::unique_ptr<StateStore>(new StateStore(dir));
}

Status StateStore::EnsureOpen() {
  if (db_) return Ok();
  // Commits are not fsynced: step state is a cache of progress that a power cut may roll back
  // by one write, never a record of anything acknowledged to a sender.
  auto db = sqlite::Connection::Open(dir_ + "/state.db");
  if (!db) return Fail(db.error());
  // step_usage keeps each step's key count and value bytes, so that the quota check of a write
  // is two index lookups, not a scan of the step's rows. A state.db written before it existed
  // gets it filled once, in the same transaction that creates it.
  if (auto st = (*db)->Exec(
          "BEGIN IMMEDIATE;"
          "CREATE TABLE IF NOT EXISTS step_state (workflow TEXT NOT NULL, step TEXT NOT NULL, "
          "key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (workflow, step, key)) "
          "WITHOUT ROWID;"
          "CREATE TABLE IF NOT EXISTS step_usage (workflow TEXT NOT NULL, step TEXT NOT NULL, "
          "keys INTEGER NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (workflow, step)) "
          "WITHOUT ROWID;"
          "INSERT INTO step_usage (workflow, step, keys, bytes) "
          "SELECT workflow, step, COUNT(*), SUM(LENGTH(CAST(value AS BLOB))) FROM step_state "
          "WHERE NOT EXISTS (SELECT 1 FROM step_usage) GROUP BY workflow, step;"
          "COMMIT");
      !st) {
    (void)(*db)->Exec("ROLLBACK");
    return Fail(st.error());
  }
  db_ = std::move(*db);
  return Ok();
}

Result<std::optional<std::string>> StateStore::Get(std::string_view workflow, std::string_view step,
                                                   std::string_view key) {
  std::lock_guard lock(mu_);
  if (auto st = EnsureOpen(); !st) return Fail(st.error());
  auto stmt =
      db_->Prepare("SELECT value FROM step_state WHERE workflow = ? AND step = ? AND key = ?");
  if (!stmt) return Fail(stmt.error());
  (*stmt)->Bind(1, workflow).Bind(2, step).Bind(3, key);
  auto row = (*stmt)->Step();
  if (!row) return Fail(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>((*stmt)->Text(0));
}

Status StateStore::Set(std::string_view workflow, std::string_view step, std::string_view key,
                       std::optional<std::string_view> value) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Fail(errc::kBadRequest, "persist key must be 1-256 bytes");
  }
  if (value && value->size() > kMaxValueBytes) {
    return Fail(errc::kBadRequest, "persist value must be at most 1 MiB");
  }
  std::lock_guard lock(mu_);
  if (auto st = EnsureOpen(); !st) return st;
  last_set_vm_steps_ = 0;
  if (auto st = db_->Exec("BEGIN IMMEDIATE"); !st) return st;
  Status st = SetInTransaction(workflow, step, key, value);
  if (!st) {
    (void)db_->Exec("ROLLBACK");
    return st;
  }
  return db_->Exec("COMMIT");
}

Status StateStore::SetInTransaction(std::string_view workflow, std::string_view step,
                                    std::string_view key, std::optional<std::string_view> value) {
  // The key's current size (-1: absent) and the step's totals: index lookups only.
  std::int64_t existing = -1;
  {
    auto q = db_->Prepare(
        "SELECT LENGTH(CAST(value AS BLOB)) FROM step_state "
        "WHERE workflow = ? AND step = ? AND key = ?");
    if (!q) return Fail(q.error());
    (*q)->TakeVmSteps();
    (*q)->Bind(1, workflow).Bind(2, step).Bind(3, key);
    auto row = (*q)->Step();
    if (!row) return Fail(row.error());
    if (*row) existing = (*q)->Int(0);
    last_set_vm_steps_ += (*q)->TakeVmSteps();
  }
  if (!value && existing < 0) return Ok();
  std::int64_t keys = 0, bytes = 0;
  {
    auto q = db_->Prepare("SELECT keys, bytes FROM step_usage WHERE workflow = ? AND step = ?");
    if (!q) return Fail(q.error());
    (*q)->TakeVmSteps();
    (*q)->Bind(1, workflow).Bind(2, step);
    auto row = (*q)->Step();
    if (!row) return Fail(row.error());
    if (*row) keys = (*q)->Int(0), bytes = (*q)->Int(1);
    last_set_vm_steps_ += (*q)->TakeVmSteps();
  }
  const std::int64_t old_bytes = std::max<std::int64_t>(existing, 0);
  if (value) {
    if (existing < 0 && keys >= static_cast<std::int64_t>(kMaxKeysPerStep)) {
      return Fail(errc::kBadRequest,
                  "persist: at most " + std::to_string(kMaxKeysPerStep) + " keys per step");
    }
    if (bytes - old_bytes + static_cast<std::int64_t>(value->size()) >
        static_cast<std::int64_t>(kMaxBytesPerStep)) {
      return Fail(errc::kBadRequest, "persist: at most " + std::to_string(kMaxBytesPerStep >> 20) +
                                         " MiB of values per step");
    }
    auto w = db_->Prepare(
        "INSERT INTO step_state (workflow, step, key, value) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (workflow, step, key) DO UPDATE SET value = excluded.value");
    if (!w) return Fail(w.error());
    (*w)->TakeVmSteps();
    if (auto st = (*w)->Bind(1, workflow).Bind(2, step).Bind(3, key).Bind(4, *value).Run(); !st) {
      return st;
    }
    last_set_vm_steps_ += (*w)->TakeVmSteps();
    keys += existing < 0 ? 1 : 0;
    bytes += static_cast<std::int64_t>(value->size()) - old_bytes;
  } else {
    auto w = db_->Prepare("DELETE FROM step_state WHERE workflow = ? AND step = ? AND key = ?");
    if (!w) return Fail(w.error());
    (*w)->TakeVmSteps();
    if (auto st = (*w)->Bind(1, workflow).Bind(2, step).Bind(3, key).Run(); !st) return st;
    last_set_vm_steps_ += (*w)->TakeVmSteps();
    keys -= 1;
    bytes -= old_bytes;
  }
  auto u = db_->Prepare(
      "INSERT INTO step_usage (workflow, step, keys, bytes) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (workflow, step) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes");
  if (!u) return Fail(u.error());
  (*u)->TakeVmSteps();
  if (auto st = (*u)->Bind(1, workflow).Bind(2, step).Bind(3, keys).Bind(4, bytes).Run(); !st) {
    return st;
  }
  last_set_vm_steps_ += (*u)->TakeVmSteps();
  return Ok();
}

}  // namespace opsorch::workflow
