// Declarative catalog seeding: teams (with members) and services (with their integrations and
// SLA targets) from a JSON document, applied at start. Idempotent: entries are upserted, an
// integration whose key is already known is left alone.
//
// {"users":[{"id", …PUT /admin/users body}], "schedules":[{"id", …}], "escalationPolicies":[{"id",
// …}],
//  "teams":[{"id","name","description?","parent?","members":[{"id","name?","email?","handle?","role?"}]}],
//  "services":[{"id","name","description?","team?","ackTargetMinutes?","resolveTargetMinutes?",
//               "escalationPolicy?","ackTimeoutMinutes?","autoResolveMinutes?","runbooks?":[id…],
//               "tags?":{…},"integrations":[{"id","name?","kind?":"events_v2"|"alertmanager","key"}]}],
//  "statusPages":[{"id", …PUT /admin/status-pages body}],
//  "events":[{"routingKey","action","dedupKey","summary","source","severity"}]}
// `events` are ingested only into an empty store (demo data; two nodes starting on one empty
// database at the same moment may both ingest them). Several nodes may apply the same seed at
// once: an integration another node inserted first is left alone.
#pragma once

#include <string>
#include <string_view>

#include <opsorch/common/result.h>
#include <opsorch/engine/engine.h>

namespace opsorch::engine {

// Errors name the entry and the field: `services[2].ackTargetMinutes: must be a positive integer`.
Status ApplySeed(Engine& engine, std::string_view json);

// The catalog of `opsorch serve --demo`: the shared demo world's teams, people and services
// (include/opsorch/demo/demo_world.h: the same ids as the mock providers'), Events v2 integrations
// with the documented keys demo-routing-key-000000000000001 (svc-checkout) and …002
// (svc-database), an Alertmanager integration on svc-checkout, SLA targets, and a few events that
// leave incidents in different states, and a public status page at /status/demo.
// Its paging part (people, a follow-the-sun schedule, a two-level policy on svc-checkout) pages
// the built-in sink at `sink_base` + "/demo/sink/<person>" (DemoSinkRoutes in routes.h).
std::string DemoSeed(std::string_view sink_base = "http://127.0.0.1:8080");

// The demo people's webhook secret: the sink checks every page's signature with it.
inline constexpr std::string_view kDemoSinkSecret =
    "whsec_ZGVtby1zaW5rLXNlY3JldC0wMDAwMDAwMDAwMDAwMDAw";

}  // namespace opsorch::engine
