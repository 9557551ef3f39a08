// RuntimeReport (the runtime's Prometheus series, first-seen tracking), the audit record's two
// JSON shapes, RenderOutputGauges, and the metrics Registry's collectors they rely on. The
// exposition is checked by Debian's promtool.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/workflow/report.h>

#include "support/json_equal.h"
#include "support/run_command.h"

namespace opsorch::workflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

// The value of one sample line, `series` being the name with its rendered labels exactly;
// nullopt when there is no such line.
std::optional<std::string> Sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return line.substr(series.size() + 1);
    }
  }
  return std::nullopt;
}

std::size_t Count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

TEST(RuntimeReport, KnownCallsRenderExactSeriesValues) {
  RuntimeReport r;
  r.StepFinished("prod", "disk", "fetch", true, 3ms);
  r.StepFinished("prod", "disk", "fetch", true, 20ms);
  r.StepFinished("prod", "disk", "fetch", false, 7s);  // beyond the largest bound: +Inf only
  r.StepFinished("prod", "disk", "parse", true, 40us);
  r.HttpCall("prod", "grafana", RuntimeReport::StatusClass(200));
  r.HttpCall("prod", "grafana", RuntimeReport::StatusClass(204));
  r.HttpCall("prod", "grafana", RuntimeReport::StatusClass(503));
  r.HttpCall("prod", "grafana", "blocked");
  r.SandboxKill("prod", "memory");
  r.SandboxKill("prod", "cpu");
  r.SandboxKill("prod", "cpu");
  r.QueueDropped("prod");
  r.SkippedOverlap("prod");
  r.SkippedOverlap("prod");
  r.SkippedOverlap("staging");
  r.MetricsEmitted("prod", 40);
  r.MetricsEmitted("prod", 2);
  r.ConfigLoad("prod", "accepted", "");
  r.ConfigLoad("prod", "refused", "bad_signature");
  r.ConfigLoad("prod", "refused", "bad_signature");
  r.AuditWritten("prod", "host_first_call");
  const std::string text = r.Render();

  const std::vector<std::pair<std::string, std::string>> want = {
      {R"(opsorch_workflow_step_runs_total{deployment="prod",workflow="disk",step="fetch",outcome="ok"})",
       "2"},
      {R"(opsorch_workflow_step_runs_total{deployment="prod",workflow="disk",step="fetch",outcome="failed"})",
       "1"},
      {R"(opsorch_workflow_step_runs_total{deployment="prod",workflow="disk",step="parse",outcome="ok"})",
       "1"},
      // A step that never failed still has its failed series, at 0.
      {R"(opsorch_workflow_step_runs_total{deployment="prod",workflow="disk",step="parse",outcome="failed"})",
       "0"},
      {R"(opsorch_workflow_step_duration_seconds_bucket{deployment="prod",workflow="disk",step="fetch",le="0.0025"})",
       "0"},
      {R"(opsorch_workflow_step_duration_seconds_bucket{deployment="prod",workflow="disk",step="fetch",le="0.005"})",
       "1"},
      {R"(opsorch_workflow_step_duration_seconds_bucket{deployment="prod",workflow="disk",step="fetch",le="0.025"})",
       "2"},
      {R"(opsorch_workflow_step_duration_seconds_bucket{deployment="prod",workflow="disk",step="fetch",le="5"})",
       "2"},
      {R"(opsorch_workflow_step_duration_seconds_bucket{deployment="prod",workflow="disk",step="fetch",le="+Inf"})",
       "3"},
      {R"(opsorch_workflow_step_duration_seconds_sum{deployment="prod",workflow="disk",step="fetch"})",
       "7.023"},
      {R"(opsorch_workflow_step_duration_seconds_count{deployment="prod",workflow="disk",step="fetch"})",
       "3"},
      {R"(opsorch_workflow_step_duration_seconds_bucket{deployment="prod",workflow="disk",step="parse",le="5e-05"})",
       "1"},
      {R"(opsorch_workflow_http_calls_total{deployment="prod",host="grafana",status_class="2xx"})",
       "2"},
      {R"(opsorch_workflow_http_calls_total{deployment="prod",host="grafana",status_class="5xx"})",
       "1"},
      {R"(opsorch_workflow_http_calls_total{deployment="prod",host="grafana",status_class="blocked"})",
       "1"},
      {R"(opsorch_workflow_sandbox_kills_total{deployment="prod",reason="cpu"})", "2"},
      {R"(opsorch_workflow_sandbox_kills_total{deployment="prod",reason="memory"})", "1"},
      {R"(opsorch_workflow_queue_dropped_total{deployment="prod"})", "1"},
      {R"(opsorch_workflow_skipped_overlaps_total{deployment="prod"})", "2"},
      {R"(opsorch_workflow_skipped_overlaps_total{deployment="staging"})", "1"},
      {R"(opsorch_workflow_metrics_emitted_total{deployment="prod"})", "42"},
      {R"(opsorch_workflow_config_loads_total{deployment="prod",outcome="accepted",reason=""})",
       "1"},
      {R"(opsorch_workflow_config_loads_total{deployment="prod",outcome="refused",reason="bad_signature"})",
       "2"},
      {R"(opsorch_workflow_audit_records_total{deployment="prod",kind="host_first_call"})", "1"},
  };
  for (const auto& [series, value] : want) {
    EXPECT_EQ(Sample(text, series), value) << series << "\n" << text;
  }
  // Nothing was counted that was not called.
  EXPECT_EQ(
      Sample(
          text,
          R"(opsorch_workflow_http_calls_total{deployment="prod",host="grafana",status_class="4xx"})"),
      std::nullopt);
  for (const char* family :
       {"opsorch_workflow_step_runs_total counter",
        "opsorch_workflow_step_duration_seconds histogram",
        "opsorch_workflow_http_calls_total counter", "opsorch_workflow_sandbox_kills_total counter",
        "opsorch_workflow_queue_dropped_total counter",
        "opsorch_workflow_skipped_overlaps_total counter",
        "opsorch_workflow_metrics_emitted_total counter",
        "opsorch_workflow_config_loads_total counter",
        "opsorch_workflow_audit_records_total counter"}) {
    EXPECT_EQ(Count(text, std::string("# TYPE ") + family + "\n"), 1u) << family;
  }
}

