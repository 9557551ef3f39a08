// The ctx API and the runner's plumbing: every ctx function, message round trips, callbacks.
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/workflow/script.h>

#include "sandbox_test_util.h"

namespace opsorch::workflow {
namespace {

using ::testing::ElementsAre;
using testing::FakeHost;
using ::testing::HasSubstr;
using testing::Input;
using ::testing::Pair;

class ScriptRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_ = testing::MakeRunner();
    ASSERT_NE(runner_, nullptr);
  }

  Result<ScriptOutput> Run(ScriptInput in) {
    return runner_->Run(in, testing::FastLimits(), host_);
  }
  Result<ScriptOutput> Run(std::string src, ProcessorKind kind = ProcessorKind::kResult) {
    return Run(Input(std::move(src), kind));
  }
  ScriptOutput MustRun(ScriptInput in) {
    auto r = Run(std::move(in));
    EXPECT_TRUE(r.has_value()) << r.error().code << ": " << r.error().message;
    return r ? std::move(*r) : ScriptOutput();
  }
  ScriptOutput MustRun(std::string src, ProcessorKind kind = ProcessorKind::kResult) {
    return MustRun(Input(std::move(src), kind));
  }
  // Runs `expr` and returns tostring(expr) via the body.
  std::string Eval(const std::string& expr) {
    return MustRun("ctx.set_body(tostring(" + expr + "))").message.body;
  }
  Error MustFail(std::string src, ProcessorKind kind = ProcessorKind::kResult) {
    auto r = Run(std::move(src), kind);
    EXPECT_FALSE(r.has_value());
    return r ? Error{} : r.error();
  }

  FakeHost host_;
  std::unique_ptr<ScriptRunner> runner_;
};

TEST_F(ScriptRunnerTest, BodyRoundTrip) {
  auto in = Input("ctx.set_body(ctx.body():upper() .. '!')");
  in.message.body = "hello";
  EXPECT_EQ(MustRun(in).message.body, "HELLO!");
  EXPECT_EQ(MustRun("ctx.set_body(nil)").message.body, "");
}

TEST_F(ScriptRunnerTest, BinaryBodySurvivesTheProtocol) {
  auto in = Input("ctx.set_body(ctx.body() .. '\\xff\\x00')");
  in.message.body = std::string("\x80\x01", 2);
  EXPECT_EQ(MustRun(in).message.body, std::string("\x80\x01\xff\x00", 4));
}

