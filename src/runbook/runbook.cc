#include <algorithm>
#include <map>
#include <set>

#include <opsorch/common/error.h>
#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/runbook/runbook.h>

namespace opsorch::runbook {
namespace {

constexpr std::size_t kMaxText = 1024;
constexpr std::chrono::hours kMaxRetryWait{1};

std::optional<StepType> ParseType(std::string_view s) {
  if (s == "manual") return StepType::kManual;
  if (s == "invoke") return StepType::kInvoke;
  if (s == "observe") return StepType::kObserve;
  if (s == "verify") return StepType::kVerify;
  if (s == "record") return StepType::kRecord;
  return std::nullopt;
}

// A cycle's members in order, for the error ("a → b → a"), from a step Kahn's algorithm left.
std::string DescribeCycle(const Runbook& rb, const std::map<std::string, std::size_t>& index,
                          std::size_t start) {
  std::vector<std::size_t> path;
  std::vector<int> seen(rb.steps.size(), -1);
  std::size_t at = start;
  // Follow dependencies that are themselves left over until a step repeats: every left-over
  // step has one (else it would have been ordered), so this ends within steps.size() moves.
  while (seen[at] < 0) {
    seen[at] = static_cast<int>(path.size());
    path.push_back(at);
    std::size_t next = at;
    for (const std::string& dep : rb.steps[at].depends_on) {
      const std::size_t d = index.at(dep);
      if (std::find(rb.order.begin(), rb.order.end(), d) == rb.order.end()) {
        next = d;
        break;
      }
    }
    at = next;
  }
  std::string out;
  for (std::size_t i = static_cast<std::size_t>(seen[at]); i < path.size(); ++i) {
    out += rb.steps[path[i]].id + " → ";
  }
  return out + rb.steps[at].id;
}

bool Done(const Step& s, const StepState& st) {
  return st.status == StepStatus::kSucceeded ||
         (st.status == StepStatus::kFailed && s.on_failure == OnFailure::kContinue);
}

// A failure that ends the run (after the attempts still going finish).
bool Stops(const Step& s, const StepState& st) {
  return st.status == StepStatus::kFailed && s.on_failure != OnFailure::kContinue;
}

bool Terminal(StepStatus s) {
  return s == StepStatus::kSucceeded || s == StepStatus::kFailed || s == StepStatus::kSkipped;
}

RunStatus StatusOf(const Runbook& rb, const RunState& state) {
  if (state.cancelled) return RunStatus::kCancelled;
  bool stopped = false, all_terminal = true, moving = false, waiting = false;
  for (std::size_t i = 0; i < rb.steps.size(); ++i) {
    const StepState& st = state.steps[i];
    stopped = stopped || Stops(rb.steps[i], st);
    all_terminal = all_terminal && Terminal(st.status);
    moving = moving || st.status == StepStatus::kRunning ||
             (st.status == StepStatus::kPending && st.next_attempt.has_value());
    waiting = waiting || st.status == StepStatus::kBlocked;
  }
  if (all_terminal) return stopped ? RunStatus::kFailed : RunStatus::kCompleted;
  if (moving || stopped) return RunStatus::kRunning;
  // Nothing runs and nothing is due: what is left waits for a person.
  return waiting ? RunStatus::kBlocked : RunStatus::kRunning;
}

void Earliest(std::optional<TimePoint>& at, TimePoint t) {
  if (!at || t < *at) at = t;
}

Status Conflict(const Runbook& rb, std::size_t step, std::string_view what) {
  return Fail(errc::kConflict, "step " + rb.steps[step].id + " " + std::string(what));
}

}  // namespace

std::string_view StepTypeName(StepType t) {
  switch (t) {
    case StepType::kManual:
      return "manual";
    case StepType::kInvoke:
      return "invoke";
    case StepType::kObserve:
      return "observe";
    case StepType::kVerify:
      return "verify";
    case StepType::kRecord:
      return "record";
  }
  return "manual";
}

std::string_view StepStatusName(StepStatus s) {
  switch (s) {
    case StepStatus::kPending:
      return "pending";
    case StepStatus::kRunning:
      return "running";
    case StepStatus::kBlocked:
      return "blocked";
    case StepStatus::kSucceeded:
      return "succeeded";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
  }
  return "pending";
}

std::string_view RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kBlocked:
      return "blocked";
    case RunStatus::kCompleted:
      return "completed";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCancelled:
      return "cancelled";
  }
  return "running";
}

