// The workflow configuration: untrusted, reloadable logic — workflows of steps, each step a
// fixed pipeline of Lua processors around at most one HTTP call. Format: docs/WORKFLOWS.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/workflow/expectation.h>
#include <opsorch/workflow/script.h>

namespace opsorch::workflow {

struct Processor {
  std::string name;    // "inline" or the resource name, for messages
  std::string source;  // Lua
  JsonObject data;
};
using ProcessorChain = std::vector<Processor>;

struct StatusHandler {
  int from = 0, to = 0;  // inclusive range of HTTP statuses
  ProcessorChain processors;
};

struct Trigger {
  enum class Kind { kCall, kTimer, kOnce };
  Kind kind = Kind::kCall;
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds period{0};
};

struct Step {
  std::string id;
  // A token step: url and payload processors run in the authentication context and it may call
  // authentication-only hosts.
  bool authentication = false;
  Trigger trigger;
  JsonObject data;
  ProcessorChain auth, url, payload, results, connect_failed;
  std::vector<StatusHandler> on_status;              // first match wins, in file order
  std::optional<std::chrono::milliseconds> timeout;  // overrides the host's
};

struct Workflow {
  std::string name;
  JsonObject data;
  std::vector<Step> steps;
};

struct WorkflowConfig {
  JsonObject data;
  std::vector<Workflow> workflows;  // enabled ones only
  // What "wrong" looks like for the metrics the workflows emit (`expectations`): the runtime
  // turns a held breach into an incident (docs/WORKFLOWS.md, "Expected behaviour").
  std::vector<Expectation> expectations;
  std::string digest;  // of the source text: reloads only on change
};

// The rule for every name in both documents (deployment, host, output, workflow and step ids):
// 1-64 characters of [A-Za-z0-9._-], so that names are safe in paths, logs and metrics.
bool ValidName(std::string_view name);

// The digest WorkflowConfig::digest holds for `text` (SHA-256, hex).
std::string ConfigDigest(std::string_view text);

// Validates the whole document: unknown fields, step id uniqueness within a workflow, Lua syntax
// of every processor, resources that exist, triggers, status ranges. `base_dir` resolves
// `{"file": …}` resources (empty for configs fetched over HTTP: file resources refused). Errors
// name the source, the JSON path and the rule: "budget.json: workflows[0].steps[1].results:
// [string \"…\"]:3: unexpected symbol near 'x'".
Result<std::shared_ptr<const WorkflowConfig>> ParseWorkflowConfig(std::string_view text,
                                                                  const std::string& source,
                                                                  const std::string& base_dir);

// The configuration with every `{"file": "x.lua"}` resource replaced by the file's text, read
// under ParseWorkflowConfig's rules (a regular file inside `base_dir` once symlinks are
// resolved, at most 1 MiB): a document that no longer needs its directory (a package). The
// JSON is written anew (keys sorted, no whitespace); errors name `what` and the resource.
Result<std::string> InlineResources(std::string_view config_text, const std::string& base_dir,
                                    const std::string& what);

}  // namespace opsorch::workflow
