#include <algorithm>

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

Result<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                         [[maybe_unused]] const StoreOptions& options) {
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
#if OPSORCH_WITH_POSTGRES
    return postgres::OpenPostgresStore(url, options);
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

namespace opsorch::engine {
namespace {
Error NoPaging() {
  return MakeError(errc::kInternal, "this store has no paging tables (run its migrations)");
}
}  // namespace

Result<std::optional<EscalationRow>> Tx::GetEscalation(std::int64_t) { return Fail(NoPaging()); }
Status Tx::PutEscalation(const EscalationRow&) { return Fail(NoPaging()); }
Status Tx::InsertJob(JobRow&) { return Fail(NoPaging()); }
Result<std::vector<JobRow>> Tx::DueJobs(std::int64_t, std::int64_t) { return Fail(NoPaging()); }
Status Tx::DeleteJob(std::int64_t) { return Fail(NoPaging()); }
Status Tx::DeleteJobByKey(std::string_view) { return Fail(NoPaging()); }
Result<std::optional<LiveRow>> Tx::GetLive(std::string_view, std::string_view, std::string_view,
                                           bool) {
  return Fail(NoPaging());
}
Status Tx::PutLive(const LiveRow&) { return Fail(NoPaging()); }
Result<bool> Tx::RefreshLive(std::string_view, std::string_view, std::string_view, std::string_view,
                             std::int64_t, std::int64_t, std::int64_t) {
  return Fail(NoPaging());
}
Status Tx::FoldRefreshes() { return Fail(NoPaging()); }
Status Tx::DeleteLive(std::string_view, std::string_view, std::string_view) {
  return Fail(NoPaging());
}
Result<std::vector<LiveRow>> Tx::DueLive(std::string_view, std::int64_t, std::int64_t) {
  return Fail(NoPaging());
}
Result<std::vector<LiveRow>> Tx::LiveOf(std::string_view, std::string_view) {
  return Fail(NoPaging());
}
Result<bool> Tx::InsertNotification(NotificationRow&) { return Fail(NoPaging()); }
Result<std::vector<NotificationRow>> Tx::ClaimNotifications(std::int64_t, std::int64_t,
                                                            std::string_view, std::int64_t) {
  return Fail(NoPaging());
}
Result<std::vector<NotificationRow>> Tx::ExpiredLeases(std::int64_t, std::int64_t) {
  return Fail(NoPaging());
}
Result<std::optional<NotificationRow>> Tx::GetNotificationForUpdate(std::int64_t) {
  return Fail(NoPaging());
}
Status Tx::UpdateNotification(const NotificationRow&) { return Fail(NoPaging()); }
Result<std::int64_t> Tx::CancelNotifications(std::int64_t, std::int64_t, std::string_view) {
  return Fail(NoPaging());
}

Status Store::PutDoc(const CatalogDoc&) { return Fail(NoPaging()); }
Status Store::DeleteDoc(std::string_view, std::string_view) { return Fail(NoPaging()); }
Result<std::vector<CatalogDoc>> Store::Docs(std::string_view) { return Fail(NoPaging()); }
Result<std::int64_t> Store::CatalogVersion() { return Fail(NoPaging()); }
Result<std::optional<EscalationRow>> Store::Escalation(std::int64_t) { return Fail(NoPaging()); }
Result<std::vector<NotificationRow>> Store::Notifications(std::int64_t) { return Fail(NoPaging()); }
Result<std::optional<NotificationRow>> Store::Notification(std::int64_t) {
  return Fail(NoPaging());
}
Result<std::int64_t> Store::NextPagingWork() { return Fail(NoPaging()); }

Result<std::vector<TimelineRow>> Store::TimelineOfKind(std::string_view incident_id,
                                                       std::string_view kind, std::int64_t limit) {
  std::vector<TimelineRow> out;
  auto st = ScanTimeline(incident_id, TimelineCursor{}, 0, [&](TimelineRow&& t) {
    if (t.kind == kind) out.push_back(std::move(t));
    return true;
  });
  if (!st) return Fail(std::move(st.error()));
  std::reverse(out.begin(), out.end());
  if (limit > 0 && static_cast<std::int64_t>(out.size()) > limit) {
    out.resize(static_cast<std::size_t>(limit));
  }
  return out;
}
Result<std::vector<LiveRow>> Store::Live(std::string_view, std::string_view, bool, std::int64_t) {
  return Fail(NoPaging());
}
Result<std::string> Store::SharedSetting(std::string_view, std::string_view) {
  return Fail(NoPaging());
}

}  // namespace opsorch::engine
