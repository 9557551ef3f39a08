#include "workflow/state_store.h"

#include <filesystem>
#include <system_error>

#include <opsorch/common/error.h>

#include "engine/sqlite/sqlite_db.h"

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
  auto db = engine::sqlite::Connection::Open(dir_ + "/state.db");
  if (!db) return Fail(db.error());
  if (auto st = (*db)->Exec(
          "CREATE TABLE IF NOT EXISTS step_state (workflow TEXT NOT NULL, step TEXT NOT NULL, "
          "key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (workflow, step, key)) "
          "WITHOUT ROWID");
      !st) {
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
  if (!value) {
    auto stmt = db_->Prepare("DELETE FROM step_state WHERE workflow = ? AND step = ? AND key = ?");
    if (!stmt) return Fail(stmt.error());
    return (*stmt)->Bind(1, workflow).Bind(2, step).Bind(3, key).Run();
  }
  // Quotas per step, so that a workflow cannot fill the disk its outputs spool to.
  auto usage = db_->Prepare(
      "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(value AS BLOB))), 0), "
      "COALESCE(SUM(CASE WHEN key = ? THEN LENGTH(CAST(value AS BLOB)) END), -1) "
      "FROM step_state WHERE workflow = ? AND step = ?");
  if (!usage) return Fail(usage.error());
  (*usage)->Bind(1, key).Bind(2, workflow).Bind(3, step);
  if (auto row = (*usage)->Step(); !row) return Fail(row.error());
  const std::int64_t keys = (*usage)->Int(0);
  const std::int64_t bytes = (*usage)->Int(1);
  const std::int64_t existing = (*usage)->Int(2);
  if (existing < 0 && keys >= static_cast<std::int64_t>(kMaxKeysPerStep)) {
    return Fail(errc::kBadRequest,
                "persist: at most " + std::to_string(kMaxKeysPerStep) + " keys per step");
  }
  if (bytes - std::max<std::int64_t>(existing, 0) + static_cast<std::int64_t>(value->size()) >
      static_cast<std::int64_t>(kMaxBytesPerStep)) {
    return Fail(errc::kBadRequest, "persist: at most " + std::to_string(kMaxBytesPerStep >> 20) +
                                       " MiB of values per step");
  }
  usage->reset();
  auto stmt = db_->Prepare(
      "INSERT INTO step_state (workflow, step, key, value) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (workflow, step, key) DO UPDATE SET value = excluded.value");
  if (!stmt) return Fail(stmt.error());
  return (*stmt)->Bind(1, workflow).Bind(2, step).Bind(3, key).Bind(4, *value).Run();
}

}  // namespace opsorch::workflow
