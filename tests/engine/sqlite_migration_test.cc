// A SQLite store written before migration 4 (timeline entries in their own table, alerts found
// by an index on incident_seq) keeps every incident's alerts and timeline, and takes new events
// after the migration. The store is tests/engine/fixtures/store_v3.sql, dumped from a real one.
// A store written before migration 7 (tests/engine/fixtures/store_v6.sql) finds its incidents
// by text search once upgraded, and its index follows the incidents from then on; its service
// names no runbooks (migration 8).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/engine/store.h>
#include <opsorch/sqlite/sqlite_db.h>

#include "engine/store_fixture.h"
#include "test_paths.h"

namespace opsorch::engine {
namespace {

using ::testing::ElementsAre;

constexpr std::int64_t kSecond = 1'000'000'000;

class SqliteMigration : public ::testing::Test {
 protected:
  void SetUp() override { Load("store_v3.sql"); }

  // The store of fixtures/<fixture>, opened (and so migrated) by OpenStore.
  void Load(const std::string& fixture) {
    path_ = std::filesystem::temp_directory_path() /
            ("opsorch-migration-" + std::to_string(::getpid()) + ".db");
    Remove();
    std::ifstream in(std::filesystem::path(OPSORCH_TEST_DATA_DIR) / "engine" / "fixtures" /
                     fixture);
    ASSERT_TRUE(in) << "fixture missing";
    std::stringstream sql;
    sql << in.rdbuf();
    {
      auto c = ::opsorch::sqlite::Connection::Open(path_.string());
      ASSERT_TRUE(c) << c.error().message;
      ASSERT_TRUE((*c)->Exec(sql.str()));
    }
    auto s = OpenStore("sqlite:" + path_.string());  // migrates
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  void TearDown() override {
    store_.reset();
    Remove();
  }

  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }

  std::vector<std::string> AlertIds(const std::string& incident_id) {
    return AlertIdsOf(*store_, incident_id);
  }

  // "<id> <kind> <alertId>" per entry.
  std::vector<std::string> Timeline(const std::string& incident_id) {
    std::vector<std::string> out;
    auto t = store_->Timeline(incident_id);
    EXPECT_TRUE(t) << t.error().message;
    if (t) {
      for (const auto& e : *t) {
        const auto* alert = e.metadata.if_contains("alertId");
        out.push_back(e.id + " " + e.kind + " " +
                      (alert != nullptr ? std::string(alert->as_string()) : "-"));
      }
    }
    return out;
  }

  std::vector<std::string> Search(const std::string& text,
                                  const std::vector<std::string>& statuses = {}) {
    return SearchIds(*store_, text, statuses);
  }

  // The incidents the search index names for one trigram (no check against the text).
  std::vector<std::int64_t> Indexed(const std::string& trigram) {
    std::vector<std::int64_t> seqs;
    auto c = ::opsorch::sqlite::Connection::Open(path_.string());
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return seqs;
    auto s =
        (*c)->Prepare("SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ? ORDER BY rowid");
    EXPECT_TRUE(s) << s.error().message;
    if (!s) return seqs;
    (*s)->Bind(1, "\"" + trigram + "\"");
    while (true) {
      auto row = (*s)->Step();
      EXPECT_TRUE(row) << row.error().message;
      if (!row || !*row) break;
      seqs.push_back((*s)->Int(0));
    }
    return seqs;
  }

  // FTS5's own check of the index against the text it was given.
  Status IndexIntegrity() {
    auto c = ::opsorch::sqlite::Connection::Open(path_.string());
    if (!c) return Fail(std::move(c.error()));
    return (*c)->Exec("INSERT INTO incidents_fts(incidents_fts) VALUES ('integrity-check')");
  }

  Outcome Trigger(const std::string& key, std::int64_t now, std::string summary = "again") {
    const IntegrationRow integration{"db-events", "db", "Events API v2", "events_v2", "", "", 0, 0};
    Event e;
    e.action = EventAction::kTrigger;
    e.dedup_key = key;
    e.summary = std::move(summary);
    e.source = "db-1";
    e.severity = Severity::kError;
    e.origin = "events_v2";
    auto out = ApplyOn(*store_, integration, e, now);
    EXPECT_TRUE(out) << out.error().message;
    return out ? std::move(*out) : Outcome{};
  }

