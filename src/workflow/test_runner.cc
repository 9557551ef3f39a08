#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/http/server.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/runtime.h>
#include <opsorch/workflow/test_runner.h>

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kMockPrefix = "/__mock/";

struct MockResponse {
  std::string host, method, path;
  std::optional<std::string> when_body;
  int status = 200;
  Headers headers;
  std::string body;
  std::string content_type;
};

struct ExpectedCall {
  std::string host, method, path;
  std::optional<std::string> body;
  Headers headers;
};

struct ExpectedMetric {
  std::string key;
  double value = 0;
  std::optional<Dimensions> dimensions;
  std::optional<std::int64_t> timestamp;
};

struct TestSpec {
  std::string name;
  std::string bootstrap;  // absolute
  std::string deployment;
  std::string config;  // absolute or empty
  std::map<std::string, std::string> env;
  std::optional<std::int64_t> now;
  std::string step;
  Message input;
  std::vector<MockResponse> mocks;
  std::optional<std::vector<ExpectedCall>> calls;
  std::optional<std::vector<ExpectedMetric>> metrics;
  std::vector<std::string> logs, logs_must_not_contain;
  std::optional<JsonValue> result_body;
  std::optional<std::string> result_error;  // substring of the step's error; "" = must fail
};

struct RecordedCall {
  std::string host, method, path, body;
  Headers headers;
};

// Text of a JSON value given as a body: strings verbatim, anything else serialised.
std::string WriteJson(const JsonValue& v) {
  std::string out;
  AppendJsonValue(out, v);
  return out;
}

std::string BodyText(const JsonValue& v) {
  if (v.is_string()) return std::string(v.get_string());
  return WriteJson(v);
}

Headers ToHeaders(const JsonObject& m) {
  Headers h;
  for (const auto& kv : m)
    h.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
  return h;
}

