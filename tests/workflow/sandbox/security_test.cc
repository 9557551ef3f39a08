// Escape attempts, limits, worker failures and isolation between runs.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/json/serialize.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <opsorch/plugin/plugin_host.h>
#include <opsorch/process/child_process.h>
#include <opsorch/workflow/script.h>

#include "sandbox_test_util.h"
#include "test_paths.h"

namespace opsorch::workflow {
namespace {

using ::testing::AnyOf;
using testing::FakeHost;
using ::testing::HasSubstr;
using testing::Input;
using Ms = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

class SandboxSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = testing::TestOptions();
    o.max_workers = 1;
    runner_ = testing::MakeRunner(o);
    ASSERT_NE(runner_, nullptr);
  }
  Result<ScriptOutput> Run(std::string src, ScriptLimits limits = testing::FastLimits()) {
    return runner_->Run(Input(std::move(src)), limits, host_);
  }
  std::string Eval(const std::string& expr) {
    auto r = Run("ctx.set_body(tostring(" + expr + "))");
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->message.body : "";
  }
  // The runner still answers normally.
  void ExpectHealthy() {
    auto r = Run("ctx.set_body('ok')");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->message.body, "ok");
  }

  FakeHost host_;
  std::unique_ptr<ScriptRunner> runner_;
};

class ForbiddenGlobalTest : public SandboxSecurityTest,
                            public ::testing::WithParamInterface<const char*> {};

TEST_P(ForbiddenGlobalTest, IsAbsent) { EXPECT_EQ(Eval(GetParam()), "nil"); }

INSTANTIATE_TEST_SUITE_P(Sandbox, ForbiddenGlobalTest,
                         ::testing::Values("io", "os", "debug", "package", "require", "load",
                                           "loadfile", "dofile", "loadstring", "collectgarbage",
                                           "rawget", "rawset", "rawequal", "rawlen", "getmetatable",
                                           "setmetatable", "coroutine", "string.dump", "('').dump",
                                           "warn", "_ENV.os", "_G.io", "module", "newproxy", "jit",
                                           "ffi"));

TEST_F(SandboxSecurityTest, StringMetatableIsUnreachable) {
  auto r = Run("return getmetatable('').__index");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("attempt to call a nil value"));
}

TEST_F(SandboxSecurityTest, BytecodeIsRefused) {
  // The only loader is the worker's own, in text mode.
  auto r = Run(std::string("\x1bLua\x54\x00\x19\x93\r\n\x1a\n", 12));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptError);
  EXPECT_THAT(r.error().message, HasSubstr("binary chunk"));
}

TEST_F(SandboxSecurityTest, GlobalTamperingDoesNotReachTheNextRun) {
  ASSERT_TRUE(Run(R"(
    leaked = 'yes'
    _G.also = 'yes'
    string.upper = function() return 'pwned' end
    string.format = nil
    table.insert = nil
    math.floor = nil
    utf8.char = nil
    ctx.body = function() return 'pwned' end
    tostring = nil
    pcall = nil)"));
  EXPECT_EQ(runner_->WorkersReplaced(), 0u);
  EXPECT_EQ(runner_->LiveWorkers(), 1u);  // same worker, so the test means something
  EXPECT_EQ(Eval("leaked"), "nil");
  EXPECT_EQ(Eval("_G.also"), "nil");
  EXPECT_EQ(Eval("('abc'):upper() .. string.upper('d')"), "ABCD");
  EXPECT_EQ(Eval("string.format('%d', 3) .. math.floor(2.5) .. utf8.char(65)"), "32A");
  EXPECT_EQ(Eval("type(table.insert) .. type(pcall)"), "functionfunction");
  EXPECT_EQ(Eval("ctx.body()"), "");
}

TEST_F(SandboxSecurityTest, RandomSeedDoesNotReachTheNextRun) {
  auto first = Run("math.randomseed(42) ctx.set_body(tostring(math.random(1, 1000000000)))");
  ASSERT_TRUE(first);
  const std::string next = Eval("math.random(1, 1000000000)");
  EXPECT_NE(first->message.body, next);
}

TEST_F(SandboxSecurityTest, OutputsDoNotLeakBetweenRuns) {
  ASSERT_TRUE(
      Run("ctx.set_property('p', 'v') ctx.set_header('X', 'v') ctx.info('l') "
          "ctx.metric('m', 1) ctx.stop()"));
  auto r = Run("");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->message.properties.empty());
  EXPECT_TRUE(r->message.headers.empty());
  EXPECT_TRUE(r->logs.empty());
  EXPECT_TRUE(r->metrics.empty());
  EXPECT_FALSE(r->stopped);
}

