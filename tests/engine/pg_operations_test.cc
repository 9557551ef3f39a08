// The PostgreSQL store in operation (docs/ENGINE.md, "PostgreSQL in operation"): the bounded
// pool and its wait, the statement timeout, the reconnect backoff, a connection the server
// closed while idle, and the metrics of all of it. A whole server restarted under load is
// tests/app/engine_pg_restart_test.cc.
//
// The cases with a database need OPSORCH_TEST_POSTGRES_URL (`make test` sets it); without it
// they fail, they do not skip.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/error.h>
#include <opsorch/engine/store.h>
#include <opsorch/metrics/metrics.h>

#include "engine/postgres/pg_db.h"
#include "engine/postgres/pg_group.h"
#include "engine/rules.h"
#include "engine/store_fixture.h"

namespace opsorch::engine {
namespace {

using Clock = std::chrono::steady_clock;
// The event tests' clock: a fixed time, and a second of it (times are Unix ns).
constexpr std::int64_t kT0 = 1'780'000'000LL * 1'000'000'000;
constexpr std::int64_t kSecond = 1'000'000'000;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

// Polls `pred` until it holds or `limit` passes.
template <class Pred>
bool Eventually(Pred pred, milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// A service with one Events v2 integration, for the tests that apply events.
IntegrationRow SeedService(Store& store, const std::string& service, std::int64_t at) {
  EXPECT_TRUE(store.UpsertService(ServiceRow{service, service, "", "", 900, 7200, {}, at}));
  const IntegrationRow integration{"int-1", service, "pd", "events_v2", "h", "abc", at, 0};
  EXPECT_TRUE(store.InsertIntegration(integration));
  return integration;
}

Event TriggerOf(std::string key, std::string summary) {
  Event e;
  e.action = EventAction::kTrigger;
  e.dedup_key = std::move(key);
  e.summary = std::move(summary);
  e.source = "test";
  e.origin = "events_v2";
  return e;
}

// The value of one series in a Prometheus exposition (-1 when absent).
double Series(const std::string& text, const std::string& series) {
  const std::string at = "\n" + series + " ";
  const auto p = text.find(at);
  return p == std::string::npos ? -1 : std::atof(text.c_str() + p + at.size());
}

TEST(PgReconnectBackoff, AfterAFailedConnectCallersFailAtOnceUntilThePauseRunsOut) {
  metrics::Counter refused;
  postgres::ReconnectBackoff b(milliseconds(400), &refused);
  // Up: every connect may be tried, none is the gated one.
  auto t = b.Begin();
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->gated);
  EXPECT_FALSE(b.Refusing());

  const auto failed_at = Clock::now();
  b.End(*t, false, "connection refused");
  auto early = b.Begin();
  if (Clock::now() - failed_at < postgres::ReconnectBackoff::kFirstPause) {
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().code, errc::kUnavailable);
    EXPECT_THAT(early.error().message, HasSubstr("unreachable"));
    EXPECT_EQ(refused.Value(), 1u);
  }

  // One attempt once the pause ran out; while it runs, everyone else is refused.
  Result<postgres::ReconnectBackoff::Ticket> gated = early;
  ASSERT_TRUE(Eventually(
      [&] {
        if (!gated) gated = b.Begin();
        return gated.has_value();
      },
      milliseconds(5000)));
  EXPECT_GE(Clock::now() - failed_at, postgres::ReconnectBackoff::kFirstPause);
  EXPECT_TRUE(gated->gated);
  auto meanwhile = b.Begin();
  ASSERT_FALSE(meanwhile);
  EXPECT_THAT(meanwhile.error().message, HasSubstr("reconnecting now"));
  EXPECT_TRUE(b.Refusing());

  // It fails too: the pause doubles.
  const auto second_failure = Clock::now();
  b.End(*gated, false, "connection refused");
  Result<postgres::ReconnectBackoff::Ticket> next = b.Begin();
  ASSERT_TRUE(Eventually(
      [&] {
        if (!next) next = b.Begin();
        return next.has_value();
      },
      milliseconds(5000)));
  EXPECT_GE(Clock::now() - second_failure, 2 * postgres::ReconnectBackoff::kFirstPause);

  // It succeeds: up again, nobody is refused.
  b.End(*next, true, "");
  EXPECT_FALSE(b.Refusing());
  auto up = b.Begin();
  ASSERT_TRUE(up);
  EXPECT_FALSE(up->gated);
  b.End(*up, true, "");
}

TEST(PgReconnectBackoff, ConnectsOfAnOutageFailingTogetherCountOnce) {
  postgres::ReconnectBackoff b(milliseconds(60'000), nullptr);
  auto x = b.Begin(), y = b.Begin(), z = b.Begin();
  ASSERT_TRUE(x && y && z);
  b.End(*x, false, "refused");
  b.End(*y, false, "refused");
  b.End(*z, false, "refused");
  // Counted separately they would double the pause twice before anyone tried again.
  EXPECT_EQ(b.FailuresForTest(), 1);
  EXPECT_TRUE(b.Refusing());
}

// Every statement is bounded by the configured timeout, and the round trips are timed.
TEST(PgConnection, StatementTimeoutAndRoundTrips) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  metrics::Histogram round_trip;
  postgres::ConnectOptions o;
  o.statement_timeout = milliseconds(1000);
  o.round_trip = &round_trip;
  auto c = postgres::Connection::Open(db->url, o);
  ASSERT_TRUE(c) << c.error().message;
  const std::uint64_t at_open = round_trip.Count();  // the session settings
  EXPECT_GE(at_open, 1u);
  auto shown = (*c)->Query("SHOW statement_timeout");
  ASSERT_TRUE(shown) << shown.error().message;
  EXPECT_EQ(shown->Text(0, 0), "1s");
  // A prepared statement's first use is two round trips (prepare, execute), later ones one.
  EXPECT_EQ(round_trip.Count(), at_open + 2);
  auto slow = (*c)->Query("SELECT pg_sleep(3)");
  ASSERT_FALSE(slow);
  EXPECT_THAT(slow.error().message, HasSubstr("57014"));  // query_canceled
  EXPECT_TRUE((*c)->Healthy());
  const std::uint64_t before_each = round_trip.Count();
  int rows = 0;
  ASSERT_TRUE(
      (*c)->QueryEach("SELECT generate_series(1, 50)", {}, [&](const postgres::Rows&) { ++rows; }));
  EXPECT_EQ(rows, 50);
  EXPECT_EQ(round_trip.Count(), before_each + 2);  // prepare, then one for all 50 rows

  // The default stays 30 s.
  auto plain = postgres::Connection::Open(db->url);
  ASSERT_TRUE(plain) << plain.error().message;
  auto dflt = (*plain)->Query("SHOW statement_timeout");
  ASSERT_TRUE(dflt);
  EXPECT_EQ(dflt->Text(0, 0), "30s");
}

// Statements sent without waiting (Connection::Defer, what a group's write and COMMIT use) are
// answered at the next drain, in order: the first failure is named with its place, the server
// skips the ones behind it (a COMMIT among them commits nothing), and the connection is usable
// afterwards. A COMMIT of a transaction that had failed answers ROLLBACK, which the caller can
// see; the rows of deferred statements can be had.
TEST(PgConnection, DeferredStatementsAreAnsweredInOrderAtTheDrain) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  auto c = postgres::Connection::Open(db->url);
  ASSERT_TRUE(c) << c.error().message;
  postgres::Connection& conn = **c;
  ASSERT_TRUE(conn.Exec("CREATE TABLE d (x int PRIMARY KEY)"));
  const auto count = [&] {
    auto r = conn.Query("SELECT count(*) FROM d");
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->Int(0, 0) : -1;
  };
  const postgres::Params none;
  ASSERT_TRUE(conn.Exec("BEGIN"));
  for (const char* sql : {"INSERT INTO d VALUES (1)", "INSERT INTO d VALUES (1)",
                          "INSERT INTO d VALUES (2)", "COMMIT"}) {
    ASSERT_TRUE(conn.Defer(sql, none));
  }
  EXPECT_EQ(conn.deferred(), 4u);
  std::size_t failed_at = 99;
  const Status drained = conn.Drain(&failed_at);
  ASSERT_FALSE(drained);
  EXPECT_EQ(failed_at, 1u) << "the duplicate is the second statement";
  EXPECT_EQ(drained.error().code, errc::kConflict);
  EXPECT_EQ(conn.deferred(), 0u);
  EXPECT_FALSE(conn.Idle()) << "the transaction is left for the caller to roll back";
  ASSERT_TRUE(conn.Exec("ROLLBACK"));
  EXPECT_EQ(count(), 0) << "a statement after the failed one ran";

  // A later call drains first: its error is the deferred statement's.
  ASSERT_TRUE(conn.Defer("INSERT INTO d VALUES (3)", none));
  ASSERT_TRUE(conn.Defer("SELECT 1/0", none));
  auto after = conn.Query("SELECT 1");
  ASSERT_FALSE(after);
  EXPECT_THAT(after.error().message, HasSubstr("22012"));
  EXPECT_EQ(conn.last_sqlstate(), "22012");
  EXPECT_EQ(count(), 0) << "the deferred statements are one implicit transaction, which failed";

  std::vector<postgres::Rows> rows;
  ASSERT_TRUE(conn.Defer("SELECT 41 + 1", none));
  ASSERT_TRUE(conn.Drain(nullptr, &rows));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].Int(0, 0), 42);

  // A transaction that failed, then a deferred COMMIT: answered, but as a ROLLBACK.
  ASSERT_TRUE(conn.Exec("BEGIN"));
  ASSERT_FALSE(conn.Query("SELECT 1/0"));
  rows.clear();
  ASSERT_TRUE(conn.Defer("COMMIT", none));
  ASSERT_TRUE(conn.Drain(nullptr, &rows));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].Command(), "ROLLBACK");
  EXPECT_TRUE(conn.Idle());
}

