// The plugin host against real child processes: the fault plugin (tests/plugin/fault_plugin.cc)
// misbehaves on request, and every fault must end in a clear error, a replaced process and a
// working next call.
#include "plugin/plugin_client.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <opsorch/common/error.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>

#include "support/captured_logs.h"
#include "test_paths.h"

namespace opsorch::plugin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

bool ProcessExists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

using LogCapture = opsorch::testing::CapturedLogs;

class PluginClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<PluginClient> Client(const JsonObject& config = {}, PluginSettings s = {},
                                       std::string path = OPSORCH_FAULT_PLUGIN) {
    return std::make_unique<PluginClient>("incident", std::move(path), config, s, reaper_,
                                          &metrics_);
  }
  // The fault plugin reads `fault` from the payload when the config has none.
  static std::string Fault(std::string_view fault) {
    return "{\"fault\":\"" + std::string(fault) + "\"}";
  }
  static pid_t Pid(const Result<JsonValue>& r) {
    return static_cast<pid_t>(r->at("pid").as_int64());
  }
  // A symlink to the fault plugin whose name selects a start-time fault.
  std::string Alias(const std::string& name) {
    const fs::path dir =
        fs::temp_directory_path() / ("opsorch-fault-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path link = dir / name;
    fs::remove(link);
    fs::create_symlink(OPSORCH_FAULT_PLUGIN, link);
    return link.string();
  }

  std::shared_ptr<Reaper> reaper_ = std::make_shared<Reaper>();
  metrics::Registry metrics_;
};

TEST_F(PluginClientTest, RequestFramingIsTheContractsByteForByte) {
  auto c = Client(JsonObject{{"fault", "raw"}, {"token", "s3cr3t-token"}});
  auto r = c->Call("incident.query", R"({"scope":{"service":"a"},"limit":2})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->as_string(),
            "{\"method\":\"incident.query\",\"config\":{\"fault\":\"raw\",\"token\":"
            "\"s3cr3t-token\"},\"payload\":{\"scope\":{\"service\":\"a\"},\"limit\":2}}\n");
  // An empty payload is sent as null (incident.list).
  auto none = c->Call("incident.list", "");
  ASSERT_TRUE(none);
  EXPECT_THAT(std::string(none->as_string()), HasSubstr("\"payload\":null}"));
}

TEST_F(PluginClientTest, OneProcessServesConsecutiveCalls) {
  auto c = Client();
  auto a = c->Call("incident.get", R"({"id":"x"})");
  auto b = c->Call("incident.get", R"({"id":"y"})");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Pid(a), Pid(b));
  EXPECT_EQ(b->at("calls").as_int64(), 2);
  EXPECT_EQ(b->at("payload").at("id").as_string(), "y");
  EXPECT_EQ(b->at("config"), JsonObject());
}

TEST_F(PluginClientTest, CrashMidCallIs502AndTheNextCallRespawns) {
  auto c = Client();
  auto first = c->Call("incident.get", "{}");
  ASSERT_TRUE(first);
  auto crash = c->Call("incident.get", Fault("crash"));
  ASSERT_FALSE(crash);
  EXPECT_EQ(crash.error().code, errc::kPluginCrashed);
  EXPECT_EQ(HttpStatusFor(crash.error().code), 502);
  EXPECT_THAT(crash.error().message, HasSubstr("exit status 3"));
  EXPECT_FALSE(ProcessExists(Pid(first)));  // reaped, not a zombie
  auto next = c->Call("incident.get", "{}");
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_NE(Pid(next), Pid(first));
  EXPECT_EQ(next->at("calls").as_int64(), 1);
}

