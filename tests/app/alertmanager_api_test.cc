// The Alertmanager API v2 subset, maintenance windows, mute intervals, heartbeats and status
// pages over HTTP, as Prometheus, amtool and an operator meet them: the exact JSON shapes, the
// key as the only credential, silences that hold alerts back, and public pages that show only
// what was published (escaped). (Real Prometheus and amtool: alertmanager_clients_test.cc.)
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::string_view kAmKey = "am-key-0000000000000000000000001";
constexpr std::string_view kEventsKey = "ev-key-0000000000000000000000001";
constexpr std::string_view kOtherAmKey = "am-key-0000000000000000000000002";

json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return nullptr;
  return v;
}

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

std::string Rfc3339(std::time_t t) {
  char buf[32];
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class AlertmanagerApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("opsorch-am-api-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "seed.json") << R"({"services":[
      {"id":"svc-db","name":"Orders database","integrations":[
        {"id":"db-am","kind":"alertmanager","key":")"
                                      << kAmKey << R"("},
        {"id":"db-ev","kind":"events_v2","key":")"
                                      << kEventsKey << R"("}]},
      {"id":"svc-web","name":"Web <shop>","integrations":[
        {"id":"web-am","kind":"alertmanager","key":")"
                                      << kOtherAmKey << R"("}]}]})";
    auto s = TestServer::Start({{"OPSORCH_DATA_DIR", (dir_ / "data").string()},
                                {"OPSORCH_INCIDENT_PROVIDER", "local"},
                                {"OPSORCH_SERVICE_PROVIDER", "local"},
                                {"OPSORCH_BEARER_TOKEN", "admin-token"},
                                {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()}});
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  HttpResponse Call(std::string_view method, const std::string& target, std::string_view body = {},
                    bool admin = false) {
    HttpClient c(server_->Port());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    if (admin) headers.emplace_back("Authorization", "Bearer admin-token");
    return c.Request(method, target, headers, body);
  }
  std::string Base(std::string_view key = kAmKey) {
    return "/integrations/alertmanager/" + std::string(key);
  }
  json::value Incidents() {
    auto r = Call("POST", "/incidents/query", "{}", true);
    EXPECT_EQ(r.status, 200) << r.body;
    return Parse(r.body);
  }

  std::string PushBody(std::string_view alertname, std::time_t ends) {
    return R"([{"labels":{"alertname":")" + std::string(alertname) +
           R"(","instance":"db-1:9100","job":"node","severity":"critical"},)"
           R"("annotations":{"summary":"disk almost full"},"startsAt":")" +
           Rfc3339(std::time(nullptr) - 60) + R"(","endsAt":")" + Rfc3339(ends) +
           R"(","generatorURL":"http://prometheus/graph?g0.expr=up"}])";
  }

  std::string PostSilence(std::string_view matcher_name, std::string_view value,
                          std::string_view key = kAmKey) {
    const std::string body =
        R"({"matchers":[{"name":")" + std::string(matcher_name) + R"(","value":")" +
        std::string(value) + R"(","isRegex":false,"isEqual":true}],"startsAt":")" +
        Rfc3339(std::time(nullptr) - 60) + R"(","endsAt":")" + Rfc3339(std::time(nullptr) + 3600) +
        R"(","createdBy":"alice","comment":"disk swap"})";
    auto r = Call("POST", Base(key) + "/api/v2/silences", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(Parse(r.body).at("silenceID").as_string());
  }

  fs::path dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(AlertmanagerApi, PushOpensAnIncidentAndListsTheAlertInAlertmanagersShape) {
  auto r = Call("POST", Base() + "/api/v2/alerts", PushBody("DiskFull", std::time(nullptr) + 240));
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = Call("GET", Base() + "/api/v2/alerts");
  ASSERT_EQ(list.status, 200) << list.body;
  const json::value v = Parse(list.body);
  ASSERT_TRUE(v.is_array()) << list.body;
  ASSERT_EQ(v.as_array().size(), 1u);
  const auto& a = v.as_array()[0].as_object();
  // gettableAlert, field for field (go-swagger order: own fields, then the embedded alert).
  std::vector<std::string> keys;
  for (const auto& kv : a) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"annotations", "endsAt", "fingerprint", "receivers",
                                            "startsAt", "status", "updatedAt", "generatorURL",
                                            "labels"}));
  EXPECT_EQ(a.at("fingerprint").as_string().size(), 16u);
  EXPECT_EQ(a.at("status").at("state").as_string(), "active");
  EXPECT_EQ(a.at("labels").at("alertname").as_string(), "DiskFull");
  EXPECT_EQ(a.at("annotations").at("summary").as_string(), "disk almost full");
  EXPECT_TRUE(a.at("endsAt").as_string().ends_with("Z"));
  // The incident opened for the key's service.
  const auto inc = Incidents();
  ASSERT_TRUE(inc.is_array());
  ASSERT_EQ(inc.as_array().size(), 1u);
  EXPECT_EQ(inc.as_array()[0].at("service").as_string(), "svc-db");
  // Another service's key sees none of it.
  auto other = Call("GET", Base(kOtherAmKey) + "/api/v2/alerts");
  EXPECT_EQ(Parse(other.body).as_array().size(), 0u);
}