Result<Runbook> ParseRunbook(std::string_view text) {
  auto doc = ParseJson(text);
  if (!doc) return Fail(doc.error());
  return DecodeRunbook(*doc);
}

Result<Runbook> DecodeRunbook(const JsonValue& doc) {
  if (!doc.is_object()) return Fail(errc::kBadRequest, "a runbook must be a JSON object");
  Status status;
  const FieldReader r{doc.get_object(), "", &status};
  r.OnlyKnown({"id", "title", "description", "version", "steps", "comment"});
  Runbook rb;
  rb.id = r.Str("id", true);
  if (status && !IsPlainName(rb.id)) r.Error("id", "must be 1-64 characters of [A-Za-z0-9._-]");
  rb.title = r.Str("title", true);
  rb.description = r.Str("description");
  rb.version = r.Str("version");
  if (status && (rb.title.size() > kMaxText || rb.description.size() > 16 * kMaxText ||
                 rb.version.size() > 64)) {
    r.Error(rb.title.size() > kMaxText ? "title"
            : rb.version.size() > 64   ? "version"
                                       : "description",
            "is too long");
  }
  const JsonArray* steps = r.Array("steps");
  if (status && (steps == nullptr || steps->empty() || steps->size() > kMaxSteps)) {
    r.Error("steps", "must be an array of 1 to " + std::to_string(kMaxSteps) + " steps");
  }
  if (!status) return Fail(std::move(status.error()));

  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < steps->size() && status; ++i) {
    const std::string at = "steps[" + std::to_string(i) + "]";
    if (!(*steps)[i].is_object()) {
      status = Fail(errc::kBadRequest, at + ": must be an object");
      break;
    }
    const FieldReader s{(*steps)[i].get_object(), at, &status};
    s.OnlyKnown({"id", "title", "description", "type", "dependsOn", "onFailure", "retries",
                 "retryDelay", "timeout", "interval", "with", "comment"});
    Step step;
    step.id = s.Str("id", true);
    if (status && !IsPlainName(step.id)) s.Error("id", "must be 1-64 characters of [A-Za-z0-9._-]");
    if (status && !index.emplace(step.id, i).second) {
      s.Error("id", "\"" + step.id + "\" is the id of another step");
    }
    step.title = s.Str("title", true);
    if (status && step.title.size() > kMaxText) s.Error("title", "is too long");
    step.description = s.Str("description");
    if (status && step.description.size() > 4 * kMaxText) s.Error("description", "is too long");
    const std::string type = s.Str("type", true);
    if (status) {
      if (auto t = ParseType(type)) {
        step.type = *t;
      } else {
        s.Error("type", "must be one of manual, invoke, observe, verify, record");
      }
    }
    if (const JsonArray* deps = s.Array("dependsOn")) {
      if (deps->size() > kMaxDependencies) {
        s.Error("dependsOn", "must list at most " + std::to_string(kMaxDependencies) + " steps");
      }
      for (std::size_t k = 0; k < deps->size() && status; ++k) {
        const std::string dat = "dependsOn[" + std::to_string(k) + "]";
        if (!(*deps)[k].is_string() || !IsPlainName((*deps)[k].get_string())) {
          s.Error(dat, "must be a step id");
          break;
        }
        std::string dep((*deps)[k].get_string());
        if (dep == step.id) s.Error(dat, "a step cannot depend on itself");
        if (std::find(step.depends_on.begin(), step.depends_on.end(), dep) !=
            step.depends_on.end()) {
          s.Error(dat, "\"" + dep + "\" is listed twice");
        }
        step.depends_on.push_back(std::move(dep));
      }
    }
    const std::string on_failure = s.Str("onFailure");
    if (on_failure.empty() || on_failure == "stop") {
      step.on_failure = OnFailure::kStop;
    } else if (on_failure == "continue") {
      step.on_failure = OnFailure::kContinue;
    } else if (on_failure == "retry") {
      step.on_failure = OnFailure::kRetry;
    } else if (status) {
      s.Error("onFailure", "must be stop, continue or retry");
    }
    const JsonValue* retries = s.obj.if_contains("retries");
    if (step.on_failure == OnFailure::kRetry) {
      if (retries == nullptr || !retries->is_int64() || retries->get_int64() < 1 ||
          retries->get_int64() > 10) {
        s.Error("retries", "must be an integer from 1 to 10 with \"onFailure\": \"retry\"");
      } else {
        step.retries = static_cast<int>(retries->get_int64());
      }
    } else if (retries != nullptr) {
      s.Error("retries", "is only for \"onFailure\": \"retry\"");
    }
    step.retry_delay = s.Duration("retryDelay", step.retry_delay);
    if (status &&
        (step.retry_delay < std::chrono::milliseconds(100) || step.retry_delay > kMaxRetryWait)) {
      s.Error("retryDelay", "must be from 100ms to 1h");
    }
    step.timeout = s.Duration("timeout", step.timeout);
    if (status && step.timeout > std::chrono::hours(24)) s.Error("timeout", "must be at most 24h");
    if (status && step.type == StepType::kManual && step.timeout.count() != 0) {
      s.Error("timeout", "manual steps wait for a person: no timeout");
    }
    if (status && step.timeout.count() == 0 && step.type != StepType::kManual) {
      step.timeout = step.type == StepType::kInvoke   ? std::chrono::minutes(10)
                     : step.type == StepType::kRecord ? std::chrono::minutes(1)
                                                      : std::chrono::minutes(5);
    }
    const bool checks = step.type == StepType::kObserve || step.type == StepType::kVerify;
    if (s.obj.contains("interval") && status && !checks) {
      s.Error("interval", "is only for observe and verify steps");
    }
    step.interval = s.Duration("interval", step.interval);
    if (status &&
        (step.interval < std::chrono::milliseconds(100) || step.interval > std::chrono::hours(1))) {
      s.Error("interval", "must be from 100ms to 1h");
    }
    if (status && step.type == StepType::kManual && step.on_failure == OnFailure::kRetry) {
      s.Error("onFailure", "manual steps are completed by a person: they cannot be retried");
    }
    if (const JsonObject* with = s.Object("with")) step.with = *with;
    rb.steps.push_back(std::move(step));
  }
  if (!status) return Fail(std::move(status.error()));

  for (std::size_t i = 0; i < rb.steps.size(); ++i) {
    for (std::size_t k = 0; k < rb.steps[i].depends_on.size(); ++k) {
      if (!index.contains(rb.steps[i].depends_on[k])) {
        return Fail(errc::kBadRequest, "steps[" + std::to_string(i) + "].dependsOn[" +
                                           std::to_string(k) + "]: no step \"" +
                                           rb.steps[i].depends_on[k] + "\"");
      }
    }
  }
  for (Step& step : rb.steps) {
    for (const std::string& dep : step.depends_on) step.depends_on_index.push_back(index.at(dep));
  }
  // Kahn's algorithm in document order: a stable topological order, or the cycle.
  std::vector<std::size_t> missing(rb.steps.size());
  std::vector<std::vector<std::size_t>> dependents(rb.steps.size());
  for (std::size_t i = 0; i < rb.steps.size(); ++i) {
    missing[i] = rb.steps[i].depends_on.size();
    for (const std::string& dep : rb.steps[i].depends_on) dependents[index.at(dep)].push_back(i);
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < rb.steps.size(); ++i) {
    if (missing[i] == 0) ready.insert(i);
  }
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    rb.order.push_back(i);
    for (std::size_t d : dependents[i]) {
      if (--missing[d] == 0) ready.insert(d);
    }
  }
  if (rb.order.size() != rb.steps.size()) {
    for (std::size_t i = 0; i < rb.steps.size(); ++i) {
      if (missing[i] != 0) {
        return Fail(errc::kBadRequest,
                    "steps: dependsOn forms a cycle: " + DescribeCycle(rb, index, i));
      }
    }
  }
  return rb;
}

