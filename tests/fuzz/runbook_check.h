// The body of fuzz_runbook, shared with its corpus regression test
// (tests/orchestration/runbook_corpus_test.cc, in opsorch_orchestration_tests). The input is a
// runbook document (runbook::ParseRunbook), optionally followed by a NUL byte and a script: the
// bytes after the NUL choose the events of a simulated run; without them (or once they run out)
// a generator seeded from the whole input chooses. Invariants:
//  - nothing crashes, reads out of bounds or leaks (the sanitizers);
//  - a refused document is bad_request with a message, and parsing is deterministic;
//  - an accepted runbook keeps the documented rules: 1-200 steps with unique valid ids, at most
//    32 dependencies each, resolved to the right indices; `order` a topological order of all
//    steps; retries 1-10 exactly for onFailure retry; retryDelay and interval within
//    100ms-1h; no timeout for manual steps, 0 < timeout <= 24h for the others;
//  - the orchestration layer's DecodeStepCall(step, "steps[i].with"): a refusal is bad_request
//    naming that path; what is accepted has what its type needs (invoke: deployment and step;
//    record: a text of 1-4096 bytes; manual: instructions of at most 4096 bytes; observe/verify:
//    a metric or a workflow step, verify on a metric with a bound, an expectation with a path
//    of at most 256 bytes and a condition);
//  - Expect() is deterministic and agrees with itself (exactly one of "exists" and "does not
//    exist" holds); FillPlaceholders() gives at most 4096 bytes, UTF-8 when what went in was,
//    is deterministic and leaves text without a `{` alone;
//  - a run (NewRun, then up to kRounds rounds of Advance at increasing times with Succeeded,
//    Failed, NotYet and Completed applied to running and blocked steps):
//    * Advance terminates: it returns with nothing left to do (Decide at the same time right
//      after has no actions), every step it started was pending before and starts once;
//    * Decide is deterministic (the same state and time, or a copy of the state, give the same
//      decision), and a wake time is after now;
//    * a succeeded, failed or skipped step never changes again;
//    * attempts never exceed retries + 1 (1 for a step without retries), never go negative;
//      running steps are automated, blocked steps manual, both started;
//    * the run is completed or failed exactly when every step is terminal, completed only when
//      no step failed with stop or retry, blocked only when a person is awaited and nothing runs;
//    * events that fit the step's state are accepted, events that do not fit (and an action for
//      a step that does not exist) are refused and change nothing;
//    * a cancelled run decides nothing and says cancelled; a finished run stays finished.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/runbook/runbook.h>

#include "fuzz/fuzz_util.h"
#include "orchestration/step_call.h"