TEST_F(AlertmanagerApi, TheKeyIsTheCredential) {
  for (const std::string& target : std::vector<std::string>{
           "/integrations/alertmanager/wrong-key-00000000000000000/api/v2/alerts",
           "/integrations/alertmanager/" + std::string(kEventsKey) + "/api/v2/silences",
           "/integrations/alertmanager/wrong-key-00000000000000000/-/ready"}) {
    auto r = Call("GET", target);
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_TRUE(Parse(r.body).is_string()) << "Alertmanager's errors are a JSON string: " << r.body;
  }
  EXPECT_EQ(Call("GET", Base() + "/-/ready").status, 200);
  EXPECT_EQ(Call("GET", Base() + "/-/healthy").body, "OK");
  auto status = Call("GET", Base() + "/api/v2/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(Parse(status.body).at("cluster").at("status").as_string(), "disabled");
}

TEST_F(AlertmanagerApi, InvalidAlertsAreNamedAndValidOnesKept) {
  const std::string body =
      R"([{"labels":{}},{"labels":{"0bad":"x"}},{"labels":{"alertname":"Good"}},)"
      R"({"labels":{"alertname":"Backwards"},"startsAt":"2026-01-02T00:00:00Z",)"
      R"("endsAt":"2026-01-01T00:00:00Z"}])";
  auto r = Call("POST", Base() + "/api/v2/alerts", body);
  EXPECT_EQ(r.status, 400) << r.body;
  const json::value v = Parse(r.body);
  ASSERT_TRUE(v.is_string()) << r.body;
  const std::string msg(v.as_string());
  EXPECT_TRUE(Contains(msg, "[0].labels")) << msg;
  EXPECT_TRUE(Contains(msg, "0bad")) << msg;
  EXPECT_TRUE(Contains(msg, "[3].endsAt")) << msg;
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/alerts").body).as_array().size(), 1u)
      << "the valid alert was not kept";
  for (const std::string bad : {"{}", "not json", "[1]"}) {
    EXPECT_EQ(Call("POST", Base() + "/api/v2/alerts", bad).status, 400) << bad;
  }
}

TEST_F(AlertmanagerApi, ASilenceHoldsAnAlertBackAndIsListed) {
  const std::string id = PostSilence("alertname", "DiskFull");
  EXPECT_EQ(id.size(), 36u);
  auto r = Call("POST", Base() + "/api/v2/alerts", PushBody("DiskFull", std::time(nullptr) + 240));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto alerts = Parse(Call("GET", Base() + "/api/v2/alerts").body);
  ASSERT_EQ(alerts.as_array().size(), 1u);
  EXPECT_EQ(alerts.as_array()[0].at("status").at("state").as_string(), "suppressed");
  EXPECT_EQ(alerts.as_array()[0].at("status").at("silencedBy").as_array()[0].as_string(), id);
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/alerts?silenced=false").body).as_array().size(),
            0u);
  EXPECT_EQ(Incidents().as_array().size(), 0u) << "a silenced alert opened an incident";

  // The silence, in Alertmanager's shape, listed and fetched; other services' keys see nothing.
  const auto list = Parse(Call("GET", Base() + "/api/v2/silences").body);
  ASSERT_EQ(list.as_array().size(), 1u);
  const auto& s = list.as_array()[0];
  EXPECT_EQ(s.at("id").as_string(), id);
  EXPECT_EQ(s.at("status").at("state").as_string(), "active");
  EXPECT_EQ(s.at("createdBy").as_string(), "alice");
  EXPECT_EQ(s.at("matchers").as_array()[0].at("name").as_string(), "alertname");
  EXPECT_EQ(Call("GET", Base() + "/api/v2/silence/" + id).status, 200);
  EXPECT_EQ(Call("GET", Base(kOtherAmKey) + "/api/v2/silence/" + id).status, 404);
  EXPECT_EQ(Parse(Call("GET", Base(kOtherAmKey) + "/api/v2/silences").body).as_array().size(), 0u);
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/silences?filter=alertname%3D%22Other%22").body)
                .as_array()
                .size(),
            0u);

  // Expired: the still-firing alert opens its incident.
  ASSERT_EQ(Call("DELETE", Base() + "/api/v2/silence/" + id).status, 200);
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/silence/" + id).body).at("status").at("state"),
            "expired");
  bool opened = false;
  for (int i = 0; i < 100 && !opened; ++i) {
    opened = Incidents().as_array().size() == 1;
    if (!opened) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(opened) << "the alert did not open its incident when its silence was expired";
}

