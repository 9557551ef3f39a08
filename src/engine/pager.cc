#include "engine/pager.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>
#include <opsorch/notify/transport.h>

#include "engine/escalation.h"
#include "engine/incident_json.h"
#include "engine/store_schema.h"
#include "engine/vocabulary.h"

namespace opsorch::engine {
namespace {

constexpr std::int64_t kNs = 1'000'000'000;
constexpr std::int64_t kBatch = 256;
// A DeliveryResult::status meaning "not sent on purpose" (the incident was acknowledged or
// resolved meanwhile): recorded as cancelled.
constexpr int kCancelledStatus = -1;

std::string Hex(const unsigned char* p, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view s) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  return Hex(d, n);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), d, &n);
  return std::string(reinterpret_cast<const char*>(d), n);
}

std::string Base64Url(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

std::optional<std::string> FromBase64Url(std::string_view text) {
  if (text.size() > 2048) return std::nullopt;
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

// The wire id of a message: stable for its idempotency key, and free of '.' (Standard
// Webhooks signs "id.timestamp.body").
std::string DeliveryId(const NotificationRow& n) {
  return "msg_" + Sha256Hex(n.idempotency_key).substr(0, 32);
}

// Messages per second a contact method may receive, and the burst allowed, by channel: chat
// webhooks and e-mail are throttled by their providers (Slack: 1/s), phones should not ring
// more than once a minute; a webhook receiver is a machine.
struct Rate {
  double per_second;
  double burst;
};
Rate RateFor(std::string_view channel) {
  if (channel == "webhook") return {50, 100};
  if (channel == "slack") return {1, 5};
  if (channel == "email") return {0.1, 5};
  return {1.0 / 60, 1};  // sms, voice
}

bool Idempotent(std::string_view channel) { return channel == "webhook"; }

// Control characters (line breaks included) as spaces, at most `max` bytes on a UTF-8 boundary.
std::string OneLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
  out.resize(Utf8Prefix(out, max).size());
  return out;
}

}  // namespace

struct Pager::Impl {
  Store& store;
  SubmitFn submit;
  PagerOptions options;
  metrics::Registry* metrics = nullptr;
  std::string node_id;
  std::string link_key;

  mutable std::mutex catalog_mu;
  std::shared_ptr<const PagingCatalog> catalog;
  struct ServicePaging {
    std::string policy;
    std::int64_t ack_timeout_s = 0;
    std::vector<std::string> runbooks;
  };
  std::map<std::string, ServicePaging, std::less<>> service_paging;  // under catalog_mu
  // Whether any service names runbooks: a new incident of any service then looks for its own
  // (otherwise nothing is looked up, the common case of the event path).
  std::atomic<bool> any_runbooks{false};

  mutable std::mutex hook_mu;
  std::shared_ptr<const IncidentHook> incident_hook;  // under hook_mu; null: none

  std::unique_ptr<notify::Transport> webhook, slack, smtp;
  std::string smtp_problem;  // why e-mail cannot be sent (no SMTP configured, …)

  // Runner.
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  bool stopping = false;
  std::atomic<bool> abort{false};
  std::thread runner;
  std::chrono::steady_clock::time_point next_reload{};         // the runner's
  std::chrono::steady_clock::time_point next_version_check{};  // the runner's

  // Senders: claimed messages in, results out (written by the runner's next pass).
  struct Result_ {
    NotificationRow row;
    notify::DeliveryResult result;
    bool rate_limited = false;
    std::int64_t at = 0;
  };
  std::deque<NotificationRow> outgoing;  // under mu
  std::vector<Result_> results;          // under mu
  std::vector<std::thread> senders;
  std::int64_t inflight = 0;    // under mu
  std::set<std::int64_t> held;  // under mu: claimed by this node, result not yet recorded

  // Token buckets per (person, contact method), this node's.
  std::mutex rate_mu;
  struct Bucket {
    double tokens = 0;
    std::int64_t at = 0;
  };
  std::unordered_map<std::string, Bucket> buckets;

  std::int64_t Now() const { return options.clock ? options.clock() : Time::Now().UnixNanos(); }

  std::shared_ptr<const PagingCatalog> Snapshot() const {
    std::lock_guard lock(catalog_mu);
    return catalog;
  }

  std::string PolicyOf(std::string_view service) const {
    std::lock_guard lock(catalog_mu);
    auto it = service_paging.find(service);
    return it == service_paging.end() ? std::string() : it->second.policy;
  }
  std::int64_t AckTimeoutOf(std::string_view service) const {
    std::lock_guard lock(catalog_mu);
    auto it = service_paging.find(service);
    return it == service_paging.end() ? 0 : it->second.ack_timeout_s;
  }

  Status Reload() {
    auto c = LoadCatalog(store);
    if (!c) return Fail(std::move(c.error()));
    auto services = store.Services();
    if (!services) return Fail(std::move(services.error()));
    std::map<std::string, ServicePaging, std::less<>> sp;
    bool runbooks = false;
    for (auto& s : *services) {
      if (!s.escalation_policy.empty() || s.ack_timeout_s > 0 || !s.runbooks.empty()) {
        runbooks = runbooks || !s.runbooks.empty();
        sp.emplace(s.id,
                   ServicePaging{s.escalation_policy, s.ack_timeout_s, std::move(s.runbooks)});
      }
    }
    std::lock_guard lock(catalog_mu);
    catalog = std::move(*c);
    service_paging = std::move(sp);
    any_runbooks = runbooks;
    return Ok();
  }

  // The service's runbooks, or nothing (no copy, no allocation) when it names none.
  std::optional<std::vector<std::string>> RunbooksOf(std::string_view service) const {
    if (!any_runbooks.load(std::memory_order_relaxed)) return std::nullopt;
    std::lock_guard lock(catalog_mu);
    auto it = service_paging.find(service);
    if (it == service_paging.end() || it->second.runbooks.empty()) return std::nullopt;
    return it->second.runbooks;
  }

  std::shared_ptr<const IncidentHook> Hook() const {
    std::lock_guard lock(hook_mu);
    return incident_hook;
  }

  // ---- decisions applied ----

  static TimelineRow Entry(std::int64_t seq, std::int64_t at, std::string kind, std::string body,
                           JsonObject metadata, JsonObject actor = {}) {
    if (actor.empty()) actor = JsonObject{{"type", "system"}, {"name", "opsorch pager"}};
    return TimelineRow{"",
                       IncidentId(seq),
                       at,
                       std::move(kind),
                       std::move(body),
                       std::move(actor),
                       std::move(metadata)};
  }