namespace opsorch::testing {

namespace runbook_fuzz {

namespace rb = opsorch::runbook;
using std::chrono::milliseconds;

inline constexpr int kRounds = 48;
inline constexpr std::size_t kMaxRendered = 4096;

// The choices of a simulated run: the script's bytes, then a generator seeded from the input.
class Script {
 public:
  Script(std::string_view bytes, std::string_view input) : bytes_(bytes), rng_(input, 0x52554e) {}
  std::uint8_t Byte() {
    if (pos_ < bytes_.size()) return static_cast<std::uint8_t>(bytes_[pos_++]);
    return static_cast<std::uint8_t>(rng_.Next() >> 32);
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
  InputRng rng_;
};

inline bool Terminal(rb::StepStatus s) {
  return s == rb::StepStatus::kSucceeded || s == rb::StepStatus::kFailed ||
         s == rb::StepStatus::kSkipped;
}

inline bool SameStep(const rb::StepState& a, const rb::StepState& b) {
  return a.status == b.status && a.attempts == b.attempts && a.started_at == b.started_at &&
         a.finished_at == b.finished_at && a.next_attempt == b.next_attempt &&
         a.checking_since == b.checking_since && a.error == b.error;
}

inline bool SameState(const rb::RunState& a, const rb::RunState& b) {
  if (a.cancelled != b.cancelled || a.steps.size() != b.steps.size()) return false;
  for (std::size_t i = 0; i < a.steps.size(); ++i) {
    if (!SameStep(a.steps[i], b.steps[i])) return false;
  }
  return true;
}

inline bool SameDecision(const rb::Decision& a, const rb::Decision& b) {
  if (a.status != b.status || a.wake_at != b.wake_at || a.actions.size() != b.actions.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.actions.size(); ++i) {
    if (a.actions[i].kind != b.actions[i].kind || a.actions[i].step != b.actions[i].step) {
      return false;
    }
  }
  return true;
}

inline std::string Describe(const rb::Runbook& book, const rb::RunState& st) {
  std::string out;
  for (std::size_t i = 0; i < book.steps.size() && i < 16; ++i) {
    out += (i ? " " : "") + book.steps[i].id + ":" +
           std::string(rb::StepStatusName(st.steps[i].status)) + "/" +
           std::to_string(st.steps[i].attempts);
  }
  if (book.steps.size() > 16) out += " ...";
  return out;
}

inline std::string_view KindName(rb::Action::Kind k) {
  switch (k) {
    case rb::Action::Kind::kStart:
      return "start";
    case rb::Action::Kind::kAwaitPerson:
      return "await-person";
    case rb::Action::Kind::kTimeOut:
      return "time-out";
    case rb::Action::Kind::kSkip:
      return "skip";
  }
  return "?";
}

inline bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// ---- the decoded runbook ----

inline void CheckDecoded(const rb::Runbook& book, std::vector<std::string>& out) {
  const std::size_t n = book.steps.size();
  if (n == 0 || n > rb::kMaxSteps) out.push_back("decode: " + std::to_string(n) + " steps");
  if (!ValidId(book.id)) out.push_back("decode: invalid runbook id accepted");
  if (book.order.size() != n) {
    out.push_back("decode: order has " + std::to_string(book.order.size()) + " of " +
                  std::to_string(n) + " steps");
    return;
  }
  std::vector<std::size_t> position(n, n);
  for (std::size_t k = 0; k < n; ++k) {
    if (book.order[k] >= n || position[book.order[k]] != n) {
      out.push_back("decode: order is not a permutation of the steps");
      return;
    }
    position[book.order[k]] = k;
  }
  std::set<std::string, std::less<>> ids;
  for (std::size_t i = 0; i < n; ++i) {
    const rb::Step& s = book.steps[i];
    const std::string at = "decode: steps[" + std::to_string(i) + "] ";
    if (!ValidId(s.id)) out.push_back(at + "has an invalid id");
    if (!ids.insert(s.id).second) out.push_back(at + "repeats id " + s.id);
    if (s.depends_on.size() > rb::kMaxDependencies) out.push_back(at + "too many dependencies");
    if (s.depends_on_index.size() != s.depends_on.size()) {
      out.push_back(at + "dependency indices do not match the ids");
      continue;
    }
    for (std::size_t k = 0; k < s.depends_on.size(); ++k) {
      const std::size_t d = s.depends_on_index[k];
      if (d >= n || book.steps[d].id != s.depends_on[k]) {
        out.push_back(at + "dependsOn[" + std::to_string(k) + "] resolved to the wrong step");
      } else if (d == i) {
        out.push_back(at + "depends on itself");
      } else if (position[d] >= position[i]) {
        out.push_back(at + "comes before its dependency " + s.depends_on[k] + " in order");
      }
    }
    if (s.on_failure == rb::OnFailure::kRetry ? (s.retries < 1 || s.retries > 10)
                                              : s.retries != 0) {
      out.push_back(at + "retries " + std::to_string(s.retries));
    }
    if (s.retry_delay < milliseconds(100) || s.retry_delay > std::chrono::hours(1)) {
      out.push_back(at + "retryDelay outside 100ms-1h");
    }
    if (s.interval < milliseconds(100) || s.interval > std::chrono::hours(1)) {
      out.push_back(at + "interval outside 100ms-1h");
    }
    if (s.type == rb::StepType::kManual) {
      if (s.timeout.count() != 0) out.push_back(at + "a manual step with a timeout");
      if (s.on_failure == rb::OnFailure::kRetry) out.push_back(at + "a manual step that retries");
    } else if (s.timeout.count() <= 0 || s.timeout > std::chrono::hours(24)) {
      out.push_back(at + "timeout outside (0, 24h]");
    }
  }
}

// ---- the orchestration layer's pure checks ----

inline void CheckTemplate(std::string_view tmpl,
                          const std::map<std::string, std::string, std::less<>>& vars,
                          std::string_view what, std::vector<std::string>& out) {
  const auto render = [&] {
    return FillPlaceholders(
        tmpl,
        [&](std::string_view name) -> std::optional<std::string> {
          auto it = vars.find(name);
          if (it == vars.end()) return std::nullopt;
          return it->second;
        },
        orchestration::kMaxStepText);
  };
  const std::string r = render();
  if (r.size() > kMaxRendered) {
    out.push_back(std::string(what) + ": FillPlaceholders gave " + std::to_string(r.size()) +
                  " bytes");
  }
  if (render() != r) {
    out.push_back(std::string(what) + ": FillPlaceholders is not deterministic");
  }
  bool utf8_in = ValidUtf8(tmpl);
  for (const auto& [k, v] : vars) utf8_in = utf8_in && ValidUtf8(k) && ValidUtf8(v);
  if (utf8_in && !ValidUtf8(r)) {
    out.push_back(std::string(what) + ": FillPlaceholders cut UTF-8: " + Excerpt(r.substr(0, 40)));
  }
  if (tmpl.find('{') == std::string_view::npos && tmpl.size() <= kMaxRendered && r != tmpl) {
    out.push_back(std::string(what) + ": FillPlaceholders changed text without a {name}");
  }
}

inline void CheckExpect(const orchestration::Expectation& e, const JsonValue& body,
                        std::string_view what, std::vector<std::string>& out) {
  const std::string verdict = orchestration::Expect(e, body);
  if (orchestration::Expect(e, body) != verdict) {
    out.push_back(std::string(what) + ": Expect is not deterministic");
  }
  orchestration::Expectation present{e.path, std::nullopt, std::nullopt, std::nullopt, true};
  orchestration::Expectation absent{e.path, std::nullopt, std::nullopt, std::nullopt, false};
  const bool is_present = orchestration::Expect(present, body).empty();
  const bool is_absent = orchestration::Expect(absent, body).empty();
  if (is_present == is_absent) {
    out.push_back(std::string(what) + ": path " + Excerpt(e.path) +
                  " both exists and does not, or neither");
  }
  if (e.exists && *e.exists != is_present && verdict.empty()) {
    out.push_back(std::string(what) + ": an exists condition met that does not hold");
  }
}

inline void CheckStepCalls(const rb::Runbook& book, const JsonValue& doc,
                           std::vector<std::string>& out) {
  std::map<std::string, std::string, std::less<>> vars{{"runId", "run-0001"},
                                                       {"planId", book.id},
                                                       {"planTitle", book.title},
                                                       {"incidentId", "inc-42"}};
  for (const rb::Step& s : book.steps) vars.emplace("fields." + s.id, s.description);
  for (std::size_t i = 0; i < book.steps.size(); ++i) {
    const rb::Step& s = book.steps[i];
    const std::string path = "steps[" + std::to_string(i) + "].with";
    auto call = orchestration::DecodeStepCall(s, path);
    if (!call) {
      if (call.error().code != ErrorCode::kBadRequest) {
        out.push_back(path + ": refused with code " + std::string(Name(call.error().code)));
      }
      if (call.error().message.rfind(path + ".", 0) != 0) {
        out.push_back(path + ": refusal does not name the path: " + Excerpt(call.error().message));
      }
    } else {
      const orchestration::StepCall& c = *call;
      const std::string at = path + " (" + std::string(rb::StepTypeName(s.type)) + ")";
      switch (s.type) {
        case rb::StepType::kManual:
          if (c.instructions.size() > 4096) out.push_back(at + ": instructions over 4096 bytes");
          break;
        case rb::StepType::kInvoke:
          if (c.deployment.empty() || c.step.empty()) out.push_back(at + ": no workflow step");
          break;
        case rb::StepType::kRecord:
          if (c.text.empty() || c.text.size() > 4096) out.push_back(at + ": text of bad size");
          break;
        case rb::StepType::kObserve:
        case rb::StepType::kVerify:
          if (c.metric.empty() == (c.deployment.empty() || c.step.empty())) {
            out.push_back(at + ": neither (or both) a metric and a workflow step");
          }
          if (!c.metric.empty() && s.type == rb::StepType::kVerify && !c.above && !c.below) {
            out.push_back(at + ": a verify step on a metric without a bound");
          }
          if (c.expect) {
            if (c.expect->path.size() > 256) out.push_back(at + ": expect.path over 256 bytes");
            if (!c.expect->equals && !c.expect->above && !c.expect->below && !c.expect->exists) {
              out.push_back(at + ": an expectation without a condition");
            }
            CheckExpect(*c.expect, JsonValue(s.with), at + " expect on with", out);
            CheckExpect(*c.expect, doc, at + " expect on the document", out);
          }
          break;
      }
      if (s.type != rb::StepType::kRecord && !c.text.empty()) out.push_back(at + ": a text");
      CheckTemplate(c.text, vars, at + " text", out);
      CheckTemplate(c.instructions, vars, at + " instructions", out);
    }
    // Fuzz-derived values: step titles and descriptions as templates and as paths.
    CheckTemplate(s.title, vars, path + " title", out);
    CheckTemplate(s.description, vars, path + " description", out);
    orchestration::Expectation e;
    e.path = s.title;
    e.equals = JsonValue(s.with);
    e.exists = true;
    CheckExpect(e, doc, path + " title as a path", out);
    e.path = s.id;
    e.equals.reset();
    e.above = static_cast<double>(i);
    CheckExpect(e, JsonValue(s.with), path + " id as a path", out);
  }
}

// ---- a run ----

class Run {
 public:
  Run(const rb::Runbook& book, Script& script, std::vector<std::string>& out)
      : book_(book), script_(script), out_(out), state_(rb::NewRun(book)) {}

