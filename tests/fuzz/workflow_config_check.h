// The body of fuzz_workflow_config, shared with its corpus regression test
// (workflow_corpus_test.cc, in opsorch_workflow_tests): one input read as a bootstrap
// (include/opsorch/workflow/bootstrap.h: ParseBootstrap) and as a workflow configuration
// (include/opsorch/workflow/config.h: ParseWorkflowConfig), from memory: no secret files, no
// resource files (empty base directory), and ${VAR} looked up in a fixed map or nowhere, never in
// the process environment.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/config.h>

#include "fuzz/fuzz_util.h"

namespace opsorch::testing {

// The values ${VAR} may take; they are secrets, so no error message may quote one.
inline const std::map<std::string, std::string>& WorkflowFuzzVariables() {
  static const std::map<std::string, std::string> kVars = {
      {"TOKEN", "tok5ecret7f3a9Q2"},
      {"API_KEY", "key-0b6f4c2a9e1d"},
      {"URL", "https://internal.example.com/api?key=q9x8w7v6"},
  };
  return kVars;
}

inline workflow::EnvLookup WorkflowFuzzLookup() {
  return [](const std::string& name) -> std::optional<std::string> {
    const auto& vars = WorkflowFuzzVariables();
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline void CheckWorkflowError(const std::string& where, const Error& e, std::string_view prefix,
                               std::string_view input, std::vector<std::string>& out) {
  if (e.code != errc::kBadRequest) out.push_back(where + ": error is not bad_request");
  if (e.message.size() <= prefix.size() || e.message.compare(0, prefix.size(), prefix) != 0) {
    out.push_back(where + ": error does not name the document and say why: " + Excerpt(e.message));
  }
  for (const auto& [name, value] : WorkflowFuzzVariables()) {
    // A value the input spells out itself is not a secret of the lookup.
    if (input.find(value) != std::string_view::npos) continue;
    if (e.message.find(value) != std::string::npos) {
      out.push_back(where + ": error quotes the value of ${" + name +
                    "}: " + Excerpt(e.message, 200));
    }
  }
}

inline void CheckBootstrap(const std::string& where, const workflow::Bootstrap& b,
                           std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": accepted: " + what); };
  std::set<std::string> ids;
  for (const workflow::Deployment& d : b.deployments) {
    if (!workflow::ValidName(d.id)) fail("deployment id " + Excerpt(d.id));
    if (!ids.insert(d.id).second) fail("two deployments with id " + Excerpt(d.id));
    if (d.config.file.empty() == d.config.url.empty()) fail("not exactly one of config file/url");
    if (!d.config.file.empty() && d.config.file.front() != '/') fail("relative config file");
    if (!d.config.url.empty() && d.config.url.rfind("http://", 0) != 0 &&
        d.config.url.rfind("https://", 0) != 0) {
      fail("config url not http(s)");
    }
    if (d.config.poll.count() < 0 ||
        (d.config.poll.count() != 0 && d.config.poll < std::chrono::milliseconds(100))) {
      fail("config poll out of range");
    }
    if (d.config.timeout < std::chrono::milliseconds(100) ||
        d.config.timeout > std::chrono::minutes(5)) {
      fail("config timeout out of range");
    }
    if (d.persistence_dir.empty() || d.persistence_dir.front() != '/')
      fail("relative persistence_dir");
    for (const auto& [id, host] : d.hosts) {
      if (!workflow::ValidName(id) || host.policy.id != id) fail("host id " + Excerpt(id));
      if (host.policy.base_url.empty()) fail("host without url");
      if (host.policy.allow) {
        for (const auto& rule : *host.policy.allow) {
          if (rule.path.empty() || rule.path.front() != '/') fail("allow path not starting with /");
          if (rule.method.empty()) fail("allow rule without method");
        }
      }
      if (host.policy.max_redirects < 0 || host.policy.max_redirects > 20) fail("max_redirects");
      if (host.policy.timeout.count() < 0 || host.policy.connect_timeout.count() < 0) {
        fail("negative host timeout");
      }
    }
    std::set<std::string> outputs;
    for (const workflow::OutputEntry& o : d.outputs) {
      if (!workflow::ValidName(o.id) || !outputs.insert(o.id).second)
        fail("output id " + Excerpt(o.id));
      if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0) fail("output url");
      if (o.batch_max < 1 || o.batch_max > 10000) fail("output batch_max");
      if (o.flush_interval.count() < 0) fail("negative flush_interval");
    }
    if (d.limits.cpu_time < std::chrono::milliseconds(1) ||
        d.limits.cpu_time > std::chrono::minutes(5)) {
      fail("cpu_time out of range");
    }
    if (d.limits.memory_bytes < (1u << 20) || d.limits.memory_bytes > (1u << 30)) {
      fail("memory_bytes out of range");
    }
    if (d.max_concurrent_runs < 1) fail("max_concurrent_runs below 1");
  }
  for (std::size_t i = 1; i < b.secrets.size(); ++i) {
    if (b.secrets[i - 1].size() < b.secrets[i].size()) fail("secrets not longest first");
  }
}