  // Fires the next level of `esc` (already holding the generation to use) and writes its effects.
  Status Fire(Tx& tx, EscalationRow& esc, const Policy& policy, std::string_view urgency,
              std::int64_t now, PagingCounts& counts) {
    auto cat = Snapshot();
    const std::int64_t now_s = now / kNs;
    const StepDecision d =
        FireNextLevel(policy, esc, now,
                      [&](const PolicyTarget& t, std::int64_t) { return cat->Resolve(t, now_s); });
    std::int64_t step = esc.steps;
    for (const FiredLevel& f : d.fired) {
      ++step;
      const auto& rule = policy.rules[static_cast<std::size_t>(f.level)];
      JsonArray targets, people;
      for (const auto& t : rule.targets) {
        targets.push_back(JsonObject{{"type", t.type}, {"id", t.id}});
      }
      for (const auto& p : f.people) people.push_back(JsonValue(p));
      JsonObject meta{{"level", f.level + 1}, {"loop", f.loop},   {"policy", policy.id},
                      {"targets", targets},   {"people", people}, {"generation", esc.generation}};
      if (f.people.empty()) {
        TimelineRow e = Entry(
            esc.incident_seq, now, "escalation_skipped",
            "Level " + std::to_string(f.level + 1) + ": nobody to page (nobody on call); moving on",
            std::move(meta));
        if (auto st = tx.AppendTimeline(e); !st) return st;
        ++counts.levels_skipped;
        continue;
      }
      std::string names;
      for (const auto& p : f.people) {
        if (!names.empty()) names += ", ";
        const Person* person = cat->FindPerson(p);
        names += person != nullptr && !person->name.empty() ? person->name : p;
      }
      TimelineRow e =
          Entry(esc.incident_seq, now, "escalated",
                "Level " + std::to_string(f.level + 1) + " paged " + names, std::move(meta));
      if (auto st = tx.AppendTimeline(e); !st) return st;
      ++counts.levels_paged;
      for (const auto& pid : f.people) {
        const Person* person = cat->FindPerson(pid);
        if (person == nullptr) continue;
        for (const PlannedMessage& m : PlanMessages(*person, urgency, now)) {
          NotificationRow n;
          n.idempotency_key =
              IdempotencyKey(esc.incident_seq, esc.generation, step, pid, m.rule, m.contact_method);
          n.kind = "page";
          n.incident_seq = esc.incident_seq;
          n.generation = esc.generation;
          n.level = f.level + 1;
          n.person_id = pid;
          n.contact_method = m.contact_method;
          n.channel = m.channel;
          n.urgency = std::string(urgency);
          n.status = "pending";
          n.due_at = m.due_at;
          n.created_at = n.updated_at = now;
          auto inserted = tx.InsertNotification(n);
          if (!inserted) return Fail(std::move(inserted.error()));
        }
      }
    }
    esc.steps = d.next.steps;
    esc.level = d.next.level;
    esc.loop = d.next.loop;
    esc.state = d.next.state;
    esc.next_at = d.next.next_at;
    esc.updated_at = now;
    if (d.exhausted && d.fired.empty()) {
      // Nothing fired: the caller decides what that means (manual escalation: a conflict).
    } else if (d.exhausted && std::all_of(d.fired.begin(), d.fired.end(),
                                          [](const FiredLevel& f) { return f.people.empty(); })) {
      TimelineRow e = Entry(esc.incident_seq, now, "escalation_exhausted",
                            "Nobody could be paged at any level of policy " + policy.id,
                            JsonObject{{"policy", policy.id}});
      if (auto st = tx.AppendTimeline(e); !st) return st;
      ++counts.unpaged;
    }
    if (esc.next_at != 0) {
      JobRow job;
      job.kind = "escalate";
      job.unique_key = "esc." + std::to_string(esc.incident_seq) + ".g" +
                       std::to_string(esc.generation) + ".s" + std::to_string(esc.steps);
      job.run_at = esc.next_at;
      job.incident_seq = esc.incident_seq;
      job.generation = esc.generation;
      if (auto st = tx.InsertJob(job); !st) return st;
    }
    return tx.PutEscalation(esc);
  }

  Status Start(Tx& tx, std::int64_t seq, std::string_view service, std::string_view change,
               std::int64_t now, PagingCounts& counts) {
    const std::string policy_id = PolicyOf(service);
    // A new incident of a service without a policy: nothing to start and nothing to restart
    // (the event path's common case costs no read).
    if (policy_id.empty() && change == "triggered") return Ok();
    auto existing = tx.GetEscalation(seq);
    if (!existing) return Fail(std::move(existing.error()));
    if (policy_id.empty() && !*existing) return Ok();
    auto cat = Snapshot();
    const Policy* policy = policy_id.empty() ? nullptr : cat->FindPolicy(policy_id);
    if (policy == nullptr) {
      if (policy_id.empty()) return Ok();
      // Said where the on-call engineer looks, not only in the log.
      log::Warn("paging: service " + std::string(service) + " names unknown policy " + policy_id +
                "; nobody is paged");
      TimelineRow e = Entry(
          seq, now, "escalation_missing",
          "Nobody was paged: the service's escalation policy " + policy_id + " does not exist",
          JsonObject{{"policy", policy_id}});
      if (auto st = tx.AppendTimeline(e); !st) return st;
      ++counts.unpaged;
      return Ok();
    }
    auto incident = tx.GetIncidentForUpdate(IncidentId(seq));
    if (!incident) return Fail(std::move(incident.error()));
    if (!*incident || (*incident)->status != "open") return Ok();
    EscalationRow esc = existing->value_or(EscalationRow{});
    esc.incident_seq = seq;
    esc.policy_id = policy->id;
    esc.snapshot = SnapshotOf(*policy);
    esc.generation += 1;
    esc.steps = esc.level = esc.loop = 0;
    esc.state = "active";
    esc.started_at = now;
    TimelineRow e = Entry(seq, now, "escalation_started",
                          std::string(change == "reopened" ? "Reopened: " : "") +
                              "Escalation policy " + policy->id + " started",
                          JsonObject{{"policy", policy->id}, {"generation", esc.generation}});
    if (auto st = tx.AppendTimeline(e); !st) return st;
    return Fire(tx, esc, *policy, (*incident)->urgency, now, counts);
  }

