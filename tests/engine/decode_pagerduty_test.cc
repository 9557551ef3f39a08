// PagerDuty Events API v2 decoding: every field rule with its error, error collection, the
// generated dedup key, timestamps, the seed corpus (senders as they really send), batches and the
// body-level limits.
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <set>
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
using namespace std::string_view_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

using decode_test::kCorpus;
constexpr const char* kKey = "R0f5c2a9d8e7b6a5c4d3e2f1a0b9c8d7";

using decode_test::ErrorList;
using decode_test::ErrorsOf;
using decode_test::ReadCorpus;

// A valid trigger, as a JSON value that cases change before it is serialised and decoded.
JsonValue ValidTrigger() {
  return {{"routing_key", kKey},
          {"event_action", "trigger"},
          {"dedup_key", "web-1/cpu"},
          {"payload",
           {{"summary", "CPU at 97% on web-1"}, {"source", "web-1"}, {"severity", "error"}}}};
}

JsonObject& Payload(JsonValue& v) { return v.as_object()["payload"].as_object(); }

Decoded<Event> DecodeValue(const JsonValue& v) {
  return DecodePagerDutyEvent(std::string_view(boost::json::serialize(v)));
}

std::string Repeat(std::string_view unit, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += unit;
  return s;
}

TEST(PagerDutyEvent, ValidTriggerDecodes) {
  auto e = DecodeValue(ValidTrigger());
  ASSERT_TRUE(e) << ErrorsOf(e).front().first << ": " << ErrorsOf(e).front().second;
  EXPECT_EQ(e->action, EventAction::kTrigger);
  EXPECT_EQ(e->routing_key, kKey);
  EXPECT_EQ(e->dedup_key, "web-1/cpu");
  EXPECT_FALSE(e->dedup_key_generated);
  EXPECT_EQ(e->summary, "CPU at 97% on web-1");
  EXPECT_EQ(e->source, "web-1");
  EXPECT_EQ(e->severity, Severity::kError);
  EXPECT_TRUE(e->timestamp.IsZero());
  EXPECT_EQ(e->origin, "events_v2");
}

struct FieldRuleCase {
  const char* name;
  std::function<void(JsonValue&)> change;
  ErrorList errors;  // empty: the changed event is still valid
};

