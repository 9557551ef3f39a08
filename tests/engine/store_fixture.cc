#include "engine/store_fixture.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/error.h>

#include "engine/postgres/pg_db.h"

namespace opsorch::engine {
namespace {

constexpr std::string_view kDatabasePrefix = "opsorch_t_";

std::string PostgresAdminUrl() {
  const char* url = std::getenv("OPSORCH_TEST_POSTGRES_URL");
  return url ? url : "";
}

// Databases are named opsorch_t_<host>_<pid>_<n>: the host part keeps test runs of several
// machines sharing one server from sweeping each other's databases.
std::string HostTag() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  const std::size_t h = std::hash<std::string>{}(name);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 6; ++i) out.push_back(kHex[(h >> (4 * i)) & 0xf]);
  return out;
}

// postgres://user@host:port/db?options with `db` as the database.
Result<std::string> WithDatabase(const std::string& url, const std::string& db) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    return Fail(errc::kBadRequest, "OPSORCH_TEST_POSTGRES_URL must be a postgres:// URL");
  }
  const auto query = url.find('?', scheme + 3);
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  std::string base = url.substr(0, query);
  if (const auto path = base.find('/', scheme + 3); path != std::string::npos) {
    base.resize(path);
  }
  return base + "/" + db + rest;
}

// The databases this process created, dropped when it exits (after every test's store is
// gone; FORCE ends any connection still open). Databases of test processes that died without
// exiting are swept the first time a process creates one.
class Databases {
 public:
  ~Databases() {
    if (names_.empty()) return;
    auto admin = postgres::Connection::Open(admin_url_);
    if (!admin) return;
    for (const auto& name : names_) {
      (void)(*admin)->Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }

  Result<std::string> Create(const std::string& admin_url) {
    static std::atomic<int> counter{0};
    const std::string name = std::string(kDatabasePrefix) + HostTag() + "_" +
                             std::to_string(::getpid()) + "_" + std::to_string(counter++);
    auto admin = postgres::Connection::Open(admin_url);
    if (!admin) return Fail(std::move(admin.error()));
    std::call_once(swept_, [&] { SweepDead(**admin); });
    if (auto st = (*admin)->Exec("CREATE DATABASE " + name); !st) {
      return Fail(std::move(st.error()));
    }
    std::lock_guard lock(mu_);
    admin_url_ = admin_url;
    names_.push_back(name);
    return name;
  }

  Status Drop(const std::string& name) {
    std::string admin_url;
    {
      std::lock_guard lock(mu_);
      const auto it = std::find(names_.begin(), names_.end(), name);
      if (it == names_.end()) {
        return Fail(errc::kBadRequest, "database " + name + " was not created by this process");
      }
      names_.erase(it);
      admin_url = admin_url_;
    }
    auto admin = postgres::Connection::Open(admin_url);
    if (!admin) return Fail(std::move(admin.error()));
    return (*admin)->Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

 private:
  static void SweepDead(postgres::Connection& admin) {
    const std::string mine = std::string(kDatabasePrefix) + HostTag() + "_";
    auto rows = admin.Query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                            postgres::Params().Add(mine));
    if (!rows) return;
    for (int i = 0; i < rows->size(); ++i) {
      const std::string name = rows->Text(i, 0);
      const std::string rest = name.substr(mine.size());
      const pid_t pid = static_cast<pid_t>(std::atoi(rest.c_str()));
      if (pid <= 0 || pid == ::getpid()) continue;
      if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its process is still running
      (void)admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
  }

  std::mutex mu_;
  std::string admin_url_;
  std::vector<std::string> names_;
  std::once_flag swept_;
};

Databases& CreatedDatabases() {
  static Databases d;
  return d;
}

}  // namespace

// Both backends, always: the test list is fixed when the binary is built (gtest discovery), so
// the PostgreSQL cases must be listed even when the build had no server; without one they fail
// and say how to get one, rather than vanish from CI.
std::vector<std::string> TestBackends() { return {"sqlite", "postgres"}; }

Result<std::unique_ptr<Store>> OpenTestStore(const std::string& backend, std::string* url_out) {
  static std::atomic<int> counter{0};
  const std::string name = "store-" + std::to_string(counter++);
  if (backend == "sqlite") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("opsorch-engine-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / (name + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path.string() + suffix);
    }
    if (url_out != nullptr) *url_out = "sqlite:" + path.string();
    return OpenStore("sqlite:" + path.string());
  }
  if (backend == "postgres") {
    const std::string admin = PostgresAdminUrl();
    if (admin.empty()) {
      return Fail(errc::kBadRequest,
                  "OPSORCH_TEST_POSTGRES_URL is not set: run `make test`, or start a server with "
                  "`scripts/pg-test-cluster start build/pg-test` and export the URL it prints "
                  "(or exclude these cases with --gtest_filter=-*/postgres)");
    }
    auto db = CreatedDatabases().Create(admin);
    if (!db) return Fail(std::move(db.error()));
    auto url = WithDatabase(admin, *db);
    if (!url) return Fail(std::move(url.error()));
    if (url_out != nullptr) *url_out = *url;
    return OpenStore(*url);
  }
  return Fail(errc::kBadRequest, "backend " + backend + " is not available in this build");
}

