#include <filesystem>

#include <sodium.h>

#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/common/time.h>
#include <opsorch/console/console.h>
#include <opsorch/log/log.h>
#include <opsorch/metrics/metrics.h>

namespace opsorch::console {
namespace {

using api::Call;
using api::Outcome;
using api::Reply;
using api::Respond;
using http::Method;

constexpr std::size_t kMaxDevFile = 8u << 20;
constexpr std::size_t kMaxName = 64;

// The page /ui/ shows when this binary was built without the console.
constexpr std::string_view kNotBuilt =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>opsorch</title>"
    "<link rel=\"icon\" href=\"data:,\"></head><body><h1>The console was not built</h1><p>This "
    "opsorch binary was built without Node.js, so it has no web console. Rebuild with Node.js "
    "and npm installed (<code>scripts/install-deps</code>, then <code>make build</code>); the "
    "API works as usual.</p></body></html>\n";

void AddSecurityHeaders(Reply& r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("X-Frame-Options", "DENY");
}

// One file as served: its bytes in both forms (gzip may be empty: dev files are sent raw).
struct Served {
  std::string_view path;
  std::string etag;
  std::string_view embedded_raw, gzip;
  std::string owned;  // a dev file's bytes
  bool dev = false;
  // Not a view kept in the struct: one into `owned` would dangle once the struct moves.
  std::string_view Raw() const { return dev ? std::string_view(owned) : embedded_raw; }
};

Reply FileReply(const Call& call, const Served& f, bool immutable) {
  Reply r;
  r.content_type = MimeType(f.path);
  AddSecurityHeaders(r);
  r.headers.emplace_back("Vary", "Accept-Encoding");
  r.headers.emplace_back("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("ETag", f.etag);
  if (EtagMatches(call.request.Header("If-None-Match"), f.etag)) {
    r.status = 304;
    r.content_type = {};
    return r;
  }
  if (!f.gzip.empty() && AcceptsGzip(call.request.Header("Accept-Encoding"))) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body.assign(f.gzip);
  } else {
    r.body.assign(f.Raw());
  }
  return r;
}

// A relative path inside the console's files, or nullopt for one that tries to leave them.
std::optional<std::string> SafeRelative(std::string_view p) {
  if (p.size() > 512 || p.find('\0') != std::string_view::npos ||
      p.find('\\') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string out;
  while (!p.empty()) {
    const std::size_t slash = p.find('/');
    const std::string_view seg = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view{} : p.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == ".." || seg.front() == '.') return std::nullopt;  // no parent, no dotfiles
    if (!out.empty()) out.push_back('/');
    out.append(seg);
  }
  return out;
}

class FileSource {
 public:
  explicit FileSource(std::string dev_dir) : dev_dir_(std::move(dev_dir)) {}

  // The file at `rel`, or nullopt.
  std::optional<Served> Find(const std::string& rel) const {
    if (dev_dir_.empty()) {
      for (const EmbeddedFile& f : EmbeddedFiles()) {
        if (f.path == rel) return Served{f.path, std::string(f.etag), f.raw, f.gzip, {}, false};
      }
      return std::nullopt;
    }
    std::error_code ec;
    const std::filesystem::path root = std::filesystem::weakly_canonical(dev_dir_, ec);
    if (ec) return std::nullopt;
    const std::filesystem::path full = std::filesystem::weakly_canonical(root / rel, ec);
    if (ec || !std::filesystem::is_regular_file(full, ec)) return std::nullopt;
    // A symbolic link out of the directory is refused like "..".
    const std::string r = root.string(), p = full.string();
    if (p.size() <= r.size() || p.compare(0, r.size(), r) != 0 || p[r.size()] != '/') {
      return std::nullopt;
    }
    Served s;
    if (ReadWholeFile(p, s.owned, kMaxDevFile) != 0) return std::nullopt;
    unsigned char h[16];
    crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(s.owned.data()),
                       s.owned.size(), nullptr, 0);
    char hex[sizeof h * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    s.etag = "\"dev-" + std::string(hex) + "\"";
    s.dev = true;
    s.path = rel;  // only its extension is read, while `rel` lives
    return s;
  }

  bool Built() const { return !dev_dir_.empty() || !EmbeddedFiles().empty(); }

