// The body of fuzz_paging_config, shared with its corpus regression test (fuzz_corpora_test.cc,
// in opsorch_tests): one input read as the paging admin API's bodies, from memory. The bytes are
// parsed with ParseJson (non-JSON is skipped: the JSON reader has targets of its own); the value
// goes to each decoder: paging::DecodeSchedule and paging::DecodeOverride (users "alice", "bob"
// and "carol" exist), engine::DecodePerson (no previous person) and engine::DecodePolicy (a
// catalog of people alice and bob and one schedule "s1"). A top-level array is also read as a
// sequence of bodies (its first 8 elements, each through every decoder), so that the overrides
// decoded from some elements apply to the schedules decoded from others.
//
// Invariants: no crash (ASan/UBSan in the fuzz build); a refusal is bad_request with a message.
// - A decoded schedule keeps the documented ranges (1-32 layers, valid unique layer ids, 1-100
//   known users, a turn of 1 hour to 366 days, an end after the start, at most 32 restrictions of a
//   valid type, time of day and duration) and its zone resolves (tz::Zone::Locate); it survives
//   EncodeSchedule → ParseJson → DecodeSchedule unchanged (with the id the API would assign).
// - FinalSchedule over a bounded window, [layers[0].start - 7 days, + 21 days) (and one around
//   the first override), narrowed when it would render more than kPagingMaxEntries entries
//   (skipped if even 10 minutes would, or if the window overflows), with and without the
//   decoded overrides: entries are sorted, non-overlapping, non-empty, within the window, of a
//   user of a layer or an override, adjacent entries of one user merged; OnCallAt at each
//   entry's start and end - 1 (and one instant inside) gives that user, and at the edges and
//   middle of every gap gives nobody (a bounded sample when that would take too many zone
//   conversions); the window split at an input-chosen instant renders the same entries.
// - ToICal of those entries (and of the same intervals with the description as the user): every
//   line ends with CRLF, has no other CR or LF, is at most 75 octets and is valid UTF-8 (folding
//   never splits a character); one VEVENT per entry.
// - A decoded override has the id given, an end after its start and at most 366 days later, a
//   known user, and survives EncodeOverride → ParseJson → DecodeOverride unchanged.
// - A decoded person keeps the documented ranges and survives PersonDocument → DecodePerson
//   unchanged (every field of every contact method and notification rule); PersonJson is a
//   JSON object with the person's id that holds no webhook secret and no Slack URL (unless the
//   same text is in a field that is shown anyway).
// - A decoded policy keeps the documented ranges, names only targets of the catalog, and survives
//   PolicyDocument → DecodePolicy unchanged; PolicyJson is JSON.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/engine/paging_catalog.h>
#include <opsorch/paging/schedule.h>
#include <opsorch/tz/zone.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// Entries rendered per window, and OnCallAt work per input (in zone conversions, roughly).
inline constexpr std::int64_t kPagingMaxEntries = 2000;
inline constexpr std::int64_t kPagingLookupBudget = 400'000;
inline constexpr std::size_t kPagingMaxBodies = 8;

inline bool PagingFuzzUserExists(std::string_view id) {
  return id == "alice" || id == "bob" || id == "carol";
}

// People alice and bob, and a schedule "s1" (UTC, alice and bob by the week).
inline const engine::PagingCatalog& PagingFuzzCatalog() {
  static const engine::PagingCatalog kCatalog = [] {
    engine::PagingCatalog c;
    for (const char* id : {"alice", "bob"}) {
      engine::Person p;
      p.id = id;
      p.name = id;
      c.people.emplace(id, std::move(p));
    }
    paging::Schedule s;
    s.id = "s1";
    s.name = "S1";
    s.time_zone = "UTC";
    paging::Layer l;
    l.id = "L0";
    l.start_s = 1767603600;  // 2026-01-05T09:00:00Z
    l.rotation_virtual_start_s = l.start_s;
    l.turn_length_s = 7 * tz::kSecondsPerDay;
    l.users = {"alice", "bob"};
    s.layers.push_back(std::move(l));
    c.schedules.emplace("s1", engine::ScheduleEntry{std::move(s), tz::kUtc, {}});
    return c;
  }();
  return kCatalog;
}

