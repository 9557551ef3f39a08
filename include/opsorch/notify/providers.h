// The transports as OpsOrch `messaging` providers: `webhook`, `slack` and `smtp`, registered
// with CallModel::kPool (a send blocks on the network).
#pragma once

#include <chrono>
#include <memory>

#include <opsorch/common/result.h>
#include <opsorch/net/http_client.h>
#include <opsorch/providers/registry.h>

namespace opsorch::notify {

struct NotifyEnvironment {
  // The shared outbound client; null: one is created when the first provider is built.
  std::shared_ptr<net::HttpClient> http;
  // OPSORCH_OUTBOUND_ALLOW_NETS, parsed with net::ParseNetList (null: no private receivers).
  std::shared_ptr<const net::NetList> allow_nets;
  std::chrono::milliseconds timeout{15000};  // per send
};

// Configs (strict; errors name the key and the rule, never a value):
//   webhook {"url": "https://…", "secret": "whsec_…" (optional)}
//   slack   {"url": "https://hooks.slack.com/services/…"}
//   smtp    {"url": "smtp://host:587", "from": "pager@example.com", "username", "password",
//            "requireTls": bool}
Status RegisterNotifyProviders(providers::ProviderRegistry& registry, NotifyEnvironment env);

}  // namespace opsorch::notify
