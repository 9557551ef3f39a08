// Slack incoming webhook: {"text", "blocks"} POSTed to the hook URL. The URL is the credential
// (anyone holding it can post), so it never appears in a detail.
#include <memory>
#include <string>
#include <utility>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/notify/transport.h>

#include "notify/internal.h"

namespace opsorch::notify {
namespace {

using internal::Failed;
using internal::Retry;
using internal::Sent;

// Slack's limits: a section's text 3,000 characters (longer: 400 invalid_blocks), a header's
// 150, the top-level text 40,000 (Slack truncates it silently).
constexpr std::size_t kSectionChars = 3000;
constexpr std::size_t kHeaderChars = 150;
constexpr std::size_t kTextChars = 40000;

// Slack's error body is a short code ("invalid_payload", "channel_is_archived"): worth keeping
// in the detail, and anything else is dropped rather than echoed.
std::string SlackErrorCode(std::string_view body) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  if (body.empty() || body.size() > 64) return {};
  for (char c : body) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9'))) return {};
  }
  return " (" + std::string(body) + ")";
}

DeliveryResult ClassifySlack(const net::OutboundResponse& response) {
  const int status = response.status;
  const std::string http = "HTTP " + std::to_string(status) + SlackErrorCode(response.body);
  if (status >= 200 && status < 300) return Sent(status, http);
  if (status == 429 || status == 408 || (status >= 500 && status < 600)) {
    return Retry(status, http, internal::RetryAfterOf(response.headers));
  }
  if (status >= 300 && status < 400) return Failed(status, http + " (redirects are not followed)");
  return Failed(status, http);
}

// Applies Slack's length limits to the text objects of header and section blocks.
void LimitBlock(JsonValue& block) {
  auto* obj = block.if_object();
  if (obj == nullptr) return;
  const auto* type = obj->if_contains("type");
  if (type == nullptr || !type->is_string()) return;
  const std::size_t limit = type->get_string() == "section"  ? kSectionChars
                            : type->get_string() == "header" ? kHeaderChars
                                                             : 0;
  if (limit == 0) return;
  auto* text = obj->if_contains("text");
  if (text == nullptr || !text->is_object()) return;
  auto* inner = text->get_object().if_contains("text");
  if (inner == nullptr || !inner->is_string()) return;
  const std::string_view s(inner->get_string().data(), inner->get_string().size());
  *inner = boost::json::string(internal::TruncateChars(s, limit));
}

class SlackTransport final : public Transport {
 public:
  explicit SlackTransport(TransportOptions options) : options_(std::move(options)) {}
  std::string_view type() const override { return "slack"; }
  // A resent message shows twice: Slack has no idempotency key for incoming webhooks.
  bool idempotent() const override { return false; }

  DeliveryResult Deliver(const Delivery& d) override {
    if (auto st = CheckHttpUrl(d.address); !st) return Failed(0, "url: " + st.error().message);
    if (d.text.empty() && d.slack_blocks.empty()) return Failed(0, "text: must not be empty");
    if (!internal::ValidUtf8(d.text)) return Failed(0, "text: must be valid UTF-8");
    JsonObject payload;
    payload["text"] = internal::TruncateChars(d.text, kTextChars);
    JsonArray blocks;
    if (d.slack_blocks.empty()) {
      blocks.push_back(JsonObject{
          {"type", "section"},
          {"text", JsonObject{{"type", "mrkdwn"},
                              {"text", internal::TruncateChars(d.text, kSectionChars)}}}});
    } else {
      blocks = d.slack_blocks;
      for (auto& block : blocks) LimitBlock(block);
    }
    payload["blocks"] = std::move(blocks);
    std::string body;
    AppendJsonObject(body, payload);

    net::OutboundRequest request;
    request.method = "POST";
    request.url = d.address;
    request.body = body;
    request.headers = {{"Content-Type", "application/json"},
                       {"User-Agent", "opsorch/" OPSORCH_VERSION}};
    request.allow_nets = options_.allow_nets;
    request.connect_timeout = options_.connect_timeout;
    request.timeout = options_.timeout;
    request.max_response_bytes = 64u << 10;
    request.abort = options_.abort;
    request.pool_key = "notify-slack";
    auto response = options_.http->Perform(request);
    DeliveryResult result =
        response ? ClassifySlack(*response) : internal::FromHttpError(response.error());
    result.provider_id = d.id;
    return result;
  }

 private:
  TransportOptions options_;
};

}  // namespace

Result<std::unique_ptr<Transport>> MakeSlackTransport(const TransportOptions& options) {
  if (!options.http) return Fail(errc::kBadRequest, "slack transport: an HTTP client is required");
  if (options.timeout.count() <= 0) return Fail(errc::kBadRequest, "timeout: must be positive");
  return std::unique_ptr<Transport>(std::make_unique<SlackTransport>(options));
}

}  // namespace opsorch::notify
