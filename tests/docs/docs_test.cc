// The documentation stands alone: no page points outside the repository, and every relative
// link of a page leads to a file or directory that exists.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_paths.h"

namespace opsorch::testing {
namespace {

namespace fs = std::filesystem;

TEST(Docs, EveryPageStandsAloneAndItsLinksResolve) {
  const fs::path root = fs::path(OPSORCH_TEST_DATA_DIR).parent_path();
  std::vector<fs::path> pages = {root / "README.md", root / "STYLE.md", root / "src" / "README.md"};
  for (const char* dir : {"docs", "examples"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      if (e.path().extension() == ".md") pages.push_back(e.path());
    }
  }
  ASSERT_GE(pages.size(), 8u);
  const std::regex link(R"(\]\(([^)#\s]+)(#[^)]*)?\))");
  for (const fs::path& page : pages) {
    std::ifstream in(page);
    ASSERT_TRUE(in) << page;
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    EXPECT_EQ(text.find("../shared"), std::string::npos)
        << page << " points outside the repository";
    for (auto it = std::sregex_iterator(text.begin(), text.end(), link);
         it != std::sregex_iterator(); ++it) {
      const std::string target = (*it)[1];
      if (target.find("://") != std::string::npos || target.starts_with("mailto:")) continue;
      const fs::path resolved = fs::weakly_canonical(page.parent_path() / target);
      EXPECT_TRUE(fs::exists(resolved)) << page << ": broken link " << target;
      EXPECT_EQ(resolved.string().rfind(fs::weakly_canonical(root).string(), 0), 0u)
          << page << ": " << target << " leaves the repository";
    }
  }
}

}  // namespace
}  // namespace opsorch::testing