TEST_F(ScriptRunnerTest, JsonDecodeEncode) {
  auto in = Input(R"(
    local t = ctx.json.decode(ctx.body())
    assert(math.type(t.n) == 'integer', 'integer kept')
    assert(math.type(t.f) == 'float')
    assert(t.z == ctx.json.null)
    assert(#t.list == 3 and t.list[2] == 'b')
    t.n = t.n + 1
    t.added = {nested = true, empty = ctx.json.array({}), obj = {}}
    ctx.set_body(ctx.json.encode(t)))");
  in.message.body = R"({"zz":1,"n":41,"f":1.5,"z":null,"list":[1,"b",{}],"e":[]})";
  EXPECT_EQ(MustRun(in).message.body,
            R"({"added":{"empty":[],"nested":true,"obj":{}},"e":[],"f":1.5,"list":[1,"b",{}],)"
            R"("n":42,"z":null,"zz":1})");
}

TEST_F(ScriptRunnerTest, JsonErrorsAreClear) {
  EXPECT_THAT(MustFail("ctx.json.decode('{bad')").message,
              HasSubstr("processor dep/wf/step/results: line 1: ctx.json.decode:"));
  EXPECT_THAT(MustFail("ctx.json.encode({1, 2, nil, 4, x = 1})").message,
              HasSubstr("mixes key types"));
  EXPECT_THAT(MustFail("ctx.json.encode({[1] = 1, [3] = 3})").message, HasSubstr("sparse"));
  EXPECT_THAT(MustFail("ctx.json.encode(0/0)").message, HasSubstr("NaN"));
  EXPECT_THAT(MustFail("ctx.json.encode({f = print})").message, HasSubstr("function"));
  EXPECT_THAT(MustFail("local t = {} t.self = t ctx.json.encode(t)").message,
              HasSubstr("deeper than 64"));
  EXPECT_THAT(MustFail("ctx.json.encode('\\xff')").message, HasSubstr("UTF-8"));
  EXPECT_THAT(MustFail("ctx.json.decode(string.rep('[', 65) .. string.rep(']', 65))").message,
              HasSubstr("ctx.json.decode"));
  EXPECT_EQ(Eval("#ctx.json.decode(string.rep('[', 64) .. string.rep(']', 64))"), "1");
}

TEST_F(ScriptRunnerTest, DataWholeAndByKey) {
  auto in = Input(R"(
    local d = ctx.data()
    ctx.set_body(ctx.data('path') .. '|' .. ctx.data('obj').k .. '|' .. tostring(ctx.data('n'))
      .. '|' .. tostring(ctx.data('missing')) .. '|' .. tostring(d.flag) .. '|' .. #d.arr))");
  in.data["path"] = "/health";
  in.data["obj"] = JsonObject{{"k", "v"}};
  in.data["n"] = 7;
  in.data["flag"] = true;
  in.data["arr"] = boost::json::array{1, 2};
  EXPECT_EQ(MustRun(in).message.body, "/health|v|7|nil|true|2");
}

TEST_F(ScriptRunnerTest, Properties) {
  auto in = Input(R"(
    ctx.set_property('out', ctx.property('in') .. '+')
    ctx.set_property('gone', nil)
    ctx.set_property('num', 5)
    local n = 0 for k in pairs(ctx.properties()) do n = n + 1 end
    ctx.set_property('count', n))");
  in.message.properties = {{"in", "x"}, {"gone", "y"}};
  const auto out = MustRun(in);
  EXPECT_THAT(out.message.properties, ElementsAre(Pair("count", "3"), Pair("in", "x"),
                                                  Pair("num", "5"), Pair("out", "x+")));
  EXPECT_EQ(Eval("ctx.property('absent')"), "nil");
}

TEST_F(ScriptRunnerTest, Headers) {
  auto in = Input(R"(
    assert(ctx.header('content-type') == 'text/plain')
    local all = ctx.headers('X-Multi')
    assert(#all == 2 and all[2] == 'b')
    assert(#ctx.headers() == 3)
    assert(ctx.json.encode(ctx.headers('none')) == '[]')
    ctx.set_header('x-multi', 'c')
    ctx.set_header('Content-Type', nil)
    ctx.set_header('X-New', 42))");
  in.message.headers = {{"Content-Type", "text/plain"}, {"X-Multi", "a"}, {"x-multi", "b"}};
  EXPECT_THAT(MustRun(in).message.headers, ElementsAre(Pair("x-multi", "c"), Pair("X-New", "42")));
  EXPECT_TRUE(MustRun("ctx.clear_headers()").message.headers.empty());
  EXPECT_THAT(MustFail("ctx.set_header('X', 'a\\r\\nInjected: 1')").message,
              HasSubstr("must not contain CR, LF"));
  EXPECT_THAT(MustFail("ctx.set_header('Bad Name', 'v')").message, HasSubstr("HTTP token"));
}

TEST_F(ScriptRunnerTest, UrlAndMethodBeforeTheCall) {
  auto in = Input("ctx.set_url('elastic', '/_cluster/health?x=1') ctx.set_method('POST')",
                  ProcessorKind::kUrl);
  auto out = MustRun(in);
  EXPECT_EQ(out.host_id, "elastic");
  EXPECT_EQ(out.path, "/_cluster/health?x=1");
  EXPECT_EQ(out.method, "POST");
  in = Input("local h, p = ctx.url() ctx.set_body(h .. p .. ctx.method())", ProcessorKind::kResult);
  in.host_id = "api";
  in.path = "/v1";
  in.method = "GET";
  EXPECT_EQ(MustRun(in).message.body, "api/v1GET");
  EXPECT_EQ(MustRun("ctx.set_url('h', '/p')", ProcessorKind::kPayload).host_id, "h");
  EXPECT_THAT(MustFail("ctx.set_url('h', '/p')", ProcessorKind::kResult).message,
              HasSubstr("only available before the HTTP call"));
  EXPECT_THAT(MustFail("ctx.set_method('GET')", ProcessorKind::kStatus).message,
              HasSubstr("only available before the HTTP call"));
  EXPECT_THAT(MustFail("ctx.set_method('G E T')", ProcessorKind::kUrl).message,
              HasSubstr("invalid method"));
}

TEST_F(ScriptRunnerTest, StatusAfterTheCall) {
  auto in = Input("ctx.set_body(tostring(ctx.status()))", ProcessorKind::kStatus);
  in.status = 503;
  EXPECT_EQ(MustRun(in).message.body, "503");
  in.kind = ProcessorKind::kConnectFailed;
  in.status = 0;
  EXPECT_EQ(MustRun(in).message.body, "0");
  EXPECT_THAT(MustFail("ctx.status()", ProcessorKind::kUrl).message,
              HasSubstr("only available after the HTTP call"));
}

TEST_F(ScriptRunnerTest, AuthenticationContext) {
  auto in = Input(R"(
    local d = ctx.restricted_data('vault')
    ctx.set_header('Authorization', 'Bearer ' .. d.token)
    assert(ctx.restricted_data('other') == nil))",
                  ProcessorKind::kAuthentication);
  in.restricted_data["vault"] = JsonObject{{"token", "s3cr3t"}};
  auto out = MustRun(in);
  EXPECT_THAT(out.message.headers, ElementsAre(Pair("Authorization", "Bearer s3cr3t")));
  EXPECT_THAT(out.secrets, ElementsAre("Bearer s3cr3t"));
  // Outside authentication: no restricted data, and headers are not secrets.
  EXPECT_THAT(MustFail("ctx.restricted_data('vault')", ProcessorKind::kUrl).message,
              HasSubstr("only available in authentication processors"));
  EXPECT_TRUE(MustRun("ctx.set_header('X', 'v')", ProcessorKind::kPayload).secrets.empty());
}

TEST_F(ScriptRunnerTest, MetricsAndLogs) {
  auto out = MustRun(R"(
    ctx.metric('cpu', 0.5)
    ctx.metric('mem', 3, {host = 'a', n = 2}, 42)
    ctx.log('warn', 'w', 1)
    ctx.debug('d') ctx.info('i') ctx.warn('x') ctx.error('e')
    print('p', nil, true))");
  ASSERT_EQ(out.metrics.size(), 2u);
  EXPECT_EQ(out.metrics[0], (Metric{1700000000123, "cpu", 0.5, {}}));
  EXPECT_EQ(out.metrics[1], (Metric{42, "mem", 3, {{"host", "a"}, {"n", "2"}}}));
  std::vector<std::pair<std::string, std::string>> logs;
  for (const auto& l : out.logs) {
    logs.emplace_back(l.level, l.message);
    EXPECT_EQ(l.timestamp_ms, 1700000000123);
  }
  EXPECT_THAT(logs,
              ElementsAre(Pair("warn", "w\t1"), Pair("debug", "d"), Pair("info", "i"),
                          Pair("warn", "x"), Pair("error", "e"), Pair("info", "p\tnil\ttrue")));
  EXPECT_THAT(MustFail("ctx.log('fatal', 'x')").message, HasSubstr("level must be"));
  EXPECT_THAT(MustFail("ctx.metric('k', 1/0)").message, HasSubstr("finite"));
}

TEST_F(ScriptRunnerTest, LogFloodIsCapped) {
  auto out = MustRun("for i = 1, 5000 do ctx.info('line ' .. i) end");
  ASSERT_EQ(out.logs.size(), 1001u);
  EXPECT_THAT(out.logs.back().message, HasSubstr("4000 log lines dropped"));
}

TEST_F(ScriptRunnerTest, NowIsPinned) { EXPECT_EQ(Eval("ctx.now()"), "1700000000123"); }

TEST_F(ScriptRunnerTest, HashesAndEncodings) {
  EXPECT_EQ(Eval("ctx.sha256('abc')"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Eval("ctx.hmac_sha256('Jefe', 'what do ya want for nothing?')"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Eval("ctx.crc32('filebeat-7.6.0-2020.06.15')"), "566971834");
  EXPECT_EQ(Eval("ctx.crc32('')"), "0");
  EXPECT_EQ(Eval("ctx.base64_encode('hello')"), "aGVsbG8=");
  EXPECT_EQ(Eval("ctx.base64_decode('aGVsbG8=') .. ctx.base64_decode('aGk')"), "hellohi");
  EXPECT_EQ(Eval("ctx.hex('\\x01\\xff')"), "01ff");
  EXPECT_THAT(MustFail("ctx.base64_decode('a$b=')").message, HasSubstr("invalid base64"));
}

TEST_F(ScriptRunnerTest, StopMarksTheOutput) {
  EXPECT_TRUE(MustRun("ctx.stop()").stopped);
  EXPECT_FALSE(MustRun("").stopped);
}

TEST_F(ScriptRunnerTest, PersistThroughTheHost) {
  host_.store["seen"] = "1";
  auto out = MustRun(R"(
    local n = tonumber(ctx.persist.get('seen')) + 1
    ctx.persist.set('seen', tostring(n))
    ctx.persist.set('tmp', 'x')
    ctx.persist.set('tmp', nil)
    ctx.set_body(tostring(ctx.persist.get('absent'))))");
  EXPECT_EQ(out.message.body, "nil");
  EXPECT_THAT(host_.store, ElementsAre(Pair("seen", "2")));
  host_.fail_persist = true;
  EXPECT_THAT(MustFail("ctx.persist.get('seen')").message,
              HasSubstr("ctx.persist.get: persistence store is down"));
  EXPECT_EQ(Eval("pcall(ctx.persist.set, 'a', 'b')"), "false");
}

// ctx.persist runs in the host: a script cannot make it work without bound.
TEST_F(ScriptRunnerTest, PersistCallsPerRunAreCapped) {
  ScriptLimits limits = testing::FastLimits();
  limits.cpu_time = std::chrono::milliseconds(2000);  // 10,000 round trips, even under ASan
  auto r = runner_->Run(Input("for i = 1, 10001 do pcall(ctx.persist.set, 'k', 'v') end"),
                        limits, host_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptError);
  EXPECT_THAT(r.error().message, HasSubstr("more than 10000 ctx.persist calls in one run"));
  // The worker that waited for a reply was replaced; runs go on.
  EXPECT_EQ(Eval("1 + 1"), "2");
}

TEST_F(ScriptRunnerTest, HostTimeOfPersistCountsAgainstCpuTime) {
  host_.persist_delay = std::chrono::milliseconds(20);
  ScriptLimits limits = testing::FastLimits();
  limits.cpu_time = std::chrono::milliseconds(100);
  auto r = runner_->Run(Input("for i = 1, 50 do ctx.persist.set('k' .. i, 'v') end"), limits,
                        host_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptTimeout);
  EXPECT_THAT(r.error().message, HasSubstr("ctx.persist calls used more than the 100 ms cpu_time"));
  EXPECT_LT(host_.store.size(), 50u);
}

TEST_F(ScriptRunnerTest, SendToStep) {
  host_.on_step = [](std::string_view step, Message m) {
    if (step == "broken") return StepCallResult{{}, Error{"upstream", "HTTP 500 from api"}};
    m.body = "reply to " + m.body;
    m.properties["callee"] = "yes";
    m.headers.emplace_back("X-From", "callee");
    return StepCallResult{std::move(m), std::nullopt};
  };
  auto out = MustRun(R"(
    local r = ctx.send_to_step('other', 'ping', {token = 'abc'})
    assert(r.error == nil)
    assert(r.headers[1][1] == 'X-From')
    local e = ctx.send_to_step('broken', '')
    ctx.set_body(r.body .. '|' .. r.properties.token .. '|' .. r.properties.callee .. '|' ..
      e.error .. '|' .. e.error_code)
    ctx.send_to_step_async('later', 'fire', {k = 'v'}))");
  EXPECT_EQ(out.message.body, "reply to ping|abc|yes|HTTP 500 from api|upstream");
  ASSERT_EQ(host_.calls.size(), 2u);
  EXPECT_EQ(host_.calls[0].first, "other");
  EXPECT_THAT(host_.calls[0].second.properties, ElementsAre(Pair("token", "abc")));
  ASSERT_EQ(host_.async_calls.size(), 1u);
  EXPECT_EQ(host_.async_calls[0].first, "later");
  EXPECT_EQ(host_.async_calls[0].second.body, "fire");
}

TEST_F(ScriptRunnerTest, NestedSendToStepRunsAnotherScript) {
  // The callee step's processor runs while the caller's worker waits: another worker.
  int depth = 0;
  host_.on_step = [&](std::string_view, Message m) {
    ++depth;
    auto in = Input(R"(
      local n = tonumber(ctx.body())
      if n < 3 then
        local r = ctx.send_to_step('self', tostring(n + 1))
        ctx.set_body(r.body)
      else
        ctx.persist.set('deepest', ctx.body())
        ctx.set_body('bottom ' .. n)
      end)");
    in.message = std::move(m);
    auto r = runner_->Run(in, testing::FastLimits(), host_);
    if (!r) return StepCallResult{{}, r.error()};
    return StepCallResult{std::move(r->message), std::nullopt};
  };
  auto out = MustRun("ctx.set_body(ctx.send_to_step('self', '1').body)");
  EXPECT_EQ(out.message.body, "bottom 3");
  EXPECT_EQ(depth, 3);
  EXPECT_EQ(host_.store["deepest"], "3");
  EXPECT_EQ(runner_->LiveWorkers(), 2u);  // workers beyond max_workers idle were stopped
}

TEST_F(ScriptRunnerTest, ErrorsNameTheProcessorAndLine) {
  auto e = MustFail("local x = 1\nerror('boom')");
  EXPECT_EQ(e.code, script_errc::kScriptError);
  EXPECT_EQ(e.message, "processor dep/wf/step/results: line 2: boom");
  e = MustFail("error({code = 1})");
  EXPECT_THAT(e.message, HasSubstr("error object is a table value"));
  e = MustFail("local t = nil\nlocal y = t.x");
  EXPECT_THAT(e.message, HasSubstr("line 2: attempt to index a nil value"));
  e = MustFail("this is not lua");
  EXPECT_THAT(e.message, HasSubstr("processor dep/wf/step/results: line 1:"));
  auto in = Input("error('x')");
  in.chunk_name = "a-very-long-deployment-name/with-a-long-workflow-name/and-a-step/results";
  auto r = Run(in);
  ASSERT_FALSE(r);
  // Lua cuts chunk names at 59 bytes; the message still has the whole name and the line.
  EXPECT_EQ(r.error().message, "processor " + in.chunk_name + ": line 1: x");
}

TEST_F(ScriptRunnerTest, StringMethodsAndLibraries) {
  EXPECT_EQ(Eval("('abc'):upper() .. string.format('%05.1f', 3.14159) .. ('x'):rep(3, ',')"),
            "ABC003.1x,x,x");
  EXPECT_EQ(Eval("table.concat({1, 2, 3}, '-') .. math.max(1, 9) .. utf8.char(228)"),
            "1-2-39\xc3\xa4");
  EXPECT_EQ(Eval("select('#', string.find('hello world', 'o w'))"), "2");
  EXPECT_EQ(Eval("({string.gsub('a.b.c', '%.', '/')})[1]"), "a/b/c");
  EXPECT_EQ(Eval("pcall(error, 'x')"), "false");
  EXPECT_EQ(
      Eval("select(2, xpcall(function() error('x', 0) end, function(m) return m .. '!' end))"),
      "x!");
}

TEST_F(ScriptRunnerTest, CompiledChunksAreReusedButFresh) {
  // Same source twice on the same worker: the second run must not see the first's locals.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(MustRun("counter = (counter or 0) + 1 ctx.set_body(tostring(counter))").message.body,
              "1");
  }
}

TEST_F(ScriptRunnerTest, IdlePoolIsCapped) {
  ScriptRunnerOptions o = testing::TestOptions();
  o.min_workers = 0;
  o.max_workers = 1;
  auto runner = testing::MakeRunner(o);
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(runner->LiveWorkers(), 0u);
  ASSERT_TRUE(runner->Run(Input(""), testing::FastLimits(), host_));
  EXPECT_EQ(runner->LiveWorkers(), 1u);
  ASSERT_TRUE(runner->Run(Input(""), testing::FastLimits(), host_));
  EXPECT_EQ(runner->LiveWorkers(), 1u);  // reused, not respawned
}

TEST_F(ScriptRunnerTest, IdleWorkersBeyondTheMinimumAreStoppedAfterTheIdleTimeout) {
  ScriptRunnerOptions o = testing::TestOptions();
  o.min_workers = 1;
  o.max_workers = 4;
  o.idle_timeout = std::chrono::milliseconds(200);
  auto runner = testing::MakeRunner(o);
  ASSERT_NE(runner, nullptr);
  // A burst of three concurrent runs needs three workers (each run has its own).
  std::vector<std::thread> burst;
  for (int i = 0; i < 3; ++i) {
    burst.emplace_back([&] {
      testing::FakeHost host;
      EXPECT_TRUE(runner->Run(Input("local x = 0 for i = 1, 2e6 do x = x + i end"),
                              testing::FastLimits(), host));
    });
  }
  for (auto& t : burst) t.join();
  EXPECT_GE(runner->LiveWorkers(), 2u);
  // After the idle timeout only min_workers remain, and they still answer.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (runner->LiveWorkers() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(runner->LiveWorkers(), 1u);
  ASSERT_TRUE(runner->Run(Input("ctx.set_body('still here')"), testing::FastLimits(), host_));
  EXPECT_EQ(runner->LiveWorkers(), 1u);
}

TEST_F(ScriptRunnerTest, CreateFailsForAMissingWorker) {
  ScriptRunnerOptions o;
  o.worker_path = "/nonexistent/opsorch-script-worker";
  auto r = ScriptRunner::Create(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, script_errc::kScriptWorker);
  EXPECT_THAT(r.error().message, HasSubstr("/nonexistent/opsorch-script-worker"));
}

TEST(HeaderValuesTest, CaseInsensitiveInOrder) {
  const Headers h = {{"Set-Cookie", "a"}, {"X", "1"}, {"set-cookie", "b"}, {"Set-Cookie2", "c"}};
  EXPECT_THAT(HeaderValues(h, "SET-COOKIE"), ElementsAre("a", "b"));
  EXPECT_TRUE(HeaderValues(h, "Y").empty());
}

TEST(CheckScriptSyntaxTest, AcceptsValidAndNamesTheLineOfInvalid) {
  EXPECT_TRUE(CheckScriptSyntax("d/w/s/url", "ctx.set_url('a', '/b')"));
  auto s = CheckScriptSyntax("d/w/s/url", "local x = 1\nif x then");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, script_errc::kScriptError);
  EXPECT_THAT(s.error().message, HasSubstr("processor d/w/s/url: line 2:"));
  // Never runs the code.
  EXPECT_TRUE(CheckScriptSyntax("d/w/s/url", "while true do end"));
}

TEST(CheckScriptSyntaxTest, RefusesBytecode) {
  auto s = CheckScriptSyntax("d/w/s/url", std::string("\x1bLua\x54\x00", 6));
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, HasSubstr("binary chunk"));
}

}  // namespace
}  // namespace opsorch::workflow
