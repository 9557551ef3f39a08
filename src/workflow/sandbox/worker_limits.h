// OS limits the script worker applies to itself after the init message: address space, open
// files, core dumps, and (optionally) a seccomp allowlist of system calls.
#pragma once

#include <cstddef>
#include <string_view>

#include <opsorch/common/result.h>

namespace opsorch::workflow::sandbox {

// RLIMIT_AS is skipped under AddressSanitizer (its shadow memory needs terabytes of address
// space); everything else always applies.
Status ApplyWorkerLimits(std::size_t address_space_bytes, bool seccomp);

// Tests only (the "probe" message): tries `syscall_name` and returns its result; errno in *err.
// A system call the filter kills never returns.
long ProbeSyscall(std::string_view syscall_name, int* err);

}  // namespace opsorch::workflow::sandbox
