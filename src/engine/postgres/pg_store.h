#pragma once

#include <memory>
#include <string>

#include <opsorch/engine/store.h>

namespace opsorch::engine::postgres {

// Connects to `url` (postgres://user:pass@host:port/db?…), applies pending migrations (under an
// advisory lock, so several nodes can start at once) and returns the store.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url,
                                                 const StoreOptions& options = {});

}  // namespace opsorch::engine::postgres
