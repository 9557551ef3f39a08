// A SQLite store written before migration 4 (timeline entries in their own table, alerts found
// by an index on incident_seq) keeps every incident's alerts and timeline, and takes new events
// after the migration. The store is tests/engine/fixtures/store_v3.sql, dumped from a real one.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/engine/store.h>
#include <opsorch/sqlite/sqlite_db.h>

#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

using ::testing::ElementsAre;

constexpr std::int64_t kSecond = 1'000'000'000;

class SqliteMigration : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("opsorch-migration-" + std::to_string(::getpid()) + ".db");
    Remove();
    std::ifstream in(std::filesystem::path(OPSORCH_TEST_DATA_DIR) / "engine" / "fixtures" /
                     "store_v3.sql");
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

  Outcome Trigger(const std::string& key, std::int64_t now) {
    const IntegrationRow integration{"db-events", "db", "Events API v2", "events_v2", "", "", 0, 0};
    Event e;
    e.action = EventAction::kTrigger;
    e.dedup_key = key;
    e.summary = "again";
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

}  // namespace
}  // namespace opsorch::engine
