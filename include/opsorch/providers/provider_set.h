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
#include <opsorch/providers/registry.h>

namespace opsorch::providers {

class ProviderSet {
 public:
  // What a request routes with: the provider, how its calls run, and — for a plugin — its
  // remote interface (then operations go over the plugin's pipes).
  struct Entry {
    ProviderPtr provider;
    CallModel model = CallModel::kInline;
    RemoteProvider* remote = nullptr;  // into `provider`
  };

  // Interface P's provider, or null (unconfigured, or a plugin: use operations.h's Invoke).
  template <class P>
  std::shared_ptr<P> Get() const {
    return std::dynamic_pointer_cast<P>(Get(P::kCapability));
  }
  ProviderPtr Get(Capability c) const { return Lookup(c).provider; }
  Entry Lookup(Capability c) const {
    const Slot& s = slots_[Index(c)];
    std::lock_guard lock(s.mu);
    return s.entry;
  }
  bool Configured(Capability c) const { return Get(c) != nullptr; }

  // `provider` must implement the interface of `c`, or be a RemoteProvider (or null to
  // unconfigure). The previous provider is released outside the lock (its destructor may stop
  // plugin processes).
  void Set(Capability c, BuiltProvider built) {
    Entry e{std::move(built.provider), built.model, nullptr};
    e.remote = dynamic_cast<RemoteProvider*>(e.provider.get());
    Slot& s = slots_[Index(c)];
    {
      std::lock_guard lock(s.mu);
      std::swap(s.entry, e);
    }
  }
  void Set(Capability c, ProviderPtr provider, CallModel model = CallModel::kInline) {
    Set(c, BuiltProvider{std::move(provider), model});
  }

 private:
  struct Slot {
    mutable std::mutex mu;
    Entry entry;
  };
  std::array<Slot, kCapabilityCount> slots_;
};

}  // namespace opsorch::providers
