// Alertmanager webhook (version 4) decoding: the mapping of every field, the fingerprint fallback
// hash, severity and summary rules, truncation at a UTF-8 boundary, and the errors with their
// paths.
#include <filesystem>
#include <fstream>
#include <iterator>
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

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

using decode_test::kCorpus;
constexpr std::string_view kIntegrationKey = "4d1f0a9b8c7e6d5f4a3b2c1d0e9f8a7b";

using decode_test::ErrorList;
using decode_test::ErrorsOf;
using decode_test::ReadCorpus;

// A notification around the given alerts.
std::string Notification(const JsonArray& alerts) {
  const JsonValue v = {{"version", "4"},
                       {"groupKey", "{}:{alertname=\"Test\"}"},
                       {"status", "firing"},
                       {"receiver", "opsorch"},
                       {"externalURL", "http://alertmanager.example:9093"},
                       {"alerts", alerts}};
  return boost::json::serialize(v);
}

JsonObject Alert(JsonObject labels, JsonObject annotations = {}) {
  return {{"status", "firing"},
          {"labels", std::move(labels)},
          {"annotations", std::move(annotations)},
          {"startsAt", "2024-03-11T14:02:37Z"},
          {"endsAt", "0001-01-01T00:00:00Z"},
          {"generatorURL", "http://prometheus.example:9090/graph?g0.expr=up"},
          {"fingerprint", "0123456789abcdef"}};
}

// The one event of a one-alert notification.
Event DecodeOne(const JsonObject& alert, const DecodeLimits& limits = {}) {
  auto events = DecodeAlertmanager(Notification(JsonArray{alert}), kIntegrationKey, limits);
  EXPECT_TRUE(events) << (events ? ""
                                 : events.error().front().field + ": " +
                                       events.error().front().message);
  if (!events || events->size() != 1) {
    ADD_FAILURE() << "expected one event";
    return {};
  }
  return std::move(events->front());
}

std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string Repeat(std::string_view unit, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += unit;
  return s;
}

