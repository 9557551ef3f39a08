// opsorch's paging extension over HTTP (docs/API.md): lists keep the contract's shape, pages
// are bounded by a default and a maximum, and X-OpsOrch-Next-Cursor / Link lead to the next
// page; the timeline's default view coalesces repeats and its raw view pages.
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/test_server.h"

namespace opsorch::testing {
namespace {

namespace json = boost::json;

class Paging : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("opsorch-paging-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = TestServer::Start({{"OPSORCH_DATA_DIR", dir_.string()}}, /*demo=*/true);
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    client_ = std::make_unique<HttpClient>(server_->Port());
    // The demo's svc-database names a runbook whose runs would write on the timelines these
    // tests count: this service starts none here.
    auto svc = client_->Request("GET", "/admin/services/svc-database");
    ASSERT_EQ(svc.status, 200) << svc.body;
    json::object got = json::parse(svc.body).as_object(), doc;
    for (const char* k :
         {"name", "description", "team", "ackTargetMinutes", "resolveTargetMinutes", "tags",
          "escalationPolicy", "ackTimeoutMinutes", "autoResolveMinutes", "muteIntervals"}) {
      if (got.contains(k) && !got.at(k).is_null()) doc[k] = got.at(k);
    }
    ASSERT_EQ(
        client_->Request("PUT", "/admin/services/svc-database", {}, json::serialize(doc)).status,
        200);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // `n` events on the demo service: distinct keys (n incidents), or one key repeated.
  void Send(int n, bool same_key, std::string_view severity = "warning") {
    for (int done = 0; done < n;) {
      std::string batch = "[";
      for (int i = 0; i < 1000 && done < n; ++i, ++done) {
        if (i > 0) batch += ",";
        batch += R"({"routing_key":"demo-routing-key-000000000000002","event_action":"trigger",)"
                 R"("dedup_key":")" +
                 (same_key ? std::string("flap") : "key-" + std::to_string(done)) +
                 R"(","payload":{"summary":"paging test","source":"x","severity":")" +
                 std::string(severity) + R"("}})";
      }
      batch += "]";
      auto r = client_->Request("POST", "/v2/enqueue/batch", {}, batch);
      ASSERT_EQ(r.status, 202) << r.body.substr(0, 200);
    }
  }

  // Follows Link headers from `path`; the ids of every page, in order.
  std::vector<std::vector<std::string>> Walk(const std::string& method, std::string path,
                                             const std::string& body) {
    std::vector<std::vector<std::string>> pages;
    while (true) {
      auto r = client_->Request(method, path, {}, body);
      EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
      if (r.status != 200) break;
      std::vector<std::string> ids;
      const json::value doc = json::parse(r.body);
      if (!doc.is_array()) {
        ADD_FAILURE() << path << ": " << r.body.substr(0, 300);
        break;
      }
      for (const auto& v : doc.as_array()) {
        if (!v.is_object()) {
          ADD_FAILURE() << path << ": " << r.body.substr(0, 300);
          break;
        }
        ids.emplace_back(v.as_object().at("id").as_string());
      }
      pages.push_back(std::move(ids));
      const std::string link = r.Header("Link");
      if (link.empty()) {
        EXPECT_EQ(r.Header("X-OpsOrch-Next-Cursor"), "");
        break;
      }
      EXPECT_EQ(link.substr(link.size() - 13), ">; rel=\"next\"");
      path = link.substr(1, link.find('>') - 1);
      if (pages.size() > 100) break;
    }
    return pages;
  }

  std::filesystem::path dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(Paging, IncidentQueriesArePagedNewestFirst) {
  Send(250, false);
  const auto pages = Walk("POST", "/incidents/query", R"({"query":"paging test"})");
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].size(), 100u);
  EXPECT_EQ(pages[1].size(), 100u);
  EXPECT_EQ(pages[2].size(), 50u);
  std::set<std::string> seen;
  std::int64_t previous = INT64_MAX;
  for (const auto& page : pages) {
    for (const auto& id : page) {
      EXPECT_TRUE(seen.insert(id).second) << id << " twice";
      const std::int64_t seq = std::stoll(id.substr(4));
      EXPECT_LT(seq, previous);
      previous = seq;
    }
  }
  // A limit is a page size, at most 1000; the cursor is checked.
  auto r = client_->Request("POST", "/incidents/query", {}, R"({"limit":7})");
  EXPECT_EQ(json::parse(r.body).as_array().size(), 7u);
  r = client_->Request("POST", "/incidents/query?after=inc-x", {}, "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("after: not a cursor of this list"), std::string::npos) << r.body;
  r = client_->Request("POST", "/alerts/query?after=inc-5", {}, "{}");
  EXPECT_EQ(r.status, 400);
}