Result<PostgresTestDatabase> CreatePostgresTestDatabase() {
  const std::string admin = PostgresAdminUrl();
  if (admin.empty()) {
    return Fail(errc::kBadRequest,
                "OPSORCH_TEST_POSTGRES_URL is not set: run `make test`, or start a server with "
                "`scripts/pg-test-cluster start build/pg-test` and export the URL it prints");
  }
  auto db = CreatedDatabases().Create(admin);
  if (!db) return Fail(std::move(db.error()));
  auto url = WithDatabase(admin, *db);
  if (!url) return Fail(std::move(url.error()));
  return PostgresTestDatabase{*db, *url};
}

Status DropPostgresTestDatabase(const std::string& name) { return CreatedDatabases().Drop(name); }

Result<Outcome> ApplyOn(Store& store, const IntegrationRow& integration, const Event& e,
                        std::int64_t now, const RulesConfig& config) {
  Outcome out;
  auto st = store.Write([&](Tx& tx) -> Status {
    auto r = ApplyEvent(tx, integration, e, now, config);
    if (!r) return Fail(std::move(r.error()));
    out = std::move(*r);
    return Ok();
  });
  if (!st) return Fail(std::move(st.error()));
  return out;
}

std::vector<std::string> AlertIdsOf(Store& store, const std::string& incident_id) {
  AlertFilter f;
  f.incident_id = incident_id;
  std::vector<std::string> ids;
  if (auto alerts = store.QueryAlerts(f)) {
    for (const auto& a : *alerts) ids.push_back(a.id);
  }
  return ids;
}

std::vector<std::string> SearchIds(Store& store, const std::string& text,
                                   const std::vector<std::string>& statuses) {
  IncidentFilter f;
  f.text = text;
  f.statuses = statuses;
  auto rows = store.QueryIncidents(f);
  EXPECT_TRUE(rows) << rows.error().message;
  std::vector<std::string> ids;
  if (rows) {
    for (const auto& r : *rows) ids.push_back(r.id);
  }
  return ids;
}

Status ResolveThroughApi(Store& store, const std::string& incident_id, std::int64_t at) {
  return store.Write([&](Tx& tx) -> Status {
    auto inc = tx.GetIncidentForUpdate(incident_id);
    if (!inc) return Fail(inc.error());
    if (!*inc) return Fail(errc::kNotFound, "incident " + incident_id);
    IncidentRow row = **inc;
    row.status = "resolved";
    row.resolved_at = row.updated_at = at;
    return tx.UpdateIncident(row);
  });
}

}  // namespace opsorch::engine