TEST_F(AlertmanagerApi, AWebhookAlertIsSilencedByItsLabels) {
  const std::string id = PostSilence("alertname", "ReplicaLag");
  const std::string body =
      R"({"version":"4","groupKey":"{}:{}","status":"firing","receiver":"opsorch","alerts":[)"
      R"({"status":"firing","labels":{"alertname":"ReplicaLag","instance":"db-2"},)"
      R"("annotations":{"summary":"lag"},"startsAt":"2026-12-06T10:00:00Z",)"
      R"("endsAt":"0001-01-01T00:00:00Z","fingerprint":"0123456789abcdef"},)"
      R"({"status":"firing","labels":{"alertname":"Other","instance":"db-2"},)"
      R"("annotations":{"summary":"other"},"startsAt":"2026-12-06T10:00:00Z",)"
      R"("fingerprint":"fedcba9876543210"}]})";
  auto r = Call("POST", Base(), body);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_TRUE(Contains(r.body, R"("action":"suppressed")")) << r.body;
  const auto inc = Incidents();
  ASSERT_EQ(inc.as_array().size(), 1u) << "only the unsilenced alert opens an incident";
  const auto alerts = Parse(Call("GET", Base() + "/api/v2/alerts?silenced=true&active=false").body);
  ASSERT_EQ(alerts.as_array().size(), 1u);
  EXPECT_EQ(alerts.as_array()[0].at("fingerprint").as_string(), "0123456789abcdef");
  EXPECT_EQ(alerts.as_array()[0].at("status").at("silencedBy").as_array()[0].as_string(), id);
  // Its resolve forgets it.
  std::string resolved = body;
  for (std::size_t at = 0; (at = resolved.find("\"firing\"", at)) != std::string::npos;) {
    resolved.replace(at, 8, "\"resolved\"");
  }
  ASSERT_EQ(Call("POST", Base(), resolved).status, 202);
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/alerts").body).as_array().size(), 0u);
}

TEST_F(AlertmanagerApi, SilenceValidationFollowsAlertmanager) {
  const std::string now = Rfc3339(std::time(nullptr));
  const std::string later = Rfc3339(std::time(nullptr) + 60);
  struct Case {
    const char* name;
    std::string body;
    const char* needle;
  };
  const Case cases[] = {
      {"no matchers",
       R"({"matchers":[],"startsAt":")" + now + R"(","endsAt":")" + later +
           R"(","createdBy":"a","comment":"c"})",
       "matchers"},
      {"matches everything",
       R"({"matchers":[{"name":"a","value":".*","isRegex":true}],"startsAt":")" + now +
           R"(","endsAt":")" + later + R"(","createdBy":"a","comment":"c"})",
       "empty string"},
      {"bad regex",
       R"({"matchers":[{"name":"a","value":"(x","isRegex":true}],"startsAt":")" + now +
           R"(","endsAt":")" + later + R"(","createdBy":"a","comment":"c"})",
       "matchers[0]"},
      {"ends before it starts",
       R"({"matchers":[{"name":"a","value":"b","isRegex":false}],"startsAt":")" + later +
           R"(","endsAt":")" + now + R"(","createdBy":"a","comment":"c"})",
       "endsAt"},
  };
  for (const auto& c : cases) {
    auto r = Call("POST", Base() + "/api/v2/silences", c.body);
    EXPECT_EQ(r.status, 400) << c.name << ": " << r.body;
    EXPECT_TRUE(Contains(r.body, c.needle)) << c.name << ": " << r.body;
  }
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/silences").body).as_array().size(), 0u);
}

