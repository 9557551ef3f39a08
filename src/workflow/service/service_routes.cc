#include <algorithm>
#include <charconv>

#include <opsorch/common/json_writer.h>
#include <opsorch/common/strings.h>
#include <opsorch/log/log.h>

#include "workflow/service/service_impl.h"

namespace opsorch::workflow::service {
namespace {

using api::Call;
using api::Outcome;
using api::Reply;
using api::Respond;
using http::Method;

constexpr std::size_t kMaxAgentBody = 16u << 10;
constexpr std::size_t kDefaultAuditShown = 100;

Status CheckPathId(std::string_view id) {
  if (!ValidId(id)) return Fail(errc::kBadRequest, "id: " + std::string(kIdRule));
  return Ok();
}

Reply NoContent() { return Reply{204, {}, ""}; }

// 429 with Retry-After in whole seconds, rounded up (`wait_ms` > 0).
Reply RateLimited(std::int64_t wait_ms, std::string_view rule) {
  return api::ErrorReply(MakeError(errc::kRateLimited, std::string(rule)),
                         {{"Retry-After", std::to_string((wait_ms + 999) / 1000)}});
}

std::string DownloadRule(bool agent) {
  return agent ? "full downloads of workflow packages: at most " + std::to_string(kDownloadBurst) +
                     " at once, then one per " + std::to_string(kDownloadEveryMs / 1000) +
                     " s per agent; poll with If-None-Match (a 304 is not counted)"
               : "full downloads of workflow packages without a token: at most " +
                     std::to_string(kOpenDownloadBurst) + " at once, then one per " +
                     std::to_string(kOpenDownloadEveryMs / 1000) +
                     " s, shared by every request without a token";
}

// ?audit=N: how many of an agent's newest audit records to show (0..kMaxAuditRecords).
Result<std::size_t> AuditShown(const Call& call) {
  const std::string text = call.Query("audit");
  if (text.empty()) return kDefaultAuditShown;
  std::size_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n > kMaxAuditRecords) {
    return Fail(errc::kBadRequest,
                "audit: must be an integer from 0 to " + std::to_string(kMaxAuditRecords));
  }
  return n;
}

// Whether If-None-Match names `etag` ("*", a list, weak or strong forms).
bool EtagMatches(std::string_view header, std::string_view etag) {
  const auto strip = [](std::string_view t) {
    t = TrimSpace(t);
    if (t.starts_with("W/")) t.remove_prefix(2);
    return t;
  };
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    const std::string_view tag = strip(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (tag == "*" || (!tag.empty() && tag == etag)) return true;
  }
  return false;
}

// Who presented what on a route that checks its own credential.
struct Caller {
  enum Kind : std::uint8_t { kNone, kUnknown, kAdmin, kAgent } kind = kNone;
  std::shared_ptr<const AgentRecord> agent;
};

class Guard {
 public:
  Guard(const ConfigService::Impl* service, std::string bearer, metrics::Registry* metrics)
      : service_(service), bearer_(std::move(bearer)) {
    if (metrics != nullptr) {
      failures_ = &metrics->GetCounter("opsorch_auth_failures_total",
                                       "Requests refused for a missing or wrong credential.",
                                       {{"credential", "workflow_agent"}});
    }
  }

  bool Open() const { return bearer_.empty(); }

  Caller Identify(const http::Request& req) const {
    const std::string_view h = req.Header("Authorization");
    if (h.empty()) return {};
    constexpr std::string_view kBearer = "Bearer ";
    if (!h.starts_with(kBearer)) return {Caller::kUnknown, nullptr};
    const std::string_view token = TrimSpace(h.substr(kBearer.size()));
    if (token.empty()) return {Caller::kUnknown, nullptr};
    if (!bearer_.empty() && ConstantTimeEquals(token, bearer_)) return {Caller::kAdmin, nullptr};
    if (auto a = service_->AgentByToken(token)) return {Caller::kAgent, std::move(a)};
    return {Caller::kUnknown, nullptr};
  }

  // The answer to a refused credential, counted and logged; the client learns only which of
  // the two it was.
  Reply Refuse(const Call& call, bool forbidden, std::string_view reason) const {
    if (failures_ != nullptr) failures_->Inc();
    log::Warn("workflow agent credential refused", {{"path", call.path},
                                                    {"remote", call.request.remote_address},
                                                    {"reason", reason},
                                                    {"request_id", call.request_id}});
    if (forbidden) {
      return api::ErrorReply(MakeError(errc::kForbidden, "this token may not access this resource"),
                             {});
    }
    return api::ErrorReply(MakeError(errc::kUnauthorized, "an agent token is required"),
                           {{"WWW-Authenticate", "Bearer"}});
  }

