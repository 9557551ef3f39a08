#include "engine/store_fixture.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>

#include <unistd.h>

#include <opsorch/common/error.h>

namespace opsorch::engine {

std::vector<std::string> TestBackends() {
  std::vector<std::string> out{"sqlite"};
  if (const char* pg = std::getenv("OPSORCH_TEST_POSTGRES_URL"); pg != nullptr && *pg != '\0') {
    out.emplace_back("postgres");
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenTestStore(const std::string& backend) {
  static std::atomic<int> counter{0};
  const std::string name = "store-" + std::to_string(counter++);
  if (backend == "sqlite") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("opsorch-engine-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / (name + ".db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path.string() + suffix);
    }
    return OpenStore("sqlite:" + path.string());
  }
  return Fail(errc::kBadRequest, "backend " + backend + " is not available in this build");
}

}  // namespace opsorch::engine
