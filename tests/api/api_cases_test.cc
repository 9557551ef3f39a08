// The data-driven API tests: every tests/api/cases/*.json file starts one in-process server
// (its "env", optionally "demo") and runs its "cases" in order against it.
//
// A case: {"name", "request": {"method", "path", "headers": {}, "body": <string|json>} or
// {"raw": "<bytes>"}, "expect": {...}}. Expectations (all optional):
//   status          exact status code
//   headers         {"Name": "exact value"}
//   absent_headers  ["Name", …]
//   body            exact body text (field order, trailing newline, escaping)
//   body_contains   substring of the body
//   body_lacks      [substring, …] that the body must not contain (placeholders expanded)
//   json            the body parsed as JSON equals this value (order-insensitive)
//   json_at         {"/json/pointer": value} — each pointed-at value equals the given one
//   json_len        {"/json/pointer": n} — array/object size ("" is the root)
//   json_absent     ["/json/pointer", …] — omit rules
// "{tmp}" (a fresh directory per file), "{plugin_mock}" and "{fault_plugin}" (the plugin
// binaries) are replaced in env values and request bodies.
// A file may also give "files" ({name: text}, written into {tmp} first) and
// "startup_error" (the server must refuse to start with a message containing it).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/json_equal.h"
#include "support/server_process.h"
#include "support/test_plugins.h"
#include "support/test_server.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::vector<std::string> CaseFiles() {
  std::vector<std::string> files;
  const fs::path dir = fs::path(OPSORCH_TEST_DATA_DIR) / "api" / "cases";
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".json") files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Str(const json::value& v) { return std::string(v.as_string()); }

class ApiCases : public ::testing::TestWithParam<std::string> {};

