// The body of fuzz_alertmanager, shared with the corpus regression test (fuzz_corpora_test.cc):
// one input through DecodeAlertmanager (include/opsorch/engine/decode.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/engine/decode.h>
#include <opsorch/engine/event.h>

#include "fuzz/event_check.h"
#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// The integration key the webhook URL names; errors must never quote it.
inline constexpr std::string_view kAlertmanagerKey = "amIntegrationKey0001";

// Invariants, under the server's limits and small ones:
//  - no crash; a refusal has errors, each with a message, none quoting the integration key;
//  - an accepted notification gives one event per element of `alerts`, each with the
//    integration key as routing key, origin "alertmanager", action trigger (firing) or resolve,
//    a severity in range, a non-empty dedup_key of at most max_dedup_key characters (the
//    fingerprint, else 16 hex digits of the label hash), a non-empty summary of at most
//    max_summary characters, a non-empty source, no NUL and only UTF-8 in any text it keeps, a
//    timestamp that is zero or representable in int64 nanoseconds, custom_details with the
//    eight documented keys and at most one link.
inline std::vector<std::string> CheckAlertmanager(std::string_view input) {
  std::vector<std::string> out;
  engine::DecodeLimits small;
  small.max_depth = 5;
  small.max_webhook_body_bytes = 2048;
  const engine::DecodeLimits variants[] = {engine::DecodeLimits{}, small};
  const std::vector<std::string> secrets = {std::string(kAlertmanagerKey)};
  const bool input_has_key = input.find(kAlertmanagerKey) != std::string_view::npos;
  for (const engine::DecodeLimits& limits : variants) {
    const std::string tag = &limits == &variants[0] ? "default limits" : "small limits";
    const auto d = engine::DecodeAlertmanager(input, kAlertmanagerKey, limits);
    if (!d) {
      CheckFieldErrors(tag, d.error(), input_has_key ? std::vector<std::string>{} : secrets, out);
      continue;
    }
    JsonParseOptions options;
    options.max_depth = limits.max_depth;
    auto doc = ParseJson(input, options);
    const JsonValue* alerts =
        doc && doc->is_object() ? doc->get_object().if_contains("alerts") : nullptr;
    if (alerts == nullptr || !alerts->is_array() || alerts->get_array().size() != d->size()) {
      out.push_back(tag + ": accepted, but not one event per element of alerts");
    }
    for (std::size_t i = 0; i < d->size(); ++i) {
      const engine::Event& e = (*d)[i];
      const std::string where = tag + ", alerts[" + std::to_string(i) + "]";
      CheckEvent(where, e, limits, out);
      if (e.routing_key != kAlertmanagerKey) out.push_back(where + ": routing_key is not the key");
      if (e.origin != "alertmanager") out.push_back(where + ": origin is not alertmanager");
      if (e.action == engine::EventAction::kAcknowledge) {
        out.push_back(where + ": an acknowledge from Alertmanager");
      }
      if (e.summary.empty() || e.source.empty()) out.push_back(where + ": empty summary or source");
      for (const char* key : {"labels", "annotations", "startsAt", "endsAt", "generatorURL",
                              "groupKey", "receiver", "externalURL"}) {
        if (!e.custom_details.contains(key)) {
          out.push_back(where + ": custom_details without " + std::string(key));
        }
      }
      if (e.links.size() > 1) out.push_back(where + ": more than one link");
    }
  }
  return out;
}

}  // namespace opsorch::testing
