// The web console: the single-page app's files (built from console/ by esbuild and embedded into
// the binary at build time, or read from a directory while developing), the routes that serve
// them under /ui/, and the console's login sessions.
//
// The console calls the same JSON API as every other client. With a bearer token configured,
// POST /ui/session exchanges it for a server-side session behind an HttpOnly, SameSite=Strict
// cookie; the API pipeline accepts that cookie instead of the token on the console's own calls
// (api::SessionVerifier, api::ConsoleCallRefusal), and the session's name is the audit actor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <opsorch/api/api.h>
#include <opsorch/api/route.h>
#include <opsorch/metrics/metrics.h>

namespace opsorch::console {

// One file of the console as the build embedded it.
struct EmbeddedFile {
  std::string_view path;  // relative to the build's root: "index.html", "assets/app-X1Y2.js"
  std::string_view etag;  // "\"sha256-…\"" of the raw bytes
  std::string_view raw;
  std::string_view gzip;  // the same bytes gzip-compressed
};
// The files built into this binary; empty when the console was not built (no Node.js at build
// time, or -DOPSORCH_CONSOLE=OFF): /ui/ then says so.
std::span<const EmbeddedFile> EmbeddedFiles();

struct SessionOptions {
  // A session ends after this long without a request, and in any case this long after login.
  std::chrono::seconds idle{std::chrono::hours(2)};
  std::chrono::seconds max_age{std::chrono::hours(12)};
  std::size_t max_sessions = 10'000;     // a login beyond it ends the session closest to its end
  std::function<std::int64_t()> now_ns;  // the clock (tests inject one); default: the system's
};

// The server-side session table. Only a hash of each session id is kept, so neither a memory
// dump nor a timing side channel of the map gives a usable cookie.
class Sessions final : public api::SessionVerifier {
 public:
  explicit Sessions(SessionOptions options = {});

  struct Created {
    std::string token;  // the cookie's value: 256 random bits, base64url
    std::int64_t expires_at_ns = 0;
  };
  Created Create(api::SessionIdentity who);
  void Revoke(std::string_view token);
  std::optional<api::SessionIdentity> Verify(std::string_view token) override;
  // Without extending it: the identity and when the session ends (idle or absolute, whichever
  // is first).
  std::optional<std::pair<api::SessionIdentity, std::int64_t>> Peek(std::string_view token);
  std::size_t Size();
  const SessionOptions& Options() const { return options_; }

 private:
  struct Entry {
    api::SessionIdentity who;
    std::int64_t created_ns = 0;
    std::int64_t last_used_ns = 0;
  };
  std::int64_t Now() const;
  std::int64_t EndsAt(const Entry& e) const;
  void DropExpiredLocked(std::int64_t now);

  SessionOptions options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_hash_;
};

struct ConsoleOptions {
  std::string bearer_token;  // empty: the console needs no login (and offers none)
  // Serve the files from this directory (a `node build.mjs --outdir DIR` output) instead of the
  // embedded ones, read on each request: console work needs no C++ rebuild.
  std::string dev_dir;
  std::shared_ptr<Sessions> sessions;
  // Failed logins are counted in opsorch_auth_failures_total{credential="console_login"}.
  metrics::Registry* metrics = nullptr;
};

// GET /ui and /ui/{path}: the app (index.html for every path that is not an asset, so the app's
// own routes survive a reload), GET/POST /ui/session, POST /ui/logout.
api::RouteTable ConsoleRoutes(ConsoleOptions options);

// Pure pieces of serving, tested alone.
// Whether an Accept-Encoding header accepts gzip (q=0 refuses it; "*" counts).
bool AcceptsGzip(std::string_view accept_encoding);
// Whether If-None-Match names `etag` ("*", a list, weak or strong forms).
bool EtagMatches(std::string_view if_none_match, std::string_view etag);
// The Content-Type of a console file by its extension.
std::string_view MimeType(std::string_view path);
// The headers every console answer carries: the CSP and its companions.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'";

}  // namespace opsorch::console
