// The engine answers an event only once Store::Sync has covered its commit, and never
// acknowledges events whose sync failed.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/engine/engine.h>
#include <opsorch/engine/store.h>
#include <opsorch/metrics/metrics.h>

#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

// A real SQLite store whose Sync waits until the test opens the gate, and then fails if told.
class GatedStore final : public Store {
 public:
  explicit GatedStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  void Open(bool fail) {
    std::lock_guard lock(mu_);
    open_ = true;
    fail_ = fail;
    cv_.notify_all();
  }
  // False if no sync started within 10 s (the engine answered without one, or hangs).
  bool WaitForSync() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return syncs_ > 0; });
  }

  Status Sync() override {
    std::unique_lock lock(mu_);
    ++syncs_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    if (fail_) return Fail(errc::kInternal, "fdatasync: Input/output error");
    return inner_->Sync();
  }

  // Writes: held until released (WaitForWrites sees them come), their sizes recorded, and the
  // store may say it overlaps groups of `overlap` units (Store::OverlapUnits).
  void HoldWrites(bool held) {
    std::lock_guard lock(mu_);
    writes_held_ = held;
    cv_.notify_all();
  }
  bool WaitForWrites(std::size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return sizes_.size() >= n; });
  }
  std::vector<std::size_t> Sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }
  void SetOverlap(std::size_t n) { overlap_ = n; }
  std::size_t OverlapUnits() const override { return overlap_; }

  Status Migrate() override { return inner_->Migrate(); }
  Status WriteBatch(const std::vector<std::function<Status(Tx&)>>& items,
                    std::vector<Status>& results) override {
    {
      std::unique_lock lock(mu_);
      sizes_.push_back(items.size());
      cv_.notify_all();
      cv_.wait(lock, [&] { return !writes_held_; });
    }
    return inner_->WriteBatch(items, results);
  }
  Result<std::vector<IncidentRow>> QueryIncidents(const IncidentFilter& f) override {
    return inner_->QueryIncidents(f);
  }
  Result<std::optional<IncidentRow>> GetIncident(std::string_view id) override {
    return inner_->GetIncident(id);
  }
  Status ScanTimeline(std::string_view id, const TimelineCursor& after, std::int64_t max_rows,
                      const std::function<bool(TimelineRow&&)>& fn) override {
    return inner_->ScanTimeline(id, after, max_rows, fn);
  }
  Result<std::vector<AlertRow>> QueryAlerts(const AlertFilter& f) override {
    return inner_->QueryAlerts(f);
  }
  Result<std::optional<AlertRow>> GetAlert(std::string_view id) override {
    return inner_->GetAlert(id);
  }
  Status UpsertService(const ServiceRow& s) override { return inner_->UpsertService(s); }
  Status DeleteService(std::string_view id) override { return inner_->DeleteService(id); }
  Result<std::vector<ServiceRow>> Services() override { return inner_->Services(); }
  Status UpsertTeam(const TeamRow& t) override { return inner_->UpsertTeam(t); }
  Status DeleteTeam(std::string_view id) override { return inner_->DeleteTeam(id); }
  Result<std::vector<TeamRow>> Teams() override { return inner_->Teams(); }
  Status UpsertMember(const MemberRow& m) override { return inner_->UpsertMember(m); }
  Status DeleteMember(std::string_view team, std::string_view member) override {
    return inner_->DeleteMember(team, member);
  }
  Result<std::vector<MemberRow>> Members(std::string_view team) override {
    return inner_->Members(team);
  }
  Status InsertIntegration(const IntegrationRow& i) override {
    return inner_->InsertIntegration(i);
  }
  Status RevokeIntegration(std::string_view id, std::int64_t at) override {
    return inner_->RevokeIntegration(id, at);
  }
  Result<std::vector<IntegrationRow>> Integrations(std::string_view service) override {
    return inner_->Integrations(service);
  }
  Result<std::optional<IntegrationRow>> IntegrationByKeyHash(std::string_view hash) override {
    return inner_->IntegrationByKeyHash(hash);
  }
  Result<std::int64_t> DeleteExpired(std::int64_t incidents_before,
                                     std::int64_t alerts_before) override {
    return inner_->DeleteExpired(incidents_before, alerts_before);
  }

 private:
  std::unique_ptr<Store> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int syncs_ = 0;
  bool open_ = false;
  bool fail_ = false;
  bool writes_held_ = false;
  std::vector<std::size_t> sizes_;
  std::atomic<std::size_t> overlap_{0};
};

class EngineSync : public ::testing::Test {
 protected:
  void SetUp() override {
    auto inner = OpenTestStore("sqlite");
    ASSERT_TRUE(inner) << inner.error().message;
    auto gated = std::make_unique<GatedStore>(std::move(*inner));
    store_ = gated.get();
    EngineOptions o;
    o.retention_interval = std::chrono::minutes(0);
    auto e = Engine::Open(o, std::move(gated), &metrics_);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
  }
  void TearDown() override {
    if (store_ != nullptr) store_->Open(false);  // the engine's destructor waits for its syncs
    engine_.reset();
  }

