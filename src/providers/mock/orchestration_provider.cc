#include "providers/mock/orchestration_provider.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include <opsorch/common/strings.h>

namespace opsorch::providers::mock {
namespace {
constexpr std::string_view kLabel = "mock orchestration provider";
constexpr int kIdWidth = 3;

bool IsAutomated(const s::OrchestrationStep& step) { return step.type == "automated"; }

bool IsTerminal(std::string_view run_status) {
  return run_status == "completed" || run_status == "failed" || run_status == "cancelled";
}

bool IsDone(std::string_view step_status) {
  return step_status == "succeeded" || step_status == "skipped";
}

// A plan tag that is absent means the plan applies to any value of that scope dimension
// (a generic rollback runbook fits every service).
bool TagApplies(const StringMap& tags, const char* key, const std::string& wanted) {
  if (wanted.empty()) return true;
  auto it = tags.find(key);
  return it == tags.end() || EqualsIgnoreCase(it->second, wanted);
}

std::map<std::string, s::OrchestrationPlan> IndexPlans(const MockWorld& world) {
  std::map<std::string, s::OrchestrationPlan> out;
  for (const auto& p : world.plans) out.emplace(p.id, p);
  return out;
}
}  // namespace

Result<std::shared_ptr<MockOrchestrationProvider>> MockOrchestrationProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, std::string(kLabel));
  auto now = ReadCommonConfig(reader, {kNowKey, "stepDuration"});
  if (!now) return Fail(std::move(now.error()));
  auto duration = reader.Duration("stepDuration");
  if (!duration) return Fail(std::move(duration.error()));
  Options options;
  options.now = *now;
  if (duration->has_value()) options.step_duration = **duration;
  return std::make_shared<MockOrchestrationProvider>(options);
}

MockOrchestrationProvider::MockOrchestrationProvider(const Options& options, const MockWorld& world)
    : clock_(options.now), step_duration_(options.step_duration), plans_(IndexPlans(world)) {
  for (const auto& r : world.runs) {
    runs_.emplace(r.id, r);
    // New runs continue after the seeds instead of overwriting them (the reference restarts
    // its counter at 0 and replaces run-001).
    if (auto n = ParseIdNumber(r.id, "run-"); n && *n >= next_number_) next_number_ = *n + 1;
  }
}

void MockOrchestrationProvider::Advance(s::OrchestrationRun& run, Time now,
                                        std::int64_t step_duration) {
  if (IsTerminal(run.status) || !run.plan || !run.plan->steps || !run.steps) return;
  std::unordered_map<std::string_view, const s::OrchestrationStep*> plan_steps;
  for (const auto& step : *run.plan->steps) plan_steps.emplace(step.id, &step);
  std::unordered_map<std::string_view, s::OrchestrationStepState*> states;
  for (auto& st : *run.steps) states.emplace(st.step_id, &st);

  bool changed_any = false;
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& st : *run.steps) {
      auto ps = plan_steps.find(st.step_id);
      if (ps == plan_steps.end() || !IsAutomated(*ps->second)) continue;
      if (st.status != "running" || !st.started_at) continue;
      const Time finished = st.started_at->Add(step_duration);
      if (finished > now) continue;
      st.status = "succeeded";
      st.actor = std::string(kAutomationActor);
      st.finished_at = finished;
      st.updated_at = finished;
      changed = true;
    }
    for (auto& st : *run.steps) {
      if (st.status != "pending") continue;
      auto ps = plan_steps.find(st.step_id);
      if (ps == plan_steps.end()) continue;
      // Dependencies naming no step of the run cannot ever complete; ignore them rather than
      // leave the run stuck forever.
      Time ready_at = run.created_at;
      bool satisfied = true;
      for (const auto& dep : ps->second->depends_on) {
        auto d = states.find(dep);
        if (d == states.end()) continue;
        if (!IsDone(d->second->status)) {
          satisfied = false;
          break;
        }
        const auto done_at =
            d->second->finished_at ? d->second->finished_at : d->second->updated_at;
        if (done_at && *done_at > ready_at) ready_at = *done_at;
      }
      if (!satisfied) continue;
      if (IsAutomated(*ps->second)) {
        st.status = "running";
        st.started_at = ready_at;
      } else {
        st.status = "ready";
      }
      st.updated_at = ready_at;
      changed = true;
    }
    changed_any = changed_any || changed;
  }

  if (changed_any) {
    for (const auto& st : *run.steps) {
      if (st.updated_at && *st.updated_at > run.updated_at) run.updated_at = *st.updated_at;
    }
  }
  const auto& steps = *run.steps;
  const auto any = [&](std::string_view status) {
    return std::any_of(steps.begin(), steps.end(),
                       [&](const s::OrchestrationStepState& st) { return st.status == status; });
  };
  if (std::all_of(steps.begin(), steps.end(),
                  [](const s::OrchestrationStepState& st) { return IsDone(st.status); })) {
    run.status = "completed";
  } else if (any("failed")) {
    run.status = "failed";
  } else if (any("blocked")) {
    run.status = "blocked";
  } else {
    run.status = "running";
  }
}

