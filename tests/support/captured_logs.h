// Captures the log lines written while it lives (log::SetSinkForTest), from any thread.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/log/log.h>

namespace opsorch::testing {

class CapturedLogs {
 public:
  CapturedLogs() {
    log::SetSinkForTest([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~CapturedLogs() { log::SetSinkForTest(nullptr); }
  CapturedLogs(const CapturedLogs&) = delete;
  CapturedLogs& operator=(const CapturedLogs&) = delete;

  std::vector<std::string> Lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  std::vector<std::string> Matching(std::string_view needle) {
    std::vector<std::string> out;
    for (auto& l : Lines()) {
      if (l.find(needle) != std::string::npos) out.push_back(std::move(l));
    }
    return out;
  }
  int Count(std::string_view needle) { return static_cast<int>(Matching(needle).size()); }
  std::string All() {
    std::string out;
    for (const auto& l : Lines()) out += l + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace opsorch::testing
