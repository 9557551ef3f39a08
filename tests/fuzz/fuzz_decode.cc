// libFuzzer target: every input is decoded as every wire type (tests/fuzz/decode_all.h). ASan and
// UBSan catch memory and arithmetic errors; an invariant violation aborts so that libFuzzer saves
// the input. Built only with -DOPSORCH_BUILD_FUZZERS=ON (make fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz/decode_all.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto violations = opsorch::testing::DecodeAll(input);
  if (!violations.empty()) {
    for (const auto& v : violations) std::fprintf(stderr, "fuzz_decode: %s\n", v.c_str());
    std::abort();
  }
  return 0;
}
