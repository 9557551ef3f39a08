// The body of fuzz_plugin_reply, shared with the corpus regression test (fuzz_corpora_test.cc):
// bytes a plugin writes on stdout, read the way the plugin host reads them (src/plugin/process.cc:
// JsonStreamReader fed whatever each read returned) and each answer interpreted the way
// PluginClient::Interpret (src/plugin/plugin_client.cc, private, mirrored below) and the
// capability adapters (src/plugin/plugin_providers.cc: schema::FromJson, lenient) do.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/redactor.h>
#include <opsorch/schema/catalog.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/incident.h>
#include <opsorch/schema/messaging.h>
#include <opsorch/schema/observability.h>
#include <opsorch/schema/orchestration.h>
#include <opsorch/schema/ticket.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// What one way of feeding the bytes gave: the values, in order, and how the stream ended.
struct ReplyStream {
  std::vector<JsonValue> values;
  bool error = false;     // a value was not JSON (the host resets the reader and fails the call)
  bool torn = false;      // the bytes end inside a value
  std::string violation;  // a Feed that neither progressed nor failed
};

// Values the host reads per call are bounded by its max_response_bytes; here by this count.
inline constexpr std::size_t kMaxReplyValues = 16;

// JsonStreamReader with the plugin host's options (process.cc: ResponseParseOptions), fed in
// pieces whose sizes `next_piece` chooses, exactly as process::ChildProcess::ReadSome feeds it.
template <class NextPiece>
ReplyStream ReadReplies(std::string_view input, NextPiece next_piece) {
  ReplyStream out;
  JsonParseOptions options;
  options.max_depth = 128;
  JsonStreamReader reader(options);
  std::string pending;
  std::size_t fed = 0;
  while (out.values.size() < kMaxReplyValues) {
    if (!pending.empty()) {
      auto used = reader.Feed(pending);
      if (!used) {
        reader.Reset();
        out.error = true;
        return out;
      }
      if (*used == 0 && !reader.Done()) {
        out.violation = "Feed took none of " + std::to_string(pending.size()) +
                        " bytes without finishing a value or failing";
        return out;
      }
      if (*used > pending.size()) {
        out.violation = "Feed took more bytes than it was given";
        return out;
      }
      pending.erase(0, *used);
      if (reader.Done()) {
        out.values.push_back(reader.Take());
        continue;
      }
    }
    if (fed == input.size()) break;
    const std::size_t n = next_piece(input.size() - fed);
    pending.append(input.substr(fed, n));
    fed += n;
  }
  out.torn = reader.InValue();
  return out;
}

// PluginClient::Interpret: {"result": …} (or no error) → the result; {"error": "text"} and
// {"error": {code, message}} → an error whose message is masked with the plugin's config. Only the
// message is mirrored: which code the error gets does not change what the message says.
struct PluginAnswer {
  bool ok = false;
  JsonValue result;
  std::string error_message;
};

inline PluginAnswer InterpretAnswer(const JsonValue& response, const opsorch::Redactor& redactor) {
  PluginAnswer a;
  if (!response.is_object()) {
    a.error_message = "plugin answered with a JSON value that is not an object";
    return a;
  }
  const JsonObject& obj = response.get_object();
  const JsonValue* error = obj.if_contains("error");
  if (error == nullptr || error->is_null()) {
    const JsonValue* result = obj.if_contains("result");
    a.ok = true;
    a.result = result == nullptr ? JsonValue(nullptr) : *result;
    return a;
  }
  if (error->is_string()) {
    a.error_message = redactor.Apply(error->get_string());
  } else if (error->is_object()) {
    if (const JsonValue* m = error->get_object().if_contains("message"); m && m->is_string()) {
      a.error_message = redactor.Apply(m->get_string());
    }
  } else {
    std::string text;
    AppendJsonValue(text, *error);
    a.error_message = redactor.Apply(text);
  }
  return a;
}

// A plugin config whose values the redactor masks in error messages.
inline const std::vector<std::string>& PluginSecrets() {
  static const std::vector<std::string> kSecrets = {"s3cr3t-api-token-0042", "p@ss\"w<rd>&more"};
  return kSecrets;
}

inline const opsorch::Redactor& PluginRedactor() {
  static const opsorch::Redactor kRedactor = [] {
    JsonObject config;
    config["token"] = PluginSecrets()[0];
    config["nested"] = JsonObject{{"password", PluginSecrets()[1]}, {"short", "prod"}};
    return opsorch::Redactor(config);
  }();
  return kRedactor;
}