// A connection the server closed while it sat idle (as a restart does to a pool) is noticed and
// re-established before it is used, without a failed statement.
TEST(PgConnection, AConnectionClosedWhileIdleIsReconnectedBeforeUse) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  metrics::Counter ok, failed;
  postgres::ConnectOptions o;
  o.backoff = std::make_shared<postgres::ReconnectBackoff>(milliseconds(1000), nullptr);
  o.reconnects_ok = &ok;
  o.reconnects_failed = &failed;
  auto victim = postgres::Connection::Open(db->url, o);
  ASSERT_TRUE(victim) << victim.error().message;
  auto pid = (*victim)->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid);
  auto admin = postgres::Connection::Open(db->url);
  ASSERT_TRUE(admin);
  // Waits (up to 10 s) until the backend is gone, so its goodbye is on the victim's socket.
  auto killed = (*admin)->Query("SELECT pg_terminate_backend($1::int, 10000)",
                                postgres::Params().Add(pid->Text(0, 0)));
  ASSERT_TRUE(killed) << killed.error().message;
  ASSERT_EQ(killed->Text(0, 0), "t");
  ASSERT_TRUE((*victim)->EnsureConnected());
  EXPECT_EQ(ok.Value(), 1u);
  EXPECT_EQ(failed.Value(), 0u);
  auto again = (*victim)->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_NE(again->Text(0, 0), pid->Text(0, 0));
  auto timeout = (*victim)->Query("SHOW statement_timeout");  // settings re-applied
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->Text(0, 0), "30s");
}

// Notes the connection's server process, then defers BEGIN, SELECT 1 and COMMIT, flushed but
// not synced (as the writer leaves a group in flight). The pid, or "" (a failure added).
std::string DeferATransaction(postgres::Connection& c) {
  auto pid = c.Query("SELECT pg_backend_pid()");
  const postgres::Params none;
  if (!pid || !c.Defer("BEGIN", none, /*flush=*/false) ||
      !c.Defer("SELECT 1", none, /*flush=*/false) || !c.Defer("COMMIT", none, /*flush=*/true)) {
    ADD_FAILURE() << "could not defer the transaction";
    return "";
  }
  return pid->Text(0, 0);
}

// The connection reconnects for its next use: another server process than `pid`'s.
void ExpectANewSession(postgres::Connection& c, const std::string& pid) {
  ASSERT_TRUE(c.EnsureConnected());
  auto again = c.Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_NE(again->Text(0, 0), pid);
}

// Statements sent in a pipeline whose session the server then ends (a restart): reading their
// answers returns promptly, whether or not the connection had been asked for them before, and
// the connection reconnects for its next use. (The writer once spun in Drain after an immediate
// restart, libpq returning no result without reading the server's goodbye; this sequence does
// not reproduce that, which EnginePgRestart met about once in four runs under ASan.)
TEST(PgConnection, AnswersOfASessionTheServerEndedFailPromptly) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  auto admin = postgres::Connection::Open(db->url);
  ASSERT_TRUE(admin);
  for (const bool asked : {false, true}) {
    SCOPED_TRACE(asked ? "answers asked for first" : "drained at once");
    auto victim = postgres::Connection::Open(db->url);
    ASSERT_TRUE(victim) << victim.error().message;
    const std::string pid = DeferATransaction(**victim);
    ASSERT_FALSE(pid.empty());
    if (asked) (void)(*victim)->Answered(std::chrono::microseconds(0));
    auto killed =
        (*admin)->Query("SELECT pg_terminate_backend($1::int, 10000)", postgres::Params().Add(pid));
    ASSERT_TRUE(killed) << killed.error().message;
    auto drained = std::async(std::launch::async, [&] { return (*victim)->Drain(); });
    ASSERT_EQ(drained.wait_for(std::chrono::seconds(60)), std::future_status::ready)
        << "the drain did not return";
    (void)drained.get();  // answered before the end (all three), or failed: either is fine
    ExpectANewSession(**victim, pid);
  }
}

// libpq gone idle while the connection still waits for a pipeline's answers (its answers read
// behind its back: the state the writer once spun in, reached by a path not found): Answered
// says so at once instead of "not yet" for ever (Settle would have looped until the next group
// came), Drain returns with the statements failed instead of spinning, and the connection
// reconnects for its next use. Each step with and without Answered asked first.
TEST(PgConnection, APipelineLibpqStoppedReadingFailsInsteadOfWaitingForEver) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  for (const bool asked : {false, true}) {
    SCOPED_TRACE(asked ? "answers asked for first" : "drained at once");
    auto conn = postgres::Connection::Open(db->url);
    ASSERT_TRUE(conn) << conn.error().message;
    const std::string pid = DeferATransaction(**conn);
    ASSERT_FALSE(pid.empty());
    (*conn)->SwallowAnswersForTest();
    if (asked) {
      bool answered = false;
      for (int i = 0; i < 100 && !answered; ++i) {
        answered = (*conn)->Answered(std::chrono::microseconds(1000));
      }
      EXPECT_TRUE(answered) << "Answered kept saying not yet for 100 ms";
    }
    std::size_t failed_at = 99;
    auto drained = std::async(std::launch::async, [&] { return (*conn)->Drain(&failed_at); });
    ASSERT_EQ(drained.wait_for(std::chrono::seconds(30)), std::future_status::ready)
        << "the drain did not return";
    EXPECT_FALSE(drained.get()) << "statements nobody answered counted as answered";
    EXPECT_EQ(failed_at, 0u) << "the first statement unanswered";
    ExpectANewSession(**conn, pid);
  }
}

