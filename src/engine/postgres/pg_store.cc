// placeholder: the PostgreSQL store is being written
#include "engine/postgres/pg_store.h"

#include <opsorch/common/error.h>

namespace opsorch::engine::postgres {

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string&) {
  return Fail(errc::kBadRequest, "the PostgreSQL store is not in this build yet");
}

}  // namespace opsorch::engine::postgres
