#include <cstdlib>

#include <opsorch/app/cli.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/common/strings.h>
#include <opsorch/config/config.h>
#include <opsorch/net/http_client.h>

namespace opsorch::app {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string BaseUrl(const CliTarget& t) {
  std::string base = !t.server.empty() ? t.server : Env("OPSORCH_SERVER");
  if (base.empty()) {
    const std::string addr = Env("OPSORCH_ADDR").empty() ? ":8080" : Env("OPSORCH_ADDR");
    auto hp = config::SplitHostPort(addr);
    std::string host = hp && !hp->first.empty() && hp->first != "0.0.0.0" ? hp->first : "127.0.0.1";
    base = "http://" + host + ":" + std::to_string(hp ? hp->second : 8080);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

// A field of an object, or null (the server's answer is read, never trusted to have a shape).
const JsonValue& Field(const JsonValue& v, std::string_view key) {
  static const JsonValue kNull;
  const JsonObject* o = v.if_object();
  const JsonValue* f = o != nullptr ? o->if_contains(key) : nullptr;
  return f != nullptr ? *f : kNull;
}

std::string Str(const JsonValue& v, std::string_view key) {
  const JsonObject* o = v.if_object();
  const JsonValue* f = o != nullptr ? o->if_contains(key) : nullptr;
  if (f == nullptr || f->is_null()) return "";
  if (f->is_string()) return std::string(f->get_string());
  if (f->is_int64()) return std::to_string(f->get_int64());
  return "";
}

// One call to the server; the JSON answer, or an error line on stderr (exit status 1).
Result<JsonValue> Call(const CliTarget& t, std::string method, const std::string& path) {
  auto client = net::HttpClient::Create();
  if (!client) return Fail(std::move(client.error()));
  net::OutboundRequest r;
  r.method = std::move(method);
  r.url = BaseUrl(t) + path;
  // The operator's own server, usually on loopback: the address rule is for destinations
  // callers choose, not this one.
  r.allow_private = true;
  const std::string token = !t.token.empty() ? t.token : Env("OPSORCH_BEARER_TOKEN");
  if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
  r.timeout = std::chrono::seconds(60);
  auto resp = (*client)->Perform(r);
  if (!resp)
    return Fail(resp.error().code, "cannot reach " + BaseUrl(t) + ": " + resp.error().message);
  auto v = ParseJson(resp->body);
  if (resp->status >= 300) {
    std::string message = "HTTP " + std::to_string(resp->status);
    if (v && !Str(*v, "message").empty()) message += ": " + Str(*v, "message");
    return Fail(errc::kBadRequest, message);
  }
  if (!v) return Fail(errc::kInternal, "the server's answer is not JSON");
  return std::move(*v);
}

}  // namespace

int OnCallCommand(const CliTarget& target, const std::string& schedule, const std::string& at,
                  std::FILE* out) {
  std::string path = "/oncalls?earliest=false";
  if (!schedule.empty()) path += "&scheduleIds%5B%5D=" + PercentEncode(schedule);
  if (!at.empty()) path += "&since=" + PercentEncode(at) + "&until=" + PercentEncode(at);
  auto v = Call(target, "GET", path);
  if (!v) {
    std::fprintf(stderr, "opsorch oncall: %s\n", v.error().message.c_str());
    return 1;
  }
  if (!v->is_array() || v->get_array().empty()) {
    std::fprintf(out, "nobody is on call%s\n", at.empty() ? "" : (" at " + at).c_str());
    return 0;
  }
  std::fprintf(out, "%-24s %-5s %-28s %-28s %s\n", "POLICY", "LEVEL", "SCHEDULE", "ON CALL",
               "UNTIL");
  for (const auto& row : v->get_array()) {
    const JsonValue& user = Field(row, "user");
    const JsonValue& policy = Field(row, "escalationPolicy");
    const JsonValue& sched = Field(row, "schedule");
    std::string who = Str(user, "name").empty() ? Str(user, "id")
                                                : Str(user, "name") + " (" + Str(user, "id") + ")";
    const std::string until = Str(row, "end").empty() ? "-" : Str(row, "end");
    std::fprintf(out, "%-24s %-5s %-28s %-28s %s\n", Str(policy, "id").c_str(),
                 Str(row, "escalationLevel").c_str(),
                 sched.is_null() ? "(direct)" : Str(sched, "id").c_str(), who.c_str(),
                 until.c_str());
  }
  return 0;
}

int PageTestCommand(const CliTarget& target, const std::string& user, std::FILE* out) {
  auto v = Call(target, "POST", "/admin/users/" + PercentEncode(user) + "/test");
  if (!v) {
    std::fprintf(stderr, "opsorch page test: %s\n", v.error().message.c_str());
    return 1;
  }
  if (!v->is_array() || v->get_array().empty()) {
    std::fprintf(out, "%s has no contact methods\n", user.c_str());
    return 1;
  }
  bool all_sent = true;
  for (const auto& row : v->get_array()) {
    const std::string state = Str(row, "state");
    all_sent = all_sent && state == "sent";
    std::fprintf(out, "%-16s %-8s %-7s %s\n", Str(row, "contactMethod").c_str(),
                 Str(row, "channel").c_str(), state.c_str(), Str(row, "detail").c_str());
  }
  return all_sent ? 0 : 1;
}

}  // namespace opsorch::app