// The other side of the test above: a pipeline the server is still working on, or one an error
// aborted, is not taken for one libpq stopped reading. Answered says "not yet" while a
// statement sleeps, then "answered"; the drain, after it or alone, gives every answer (or the
// error, at its statement) and the session is kept. (The server sends a pipeline's answers
// when it reaches the sync, so "answered" cannot come early, whatever Answered did.)
TEST(PgConnection, APipelineStillAtWorkOrAbortedKeepsItsSession) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  auto conn = postgres::Connection::Open(db->url);
  ASSERT_TRUE(conn) << conn.error().message;
  auto pid = (*conn)->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid);
  const postgres::Params none;
  struct Case {
    std::vector<std::string> statements;
    std::size_t failing;  // the statement whose error the drain names; size(): none fails
    bool sleeps;          // a statement sleeps: nothing can be answered at once
  };
  for (const Case& c : {Case{{"BEGIN", "SELECT pg_sleep(0.3)", "SELECT 1", "COMMIT"}, 4, true},
                        Case{{"BEGIN", "SELECT 1", "SELECT 1/0", "SELECT 2", "COMMIT"}, 2, false},
                        Case{{"SELECT pg_sleep(0.2)", "SELECT 1/0", "SELECT 3"}, 1, true}}) {
    for (const bool asked : {true, false}) {
      SCOPED_TRACE(c.statements[1] + " / " + c.statements[2] +
                   (asked ? ", answers asked for first" : ", drained at once"));
      for (std::size_t i = 0; i < c.statements.size(); ++i) {
        ASSERT_TRUE((*conn)->Defer(c.statements[i], none, i + 1 == c.statements.size()));
      }
      if (asked) {
        if (c.sleeps) {
          EXPECT_FALSE((*conn)->Answered(std::chrono::microseconds(0))) << "answered at once";
        }
        bool answered = false;
        for (int i = 0; i < 5000 && !answered; ++i) {
          answered = (*conn)->Answered(std::chrono::microseconds(1000));
        }
        EXPECT_TRUE(answered);
      }
      std::size_t failed_at = 99;
      std::vector<postgres::Rows> rows;
      const Status st = (*conn)->Drain(&failed_at, &rows);
      if (c.failing == c.statements.size()) {
        EXPECT_TRUE(st) << st.error().message;
        EXPECT_EQ(rows.size(), c.statements.size());
        ASSERT_GE(rows.size(), 3u);
        EXPECT_EQ(rows[2].Text(0, 0), "1");
      } else {
        EXPECT_FALSE(st);
        EXPECT_EQ(failed_at, c.failing);
        if (!(*conn)->Idle()) (void)(*conn)->Exec("ROLLBACK");
      }
      ASSERT_TRUE((*conn)->Healthy());
      auto again = (*conn)->Query("SELECT pg_backend_pid()");
      ASSERT_TRUE(again) << again.error().message;
      EXPECT_EQ(again->Text(0, 0), pid->Text(0, 0)) << "the session was given up";
    }
  }
}

// A store opens at most OPSORCH_ENGINE_PG_POOL pool connections: a caller finding them all in
// use waits, then fails with `unavailable`; /metrics shows the pool and the waits.
TEST(PgStorePool, CallersBeyondThePoolWaitThenFail) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  metrics::Registry registry;
  StoreOptions options;
  options.pg_pool = 1;
  options.pg_pool_wait = milliseconds(300);
  options.metrics = &registry;
  auto store = OpenStore(db->url, options);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-pool", 1);
  auto applied = ApplyOn(**store, integration, TriggerOf("k1", "Pool"), 2);
  ASSERT_TRUE(applied) << applied.error().message;

  // The one connection is held by a timeline scan while its callback runs.
  std::promise<void> holding, release;
  auto released = release.get_future().share();
  std::thread holder([&] {
    bool first = true;
    auto st = (*store)->ScanTimeline(applied->incident_id, {}, 0, [&](TimelineRow&&) {
      if (first) {
        first = false;
        holding.set_value();
        released.wait();
      }
      return true;
    });
    EXPECT_TRUE(st) << st.error().message;
  });
  holding.get_future().wait();
  std::string text = registry.Render();
  EXPECT_EQ(Series(text, R"(opsorch_engine_pg_pool_connections{state="in_use"})"), 1) << text;
  EXPECT_EQ(Series(text, "opsorch_engine_pg_pool_max_connections"), 1);

  const auto start = Clock::now();
  auto refused = (*store)->Services();
  const auto waited = Clock::now() - start;
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::kUnavailable);
  EXPECT_THAT(refused.error().message, HasSubstr("busy"));
  EXPECT_GE(waited, milliseconds(300));
  EXPECT_LT(waited, milliseconds(5000));

  // A caller that waits while the connection comes free gets it.
  auto later = std::async(std::launch::async, [&] { return (*store)->Services(); });
  ASSERT_TRUE(Eventually(
      [&] { return Series(registry.Render(), "opsorch_engine_pg_pool_waits_total") >= 2; },
      milliseconds(5000)));
  release.set_value();
  holder.join();
  auto served = later.get();
  ASSERT_TRUE(served) << served.error().message;
  EXPECT_EQ(served->size(), 1u);

  text = registry.Render();
  EXPECT_EQ(Series(text, "opsorch_engine_pg_pool_waits_total"), 2) << text;
  EXPECT_EQ(Series(text, "opsorch_engine_pg_pool_wait_timeouts_total"), 1);
  EXPECT_EQ(Series(text, R"(opsorch_engine_pg_pool_connections{state="in_use"})"), 0);
  EXPECT_EQ(Series(text, R"(opsorch_engine_pg_pool_connections{state="idle"})"), 1);
  EXPECT_GT(Series(text, R"(opsorch_engine_pg_round_trip_seconds_count{role="writer"})"), 0);
  EXPECT_GT(Series(text, R"(opsorch_engine_pg_round_trip_seconds_count{role="pool"})"), 0);
  EXPECT_EQ(Series(text, R"(opsorch_engine_pg_reconnects_total{role="pool",result="ok"})"), 0);
  EXPECT_EQ(Series(text, "opsorch_engine_pg_unavailable_total"), 0);
  // No SQL in any label: the only labels are the role, the state and the result.
  EXPECT_EQ(text.find("SELECT"), std::string::npos);

  // Gone with its store: the registry (a server's, living on) shows no stale pool.
  store->reset();
  EXPECT_EQ(registry.Render().find("opsorch_engine_pg_pool_connections"), std::string::npos);
}

// A group reads its open incidents without locking them and writes each back only if it is
// still the version read: a change made by another session in between (an API call on another
// node) is neither overwritten nor lost; the group runs again on top of it.
TEST(PgGroupModel, AnIncidentChangedElsewhereAfterTheGroupReadItIsNotOverwritten) {
  std::string url;
  auto store = OpenTestStore("postgres", &url);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-db", kT0);
  const Event trigger = TriggerOf("k1", "disk full");
  auto first = ApplyOn(**store, integration, trigger, kT0);
  ASSERT_TRUE(first) << first.error().message;

  auto other = postgres::Connection::Open(url);
  ASSERT_TRUE(other) << other.error().message;
  // Were the row locked by the group, this would wait for the group, which waits for it.
  ASSERT_TRUE((*other)->Exec("SET lock_timeout = '5s'"));
  int calls = 0;  // the probe, the attempt with the group's reads, a rerun
  Status changed = Ok();
  Outcome out;
  std::vector<Status> results;
  ASSERT_TRUE((*store)->WriteBatch(
      {[&](Tx& tx) -> Status {
        if (++calls == 2) {
          changed = (*other)->Exec(
              "UPDATE incidents SET status='acknowledged', "
              "acknowledged_at=" +
              std::to_string(kT0 + 1) + " WHERE seq=" + first->incident_id.substr(4));
        }
        auto r = ApplyEvent(tx, integration, trigger, kT0 + 1'000'000'000, {});
        if (!r) return Fail(std::move(r.error()));
        out = *r;
        return Ok();
      }},
      results));
  ASSERT_TRUE(changed) << changed.error().message;
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0]) << results[0].error().message;
  EXPECT_GE(calls, 3) << "the group was not run again";
  EXPECT_EQ(out.action, "deduplicated");
  EXPECT_EQ(out.incident_id, first->incident_id);
  auto inc = (*store)->GetIncident(first->incident_id);
  ASSERT_TRUE(inc && inc->has_value());
  EXPECT_EQ((*inc)->status, "acknowledged") << "the other session's change was overwritten";
  EXPECT_EQ((*inc)->acknowledged_at, kT0 + 1);
  EXPECT_EQ((*inc)->alert_count, 2) << "the event was lost";
}

