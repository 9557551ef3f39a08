// The capability adapters of the plugin host against the mock providers built as a plugin with
// the SDK (opsorch-plugin-mock): every operation must give what the in-process mock gives, so
// the adapters' methods and payloads and the SDK's dispatch agree with each other and with the
// contract. The null-result rules are checked with the fault plugin.
#include <cstdio>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/plugin/plugin_host.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/providers/mock.h>
#include <opsorch/providers/operations.h>
#include <opsorch/providers/registry.h>
#include <opsorch/schema/codec.h>

#include "test_paths.h"

namespace opsorch::plugin {
namespace {

using providers::Capability;
using ::testing::HasSubstr;
namespace s = ::opsorch::schema;

const JsonObject kConfig{{"now", "2026-03-01T12:00:00Z"}};

using providers::Invoke;
using providers::ProviderPtr;
namespace ops = providers::ops;

// Interface P over any provider — the in-process mock or a plugin — through the operation
// table, as the API reaches both.
template <class P>
struct Via;

template <>
struct Via<providers::IncidentProvider> {
  ProviderPtr p;
  auto Query(const s::IncidentQuery& q) { return Invoke(ops::kIncidentQuery, *p, q); }
  auto Get(const std::string& id) { return Invoke(ops::kIncidentGet, *p, s::IdPayload{id}); }
  auto Create(const s::CreateIncidentInput& in) { return Invoke(ops::kIncidentCreate, *p, in); }
  auto Update(const std::string& id, const s::UpdateIncidentInput& in) {
    return Invoke(ops::kIncidentUpdate, *p, s::UpdateIncidentPayload{id, in});
  }
  auto GetTimeline(const std::string& id) {
    return Invoke(ops::kIncidentTimelineGet, *p, s::IdPayload{id});
  }
  auto AppendTimeline(const std::string& id, const s::TimelineAppendInput& in) {
    return Invoke(ops::kIncidentTimelineAppend, *p, s::TimelineAppendPayload{in, id});
  }
};
template <>
struct Via<providers::AlertProvider> {
  ProviderPtr p;
  auto Query(const s::AlertQuery& q) { return Invoke(ops::kAlertQuery, *p, q); }
  auto Get(const std::string& id) { return Invoke(ops::kAlertGet, *p, s::IdPayload{id}); }
};
template <>
struct Via<providers::LogProvider> {
  ProviderPtr p;
  auto Query(const s::LogQuery& q) { return Invoke(ops::kLogQuery, *p, q); }
};
template <>
struct Via<providers::MetricProvider> {
  ProviderPtr p;
  auto Query(const s::MetricQuery& q) { return Invoke(ops::kMetricQuery, *p, q); }
  auto Describe(const s::QueryScope& q) { return Invoke(ops::kMetricDescribe, *p, q); }
};
template <>
struct Via<providers::TicketProvider> {
  ProviderPtr p;
  auto Query(const s::TicketQuery& q) { return Invoke(ops::kTicketQuery, *p, q); }
  auto Get(const std::string& id) { return Invoke(ops::kTicketGet, *p, s::IdPayload{id}); }
  auto Create(const s::CreateTicketInput& in) { return Invoke(ops::kTicketCreate, *p, in); }
  auto Update(const std::string& id, const s::UpdateTicketInput& in) {
    return Invoke(ops::kTicketUpdate, *p, s::UpdateTicketPayload{id, in});
  }
};
template <>
struct Via<providers::MessagingProvider> {
  ProviderPtr p;
  auto Send(const s::Message& m) { return Invoke(ops::kMessagingSend, *p, m); }
};
template <>
struct Via<providers::ServiceProvider> {
  ProviderPtr p;
  auto Query(const s::ServiceQuery& q) { return Invoke(ops::kServiceQuery, *p, q); }
};
template <>
struct Via<providers::DeploymentProvider> {
  ProviderPtr p;
  auto Query(const s::DeploymentQuery& q) { return Invoke(ops::kDeploymentQuery, *p, q); }
  auto Get(const std::string& id) { return Invoke(ops::kDeploymentGet, *p, s::IdPayload{id}); }
};
template <>
struct Via<providers::TeamProvider> {
  ProviderPtr p;
  auto Query(const s::TeamQuery& q) { return Invoke(ops::kTeamQuery, *p, q); }
  auto Get(const std::string& id) { return Invoke(ops::kTeamGet, *p, s::IdPayload{id}); }
  auto Members(const std::string& id) {
    return Invoke(ops::kTeamMembers, *p, s::TeamIdPayload{id});
  }
};
template <>
struct Via<providers::OrchestrationProvider> {
  ProviderPtr p;
  auto QueryPlans(const s::OrchestrationPlanQuery& q) { return Invoke(ops::kPlansQuery, *p, q); }
  auto GetPlan(const std::string& id) { return Invoke(ops::kPlanGet, *p, s::PlanIdPayload{id}); }
  auto QueryRuns(const s::OrchestrationRunQuery& q) { return Invoke(ops::kRunsQuery, *p, q); }
  auto GetRun(const std::string& id) { return Invoke(ops::kRunGet, *p, s::RunIdPayload{id}); }
  auto StartRun(const std::string& id) { return Invoke(ops::kRunStart, *p, s::PlanIdPayload{id}); }
  auto CompleteStep(const std::string& run, const std::string& step, const std::string& actor,
                    const std::string& note) {
    return Invoke(ops::kStepComplete, *p, s::CompleteStepPayload{actor, note, run, step});
  }
};
template <>
struct Via<providers::SecretProvider> {
  ProviderPtr p;
  auto Get(const std::string& key) { return static_cast<providers::SecretProvider&>(*p).Get(key); }
  auto Put(const std::string& key, const std::string& value) {
    return static_cast<providers::SecretProvider&>(*p).Put(key, value);
  }
};

class PluginProvidersTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(providers::mock::RegisterMockProviders(registry_)); }

