// `opsorch workflow keygen|pack|inspect|verify|encrypt-string`: workflow packages from a
// terminal (include/opsorch/workflow/package.h; docs/WORKFLOWS.md, "Packages"). Each command
// returns the process's exit status: kExitOk, kExitRefused (a check failed: the reason is on
// `err`) or kExitUsage (bad arguments, a file that cannot be read or written).
#pragma once

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace opsorch::workflow {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

// Writes NAME.key (0600) and NAME.pub; prints the public key text (for a string key, its id).
int KeygenCommand(const std::string& purpose, const std::string& name, std::FILE* out,
                  std::FILE* err);

struct PackArgs {
  std::string config;  // the workflow configuration file; its resources are inlined
  std::string id, version, description;
  std::vector<std::string> sign_keys;       // NAME.key, purpose sign
  std::vector<std::string> recipient_pubs;  // NAME.pub, purpose recipient
  std::string packager_key;                 // empty: an anonymous packager
  std::string output;
  bool force = false;  // replace an existing output file
};
// Refuses a configuration ParseWorkflowConfig refuses: an invalid one is never packed.
int PackCommand(const PackArgs& args, std::FILE* out, std::FILE* err);

// Prints what can be read without decrypting; fails unless the container parses and every
// signature verifies.
int InspectCommand(const std::string& file, bool json, std::FILE* out, std::FILE* err);

struct VerifyArgs {
  std::string file;
  // Either a bootstrap (the deployment's packaging policy and recipient key) …
  std::string bootstrap, deployment;
  // … or the policy spelled out. Names are the key files' stems ("publisher.pub": publisher).
  std::vector<std::string> signer_pubs, additional_pubs, packager_pubs;
  std::optional<std::size_t> min_additional;
  std::string recipient_key;
  std::string id;  // empty: any package id
};
// Every check of Open except anti-rollback.
int VerifyCommand(const VerifyArgs& args, std::FILE* out, std::FILE* err);

// Prints `enc1:…` for `value`, or for `in` (its trailing newline stripped) when there is none.
int EncryptStringCommand(const std::string& key_file, const std::optional<std::string>& value,
                         std::FILE* in, std::FILE* out, std::FILE* err);

}  // namespace opsorch::workflow