// The newest resolved incident of every key is read without a lock when a unit first asks for
// one; written back (a note through the API adds to its timeline count) it is checked the same
// way, so a change made elsewhere in between is not overwritten.
TEST(PgGroupModel, AResolvedIncidentChangedElsewhereAfterTheGroupReadItIsNotOverwritten) {
  std::string url;
  auto store = OpenTestStore("postgres", &url);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-db", kT0);
  auto first = ApplyOn(**store, integration, TriggerOf("k1", "disk full"), kT0);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(ResolveThroughApi(**store, first->incident_id, kT0 + kSecond));
  Event ack = TriggerOf("k1", "");
  ack.action = EventAction::kAcknowledge;  // k1 has no open incident: nothing to acknowledge
  Event resolve = TriggerOf("k2", "");
  resolve.action = EventAction::kResolve;  // k2 has none either: the resolved ones are read

  auto other = postgres::Connection::Open(url);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE((*other)->Exec("SET lock_timeout = '5s'"));
  int calls = 0;
  Status changed = Ok();
  std::vector<Status> results;
  const auto event = [&](const Event& e) {
    return [&integration, e](Tx& tx) -> Status {
      auto r = ApplyEvent(tx, integration, e, kT0 + 2 * kSecond, {});
      return r ? Ok() : Status(Fail(std::move(r.error())));
    };
  };
  ASSERT_TRUE((*store)->WriteBatch(
      {event(ack), event(resolve),
       [&](Tx& tx) -> Status {
         if (++calls == 2) {  // the attempt with the group's reads (the first is the probe)
           changed = (*other)->Exec("UPDATE incidents SET urgency='low', updated_at=" +
                                    std::to_string(kT0 + 3 * kSecond) +
                                    " WHERE seq=" + first->incident_id.substr(4));
         }
         TimelineRow note;
         note.incident_id = first->incident_id;
         note.at = kT0 + 2 * kSecond;
         note.kind = "note";
         note.body = "after the fact";
         return tx.AppendTimeline(note);
       }},
      results));
  ASSERT_TRUE(changed) << changed.error().message;
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) ASSERT_TRUE(r) << r.error().message;
  auto inc = (*store)->GetIncident(first->incident_id);
  ASSERT_TRUE(inc && inc->has_value());
  EXPECT_EQ((*inc)->urgency, "low") << "the other session's change was overwritten";
  EXPECT_EQ((*inc)->updated_at, kT0 + 3 * kSecond);
  auto notes = (*store)->TimelineOfKind(first->incident_id, "note", 10);
  ASSERT_TRUE(notes) << notes.error().message;
  EXPECT_EQ(notes->size(), 1u);
}

}  // namespace
}  // namespace opsorch::engine

namespace opsorch::engine {
namespace {

// Commits do not wait for the WAL flush; Sync does, and vouches only for commits of a writer
// session that is still alive after the flush. A session killed between its commit and the sync
// (as a crash of the server would) fails that sync and the next, which may answer for the same
// commits; once the writer is on a new session and its commits are covered, syncs succeed again.
// A writer keeps its keys' open incidents from one group to the next (pg_group.h,
// OpenIncidentCache) and reads nothing for them; an incident changed by anyone else in between
// must not be taken from that memory. Resolved through another session, the next trigger of its
// key opens a new incident instead of adding to (and reopening) the resolved one; acknowledged,
// the next trigger keeps the acknowledgement. A unit that only reads (and so writes nothing the
// flush could check) sees the change too.
TEST(PgGroupModel, AnIncidentChangedBetweenGroupsIsNotTakenFromTheWritersMemory) {
  std::string url;
  auto store = OpenTestStore("postgres", &url);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-db", kT0);
  auto resolved = ApplyOn(**store, integration, TriggerOf("k1", "disk full"), kT0);
  auto acked = ApplyOn(**store, integration, TriggerOf("k2", "cpu high"), kT0);
  auto read_only = ApplyOn(**store, integration, TriggerOf("k3", "memory"), kT0);
  ASSERT_TRUE(resolved && acked && read_only);
  // The same keys again: the writer now holds all three from a group of its own.
  ASSERT_TRUE(ApplyOn(**store, integration, TriggerOf("k1", "disk full"), kT0 + kSecond));

  auto other = postgres::Connection::Open(url);
  ASSERT_TRUE(other) << other.error().message;
  const auto seq = [](const std::string& id) { return id.substr(4); };
  ASSERT_TRUE((*other)->Exec(
      "UPDATE incidents SET status='resolved', resolved_at=" + std::to_string(kT0 + 2 * kSecond) +
      ", updated_at=" + std::to_string(kT0 + 2 * kSecond) +
      " WHERE seq=" + seq(resolved->incident_id) +
      "; UPDATE incidents SET status='acknowledged', "
      "acknowledged_at=" +
      std::to_string(kT0 + 2 * kSecond) + " WHERE seq IN (" + seq(acked->incident_id) + ", " +
      seq(read_only->incident_id) + ")"));

  // First (a group that finds its memory stale forgets all of it): k3 is in the writer's
  // memory as open and not acknowledged; a unit that only looks at it must see what the other
  // session made of it.
  std::string seen_status;
  std::vector<Status> results;
  ASSERT_TRUE((*store)->WriteBatch({[&](Tx& tx) -> Status {
                                     auto open = tx.FindOpenIncident("svc-db", "k3");
                                     if (!open) return Fail(std::move(open.error()));
                                     seen_status = *open ? (*open)->status : "none";
                                     return Ok();
                                   }},
                                   results));
  ASSERT_TRUE(results.at(0)) << results[0].error().message;
  EXPECT_EQ(seen_status, "acknowledged") << "a read answered from the writer's memory went stale";

  auto again = ApplyOn(**store, integration, TriggerOf("k1", "disk full"), kT0 + 3 * kSecond);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->action, "triggered") << "the trigger went to the incident resolved elsewhere";
  EXPECT_NE(again->incident_id, resolved->incident_id);
  auto old = (*store)->GetIncident(resolved->incident_id);
  ASSERT_TRUE(old && old->has_value());
  EXPECT_EQ((*old)->status, "resolved") << "the writer's memory reopened it";
  EXPECT_EQ((*old)->alert_count, 2);

  auto second = ApplyOn(**store, integration, TriggerOf("k2", "cpu high"), kT0 + 3 * kSecond);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->action, "deduplicated");
  auto inc = (*store)->GetIncident(acked->incident_id);
  ASSERT_TRUE(inc && inc->has_value());
  EXPECT_EQ((*inc)->status, "acknowledged") << "the acknowledgement was overwritten";
  EXPECT_EQ((*inc)->acknowledged_at, kT0 + 2 * kSecond);
  EXPECT_EQ((*inc)->alert_count, 2);
}