// One rule per case: the one error it must produce, with the field's dotted path.
TEST(PagerDutyEvent, EveryFieldRuleHasItsError) {
  const std::string long_summary = Repeat("x", 1025);
  const FieldRuleCase kCases[] = {
      // routing_key
      {"routing_key missing",
       [](JsonValue& v) { v.as_object().erase("routing_key"); },
       {{"routing_key", "is required"}}},
      {"routing_key null",
       [](JsonValue& v) { v.as_object()["routing_key"] = nullptr; },
       {{"routing_key", "is required"}}},
      {"routing_key number",
       [](JsonValue& v) { v.as_object()["routing_key"] = 42; },
       {{"routing_key", "must be a string"}}},
      {"routing_key empty",
       [](JsonValue& v) { v.as_object()["routing_key"] = ""; },
       {{"routing_key", "must not be empty"}}},
      {"routing_key 129 chars",
       [](JsonValue& v) { v.as_object()["routing_key"] = Repeat("k", 129); },
       {{"routing_key", "must be at most 128 characters"}}},
      {"routing_key 128 chars is ours to accept",
       [](JsonValue& v) { v.as_object()["routing_key"] = Repeat("k", 128); },
       {}},
      {"routing_key of any length up to 128, not only PagerDuty's 32",
       [](JsonValue& v) { v.as_object()["routing_key"] = "short"; },
       {}},
      // event_action
      {"event_action missing",
       [](JsonValue& v) { v.as_object().erase("event_action"); },
       {{"event_action", "is required"}}},
      {"event_action upper case",
       [](JsonValue& v) { v.as_object()["event_action"] = "Trigger"; },
       {{"event_action", "must be one of trigger, acknowledge, resolve"}}},
      {"event_action unknown",
       [](JsonValue& v) { v.as_object()["event_action"] = "ack"; },
       {{"event_action", "must be one of trigger, acknowledge, resolve"}}},
      {"event_action number",
       [](JsonValue& v) { v.as_object()["event_action"] = 1; },
       {{"event_action", "must be a string"}}},
      // dedup_key
      {"dedup_key 256 chars",
       [](JsonValue& v) { v.as_object()["dedup_key"] = Repeat("d", 256); },
       {{"dedup_key", "must be at most 255 characters"}}},
      {"dedup_key 255 two-byte chars (510 bytes)",
       [](JsonValue& v) { v.as_object()["dedup_key"] = Repeat("\u00e9", 255); },
       {}},
      {"dedup_key object",
       [](JsonValue& v) { v.as_object()["dedup_key"] = JsonObject(); },
       {{"dedup_key", "must be a string"}}},
      {"acknowledge without dedup_key",
       [](JsonValue& v) {
         v.as_object()["event_action"] = "acknowledge";
         v.as_object().erase("dedup_key");
       },
       {{"dedup_key", "is required for acknowledge and resolve"}}},
      {"resolve with an empty dedup_key",
       [](JsonValue& v) {
         v.as_object()["event_action"] = "resolve";
         v.as_object()["dedup_key"] = "";
       },
       {{"dedup_key", "is required for acknowledge and resolve"}}},
      {"resolve with a wrongly typed dedup_key says only that",
       [](JsonValue& v) {
         v.as_object()["event_action"] = "resolve";
         v.as_object()["dedup_key"] = 7;
       },
       {{"dedup_key", "must be a string"}}},
      // payload
      {"payload missing on trigger",
       [](JsonValue& v) { v.as_object().erase("payload"); },
       {{"payload", "is required for trigger"}}},
      {"payload a string",
       [](JsonValue& v) { v.as_object()["payload"] = "disk full"; },
       {{"payload", "must be an object"}}},
      {"payload an array on acknowledge",
       [](JsonValue& v) {
         v.as_object()["event_action"] = "acknowledge";
         v.as_object()["payload"] = JsonArray();
       },
       {{"payload", "must be an object"}}},
      {"summary missing",
       [](JsonValue& v) { Payload(v).erase("summary"); },
       {{"payload.summary", "is required"}}},
      {"summary empty",
       [](JsonValue& v) { Payload(v)["summary"] = ""; },
       {{"payload.summary", "must not be empty"}}},
      {"summary number",
       [](JsonValue& v) { Payload(v)["summary"] = 3.5; },
       {{"payload.summary", "must be a string"}}},
      {"summary 1025 chars",
       [&](JsonValue& v) { Payload(v)["summary"] = long_summary; },
       {{"payload.summary", "must be at most 1024 characters"}}},
      {"summary 1024 four-byte chars",
       [](JsonValue& v) { Payload(v)["summary"] = Repeat("\U0001F525", 1024); },
       {}},
      {"source missing",
       [](JsonValue& v) { Payload(v).erase("source"); },
       {{"payload.source", "is required"}}},
      {"source empty",
       [](JsonValue& v) { Payload(v)["source"] = ""; },
       {{"payload.source", "must not be empty"}}},
      {"source array",
       [](JsonValue& v) { Payload(v)["source"] = JsonArray{"a"}; },
       {{"payload.source", "must be a string"}}},
      {"severity missing",
       [](JsonValue& v) { Payload(v).erase("severity"); },
       {{"payload.severity", "is required"}}},
      {"severity capitalised",
       [](JsonValue& v) { Payload(v)["severity"] = "Critical"; },
       {{"payload.severity", "must be one of critical, error, warning, info"}}},
      {"severity unknown",
       [](JsonValue& v) { Payload(v)["severity"] = "high"; },
       {{"payload.severity", "must be one of critical, error, warning, info"}}},
      {"severity number",
       [](JsonValue& v) { Payload(v)["severity"] = 1; },
       {{"payload.severity", "must be a string"}}},
      {"timestamp not a time",
       [](JsonValue& v) { Payload(v)["timestamp"] = "yesterday"; },
       {{"payload.timestamp",
         "must be an ISO 8601 timestamp with a zone, e.g. 2015-07-17T08:42:58.315+0000"}}},
      {"timestamp without a zone",
       [](JsonValue& v) { Payload(v)["timestamp"] = "2015-07-17T08:42:58"; },
       {{"payload.timestamp",
         "must be an ISO 8601 timestamp with a zone, e.g. 2015-07-17T08:42:58.315+0000"}}},
      {"timestamp with an impossible offset",
       [](JsonValue& v) { Payload(v)["timestamp"] = "2015-07-17T08:42:58+2500"; },
       {{"payload.timestamp",
         "must be an ISO 8601 timestamp with a zone, e.g. 2015-07-17T08:42:58.315+0000"}}},
      {"timestamp unix seconds",
       [](JsonValue& v) { Payload(v)["timestamp"] = 1437122578; },
       {{"payload.timestamp", "must be a string"}}},
      {"component number",
       [](JsonValue& v) { Payload(v)["component"] = 1; },
       {{"payload.component", "must be a string"}}},
      {"group array",
       [](JsonValue& v) { Payload(v)["group"] = JsonArray(); },
       {{"payload.group", "must be a string"}}},
      {"class bool",
       [](JsonValue& v) { Payload(v)["class"] = true; },
       {{"payload.class", "must be a string"}}},
      {"custom_details of any type", [](JsonValue& v) { Payload(v)["custom_details"] = 1; }, {}},
      {"unknown payload field ignored", [](JsonValue& v) { Payload(v)["extra"] = 1; }, {}},
      {"unknown top-level field ignored",
       [](JsonValue& v) { v.as_object()["service_key"] = 1; },
       {}},
      // images
      {"images not an array",
       [](JsonValue& v) { v.as_object()["images"] = "a.png"; },
       {{"images", "must be an array"}}},
      {"image not an object",
       [](JsonValue& v) { v.as_object()["images"] = JsonArray{1}; },
       {{"images[0]", "must be an object"}}},
      {"image without src",
       [](JsonValue& v) { v.as_object()["images"] = JsonArray{JsonObject()}; },
       {{"images[0].src", "is required"}}},
      {"image src over http",
       [](JsonValue& v) {
         v.as_object()["images"] = JsonArray{JsonObject{{"src", "http://cdn.example.com/a.png"}}};
       },
       {{"images[0].src", "must start with https://"}}},
      {"image src relative",
       [](JsonValue& v) {
         v.as_object()["images"] = JsonArray{JsonObject{{"src", "/a.png"}}};
       },
       {{"images[0].src", "must start with https://"}}},
      {"second image href number",
       [](JsonValue& v) {
         v.as_object()["images"] =
             JsonArray{JsonObject{{"src", "https://a.example/1.png"}},
                       JsonObject{{"src", "https://a.example/2.png"}, {"href", 2}}};
       },
       {{"images[1].href", "must be a string"}}},
      {"image alt number",
       [](JsonValue& v) {
         v.as_object()["images"] = JsonArray{JsonObject{{"src", "https://a/1.png"}, {"alt", 2}}};
       },
       {{"images[0].alt", "must be a string"}}},
      // links
      {"links not an array",
       [](JsonValue& v) { v.as_object()["links"] = JsonObject(); },
       {{"links", "must be an array"}}},
      {"link not an object",
       [](JsonValue& v) { v.as_object()["links"] = JsonArray{"x"}; },
       {{"links[0]", "must be an object"}}},
      {"link without href",
       [](JsonValue& v) {
         v.as_object()["links"] = JsonArray{JsonObject{{"text", "Runbook"}}};
       },
       {{"links[0].href", "is required"}}},
      {"link text number",
       [](JsonValue& v) {
         v.as_object()["links"] = JsonArray{JsonObject{{"href", "https://x"}, {"text", 1}}};
       },
       {{"links[0].text", "must be a string"}}},
      // client
      {"client number",
       [](JsonValue& v) { v.as_object()["client"] = 1; },
       {{"client", "must be a string"}}},
      {"client_url object",
       [](JsonValue& v) { v.as_object()["client_url"] = JsonObject(); },
       {{"client_url", "must be a string"}}},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.name);
    JsonValue v = ValidTrigger();
    c.change(v);
    const auto decoded = DecodeValue(v);
    EXPECT_EQ(ErrorsOf(decoded), c.errors);
    EXPECT_EQ(decoded.has_value(), c.errors.empty());
  }
}

