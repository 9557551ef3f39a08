// On-call schedules with PagerDuty's semantics, computed on demand (nothing materialised): one
// pure computation serves the API, escalation targets and the iCal export. Times are Unix
// seconds (suffix _s); intervals are half-open [start, end).
//
// Semantics (docs/PAGING_SCHEDULES_DRAFT.md has the full text):
// - A layer's user at t is users[k mod n], turn k running from handoff H(k) to H(k+1).
//   H(k) = rotation_virtual_start + k * turn_length, except that a turn length that is a
//   multiple of 86,400 s advances in calendar days in the schedule's zone: the handoff keeps
//   the virtual start's wall-clock time across DST (tz::Zone's rulebook for gaps and repeats).
// - A layer covers t when start <= t < end (end 0 = open) and t lies in one of its
//   restrictions (none = always). Restrictions are read in the schedule's zone; a window runs
//   from its start wall-clock time to the wall-clock time `duration` later, so "22:00 for 10 h"
//   is 22:00-08:00 on the wall clock also on a DST night; an overnight window belongs to the
//   day it starts.
// - The bottom (last) layer covering t wins; overrides beat every layer, and among overlapping
//   overrides the later one in the vector (created later) wins. At most one user at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/tz/zone.h>

namespace opsorch::paging {

struct Restriction {
  enum class Type { kDaily, kWeekly };
  Type type = Type::kDaily;
  std::int64_t start_time_of_day_s = 0;  // 0..86399, wall clock in the schedule's zone
  std::int64_t duration_s = 0;           // daily 1..86400, weekly 1..604800
  int start_day_of_week = 1;             // ISO 1 = Monday .. 7; weekly only

  friend bool operator==(const Restriction&, const Restriction&) = default;
};

struct Layer {
  std::string id;
  std::string name;
  std::int64_t start_s = 0;
  std::int64_t end_s = 0;  // 0 = no end
  std::int64_t rotation_virtual_start_s = 0;
  std::int64_t turn_length_s = 0;
  std::vector<std::string> users;  // in turn order
  std::vector<Restriction> restrictions;

  friend bool operator==(const Layer&, const Layer&) = default;
};

struct Schedule {
  std::string id;
  std::string name;
  std::string description;
  std::string time_zone;      // IANA name; the caller resolves it once (tz::Zone::Locate)
  std::vector<Layer> layers;  // top first; the last (bottom) layer has precedence

  friend bool operator==(const Schedule&, const Schedule&) = default;
};

struct Override {
  std::string id;
  std::int64_t start_s = 0;
  std::int64_t end_s = 0;
  std::string user;

  friend bool operator==(const Override&, const Override&) = default;
};

struct Entry {
  std::string user;
  std::int64_t start_s = 0;
  std::int64_t end_s = 0;

  friend bool operator==(const Entry&, const Entry&) = default;
};

// ---- computation (zone = the schedule's time_zone, resolved by the caller) -------------------

// One layer's own entries within [since, until): truncated at the bounds, adjacent entries of
// the same user merged. An out-of-range `layer` gives nothing.
std::vector<Entry> RenderLayer(const Schedule& schedule, const tz::Zone& zone, std::size_t layer,
                               std::int64_t since_s, std::int64_t until_s);

// Who is on call over [since, until): entries in time order, truncated at the bounds, adjacent
// entries of the same user merged, uncovered time left out. `overrides` in creation order.
std::vector<Entry> FinalSchedule(const Schedule& schedule, const tz::Zone& zone,
                                 const std::vector<Override>& overrides, std::int64_t since_s,
                                 std::int64_t until_s);

// Who is on call at t (nobody: nullopt). No entry list is built: a few zone conversions per
// layer. Agrees with FinalSchedule by construction (same turn and window functions).
std::optional<std::string> OnCallAt(const Schedule& schedule, const tz::Zone& zone,
                                    const std::vector<Override>& overrides, std::int64_t t_s);

// The first instant in (t, t + horizon] at which OnCallAt's answer changes, or nullopt if it
// does not change within the horizon (handoff notifications, handoff job scheduling).
std::optional<std::int64_t> NextChange(const Schedule& schedule, const tz::Zone& zone,
                                       const std::vector<Override>& overrides, std::int64_t t_s,
                                       std::int64_t horizon_s = 35 * tz::kSecondsPerDay);

// ---- JSON (schedule_json.cc) -----------------------------------------------------------------
// Wire shape: camelCase, as in docs/PAGING_SCHEDULES_DRAFT.md. Errors are kBadRequest naming the
// field path and the rule (`layers[0].rotationTurnLengthSeconds: must be > 0`); decoding is
// all-or-nothing (the first error is the message, all of them are in Error::details).
// The encoders write times as RFC 3339 in UTC ("2026-01-05T08:00:00Z"); inputs may use any
// offset.

// Whether a user id exists (the caller's directory).
using UserExists = std::function<bool(std::string_view)>;

inline constexpr std::size_t kMaxLayers = 32;
inline constexpr std::size_t kMaxUsersPerLayer = 100;
inline constexpr std::size_t kMaxRestrictionsPerLayer = 32;
inline constexpr std::size_t kMaxNameLength = 200;
inline constexpr std::size_t kMaxDescriptionLength = 2000;
inline constexpr std::int64_t kMinTurnLengthSeconds = 3600;
inline constexpr std::int64_t kMaxTurnLengthSeconds = 366 * tz::kSecondsPerDay;
inline constexpr std::int64_t kMaxOverrideSeconds = 366 * tz::kSecondsPerDay;

// Ids: [A-Za-z0-9._-]{1,64}.
bool ValidScheduleId(std::string_view id);

// A schedule body (no "id": the caller assigns it from the path or creates one). Layer ids are
// optional; missing ones become "L<index>".
Result<Schedule> DecodeSchedule(const JsonValue& body, const UserExists& user_exists);
// {"id", "name", "timeZone", "description", "layers": [...]}.
std::string EncodeSchedule(const Schedule& schedule);

// {"start","end","user"}; `id` assigned by the caller.
Result<Override> DecodeOverride(const JsonValue& body, const UserExists& user_exists,
                                std::string id);
std::string EncodeOverride(const Override& override_entry);
// [{"user","start","end"}...]
std::string EncodeEntries(const std::vector<Entry>& entries);

// ---- iCal (ical.cc) --------------------------------------------------------------------------

// An RFC 5545 calendar of `entries`: one VEVENT each (UID "<schedule_id>-<start>-<end>-<user
// hash>@opsorch", stable for the same entry), DTSTAMP = now, DTSTART/DTEND in UTC, SUMMARY
// "On call: <user>". Text escaped, lines folded at 75 octets on UTF-8 boundaries, CRLF.
std::string ToICal(std::string_view calendar_name, const std::vector<Entry>& entries,
                   std::string_view schedule_id, std::int64_t now_s);

}  // namespace opsorch::paging