Result<TestSpec> ParseTest(const std::string& file) {
  auto text = ReadTextFile(file, 8u << 20);
  if (!text) return Fail(text.error());
  auto doc = ParseJson(*text);
  if (!doc) return Fail(errc::kBadRequest, file + ": " + doc.error().message);
  if (!doc->is_object()) return Fail(errc::kBadRequest, file + ": must be a JSON object");
  const std::string dir = fs::absolute(file).parent_path().string();
  const auto rel = [&](const std::string& p) {
    return p.empty()
               ? p
               : (fs::path(p).is_absolute() ? p : (fs::path(dir) / p).lexically_normal().string());
  };
  Status st;
  const FieldReader r{doc->get_object(), "", &st};
  r.OnlyKnown({"name", "bootstrap", "deployment", "config", "env", "now", "run", "mocks", "expect",
               "comment"});
  TestSpec t;
  t.name = r.Str("name");
  if (t.name.empty()) t.name = fs::path(file).filename().string();
  t.bootstrap = rel(r.Str("bootstrap", true));
  t.deployment = r.Str("deployment");
  t.config = rel(r.Str("config"));
  for (const auto& kv : r.StringMap("env"))
    t.env[std::string(kv.key())] = std::string(kv.value().get_string());
  if (const JsonValue* now = doc->get_object().if_contains("now")) {
    if (!now->is_int64())
      return Fail(errc::kBadRequest, file + ": now: must be epoch milliseconds");
    t.now = now->get_int64();
  }
  if (const JsonObject* run = r.Object("run")) {
    const FieldReader rr{*run, "run", &st};
    rr.OnlyKnown({"step", "body", "properties"});
    t.step = rr.Str("step", true);
    if (const JsonValue* b = run->if_contains("body")) t.input.body = BodyText(*b);
    for (const auto& kv : rr.StringMap("properties")) {
      t.input.properties[std::string(kv.key())] = std::string(kv.value().get_string());
    }
  } else if (st) {
    r.Error("run", "is required ({\"step\": …})");
  }
  if (const JsonArray* mocks = r.Array("mocks")) {
    for (std::size_t i = 0; i < mocks->size() && st; ++i) {
      const std::string where = r.Path("mocks", i);
      if (!(*mocks)[i].is_object())
        return Fail(errc::kBadRequest, file + ": " + where + ": must be an object");
      const JsonObject& mo = (*mocks)[i].get_object();
      const FieldReader m{mo, where, &st};
      m.OnlyKnown({"host", "method", "path", "when_body", "status", "headers", "body", "body_file",
                   "comment"});
      MockResponse mr;
      mr.host = m.Str("host", true);
      mr.method = m.Str("method");
      if (mr.method.empty()) mr.method = "GET";
      mr.path = m.Str("path", true);
      if (const JsonValue* wb = mo.if_contains("when_body")) mr.when_body = BodyText(*wb);
      mr.status = static_cast<int>(m.PositiveInt("status", 200));
      mr.headers = ToHeaders(m.StringMap("headers"));
      if (const JsonValue* b = mo.if_contains("body")) {
        mr.body = BodyText(*b);
        if (!b->is_string()) mr.content_type = "application/json";
      }
      const std::string body_file = m.Str("body_file");
      if (!body_file.empty()) {
        auto bt = ReadTextFile(rel(body_file), 64u << 20);
        if (!bt)
          return Fail(errc::kBadRequest, file + ": " + where + ".body_file: " + bt.error().message);
        mr.body = std::move(*bt);
        if (body_file.ends_with(".json")) mr.content_type = "application/json";
      }
      t.mocks.push_back(std::move(mr));
    }
  }
  if (const JsonObject* ex = r.Object("expect")) {
    const FieldReader e{*ex, "expect", &st};
    e.OnlyKnown(
        {"result", "error", "calls", "metrics", "logs", "logs_must_not_contain", "comment"});
    if (const JsonValue* res = ex->if_contains("result")) t.result_body = *res;
    if (ex->contains("error")) t.result_error = e.Str("error");
    if (const JsonArray* calls = e.Array("calls")) {
      t.calls.emplace();
      for (std::size_t i = 0; i < calls->size() && st; ++i) {
        const std::string where = e.Path("calls", i);
        if (!(*calls)[i].is_object())
          return Fail(errc::kBadRequest, file + ": " + where + ": must be an object");
        const JsonObject& co = (*calls)[i].get_object();
        const FieldReader c{co, where, &st};
        c.OnlyKnown({"host", "method", "path", "body", "headers", "comment"});
        ExpectedCall call{c.Str("host", true), c.Str("method"), c.Str("path", true), {}, {}};
        if (call.method.empty()) call.method = "GET";
        if (const JsonValue* b = co.if_contains("body")) call.body = BodyText(*b);
        call.headers = ToHeaders(c.StringMap("headers"));
        t.calls->push_back(std::move(call));
      }
    }
    if (const JsonArray* metrics = e.Array("metrics")) {
      t.metrics.emplace();
      for (std::size_t i = 0; i < metrics->size() && st; ++i) {
        const std::string where = e.Path("metrics", i);
        if (!(*metrics)[i].is_object())
          return Fail(errc::kBadRequest, file + ": " + where + ": must be an object");
        const JsonObject& mo = (*metrics)[i].get_object();
        const FieldReader m{mo, where, &st};
        m.OnlyKnown({"key", "value", "dimensions", "timestamp", "comment"});
        ExpectedMetric em;
        em.key = m.Str("key", true);
        const JsonValue* v = mo.if_contains("value");
        if (v == nullptr || !v->is_number()) {
          m.Error("value", "is required and must be a number");
        } else {
          em.value = v->to_number<double>();
        }
        if (mo.contains("dimensions")) {
          Dimensions d;
          for (const auto& kv : m.StringMap("dimensions"))
            d[std::string(kv.key())] = std::string(kv.value().get_string());
          em.dimensions = std::move(d);
        }
        if (const JsonValue* ts = mo.if_contains("timestamp"); ts != nullptr && ts->is_int64())
          em.timestamp = ts->get_int64();
        t.metrics->push_back(std::move(em));
      }
    }
    const auto strings = [&](std::string_view key, std::vector<std::string>* out) {
      if (const JsonArray* a = e.Array(key)) {
        for (const auto& v : *a) {
          if (!v.is_string()) {
            e.Error(key, "must be an array of strings");
            return;
          }
          out->emplace_back(v.get_string());
        }
      }
    };
    strings("logs", &t.logs);
    strings("logs_must_not_contain", &t.logs_must_not_contain);
  }
  if (!st) return Fail(errc::kBadRequest, file + ": " + st.error().message);
  return t;
}