TEST(PagerDutyEvent, CollectsEveryErrorNotJustTheFirst) {
  JsonValue v = ValidTrigger();
  v.as_object()["routing_key"] = "";
  Payload(v)["severity"] = "sev1";
  Payload(v).erase("source");
  EXPECT_EQ(ErrorsOf(DecodeValue(v)),
            (ErrorList{{"routing_key", "must not be empty"},
                       {"payload.source", "is required"},
                       {"payload.severity", "must be one of critical, error, warning, info"}}));
}

TEST(PagerDutyEvent, MalformedCorpusReportsEveryField) {
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("malformed_pd_types.json"))),
            (ErrorList{{"routing_key", "must be a string"},
                       {"event_action", "must be one of trigger, acknowledge, resolve"},
                       {"dedup_key", "must be a string"},
                       {"images[0].src", "must start with https://"},
                       {"links[0].href", "is required"},
                       {"client", "must be a string"}}));
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("malformed_pd_trigger_without_payload.json"))),
            (ErrorList{{"payload", "is required for trigger"}}));
}

TEST(PagerDutyEvent, TriggerWithoutDedupKeyGetsAFreshUuid) {
  const std::regex uuid_v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  JsonValue v = ValidTrigger();
  v.as_object().erase("dedup_key");
  std::set<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    auto e = DecodeValue(v);
    ASSERT_TRUE(e);
    EXPECT_TRUE(std::regex_match(e->dedup_key, uuid_v4)) << e->dedup_key;
    EXPECT_TRUE(e->dedup_key_generated);
    keys.insert(e->dedup_key);
  }
  EXPECT_EQ(keys.size(), 50u);

  // An empty key is no key; a given one is kept and not marked generated.
  v.as_object()["dedup_key"] = "";
  auto empty = DecodeValue(v);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(std::regex_match(empty->dedup_key, uuid_v4));
  EXPECT_TRUE(empty->dedup_key_generated);
}

