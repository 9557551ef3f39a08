// Alertmanager API v2 pushes (POST /api/v2/alerts, what Prometheus sends) decoded as Alertmanager
// 0.25 handles them: the time defaults, validation with the element's index in every error, the
// mapping onto events, the refresh digest, and the fingerprint pinned against the real
// Alertmanager.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/serialize.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opsorch/common/json.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/event.h>

#include "engine/decode_test_util.h"

namespace opsorch::engine {
namespace {

using decode_test::ErrorList;
using decode_test::ErrorsOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kKey = "b7c1e2d3f4a5968778695a4b3c2d1e0f";
constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kNow = 1710165900 * kSecond;    // 2024-03-11T14:05:00Z
constexpr std::int64_t kResolveTimeout = 5 * kMinute;  // Alertmanager's default resolve_timeout

constexpr const char* kBadLabelName = "is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)";
constexpr const char* kBadAnnotationName =
    "is not a valid annotation name ([a-zA-Z_][a-zA-Z0-9_]*)";

std::int64_t Ns(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? t->UnixNanos() : 0;
}

Decoded<PushDecoded> Push(std::string_view body, const DecodeLimits& limits = {},
                          std::int64_t now = kNow) {
  return DecodeAlertmanagerPush(body, kKey, now, kResolveTimeout, limits);
}

std::string Body(const JsonArray& alerts) { return boost::json::serialize(alerts); }

ErrorList ElementErrors(const PushDecoded& d) {
  ErrorList out;
  for (const FieldError& e : d.errors) out.emplace_back(e.field, e.message);
  return out;
}

// The one event of a one-alert push that must be accepted.
Event DecodeOne(std::string_view body, const DecodeLimits& limits = {}, std::int64_t now = kNow) {
  auto d = Push(body, limits, now);
  if (!d) {
    ADD_FAILURE() << "refused: " << d.error().front().field << ": " << d.error().front().message;
    return {};
  }
  EXPECT_THAT(ElementErrors(*d), IsEmpty());
  if (d->events.size() != 1) {
    ADD_FAILURE() << "expected one event, got " << d->events.size();
    return {};
  }
  return std::move(d->events.front());
}

Event DecodeOne(const JsonObject& alert, const DecodeLimits& limits = {}, std::int64_t now = kNow) {
  return DecodeOne(Body(JsonArray{alert}), limits, now);
}

std::string Repeat(std::string_view unit, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += unit;
  return s;
}

// ---- the fingerprint, pinned against Alertmanager 0.25 ---------------------------------------
//
// Captured from the real Alertmanager (Debian's prometheus-alertmanager 0.25.0) on 127.0.0.1:
//   prometheus-alertmanager --config.file=am.yml --storage.path=$(mktemp -d)
//     --web.listen-address=127.0.0.1:19093 --cluster.listen-address=
// with am.yml `route: {receiver: blackhole}` / `receivers: [{name: blackhole}]`, then each
// `labels` below POSTed as [{"labels": …}] to /api/v2/alerts (exactly these bytes, duplicate key
// included) and `fingerprint` read back from GET /api/v2/alerts. A changed value here means
// resolves and silences stop finding what Alertmanager (and its webhooks) call the same alert.
struct Captured {
  const char* name;
  const char* labels;  // the JSON object as POSTed
  const char* fingerprint;
};
constexpr Captured kCaptured[] = {
    {"one label", R"({"alertname":"Watchdog"})", "003b0a0f7d3fa569"},
    {"node alert",
     R"({"alertname":"HostHighCpuLoad","instance":"node-3:9100","job":"node","severity":"page"})",
     "2cccb33ea5891f44"},
    {"kube-prometheus alert",
     R"({"alertname":"KubePodCrashLooping","container":"api","instance":"10.244.1.17:8080",)"
     R"("job":"kube-state-metrics","namespace":"payments","pod":"payments-api-7c9d8b6f4-lx2mn",)"
     R"("severity":"critical"})",
     "ece185e44012a484"},
    {"with Prometheus' external labels",
     R"({"alertname":"KubePodCrashLooping","container":"api","instance":"10.244.1.17:8080",)"
     R"("job":"kube-state-metrics","namespace":"payments","pod":"payments-api-7c9d8b6f4-lx2mn",)"
     R"("severity":"critical","cluster":"prod-eu-1","prometheus":"monitoring/k8s",)"
     R"("replica":"prometheus-k8s-0"})",
     "5615f43b517ebaab"},
    {"resolved disk alert",
     R"({"alertname":"DiskFull","device":"/dev/sda1","instance":"db-1:9100","job":"node",)"
     R"("mountpoint":"/var/lib/postgresql","severity":"error"})",
     "8d2eed9fbf1be173"},
    {"unsorted, non-ASCII values",
     R"({"zone":"東京","alertname":"DiskFull","mountpoint":"/données"})", "b261743568e9e309"},
    {"separator: a=bc", R"({"a":"bc"})", "a0a3542c19b900ab"},
    {"separator: ab=c", R"({"ab":"c"})", "20ba9b3025a8b421"},
    {"quote, backslash, newline, __name__",
     R"({"alertname":"Quote\"d","path":"C:\\tmp\n","__name__":"up"})", "6d0e7329473a8645"},
    {"duplicate key: the last wins", R"({"alertname":"Dup","x":"1","x":"2"})", "45c90bc6cc836ad7"},
    {"OK1", R"({"alertname":"OK1"})", "1609485f5e03bf85"},
    {"OK2", R"({"alertname":"OK2"})", "1613485f5e0c140a"},
};

TEST(AlertmanagerPushFingerprint, MatchesAlertmanager025) {
  for (const Captured& c : kCaptured) {
    SCOPED_TRACE(c.name);
    const Event e = DecodeOne(std::string(R"([{"labels":)") + c.labels + "}]");
    EXPECT_EQ(e.dedup_key, c.fingerprint);
    EXPECT_FALSE(e.dedup_key_generated);
    EXPECT_EQ(AlertmanagerFingerprint(e.labels), c.fingerprint);
    // The function sorts what it is given: any order gives the same fingerprint.
    Labels reversed(e.labels.rbegin(), e.labels.rend());
    EXPECT_EQ(AlertmanagerFingerprint(reversed), c.fingerprint);
  }
}

// Alertmanager takes a NUL in a label value (Go strings are bytes); opsorch refuses it (text
// columns cannot hold one), but the hash of such a label set is still Alertmanager's.
TEST(AlertmanagerPushFingerprint, HashOfBytesOpsorchRefusesIsStillAlertmanagers) {
  EXPECT_EQ(AlertmanagerFingerprint({{"alertname", std::string("Nul\0", 4)}}), "1c9996d5af4c238b");
}

// Alertmanager's postAlertsHandler drops labels with an empty value (removeEmptyLabels) before
// it validates and fingerprints: {alertname="EmptyValue", team=""} is stored as
// {alertname="EmptyValue"} with fingerprint 562a4742b25554c6, {alertname="EmptyBadName",
// 1bad=""} is accepted as fc9251d59addd891, and {a=""} is refused "at least one label pair
// required" (all three captured as above).
TEST(AlertmanagerPushFingerprint, EmptyLabelValuesAreDroppedAsAlertmanagerDoes) {
  struct Case {
    const char* labels;
    Labels stored;
    const char* fingerprint;
  };
  const Case kCases[] = {
      {R"({"alertname":"EmptyValue","team":""})",
       {{"alertname", "EmptyValue"}},
       "562a4742b25554c6"},
      {R"({"alertname":"EmptyBadName","1bad":""})",
       {{"alertname", "EmptyBadName"}},
       "fc9251d59addd891"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.labels);
    const Event e = DecodeOne(std::string(R"([{"labels":)") + c.labels + "}]");
    EXPECT_EQ(e.labels, c.stored);
    EXPECT_EQ(e.dedup_key, c.fingerprint);
  }
  auto only_empty = Push(R"([{"labels":{"a":""}}])");
  ASSERT_TRUE(only_empty);
  EXPECT_THAT(only_empty->events, IsEmpty());
  EXPECT_EQ(ElementErrors(*only_empty),
            (ErrorList{{"[0].labels", "must have at least one label pair"}}));
}

// ---- times ---------------------------------------------------------------------------------

TEST(AlertmanagerPushTimes, DefaultsAndResolveAsAlertmanager025) {
  struct Case {
    const char* name;
    std::optional<JsonValue> starts_at;  // nullopt: absent
    std::optional<JsonValue> ends_at;
    const char* starts;  // what is stored
    const char* ends;
    EventAction action;
  };
  const Case kCases[] = {
      {"neither: now, now + resolve timeout", std::nullopt, std::nullopt, "2024-03-11T14:05:00Z",
       "2024-03-11T14:10:00Z", EventAction::kTrigger},
      {"only startsAt: ends after the resolve timeout", "2024-03-11T14:00:00Z", std::nullopt,
       "2024-03-11T14:00:00Z", "2024-03-11T14:10:00Z", EventAction::kTrigger},
      {"only endsAt, future: startsAt = endsAt", std::nullopt, "2024-03-11T14:30:00Z",
       "2024-03-11T14:30:00Z", "2024-03-11T14:30:00Z", EventAction::kTrigger},
      {"only endsAt, past: startsAt = endsAt, resolved", std::nullopt, "2024-03-11T13:30:00Z",
       "2024-03-11T13:30:00Z", "2024-03-11T13:30:00Z", EventAction::kResolve},
      {"endsAt = now resolves", "2024-03-11T14:00:00Z", "2024-03-11T14:05:00Z",
       "2024-03-11T14:00:00Z", "2024-03-11T14:05:00Z", EventAction::kResolve},
      {"endsAt a nanosecond after now fires", "2024-03-11T14:00:00Z",
       "2024-03-11T14:05:00.000000001Z", "2024-03-11T14:00:00Z", "2024-03-11T14:05:00.000000001Z",
       EventAction::kTrigger},
      {"both past: resolved", "2024-03-11T13:00:00Z", "2024-03-11T14:01:00Z",
       "2024-03-11T13:00:00Z", "2024-03-11T14:01:00Z", EventAction::kResolve},
      {"endsAt = startsAt is allowed", "2024-03-11T14:01:00Z", "2024-03-11T14:01:00Z",
       "2024-03-11T14:01:00Z", "2024-03-11T14:01:00Z", EventAction::kResolve},
      {"startsAt exactly at the default end is allowed", "2024-03-11T14:10:00Z", std::nullopt,
       "2024-03-11T14:10:00Z", "2024-03-11T14:10:00Z", EventAction::kTrigger},
      {"Go's zero startsAt counts as absent", "0001-01-01T00:00:00Z", "2024-03-11T14:30:00Z",
       "2024-03-11T14:30:00Z", "2024-03-11T14:30:00Z", EventAction::kTrigger},
      {"Go's zero endsAt counts as absent", "2024-03-11T14:00:00Z", "0001-01-01T00:00:00Z",
       "2024-03-11T14:00:00Z", "2024-03-11T14:10:00Z", EventAction::kTrigger},
      {"null counts as absent", JsonValue(nullptr), JsonValue(nullptr), "2024-03-11T14:05:00Z",
       "2024-03-11T14:10:00Z", EventAction::kTrigger},
      {"zone offsets are instants", "2024-03-11T15:00:00.5+01:00",
       "2024-03-11T09:30:00.123456789-05:00", "2024-03-11T14:00:00.5Z",
       "2024-03-11T14:30:00.123456789Z", EventAction::kTrigger},
      {"Prometheus' milliseconds", "2024-03-11T14:02:37.421Z", "2024-03-11T14:09:07.421Z",
       "2024-03-11T14:02:37.421Z", "2024-03-11T14:09:07.421Z", EventAction::kTrigger},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    JsonObject alert = {{"labels", {{"alertname", "T"}}}};
    if (c.starts_at) alert["startsAt"] = *c.starts_at;
    if (c.ends_at) alert["endsAt"] = *c.ends_at;
    const Event e = DecodeOne(alert);
    EXPECT_EQ(e.starts_at, Ns(c.starts));
    EXPECT_EQ(e.ends_at, Ns(c.ends));
    EXPECT_EQ(e.action, c.action);
    // A trigger is stamped with its start, a resolve with its end.
    EXPECT_EQ(e.timestamp.UnixNanos(), e.action == EventAction::kResolve ? e.ends_at : e.starts_at);
  }
}

// Alertmanager's "not set" is Go's zero time (year 1), not the Unix epoch: captured as above,
// startsAt 1970-01-01T00:00:00Z with endsAt 2099 is stored with startsAt 1970-01-01T00:00:00.000Z
// (fingerprint 0d29cf146394a829), and endsAt 1970-01-01T00:00:00Z alone counts as resolved
// (alertmanager_alerts_received_total{status="resolved"} went up).
TEST(AlertmanagerPushTimes, TheUnixEpochIsATimeNotAbsence) {
  const Event starts = DecodeOne(JsonObject{{"labels", {{"alertname", "Epoch"}}},
                                            {"startsAt", "1970-01-01T00:00:00Z"},
                                            {"endsAt", "2099-01-01T00:00:00Z"}});
  EXPECT_EQ(starts.dedup_key, "0d29cf146394a829");
  EXPECT_EQ(starts.starts_at, 0);
  EXPECT_EQ(starts.ends_at, Ns("2099-01-01T00:00:00Z"));
  EXPECT_EQ(starts.action, EventAction::kTrigger);

  const Event ends = DecodeOne(
      JsonObject{{"labels", {{"alertname", "EpochEnd"}}}, {"endsAt", "1970-01-01T00:00:00Z"}});
  EXPECT_EQ(ends.starts_at, 0);
  EXPECT_EQ(ends.ends_at, 0);
  EXPECT_EQ(ends.action, EventAction::kResolve);
}

// ---- refusals ------------------------------------------------------------------------------

// One alert per body; Alertmanager's wording in the comments where opsorch words it otherwise.
TEST(AlertmanagerPushErrors, InvalidAlertsNameTheirFields) {
  struct Case {
    const char* name;
    std::string alert;  // the JSON of the one element
    ErrorList errors;
  };
  const Case kCases[] = {
      // swagger: "0.labels in body is required"
      {"labels missing", R"({"annotations":{}})", {{"[0].labels", "is required"}}},
      {"labels null", R"({"labels":null})", {{"[0].labels", "is required"}}},
      // "at least one label pair required"
      {"labels empty", R"({"labels":{}})", {{"[0].labels", "must have at least one label pair"}}},
      {"labels an array", R"({"labels":[]})", {{"[0].labels", "must be an object"}}},
      {"label value a number",
       R"({"labels":{"alertname":"A","replicas":3}})",
       {{"[0].labels.replicas", "must be a string"}}},
      // "invalid label set: invalid name \"bad-name\""
      {"label name with a dash",
       R"({"labels":{"bad-name":"x"}})",
       {{"[0].labels.bad-name", kBadLabelName}}},
      {"label name starting with a digit",
       R"({"labels":{"alertname":"A","1x":"y"}})",
       {{"[0].labels.1x", kBadLabelName}}},
      {"non-ASCII label name", R"({"labels":{"zoné":"x"}})", {{"[0].labels.zoné", kBadLabelName}}},
      {"empty label name", R"({"labels":{"":"x"}})", {{"[0].labels.", kBadLabelName}}},
      {"every bad name is named",
       R"({"labels":{"bad-name":"x","alertname":"A","1x":"y"}})",
       {{"[0].labels.1x", kBadLabelName}, {"[0].labels.bad-name", kBadLabelName}}},
      // "invalid annotations: invalid name \"runbook-url\""
      {"annotation name with a dash",
       R"({"labels":{"alertname":"A"},"annotations":{"runbook-url":"https://r"}})",
       {{"[0].annotations.runbook-url", kBadAnnotationName}}},
      {"bad label and annotation names",
       R"({"labels":{"a-b":"x"},"annotations":{"c d":"y"}})",
       {{"[0].labels.a-b", kBadLabelName}, {"[0].annotations.c d", kBadAnnotationName}}},
      {"annotations a string",
       R"({"labels":{"alertname":"A"},"annotations":"x"})",
       {{"[0].annotations", "must be an object"}}},
      {"annotation value an object",
       R"({"labels":{"alertname":"A"},"annotations":{"summary":{"text":"x"}}})",
       {{"[0].annotations.summary", "must be a string"}}},
      // "start time must be before end time"
      {"endsAt before startsAt",
       R"({"labels":{"alertname":"A"},"startsAt":"2024-03-11T14:00:00Z","endsAt":"2024-03-11T13:59:59.999Z"})",
       {{"[0].endsAt", "must not be before startsAt"}}},
      {"startsAt after the default end",
       R"({"labels":{"alertname":"A"},"startsAt":"2024-03-11T14:10:00.000000001Z"})",
       {{"[0].endsAt", "must not be before startsAt"}}},
      {"startsAt not RFC 3339",
       R"({"labels":{"alertname":"A"},"startsAt":"2024-03-11 14:00:00Z"})",
       {{"[0].startsAt", "must be an RFC 3339 timestamp"}}},
      {"endsAt without a zone",
       R"({"labels":{"alertname":"A"},"endsAt":"2024-03-11T14:00:00"})",
       {{"[0].endsAt", "must be an RFC 3339 timestamp"}}},
      {"endsAt a number",
       R"({"labels":{"alertname":"A"},"endsAt":1710165900})",
       {{"[0].endsAt", "must be a string"}}},
      {"startsAt beyond int64 nanoseconds",
       R"({"labels":{"alertname":"A"},"startsAt":"2300-01-01T00:00:00Z"})",
       {{"[0].startsAt", std::string(Time::kNanosRange)}}},
      {"generatorURL a number",
       R"({"labels":{"alertname":"A"},"generatorURL":7})",
       {{"[0].generatorURL", "must be a string"}}},
      // Alertmanager takes NUL; PostgreSQL text cannot hold it.
      {"NUL in a label value",
       R"({"labels":{"alertname":"A\u0000"}})",
       {{"[0].labels.alertname", "must not contain NUL characters"}}},
      {"NUL in an annotation",
       R"({"labels":{"alertname":"A"},"annotations":{"summary":"\u0000"}})",
       {{"[0].annotations.summary", "must not contain NUL characters"}}},
      {"NUL in generatorURL",
       R"({"labels":{"alertname":"A"},"generatorURL":"http://p/\u0000"})",
       {{"[0].generatorURL", "must not contain NUL characters"}}},
      {"element a string", R"("firing")", {{"[0]", "must be an object"}}},
      {"element null", R"(null)", {{"[0]", "must be an object"}}},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    auto d = Push("[" + c.alert + "]");
    ASSERT_TRUE(d) << d.error().front().field << ": " << d.error().front().message;
    EXPECT_THAT(d->events, IsEmpty());
    EXPECT_EQ(ElementErrors(*d), c.errors);
  }
}

// Alertmanager stores the valid alerts of a push and answers 400 with the others' errors.
TEST(AlertmanagerPushErrors, ValidAlertsAreKeptBesideInvalidOnes) {
  const std::string body = R"([{"labels":{"alertname":"OK1"}},)"
                           R"({"labels":{"1bad":"x"}},)"
                           R"({"labels":{"alertname":"OK2"},"endsAt":"2024-03-11T14:00:00Z"},)"
                           R"({"labels":{}},)"
                           R"("not an object",)"
                           R"(null,)"
                           R"({"labels":{"alertname":"OK3"},"generatorURL":7}])";
  auto d = Push(body);
  ASSERT_TRUE(d);
  EXPECT_EQ(ElementErrors(*d), (ErrorList{{"[1].labels.1bad", kBadLabelName},
                                          {"[3].labels", "must have at least one label pair"},
                                          {"[4]", "must be an object"},
                                          {"[5]", "must be an object"},
                                          {"[6].generatorURL", "must be a string"}}));
  ASSERT_EQ(d->events.size(), 2u);
  EXPECT_EQ(d->events[0].dedup_key, "1609485f5e03bf85");  // captured with kCaptured
  EXPECT_EQ(d->events[0].action, EventAction::kTrigger);
  EXPECT_EQ(d->events[1].dedup_key, "1613485f5e0c140a");
  EXPECT_EQ(d->events[1].action, EventAction::kResolve);
}

TEST(AlertmanagerPushErrors, TheBodyItself) {
  struct Case {
    const char* name;
    std::string body;
    ErrorList errors;
  };
  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  const Case kCases[] = {
      {"one alert, not in an array",
       R"({"labels":{"alertname":"A"}})",
       {{"", "must be a JSON array of alerts"}}},
      {"a webhook notification",
       R"({"version":"4","alerts":[]})",
       {{"", "must be a JSON array of alerts"}}},
      {"a string", R"("alerts")", {{"", "must be a JSON array of alerts"}}},
      {"null", "null", {{"", "must be a JSON array of alerts"}}},
      {"truncated", R"([{"labels":{"alertname":"A"})", {{"", "invalid JSON: unexpected EOF"}}},
      {"too deep",
       R"([{"labels":{"alertname":"A"},"annotations":{"x":)" + deep + "}}]",
       {{"", "invalid JSON: json: nesting exceeds the limit of 32 levels"}}},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ErrorsOf(Push(c.body)), c.errors);
  }
  // Not JSON at all (empty, invalid UTF-8, a raw NUL in a string): the reader's own wording.
  constexpr char kRawNul[] = "[{\"labels\":{\"a\":\"b\0\"}}]";
  for (const std::string& body : {std::string(), std::string("[{\"labels\":{\"a\":\"\xc3\x28\"}}]"),
                                  std::string(kRawNul, sizeof(kRawNul) - 1)}) {
    SCOPED_TRACE(body);
    EXPECT_THAT(ErrorsOf(Push(body)), ElementsAre(Pair("", StartsWith("invalid JSON: "))));
  }
  auto none = Push("[]");
  ASSERT_TRUE(none);
  EXPECT_THAT(none->events, IsEmpty());
  EXPECT_THAT(none->errors, IsEmpty());
}