TEST_F(AlertmanagerApi, UpdatingASilencesMatchersExpiresItAndCreatesAnother) {
  const std::string id = PostSilence("alertname", "A");
  const std::string body = R"({"id":")" + id +
                           R"(","matchers":[{"name":"alertname","value":"B","isRegex":false}],)"
                           R"("startsAt":")" +
                           Rfc3339(std::time(nullptr) - 60) + R"(","endsAt":")" +
                           Rfc3339(std::time(nullptr) + 7200) +
                           R"(","createdBy":"alice","comment":"changed"})";
  auto r = Call("POST", Base() + "/api/v2/silences", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string new_id(Parse(r.body).at("silenceID").as_string());
  EXPECT_NE(new_id, id);
  EXPECT_EQ(Parse(Call("GET", Base() + "/api/v2/silence/" + id).body).at("status").at("state"),
            "expired");
  auto unknown = Call(
      "POST", Base() + "/api/v2/silences",
      R"({"id":"00000000-0000-4000-8000-000000000000",)" + body.substr(body.find("\"matchers\"")));
  EXPECT_EQ(unknown.status, 404) << unknown.body;
}

TEST_F(AlertmanagerApi, APagerDutyEventIsSilencedByItsCustomDetails) {
  PostSilence("team", "storage");
  const std::string ev = R"({"routing_key":")" + std::string(kEventsKey) +
                         R"(","event_action":"trigger","dedup_key":"pd-1","payload":{)"
                         R"("summary":"disk","source":"db-1","severity":"critical",)"
                         R"("custom_details":{"team":"storage"}}})";
  auto r = Call("POST", "/v2/enqueue", ev);
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(Incidents().as_array().size(), 0u);
}