  Status Stop(Tx& tx, std::int64_t seq, std::string_view service, std::string_view state,
              std::int64_t now) {
    auto existing = tx.GetEscalation(seq);
    if (!existing) return Fail(std::move(existing.error()));
    if (!*existing) return Ok();
    EscalationRow esc = std::move(**existing);
    if (esc.state == state) return Ok();
    const bool was_running = esc.state == "active";
    esc.generation += 1;  // fences every job and message of the old generation
    esc.state = std::string(state);
    esc.next_at = 0;
    esc.updated_at = now;
    auto cancelled = tx.CancelNotifications(seq, now, state);
    if (!cancelled) return Fail(std::move(cancelled.error()));
    if (state == "acknowledged") {
      if (const std::int64_t timeout = AckTimeoutOf(service); timeout > 0) {
        JobRow job;
        job.kind = "unacknowledge";
        job.unique_key = "unack." + std::to_string(seq) + ".g" + std::to_string(esc.generation);
        job.run_at = now + timeout * kNs;
        job.incident_seq = seq;
        job.generation = esc.generation;
        job.payload = JsonObject{{"minutes", timeout / 60}};
        if (auto st = tx.InsertJob(job); !st) return st;
      }
    }
    if (was_running || *cancelled > 0) {
      TimelineRow e = Entry(seq, now, "escalation_stopped",
                            "Escalation stopped (" + std::string(state) + ")" +
                                (*cancelled > 0 ? "; " + std::to_string(*cancelled) +
                                                      " unsent notification(s) cancelled"
                                                : ""),
                            JsonObject{{"reason", std::string(state)}, {"cancelled", *cancelled}});
      if (auto st = tx.AppendTimeline(e); !st) return st;
    }
    return tx.PutEscalation(esc);
  }

  // ---- the runner's write ----

  struct Pass {
    std::vector<Result_> results;          // in: delivery results to record
    std::set<std::int64_t> mine;           // in: messages this node still holds (queued, sending)
    std::int64_t room = 0;                 // in: how many more this node may claim now
    std::vector<NotificationRow> claimed;  // out: leased to this node, to send
    bool full = false;                     // out: more is due now
    PagingCounts counts;                   // out: for /metrics once committed
    std::vector<JobRow> other_jobs;        // due jobs for options.extra
  };

  Status RunJobs(Tx& tx, std::int64_t now, Pass& pass) {
    auto jobs = tx.DueJobs(now, kBatch);
    if (!jobs) return Fail(std::move(jobs.error()));
    if (static_cast<std::int64_t>(jobs->size()) == kBatch) pass.full = true;
    for (const JobRow& job : *jobs) {
      if (auto st = tx.DeleteJob(job.id); !st) return st;
      if (job.kind != "escalate" && job.kind != "unacknowledge") {
        pass.other_jobs.push_back(job);
        continue;
      }
      // The incident first, then its escalation: the order every other writer locks them in
      // (an event, the API, an action link), so two nodes cannot deadlock on PostgreSQL.
      auto incident = tx.GetIncidentForUpdate(IncidentId(job.incident_seq));
      if (!incident) return Fail(std::move(incident.error()));
      if (!*incident) continue;
      auto esc = tx.GetEscalation(job.incident_seq);
      if (!esc) return Fail(std::move(esc.error()));
      // Fenced: acknowledged, resolved, re-triggered or escalated by hand since it was made.
      if (!*esc || (*esc)->generation != job.generation) continue;
      if (job.kind == "unacknowledge") {
        if ((*esc)->state != "acknowledged" || (*incident)->status != "acknowledged") continue;
        if (auto st = Unacknowledge(tx, **incident, job, now, pass.counts); !st) return st;
        continue;
      }
      if ((*esc)->state != "active" || (*incident)->status != "open") continue;
      auto policy = PolicyFromSnapshot((*esc)->snapshot);
      if (!policy) {
        log::Error("paging: incident " + IncidentId(job.incident_seq) + ": " +
                   policy.error().message);
        continue;
      }
      EscalationRow row = std::move(**esc);
      if (auto st = Fire(tx, row, *policy, (*incident)->urgency, now, pass.counts); !st) return st;
    }
    return Ok();
  }

  // The service's acknowledgement timeout ran out while the incident was still acknowledged:
  // it is open again, and its escalation starts over (PagerDuty's acknowledgement_timeout).
  Status Unacknowledge(Tx& tx, IncidentRow row, const JobRow& job, std::int64_t now,
                       PagingCounts& counts) {
    const std::string from_label = StatusLabelOf(row);
    row.status = "open";
    row.acknowledged_at = 0;
    row.updated_at = now;
    SetLabels(row, ParseStatusWord("open"), std::nullopt);
    if (auto st = tx.UpdateIncident(row); !st) return st;
    const JsonValue* m = job.payload.if_contains("minutes");
    const std::int64_t minutes = m != nullptr && m->is_int64() ? m->get_int64() : 0;
    TimelineRow e = Entry(job.incident_seq, now, "unacknowledged",
                          "Acknowledged " + std::to_string(minutes) +
                              " minutes ago and not resolved: open again, escalation restarts",
                          JsonObject{{"from", from_label}, {"to", "open"}, {"minutes", minutes}});
    if (auto st = tx.AppendTimeline(e); !st) return st;
    return Start(tx, row.seq, row.service_id, "reopened", now, counts);
  }

  Status TakeBackLeases(Tx& tx, std::int64_t now, const Pass& pass) {
    // Leases that end within half a lease: this node's own are renewed (before any node could
    // take them), others' are taken back once they have ended.
    auto expired = tx.ExpiredLeases(now + LeaseNs() / 2, kBatch);
    if (!expired) return Fail(std::move(expired.error()));
    for (NotificationRow n : *expired) {
      if (n.lease_owner == node_id && pass.mine.count(n.seq) > 0) {
        // Still in this node's queue or on its way: its lease is extended, not taken back (a
        // long queue must not send a message twice).
        n.lease_until = now + LeaseNs();
        n.updated_at = now;
        if (auto st = tx.UpdateNotification(n); !st) return st;
        continue;
      }
      if (n.lease_until >= now) continue;  // another node's, not ended yet
      n.lease_owner.clear();
      n.lease_until = 0;
      n.updated_at = now;
      if (Idempotent(n.channel)) {
        // The receiver drops a duplicate by its webhook-id: sending again is safe.
        n.status = "pending";
        n.due_at = now;
        n.detail = "its sender stopped mid-send; sending again with the same id";
      } else {
        n.status = "unknown";
        n.detail = "its sender stopped mid-send; not sent again (it may have arrived)";
        if (n.incident_seq != 0) {
          TimelineRow e = Entry(n.incident_seq, now, "notification_unknown",
                                "A " + n.channel + " notification to " + n.person_id +
                                    " may or may not have arrived; not sent again",
                                JsonObject{{"notification", n.id}, {"person", n.person_id}});
          if (auto st = tx.AppendTimeline(e); !st) return st;
        }
      }
      if (auto st = tx.UpdateNotification(n); !st) return st;
    }
    return Ok();
  }