inline void CheckPagingError(const std::string& where, const Error& e,
                             std::vector<std::string>& out) {
  if (e.code != errc::kBadRequest) {
    out.push_back(where + ": error is not bad_request: " + Excerpt(e.message));
  }
  if (e.message.empty()) out.push_back(where + ": error without a message");
}

// Whether a string or key anywhere in `v` contains `needle`.
inline bool JsonHasText(const JsonValue& v, std::string_view needle) {
  if (v.is_string()) {
    return std::string_view(v.get_string().data(), v.get_string().size()).find(needle) !=
           std::string_view::npos;
  }
  if (v.is_array()) {
    for (const JsonValue& e : v.get_array()) {
      if (JsonHasText(e, needle)) return true;
    }
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (std::string_view(kv.key().data(), kv.key().size()).find(needle) !=
              std::string_view::npos ||
          JsonHasText(kv.value(), needle)) {
        return true;
      }
    }
  }
  return false;
}

// ---- schedules ------------------------------------------------------------------------------

inline void CheckScheduleRanges(const std::string& where, const paging::Schedule& s,
                                std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": accepted: " + what); };
  if (s.layers.empty() || s.layers.size() > paging::kMaxLayers) fail("layer count");
  if (!tz::Zone::Locate(s.time_zone)) fail("a zone that does not resolve: " + Excerpt(s.time_zone));
  if (s.name.empty()) fail("an empty name");
  std::set<std::string> ids;
  for (const paging::Layer& l : s.layers) {
    const std::string lw = "layer " + Excerpt(l.id);
    if (!paging::ValidScheduleId(l.id) || !ids.insert(l.id).second) fail(lw + ": id");
    if (l.users.empty() || l.users.size() > paging::kMaxUsersPerLayer) fail(lw + ": user count");
    for (const std::string& u : l.users) {
      if (!PagingFuzzUserExists(u)) fail(lw + ": unknown user " + Excerpt(u));
    }
    if (l.turn_length_s < paging::kMinTurnLengthSeconds ||
        l.turn_length_s > paging::kMaxTurnLengthSeconds) {
      fail(lw + ": turn length " + std::to_string(l.turn_length_s));
    }
    if (l.end_s != 0 && l.end_s <= l.start_s) fail(lw + ": end not after start");
    if (l.restrictions.size() > paging::kMaxRestrictionsPerLayer) fail(lw + ": restriction count");
    for (const paging::Restriction& r : l.restrictions) {
      const bool daily = r.type == paging::Restriction::Type::kDaily;
      if (r.start_time_of_day_s < 0 || r.start_time_of_day_s >= tz::kSecondsPerDay ||
          r.duration_s < 1 || r.duration_s > (daily ? 1 : 7) * tz::kSecondsPerDay ||
          (!daily && (r.start_day_of_week < 1 || r.start_day_of_week > 7))) {
        fail(lw + ": restriction out of range");
      }
    }
  }
}

inline void CheckScheduleRoundTrip(const std::string& where, const paging::Schedule& decoded,
                                   std::vector<std::string>& out) {
  paging::Schedule s = decoded;
  if (s.id.empty()) s.id = "s1";  // the API assigns the id from the path before storing
  const std::string text = paging::EncodeSchedule(s);
  auto again = ParseJson(text);
  if (!again) {
    out.push_back(where + ": EncodeSchedule is not JSON: " + Excerpt(again.error().message));
    return;
  }
  auto d = paging::DecodeSchedule(*again, PagingFuzzUserExists);
  if (!d) {
    out.push_back(where + ": encoded schedule does not decode: " + Excerpt(d.error().message, 200) +
                  " in " + Excerpt(text, 300));
  } else if (!(*d == s)) {
    out.push_back(where + ": encoded schedule decodes to another schedule: " + Excerpt(text, 300));
  }
}

