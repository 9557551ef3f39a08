// The transports as `messaging` providers. Each factory validates its config once; Send maps an
// OpsOrch Message onto a Delivery and a delivery that did not go out onto an error.
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <opsorch/common/field_reader.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/time.h>
#include <opsorch/notify/providers.h>
#include <opsorch/notify/transport.h>
#include <opsorch/providers/interfaces.h>

#include "notify/internal.h"
#include "notify/mime.h"

namespace opsorch::notify {
namespace {

namespace s = ::opsorch::schema;
using providers::MessagingProvider;

// The environment, with the HTTP client made when the first provider needs it.
class Shared {
 public:
  explicit Shared(NotifyEnvironment env) : env_(std::move(env)) {}

  Result<TransportOptions> Options() {
    TransportOptions o;
    {
      std::lock_guard lock(mu_);
      if (!env_.http) {
        auto client = net::HttpClient::Create();
        if (!client) return Fail(std::move(client.error()));
        env_.http = std::move(*client);
      }
      o.http = env_.http;
    }
    o.allow_nets = env_.allow_nets;
    o.timeout = env_.timeout;
    return o;
  }

 private:
  std::mutex mu_;
  NotifyEnvironment env_;
};

enum class Kind { kWebhook, kSlack, kSmtp };

class NotifyMessagingProvider final : public MessagingProvider {
 public:
  NotifyMessagingProvider(Kind kind, std::unique_ptr<Transport> transport, std::string url,
                          std::string secret)
      : kind_(kind),
        transport_(std::move(transport)),
        url_(std::move(url)),
        secret_(std::move(secret)) {}

  Result<s::MessageResult> Send(const s::Message& m) override {
    std::string id;
    if (const auto* key = m.metadata.if_contains("idempotencyKey"); key != nullptr) {
      if (!key->is_string() || !ValidDeliveryId(key->get_string())) {
        return Fail(errc::kBadRequest,
                    "metadata.idempotencyKey: must be 1..200 printable ASCII characters without "
                    "'.', ',' or spaces");
      }
      id = std::string(key->get_string());
    } else {
      id = NewDeliveryId();
    }
    auto delivery = Map(m, id);
    if (!delivery) return Fail(std::move(delivery.error()));
    const DeliveryResult r = transport_->Deliver(*delivery);
    const std::string type(transport_->type());
    if (r.state == DeliveryState::kRetry) {
      return Fail(errc::kUnavailable, type + " delivery failed, retry later: " + r.detail);
    }
    if (r.state == DeliveryState::kFailed) {
      return Fail(errc::kProviderError, type + " delivery refused: " + r.detail);
    }
    s::MessageResult result;
    result.id = id;
    result.channel = m.channel;
    result.sent_at = Time::Now();
    result.metadata["transport"] = type;
    result.metadata["status"] = r.status;
    if (!r.provider_id.empty() && r.provider_id != id) {
      result.metadata["providerId"] = r.provider_id;
    }
    return result;
  }

 private:
  Result<Delivery> Map(const s::Message& m, const std::string& id) const {
    Delivery d;
    d.id = id;
    switch (kind_) {
      case Kind::kWebhook: {
        d.address = url_;
        d.secret = secret_;
        JsonObject body;
        body["event"] = "message";
        body["channel"] = m.channel;
        body["body"] = m.body;
        body["metadata"] = m.metadata;
        if (!m.thread_ref.empty()) body["threadRef"] = m.thread_ref;
        AppendJsonObject(d.json_body, body);
        return d;
      }
      case Kind::kSlack: {
        d.address = url_;
        d.text = m.body;
        auto blocks = SlackBlocks(m);
        if (!blocks) return Fail(std::move(blocks.error()));
        d.slack_blocks = std::move(*blocks);
        if (d.text.empty() && d.slack_blocks.empty()) {
          return Fail(errc::kBadRequest, "body: must not be empty");
        }
        return d;
      }
      case Kind::kSmtp: {
        if (!internal::ValidAddrSpec(m.channel)) {
          return Fail(errc::kBadRequest,
                      "channel: must be the recipient's e-mail address (local@domain)");
        }
        d.address = m.channel;
        d.subject = Subject(m);
        d.text = m.body;
        const std::string rendered = RenderBlocks(m.blocks);
        if (!rendered.empty()) d.text += (d.text.empty() ? "" : "\n\n") + rendered;
        if (d.text.empty()) return Fail(errc::kBadRequest, "body: must not be empty");
        return d;
      }
    }
    return Fail(errc::kInternal, "unknown transport");
  }