RunState NewRun(const Runbook& rb) {
  RunState s;
  s.steps.resize(rb.steps.size());
  return s;
}

Decision Decide(const Runbook& rb, const RunState& state, TimePoint now) {
  Decision d;
  if (state.cancelled) {
    d.status = RunStatus::kCancelled;
    return d;
  }
  bool stopped = false;
  for (std::size_t i = 0; i < rb.steps.size(); ++i)
    stopped = stopped || Stops(rb.steps[i], state.steps[i]);
  for (std::size_t i : rb.order) {
    const Step& step = rb.steps[i];
    const StepState& st = state.steps[i];
    switch (st.status) {
      case StepStatus::kRunning:
        if (step.timeout.count() > 0 && st.started_at) {
          const TimePoint due = st.checking_since.value_or(*st.started_at) + step.timeout;
          if (due <= now) {
            d.actions.push_back({Action::Kind::kTimeOut, i});
          } else {
            Earliest(d.wake_at, due);
          }
        }
        break;
      case StepStatus::kBlocked:
        if (stopped) d.actions.push_back({Action::Kind::kSkip, i});
        break;
      case StepStatus::kPending: {
        if (stopped) {
          d.actions.push_back({Action::Kind::kSkip, i});
          break;
        }
        bool deps_done = true;
        for (std::size_t k : step.depends_on_index) {
          deps_done = deps_done && Done(rb.steps[k], state.steps[k]);
        }
        if (!deps_done) break;
        // A re-check whose series has run out of time fails without being started (its last
        // check was not met).
        if ((step.type == StepType::kObserve || step.type == StepType::kVerify) &&
            st.checking_since && step.timeout.count() > 0 &&
            now - *st.checking_since >= step.timeout) {
          d.actions.push_back({Action::Kind::kTimeOut, i});
          break;
        }
        if (st.next_attempt && now < *st.next_attempt) {
          Earliest(d.wake_at,
                   std::min(*st.next_attempt, st.checking_since && step.timeout.count() > 0
                                                  ? *st.checking_since + step.timeout
                                                  : *st.next_attempt));
          break;
        }
        d.actions.push_back(
            {step.type == StepType::kManual ? Action::Kind::kAwaitPerson : Action::Kind::kStart,
             i});
        break;
      }
      default:
        break;
    }
  }
  // The status once these actions are applied (a timeout may start a retry or stop the run).
  RunState after = state;
  for (const Action& a : d.actions) (void)Apply(rb, after, a, now);
  d.status = StatusOf(rb, after);
  return d;
}