// The adapters' decoding (plugin_providers.cc: Decode<T>): lenient, nesting up to 128, NUL kept.
// A decoded result must encode to something that decodes again the same way.
template <class T>
void CheckResultAs(const char* method, const JsonValue& result, std::vector<std::string>& out) {
  schema::DecodeOptions options;
  options.strict = false;
  options.max_depth = 128;
  options.refuse_nul = false;
  auto decoded = schema::FromJson<T>(result, options);
  if (!decoded) {
    if (decoded.error().code != errc::kBadRequest || decoded.error().message.empty()) {
      out.push_back(std::string(method) +
                    ": decode error is not bad_request with a message: " + decoded.error().message);
    }
    return;
  }
  const std::string encoding = schema::EncodeToString(*decoded);
  auto again = schema::Decode<T>(encoding, options);
  if (!again) {
    out.push_back(std::string(method) + ": its encoding does not decode again: " +
                  again.error().message + "; encoding: " + Excerpt(encoding, 200));
  }
}

inline void CheckResult(const JsonValue& result, std::vector<std::string>& out) {
  namespace s = schema;
  CheckResultAs<NullableList<s::Incident>>("incident.query", result, out);
  CheckResultAs<s::Incident>("incident.get", result, out);
  CheckResultAs<NullableList<s::TimelineEntry>>("incident.timeline", result, out);
  CheckResultAs<NullableList<s::Alert>>("alert.query", result, out);
  CheckResultAs<s::Alert>("alert.get", result, out);
  CheckResultAs<s::LogEntries>("log.query", result, out);
  CheckResultAs<NullableList<s::MetricSeries>>("metric.query", result, out);
  CheckResultAs<NullableList<s::MetricDescriptor>>("metric.describe", result, out);
  CheckResultAs<NullableList<s::Ticket>>("ticket.query", result, out);
  CheckResultAs<s::Ticket>("ticket.get", result, out);
  CheckResultAs<s::MessageResult>("messaging.send", result, out);
  CheckResultAs<NullableList<s::Service>>("service.query", result, out);
  CheckResultAs<NullableList<s::Deployment>>("deployment.query", result, out);
  CheckResultAs<s::Deployment>("deployment.get", result, out);
  CheckResultAs<NullableList<s::Team>>("team.query", result, out);
  CheckResultAs<s::Team>("team.get", result, out);
  CheckResultAs<NullableList<s::TeamMember>>("team.members", result, out);
  CheckResultAs<NullableList<s::OrchestrationPlan>>("orchestration.plans.query", result, out);
  CheckResultAs<s::OrchestrationPlan>("orchestration.plans.get", result, out);
  CheckResultAs<NullableList<s::OrchestrationRun>>("orchestration.runs.query", result, out);
  CheckResultAs<s::OrchestrationRun>("orchestration.runs.get", result, out);
}

inline std::string DescribeStream(const ReplyStream& s) {
  return std::to_string(s.values.size()) + " values" + (s.error ? ", then an error" : "") +
         (s.torn ? ", then a torn value" : "");
}

// Invariants:
//  - fed at once, byte by byte, or in random pieces, the reader yields the same values and ends
//    the same way (error, torn value, or clean), and every Feed either progresses or fails
//    (bounded work: the host never spins on bytes it cannot use);
//  - each answer is interpreted without crashing; an error keeps none of the config's secrets in
//    its message;
//  - each result decodes (or is refused with bad_request and a message) as every type a
//    capability adapter expects, and a decoded result's encoding decodes again.
inline std::vector<std::string> CheckPluginReply(std::string_view input) {
  std::vector<std::string> out;
  const ReplyStream at_once = ReadReplies(input, [](std::size_t left) { return left; });
  const ReplyStream bytes = ReadReplies(input, [](std::size_t) { return std::size_t{1}; });
  InputRng rng(input);
  const ReplyStream pieces = ReadReplies(
      input, [&rng](std::size_t left) { return rng.Between(1, std::min<std::size_t>(left, 97)); });
  for (const ReplyStream* s : {&at_once, &bytes, &pieces}) {
    if (!s->violation.empty()) out.push_back(s->violation);
  }
  for (const auto& [name, s] :
       {std::pair{"byte by byte", &bytes}, std::pair{"in pieces", &pieces}}) {
    if (s->values != at_once.values || s->error != at_once.error || s->torn != at_once.torn) {
      out.push_back(std::string("read ") + name + ": " + DescribeStream(*s) +
                    "; at once: " + DescribeStream(at_once));
    }
  }
  for (const JsonValue& value : at_once.values) {
    const PluginAnswer answer = InterpretAnswer(value, PluginRedactor());
    if (!answer.ok) {
      for (const std::string& secret : PluginSecrets()) {
        if (answer.error_message.find(secret) != std::string::npos) {
          out.push_back("an error message keeps a config secret: " + Excerpt(answer.error_message));
        }
      }
      continue;
    }
    CheckResult(answer.result, out);
  }
  return out;
}

}  // namespace opsorch::testing