  Status Record(Tx& tx, const Result_& r, std::int64_t now, PagingCounts& counts) {
    auto found = tx.GetNotificationForUpdate(r.row.seq);
    if (!found) return Fail(std::move(found.error()));
    // Taken back meanwhile (a lease that ran out): whoever holds it now decides.
    if (!*found || (*found)->status != "sending" || (*found)->lease_owner != node_id) return Ok();
    NotificationRow n = std::move(**found);
    n.lease_owner.clear();
    n.lease_until = 0;
    n.updated_at = now;
    n.detail = r.result.detail;
    std::string kind;
    if (r.result.status == kCancelledStatus) {
      n.status = "cancelled";
    } else if (r.rate_limited) {
      n.status = "pending";
      n.attempts = std::max<std::int64_t>(0, n.attempts - 1);
      n.due_at = now + r.result.retry_after_s * kNs;
    } else if (r.result.state == notify::DeliveryState::kSent) {
      n.status = "sent";
      n.sent_at = r.at;
      kind = "notified";
    } else if (r.result.state == notify::DeliveryState::kRetry &&
               n.attempts < options.max_attempts) {
      n.status = "pending";
      const std::int64_t backoff = std::max<std::int64_t>(
          r.result.retry_after_s, options.retry_base.count()
                                      << std::min<std::int64_t>(n.attempts - 1, 10));
      n.due_at = now + backoff * kNs;
    } else {
      n.status = "failed";
      kind = "notification_failed";
    }
    if (auto st = tx.UpdateNotification(n); !st) return st;
    if (!kind.empty()) counts.notifications.emplace_back(n.channel, n.status);
    if (!kind.empty() && n.incident_seq != 0) {
      auto cat = Snapshot();
      const Person* p = cat->FindPerson(n.person_id);
      const std::string who = p != nullptr && !p->name.empty() ? p->name : n.person_id;
      std::string body = kind == "notified" ? "Notified " + who + " by " + n.channel + " (" +
                                                  n.contact_method + ")"
                                            : "Could not notify " + who + " by " + n.channel +
                                                  " (" + n.contact_method + "): " + n.detail;
      TimelineRow e = Entry(n.incident_seq, now, kind, std::move(body),
                            JsonObject{{"notification", n.id},
                                       {"person", n.person_id},
                                       {"contactMethod", n.contact_method},
                                       {"channel", n.channel},
                                       {"level", n.level},
                                       {"attempts", n.attempts}});
      if (auto st = tx.AppendTimeline(e); !st) return st;
    }
    return Ok();
  }