TEST(PagerDutyEvent, DedupKeyIsNotTrimmed) {
  JsonValue v = ValidTrigger();
  v.as_object()["dedup_key"] = "  web-1/cpu \t";
  auto e = DecodeValue(v);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->dedup_key, "  web-1/cpu \t");
  EXPECT_FALSE(e->dedup_key_generated);
}

TEST(PagerDutyEvent, AcknowledgeAndResolveNeedNoPayload) {
  for (const char* file : {"pd_acknowledge.json", "pd_resolve.json"}) {
    SCOPED_TRACE(file);
    auto e = DecodePagerDutyEvent(ReadCorpus(file));
    ASSERT_TRUE(e) << ErrorsOf(e).front().first;
    EXPECT_EQ(e->action, std::string_view(file) == "pd_acknowledge.json" ? EventAction::kAcknowledge
                                                                         : EventAction::kResolve);
    EXPECT_EQ(e->routing_key, kKey);
    EXPECT_EQ(e->dedup_key, "srv01/mysql");
    EXPECT_FALSE(e->dedup_key_generated);
    EXPECT_TRUE(e->summary.empty());
    EXPECT_TRUE(e->source.empty());
    EXPECT_TRUE(e->custom_details.empty());
  }
}

// PagerDuty ignores the payload of acknowledge and resolve; senders that template it (Alertmanager
// sends its trigger payload with every resolve) must not be refused over its contents.
TEST(PagerDutyEvent, PayloadContentsOfAResolveAreIgnored) {
  JsonValue v = ValidTrigger();
  v.as_object()["event_action"] = "resolve";
  Payload(v)["severity"] = "page";
  Payload(v)["summary"] = "";
  auto e = DecodeValue(v);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->action, EventAction::kResolve);
  EXPECT_TRUE(e->summary.empty());
  EXPECT_TRUE(e->source.empty());
}

TEST(PagerDutyEvent, TimestampForms) {
  struct Case {
    const char* text;
    std::int64_t seconds;
    std::int32_t nanos;
    std::int32_t offset;
    const char* formatted;
  };
  const Case kCases[] = {
      {"2015-07-17T08:42:58Z", 1437122578, 0, 0, "2015-07-17T08:42:58Z"},
      {"2015-07-17T08:42:58+00:00", 1437122578, 0, 0, "2015-07-17T08:42:58Z"},
      {"2015-07-17T08:42:58+0000", 1437122578, 0, 0, "2015-07-17T08:42:58Z"},
      {"2015-07-17T08:42:58.315+0000", 1437122578, 315000000, 0, "2015-07-17T08:42:58.315Z"},
      {"2015-07-17T01:42:58.315-0700", 1437122578, 315000000, -25200,
       "2015-07-17T01:42:58.315-07:00"},
      {"2015-07-17T14:12:58+0530", 1437122578, 0, 19800, "2015-07-17T14:12:58+05:30"},
      {"2015-07-17T08:42:58.123456789Z", 1437122578, 123456789, 0,
       "2015-07-17T08:42:58.123456789Z"},
      {"2015-07-17T10:42:58.5+02:00", 1437122578, 500000000, 7200, "2015-07-17T10:42:58.5+02:00"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.text);
    JsonValue v = ValidTrigger();
    Payload(v)["timestamp"] = c.text;
    auto e = DecodeValue(v);
    ASSERT_TRUE(e) << ErrorsOf(e).front().second;
    EXPECT_EQ(e->timestamp.seconds, c.seconds);
    EXPECT_EQ(e->timestamp.nanos, c.nanos);
    EXPECT_EQ(e->timestamp.offset_seconds, c.offset);
    EXPECT_EQ(FormatRfc3339Nano(e->timestamp), c.formatted);
  }
}