  std::filesystem::path path_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteMigration, KeepsEveryIncidentsAlertsAndTimeline) {
  EXPECT_THAT(AlertIds("inc-1"), ElementsAre("al-11", "al-8", "al-5", "al-3", "al-1"));
  EXPECT_THAT(Timeline("inc-1"),
              ElementsAre("inc-1-t1 triggered al-1", "inc-1-t2 deduplicated al-3",
                          "inc-1-t3 acknowledged al-5", "inc-1-t4 deduplicated al-8",
                          "inc-1-t5 note -", "inc-1-t6 deduplicated al-11"));
  EXPECT_THAT(AlertIds("inc-2"), ElementsAre("al-9", "al-4", "al-2"));
  EXPECT_THAT(Timeline("inc-2"),
              ElementsAre("inc-2-t1 triggered al-2", "inc-2-t2 deduplicated al-4",
                          "inc-2-t3 resolved al-9"));
  // The resolve held before its trigger (al-6) was linked to the incident later.
  EXPECT_THAT(AlertIds("inc-3"), ElementsAre("al-7", "al-6"));
  EXPECT_THAT(Timeline("inc-3"), ElementsAre("inc-3-t1 triggered al-7", "inc-3-t2 resolved al-6"));
  EXPECT_THAT(AlertIds("inc-4"), ElementsAre("al-10"));
  // Migration 7 indexed them.
  EXPECT_THAT(Search("DISK FULL"), ElementsAre("inc-1"));
  EXPECT_THAT(Search("cpu high"), ElementsAre("inc-4"));
  EXPECT_THAT(Search("bird", {"resolved"}), ElementsAre("inc-3"));
  EXPECT_THAT(Indexed("dis"), ElementsAre(1));
}

TEST_F(SqliteMigration, NewEventsJoinTheMigratedIncidents) {
  const std::int64_t now = 1'900'000'000LL * kSecond;
  const Outcome disk = Trigger("disk", now);
  EXPECT_EQ(disk.action, "deduplicated");
  EXPECT_EQ(disk.incident_id, "inc-1");
  EXPECT_EQ(disk.alert_id, "al-12");
  EXPECT_THAT(AlertIds("inc-1"), ElementsAre("al-12", "al-11", "al-8", "al-5", "al-3", "al-1"));
  auto t = Timeline("inc-1");
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t.back(), "inc-1-t7 deduplicated al-12");
  EXPECT_EQ(Trigger("cpu", now + kSecond).incident_id, "inc-4");
  EXPECT_THAT(AlertIds("inc-4"), ElementsAre("al-13", "al-10"));

  // Retention takes the two resolved incidents with all their alerts, old and new alike.
  auto n = store_->DeleteExpired(now, 0);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);
  for (const char* gone : {"al-2", "al-4", "al-6", "al-7", "al-9"}) {
    EXPECT_FALSE(store_->GetAlert(gone)->has_value()) << gone;
  }
  auto left = store_->QueryAlerts({});
  ASSERT_TRUE(left);
  EXPECT_EQ(left->size(), 8u);
}

class SqliteSearchMigration : public SqliteMigration {
 protected:
  void SetUp() override { Load("store_v6.sql"); }
};

TEST_F(SqliteSearchMigration, FindsTheIncidentsStoredBeforeTheIndex) {
  // The backfill, seen in the index itself: each incident under its folded text's trigrams.
  EXPECT_THAT(Indexed("übe"), ElementsAre(3));
  EXPECT_THAT(Indexed("rge"), ElementsAre(3));  // ÄRGER, from the description
  EXPECT_THAT(Indexed("db-"), ElementsAre(1, 2, 6));
  EXPECT_TRUE(IndexIntegrity());
  EXPECT_THAT(Search("disk full"), ElementsAre("inc-1"));
  EXPECT_THAT(Search("ON DB-"), ElementsAre("inc-6", "inc-2", "inc-1"));
  EXPECT_THAT(Search("replica lag", {"resolved"}), ElementsAre("inc-2"));
  EXPECT_TRUE(Search("replica lag", {"open"}).empty());
  EXPECT_THAT(Search("ÜBERLAST"), ElementsAre("inc-3"));
  EXPECT_THAT(Search("kühlsystem"), ElementsAre("inc-3"));
  EXPECT_THAT(Search("0% cpu"), ElementsAre("inc-4"));
  EXPECT_THAT(Search("C:\\TEMP"), ElementsAre("inc-4"));
  EXPECT_THAT(Search("runbook"), ElementsAre("inc-4"));
  EXPECT_THAT(Search("базы"), ElementsAre("inc-5"));
  EXPECT_TRUE(Search("disk lag").empty());
}

