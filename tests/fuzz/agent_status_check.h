// The body of fuzz_agent_status, shared with its corpus regression test
// (tests/workflow/service/status_corpus_test.cc, in opsorch_wf_service_tests): one input read as
// the configuration service's two agent bodies, POST /agents/{id}/status (DecodeStatusReport)
// and PUT /admin/agents/{id} (DecodeAgentInput). Invariants:
//  - nothing crashes, reads out of bounds or leaks (the sanitizers);
//  - every refusal is bad_request or payload_too_large, with a message;
//  - what is accepted is within the documented limits: the stored status and each audit record
//    are JSON objects, at most 500 records, the stored status at most 256 KiB; agent input has
//    1-64 packages and a description of at most 256 bytes;
//  - decoding is deterministic (the same input twice gives the same answer).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>

#include "workflow/service/service_impl.h"

namespace opsorch::testing {

inline std::vector<std::string> CheckAgentStatus(std::string_view input) {
  namespace svc = opsorch::workflow::service;
  std::vector<std::string> out;
  const auto refusal_ok = [&](const Error& e, std::string_view what) {
    if (e.code != ErrorCode::kBadRequest && e.code != ErrorCode::kPayloadTooLarge) {
      out.push_back(std::string(what) + ": refused with code " + std::string(Name(e.code)));
    }
    if (e.message.empty()) out.push_back(std::string(what) + ": refusal without a message");
  };
  const auto is_object = [](std::string_view json) {
    auto v = ParseJson(json);
    return v && v->is_object();
  };

  auto report = svc::DecodeStatusReport(input);
  auto again = svc::DecodeStatusReport(input);
  if (report.has_value() != again.has_value() ||
      (report && (report->status != again->status || report->audit != again->audit))) {
    out.push_back("status: two decodings differ");
  }
  if (!report) {
    refusal_ok(report.error(), "status");
  } else {
    if (!is_object(report->status)) out.push_back("status: stored status is not a JSON object");
    if (report->status.size() > svc::kMaxStoredStatusBytes) {
      out.push_back("status: stored status over its limit");
    }
    if (report->audit.size() > svc::kMaxAuditPerReport) out.push_back("status: too many records");
    for (const std::string& record : report->audit) {
      if (!is_object(record)) {
        out.push_back("status: an audit record is not a JSON object");
        break;
      }
    }
  }

  auto agent = svc::DecodeAgentInput(input);
  if (!agent) {
    refusal_ok(agent.error(), "agent");
  } else {
    if (agent->packages &&
        (agent->packages->empty() || agent->packages->size() > svc::kMaxAgentPackages)) {
      out.push_back("agent: packages outside 1-64");
    }
    if (agent->description && agent->description->size() > svc::kMaxDescription) {
      out.push_back("agent: description over 256 bytes");
    }
  }
  return out;
}

}  // namespace opsorch::testing
