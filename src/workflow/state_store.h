// Per-deployment persisted step state (ctx.persist): one SQLite file in the deployment's
// persistence directory, keyed by (workflow, step, key). Survives restarts and reloads.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::engine::sqlite {
class Connection;
}

namespace opsorch::workflow {

class StateStore {
 public:
  static constexpr std::size_t kMaxKeyBytes = 256;
  static constexpr std::size_t kMaxValueBytes = 1u << 20;
  static constexpr std::size_t kMaxKeysPerStep = 10000;
  static constexpr std::size_t kMaxBytesPerStep = 64u << 20;

  // Creates the directory (0700). The database is opened on first use: most workflows never
  // persist anything, and each SQLite connection costs ~100 KB (lookaside, page cache).
  static Result<std::unique_ptr<StateStore>> Open(const std::string& dir);
  ~StateStore();

  Result<std::optional<std::string>> Get(std::string_view workflow, std::string_view step,
                                         std::string_view key);
  // nullopt deletes. Errors: bad_request naming the limit.
  Status Set(std::string_view workflow, std::string_view step, std::string_view key,
             std::optional<std::string_view> value);

 private:
  explicit StateStore(std::string dir);
  Status EnsureOpen();  // with mu_ held
  std::mutex mu_;
  const std::string dir_;
  std::unique_ptr<engine::sqlite::Connection> db_;
};

}  // namespace opsorch::workflow