// Serves the test's mock responses on loopback and records every call.
class MockServer final : public http::Handler {
 public:
  explicit MockServer(const std::vector<MockResponse>& mocks) : mocks_(mocks) {}

  void Handle(const http::Request& req, http::ResponseCallback done) override {
    http::Response resp;
    std::string target(req.target);
    RecordedCall call;
    call.method = std::string(req.method_text);
    call.body = std::string(req.body);
    for (const auto& h : req.headers)
      call.headers.emplace_back(std::string(h.name), std::string(h.value));
    if (target.rfind(kMockPrefix, 0) == 0) {
      const std::string rest = target.substr(kMockPrefix.size());
      const auto slash = rest.find_first_of("/?");
      call.host = rest.substr(0, slash);
      call.path = slash == std::string::npos ? "/" : rest.substr(slash);
      if (!call.path.empty() && call.path[0] == '?') call.path = "/" + call.path;
    }
    const MockResponse* match = nullptr;
    for (const MockResponse& m : mocks_) {
      if (m.host == call.host && m.method == call.method && m.path == call.path &&
          (!m.when_body || *m.when_body == call.body)) {
        match = &m;
        break;
      }
    }
    {
      std::lock_guard lock(mu_);
      calls_.push_back(call);
    }
    if (match == nullptr) {
      resp.status = 599;
      resp.content_type = "text/plain";
      resp.body =
          "opsorch workflow test: no mock for " + call.method + " " + call.host + " " + call.path;
    } else {
      resp.status = match->status;
      resp.content_type = match->content_type;
      resp.body = match->body;
      for (const auto& [k, v] : match->headers) resp.AddHeader(k, v);
    }
    done(std::move(resp));
  }

  std::vector<RecordedCall> Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  const std::vector<MockResponse>& mocks_;
  mutable std::mutex mu_;
  std::vector<RecordedCall> calls_;
};

bool CallMatches(const ExpectedCall& e, const RecordedCall& c) {
  if (e.host != c.host || e.method != c.method || e.path != c.path) return false;
  if (e.body && *e.body != c.body) return false;
  for (const auto& [k, v] : e.headers) {
    const auto values = HeaderValues(c.headers, k);
    if (values.empty() || values.front() != v) return false;
  }
  return true;
}

bool MetricMatches(const ExpectedMetric& e, const Metric& m) {
  if (e.key != m.key) return false;
  if (std::fabs(e.value - m.value) > 1e-9 * std::max(1.0, std::fabs(e.value))) return false;
  if (e.dimensions && *e.dimensions != m.dimensions) return false;
  if (e.timestamp && *e.timestamp != m.timestamp_ms) return false;
  return true;
}

std::string Describe(const Metric& m) {
  std::string s = m.key + "=" + std::to_string(m.value);
  if (!m.dimensions.empty()) {
    s += " {";
    bool first = true;
    for (const auto& [k, v] : m.dimensions) {
      s += (first ? "" : ", ") + k + "=" + v;
      first = false;
    }
    s += "}";
  }
  return s;
}