TEST_F(AlertmanagerApi, MaintenanceWindowsAndTimeIntervalsOverTheAdminApi) {
  const std::string window = R"({"startTime":")" + Rfc3339(std::time(nullptr) - 60) +
                             R"(","endTime":")" + Rfc3339(std::time(nullptr) + 3600) +
                             R"(","description":"upgrade","services":["svc-db"]})";
  EXPECT_EQ(Call("PUT", "/admin/maintenance-windows/mw1", window, false).status, 401);
  auto put = Call("PUT", "/admin/maintenance-windows/mw1", window, true);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Parse(put.body).at("state").as_string(), "ongoing");
  auto list = Parse(Call("GET", "/admin/maintenance-windows?filter=ongoing", {}, true).body);
  EXPECT_EQ(list.as_array().size(), 1u);
  EXPECT_EQ(
      Parse(Call("GET", "/admin/maintenance-windows?filter=past", {}, true).body).as_array().size(),
      0u);
  struct Bad {
    std::string body;
    const char* needle;
  };
  const Bad bad[] = {
      {R"({"startTime":"x","endTime":"2099-01-01T00:00:00Z","services":["svc-db"]})", "startTime"},
      {R"({"startTime":"2099-01-02T00:00:00Z","endTime":"2099-01-01T00:00:00Z","services":["svc-db"]})",
       "endTime"},
      {R"({"startTime":"2020-01-01T00:00:00Z","endTime":"2020-01-02T00:00:00Z","services":["svc-db"]})",
       "future"},
      {R"({"startTime":"2099-01-01T00:00:00Z","endTime":"2099-01-02T00:00:00Z","services":["nope"]})",
       "unknown service"},
      {R"({"startTime":"2099-01-01T00:00:00Z","endTime":"2099-01-02T00:00:00Z"})", "services"},
      {R"({"startTime":"2099-01-01T00:00:00Z","endTime":"2099-01-02T00:00:00Z","services":["svc-db"],"x":1})",
       "unknown field"},
  };
  for (const auto& b : bad) {
    auto r = Call("PUT", "/admin/maintenance-windows/mw2", b.body, true);
    EXPECT_EQ(r.status, 400) << b.body;
    EXPECT_TRUE(Contains(r.body, b.needle)) << r.body;
  }
  // An event during the window opens an incident that pages nobody.
  const std::string ev = R"({"routing_key":")" + std::string(kEventsKey) +
                         R"(","event_action":"trigger","dedup_key":"m-1","payload":{)"
                         R"("summary":"db slow","source":"db-1","severity":"critical"}})";
  ASSERT_EQ(Call("POST", "/v2/enqueue", ev).status, 202);
  const auto inc = Incidents();
  ASSERT_EQ(inc.as_array().size(), 1u);
  const std::string id(inc.as_array()[0].at("id").as_string());
  auto timeline = Call("GET", "/incidents/" + id + "/timeline", {}, true);
  EXPECT_TRUE(Contains(timeline.body, "paging_paused")) << timeline.body;
  EXPECT_EQ(Call("DELETE", "/admin/maintenance-windows/mw1", {}, true).status, 204);
  EXPECT_EQ(Call("GET", "/admin/maintenance-windows/mw1", {}, true).status, 404);

  // Mute intervals: decoded, named by a service, and not deletable while named.
  const std::string nights =
      R"({"timeIntervals":[{"times":[{"startTime":"22:00","endTime":"24:00"}],)"
      R"("weekdays":["monday:friday"],"location":"Europe/Berlin"}]})";
  ASSERT_EQ(Call("PUT", "/admin/time-intervals/nights", nights, true).status, 200);
  EXPECT_EQ(Call("PUT", "/admin/time-intervals/bad",
                 R"({"timeIntervals":[{"weekdays":["funday"]}]})", true)
                .status,
            400);
  auto svc = Call(
      "PUT", "/admin/services/svc-db",
      R"({"name":"Orders database","muteIntervals":["nights"],"autoResolveMinutes":240})", true);
  ASSERT_EQ(svc.status, 200) << svc.body;
  EXPECT_EQ(Parse(svc.body).at("autoResolveMinutes").as_int64(), 240);
  EXPECT_EQ(Call("PUT", "/admin/services/svc-db",
                 R"({"name":"Orders database","muteIntervals":["unknown"]})", true)
                .status,
            400);
  EXPECT_EQ(Call("DELETE", "/admin/time-intervals/nights", {}, true).status, 409);
}

TEST_F(AlertmanagerApi, HeartbeatsBeatWithTheirKeyOnly) {
  auto put = Call("PUT", "/admin/heartbeats/backup",
                  R"({"name":"nightly backup","service":"svc-db","intervalSeconds":3600,)"
                  R"("graceSeconds":600})",
                  true);
  ASSERT_EQ(put.status, 200) << put.body;
  const auto hb = Parse(put.body);
  const std::string key(hb.at("key").as_string());
  EXPECT_EQ(hb.at("state").as_string(), "waiting");
  EXPECT_EQ(hb.at("beatPath").as_string(), "/heartbeats/backup/" + key);
  // Shown once.
  auto again = Parse(Call("GET", "/admin/heartbeats/backup", {}, true).body);
  EXPECT_FALSE(again.as_object().contains("key"));
  EXPECT_EQ(Call("GET", "/heartbeats/backup/" + key).status, 200);
  EXPECT_EQ(Call("POST", "/heartbeats/backup/" + key).status, 200);
  EXPECT_EQ(Call("GET", "/heartbeats/backup/wrong-key").status, 401);
  EXPECT_EQ(Call("GET", "/heartbeats/nope/" + key).status, 401);
  EXPECT_EQ(Parse(Call("GET", "/admin/heartbeats/backup", {}, true).body).at("state").as_string(),
            "up");
  EXPECT_EQ(Call("PUT", "/admin/heartbeats/x", R"({"service":"svc-db","intervalSeconds":1})", true)
                .status,
            400);
  EXPECT_EQ(
      Call("PUT", "/admin/heartbeats/x", R"({"service":"nope","intervalSeconds":60})", true).status,
      400);
}