Status Apply(const Runbook& rb, RunState& state, const Action& action, TimePoint now) {
  if (action.step >= rb.steps.size()) return Fail(errc::kBadRequest, "no such step");
  StepState& st = state.steps[action.step];
  switch (action.kind) {
    case Action::Kind::kStart:
    case Action::Kind::kAwaitPerson:
      if (st.status != StepStatus::kPending) return Conflict(rb, action.step, "is not pending");
      st.status = action.kind == Action::Kind::kStart ? StepStatus::kRunning : StepStatus::kBlocked;
      ++st.attempts;
      st.started_at = now;
      if ((rb.steps[action.step].type == StepType::kObserve ||
           rb.steps[action.step].type == StepType::kVerify) &&
          !st.checking_since) {
        st.checking_since = now;
      }
      st.finished_at.reset();
      st.next_attempt.reset();
      return Ok();
    case Action::Kind::kTimeOut: {
      const auto limit =
          std::chrono::duration_cast<std::chrono::milliseconds>(rb.steps[action.step].timeout);
      if (st.status == StepStatus::kPending && st.checking_since) {
        // A check waiting for its next try when its time ran out: failed with what the last
        // try found.
        st.status = StepStatus::kRunning;
        return Failed(rb, state, action.step,
                      (st.error.empty() ? std::string("condition not met") : st.error) +
                          " (not met within " + std::to_string(limit.count()) + " ms)",
                      now);
      }
      return Failed(rb, state, action.step,
                    "timed out after " + std::to_string(limit.count()) + " ms", now);
    }
    case Action::Kind::kSkip:
      if (st.status != StepStatus::kPending && st.status != StepStatus::kBlocked) {
        return Conflict(rb, action.step, "cannot be skipped now");
      }
      st.status = StepStatus::kSkipped;
      st.finished_at = now;
      st.next_attempt.reset();
      return Ok();
  }
  return Ok();
}