// Every expected item must pair with a distinct actual one, and nothing may be left over.
template <class E, class A, class M>
void MatchAll(const std::vector<E>& expected, const std::vector<A>& actual, M matches,
              const std::function<std::string(const E&)>& describe_e,
              const std::function<std::string(const A&)>& describe_a, const std::string& what,
              std::vector<std::string>* failures) {
  std::vector<bool> used(actual.size(), false);
  for (const E& e : expected) {
    bool found = false;
    for (std::size_t i = 0; i < actual.size() && !found; ++i) {
      if (!used[i] && matches(e, actual[i])) used[i] = found = true;
    }
    if (!found) failures->push_back("expected " + what + " not seen: " + describe_e(e));
  }
  for (std::size_t i = 0; i < actual.size(); ++i) {
    if (!used[i]) failures->push_back("unexpected " + what + ": " + describe_a(actual[i]));
  }
}

std::vector<std::string> RunOne(const TestSpec& t) {
  std::vector<std::string> failures;
  char tmpl[] = "/tmp/opsorch-wftest-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return {"cannot create a temporary directory"};
  const std::string tmp = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmp};

  MockServer mock(t.mocks);
  http::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.threads = 1;
  so.body_limit = 64u << 20;
  so.shutdown_grace = std::chrono::milliseconds(200);
  auto server = http::Server::Create(so, mock);
  if (!server) return {"mock server: " + server.error().message};
  std::thread server_thread([&] { (*server)->Run(); });
  struct StopServer {
    http::Server& s;
    std::thread& t;
    ~StopServer() {
      s.Stop();
      t.join();
    }
  } stop_server{**server, server_thread};

  const auto env = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "OPSORCH_DATA_DIR") return tmp;
    auto it = t.env.find(name);
    if (it != t.env.end()) return it->second;
    return std::nullopt;  // hermetic: the test declares what the bootstrap needs (secret
                          // files are not read either)
  };
  auto bootstrap = LoadBootstrap(t.bootstrap, env, /*read_secret_files=*/false);
  if (!bootstrap) return {"bootstrap: " + bootstrap.error().message};
  std::vector<Deployment> kept;
  for (Deployment& d : bootstrap->deployments) {
    if (t.deployment.empty() ? bootstrap->deployments.size() == 1 : d.id == t.deployment) {
      kept.push_back(std::move(d));
    }
  }
  if (kept.size() != 1) {
    return {t.deployment.empty()
                ? "the bootstrap has several deployments: name one in \"deployment\""
                : "no deployment \"" + t.deployment + "\" in the bootstrap"};
  }
  Deployment& d = kept[0];
  const std::string deployment_id = d.id;
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->Port());
  for (auto& [id, host] : d.hosts) {
    // Same allowlist, headers and limits; only the address is the mock's.
    host.policy.base_url = base + std::string(kMockPrefix) + id;
    host.policy.allow_private = true;
  }
  if (!t.config.empty()) {
    d.config = ConfigSource{};
    d.config.file = t.config;
  }
  d.config.poll = std::chrono::milliseconds(0);
  d.persistence_dir = tmp + "/state";
  bootstrap->deployments = std::move(kept);

  std::mutex mu;
  std::vector<Metric> metrics;
  std::vector<std::string> logs;
  RuntimeOptions ro;
  ro.start_triggers = false;
  ro.use_outputs = false;
  ro.local_logs = false;  // captured and asserted; the runner's output is its PASS/FAIL lines
  ro.threads = 2;
  if (t.now) ro.now_ms = [now = *t.now] { return now; };
  ro.observer.on_metric = [&](std::string_view, const Metric& m) {
    std::lock_guard lock(mu);
    metrics.push_back(m);
  };
  ro.observer.on_log = [&](std::string_view, const LogLine& l) {
    std::lock_guard lock(mu);
    logs.push_back(l.level + ": " + l.message);
  };
  auto runtime = Runtime::Start(std::move(*bootstrap), std::move(ro));
  if (!runtime) return {"runtime: " + runtime.error().message};
  auto result = (*runtime)->RunStep(deployment_id, t.step, t.input);
  if (!(*runtime)->Drain(std::chrono::seconds(30)))
    failures.push_back("async steps still running after 30 s");
  (*runtime)->Stop();

  if (t.result_error) {
    if (result) {
      failures.push_back(
          "expected the step to fail" +
          (t.result_error->empty() ? std::string() : " with \"" + *t.result_error + "\"") +
          ", it succeeded");
    } else if (result.error().message.find(*t.result_error) == std::string::npos &&
               WireCode(result.error()).find(*t.result_error) == std::string::npos) {
      failures.push_back("step error \"" + result.error().message + "\" does not contain \"" +
                         *t.result_error + "\"");
    }
  } else if (!result) {
    failures.push_back("step failed: " + result.error().message);
  }
  if (result && t.result_body) {
    bool same = false;
    if (t.result_body->is_string()) {
      same = result->body == t.result_body->get_string();
    } else {
      auto actual = ParseJson(result->body);
      same = actual && *actual == *t.result_body;
    }
    if (!same) {
      failures.push_back("result body " + result->body + " is not " + WriteJson(*t.result_body));
    }
  }
  for (const RecordedCall& c : mock.Calls()) {
    bool mocked = false;
    for (const MockResponse& m : t.mocks) {
      mocked = mocked || (m.host == c.host && m.method == c.method && m.path == c.path &&
                          (!m.when_body || *m.when_body == c.body));
    }
    if (!mocked)
      failures.push_back("call without a mock: " + c.method + " " + c.host + " " + c.path);
  }
  if (t.calls) {
    const auto calls = mock.Calls();
    MatchAll<ExpectedCall, RecordedCall>(
        *t.calls, calls, CallMatches,
        [](const ExpectedCall& c) { return c.method + " " + c.host + " " + c.path; },
        [](const RecordedCall& c) { return c.method + " " + c.host + " " + c.path; }, "call",
        &failures);
  }
  if (t.metrics) {
    MatchAll<ExpectedMetric, Metric>(
        *t.metrics, metrics, MetricMatches,
        [](const ExpectedMetric& m) { return m.key + "=" + std::to_string(m.value); },
        [](const Metric& m) { return Describe(m); }, "metric", &failures);
  }
  for (const std::string& want : t.logs) {
    bool found = false;
    for (const std::string& l : logs) found = found || l.find(want) != std::string::npos;
    if (!found) failures.push_back("no log line contains \"" + want + "\"");
  }
  for (const std::string& banned : t.logs_must_not_contain) {
    for (const std::string& l : logs) {
      if (l.find(banned) != std::string::npos) {
        failures.push_back("a log line contains \"" + banned + "\"");
        break;
      }
    }
    for (const Metric& m : metrics) {
      if (Describe(m).find(banned) != std::string::npos) {
        failures.push_back("a metric contains \"" + banned + "\"");
        break;
      }
    }
  }
  return failures;
}

}  // namespace

TestSummary RunWorkflowTests(const std::vector<std::string>& files, std::ostream& out) {
  TestSummary summary;
  for (const std::string& file : files) {
    const auto start = Clock::now();
    auto spec = ParseTest(file);
    std::vector<std::string> failures;
    std::string name = file;
    if (!spec) {
      failures.push_back(spec.error().message);
    } else {
      name = spec->name;
      failures = RunOne(*spec);
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    if (failures.empty()) {
      ++summary.passed;
      out << "PASS " << name << " (" << ms << " ms)\n";
    } else {
      ++summary.failed;
      out << "FAIL " << name << " (" << ms << " ms): " << failures.front() << "\n";
      for (std::size_t i = 1; i < failures.size(); ++i) out << "     " << failures[i] << "\n";
    }
    out.flush();
  }
  out << summary.passed << " passed, " << summary.failed << " failed\n";
  return summary;
}

}  // namespace opsorch::workflow
