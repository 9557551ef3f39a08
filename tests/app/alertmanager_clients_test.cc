// The Alertmanager API v2 as its real clients use it: Prometheus 2.42 pushing the alerts of its
// rules, amtool 0.25 managing silences and listing alerts. The first test proves the harness
// (tests/support/prometheus_process.h) against the real Alertmanager 0.25; the others run the
// same clients against opsorch's /integrations/alertmanager/{key} base URL. Skipped when the
// Debian packages prometheus, prometheus-alertmanager (amtool) are not installed.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/prometheus_process.h"
#include "support/server_process.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using std::chrono::milliseconds;

// Prometheus's first push leaves about 6 s after its start (see PrometheusProcess).
constexpr milliseconds kFirstPush{30'000};
constexpr milliseconds kSoon{15'000};

json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return nullptr;
  return v;
}

std::string Str(const json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const json::value* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

const json::value* At(const json::value& v, std::string_view key) {
  return v.is_object() ? v.as_object().if_contains(key) : nullptr;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// "http://127.0.0.1:PORT/prefix" → PORT and "/prefix".
std::pair<std::uint16_t, std::string> PortAndPath(const std::string& base) {
  const std::string rest = base.substr(std::string_view("http://127.0.0.1:").size());
  const auto slash = rest.find('/');
  return {static_cast<std::uint16_t>(std::stoi(rest.substr(0, slash))),
          slash == std::string::npos ? "" : rest.substr(slash)};
}

// GET <base>/api/v2/alerts<query>: the gettableAlerts, or null when the answer is not a 200
// with a JSON array.
json::value ListAlerts(const std::string& base, std::string_view query = "") {
  const auto [port, path] = PortAndPath(base);
  HttpClient c(port);
  const HttpResponse r = c.Request("GET", path + "/api/v2/alerts" + std::string(query));
  if (r.status != 200) return nullptr;
  json::value v = Parse(r.body);
  return v.is_array() ? v : nullptr;
}

// The listed alert whose alertname is `name`, or null.
json::value FindAlert(const json::value& alerts, std::string_view name) {
  if (!alerts.is_array()) return nullptr;
  for (const auto& a : alerts.as_array()) {
    const json::value* labels = At(a, "labels");
    if (labels != nullptr && Str(*labels, "alertname") == name) return a;
  }
  return nullptr;
}

std::string Describe(const AmtoolResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") +
         "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// ---- the harness against the real Alertmanager 0.25 ----

TEST(AlertmanagerClients, HarnessAgainstRealAlertmanager) {
  if (const std::string missing =
          MissingBinaries({kPrometheusBinary, kAlertmanagerBinary, kAmtoolBinary});
      !missing.empty()) {
    GTEST_SKIP() << "not installed: " << missing;
  }
  std::string error;
  auto am = AlertmanagerProcess::Start(&error);
  ASSERT_TRUE(am) << error;
  PrometheusProcess::Options options;
  options.alertmanager = am->Address();
  options.path_prefix = "/";
  options.rules.push_back({.alert = "HarnessDiskFull",
                           .labels = {{"severity", "critical"}, {"team", "storage"}},
                           .annotations = {{"summary", "Disk full on db-1"}}});
  auto prometheus = PrometheusProcess::Start(options, &error);
  ASSERT_TRUE(prometheus) << error;

  // Prometheus's rule fires and its alert reaches Alertmanager, as Prometheus shapes it.
  json::value alert;
  ASSERT_TRUE(WaitFor(
      [&] {
        alert = FindAlert(ListAlerts(am->BaseUrl()), "HarnessDiskFull");
        return !alert.is_null();
      },
      kFirstPush))
      << "Prometheus's alerts: " << prometheus->Api("/api/v1/alerts")
      << "\nits Alertmanagers: " << prometheus->Api("/api/v1/alertmanagers") << "\nlog:\n"
      << prometheus->Log();
  EXPECT_EQ(Str(*At(alert, "labels"), "severity"), "critical") << json::serialize(alert);
  EXPECT_EQ(Str(*At(alert, "labels"), "team"), "storage");
  EXPECT_EQ(At(alert, "labels")->as_object().size(), 3u) << "only alertname + the rule's labels";
  EXPECT_EQ(Str(*At(alert, "annotations"), "summary"), "Disk full on db-1");
  EXPECT_TRUE(Str(alert, "generatorURL").starts_with("http://")) << json::serialize(alert);
  EXPECT_EQ(Str(*At(alert, "status"), "state"), "active");

  // amtool: a silence added, listed, seen suppressing the alert, expired.
  const std::string base = am->BaseUrl();
  AmtoolResult r = RunAmtool(
      {"silence", "add", "alertname=HarnessDiskFull", "--comment=c", "--author=a", "--duration=1h"},
      base);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string id = Trim(r.out);
  ASSERT_EQ(id.size(), 36u) << "a UUID: " << Describe(r);

  r = RunAmtool({"silence", "query", "-q"}, base);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), id);

  r = RunAmtool({"alert", "query", "--silenced"}, base);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(Contains(r.out, "HarnessDiskFull") && Contains(r.out, "suppressed")) << r.out;
  alert = FindAlert(ListAlerts(base, "?silenced=true"), "HarnessDiskFull");
  ASSERT_FALSE(alert.is_null());
  EXPECT_EQ(Str(*At(alert, "status"), "state"), "suppressed") << json::serialize(alert);
  EXPECT_EQ(json::serialize(*At(*At(alert, "status"), "silencedBy")), "[\"" + id + "\"]");

  r = RunAmtool({"silence", "expire", id}, base);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunAmtool({"silence", "query", "-q"}, base);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), "") << "an expired silence is not listed";
  alert = FindAlert(ListAlerts(base), "HarnessDiskFull");
  ASSERT_FALSE(alert.is_null());
  EXPECT_EQ(Str(*At(alert, "status"), "state"), "active") << json::serialize(alert);

  // The rule's switch off: Prometheus resolves the alert (endsAt in the past), and Alertmanager
  // stops listing it.
  prometheus->SetFiring("HarnessDiskFull", false);
  EXPECT_TRUE(
      WaitFor([&] { return FindAlert(ListAlerts(base), "HarnessDiskFull").is_null(); }, kSoon))
      << json::serialize(ListAlerts(base)) << "\nPrometheus: " << prometheus->Api("/api/v1/alerts");
}