TEST_F(SandboxSecurityTest, InfiniteLoopTimesOutAndTheWorkerIsReused) {
  const auto start = SteadyClock::now();
  auto r = Run("while true do end");
  const auto took = SteadyClock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptTimeout);
  EXPECT_THAT(r.error().message, HasSubstr("processor dep/wf/step/results"));
  EXPECT_LT(took, Ms(2000));
  EXPECT_EQ(runner_->WorkersReplaced(), 0u);  // the hook stopped it, no kill needed
  ExpectHealthy();
}

TEST_F(SandboxSecurityTest, PcallCannotSwallowLimits) {
  // Without the rethrow, the code right after pcall would run (and reach the host).
  for (const char* src : {
           "pcall(function() while true do end end) ctx.persist.set('caught', 'timeout')",
           "xpcall(function() while true do end end, function() return 'h' end) "
           "ctx.persist.set('caught', 'xpcall')",
           "pcall(function() local t = {} while true do t[#t + 1] = {} end end) "
           "ctx.persist.set('caught', 'memory')",
       }) {
    SCOPED_TRACE(src);
    auto r = Run(src);
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error().code, AnyOf(script_errc::kScriptTimeout, script_errc::kScriptMemory));
    EXPECT_TRUE(host_.store.empty()) << host_.store.begin()->second;
  }
  auto r = Run(R"(
    while true do
      pcall(function() while true do end end)
      xpcall(function() while true do end end, function() while true do end end)
    end)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptTimeout);
  ExpectHealthy();
}

TEST_F(SandboxSecurityTest, MemoryBombs) {
  // A generous CPU budget: near the cap Lua's collector works hard, and on a loaded CI machine
  // the supervisor's wall-clock kill (2 x cpu_time + margin) could otherwise win the race.
  ScriptLimits limits = testing::FastLimits();
  limits.cpu_time = Ms(10'000);
  for (const char* bomb : {
           "local s = string.rep('x', 12 * 1024 * 1024)",  // under max_string, over the cap
           "local t = {} for i = 1, 1e9 do t[i] = i end",
           "local s = 'x' while true do s = s .. s end",
           "local t = {} for i = 1, 1e9 do t[#t + 1] = tostring(i) .. 'abcdefgh' end",
           "local ok = pcall(function() local t = {} while true do t[#t + 1] = {} end end) "
           "while true do end",
       }) {
    SCOPED_TRACE(bomb);
    auto r = Run(bomb, limits);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, script_errc::kScriptMemory) << r.error().message;
    ExpectHealthy();
  }
  auto r = Run("local s = string.rep('x', 1e12)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptError);
  EXPECT_THAT(r.error().message, HasSubstr("exceeds max_string_bytes"));
}

TEST_F(SandboxSecurityTest, DeepRecursionIsAnError) {
  auto r = Run("local function f(n) return f(n + 1) + 1 end f(1)");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().code, AnyOf(script_errc::kScriptError, script_errc::kScriptMemory));
  r = Run("local function f() pcall(f) end f()");  // C stack: nested pcall
  EXPECT_TRUE(r || r.error().code != script_errc::kScriptWorker);
  ExpectHealthy();
}

TEST_F(SandboxSecurityTest, LongPatternsAreRefused) {
  auto r = Run("string.find('abc', string.rep('a?', 600))");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("exceeds the limit of 1024 bytes"));
}

class PathologicalPatternTest : public SandboxSecurityTest,
                                public ::testing::WithParamInterface<const char*> {};