 private:
  const ConfigService::Impl* service_;  // kept alive by the routes' handlers
  std::string bearer_;
  metrics::Counter* failures_ = nullptr;
};

}  // namespace

// ConfigService's friend: the one place that reaches its state.
api::RouteTable Routes(const RoutesContext& context) {
  ConfigService::Impl* svc = context.service->impl_.get();
  auto guard = std::make_shared<Guard>(svc, context.bearer_token, context.metrics);
  auto keep = context.service;  // every handler holds the service alive
  BlockingPool* pool = context.pool;

  api::RouteTable t;

  t.push_back(
      {.method = Method::kPut,
       .pattern = "/admin/workflow-packages/{id}",
       .audit = "workflow_package.uploaded",
       .body_limit = kMaxUploadBytes,
       .changes_config = true,
       .execution = api::Execution::kPool,
       .handler =
           [svc, keep](Call& call, Respond respond) {
             const std::string id(call.params[0]);
             if (auto st = CheckPathId(id); !st) return respond(Fail(std::move(st.error())));
             auto meta = svc->PutPackage(id, call.request.body);
             if (!meta) return respond(Fail(std::move(meta.error())));
             log::Info("workflow package stored", {{"id", id},
                                                   {"kind", meta->package ? "package" : "plain"},
                                                   {"sha256", meta->sha256},
                                                   {"request_id", call.request_id}});
             std::string out;
             AppendPackageMeta(out, *meta);
             respond(Reply{200, std::move(out)});
           },
       .summary = "Store a workflow package (or a plain JSON configuration) under an id: the "
                  "body is its raw bytes",
       .response_type = "object"});

  t.push_back({.method = Method::kGet,
               .pattern = "/admin/workflow-packages",
               .changes_config = true,
               .handler =
                   [svc, keep](Call&, Respond respond) {
                     std::string out = "{\"packages\":[";
                     bool first = true;
                     for (const auto& m : svc->Packages()) {
                       if (!first) out.push_back(',');
                       first = false;
                       AppendPackageMeta(out, *m);
                     }
                     out += "]}";
                     respond(Reply{200, std::move(out)});
                   },
               .summary = "The stored workflow packages' metadata, by id",
               .response_type = "object"});

  t.push_back({.method = Method::kGet,
               .pattern = "/admin/workflow-packages/{id}",
               .changes_config = true,
               .handler =
                   [svc, keep](Call& call, Respond respond) {
                     if (auto st = CheckPathId(call.params[0]); !st) {
                       return respond(Fail(std::move(st.error())));
                     }
                     auto m = svc->FindPackage(call.params[0]);
                     if (m == nullptr) {
                       return respond(Fail(errc::kNotFound,
                                           "no workflow package " + std::string(call.params[0])));
                     }
                     std::string out;
                     AppendPackageMeta(out, *m);
                     respond(Reply{200, std::move(out)});
                   },
               .summary = "A stored workflow package's metadata",
               .response_type = "object"});

  t.push_back({.method = Method::kDelete,
               .pattern = "/admin/workflow-packages/{id}",
               .audit = "workflow_package.deleted",
               .changes_config = true,
               .execution = api::Execution::kPool,
               .handler =
                   [svc, keep](Call& call, Respond respond) {
                     const std::string id(call.params[0]);
                     if (auto st = CheckPathId(id); !st) {
                       return respond(Fail(std::move(st.error())));
                     }
                     if (auto st = svc->DeletePackage(id); !st) {
                       return respond(Fail(std::move(st.error())));
                     }
                     respond(NoContent());
                   },
               .summary = "Delete a stored workflow package",
               .success_status = 204});

  t.push_back({.method = Method::kPut,
               .pattern = "/admin/agents/{id}",
               .audit = "workflow_agent.upserted",
               .body_limit = kMaxAgentBody,
               .changes_config = true,
               .execution = api::Execution::kPool,
               .handler =
                   [svc, keep](Call& call, Respond respond) {
                     const std::string id(call.params[0]);
                     if (auto st = CheckPathId(id); !st)
                       return respond(Fail(std::move(st.error())));
                     auto in = DecodeAgentInput(call.request.body);
                     if (!in) return respond(Fail(std::move(in.error())));
                     auto put = svc->PutAgent(id, *in);
                     if (!put) return respond(Fail(std::move(put.error())));
                     const AgentRecord& a = *put->agent;
                     std::string out = "{\"id\":";
                     AppendJsonString(out, a.id);
                     out += ",\"packages\":[";
                     for (std::size_t i = 0; i < a.packages.size(); ++i) {
                       if (i > 0) out.push_back(',');
                       AppendJsonString(out, a.packages[i]);
                     }
                     out += "],\"description\":";
                     AppendJsonString(out, a.description);
                     if (!put->token.empty()) {
                       out += ",\"token\":";
                       AppendJsonString(out, put->token);
                     }
                     out.push_back('}');
                     Reply r{200, std::move(out)};
                     r.headers.emplace_back("Cache-Control", "no-store");  // it may hold the token
                     respond(std::move(r));
                   },
               .summary = "Create or update a workflow agent; its token is in the answer only when "
                          "created or rotated",
               .request_type = "object",
               .response_type = "object"});

  t.push_back({.method = Method::kGet,
               .pattern = "/admin/agents",
               .changes_config = true,
               .handler =
                   [svc, keep](Call& call, Respond respond) {
                     auto shown = AuditShown(call);
                     if (!shown) return respond(Fail(std::move(shown.error())));
                     std::string out = "{\"agents\":[";
                     bool first = true;
                     for (const auto& a : svc->Agents()) {
                       if (!first) out.push_back(',');
                       first = false;
                       AppendAgent(out, *a, *shown);
                     }
                     out += "]}";
                     respond(Reply{200, std::move(out)});
                   },
               .summary = "Workflow agents with their last status and newest audit records "
                          "(audit=N, default 100)",
               .response_type = "object"});

  t.push_back({.method = Method::kGet,
               .pattern = "/admin/agents/{id}",
               .changes_config = true,
               .handler =
                   [svc, keep](Call& call, Respond respond) {
                     if (auto st = CheckPathId(call.params[0]); !st) {
                       return respond(Fail(std::move(st.error())));
                     }
                     auto shown = AuditShown(call);
                     if (!shown) return respond(Fail(std::move(shown.error())));
                     auto a = svc->FindAgent(call.params[0]);
                     if (a == nullptr) {
                       return respond(
                           Fail(errc::kNotFound, "no agent " + std::string(call.params[0])));
                     }
                     std::string out;
                     AppendAgent(out, *a, *shown);
                     respond(Reply{200, std::move(out)});
                   },
               .summary = "A workflow agent with its last status and newest audit records",
               .response_type = "object"});

  t.push_back({.method = Method::kDelete,
               .pattern = "/admin/agents/{id}",
               .audit = "workflow_agent.deleted",
               .changes_config = true,
               .execution = api::Execution::kPool,
               .handler =
                   [svc, keep](Call& call, Respond respond) {
                     const std::string id(call.params[0]);
                     if (auto st = CheckPathId(id); !st) {
                       return respond(Fail(std::move(st.error())));
                     }
                     if (auto st = svc->DeleteAgent(id); !st) {
                       return respond(Fail(std::move(st.error())));
                     }
                     respond(NoContent());
                   },
               .summary = "Delete a workflow agent (its token stops working)",
               .success_status = 204});

  // What agents poll. On the event loop: the credential, the id and If-None-Match are answered
  // from memory; only a 200 reads the file, on the pool. The bytes are read per request rather
  // than kept in memory: agents poll with If-None-Match, so bodies go out only after a change,
  // and memory does not grow with the number and size of the packages. Each 200 holds a copy
  // of the package until it is sent, so 200s are rationed per credential (an agent needs one
  // per package change).
  t.push_back(
      {.method = Method::kGet,
       .pattern = "/workflow-packages/{id}",
       .auth = api::Auth::kIntegrationKey,
       // It reads configuration: in open mode a web page must not read packages through the
       // operator's browser.
       .changes_config = true,
       .handler =
           [svc, keep, guard, pool](Call& call, Respond respond) {
             const Caller who = guard->Identify(call.request);
             const std::string_view id = call.params[0];
             switch (who.kind) {
               case Caller::kNone:
                 // Without OPSORCH_BEARER_TOKEN every route is open, this one too.
                 if (!guard->Open()) return respond(guard->Refuse(call, false, "no token"));
                 break;
               case Caller::kUnknown:
                 return respond(guard->Refuse(call, false, "unknown token"));
               case Caller::kAgent:
                 if (std::find(who.agent->packages.begin(), who.agent->packages.end(), id) ==
                     who.agent->packages.end()) {
                   return respond(
                       guard->Refuse(call, true, "package not allowed for agent " + who.agent->id));
                 }
                 break;
               case Caller::kAdmin:
                 break;
             }
             if (auto st = CheckPathId(id); !st) return respond(Fail(std::move(st.error())));
             auto meta = svc->FindPackage(id);
             if (meta == nullptr) {
               return respond(Fail(errc::kNotFound, "no workflow package " + std::string(id)));
             }
             const auto headers = [](Reply& r, const PackageMeta& m) {
               r.headers.emplace_back("ETag", "\"" + m.sha256 + "\"");
               r.headers.emplace_back("Cache-Control", "no-cache");
             };
             if (EtagMatches(call.request.Header("If-None-Match"), "\"" + meta->sha256 + "\"")) {
               Reply r{304, {}, ""};
               headers(r, *meta);
               return respond(std::move(r));
             }
             if (who.kind != Caller::kAdmin) {
               if (const std::int64_t wait = svc->TakeDownload(who.agent.get()); wait > 0) {
                 return respond(RateLimited(wait, DownloadRule(who.agent != nullptr)));
               }
             }
             auto read = [svc, id = std::string(id), headers, respond]() mutable {
               auto got = svc->ReadPackage(id);
               if (!got) return respond(Fail(std::move(got.error())));
               Reply r{200, std::move(got->first)};
               // The exact stored bytes: "application/json" alone would make the pipeline
               // append a newline to the body, and the ETag would no longer describe it.
               r.content_type = got->second->package ? "application/octet-stream"
                                                     : "application/json; charset=utf-8";
               headers(r, *got->second);
               respond(std::move(r));
             };
             if (pool == nullptr) return read();
             pool->Post([read = std::move(read), keep]() mutable { read(); });
           },
       .summary = "A workflow package's bytes, for an agent (its token, or the bearer token); "
                  "ETag and If-None-Match",
       .response_type = ""});

  // On the event loop: the credential and the report interval are checked from memory, so a
  // flood of early reports takes no pool thread; decoding and the file write run on the pool
  // (RecordStatus checks the interval again, under the agent's mutex).
  t.push_back({.method = Method::kPost,
               .pattern = "/agents/{id}/status",
               .auth = api::Auth::kIntegrationKey,
               .body_limit = kMaxStatusBytes,
               .handler =
                   [svc, keep, guard, pool](Call& call, Respond respond) {
                     const Caller who = guard->Identify(call.request);
                     if (who.kind == Caller::kNone || who.kind == Caller::kUnknown) {
                       return respond(guard->Refuse(
                           call, false, who.kind == Caller::kNone ? "no token" : "unknown token"));
                     }
                     if (who.kind != Caller::kAgent || who.agent->id != call.params[0]) {
                       return respond(guard->Refuse(call, true, "not this agent's token"));
                     }
                     if (const std::int64_t wait = ReportWaitMs(*who.agent, svc->Now()); wait > 0) {
                       return respond(RateLimited(wait, kReportIntervalRule));
                     }
                     // `call` stays valid until respond is called.
                     auto record = [svc, &call, respond]() mutable {
                       auto report = DecodeStatusReport(call.request.body);
                       if (!report) return respond(Fail(std::move(report.error())));
                       std::int64_t wait = 0;
                       if (auto st = svc->RecordStatus(std::string(call.params[0]), *report, &wait);
                           !st) {
                         if (st.error().code == errc::kRateLimited) {
                           return respond(RateLimited(wait, kReportIntervalRule));
                         }
                         return respond(Fail(std::move(st.error())));
                       }
                       respond(api::StatusOk());
                     };
                     if (pool == nullptr) return record();
                     pool->Post([record = std::move(record), keep]() mutable { record(); });
                   },
               .summary = "An agent's status report and audit records (its own token)",
               .request_type = "object",
               .response_type = "object"});

  return t;
}

}  // namespace opsorch::workflow::service