  template <class P>
  std::shared_ptr<Via<P>> Plugin(const std::string& path = OPSORCH_PLUGIN_MOCK,
                                 const JsonObject& config = kConfig) {
    auto p = host_.Create(P::kCapability, path, config);
    EXPECT_TRUE(p) << p.error().message;
    return std::make_shared<Via<P>>(Via<P>{p->provider});
  }
  template <class P>
  std::shared_ptr<Via<P>> InProcess() {
    auto p = registry_.Create(P::kCapability, "mock", kConfig);
    EXPECT_TRUE(p) << p.error().message;
    return std::make_shared<Via<P>>(Via<P>{*p});
  }

  providers::ProviderRegistry registry_;
  PluginHost host_;
};

template <class T>
std::string Enc(const Result<T>& r) {
  if (!r) return "error " + std::string(WireCode(r.error())) + ": " + r.error().message;
  return s::EncodeToString(*r);
}
std::string Enc(const Status& st) {
  return st ? "ok" : "error " + std::string(WireCode(st.error()));
}

// A plugin of an API capability is a remote provider (its calls are awaited on the event loop);
// the secret store, which the server reads itself, is the SecretProvider interface over it.
TEST_F(PluginProvidersTest, PluginsAreRemoteProvidersExceptTheSecretStore) {
  auto incident = host_.Create(Capability::kIncident, OPSORCH_PLUGIN_MOCK, kConfig);
  ASSERT_TRUE(incident);
  EXPECT_NE(dynamic_cast<providers::RemoteProvider*>(incident->provider.get()), nullptr);
  auto secret = host_.Create(Capability::kSecret, OPSORCH_PLUGIN_MOCK, kConfig);
  ASSERT_TRUE(secret);
  EXPECT_NE(dynamic_cast<providers::SecretProvider*>(secret->provider.get()), nullptr);
  EXPECT_EQ(secret->model, providers::CallModel::kPool);
}