TEST_P(PathologicalPatternTest, KilledAtTheWallClockDeadline) {
  ScriptLimits limits = testing::FastLimits();
  limits.cpu_time = Ms(100);
  const auto start = SteadyClock::now();
  auto r = Run(GetParam(), limits);
  const auto took = SteadyClock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptTimeout);
  EXPECT_THAT(r.error().message, HasSubstr("wall-clock"));
  // 2 × 100 ms + 250 ms margin, plus scheduling slack on a shared machine.
  EXPECT_GE(took, Ms(400));
  EXPECT_LT(took, Ms(3000));
  EXPECT_EQ(runner_->WorkersReplaced(), 1u);
  ExpectHealthy();
  EXPECT_EQ(runner_->LiveWorkers(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Sandbox, PathologicalPatternTest,
    ::testing::Values("string.find(string.rep('a', 3000), '.-.-.-.-x')",
                      "string.gsub(string.rep('a', 3000), '.-.-.-.-x', '')",
                      "for _ in string.gmatch(string.rep('a', 3000), '.-.-.-.-x') do end",
                      "local s = string.rep('a', 3000) s:match('.-.-.-.-x')"));

TEST_F(SandboxSecurityTest, RunawayDoesNotDelayAConcurrentRun) {
  ScriptLimits slow = testing::FastLimits();
  slow.cpu_time = Ms(1000);  // killed after 2 × 1 s + margin
  auto runaway = std::async(std::launch::async, [&] {
    FakeHost host;
    const auto start = SteadyClock::now();
    auto r = runner_->Run(Input("string.find(string.rep('a', 3000), '.-.-.-.-x')"), slow, host);
    return std::make_pair(std::move(r), SteadyClock::now() - start);
  });
  std::this_thread::sleep_for(Ms(100));  // the runaway holds the only idle worker
  const auto start = SteadyClock::now();
  auto r = runner_->Run(Input("ctx.set_body('fine')"), testing::FastLimits(), host_);
  const auto took = SteadyClock::now() - start;
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->message.body, "fine");
  EXPECT_LT(took, Ms(1000));  // the runaway's deadline is 2.25 s away
  EXPECT_EQ(runaway.wait_for(Ms(0)), std::future_status::timeout);
  auto [rr, rtook] = runaway.get();
  ASSERT_FALSE(rr);
  EXPECT_EQ(rr.error().code, script_errc::kScriptTimeout);
  EXPECT_GE(rtook, Ms(2000));
}

// Children of this process that are script workers.
std::vector<pid_t> WorkerPids() {
  std::vector<pid_t> pids;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos || line.find("(opsorch-script-") == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == ::getpid() && state != 'Z') pids.push_back(std::stoi(name));
  }
  return pids;
}

TEST_F(SandboxSecurityTest, WorkerKilledDuringARun) {
  ScriptLimits limits = testing::FastLimits();
  limits.cpu_time = Ms(5000);
  auto run = std::async(std::launch::async, [&] {
    FakeHost host;
    return runner_->Run(Input("while true do end"), limits, host);
  });
  std::this_thread::sleep_for(Ms(200));
  const auto pids = WorkerPids();
  ASSERT_EQ(pids.size(), 1u);
  const auto start = SteadyClock::now();
  ::kill(pids[0], SIGKILL);
  auto r = run.get();
  EXPECT_LT(SteadyClock::now() - start, Ms(2000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptWorker);
  EXPECT_THAT(r.error().message, HasSubstr("the script worker died (signal 9"));
  EXPECT_EQ(runner_->WorkersReplaced(), 1u);
  ExpectHealthy();
}

TEST_F(SandboxSecurityTest, WorkerKilledWhileIdleIsReplaced) {
  ExpectHealthy();
  const auto pids = WorkerPids();
  ASSERT_EQ(pids.size(), 1u);
  ::kill(pids[0], SIGKILL);
  std::this_thread::sleep_for(Ms(50));
  ExpectHealthy();
  EXPECT_EQ(runner_->WorkersReplaced(), 1u);
  EXPECT_NE(WorkerPids(), pids);
}

// ASan and TSan reserve terabytes of address space: RLIMIT_AS cannot apply under them.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(SandboxLimitsTest, AddressSpaceLimitIsScriptMemory) {
  auto o = testing::TestOptions();
  o.worker_memory_bytes = 96u << 20;
  auto runner = testing::MakeRunner(o);
  ASSERT_NE(runner, nullptr);
  ScriptLimits limits;
  limits.memory_bytes = std::size_t{1} << 30;  // the Lua cap is not what stops it
  limits.max_string_bytes = std::size_t{1} << 30;
  FakeHost host;
  auto r = runner->Run(Input("local s = string.rep('x', 200 * 1024 * 1024)"), limits, host);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptMemory) << r.error().message;
  auto ok = runner->Run(Input("ctx.set_body('ok')"), limits, host);
  ASSERT_TRUE(ok) << ok.error().message;
}

