// opsorch-plugin-roundtrip: the plugin host's own round trip, without HTTP: N calls of
// incident.query through the plugin host to a plugin binary, one at a time (the blocking call a
// pool thread makes), and their p50/p90/p99.
//
//   opsorch-plugin-roundtrip build/opsorch-plugin-mock [calls]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include <opsorch/plugin/plugin_host.h>
#include <opsorch/providers/provider.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <plugin binary> [calls]\n", argv[0]);
    return 2;
  }
  const int calls = argc > 2 ? std::max(100, std::atoi(argv[2])) : 20000;
  opsorch::plugin::PluginHost host;
  auto built = host.Create(opsorch::providers::Capability::kIncident, argv[1],
                           opsorch::JsonObject{}, opsorch::plugin::PluginSettings{});
  if (!built) {
    std::fprintf(stderr, "plugin: %s\n", built.error().message.c_str());
    return 1;
  }
  auto client = std::dynamic_pointer_cast<opsorch::providers::RemoteProvider>(built->provider);
  if (!client) {
    std::fprintf(stderr, "plugin: not a remote provider\n");
    return 1;
  }
  const char* payload = R"({"query":"","statuses":["open"],"limit":10,"scope":{}})";
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(calls));
  for (int i = 0; i < calls + 500; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = client->Call("incident.query", payload);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r) {
      std::fprintf(stderr, "call failed: %s\n", r.error().message.c_str());
      return 1;
    }
    if (i >= 500) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  const auto at = [&](double p) { return us[static_cast<std::size_t>(p * (us.size() - 1))]; };
  std::printf("plugin round trip over %d calls: p50 %.1f us, p90 %.1f us, p99 %.1f us\n", calls,
              at(0.50), at(0.90), at(0.99));
  return 0;
}
