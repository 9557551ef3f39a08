// The demo world as data (src/demo/demo_world.json, embedded at build time): one set of teams,
// people, services and their history, shared by the mock providers and the incident engine's
// demo seed, so both show the same ids (svc-checkout, team-payments, alice.johnson@…).
#pragma once

#include <string_view>

#include <opsorch/common/json.h>

namespace opsorch::demo {

// The embedded document, as written.
std::string_view WorldJson();

// The document parsed (once). Its shape is described in the file itself; tests check that it
// parses and that its cross references agree, so an empty object here is a build defect.
const JsonObject& World();

// The demo's runbooks (src/demo/demo_runbooks.json: a JSON array of runbook documents) and its
// workflow configuration (src/demo/demo_workflow.json), which `opsorch serve --demo` loads.
std::string_view RunbooksJson();
std::string_view WorkflowJson();

// "alice.johnson" → "alice.johnson@demo.opsorch.dev" (the world's people are local parts).
std::string Email(std::string_view local);

}  // namespace opsorch::demo
