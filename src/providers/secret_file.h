// File helpers of the file-backed secret stores (json, sealed): whole-file read and the
// crash-safe replace (temp file in the same directory, fsync, rename, fsync the directory).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::providers {

// Reads the whole file into `out`; returns 0 or the errno. EFBIG when larger than `max_bytes`.
int ReadWholeFile(const std::string& path, std::string& out, std::size_t max_bytes);

// The directory part of `path` ("." when there is none), as rename and fsync need it.
std::string DirectoryOf(const std::string& path);

// Replaces `path` with `data` (mode 0600) so that a crash leaves the old or the new content,
// never a torn file. Errors: secret_store_error "failed to write secret file <path>: <step>:
// <reason>"; the data never appears in them.
Status WriteFileAtomically(const std::string& path, std::string_view data);

std::string ErrnoText(int err);

}  // namespace opsorch::providers