Result<NullableList<s::OrchestrationPlan>> MockOrchestrationProvider::QueryPlans(
    const s::OrchestrationPlanQuery& q) {
  std::vector<s::OrchestrationPlan> out;
  for (const auto& [id, p] : plans_) {
    if (!q.query.empty() && !ContainsIgnoreCase(p.id, q.query) &&
        !ContainsIgnoreCase(p.title, q.query) && !ContainsIgnoreCase(p.description, q.query)) {
      continue;
    }
    if (!TagsMatch(p.tags, q.tags)) continue;
    if (!TagApplies(p.tags, "service", q.scope.service) ||
        !TagApplies(p.tags, "team", q.scope.team) ||
        !TagApplies(p.tags, "environment", q.scope.environment)) {
      continue;
    }
    out.push_back(p);
  }
  ApplyLimit(out, q.limit);
  return out;
}

Result<std::optional<s::OrchestrationPlan>> MockOrchestrationProvider::GetPlan(
    const std::string& plan_id) {
  auto it = plans_.find(plan_id);
  if (it == plans_.end()) return Fail(NotFound("plan", plan_id));
  return std::optional<s::OrchestrationPlan>(it->second);
}

Result<NullableList<s::OrchestrationRun>> MockOrchestrationProvider::QueryRuns(
    const s::OrchestrationRunQuery& q) {
  std::vector<s::OrchestrationRun> all;
  {
    std::shared_lock lock(mu_);
    all.reserve(runs_.size());
    for (const auto& [id, r] : runs_) all.push_back(r);
  }
  // Status filters must see the advanced status, so advance before filtering.
  const Time now = clock_.Now();
  std::vector<s::OrchestrationRun> out;
  for (auto& r : all) {
    Advance(r, now, step_duration_);
    if (!q.query.empty() && !ContainsIgnoreCase(r.id, q.query) &&
        !ContainsIgnoreCase(r.plan_id, q.query) &&
        !(r.plan && ContainsIgnoreCase(r.plan->title, q.query))) {
      continue;
    }
    if (!EmptyOrContainsIgnoreCase(q.statuses, r.status)) continue;
    if (!EmptyOrContainsIgnoreCase(q.plan_ids, r.plan_id)) continue;
    if (!q.scope.service.empty() && !EqualsIgnoreCase(r.scope.service, q.scope.service)) continue;
    if (!q.scope.team.empty() && !EqualsIgnoreCase(r.scope.team, q.scope.team)) continue;
    if (!q.scope.environment.empty() &&
        !EqualsIgnoreCase(r.scope.environment, q.scope.environment)) {
      continue;
    }
    out.push_back(std::move(r));
  }
  ApplyLimit(out, q.limit);
  return out;
}