TEST(AlertmanagerPushErrors, AtMostTenThousandAlerts) {
  const auto body_of = [](int n) {
    std::string body = "[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) body += ",";
      body += R"({"labels":{"i":")" + std::to_string(i) + R"("}})";
    }
    return body + "]";
  };
  auto at_limit = Push(body_of(10000));
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(at_limit->events.size(), 10000u);
  EXPECT_EQ(ErrorsOf(Push(body_of(10001))),
            (ErrorList{{"", "must hold at most 10000 alerts (got 10001)"}}));
}

// A push is bounded by the webhook body limit (1 MiB), not PagerDuty's 512 KiB.
TEST(AlertmanagerPushErrors, BodySizeLimit) {
  std::string body = "[";
  for (int i = 0; body.size() < 600 * 1024; ++i) {
    if (i > 0) body += ",";
    body += R"({"labels":{"alertname":"DiskFull","instance":"db-)" + std::to_string(i) +
            R"("},"annotations":{"summary":"Disk almost full"}})";
  }
  body += "]";
  DecodeLimits limits;
  ASSERT_GT(body.size(), limits.max_body_bytes);
  EXPECT_TRUE(Push(body, limits));
  limits.max_webhook_body_bytes = body.size();
  EXPECT_TRUE(Push(body, limits));
  limits.max_webhook_body_bytes = body.size() - 1;
  EXPECT_EQ(
      ErrorsOf(Push(body, limits)),
      (ErrorList{{"", "request body exceeds " + std::to_string(body.size() - 1) + " bytes"}}));
  EXPECT_EQ(ErrorsOf(Push(std::string((1 << 20) + 1, ' '))),
            (ErrorList{{"", "request body exceeds 1048576 bytes"}}));
}

