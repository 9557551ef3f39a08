// The plugin binaries of the opsorch_tests binary (OPSORCH_PLUGIN_MOCK, OPSORCH_FAULT_PLUGIN are
// in test_paths.h, which tests/CMakeLists.txt generates).
#pragma once

#include <filesystem>
#include <string>

#include "test_paths.h"

namespace opsorch::testing {

// OPSORCH_PLUGIN_DIRS for tests that configure the test plugins through the API: the
// directories of the mock and fault plugin binaries.
inline std::string TestPluginDirs() {
  return std::filesystem::path(OPSORCH_PLUGIN_MOCK).parent_path().string() + ":" +
         std::filesystem::path(OPSORCH_FAULT_PLUGIN).parent_path().string();
}

}  // namespace opsorch::testing