TEST(SandboxLimitsTest, WorkerOutOfMemoryOutsideLuaIsScriptMemory) {
  // The request itself does not fit in the worker's address space: the worker's C++ side runs
  // out of memory and exits with its out-of-memory status.
  auto o = testing::TestOptions();
  o.worker_memory_bytes = 96u << 20;
  auto runner = testing::MakeRunner(o);
  ASSERT_NE(runner, nullptr);
  ScriptLimits limits;
  limits.max_string_bytes = std::size_t{1} << 30;
  FakeHost host;
  auto in = Input("ctx.set_body('x')");
  in.message.body.assign(128u << 20, 'a');
  auto r = runner->Run(in, limits, host);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptMemory) << r.error().message;
  EXPECT_THAT(r.error().message, HasSubstr("ran out of memory"));
  auto ok = runner->Run(Input("ctx.set_body('ok')"), limits, host);
  ASSERT_TRUE(ok) << ok.error().message;
}
#endif

TEST_F(SandboxSecurityTest, ValuesKeptOutsideLuaAreCapped) {
  ScriptLimits limits = testing::FastLimits();
  limits.max_string_bytes = 1u << 20;
  auto r = Run("for i = 1, 2000 do ctx.set_property('k' .. i, string.rep('x', 1000)) end", limits);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("properties exceed max_string_bytes"));
  r = Run("ctx.set_body(string.rep('x', 2 * 1024 * 1024))", limits);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("exceeds max_string_bytes"));
  r = Run("for i = 1, 20000 do ctx.metric('m', i) end", limits);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("more than 10000 metrics"));
}

// Talks to the worker directly to check the system-call filter.
class WorkerFilterTest : public ::testing::Test {
 protected:
  std::unique_ptr<process::ChildProcess> Start(bool seccomp) {
    auto p = process::ChildProcess::Spawn(OPSORCH_SCRIPT_WORKER, process::MinimalEnvironment({}),
                                          nullptr);
    EXPECT_TRUE(p);
    if (!p) return nullptr;
    JsonObject init{
        {"op", "init"}, {"version", 1}, {"worker_memory_bytes", 256u << 20}, {"seccomp", seccomp}};
    auto ready = Call(**p, init);
    EXPECT_TRUE(ready);
    return std::move(*p);
  }
  Result<JsonValue> Call(process::ChildProcess& p, const JsonObject& o) {
    return p.RoundTrip(boost::json::serialize(o) + "\n",
                       process::Clock::now() + std::chrono::seconds(5), 1 << 20);
  }
  Result<JsonValue> Probe(process::ChildProcess& p, const char* syscall) {
    return Call(p, JsonObject{{"op", "probe"}, {"syscall", syscall}});
  }
};

TEST_F(WorkerFilterTest, AllowsWhatRunsNeedAndDeniesFiles) {
  auto p = Start(true);
  ASSERT_NE(p, nullptr);
  auto r = Probe(*p, "getrandom");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("result").as_int64(), 8);
  r = Probe(*p, "clock_gettime");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("result").as_int64(), 0);
  r = Probe(*p, "openat");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("result").as_int64(), -1);
  EXPECT_EQ(r->at("errno").as_int64(), EPERM);
}

TEST_F(WorkerFilterTest, KillsOnSocketAndExec) {
  for (const char* call : {"socket", "execve"}) {
    SCOPED_TRACE(call);
    auto p = Start(true);
    ASSERT_NE(p, nullptr);
    auto r = Probe(*p, call);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::kPluginCrashed);
    EXPECT_THAT(p->ExitDescription(), HasSubstr("signal 31"));
  }
}

TEST_F(WorkerFilterTest, WithoutTheFilterSocketWorks) {
  // Shows that the test above measures the filter, not something else.
  auto p = Start(false);
  ASSERT_NE(p, nullptr);
  auto r = Probe(*p, "socket");
  ASSERT_TRUE(r);
  EXPECT_GE(r->at("result").as_int64(), 0);
}

}  // namespace
}  // namespace opsorch::workflow