  void Drive() {
    if (state_.steps.size() != book_.steps.size()) {
      out_.push_back("NewRun: state for " + std::to_string(state_.steps.size()) + " steps");
      return;
    }
    for (const rb::StepState& s : state_.steps) {
      if (s.status != rb::StepStatus::kPending || s.attempts != 0) {
        out_.push_back("NewRun: a step that is not pending");
        return;
      }
    }
    for (round_ = 0; round_ < kRounds && out_.empty(); ++round_) {
      const rb::Decision d = Advance();
      if (!out_.empty()) return;
      if (d.status == rb::RunStatus::kCompleted || d.status == rb::RunStatus::kFailed) {
        CheckStaysFinished(d);
        return;
      }
      MaybeCancelled();
      MoveTime(d);
      Events();
      Misfit();
    }
  }

 private:
  void Violation(const std::string& what) {
    out_.push_back("round " + std::to_string(round_) + " at +" +
                   std::to_string(std::chrono::duration_cast<milliseconds>(now_ - kT0).count()) +
                   "ms: " + what + " [" + Describe(book_, state_) + "]");
  }

  // After any change: finished steps never change, and each step's state is consistent.
  void CheckTransition(const rb::RunState& before, std::string_view what) {
    for (std::size_t i = 0; i < book_.steps.size(); ++i) {
      const rb::Step& def = book_.steps[i];
      const rb::StepState& a = before.steps[i];
      const rb::StepState& b = state_.steps[i];
      const std::string step = "step " + def.id + " ";
      if (Terminal(a.status) && !SameStep(a, b)) {
        Violation(std::string(what) + ": " + step + "went from " +
                  std::string(rb::StepStatusName(a.status)) + " to " +
                  std::string(rb::StepStatusName(b.status)) + " (or changed)");
      }
      if (b.attempts < 0 || b.attempts > def.retries + 1) {
        Violation(std::string(what) + ": " + step + "has " + std::to_string(b.attempts) +
                  " attempts with " + std::to_string(def.retries) + " retries");
      }
      if (b.status == rb::StepStatus::kRunning || b.status == rb::StepStatus::kBlocked) {
        if ((b.status == rb::StepStatus::kBlocked) != (def.type == rb::StepType::kManual)) {
          Violation(std::string(what) + ": " + step + "is " +
                    std::string(rb::StepStatusName(b.status)) + " but of type " +
                    std::string(rb::StepTypeName(def.type)));
        }
        if (b.attempts < 1 || !b.started_at) {
          Violation(std::string(what) + ": " + step + "runs without a started attempt");
        }
      }
      if (Terminal(b.status) && !b.finished_at) {
        Violation(std::string(what) + ": " + step + "finished without a time");
      }
    }
  }

