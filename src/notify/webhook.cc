// The generic webhook, signed per Standard Webhooks 1.0 (the scheme Svix and others verify):
// the exact body bytes are POSTed and signed, the webhook-id is the delivery's idempotency key.
#include <memory>
#include <string>
#include <utility>

#include <opsorch/common/error.h>
#include <opsorch/notify/transport.h>

#include "notify/internal.h"

namespace opsorch::notify {
namespace {

using internal::Failed;
using internal::Retry;
using internal::Sent;

DeliveryResult ClassifyWebhook(const net::OutboundResponse& response) {
  const int status = response.status;
  const std::string http = "HTTP " + std::to_string(status);
  if (status >= 200 && status < 300) return Sent(status, http);
  if (status >= 300 && status < 400) return Failed(status, http + " (redirects are not followed)");
  if (status == 410) {
    DeliveryResult r = Failed(status, http + " (gone: endpoint disabled)");
    r.disable_endpoint = true;
    return r;
  }
  if (status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600)) {
    return Retry(status, http, internal::RetryAfterOf(response.headers));
  }
  return Failed(status, http);
}

class WebhookTransport final : public Transport {
 public:
  explicit WebhookTransport(TransportOptions options) : options_(std::move(options)) {}
  std::string_view type() const override { return "webhook"; }
  bool idempotent() const override { return true; }

  DeliveryResult Deliver(const Delivery& d) override {
    if (!ValidDeliveryId(d.id)) {
      return Failed(0, "delivery id: must be 1..200 printable ASCII characters without '.' or ','");
    }
    if (auto st = CheckHttpUrl(d.address); !st) return Failed(0, "url: " + st.error().message);
    if (d.json_body.empty()) return Failed(0, "json body: must not be empty");
    std::string key;
    if (!d.secret.empty()) {
      auto decoded = DecodeWebhookSecret(d.secret);
      if (!decoded) return Failed(0, "secret: " + decoded.error().message);
      key = std::move(*decoded);
    }
    const std::int64_t timestamp = internal::NowUnix();
    net::OutboundRequest request;
    request.method = "POST";
    request.url = d.address;
    request.body = d.json_body;
    request.headers = {{"Content-Type", "application/json"},
                       {"User-Agent", "opsorch/" OPSORCH_VERSION},
                       {"webhook-id", d.id},
                       {"webhook-timestamp", std::to_string(timestamp)}};
    if (!key.empty()) {
      request.headers.emplace_back("webhook-signature",
                                   SignWebhook(key, d.id, timestamp, d.json_body));
    }
    request.allow_nets = options_.allow_nets;
    request.connect_timeout = options_.connect_timeout;
    request.timeout = options_.timeout;
    request.keep_body = false;  // only the status matters; the body is read and dropped
    request.max_response_bytes = 1u << 20;
    request.abort = options_.abort;
    request.pool_key = "notify-webhook";
    auto response = options_.http->Perform(request);
    DeliveryResult result =
        response ? ClassifyWebhook(*response) : internal::FromHttpError(response.error());
    result.provider_id = d.id;
    return result;
  }

 private:
  TransportOptions options_;
};

}  // namespace

Result<std::unique_ptr<Transport>> MakeWebhookTransport(const TransportOptions& options) {
  if (!options.http)
    return Fail(errc::kBadRequest, "webhook transport: an HTTP client is required");
  if (options.timeout.count() <= 0) return Fail(errc::kBadRequest, "timeout: must be positive");
  return std::unique_ptr<Transport>(std::make_unique<WebhookTransport>(options));
}

}  // namespace opsorch::notify