TEST_F(Paging, TheLargestPageIsAThousand) {
  Send(1200, false);
  auto r = client_->Request("POST", "/incidents/query", {}, R"({"limit":5000})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).as_array().size(), 1000u);
  EXPECT_FALSE(r.Header("X-OpsOrch-Next-Cursor").empty());
  r = client_->Request("POST", "/alerts/query", {}, R"({"limit":5000,"statuses":["triggered"]})");
  EXPECT_EQ(json::parse(r.body).as_array().size(), 1000u);
  EXPECT_FALSE(r.Header("Link").empty());
  r = client_->Request("POST", "/alerts/query", {},
                       R"({"query":"paging test","statuses":["resolved"]})");
  EXPECT_EQ(r.body, "[]\n");
}

TEST_F(Paging, TimelinesCoalesceRepeatsByDefaultAndPageRawEntries) {
  Send(1500, true);
  Send(1, true, "critical");  // raises the severity: stays apart
  Send(500, true, "critical");
  auto q = client_->Request("POST", "/incidents/query", {}, R"({"query":"paging test","limit":1})");
  const std::string id(json::parse(q.body).as_array()[0].as_object().at("id").as_string());
  auto r = client_->Request("GET", "/incidents/" + id + "/timeline");
  ASSERT_EQ(r.status, 200);
  const json::array view = json::parse(r.body).as_array();
  ASSERT_EQ(view.size(), 4u) << r.body;
  EXPECT_EQ(view[0].at("kind"), "triggered");
  EXPECT_EQ(view[1].at("kind"), "deduplicated");
  EXPECT_EQ(view[1].at("metadata").at("coalesced").at("count"), 1499);
  EXPECT_NE(view[2].at("body").as_string().find("severity raised from warning to critical"),
            std::string::npos);
  EXPECT_EQ(view[3].at("metadata").at("coalesced").at("count"), 500);
  EXPECT_EQ(r.Header("Link"), "");

  // Raw: every entry once, in pages of the requested size.
  const auto pages = Walk("GET", "/incidents/" + id + "/timeline?raw=true&limit=400", "");
  ASSERT_EQ(pages.size(), 6u);
  std::set<std::string> seen;
  std::size_t total = 0;
  for (const auto& p : pages) {
    total += p.size();
    for (const auto& e : p) EXPECT_TRUE(seen.insert(e).second) << e;
  }
  EXPECT_EQ(total, 2001u);
  EXPECT_EQ(client_->Request("GET", "/incidents/" + id + "/timeline?limit=0").status, 400);
  EXPECT_EQ(client_->Request("GET", "/incidents/" + id + "/timeline?after=nonsense").status, 400);
}

TEST_F(Paging, AdminListsArePagedToo) {
  for (int i = 0; i < 120; ++i) {
    auto r = client_->Request("PUT", "/admin/teams/team-" + std::to_string(1000 + i), {},
                              R"({"name":"Team"})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  const auto pages = Walk("GET", "/admin/teams?limit=50", "");
  ASSERT_GE(pages.size(), 3u);
  std::size_t total = 0;
  for (const auto& p : pages) total += p.size();
  EXPECT_GE(total, 120u);
  EXPECT_EQ(pages[0].size(), 50u);
  const auto teams = Walk("POST", "/teams/query", "{}");
  ASSERT_EQ(teams.size(), 2u);  // the default page is 100
  EXPECT_EQ(teams[0].size(), 100u);
}

}  // namespace
}  // namespace opsorch::testing