// ---- against opsorch ----

// A Standard Webhooks secret (32 bytes, base64) for the person's webhook.
constexpr std::string_view kSecret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

// Counts the pages a loopback webhook receives, by person.
class PageReceiver {
 public:
  PageReceiver() {
    server_.Post(R"(/hook/([\w.-]+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      ++pages_[req.matches[1]];
      res.status = 200;
    });
    // One request per connection: a kept-alive connection would hold stop() for its timeout.
    server_.set_keep_alive_max_count(1);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitFor([this] { return server_.is_running(); }, milliseconds(5000));
  }
  ~PageReceiver() {
    server_.stop();
    thread_.join();
  }
  PageReceiver(const PageReceiver&) = delete;
  PageReceiver& operator=(const PageReceiver&) = delete;

  std::string Url(std::string_view person) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/hook/" + std::string(person);
  }
  int Pages(const std::string& person) {
    std::lock_guard lock(mu_);
    return pages_.contains(person) ? pages_.at(person) : 0;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, int> pages_;
};

class AlertmanagerClientsOpsorch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string missing = MissingBinaries({kPrometheusBinary, kAmtoolBinary});
        !missing.empty()) {
      GTEST_SKIP() << "not installed: " << missing;
    }
    dir_ = fs::temp_directory_path() /
           ("opsorch-am-clients-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // The engine on SQLite, loopback receivers allowed; service "checkout" with an integration of
  // kind alertmanager (its base URL in base_) and, when `pager` is given, a policy paging
  // "alice" through it at once.
  void Start(PageReceiver* pager = nullptr) {
    auto s = TestServer::Start({{"OPSORCH_DATA_DIR", (dir_ / "data").string()},
                                {"OPSORCH_INCIDENT_PROVIDER", "local"},
                                {"OPSORCH_SERVICE_PROVIDER", "local"},
                                {"OPSORCH_ENGINE_STORE", "sqlite:" + (dir_ / "e.db").string()},
                                {"OPSORCH_OUTBOUND_ALLOW_NETS", "127.0.0.0/8"},
                                {"OPSORCH_PUBLIC_URL", "https://opsorch.example"}});
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    std::string service = R"({"name":"Checkout"})";
    if (pager != nullptr) {
      Must(
          "PUT", "/admin/users/alice",
          R"({"name":"Alice","contactMethods":[{"id":"hook","type":"webhook","address":")" +
              pager->Url("alice") + R"(","secret":")" + std::string(kSecret) +
              R"("}],"notificationRules":[{"contactMethod":"hook","startDelayMinutes":0,"urgency":"high"}]})");
      Must(
          "PUT", "/admin/escalation-policies/pol",
          R"({"name":"Pol","rules":[{"delayMinutes":5,"targets":[{"type":"user","id":"alice"}]}]})");
      service = R"({"name":"Checkout","escalationPolicy":"pol"})";
    }
    Must("PUT", "/admin/services/checkout", service);
    const HttpResponse integration = Call("POST", "/admin/services/checkout/integrations",
                                          R"({"name":"Prometheus","kind":"alertmanager"})");
    ASSERT_EQ(integration.status, 201) << integration.body;
    key_ = Str(Parse(integration.body), "key");
    ASSERT_FALSE(key_.empty()) << integration.body;
    base_ = "http://127.0.0.1:" + std::to_string(server_->Port()) + "/integrations/alertmanager/" +
            key_;
  }

  HttpResponse Call(std::string_view method, const std::string& target,
                    std::string_view body = {}) {
    HttpClient c(server_->Port());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return c.Request(method, target, headers, body);
  }

  void Must(std::string_view method, const std::string& target, std::string_view body) {
    const HttpResponse r = Call(method, target, body);
    ASSERT_EQ(r.status, 200) << method << " " << target << ": " << r.body;
  }

  // The incidents of service checkout, newest first.
  json::array Incidents() {
    const HttpResponse r = Call("POST", "/incidents/query", R"({"scope":{"service":"checkout"}})");
    const json::value v = Parse(r.body);
    return r.status == 200 && v.is_array() ? v.as_array() : json::array{};
  }

  // Prometheus pushing one rule's alert to base_.
  std::unique_ptr<PrometheusProcess> StartPrometheus(const PrometheusRule& rule) {
    PrometheusProcess::Options options;
    options.alertmanager = "127.0.0.1:" + std::to_string(server_->Port());
    options.path_prefix = "/integrations/alertmanager/" + key_;
    options.rules.push_back(rule);
    std::string error;
    auto p = PrometheusProcess::Start(options, &error);
    EXPECT_TRUE(p) << error;
    return p;
  }

  fs::path dir_;
  std::unique_ptr<TestServer> server_;
  std::string key_, base_;
};

