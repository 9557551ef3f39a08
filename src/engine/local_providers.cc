#include <algorithm>
#include <charconv>
#include <optional>

#include <opsorch/common/error.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/engine/local_providers.h>
#include <opsorch/providers/interfaces.h>
#include <opsorch/schema/codec.h>

#include "engine/incident_json.h"
#include "engine/pager.h"
#include "engine/rules.h"
#include "engine/store_schema.h"
#include "engine/suppression.h"
#include "engine/timeline_view.h"
#include "engine/vocabulary.h"

namespace opsorch::engine {
namespace {

namespace s = ::opsorch::schema;

Time At(std::int64_t ns) { return ns == 0 ? Time{} : Time::FromUnixNanos(ns); }

std::string Rfc3339(std::int64_t ns) { return FormatRfc3339Nano(Time::FromUnixNanos(ns)); }

s::Incident ToSchema(const IncidentRow& r) {
  s::Incident out;
  out.id = r.id;
  out.title = r.title;
  out.description = r.description;
  out.status = StatusLabelOf(r);
  out.severity = SeverityLabelOf(r);
  out.service = r.service_id;
  out.created_at = At(r.created_at);
  out.updated_at = At(r.updated_at);
  out.fields = r.fields;
  out.fields.erase(kStatusLabelField);
  out.fields.erase(kSeverityLabelField);
  out.fields["urgency"] = r.urgency;
  out.fields["alertCount"] = r.alert_count;
  if (!r.dedup_key.empty()) out.fields["dedupKey"] = r.dedup_key;
  if (!r.source.empty()) out.fields["source"] = r.source;
  if (r.acknowledged_at != 0) out.fields["acknowledgedAt"] = Rfc3339(r.acknowledged_at);
  if (r.resolved_at != 0) out.fields["resolvedAt"] = Rfc3339(r.resolved_at);
  out.metadata = r.metadata;
  if (!r.details.empty()) out.metadata["customDetails"] = r.details;
  return out;
}

s::TimelineEntry ToSchema(const TimelineRow& t) {
  s::TimelineEntry e;
  e.id = t.id;
  e.incident_id = t.incident_id;
  e.at = At(t.at);
  e.kind = t.kind;
  e.body = t.body;
  e.actor = t.actor;
  e.metadata = t.metadata;
  return e;
}

// OpsOrch's alert statuses (Prometheus' "firing" for a triggered alert).
std::string AlertStatus(std::string_view action) {
  if (action == "trigger") return "firing";
  if (action == "acknowledge") return "acknowledged";
  return "resolved";
}

s::Alert ToSchema(const AlertRow& a) {
  s::Alert out;
  out.id = a.id;
  out.title = a.summary;
  out.status = AlertStatus(a.action);
  out.severity = std::string(SeverityLabel(a.severity));
  out.service = a.service_id;
  out.created_at = At(a.received_at);
  out.updated_at = At(a.received_at);
  out.fields = JsonObject{{"dedupKey", a.dedup_key}, {"action", a.action}};
  if (!a.incident_id.empty()) out.fields["incidentId"] = a.incident_id;
  if (!a.source.empty()) out.fields["source"] = a.source;
  if (!a.component.empty()) out.fields["component"] = a.component;
  if (!a.group.empty()) out.fields["group"] = a.group;
  if (!a.class_name.empty()) out.fields["class"] = a.class_name;
  out.fields["eventAt"] = Rfc3339(a.event_at);
  if (!a.custom_details.empty()) out.metadata["customDetails"] = a.custom_details;
  if (!a.links.empty()) out.metadata["links"] = a.links;
  if (!a.images.empty()) out.metadata["images"] = a.images;
  if (!a.client.empty()) out.metadata["client"] = a.client;
  if (!a.client_url.empty()) out.metadata["clientUrl"] = a.client_url;
  if (!a.integration_id.empty()) out.metadata["integrationId"] = a.integration_id;
  return out;
}

Result<SeverityWord> ValidSeverity(std::string_view s) {
  if (auto w = ParseSeverityWord(s)) return *w;
  return Fail(errc::kBadRequest,
              "severity must be one of sev1, sev2, sev3, sev4, sev5 (or critical, error, warning, "
              "info) (got \"" +
                  std::string(s) + "\")");
}

Result<StatusWord> ValidStatus(std::string_view s) {
  if (auto w = ParseStatusWord(s)) return *w;
  return Fail(errc::kBadRequest,
              "status must be one of open, investigating, mitigating, monitoring, acknowledged, "
              "resolved, closed (got \"" +
                  std::string(s) + "\")");
}

// The free-form fields a client sent, without the keys the provider keeps its labels under.
void MergeClientFields(JsonObject& into, const JsonObject& from) {
  for (const auto& kv : from) {
    if (kv.key() == kStatusLabelField || kv.key() == kSeverityLabelField) continue;
    into[kv.key()] = kv.value();
  }
}

// A search is a LIKE pattern over every candidate row: its text and filter lists are bounded.
constexpr std::size_t kMaxQueryText = 1024;
constexpr std::size_t kMaxFilterValues = 64;

Status CheckQuery(const s::IncidentQuery& q) {
  if (q.query.size() > kMaxQueryText) {
    return Fail(errc::kBadRequest, "query: must be at most " + std::to_string(kMaxQueryText) +
                                       " bytes (got " + std::to_string(q.query.size()) + ")");
  }
  if (q.statuses.size() > kMaxFilterValues || q.severities.size() > kMaxFilterValues) {
    return Fail(errc::kBadRequest,
                std::string(q.statuses.size() > kMaxFilterValues ? "statuses" : "severities") +
                    ": at most " + std::to_string(kMaxFilterValues) + " values");
  }
  return Ok();
}

// Who a timeline entry says acted: the caller the API identified, else an anonymous user.
JsonObject ActorOf(const s::Caller& caller) {
  return caller.empty() ? JsonObject{{"type", "user"}} : caller;
}

using providers::Page;
using providers::PageRequest;
using providers::PageSize;

tl::unexpected<Error> BadCursor() {
  return Fail(errc::kBadRequest, "after: not a cursor of this list");
}

// The seq of an "inc-<n>" / "al-<n>" cursor; 0 for none; nullopt when malformed.
std::optional<std::int64_t> CursorSeq(std::string_view after, std::string_view prefix) {
  if (after.empty()) return 0;
  if (!after.starts_with(prefix)) return std::nullopt;
  std::int64_t seq = 0;
  const std::string_view digits = after.substr(prefix.size());
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size() || seq <= 0) {
    return std::nullopt;
  }
  return seq;
}

// A page of a list ordered by id (catalog lists, which are read whole from the store).
template <class T>
Page<T> PageById(std::vector<T> all, std::int64_t limit, std::string_view after) {
  std::sort(all.begin(), all.end(), [](const T& a, const T& b) { return a.id < b.id; });
  const auto size = static_cast<std::size_t>(PageSize(limit));
  auto first = std::upper_bound(all.begin(), all.end(), after,
                                [](std::string_view a, const T& b) { return a < b.id; });
  if (after.empty()) first = all.begin();
  Page<T> page;
  std::vector<T> items;
  for (auto it = first; it != all.end() && items.size() < size; ++it) items.push_back(*it);
  if (static_cast<std::size_t>(all.end() - first) > size) page.next = items.back().id;
  page.items = std::move(items);
  return page;
}

// The alert actions behind the statuses alerts are shown with (ToSchema).
// An alert status filter in the engine's actions: OpsOrch's words and PagerDuty's.
std::vector<std::string> ActionsOf(const std::vector<std::string>& statuses) {
  std::vector<std::string> actions;
  for (const auto& raw : statuses) {
    const std::string st = ToLower(TrimSpace(raw));
    if (st == "firing" || st == "triggered" || st == "open") actions.emplace_back("trigger");
    if (st == "acknowledged") actions.emplace_back("acknowledge");
    if (st == "resolved" || st == "closed") actions.emplace_back("resolve");
  }
  return actions;
}

// A severity filter in the engine's words (sev4 and sev5 are both info).
std::vector<std::string> EngineSeverities(const std::vector<std::string>& wanted) {
  std::vector<std::string> out;
  for (const auto& w : wanted) {
    auto word = ParseSeverityWord(w);
    out.push_back(word ? word->severity : w);
  }
  return out;
}

// A page of incidents filtered by OpsOrch labels reads at least this many incidents (or ten
// pages' worth) before it answers shorter than asked.
constexpr std::int64_t kMinLabelScan = 1000;

// A coalesced page reads at most this many entries, so that one request's work is bounded
// even when a single run of repeats is longer (it then continues on the next page).
constexpr std::int64_t kMaxEntriesReadPerPage = 200'000;

class Base {
 public:
  explicit Base(Engine& e) : engine(e) {}

