// Runs an operation on a plugin-backed provider without holding a thread: the plugin's I/O
// waits on the request's event loop.
//
// Provider interfaces are synchronous, and a plugin adapter makes exactly one plugin call per
// operation. RunOnLoop therefore runs `run` twice: first recording the plugin call it makes
// (nothing is sent; the adapter sees an error and `run`'s result is discarded), then, once the
// plugin has answered, again on the loop's thread with that call answered from the reply. Both
// runs decode and encode alike, so the result is what the synchronous path would give. When
// `run` makes no plugin call (a bad request body, an unconfigured capability), its first result
// is final.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <opsorch/http/message.h>

namespace opsorch::plugin {

namespace detail {
struct Deferred;
std::shared_ptr<Deferred> NewRecording();
bool HasRecordedCall(const Deferred& d);
// Sends the recorded call on `loop`; `on_answer` runs on the loop's thread in replay mode.
void SendRecorded(http::Loop& loop, std::shared_ptr<Deferred> d, std::function<void()> on_answer);
class Scope {  // makes `d` the current thread's interceptor of plugin calls
 public:
  explicit Scope(Deferred* d);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Deferred* previous_;
};
}  // namespace detail

template <class R, class Run, class Finish>
void RunOnLoop(http::Loop& loop, Run run, Finish finish) {
  auto d = detail::NewRecording();
  R first = [&] {
    const detail::Scope scope(d.get());
    return run();
  }();
  if (!detail::HasRecordedCall(*d)) {
    finish(std::move(first));
    return;
  }
  detail::SendRecorded(loop, d, [d, run = std::move(run), finish = std::move(finish)]() mutable {
    R second = [&] {
      const detail::Scope scope(d.get());
      return run();
    }();
    finish(std::move(second));
  });
}

}  // namespace opsorch::plugin
