// The live providers of a running server, one slot per capability. A swap is atomic: a request
// holds the shared_ptr it loaded, so in-flight calls finish on the old provider while new
// requests see the new one (contract §13 #10).
//
// Each slot is a shared_ptr behind its own mutex rather than std::atomic<std::shared_ptr>:
// libstdc++ 12's atomic<shared_ptr> unlocks loads with a relaxed store, which is a data race by
// the memory model (fixed in GCC 13) and is reported by ThreadSanitizer. The lock is held only
// to copy the pointer.
#pragma once

#include <array>
#include <memory>
#include <mutex>

#include <opsorch/providers/capability.h>
#include <opsorch/providers/provider.h>

namespace opsorch::providers {

class ProviderSet {
 public:
  template <class P>
  std::shared_ptr<P> Get() const {
    return std::static_pointer_cast<P>(Get(P::kCapability));
  }
  ProviderPtr Get(Capability c) const {
    const Slot& s = slots_[Index(c)];
    std::lock_guard lock(s.mu);
    return s.provider;
  }
  bool Configured(Capability c) const { return Get(c) != nullptr; }

  // `provider` must implement the interface of `c` (or be null to unconfigure). The previous
  // provider is released outside the lock (its destructor may stop plugin processes).
  void Set(Capability c, ProviderPtr provider) {
    Slot& s = slots_[Index(c)];
    {
      std::lock_guard lock(s.mu);
      s.provider.swap(provider);
    }
  }

 private:
  struct Slot {
    mutable std::mutex mu;
    ProviderPtr provider;
  };
  std::array<Slot, kCapabilityCount> slots_;
};

}  // namespace opsorch::providers
