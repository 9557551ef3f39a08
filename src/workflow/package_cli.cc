#include <cerrno>
#include <filesystem>

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <opsorch/common/files.h>
#include <opsorch/common/json.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/workflow/bootstrap.h>
#include <opsorch/workflow/config.h>
#include <opsorch/workflow/package.h>
#include <opsorch/workflow/package_cli.h>

namespace opsorch::workflow {
namespace {

namespace fs = std::filesystem;
namespace pkg = package;

// The largest container: a full payload with every manifest byte, recipient and signature.
constexpr std::size_t kMaxPackageFileBytes = 9u << 20;
constexpr std::size_t kMaxConfigBytes = 8u << 20;
constexpr std::size_t kMaxStdinValueBytes = 1u << 20;

int Say(std::FILE* f, int status, const std::string& text) {
  std::fprintf(f, "%s\n", text.c_str());
  return status;
}

int Usage(std::FILE* err, const std::string& text) {
  return Say(err, kExitUsage, "opsorch: " + text);
}

int Refused(std::FILE* err, const std::string& file, const Error& e) {
  return Say(err, kExitRefused,
             "opsorch: " + file + ": refused (" + std::string(pkg::RefusalName(pkg::RefusalOf(e))) +
                 "): " + e.message);
}

void Wipe(pkg::SecretKey& k) { sodium_memzero(k.bytes.data(), k.bytes.size()); }

// A key file of the expected purpose, or the reason (a usage error: the wrong file was given).
Result<pkg::SecretKey> SecretKeyOf(const std::string& path, pkg::KeyPurpose purpose,
                                   std::string_view flag) {
  auto k = pkg::ReadSecretKeyFile(path);
  if (!k) return Fail(std::move(k.error()));
  if (k->purpose != purpose) {
    const std::string got(pkg::PurposeName(k->purpose));
    Wipe(*k);
    return Fail(errc::kBadRequest, path + ": a " + got + " key; " + std::string(flag) +
                                       " takes a " + std::string(pkg::PurposeName(purpose)) +
                                       " key");
  }
  return k;
}

Result<pkg::PublicKey> PublicKeyOf(const std::string& path, pkg::KeyPurpose purpose,
                                   std::string_view flag) {
  auto k = pkg::ReadPublicKeyFile(path);
  if (!k) return Fail(std::move(k.error()));
  if (k->purpose != purpose) {
    return Fail(errc::kBadRequest, path + ": a " + std::string(pkg::PurposeName(k->purpose)) +
                                       " key; " + std::string(flag) + " takes a " +
                                       std::string(pkg::PurposeName(purpose)) + " key");
  }
  return k;
}

std::string Stem(const std::string& path) { return fs::path(path).stem().string(); }

Result<std::string> ReadPackageFile(const std::string& path) {
  return ReadTextFile(path, kMaxPackageFileBytes);
}

// Writes `bytes` to `path` through a temporary file in the same directory, so that a reader
// never sees half a package; without `replace` an existing file stays (link() fails with EEXIST
// atomically).
Status WriteFileAtomically(const std::string& path, std::string_view bytes, bool replace) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(errc::kBadRequest, tmp + ": cannot create: " + ErrnoText(errno));
  int e = 0;
  for (std::size_t done = 0; e == 0 && done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      e = errno;
    else
      done += static_cast<std::size_t>(n);
  }
  if (e == 0 && ::fsync(fd) != 0) e = errno;
  if (::close(fd) != 0 && e == 0) e = errno;
  if (e == 0) {
    if (replace) {
      if (::rename(tmp.c_str(), path.c_str()) != 0) e = errno;
    } else if (::link(tmp.c_str(), path.c_str()) != 0) {
      e = errno;
    }
  }
  if (!(e == 0 && replace)) ::unlink(tmp.c_str());
  if (e == EEXIST) return Fail(errc::kConflict, path + ": exists; --force replaces it");
  if (e != 0) return Fail(errc::kBadRequest, path + ": cannot write: " + ErrnoText(e));
  return Ok();
}

std::string SignerList(const pkg::PackageInfo& info, const pkg::Policy& policy) {
  std::string out;
  for (const pkg::PublicKey& k : info.signers) {
    std::string name;
    for (const auto* list : {&policy.required_signers, &policy.additional_signers}) {
      for (const auto& entry : *list) {
        if (name.empty() && entry.second == k) name = entry.first;
      }
    }
    if (!out.empty()) out += ", ";
    out += name.empty() ? k.Text() + " (not in the policy)" : name + " (" + k.Text() + ")";
  }
  return out;
}

}  // namespace