// ---- rendering ------------------------------------------------------------------------------

// An upper bound on the entries FinalSchedule renders for a window of `w` seconds: every handoff
// and every restriction window may start one, every override one.
inline std::int64_t PagingEntryBound(const paging::Schedule& s,
                                     const std::vector<paging::Override>& overrides,
                                     std::int64_t w) {
  std::int64_t n = 2 * static_cast<std::int64_t>(overrides.size()) + 1;
  for (const paging::Layer& l : s.layers) {
    n += w / std::max<std::int64_t>(l.turn_length_s, 1) + 2;
    n += static_cast<std::int64_t>(l.restrictions.size()) * (w / tz::kSecondsPerDay + 3);
  }
  return n;
}

// Roughly the zone conversions one OnCallAt costs.
inline std::int64_t PagingLookupCost(const paging::Schedule& s) {
  std::int64_t c = 1;
  for (const paging::Layer& l : s.layers) {
    c += 4 + 22 * static_cast<std::int64_t>(l.restrictions.size());
  }
  return c;
}

inline std::string ShowEntry(const paging::Entry& e) {
  return Excerpt(e.user) + " [" + std::to_string(e.start_s) + ", " + std::to_string(e.end_s) + ")";
}

inline void CheckICal(const std::string& where, const std::string& ics, std::size_t events,
                      std::vector<std::string>& out) {
  std::size_t pos = 0;
  std::size_t seen = 0;
  while (pos < ics.size()) {
    const std::size_t crlf = ics.find("\r\n", pos);
    if (crlf == std::string::npos) {
      out.push_back(where + ": iCal does not end with CRLF: " + Excerpt(ics.substr(pos)));
      return;
    }
    const std::string_view line(ics.data() + pos, crlf - pos);
    if (line.size() > 75) {
      out.push_back(where + ": iCal line of " + std::to_string(line.size()) +
                    " octets: " + Excerpt(line, 100));
      return;
    }
    if (line.find_first_of("\r\n") != std::string_view::npos) {
      out.push_back(where + ": iCal line with a bare CR or LF: " + Excerpt(line, 100));
      return;
    }
    if (!ValidUtf8(line)) {
      out.push_back(where +
                    ": iCal line is not UTF-8 (folded inside a character?): " + Excerpt(line, 100));
      return;
    }
    if (line == "BEGIN:VEVENT") ++seen;
    pos = crlf + 2;
  }
  if (seen != events) {
    out.push_back(where + ": iCal has " + std::to_string(seen) + " events for " +
                  std::to_string(events) + " entries");
  }
}