 private:
  std::string dev_dir_;
};

Outcome ServeApp(const FileSource& files, const Call& call, std::string_view rest) {
  if (!files.Built()) {
    Reply r{200, std::string(kNotBuilt)};
    r.content_type = "text/html; charset=utf-8";
    AddSecurityHeaders(r);
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  auto rel = SafeRelative(rest);
  if (!rel) return Fail(errc::kNotFound, "no such console file");
  // Hashed assets are found or 404; every other path is one of the app's own pages.
  if (rel->starts_with("assets/")) {
    auto f = files.Find(*rel);
    if (!f) return Fail(errc::kNotFound, "no such console file");
    return FileReply(call, *f, true);
  }
  const std::string index = "index.html";
  auto f = files.Find(index);
  if (!f) return Fail(errc::kNotFound, "the console's index.html is missing");
  return FileReply(call, *f, false);
}

std::string SessionJson(bool required, const std::optional<api::SessionIdentity>& who,
                        std::int64_t expires_ns) {
  std::string out = "{\"authRequired\":";
  out += required ? "true" : "false";
  out += ",\"authenticated\":";
  out += !required || who ? "true" : "false";
  out += ",\"actor\":";
  if (who) {
    AppendJsonString(out, who->actor_name.empty() ? who->actor_id : who->actor_name);
  } else {
    out += "null";
  }
  out += ",\"expiresAt\":";
  if (who && expires_ns > 0) {
    out.push_back('"');
    AppendRfc3339Nano(out, Time::FromUnixNanos(expires_ns));
    out.push_back('"');
  } else {
    out += "null";
  }
  out.push_back('}');
  return out;
}

// A browser-session cookie (gone when the browser closes; the server ends the session sooner),
// or, to clear it, one that expired.
std::string SetCookie(bool tls, std::string_view value, bool clear = false) {
  std::string c(api::SessionCookieName(tls));
  c += "=";
  c += value;
  c += "; Path=/; HttpOnly; SameSite=Strict";
  if (clear) c += "; Max-Age=0";
  if (tls) c += "; Secure";
  return c;
}

// Code points a name shown to people must not hold: controls (C0, DEL, C1), and the format
// characters that hide or reorder text (zero-width, bidi embeddings and overrides, line and
// paragraph separators, word joiners, the BOM).
bool Invisible(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xad || (c >= 0x200b && c <= 0x200f) ||
         (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff ||
         c == 0x061c || (c >= 0xfff9 && c <= 0xfffb);
}

// A display name as the audit log and timelines may show it: visible UTF-8, short.
Result<std::string> CheckName(std::string_view name) {
  name = TrimSpace(name);
  if (name.size() > kMaxName) {
    return Fail(errc::kBadRequest, "name: at most " + std::to_string(kMaxName) + " bytes");
  }
  if (!ValidUtf8(name)) return Fail(errc::kBadRequest, "name: not valid UTF-8");
  for (std::size_t i = 0; i < name.size();) {
    // Valid UTF-8 (checked above): the lead byte gives the length.
    const auto b = static_cast<unsigned char>(name[i]);
    const int len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    char32_t c = len == 1 ? b : b & (0x3f >> (len - 1));
    for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(name[i + k]) & 0x3f);
    if (Invisible(c)) {
      return Fail(errc::kBadRequest, "name: control and invisible characters are not allowed");
    }
    i += static_cast<std::size_t>(len);
  }
  return std::string(name);
}

// Failed logins per client address: past kMaxFailures in a minute, logins from that address are
// refused for the rest of the minute (429), so the token cannot be guessed at wire speed.
class LoginThrottle {
 public:
  static constexpr int kMaxFailures = 10;
  static constexpr std::int64_t kWindowNs = 60'000'000'000;

  // Nanoseconds until the address may try again; 0: now.
  std::int64_t Wait(std::string_view address, std::int64_t now) {
    std::lock_guard lock(mu_);
    auto it = failures_.find(std::string(address));
    if (it == failures_.end() || now - it->second.since >= kWindowNs) return 0;
    return it->second.count >= kMaxFailures ? it->second.since + kWindowNs - now : 0;
  }
  void Failed(std::string_view address, std::int64_t now) {
    std::lock_guard lock(mu_);
    if (failures_.size() >= 10'000) {
      std::erase_if(failures_, [&](const auto& kv) { return now - kv.second.since >= kWindowNs; });
      if (failures_.size() >= 10'000) failures_.clear();  // a flood of addresses: start over
    }
    auto& f = failures_[std::string(address)];
    if (now - f.since >= kWindowNs) f = {now, 0};
    ++f.count;
  }

 private:
  struct Entry {
    std::int64_t since = 0;
    int count = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> failures_;
};

// The address part of "ip:port" / "[ip]:port".
std::string_view HostOf(std::string_view remote) {
  if (remote.starts_with('[')) return remote.substr(1, remote.find(']') - 1);
  const std::size_t colon = remote.rfind(':');
  return colon != std::string_view::npos && remote.find(':') == colon ? remote.substr(0, colon)
                                                                      : remote;
}

struct Login {
  std::string token, name;
};

Result<Login> DecodeLogin(std::string_view body) {
  JsonParseOptions po;
  po.max_depth = 4;
  auto v = ParseJson(body, po);
  if (!v) return Fail(errc::kBadRequest, "body: not JSON (" + v.error().message + ")");
  const JsonObject* o = v->if_object();
  if (o == nullptr) return Fail(errc::kBadRequest, "body: must be an object");
  Login l;
  for (const auto& [k, val] : *o) {
    if (k != "token" && k != "name") {
      return Fail(errc::kBadRequest, "body: unknown field \"" + std::string(k) + "\"");
    }
    if (!val.is_string()) return Fail(errc::kBadRequest, std::string(k) + ": must be a string");
    (k == "token" ? l.token : l.name) = std::string(val.get_string());
  }
  if (l.token.empty()) return Fail(errc::kBadRequest, "token: required");
  if (l.token.size() > 4096) return Fail(errc::kBadRequest, "token: at most 4096 bytes");
  return l;
}

}  // namespace

api::RouteTable ConsoleRoutes(ConsoleOptions options) {
  auto files = std::make_shared<FileSource>(options.dev_dir);
  auto sessions = options.sessions;
  const bool required = !options.bearer_token.empty();
  auto token = std::make_shared<std::string>(std::move(options.bearer_token));
  const auto cookies_of = [](const Call& call) {
    return api::CookieValues(call.request.Header("Cookie"),
                             api::SessionCookieName(call.request.tls));
  };
  auto throttle = std::make_shared<LoginThrottle>();
  metrics::Counter* failures =
      options.metrics == nullptr
          ? nullptr
          : &options.metrics->GetCounter("opsorch_auth_failures_total",
                                         "Requests refused for a missing or wrong credential.",
                                         {{"credential", "console_login"}});

  api::RouteTable t;
  const auto app = [files](Call& call, Respond respond) {
    respond(ServeApp(*files, call, call.params[0]));
  };
  t.push_back({.method = Method::kGet,
               .pattern = "/ui/session",
               .auth = api::Auth::kPublic,
               .handler =
                   [sessions, required, cookies_of](Call& call, Respond respond) {
                     std::optional<api::SessionIdentity> who;
                     std::int64_t ends = 0;
                     for (const std::string_view c : cookies_of(call)) {
                       if (!required || sessions == nullptr) break;
                       if (auto p = sessions->Peek(c)) {
                         who = std::move(p->first);
                         ends = p->second;
                         break;
                       }
                     }
                     Reply r{200, SessionJson(required, who, ends)};
                     r.headers.emplace_back("Cache-Control", "no-store");
                     respond(std::move(r));
                   },
               .summary = "Whether the console needs a login, and who is logged in",
               .response_type = "object"});

  t.push_back({.method = Method::kPost,
               .pattern = "/ui/session",
               .auth = api::Auth::kPublic,
               .body_limit = 8192,
               .handler =
                   [sessions, token, required, cookies_of, throttle, failures](Call& call,
                                                                               Respond respond) {
                     const http::Request& req = call.request;
                     // Login CSRF: only the console's own page may log a browser in.
                     if (auto why = api::ConsoleCallRefusal(req); !why.empty()) {
                       return respond(Fail(errc::kForbidden, std::string(why)));
                     }
                     if (!required || sessions == nullptr) {
                       return respond(
                           Fail(errc::kBadRequest,
                                "no bearer token is configured: the console needs no login"));
                     }
                     auto login = DecodeLogin(req.body);
                     if (!login) return respond(Fail(std::move(login.error())));
                     auto name = CheckName(login->name);
                     if (!name) return respond(Fail(std::move(name.error())));
                     const std::string_view address = HostOf(req.remote_address);
                     const std::int64_t now = Time::Now().UnixNanos();
                     if (const std::int64_t wait = throttle->Wait(address, now); wait > 0) {
                       if (failures != nullptr) failures->Inc();
                       return respond(api::ErrorReply(
                           MakeError(errc::kRateLimited,
                                     "too many failed logins from this address; try again later"),
                           {{"Retry-After", std::to_string(wait / 1'000'000'000 + 1)}}));
                     }
                     if (!ConstantTimeEquals(login->token, *token)) {
                       throttle->Failed(address, now);
                       if (failures != nullptr) failures->Inc();
                       log::Warn("console login refused",
                                 {{"remote", req.remote_address}, {"reason", "wrong token"}});
                       return respond(Fail(errc::kUnauthorized, "wrong token"));
                     }
                     // Never keep a session id the browser brought (fixation): the old one ends and
                     // a fresh one is issued.
                     for (const std::string_view c : cookies_of(call)) sessions->Revoke(c);
                     api::SessionIdentity who{name->empty() ? "console" : *name, *name};
                     auto created = sessions->Create(who);
                     log::Info("console login", {{"remote", req.remote_address},
                                                 {"actor", who.actor_id},
                                                 {"request_id", call.request_id}});
                     Reply r{200, SessionJson(true, who, created.expires_at_ns)};
                     r.headers.emplace_back("Set-Cookie", SetCookie(req.tls, created.token));
                     r.headers.emplace_back("Cache-Control", "no-store");
                     respond(std::move(r));
                   },
               .summary = "Log in to the console with the bearer token: a session cookie",
               .request_type = "object",
               .response_type = "object"});

  t.push_back({.method = Method::kPost,
               .pattern = "/ui/logout",
               .auth = api::Auth::kPublic,
               .body_limit = 1024,
               .handler =
                   [sessions, cookies_of](Call& call, Respond respond) {
                     if (auto why = api::ConsoleCallRefusal(call.request); !why.empty()) {
                       return respond(Fail(errc::kForbidden, std::string(why)));
                     }
                     for (const std::string_view c : cookies_of(call)) {
                       if (sessions != nullptr) sessions->Revoke(c);
                     }
                     Reply r{204, {}};
                     r.content_type = {};
                     r.headers.emplace_back("Set-Cookie",
                                            SetCookie(call.request.tls, "", /*clear=*/true));
                     r.headers.emplace_back("Cache-Control", "no-store");
                     respond(std::move(r));
                   },
               .summary = "End the console session",
               .success_status = 204});
  // Last: the first row that matches wins, and these match every other path under /ui/.
  t.push_back({.method = Method::kGet,
               .pattern = "/ui",
               .auth = api::Auth::kPublic,
               .handler = app,
               .summary = "The web console (its index page)",
               .response_type = "object"});
  t.push_back({.method = Method::kGet,
               .pattern = "/ui/{path*}",
               .auth = api::Auth::kPublic,
               .handler = app,
               .summary = "The web console: hashed assets, and index.html for the app's pages",
               .response_type = "object"});

  return t;
}

bool AcceptsGzip(std::string_view header) {
  bool star = false, gzip_listed = false, gzip_ok = false, star_ok = false;
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = TrimSpace(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    std::string_view coding = TrimSpace(item.substr(0, item.find(';')));
    bool zero = false;
    if (auto semi = item.find(';'); semi != std::string_view::npos) {
      std::string_view params = TrimSpace(item.substr(semi + 1));
      if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
        std::string_view q = TrimSpace(params.substr(2));
        zero = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip_listed = true;
      gzip_ok = !zero;
    } else if (coding == "*") {
      star = true;
      star_ok = !zero;
    }
  }
  if (gzip_listed) return gzip_ok;
  return star && star_ok;
}

bool EtagMatches(std::string_view header, std::string_view etag) {
  if (header.empty()) return false;
  const auto strip = [](std::string_view t) {
    t = TrimSpace(t);
    if (t.starts_with("W/")) t.remove_prefix(2);
    return t;
  };
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    const std::string_view tag = strip(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (tag == "*" || (!tag.empty() && tag == strip(etag))) return true;
  }
  return false;
}

std::string_view MimeType(std::string_view path) {
  const std::size_t dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

}  // namespace opsorch::console