  static Result<JsonArray> SlackBlocks(const s::Message& m) {
    JsonArray out;
    for (std::size_t i = 0; i < m.blocks.size(); ++i) {
      const s::Block& b = m.blocks[i];
      if (b.type == "divider") {
        out.push_back(JsonObject{{"type", "divider"}});
      } else if (b.type == "header") {
        out.push_back(JsonObject{{"type", "header"},
                                 {"text", JsonObject{{"type", "plain_text"}, {"text", b.text}}}});
      } else if (b.type == "section") {
        JsonObject section{{"type", "section"}};
        if (!b.text.empty()) section["text"] = JsonObject{{"type", "mrkdwn"}, {"text", b.text}};
        JsonArray fields;
        for (const auto& [k, v] : b.fields) {
          if (fields.size() == 10) break;  // Slack's maximum per section
          fields.push_back(JsonObject{{"type", "mrkdwn"}, {"text", "*" + k + "*\n" + v}});
        }
        if (!fields.empty()) section["fields"] = std::move(fields);
        if (b.text.empty() && b.fields.empty()) continue;  // Slack refuses an empty section
        out.push_back(std::move(section));
      } else {
        return Fail(errc::kBadRequest,
                    "blocks[" + std::to_string(i) + "].type: must be header, section or divider");
      }
    }
    return out;
  }

  // metadata.subject, else the first header block, else the body's first line.
  static std::string Subject(const s::Message& m) {
    if (const auto* v = m.metadata.if_contains("subject"); v != nullptr && v->is_string()) {
      return OneLine(v->get_string());
    }
    for (const auto& b : m.blocks) {
      if (b.type == "header" && !b.text.empty()) return OneLine(b.text);
    }
    return OneLine(m.body);
  }

  // The first line, cut to 120 characters: a subject is one header line.
  static std::string OneLine(std::string_view s) {
    const std::size_t end = s.find_first_of("\r\n");
    return internal::TruncateChars(s.substr(0, end), 120);
  }

  static std::string RenderBlocks(const std::vector<s::Block>& blocks) {
    std::string out;
    for (const auto& b : blocks) {
      std::string piece;
      if (b.type == "divider") {
        piece = "----";
      } else {
        piece = b.text;
        for (const auto& [k, v] : b.fields) piece += (piece.empty() ? "" : "\n") + k + ": " + v;
      }
      if (piece.empty()) continue;
      out += (out.empty() ? "" : "\n\n") + piece;
    }
    return out;
  }

  Kind kind_;
  std::unique_ptr<Transport> transport_;
  std::string url_;
  std::string secret_;
};

Result<std::shared_ptr<MessagingProvider>> Build(Kind kind, const JsonObject& config,
                                                 Shared& shared) {
  Status st = Ok();
  FieldReader r{config, "", &st};
  std::string url;
  std::string secret;
  TransportOptions options;
  {
    auto o = shared.Options();
    if (!o) return Fail(std::move(o.error()));
    options = std::move(*o);
  }
  switch (kind) {
    case Kind::kWebhook:
      r.OnlyKnown({"url", "secret"});
      url = r.Str("url", true);
      secret = r.Str("secret");
      break;
    case Kind::kSlack:
      r.OnlyKnown({"url"});
      url = r.Str("url", true);
      break;
    case Kind::kSmtp:
      r.OnlyKnown({"url", "from", "username", "password", "requireTls"});
      options.smtp_url = r.Str("url", true);
      options.smtp_from = r.Str("from", true);
      options.smtp_username = r.Str("username");
      options.smtp_password = r.Str("password");
      options.smtp_require_tls = r.Bool("requireTls", false);
      break;
  }
  if (!st) return Fail(std::move(st.error()));
  if (kind != Kind::kSmtp) {
    if (auto ok = CheckHttpUrl(url); !ok) {
      return Fail(errc::kBadRequest, "url: " + ok.error().message);
    }
  }
  if (!secret.empty()) {
    if (auto key = DecodeWebhookSecret(secret); !key) {
      return Fail(errc::kBadRequest, "secret: " + key.error().message);
    }
  }
  Result<std::unique_ptr<Transport>> transport =
      kind == Kind::kWebhook ? MakeWebhookTransport(options)
      : kind == Kind::kSlack ? MakeSlackTransport(options)
                             : MakeSmtpTransport(options);
  if (!transport) return Fail(std::move(transport.error()));
  return std::shared_ptr<MessagingProvider>(std::make_shared<NotifyMessagingProvider>(
      kind, std::move(*transport), std::move(url), std::move(secret)));
}

}  // namespace

Status RegisterNotifyProviders(providers::ProviderRegistry& registry, NotifyEnvironment env) {
  auto shared = std::make_shared<Shared>(std::move(env));
  const std::pair<std::string_view, Kind> kinds[] = {
      {"webhook", Kind::kWebhook}, {"slack", Kind::kSlack}, {"smtp", Kind::kSmtp}};
  for (const auto& [name, kind] : kinds) {
    auto factory = [shared, kind = kind](const JsonObject& config) {
      return Build(kind, config, *shared);
    };
    // A send waits on the network: the worker pool, never the event loop.
    if (auto st = registry.Register<MessagingProvider>(name, std::move(factory),
                                                       providers::CallModel::kPool);
        !st) {
      return st;
    }
  }
  return Ok();
}

}  // namespace opsorch::notify