 protected:
  Store& store() { return engine.store(); }

  // The pager's part of an incident change, in the same transaction (nothing without a pager);
  // `counts` gets what it did, for WakePager once the write committed.
  Status Notify(Tx& tx, const IncidentRow& row, std::string_view change, std::int64_t now,
                PagingCounts& counts) {
    if (change == "resolved" && engine.quiet() != nullptr) {
      if (auto st = EndFiringEpisode(tx, &engine.firing(), row); !st) return st;
    }
    Pager* pager = engine.pager();
    if (pager == nullptr) return Ok();
    return pager->OnIncidentChange(tx, row.id, row.service_id, change, now, &counts);
  }
  // After the write: counted, and the pager looks at once when pages were queued.
  void WakePager(bool committed, bool queued, const PagingCounts& counts) {
    Pager* pager = engine.pager();
    if (pager == nullptr || !committed) return;
    pager->Count(counts);
    if (queued) pager->Wake();
  }

  // The service ids a scope selects: none (no restriction), or the given service / the
  // services of the given team. An unknown team selects nothing (a deliberately empty list).
  Result<std::optional<std::vector<std::string>>> ScopeServices(const s::QueryScope& scope) {
    if (!scope.service.empty()) {
      return std::optional<std::vector<std::string>>(std::vector<std::string>{scope.service});
    }
    if (scope.team.empty()) return std::optional<std::vector<std::string>>();
    auto services = store().Services();
    if (!services) return Fail(std::move(services.error()));
    std::vector<std::string> ids;
    for (const auto& sv : *services) {
      if (sv.team_id == scope.team) ids.push_back(sv.id);
    }
    if (ids.empty()) ids.push_back("\x01no such service");
    return std::optional<std::vector<std::string>>(std::move(ids));
  }

