// PostgreSQL restarted under load, as an operator meets it: an `opsorch serve` process on a
// private cluster (scripts/pg-test-cluster; the shared one of `make test` must not be
// restarted), clients sending Events v2 events all along, and the server bounced
// (`pg_ctl restart -m fast`), stopped for a while and started again (`-m fast`), then crashed
// (`-m immediate`) and started again. What a user notices: every event answered 202 is stored
// exactly once; an event sent while the server is down is refused promptly, never hangs and is
// never answered 202; the same opsorch process takes events again by itself soon after the
// server is back; /metrics counts the reconnects.
//
// Needs PostgreSQL's binaries (as scripts/pg-test-cluster does); the test fails without them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "support/http_client.h"
#include "support/run_command.h"
#include "support/server_process.h"
#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kRoutingKey = "restart-routing-key-0000000000001";
constexpr std::string_view kSeed = R"json({"services": [{"id": "svc-restart", "name": "Restart",
  "integrations": [{"id": "restart-events", "kind": "events_v2",
                    "key": "restart-routing-key-0000000000001"}]}]})json";
// In the URL only: the cluster trusts loopback and never asks for it, so opsorch must carry it
// without ever writing it anywhere.
constexpr std::string_view kPassword = "pw-never-logged-5b1e";
constexpr int kClients = 4;
// Generous bounds, far above what a healthy run takes (milliseconds per answer; recovery
// within the 1 s reconnect pause the node is given): they only catch hangs.
constexpr milliseconds kAnswerLimit = seconds(10);
constexpr milliseconds kRecoveryLimit = seconds(30);
constexpr milliseconds kOutage = seconds(3);

// One event a client sent, by its unique dedup key.
struct Sent {
  std::string key;
  Clock::time_point sent, answered;
  int status = 0;  // 0: no answer within kAnswerLimit (or the connection broke)
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// The end of a log (a refused event is a line: an outage writes many).
std::string Tail(const std::string& log) {
  return log.substr(log.size() > 8192 ? log.size() - 8192 : 0);
}

// The cluster's owner runs pg_ctl: `postgres` when we are root (scripts/pg-test-cluster).
std::string PgCtl(const std::string& args) {
  const char* bin = std::getenv("PG_BIN");
  const std::string pg_ctl =
      std::string(bin != nullptr ? bin : "/usr/lib/postgresql/15/bin") + "/pg_ctl";
  return (::geteuid() == 0 ? "runuser -u postgres -- " : "") + pg_ctl + " " + args;
}

// Clients sending one event per request on keep-alive connections until stopped, each event
// with its own dedup key, recording every answer.
class Load {
 public:
  explicit Load(std::uint16_t port) {
    for (int c = 0; c < kClients; ++c) {
      threads_.emplace_back([this, port, c] { Run(port, c); });
    }
  }
  ~Load() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // The latest send time of an event answered 202 (to see the node take events again).
  Clock::time_point last_accepted_sent() const {
    return Clock::time_point(Clock::duration(last_accepted_sent_.load()));
  }

  std::vector<Sent> Results() const {
    std::vector<Sent> all;
    for (const auto& list : sent_) all.insert(all.end(), list.begin(), list.end());
    return all;
  }

 private:
  void Run(std::uint16_t port, int client) {
    auto http = std::make_unique<HttpClient>(port);
    std::vector<Sent>& out = sent_[static_cast<std::size_t>(client)];
    for (int n = 0; !stop_; ++n) {
      Sent s;
      s.key = "ev-" + std::to_string(client) + "-" + std::to_string(n);
      const std::string body = R"({"routing_key":")" + std::string(kRoutingKey) +
                               R"(","event_action":"trigger","dedup_key":")" + s.key +
                               R"(","payload":{"summary":"Restart )" + s.key +
                               R"(","source":"load","severity":"error"}})";
      // Raw, not Request: Request sends again after a broken connection, and a second copy of
      // an event would be indistinguishable from a duplicate stored by the engine.
      const std::string request =
          "POST /v2/enqueue HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
          "Content-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      s.sent = Clock::now();
      const HttpResponse r = http->Raw(request, static_cast<int>(kAnswerLimit.count()));
      s.answered = Clock::now();
      s.status = r.status;
      if (r.status == 202) {
        const auto at = s.sent.time_since_epoch().count();
        auto seen = last_accepted_sent_.load();
        while (seen < at && !last_accepted_sent_.compare_exchange_weak(seen, at)) {
        }
      }
      if (r.status == 0 || r.closed) http = std::make_unique<HttpClient>(port);  // a fresh one
      const bool refused = r.status != 202;
      out.push_back(std::move(s));
      // A little, as a sender does after an error: enough refusals to judge, not a flood.
      if (refused) std::this_thread::sleep_for(milliseconds(5));
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<Clock::rep> last_accepted_sent_{0};
  std::vector<Sent> sent_[kClients];
  std::vector<std::thread> threads_;
};