  rb::Decision Advance() {
    const rb::RunState before = state_;
    const rb::Decision pre = rb::Decide(book_, state_, now_);
    if (!SameDecision(pre, rb::Decide(book_, before, now_))) {
      Violation("Decide before Advance is not deterministic");
    }
    std::vector<std::size_t> started;
    const rb::Decision d = rb::Advance(book_, state_, now_, &started);
    CheckTransition(before, "Advance");
    std::set<std::size_t> once;
    for (std::size_t i : started) {
      if (i >= book_.steps.size()) {
        Violation("Advance started step " + std::to_string(i) + " of " +
                  std::to_string(book_.steps.size()));
        return d;
      }
      if (!once.insert(i).second) Violation("Advance started step " + book_.steps[i].id + " twice");
      if (before.steps[i].status != rb::StepStatus::kPending) {
        Violation("Advance started step " + book_.steps[i].id + " that was not pending");
      }
      if (book_.steps[i].type == rb::StepType::kManual) {
        Violation("Advance started manual step " + book_.steps[i].id);
      }
    }
    const rb::RunState copy = state_;
    const rb::Decision again = rb::Decide(book_, state_, now_);
    if (!SameDecision(again, rb::Decide(book_, copy, now_)) ||
        !SameDecision(again, rb::Decide(book_, state_, now_))) {
      Violation("Decide is not deterministic");
    }
    if (!again.actions.empty()) {
      const rb::Action& a = again.actions.front();
      Violation("Advance returned with " + std::to_string(again.actions.size()) +
                " action(s) left, the first " + std::string(KindName(a.kind)) + " on step " +
                book_.steps[a.step].id);
    }
    if (d.wake_at && *d.wake_at <= now_) Violation("a wake time that is not after now");
    CheckStatus(d);
    return d;
  }

