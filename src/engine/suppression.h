// The thin layer that applies the quiet decisions (engine/quiet.h) and the Alertmanager API's
// alert lifecycle to the store, inside the engine's write transactions:
//
// - ApplyQuietly: one decoded event. Silenced triggers are stored as `suppressed` alerts (a
//   "firing" live row remembers them) instead of opening incidents; Alertmanager API pushes
//   keep a "firing" row per fingerprint, refreshed by every push (no alert row per refresh),
//   resolved when a push's endsAt has passed or when endsAt passes without a refresh; new
//   incidents of a paused service (maintenance, mute interval) are marked and not paged; the
//   pager's hooks and the auto-resolve timer follow the rules' outcome.
// - RunDue: the runner's share (engine/pager.h calls it in its pass): firing rows whose endsAt
//   or silence ended, missed heartbeats, and the jobs of kinds "resume" (a pause ended) and
//   "autoresolve".
// - Beat: a heartbeat monitor's beat.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/result.h>
#include <opsorch/engine/event.h>
#include <opsorch/engine/store.h>

#include "engine/pager.h"
#include "engine/quiet.h"
#include "engine/rules.h"

namespace opsorch::engine {

class FiringCache;

struct QuietEnv {
  const QuietSnapshot& quiet;
  const RulesConfig& rules;
  Pager* pager = nullptr;         // null: nobody is paged (paging off)
  FiringCache* firing = nullptr;  // kept current with the firing rows written (may be null)
};

// What ApplyQuietly also reports: whether the pager has new work after the commit.
struct QuietEffects {
  PagingCounts* counts = nullptr;  // may be null
  bool paging_work = false;
};

Result<Outcome> ApplyQuietly(Tx& tx, const IntegrationRow& integration, const Event& event,
                             std::int64_t now, const QuietEnv& env, QuietEffects& effects);

// Due firing rows and heartbeats, and the quiet jobs among `jobs` (others are left alone).
// Returns true when a batch was full (more is due now).
Result<bool> RunDue(Tx& tx, std::int64_t now, const QuietEnv& env, const std::vector<JobRow>& jobs,
                    QuietEffects& effects);

// A beat of heartbeat `hb` at `now`: the monitor is up until now + interval + grace; if it was
// down, its incident resolves.
Status Beat(Tx& tx, const Heartbeat& hb, std::int64_t now, const QuietEnv& env,
            QuietEffects& effects);
// A monitor created or changed: its deadline follows its last beat (or now, for a new one).
Status ArmHeartbeat(Tx& tx, const Heartbeat& hb, std::int64_t now);

// Firing rows of `services` suppressed by silence `silence_id` are looked at again now (the
// silence was expired or changed): their due_at becomes `now`.
Status RecheckSuppressed(Tx& tx, const std::vector<std::string>& services,
                         std::string_view silence_id, std::int64_t now);

// An incident of a pushed alert was resolved while the alert may still fire (by hand, through
// the API, or by auto-resolve): its firing row is forgotten, so the next push opens a new
// incident, as the next trigger after a resolve does on every other path.
Status EndFiringEpisode(Tx& tx, FiringCache* firing, const IncidentRow& incident);

// The labels silences match for an event: its own (Alertmanager), else, for PagerDuty events,
// the string values of custom_details plus component, group, class, source and severity.
silence::Labels EventLabels(const Event& e);

// The live "beat" row kind (kFiringRow is in opsorch/engine/store.h: the stores know it too).
inline constexpr std::string_view kBeatRow = "beat";

}  // namespace opsorch::engine