TEST(PagerDutyEvent, CustomDetailsObjectsKeptOtherValuesWrapped) {
  const std::pair<JsonValue, JsonObject> kCases[] = {
      {JsonObject{{"free space", "1%"}, {"load", 0.75}}, {{"free space", "1%"}, {"load", 0.75}}},
      {"disk full on /var", {{"details", "disk full on /var"}}},
      {JsonArray{1, "two"}, {{"details", JsonArray{1, "two"}}}},
      {42, {{"details", 42}}},
      {false, {{"details", false}}},
      {nullptr, {}},
  };
  for (const auto& [details, expected] : kCases) {
    SCOPED_TRACE(boost::json::serialize(details));
    JsonValue v = ValidTrigger();
    Payload(v)["custom_details"] = details;
    auto e = DecodeValue(v);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->custom_details, expected);
  }
}

TEST(PagerDutyCorpus, FullTriggerMapsEveryField) {
  auto e = DecodePagerDutyEvent(ReadCorpus("pd_trigger_full.json"));
  ASSERT_TRUE(e) << ErrorsOf(e).front().first << ": " << ErrorsOf(e).front().second;
  EXPECT_EQ(e->action, EventAction::kTrigger);
  EXPECT_EQ(e->routing_key, kKey);
  EXPECT_EQ(e->dedup_key, "srv01/mysql");
  EXPECT_FALSE(e->dedup_key_generated);
  EXPECT_EQ(e->summary, "DISK at 99% on machine prod-datapipe03.example.com");
  EXPECT_EQ(e->source, "prod-datapipe03.example.com");
  EXPECT_EQ(e->severity, Severity::kCritical);
  EXPECT_EQ(FormatRfc3339Nano(e->timestamp), "2015-07-17T08:42:58.315Z");
  EXPECT_EQ(e->component, "mysql");
  EXPECT_EQ(e->group, "prod-datapipe");
  EXPECT_EQ(e->class_name, "disk");
  EXPECT_EQ(e->custom_details, (JsonObject{{"free space", "1%"},
                                           {"ping time", "1500ms"},
                                           {"load avg", 0.75},
                                           {"mounts", JsonArray{"/", "/var/lib/mysql"}}}));
  EXPECT_EQ(e->links,
            (JsonArray{JsonObject{{"href", "https://monitoring.example.com/hosts/prod-datapipe03"},
                                  {"text", "Host dashboard"}},
                       JsonObject{{"href", "https://wiki.example.com/runbooks/disk-full"}}}));
  EXPECT_EQ(e->images,
            (JsonArray{JsonObject{
                {"src",
                 "https://monitoring.example.com/render/disk.png?host=prod-datapipe03&w=600&h=400"},
                {"href", "https://monitoring.example.com/hosts/prod-datapipe03"},
                {"alt", "Disk usage, last 24 hours"}}}));
  EXPECT_EQ(e->client, "Sample Monitoring Service");
  EXPECT_EQ(e->client_url, "https://monitoring.example.com");
  EXPECT_EQ(e->origin, "events_v2");
}