TEST_F(PluginProvidersTest, IncidentOperationsMatchTheInProcessMock) {
  auto p = Plugin<providers::IncidentProvider>();
  auto m = InProcess<providers::IncidentProvider>();
  s::IncidentQuery q;
  q.statuses = std::vector<std::string>{"open", "investigating"};
  q.limit = 3;
  q.scope.service = "svc-checkout";
  EXPECT_EQ(Enc(p->Query(q)), Enc(m->Query(q)));
  EXPECT_EQ(Enc(p->Get("inc-003")), Enc(m->Get("inc-003")));
  EXPECT_EQ(Enc(p->Get("nope")), Enc(m->Get("nope")));  // not_found crosses the pipe as such
  EXPECT_EQ(Enc(p->GetTimeline("inc-001")), Enc(m->GetTimeline("inc-001")));

  s::CreateIncidentInput in;
  in.title = "Disk full";
  in.severity = "sev2";
  auto created = p->Create(in);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->id, "inc-016");
  s::UpdateIncidentInput up;
  up.status = std::string("resolved");
  auto updated = p->Update("inc-016", up);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->status, "resolved");
  s::TimelineAppendInput entry;
  entry.kind = "note";
  entry.body = "rotated logs";
  ASSERT_TRUE(p->AppendTimeline("inc-016", entry));
  auto timeline = p->GetTimeline("inc-016");
  ASSERT_TRUE(timeline && timeline->has_value());
  EXPECT_EQ(timeline->value().back().body, "rotated logs");  // `entry` reached the provider
  EXPECT_EQ(Enc(p->Create(s::CreateIncidentInput{})), Enc(m->Create(s::CreateIncidentInput{})));
}

TEST_F(PluginProvidersTest, EveryOtherCapabilityMatchesTheInProcessMock) {
  {
    auto p = Plugin<providers::AlertProvider>();
    auto m = InProcess<providers::AlertProvider>();
    s::AlertQuery q;
    q.limit = 5;
    EXPECT_EQ(Enc(p->Query(q)), Enc(m->Query(q)));
    EXPECT_EQ(Enc(p->Get("al-004")), Enc(m->Get("al-004")));
  }
  {
    auto p = Plugin<providers::LogProvider>();
    auto m = InProcess<providers::LogProvider>();
    s::LogQuery q;
    q.start = Time::FromUnixNanos(1772362800LL * 1000000000LL);
    q.end = Time::FromUnixNanos(1772366400LL * 1000000000LL);
    q.limit = 5;
    EXPECT_EQ(Enc(p->Query(q)), Enc(m->Query(q)));
  }
  {
    auto p = Plugin<providers::MetricProvider>();
    auto m = InProcess<providers::MetricProvider>();
    s::MetricQuery q;
    q.expression = s::MetricExpression{};
    q.expression->metric_name = "http_requests_total";
    q.start = Time::FromUnixNanos(1772362800LL * 1000000000LL);
    q.end = Time::FromUnixNanos(1772363400LL * 1000000000LL);
    q.step = 60;
    EXPECT_EQ(Enc(p->Query(q)), Enc(m->Query(q)));
    EXPECT_EQ(Enc(p->Describe(s::QueryScope{})), Enc(m->Describe(s::QueryScope{})));
  }
  {
    auto p = Plugin<providers::TicketProvider>();
    auto m = InProcess<providers::TicketProvider>();
    EXPECT_EQ(Enc(p->Query(s::TicketQuery{})), Enc(m->Query(s::TicketQuery{})));
    EXPECT_EQ(Enc(p->Get("TCK-002")), Enc(m->Get("TCK-002")));
    s::CreateTicketInput in;
    in.title = "Rotate certs";
    EXPECT_EQ(Enc(p->Create(in)), Enc(m->Create(in)));
    s::UpdateTicketInput up;
    up.status = std::string("done");
    EXPECT_EQ(Enc(p->Update("TCK-013", up)), Enc(m->Update("TCK-013", up)));
  }
  {
    auto p = Plugin<providers::MessagingProvider>();
    auto m = InProcess<providers::MessagingProvider>();
    s::Message msg;
    msg.channel = "#ops";
    msg.body = "deploy done";
    auto a = p->Send(msg);
    auto b = m->Send(msg);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->channel, b->channel);
    EXPECT_EQ(a->id, b->id);
  }
  {
    auto p = Plugin<providers::ServiceProvider>();
    auto m = InProcess<providers::ServiceProvider>();
    EXPECT_EQ(Enc(p->Query(s::ServiceQuery{})), Enc(m->Query(s::ServiceQuery{})));
  }
  {
    auto p = Plugin<providers::DeploymentProvider>();
    auto m = InProcess<providers::DeploymentProvider>();
    EXPECT_EQ(Enc(p->Query(s::DeploymentQuery{})), Enc(m->Query(s::DeploymentQuery{})));
    EXPECT_EQ(Enc(p->Get("deploy-003")), Enc(m->Get("deploy-003")));
  }
  {
    auto p = Plugin<providers::TeamProvider>();
    auto m = InProcess<providers::TeamProvider>();
    EXPECT_EQ(Enc(p->Query(s::TeamQuery{})), Enc(m->Query(s::TeamQuery{})));
    EXPECT_EQ(Enc(p->Get("team-payments")), Enc(m->Get("team-payments")));
    EXPECT_EQ(Enc(p->Members("team-payments")), Enc(m->Members("team-payments")));
  }
  {
    auto p = Plugin<providers::OrchestrationProvider>();
    auto m = InProcess<providers::OrchestrationProvider>();
    EXPECT_EQ(Enc(p->QueryPlans(s::OrchestrationPlanQuery{})),
              Enc(m->QueryPlans(s::OrchestrationPlanQuery{})));
    EXPECT_EQ(Enc(p->GetPlan("plan-db-failover")), Enc(m->GetPlan("plan-db-failover")));
    EXPECT_EQ(Enc(p->QueryRuns(s::OrchestrationRunQuery{})),
              Enc(m->QueryRuns(s::OrchestrationRunQuery{})));
    auto run = p->StartRun("plan-incident-comms");
    ASSERT_TRUE(run && run->has_value()) << Enc(run);
    EXPECT_EQ(run->value().id, "run-004");
    EXPECT_EQ(Enc(run), Enc(m->StartRun("plan-incident-comms")));  // same fixed clock
    EXPECT_EQ(Enc(p->GetRun("run-004")), Enc(m->GetRun("run-004")));
    EXPECT_EQ(Enc(p->CompleteStep("run-004", "nope", "alice", "")),
              Enc(m->CompleteStep("run-004", "nope", "alice", "")));
  }
}

