#include "support/server_process.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_client.h"
#include "test_paths.h"

namespace opsorch::testing {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint16_t UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::unique_ptr<ServerProcess> ServerProcess::Start(std::map<std::string, std::string> env,
                                                    const std::vector<std::string>& extra,
                                                    const fs::path& log, std::string* error) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto s = std::unique_ptr<ServerProcess>(new ServerProcess());
    s->port_ = UnusedPort();
    s->log_ = log;
    env["OPSORCH_ADDR"] = "127.0.0.1:" + std::to_string(s->port_);
    for (const char* keep : {"PATH", "HOME"}) {
      if (const char* v = std::getenv(keep)) env.emplace(keep, v);
    }
    // Everything the child needs is built before fork: after it only exec-safe calls.
    std::vector<std::string> strings;
    for (const auto& [k, v] : env) strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& kv : strings) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::vector<std::string> args{"opsorch", "serve"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log_path = log.string();
    std::vector<std::pair<std::string, std::string>> auth;
    if (auto t = env.find("OPSORCH_BEARER_TOKEN"); t != env.end() && !t->second.empty()) {
      auth.emplace_back("Authorization", "Bearer " + t->second);
    }

    const pid_t pid = ::fork();
    if (pid < 0) {
      *error = "fork failed";
      return nullptr;
    }
    if (pid == 0) {
      const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      ::execve(OPSORCH_BINARY, argv.data(), envp.data());
      _exit(127);
    }
    s->pid_ = pid;
    bool up = false;
    WaitFor(
        [&] {
          if (!s->Running()) return true;
          HttpClient c(s->port_);
          up = c.Connected() && c.Request("GET", "/health", auth).status == 200;
          return up;
        },
        milliseconds(15'000));
    if (up) return s;
    *error = "server did not come up (wait status " + std::to_string(s->status_) + "); log:\n" +
             ReadAll(log);
    // A port taken between UnusedPort() and bind is the only reason worth a retry.
    if (ReadAll(log).find("in use") == std::string::npos) return nullptr;
  }
  return nullptr;
}

bool ServerProcess::Running() {
  // pid_ -1 would make waitpid wait for any child, and kill signal every process.
  if (reaped_ || pid_ <= 0) return false;
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int ServerProcess::Kill() {
  if (Running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return status_;
}

ServerProcess::Exit ServerProcess::Terminate(milliseconds limit) {
  Exit e;
  const auto start = Clock::now();
  // A reaped pid may belong to another process by now: only a running one is signalled.
  if (Running()) ::kill(pid_, SIGTERM);
  e.exited = WaitFor([&] { return !Running(); }, limit);
  e.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  if (!e.exited) Kill();
  if (WIFEXITED(status_)) e.code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) e.signal = WTERMSIG(status_);
  return e;
}

}  // namespace opsorch::testing
