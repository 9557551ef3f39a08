// opsorch-package-bench: what a workflow package costs the runtime (bench/package.sh). Packs a
// configuration of --size bytes (default 100 KB) signed by 1 key for 3 recipients, then times
// --runs Open calls (every signature verified, the recipient block opened, the payload
// decrypted: what a runtime does on each load) and as many Inspect calls (parse and verify,
// no decryption), after 20 warm-up calls each. Prints a Markdown table of p50/p90/p99 in ms.
//
//   opsorch-package-bench [--runs 2000] [--size 102400]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <opsorch/workflow/package.h>

namespace {

namespace pkg = opsorch::workflow::package;

// Nearest-rank percentile of sorted samples.
double Percentile(const std::vector<double>& sorted, double p) {
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

// A workflow configuration of about `size` bytes: many workflows, one Lua step each.
std::string Config(std::size_t size) {
  std::string out = R"({"workflows":[)";
  for (int i = 0; out.size() < size; ++i) {
    if (i > 0) out += ',';
    out += R"({"name":"w)" + std::to_string(i) +
           R"(","steps":[{"id":"s","trigger":{"timer":{"period":"60s"}},)"
           R"("url":"return 'https://api.example.com/v1/metrics?page=)" +
           std::to_string(i) + R"('","results":"local b = ctx.body -- budget alert )" +
           std::to_string(i) + R"(\nreturn b"}]})";
  }
  return out + "]}";
}

template <class F>
bool Time(const char* what, int runs, F&& call) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(runs));
  for (int i = 0; i < runs + 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool ok = call();
    const auto t1 = std::chrono::steady_clock::now();
    if (!ok) return false;
    if (i >= 20) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("| %s | %d | %.3f | %.3f | %.3f |\n", what, runs, Percentile(ms, 0.5),
              Percentile(ms, 0.9), Percentile(ms, 0.99));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Time Open and Inspect of a workflow package"};
  int runs = 2000;
  std::size_t size = 100 * 1024;
  cli.add_option("--runs", runs, "timed calls of each (after 20 warm-up calls)")
      ->check(CLI::Range(1, 10000000));
  cli.add_option("--size", size, "configuration bytes")->check(CLI::Range(16, 8 << 20));
  CLI11_PARSE(cli, argc, argv);

  const pkg::SecretKey publisher = pkg::GenerateKey(pkg::KeyPurpose::kSign);
  const pkg::SecretKey ci = pkg::GenerateKey(pkg::KeyPurpose::kPackager);
  std::vector<pkg::SecretKey> runtimes;
  for (int i = 0; i < 3; ++i) runtimes.push_back(pkg::GenerateKey(pkg::KeyPurpose::kRecipient));

  const std::string config = Config(size);
  pkg::PackOptions o;
  o.id = "bench";
  o.version = "1.0.0";
  o.signers = {publisher};
  for (const auto& r : runtimes) o.recipients.push_back(r.Public());
  o.packager = ci;
  const auto t0 = std::chrono::steady_clock::now();
  auto packed = pkg::Pack(config, o);
  const double pack_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!packed) {
    std::fprintf(stderr, "package-bench: %s\n", packed.error().message.c_str());
    return 1;
  }
  std::printf(
      "configuration %zu bytes, package %zu bytes (1 signer, 3 recipients), packed in "
      "%.2f ms\n\n",
      config.size(), packed->size(), pack_ms);

  // The last of the three recipients: its block is found last.
  pkg::Policy policy;
  policy.package_id = "bench";
  policy.required_signers = {{"publisher", publisher.Public()}};
  policy.packagers = {{"ci", ci.Public()}};
  policy.recipient = runtimes.back();

  std::printf("| call | runs | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|---|\n");
  std::string error;
  const bool ok = Time("Open (verify + decrypt)", runs,
                       [&] {
                         auto opened = pkg::Open(*packed, policy, "1.0.0");
                         if (!opened) error = opened.error().message;
                         return opened && opened->payload.size() == config.size();
                       }) &&
                  Time("Inspect (verify)", runs, [&] {
                    auto info = pkg::Inspect(*packed);
                    if (!info) error = info.error().message;
                    return info.has_value();
                  });
  if (!ok) {
    std::fprintf(stderr, "package-bench: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