  Status ServiceExists(const std::string& id) {
    auto services = store().Services();
    if (!services) return Fail(std::move(services.error()));
    if (std::none_of(services->begin(), services->end(),
                     [&](const ServiceRow& sv) { return sv.id == id; })) {
      return Fail(errc::kBadRequest, "service " + id + " does not exist");
    }
    return Ok();
  }

  Engine& engine;
};

class LocalIncidents final : public providers::IncidentProvider, Base {
 public:
  using Base::Base;

  Result<NullableList<s::Incident>> Query(const s::IncidentQuery& q) override {
    auto page = QueryPage(q, {});
    if (!page) return Fail(std::move(page.error()));
    return std::move(page->items);
  }

  // Newest first (?sort=oldest: oldest first), PageSize(limit) at a time; the cursor is the
  // last incident's id, and the next page continues past it in the same order.
  Result<Page<s::Incident>> QueryPage(const s::IncidentQuery& q, const PageRequest& page) override {
    if (auto st = CheckQuery(q); !st) return Fail(std::move(st.error()));
    const auto past = CursorSeq(page.after, "inc-");
    if (!past) return BadCursor();
    if (!page.sort.empty() && page.sort != "newest" && page.sort != "oldest") {
      return Fail(errc::kBadRequest, "sort: must be newest or oldest");
    }
    IncidentFilter f;
    f.oldest_first = page.sort == "oldest";
    f.text = std::string(TrimSpace(q.query));
    // The store filters on the engine's words; the labels are checked here, on the page.
    for (const auto& st : q.statuses) {
      auto word = ParseStatusWord(st);
      f.statuses.push_back(word ? word->lifecycle : st);
    }
    f.severities = EngineSeverities(q.severities);
    // Checked per row only when the query filters: a label is read from the row's fields.
    const WordFilter statuses(q.statuses);
    const WordFilter severities(q.severities);
    const auto wanted = [&](const IncidentRow& r) {
      return (statuses.empty() || statuses.Matches(StatusLabelOf(r), r.status)) &&
             (severities.empty() || severities.Matches(SeverityLabelOf(r), r.severity));
    };
    const std::int64_t size = PageSize(q.limit);
    auto scope = ScopeServices(q.scope);
    if (!scope) return Fail(std::move(scope.error()));
    if (*scope) f.service_ids = std::move(**scope);
    // The store filters on the engine's words; a label filter can leave out incidents the store
    // returned, so batches are read until the page is full, the store has no more, or the scan
    // budget is spent (then the page is shorter and the cursor continues after the last incident
    // read). Without label filters the first batch fills the page, exactly as before.
    const std::int64_t budget = std::max<std::int64_t>(10 * size, kMinLabelScan);
    std::int64_t scanned = 0;
    std::int64_t cursor = *past;
    std::string last_read;
    bool more = false;
    std::vector<s::Incident> items;
    while (true) {
      f.limit = size + 1;  // one more tells whether a next page exists
      (f.oldest_first ? f.after_seq : f.before_seq) = cursor;
      auto rows = store().QueryIncidents(f);
      if (!rows) return Fail(std::move(rows.error()));
      std::size_t i = 0;
      for (; i < rows->size(); ++i) {
        if (static_cast<std::int64_t>(items.size()) == size || scanned == budget) break;
        const IncidentRow& r = (*rows)[i];
        ++scanned;
        last_read = r.id;
        cursor = r.seq;
        if (wanted(r)) items.push_back(ToSchema(r));
      }
      if (i < rows->size()) {  // stopped with rows left: there is a next page
        more = true;
        break;
      }
      // Read the whole batch: the store has more only if the batch was full.
      if (static_cast<std::int64_t>(rows->size()) < f.limit) break;
    }
    Page<s::Incident> out;
    if (more) out.next = last_read;
    out.items = std::move(items);
    return out;
  }