TEST_F(SqliteSearchMigration, TheIndexFollowsTheIncidentsAfterTheUpgrade) {
  const std::int64_t now = 1'900'000'000LL * kSecond;
  EXPECT_EQ(Trigger("disk", now).incident_id, "inc-1");  // a repeat changes no text
  const Outcome fresh = Trigger("new-key", now + kSecond, "Queue backlog on mq-3");
  EXPECT_EQ(fresh.incident_id, "inc-7");
  EXPECT_THAT(Search("backlog"), ElementsAre("inc-7"));
  ASSERT_TRUE(ResolveThroughApi(*store_, "inc-1", now + 2 * kSecond));
  ASSERT_TRUE(store_->Write([&](Tx& tx) -> Status {
    auto inc = tx.GetIncidentForUpdate("inc-6");
    if (!inc || !*inc) return Fail(errc::kNotFound, "inc-6");
    IncidentRow row = **inc;
    row.title = "CPU throttled on db-9";
    return tx.UpdateIncident(row);
  }));
  EXPECT_THAT(Search("cpu throttled"), ElementsAre("inc-6"));
  EXPECT_TRUE(Search("cpu high").empty());
  EXPECT_THAT(Indexed("hig"), ElementsAre());
  // Retention deletes the two resolved incidents, and their terms with them.
  auto n = store_->DeleteExpired(now + 3 * kSecond, 0);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_TRUE(Search("disk full").empty());
  EXPECT_THAT(Search("on db-"), ElementsAre("inc-6"));
  EXPECT_THAT(Indexed("dis"), ElementsAre());
  EXPECT_TRUE(IndexIntegrity());
}

// The index keeps the text it was given: an incident indexed when opsorch_fold folded its
// title otherwise (another C library's case mappings) still changes and goes without an error,
// taking its old terms with it.
TEST_F(SqliteSearchMigration, AnIncidentIndexedUnderAnotherFoldingStillChangesAndGoes) {
  {
    auto c = ::opsorch::sqlite::Connection::Open(path_.string());
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE((*c)->Exec(
        "UPDATE incidents_fts SET folded_title='ÜBERLAST IM RECHENZENTRUM' WHERE rowid=3"));
  }
  const std::int64_t now = 1'900'000'000LL * kSecond;
  ASSERT_TRUE(store_->Write([&](Tx& tx) -> Status {
    auto inc = tx.GetIncidentForUpdate("inc-3");
    if (!inc || !*inc) return Fail(errc::kNotFound, "inc-3");
    IncidentRow row = **inc;
    row.title = "Kühlung aus";
    return tx.UpdateIncident(row);
  }));
  EXPECT_THAT(Search("KÜHLUNG"), ElementsAre("inc-3"));
  EXPECT_TRUE(Search("überlast").empty());
  EXPECT_THAT(Indexed("ÜBE"), ElementsAre());
  ASSERT_TRUE(ResolveThroughApi(*store_, "inc-3", now));
  auto n = store_->DeleteExpired(now + kSecond, 0);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2);  // inc-3 and inc-2
  EXPECT_THAT(Indexed("ühl"), ElementsAre());
  EXPECT_TRUE(IndexIntegrity());
}

// Migration 8: the store's service names no runbooks, and can name some from then on.
TEST_F(SqliteSearchMigration, ItsServiceNamesNoRunbooksAndCanNameSome) {
  {
    auto c = ::opsorch::sqlite::Connection::Open(path_.string());
    ASSERT_TRUE(c) << c.error().message;
    auto v = (*c)->Prepare("PRAGMA user_version");
    ASSERT_TRUE(v) << v.error().message;
    auto row = (*v)->Step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*v)->Int(0), 8);
  }
  auto services = store_->Services();
  ASSERT_TRUE(services) << services.error().message;
  ASSERT_EQ(services->size(), 1u);
  ServiceRow db = (*services)[0];
  EXPECT_EQ(db.id, "db");
  EXPECT_EQ(db.team_id, "ops");
  EXPECT_TRUE(db.runbooks.empty());
  db.runbooks = {"restart-db", "vacuum"};
  ASSERT_TRUE(store_->UpsertService(db));
  services = store_->Services();
  ASSERT_TRUE(services) << services.error().message;
  ASSERT_EQ(services->size(), 1u);
  EXPECT_THAT((*services)[0].runbooks, ElementsAre("restart-db", "vacuum"));
}

// An operator who drops the index (migration 7's objects) keeps a working store: searches
// scan, and incidents are stored and found as before.
TEST_F(SqliteSearchMigration, WithoutTheIndexSearchesScan) {
  store_.reset();
  {
    auto c = ::opsorch::sqlite::Connection::Open(path_.string());
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE(
        (*c)->Exec("DROP TRIGGER incidents_fts_update; DROP TRIGGER incidents_fts_delete; "
                   "DROP TABLE incidents_fts;"));
  }
  auto s = OpenStore("sqlite:" + path_.string());
  ASSERT_TRUE(s) << s.error().message;
  store_ = std::move(*s);
  EXPECT_EQ(Trigger("other", 1'900'000'000LL * kSecond, "Überlast again").incident_id, "inc-7");
  EXPECT_THAT(Search("überlast"), ElementsAre("inc-7", "inc-3"));
  EXPECT_THAT(Search("ON DB-"), ElementsAre("inc-6", "inc-2", "inc-1"));
}

}  // namespace
}  // namespace opsorch::engine