TEST_F(PluginClientTest, DeathBySignalIsNamed) {
  auto c = Client();
  auto r = c->Call("incident.get", Fault("segv"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kPluginCrashed);
  EXPECT_THAT(r.error().message, HasSubstr("signal 11"));
}

TEST_F(PluginClientTest, HungPluginTimesOutIsKilledAndReplaced) {
  PluginSettings s;
  s.call_timeout = std::chrono::milliseconds(300);
  auto c = Client({}, s);
  auto before = c->Call("incident.get", "{}");
  ASSERT_TRUE(before);
  const auto started = std::chrono::steady_clock::now();
  auto hung = c->Call("incident.get", Fault("hang"));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(hung);
  EXPECT_EQ(hung.error().code, errc::kPluginTimeout);
  EXPECT_EQ(HttpStatusFor(hung.error().code), 504);
  EXPECT_LT(took, std::chrono::seconds(10));  // bounded, not forever
  EXPECT_FALSE(ProcessExists(Pid(before)));
  auto after = c->Call("incident.get", "{}");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_NE(Pid(after), Pid(before));
}

TEST_F(PluginClientTest, GarbageIsAProtocolErrorAndTheProcessIsReplaced) {
  auto c = Client();
  auto before = c->Call("incident.get", "{}");
  auto bad = c->Call("incident.get", Fault("garbage"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::kPluginProtocolError);
  EXPECT_THAT(bad.error().message, HasSubstr("not JSON"));
  auto after = c->Call("incident.get", "{}");
  ASSERT_TRUE(after);
  EXPECT_NE(Pid(after), Pid(before));
}

TEST_F(PluginClientTest, HundredMegabyteAnswerIsRefusedAtTheLimit) {
  PluginSettings s;
  s.max_response_bytes = 1 << 20;
  auto c = Client({}, s);
  auto r = c->Call("incident.get", Fault("huge"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kPluginProtocolError);
  EXPECT_THAT(r.error().message, HasSubstr("exceeds the limit of 1048576 bytes"));
  EXPECT_TRUE(c->Call("incident.get", "{}"));
}

TEST_F(PluginClientTest, TornAnswerIsACrash) {
  auto c = Client();
  auto r = c->Call("incident.get", Fault("torn"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kPluginCrashed);
  EXPECT_THAT(r.error().message, HasSubstr("in the middle of its answer"));
}

TEST_F(PluginClientTest, UnrequestedOutputReplacesTheProcessBeforeTheNextCall) {
  auto c = Client();
  auto first = c->Call("incident.get", Fault("extra"));
  ASSERT_TRUE(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let the extra line arrive
  auto second = c->Call("incident.get", R"({"id":"mine"})");
  ASSERT_TRUE(second) << second.error().message;
  // Never the stale "unrequested" answer: the reply to this call, from a fresh process.
  EXPECT_EQ(second->at("payload").at("id").as_string(), "mine");
  EXPECT_NE(Pid(second), Pid(first));
}

TEST_F(PluginClientTest, ExitAtStartBacksOffAfterRepeatedFailures) {
  auto c = Client({}, {}, Alias("exit-at-start"));
  auto a = c->Call("incident.get", "{}");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, errc::kPluginCrashed);
  EXPECT_THAT(a.error().message, HasSubstr("exit status 7"));
  auto b = c->Call("incident.get", "{}");  // first failure: respawned at once
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, errc::kPluginCrashed);
  auto c3 = c->Call("incident.get", "{}");  // second in a row: backing off
  ASSERT_FALSE(c3);
  EXPECT_EQ(c3.error().code, errc::kPluginUnavailable);
  EXPECT_THAT(c3.error().message, HasSubstr("failed 2 times in a row"));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto d = c->Call("incident.get", "{}");  // after the delay it is tried again
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, errc::kPluginCrashed);
}

TEST_F(PluginClientTest, SlowStartIsWaitedFor) {
  auto c = Client({}, {}, Alias("slow-start"));
  auto r = c->Call("incident.get", "{}");
  ASSERT_TRUE(r) << r.error().message;
}

TEST_F(PluginClientTest, MissingBinaryIsUnavailableAndRetried) {
  auto c = Client({}, {}, "/nonexistent/plugin");
  auto r = c->Call("incident.get", "{}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::kPluginUnavailable);
  EXPECT_THAT(r.error().message,
              HasSubstr("plugin plugin: cannot start: No such file or directory"));
}

TEST_F(PluginClientTest, BothErrorFormsAreUnderstood) {
  auto c = Client();
  const auto error_of = [&](std::string_view payload) { return c->Call("x.y", payload).error(); };
  EXPECT_EQ(error_of(R"({"fault":"string_error","message":"not found"})"),
            (Error{"provider_error", "not found"}));
  EXPECT_EQ(error_of(R"({"fault":"object_error","code":"not_found","message":"no inc-9"})"),
            (Error{"not_found", "no inc-9"}));
  EXPECT_EQ(HttpStatusFor(
                error_of(R"({"fault":"object_error","code":"conflict","message":"done"})").code),
            409);
  // A typed error's code, as a table: kept with its meaning, passed through as the provider's own
  // (502, its own code: what opsorch uses for its own work is no exception), or turned into
  // provider_error naming it when it would say something false about the client's request or
  // about opsorch.
  const struct {
    const char* code;
    const char* wire;  // the code the client sees
    int status;
    const char* message;
  } rows[] = {
      {"not_found", "not_found", 404, "m"},
      {"bad_request", "bad_request", 400, "m"},
      {"conflict", "conflict", 409, "m"},
      {"rate_limited", "rate_limited", 502, "m"},
      {"made_up", "made_up", 502, "m"},
      {"timeout", "timeout", 502, "m"},
      {"unavailable", "unavailable", 502, "m"},
      {"not_allowed", "not_allowed", 502, "m"},
      {"method_not_allowed", "method_not_allowed", 502, "m"},
      {"spool_full", "spool_full", 502, "m"},
      {"secret_store_error", "secret_store_error", 502, "m"},
      {"internal", "provider_error", 502, "internal: m"},
      {"unauthorized", "provider_error", 502, "unauthorized: m"},
      {"forbidden", "provider_error", 502, "forbidden: m"},
      {"payload_too_large", "provider_error", 502, "payload_too_large: m"},
      {"incident_provider_missing", "provider_error", 502, "incident_provider_missing: m"},
      {"plugin_timeout", "provider_error", 502, "plugin_timeout: m"},
      {"plugin_crashed", "provider_error", 502, "plugin_crashed: m"},
  };
  for (const auto& row : rows) {
    const Error e = error_of(std::string(R"({"fault":"object_error","code":")") + row.code +
                             R"(","message":"m"})");
    EXPECT_EQ(WireCode(e), row.wire) << row.code;
    EXPECT_EQ(HttpStatusFor(e), row.status) << row.code;
    EXPECT_EQ(e.message, row.message) << row.code;
  }
  EXPECT_EQ(error_of(R"({"fault":"object_error","message":"boom"})"),
            (Error{"provider_error", "boom"}));
  // Error answers are not failures of the process: all of them came from the first one.
  auto r = c->Call("x.y", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("calls").as_int64(), static_cast<std::int64_t>(std::size(rows)) + 5);
}

TEST_F(PluginClientTest, MissingResultIsNull) {
  auto c = Client(JsonObject{{"fault", "result:null"}});
  auto r = c->Call("incident.get", "{}");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->is_null());
}

TEST_F(PluginClientTest, StderrIsLoggedRateLimitedAndConfigValuesAreMasked) {
  LogCapture logs;
  {
    auto noisy = Client(JsonObject{{"fault", "noise"}});
    ASSERT_TRUE(noisy->Call("incident.get", "{}"));
    auto leaky = Client(JsonObject{{"fault", "leak"}, {"apiToken", "tok-9f8e7d6c5b4a"}});
    ASSERT_TRUE(leaky->Call("incident.get", "{}"));
  }
  reaper_.reset();  // joins the stops: every stderr thread has drained
  const std::string all = logs.All();
  std::size_t noise = 0;
  for (const auto& l : logs.Lines()) {
    if (l.find("noise line") != std::string::npos) ++noise;
  }
  EXPECT_GT(noise, 0u);
  EXPECT_LT(noise, 500u);  // rate-limited
  EXPECT_THAT(all, HasSubstr("capability=incident"));
  EXPECT_THAT(all, HasSubstr("my config is"));
  EXPECT_THAT(all, HasSubstr("[redacted]"));
  EXPECT_THAT(all, Not(HasSubstr("tok-9f8e7d6c5b4a")));
}

TEST_F(PluginClientTest, ErrorMessagesAreMaskedToo) {
  LogCapture logs;
  auto c = Client(JsonObject{{"apiToken", "tok-123456789"}});
  auto r = c->Call(
      "x.y", R"({"fault":"object_error","code":"bad_request","message":"tok-123456789 rejected"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (Error{"bad_request", "[redacted] rejected"}));
  auto s = c->Call("x.y", R"({"fault":"string_error","message":"tok-123456789 rejected"})");
  EXPECT_EQ(s.error().message, "[redacted] rejected");
  EXPECT_THAT(logs.All(), Not(HasSubstr("tok-123456789")));
}

TEST_F(PluginClientTest, PoolServesCallsInParallelPoolOfOneSerializes) {
  for (unsigned pool : {1u, 4u}) {
    PluginSettings s;
    s.pool_size = pool;
    auto c = Client(JsonObject{{"fault", "slow"}, {"delayMs", 40}}, s);
    std::mutex mu;
    std::set<pid_t> pids;
    std::set<std::int64_t> counts;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&] {
        auto r = c->Call("incident.get", "{}");
        if (!r) {
          ++failures;
          return;
        }
        std::lock_guard lock(mu);
        pids.insert(Pid(r));
        counts.insert(r->at("calls").as_int64());
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    if (pool == 1) {
      EXPECT_EQ(pids.size(), 1u);
      EXPECT_EQ(counts.size(), 8u);  // calls 1..8: one at a time on one process
    } else {
      EXPECT_GT(pids.size(), 1u);
      EXPECT_LE(pids.size(), 4u);
    }
  }
}

TEST_F(PluginClientTest, DestroyingTheClientStopsItsProcesses) {
  pid_t polite = 0, stubborn = 0;
  PluginSettings s;
  s.stop_grace = std::chrono::milliseconds(100);
  {
    auto a = Client({}, s);
    auto r = a->Call("incident.get", "{}");
    ASSERT_TRUE(r);
    polite = Pid(r);
    auto b = Client({}, s);
    auto q = b->Call("incident.get", Fault("stubborn"));
    ASSERT_TRUE(q);
    stubborn = Pid(q);
  }
  reaper_.reset();  // waits for the EOF → SIGTERM → SIGKILL sequence
  EXPECT_FALSE(ProcessExists(polite));
  EXPECT_FALSE(ProcessExists(stubborn));
}

TEST_F(PluginClientTest, ConcurrentLoadThroughOneProcess) {
  auto c = Client();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        auto r = c->Call("incident.get", "{\"id\":\"" + id + "\"}");
        if (r && r->at("payload").at("id").as_string() == id) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);  // every answer matched its own request
}

}  // namespace
}  // namespace opsorch::plugin