inline void CheckRendering(const std::string& where, const paging::Schedule& s,
                           const tz::Zone& zone, const std::vector<paging::Override>& overrides,
                           std::int64_t anchor, InputRng& rng, std::int64_t& lookup_budget,
                           std::vector<std::string>& out) {
  std::int64_t w = 28 * tz::kSecondsPerDay;
  while (PagingEntryBound(s, overrides, w) > kPagingMaxEntries && w > 600)
    w = std::max<std::int64_t>(w / 4, 600);
  if (PagingEntryBound(s, overrides, w) > kPagingMaxEntries) return;
  std::int64_t since = 0, until = 0;
  const std::int64_t before = std::min<std::int64_t>(7 * tz::kSecondsPerDay, w / 4);
  if (__builtin_sub_overflow(anchor, before, &since) || __builtin_add_overflow(since, w, &until)) {
    return;
  }
  const std::string ww = where + " [" + std::to_string(since) + ", " + std::to_string(until) + ")";
  const auto fail = [&](const std::string& what) { out.push_back(ww + ": " + what); };

  const std::vector<paging::Entry> entries =
      paging::FinalSchedule(s, zone, overrides, since, until);
  if (static_cast<std::int64_t>(entries.size()) > PagingEntryBound(s, overrides, w)) {
    fail("more entries than the bound: " + std::to_string(entries.size()));
  }
  std::set<std::string> users;
  for (const paging::Layer& l : s.layers) users.insert(l.users.begin(), l.users.end());
  for (const paging::Override& o : overrides) users.insert(o.user);

  bool shape_ok = true;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const paging::Entry& e = entries[i];
    if (e.user.empty() || !users.contains(e.user)) fail("entry of no user: " + ShowEntry(e));
    if (e.start_s >= e.end_s || e.start_s < since || e.end_s > until) {
      fail("entry empty or outside the window: " + ShowEntry(e));
      shape_ok = false;
    }
    if (i > 0) {
      const paging::Entry& p = entries[i - 1];
      if (p.end_s > e.start_s) {
        fail("entries overlap or out of order: " + ShowEntry(p) + ", " + ShowEntry(e));
        shape_ok = false;
      } else if (p.end_s == e.start_s && p.user == e.user) {
        fail("adjacent entries of one user not merged: " + ShowEntry(p) + ", " + ShowEntry(e));
      }
    }
  }
  if (!out.empty() && !shape_ok) return;

  // OnCallAt against the entries: each entry's edges and one inside, each gap's edges and
  // middle. A stride keeps the zone conversions within the budget.
  std::vector<std::pair<std::int64_t, std::optional<std::string>>> probes;
  std::int64_t cursor = since;
  for (const paging::Entry& e : entries) {
    if (cursor < e.start_s) {
      probes.emplace_back(cursor, std::nullopt);
      probes.emplace_back(cursor + (e.start_s - cursor) / 2, std::nullopt);
      probes.emplace_back(e.start_s - 1, std::nullopt);
    }
    probes.emplace_back(e.start_s, e.user);
    probes.emplace_back(
        e.start_s +
            static_cast<std::int64_t>(rng.Next() % static_cast<std::uint64_t>(e.end_s - e.start_s)),
        e.user);
    probes.emplace_back(e.end_s - 1, e.user);
    cursor = e.end_s;
  }
  if (cursor < until) {
    probes.emplace_back(cursor, std::nullopt);
    probes.emplace_back(cursor + (until - cursor) / 2, std::nullopt);
    probes.emplace_back(until - 1, std::nullopt);
  }
  const std::int64_t cost = PagingLookupCost(s);
  const std::int64_t affordable = std::max<std::int64_t>(lookup_budget / cost, 16);
  const std::size_t stride = std::max<std::size_t>(
      1, probes.size() / static_cast<std::size_t>(std::max<std::int64_t>(affordable, 1)));
  std::size_t mismatches = 0;
  for (std::size_t i = rng.Next() % stride; i < probes.size(); i += stride) {
    lookup_budget -= cost;
    const auto& [t, want] = probes[i];
    const auto got = paging::OnCallAt(s, zone, overrides, t);
    if (got != want && ++mismatches <= 3) {
      fail("OnCallAt(" + std::to_string(t) + ") = " + (got ? Excerpt(*got) : "nobody") +
           ", the entries say " + (want ? Excerpt(*want) : "nobody"));
    }
  }

  // The window split in two renders the same entries.
  if (until - since >= 2) {
    const std::int64_t mid =
        since + 1 +
        static_cast<std::int64_t>(rng.Next() % static_cast<std::uint64_t>(until - since - 1));
    std::vector<paging::Entry> joined = paging::FinalSchedule(s, zone, overrides, since, mid);
    for (paging::Entry& e : paging::FinalSchedule(s, zone, overrides, mid, until)) {
      if (!joined.empty() && joined.back().end_s == e.start_s && joined.back().user == e.user) {
        joined.back().end_s = e.end_s;
      } else {
        joined.push_back(std::move(e));
      }
    }
    if (joined != entries) {
      fail("split at " + std::to_string(mid) + " renders " + std::to_string(joined.size()) +
           " entries, whole " + std::to_string(entries.size()));
    }
  }

  // iCal, of these entries and of the same intervals under a hostile user name.
  CheckICal(ww + " ical", paging::ToICal(s.name, entries, s.id.empty() ? "s1" : s.id, since),
            entries.size(), out);
  if (!s.description.empty() && !entries.empty()) {
    std::vector<paging::Entry> renamed(entries.begin(),
                                       entries.begin() + std::min<std::size_t>(entries.size(), 8));
    for (paging::Entry& e : renamed) e.user = s.description;
    CheckICal(ww + " ical (description as user)",
              paging::ToICal(s.description, renamed, s.name, until), renamed.size(), out);
  }
}