TEST(AlertmanagerCorpus, FiringAndResolvedAlertsMapEveryField) {
  auto events =
      DecodeAlertmanager(ReadCorpus("alertmanager_v4_firing_resolved.json"), kIntegrationKey);
  ASSERT_TRUE(events) << events.error().front().field << ": " << events.error().front().message;
  ASSERT_EQ(events->size(), 2u);
  const std::string kGeneratorUrl =
      "http://prometheus-k8s-0:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_"
      "waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1";
  const std::string kGroupKey =
      "{}/{severity=\"critical\"}:{alertname=\"KubePodCrashLooping\", namespace=\"payments\"}";

  const Event& firing = (*events)[0];
  EXPECT_EQ(firing.action, EventAction::kTrigger);
  EXPECT_EQ(firing.routing_key, kIntegrationKey);
  EXPECT_EQ(firing.dedup_key, "5b2e3fd0c9a7e1d4");
  EXPECT_FALSE(firing.dedup_key_generated);
  EXPECT_EQ(firing.summary, "Pod is crash looping.");
  EXPECT_EQ(firing.source, "10.244.1.17:8080");
  EXPECT_EQ(firing.severity, Severity::kCritical);
  EXPECT_EQ(FormatRfc3339Nano(firing.timestamp), "2024-03-11T14:02:37.421Z");
  EXPECT_TRUE(firing.component.empty());
  EXPECT_TRUE(firing.group.empty());
  EXPECT_TRUE(firing.class_name.empty());
  EXPECT_TRUE(firing.images.empty());
  EXPECT_TRUE(firing.client.empty());
  EXPECT_TRUE(firing.client_url.empty());
  EXPECT_EQ(firing.origin, "alertmanager");
  EXPECT_EQ(firing.links, (JsonArray{JsonObject{{"href", kGeneratorUrl}, {"text", "Source"}}}));
  const JsonObject firing_details = {
      {"labels",
       {{"alertname", "KubePodCrashLooping"},
        {"container", "api"},
        {"instance", "10.244.1.17:8080"},
        {"job", "kube-state-metrics"},
        {"namespace", "payments"},
        {"pod", "payments-api-7c9d8b6f4-lx2mn"},
        {"severity", "critical"}}},
      {"annotations",
       {{"description",
         "Pod payments/payments-api-7c9d8b6f4-lx2mn (api) is in waiting state (reason: "
         "\"CrashLoopBackOff\")."},
        {"runbook_url",
         "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"},
        {"summary", "Pod is crash looping."}}},
      {"startsAt", "2024-03-11T14:02:37.421Z"},
      {"endsAt", "0001-01-01T00:00:00Z"},
      {"generatorURL", kGeneratorUrl},
      {"groupKey", kGroupKey},
      {"receiver", "opsorch"},
      {"externalURL", "http://alertmanager-main-0:9093"}};
  EXPECT_EQ(firing.custom_details, firing_details);

  const Event& resolved = (*events)[1];
  EXPECT_EQ(resolved.action, EventAction::kResolve);
  EXPECT_EQ(resolved.routing_key, kIntegrationKey);
  EXPECT_EQ(resolved.dedup_key, "8c0f4a6e21b3d975");
  // No summary annotation: the description stands in.
  EXPECT_EQ(resolved.summary,
            "Pod payments/payments-api-7c9d8b6f4-q8vzt (api) is in waiting state (reason: "
            "\"CrashLoopBackOff\").");
  EXPECT_EQ(resolved.source, "10.244.1.17:8080");
  EXPECT_EQ(resolved.severity, Severity::kCritical);
  // A resolved alert is stamped with its end, in the sender's zone.
  EXPECT_EQ(FormatRfc3339Nano(resolved.timestamp), "2024-03-11T14:05:07.421386241+01:00");
  EXPECT_EQ(resolved.links, firing.links);
  // custom_details have the same shape for a resolved alert.
  std::vector<std::string> firing_keys, resolved_keys;
  for (const auto& kv : firing.custom_details) firing_keys.emplace_back(kv.key());
  for (const auto& kv : resolved.custom_details) resolved_keys.emplace_back(kv.key());
  EXPECT_EQ(resolved_keys, firing_keys);
  EXPECT_EQ(resolved.custom_details.at("endsAt"), "2024-03-11T14:05:07.421386241+01:00");
  EXPECT_EQ(resolved.custom_details.at("startsAt"), "2024-03-11T13:40:07.421+01:00");
  EXPECT_EQ(resolved.custom_details.at("labels").at("pod"), "payments-api-7c9d8b6f4-q8vzt");
}