TEST(RuntimeReport, LabelValuesAreEscaped) {
  RuntimeReport r;
  r.HttpCall("a\"b", "c\\d", "e\nf");
  EXPECT_EQ(
      Sample(
          r.Render(),
          R"(opsorch_workflow_http_calls_total{deployment="a\"b",host="c\\d",status_class="e\nf"})"),
      "1");
}

TEST(RuntimeReport, StatusClass) {
  const std::vector<std::pair<int, std::string_view>> cases = {
      {-1, "error"}, {0, "error"},   {99, "error"},  {100, "1xx"}, {200, "2xx"},
      {299, "2xx"},  {301, "3xx"},   {404, "4xx"},   {429, "4xx"}, {500, "5xx"},
      {599, "5xx"},  {600, "error"}, {999, "error"},
  };
  for (const auto& [status, cls] : cases) {
    EXPECT_EQ(RuntimeReport::StatusClass(status), cls) << status;
  }
}

TEST(RuntimeReport, FirstSeenIsTrueOncePerKeyWithinDeploymentAndKind) {
  RuntimeReport r;
  EXPECT_TRUE(r.FirstSeen("prod", "host_first_call", "grafana GET /api"));
  EXPECT_FALSE(r.FirstSeen("prod", "host_first_call", "grafana GET /api"));
  EXPECT_FALSE(r.FirstSeen("prod", "host_first_call", std::string("grafana GET /api")));
  // Same key, another kind or another deployment: seen for the first time there.
  EXPECT_TRUE(r.FirstSeen("prod", "metric_first_emit", "grafana GET /api"));
  EXPECT_TRUE(r.FirstSeen("staging", "host_first_call", "grafana GET /api"));
  // The parts are not merely concatenated: ("prod","x") and ("pro","dx") differ.
  EXPECT_TRUE(r.FirstSeen("pro", "dhost_first_call", "grafana GET /api"));
  EXPECT_TRUE(r.FirstSeen("prod", "host_first_call", ""));
  EXPECT_FALSE(r.FirstSeen("prod", "host_first_call", ""));
  EXPECT_EQ(
      Sample(
          r.Render(),
          R"(opsorch_workflow_audit_keys_overflow_total{deployment="prod",kind="host_first_call"})"),
      "0");
}