  static Ingestion Trigger(const std::string& key) {
    Ingestion in;
    in.integration = IntegrationRow{"int-1", "svc-db", "pd", "events_v2", "hash-1", "abc", 0, 0};
    in.event.action = EventAction::kTrigger;
    in.event.dedup_key = key;
    in.event.summary = "disk full";
    in.event.origin = "events_v2";
    return in;
  }

  // Ingests one trigger; the results arrive in `results` when the engine answers.
  void Ingest(const std::string& key) {
    std::vector<Ingestion> events;
    events.push_back(Trigger(key));
    engine_->Ingest(std::move(events), [this](std::vector<IngestResult> r) {
      std::lock_guard lock(mu_);
      results_ = std::move(r);
      answered_ = true;
      cv_.notify_all();
    });
  }
  bool Answered() {
    std::lock_guard lock(mu_);
    return answered_;
  }
  std::vector<IngestResult> WaitForAnswer() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return answered_; });
    return results_;
  }

  // "action=count …" of opsorch_engine_events_total, as /metrics shows it.
  std::string Counted() {
    std::string out;
    const std::string text = metrics_.Render();
    const std::string prefix = "opsorch_engine_events_total{action=\"";
    for (std::size_t at = text.find(prefix); at != std::string::npos;
         at = text.find(prefix, at + 1)) {
      const std::size_t end = text.find('\n', at);
      std::string line = text.substr(at + prefix.size(), end - at - prefix.size());
      line.replace(line.find("\"} "), 3, "=");
      out += (out.empty() ? "" : " ") + line;
    }
    return out;
  }

  metrics::Registry metrics_;  // outlives the engine
  GatedStore* store_ = nullptr;
  std::unique_ptr<Engine> engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool answered_ = false;
  std::vector<IngestResult> results_;
};

TEST_F(EngineSync, AnEventIsAnsweredOnlyAfterTheSyncCoveringItsCommit) {
  Ingest("k1");
  ASSERT_TRUE(store_->WaitForSync());  // committed: the sync thread is inside Sync, held there
  auto visible = store_->QueryIncidents({});
  ASSERT_TRUE(visible);
  EXPECT_EQ(visible->size(), 1u);  // the commit is visible…
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Answered());  // …but not promised
  store_->Open(false);
  auto r = WaitForAnswer();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].status) << r[0].status.error().message;
  EXPECT_EQ(r[0].action, "triggered");
}

TEST_F(EngineSync, AFailedSyncFailsTheEventsItCovered) {
  Ingest("k1");
  ASSERT_TRUE(store_->WaitForSync());
  store_->Open(/*fail=*/true);
  auto r = WaitForAnswer();
  ASSERT_EQ(r.size(), 1u);
  ASSERT_FALSE(r[0].status);
  EXPECT_EQ(r[0].status.error().code, errc::kInternal);
  EXPECT_NE(r[0].status.error().message.find("fdatasync"), std::string::npos);
  EXPECT_TRUE(r[0].action.empty());
  EXPECT_EQ(Counted(), "failed=1");
}

TEST_F(EngineSync, EventsAreCountedByActionOnceDurable) {
  store_->Open(false);
  std::vector<Ingestion> events;
  for (const char* key : {"k1", "k1", "k2", "k1"}) events.push_back(Trigger(key));
  auto r = engine_->IngestSync(std::move(events));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(Counted(), "deduplicated=2 triggered=2");
}

// With a store that overlaps large groups, what waits is split in two groups when both halves
// are that large (the second then runs while the first is in flight, even when callers send in
// step); otherwise it all goes in one group, as with any store.
TEST_F(EngineSync, WhatWaitsIsSplitInTwoForAStoreThatOverlapsLargeGroups) {
  store_->Open(false);
  const auto queue_behind_one = [&](int waiting) {
    store_->HoldWrites(true);
    const std::size_t before = store_->Sizes().size();
    Ingest("first");  // the writer takes it and waits in the store
    EXPECT_TRUE(store_->WaitForWrites(before + 1));
    std::mutex m;
    std::condition_variable cv;
    int answered = 0;
    for (int i = 0; i < waiting; ++i) {
      std::vector<Ingestion> one;
      one.push_back(Trigger("k" + std::to_string(i)));
      engine_->Ingest(std::move(one), [&](std::vector<IngestResult>) {
        std::lock_guard lock(m);
        ++answered;
        cv.notify_all();
      });
    }
    store_->HoldWrites(false);
    {
      std::unique_lock lock(m);
      EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered == waiting; }));
    }
    WaitForAnswer();  // "first"'s answer too, before the next round reuses it
    {
      std::lock_guard lock(mu_);
      answered_ = false;
    }
    const std::vector<std::size_t> sizes = store_->Sizes();
    return std::vector<std::size_t>(sizes.begin() + static_cast<std::ptrdiff_t>(before),
                                    sizes.end());
  };
  EXPECT_EQ(queue_behind_one(10), (std::vector<std::size_t>{1, 10})) << "a store that does not "
                                                                        "overlap: one group";
  store_->SetOverlap(4);
  EXPECT_EQ(queue_behind_one(10), (std::vector<std::size_t>{1, 5, 5}));
  EXPECT_EQ(queue_behind_one(7), (std::vector<std::size_t>{1, 7})) << "halves below 4: one group";
}

}  // namespace
}  // namespace opsorch::engine