  void CheckStatus(const rb::Decision& d) {
    bool all_terminal = true, stopped = false, running = false, blocked = false;
    for (std::size_t i = 0; i < book_.steps.size(); ++i) {
      const rb::StepState& st = state_.steps[i];
      all_terminal = all_terminal && Terminal(st.status);
      stopped = stopped || (st.status == rb::StepStatus::kFailed &&
                            book_.steps[i].on_failure != rb::OnFailure::kContinue);
      running = running || st.status == rb::StepStatus::kRunning;
      blocked = blocked || st.status == rb::StepStatus::kBlocked;
    }
    const std::string status(rb::RunStatusName(d.status));
    const bool finished =
        d.status == rb::RunStatus::kCompleted || d.status == rb::RunStatus::kFailed;
    if (finished != all_terminal) {
      Violation("run is " + status + (all_terminal ? " though" : " though not") +
                " every step is terminal");
    }
    if (d.status == rb::RunStatus::kCompleted && stopped) {
      Violation("run is completed though a step failed with stop or retry");
    }
    if (d.status == rb::RunStatus::kFailed && !stopped) {
      Violation("run is failed though no step failed with stop or retry");
    }
    if (d.status == rb::RunStatus::kBlocked && (!blocked || running)) {
      Violation("run is blocked without a person awaited, or while a step runs");
    }
    if (d.status == rb::RunStatus::kCancelled) Violation("run is cancelled without a cancel");
  }

