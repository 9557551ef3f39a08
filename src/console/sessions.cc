#include <sodium.h>

#include <algorithm>
#include <opsorch/common/time.h>
#include <opsorch/console/console.h>

namespace opsorch::console {
namespace {

// The map's key: a hash of the token, so the table never holds a usable cookie.
std::string HashOf(std::string_view token) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  return std::string(reinterpret_cast<const char*>(h), sizeof h);
}

}  // namespace

Sessions::Sessions(SessionOptions options) : options_(std::move(options)) {
  // sodium_init is idempotent and thread-safe; randombytes needs it.
  if (sodium_init() < 0) std::abort();
}

std::int64_t Sessions::Now() const {
  return options_.now_ns ? options_.now_ns() : Time::Now().UnixNanos();
}

std::int64_t Sessions::EndsAt(const Entry& e) const {
  const std::int64_t idle = std::chrono::nanoseconds(options_.idle).count();
  const std::int64_t max_age = std::chrono::nanoseconds(options_.max_age).count();
  return std::min(e.last_used_ns + idle, e.created_ns + max_age);
}

void Sessions::DropExpiredLocked(std::int64_t now) {
  std::erase_if(by_hash_, [&](const auto& kv) { return EndsAt(kv.second) <= now; });
}

Sessions::Created Sessions::Create(api::SessionIdentity who) {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char text[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof text, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  Created out{text, 0};
  const std::int64_t now = Now();
  std::lock_guard lock(mu_);
  if (by_hash_.size() >= options_.max_sessions) {
    DropExpiredLocked(now);
    while (!by_hash_.empty() && by_hash_.size() >= options_.max_sessions) {
      auto oldest = std::min_element(by_hash_.begin(), by_hash_.end(), [&](auto& a, auto& b) {
        return EndsAt(a.second) < EndsAt(b.second);
      });
      by_hash_.erase(oldest);
    }
  }
  Entry e{std::move(who), now, now};
  out.expires_at_ns = EndsAt(e);
  by_hash_.emplace(HashOf(out.token), std::move(e));
  return out;
}

void Sessions::Revoke(std::string_view token) {
  if (token.empty()) return;
  std::lock_guard lock(mu_);
  by_hash_.erase(HashOf(token));
}

std::optional<api::SessionIdentity> Sessions::Verify(std::string_view token) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  const std::string key = HashOf(token);
  const std::int64_t now = Now();
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(key);
  if (it == by_hash_.end()) return std::nullopt;
  if (EndsAt(it->second) <= now) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_used_ns = now;
  return it->second.who;
}

std::optional<std::pair<api::SessionIdentity, std::int64_t>> Sessions::Peek(
    std::string_view token) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  const std::string key = HashOf(token);
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(key);
  if (it == by_hash_.end() || EndsAt(it->second) <= Now()) return std::nullopt;
  return std::pair{it->second.who, EndsAt(it->second)};
}

std::size_t Sessions::Size() {
  std::lock_guard lock(mu_);
  DropExpiredLocked(Now());
  return by_hash_.size();
}

}  // namespace opsorch::console
