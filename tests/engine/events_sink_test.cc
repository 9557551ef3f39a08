// EnqueueEventsV2, the workflow runtime's local incident sink in `opsorch serve`: what POST
// /v2/enqueue does, on a real engine over a SQLite store in a temporary directory.
#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/engine/engine.h>
#include <opsorch/engine/routes.h>

namespace opsorch::engine {
namespace {

class EventsSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("opsorch-events-sink-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    EngineOptions o;
    o.store_url = "sqlite:" + (dir_ / "e.db").string();
    o.retention_interval = std::chrono::minutes(0);
    o.paging = false;
    o.hold_resolve_ns = 0;  // a resolve resolves at once
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
    ServiceRow s;
    s.id = "budget";
    s.name = "Budget";
    ASSERT_TRUE(engine_->store().UpsertService(s));
    for (const auto& [id, kind, key] :
         {std::tuple{"int-events", "events_v2", kKey}, {"int-am", "alertmanager", kAmKey}}) {
      IntegrationRow i;
      i.id = id;
      i.service_id = "budget";
      i.name = id;
      i.kind = kind;
      i.key_hash = Engine::HashKey(key);
      i.key_prefix = std::string(key).substr(0, 6);
      ASSERT_TRUE(engine_->store().InsertIntegration(i));
    }
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The status EnqueueEventsV2 answers (on whichever thread), or -1 after 10 s.
  int Enqueue(const std::string& body) {
    auto answered = std::make_shared<std::promise<int>>();
    auto status = answered->get_future();
    EnqueueEventsV2(*engine_, body, DecodeLimits{}, [answered](int s) { answered->set_value(s); });
    if (status.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return -1;
    return status.get();
  }

  static std::string Trigger(const std::string& key) {
    return R"J({"routing_key":")J" + key +
           R"J(","event_action":"trigger","dedup_key":"wf-budget-project.within_budget-0123",)J"
           R"J("payload":{"summary":"project.within_budget is 0 (project=gemini)",)J"
           R"J("source":"budget","severity":"error","timestamp":"2025-11-21T00:00:00Z",)J"
           R"J("custom_details":{"metric":"project.within_budget","value":0}}})J";
  }

  std::vector<IncidentRow> Incidents() {
    auto r = engine_->store().QueryIncidents(IncidentFilter{});
    EXPECT_TRUE(r);
    return r ? *r : std::vector<IncidentRow>{};
  }

  static constexpr const char* kKey = "0123456789abcdef0123456789abcdef";
  static constexpr const char* kAmKey = "fedcba9876543210fedcba9876543210";
  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EventsSinkTest, ATriggerOpensAnIncidentAndAResolveClosesIt) {
  EXPECT_EQ(Enqueue(Trigger(kKey)), 202);
  auto open = Incidents();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].dedup_key, "wf-budget-project.within_budget-0123");
  EXPECT_EQ(open[0].service_id, "budget");
  EXPECT_EQ(open[0].status, "open");
  EXPECT_EQ(open[0].title, "project.within_budget is 0 (project=gemini)");
  // The same event again deduplicates into the same incident.
  EXPECT_EQ(Enqueue(Trigger(kKey)), 202);
  EXPECT_EQ(Incidents().size(), 1u);
  EXPECT_EQ(
      Enqueue(std::string(R"({"routing_key":")") + kKey +
              R"(","event_action":"resolve","dedup_key":"wf-budget-project.within_budget-0123"})"),
      202);
  auto closed = Incidents();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].status, "resolved");
}

TEST_F(EventsSinkTest, ABadKeyOrEventIsRefusedAndNothingIsStored) {
  EXPECT_EQ(Enqueue(Trigger("ffffffffffffffffffffffffffffffff")), 400);  // unknown
  EXPECT_EQ(Enqueue(Trigger(kAmKey)), 400);  // an Alertmanager key is not an events_v2 key
  EXPECT_EQ(Enqueue(R"({"routing_key":")" + std::string(kKey) + R"(","event_action":"trigger"})"),
            400);  // no payload
  EXPECT_EQ(Enqueue("not json"), 400);
  EXPECT_TRUE(Incidents().empty());
}

// The route and the sink are the same function: the route's answer for the same event.
TEST_F(EventsSinkTest, IngestEventsV2GivesTheDedupKeyOrTheRoutesError) {
  std::string refused_key;
  std::promise<Result<std::string>> answered;
  IngestEventsV2(
      *engine_, Trigger(kAmKey), DecodeLimits{},
      [&](std::string_view key) { refused_key = std::string(key); },
      [&](Result<std::string> r) { answered.set_value(std::move(r)); });
  auto refused = answered.get_future().get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::kBadRequest);
  EXPECT_EQ(refused.error().message, "routing_key is not a valid integration key");
  EXPECT_EQ(refused_key, kAmKey);

  std::promise<Result<std::string>> accepted;
  IngestEventsV2(*engine_, Trigger(kKey), DecodeLimits{}, {},
                 [&](Result<std::string> r) { accepted.set_value(std::move(r)); });
  auto future = accepted.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto key = future.get();
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(*key, "wf-budget-project.within_budget-0123");
}

}  // namespace
}  // namespace opsorch::engine