  std::int64_t LeaseNs() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(options.lease).count();
  }

  Status PassWrite(Tx& tx, Pass& pass) {
    const std::int64_t now = Now();
    pass.claimed.clear();
    pass.full = false;
    pass.counts = PagingCounts{};
    for (const auto& r : pass.results) {
      if (auto st = Record(tx, r, now, pass.counts); !st) return st;
    }
    pass.other_jobs.clear();
    if (auto st = RunJobs(tx, now, pass); !st) return st;
    if (options.extra) {
      auto more = options.extra(tx, now, pass.other_jobs, pass.counts);
      if (!more) return Fail(std::move(more.error()));
      if (*more) pass.full = true;
    }
    if (auto st = TakeBackLeases(tx, now, pass); !st) return st;
    const std::int64_t limit = std::min(kBatch, pass.room);
    if (limit <= 0) return Ok();
    auto claimed = tx.ClaimNotifications(now, limit, node_id, now + LeaseNs());
    if (!claimed) return Fail(std::move(claimed.error()));
    if (static_cast<std::int64_t>(claimed->size()) == limit) pass.full = true;
    pass.claimed = std::move(*claimed);
    return Ok();
  }

  // A node holds at most this many claimed messages (queued or being sent) per sender thread:
  // more would wait in its queue while other nodes could send them. Fewer made the runner's
  // passes (which also fire the due escalation levels) wait on the senders: 32 per sender took
  // level 2 of bench/paging.sh's 100,000 incidents from 5,780 to 4,292 levels/s. Held messages
  // keep their lease (renewed), and a stopping node hands back those no sender started.
  static constexpr std::int64_t kHeldPerSender = 256;
  std::int64_t MaxHeld() const { return kHeldPerSender * std::max(1, options.senders); }

  Status RunPass(bool* full, bool* saturated = nullptr) {
    auto pass = std::make_shared<Pass>();
    {
      std::lock_guard lock(mu);
      pass->results.swap(results);
      pass->mine = held;
      pass->room = MaxHeld() - static_cast<std::int64_t>(held.size());
    }
    const Status status =
        Pager::SubmitAndWait(submit, [this, pass](Tx& tx) { return PassWrite(tx, *pass); });
    if (!status) {
      // Nothing was recorded: keep the results for the next pass.
      std::lock_guard lock(mu);
      results.insert(results.end(), pass->results.begin(), pass->results.end());
      return status;
    }
    Count(pass->counts);
    *full = pass->full;
    if (saturated != nullptr) *saturated = pass->room <= 0;
    {
      std::lock_guard lock(mu);
      for (const auto& r : pass->results) held.erase(r.row.seq);  // recorded: no longer ours
      for (const auto& n : pass->claimed) held.insert(n.seq);
    }
    if (pass->claimed.empty()) return Ok();
    if (!options.run_threads) {
      for (auto& n : pass->claimed) Deliver(std::move(n));
      return Ok();
    }
    {
      std::lock_guard lock(mu);
      for (auto& n : pass->claimed) outgoing.push_back(std::move(n));
    }
    cv.notify_all();
    return Ok();
  }

  void Count(const PagingCounts& c) {
    if (metrics == nullptr) return;
    if (c.levels_paged > 0) {
      metrics
          ->GetCounter("opsorch_paging_levels_total", "Escalation levels fired",
                       {{"result", "paged"}})
          .Inc(static_cast<std::uint64_t>(c.levels_paged));
    }
    if (c.levels_skipped > 0) {
      metrics
          ->GetCounter("opsorch_paging_levels_total", "Escalation levels fired",
                       {{"result", "skipped"}})
          .Inc(static_cast<std::uint64_t>(c.levels_skipped));
    }
    if (c.unpaged > 0) {
      metrics
          ->GetCounter("opsorch_paging_unpaged_total", "Escalations that found nobody to page", {})
          .Inc(static_cast<std::uint64_t>(c.unpaged));
    }
    for (const auto& [channel, status] : c.notifications) {
      metrics
          ->GetCounter("opsorch_paging_notifications_total", "Notifications by channel and outcome",
                       {{"channel", channel}, {"status", status}})
          .Inc();
    }
  }

  // Another node's admin change reaches this node's catalog within a few sweeps. Looked at
  // on every pass, woken or not (a node busy with new incidents is woken before each sweep),
  // reading the version at most once a sweep interval.
  void RefreshCatalog() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_version_check) return;
    next_version_check = now + options.sweep_interval;
    auto version = store.CatalogVersion();
    const bool changed = version && *version != Snapshot()->version;
    if (!changed && now < next_reload) return;
    next_reload = now + std::chrono::seconds(5);  // services (policies, runbooks) carry none
    if (auto st = Reload(); !st) log::Error("paging: catalog reload failed: " + st.error().message);
  }

  void RunnerLoop() {
    std::int64_t next_due = INT64_MAX;
    while (true) {
      bool woken_now = false;
      {
        std::unique_lock lock(mu);
        const auto sweep = std::chrono::steady_clock::now() + options.sweep_interval;
        auto until = sweep;
        if (next_due != INT64_MAX) {
          const std::int64_t wait_ns = next_due - Now();
          if (wait_ns <= 0) {
            until = std::chrono::steady_clock::now();
          } else if (wait_ns < options.sweep_interval.count() * 1'000'000) {
            until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(wait_ns);
          }
        }
        cv.wait_until(lock, until, [&] { return stopping || woken || !results.empty(); });
        if (stopping) return;
        woken_now = woken || !results.empty();
        woken = false;
      }
      // Another node's silences and windows reach this node even while it is busy (rate-limited
      // by the callee).
      if (options.on_sweep) options.on_sweep();
      RefreshCatalog();
      if (!woken_now) {
        // A sweep: work another node queued, a delay that came due, a lease to take back. An
        // idle sweep reads, it does not write.
        auto due = store.NextPagingWork();
        if (due && *due > Now()) {
          next_due = *due;
          continue;
        }
      }
      bool full = false, saturated = false;
      if (auto st = RunPass(&full, &saturated); !st) {
        log::Error("paging: runner pass failed: " + st.error().message);
        std::unique_lock lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping; });
        continue;
      }
      if (saturated) {
        // Holding all it may: wait for a sender to finish rather than write again at once.
        std::unique_lock lock(mu);
        cv.wait_for(lock, options.sweep_interval, [&] { return stopping || !results.empty(); });
        next_due = INT64_MAX;
        continue;
      }
      if (full) {
        std::lock_guard lock(mu);
        woken = true;
        next_due = INT64_MAX;
        continue;
      }
      auto due = store.NextPagingWork();
      next_due = due ? *due : INT64_MAX;
    }
  }

  void SenderLoop() {
    while (true) {
      NotificationRow n;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || !outgoing.empty(); });
        if (stopping) return;  // what is still queued is handed back by ~Pager
        n = std::move(outgoing.front());
        outgoing.pop_front();
        ++inflight;
      }
      Deliver(std::move(n));
      {
        std::lock_guard lock(mu);
        --inflight;
      }
    }
  }

  // On stop: results not yet recorded are recorded, and claimed messages no sender started are
  // handed back (pending, as if never claimed), so a restart sends them at once instead of
  // taking them for "may have been sent" when their lease runs out.
  void HandBack() {
    std::vector<Result_> done;
    std::vector<NotificationRow> unsent;
    {
      std::lock_guard lock(mu);
      done.swap(results);
      unsent.assign(outgoing.begin(), outgoing.end());
      outgoing.clear();
    }
    if (done.empty() && unsent.empty()) return;
    const Status st = Pager::SubmitAndWait(submit, [&](Tx& tx) -> Status {
      const std::int64_t now = Now();
      PagingCounts counts;  // not counted: the process is stopping
      for (const auto& r : done) {
        if (auto st = Record(tx, r, now, counts); !st) return st;
      }
      for (const auto& n : unsent) {
        auto row = tx.GetNotificationForUpdate(n.seq);
        if (!row) return Fail(std::move(row.error()));
        if (!*row || (*row)->status != "sending" || (*row)->lease_owner != node_id) continue;
        NotificationRow back = std::move(**row);
        back.status = "pending";
        back.attempts = std::max<std::int64_t>(0, back.attempts - 1);
        back.lease_owner.clear();
        back.lease_until = 0;
        back.updated_at = now;
        if (auto st = tx.UpdateNotification(back); !st) return st;
      }
      return Ok();
    });
    if (!st) log::Error("paging: handing back unsent messages failed: " + st.error().message);
  }

  // ---- delivery ----

  // Waits (in seconds) before the contact method may receive another message; 0: now.
  std::int64_t Throttle(const NotificationRow& n, std::int64_t now) {
    const Rate rate = RateFor(n.channel);
    std::lock_guard lock(rate_mu);
    if (buckets.size() > 100'000) buckets.clear();
    Bucket& b = buckets[n.person_id + '\n' + n.contact_method];
    if (b.at == 0) b = Bucket{rate.burst, now};
    b.tokens =
        std::min(rate.burst, b.tokens + static_cast<double>(now - b.at) / kNs * rate.per_second);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return std::max<std::int64_t>(1, static_cast<std::int64_t>((1 - b.tokens) / rate.per_second));
  }

  void Deliver(NotificationRow n) {
    Result_ out;
    out.row = n;
    const std::int64_t now = Now();
    if (const std::int64_t wait = Throttle(n, now); wait > 0) {
      out.rate_limited = true;
      out.result.state = notify::DeliveryState::kRetry;
      out.result.retry_after_s = wait;
      out.result.detail = "rate limited: this contact method had too many messages";
    } else {
      out.result = Send(n);
    }
    out.at = Now();
    {
      std::lock_guard lock(mu);
      results.push_back(std::move(out));
      woken = true;
    }
    cv.notify_all();
  }

  notify::Transport* TransportFor(std::string_view channel, std::string* why) {
    if (channel == "webhook") return webhook.get();
    if (channel == "slack") return slack.get();
    if (channel == "email") {
      if (smtp == nullptr) *why = smtp_problem;
      return smtp.get();
    }
    *why = "no " + std::string(channel) +
           " gateway is configured (sms and voice go through a messaging plugin)";
    return nullptr;
  }

  notify::DeliveryResult Failed(std::string why) {
    notify::DeliveryResult r;
    r.state = notify::DeliveryState::kFailed;
    r.detail = std::move(why);
    return r;
  }

  notify::DeliveryResult Send(const NotificationRow& n) {
    auto cat = Snapshot();
    const Person* person = cat->FindPerson(n.person_id);
    if (person == nullptr) return Failed("the person no longer exists");
    const ContactMethod* cm = person->Method(n.contact_method);
    if (cm == nullptr || cm->type != n.channel) return Failed("the contact method was removed");
    std::string why;
    notify::Transport* t = TransportFor(n.channel, &why);
    if (t == nullptr) return Failed(why);
    std::optional<IncidentRow> incident;
    if (n.incident_seq != 0) {
      auto found = store.GetIncident(IncidentId(n.incident_seq));
      if (!found) {
        notify::DeliveryResult r;
        r.state = notify::DeliveryState::kRetry;
        r.detail = "could not read the incident";
        return r;
      }
      incident = std::move(*found);
      if (!incident) return Failed("the incident no longer exists");
      if (incident->status != "open") {
        // Acknowledged or resolved after this message was claimed: not sent.
        notify::DeliveryResult r = Failed("not sent: the incident is " + incident->status);
        r.status = kCancelledStatus;
        return r;
      }
    }
    notify::Delivery d = Compose(n, *person, *cm, incident ? &*incident : nullptr);
    return t->Deliver(d);
  }

  // The webhook's JSON: the event, the OpsOrch incident, the person, the message, its links.
  std::string WebhookBody(const NotificationRow& n, const Person& person,
                          const IncidentRow* incident, const std::string& ack,
                          const std::string& resolve, const std::string& escalate) const {
    std::string body = "{\"event\":";
    AppendJsonString(body, incident != nullptr ? "incident.page" : "test");
    body += ",\"incident\":";
    body += incident != nullptr ? IncidentJson(*incident) : "null";
    body += ",\"person\":{\"id\":";
    AppendJsonString(body, person.id);
    body += ",\"name\":";
    AppendJsonString(body, person.name);
    body += "},\"notification\":{\"id\":";
    AppendJsonString(body, n.id);
    body += ",\"level\":" + std::to_string(n.level) + ",\"urgency\":";
    AppendJsonString(body, n.urgency);
    body += "},\"actions\":";
    if (incident != nullptr) {
      body += "{\"acknowledge\":";
      AppendJsonString(body, ack);
      body += ",\"resolve\":";
      AppendJsonString(body, resolve);
      body += ",\"escalate\":";
      AppendJsonString(body, escalate);
      body += "}";
    } else {
      body += "{}";
    }
    body += ",\"timestamp\":";
    AppendJsonString(body, FormatRfc3339Nano(Time::FromUnixNanos(Now())));
    body += "}";
    return body;
  }

  notify::Delivery Compose(const NotificationRow& n, const Person& person, const ContactMethod& cm,
                           const IncidentRow* incident) {
    notify::Delivery d;
    d.id = DeliveryId(n);
    d.address = cm.address;
    d.secret = cm.secret;
    const std::int64_t expires =
        Now() / kNs + std::chrono::duration_cast<std::chrono::seconds>(options.link_ttl).count();
    std::string ack, resolve, escalate;
    if (incident != nullptr) {
      ack = Link(n, "acknowledge", expires);
      resolve = Link(n, "resolve", expires);
      escalate = Link(n, "escalate", expires);
    }
    const std::string title = incident != nullptr ? incident->title : "Test notification";
    const std::string id = incident != nullptr ? incident->id : "test";
    const std::string severity = incident != nullptr ? incident->severity : "info";
    // One line: a title may hold line breaks (Alertmanager annotations), which a mail header
    // may not.
    d.subject =
        OneLine(incident != nullptr ? "[opsorch] " + severity + ": " + title + " (" + id + ")"
                                    : "[opsorch] Test notification for " + person.name,
                200);
    d.text = incident != nullptr ? "Incident " + id + " on service " + incident->service_id +
                                       " needs you.\n\n" + title + "\nSeverity: " + severity +
                                       ", urgency " + n.urgency + ", escalation level " +
                                       std::to_string(n.level) + ".\n\nAcknowledge: " + ack +
                                       "\nResolve: " + resolve + "\nEscalate: " + escalate + "\n"
                                 : "This is a test notification from opsorch to " + person.name +
                                       " (" + cm.id + "). Nothing is wrong.\n";
    // Each channel gets only its own parts (this runs once per message).
    if (incident != nullptr && cm.type == "email") {
      std::string html = "<p>Incident <b>" + HtmlEscape(id) + "</b> on service " +
                         HtmlEscape(incident->service_id) + " needs you.</p><p>" +
                         HtmlEscape(title) + "<br>Severity: " + HtmlEscape(severity) +
                         "</p><p><a href=\"" + HtmlEscape(ack) + "\">Acknowledge</a> · <a href=\"" +
                         HtmlEscape(resolve) + "\">Resolve</a> · <a href=\"" +
                         HtmlEscape(escalate) + "\">Escalate</a></p>";
      d.html = std::move(html);
    }
    if (cm.type == "webhook")
      d.json_body = WebhookBody(n, person, incident, ack, resolve, escalate);
    if (incident != nullptr && cm.type == "slack") {
      d.slack_blocks = JsonArray{
          JsonObject{
              {"type", "header"},
              {"text", JsonObject{{"type", "plain_text"},
                                  {"text", severity + ": " + title}}}},  // cut by the transport
          JsonObject{
              {"type", "section"},
              {"text", JsonObject{{"type", "mrkdwn"},
                                  {"text", "Incident *" + id + "* on service " +
                                               incident->service_id + " (urgency " + n.urgency +
                                               ", level " + std::to_string(n.level) + ")"}}}},
          JsonObject{
              {"type", "section"},
              {"text", JsonObject{{"type", "mrkdwn"},
                                  {"text", "<" + ack + "|Acknowledge> · <" + resolve +
                                               "|Resolve> · <" + escalate + "|Escalate>"}}}}};
    }
    return d;
  }

  // ---- action links ----

  std::string Link(const NotificationRow& n, std::string_view action, std::int64_t expires) const {
    std::string base = options.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/actions/" + Token(n, action, expires);
  }

  std::string Token(const NotificationRow& n, std::string_view action, std::int64_t expires) const {
    const std::string payload = "1\n" + std::to_string(n.seq) + "\n" +
                                std::to_string(n.incident_seq) + "\n" + n.person_id + "\n" +
                                std::string(action) + "\n" + std::to_string(expires);
    return Base64Url(payload) + "." + Base64Url(HmacSha256(link_key, payload));
  }

  Result<LinkClaims> Verify(std::string_view token) const {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos) return Fail(errc::kForbidden, "this link is not valid");
    auto payload = FromBase64Url(token.substr(0, dot));
    auto mac = FromBase64Url(token.substr(dot + 1));
    if (!payload || !mac || !ConstantTimeEquals(*mac, HmacSha256(link_key, *payload))) {
      return Fail(errc::kForbidden, "this link is not valid");
    }
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= payload->size(); ++i) {
      if (i == payload->size() || (*payload)[i] == '\n') {
        parts.push_back(payload->substr(start, i - start));
        start = i + 1;
      }
    }
    if (parts.size() != 6 || parts[0] != "1")
      return Fail(errc::kForbidden, "this link is not valid");
    LinkClaims c;
    const auto number = [](const std::string& text, std::int64_t& out) {
      auto r = std::from_chars(text.data(), text.data() + text.size(), out);
      return r.ec == std::errc() && r.ptr == text.data() + text.size();
    };
    if (!number(parts[1], c.notification_seq) || !number(parts[2], c.incident_seq) ||
        !number(parts[5], c.expires_s)) {
      return Fail(errc::kForbidden, "this link is not valid");
    }
    c.person = parts[3];
    c.action = parts[4];
    if (c.action != "acknowledge" && c.action != "resolve" && c.action != "escalate") {
      return Fail(errc::kForbidden, "this link is not valid");
    }
    if (Now() / kNs >= c.expires_s) return Fail(errc::kGone, "this link has expired");
    return c;
  }
};