TEST(PagerDutyCorpus, MinimalTriggerHasDefaultsAndAGeneratedKey) {
  auto e = DecodePagerDutyEvent(ReadCorpus("pd_trigger_minimal.json"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->severity, Severity::kWarning);
  EXPECT_EQ(e->summary, "Synthetic check checkout-flow failed from eu-west-1");
  EXPECT_EQ(e->source, "synthetics-eu-west-1");
  EXPECT_TRUE(e->dedup_key_generated);
  EXPECT_EQ(e->dedup_key.size(), 36u);
  EXPECT_TRUE(e->timestamp.IsZero());
  EXPECT_TRUE(e->component.empty());
  EXPECT_TRUE(e->custom_details.empty());
  EXPECT_TRUE(e->links.empty());
  EXPECT_TRUE(e->images.empty());
  EXPECT_TRUE(e->client.empty());
}

// Alertmanager's pagerduty_config receiver: routing_key, dedup_key = SHA-256 of its group key,
// client "Alertmanager", string-valued custom_details, configured links.
TEST(PagerDutyCorpus, AlertmanagerPagerDutyReceiver) {
  const std::string kGroupHash = "9d3c5f0b6a2e47d18c4f3a9e0b7d6c5a1f2e3d4c5b6a79808f7e6d5c4b3a2910";
  auto trigger = DecodePagerDutyEvent(ReadCorpus("pd_alertmanager_trigger.json"));
  ASSERT_TRUE(trigger) << ErrorsOf(trigger).front().first;
  EXPECT_EQ(trigger->action, EventAction::kTrigger);
  EXPECT_EQ(trigger->routing_key, "3a9f1c7e5b2d4068a1c3e5f7092b4d6f");
  EXPECT_EQ(trigger->dedup_key, kGroupHash);
  EXPECT_EQ(trigger->summary,
            "[FIRING:2] KubePodCrashLooping payments (api 10.244.1.17:8080 kube-state-metrics "
            "critical)");
  EXPECT_EQ(trigger->source, "Alertmanager");
  EXPECT_EQ(trigger->severity, Severity::kError);
  EXPECT_EQ(trigger->client, "Alertmanager");
  EXPECT_EQ(trigger->client_url,
            "http://alertmanager-main-0:9093/#/alerts?receiver=pagerduty-critical");
  EXPECT_EQ(trigger->custom_details.at("num_firing"), "2");
  EXPECT_THAT(std::string_view(trigger->custom_details.at("firing").as_string()),
              HasSubstr("&g0.tab=1"));  // Go's \u0026 escape decoded
  ASSERT_EQ(trigger->links.size(), 1u);
  EXPECT_EQ(trigger->links[0].at("text"), "Namespace dashboard");

  auto resolve = DecodePagerDutyEvent(ReadCorpus("pd_alertmanager_resolve.json"));
  ASSERT_TRUE(resolve) << ErrorsOf(resolve).front().first;
  EXPECT_EQ(resolve->action, EventAction::kResolve);
  EXPECT_EQ(resolve->dedup_key, kGroupHash);  // the resolve finds the trigger's alert
  EXPECT_EQ(resolve->client, "Alertmanager");
}

// Grafana's PagerDuty contact point: component "Grafana", class/group "default", an image, the
// external URL as a link, `>` sent as \u003e.
TEST(PagerDutyCorpus, GrafanaContactPoint) {
  auto e = DecodePagerDutyEvent(ReadCorpus("pd_grafana_trigger.json"));
  ASSERT_TRUE(e) << ErrorsOf(e).front().first;
  EXPECT_EQ(e->summary, "[FIRING:1] HighRequestLatency checkout (p99 > 2s)");
  EXPECT_EQ(e->source, "grafana-7d9f8c6b5-x2k4q");
  EXPECT_EQ(e->severity, Severity::kCritical);
  EXPECT_EQ(e->component, "Grafana");
  EXPECT_EQ(e->class_name, "default");
  EXPECT_EQ(e->group, "default");
  EXPECT_EQ(e->client, "Grafana");
  EXPECT_EQ(e->client_url, "https://grafana.example.com/");
  EXPECT_EQ(
      e->links,
      (JsonArray{JsonObject{{"href", "https://grafana.example.com/"}, {"text", "External URL"}}}));
  EXPECT_EQ(e->images, (JsonArray{JsonObject{{"src",
                                              "https://grafana.example.com/public/img/attachments/"
                                              "RZmTu4TrqfYw3dJzFsuv.png"}}}));
  EXPECT_EQ(e->custom_details.size(), 4u);
}

TEST(PagerDutyBatch, EachElementIsDecodedOnItsOwn) {
  auto batch = DecodePagerDutyBatch(ReadCorpus("pd_batch_mixed.json"));
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 3u);
  ASSERT_TRUE((*batch)[0]);
  EXPECT_EQ((*batch)[0]->dedup_key, "db-primary/replication-lag");
  EXPECT_EQ((*batch)[0]->action, EventAction::kTrigger);
  EXPECT_EQ(ErrorsOf((*batch)[1]),
            (ErrorList{{"payload.severity", "must be one of critical, error, warning, info"}}));
  ASSERT_TRUE((*batch)[2]);
  EXPECT_EQ((*batch)[2]->action, EventAction::kResolve);
}