Result<std::optional<s::OrchestrationRun>> MockOrchestrationProvider::GetRun(
    const std::string& run_id) {
  s::OrchestrationRun run;
  {
    std::shared_lock lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return Fail(NotFound("run", run_id));
    run = it->second;
  }
  Advance(run, clock_.Now(), step_duration_);
  return std::optional<s::OrchestrationRun>(std::move(run));
}

Result<std::optional<s::OrchestrationRun>> MockOrchestrationProvider::StartRun(
    const std::string& plan_id) {
  if (TrimSpace(plan_id).empty()) return Fail(BadRequest("planId is required"));
  auto p = plans_.find(plan_id);
  if (p == plans_.end()) return Fail(NotFound("plan", plan_id));
  const s::OrchestrationPlan& plan = p->second;
  const Time now = clock_.Now();

  s::OrchestrationRun run;
  run.plan_id = plan.id;
  run.plan = plan;
  run.status = "running";
  if (auto t = plan.tags.find("service"); t != plan.tags.end()) run.scope.service = t->second;
  if (auto t = plan.tags.find("team"); t != plan.tags.end()) run.scope.team = t->second;
  if (auto t = plan.tags.find("environment"); t != plan.tags.end()) {
    run.scope.environment = t->second;
  }
  run.created_at = now;
  run.updated_at = now;
  run.steps.emplace();
  for (const auto& step : plan.steps.value_or(std::vector<s::OrchestrationStep>{})) {
    s::OrchestrationStepState st;
    st.step_id = step.id;
    if (!step.depends_on.empty()) {
      st.status = "pending";
    } else if (IsAutomated(step)) {
      st.status = "running";
      st.started_at = now;
      st.updated_at = now;
    } else {
      st.status = "ready";
      st.updated_at = now;
    }
    run.steps->push_back(std::move(st));
  }

  std::unique_lock lock(mu_);
  run.id = FormatId("run-", next_number_++, kIdWidth);
  run.url = "https://orchestration." + std::string(kDemoDomain) + "/runs/" + run.id;
  Advance(run, now, step_duration_);  // a zero stepDuration completes automated steps at once
  runs_.emplace(run.id, run);
  return std::optional<s::OrchestrationRun>(std::move(run));
}

Status MockOrchestrationProvider::CompleteStep(const std::string& run_id,
                                               const std::string& step_id, const std::string& actor,
                                               const std::string& note) {
  const Time now = clock_.Now();
  std::unique_lock lock(mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return Fail(NotFound("run", run_id));
  s::OrchestrationRun& run = it->second;
  Advance(run, now, step_duration_);
  if (!run.steps) return Fail(NotFound("step", step_id));
  auto st = std::find_if(run.steps->begin(), run.steps->end(),
                         [&](const s::OrchestrationStepState& x) { return x.step_id == step_id; });
  if (st == run.steps->end()) {
    return Fail(MakeError(errc::kNotFound, "step " + step_id + " not found in run " + run_id));
  }
  bool automated = false;
  if (run.plan && run.plan->steps) {
    for (const auto& ps : *run.plan->steps) {
      if (ps.id == step_id) automated = IsAutomated(ps);
    }
  }
  // A human may complete what waits for a human: ready or blocked steps, and manual steps that
  // are marked running. Automated running steps finish on their own.
  const bool completable =
      st->status == "ready" || st->status == "blocked" || (st->status == "running" && !automated);
  if (!completable) {
    return Fail(Conflict("step " + step_id + " is " + st->status + ", not completable"));
  }
  if (IsTerminal(run.status)) {
    return Fail(Conflict("run " + run_id + " is " + run.status + ", steps cannot be completed"));
  }
  st->status = "succeeded";
  st->actor = TrimSpace(actor).empty() ? "unknown" : actor;
  st->note = note;
  st->finished_at = now;
  st->updated_at = now;
  run.updated_at = now;
  Advance(run, now, step_duration_);
  return Ok();
}

}  // namespace opsorch::providers::mock