// The fallback identity is part of the wire contract of open alerts: a changed hash would stop
// every resolve from finding its trigger. Pinned: SHA-256 over the labels sorted by name, each
// name and value followed by 0xFF, first 16 hex digits.
TEST(AlertmanagerFingerprint, FallbackHashIsPinnedAndOrderIndependent) {
  auto events =
      DecodeAlertmanager(ReadCorpus("alertmanager_v4_no_fingerprint.json"), kIntegrationKey);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 1u);
  const Event& e = (*events)[0];
  EXPECT_EQ(e.dedup_key, "f459283438e662e2");
  EXPECT_FALSE(e.dedup_key_generated);         // derived, stable: the resolve finds the same key
  EXPECT_EQ(e.severity, Severity::kCritical);  // "page"
  EXPECT_EQ(e.summary, "HostHighCpuLoad");     // no annotations: alertname
  EXPECT_EQ(e.source, "node-3:9100");
  EXPECT_THAT(e.links, IsEmpty());  // empty generatorURL: no link

  const JsonObject labels = {{"alertname", "HostHighCpuLoad"},
                             {"instance", "node-3:9100"},
                             {"job", "node"},
                             {"severity", "page"}};
  const JsonObject reversed = {{"severity", "page"},
                               {"job", "node"},
                               {"instance", "node-3:9100"},
                               {"alertname", "HostHighCpuLoad"}};
  JsonObject a = Alert(labels);
  JsonObject b = Alert(reversed);
  a.erase("fingerprint");
  b["fingerprint"] = "";  // empty counts as missing
  EXPECT_EQ(DecodeOne(a).dedup_key, "f459283438e662e2");
  EXPECT_EQ(DecodeOne(b).dedup_key, "f459283438e662e2");

  // Annotations and times are not identity; another label value is.
  a["annotations"] = JsonObject{{"summary", "changed"}};
  a["startsAt"] = "2024-03-12T00:00:00Z";
  EXPECT_EQ(DecodeOne(a).dedup_key, "f459283438e662e2");
  JsonObject other_labels = labels;
  other_labels["instance"] = "node-4:9100";
  JsonObject c = Alert(other_labels);
  c.erase("fingerprint");
  EXPECT_NE(DecodeOne(c).dedup_key, "f459283438e662e2");
  EXPECT_EQ(DecodeOne(c).dedup_key.size(), 16u);

  // The separator keeps {a: "bc"} and {ab: "c"} apart.
  JsonObject d = Alert({{"a", "bc"}});
  JsonObject f = Alert({{"ab", "c"}});
  d.erase("fingerprint");
  f.erase("fingerprint");
  EXPECT_NE(DecodeOne(d).dedup_key, DecodeOne(f).dedup_key);
}

TEST(AlertmanagerSeverity, MappingTable) {
  const std::pair<const char*, Severity> kCases[] = {
      {"critical", Severity::kCritical}, {"page", Severity::kCritical},
      {"Critical", Severity::kCritical}, {"PAGE", Severity::kCritical},
      {"error", Severity::kError},       {"warning", Severity::kWarning},
      {"info", Severity::kInfo},         {"high", Severity::kWarning},
      {"p1", Severity::kWarning},        {"none", Severity::kWarning},
      {"", Severity::kWarning},
  };
  for (const auto& [label, expected] : kCases) {
    SCOPED_TRACE(label);
    EXPECT_EQ(DecodeOne(Alert({{"alertname", "A"}, {"severity", label}})).severity, expected);
  }
  EXPECT_EQ(DecodeOne(Alert({{"alertname", "A"}})).severity, Severity::kWarning);
}

