// Per-deployment persisted step state (ctx.persist): one SQLite file in the deployment's
// persistence directory, keyed by (workflow, step, key). Survives restarts and reloads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::sqlite {
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
  // nullopt deletes. Errors: bad_request naming the limit. The quota check reads the step's
  // kept totals: a write costs the same however many keys the step holds.
  Status Set(std::string_view workflow, std::string_view step, std::string_view key,
             std::optional<std::string_view> value);

  // SQLite virtual-machine steps of the last Set: its work, machine-independent (tests).
  std::int64_t LastSetVmSteps() {
    std::lock_guard lock(mu_);
    return last_set_vm_steps_;
  }

 private:
  explicit StateStore(std::string dir);
  Status EnsureOpen();  // with mu_ held
  Status SetInTransaction(std::string_view workflow, std::string_view step, std::string_view key,
                          std::optional<std::string_view> value);
  std::int64_t last_set_vm_steps_ = 0;
  std::mutex mu_;
  const std::string dir_;
  std::unique_ptr<sqlite::Connection> db_;
};

}  // namespace opsorch::workflow