  Result<s::Incident> Get(const std::string& id) override {
    auto r = store().GetIncident(id);
    if (!r) return Fail(std::move(r.error()));
    if (!*r) return Fail(errc::kNotFound, "incident " + id + " not found");
    return ToSchema(**r);
  }

  Result<s::Incident> Create(const s::CreateIncidentInput& in) override {
    const std::string title(TrimSpace(in.title));
    if (title.empty()) return Fail(errc::kBadRequest, "title is required");
    auto status_word = ValidStatus(in.status.empty() ? "open" : in.status);
    if (!status_word) return Fail(std::move(status_word.error()));
    auto severity_word = ValidSeverity(in.severity.empty() ? "error" : in.severity);
    if (!severity_word) return Fail(std::move(severity_word.error()));
    const std::string& status = status_word->lifecycle;
    const std::string& severity = severity_word->severity;
    if (!in.service.empty()) {
      if (auto st = ServiceExists(in.service); !st) return Fail(std::move(st.error()));
    }
    const std::int64_t now = engine.Now();
    IncidentRow row;
    row.service_id = in.service;
    row.title = title;
    row.description = in.description;
    row.status = status;
    row.severity = severity;
    row.urgency = std::string(UrgencyFor(severity));
    row.created_at = row.updated_at = now;
    if (status == "acknowledged") row.acknowledged_at = now;
    if (status == "resolved") row.resolved_at = now;
    MergeClientFields(row.fields, in.fields);
    SetLabels(row, *status_word, *severity_word);
    row.metadata = in.metadata;
    PagingCounts paged;
    auto st = store().Write([&](Tx& tx) -> Status {
      if (auto s2 = tx.InsertIncident(row); !s2) return s2;
      TimelineRow t{"", row.id, now, "created", "Incident created: " + title, ActorOf(in.caller),
                    {}};
      if (auto s2 = tx.AppendTimeline(t); !s2) return s2;
      if (row.status != "open" || row.service_id.empty()) return Ok();
      if (auto s2 = Notify(tx, row, "triggered", now, paged); !s2) return s2;
      // As a trigger's new incident: its service's runbooks start in this transaction.
      Pager* pager = engine.pager();
      return pager != nullptr ? pager->OnIncidentCreated(tx, row.id, row.service_id, now) : Ok();
    });
    WakePager(st.has_value(), row.status == "open", paged);
    if (!st) return Fail(std::move(st.error()));
    return ToSchema(row);
  }