// ---- people ---------------------------------------------------------------------------------

inline std::string PersonDifference(const engine::Person& a, const engine::Person& b) {
  if (a.id != b.id || a.name != b.name || a.email != b.email || a.time_zone != b.time_zone) {
    return "id, name, email or timeZone";
  }
  if (a.contact_methods.size() != b.contact_methods.size()) return "contact method count";
  for (std::size_t i = 0; i < a.contact_methods.size(); ++i) {
    const auto& x = a.contact_methods[i];
    const auto& y = b.contact_methods[i];
    if (x.id != y.id || x.type != y.type) return "contact method id or type";
    if (x.address != y.address || x.secret != y.secret || x.label != y.label) {
      return "contact method address, secret or label";
    }
  }
  if (a.notification_rules.size() != b.notification_rules.size()) return "rule count";
  for (std::size_t i = 0; i < a.notification_rules.size(); ++i) {
    const auto& x = a.notification_rules[i];
    const auto& y = b.notification_rules[i];
    if (x.contact_method != y.contact_method || x.start_delay_minutes != y.start_delay_minutes ||
        x.urgency != y.urgency) {
      return "notification rule";
    }
  }
  return "";
}

inline void CheckPerson(const std::string& where, const engine::Person& p,
                        std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": " + what); };
  if (p.id != "p") fail("id not kept");
  if (p.name.empty() || p.name.size() > 200) fail("accepted: name");
  if (!p.time_zone.empty() && !tz::Zone::Locate(p.time_zone)) fail("accepted: unknown zone");
  if (p.contact_methods.size() > engine::kMaxContactMethods) fail("accepted: contact methods");
  if (p.notification_rules.size() > engine::kMaxNotificationRules) fail("accepted: rules");
  std::set<std::string> ids;
  for (const auto& m : p.contact_methods) {
    if (m.id.empty() || m.id.size() > 64 || !ids.insert(m.id).second) {
      fail("accepted: contact method id " + Excerpt(m.id));
    }
    if (m.type != "email" && m.type != "webhook" && m.type != "slack" && m.type != "sms" &&
        m.type != "voice") {
      fail("accepted: contact method type " + Excerpt(m.type));
    }
  }
  for (const auto& r : p.notification_rules) {
    if (p.Method(r.contact_method) == nullptr) fail("accepted: rule of an unknown method");
    if (r.urgency != "high" && r.urgency != "low") fail("accepted: urgency " + Excerpt(r.urgency));
    if (r.start_delay_minutes < 0 || r.start_delay_minutes > engine::kMaxDelayMinutes) {
      fail("accepted: startDelayMinutes " + std::to_string(r.start_delay_minutes));
    }
  }

  // What the store keeps decodes to the same person.
  auto again = engine::DecodePerson(p.id, engine::PersonDocument(p), nullptr);
  if (!again) {
    fail("PersonDocument does not decode: " + Excerpt(again.error().message, 200));
  } else if (const std::string diff = PersonDifference(p, *again); !diff.empty()) {
    fail("PersonDocument decodes to another person: " + diff);
  }

  // What the API shows holds no write-only part, unless a shown field holds the same text.
  auto shown = ParseJson(engine::PersonJson(p));
  if (!shown || !shown->is_object()) {
    fail("PersonJson is not a JSON object");
    return;
  }
  const JsonValue* id = shown->get_object().if_contains("id");
  if (id == nullptr || !id->is_string() || id->get_string() != p.id) fail("PersonJson without id");
  engine::Person bare = p;
  for (auto& m : bare.contact_methods) {
    m.secret.clear();
    if (m.type == "slack") m.address.clear();
  }
  auto bare_shown = ParseJson(engine::PersonJson(bare));
  if (!bare_shown) return;
  for (const auto& m : p.contact_methods) {
    std::string_view write_only;
    if (m.type == "webhook") write_only = m.secret;
    if (m.type == "slack") write_only = m.address;
    if (write_only.empty() || JsonHasText(*bare_shown, write_only)) continue;
    if (JsonHasText(*shown, write_only)) {
      fail("PersonJson shows the " + std::string(m.type == "slack" ? "Slack URL" : "secret") +
           " of contact method " + Excerpt(m.id));
    }
  }
}

