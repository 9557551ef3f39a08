// Providers are called from several request threads at once. These tests hammer the stateful
// mocks from a few threads; run under -fsanitize=thread they also check for data races.
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "providers/mock/incident_provider.h"
#include "providers/mock/orchestration_provider.h"
#include "providers/mock/test_support.h"
#include "providers/mock/ticket_provider.h"

namespace opsorch::providers::mock {
namespace {

using testing::Make;

constexpr int kThreads = 4;
constexpr int kPerThread = 50;

TEST(MockConcurrencyTest, ConcurrentIncidentWritesAndReadsStayConsistent) {
  auto p = Make<MockIncidentProvider>();
  std::vector<std::thread> threads;
  std::mutex ids_mu;
  std::set<std::string> ids;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto created = p->Create({.title = "t" + std::to_string(t) + "-" + std::to_string(i)});
        if (!created) {
          ++failures;
          continue;
        }
        {
          std::lock_guard lock(ids_mu);
          ids.insert(created->id);
        }
        if (!p->AppendTimeline(created->id, {.body = "note"})) ++failures;
        s::UpdateIncidentInput up;
        up.status = "resolved";
        if (!p->Update("inc-011", up)) ++failures;
        if (!p->Query({.statuses = {"open"}})) ++failures;
        if (!p->GetTimeline("inc-011")) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));  // ids never repeat
  EXPECT_EQ((**p->Query({})).size(), 15u + kThreads * kPerThread);
  for (const auto& id : ids) EXPECT_EQ((**p->GetTimeline(id)).size(), 2u) << id;
}

TEST(MockConcurrencyTest, ConcurrentTicketsAndRuns) {
  auto tickets = Make<MockTicketProvider>();
  auto orch = Make<MockOrchestrationProvider>();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!tickets->Create({.title = "x"})) ++failures;
        if (!tickets->Query({.statuses = {"todo"}})) ++failures;
        auto run = orch->StartRun("plan-rotate-credentials");
        if (!run) {
          ++failures;
          continue;
        }
        if (!orch->CompleteStep((*run)->id, "revoke", "bot", "")) ++failures;
        if (!orch->QueryRuns({})) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ((**tickets->Query({})).size(), 12u + kThreads * kPerThread);
  EXPECT_EQ((**orch->QueryRuns({})).size(), 3u + kThreads * kPerThread);
}

}  // namespace
}  // namespace opsorch::providers::mock
