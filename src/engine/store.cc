#include <opsorch/common/error.h>
#include <opsorch/engine/store.h>

#include "engine/sqlite/sqlite_store.h"
#if OPSORCH_WITH_POSTGRES
#include "engine/postgres/pg_store.h"
#endif

namespace opsorch::engine {

Status Store::Write(const std::function<Status(Tx&)>& fn) {
  std::vector<Status> results;
  if (auto st = WriteBatch({fn}, results); !st) return st;
  if (!results.front()) return results.front();
  return Sync();
}

Status Tx::InsertAlertWithEntry(AlertRow& alert, TimelineRow& entry) {
  if (auto st = InsertAlert(alert); !st) return st;
  entry.metadata["alertId"] = alert.id;
  return AppendTimeline(entry);
}

Result<std::vector<TimelineRow>> Store::Timeline(std::string_view incident_id) {
  std::vector<TimelineRow> out;
  auto st = ScanTimeline(incident_id, TimelineCursor{}, 0, [&](TimelineRow&& row) {
    out.push_back(std::move(row));
    return true;
  });
  if (!st) return Fail(std::move(st.error()));
  return out;
}

Result<std::vector<SlaRow>> Store::SlaRowsUpdatedSince(std::int64_t) {
  return Fail(errc::kInternal, "this store does not support SLA analytics yet");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
#if OPSORCH_WITH_POSTGRES
    return postgres::OpenPostgresStore(url);
#else
    return Fail(errc::kBadRequest,
                "store: this opsorch was built without PostgreSQL (OPSORCH_WITH_POSTGRES=OFF)");
#endif
  }
  std::string path = url;
  if (path.starts_with("sqlite:")) path = path.substr(7);
  if (path.empty()) return Fail(errc::kBadRequest, "store: empty SQLite path");
  return sqlite::OpenSqliteStore(path);
}

}  // namespace opsorch::engine
