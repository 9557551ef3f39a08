// Stores for the engine tests: a fresh SQLite file per test, and a fresh database per test on
// the PostgreSQL server named by OPSORCH_TEST_POSTGRES_URL (`make test` starts one with
// scripts/pg-test-cluster). Without that variable the postgres cases fail and say how to get a
// server: CI must run them, never skip them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opsorch/engine/store.h>

namespace opsorch::engine {

// Always "sqlite" and "postgres" (the list is fixed when ctest discovers the tests).
std::vector<std::string> TestBackends();

// A new, migrated, empty store of that backend.
Result<std::unique_ptr<Store>> OpenTestStore(const std::string& backend);

}  // namespace opsorch::engine
