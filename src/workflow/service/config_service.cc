#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opsorch/common/field_reader.h>
#include <opsorch/common/files.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/log/log.h>
#include <opsorch/workflow/package.h>

#include "workflow/service/service_impl.h"

namespace opsorch::workflow::service {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxMetaFile = 1u << 20;
// The most an agent file is written with, counted in stored (escaped) bytes: the ring, the
// status, and the rest — ids, token hash, up to 64 package ids, a description even if every
// byte is escaped, the commas between records — well within 64 KiB.
constexpr std::size_t kMaxAgentFileWritten =
    kMaxAuditRingBytes + kMaxStoredStatusBytes + (64u << 10);
// What a start reads: far above what the writer produces, and above what earlier versions wrote
// (a 4 MiB ring plus an escaped status, about 5.6 MiB), so that no agent — and no agent's token
// — is lost at a restart because of its file's size.
constexpr std::size_t kMaxAgentFileRead = 8u << 20;
static_assert(kMaxAgentFileRead >= 4 * kMaxAgentFileWritten);

void EnsureSodium() {
  // sodium_init is idempotent and thread-safe; it fails only without an entropy source.
  if (::sodium_init() < 0) std::abort();
}

Error StoreError(const std::string& path, std::string_view what, int err) {
  return MakeError(errc::kStorageError,
                   "workflow service: " + std::string(what) + " " + path + ": " + ErrnoText(err));
}

// Write a temporary file, fsync it, rename it over `name`, fsync the directory: a reader (or a
// restart after a crash) sees the old file or the new one, never a torn one.
Status WriteAtomic(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";  // no stored name ends in .tmp (.bin, .json)
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(StoreError(tmp, "cannot create", errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Fail(StoreError(tmp, "cannot write", err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Fail(StoreError(tmp, "cannot fsync", err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(StoreError(path, "cannot rename into", err));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Fail(StoreError(dir, "cannot open", errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) return Fail(StoreError(dir, "cannot fsync", err));
  return Ok();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Fail(StoreError(path, "cannot remove", errno));
  }
  return Ok();
}

std::string NewToken() {
  EnsureSodium();
  unsigned char raw[32];
  ::randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  ::sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  ::sodium_memzero(raw, sizeof raw);
  return std::string(b64);
}

void AppendStrings(std::string& out, const std::vector<std::string>& v) {
  out.push_back('[');
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(out, v[i]);
  }
  out.push_back(']');
}

void AppendOptional(std::string& out, std::string_view key, const std::optional<std::string>& v) {
  if (!v) return;
  out += ",\"";
  out += key;
  out += "\":";
  AppendJsonString(out, *v);
}

std::vector<std::string> StringsOf(const FieldReader& r, std::string_view key) {
  std::vector<std::string> out;
  if (const JsonArray* a = r.Array(key)) {
    for (const JsonValue& v : *a) {
      if (!v.is_string()) {
        r.Error(key, "must be an array of strings");
        return {};
      }
      out.emplace_back(v.get_string());
    }
  }
  return out;
}

std::optional<std::string> OptionalStr(const FieldReader& r, std::string_view key) {
  if (!r.obj.contains(key) || r.obj.at(key).is_null()) return std::nullopt;
  return r.Str(key);
}

std::int64_t IntOf(const FieldReader& r, std::string_view key) {
  const JsonValue* v = r.obj.if_contains(key);
  if (v == nullptr || !v->is_int64()) {
    r.Error(key, "must be an integer");
    return 0;
  }
  return v->get_int64();
}

// packages/<id>.json as written by AppendPackageMeta.
Result<PackageMeta> ParsePackageMeta(std::string_view text) {
  auto v = ParseJson(text);
  if (!v) return Fail(std::move(v.error()));
  if (!v->is_object()) return Fail(errc::kBadRequest, "not a JSON object");
  Status st;
  FieldReader r{v->get_object(), "", &st};
  PackageMeta m;
  m.id = r.Str("id", true);
  const std::string kind = r.Str("kind", true);
  if (st && kind != "package" && kind != "plain") r.Error("kind", "must be package or plain");
  m.package = kind == "package";
  m.package_id = OptionalStr(r, "packageId");
  m.version = OptionalStr(r, "version");
  m.created = OptionalStr(r, "created");
  m.packager = OptionalStr(r, "packager");
  m.signers = StringsOf(r, "signers");
  m.recipients = StringsOf(r, "recipients");
  m.sha256 = r.Str("sha256", true);
  const std::int64_t size = IntOf(r, "size");
  m.size = size > 0 ? static_cast<std::uint64_t>(size) : 0;
  m.uploaded_at = IntOf(r, "uploadedAt");
  m.warnings = StringsOf(r, "warnings");
  if (!st) return Fail(std::move(st.error()));
  return m;
}

Result<AgentRecord> ParseAgent(std::string_view text) {
  JsonParseOptions po;
  po.max_depth = 16;
  auto v = ParseJson(text, po);
  if (!v) return Fail(std::move(v.error()));
  if (!v->is_object()) return Fail(errc::kBadRequest, "not a JSON object");
  Status st;
  const JsonObject& o = v->get_object();
  FieldReader r{o, "", &st};
  AgentRecord a;
  a.id = r.Str("id", true);
  a.token_sha256 = r.Str("tokenSha256", true);
  if (st && a.token_sha256.size() != 64) r.Error("tokenSha256", "must be 64 hex digits");
  a.packages = StringsOf(r, "packages");
  a.description = r.Str("description");
  a.created_at = IntOf(r, "createdAt");
  if (const JsonValue* ls = o.if_contains("lastSeen"); ls != nullptr && !ls->is_null()) {
    a.last_seen = IntOf(r, "lastSeen");
  }
  if (const JsonObject* s = r.Object("status")) AppendJsonObject(a.status, *s);
  if (const JsonArray* audit = r.Array("audit")) {
    for (const JsonValue& rec : *audit) {
      if (!rec.is_object()) {
        r.Error("audit", "must be an array of objects");
        break;
      }
      std::string one;
      AppendJsonObject(one, rec.get_object());
      a.audit_bytes += one.size();
      a.audit.push_back(std::move(one));
    }
  }
  if (!st) return Fail(std::move(st.error()));
  return a;
}

std::string AgentFile(const AgentRecord& a) {
  std::string out = "{\"id\":";
  AppendJsonString(out, a.id);
  out += ",\"tokenSha256\":";
  AppendJsonString(out, a.token_sha256);
  out += ",\"packages\":";
  AppendStrings(out, a.packages);
  out += ",\"description\":";
  AppendJsonString(out, a.description);
  out += ",\"createdAt\":" + std::to_string(a.created_at);
  out += ",\"lastSeen\":";
  out += a.last_seen ? std::to_string(*a.last_seen) : "null";
  out += ",\"status\":";
  out += a.status.empty() ? "null" : a.status;
  out += ",\"audit\":[";
  bool first = true;
  for (const std::string& rec : a.audit) {
    if (!first) out.push_back(',');
    first = false;
    out += rec;
  }
  out += "]}\n";
  return out;
}

}  // namespace

bool ValidReportedId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool ValidId(std::string_view id) { return ValidReportedId(id) && id.front() != '.'; }

std::int64_t TakeFrom(Bucket& b, std::int64_t now, int burst, std::int64_t every_ms) {
  const std::int64_t tolerance = static_cast<std::int64_t>(burst - 1) * every_ms;
  // A clock stepped back must not keep the bucket empty for longer than a full refill.
  if (b.tat > now + tolerance + every_ms) b.tat = now;
  const std::int64_t tat = std::max(b.tat, now);
  if (tat - now > tolerance) return tat - now - tolerance;
  b.tat = tat + every_ms;
  return 0;
}

std::int64_t ReportWaitMs(const AgentRecord& a, std::int64_t now) {
  if (!a.last_seen || now < *a.last_seen || now - *a.last_seen >= kMinReportIntervalMs) return 0;
  return *a.last_seen + kMinReportIntervalMs - now;
}

void TrimAudit(AgentRecord& a) {
  while (!a.audit.empty() &&
         (a.audit.size() > kMaxAuditRecords || a.audit_bytes > kMaxAuditRingBytes)) {
    a.audit_bytes -= a.audit.front().size();
    a.audit.pop_front();
  }
}

std::string Sha256Hex(std::string_view bytes) {
  EnsureSodium();
  unsigned char h[crypto_hash_sha256_BYTES];
  ::crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  char hex[sizeof h * 2 + 1];
  ::sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string(hex, sizeof h * 2);
}

void AppendPackageMeta(std::string& out, const PackageMeta& m) {
  out += "{\"id\":";
  AppendJsonString(out, m.id);
  out += ",\"kind\":";
  out += m.package ? "\"package\"" : "\"plain\"";
  AppendOptional(out, "packageId", m.package_id);
  AppendOptional(out, "version", m.version);
  AppendOptional(out, "created", m.created);
  AppendOptional(out, "packager", m.packager);
  out += ",\"signers\":";
  AppendStrings(out, m.signers);
  out += ",\"recipients\":";
  AppendStrings(out, m.recipients);
  out += ",\"sha256\":";
  AppendJsonString(out, m.sha256);
  out += ",\"size\":" + std::to_string(m.size);
  out += ",\"uploadedAt\":" + std::to_string(m.uploaded_at);
  out += ",\"warnings\":";
  AppendStrings(out, m.warnings);
  out.push_back('}');
}

void AppendAgent(std::string& out, const AgentRecord& a, std::size_t audit_limit) {
  out += "{\"id\":";
  AppendJsonString(out, a.id);
  out += ",\"packages\":";
  AppendStrings(out, a.packages);
  out += ",\"description\":";
  AppendJsonString(out, a.description);
  out += ",\"createdAt\":" + std::to_string(a.created_at);
  out += ",\"lastSeen\":";
  out += a.last_seen ? std::to_string(*a.last_seen) : "null";
  out += ",\"status\":";
  out += a.status.empty() ? "null" : a.status;
  out += ",\"audit\":[";
  const std::size_t skip = a.audit.size() > audit_limit ? a.audit.size() - audit_limit : 0;
  for (std::size_t i = skip; i < a.audit.size(); ++i) {
    if (i > skip) out.push_back(',');
    out += a.audit[i];
  }
  out += "]}";
}

Result<PackageMeta> Describe(std::string_view id, std::string_view bytes) {
  PackageMeta m;
  m.id = std::string(id);
  m.size = bytes.size();
  if (package::LooksLikePackage(bytes)) {
    m.package = true;
    auto info = package::Inspect(bytes);
    if (!info) {
      // Stored all the same: the service distributes, the agent decides (and will refuse it).
      if (package::RefusalOf(info.error()) != package::Refusal::kBadSignature) {
        return Fail(errc::kBadRequest, "package: " + info.error().message);
      }
      m.warnings.push_back("bad_signature: " + info.error().message +
                           " (agents refuse this package)");
      m.sha256 = Sha256Hex(bytes);
      return m;
    }
    m.package_id = info->manifest.id;
    m.version = info->manifest.version;
    m.created = info->manifest.created;
    m.packager = info->manifest.packager.Text();
    for (const auto& k : info->signers) m.signers.push_back(k.Text());
    for (const auto& k : info->recipients) m.recipients.push_back(k.Text());
    if (info->manifest.id != id) {
      m.warnings.push_back("package id \"" + info->manifest.id + "\" is not \"" + std::string(id) +
                           "\": an agent whose packaging expects \"" + std::string(id) +
                           "\" refuses it");
    }
    m.sha256 = Sha256Hex(bytes);
    return m;
  }
  if (bytes.size() > kMaxPlainBytes) {
    return Fail(errc::kBadRequest, "body: a plain configuration is at most " +
                                       std::to_string(kMaxPlainBytes) + " bytes");
  }
  auto v = ParseJson(bytes);
  if (!v) {
    return Fail(errc::kBadRequest,
                "body: neither a workflow package nor JSON (" + v.error().message + ")");
  }
  if (!v->is_object()) {
    return Fail(errc::kBadRequest, "body: a plain configuration must be a JSON object");
  }
  m.sha256 = Sha256Hex(bytes);
  return m;
}

ConfigService::Impl::Impl(ServiceOptions o) : options(std::move(o)) {
  if (!options.now_ms) {
    options.now_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  packages_dir = options.dir + "/packages";
  agents_dir = options.dir + "/agents";
}

Status ConfigService::Impl::EnsureDirs() {
  for (const std::string& d : {packages_dir, agents_dir}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) {
      return Fail(errc::kStorageError,
                  "workflow service: cannot create " + d + ": " + ec.message());
    }
  }
  return Ok();
}

Result<PackageMeta> ConfigService::Impl::PutPackage(const std::string& id, std::string_view bytes) {
  auto described = Describe(id, bytes);  // before any lock: Inspect verifies signatures
  if (!described) return Fail(std::move(described.error()));
  std::lock_guard write(write_mu);
  {
    std::lock_guard lock(mu);
    if (!packages.contains(id) && packages.size() >= kMaxPackages) {
      return Fail(errc::kConflict, "at most " + std::to_string(kMaxPackages) +
                                       " workflow packages are stored: delete one first");
    }
  }
  described->uploaded_at = Now();
  if (auto st = EnsureDirs(); !st) return Fail(std::move(st.error()));
  std::string meta;
  AppendPackageMeta(meta, *described);
  meta.push_back('\n');
  {
    // The bytes first: a crash before the metadata is written leaves a .bin that Load
    // describes again (it trusts the bytes, not the old metadata).
    std::unique_lock files(files_mu);
    if (auto st = WriteAtomic(packages_dir, id + ".bin", bytes); !st) {
      return Fail(std::move(st.error()));
    }
    if (auto st = WriteAtomic(packages_dir, id + ".json", meta); !st) {
      return Fail(std::move(st.error()));
    }
    std::lock_guard lock(mu);
    packages[id] = std::make_shared<const PackageMeta>(*described);
  }
  return std::move(*described);
}

Status ConfigService::Impl::DeletePackage(const std::string& id) {
  std::lock_guard write(write_mu);
  if (FindPackage(id) == nullptr) return Fail(errc::kNotFound, "no workflow package " + id);
  std::unique_lock files(files_mu);
  // The metadata first: without it a left-over .bin is removed at the next start.
  if (auto st = RemoveFile(packages_dir + "/" + id + ".json"); !st) return st;
  {
    std::lock_guard lock(mu);
    packages.erase(id);
  }
  if (auto st = RemoveFile(packages_dir + "/" + id + ".bin"); !st) {
    log::Warn("workflow service: " + st.error().message);
  }
  return Ok();
}

std::shared_ptr<const PackageMeta> ConfigService::Impl::FindPackage(std::string_view id) const {
  std::lock_guard lock(mu);
  auto it = packages.find(id);
  return it == packages.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const PackageMeta>> ConfigService::Impl::Packages() const {
  std::lock_guard lock(mu);
  std::vector<std::shared_ptr<const PackageMeta>> out;
  for (const auto& [id, m] : packages) out.push_back(m);
  return out;
}

Result<std::pair<std::string, std::shared_ptr<const PackageMeta>>> ConfigService::Impl::ReadPackage(
    const std::string& id) const {
  std::shared_lock files(files_mu);
  auto meta = FindPackage(id);
  if (meta == nullptr) return Fail(errc::kNotFound, "no workflow package " + id);
  std::string bytes;
  const std::string path = packages_dir + "/" + id + ".bin";
  if (const int err = ReadWholeFile(path, bytes, kMaxUploadBytes); err != 0) {
    return Fail(StoreError(path, "cannot read", err));
  }
  if (bytes.size() != meta->size) {
    return Fail(errc::kStorageError, "workflow service: " + path + " holds " +
                                         std::to_string(bytes.size()) + " bytes, its metadata " +
                                         std::to_string(meta->size));
  }
  return std::make_pair(std::move(bytes), std::move(meta));
}

std::mutex& ConfigService::Impl::AgentMutex(std::string_view id) {
  return agent_mu[std::hash<std::string_view>{}(id) % agent_mu.size()];
}

Status ConfigService::Impl::WriteAgent(const AgentRecord& a) {
  if (auto st = EnsureDirs(); !st) return st;
  const std::string file = AgentFile(a);
  // Checked on what is written, not on what came in: a start must be able to read it back.
  if (file.size() > kMaxAgentFileWritten) {
    return Fail(errc::kStorageError, "workflow service: agent " + a.id + ": its file would take " +
                                         std::to_string(file.size()) + " bytes, at most " +
                                         std::to_string(kMaxAgentFileWritten));
  }
  return WriteAtomic(agents_dir, a.id + ".json", file);
}

Result<ConfigService::Impl::AgentPut> ConfigService::Impl::PutAgent(const std::string& id,
                                                                    const AgentInput& in) {
  std::lock_guard write(write_mu);
  // A status report in flight must not swap in a record read before this change (a rotated
  // token would come back).
  std::lock_guard agent_lock(AgentMutex(id));
  auto current = FindAgent(id);
  if (current == nullptr) {
    std::lock_guard lock(mu);
    if (agents.size() >= kMaxAgents) {
      return Fail(errc::kConflict,
                  "at most " + std::to_string(kMaxAgents) + " agents: delete one first");
    }
  }
  auto next = current ? std::make_shared<AgentRecord>(*current) : std::make_shared<AgentRecord>();
  AgentPut out;
  if (!current) {
    next->id = id;
    next->created_at = Now();
    next->packages = {id};
  }
  if (in.packages) next->packages = *in.packages;
  if (in.description) next->description = *in.description;
  if (!current || in.rotate_token) {
    out.token = NewToken();
    next->token_sha256 = Sha256Hex(out.token);
  }
  if (auto st = WriteAgent(*next); !st) return Fail(std::move(st.error()));
  {
    std::lock_guard lock(mu);
    agents[id] = next;
  }
  out.agent = std::move(next);
  return out;
}

Status ConfigService::Impl::DeleteAgent(const std::string& id) {
  std::lock_guard write(write_mu);
  std::lock_guard agent_lock(AgentMutex(id));
  if (FindAgent(id) == nullptr) return Fail(errc::kNotFound, "no agent " + id);
  if (auto st = RemoveFile(agents_dir + "/" + id + ".json"); !st) return st;
  {
    std::lock_guard lock(mu);
    agents.erase(id);
  }
  std::lock_guard limits(limit_mu);
  download_buckets.erase(id);
  return Ok();
}

std::shared_ptr<const AgentRecord> ConfigService::Impl::FindAgent(std::string_view id) const {
  std::lock_guard lock(mu);
  auto it = agents.find(id);
  return it == agents.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const AgentRecord>> ConfigService::Impl::Agents() const {
  std::lock_guard lock(mu);
  std::vector<std::shared_ptr<const AgentRecord>> out;
  for (const auto& [id, a] : agents) out.push_back(a);
  return out;
}

std::shared_ptr<const AgentRecord> ConfigService::Impl::AgentByToken(std::string_view token) const {
  if (token.empty()) return nullptr;
  const std::string hash = Sha256Hex(token);
  std::lock_guard lock(mu);
  // Every stored hash is compared, in constant time each: neither which agent matched nor how
  // much of a hash did shows in the time taken.
  std::shared_ptr<const AgentRecord> found;
  for (const auto& [id, a] : agents) {
    if (a->token_sha256.size() == hash.size() &&
        ::sodium_memcmp(a->token_sha256.data(), hash.data(), hash.size()) == 0) {
      found = a;
    }
  }
  return found;
}

Status ConfigService::Impl::RecordStatus(const std::string& id, const StatusReport& report,
                                         std::int64_t* retry_after_ms) {
  // Not write_mu: one agent's file write (up to about 1.3 MiB, fsync'd) holds up only that
  // agent; the interval below bounds how often that is.
  std::lock_guard agent_lock(AgentMutex(id));
  auto current = FindAgent(id);
  if (current == nullptr) return Fail(errc::kNotFound, "no agent " + id);
  const std::int64_t now = Now();
  if (const std::int64_t wait = ReportWaitMs(*current, now); wait > 0) {
    if (retry_after_ms != nullptr) *retry_after_ms = wait;
    return Fail(errc::kRateLimited, std::string(kReportIntervalRule));
  }
  auto next = std::make_shared<AgentRecord>(*current);
  next->status = report.status;
  next->last_seen = now;
  for (const std::string& rec : report.audit) {
    next->audit_bytes += rec.size();
    next->audit.push_back(rec);
  }
  TrimAudit(*next);
  if (auto st = WriteAgent(*next); !st) return st;
  std::lock_guard lock(mu);
  agents[id] = std::move(next);
  return Ok();
}

std::int64_t ConfigService::Impl::TakeDownload(const AgentRecord* agent) {
  const std::int64_t now = Now();
  std::lock_guard lock(limit_mu);
  if (agent == nullptr) return TakeFrom(open_bucket, now, kOpenDownloadBurst, kOpenDownloadEveryMs);
  auto it = download_buckets.find(agent->id);
  if (it == download_buckets.end()) {
    if (download_buckets.size() >= kMaxAgents) {
      // Only a download that raced its agent's delete leaves a bucket behind: drop those.
      std::erase_if(download_buckets,
                    [this](const auto& kv) { return FindAgent(kv.first) == nullptr; });
    }
    it = download_buckets.emplace(agent->id, Bucket{}).first;
  }
  return TakeFrom(it->second, now, kDownloadBurst, kDownloadEveryMs);
}

Status ConfigService::Impl::LoadPackages() {
  std::error_code ec;
  if (!fs::is_directory(packages_dir, ec)) return Ok();
  fs::directory_iterator it(packages_dir, ec);
  if (ec)
    return Fail(errc::kBadRequest,
                "workflow service: cannot list " + packages_dir + ": " + ec.message());
  std::vector<std::string> metas, bins;
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".tmp")) {
      // An upload that did not finish: it was never answered.
      (void)RemoveFile(e.path().string());
    } else if (name.ends_with(".json")) {
      metas.push_back(name.substr(0, name.size() - 5));
    } else if (name.ends_with(".bin")) {
      bins.push_back(name.substr(0, name.size() - 4));
    }
  }
  for (const std::string& id : bins) {
    const std::string bin = packages_dir + "/" + id + ".bin";
    if (!ValidId(id)) {
      log::Error("workflow service: ignoring " + bin + ": not a valid package id");
      continue;
    }
    if (std::find(metas.begin(), metas.end(), id) == metas.end()) {
      // Its upload never finished (or its delete did not): never answered as stored.
      log::Warn("workflow service: removing " + bin + " (no metadata: an unfinished upload)");
      (void)RemoveFile(bin);
      continue;
    }
    std::string bytes, text;
    if (const int err = ReadWholeFile(bin, bytes, kMaxUploadBytes); err != 0) {
      log::Error("workflow service: package " + id + " not loaded: cannot read " + bin + ": " +
                 ErrnoText(err));
      continue;
    }
    const std::string json = packages_dir + "/" + id + ".json";
    Result<PackageMeta> meta = Fail(errc::kBadRequest, "unreadable");
    if (ReadWholeFile(json, text, kMaxMetaFile) == 0) meta = ParsePackageMeta(text);
    // The bytes are what agents get: metadata that does not describe them (a crash between
    // the two renames of an upload) is derived from them again. Hashing every package once
    // per start is the price (about 20 ms for 9 MiB).
    if (!meta || meta->id != id || meta->sha256 != Sha256Hex(bytes) || meta->size != bytes.size()) {
      auto again = Describe(id, bytes);
      if (!again) {
        log::Error("workflow service: package " + id + " not loaded: " + again.error().message);
        continue;
      }
      again->uploaded_at = meta ? meta->uploaded_at : Now();
      std::string out;
      AppendPackageMeta(out, *again);
      out.push_back('\n');
      if (auto st = WriteAtomic(packages_dir, id + ".json", out); !st) {
        log::Error(st.error().message);
      }
      log::Warn("workflow service: package " + id + ": metadata derived again from its bytes");
      meta = std::move(*again);
    }
    packages[id] = std::make_shared<const PackageMeta>(std::move(*meta));
  }
  return Ok();
}

Status ConfigService::Impl::LoadAgents() {
  std::error_code ec;
  if (!fs::is_directory(agents_dir, ec)) return Ok();
  fs::directory_iterator it(agents_dir, ec);
  if (ec)
    return Fail(errc::kBadRequest,
                "workflow service: cannot list " + agents_dir + ": " + ec.message());
  for (const auto& e : it) {
    const std::string name = e.path().filename().string();
    const std::string path = e.path().string();
    if (name.ends_with(".tmp")) {
      (void)RemoveFile(path);
      continue;
    }
    if (!name.ends_with(".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (!ValidId(id)) {
      log::Error("workflow service: ignoring " + path + ": not a valid agent id");
      continue;
    }
    std::string text;
    if (const int err = ReadWholeFile(path, text, kMaxAgentFileRead); err != 0) {
      log::Error("workflow service: agent " + id + " not loaded: cannot read " + path + ": " +
                 ErrnoText(err));
      continue;
    }
    auto a = ParseAgent(text);
    if (a && a->id != id) a = Fail(errc::kBadRequest, "id: is not the file's name");
    if (!a) {
      log::Error("workflow service: agent " + id + " not loaded: " + path + ": " +
                 a.error().message);
      continue;
    }
    // A file of an earlier version may hold more than is kept now: trimmed here, so that the
    // next write stays within kMaxAgentFileWritten.
    TrimAudit(*a);
    if (a->status.size() > kMaxStoredStatusBytes) {
      log::Warn("workflow service: agent " + id + ": its last status (" +
                std::to_string(a->status.size()) + " bytes) is over " +
                std::to_string(kMaxStoredStatusBytes) + " and is dropped until its next report");
      a->status.clear();
    }
    agents[id] = std::make_shared<const AgentRecord>(std::move(*a));
  }
  return Ok();
}

Status ConfigService::Impl::Load() {
  std::error_code ec;
  if (!fs::exists(options.dir, ec)) return Ok();
  for (const std::string& d : {options.dir, packages_dir, agents_dir}) {
    if (fs::exists(d, ec) && ::access(d.c_str(), R_OK | X_OK) != 0) {
      return Fail(errc::kBadRequest,
                  "workflow service: cannot read " + d + ": " + ErrnoText(errno));
    }
  }
  std::lock_guard lock(mu);
  if (auto st = LoadPackages(); !st) return st;
  if (auto st = LoadAgents(); !st) return st;
  log::Info("workflow service: " + std::to_string(packages.size()) + " packages, " +
            std::to_string(agents.size()) + " agents from " + options.dir);
  return Ok();
}

ConfigService::ConfigService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigService::~ConfigService() = default;

Result<std::shared_ptr<ConfigService>> ConfigService::Open(ServiceOptions options) {
  if (options.dir.empty()) return Fail(errc::kBadRequest, "workflow service: no directory");
  auto impl = std::make_unique<Impl>(std::move(options));
  if (auto st = impl->Load(); !st) return Fail(std::move(st.error()));
  return std::shared_ptr<ConfigService>(new ConfigService(std::move(impl)));
}

}  // namespace opsorch::workflow::service