  void CheckStaysFinished(const rb::Decision& d) {
    const rb::RunState before = state_;
    const rb::Decision later = rb::Advance(book_, state_, now_ + std::chrono::hours(48));
    if (!SameState(before, state_) || later.status != d.status || !later.actions.empty() ||
        later.wake_at) {
      Violation("a finished run moved on");
    }
  }

  void MaybeCancelled() {
    if (script_.Byte() % 8 != 0) return;
    rb::RunState cancelled = state_;
    cancelled.cancelled = true;
    const rb::RunState before = cancelled;
    const rb::Decision d = rb::Advance(book_, cancelled, now_);
    if (d.status != rb::RunStatus::kCancelled || !d.actions.empty() ||
        !SameState(before, cancelled)) {
      Violation("a cancelled run did something, or is " + std::string(rb::RunStatusName(d.status)));
    }
  }

  void MoveTime(const rb::Decision& d) {
    rb::TimePoint next = now_;
    switch (script_.Byte() % 10) {
      case 0:
        break;
      case 1:
        next += milliseconds(1);
        break;
      case 2:
        next += milliseconds(100);
        break;
      case 3:
        next += std::chrono::seconds(1);
        break;
      case 4:
        next += std::chrono::seconds(5);
        break;
      case 5:
        next += std::chrono::minutes(1);
        break;
      case 6:
        next = d.wake_at ? *d.wake_at : next + std::chrono::seconds(1);
        break;
      case 7:
        next = d.wake_at ? *d.wake_at - milliseconds(1) : next + milliseconds(10);
        break;
      case 8:
        next += std::chrono::hours(1);
        break;
      default:
        next += std::chrono::hours(25);
        break;
    }
    now_ = std::max(now_, next);
  }

  // Results for running steps and completions for blocked ones, chosen by the script.
  void Events() {
    for (std::size_t i = 0; i < book_.steps.size(); ++i) {
      const rb::StepStatus s = state_.steps[i].status;
      if (s != rb::StepStatus::kRunning && s != rb::StepStatus::kBlocked) continue;
      const std::uint8_t b = script_.Byte();
      const rb::RunState before = state_;
      Status r = Ok();
      std::string what;
      if (s == rb::StepStatus::kBlocked) {
        if (b % 3 != 0) continue;
        what = "Completed";
        r = rb::Completed(book_, state_, i, now_);
      } else if (b % 6 == 0) {
        what = "Succeeded";
        r = rb::Succeeded(book_, state_, i, now_);
      } else if (b % 6 == 1) {
        what = "Failed";
        r = rb::Failed(book_, state_, i, "boom", now_);
      } else if (b % 6 == 2) {
        what = "NotYet";
        r = rb::NotYet(book_, state_, i, "not yet", now_);
      } else {
        continue;
      }
      what += " on " + book_.steps[i].id;
      if (!r) Violation(what + " refused: " + r.error().message);
      CheckTransition(before, what);
    }
  }