int KeygenCommand(const std::string& purpose, const std::string& name, std::FILE* out,
                  std::FILE* err) {
  std::optional<pkg::KeyPurpose> p;
  for (auto candidate : {pkg::KeyPurpose::kSign, pkg::KeyPurpose::kRecipient,
                         pkg::KeyPurpose::kPackager, pkg::KeyPurpose::kString}) {
    if (pkg::PurposeName(candidate) == purpose) p = candidate;
  }
  if (!p) return Usage(err, "--purpose must be sign, recipient, packager or string");
  if (name.empty()) return Usage(err, "-o NAME is required");
  pkg::SecretKey key = pkg::GenerateKey(*p);
  const Status written = pkg::WriteKeyFiles(key, name);
  const std::string shown =
      *p == pkg::KeyPurpose::kString ? "key id " + pkg::StringKeyId(key) : key.Public().Text();
  Wipe(key);
  if (!written) return Usage(err, written.error().message);
  return Say(out, kExitOk, shown);
}

int PackCommand(const PackArgs& args, std::FILE* out, std::FILE* err) {
  if (args.sign_keys.empty()) return Usage(err, "at least one --sign NAME.key is required");
  if (args.recipient_pubs.empty()) return Usage(err, "at least one --for NAME.pub is required");
  if (args.output.empty()) return Usage(err, "-o FILE is required");
  std::error_code ec;
  if (!args.force && fs::exists(fs::symlink_status(args.output, ec))) {
    return Usage(err, args.output + ": exists; --force replaces it");
  }
  auto text = ReadTextFile(args.config, kMaxConfigBytes);
  if (!text) return Usage(err, text.error().message);
  std::string dir = fs::path(args.config).parent_path().string();
  if (dir.empty()) dir = ".";
  auto payload = InlineResources(*text, dir, args.config);
  if (!payload) return Say(err, kExitRefused, "opsorch: not packed: " + payload.error().message);
  // Validated as the runtime will read it: inlined, with no directory to read files from.
  if (auto config = ParseWorkflowConfig(*payload, args.config, ""); !config) {
    return Say(err, kExitRefused, "opsorch: not packed: " + config.error().message);
  }

  pkg::PackOptions options;
  options.id = args.id;
  options.version = args.version;
  options.description = args.description;
  auto wipe_all = [&options] {
    for (auto& k : options.signers) Wipe(k);
    if (options.packager) Wipe(*options.packager);
  };
  for (const std::string& path : args.sign_keys) {
    auto k = SecretKeyOf(path, pkg::KeyPurpose::kSign, "--sign");
    if (!k) {
      wipe_all();
      return Usage(err, k.error().message);
    }
    options.signers.push_back(std::move(*k));
  }
  for (const std::string& path : args.recipient_pubs) {
    auto k = PublicKeyOf(path, pkg::KeyPurpose::kRecipient, "--for");
    if (!k) {
      wipe_all();
      return Usage(err, k.error().message);
    }
    options.recipients.push_back(*k);
  }
  if (!args.packager_key.empty()) {
    auto k = SecretKeyOf(args.packager_key, pkg::KeyPurpose::kPackager, "--packager");
    if (!k) {
      wipe_all();
      return Usage(err, k.error().message);
    }
    options.packager = std::move(*k);
  }
  auto packed = pkg::Pack(*payload, options);
  wipe_all();
  if (!packed) return Usage(err, "not packed: " + packed.error().message);
  auto info = pkg::Inspect(*packed);
  if (!info) return Say(err, kExitRefused, "opsorch: internal: " + info.error().message);
  if (Status st = WriteFileAtomically(args.output, *packed, args.force); !st) {
    return Usage(err, st.error().message);
  }
  return Say(out, kExitOk,
             "packed " + info->manifest.id + " " + info->manifest.version + " for " +
                 std::to_string(info->recipients.size()) + " recipient(s), signed by " +
                 std::to_string(info->signers.size()) + " key(s): " + args.output + " (" +
                 std::to_string(packed->size()) + " bytes, sha256 " + info->sha256 + ")");
}