  Result<s::Incident> Update(const std::string& id, const s::UpdateIncidentInput& in) override {
    if (in.title && TrimSpace(*in.title).empty()) {
      return Fail(errc::kBadRequest, "title must not be empty");
    }
    std::optional<SeverityWord> severity_word;
    if (in.severity) {
      auto w = ValidSeverity(*in.severity);
      if (!w) return Fail(std::move(w.error()));
      severity_word = std::move(*w);
    }
    std::optional<StatusWord> status_word;
    if (in.status) {
      auto w = ValidStatus(*in.status);
      if (!w) return Fail(std::move(w.error()));
      status_word = std::move(*w);
    }
    if (in.service && !in.service->empty()) {
      if (auto st = ServiceExists(*in.service); !st) return Fail(std::move(st.error()));
    }
    IncidentRow result;
    std::string change;  // what the pager hears about
    PagingCounts paged;
    auto st = store().Write([&](Tx& tx) -> Status {
      change.clear();
      auto found = tx.GetIncidentForUpdate(id);
      if (!found) return Fail(std::move(found.error()));
      if (!*found) return Fail(errc::kNotFound, "incident " + id + " not found");
      IncidentRow row = std::move(**found);
      const std::int64_t now = engine.Now();
      std::vector<TimelineRow> entries;
      const std::string from_label = StatusLabelOf(row);
      if (status_word && status_word->lifecycle != row.status) {
        if (auto s2 = CheckTransition(row.status, status_word->lifecycle); !s2) return s2;
        const std::string from = row.status;
        row.status = status_word->lifecycle;
        std::string kind = "status_change";
        if (row.status == "acknowledged") {
          kind = "acknowledged";
          if (row.acknowledged_at == 0) row.acknowledged_at = now;
        } else if (row.status == "resolved") {
          kind = "resolved";
          row.resolved_at = now;
        } else if (from == "resolved") {
          kind = "reopened";
          row.resolved_at = 0;
          row.acknowledged_at = 0;
        }
        if (kind != "status_change") change = kind;
        // acknowledged → open: paging starts again, as for a reopened incident.
        if (kind == "status_change" && row.status == "open") change = "reopened";
        entries.push_back(TimelineRow{
            "", row.id, now, kind,
            "Status changed from " + from_label + " to " + status_word->label, ActorOf(in.caller),
            JsonObject{{"from", from_label}, {"to", status_word->label}}});
      } else if (status_word && status_word->label != from_label) {
        // Within the same stage of the lifecycle (investigating → mitigating → monitoring).
        entries.push_back(TimelineRow{
            "", row.id, now, "status_change",
            "Status changed from " + from_label + " to " + status_word->label, ActorOf(in.caller),
            JsonObject{{"from", from_label}, {"to", status_word->label}}});
      }
      if (status_word) SetLabels(row, status_word, std::nullopt);  // after the times changed
      if (in.title) row.title = std::string(TrimSpace(*in.title));
      if (in.description) row.description = *in.description;
      if (const std::string from = SeverityLabelOf(row);
          severity_word && severity_word->label != from) {
        entries.push_back(TimelineRow{
            "", row.id, now, "severity_change",
            "Severity changed from " + from + " to " + severity_word->label, ActorOf(in.caller),
            JsonObject{{"from", from}, {"to", severity_word->label}}});
        row.severity = severity_word->severity;
        row.urgency = std::string(UrgencyFor(row.severity));
        SetLabels(row, std::nullopt, severity_word);
      }
      if (in.service) row.service_id = *in.service;
      MergeClientFields(row.fields, in.fields);
      for (const auto& kv : in.metadata) row.metadata[kv.key()] = kv.value();
      row.updated_at = now;
      if (auto s2 = tx.UpdateIncident(row); !s2) {
        if (s2.error().code == errc::kConflict && row.status != "resolved") {
          return Fail(errc::kConflict, "cannot reopen " + row.id +
                                           ": another incident is open "
                                           "for the same service and dedup key");
        }
        return s2;
      }
      for (auto& e : entries) {
        if (auto s2 = tx.AppendTimeline(e); !s2) return s2;
      }
      if (!change.empty()) {
        if (auto s2 = Notify(tx, row, change, now, paged); !s2) return s2;
      }
      result = std::move(row);
      return Ok();
    });
    WakePager(st.has_value(), change == "reopened", paged);
    if (!st) return Fail(std::move(st.error()));
    return ToSchema(result);
  }

  Result<NullableList<s::TimelineEntry>> GetTimeline(const std::string& id) override {
    auto page = TimelinePage(id, {});
    if (!page) return Fail(std::move(page.error()));
    return std::move(page->items);
  }

