// One PagerDuty Events v2 event into the engine, shared by POST /v2/enqueue (routes.cc) and the
// workflow runtime's local incident sink in `opsorch serve` (EnqueueEventsV2), so that both
// decode, authenticate and ingest it the same way.
#include <memory>
#include <utility>

#include <opsorch/common/error.h>
#include <opsorch/engine/routes.h>
#include <opsorch/log/log.h>

namespace opsorch::engine {

Error InvalidEvent(const std::vector<FieldError>& errors) {
  Error e(errc::kBadRequest, {});
  for (const FieldError& f : errors) {
    e.details.push_back(f.field.empty() ? f.message : f.field + " " + f.message);
  }
  if (!e.details.empty()) e.message = e.details.front();
  return e;
}

void IngestEventsV2(Engine& engine, std::string_view body, const DecodeLimits& limits,
                    const std::function<void(std::string_view key)>& refused,
                    std::function<void(Result<std::string> dedup_key)> done) {
  auto event = DecodePagerDutyEvent(body, limits);
  if (!event) return done(Fail(InvalidEvent(event.error())));
  auto found = engine.Authenticate(event->routing_key);
  if (!found) return done(Fail(std::move(found.error())));
  // An unknown and a revoked key get the same answer: nothing tells a caller which services
  // exist.
  if (!*found || (*found)->kind != "events_v2") {
    if (refused) refused(event->routing_key);
    Error e(errc::kBadRequest, "routing_key is not a valid integration key");
    e.details = {e.message};
    return done(Fail(std::move(e)));
  }
  std::vector<Ingestion> in;
  in.push_back(Ingestion{std::move(**found), std::move(*event)});
  engine.Ingest(std::move(in), [done = std::move(done)](std::vector<IngestResult> r) mutable {
    if (!r.front().status) return done(Fail(std::move(r.front().status.error())));
    done(std::move(r.front().dedup_key));
  });
}

void EnqueueEventsV2(Engine& engine, std::string body, const DecodeLimits& limits,
                     std::function<void(int status)> done) {
  // The key is a credential: a refusal is logged without it (the route logs its first
  // characters for an HTTP caller; this caller is the local runtime, named by the bootstrap).
  const auto refused = [](std::string_view) {
    log::Warn(
        "workflow incident event refused: its routing_key is not an active events_v2 "
        "integration key (bootstrap incidents.routing_key)");
  };
  IngestEventsV2(engine, body, limits, refused, [done = std::move(done)](Result<std::string> r) {
    done(r ? 202 : HttpStatusFor(r.error()));
  });
}

}  // namespace opsorch::engine