// ---- the mapping onto events ---------------------------------------------------------------

// Exactly what Prometheus 2.42's notifier sends: models.PostableAlerts in swagger's field order,
// times in milliseconds, firing alerts with endsAt a few evaluation intervals ahead, resolved
// ones with endsAt = the time they resolved, external labels on every alert.
constexpr std::string_view kPrometheusPush =
    R"([{"annotations":{"description":"Pod payments/payments-api-7c9d8b6f4-lx2mn (api) is in )"
    R"(waiting state (reason: \"CrashLoopBackOff\").","runbook_url":"https://runbooks.prometheus-)"
    R"(operator.dev/runbooks/kubernetes/kubepodcrashlooping","summary":"Pod is crash looping."},)"
    R"("endsAt":"2024-03-11T14:09:07.421Z","startsAt":"2024-03-11T14:02:37.421Z",)"
    R"("generatorURL":"http://prometheus-k8s-0:9090/graph?g0.expr=kube_pod_container_status_)"
    R"(waiting_reason&g0.tab=1","labels":{"alertname":"KubePodCrashLooping","cluster":"prod-eu-1",)"
    R"("container":"api","instance":"10.244.1.17:8080","job":"kube-state-metrics","namespace":)"
    R"("payments","pod":"payments-api-7c9d8b6f4-lx2mn","prometheus":"monitoring/k8s","replica":)"
    R"("prometheus-k8s-0","severity":"critical"}},)"
    R"({"annotations":{"summary":"Disk almost full on /var/lib/postgresql"},)"
    R"("endsAt":"2024-03-11T14:01:00.512Z","startsAt":"2024-03-11T12:30:00.512Z",)"
    R"("generatorURL":"http://prometheus:9090/graph?g0.expr=disk","labels":{"alertname":)"
    R"("DiskFull","device":"/dev/sda1","instance":"db-1:9100","job":"node","mountpoint":)"
    R"("/var/lib/postgresql","severity":"error"}}])";