// (a) Prometheus → opsorch: the rule fires and the service's incident opens; the rule stops
// firing and the incident resolves.
TEST_F(AlertmanagerClientsOpsorch, PrometheusFiringOpensAndResolvedResolvesTheIncident) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto prometheus = StartPrometheus({.alert = "CheckoutErrorRate",
                                     .labels = {{"severity", "critical"}, {"service", "checkout"}},
                                     .annotations = {{"summary", "Checkout error rate above 5%"}}});
  ASSERT_TRUE(prometheus);

  json::array incidents;
  ASSERT_TRUE(WaitFor(
      [&] {
        incidents = Incidents();
        return !incidents.empty();
      },
      kFirstPush))
      << "no incident; Prometheus's Alertmanagers: " << prometheus->Api("/api/v1/alertmanagers")
      << "\nlog:\n"
      << prometheus->Log();
  ASSERT_EQ(incidents.size(), 1u) << json::serialize(incidents);
  const std::string id = Str(incidents[0], "id");
  EXPECT_EQ(Str(incidents[0], "title"), "Checkout error rate above 5%");
  EXPECT_EQ(Str(incidents[0], "status"), "open");
  // The alert is listed as Alertmanager lists it, and refreshes (Prometheus resends every 2 s)
  // open no second incident.
  const json::value alert = FindAlert(ListAlerts(base_), "CheckoutErrorRate");
  ASSERT_FALSE(alert.is_null()) << json::serialize(ListAlerts(base_));
  EXPECT_EQ(Str(*At(alert, "status"), "state"), "active");
  EXPECT_EQ(Str(*At(alert, "labels"), "severity"), "critical");
  EXPECT_EQ(Str(*At(alert, "annotations"), "summary"), "Checkout error rate above 5%");
  const AmtoolResult listed = RunAmtool({"alert", "query"}, base_);
  ASSERT_EQ(listed.exit_code, 0) << Describe(listed);
  EXPECT_TRUE(Contains(listed.out, "CheckoutErrorRate")) << listed.out;

  prometheus->SetFiring("CheckoutErrorRate", false);
  ASSERT_TRUE(WaitFor(
      [&] {
        incidents = Incidents();
        return incidents.size() == 1 && Str(incidents[0], "status") == "resolved";
      },
      kSoon))
      << json::serialize(incidents);
  EXPECT_EQ(Str(incidents[0], "id"), id);
  EXPECT_TRUE(FindAlert(ListAlerts(base_), "CheckoutErrorRate").is_null())
      << "a resolved alert is not listed: " << json::serialize(ListAlerts(base_));
}