  // In (at, n) order; coalesced unless raw; the cursor is the position of the last entry read.
  Result<Page<s::TimelineEntry>> TimelinePage(const std::string& id,
                                              const providers::TimelineRequest& req) override {
    TimelineCursor after;
    if (!req.after.empty()) {
      auto c = ParseTimelineCursor(req.after);
      if (!c) return BadCursor();
      after = *c;
    }
    auto inc = store().GetIncident(id);
    if (!inc) return Fail(std::move(inc.error()));
    if (!*inc) return Fail(errc::kNotFound, "incident " + id + " not found");
    const std::int64_t size = PageSize(req.limit);
    Page<s::TimelineEntry> page;
    std::vector<s::TimelineEntry> items;
    if (req.raw) {
      TimelineCursor last;
      auto st = store().ScanTimeline(id, after, size + 1, [&](TimelineRow&& row) {
        if (static_cast<std::int64_t>(items.size()) == size) {
          page.next = TimelineCursorText(last);
          return false;
        }
        last = TimelineCursor{row.at, row.n};
        items.push_back(ToSchema(row));
        return true;
      });
      if (!st) return Fail(std::move(st.error()));
    } else {
      TimelineCoalescer coalescer(static_cast<std::size_t>(size));
      bool full = false;
      auto st = store().ScanTimeline(id, after, kMaxEntriesReadPerPage, [&](TimelineRow&& row) {
        full = !coalescer.Push(std::move(row));
        return !full;
      });
      if (!st) return Fail(std::move(st.error()));
      if (full || static_cast<std::int64_t>(coalescer.taken()) == kMaxEntriesReadPerPage) {
        page.next = TimelineCursorText(coalescer.last());
      }
      for (const auto& row : coalescer.Finish()) items.push_back(ToSchema(row));
    }
    page.items = std::move(items);
    return page;
  }

  Status AppendTimeline(const std::string& id, const s::TimelineAppendInput& in) override {
    return store().Write([&](Tx& tx) -> Status {
      auto found = tx.GetIncidentForUpdate(id);
      if (!found) return Fail(std::move(found.error()));
      if (!*found) return Fail(errc::kNotFound, "incident " + id + " not found");
      IncidentRow row = std::move(**found);
      const std::int64_t now = engine.Now();
      TimelineRow t;
      t.incident_id = row.id;
      if (in.at.IsZero()) {
        t.at = now;
      } else if (auto at = in.at.UnixNanosChecked()) {
        t.at = *at;
      } else {
        return Fail(errc::kBadRequest, "at: " + std::string(Time::kNanosRange));
      }
      t.kind = TrimSpace(in.kind).empty() ? "note" : in.kind;
      t.body = in.body;
      t.actor = in.actor.empty() ? ActorOf(in.caller) : in.actor;
      t.metadata = in.metadata;
      if (auto st = tx.AppendTimeline(t); !st) return st;
      row.updated_at = now;
      return tx.UpdateIncident(row);
    });
  }
};

class LocalAlerts final : public providers::AlertProvider, Base {
 public:
  using Base::Base;

  Result<NullableList<s::Alert>> Query(const s::AlertQuery& q) override {
    auto page = QueryPage(q, {});
    if (!page) return Fail(std::move(page.error()));
    return std::move(page->items);
  }

