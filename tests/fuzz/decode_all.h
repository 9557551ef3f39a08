// The body shared by the libFuzzer target (fuzz_decode.cc) and the corpus regression test
// (corpus_regression_test.cc): one input is decoded as every wire type and checked for the codec's
// invariants. Property violations are returned, not asserted, so that the fuzzer can abort and the
// test can report them as ordinary failures.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>


#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/schema/catalog.h>
#include <opsorch/schema/codec.h>
#include <opsorch/schema/incident.h>
#include <opsorch/schema/messaging.h>
#include <opsorch/schema/observability.h>
#include <opsorch/schema/orchestration.h>
#include <opsorch/schema/provider_config.h>
#include <opsorch/schema/scope.h>
#include <opsorch/schema/ticket.h>


namespace opsorch::testing {

// What decoding one input as one type gave.
struct DecodeOutcome {
  bool decoded = false;
  Error error;            // when !decoded
  std::string encoding;   // when decoded: Encode() of the decoded value
  std::string violation;  // non-empty when an invariant does not hold
};

// Invariants, for an input that decodes as T:
//  1. its encoding decodes again with the same options (what we emit, we accept);
//  2. from the second round trip on, encode(decode(·)) is a fixed point: the first decode may
//     normalise (numbers in free-form objects go through double, so `-0` becomes `0` on the way
//     back), after that the bytes must not change (catches lossy or unstable number, time and
//     string output).
// For an input that does not decode: the error is bad_request with a message (clients get 400,
// never 500, for any body).
template <class T>
DecodeOutcome CheckDecode(std::string_view input, const schema::DecodeOptions& options) {
  DecodeOutcome outcome;
  auto first = schema::Decode<T>(input, options);
  if (!first) {
    outcome.error = first.error();
    if (outcome.error.code != errc::kBadRequest || outcome.error.message.empty()) {
      outcome.violation =
          "decode error is not bad_request with a message: code=" + std::string(WireCode(outcome.error)) +
          " message=" + outcome.error.message;
    }
    return outcome;
  }
  outcome.decoded = true;
  outcome.encoding = schema::EncodeToString(*first);
  std::string previous = outcome.encoding;
  for (int round = 2; round <= 3; ++round) {
    auto again = schema::Decode<T>(previous, options);
    if (!again) {
      outcome.violation = "encoding does not decode again (round " + std::to_string(round) +
                          "): " + again.error().message + "; encoding: " + previous;
      return outcome;
    }
    std::string encoding = schema::EncodeToString(*again);
    if (round == 3 && encoding != previous) {
      outcome.violation = "round trip is not stable: " + previous + " became " + encoding;
    }
    previous = std::move(encoding);
  }
  return outcome;
}

struct WireType {
  std::string_view name;  // Go-style name, as in error texts
  bool strict;            // requests are strict, provider results lenient
  DecodeOutcome (*check)(std::string_view input);
};

template <class T, bool kStrict>
DecodeOutcome CheckAs(std::string_view input) {
  schema::DecodeOptions options;
  options.strict = kStrict;
  return CheckDecode<T>(input, options);
}

// Every request body type (strict), then the provider results the plugin host decodes (lenient).
inline constexpr auto kWireTypes = std::to_array<WireType>({
    {"IncidentQuery", true, &CheckAs<schema::IncidentQuery, true>},
    {"CreateIncidentInput", true, &CheckAs<schema::CreateIncidentInput, true>},
    {"UpdateIncidentInput", true, &CheckAs<schema::UpdateIncidentInput, true>},
    {"TimelineAppendInput", true, &CheckAs<schema::TimelineAppendInput, true>},
    {"LogQuery", true, &CheckAs<schema::LogQuery, true>},
    {"MetricQuery", true, &CheckAs<schema::MetricQuery, true>},
    {"QueryScope", true, &CheckAs<schema::QueryScope, true>},
    {"TicketQuery", true, &CheckAs<schema::TicketQuery, true>},
    {"CreateTicketInput", true, &CheckAs<schema::CreateTicketInput, true>},
    {"UpdateTicketInput", true, &CheckAs<schema::UpdateTicketInput, true>},
    {"Message", true, &CheckAs<schema::Message, true>},
    {"ServiceQuery", true, &CheckAs<schema::ServiceQuery, true>},
    {"DeploymentQuery", true, &CheckAs<schema::DeploymentQuery, true>},
    {"TeamQuery", true, &CheckAs<schema::TeamQuery, true>},
    {"OrchestrationPlanQuery", true, &CheckAs<schema::OrchestrationPlanQuery, true>},
    {"OrchestrationRunQuery", true, &CheckAs<schema::OrchestrationRunQuery, true>},
    {"StartRunInput", true, &CheckAs<schema::StartRunInput, true>},
    {"CompleteStepInput", true, &CheckAs<schema::CompleteStepInput, true>},
    {"ProviderConfig", true, &CheckAs<schema::ProviderConfig, true>},
    {"Incident", false, &CheckAs<schema::Incident, false>},
    {"LogEntries", false, &CheckAs<schema::LogEntries, false>},
    {"OrchestrationRun", false, &CheckAs<schema::OrchestrationRun, false>},
    {"[]Incident", false, &CheckAs<NullableList<schema::Incident>, false>},
});

inline const WireType* FindWireType(std::string_view name) {
  for (const WireType& t : kWireTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Runs `input` through every wire type; returns one line per violated invariant ("Type: what").
inline std::vector<std::string> DecodeAll(std::string_view input) {
  std::vector<std::string> violations;
  for (const WireType& t : kWireTypes) {
    DecodeOutcome outcome = t.check(input);
    if (!outcome.violation.empty()) {
      violations.push_back(std::string(t.name) + ": " + outcome.violation);
    }
  }
  return violations;
}

}  // namespace opsorch::testing
