// Stores for the engine tests: a fresh SQLite file per test, and (when the tests were given a
// PostgreSQL server in OPSORCH_TEST_POSTGRES_URL) a fresh database per test on it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opsorch/engine/store.h>

namespace opsorch::engine {

// "sqlite", plus "postgres" when OPSORCH_TEST_POSTGRES_URL is set.
std::vector<std::string> TestBackends();

// A new, migrated, empty store of that backend.
Result<std::unique_ptr<Store>> OpenTestStore(const std::string& backend);

}  // namespace opsorch::engine