  // Newest first, PageSize(limit) at a time; the cursor is the last alert's id.
  Result<Page<s::Alert>> QueryPage(const s::AlertQuery& q, const PageRequest& page) override {
    if (auto st = CheckQuery(q); !st) return Fail(std::move(st.error()));
    const auto before = CursorSeq(page.after, "al-");
    if (!before) return BadCursor();
    AlertFilter f;
    f.text = std::string(TrimSpace(q.query));
    f.severities = EngineSeverities(q.severities);
    // A status is a function of the alert's action: the filter runs in the store.
    f.actions = ActionsOf(q.statuses);
    if (!q.statuses.empty() && f.actions.empty())
      return Page<s::Alert>{std::vector<s::Alert>{}, {}};
    auto scope = ScopeServices(q.scope);
    if (!scope) return Fail(std::move(scope.error()));
    if (*scope) f.service_ids = std::move(**scope);
    // metadata.incidentId: the alerts of one incident (an opsorch extension; the console's
    // incident page), read along the incident's chain of alerts.
    if (const JsonValue* inc = q.metadata.if_contains("incidentId"); inc != nullptr) {
      const auto seq = inc->is_string() ? CursorSeq(inc->get_string(), "inc-") : std::nullopt;
      if (!seq || *seq <= 0) {
        return Fail(errc::kBadRequest, "metadata.incidentId: must be an incident id (inc-<n>)");
      }
      f.incident_id = std::string(inc->get_string());
    }
    const std::int64_t size = PageSize(q.limit);
    f.limit = size + 1;
    f.before_seq = *before;
    auto rows = store().QueryAlerts(f);
    if (!rows) return Fail(std::move(rows.error()));
    Page<s::Alert> out;
    std::vector<s::Alert> items;
    for (const auto& a : *rows) {
      if (static_cast<std::int64_t>(items.size()) == size) {
        out.next = items.back().id;
        break;
      }
      items.push_back(ToSchema(a));
    }
    out.items = std::move(items);
    return out;
  }

  Result<s::Alert> Get(const std::string& id) override {
    auto r = store().GetAlert(id);
    if (!r) return Fail(std::move(r.error()));
    if (!*r) return Fail(errc::kNotFound, "alert " + id + " not found");
    return ToSchema(**r);
  }
};

class LocalServices final : public providers::ServiceProvider, Base {
 public:
  using Base::Base;

  Result<NullableList<s::Service>> Query(const s::ServiceQuery& q) override {
    auto page = QueryPage(q, {});
    if (!page) return Fail(std::move(page.error()));
    return std::move(page->items);
  }

  // By id, PageSize(limit) at a time; the cursor is the last service's id.
  Result<Page<s::Service>> QueryPage(const s::ServiceQuery& q, const PageRequest& page) override {
    auto all = Matching(q);
    if (!all) return Fail(std::move(all.error()));
    return PageById(std::move(*all), q.limit, page.after);
  }

 private:
  Result<std::vector<s::Service>> Matching(const s::ServiceQuery& q) {
    auto rows = store().Services();
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<s::Service> out;
    const std::string name = ToLower(TrimSpace(q.name));
    for (const auto& r : *rows) {
      if (!q.ids.empty() && std::find(q.ids.begin(), q.ids.end(), r.id) == q.ids.end()) continue;
      if (!name.empty() && ToLower(r.name).find(name) == std::string::npos) continue;
      if (!q.scope.service.empty() && q.scope.service != r.id) continue;
      if (!q.scope.team.empty() && q.scope.team != r.team_id) continue;
      s::Service sv;
      sv.id = r.id;
      sv.name = r.name;
      for (const auto& kv : r.tags) {
        if (kv.value().is_string()) sv.tags[kv.key()] = std::string(kv.value().get_string());
      }
      // OpsOrch clients read a service's owner and environment from its tags (the console's
      // `tags.team`, `tags.environment`), and scope queries by environment.
      if (!r.team_id.empty()) sv.tags.try_emplace("team", r.team_id);
      const bool tags_match = std::all_of(q.tags.begin(), q.tags.end(), [&](const auto& kv) {
        const auto t = sv.tags.find(kv.first);
        return t != sv.tags.end() && t->second == kv.second;
      });
      if (!tags_match) continue;
      if (!q.scope.environment.empty()) {
        const auto env = sv.tags.find("environment");
        const auto short_env = sv.tags.find("env");
        const std::string wanted = ToLower(TrimSpace(q.scope.environment));
        if (!((env != sv.tags.end() && ToLower(env->second) == wanted) ||
              (short_env != sv.tags.end() && ToLower(short_env->second) == wanted))) {
          continue;
        }
      }
      sv.metadata = JsonObject{{"team", r.team_id},
                               {"description", r.description},
                               {"ackTargetSeconds", r.ack_target_s},
                               {"resolveTargetSeconds", r.resolve_target_s}};
      if (!r.runbooks.empty()) sv.metadata["runbooks"] = StringsToJson(r.runbooks);
      out.push_back(std::move(sv));
    }
    return out;
  }
};

class LocalTeams final : public providers::TeamProvider, Base {
 public:
  using Base::Base;