int InspectCommand(const std::string& file, bool json, std::FILE* out, std::FILE* err) {
  auto bytes = ReadPackageFile(file);
  if (!bytes) return Usage(err, bytes.error().message);
  auto info = pkg::Inspect(*bytes);
  if (!info) return Refused(err, file, info.error());
  const pkg::Manifest& m = info->manifest;
  if (json) {
    JsonObject manifest;
    manifest["id"] = m.id;
    manifest["version"] = m.version;
    manifest["created"] = m.created;
    manifest["packager"] = m.packager.Text();
    if (!m.description.empty()) manifest["description"] = m.description;
    JsonArray signers, recipients;
    for (const auto& k : info->signers) signers.emplace_back(k.Text());
    for (const auto& k : info->recipients) recipients.emplace_back(k.Text());
    JsonObject o;
    o["format_version"] = info->format_version;
    o["manifest"] = std::move(manifest);
    o["signers"] = std::move(signers);
    o["recipients"] = std::move(recipients);
    o["payload_bytes"] = info->payload_bytes;
    o["sha256"] = info->sha256;
    std::string text;
    AppendJsonObject(text, o);
    return Say(out, kExitOk, text);
  }
  std::string text = "format version: " + std::to_string(info->format_version) +
                     "\nid:             " + m.id + "\nversion:        " + m.version +
                     "\ncreated:        " + m.created + "\npackager:       " + m.packager.Text();
  if (!m.description.empty()) text += "\ndescription:    " + m.description;
  for (const auto& k : info->signers) text += "\nsigned by:      " + k.Text() + " (verified)";
  for (const auto& k : info->recipients) text += "\nrecipient:      " + k.Text();
  text += "\npayload:        " + std::to_string(info->payload_bytes) + " bytes (encrypted)";
  text += "\nsha256:         " + info->sha256;
  return Say(out, kExitOk, text);
}