TEST(RuntimeReport, FirstSeenIsBoundedAndCountsTheOverflow) {
  RuntimeReport r;
  static_assert(RuntimeReport::kMaxFirstSeenKeys == 10000);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(r.FirstSeen("prod", "metric_first_emit", "key-" + std::to_string(i))) << i;
  }
  // Full: new keys are neither tracked nor reported as first, and each one is counted.
  EXPECT_FALSE(r.FirstSeen("prod", "metric_first_emit", "key-10000"));
  EXPECT_FALSE(r.FirstSeen("prod", "metric_first_emit", "key-10001"));
  EXPECT_FALSE(r.FirstSeen("prod", "metric_first_emit", "key-10000"));
  // Keys already tracked still answer false without counting.
  EXPECT_FALSE(r.FirstSeen("prod", "metric_first_emit", "key-0"));
  EXPECT_FALSE(r.FirstSeen("prod", "metric_first_emit", "key-9999"));
  // Another kind and another deployment have bounds of their own.
  EXPECT_TRUE(r.FirstSeen("prod", "host_first_call", "key-10000"));
  EXPECT_TRUE(r.FirstSeen("staging", "metric_first_emit", "key-10000"));

  const std::string text = r.Render();
  EXPECT_EQ(
      Sample(
          text,
          R"(opsorch_workflow_audit_keys_overflow_total{deployment="prod",kind="metric_first_emit"})"),
      "3");
  EXPECT_EQ(
      Sample(
          text,
          R"(opsorch_workflow_audit_keys_overflow_total{deployment="prod",kind="host_first_call"})"),
      "0");
  EXPECT_EQ(
      Sample(
          text,
          R"(opsorch_workflow_audit_keys_overflow_total{deployment="staging",kind="metric_first_emit"})"),
      "0");
}

TEST(RuntimeReport, FirstSeenAcrossThreadsIsTrueExactlyOncePerKey) {
  RuntimeReport r;
  constexpr int kThreads = 8, kKeys = 500;
  std::vector<int> firsts(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        if (r.FirstSeen("prod", "host_first_call", "k" + std::to_string(i))) ++firsts[t];
      }
    });
  }
  for (auto& t : threads) t.join();
  int total = 0;
  for (int n : firsts) total += n;
  EXPECT_EQ(total, kKeys);
}

