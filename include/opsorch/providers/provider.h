// Base of every provider. A provider is created by a factory (registry.h) that validates its
// JSON config once; after that its methods are called concurrently from request threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/common/loop.h>
#include <opsorch/common/result.h>

namespace opsorch::providers {

class Provider {
 public:
  virtual ~Provider() = default;
};

using ProviderPtr = std::shared_ptr<Provider>;

// How the API calls an in-process provider's operations (src/README.md, "Provider calls"):
// declared once, by its registration.
enum class CallModel : std::uint8_t {
  kInline,  // in memory: on the event-loop thread that has the request
  kPool,    // may wait on a disk or a database: on the bounded worker pool
};

// A provider whose every operation is one call to another process (a plugin): the operation's
// method and JSON payload go out, its JSON result comes back (operations.h has both for every
// operation). The API awaits it on the request's event loop; nothing holds a thread meanwhile.
class RemoteProvider : public Provider {
 public:
  // Blocks until the answer (for callers that have a thread to spare).
  virtual Result<JsonValue> Call(std::string_view method, std::string_view payload) = 0;
  // `done` runs once, on `loop`'s thread.
  virtual void CallAsync(Loop& loop, std::string_view method, std::string payload,
                         std::function<void(Result<JsonValue>)> done) = 0;
};

}  // namespace opsorch::providers
