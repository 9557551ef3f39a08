// A plugin that misbehaves on request, for the plugin host's fault-injection tests.
//
// Start-time faults come from the name it is run under (tests create symlinks):
//   *exit-at-start   exits with status 7 before reading anything
//   *slow-start      sleeps 300 ms before reading
// Per-call faults come from the `fault` key of the call's config (or of the payload):
//   ok (default)     answers {"result":{"method","config","payload","pid","calls"}}
//   crash            exits with status 3 after reading the request
//   segv             dies of SIGSEGV after reading the request
//   hang             never answers (sleeps)
//   garbage          writes a line that is not JSON
//   huge             writes a 100 MB answer
//   torn             writes half an answer, then exits
//   noise            writes 500 stderr lines, then answers
//   leak             writes its config (which holds a token) to stderr, then answers
//   string_error     answers {"error":"<message>"} (the string form)
//   object_error     answers {"error":{"code":<code>,"message":<message>}}
//   extra            answers, then writes a second, unrequested answer
//   slow             sleeps `delayMs`, then answers
//   result:<json>    answers {"result":<json>} verbatim
//   record           appends the request line to the file `recordTo`, answers {"result":null}
//   raw              answers {"result":"<the request line, byte for byte>"}
//   stubborn         ignores SIGTERM and EOF (only SIGKILL ends it); answers like ok
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <opsorch/common/json_parse.h>
#include <opsorch/common/json_writer.h>

namespace {

void Write(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

std::string Str(const opsorch::JsonValue& obj, const char* key) {
  if (!obj.is_object()) return {};
  const auto* v = obj.get_object().if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

int main(int, char** argv) {
  const std::string name = argv[0];
  if (name.ends_with("exit-at-start")) return 7;
  if (name.ends_with("slow-start")) std::this_thread::sleep_for(std::chrono::milliseconds(300));

  long calls = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    ++calls;
    auto req = opsorch::ParseJson(line);
    if (!req || !req->is_object()) {
      Write("{\"error\":\"fault plugin: bad request line\"}\n");
      continue;
    }
    const opsorch::JsonValue& config = req->at("config");
    const opsorch::JsonValue* payload = req->get_object().if_contains("payload");
    // Config first, then payload: tests that need a sequence of faults on one process use
    // the payload.
    const auto opt = [&](const char* key) {
      std::string v = Str(config, key);
      if (v.empty() && payload) v = Str(*payload, key);
      return v;
    };
    const std::string fault = opt("fault");

    if (fault == "stubborn") ::signal(SIGTERM, SIG_IGN);
    if (fault == "crash") std::exit(3);
    if (fault == "segv") {
      ::signal(SIGSEGV, SIG_DFL);  // under ASan its handler would turn this into exit status 1
      ::raise(SIGSEGV);
    }
    if (fault == "hang") {
      while (true) ::pause();
    }
    if (fault == "garbage") {
      Write("this is not json\n");
      continue;
    }
    if (fault == "huge") {
      Write("{\"result\":\"");
      const std::string chunk(1 << 20, 'x');
      for (int i = 0; i < 100; ++i) Write(chunk);
      Write("\"}\n");
      continue;
    }
    if (fault == "torn") {
      Write("{\"result\":{\"id\":\"half");
      std::exit(0);
    }
    if (fault == "noise") {
      for (int i = 0; i < 500; ++i) std::fprintf(stderr, "noise line %d\n", i);
    }
    if (fault == "leak") {
      std::string text;
      opsorch::AppendJsonValue(text, config);
      std::fprintf(stderr, "my config is %s\n", text.c_str());
    }
    if (fault == "slow") {
      const auto* d = config.get_object().if_contains("delayMs");
      const long ms = d && d->is_int64() ? static_cast<long>(d->get_int64()) : 100;
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    if (fault == "string_error") {
      Write("{\"error\":\"" + opt("message") + "\"}\n");
      continue;
    }
    if (fault == "object_error") {
      std::string out = "{\"error\":{\"code\":";
      opsorch::AppendJsonString(out, opt("code"));
      out += ",\"message\":";
      opsorch::AppendJsonString(out, opt("message"));
      Write(out + "}}\n");
      continue;
    }
    if (fault == "record") {
      if (std::FILE* f = std::fopen(opt("recordTo").c_str(), "a")) {
        std::fprintf(f, "%s\n", line.c_str());
        std::fclose(f);
      }
      Write("{\"result\":null}\n");
      continue;
    }
    if (fault == "raw") {
      std::string out = "{\"result\":";
      opsorch::AppendJsonString(out, line + "\n");
      Write(out + "}\n");
      continue;
    }
    if (fault.starts_with("result:")) {
      Write("{\"result\":" + fault.substr(7) + "}\n");
      continue;
    }
    std::string out = "{\"result\":{\"method\":";
    opsorch::AppendJsonString(out, Str(*req, "method"));
    out += ",\"config\":";
    opsorch::AppendJsonValue(out, config);
    out += ",\"payload\":";
    if (payload) {
      opsorch::AppendJsonValue(out, *payload);
    } else {
      out += "null";
    }
    out +=
        ",\"pid\":" + std::to_string(::getpid()) + ",\"calls\":" + std::to_string(calls) + "}}\n";
    Write(out);
    if (fault == "extra") Write("{\"result\":\"unrequested\"}\n");
    if (fault == "stubborn") {
      while (std::getline(std::cin, line)) {
      }
      while (true) ::pause();
    }
  }
  return 0;
}
