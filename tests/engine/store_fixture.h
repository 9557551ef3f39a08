// Stores for the engine tests: a fresh SQLite file per test, and a fresh database per test on
// the PostgreSQL server named by OPSORCH_TEST_POSTGRES_URL (`make test` starts one with
// scripts/pg-test-cluster). Without that variable the postgres cases fail and say how to get a
// server: CI must run them, never skip them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <opsorch/engine/store.h>

#include "engine/rules.h"

namespace opsorch::engine {

// Always "sqlite" and "postgres" (the list is fixed when ctest discovers the tests).
std::vector<std::string> TestBackends();

// A new, migrated, empty store of that backend; `url`, if given, receives what OpenStore needs
// to open the same database again (a second node).
Result<std::unique_ptr<Store>> OpenTestStore(const std::string& backend,
                                             std::string* url = nullptr);

// A new, empty (not migrated) database on the OPSORCH_TEST_POSTGRES_URL server, for tests that
// hand its URL to opsorch processes. Dropped by DropPostgresTestDatabase, or when this process
// exits. Without the variable it fails and says how to get a server, as OpenTestStore does.
struct PostgresTestDatabase {
  std::string name;
  std::string url;
};
Result<PostgresTestDatabase> CreatePostgresTestDatabase();

// Drops a database made by CreatePostgresTestDatabase (ending its connections); any other name
// is refused.
Status DropPostgresTestDatabase(const std::string& name);

// One event applied in its own transaction, made durable (as the engine applies a lone event).
Result<Outcome> ApplyOn(Store& store, const IntegrationRow& integration, const Event& e,
                        std::int64_t now, const RulesConfig& config = {});

// The ids of the incident's alerts, newest first (empty if the query fails).
std::vector<std::string> AlertIdsOf(Store& store, const std::string& incident_id);

// The ids of the incidents whose text search for `text` (and `statuses`) finds, newest first;
// a failed query fails the calling test.
std::vector<std::string> SearchIds(Store& store, const std::string& text,
                                   const std::vector<std::string>& statuses = {});

// Resolves the incident at `at` the way the admin and OpsOrch routes do: UpdateIncident, no
// timeline entry.
Status ResolveThroughApi(Store& store, const std::string& incident_id, std::int64_t at);

}  // namespace opsorch::engine
