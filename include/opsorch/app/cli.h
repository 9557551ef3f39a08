// Commands for people in a terminal, as clients of a running opsorch (its HTTP API, with the
// operator's token): who is on call, and a test page to someone.
#pragma once

#include <cstdio>
#include <string>

namespace opsorch::app {

struct CliTarget {
  std::string server;  // base URL; empty: OPSORCH_SERVER, else this host's OPSORCH_ADDR
  std::string token;   // empty: OPSORCH_BEARER_TOKEN
};

// `opsorch oncall [--schedule ID] [--at TIME]`: one line per policy level and person on call at
// TIME (RFC 3339; default now). Returns the exit status.
int OnCallCommand(const CliTarget& target, const std::string& schedule, const std::string& at,
                  std::FILE* out);

// `opsorch page test --user ID`: a test message to each of the person's contact methods and its
// outcome. Exit status 0 only when every one was sent.
int PageTestCommand(const CliTarget& target, const std::string& user, std::FILE* out);

}  // namespace opsorch::app
