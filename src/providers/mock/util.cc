#include "providers/mock/util.h"

#include <opsorch/common/strings.h>

namespace opsorch::providers::mock {
namespace {
char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  const auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                              [](char a, char b) { return LowerAscii(a) == LowerAscii(b); });
  return it != haystack.end();
}

bool EmptyOrContainsIgnoreCase(const std::vector<std::string>& list, std::string_view value) {
  if (list.empty()) return true;
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& s) { return EqualsIgnoreCase(s, value); });
}

bool TagsMatch(const StringMap& have, const StringMap& want) {
  for (const auto& [key, value] : want) {
    auto it = have.find(key);
    if (it == have.end() || !EqualsIgnoreCase(it->second, value)) return false;
  }
  return true;
}

std::string FormatId(std::string_view prefix, std::int64_t n, int width) {
  std::string digits = std::to_string(n);
  std::string out(prefix);
  if (static_cast<int>(digits.size()) < width) {
    out.append(static_cast<std::size_t>(width) - digits.size(), '0');
  }
  out += digits;
  return out;
}

std::optional<std::int64_t> ParseIdNumber(std::string_view id, std::string_view prefix) {
  if (!id.starts_with(prefix)) return std::nullopt;
  std::string_view rest = id.substr(prefix.size());
  if (rest.empty() || rest.size() > 18) return std::nullopt;
  std::int64_t n = 0;
  for (char c : rest) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

Error NotFound(std::string_view kind, std::string_view id) {
  return MakeError(errc::kNotFound, std::string(kind) + " " + std::string(id) + " not found");
}

Error BadRequest(std::string message) { return MakeError(errc::kBadRequest, std::move(message)); }

Error Conflict(std::string message) { return MakeError(errc::kConflict, std::move(message)); }

std::string StringField(const JsonObject& object, std::string_view key) {
  const JsonValue* v = object.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

void MergeInto(JsonObject& into, const JsonObject& from) {
  for (const auto& kv : from) into[kv.key()] = kv.value();
}

std::uint64_t Mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t Hash64(std::string_view s, std::uint64_t seed) {
  std::uint64_t h = 0xCBF29CE484222325ULL ^ seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return Mix64(h);
}

std::uint64_t Rng::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::string Hex(std::uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[v & 0xF];
    v >>= 4;
  }
  return out;
}

std::string DataString(const JsonObject& row, std::string_view key) {
  const JsonValue* v = row.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t DataInt(const JsonObject& row, std::string_view key, std::int64_t otherwise) {
  const JsonValue* v = row.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : otherwise;
}

double DataNumber(const JsonObject& row, std::string_view key, double otherwise) {
  const JsonValue* v = row.if_contains(key);
  if (v == nullptr) return otherwise;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  return otherwise;
}

std::vector<std::string> DataStrings(const JsonObject& row, std::string_view key) {
  std::vector<std::string> out;
  const JsonValue* v = row.if_contains(key);
  if (v == nullptr || !v->is_array()) return out;
  for (const JsonValue& s : v->get_array()) {
    if (s.is_string()) out.emplace_back(s.get_string());
  }
  return out;
}

}  // namespace opsorch::providers::mock
