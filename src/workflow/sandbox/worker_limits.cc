#include "workflow/sandbox/worker_limits.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <opsorch/workflow/script.h>

namespace opsorch::workflow::sandbox {
namespace {

Status SetLimit(int resource, rlim_t value, const char* name) {
  rlimit r{value, value};
  if (::setrlimit(resource, &r) != 0) {
    return Fail(script_errc::kScriptWorker,
                std::string("script worker: setrlimit ") + name + ": " + std::strerror(errno));
  }
  return {};
}

// What a script run needs: the pipe to the parent, memory, clocks, randomness, exit.
constexpr int kAllowed[] = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(close),
    SCMP_SYS(fstat),
    SCMP_SYS(newfstatat),
    SCMP_SYS(lseek),
    SCMP_SYS(brk),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(futex),
    SCMP_SYS(getrandom),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(tgkill),
    SCMP_SYS(sched_yield),
    SCMP_SYS(getrusage),
    SCMP_SYS(restart_syscall),
    SCMP_SYS(prlimit64),
};

// Never legitimate in a worker, and the first steps of an escape: the process dies (SIGSYS)
// instead of merely failing the call, so that the parent reports it. Everything else that is
// not allowed fails with EPERM (glibc and the sanitizers cope with that).
constexpr int kKilled[] = {
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    SCMP_SYS(clone),
    SCMP_SYS(clone3),
    SCMP_SYS(ptrace),
    SCMP_SYS(socket),
    SCMP_SYS(socketpair),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(accept),
    SCMP_SYS(accept4),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(unshare),
    SCMP_SYS(setns),
    SCMP_SYS(mount),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(keyctl),
};

Status ApplySeccomp() {
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return Fail(script_errc::kScriptWorker, "script worker: seccomp_init failed");
  int rc = 0;
  for (int nr : kAllowed) {
    if (nr < 0) continue;  // not on this architecture
    if ((rc = ::seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0) break;
  }
  for (int nr : kKilled) {
    if (rc != 0) break;
    if (nr < 0) continue;
    rc = ::seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
  }
  if (rc == 0) rc = ::seccomp_load(ctx);
  ::seccomp_release(ctx);
  if (rc != 0) {
    return Fail(script_errc::kScriptWorker,
                std::string("script worker: seccomp filter: ") + std::strerror(-rc));
  }
  return {};
}

}  // namespace

Status ApplyWorkerLimits(std::size_t address_space_bytes, bool seccomp) {
// ASan and TSan reserve terabytes of address space: RLIMIT_AS cannot apply under them.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  if (address_space_bytes > 0) {
    if (auto s = SetLimit(RLIMIT_AS, address_space_bytes, "RLIMIT_AS"); !s) return s;
  }
#else
  (void)address_space_bytes;
#endif
  if (auto s = SetLimit(RLIMIT_CORE, 0, "RLIMIT_CORE"); !s) return s;
  // stdin, stdout, stderr and nothing else.
  if (auto s = SetLimit(RLIMIT_NOFILE, 4, "RLIMIT_NOFILE"); !s) return s;
  // No core dumps and no ptrace attach from other processes of the same user.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (seccomp) return ApplySeccomp();
  return {};
}

long ProbeSyscall(std::string_view name, int* err) {
  long r = -1;
  errno = 0;
  if (name == "socket") {
    r = ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  } else if (name == "getrandom") {
    char buf[8];
    r = ::syscall(SYS_getrandom, buf, sizeof buf, 0);
  } else if (name == "openat") {
    r = ::syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
  } else if (name == "execve") {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    r = ::syscall(SYS_execve, "/bin/true", argv, nullptr);
  } else if (name == "clock_gettime") {
    timespec ts;
    r = ::syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
  } else {
    errno = EINVAL;
  }
  *err = errno;
  if (r >= 0 && name == "openat") ::close(static_cast<int>(r));
  return r;
}

}  // namespace opsorch::workflow::sandbox