// A PostgreSQL store with metrics for the WriteGroup tests, and groups of triggers of the keys
// k0…k<keys-1> (group n at kT0 + n seconds), each kept, with its results and outcomes, for as
// long as the store may run it. Groups of 128 units or more: smaller ones are never left in
// flight.
struct WriteGroupSetup {
  static constexpr int kKeys = 130;
  struct Group {
    std::vector<std::function<Status(Tx&)>> items;
    std::vector<Status> results;
    std::vector<Outcome> outcomes = std::vector<Outcome>(kKeys);
  };
  std::string url;
  IntegrationRow integration;
  metrics::Registry registry;
  std::unique_ptr<Store> seeded, store;
  std::deque<Group> groups;
  std::vector<std::pair<int, Status>> done;  // (group, outcome), in the order answered

  // Empty on success, else why not.
  std::string Open() {
    auto s = OpenTestStore("postgres", &url);
    if (!s) return s.error().message;
    seeded = std::move(*s);
    integration = SeedService(*seeded, "svc-db", kT0);
    StoreOptions options;
    options.metrics = &registry;
    options.pg_statement_timeout = std::chrono::seconds(20);  // a hang fails, it does not stall
    auto w = OpenStore(url, options);
    if (!w) return w.error().message;
    store = std::move(*w);
    return "";
  }
  // Group n: a trigger for each of the keys `prefix`0 … `prefix`129.
  Group& Make(int n, const std::string& prefix = "k") {
    Group& g = groups.emplace_back();
    for (int i = 0; i < kKeys; ++i) {
      g.items.push_back([this, &g, i, n, prefix](Tx& tx) -> Status {
        auto r = ApplyEvent(tx, integration, TriggerOf(prefix + std::to_string(i), "load"),
                            kT0 + n * kSecond, {});
        if (!r) return Fail(std::move(r.error()));
        g.outcomes[static_cast<std::size_t>(i)] = *r;
        return Ok();
      });
    }
    return g;
  }
  void Write(int n, const std::string& prefix = "k") {
    Group& g = Make(n, prefix);
    store->WriteGroup(g.items, g.results,
                      [this, n](Status st) { done.emplace_back(n, std::move(st)); });
  }
  std::uint64_t Run(std::string_view run) {
    return registry.GetCounter("opsorch_engine_pg_groups_total", "", {{"run", run}}).Value();
  }
};

// The writer runs a group ahead while the one before it is in flight (Store::WriteGroup): its
// units run on what the writer remembers, while the server works on the one before. Here the
// group in flight waits for a key's lock held by another session, which meanwhile acknowledges
// that key's incident: the group fails when it lands, and it and the group that ran ahead on
// what it had assumed both run again from the database, in order. Every event is stored once,
// the acknowledgement stands, and each key's alerts are numbered in the order they were stored.
TEST(PgWriteGroup, AGroupRunAheadOfOneThatFailsRunsAgainFromTheDatabase) {
  constexpr int kKeys = WriteGroupSetup::kKeys;
  constexpr int kGroups = 6;
  WriteGroupSetup t;
  ASSERT_EQ(t.Open(), "");
  auto& store = t.store;
  auto& done = t.done;
  const auto write = [&](int n) { t.Write(n); };
  const auto groups_run = [&](std::string_view run) { return t.Run(run); };

  {
    auto& first = t.Make(0);  // new incidents, which the writer then remembers
    ASSERT_TRUE(store->WriteBatch(first.items, first.results));
  }
  for (int n = 1; n <= 3; ++n) write(n);
  ASSERT_GE(groups_run("from_memory") + groups_run("overlapped"), 1u)
      << "no group ran from the writer's memory: the rest of the test would not test it";

  auto other = postgres::Connection::Open(t.url);
  ASSERT_TRUE(other) << other.error().message;
  const std::string lock_k7 =
      "hashtextextended(length('svc-db')::text || ':' || 'svc-db' || 'k7', 0)";
  ASSERT_TRUE((*other)->Exec("SELECT pg_advisory_lock(" + lock_k7 + ")"));
  write(4);  // runs ahead of 3, is sent, and waits at the server for k7's lock
  const std::int64_t acked_at = kT0 + 100 * kSecond;
  ASSERT_TRUE((*other)->Exec(
      "UPDATE incidents SET status='acknowledged', acknowledged_at=" + std::to_string(acked_at) +
      " WHERE dedup_key='k7' AND status<>'resolved'; SELECT pg_advisory_unlock(" + lock_k7 + ")"));
  write(5);  // runs ahead of 4, which fails when it lands
  store->Settle(nullptr);

  ASSERT_EQ(done.size(), static_cast<std::size_t>(kGroups - 1));
  for (std::size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i].first, static_cast<int>(i) + 1) << "groups answered out of order";
    EXPECT_TRUE(done[i].second) << done[i].second.error().message;
  }
  for (const auto& g : t.groups) {
    for (const Status& r : g.results) EXPECT_TRUE(r) << r.error().message;
  }
  EXPECT_GE(groups_run("overlapped"), 1u);
  EXPECT_GE(t.registry.GetCounter("opsorch_engine_pg_runs_ahead_dropped_total", "", {}).Value(), 1u)
      << "the group that ran ahead of the failed one was sent as it was";

  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "k" + std::to_string(i);
    const Outcome& last = t.groups.back().outcomes[static_cast<std::size_t>(i)];
    EXPECT_EQ(last.action, "deduplicated") << key;
    auto inc = store->GetIncident(last.incident_id);
    ASSERT_TRUE(inc && inc->has_value()) << key;
    EXPECT_EQ((*inc)->alert_count, kGroups) << key << ": an event stored twice, or lost";
    EXPECT_EQ((*inc)->status, i == 7 ? "acknowledged" : "open") << key;
    if (i == 7) {
      EXPECT_EQ((*inc)->acknowledged_at, acked_at) << "the acknowledgement was lost";
    }
  }
  auto rows = (*other)->Query(
      "SELECT count(*), count(*) FILTER (WHERE previous > received_at) FROM (SELECT "
      "received_at, lag(received_at) OVER (PARTITION BY dedup_key ORDER BY seq) AS previous "
      "FROM alerts) AS a");
  ASSERT_TRUE(rows) << rows.error().message;
  EXPECT_EQ(rows->Int(0, 0), kKeys * kGroups);
  EXPECT_EQ(rows->Int(0, 1), 0) << "a key's alerts numbered out of the order they were stored";
}

// A group the writer could run from memory after an idle while, when the server ended the
// writer's session meanwhile (a restart, idle_session_timeout), is committed on a new session,
// the usual way: sent into the ended one its outcome would be unknown, and its callers answered
// with an error although nothing happened.
TEST(PgWriteGroup, AGroupFromMemoryIsNotSentIntoASessionTheServerEnded) {
  constexpr int kKeys = WriteGroupSetup::kKeys;
  WriteGroupSetup t;
  ASSERT_EQ(t.Open(), "");
  const auto write = [&](int n) { t.Write(n); };
  for (int n = 0; n < 4; ++n) write(n);  // one after the other: numbers are taken ahead
  t.store->Settle(nullptr);
  ASSERT_EQ(t.done.size(), 4u);

  auto other = postgres::Connection::Open(t.url);
  ASSERT_TRUE(other) << other.error().message;
  // The writer's session is the one holding its mark (an advisory lock of class "opso").
  auto writer = (*other)->Query(
      "SELECT pid FROM pg_locks WHERE locktype='advisory' AND classid=1869640559 AND "
      "pid<>pg_backend_pid()");
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_EQ(writer->size(), 1) << "the writer's session was not found";
  const std::string pid = writer->Text(0, 0);
  ASSERT_TRUE((*other)->Exec("SELECT pg_terminate_backend(" + pid + ", 5000)"));

  const std::uint64_t from_memory = t.Run("from_memory");
  ASSERT_GE(from_memory, 1u) << "no group ran from memory: the rest would not test it";
  write(4);
  t.store->Settle(nullptr);
  ASSERT_EQ(t.done.size(), 5u);
  EXPECT_TRUE(t.done.back().second)
      << "the group was sent into the ended session: " << t.done.back().second.error().message;
  EXPECT_EQ(t.Run("from_memory"), from_memory) << "sent from memory into a new session";
  for (int i = 0; i < kKeys; ++i) {
    auto inc =
        t.store->GetIncident(t.groups.back().outcomes[static_cast<std::size_t>(i)].incident_id);
    ASSERT_TRUE(inc && inc->has_value());
    EXPECT_EQ((*inc)->alert_count, 5);
  }
}

