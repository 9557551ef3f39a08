// `opsorch workflow test FILE...`: runs workflows in the real runtime — real sandbox, real
// HTTP client, real allowlists — against declared mock responses served on loopback, and
// asserts the calls made, the metrics sent, the logs written and what the logs must not
// contain. Test file format: docs/WORKFLOWS.md "Testing workflows".
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace opsorch::workflow {

struct TestSummary {
  int passed = 0;
  int failed = 0;
};

// Prints one line per test ("PASS name (12 ms)" / "FAIL name: reason", reasons indented below)
// and a closing "N passed, N failed" line.
TestSummary RunWorkflowTests(const std::vector<std::string>& files, std::ostream& out);

}  // namespace opsorch::workflow