TEST_F(PluginProvidersTest, NullResultsFollowTheContract) {
  const JsonObject null_result{{"fault", "result:null"}};
  auto inc = Plugin<providers::IncidentProvider>(OPSORCH_FAULT_PLUGIN, null_result);
  auto list = inc->Query(s::IncidentQuery{});
  ASSERT_TRUE(list);
  EXPECT_FALSE(list->has_value());  // → `null`
  EXPECT_EQ(Enc(inc->Get("x")),
            R"({"id":"","title":"","status":"","severity":"","createdAt":"0001-01-01T00:00:00Z",)"
            R"("updatedAt":"0001-01-01T00:00:00Z"})");
  EXPECT_TRUE(inc->AppendTimeline("x", s::TimelineAppendInput{}));

  auto logs = Plugin<providers::LogProvider>(OPSORCH_FAULT_PLUGIN, null_result);
  EXPECT_EQ(Enc(logs->Query(s::LogQuery{})), R"({"entries":null})");

  auto orch = Plugin<providers::OrchestrationProvider>(OPSORCH_FAULT_PLUGIN, null_result);
  auto plan = orch->GetPlan("p");
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->has_value());  // a zero-valued plan, not null
  auto run = orch->StartRun("p");
  ASSERT_TRUE(run);
  EXPECT_TRUE(run->has_value());

  auto secret = Plugin<providers::SecretProvider>(OPSORCH_FAULT_PLUGIN, null_result);
  auto value = secret->Get("k");
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, "");
}

