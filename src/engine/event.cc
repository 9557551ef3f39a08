#include <opsorch/engine/event.h>

namespace opsorch::engine {

std::string_view Name(EventAction a) {
  switch (a) {
    case EventAction::kTrigger:
      return "trigger";
    case EventAction::kAcknowledge:
      return "acknowledge";
    case EventAction::kResolve:
      return "resolve";
  }
  return "trigger";  // unreachable: the switch covers every enumerator
}

std::string_view Name(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "critical";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "error";  // unreachable
}

std::optional<Severity> ParseSeverity(std::string_view s) {
  for (const Severity v :
       {Severity::kCritical, Severity::kError, Severity::kWarning, Severity::kInfo}) {
    if (Name(v) == s) return v;
  }
  return std::nullopt;
}

}  // namespace opsorch::engine
