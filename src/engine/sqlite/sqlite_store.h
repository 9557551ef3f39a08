#pragma once

#include <memory>
#include <string>

#include <opsorch/engine/store.h>

namespace opsorch::engine::sqlite {

// Opens (creating) the database at `path` and applies pending migrations.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace opsorch::engine::sqlite
