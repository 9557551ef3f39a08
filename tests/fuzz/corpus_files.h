// Reading a fuzz target's seed corpus directory for its regression test.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace opsorch::testing {

struct CorpusFile {
  std::string name;
  std::string bytes;
};

inline std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every regular file of `dir`, by name (empty when the directory is missing).
inline std::vector<CorpusFile> ReadCorpusDir(const std::filesystem::path& dir) {
  std::vector<CorpusFile> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) {
      files.push_back({entry.path().filename().string(), ReadFileBytes(entry.path())});
    }
  }
  std::sort(files.begin(), files.end(),
            [](const CorpusFile& a, const CorpusFile& b) { return a.name < b.name; });
  return files;
}

}  // namespace opsorch::testing