// ---- policies -------------------------------------------------------------------------------

inline bool PoliciesEqual(const engine::Policy& a, const engine::Policy& b) {
  if (a.id != b.id || a.name != b.name || a.description != b.description ||
      a.num_loops != b.num_loops || a.rules.size() != b.rules.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.rules.size(); ++i) {
    const auto& x = a.rules[i];
    const auto& y = b.rules[i];
    if (x.delay_minutes != y.delay_minutes || x.targets.size() != y.targets.size()) return false;
    for (std::size_t k = 0; k < x.targets.size(); ++k) {
      if (x.targets[k].type != y.targets[k].type || x.targets[k].id != y.targets[k].id) {
        return false;
      }
    }
  }
  return true;
}

inline void CheckPolicy(const std::string& where, const engine::Policy& p,
                        std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": " + what); };
  const engine::PagingCatalog& catalog = PagingFuzzCatalog();
  if (p.id != "p") fail("id not kept");
  if (p.name.empty() || p.name.size() > 200) fail("accepted: name");
  if (p.num_loops < 0 || p.num_loops > engine::kMaxNumLoops) fail("accepted: numLoops");
  if (p.rules.empty() || p.rules.size() > engine::kMaxPolicyRules) fail("accepted: rule count");
  for (const auto& r : p.rules) {
    if (r.delay_minutes < 1 || r.delay_minutes > engine::kMaxDelayMinutes) {
      fail("accepted: delayMinutes " + std::to_string(r.delay_minutes));
    }
    if (r.targets.empty() || r.targets.size() > engine::kMaxRuleTargets) {
      fail("accepted: target count");
    }
    for (const auto& t : r.targets) {
      const bool known = (t.type == "user" && catalog.FindPerson(t.id) != nullptr) ||
                         (t.type == "schedule" && catalog.FindSchedule(t.id) != nullptr);
      if (!known) fail("accepted: target " + Excerpt(t.type) + " " + Excerpt(t.id));
    }
  }
  auto again = engine::DecodePolicy(p.id, engine::PolicyDocument(p), catalog);
  if (!again) {
    fail("PolicyDocument does not decode: " + Excerpt(again.error().message, 200));
  } else if (!PoliciesEqual(p, *again)) {
    fail("PolicyDocument decodes to another policy");
  }
  if (!ParseJson(engine::PolicyJson(p))) fail("PolicyJson is not JSON");
}

// ---- overrides ------------------------------------------------------------------------------