Status Succeeded(const Runbook& rb, RunState& state, std::size_t step, TimePoint now) {
  if (step >= rb.steps.size()) return Fail(errc::kBadRequest, "no such step");
  StepState& st = state.steps[step];
  if (st.status != StepStatus::kRunning) return Conflict(rb, step, "is not running");
  st.status = StepStatus::kSucceeded;
  st.finished_at = now;
  st.error.clear();
  return Ok();
}

Status Failed(const Runbook& rb, RunState& state, std::size_t step, std::string error,
              TimePoint now) {
  if (step >= rb.steps.size()) return Fail(errc::kBadRequest, "no such step");
  StepState& st = state.steps[step];
  const Step& def = rb.steps[step];
  if (st.status != StepStatus::kRunning) return Conflict(rb, step, "is not running");
  st.error = std::move(error);
  if (def.on_failure == OnFailure::kRetry && st.attempts <= def.retries) {
    // Backing off: the delay doubles per attempt (capped), so a flapping dependency is not
    // hammered.
    auto wait = def.retry_delay;
    for (int k = 1; k < st.attempts && wait < kMaxRetryWait; ++k) wait *= 2;
    wait = std::min<std::chrono::milliseconds>(wait, kMaxRetryWait);
    st.status = StepStatus::kPending;
    st.next_attempt = now + wait;
    st.checking_since.reset();  // a retry of a check starts its own series
    return Ok();
  }
  st.status = StepStatus::kFailed;
  st.finished_at = now;
  return Ok();
}

Status NotYet(const Runbook& rb, RunState& state, std::size_t step, std::string reason,
              TimePoint now) {
  if (step >= rb.steps.size()) return Fail(errc::kBadRequest, "no such step");
  StepState& st = state.steps[step];
  const Step& def = rb.steps[step];
  if (def.type != StepType::kObserve && def.type != StepType::kVerify) {
    return Failed(rb, state, step, std::move(reason), now);
  }
  if (st.status != StepStatus::kRunning) return Conflict(rb, step, "is not running");
  const TimePoint since = st.checking_since.value_or(now);
  if (def.timeout.count() > 0 && now - since >= def.timeout) {
    const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(def.timeout);
    return Failed(rb, state, step,
                  reason + " (not met within " + std::to_string(limit.count()) + " ms)", now);
  }
  st.error = std::move(reason);
  st.status = StepStatus::kPending;
  --st.attempts;  // a re-check is the same attempt, not a retry
  st.next_attempt = now + def.interval;
  return Ok();
}

Status Completed(const Runbook& rb, RunState& state, std::size_t step, TimePoint now) {
  if (step >= rb.steps.size()) return Fail(errc::kBadRequest, "no such step");
  StepState& st = state.steps[step];
  if (st.status != StepStatus::kBlocked) {
    return Conflict(rb, step, "is not waiting for a person");
  }
  st.status = StepStatus::kSucceeded;
  st.finished_at = now;
  return Ok();
}

Decision Advance(const Runbook& rb, RunState& state, TimePoint now,
                 std::vector<std::size_t>* started) {
  // Each round moves at least one step forward for good or starts an attempt, so this ends;
  // the bound is a guard, not a rule.
  for (std::size_t round = 0; round <= 4 * rb.steps.size() + 4; ++round) {
    Decision d = Decide(rb, state, now);
    if (d.actions.empty()) return d;
    bool waits = true;
    for (const Action& a : d.actions) {
      (void)Apply(rb, state, a, now);
      if (a.kind == Action::Kind::kStart && started != nullptr) started->push_back(a.step);
      waits = waits && (a.kind == Action::Kind::kStart || a.kind == Action::Kind::kAwaitPerson);
    }
    // Starting attempts and waiting for people change nothing a new decision would see until
    // results arrive (a decision that still has actions goes round again).
    if (waits) {
      Decision next = Decide(rb, state, now);
      if (next.actions.empty()) return next;
    }
  }
  return Decide(rb, state, now);
}

}  // namespace opsorch::runbook