TEST(AlertmanagerPushMapping, PrometheusPushMapsEveryField) {
  auto d = Push(kPrometheusPush);
  ASSERT_TRUE(d) << d.error().front().field << ": " << d.error().front().message;
  EXPECT_THAT(d->errors, IsEmpty());
  ASSERT_EQ(d->events.size(), 2u);

  const Event& firing = d->events[0];
  const std::string kUrl =
      "http://prometheus-k8s-0:9090/"
      "graph?g0.expr=kube_pod_container_status_waiting_reason&g0.tab=1";
  EXPECT_EQ(firing.action, EventAction::kTrigger);
  EXPECT_EQ(firing.routing_key, kKey);
  EXPECT_EQ(firing.origin, "alertmanager_api");
  EXPECT_TRUE(firing.push);
  EXPECT_EQ(firing.dedup_key, "5615f43b517ebaab");  // Alertmanager's, captured above
  EXPECT_FALSE(firing.dedup_key_generated);
  EXPECT_EQ(firing.summary, "Pod is crash looping.");
  EXPECT_EQ(firing.source, "10.244.1.17:8080");
  EXPECT_EQ(firing.severity, Severity::kCritical);
  EXPECT_EQ(firing.starts_at, Ns("2024-03-11T14:02:37.421Z"));
  EXPECT_EQ(firing.ends_at, Ns("2024-03-11T14:09:07.421Z"));
  EXPECT_EQ(FormatRfc3339Nano(firing.timestamp), "2024-03-11T14:02:37.421Z");
  EXPECT_EQ(firing.labels, (Labels{{"alertname", "KubePodCrashLooping"},
                                   {"cluster", "prod-eu-1"},
                                   {"container", "api"},
                                   {"instance", "10.244.1.17:8080"},
                                   {"job", "kube-state-metrics"},
                                   {"namespace", "payments"},
                                   {"pod", "payments-api-7c9d8b6f4-lx2mn"},
                                   {"prometheus", "monitoring/k8s"},
                                   {"replica", "prometheus-k8s-0"},
                                   {"severity", "critical"}}));
  EXPECT_EQ(firing.links, (JsonArray{JsonObject{{"href", kUrl}, {"text", "Source"}}}));
  const JsonObject details = {
      {"labels",
       {{"alertname", "KubePodCrashLooping"},
        {"cluster", "prod-eu-1"},
        {"container", "api"},
        {"instance", "10.244.1.17:8080"},
        {"job", "kube-state-metrics"},
        {"namespace", "payments"},
        {"pod", "payments-api-7c9d8b6f4-lx2mn"},
        {"prometheus", "monitoring/k8s"},
        {"replica", "prometheus-k8s-0"},
        {"severity", "critical"}}},
      {"annotations",
       {{"description",
         "Pod payments/payments-api-7c9d8b6f4-lx2mn (api) is in waiting state (reason: "
         "\"CrashLoopBackOff\")."},
        {"runbook_url",
         "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"},
        {"summary", "Pod is crash looping."}}},
      {"generatorURL", kUrl}};
  EXPECT_EQ(firing.custom_details, details);
  for (const std::string* s :
       {&firing.component, &firing.group, &firing.class_name, &firing.client, &firing.client_url}) {
    EXPECT_EQ(*s, "");
  }
  EXPECT_THAT(firing.images, IsEmpty());

  const Event& resolved = d->events[1];
  EXPECT_EQ(resolved.action, EventAction::kResolve);
  EXPECT_EQ(resolved.dedup_key, "8d2eed9fbf1be173");  // Alertmanager's, captured above
  EXPECT_EQ(resolved.summary, "Disk almost full on /var/lib/postgresql");
  EXPECT_EQ(resolved.source, "db-1:9100");
  EXPECT_EQ(resolved.severity, Severity::kError);
  EXPECT_EQ(FormatRfc3339Nano(resolved.timestamp), "2024-03-11T14:01:00.512Z");  // its end
  EXPECT_EQ(resolved.custom_details.size(), 3u);
}