TEST(PagerDutyBatch, ElementThatIsNotAnObject) {
  auto batch = DecodePagerDutyBatch(R"([1, "x", null])");
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 3u);
  for (const auto& item : *batch) {
    EXPECT_EQ(ErrorsOf(item), (ErrorList{{"", "must be a JSON object"}}));
  }
}

TEST(PagerDutyBatch, OuterErrors) {
  EXPECT_EQ(ErrorsOf(DecodePagerDutyBatch(ReadCorpus("pd_trigger_minimal.json"))),
            (ErrorList{{"", "must be a JSON array"}}));
  EXPECT_THAT(ErrorsOf(DecodePagerDutyBatch("[{")),
              ElementsAre(Pair("", StartsWith("invalid JSON: "))));

  DecodeLimits limits;
  limits.max_batch_events = 2;
  EXPECT_EQ(ErrorsOf(DecodePagerDutyBatch(ReadCorpus("pd_batch_mixed.json"), limits)),
            (ErrorList{{"", "batch has 3 events; at most 2 are allowed"}}));

  auto empty = DecodePagerDutyBatch("[]");
  ASSERT_TRUE(empty);
  EXPECT_THAT(*empty, IsEmpty());
}

TEST(PagerDutyBatch, ElementsGetTheNestingOfASingleEvent) {
  DecodeLimits limits;
  limits.max_depth = 4;
  // Event → payload → custom_details → one more object: depth 4 on its own, 5 inside the batch.
  const std::string event = R"({"routing_key":"k","event_action":"trigger","payload":{"summary":)"
                            R"("s","source":"s","severity":"info","custom_details":{"a":{}}}})";
  ASSERT_TRUE(DecodePagerDutyEvent(event, limits));
  auto batch = DecodePagerDutyBatch("[" + event + "]", limits);
  ASSERT_TRUE(batch) << ErrorsOf(batch).front().second;
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_TRUE((*batch)[0]);
}

TEST(DecodeBody, OversizedBodyIsRefusedBeforeParsing) {
  const std::string body(512 * 1024 + 1, ' ');
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(body)),
            (ErrorList{{"", "request body exceeds 524288 bytes"}}));
  EXPECT_EQ(ErrorsOf(DecodePagerDutyBatch(body)),
            (ErrorList{{"", "request body exceeds 524288 bytes"}}));
  EXPECT_EQ(ErrorsOf(DecodePagerDutyChange(body)),
            (ErrorList{{"", "request body exceeds 524288 bytes"}}));
  DecodeLimits small;
  small.max_body_bytes = 100;
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("pd_trigger_minimal.json"), small)),
            (ErrorList{{"", "request body exceeds 100 bytes"}}));
}

TEST(DecodeBody, BodyAtTheLimitIsParsed) {
  std::string body = ReadCorpus("pd_trigger_minimal.json");
  DecodeLimits limits;
  limits.max_body_bytes = body.size();
  EXPECT_TRUE(DecodePagerDutyEvent(body, limits));
}

TEST(DecodeBody, NotJsonNamesTheReadersError) {
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("malformed_truncated.json"))),
            (ErrorList{{"", "invalid JSON: unexpected EOF"}}));
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(""sv)),
            (ErrorList{{"", "invalid JSON: unexpected EOF"}}));
  EXPECT_THAT(ErrorsOf(DecodePagerDutyEvent("{} trailing"sv)),
              ElementsAre(Pair("", StartsWith("invalid JSON: json: invalid character after"))));
}

TEST(DecodeBody, TopLevelMustBeAnObject) {
  for (const std::string_view body : {"[]"sv, "\"trigger\""sv, "42"sv, "null"sv}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(body)), (ErrorList{{"", "must be a JSON object"}}));
  }
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("pd_batch_mixed.json"))),
            (ErrorList{{"", "must be a JSON object"}}));
}

TEST(DecodeBody, DeepNestingIsRefused) {
  EXPECT_EQ(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("malformed_deep_nesting.json"))),
            (ErrorList{{"", "invalid JSON: json: nesting exceeds the limit of 32 levels"}}));
  // Exactly at the limit is fine: the top object, payload and 30 nested objects are 32 levels.
  std::string nested = "1";
  for (int i = 0; i < 30; ++i) nested = "{\"a\":" + nested + "}";
  const std::string body = R"({"routing_key":"k","event_action":"trigger","payload":{"summary":)"
                           R"("s","source":"s","severity":"info","custom_details":)" +
                           nested + "}}";
  EXPECT_TRUE(DecodePagerDutyEvent(body));
  EXPECT_FALSE(DecodePagerDutyEvent(R"({"routing_key":"k","event_action":"trigger","payload":{)"
                                    R"("summary":"s","source":"s","severity":"info",)"
                                    R"("custom_details":{"a":)" +
                                    nested + "}}}"));
}