int VerifyCommand(const VerifyArgs& args, std::FILE* out, std::FILE* err) {
  const bool by_bootstrap = !args.bootstrap.empty();
  if (by_bootstrap) {
    if (!args.signer_pubs.empty() || !args.additional_pubs.empty() || !args.packager_pubs.empty() ||
        !args.recipient_key.empty() || !args.id.empty() || args.min_additional) {
      return Usage(err,
                   "--bootstrap takes the policy from the bootstrap: drop --signer, "
                   "--additional, --min-additional, --packager-pub, --recipient-key, --id");
    }
  } else {
    if (!args.deployment.empty()) return Usage(err, "--deployment needs --bootstrap");
    if (args.signer_pubs.empty())
      return Usage(err, "--bootstrap or at least one --signer is required");
    if (args.recipient_key.empty()) return Usage(err, "--recipient-key is required");
    if (args.additional_pubs.empty() != !args.min_additional) {
      return Usage(err, "--additional and --min-additional go together");
    }
    if (args.min_additional && *args.min_additional > args.additional_pubs.size()) {
      return Usage(err, "--min-additional " + std::to_string(*args.min_additional) +
                            " is more than the " + std::to_string(args.additional_pubs.size()) +
                            " --additional keys");
    }
  }
  auto bytes = ReadPackageFile(args.file);
  if (!bytes) return Usage(err, bytes.error().message);

  pkg::Policy policy;
  if (by_bootstrap) {
    auto boot = LoadBootstrap(args.bootstrap, ProcessEnvLookup());
    if (!boot) return Usage(err, boot.error().message);
    // The manifest's id picks the deployment when none is named.
    auto info = pkg::Inspect(*bytes);
    if (!info) return Refused(err, args.file, info.error());
    const Deployment* chosen = nullptr;
    std::string matches;
    for (const Deployment& d : boot->deployments) {
      if (!args.deployment.empty()) {
        if (d.id == args.deployment) chosen = &d;
        continue;
      }
      if (!d.packaging || d.packaging->policy.package_id != info->manifest.id) continue;
      if (chosen == nullptr) chosen = &d;
      matches += (matches.empty() ? "" : ", ") + d.id;
    }
    if (!args.deployment.empty() && chosen == nullptr) {
      return Usage(err, args.bootstrap + ": no enabled deployment \"" + args.deployment + "\"");
    }
    if (chosen == nullptr) {
      return Say(err, kExitRefused,
                 "opsorch: " + args.file + ": refused: no deployment of " + args.bootstrap +
                     " takes package id \"" + info->manifest.id + "\"");
    }
    if (args.deployment.empty() && matches.find(',') != std::string::npos) {
      return Usage(err, "deployments " + matches + " take package id \"" + info->manifest.id +
                            "\": name one with --deployment");
    }
    if (!chosen->packaging) {
      return Usage(err,
                   args.bootstrap + ": deployment \"" + chosen->id + "\" has no packaging section");
    }
    policy = chosen->packaging->policy;
  } else {
    policy.package_id = args.id;
    for (const std::string& path : args.signer_pubs) {
      auto k = PublicKeyOf(path, pkg::KeyPurpose::kSign, "--signer");
      if (!k) return Usage(err, k.error().message);
      policy.required_signers.emplace_back(Stem(path), *k);
    }
    for (const std::string& path : args.additional_pubs) {
      auto k = PublicKeyOf(path, pkg::KeyPurpose::kSign, "--additional");
      if (!k) return Usage(err, k.error().message);
      policy.additional_signers.emplace_back(Stem(path), *k);
    }
    policy.required_additional = args.min_additional.value_or(0);
    for (const std::string& path : args.packager_pubs) {
      auto k = PublicKeyOf(path, pkg::KeyPurpose::kPackager, "--packager-pub");
      if (!k) return Usage(err, k.error().message);
      policy.packagers.emplace_back(Stem(path), *k);
    }
    auto k = SecretKeyOf(args.recipient_key, pkg::KeyPurpose::kRecipient, "--recipient-key");
    if (!k) return Usage(err, k.error().message);
    policy.recipient = std::move(*k);
  }
  auto opened = pkg::Open(*bytes, policy, std::nullopt);
  Wipe(policy.recipient);
  if (!opened) return Refused(err, args.file, opened.error());
  sodium_memzero(opened->payload.data(), opened->payload.size());
  return Say(out, kExitOk,
             "ok: " + opened->info.manifest.id + " " + opened->info.manifest.version +
                 " signed by " + SignerList(opened->info, policy));
}

int EncryptStringCommand(const std::string& key_file, const std::optional<std::string>& value,
                         std::FILE* in, std::FILE* out, std::FILE* err) {
  auto key = pkg::ReadSecretKeyFile(key_file);
  if (!key) return Usage(err, key.error().message);
  std::string plain;
  if (value) {
    plain = *value;
  } else {
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, in)) {
      plain.append(buf, n);
      if (plain.size() > kMaxStdinValueBytes) {
        sodium_memzero(plain.data(), plain.size());
        Wipe(*key);
        return Usage(err, "the value on stdin is larger than 1 MiB");
      }
    }
    sodium_memzero(buf, sizeof buf);
    if (plain.ends_with('\n')) plain.pop_back();
    if (plain.ends_with('\r')) plain.pop_back();
  }
  auto enc = pkg::EncryptString(plain, *key);
  sodium_memzero(plain.data(), plain.size());
  Wipe(*key);
  if (!enc) return Usage(err, key_file + ": " + enc.error().message);
  return Say(out, kExitOk, *enc);
}

}  // namespace opsorch::workflow