TEST_P(ApiCases, Run) {
  const fs::path file = fs::path(OPSORCH_TEST_DATA_DIR) / "api" / "cases" / GetParam();
  const json::value suite = json::parse(ReadFile(file));
  // "{tmp}" in env values is a fresh directory per file (secret stores, data dirs).
  const fs::path tmp =
      fs::temp_directory_path() / ("opsorch-api-" + std::to_string(::getpid()) + "-" + GetParam());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // Placeholders in env values and request bodies: the temp dir and the plugin binaries.
  const auto expand = [&](std::string v) {
    for (const auto& [from, to] : std::initializer_list<std::pair<std::string_view, std::string>>{
             {"{tmp}", tmp.string()},
             {"{plugin_mock}", OPSORCH_PLUGIN_MOCK},
             {"{fault_plugin}", OPSORCH_FAULT_PLUGIN},
             {"{plugin_dirs}", TestPluginDirs()}}) {
      for (std::size_t at; (at = v.find(from)) != std::string::npos;)
        v.replace(at, from.size(), to);
    }
    return v;
  };
  std::map<std::string, std::string> env;
  if (const auto* e = suite.as_object().if_contains("env")) {
    for (const auto& kv : e->as_object()) env[std::string(kv.key())] = expand(Str(kv.value()));
  }
  if (const auto* files = suite.as_object().if_contains("files")) {
    for (const auto& kv : files->as_object()) {
      std::ofstream(tmp / std::string(kv.key())) << Str(kv.value());
    }
  }
  const bool demo = suite.as_object().contains("demo") && suite.at("demo").as_bool();

  if (const auto* fatal = suite.as_object().if_contains("startup_error")) {
    auto server = TestServer::Start(env, demo);
    ASSERT_FALSE(server) << "server started although " << Str(*fatal) << " was expected";
    EXPECT_NE(server.error().message.find(Str(*fatal)), std::string::npos)
        << "startup error was: " << server.error().message;
    return;
  }
  auto server = TestServer::Start(env, demo);
  ASSERT_TRUE(server) << "server failed to start: " << server.error().message;

  for (const auto& c : suite.at("cases").as_array()) {
    const std::string name = Str(c.at("name"));
    SCOPED_TRACE(GetParam() + " :: " + name);
    const auto& rq = c.at("request").as_object();
    HttpClient client((*server)->Port());
    HttpResponse resp;
    if (const auto* raw = rq.if_contains("raw")) {
      resp = client.Raw(Str(*raw));
    } else {
      std::vector<std::pair<std::string, std::string>> headers;
      if (const auto* h = rq.if_contains("headers")) {
        for (const auto& kv : h->as_object()) headers.emplace_back(kv.key(), Str(kv.value()));
      }
      std::string body;
      if (const auto* b = rq.if_contains("body")) {
        body = expand(b->is_string() ? Str(*b) : json::serialize(*b));
      }
      resp = client.Request(Str(rq.at("method")), Str(rq.at("path")), headers, body);
    }

    const auto& ex = c.at("expect").as_object();
    if (const auto* st = ex.if_contains("status")) {
      EXPECT_EQ(resp.status, st->to_number<int>()) << "body: " << resp.body;
    }
    if (const auto* h = ex.if_contains("headers")) {
      for (const auto& kv : h->as_object()) {
        EXPECT_TRUE(resp.HasHeader(kv.key())) << "missing header " << kv.key();
        EXPECT_EQ(resp.Header(kv.key()), Str(kv.value())) << "header " << kv.key();
      }
    }
    if (const auto* h = ex.if_contains("absent_headers")) {
      for (const auto& n : h->as_array()) {
        EXPECT_FALSE(resp.HasHeader(Str(n))) << "unexpected header " << Str(n);
      }
    }
    if (const auto* b = ex.if_contains("body")) EXPECT_EQ(resp.body, Str(*b));
    if (const auto* b = ex.if_contains("body_contains")) {
      EXPECT_NE(resp.body.find(Str(*b)), std::string::npos) << "body: " << resp.body;
    }
    if (const auto* lacks = ex.if_contains("body_lacks")) {
      for (const auto& n : lacks->as_array()) {
        EXPECT_EQ(resp.body.find(expand(Str(n))), std::string::npos)
            << "body must not contain " << expand(Str(n)) << ": " << resp.body;
      }
    }
    const bool wants_json = ex.contains("json") || ex.contains("json_at") ||
                            ex.contains("json_len") || ex.contains("json_absent");
    if (!wants_json) continue;
    boost::system::error_code ec;
    const json::value got = json::parse(resp.body, ec);
    ASSERT_FALSE(ec) << "response is not JSON: " << resp.body;
    if (const auto* j = ex.if_contains("json")) {
      EXPECT_TRUE(JsonEqual(got, *j))
          << "expected " << json::serialize(*j) << "\n     got " << resp.body;
    }
    if (const auto* at = ex.if_contains("json_at")) {
      for (const auto& kv : at->as_object()) {
        std::error_code pec;
        const json::value* v = got.find_pointer(kv.key(), pec);
        ASSERT_NE(v, nullptr) << "no value at " << kv.key() << " in " << resp.body;
        EXPECT_TRUE(JsonEqual(*v, kv.value()))
            << "at " << kv.key() << ": expected " << json::serialize(kv.value()) << ", got "
            << json::serialize(*v);
      }
    }
    if (const auto* len = ex.if_contains("json_len")) {
      for (const auto& kv : len->as_object()) {
        std::error_code pec;
        const json::value* v = got.find_pointer(kv.key(), pec);
        ASSERT_NE(v, nullptr) << "no value at " << kv.key();
        const std::size_t n = v->is_array() ? v->get_array().size() : v->as_object().size();
        EXPECT_EQ(n, kv.value().to_number<std::size_t>()) << "length at " << kv.key();
      }
    }
    if (const auto* absent = ex.if_contains("json_absent")) {
      for (const auto& p : absent->as_array()) {
        std::error_code pec;
        EXPECT_EQ(got.find_pointer(Str(p), pec), nullptr) << "unexpected value at " << Str(p);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Contract, ApiCases, ::testing::ValuesIn(CaseFiles()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace opsorch::testing
