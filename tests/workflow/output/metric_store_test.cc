#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include <opsorch/workflow/metric_output.h>

namespace opsorch::workflow {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;  // pinned clock (epoch ms)

schema::MetricQuery Q(std::string name, std::string agg = "", std::int64_t step = 0) {
  schema::MetricQuery q;
  q.expression.emplace();
  q.expression->metric_name = std::move(name);
  q.expression->aggregation = std::move(agg);
  q.step = step;
  return q;
}

std::int64_t Ms(const Time& t) { return t.seconds * 1000 + t.nanos / 1'000'000; }

// "labels → [(offset ms from kNow, value)…]" for compact expectations.
std::string Render(const std::vector<schema::MetricSeries>& series) {
  std::string out;
  for (const auto& s : series) {
    out += s.name + "{";
    bool first = true;
    for (const auto& [k, v] : s.labels) {
      if (!first) out += ",";
      first = false;
      out += std::string(k) + "=" + std::string(v.as_string());
    }
    out += "}:";
    for (const auto& p : *s.points) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " %lld=%g", static_cast<long long>(Ms(p.timestamp) - kNow),
                    p.value);
      out += buf;
    }
    out += "\n";
  }
  return out;
}

class MetricStoreTest : public ::testing::Test {
 protected:
  MetricStoreTest() : store_(MetricStoreOptions{100, 100, std::chrono::seconds(3600), Clock()}) {
    // latency: three series, a point every 20 s from `base`, which is aligned to 60 s buckets
    // (kNow is not); the 600 s and 3600 s buckets holding them all start at kNow - 800 s.
    const std::int64_t base = kNow - 620'000;
    for (int i = 0; i < 6; ++i) {
      const std::int64_t ts = base + i * 20'000;  // every 20 s
      store_.Add({ts, "latency", 10.0 + i, {{"env", "prod"}, {"host", "a"}}});
      store_.Add({ts, "latency", 20.0 + i, {{"env", "prod"}, {"host", "b"}}});
      store_.Add({ts, "latency", 100.0 + i, {{"env", "dev"}, {"host", "c"}}});
    }
    store_.Add({base, "errors", 1, {}});
    store_.Add({base, "queue.depth", 7, {{"queue", "q1"}, {"zone", "z"}}});
  }
  std::function<std::int64_t()> Clock() {
    return [this] { return now_.load(); };
  }
  std::string Run(const schema::MetricQuery& q) {
    auto r = store_.Query(q);
    if (!r) return "error: " + r.error().message;
    return Render(*r);
  }

  std::atomic<std::int64_t> now_{kNow};
  MetricStore store_;
};