Pager::Pager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Pager>> Pager::Create(Store& store, SubmitFn submit, PagerOptions options,
                                             metrics::Registry* metrics) {
  auto impl = std::unique_ptr<Impl>(new Impl{store, std::move(submit), std::move(options)});
  impl->metrics = metrics;
  unsigned char id[8];
  randombytes_buf(id, sizeof id);
  impl->node_id = "node-" + Hex(id, sizeof id);
  unsigned char key[32];
  randombytes_buf(key, sizeof key);
  auto shared = store.SharedSetting("paging.action_link_key", Hex(key, sizeof key));
  if (!shared) return Fail(std::move(shared.error()));
  impl->link_key = std::move(*shared);
  if (auto st = impl->Reload(); !st) return Fail(std::move(st.error()));
  if (!impl->options.http) {
    auto http = net::HttpClient::Create();
    if (!http) return Fail(std::move(http.error()));
    impl->options.http = std::shared_ptr<net::HttpClient>(std::move(*http));
  }
  notify::TransportOptions t;
  t.http = impl->options.http;
  t.allow_nets = impl->options.allow_nets;
  t.timeout = impl->options.send_timeout;
  t.abort = &impl->abort;
  auto webhook = notify::MakeWebhookTransport(t);
  if (!webhook) return Fail(std::move(webhook.error()));
  impl->webhook = std::move(*webhook);
  auto slack = notify::MakeSlackTransport(t);
  if (!slack) return Fail(std::move(slack.error()));
  impl->slack = std::move(*slack);
  if (impl->options.smtp_url.empty()) {
    impl->smtp_problem = "no SMTP server is configured (OPSORCH_SMTP_URL)";
  } else {
    t.smtp_url = impl->options.smtp_url;
    t.smtp_from = impl->options.smtp_from;
    t.smtp_username = impl->options.smtp_username;
    t.smtp_password = impl->options.smtp_password;
    t.smtp_require_tls = impl->options.smtp_require_tls;
    auto smtp = notify::MakeSmtpTransport(t);
    if (!smtp) return Fail(std::move(smtp.error()));
    impl->smtp = std::move(*smtp);
  }
  Impl* raw = impl.get();
  if (impl->options.run_threads) {
    impl->runner = std::thread([raw] { raw->RunnerLoop(); });
    for (int i = 0; i < std::max(1, impl->options.senders); ++i) {
      impl->senders.emplace_back([raw] { raw->SenderLoop(); });
    }
  }
  return std::unique_ptr<Pager>(new Pager(std::move(impl)));
}

