// Small helpers shared by the mock providers: matching, ids, errors, a deterministic PRNG.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/common/error.h>
#include <opsorch/common/json.h>
#include <opsorch/common/time.h>

namespace opsorch::providers::mock {

inline constexpr std::int64_t kNanosPerMilli = 1'000'000;
inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr std::int64_t kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr std::int64_t kNanosPerHour = 60 * kNanosPerMinute;
inline constexpr std::int64_t kNanosPerDay = 24 * kNanosPerHour;

// Readers over the demo world's rows (demo::World(), src/demo/demo_world.json). The document is
// ours and checked by tests, so a missing or mistyped member reads as empty (or `otherwise`).
std::string DataString(const JsonObject& row, std::string_view key);
std::int64_t DataInt(const JsonObject& row, std::string_view key, std::int64_t otherwise = 0);
double DataNumber(const JsonObject& row, std::string_view key, double otherwise = 0);
std::vector<std::string> DataStrings(const JsonObject& row, std::string_view key);
// Calls f(const JsonObject&) for each object in the array `key` of `row`.
template <class F>
void ForEachDataRow(const JsonObject& row, std::string_view key, F&& f) {
  const JsonValue* v = row.if_contains(key);
  if (v == nullptr || !v->is_array()) return;
  for (const JsonValue& r : v->get_array()) {
    if (r.is_object()) f(r.get_object());
  }
}

// Case-insensitive (ASCII) substring test; an empty needle matches everything.
bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle);

// Case-insensitive membership: true when `list` is empty or holds `value`.
bool EmptyOrContainsIgnoreCase(const std::vector<std::string>& list, std::string_view value);

// Every wanted key must be present with a case-insensitively equal value.
bool TagsMatch(const StringMap& have, const StringMap& want);

// "inc-" + 7 (width 3) → "inc-007".
std::string FormatId(std::string_view prefix, std::int64_t n, int width);

// The number after `prefix` in an id such as "inc-007", if the rest is all digits.
std::optional<std::int64_t> ParseIdNumber(std::string_view id, std::string_view prefix);

// Error{"not_found", "<kind> <id> not found"}.
Error NotFound(std::string_view kind, std::string_view id);
Error BadRequest(std::string message);
Error Conflict(std::string message);

// Keeps the first `limit` elements when limit > 0; limit <= 0 means "no limit".
template <class T>
void ApplyLimit(std::vector<T>& items, std::int64_t limit) {
  if (limit > 0 && items.size() > static_cast<std::size_t>(limit)) {
    items.resize(static_cast<std::size_t>(limit));
  }
}

// The string value at `key`, or "" when absent or not a string.
std::string StringField(const JsonObject& object, std::string_view key);

// Copies every key of `from` into `into` (later wins): how updates merge fields/metadata.
void MergeInto(JsonObject& into, const JsonObject& from);

// FNV-1a over `s`, finished with a SplitMix64 round so that near-identical inputs diverge.
std::uint64_t Hash64(std::string_view s, std::uint64_t seed = 0);
std::uint64_t Mix64(std::uint64_t x);

// SplitMix64: tiny, fast and fully deterministic across platforms (unlike std::*_distribution).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next();
  // Uniform in [0, n); n must be > 0.
  std::uint64_t Below(std::uint64_t n) { return Next() % n; }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi].
  std::int64_t Range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(Below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  template <class T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  std::uint64_t state_;
};

// Lower-case hex of the low `digits` nibbles of `v`.
std::string Hex(std::uint64_t v, int digits);

}  // namespace opsorch::providers::mock