TEST_F(MetricStoreTest, QueryTable) {
  struct Case {
    const char* name;
    std::function<void(schema::MetricQuery&)> edit;
    std::string agg;
    std::int64_t step;
    const char* want;
  };
  const auto filter = [](std::string l, std::string op, std::string v) {
    return [=](schema::MetricQuery& q) { q.expression->filters.push_back({l, op, v}); };
  };
  const Case cases[] = {
      {"raw, one series per dimension set, sorted by labels", filter("host", "=", "a"), "", 0,
       "latency{env=prod,host=a}: -620000=10 -600000=11 -580000=12 -560000=13 -540000=14 "
       "-520000=15\n"},
      {"!= keeps the others", filter("env", "!=", "prod"), "", 0,
       "latency{env=dev,host=c}: -620000=100 -600000=101 -580000=102 -560000=103 -540000=104 "
       "-520000=105\n"},
      {"=~ is anchored", filter("host", "=~", "a|c"), "max", 600,
       "latency{env=dev,host=c}: -800000=105\nlatency{env=prod,host=a}: -800000=15\n"},
      {"!~", filter("host", "!~", "[ab]"), "count", 3600, "latency{env=dev,host=c}: -800000=6\n"},
      {"=~ partial does not match", filter("host", "=~", "prod"), "", 0, ""},
      {"missing label reads as empty", filter("region", "=", ""), "count", 3600,
       "latency{env=dev,host=c}: -800000=6\nlatency{env=prod,host=a}: -800000=6\n"
       "latency{env=prod,host=b}: -800000=6\n"},
      {"groupBy merges series (sum per 60 s bucket)",
       [](schema::MetricQuery& q) { q.expression->group_by = {"env"}; }, "sum", 60,
       "latency{env=dev}: -620000=303 -560000=312\nlatency{env=prod}: -620000=96 "
       "-560000=114\n"},
      {"groupBy avg", [](schema::MetricQuery& q) { q.expression->group_by = {"env"}; }, "avg", 60,
       "latency{env=dev}: -620000=101 -560000=104\nlatency{env=prod}: -620000=16 "
       "-560000=19\n"},
      {"groupBy min/max", [](schema::MetricQuery& q) { q.expression->group_by = {"env"}; }, "min",
       3600, "latency{env=dev}: -800000=100\nlatency{env=prod}: -800000=10\n"},
      {"groupBy over a label nobody has merges everything",
       [](schema::MetricQuery& q) { q.expression->group_by = {"nope"}; }, "count", 0,
       "latency{}: -620000=3 -600000=3 -580000=3 -560000=3 -540000=3 -520000=3\n"},
      {"step 0 merged without aggregation averages equal timestamps",
       [](schema::MetricQuery& q) {
         q.expression->group_by = {"env"};
         q.expression->filters.push_back({"env", "=", "prod"});
       },
       "", 0,
       "latency{env=prod}: -620000=15 -600000=16 -580000=17 -560000=18 -540000=19 "
       "-520000=20\n"},
      {"window is inclusive on both ends",
       [](schema::MetricQuery& q) {
         q.expression->filters.push_back({"host", "=", "a"});
         q.start = Time::FromUnixNanos((kNow - 580'000) * 1'000'000);
         q.end = Time::FromUnixNanos((kNow - 540'000) * 1'000'000);
       },
       "", 0, "latency{env=prod,host=a}: -580000=12 -560000=13 -540000=14\n"},
      {"sub-millisecond bounds: start rounds up, end down",
       [](schema::MetricQuery& q) {
         q.expression->filters.push_back({"host", "=", "a"});
         q.start = Time::FromUnixNanos((kNow - 600'000) * 1'000'000 + 1);
         q.end = Time::FromUnixNanos((kNow - 580'000) * 1'000'000 + 999'999);
       },
       "", 0, "latency{env=prod,host=a}: -580000=12\n"},
      {"other key", [](schema::MetricQuery&) {}, "", 0, ""},
      {"unknown metric → no series",
       [](schema::MetricQuery& q) { q.expression->metric_name = "nope"; }, "", 0, ""},
      {"missing metricName", [](schema::MetricQuery& q) { q.expression->metric_name.clear(); }, "",
       0, "error: expression.metricName: required"},
      {"no expression", [](schema::MetricQuery& q) { q.expression.reset(); }, "", 0,
       "error: expression.metricName: required"},
      {"bad aggregation", [](schema::MetricQuery&) {}, "p99", 0,
       "error: expression.aggregation: must be one of avg, sum, max, min, count"},
      {"bad operator", filter("env", "==", "prod"), "", 0,
       "error: expression.filters[0].operator: must be one of =, !=, =~, !~"},
      {"bad regex", filter("env", "=~", "(prod"), "", 0,
       "error: expression.filters[0].value: regex: missing ')' at offset 5"},
      {"empty label", filter("", "=", "x"), "", 0, "error: expression.filters[0].label: required"},
      {"negative step", [](schema::MetricQuery&) {}, "", -1, "error: step: must be >= 0"},
      {"end before start",
       [](schema::MetricQuery& q) {
         q.start = Time::FromUnixSeconds(kNow / 1000);
         q.end = Time::FromUnixSeconds(kNow / 1000 - 1);
       },
       "", 0, "error: end: must not be before start"},
  };
  for (const auto& c : cases) {
    auto q = Q(std::string(c.name) == "other key" ? "errors" : "latency", c.agg, c.step);
    c.edit(q);
    std::string want = c.want;
    if (std::string(c.name) == "other key") want = "errors{}: -620000=1\n";
    EXPECT_EQ(Run(q), want) << c.name;
  }
}

TEST_F(MetricStoreTest, StepBucketsAreAlignedToTheEpoch) {
  MetricStore s({10, 10, std::chrono::seconds(3600), Clock()});
  const std::int64_t aligned = kNow / 60'000 * 60'000;  // kNow is not a whole minute
  s.Add({aligned + 59'999, "m", 1, {}});
  s.Add({aligned + 60'000, "m", 2, {}});
  s.Add({aligned + 61'000, "m", 4, {}});
  auto r = s.Query(Q("m", "sum", 60));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].points->size(), 2u);
  EXPECT_EQ(Ms((*r)[0].points->at(0).timestamp), aligned);
  EXPECT_EQ((*r)[0].points->at(0).value, 1);
  EXPECT_EQ(Ms((*r)[0].points->at(1).timestamp), aligned + 60'000);
  EXPECT_EQ((*r)[0].points->at(1).value, 6);
}

TEST_F(MetricStoreTest, DescribeListsKeysWithSortedLabelUnion) {
  const auto d = store_.Describe();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].name, "errors");
  EXPECT_EQ(d[0].type, "gauge");
  ASSERT_TRUE(d[0].labels.has_value());
  EXPECT_TRUE(d[0].labels->empty());
  EXPECT_EQ(d[1].name, "latency");
  EXPECT_EQ(*d[1].labels, (std::vector<std::string>{"env", "host"}));
  EXPECT_EQ(d[2].name, "queue.depth");
  EXPECT_EQ(*d[2].labels, (std::vector<std::string>{"queue", "zone"}));
}

TEST(MetricStoreBoundsTest, RingKeepsNewestPointsPerSeries) {
  MetricStore s({10, 3, std::chrono::seconds(3600), [] { return kNow; }});
  for (int i = 0; i < 10; ++i) s.Add({kNow - 1000 + i, "m", static_cast<double>(i), {}});
  auto r = s.Query(Q("m"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].points->size(), 3u);
  EXPECT_EQ((*r)[0].points->at(0).value, 7);
  EXPECT_EQ((*r)[0].points->at(2).value, 9);
}

TEST(MetricStoreBoundsTest, MaxSeriesEvictsTheLeastRecentlyWritten) {
  MetricStore s({3, 10, std::chrono::seconds(3600), [] { return kNow; }});
  s.Add({kNow, "m", 1, {{"s", "a"}}});
  s.Add({kNow, "m", 1, {{"s", "b"}}});
  s.Add({kNow, "m", 1, {{"s", "c"}}});
  s.Add({kNow + 1, "m", 2, {{"s", "a"}}});  // a is now the most recent
  s.Add({kNow, "m", 1, {{"s", "d"}}});      // evicts b
  auto r = s.Query(Q("m"));
  ASSERT_TRUE(r);
  std::vector<std::string> labels;
  for (const auto& series : *r) labels.emplace_back(series.labels.at("s").as_string());
  EXPECT_EQ(labels, (std::vector<std::string>{"a", "c", "d"}));
}

TEST(MetricStoreBoundsTest, RetentionDropsOldPoints) {
  std::atomic<std::int64_t> now{kNow};
  MetricStore s({10, 10, std::chrono::seconds(60), [&] { return now.load(); }});
  s.Add({kNow - 61'000, "m", 1, {}});  // already too old: dropped on arrival
  s.Add({kNow - 30'000, "m", 2, {}});
  s.Add({kNow, "m", 3, {}});
  auto r = s.Query(Q("m"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].points->size(), 2u);
  now = kNow + 45'000;  // the -30 s point is now 75 s old
  r = s.Query(Q("m"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].points->size(), 1u);
  EXPECT_EQ((*r)[0].points->at(0).value, 3);
  now = kNow + 120'000;
  r = s.Query(Q("m"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(s.Describe().empty());
}

TEST(MetricStoreConcurrencyTest, OneWriterManyReaders) {
  MetricStore s({50, 100, std::chrono::seconds(3600), [] { return kNow; }});
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20000; ++i) {
      s.Add({kNow - 100'000 + i, "m", static_cast<double>(i), {{"s", std::to_string(i % 80)}}});
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      auto q = Q("m", "sum", 10);
      q.expression->filters.push_back({"s", "=~", "1.*"});
      while (!done) {
        auto r = s.Query(q);
        ASSERT_TRUE(r);
        for (const auto& series : *r) {
          EXPECT_TRUE(series.labels.at("s").as_string().starts_with("1"));
        }
        EXPECT_LE(s.Describe().size(), 1u);
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  auto r = s.Query(Q("m"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 50u);  // max_series held
  for (const auto& series : *r) EXPECT_LE(series.points->size(), 100u);
}

}  // namespace
}  // namespace opsorch::workflow