Pager::~Pager() { Stop(); }

Status Pager::SubmitAndWait(const SubmitFn& submit, std::function<Status(Tx&)> write) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  Status result = Ok();
  submit(std::move(write), [&](Status st) {
    std::lock_guard lock(m);
    result = std::move(st);
    done = true;
    cv.notify_one();
  });
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
  return result;
}

void Pager::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->abort = true;
  impl_->cv.notify_all();
  if (impl_->runner.joinable()) impl_->runner.join();
  for (auto& t : impl_->senders) t.join();
  impl_->HandBack();
}

std::int64_t Pager::Now() const { return impl_->Now(); }

std::shared_ptr<const PagingCatalog> Pager::Catalog() const { return impl_->Snapshot(); }

Status Pager::ReloadCatalog() { return impl_->Reload(); }

PagingCounts& PagingCounts::operator+=(const PagingCounts& o) {
  levels_paged += o.levels_paged;
  levels_skipped += o.levels_skipped;
  unpaged += o.unpaged;
  notifications.insert(notifications.end(), o.notifications.begin(), o.notifications.end());
  return *this;
}

void Pager::Count(const PagingCounts& counts) { impl_->Count(counts); }

Status Pager::OnIncidentChange(Tx& tx, std::string_view incident_id, std::string_view service_id,
                               std::string_view change, std::int64_t now, PagingCounts* counts) {
  PagingCounts local;
  PagingCounts& c = counts != nullptr ? *counts : local;
  c = PagingCounts{};
  const std::int64_t seq = SeqOf(incident_id, "inc-");
  if (seq == 0) return Ok();
  if (change == "triggered" || change == "reopened") {
    return impl_->Start(tx, seq, service_id, change, now, c);
  }
  if (change == "acknowledged" || change == "resolved") {
    return impl_->Stop(tx, seq, service_id, change, now);
  }
  return Ok();
}

Status Pager::OnIncidentCreated(Tx& tx, std::string_view incident_id, std::string_view service_id,
                                std::int64_t now) {
  auto runbooks = impl_->RunbooksOf(service_id);
  if (!runbooks) return Ok();  // nearly every service: nothing read, nothing copied
  const auto hook = impl_->Hook();
  if (!hook) return Ok();  // nobody listens (no orchestration provider)
  return (*hook)(tx, IncidentTriggered{std::string(incident_id), std::string(service_id),
                                       std::move(*runbooks), now});
}

void Pager::SetIncidentHook(IncidentHook hook) {
  auto shared = hook ? std::make_shared<const IncidentHook>(std::move(hook)) : nullptr;
  std::lock_guard lock(impl_->hook_mu);
  impl_->incident_hook = std::move(shared);
}

Status Pager::EscalateNow(Tx& tx, std::string_view incident_id, const JsonObject& actor,
                          std::int64_t now, PagingCounts* counts) {
  PagingCounts local;
  PagingCounts& c = counts != nullptr ? *counts : local;
  c = PagingCounts{};
  const std::int64_t seq = SeqOf(incident_id, "inc-");
  auto incident = tx.GetIncidentForUpdate(incident_id);
  if (!incident) return Fail(std::move(incident.error()));
  if (!*incident)
    return Fail(errc::kNotFound, "incident " + std::string(incident_id) + " not found");
  if ((*incident)->status == "resolved") {
    return Fail(errc::kConflict, "incident " + std::string(incident_id) + " is resolved");
  }
  auto esc = tx.GetEscalation(seq);
  if (!esc) return Fail(std::move(esc.error()));
  if (!*esc) {
    return Fail(errc::kConflict, "incident " + std::string(incident_id) +
                                     " has no escalation (its service names no escalation policy)");
  }
  auto policy = PolicyFromSnapshot((*esc)->snapshot);
  if (!policy) return Fail(std::move(policy.error()));
  EscalationRow row = std::move(**esc);
  if (row.state == "exhausted" &&
      row.level + 1 >= static_cast<std::int64_t>(policy->rules.size()) &&
      row.loop >= policy->num_loops) {
    return Fail(errc::kConflict, "incident " + std::string(incident_id) +
                                     " is already at the last level of its escalation policy");
  }
  row.generation += 1;  // the pending step of the old generation must not fire as well
  row.state = "active";
  TimelineRow e = Impl::Entry(seq, now, "escalated_manually", "Escalated by hand to the next level",
                              JsonObject{{"generation", row.generation}}, actor);
  if (auto st = tx.AppendTimeline(e); !st) return st;
  const std::int64_t steps = row.steps;
  if (auto st = impl_->Fire(tx, row, *policy, (*incident)->urgency, now, c); !st) return st;
  if (row.steps == steps) {
    return Fail(errc::kConflict, "incident " + std::string(incident_id) +
                                     " is already at the last level of its escalation policy");
  }
  return Ok();
}