inline void CheckChain(const std::string& where, const workflow::ProcessorChain& chain,
                       std::vector<std::string>& out) {
  if (chain.size() > 32) out.push_back(where + ": more than 32 processors");
  for (const workflow::Processor& p : chain) {
    if (p.name.empty()) out.push_back(where + ": a processor without a name");
  }
}

inline void CheckWorkflowConfig(const std::string& where, const workflow::WorkflowConfig& c,
                                std::string_view input, std::vector<std::string>& out) {
  const auto fail = [&](const std::string& what) { out.push_back(where + ": accepted: " + what); };
  if (c.digest != workflow::ConfigDigest(input) || c.digest.size() != 64) fail("digest");
  std::set<std::string> names;
  for (const workflow::Workflow& w : c.workflows) {
    if (!workflow::ValidName(w.name) || !names.insert(w.name).second) {
      fail("workflow name " + Excerpt(w.name));
    }
    std::set<std::string> steps;
    for (const workflow::Step& s : w.steps) {
      const std::string sw = where + ": " + w.name + "/" + s.id;
      if (!workflow::ValidName(s.id) || !steps.insert(s.id).second)
        fail("step id " + Excerpt(s.id));
      if (s.trigger.kind == workflow::Trigger::Kind::kTimer &&
          (s.trigger.period < std::chrono::milliseconds(10) || s.trigger.delay.count() < 0)) {
        fail("timer period below 10ms or negative delay");
      }
      if (s.timeout && *s.timeout < std::chrono::milliseconds(1)) fail("timeout below 1ms");
      for (const auto* chain : {&s.auth, &s.url, &s.payload, &s.results, &s.connect_failed}) {
        CheckChain(sw, *chain, out);
      }
      for (const workflow::StatusHandler& h : s.on_status) {
        if (h.from < 100 || h.to > 599 || h.from > h.to) fail("status range out of 100-599");
        CheckChain(sw + " on_status", h.processors, out);
      }
    }
  }
}

// Invariants: no crash; a refusal is bad_request, names the document ("boot.json: …",
// "wf.json: …") and says why, and never quotes a ${VAR} value; an accepted bootstrap keeps the
// documented rules (valid unique ids, exactly one configuration source, absolute paths, timeouts,
// limits and batch sizes in range, secrets longest first); an accepted workflow configuration
// has the digest of its text, valid unique workflow and step ids, timers of at least 10ms,
// status ranges within 100-599 and at most 32 processors per chain.
inline std::vector<std::string> CheckWorkflowDocuments(std::string_view input) {
  std::vector<std::string> out;
  const workflow::EnvLookup lookups[] = {workflow::EnvLookup{}, WorkflowFuzzLookup()};
  for (const workflow::EnvLookup& env : lookups) {
    const std::string where = env ? "bootstrap (variables set)" : "bootstrap (no variables)";
    auto b = workflow::ParseBootstrap(input, "boot.json", env, /*read_secret_files=*/false);
    if (!b) {
      CheckWorkflowError(where, b.error(), "boot.json: ", input, out);
    } else {
      if (b->path != "boot.json") out.push_back(where + ": path not kept");
      CheckBootstrap(where, *b, out);
    }
  }
  auto c = workflow::ParseWorkflowConfig(input, "wf.json", "");
  if (!c) {
    CheckWorkflowError("workflow configuration", c.error(), "wf.json: ", input, out);
  } else if (*c == nullptr) {
    out.push_back("workflow configuration: accepted as a null pointer");
  } else {
    CheckWorkflowConfig("workflow configuration", **c, input, out);
  }
  return out;
}

}  // namespace opsorch::testing
