// libFuzzer target: the paging admin API's bodies (schedules, overrides, people, escalation
// policies) through their decoders, and what a decoded schedule renders (tests/fuzz/
// paging_config_check.h, whose comment lists the invariants). An invariant violation aborts so
// that libFuzzer saves the input. Built only with -DOPSORCH_BUILD_FUZZERS=ON (make fuzz,
// scripts/fuzz-all).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "fuzz/paging_config_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  return opsorch::testing::AbortOnViolations("fuzz_paging_config",
                                             opsorch::testing::CheckPagingConfig(input));
}