inline void CheckOverride(const std::string& where, const paging::Override& o,
                          std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": " + what); };
  if (o.id != "o1") fail("id not kept");
  if (o.end_s <= o.start_s || o.end_s - o.start_s > paging::kMaxOverrideSeconds) {
    fail("accepted: interval [" + std::to_string(o.start_s) + ", " + std::to_string(o.end_s) + ")");
  }
  if (!PagingFuzzUserExists(o.user)) fail("accepted: unknown user " + Excerpt(o.user));
  const std::string text = paging::EncodeOverride(o);
  auto again = ParseJson(text);
  if (!again || !again->is_object()) {
    fail("EncodeOverride is not a JSON object: " + Excerpt(text));
    return;
  }
  again->get_object().erase("id");  // assigned by the caller, not part of the body
  auto d = paging::DecodeOverride(*again, PagingFuzzUserExists, o.id);
  if (!d) {
    fail("encoded override does not decode: " + Excerpt(d.error().message, 200) + " in " +
         Excerpt(text, 200));
  } else if (!(*d == o)) {
    fail("encoded override decodes to another override: " + Excerpt(text, 200));
  }
}

// ---- the body -------------------------------------------------------------------------------

inline std::vector<std::string> CheckPagingConfig(std::string_view input) {
  std::vector<std::string> out;
  auto parsed = ParseJson(input);
  if (!parsed) return out;
  std::vector<std::pair<std::string, const JsonValue*>> bodies = {{"body", &*parsed}};
  if (parsed->is_array()) {
    const JsonArray& a = parsed->get_array();
    for (std::size_t i = 0; i < a.size() && i < kPagingMaxBodies; ++i) {
      bodies.emplace_back("body[" + std::to_string(i) + "]", &a[i]);
    }
  }

  std::vector<paging::Schedule> schedules;
  std::vector<paging::Override> overrides;
  for (const auto& [name, body] : bodies) {
    const std::string where = name;
    auto s = paging::DecodeSchedule(*body, PagingFuzzUserExists);
    if (!s) {
      CheckPagingError(where + " schedule", s.error(), out);
    } else {
      CheckScheduleRanges(where + " schedule", *s, out);
      CheckScheduleRoundTrip(where + " schedule", *s, out);
      schedules.push_back(std::move(*s));
    }
    auto o = paging::DecodeOverride(*body, PagingFuzzUserExists, "o1");
    if (!o) {
      CheckPagingError(where + " override", o.error(), out);
    } else {
      CheckOverride(where + " override", *o, out);
      overrides.push_back(std::move(*o));
    }
    if (!body->is_object()) continue;
    auto p = engine::DecodePerson("p", body->get_object(), nullptr);
    if (!p) {
      CheckPagingError(where + " person", p.error(), out);
    } else {
      CheckPerson(where + " person", *p, out);
    }
    auto pol = engine::DecodePolicy("p", body->get_object(), PagingFuzzCatalog());
    if (!pol) {
      CheckPagingError(where + " policy", pol.error(), out);
    } else {
      CheckPolicy(where + " policy", *pol, out);
    }
  }

  InputRng rng(input);
  std::int64_t lookup_budget = kPagingLookupBudget;
  for (std::size_t i = 0; i < schedules.size() && i < 2; ++i) {
    const paging::Schedule& s = schedules[i];
    auto zone = tz::Zone::Locate(s.time_zone);
    if (!zone) continue;  // reported by CheckScheduleRanges
    const std::string where = "schedule " + std::to_string(i) + " rendered";
    const std::int64_t anchor = s.layers.front().start_s;
    CheckRendering(where, s, *zone, {}, anchor, rng, lookup_budget, out);
    if (!overrides.empty()) {
      CheckRendering(where + " with overrides", s, *zone, overrides, anchor, rng, lookup_budget,
                     out);
      CheckRendering(where + " around the first override", s, *zone, overrides,
                     overrides.front().start_s, rng, lookup_budget, out);
    }
  }
  return out;
}

}  // namespace opsorch::testing