TEST(AlertmanagerSummary, FallbackChain) {
  struct Case {
    const char* name;
    JsonObject labels;
    JsonObject annotations;
    const char* summary;
  };
  const Case kCases[] = {
      {"summary first", {{"alertname", "A"}}, {{"summary", "S"}, {"description", "D"}}, "S"},
      {"then description", {{"alertname", "A"}}, {{"description", "D"}}, "D"},
      {"empty summary skipped", {{"alertname", "A"}}, {{"summary", ""}, {"description", "D"}}, "D"},
      {"then alertname", {{"alertname", "A"}}, {{"runbook_url", "https://r"}}, "A"},
      {"nothing at all", {{"job", "node"}}, {}, "Alertmanager alert 0123456789abcdef"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(DecodeOne(Alert(c.labels, c.annotations)).summary, c.summary);
  }
}

TEST(AlertmanagerSource, FallbackChain) {
  EXPECT_EQ(DecodeOne(Alert({{"instance", "web-1:9100"}, {"job", "node"}})).source, "web-1:9100");
  EXPECT_EQ(DecodeOne(Alert({{"instance", ""}, {"job", "node"}})).source, "node");
  EXPECT_EQ(DecodeOne(Alert({{"alertname", "A"}})).source, "alertmanager");
}

TEST(AlertmanagerSummary, LongSummaryIsCutAtACodePointWithAnEllipsis) {
  // Two-, three- and four-byte characters, so that a byte cut would land inside one.
  for (const std::string unit : {"\u00e9", "\u20ac", "\U0001F525", "a\u00e9"}) {
    SCOPED_TRACE(unit);
    const std::string long_text = Repeat(unit, 2000);
    const Event e = DecodeOne(Alert({{"alertname", "A"}}, {{"summary", long_text}}));
    EXPECT_EQ(CodePoints(e.summary), 1024u);
    EXPECT_THAT(e.summary, EndsWith("\u2026"));
    const std::string kept = e.summary.substr(0, e.summary.size() - std::string("\u2026").size());
    EXPECT_EQ(CodePoints(kept), 1023u);
    EXPECT_EQ(long_text.compare(0, kept.size(), kept), 0);  // a prefix of the original
    // The prefix ends on a character boundary: the next byte of the original starts one.
    EXPECT_NE(static_cast<unsigned char>(long_text[kept.size()]) & 0xC0, 0x80);
  }

  DecodeLimits limits;
  limits.max_summary = 10;
  EXPECT_EQ(DecodeOne(Alert({}, {{"summary", "0123456789"}}), limits).summary, "0123456789");
  EXPECT_EQ(DecodeOne(Alert({}, {{"summary", "0123456789x"}}), limits).summary, "012345678\u2026");
  EXPECT_EQ(DecodeOne(Alert({}, {{"summary", Repeat("\u00e9", 11)}}), limits).summary,
            Repeat("\u00e9", 9) + "\u2026");
}

TEST(AlertmanagerTimestamp, StartForFiringEndForResolved) {
  JsonObject alert = Alert({{"alertname", "A"}});
  alert["startsAt"] = "2024-03-11T14:00:00Z";
  alert["endsAt"] = "2024-03-11T14:30:00Z";
  EXPECT_EQ(FormatRfc3339Nano(DecodeOne(alert).timestamp), "2024-03-11T14:00:00Z");
  alert["status"] = "resolved";
  const Event resolved = DecodeOne(alert);
  EXPECT_EQ(resolved.action, EventAction::kResolve);
  EXPECT_EQ(FormatRfc3339Nano(resolved.timestamp), "2024-03-11T14:30:00Z");

  // Missing times are zero, and custom_details keep their shape.
  JsonObject bare = {{"status", "firing"}, {"labels", {{"alertname", "A"}}}};
  const Event e = DecodeOne(bare);
  EXPECT_TRUE(e.timestamp.IsZero());
  EXPECT_EQ(e.custom_details.at("startsAt"), "");
  EXPECT_EQ(e.custom_details.at("annotations"), JsonObject());
  EXPECT_EQ(e.custom_details.size(), 8u);
}

// send_resolved: false senders only ever send firing alerts.
TEST(AlertmanagerCorpus, AllFiringNotification) {
  auto events =
      DecodeAlertmanager(Notification(JsonArray{Alert({{"alertname", "A"}, {"instance", "a"}}),
                                                Alert({{"alertname", "A"}, {"instance", "b"}})}),
                         kIntegrationKey);
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 2u);
  for (const Event& e : *events) EXPECT_EQ(e.action, EventAction::kTrigger);
}

TEST(AlertmanagerErrors, UnsupportedVersion) {
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(ReadCorpus("malformed_am_version3.json"), kIntegrationKey)),
            (ErrorList{{"version", "must be \"4\" (got \"3\")"}}));
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(R"({"version":4,"alerts":[]})", kIntegrationKey)),
            (ErrorList{{"version", "must be \"4\" (got 4)"}}));
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(R"({"alerts":[]})", kIntegrationKey)),
            (ErrorList{{"version", "must be \"4\" (got (none))"}}));
  // A long value is cut in the message.
  const auto long_version =
      ErrorsOf(DecodeAlertmanager(R"({"version":")" + Repeat("9", 500) + R"("})", kIntegrationKey));
  ASSERT_EQ(long_version.size(), 1u);
  EXPECT_LT(long_version[0].second.size(), 100u);
}