// Numbers for a group running ahead are taken at the end of the group before, but only after one
// that read no key: groups of new keys, one after the other, read theirs and never run ahead,
// and the numbers taken for them were skipped (a pool per group, as large as two groups).
TEST(PgWriteGroup, GroupsOfNewKeysOneAfterAnotherSkipNoAlertNumbers) {
  WriteGroupSetup t;
  ASSERT_EQ(t.Open(), "");
  for (int n = 0; n < 3; ++n) t.Write(n, "new" + std::to_string(n) + "-");
  t.store->Settle(nullptr);
  ASSERT_EQ(t.done.size(), 3u);
  for (const auto& [n, st] : t.done) EXPECT_TRUE(st) << n << ": " << st.error().message;
  EXPECT_EQ(t.Run("read"), 3u);
  auto other = postgres::Connection::Open(t.url);
  ASSERT_TRUE(other) << other.error().message;
  auto span = (*other)->Query("SELECT count(*), max(seq) - min(seq) + 1 FROM alerts");
  ASSERT_TRUE(span) << span.error().message;
  EXPECT_EQ(span->Int(0, 0), 3 * WriteGroupSetup::kKeys);
  EXPECT_EQ(span->Int(0, 1), span->Int(0, 0)) << "alert numbers were skipped";
}

