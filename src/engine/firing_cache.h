// Which alerts pushed through the Alertmanager API fire now, with which digest, as this node
// last wrote them: the push route decodes such an alert only as far as a refresh needs
// (DecodeAlertmanagerPush's `active`). A stale entry costs one decode more, never a wrong
// write: the engine checks the store (Tx::RefreshLive) and answers `stale`.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace opsorch::engine {

class FiringCache {
 public:
  bool Active(std::string_view service, std::string_view fingerprint, std::int64_t digest) const {
    std::shared_lock lock(mu_);
    const auto s = services_.find(service);
    if (s == services_.end()) return false;
    const auto f = s->second.find(fingerprint);
    return f != s->second.end() && f->second == digest;
  }
  void Put(std::string_view service, std::string_view fingerprint, std::int64_t digest) {
    std::unique_lock lock(mu_);
    if (++size_ > kMaxEntries) {  // bounded: an unknown alert only costs a full decode
      services_.clear();
      size_ = 1;
    }
    auto s = services_.find(service);
    if (s == services_.end()) s = services_.emplace(std::string(service), Map()).first;
    auto f = s->second.find(fingerprint);
    if (f == s->second.end()) {
      s->second.emplace(std::string(fingerprint), digest);
    } else {
      f->second = digest;
      --size_;
    }
  }
  void Erase(std::string_view service, std::string_view fingerprint) {
    std::unique_lock lock(mu_);
    const auto s = services_.find(service);
    if (s == services_.end()) return;
    const auto f = s->second.find(fingerprint);
    if (f == s->second.end()) return;
    s->second.erase(f);
    --size_;
  }

 private:
  static constexpr std::size_t kMaxEntries = 1'000'000;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };
  using Map = std::unordered_map<std::string, std::int64_t, Hash, std::equal_to<>>;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Map, Hash, std::equal_to<>> services_;
  std::size_t size_ = 0;
};

}  // namespace opsorch::engine