TEST(AlertmanagerErrors, BadTypesNameTheirPaths) {
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(ReadCorpus("malformed_am_types.json"), kIntegrationKey)),
            (ErrorList{{"alerts[0].labels.replicas", "must be a string"},
                       {"alerts[1].status", "must be \"firing\" or \"resolved\""},
                       {"alerts[1].annotations", "must be an object"},
                       {"alerts[1].startsAt", "must be an RFC 3339 timestamp"}}));

  struct Case {
    const char* name;
    JsonValue alert;
    ErrorList errors;
  };
  const Case kCases[] = {
      {"alert not an object", JsonValue("firing"), {{"alerts[0]", "must be an object"}}},
      {"status missing",
       JsonObject{{"labels", JsonObject()}},
       {{"alerts[0].status", "is required"}}},
      {"status number", JsonObject{{"status", 1}}, {{"alerts[0].status", "must be a string"}}},
      {"labels array",
       JsonObject{{"status", "firing"}, {"labels", JsonArray()}},
       {{"alerts[0].labels", "must be an object"}}},
      {"annotation value object",
       JsonObject{{"status", "firing"}, {"annotations", {{"summary", {{"text", "x"}}}}}},
       {{"alerts[0].annotations.summary", "must be a string"}}},
      {"endsAt number",
       JsonObject{{"status", "resolved"}, {"endsAt", 1710165600}},
       {{"alerts[0].endsAt", "must be a string"}}},
      {"endsAt without zone",
       JsonObject{{"status", "resolved"}, {"endsAt", "2024-03-11T14:00:00"}},
       {{"alerts[0].endsAt", "must be an RFC 3339 timestamp"}}},
      {"generatorURL number",
       JsonObject{{"status", "firing"}, {"generatorURL", 1}},
       {{"alerts[0].generatorURL", "must be a string"}}},
      {"fingerprint too long",
       JsonObject{{"status", "firing"}, {"fingerprint", Repeat("f", 256)}},
       {{"alerts[0].fingerprint", "must be at most 255 characters"}}},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ErrorsOf(DecodeAlertmanager(Notification(JsonArray{c.alert}), kIntegrationKey)),
              c.errors);
  }
}

TEST(AlertmanagerErrors, AlertsArray) {
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(R"({"version":"4"})", kIntegrationKey)),
            (ErrorList{{"alerts", "is required"}}));
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(R"({"version":"4","alerts":{}})", kIntegrationKey)),
            (ErrorList{{"alerts", "must be an array"}}));
  EXPECT_EQ(
      ErrorsOf(DecodeAlertmanager(R"({"version":"4","alerts":[],"groupKey":5})", kIntegrationKey)),
      (ErrorList{{"groupKey", "must be a string"}}));
  auto none = DecodeAlertmanager(R"({"version":"4","alerts":[]})", kIntegrationKey);
  ASSERT_TRUE(none);
  EXPECT_THAT(*none, IsEmpty());
}

// Alertmanager does not retry a 4xx: a group of any size is taken, up to the body limit.
TEST(Alertmanager, LargeGroupsAreTakenWhole) {
  std::string body = R"({"version":"4","status":"firing","alerts":[)";
  for (int i = 0; i < 5000; ++i) {
    if (i > 0) body += ",";
    body += R"({"status":"firing","labels":{"alertname":"DiskFull","instance":"db-)" +
            std::to_string(i) + R"("},"annotations":{},"startsAt":"2026-03-01T12:00:00Z"})";
  }
  body += "]}";
  ASSERT_GT(body.size(), 512u * 1024);  // over PagerDuty's limit, under the webhook's
  DecodeLimits limits;
  auto events = DecodeAlertmanager(body, kIntegrationKey, limits);
  ASSERT_TRUE(events) << ErrorsOf(events).size();
  EXPECT_EQ(events->size(), 5000u);
  limits.max_webhook_body_bytes = body.size() - 1;
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(body, kIntegrationKey, limits)),
            (ErrorList{{"", "request body exceeds " + std::to_string(body.size() - 1) + " bytes"}}));
}