Status Pager::Reassign(Tx& tx, std::string_view incident_id, const ReassignTo& to,
                       const JsonObject& actor, std::int64_t now, PagingCounts* counts) {
  PagingCounts local;
  PagingCounts& c = counts != nullptr ? *counts : local;
  c = PagingCounts{};
  const std::int64_t seq = SeqOf(incident_id, "inc-");
  auto cat = Catalog();
  Policy policy;
  std::string target_text;
  JsonObject target;
  if (!to.policy_id.empty()) {
    const Policy* p = cat->FindPolicy(to.policy_id);
    if (p == nullptr) {
      return Fail(errc::kBadRequest, "escalationPolicy: no escalation policy " + to.policy_id);
    }
    policy = *p;
    target_text = "escalation policy " + p->id;
    target = JsonObject{{"escalationPolicy", p->id}};
  } else {
    PolicyRule rule;
    rule.delay_minutes = 30;
    JsonArray ids;
    for (const std::string& u : to.users) {
      const Person* person = cat->FindPerson(u);
      if (person == nullptr) return Fail(errc::kBadRequest, "users: no person " + u);
      rule.targets.push_back(PolicyTarget{"user", u});
      ids.push_back(JsonValue(u));
      if (!target_text.empty()) target_text += ", ";
      target_text += person->name.empty() ? u : person->name;
    }
    policy.id = "(reassigned)";
    policy.name = "Reassigned by hand";
    policy.rules.push_back(std::move(rule));
    target = JsonObject{{"users", std::move(ids)}};
  }
  // The incident first, then its escalation: the order every writer locks them in.
  auto incident = tx.GetIncidentForUpdate(incident_id);
  if (!incident) return Fail(std::move(incident.error()));
  if (!*incident)
    return Fail(errc::kNotFound, "incident " + std::string(incident_id) + " not found");
  IncidentRow row = std::move(**incident);
  if (row.status == "resolved") {
    return Fail(errc::kConflict, "incident " + std::string(incident_id) + " is resolved");
  }
  auto existing = tx.GetEscalation(seq);
  if (!existing) return Fail(std::move(existing.error()));
  const bool was_acknowledged = row.status == "acknowledged";
  if (was_acknowledged) {
    row.status = "open";
    row.acknowledged_at = 0;
    row.updated_at = now;
    SetLabels(row, ParseStatusWord("open"), std::nullopt);
    if (auto st = tx.UpdateIncident(row); !st) return st;
  }
  auto cancelled = tx.CancelNotifications(seq, now, "reassigned");
  if (!cancelled) return Fail(std::move(cancelled.error()));
  EscalationRow esc = existing->value_or(EscalationRow{});
  esc.incident_seq = seq;
  esc.policy_id = policy.id;
  esc.snapshot = SnapshotOf(policy);
  esc.generation += 1;  // fences the old assignees' pending steps
  esc.steps = esc.level = esc.loop = 0;
  esc.state = "active";
  esc.started_at = now;
  target["generation"] = esc.generation;
  if (was_acknowledged) target["from"] = "acknowledged";
  TimelineRow e = Impl::Entry(
      seq, now, "reassigned",
      "Reassigned to " + target_text + (was_acknowledged ? " (was acknowledged: open again)" : ""),
      std::move(target), actor);
  if (auto st = tx.AppendTimeline(e); !st) return st;
  return impl_->Fire(tx, esc, policy, row.urgency, now, c);
}

void Pager::Wake() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->woken = true;
  }
  impl_->cv.notify_all();
}

Status Pager::RunOnce() {
  bool full = true;
  Status st = Ok();
  // Without threads (tests): until nothing more is due now, results included.
  for (int i = 0; i < 100 && full; ++i) {
    full = false;
    st = impl_->RunPass(&full);
    if (!st) return st;
    std::lock_guard lock(impl_->mu);
    if (!impl_->results.empty()) full = true;
  }
  return st;
}

std::string Pager::ActionLink(const NotificationRow& n, std::string_view action,
                              std::int64_t expires_s) const {
  return impl_->Link(n, action, expires_s);
}

Result<LinkClaims> Pager::VerifyLink(std::string_view token) const { return impl_->Verify(token); }

std::string Pager::CalendarToken(std::string_view kind, std::string_view id) const {
  const std::string payload = "cal\n" + std::string(kind) + "\n" + std::string(id);
  return Base64Url(payload) + "." + Base64Url(HmacSha256(impl_->link_key, payload));
}

Result<std::pair<std::string, std::string>> Pager::VerifyCalendarToken(
    std::string_view token) const {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return Fail(errc::kForbidden, "this link is not valid");
  auto payload = FromBase64Url(token.substr(0, dot));
  auto mac = FromBase64Url(token.substr(dot + 1));
  if (!payload || !mac || !ConstantTimeEquals(*mac, HmacSha256(impl_->link_key, *payload)) ||
      !payload->starts_with("cal\n")) {
    return Fail(errc::kForbidden, "this link is not valid");
  }
  const std::string rest = payload->substr(4);
  const auto nl = rest.find('\n');
  if (nl == std::string::npos) return Fail(errc::kForbidden, "this link is not valid");
  return std::pair<std::string, std::string>(rest.substr(0, nl), rest.substr(nl + 1));
}

std::vector<TestOutcome> Pager::SendTest(const Person& person) {
  std::vector<TestOutcome> out;
  for (const auto& cm : person.contact_methods) {
    NotificationRow n;
    n.kind = "test";
    n.person_id = person.id;
    n.contact_method = cm.id;
    n.channel = cm.type;
    n.urgency = "low";
    n.idempotency_key = "test." + notify::NewDeliveryId();
    std::string why;
    notify::DeliveryResult r;
    if (notify::Transport* t = impl_->TransportFor(cm.type, &why); t == nullptr) {
      r = impl_->Failed(why);
    } else {
      r = t->Deliver(impl_->Compose(n, person, cm, nullptr));
    }
    out.push_back(TestOutcome{cm.id, cm.type, std::string(notify::Name(r.state)), r.detail});
  }
  return out;
}

}  // namespace opsorch::engine
