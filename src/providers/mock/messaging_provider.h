// Mock messaging provider: accepts every well-formed message and remembers the most recent ones.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <opsorch/providers/interfaces.h>

#include "providers/mock/config.h"

namespace opsorch::providers::mock {

class MockMessagingProvider final : public MessagingProvider {
 public:
  // Only the newest messages are kept, so a long-running demo cannot grow without bound.
  static constexpr std::size_t kHistoryLimit = 1000;

  struct Options {
    std::optional<Time> now;
  };

  struct SentMessage {
    s::Message message;
    s::MessageResult result;
  };

  // Config keys: "now" (RFC 3339).
  static Result<std::shared_ptr<MockMessagingProvider>> FromConfig(const JsonObject& config);
  explicit MockMessagingProvider(const Options& options) : clock_(options.now) {}

  Result<s::MessageResult> Send(const s::Message& m) override;

  // Oldest first. Not reachable through the API; for tests.
  std::vector<SentMessage> SentForTest() const;
  Clock& ClockForTest() { return clock_; }

 private:
  Clock clock_;
  mutable std::mutex mu_;  // every call writes, so a plain mutex suffices
  std::deque<SentMessage> sent_;
  std::int64_t next_number_ = 1;
};

}  // namespace opsorch::providers::mock