TEST(AlertmanagerErrors, BodyLevel) {
  const std::string big((1 << 20) + 1, ' ');
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(big, kIntegrationKey)),
            (ErrorList{{"", "request body exceeds 1048576 bytes"}}));
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager("[]", kIntegrationKey)),
            (ErrorList{{"", "must be a JSON object"}}));
  EXPECT_EQ(ErrorsOf(DecodeAlertmanager(ReadCorpus("malformed_truncated.json"), kIntegrationKey)),
            (ErrorList{{"", "invalid JSON: unexpected EOF"}}));
  EXPECT_THAT(
      ErrorsOf(DecodeAlertmanager(ReadCorpus("malformed_invalid_utf8.json"), kIntegrationKey)),
      ElementsAre(Pair("", StartsWith("invalid JSON: "))));
  std::string deep = "\"x\"";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  EXPECT_EQ(
      ErrorsOf(DecodeAlertmanager(R"({"version":"4","alerts":)" + deep + "}", kIntegrationKey)),
      (ErrorList{{"", "invalid JSON: json: nesting exceeds the limit of 32 levels"}}));
}

// Every corpus file goes through both decoders without crashing, and the well-formed seeds
// decode as what they were written for.
TEST(DecodeCorpus, EverySeedDecodesOrExplainsWhyNot) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
  }
  ASSERT_GE(names.size(), 17u) << kCorpus;  // a wrong path must not test nothing
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const std::string body = ReadCorpus(name);
    const auto pd = DecodePagerDutyEvent(body);
    const auto batch = DecodePagerDutyBatch(body);
    const auto am = DecodeAlertmanager(body, kIntegrationKey);
    if (name.starts_with("malformed_")) {
      EXPECT_FALSE(pd);
      EXPECT_FALSE(am);
    } else if (name.starts_with("pd_batch")) {
      EXPECT_TRUE(batch);
    } else if (name.starts_with("pd_")) {
      EXPECT_TRUE(pd);
    } else if (name.starts_with("alertmanager_")) {
      EXPECT_TRUE(am);
    } else {
      ADD_FAILURE() << "corpus file without a known prefix";
    }
    for (const auto* errors : {pd ? nullptr : &pd.error(), am ? nullptr : &am.error()}) {
      if (errors == nullptr) continue;
      EXPECT_THAT(*errors, ::testing::Not(IsEmpty()));  // a refusal always says why
      for (const FieldError& e : *errors) EXPECT_FALSE(e.message.empty()) << e.field;
    }
  }
}

TEST(AlertmanagerCorpus, LabelsAndAnnotationsKeptAsReceived) {
  const Event e = DecodeOne(Alert({{"alertname", "A"}, {"zone", "eu-1"}},
                                  {{"summary", "S"}, {"dashboard", "https://d"}}));
  EXPECT_EQ(e.custom_details.at("labels"), (JsonObject{{"alertname", "A"}, {"zone", "eu-1"}}));
  EXPECT_EQ(e.custom_details.at("annotations"),
            (JsonObject{{"summary", "S"}, {"dashboard", "https://d"}}));
  EXPECT_EQ(e.custom_details.at("groupKey"), "{}:{alertname=\"Test\"}");
  EXPECT_EQ(e.custom_details.at("receiver"), "opsorch");
  EXPECT_EQ(e.custom_details.at("externalURL"), "http://alertmanager.example:9093");
  EXPECT_EQ(e.custom_details.at("generatorURL"), "http://prometheus.example:9090/graph?g0.expr=up");
}

}  // namespace
}  // namespace opsorch::engine