// The value of one series in a Prometheus exposition (-1 when absent).
double Series(const std::string& text, const std::string& series) {
  const std::string at = "\n" + series + " ";
  const auto p = text.find(at);
  if (p == std::string::npos) return -1;
  return std::atof(text.c_str() + p + at.size());
}

class EnginePgRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("opsorch-pg-restart-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cluster_ = dir_ / "pg";
  }

  void TearDown() override {
    server_.reset();  // killed and reaped if still running
    if (HasFailure()) {
      const std::string log = ReadAll(cluster_ / "log");
      std::cout << "[ pg log   ] (last 4 KiB)\n"
                << log.substr(log.size() > 4096 ? log.size() - 4096 : 0) << "\n";
    }
    const auto [rc, out] = RunCommand(Script() + " stop " + Quote(cluster_.string()));
    EXPECT_EQ(rc, 0) << "could not stop the private cluster: " << out;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string Script() {
    return std::string(OPSORCH_SOURCE_DIR) + "/scripts/pg-test-cluster";
  }
  std::string Data() const { return Quote((cluster_ / "data").string()); }

  fs::path dir_, cluster_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(EnginePgRestart, EventsAcknowledgedAcrossRestartsAreStoredOnceAndTheNodeRecoversAlone) {
  // ---- a private cluster, and opsorch on it ----
  // Below the ephemeral ports (32768 up), where no outgoing connection can sit on the port
  // while the server is down, and apart from the shared clusters (35432 up) that another test
  // run may start meanwhile; a block of its own per process, so two runs do not meet either.
  const std::string first_port = std::to_string(20000 + 100 * (::getpid() % 100));
  const auto [started, printed] = RunCommand("PG_TEST_FIRST_PORT=" + first_port + " " + Script() +
                                             " start " + Quote(cluster_.string()));
  ASSERT_EQ(started, 0) << printed;
  // postgres://postgres@127.0.0.1:<port>/postgres
  const std::string admin_url = Trim(ReadAll(cluster_ / "url"));
  ASSERT_TRUE(admin_url.starts_with("postgres://postgres@")) << printed;
  const std::string port =
      admin_url.substr(admin_url.rfind(':') + 1, admin_url.rfind('/') - admin_url.rfind(':') - 1);
  const std::string url = "postgres://postgres:" + std::string(kPassword) + "@" +
                          admin_url.substr(std::string("postgres://postgres@").size());

  // An operator's default of asynchronous commits must not reach the node's syncs (they would
  // vouch for commits still in memory): here the role's default is off.
  const auto [altered, alter_out] =
      RunCommand("psql -X -q -d " + Quote(admin_url) + " -c " +
                 Quote("ALTER ROLE postgres SET synchronous_commit = off") + " 2>&1");
  ASSERT_EQ(altered, 0) << alter_out;

  std::ofstream(dir_ / "seed.json") << kSeed;
  std::string error;
  server_ = ServerProcess::Start({{"OPSORCH_DATA_DIR", (dir_ / "data").string()},
                                  {"OPSORCH_INCIDENT_PROVIDER", "local"},
                                  {"OPSORCH_ALERT_PROVIDER", "local"},
                                  {"OPSORCH_ENGINE_STORE", url},
                                  {"OPSORCH_ENGINE_SEED", (dir_ / "seed.json").string()},
                                  {"OPSORCH_ENGINE_PG_POOL", "4"},
                                  {"OPSORCH_ENGINE_PG_RECONNECT_MAX", "1s"}},
                                 {}, dir_ / "opsorch.log", &error);
  ASSERT_NE(server_, nullptr) << error;
  const pid_t pid = server_->pid();

  // ---- the load, and the server going away three times under it ----
  struct Phase {
    std::string name;
    Clock::time_point down;  // pg_ctl stop returned: nothing can commit from here…
    Clock::time_point up;    // … until pg_ctl start began
    bool window = false;     // down/up are set (not for the plain restart)
    milliseconds recovery{0};
  };
  std::vector<Phase> phases;
  std::vector<std::string> failures;
  {
    const auto t0 = Clock::now();
    const auto ms = [&t0](Clock::time_point t) {
      return "+" + std::to_string(std::chrono::duration_cast<milliseconds>(t - t0).count()) + " ms";
    };
    Load load(server_->port());
    const auto accepting_since = [&](Clock::time_point t) {
      return WaitFor([&] { return load.last_accepted_sent() >= t; }, kRecoveryLimit);
    };
    ASSERT_TRUE(accepting_since(Clock::now())) << "no event accepted before any restart\n"
                                               << Tail(server_->Log());
    std::this_thread::sleep_for(seconds(1));

    const auto run = [&](const std::string& what) {
      const auto [rc, out] = RunCommand(PgCtl(what));
      if (rc != 0) failures.push_back("pg_ctl " + what + ": " + out);
      return rc == 0;
    };
    // With a log file: without one the server would keep the pipe RunCommand reads open.
    const std::string log = " -l " + Quote((cluster_ / "log").string());
    for (const std::string mode : {"restart", "fast", "immediate"}) {
      Phase p{.name = mode};
      if (mode == "restart") {
        p.down = Clock::now();  // for the failure messages only: no window to judge
        if (!run("restart -D " + Data() + log + " -m fast -w -t 60")) break;
        p.up = Clock::now();
      } else {
        if (!run("stop -D " + Data() + " -m " + mode + " -w -t 60")) break;
        p.down = Clock::now();
        std::this_thread::sleep_for(kOutage);  // the clients keep sending
        p.up = Clock::now();
        p.window = true;
        if (!run("start -D " + Data() + log + " -w -t 60 -o " + Quote("-p " + port))) break;
      }
      const auto back = Clock::now();
      // Taking events again by itself: an event sent after the server was back is accepted.
      if (!accepting_since(back)) {
        failures.push_back(mode + ": no event accepted within " +
                           std::to_string(kRecoveryLimit.count()) + " ms of PostgreSQL's return");
        break;
      }
      p.recovery = std::chrono::duration_cast<milliseconds>(load.last_accepted_sent() - back);
      phases.push_back(p);
      std::this_thread::sleep_for(seconds(1));  // under load, healthy, before the next one
    }
    load.Stop();
    ASSERT_TRUE(failures.empty()) << failures.front() << "\n" << Tail(server_->Log());
    ASSERT_EQ(phases.size(), 3u);

    // ---- every answer came, and promptly; none while the server was down was a 202 ----
    const std::vector<Sent> sent = load.Results();
    std::set<std::string> accepted;
    std::map<int, int> statuses;
    std::map<std::string, int> refused_while_down;
    std::vector<std::string> problems;
    for (const Sent& s : sent) {
      ++statuses[s.status];
      if (s.status == 202) accepted.insert(s.key);
      if (s.status == 0 && problems.size() < 10) {
        problems.push_back(s.key + " got no answer within " + std::to_string(kAnswerLimit.count()) +
                           " ms");
      }
      for (const Phase& p : phases) {
        // Sent once the server was gone and answered before it was started: nothing can have
        // been committed, so nothing may have been acknowledged.
        if (!p.window || s.sent < p.down || s.answered > p.up) continue;
        if (s.status >= 200 && s.status < 300) {
          problems.push_back(s.key + " was answered " + std::to_string(s.status) +
                             " while PostgreSQL was stopped (" + p.name + ")");
        } else {
          ++refused_while_down[p.name];
        }
      }
    }
    std::string summary;
    for (const auto& [status, n] : statuses) {
      summary += " " + std::to_string(status) + "×" + std::to_string(n);
    }
    for (const Phase& p : phases) {
      summary += "; " + p.name + " (" + ms(p.down) + " to " + ms(p.up) + "): accepting again " +
                 std::to_string(p.recovery.count()) + " ms after PostgreSQL was back";
      if (p.window) summary += ", " + std::to_string(refused_while_down[p.name]) + " refused";
    }
    std::cout << "[ events   ] " << sent.size() << " sent:" << summary << "\n";
    EXPECT_TRUE(problems.empty()) << problems.size() << " problems, e.g. " << problems.front();
    for (const Phase& p : phases) {
      if (p.window) {
        EXPECT_GT(refused_while_down[p.name], 0)
            << p.name << ": no event was sent and answered while the server was down";
      }
    }
    EXPECT_GT(accepted.size(), 100u) << summary;

    // ---- stored: each acknowledged event exactly once, nothing that was never sent ----
    const auto [rc, rows] = RunCommand("psql -X -A -t -q -d " + Quote(admin_url) +
                                       " -c 'SELECT dedup_key, count(*) FROM alerts GROUP BY 1'");
    ASSERT_EQ(rc, 0) << rows;
    std::map<std::string, const Sent*> all_sent;
    for (const Sent& s : sent) all_sent.emplace(s.key, &s);
    std::map<std::string, int> stored;
    std::size_t at = 0;
    while (at < rows.size()) {
      std::size_t end = rows.find('\n', at);
      if (end == std::string::npos) end = rows.size();
      const std::string line = rows.substr(at, end - at);
      at = end + 1;
      const auto bar = line.find('|');
      if (bar == std::string::npos) continue;
      stored[line.substr(0, bar)] = std::atoi(line.c_str() + bar + 1);
    }
    std::vector<std::string> storage;
    for (const auto& [key, n] : stored) {
      if (!all_sent.contains(key)) storage.push_back(key + " is stored but was never sent");
      if (n != 1) storage.push_back(key + " is stored " + std::to_string(n) + " times");
    }
    for (const std::string& key : accepted) {
      if (!stored.contains(key)) {
        const Sent& s = *all_sent.at(key);
        storage.push_back(key + " was answered 202 but is not stored (sent " + ms(s.sent) +
                          ", answered " + ms(s.answered) + ";" + summary + ")");
      }
    }
    EXPECT_TRUE(storage.empty()) << storage.size() << " problems, e.g. " << storage.front();
  }

  // ---- the same process throughout, and what it reports ----
  ASSERT_TRUE(server_->Running()) << Tail(server_->Log());
  EXPECT_EQ(server_->pid(), pid);
  HttpClient c(server_->port());
  const HttpResponse m = c.Request("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  // Each outage cut the writer's connection, and ingestion resumed after each: the writer
  // reconnected at least once per outage.
  EXPECT_GE(Series(m.body, R"(opsorch_engine_pg_reconnects_total{role="writer",result="ok"})"), 3)
      << m.body;
  EXPECT_GT(Series(m.body, "opsorch_engine_pg_unavailable_total"), 0);
  const double writer_trips =
      Series(m.body, R"(opsorch_engine_pg_round_trip_seconds_count{role="writer"})");
  EXPECT_GT(writer_trips, 0);
  std::cout << "[ metrics  ] writer: " << writer_trips << " round trips, mean "
            << 1000 * Series(m.body, R"(opsorch_engine_pg_round_trip_seconds_sum{role="writer"})") /
                   writer_trips
            << " ms; reconnects "
            << Series(m.body, R"(opsorch_engine_pg_reconnects_total{role="writer",result="ok"})")
            << " ok, "
            << Series(m.body,
                      R"(opsorch_engine_pg_reconnects_total{role="writer",result="failed"})")
            << " failed; refused at once " << Series(m.body, "opsorch_engine_pg_unavailable_total")
            << "\n";
  EXPECT_GE(Series(m.body, R"(opsorch_engine_pg_round_trip_seconds_count{role="pool"})"), 0);
  EXPECT_EQ(Series(m.body, "opsorch_engine_pg_pool_max_connections"), 4);
  EXPECT_GE(Series(m.body, R"(opsorch_engine_pg_pool_connections{state="idle"})"), 0);
  EXPECT_LE(Series(m.body, R"(opsorch_engine_pg_pool_connections{state="in_use"})"), 4);
  EXPECT_EQ(m.body.find(kPassword), std::string::npos) << "the store URL's password in /metrics";
  std::ofstream(dir_ / "metrics.txt") << m.body;
  const auto [lint, said] =
      RunCommand("promtool check metrics < " + Quote((dir_ / "metrics.txt").string()));
  EXPECT_EQ(lint, 0) << "promtool (Debian package prometheus) on /metrics: " << said;
  const std::string log = server_->Log();
  EXPECT_EQ(log.find(kPassword), std::string::npos) << "the store URL's password in the log";
  EXPECT_NE(log.find("postgres: connected again"), std::string::npos) << Tail(log);
}

}  // namespace
}  // namespace opsorch::testing