TEST_F(AlertmanagerApi, StatusPageShowsOnlyWhatWasPublishedAndEscapesIt) {
  // Internal descriptions never reach the page.
  ASSERT_EQ(Call("PUT", "/admin/services/svc-db",
                 R"({"name":"Orders database","description":"internal: runs on 10.1.2.3"})", true)
                .status,
            200);
  auto put =
      Call("PUT", "/admin/status-pages/acme",
           R"({"name":"Acme <b>status</b>","slug":"acme","services":["svc-db","svc-web"]})", true);
  ASSERT_EQ(put.status, 200) << put.body;
  auto page = Call("GET", "/status/acme");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_TRUE(Contains(page.Header("Content-Type"), "text/html"));
  EXPECT_TRUE(Contains(page.Header("Content-Security-Policy"), "default-src 'none'"));
  EXPECT_TRUE(Contains(page.body, "Acme &lt;b&gt;status&lt;/b&gt;")) << "name not escaped";
  EXPECT_TRUE(Contains(page.body, "Web &lt;shop&gt;"));
  EXPECT_FALSE(Contains(page.body, "<b>status"));

  // An incident with a hostile title and a private note.
  const std::string ev = R"({"routing_key":")" + std::string(kEventsKey) +
                         R"(","event_action":"trigger","dedup_key":"x-1","payload":{)"
                         R"("summary":"<script>alert(1)</script> on db-secret-host",)"
                         R"("source":"db-1","severity":"critical"}})";
  ASSERT_EQ(Call("POST", "/v2/enqueue", ev).status, 202);
  const std::string id(Incidents().as_array()[0].at("id").as_string());
  ASSERT_EQ(Call("POST", "/incidents/" + id + "/timeline",
                 R"({"kind":"note","body":"PRIVATE: root password is hunter2"})", true)
                .status,
            201);
  // Not yet published: the component shows the outage, the incident is not listed.
  auto json_before = Parse(Call("GET", "/status/acme.json").body);
  ASSERT_TRUE(json_before.is_object());
  EXPECT_EQ(json_before.at("incidents").as_array().size(), 0u);
  EXPECT_EQ(json_before.at("components").as_array()[0].at("status").as_string(), "major_outage");
  // Published with a public title.
  auto upd = Call("POST", "/admin/incidents/" + id + "/status-updates",
                  R"({"message":"We are investigating <slow> orders","status":"investigating",)"
                  R"("title":"Orders are slow"})",
                  true);
  ASSERT_EQ(upd.status, 201) << upd.body;
  // Rendered pages are kept 5 s.
  std::this_thread::sleep_for(std::chrono::milliseconds(5200));
  page = Call("GET", "/status/acme");
  EXPECT_TRUE(Contains(page.body, "Orders are slow")) << page.body;
  EXPECT_TRUE(Contains(page.body, "We are investigating &lt;slow&gt; orders"));
  for (const std::string& leak : std::vector<std::string>{"hunter2", "PRIVATE", "db-secret-host",
                                                          "<script>", id, "escalation", "svc-db"}) {
    EXPECT_FALSE(Contains(page.body, leak)) << "the public page shows " << leak;
  }
  const auto js = Call("GET", "/status/acme.json");
  const auto doc = Parse(js.body);
  ASSERT_TRUE(doc.is_object()) << js.body;
  ASSERT_EQ(doc.at("incidents").as_array().size(), 1u);
  EXPECT_EQ(doc.at("incidents").as_array()[0].at("name").as_string(), "Orders are slow");
  EXPECT_EQ(doc.at("components").as_array()[0].at("days").as_array().size(), 90u);
  for (const std::string& leak : std::vector<std::string>{
           "hunter2", "PRIVATE", "db-secret-host", "escalation", "\"" + id + "\"", "svc-db"}) {
    EXPECT_FALSE(Contains(js.body, leak)) << "the JSON shows " << leak;
  }
  const auto feed = Call("GET", "/status/acme.atom");
  EXPECT_EQ(feed.status, 200);
  EXPECT_TRUE(Contains(feed.Header("Content-Type"), "atom"));
  EXPECT_FALSE(Contains(feed.body, "hunter2"));
  EXPECT_EQ(Call("GET", "/status/nope").status, 404);
  // A path that climbs out of /status reaches nothing without the token.
  EXPECT_NE(Call("GET", "/status/..%2Fadmin%2Fservices").status, 200);
}

}  // namespace
}  // namespace opsorch::testing