TEST_F(PluginProvidersTest, ResultOfTheWrongShapeIs502WithTheDecoderText) {
  auto inc = Plugin<providers::IncidentProvider>(OPSORCH_FAULT_PLUGIN,
                                                 JsonObject{{"fault", R"(result:{"id":5})"}});
  auto r = inc->Get("x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kProviderError);
  EXPECT_THAT(r.error().message, HasSubstr("incident.get"));
  EXPECT_THAT(r.error().message, HasSubstr("cannot unmarshal number"));

  auto secret = Plugin<providers::SecretProvider>(OPSORCH_FAULT_PLUGIN,
                                                  JsonObject{{"fault", R"(result:{"v":1})"}});
  EXPECT_EQ(secret->Get("k").error().code, errc::kProviderError);
}

TEST_F(PluginProvidersTest, UnknownFieldsInResultsAreDropped) {
  auto inc = Plugin<providers::IncidentProvider>(
      OPSORCH_FAULT_PLUGIN,
      JsonObject{
          {"fault",
           R"(result:{"id":"i1","extra":true,"title":"t","createdAt":"2026-01-02T03:04:05Z"})"}});
  auto r = inc->Get("i1");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(
      Enc(r),
      R"({"id":"i1","title":"t","status":"","severity":"","createdAt":"2026-01-02T03:04:05Z",)"
      R"("updatedAt":"0001-01-01T00:00:00Z"})");
}

// Contract §8.4, method by method: the exact request line each adapter operation sends.
TEST_F(PluginProvidersTest, PayloadsHaveTheContractsShapes) {
  const std::string file =
      ::testing::TempDir() + "opsorch-plugin-requests-" + std::to_string(::getpid()) + ".log";
  std::remove(file.c_str());
  const JsonObject record{{"fault", "record"}, {"recordTo", file}};
  const std::string cfg = R"({"fault":"record","recordTo":")" + file + R"("})";
  std::vector<std::pair<std::string, std::string>> expected;  // method, payload
  auto inc = Plugin<providers::IncidentProvider>(OPSORCH_FAULT_PLUGIN, record);
  (void)inc->Get("i1");
  expected.emplace_back("incident.get", R"({"id":"i1"})");
  s::UpdateIncidentInput up;
  up.title = std::string("t");
  (void)inc->Update("i1", up);
  expected.emplace_back("incident.update", R"({"id":"i1","input":{"title":"t"}})");
  s::TimelineAppendInput entry;
  entry.kind = "note";
  entry.body = "b";
  (void)inc->AppendTimeline("i1", entry);
  expected.emplace_back(
      "incident.timeline.append",
      R"({"entry":{"at":"0001-01-01T00:00:00Z","kind":"note","body":"b"},"id":"i1"})");
  (void)inc->GetTimeline("i1");
  expected.emplace_back("incident.timeline.get", R"({"id":"i1"})");
  auto team = Plugin<providers::TeamProvider>(OPSORCH_FAULT_PLUGIN, record);
  (void)team->Members("t1");
  expected.emplace_back("team.members", R"({"teamID":"t1"})");
  auto orch = Plugin<providers::OrchestrationProvider>(OPSORCH_FAULT_PLUGIN, record);
  (void)orch->GetPlan("p1");
  expected.emplace_back("orchestration.plans.get", R"({"planId":"p1"})");
  (void)orch->GetRun("r1");
  expected.emplace_back("orchestration.runs.get", R"({"runId":"r1"})");
  (void)orch->StartRun("p1");
  expected.emplace_back("orchestration.runs.start", R"({"planId":"p1"})");
  (void)orch->CompleteStep("r1", "s1", "", "");
  expected.emplace_back("orchestration.runs.steps.complete",
                        R"({"actor":"","note":"","runId":"r1","stepId":"s1"})");
  auto metric = Plugin<providers::MetricProvider>(OPSORCH_FAULT_PLUGIN, record);
  s::QueryScope scope;
  scope.team = "t";
  (void)metric->Describe(scope);
  expected.emplace_back("metric.describe", R"({"team":"t"})");
  auto secret = Plugin<providers::SecretProvider>(OPSORCH_FAULT_PLUGIN, record);
  (void)secret->Get("k");
  expected.emplace_back("secret.get", R"({"key":"k"})");
  (void)secret->Put("k", "v");
  expected.emplace_back("secret.put", R"({"key":"k","value":"v"})");

  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), expected.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], R"({"method":")" + expected[i].first + R"(","config":)" + cfg +
                            R"(,"payload":)" + expected[i].second + "}");
  }
  std::remove(file.c_str());
}

}  // namespace
}  // namespace opsorch::plugin