TEST(AlertmanagerPushMapping, SummaryFallbackChain) {
  struct Case {
    const char* name;
    JsonObject labels;
    JsonObject annotations;
    std::string summary;
  };
  const Case kCases[] = {
      {"summary first", {{"alertname", "A"}}, {{"summary", "S"}, {"description", "D"}}, "S"},
      {"then description", {{"alertname", "A"}}, {{"description", "D"}}, "D"},
      {"empty summary skipped", {{"alertname", "A"}}, {{"summary", ""}, {"description", "D"}}, "D"},
      {"then alertname", {{"alertname", "A"}}, {{"runbook_url", "https://r"}}, "A"},
      {"nothing at all: the fingerprint",
       {{"job", "node"}},
       {},
       "Alertmanager alert " + AlertmanagerFingerprint({{"job", "node"}})},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(DecodeOne(JsonObject{{"labels", c.labels}, {"annotations", c.annotations}}).summary,
              c.summary);
  }
}

TEST(AlertmanagerPushMapping, SummaryIsCutAtACodePoint) {
  const Event e = DecodeOne(JsonObject{{"labels", {{"alertname", "A"}}},
                                       {"annotations", {{"summary", Repeat("\u20ac", 2000)}}}});
  EXPECT_EQ(e.summary, Repeat("\u20ac", 1023) + "\u2026");
  DecodeLimits limits;
  limits.max_summary = 10;
  const auto summary = [&](std::string_view s) {
    return DecodeOne(
               JsonObject{{"labels", {{"alertname", "A"}}}, {"annotations", {{"summary", s}}}},
               limits)
        .summary;
  };
  EXPECT_EQ(summary("0123456789"), "0123456789");
  EXPECT_EQ(summary("0123456789x"), "012345678\u2026");
}