// The writer's memory of open incidents stays bounded: in entries, in bytes (a description can
// be long), and in age (a version is a 32-bit xmin, which comes round again); putting back an
// entry it holds replaces it.
TEST(PgOpenIncidentCache, StaysBoundedInEntriesBytesAndAge) {
  using Cache = postgres::OpenIncidentCache;
  const auto entry = [](std::int64_t seq, std::size_t description) {
    Cache::Entry e;
    e.row.seq = seq;
    e.row.description.assign(description, 'x');
    e.xmin = 1000 + seq;
    return e;
  };
  Cache cache;
  cache.Put("k1", entry(1, 10));
  cache.Put("k1", entry(2, 10));
  ASSERT_EQ(cache.size(), 1u);
  ASSERT_NE(cache.Find("k1"), nullptr);
  EXPECT_EQ(cache.Find("k1")->row.seq, 2) << "putting a key back replaces its entry";

  // Bytes: a 40 MB description fits, a second one does not (both would pass 64 MB).
  cache.Put("big1", entry(3, 40 << 20));
  EXPECT_EQ(cache.size(), 2u);
  cache.Put("big2", entry(4, 40 << 20));
  EXPECT_EQ(cache.size(), 1u) << "emptied before passing its byte bound";
  EXPECT_NE(cache.Find("big2"), nullptr);
  cache.Erase("big2");
  cache.Put("big3", entry(5, 40 << 20));
  EXPECT_EQ(cache.size(), 1u) << "an erased entry's bytes are given back";
  EXPECT_NE(cache.Find("big3"), nullptr);

  // Entries.
  cache.Clear();
  for (std::size_t i = 0; i < Cache::kMaxEntries; ++i)
    cache.Put("k" + std::to_string(i), entry(1, 1));
  EXPECT_EQ(cache.size(), Cache::kMaxEntries);
  cache.Put("k0", entry(2, 1));
  EXPECT_EQ(cache.size(), Cache::kMaxEntries) << "a key it holds is replaced, not counted again";
  cache.Put("one-more", entry(3, 1));
  EXPECT_EQ(cache.size(), 1u) << "emptied before passing its entry bound";

  // Age, in transactions since its first entry.
  cache.Clear();
  cache.Age(5'000);
  cache.Put("a", entry(1, 1));
  cache.Age(5'000 + Cache::kMaxAge);
  EXPECT_EQ(cache.size(), 1u);
  cache.Age(5'001 + Cache::kMaxAge);
  EXPECT_EQ(cache.size(), 0u) << "kept past a billion transactions";
}

// A group's column with the same value in every row goes to the server as that one value
// (FlushRows): whether an array is constant, by its encoded elements.
TEST(PgBinaryArray, IsConstantWhenEveryElementEqualsTheFirst) {
  using postgres::BinaryArray;
  struct Case {
    std::vector<std::string> texts;
    bool constant;
  };
  const Case cases[] = {
      {{}, false},
      {{"a"}, true},
      {{"a", "a", "a"}, true},
      {{"", ""}, true},
      {{"a", "ab"}, false},  // a prefix of the next
      {{"ab", "a"}, false},
      {{"a", "a", "b"}, false},  // only the last differs
      {{"b", "a", "a"}, false},
      {{"", "a"}, false},
      {{std::string("a\0b", 3), std::string("a\0c", 3)}, false},  // past a NUL
  };
  for (const Case& c : cases) {
    BinaryArray a(BinaryArray::kText);
    for (const std::string& t : c.texts) a.Add(t);
    EXPECT_EQ(a.constant(), c.constant) << ::testing::PrintToString(c.texts);
    if (c.constant) {
      EXPECT_EQ(a.TakeFirst(), c.texts.front());
    } else {
      (void)a.Take();
    }
    // Taken, it starts over.
    EXPECT_FALSE(a.constant());
    a.Add("z");
    EXPECT_TRUE(a.constant());
  }
  BinaryArray i(BinaryArray::kInt8);
  i.Add(std::int64_t{258});
  i.Add(std::int64_t{258});
  EXPECT_TRUE(i.constant());
  EXPECT_EQ(i.TakeFirst(), std::string("\0\0\0\0\0\0\x01\x02", 8));  // int8 in binary
  i.Add(std::int64_t{1});
  i.Add(std::int64_t{1} << 32);  // the same low bytes would not do
  EXPECT_FALSE(i.constant());
}

// The columns of a group's rows that hold one value for all go as that value, the rest as
// arrays: every row stored with its own values, whichever columns vary and in which row.
TEST(PgGroupModel, EveryRowKeepsItsOwnValuesWhicheverColumnsVary) {
  std::string url;
  auto store = OpenTestStore("postgres", &url);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-db", kT0);
  auto admin = postgres::Connection::Open(url);
  ASSERT_TRUE(admin) << admin.error().message;
  // Per group: how event i of n differs from the others (or nothing).
  struct Group {
    const char* name;
    int n;
    std::function<void(int, Event&)> vary;
  };
  const Group groups[] = {
      {"one event", 1, [](int, Event&) {}},
      {"all alike but the key", 200, [](int, Event&) {}},
      {"the last differs", 200,
       [](int i, Event& e) {
         if (i == 199) {
           e.summary = "other";
           e.source = "elsewhere";
           e.severity = Severity::kCritical;
           e.component = "db";
           e.client = "c";
         }
       }},
      {"the first differs", 200,
       [](int i, Event& e) {
         if (i == 0) {
           e.group = "g";
           e.class_name = "cpu";
           e.client_url = "https://c.example/";
         }
       }},
      {"every row differs", 200,
       [](int i, Event& e) {
         e.summary = "s" + std::to_string(i);
         e.custom_details["i"] = JsonValue(static_cast<std::int64_t>(i));
       }},
  };
  int round = 0;
  for (const Group& g : groups) {
    ++round;
    std::vector<Event> events;
    for (int i = 0; i < g.n; ++i) {
      Event e = TriggerOf("r" + std::to_string(round) + "-k" + std::to_string(i), "load");
      g.vary(i, e);
      events.push_back(std::move(e));
    }
    std::vector<std::function<Status(Tx&)>> items;
    for (const Event& e : events) {
      items.push_back([&, e](Tx& tx) -> Status {
        auto r = ApplyEvent(tx, integration, e, kT0 + round * kSecond, {});
        return r ? Ok() : Fail(std::move(r.error()));
      });
    }
    // Twice: the first opens the incidents, the second updates them (their own parts).
    for (int pass = 0; pass < 2; ++pass) {
      std::vector<Status> results;
      const Status st = (*store)->WriteBatch(items, results);
      ASSERT_TRUE(st) << g.name << ": " << st.error().message;
      for (const Status& r : results) ASSERT_TRUE(r) << g.name << ": " << r.error().message;
    }
    auto rows = (*admin)->Query(
        "SELECT dedup_key, summary, source, severity, component, grp, class, client, client_url, "
        "custom_details, count(*) FROM alerts WHERE dedup_key LIKE 'r" +
        std::to_string(round) +
        "-%' GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ORDER BY length(dedup_key), dedup_key");
    ASSERT_TRUE(rows) << rows.error().message;
    ASSERT_EQ(rows->size(), g.n) << g.name;
    for (int i = 0; i < g.n; ++i) {
      const Event& e = events[static_cast<std::size_t>(i)];
      const std::string where = std::string(g.name) + ", event " + std::to_string(i);
      EXPECT_EQ(rows->Text(i, 0), e.dedup_key) << where;
      EXPECT_EQ(rows->Text(i, 1), e.summary) << where;
      EXPECT_EQ(rows->Text(i, 2), e.source) << where;
      EXPECT_EQ(rows->Text(i, 3), e.severity == Severity::kCritical ? "critical" : "error")
          << where;
      EXPECT_EQ(rows->Text(i, 4), e.component) << where;
      EXPECT_EQ(rows->Text(i, 5), e.group) << where;
      EXPECT_EQ(rows->Text(i, 6), e.class_name) << where;
      EXPECT_EQ(rows->Text(i, 7), e.client) << where;
      EXPECT_EQ(rows->Text(i, 8), e.client_url) << where;
      EXPECT_EQ(rows->Object(i, 9), e.custom_details) << where;
      EXPECT_EQ(rows->Int(i, 10), 2) << where << ": both passes stored";
    }
    auto counts =
        (*admin)->Query("SELECT count(*) FROM incidents WHERE dedup_key LIKE 'r" +
                        std::to_string(round) + "-%' AND alert_count = 2 AND status = 'open'");
    ASSERT_TRUE(counts) << counts.error().message;
    EXPECT_EQ(counts->Int(0, 0), g.n) << g.name << ": incidents updated by the second pass";
    // The update's columns vary too (a critical event's incident), or hold one value.
    auto severities =
        (*admin)->Query("SELECT dedup_key, severity FROM incidents WHERE dedup_key LIKE 'r" +
                        std::to_string(round) + "-%' ORDER BY length(dedup_key), dedup_key");
    ASSERT_TRUE(severities) << severities.error().message;
    ASSERT_EQ(severities->size(), g.n) << g.name;
    for (int i = 0; i < g.n; ++i) {
      const bool critical = events[static_cast<std::size_t>(i)].severity == Severity::kCritical;
      EXPECT_EQ(severities->Text(i, 1), critical ? "critical" : "error")
          << g.name << ", " << severities->Text(i, 0);
    }
    // Each new incident's text copied for search, once (the statement's trigger, migration 10).
    auto copied = (*admin)->Query(
        "SELECT count(*) FROM incident_text t JOIN incidents i USING (seq) WHERE i.dedup_key "
        "LIKE 'r" +
        std::to_string(round) +
        "-%' AND t.status = i.status AND t.body = i.title || E'\\n' || i.description");
    ASSERT_TRUE(copied) << copied.error().message;
    EXPECT_EQ(copied->Int(0, 0), g.n) << g.name << ": search copies of the new incidents";
  }
}

// A group of new keys after one whose new keys opened incidents takes its incident numbers with
// its reads, in the same round trip; a group whose new keys open none stops it, having skipped
// at most as many numbers as the group before it used.
TEST(PgGroupModel, NewKeysAfterNewKeysTakeTheirIncidentNumbersWithTheirReads) {
  constexpr int kKeys = 60;
  metrics::Registry registry;
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  StoreOptions options;
  options.metrics = &registry;
  auto store = OpenStore(db->url, options);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-db", kT0);
  const auto trips = [&] {
    return Series(registry.Render(),
                  R"(opsorch_engine_pg_round_trip_seconds_count{role="writer"})");
  };
  // A group of kKeys events on new keys: the round trips it took, and its incidents' numbers.
  const auto group = [&](const std::string& prefix, EventAction action, int round, int keys) {
    std::vector<std::function<Status(Tx&)>> items;
    std::vector<std::int64_t> seqs(static_cast<std::size_t>(keys), 0);
    for (int i = 0; i < keys; ++i) {
      items.push_back([&, i](Tx& tx) -> Status {
        Event e = TriggerOf(prefix + std::to_string(i), "load");
        e.action = action;
        auto r = ApplyEvent(tx, integration, e, kT0 + round * kSecond, {});
        if (!r) return Fail(std::move(r.error()));
        if (!r->incident_id.empty())
          seqs[static_cast<std::size_t>(i)] = SeqOf(r->incident_id, "inc-");
        return Ok();
      });
    }
    const double before = trips();
    std::vector<Status> results;
    const Status st = (*store)->WriteBatch(items, results);
    EXPECT_TRUE(st) << st.error().message;
    for (const Status& r : results) EXPECT_TRUE(r) << r.error().message;
    return std::pair(trips() - before, seqs);
  };
  const auto contiguous = [](const std::vector<std::int64_t>& seqs) {
    for (std::size_t i = 1; i < seqs.size(); ++i) {
      if (seqs[i] != seqs[i - 1] + 1) return false;
    }
    return true;
  };

  const auto [first_trips, first] = group("a", EventAction::kTrigger, 1, kKeys);
  EXPECT_TRUE(contiguous(first)) << ::testing::PrintToString(first);
  // Numbers one block at a time as units open incidents: 1, 2, 6, 18, 33, a round trip each.
  const auto [second_trips, second] = group("b", EventAction::kTrigger, 2, kKeys);
  EXPECT_LE(second_trips + 4, first_trips) << "the incident numbers came one block at a time";
  EXPECT_TRUE(contiguous(second)) << ::testing::PrintToString(second);
  EXPECT_EQ(second.front(), first.back() + 1) << "numbers skipped";

  // One new key that opens an incident, then resolves of keys without incidents, which open
  // none: they skip at most the one number the group before used.
  const auto [one_trips, one] = group("c", EventAction::kTrigger, 3, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.front(), second.back() + 1);
  const auto [resolve_trips, none] = group("d", EventAction::kResolve, 4, kKeys);
  EXPECT_EQ(std::count(none.begin(), none.end(), 0), kKeys);
  const auto [third_trips, third] = group("e", EventAction::kTrigger, 5, kKeys);
  EXPECT_TRUE(contiguous(third)) << ::testing::PrintToString(third);
  EXPECT_GT(third.front(), one.front());
  EXPECT_LE(third.front(), one.front() + 2) << "more skipped than the group before used";
  EXPECT_GE(third_trips, second_trips + 4) << "numbers taken ahead after a group opened none";
  store->reset();
  EXPECT_TRUE(DropPostgresTestDatabase(db->name));
}

// A large group whose keys the writer holds in memory is written in one transaction; rows of it
// changed elsewhere fail the whole group, which runs again (reading them) and stores every event
// once, keeping the other session's changes.
TEST(PgGroupModel, ALargeGroupWithRowsChangedElsewhereIsStoredOnce) {
  constexpr int kKeys = 400;
  std::string url;
  auto store = OpenTestStore("postgres", &url);
  ASSERT_TRUE(store) << store.error().message;
  const IntegrationRow integration = SeedService(**store, "svc-db", kT0);
  std::vector<Outcome> outcomes(kKeys);
  const auto group = [&](std::int64_t at) {
    std::vector<std::function<Status(Tx&)>> items;
    for (int i = 0; i < kKeys; ++i) {
      items.push_back([&, i, at](Tx& tx) -> Status {
        auto r = ApplyEvent(tx, integration, TriggerOf("k" + std::to_string(i), "load"), at, {});
        if (!r) return Fail(std::move(r.error()));
        outcomes[static_cast<std::size_t>(i)] = *r;
        return Ok();
      });
    }
    std::vector<Status> results;
    const Status st = (*store)->WriteBatch(items, results);
    EXPECT_TRUE(st) << st.error().message;
    for (const Status& r : results) EXPECT_TRUE(r) << r.error().message;
  };
  auto admin = postgres::Connection::Open(url);
  ASSERT_TRUE(admin) << admin.error().message;
  const auto one = [&](const std::string& sql) {
    auto r = (*admin)->Query(sql);
    EXPECT_TRUE(r) << r.error().message;
    return r && !r->empty() ? r->Int(0, 0) : -1;
  };

  group(kT0);  // new incidents
  for (const Outcome& o : outcomes) EXPECT_EQ(o.action, "triggered");
  const std::vector<Outcome> first = outcomes;
  const auto alerts_after = [&](std::int64_t seq) {
    return " FROM alerts WHERE seq > " + std::to_string(seq);
  };
  const auto ids = [&](int step) {
    std::string out;
    for (int i = 0; i < kKeys; i += step) {
      out += (out.empty() ? "" : ",") + first[static_cast<std::size_t>(i)].incident_id.substr(4);
    }
    return out;
  };
  const auto same_incidents = [&](const char* action) {
    for (int i = 0; i < kKeys; ++i) {
      const Outcome& o = outcomes[static_cast<std::size_t>(i)];
      EXPECT_EQ(o.action, action) << "k" << i;
      EXPECT_EQ(o.incident_id, first[static_cast<std::size_t>(i)].incident_id) << "k" << i;
    }
  };

  std::int64_t before = one("SELECT max(seq) FROM alerts");
  group(kT0 + kSecond);  // every key known: nothing read before the units run
  same_incidents("deduplicated");
  EXPECT_EQ(one("SELECT count(DISTINCT xmin::text)" + alerts_after(before)), 1)
      << "the group was not written by one transaction";

  // Every seventh incident acknowledged by another session: the group fails on them and runs
  // again, keeping the acknowledgements.
  ASSERT_TRUE((*admin)->Exec("UPDATE incidents SET status='acknowledged', acknowledged_at=" +
                             std::to_string(kT0 + kSecond) + " WHERE seq IN (" + ids(7) + ")"));
  before = one("SELECT max(seq) FROM alerts");
  group(kT0 + 2 * kSecond);
  same_incidents("deduplicated");
  EXPECT_EQ(one("SELECT count(*)" + alerts_after(before)), kKeys) << "events lost or doubled";
  EXPECT_EQ(one("SELECT count(DISTINCT xmin::text)" + alerts_after(before)), 1);
  EXPECT_EQ(one("SELECT count(*) FROM incidents WHERE status='acknowledged' AND "
                "acknowledged_at=" +
                std::to_string(kT0 + kSecond)),
            (kKeys + 6) / 7)
      << "an acknowledgement made elsewhere was overwritten";

  // Every tenth resolved elsewhere: its key's next trigger opens a new incident.
  ASSERT_TRUE((*admin)->Exec(
      "UPDATE incidents SET status='resolved', resolved_at=" + std::to_string(kT0 + 3 * kSecond) +
      " WHERE seq IN (" + ids(10) + ")"));
  group(kT0 + 4 * kSecond);
  for (int i = 0; i < kKeys; ++i) {
    const Outcome& o = outcomes[static_cast<std::size_t>(i)];
    const Outcome& f = first[static_cast<std::size_t>(i)];
    EXPECT_EQ(o.action, i % 10 == 0 ? "triggered" : "deduplicated") << "k" << i;
    EXPECT_EQ(o.incident_id == f.incident_id, i % 10 != 0) << "k" << i;
  }
  EXPECT_EQ(one("SELECT count(*) FROM alerts"), 4 * kKeys) << "events lost or stored twice";
  EXPECT_EQ(one("SELECT count(*) FROM incidents WHERE status<>'resolved'"), kKeys);
  EXPECT_EQ(one("SELECT count(*) FROM incidents WHERE status='resolved' AND alert_count<>3"), 0)
      << "an incident resolved elsewhere was written by the group";
  EXPECT_EQ(one("SELECT count(*) FROM incidents i WHERE alert_count <> (SELECT count(*) FROM "
                "alerts a WHERE a.incident_seq=i.seq)"),
            0)
      << "an incident's count disagrees with its alerts";
}

TEST(PgStoreSync, ACommitWhoseWriterSessionEndedBeforeItsSyncIsNotVouchedFor) {
  auto db = CreatePostgresTestDatabase();
  ASSERT_TRUE(db) << db.error().message;
  auto store = OpenStore(db->url);
  ASSERT_TRUE(store) << store.error().message;
  std::string title = "vouched";
  const auto write = [&](Tx& tx) {
    IncidentRow row;
    row.service_id = "svc-sync";
    row.title = title;
    row.created_at = row.updated_at = 1;
    return tx.InsertIncident(row);
  };
  ASSERT_TRUE((*store)->Write(write));  // the normal case: committed, flushed, vouched for

  std::vector<Status> results;
  title = "unsynced";
  ASSERT_TRUE((*store)->WriteBatch({write}, results));  // committed, not synced
  auto admin = postgres::Connection::Open(db->url);
  ASSERT_TRUE(admin) << admin.error().message;
  auto writer = (*admin)->Query(
      "SELECT pid FROM pg_stat_activity WHERE datname=current_database() AND pid<>"
      "pg_backend_pid() AND query='COMMIT'");
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_EQ(writer->size(), 1) << "the writer's session is the one whose last statement was COMMIT";
  auto killed = (*admin)->Query("SELECT pg_terminate_backend($1::int, 10000)",
                                postgres::Params().Add(writer->Text(0, 0)));
  ASSERT_TRUE(killed) << killed.error().message;
  ASSERT_EQ(killed->Text(0, 0), "t");

  const Status first = (*store)->Sync();
  EXPECT_FALSE(first) << "a commit of an ended session was vouched for";
  EXPECT_FALSE((*store)->Sync()) << "the next sync may answer for the same commits";

  // The writer reconnects on its next group; commits of the new session are vouched for once
  // the syncs that may answer for the old one have failed.
  title = "after";
  bool recovered = false;
  for (int i = 0; i < 5 && !recovered; ++i) recovered = static_cast<bool>((*store)->Write(write));
  EXPECT_TRUE(recovered);
  EXPECT_TRUE((*store)->Write(write));
  // The server did not crash: the commit was kept, only its answer was withheld.
  auto count = (*admin)->Query("SELECT count(*) FROM incidents WHERE title='unsynced'");
  ASSERT_TRUE(count);
  EXPECT_EQ(count->Int(0, 0), 1);
}

}  // namespace
}  // namespace opsorch::engine
