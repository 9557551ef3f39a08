// Shared by the decoder tests: the seed corpus and a comparable form of decoder errors.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <opsorch/engine/decode.h>

#include "test_paths.h"

namespace opsorch::engine::decode_test {

inline const std::filesystem::path kCorpus =
    std::filesystem::path(OPSORCH_TEST_DATA_DIR) / "engine" / "corpus";

inline std::string ReadCorpus(const std::string& name) {
  std::ifstream in(kCorpus / name, std::ios::binary);
  EXPECT_TRUE(in) << "missing corpus file " << (kCorpus / name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

using ErrorList = std::vector<std::pair<std::string, std::string>>;

template <class T>
ErrorList ErrorsOf(const Decoded<T>& d) {
  ErrorList out;
  if (d) return out;
  for (const FieldError& e : d.error()) out.emplace_back(e.field, e.message);
  return out;
}

}  // namespace opsorch::engine::decode_test