TEST(AlertmanagerPushMapping, SourceFallbackChain) {
  struct Case {
    JsonObject labels;
    const char* source;
  };
  const Case kCases[] = {
      {{{"instance", "web-1:9100"}, {"job", "node"}}, "web-1:9100"},
      {{{"job", "node"}}, "node"},
      {{{"instance", ""}, {"job", "node"}}, "node"},
      {{{"alertname", "A"}}, "alertmanager"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(boost::json::serialize(c.labels));
    EXPECT_EQ(DecodeOne(JsonObject{{"labels", c.labels}}).source, c.source);
  }
}

TEST(AlertmanagerPushMapping, SeverityFromTheSeverityLabel) {
  const std::pair<const char*, Severity> kCases[] = {
      {"critical", Severity::kCritical}, {"page", Severity::kCritical},
      {"Critical", Severity::kCritical}, {"error", Severity::kError},
      {"warning", Severity::kWarning},   {"info", Severity::kInfo},
      {"INFO", Severity::kInfo},         {"high", Severity::kWarning},
      {"none", Severity::kWarning},
  };
  for (const auto& [label, expected] : kCases) {
    SCOPED_TRACE(label);
    EXPECT_EQ(DecodeOne(JsonObject{{"labels", {{"alertname", "A"}, {"severity", label}}}}).severity,
              expected);
  }
  EXPECT_EQ(DecodeOne(JsonObject{{"labels", {{"alertname", "A"}}}}).severity, Severity::kWarning);
}

TEST(AlertmanagerPushMapping, LinkOnlyWithAGeneratorUrlAndDetailsKeepTheirShape) {
  const Event with = DecodeOne(
      JsonObject{{"labels", {{"alertname", "A"}}}, {"generatorURL", "http://p:9090/graph"}});
  EXPECT_EQ(with.links,
            (JsonArray{JsonObject{{"href", "http://p:9090/graph"}, {"text", "Source"}}}));
  for (const JsonObject& alert :
       {JsonObject{{"labels", {{"alertname", "A"}}}},
        JsonObject{{"labels", {{"alertname", "A"}}}, {"generatorURL", ""}}}) {
    SCOPED_TRACE(boost::json::serialize(alert));
    const Event e = DecodeOne(alert);
    EXPECT_THAT(e.links, IsEmpty());
    EXPECT_EQ(e.custom_details, (JsonObject{{"labels", {{"alertname", "A"}}},
                                            {"annotations", JsonObject()},
                                            {"generatorURL", ""}}));
  }
}

TEST(AlertmanagerPushMapping, LabelsAreSortedByName) {
  const Event e = DecodeOne(R"([{"labels":{"zone":"eu","alertname":"A","Zeta":"z","_x":"1"}}])");
  EXPECT_EQ(e.labels, (Labels{{"Zeta", "z"}, {"_x", "1"}, {"alertname", "A"}, {"zone", "eu"}}));
}

// ---- the refresh digest --------------------------------------------------------------------

// Prometheus re-sends every firing alert each evaluation with a new endsAt; the digest must stay
// the same then (so a refresh does not rewrite the stored alert) and change with what a refresh
// may really change: annotations, generatorURL, startsAt.
TEST(AlertmanagerPushDigest, ChangesWithWhatARefreshMayChange) {
  const JsonObject base = {
      {"labels", {{"alertname", "A"}, {"instance", "x"}}},
      {"annotations", {{"summary", "S"}, {"description", "D"}}},
      {"startsAt", "2024-03-11T14:00:00Z"},
      {"endsAt", "2024-03-11T14:10:00Z"},
      {"generatorURL", "http://p/graph"},
  };
  struct Case {
    const char* name;
    void (*edit)(JsonObject&);
    bool same;
  };
  const Case kCases[] = {
      {"unchanged", [](JsonObject&) {}, true},
      {"endsAt later", [](JsonObject& a) { a["endsAt"] = "2024-03-11T14:20:00Z"; }, true},
      {"endsAt missing", [](JsonObject& a) { a.erase("endsAt"); }, true},
      {"endsAt past (a resolve)", [](JsonObject& a) { a["endsAt"] = "2024-03-11T14:01:00Z"; },
       true},
      {"labels in another order",
       [](JsonObject& a) {
         a["labels"] = {{"instance", "x"}, {"alertname", "A"}};
       },
       true},
      {"annotations in another order",
       [](JsonObject& a) {
         a["annotations"] = {{"description", "D"}, {"summary", "S"}};
       },
       true},
      {"the same startsAt in another zone",
       [](JsonObject& a) { a["startsAt"] = "2024-03-11T15:00:00+01:00"; }, true},
      {"a label value (identity, not digest)",
       [](JsonObject& a) { a["labels"].as_object()["instance"] = "y"; }, true},
      {"an annotation value", [](JsonObject& a) { a["annotations"].as_object()["summary"] = "T"; },
       false},
      {"an annotation added", [](JsonObject& a) { a["annotations"].as_object()["runbook"] = "r"; },
       false},
      {"an annotation removed",
       [](JsonObject& a) { a["annotations"].as_object().erase("description"); }, false},
      {"an empty annotation added", [](JsonObject& a) { a["annotations"].as_object()["x"] = ""; },
       false},
      {"generatorURL changed", [](JsonObject& a) { a["generatorURL"] = "http://p/graph2"; }, false},
      {"generatorURL removed", [](JsonObject& a) { a.erase("generatorURL"); }, false},
      {"startsAt a millisecond later",
       [](JsonObject& a) { a["startsAt"] = "2024-03-11T14:00:00.001Z"; }, false},
  };
  const std::int64_t digest = DecodeOne(base).digest;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    JsonObject alert = base;
    c.edit(alert);
    if (c.same) {
      EXPECT_EQ(DecodeOne(alert).digest, digest);
    } else {
      EXPECT_NE(DecodeOne(alert).digest, digest);
    }
  }
  // A later refresh (another `now`) with the same startsAt keeps the digest.
  EXPECT_EQ(DecodeOne(base, {}, kNow + kMinute).digest, digest);
}