// (b) amtool silences an alert before Prometheus sends it: the alert is listed as suppressed,
// opens no incident and pages nobody; once amtool expires the silence, the still-firing alert
// opens its incident and pages.
TEST_F(AlertmanagerClientsOpsorch, AmtoolSilenceSuppressesUntilExpired) {
  PageReceiver pager;
  ASSERT_NO_FATAL_FAILURE(Start(&pager));

  AmtoolResult r = RunAmtool({"silence", "add", "alertname=DiskFull", "--comment=maintenance",
                              "--author=test", "--duration=1h"},
                             base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const std::string id = Trim(r.out);
  ASSERT_FALSE(id.empty()) << Describe(r);
  r = RunAmtool({"silence", "query", "-q"}, base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), id);
  r = RunAmtool({"-o", "json", "silence", "query"}, base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  const json::value silences = Parse(r.out);
  ASSERT_TRUE(silences.is_array() && silences.as_array().size() == 1) << r.out;
  EXPECT_EQ(Str(silences.as_array()[0], "createdBy"), "test");
  EXPECT_EQ(Str(*At(silences.as_array()[0], "status"), "state"), "active");

  auto prometheus = StartPrometheus({.alert = "DiskFull",
                                     .labels = {{"severity", "critical"}},
                                     .annotations = {{"summary", "Disk full on db-1"}}});
  ASSERT_TRUE(prometheus);

  // Listed as suppressed by the silence (by GET and by amtool), once Prometheus has pushed it.
  json::value alert;
  ASSERT_TRUE(WaitFor(
      [&] {
        alert = FindAlert(ListAlerts(base_, "?silenced=true"), "DiskFull");
        return !alert.is_null();
      },
      kFirstPush))
      << json::serialize(ListAlerts(base_))
      << "\nPrometheus's Alertmanagers: " << prometheus->Api("/api/v1/alertmanagers");
  EXPECT_EQ(Str(*At(alert, "status"), "state"), "suppressed") << json::serialize(alert);
  EXPECT_EQ(json::serialize(*At(*At(alert, "status"), "silencedBy")), "[\"" + id + "\"]");
  r = RunAmtool({"alert", "query", "--silenced"}, base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(Contains(r.out, "DiskFull") && Contains(r.out, "suppressed")) << r.out;
  r = RunAmtool({"alert", "query"}, base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_FALSE(Contains(r.out, "DiskFull")) << "amtool's default query hides silenced alerts";
  // Prometheus keeps resending it (every 2 s): still no incident, nobody paged.
  EXPECT_FALSE(
      WaitFor([&] { return !Incidents().empty() || pager.Pages("alice") > 0; }, milliseconds(4000)))
      << "a silenced alert opened an incident or paged: " << json::serialize(Incidents());

  r = RunAmtool({"silence", "expire", id}, base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  r = RunAmtool({"silence", "query", "-q"}, base_);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), "") << "an expired silence is not listed";

  // The alert still fires: its incident opens and alice is paged.
  json::array incidents;
  ASSERT_TRUE(WaitFor(
      [&] {
        incidents = Incidents();
        return !incidents.empty();
      },
      kSoon))
      << "the expired silence still suppresses: " << json::serialize(ListAlerts(base_));
  ASSERT_EQ(incidents.size(), 1u) << json::serialize(incidents);
  EXPECT_EQ(Str(incidents[0], "title"), "Disk full on db-1");
  EXPECT_EQ(Str(incidents[0], "status"), "open");
  EXPECT_TRUE(WaitFor([&] { return pager.Pages("alice") > 0; }, kSoon)) << "alice was not paged";
  alert = FindAlert(ListAlerts(base_), "DiskFull");
  ASSERT_FALSE(alert.is_null());
  EXPECT_EQ(Str(*At(alert, "status"), "state"), "active") << json::serialize(alert);
}

}  // namespace
}  // namespace opsorch::testing