  Result<NullableList<s::Team>> Query(const s::TeamQuery& q) override {
    auto page = QueryPage(q, {});
    if (!page) return Fail(std::move(page.error()));
    return std::move(page->items);
  }

  // By id, PageSize(0) at a time (TeamQuery has no limit); the cursor is the last team's id.
  Result<Page<s::Team>> QueryPage(const s::TeamQuery& q, const PageRequest& page) override {
    auto rows = store().Teams();
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<s::Team> out;
    const std::string name = ToLower(TrimSpace(q.name));
    for (const auto& r : *rows) {
      if (!name.empty() && ToLower(r.name).find(name) == std::string::npos) continue;
      if (!q.scope.team.empty() && q.scope.team != r.id) continue;
      out.push_back(ToSchema(r));
    }
    return PageById(std::move(out), 0, page.after);
  }

  Result<s::Team> Get(const std::string& id) override {
    auto rows = store().Teams();
    if (!rows) return Fail(std::move(rows.error()));
    for (const auto& r : *rows) {
      if (r.id == id) return ToSchema(r);
    }
    return Fail(errc::kNotFound, "team " + id + " not found");
  }

  Result<NullableList<s::TeamMember>> Members(const std::string& team_id) override {
    auto page = MembersPage(team_id, 0, {});
    if (!page) return Fail(std::move(page.error()));
    return std::move(page->items);
  }

  Result<Page<s::TeamMember>> MembersPage(const std::string& team_id, std::int64_t limit,
                                          const PageRequest& page) override {
    auto all = AllMembers(team_id);
    if (!all) return Fail(std::move(all.error()));
    return PageById(std::move(*all), limit, page.after);
  }

 private:
  Result<std::vector<s::TeamMember>> AllMembers(const std::string& team_id) {
    if (auto t = Get(team_id); !t) return Fail(std::move(t.error()));
    auto rows = store().Members(team_id);
    if (!rows) return Fail(std::move(rows.error()));
    std::vector<s::TeamMember> out;
    for (const auto& m : *rows) {
      s::TeamMember tm;
      tm.id = m.id;
      tm.name = m.name;
      tm.email = m.email;
      tm.handle = m.handle;
      tm.role = m.role;
      out.push_back(std::move(tm));
    }
    return out;
  }

  static s::Team ToSchema(const TeamRow& r) {
    s::Team t;
    t.id = r.id;
    t.name = r.name;
    t.parent = r.parent;
    if (!r.description.empty()) t.metadata = JsonObject{{"description", r.description}};
    return t;
  }
};

// Every `local` factory accepts an empty config (the engine's settings come from the
// environment, docs/CONFIGURATION.md) and refuses any key, naming it.
Status NoConfig(const JsonObject& config, std::string_view capability) {
  for (const auto& kv : config) {
    return Fail(errc::kBadRequest, "local " + std::string(capability) +
                                       " provider: unknown config key \"" + std::string(kv.key()) +
                                       "\" (the engine is configured with OPSORCH_ENGINE_*)");
  }
  return Ok();
}

}  // namespace

Status RegisterLocalProviders(providers::ProviderRegistry& registry,
                              std::function<Result<Engine*>()> engine) {
  auto add = [&]<class Interface, class Impl>(std::string_view cap) {
    return registry.Register<Interface>(
        kLocalProviderName,
        [engine, cap](const JsonObject& config) -> Result<std::shared_ptr<Interface>> {
          if (auto st = NoConfig(config, cap); !st) return Fail(std::move(st.error()));
          auto e = engine();
          if (!e) return Fail(std::move(e.error()));
          return std::shared_ptr<Interface>(std::make_shared<Impl>(**e));
        },
        // Every call reads or writes the store: on the worker pool.
        providers::CallModel::kPool);
  };
  if (auto st = add.template operator()<providers::IncidentProvider, LocalIncidents>("incident");
      !st) {
    return st;
  }
  if (auto st = add.template operator()<providers::AlertProvider, LocalAlerts>("alert"); !st) {
    return st;
  }
  if (auto st = add.template operator()<providers::ServiceProvider, LocalServices>("service");
      !st) {
    return st;
  }
  return add.template operator()<providers::TeamProvider, LocalTeams>("team");
}

std::string IncidentJson(const IncidentRow& row) { return schema::EncodeToString(ToSchema(row)); }

}  // namespace opsorch::engine
