// Notification transports: each delivers one message to one destination and classifies the
// outcome (sent, retry later, give up). The paging engine calls them from a worker-pool thread
// and owns retries and the outbox; a transport never retries by itself and never sleeps.
//
// Every transport goes out through the SSRF address rule (net::AddressAllowed) on the address
// actually connected; loopback/private receivers need the operator's allow-list
// (OPSORCH_OUTBOUND_ALLOW_NETS). No secret — the webhook secret, the SMTP password, a Slack URL
// (a credential itself) or a URL's query string — ever appears in a result, an error or a log
// line: details name the rule or the status only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <opsorch/common/json.h>
#include <opsorch/common/result.h>
#include <opsorch/net/http_client.h>

namespace opsorch::notify {

struct Delivery {
  // Idempotency key, stable across retries: webhook-id, the e-mail's Message-ID. Printable
  // ASCII without '.', ' ' or ',' (it is part of the signed content), at most 200 bytes.
  std::string id;
  std::string address;     // webhook/Slack URL, or the e-mail recipient (a plain addr-spec)
  std::string secret;      // webhook: "whsec_<base64>"; empty: unsigned
  std::string subject;     // e-mail subject
  std::string text;        // Slack "text", the e-mail's text/plain part
  std::string html;        // e-mail text/html part (optional)
  std::string json_body;   // webhook: the exact JSON bytes to POST (signed as sent)
  JsonArray slack_blocks;  // Slack blocks (optional; else one mrkdwn section of `text`)
};

enum class DeliveryState {
  kSent,
  kRetry,   // temporary: try again later (after retry_after_s when set)
  kFailed,  // permanent: retrying will not help
};

std::string_view Name(DeliveryState state);  // "sent", "retry", "failed"

struct DeliveryResult {
  DeliveryState state = DeliveryState::kFailed;
  int status = 0;                  // HTTP status or the last SMTP reply code; 0: none received
  std::string detail;              // why, for the outbox and logs: never a secret or a URL
  std::int64_t retry_after_s = 0;  // from Retry-After (0: none given)
  bool disable_endpoint = false;   // webhook 410 Gone: the receiver asks never to be called again
  std::string provider_id;         // the e-mail's Message-ID; the webhook-id
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual std::string_view type() const = 0;  // "webhook", "slack", "smtp"
  // Safe to send again after a crash mid-send: the receiver can drop the duplicate (webhook:
  // the same webhook-id). E-mail is not: a resent message is a second message.
  virtual bool idempotent() const = 0;
  // Blocks for at most about TransportOptions::timeout. Thread-safe.
  virtual DeliveryResult Deliver(const Delivery& delivery) = 0;
};

struct TransportOptions {
  std::shared_ptr<net::HttpClient> http;  // webhook and Slack (required for them)
  // Operator-listed networks in which private-class receivers are allowed (null: none).
  std::shared_ptr<const net::NetList> allow_nets;
  std::chrono::milliseconds timeout{15000};  // the whole attempt
  std::chrono::milliseconds connect_timeout{5000};
  // When set and true, an attempt in progress stops (shutdown) and reports kRetry.
  const std::atomic<bool>* abort = nullptr;
  // SMTP only.
  std::string smtp_url;   // smtp://host[:port][/helo-name] or smtps://…
  std::string smtp_from;  // envelope and header From: a plain addr-spec
  std::string smtp_username;
  std::string smtp_password;
  // STARTTLS required (smtp://) — else used when offered. Credentials are only accepted with
  // TLS: require_tls or an smtps:// URL.
  bool smtp_require_tls = false;
};

// Errors name the option and the rule (kBadRequest), never its value.
Result<std::unique_ptr<Transport>> MakeWebhookTransport(const TransportOptions& options);
Result<std::unique_ptr<Transport>> MakeSlackTransport(const TransportOptions& options);
Result<std::unique_ptr<Transport>> MakeSmtpTransport(const TransportOptions& options);

// Helpers shared with the providers and tests.

// A Standard Webhooks secret "whsec_<base64>" → the HMAC key bytes. Errors never echo it.
Result<std::string> DecodeWebhookSecret(std::string_view secret);
// The `webhook-signature` value: "v1," + base64(HMAC-SHA256(key, id + "." + ts + "." + body)).
std::string SignWebhook(std::string_view key, std::string_view id, std::int64_t timestamp,
                        std::string_view body);
// A Retry-After value (delta seconds or an HTTP date) as seconds from `now_unix` (>= 0);
// nullopt when malformed.
std::optional<std::int64_t> ParseRetryAfter(std::string_view value, std::int64_t now_unix);
// Checks an http(s) URL the way the transports do (scheme, host, no user info or fragment);
// the error names the rule, not the URL.
Status CheckHttpUrl(std::string_view url);
// Whether `id` can be a delivery id (see Delivery::id).
bool ValidDeliveryId(std::string_view id);
// A random delivery id, "msg_" + 32 hex digits.
std::string NewDeliveryId();

}  // namespace opsorch::notify