  // One event that does not fit the step's state: refused, nothing changes.
  void Misfit() {
    const std::size_t n = book_.steps.size();
    const std::uint8_t b = script_.Byte();
    if (b % 4 != 0) return;
    const std::size_t i = (b / 4) % (n + 1);  // n: a step that does not exist
    const rb::RunState before = state_;
    const rb::StepStatus s = i < n ? state_.steps[i].status : rb::StepStatus::kPending;
    Status r = Ok();
    std::string what;
    switch (script_.Byte() % 5) {
      case 0:
        if (i < n && s == rb::StepStatus::kRunning) return;
        what = "Succeeded";
        r = rb::Succeeded(book_, state_, i, now_);
        break;
      case 1:
        if (i < n && s == rb::StepStatus::kRunning) return;
        what = "Failed";
        r = rb::Failed(book_, state_, i, "late", now_);
        break;
      case 2:
        if (i < n && s == rb::StepStatus::kRunning) return;
        what = "NotYet";
        r = rb::NotYet(book_, state_, i, "late", now_);
        break;
      case 3:
        if (i < n && s == rb::StepStatus::kBlocked) return;
        what = "Completed";
        r = rb::Completed(book_, state_, i, now_);
        break;
      default:
        if (i < n && s == rb::StepStatus::kPending) return;
        what = "Apply(start)";
        r = rb::Apply(book_, state_, rb::Action{rb::Action::Kind::kStart, i}, now_);
        break;
    }
    what += " on " + (i < n ? book_.steps[i].id : "step " + std::to_string(i));
    const ErrorCode want = i < n ? ErrorCode::kConflict : ErrorCode::kBadRequest;
    if (r) {
      Violation(what + " that does not fit was accepted");
    } else if (r.error().code != want || r.error().message.empty()) {
      Violation(what + " refused with " + std::string(Name(r.error().code)));
    }
    if (!SameState(before, state_)) Violation(what + " that does not fit changed the run");
  }

  static constexpr rb::TimePoint kT0 = rb::TimePoint{} + std::chrono::seconds(1'780'000'000);

  const rb::Runbook& book_;
  Script& script_;
  std::vector<std::string>& out_;
  rb::RunState state_;
  rb::TimePoint now_ = kT0;
  int round_ = 0;
};

}  // namespace runbook_fuzz

inline std::vector<std::string> CheckRunbook(std::string_view input) {
  namespace rf = runbook_fuzz;
  std::vector<std::string> out;
  const std::size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  const std::string_view script_bytes =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  // Any text as a template, with values that are long, empty, or look like names themselves.
  const std::map<std::string, std::string, std::less<>> fixed{
      {"runId", "run-1"},
      {"a", "{a}"},
      {"", "empty"},
      {"long", std::string(5000, 'x')},
      {"utf8", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}};
  rf::CheckTemplate(text, fixed, "text", out);

  auto book = runbook::ParseRunbook(text);
  auto again = runbook::ParseRunbook(text);
  if (book.has_value() != again.has_value() ||
      (!book && book.error().message != again.error().message) ||
      (book && (book->steps.size() != again->steps.size() || book->order != again->order))) {
    out.push_back("parse: two parses differ");
  }
  if (!book) {
    if (book.error().code != ErrorCode::kBadRequest) {
      out.push_back("parse: refused with code " + std::string(Name(book.error().code)));
    }
    if (book.error().message.empty()) out.push_back("parse: refusal without a message");
    return out;
  }
  rf::CheckDecoded(*book, out);
  if (!out.empty()) return out;
  auto doc = ParseJson(text);
  if (!doc) {
    out.push_back("parse: a runbook whose text is not JSON");
    return out;
  }
  rf::CheckStepCalls(*book, *doc, out);
  rf::Script script(script_bytes, input);
  rf::Run(*book, script, out).Drive();
  return out;
}

}  // namespace opsorch::testing