TEST(DecodeBody, InvalidUtf8IsRefused) {
  EXPECT_THAT(ErrorsOf(DecodePagerDutyEvent(ReadCorpus("malformed_invalid_utf8.json"))),
              ElementsAre(Pair("", StartsWith("invalid JSON: "))));
}

// Integration keys travel in these bodies: a parse error must not quote a value back.
TEST(DecodeBody, ParseErrorsDoNotQuoteValues) {
  const auto errors = ErrorsOf(DecodePagerDutyEvent(R"({"routing_key": 9e999123456789})"sv));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].second, StartsWith("invalid JSON: "));
  EXPECT_THAT(errors[0].second, Not(HasSubstr("9e999123456789")));
}

TEST(PagerDutyChange, DecodesAndValidates) {
  auto c = DecodePagerDutyChange(
      R"({"routing_key":"R0f5c2a9d8e7b6a5c4d3e2f1a0b9c8d7","payload":{"summary":"Deployed )"
      R"(checkout v2.4.1","source":"argo-cd","timestamp":"2024-03-11T14:00:00.000+0000",)"
      R"("custom_details":{"build":"1842"}},"links":[{"href":"https://ci.example.com/1842",)"
      R"("text":"Build"}]})");
  ASSERT_TRUE(c) << ErrorsOf(c).front().first;
  EXPECT_EQ(c->routing_key, kKey);
  EXPECT_EQ(c->summary, "Deployed checkout v2.4.1");
  EXPECT_EQ(c->source, "argo-cd");
  EXPECT_EQ(FormatRfc3339Nano(c->timestamp), "2024-03-11T14:00:00Z");
  EXPECT_EQ(c->custom_details, (JsonObject{{"build", "1842"}}));
  EXPECT_EQ(c->links,
            (JsonArray{JsonObject{{"href", "https://ci.example.com/1842"}, {"text", "Build"}}}));

  EXPECT_EQ(ErrorsOf(DecodePagerDutyChange(R"({"payload":{"source":1,"timestamp":"now"}})")),
            (ErrorList{{"routing_key", "is required"},
                       {"payload.summary", "is required"},
                       {"payload.source", "must be a string"},
                       {"payload.timestamp",
                        "must be an ISO 8601 timestamp with a zone, e.g. "
                        "2015-07-17T08:42:58.315+0000"}}));
  EXPECT_EQ(ErrorsOf(DecodePagerDutyChange(R"({"routing_key":"k"})")),
            (ErrorList{{"payload", "is required"}}));
}

TEST(EventNames, RoundTripAndExactSeverity) {
  for (const Severity s :
       {Severity::kCritical, Severity::kError, Severity::kWarning, Severity::kInfo}) {
    EXPECT_EQ(ParseSeverity(Name(s)), s);
  }
  EXPECT_EQ(Name(Severity::kWarning), "warning");
  EXPECT_EQ(Name(EventAction::kAcknowledge), "acknowledge");
  EXPECT_EQ(Name(EventAction::kTrigger), "trigger");
  EXPECT_EQ(Name(EventAction::kResolve), "resolve");
  EXPECT_EQ(ParseSeverity("Critical"), std::nullopt);
  EXPECT_EQ(ParseSeverity("page"), std::nullopt);
  EXPECT_EQ(ParseSeverity(""), std::nullopt);
}

TEST(PagerDutyEvent, NulCharactersAreRefusedNotStored) {
  // PostgreSQL text cannot hold them: a 400 the sender does not retry, not a failed write.
  auto e = DecodePagerDutyEvent(
      std::string(R"({"routing_key":"k-0000000000000001","event_action":"trigger",)"
                  R"("payload":{"summary":"disk\u0000full","source":"db","severity":"error"}})"));
  ASSERT_FALSE(e);
  ASSERT_EQ(e.error().size(), 1u);
  EXPECT_EQ(e.error()[0].field, "payload.summary");
  EXPECT_EQ(e.error()[0].message, "must not contain NUL characters");
}

}  // namespace
}  // namespace opsorch::engine
