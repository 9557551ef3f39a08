// libFuzzer target: silences and recurring mutes (opsorch_silence) — POST bodies, matcher text,
// time-interval sets and regex shapes, with the invariants listed in tests/fuzz/silence_check.h.
// An invariant violation aborts so that libFuzzer saves the input. Built only with
// -DOPSORCH_BUILD_FUZZERS=ON (make fuzz, scripts/fuzz-all).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "fuzz/silence_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  return opsorch::testing::AbortOnViolations("fuzz_silence", opsorch::testing::CheckSilence(input));
}
