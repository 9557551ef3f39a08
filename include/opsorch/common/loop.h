// An event loop (one thread) that code waiting on file descriptors (plugin pipes) uses instead
// of holding a thread. Implemented by the HTTP server's threads; callbacks run on the loop's
// thread and must not block.
#pragma once

#include <chrono>
#include <functional>

namespace opsorch {

class Loop {
 public:
  virtual ~Loop() = default;
  // Calls `ready(true)` once `fd` is readable (or writable), or `ready(false)` at `deadline`,
  // whichever comes first; exactly once. The fd is not owned; it must stay open until then and
  // must not be waited on twice at a time.
  virtual void WaitFd(int fd, bool writable, std::chrono::steady_clock::time_point deadline,
                      std::function<void(bool ready)> ready) = 0;
  // Runs `fn` on the loop's thread, later.
  virtual void Post(std::function<void()> fn) = 0;
};

}  // namespace opsorch
