// The live providers of a running server, one slot per capability. Slots are swapped
// atomically: a request holds the shared_ptr it loaded, so in-flight calls finish on the old
// provider while new requests see the new one (contract §13 #10).
#pragma once

#include <array>
#include <atomic>
#include <memory>

#include <opsorch/providers/capability.h>
#include <opsorch/providers/provider.h>

namespace opsorch::providers {

class ProviderSet {
 public:
  template <class P>
  std::shared_ptr<P> Get() const {
    return std::static_pointer_cast<P>(
        slots_[Index(P::kCapability)].load(std::memory_order_acquire));
  }
  ProviderPtr Get(Capability c) const { return slots_[Index(c)].load(std::memory_order_acquire); }
  bool Configured(Capability c) const { return Get(c) != nullptr; }

  // `provider` must implement the interface of `c` (or be null to unconfigure).
  void Set(Capability c, ProviderPtr provider) {
    slots_[Index(c)].store(std::move(provider), std::memory_order_release);
  }

 private:
  std::array<std::atomic<ProviderPtr>, kCapabilityCount> slots_;
};

}  // namespace opsorch::providers