// The separator keeps {a: "bc"} and {ab: "c"} apart, as in the fingerprint.
TEST(AlertmanagerPushDigest, AnnotationBoundariesAreKept) {
  const auto digest = [](JsonObject annotations) {
    return DecodeOne(JsonObject{{"labels", {{"alertname", "A"}}},
                                {"annotations", std::move(annotations)},
                                {"startsAt", "2024-03-11T14:00:00Z"}})
        .digest;
  };
  EXPECT_NE(digest({{"a", "bc"}}), digest({{"ab", "c"}}));
  EXPECT_NE(digest({{"a", ""}}), digest({}));
}

// Refusals never quote the integration key the URL named (the key is not in the body).
TEST(AlertmanagerPushErrors, ErrorsDoNotQuoteTheKey) {
  for (const std::string& body :
       {std::string("{}"), std::string("[{\"labels\":{}}]"), std::string("[1,2,3]"),
        std::string("[{\"labels\":{\"a-b\":\"c\"},\"startsAt\":\"x\"}]")}) {
    SCOPED_TRACE(body);
    auto d = Push(body);
    const std::vector<FieldError>& errors = d ? d->errors : d.error();
    EXPECT_THAT(errors, ::testing::Not(IsEmpty()));
    for (const FieldError& e : errors) {
      EXPECT_EQ(e.field.find(kKey), std::string::npos);
      EXPECT_EQ(e.message.find(kKey), std::string::npos);
      EXPECT_FALSE(e.message.empty());
    }
  }
}

}  // namespace
}  // namespace opsorch::engine