TEST(RuntimeReport, ConcurrentStepsAndRendersLoseNothing) {
  RuntimeReport r;
  constexpr int kThreads = 6, kRuns = 20000;
  std::atomic<bool> done{false};
  std::thread renderer([&] {
    while (!done.load()) {
      const std::string text = r.Render();
      ASSERT_THAT(text, Not(HasSubstr("\n\n")));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string step = "step" + std::to_string(t % 3);  // shared by two threads each
      for (int i = 0; i < kRuns; ++i) {
        r.StepFinished("prod", "wf", step, i % 4 != 0, std::chrono::microseconds(i % 1000));
        if (i % 100 == 0) r.HttpCall("prod", "h" + std::to_string(i % 7), "2xx");
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  renderer.join();

  const std::string text = r.Render();
  for (int s = 0; s < 3; ++s) {
    const std::string labels =
        R"({deployment="prod",workflow="wf",step="step)" + std::to_string(s) + "\"";
    EXPECT_EQ(Sample(text, "opsorch_workflow_step_runs_total" + labels + R"(,outcome="ok"})"),
              std::to_string(2 * kRuns * 3 / 4));
    EXPECT_EQ(Sample(text, "opsorch_workflow_step_runs_total" + labels + R"(,outcome="failed"})"),
              std::to_string(2 * kRuns / 4));
    EXPECT_EQ(Sample(text, "opsorch_workflow_step_duration_seconds_count" + labels + "}"),
              std::to_string(2 * kRuns));
  }
  std::uint64_t http = 0;
  for (int h = 0; h < 7; ++h) {
    const auto v = Sample(text, R"(opsorch_workflow_http_calls_total{deployment="prod",host="h)" +
                                    std::to_string(h) + R"(",status_class="2xx"})");
    if (v) http += std::stoull(*v);
  }
  EXPECT_EQ(http, static_cast<std::uint64_t>(kThreads * (kRuns / 100)));
}

TEST(RuntimeReport, RenderHooksRunAfterTheFamiliesInOrder) {
  RuntimeReport r;
  r.QueueDropped("prod");
  r.AddRenderHook([](std::string& out) { out += "# first hook\n"; });
  r.AddRenderHook([](std::string& out) { out += "# second hook\n"; });
  const std::string text = r.Render();
  const auto family = text.find("opsorch_workflow_queue_dropped_total{");
  const auto first = text.find("# first hook\n");
  const auto second = text.find("# second hook\n");
  ASSERT_NE(family, std::string::npos);
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  EXPECT_LT(family, first);
  EXPECT_LT(first, second);
}

TEST(RenderOutputGauges, OneFamilyEachWithARowPerOutput) {
  std::vector<OutputGaugeRow> rows = {
      {"prod", "collector",
       OutputStats{
           .appended = 10, .sent = 7, .failed_posts = 2, .refused = 1, .spooled_bytes = 300}},
      {"prod", "backup\"2", OutputStats{.appended = 5, .sent = 5}},
  };
  std::string out;
  RenderOutputGauges(out, rows);
  EXPECT_EQ(
      out,
      "# HELP opsorch_workflow_output_backlog_bytes Bytes of records in the output's spool "
      "not yet acknowledged by the collector.\n"
      "# TYPE opsorch_workflow_output_backlog_bytes gauge\n"
      "opsorch_workflow_output_backlog_bytes{deployment=\"prod\",output=\"collector\"} 300\n"
      "opsorch_workflow_output_backlog_bytes{deployment=\"prod\",output=\"backup\\\"2\"} 0\n"
      "# HELP opsorch_workflow_output_appended_records_total Records appended to the "
      "output's spool by this process.\n"
      "# TYPE opsorch_workflow_output_appended_records_total counter\n"
      "opsorch_workflow_output_appended_records_total{deployment=\"prod\",output="
      "\"collector\"} 10\n"
      "opsorch_workflow_output_appended_records_total{deployment=\"prod\",output="
      "\"backup\\\"2\"} 5\n"
      "# HELP opsorch_workflow_output_sent_records_total Records the collector acknowledged "
      "(2xx).\n"
      "# TYPE opsorch_workflow_output_sent_records_total counter\n"
      "opsorch_workflow_output_sent_records_total{deployment=\"prod\",output=\"collector\"} "
      "7\n"
      "opsorch_workflow_output_sent_records_total{deployment=\"prod\",output=\"backup\\\"2\"} "
      "5\n"
      "# HELP opsorch_workflow_output_send_failures_total POSTs to the collector that failed "
      "(to be retried).\n"
      "# TYPE opsorch_workflow_output_send_failures_total counter\n"
      "opsorch_workflow_output_send_failures_total{deployment=\"prod\",output=\"collector\"} "
      "2\n"
      "opsorch_workflow_output_send_failures_total{deployment=\"prod\",output=\"backup\\\"2\"} "
      "0\n"
      "# HELP opsorch_workflow_output_refused_records_total Records refused because the "
      "output's spool was full.\n"
      "# TYPE opsorch_workflow_output_refused_records_total counter\n"
      "opsorch_workflow_output_refused_records_total{deployment=\"prod\",output="
      "\"collector\"} 1\n"
      "opsorch_workflow_output_refused_records_total{deployment=\"prod\",output="
      "\"backup\\\"2\"} 0\n");
  std::string none = "kept";
  RenderOutputGauges(none, {});
  EXPECT_EQ(none, "kept");
}

// promtool's parser and linter (HELP, TYPE, counter names, histogram shape, escaping).
TEST(RuntimeReport, ExpositionPassesPromtool) {
  if (opsorch::testing::RunCommand("command -v promtool").first != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  RuntimeReport r;
  for (const char* d : {"prod", "staging \"eu\""}) {
    r.StepFinished(d, "disk", "fetch", true, 3ms);
    r.StepFinished(d, "disk", "fetch", false, 9s);
    r.StepFinished(d, "cpu\\load", "parse\nlines", true, 1us);
    r.HttpCall(d, "grafana", "2xx");
    r.HttpCall(d, "grafana", "error");
    r.SandboxKill(d, "cpu");
    r.QueueDropped(d);
    r.SkippedOverlap(d);
    r.MetricsEmitted(d, 12);
    r.ConfigLoad(d, "accepted", "");
    r.ConfigLoad(d, "refused", "invalid_config");
    r.AuditWritten(d, "config_accepted");
    r.FirstSeen(d, "host_first_call", "grafana");
  }
  r.AddRenderHook([](std::string& out) {
    const std::vector<OutputGaugeRow> rows = {
        {"prod", "collector", OutputStats{.appended = 3, .sent = 2, .spooled_bytes = 80}},
        {"staging \"eu\"", "collector", OutputStats{}},
    };
    RenderOutputGauges(out, rows);
  });
  const std::string text = r.Render();

  char dir_template[] = "/tmp/opsorch-report-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir = dir_template;
  std::ofstream(dir / "metrics.txt") << text;
  const auto [rc, out] =
      opsorch::testing::RunCommand("promtool check metrics < " + (dir / "metrics.txt").string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(rc, 0) << out << "\n" << text;
  EXPECT_EQ(out, "") << out;  // no lint warnings either
}

TEST(AuditRecord, LineJsonHasTheOutputRecordShape) {
  AuditRecord a;
  a.timestamp_ms = 1700000000123;
  a.deployment = "prod";
  a.kind = "host_first_call";
  a.message = "first call to \"grafana\" <GET /api>\n";
  a.detail = {{"pattern", "/api/*"}, {"host", "grafana"}, {"method", "GET"}};
  EXPECT_EQ(AuditLineJson(a, "tok"),
            R"({"type":"audit","timestamp":1700000000123,"kind":"host_first_call",)"
            R"("message":"first call to \"grafana\" \u003cGET /api\u003e\n",)"
            R"("detail":{"host":"grafana","method":"GET","pattern":"/api/*"},)"
            R"("deployment":"prod","token":"tok"})");
  // No token: an empty one, as metric and log lines write it (one shape for collectors).
  EXPECT_EQ(AuditLineJson(a, ""),
            R"({"type":"audit","timestamp":1700000000123,"kind":"host_first_call",)"
            R"("message":"first call to \"grafana\" \u003cGET /api\u003e\n",)"
            R"("detail":{"host":"grafana","method":"GET","pattern":"/api/*"},)"
            R"("deployment":"prod","token":""})");

  AuditRecord empty;
  const std::string line = AuditLineJson(empty, "");
  EXPECT_EQ(
      line,
      R"({"type":"audit","timestamp":0,"kind":"","message":"","detail":{},"deployment":"","token":""})");

  // Control characters and invalid UTF-8 still make one valid JSON line.
  AuditRecord odd;
  odd.kind = "auth_header_set";
  odd.message = std::string("tab\there \x01 bad \xff end\r");
  odd.detail = {{"header\x02", "x\"y"}};
  const std::string odd_line = AuditLineJson(odd, "t\"k");
  EXPECT_EQ(odd_line.find('\n'), std::string::npos);
  auto parsed = ParseJson(odd_line);
  ASSERT_TRUE(parsed) << parsed.error().message << " " << odd_line;
  EXPECT_EQ(parsed->at("token").as_string(), "t\"k");
  EXPECT_EQ(parsed->at("detail").at("header\x02").as_string(), "x\"y");
  EXPECT_EQ(parsed->at("message").as_string(), "tab\there \x01 bad \xEF\xBF\xBD end\r");
}

TEST(AuditRecord, JsonHasTheStatusReportShape) {
  AuditRecord a;
  a.timestamp_ms = 1700000000123;
  a.deployment = "prod";
  a.kind = "config_refused";
  a.message = "configuration v7 refused: bad signature";
  a.detail = {{"version", "7"}, {"sha256", "ab12"}, {"refusal", "bad_signature"}};
  auto want = ParseJson(R"({"timestamp":1700000000123,"deployment":"prod","kind":"config_refused",
      "message":"configuration v7 refused: bad signature",
      "detail":{"version":"7","sha256":"ab12","refusal":"bad_signature"}})");
  ASSERT_TRUE(want);
  const JsonValue got = AuditJson(a);
  std::string text;
  AppendJsonValue(text, got);
  EXPECT_TRUE(opsorch::testing::JsonEqual(got, *want)) << text;
  // An integer, not a double: 13-digit milliseconds must not lose precision downstream.
  EXPECT_TRUE(got.at("timestamp").is_int64());
  EXPECT_TRUE(AuditJson(AuditRecord{}).at("detail").is_object());
}

// The server's registry hook the runtime's gauges and `opsorch serve` rely on.
TEST(MetricsRegistry, CollectorsRunAfterTheFamiliesInTheOrderAdded) {
  metrics::Registry reg;
  reg.GetCounter("a_total", "A.", {{"x", "1"}}).Inc(2);
  reg.AddCollector([](std::string& out) { out += "# HELP g1 G1.\n# TYPE g1 gauge\ng1 1\n"; });
  // A collector may use the registry it is part of (it runs outside the registry's lock).
  reg.AddCollector([&reg](std::string& out) {
    reg.GetCounter("b_total", "B.", {}).Inc();
    out += "# HELP g2 G2.\n# TYPE g2 gauge\ng2 2\n";
  });
  EXPECT_EQ(reg.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n"
            "# HELP g1 G1.\n# TYPE g1 gauge\ng1 1\n"
            "# HELP g2 G2.\n# TYPE g2 gauge\ng2 2\n");
  // The family the second collector created renders before the collectors next time.
  EXPECT_EQ(reg.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n"
            "# HELP b_total B.\n# TYPE b_total counter\nb_total 1\n"
            "# HELP g1 G1.\n# TYPE g1 gauge\ng1 1\n"
            "# HELP g2 G2.\n# TYPE g2 gauge\ng2 2\n");
}

TEST(MetricsRegistry, CollectorsAddedWhileRenderingAreSafe) {
  metrics::Registry reg;
  reg.GetCounter("a_total", "A.", {}).Inc();
  std::atomic<bool> done{false};
  std::thread renderer([&] {
    while (!done.load()) (void)reg.Render();
  });
  for (int i = 0; i < 200; ++i) {
    reg.AddCollector([i](std::string& out) { out += "c" + std::to_string(i) + " 1\n"; });
  }
  done = true;
  renderer.join();
  const std::string text = reg.Render();
  EXPECT_LT(text.find("c0 1\n"), text.find("c199 1\n"));
  EXPECT_EQ(Count(text, " 1\n"), 201u);
}

}  // namespace
}  // namespace opsorch::workflow
