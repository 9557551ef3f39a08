#include "providers/mock/messaging_provider.h"

#include <opsorch/common/strings.h>

#include "providers/mock/util.h"
#include "providers/mock/world.h"

namespace opsorch::providers::mock {
namespace {
constexpr std::size_t kPreviewBytes = 80;

// The first bytes of the body, cut on a UTF-8 character boundary.
std::string Preview(const std::string& body) {
  if (body.size() <= kPreviewBytes) return body;
  return std::string(Utf8Prefix(body, kPreviewBytes)) + "…";
}
}  // namespace

Result<std::shared_ptr<MockMessagingProvider>> MockMessagingProvider::FromConfig(
    const JsonObject& config) {
  const ConfigReader reader(config, "mock messaging provider");
  auto now = ReadCommonConfig(reader, {kNowKey});
  if (!now) return Fail(std::move(now.error()));
  return std::make_shared<MockMessagingProvider>(Options{*now});
}

Result<s::MessageResult> MockMessagingProvider::Send(const s::Message& m) {
  const std::string_view channel = TrimSpace(m.channel);
  if (channel.empty()) return Fail(BadRequest("channel is required"));
  if (TrimSpace(m.body).empty()) return Fail(BadRequest("body is required"));
  const Time now = clock_.Now();

  std::lock_guard lock(mu_);
  s::MessageResult r;
  r.id = FormatId("msg-", next_number_++, 4);
  r.channel = std::string(channel);
  r.sent_at = now;
  // Channel names such as "#incidents" are percent-encoded in the path segment.
  r.url = "https://chat." + std::string(kDemoDomain) + "/" + PercentEncode(channel) + "/" + r.id;
  r.metadata["provider"] = "mock";
  r.metadata["status"] = "delivered";
  r.metadata["blocks"] = static_cast<std::int64_t>(m.blocks.size());
  r.metadata["channelType"] = channel.front() == '@' ? "direct" : "channel";
  r.metadata["preview"] = Preview(m.body);
  if (!m.thread_ref.empty()) r.metadata["threadRef"] = m.thread_ref;
  sent_.push_back(SentMessage{m, r});
  if (sent_.size() > kHistoryLimit) sent_.pop_front();
  return r;
}

std::vector<MockMessagingProvider::SentMessage> MockMessagingProvider::SentForTest() const {
  std::lock_guard lock(mu_);
  return {sent_.begin(), sent_.end()};
}

}  // namespace opsorch::providers::mock
