// A plugin as a provider: a RemoteProvider whose operations are plugin calls (the API and
// operations.h's Invoke speak to it by method and payload), and for the secret store, which
// the server itself reads, the SecretProvider interface over it.
#pragma once

#include <memory>

#include <opsorch/providers/capability.h>
#include <opsorch/providers/registry.h>

#include "plugin/plugin_client.h"

namespace opsorch::plugin {

// The provider of capability `cap` whose every call goes through `client`.
providers::BuiltProvider MakePluginProvider(providers::Capability cap,
                                            std::shared_ptr<PluginClient> client);

}  // namespace opsorch::plugin
