// The store's paging calls, the same suite against SQLite and PostgreSQL: catalog documents and
// their version, escalations, jobs, and the notification outbox (idempotent inserts, claims that
// never hand one message to two claimers, leases, cancellation), and retention.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/engine/store.h>

#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kT0 = 1'780'000'000LL * kS;

NotificationRow Message(std::int64_t incident, const std::string& key, std::int64_t due) {
  NotificationRow n;
  n.idempotency_key = key;
  n.incident_seq = incident;
  n.generation = 1;
  n.level = 1;
  n.person_id = "alice";
  n.contact_method = "hook";
  n.channel = "webhook";
  n.urgency = "high";
  n.due_at = due;
  n.created_at = n.updated_at = kT0;
  return n;
}

class PagingStore : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto s = OpenTestStore(GetParam(), &url_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->SupportsPaging());
  }
  Status Write(const std::function<Status(Tx&)>& fn) { return store_->Write(fn); }
  std::unique_ptr<Store> store_;
  std::string url_;  // the same database again (a second node)
};

TEST_P(PagingStore, CatalogDocumentsAndTheirVersion) {
  ASSERT_TRUE(store_->CatalogVersion());
  const std::int64_t v0 = *store_->CatalogVersion();
  ASSERT_TRUE(store_->PutDoc(CatalogDoc{"user", "alice", "", JsonObject{{"name", "Alice"}}, kT0}));
  ASSERT_TRUE(store_->PutDoc(CatalogDoc{"schedule", "s1", "", JsonObject{{"name", "S"}}, kT0 + 1}));
  ASSERT_TRUE(
      store_->PutDoc(CatalogDoc{"override", "o1", "s1", JsonObject{{"user", "alice"}}, kT0 + 2}));
  ASSERT_TRUE(
      store_->PutDoc(CatalogDoc{"override", "o2", "s2", JsonObject{{"user", "alice"}}, kT0 + 3}));
  const std::int64_t v1 = *store_->CatalogVersion();
  EXPECT_GT(v1, v0);
  // Replacing keeps one row.
  ASSERT_TRUE(
      store_->PutDoc(CatalogDoc{"user", "alice", "", JsonObject{{"name", "Alicia"}}, kT0 + 4}));
  auto users = store_->Docs("user");
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].body.at("name").as_string(), "Alicia");
  // Deleting a schedule takes its overrides, not another schedule's; the version moves on.
  const std::int64_t v2 = *store_->CatalogVersion();
  ASSERT_TRUE(store_->DeleteDoc("schedule", "s1"));
  EXPECT_GT(*store_->CatalogVersion(), v2);
  EXPECT_TRUE(store_->Docs("schedule")->empty());
  auto overrides = store_->Docs("override");
  ASSERT_TRUE(overrides);
  ASSERT_EQ(overrides->size(), 1u);
  EXPECT_EQ((*overrides)[0].id, "o2");
  EXPECT_EQ((*overrides)[0].parent, "s2");
}

TEST_P(PagingStore, ServicesKeepTheirEscalationPolicy) {
  ServiceRow s;
  s.id = "svc";
  s.name = "Svc";
  s.escalation_policy = "default";
  ASSERT_TRUE(store_->UpsertService(s));
  auto all = store_->Services();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].escalation_policy, "default");
}

TEST_P(PagingStore, EscalationsAndJobs) {
  EscalationRow e{7, "p", JsonObject{{"id", "p"}}, 1, 1, 0, 0, "active", kT0 + 60 * kS, kT0, kT0};
  ASSERT_TRUE(Write([&](Tx& tx) { return tx.PutEscalation(e); }));
  e.generation = 2;
  e.state = "acknowledged";
  ASSERT_TRUE(Write([&](Tx& tx) { return tx.PutEscalation(e); }));
  auto got = store_->Escalation(7);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->generation, 2);
  EXPECT_EQ((*got)->state, "acknowledged");
  EXPECT_EQ((*got)->snapshot.at("id").as_string(), "p");

  // A job with a known unique key is not added twice; due jobs come oldest first.
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    for (auto [key, at] :
         {std::pair{"b", kT0 + 2}, {"a", kT0 + 1}, {"a", kT0 + 5}, {"c", kT0 + 9}}) {
      JobRow j{0, "escalate", key, at, 7, 2, {}};
      if (auto st = tx.InsertJob(j); !st) return st;
    }
    return Ok();
  }));
  std::vector<std::string> due;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    auto jobs = tx.DueJobs(kT0 + 5, 10);
    if (!jobs) return Fail(jobs.error());
    due.clear();
    for (const auto& j : *jobs) {
      due.push_back(j.unique_key);
      if (auto st = tx.DeleteJob(j.id); !st) return st;
    }
    return Ok();
  }));
  EXPECT_EQ(due, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    auto jobs = tx.DueJobs(kT0 + 100, 10);
    if (!jobs) return Fail(jobs.error());
    due.clear();
    for (const auto& j : *jobs) due.push_back(j.unique_key);
    return Ok();
  }));
  EXPECT_EQ(due, (std::vector<std::string>{"c"}));
  auto next = store_->NextPagingWork();
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, kT0 + 9);
}

