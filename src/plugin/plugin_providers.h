#pragma once

#include <memory>

#include <opsorch/providers/capability.h>
#include <opsorch/providers/provider.h>

#include "plugin/plugin_client.h"

namespace opsorch::plugin {

// The provider of capability `cap` whose every call goes through `client`.
providers::ProviderPtr MakePluginProvider(providers::Capability cap,
                                          std::shared_ptr<PluginClient> client);

}  // namespace opsorch::plugin
