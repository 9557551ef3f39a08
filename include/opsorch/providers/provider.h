// Base of every provider. A provider is created by a factory (registry.h) that validates its
// JSON config once; after that its methods are called concurrently from request threads.
#pragma once

#include <memory>

namespace opsorch::providers {

class Provider {
 public:
  virtual ~Provider() = default;

  // True when calls may block for I/O (plugins, databases): the API layer then runs them on a
  // worker pool instead of an event-loop thread. In-memory providers answer inline.
  virtual bool IsBlocking() const { return false; }

  // True for the plugin host's adapters, whose every operation is exactly one plugin call: the
  // API then runs the operation on the request's event loop (plugin/deferred.h) instead of
  // holding a worker thread for it.
  virtual bool CallsPlugin() const { return false; }
};

using ProviderPtr = std::shared_ptr<Provider>;

}  // namespace opsorch::providers