TEST_P(PagingStore, TheOutboxIsIdempotentAndClaimsOnce) {
  bool first = false, second = true;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    NotificationRow a = Message(1, "k1", kT0);
    auto r = tx.InsertNotification(a);
    if (!r) return Fail(r.error());
    first = *r;
    NotificationRow again = Message(1, "k1", kT0);
    auto r2 = tx.InsertNotification(again);
    if (!r2) return Fail(r2.error());
    second = *r2;
    NotificationRow later = Message(1, "k2", kT0 + 60 * kS);
    return tx.InsertNotification(later).has_value() ? Ok() : Fail(errc::kInternal, "insert");
  }));
  EXPECT_TRUE(first);
  EXPECT_FALSE(second) << "the same idempotency key was queued twice";
  std::vector<NotificationRow> claimed;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    auto c = tx.ClaimNotifications(kT0, 10, "node-a", kT0 + 10 * kS);
    if (!c) return Fail(c.error());
    claimed = *c;
    return Ok();
  }));
  ASSERT_EQ(claimed.size(), 1u) << "only the due message";
  EXPECT_EQ(claimed[0].idempotency_key, "k1");
  EXPECT_EQ(claimed[0].status, "sending");
  EXPECT_EQ(claimed[0].lease_owner, "node-a");
  EXPECT_EQ(claimed[0].attempts, 1);
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    auto c = tx.ClaimNotifications(kT0, 10, "node-b", kT0 + 10 * kS);
    if (!c) return Fail(c.error());
    claimed = *c;
    return Ok();
  }));
  EXPECT_TRUE(claimed.empty()) << "a claimed message was claimed again";
  // Its lease runs out: it is offered back.
  std::vector<NotificationRow> expired;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    auto e = tx.ExpiredLeases(kT0 + 11 * kS, 10);
    if (!e) return Fail(e.error());
    expired = *e;
    return Ok();
  }));
  ASSERT_EQ(expired.size(), 1u);
  // Acknowledged: the pending one is cancelled, the one being sent is left to its sender.
  std::int64_t cancelled = 0;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    auto n = tx.CancelNotifications(1, kT0 + 1, "acknowledged");
    if (!n) return Fail(n.error());
    cancelled = *n;
    return Ok();
  }));
  EXPECT_EQ(cancelled, 1);
  auto all = store_->Notifications(1);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].status, "sending");
  EXPECT_EQ((*all)[1].status, "cancelled");
  EXPECT_EQ((*all)[1].detail, "acknowledged");
}

// Claimers racing (two nodes, or a node's passes) never share a message.
TEST_P(PagingStore, ConcurrentClaimsShareNothing) {
  constexpr int kMessages = 300;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    for (int i = 0; i < kMessages; ++i) {
      NotificationRow n = Message(2, "m" + std::to_string(i), kT0);
      if (auto r = tx.InsertNotification(n); !r) return Fail(r.error());
    }
    return Ok();
  }));
  auto other = OpenStore(url_);  // a second node on the same database
  ASSERT_TRUE(other) << other.error().message;
  std::mutex mu;
  std::vector<std::int64_t> seen;
  std::atomic<int> failures{0};
  auto claimer = [&](Store& store, std::string owner) {
    for (int round = 0; round < 100; ++round) {
      std::vector<NotificationRow> got;
      auto st = store.Write([&](Tx& tx) -> Status {
        auto c = tx.ClaimNotifications(kT0, 7, owner, kT0 + 60 * kS);
        if (!c) return Fail(c.error());
        got = *c;
        return Ok();
      });
      if (!st) {
        ++failures;
        return;
      }
      if (got.empty()) return;
      std::lock_guard lock(mu);
      for (const auto& n : got) seen.push_back(n.seq);
    }
  };
  std::thread a([&] { claimer(*store_, "node-a"); });
  std::thread b([&] { claimer(**other, "node-b"); });
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::int64_t> distinct(seen.begin(), seen.end());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(distinct.size(), seen.size()) << "a message was claimed twice";
}

TEST_P(PagingStore, SharedSettingsKeepTheFirstValue) {
  auto a = store_->SharedSetting("k", "first");
  auto b = store_->SharedSetting("k", "second");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, "first");
  EXPECT_EQ(*b, "first");
}

TEST_P(PagingStore, RetentionTakesAnIncidentsPagingRows) {
  IncidentRow inc;
  inc.service_id = "svc";
  inc.title = "t";
  inc.status = "resolved";
  inc.created_at = inc.updated_at = kT0;
  inc.resolved_at = kT0 + kS;
  ASSERT_TRUE(Write([&](Tx& tx) -> Status {
    if (auto st = tx.InsertIncident(inc); !st) return st;
    EscalationRow e{inc.seq, "p", {}, 1, 1, 0, 0, "resolved", 0, kT0, kT0};
    if (auto st = tx.PutEscalation(e); !st) return st;
    NotificationRow n = Message(inc.seq, "r1", kT0);
    if (auto r = tx.InsertNotification(n); !r) return Fail(r.error());
    JobRow j{0, "escalate", "r-job", kT0 + 100 * kS, inc.seq, 1, {}};
    return tx.InsertJob(j);
  }));
  auto deleted = store_->DeleteExpired(kT0 + 10 * kS, 0);
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, 1);
  EXPECT_FALSE(*store_->Escalation(inc.seq));
  EXPECT_TRUE(store_->Notifications(inc.seq)->empty());
  EXPECT_EQ(*store_->NextPagingWork(), INT64_MAX);
}

INSTANTIATE_TEST_SUITE_P(Backends, PagingStore, ::testing::ValuesIn(TestBackends()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace opsorch::engine
