// The runbook admin routes: the catalog of runbooks (versioned) and cancelling a run. Running
// runbooks is the OpsOrch contract's /orchestration routes, served by the `local` provider.
#include <algorithm>

#include <opsorch/common/error.h>
#include <opsorch/common/json_writer.h>
#include <opsorch/common/text_rules.h>
#include <opsorch/common/time.h>
#include <opsorch/orchestration/runbooks.h>

namespace opsorch::orchestration {
namespace {

using api::Call;
using api::Outcome;
using api::Reply;
using http::Method;

using Fn = Outcome (*)(Runbooks&, Call&);

std::string PlanJson(const PlanVersion& v) {
  std::string out = "{\"id\":";
  AppendJsonString(out, v.runbook.id);
  out += ",\"title\":";
  AppendJsonString(out, v.runbook.title);
  out += ",\"version\":" + std::to_string(v.version) + ",\"source\":";
  AppendJsonString(out, v.source);
  out += ",\"updatedAt\":";
  AppendJsonString(out, FormatRfc3339Nano(Time::FromUnixNanos(v.updated_at)));
  out += ",\"runbook\":";
  AppendJsonObject(out, v.doc);
  out.push_back('}');
  return out;
}

Outcome List(Runbooks& rb, Call&) {
  auto all = rb.ListRunbooks();
  if (!all) return Fail(std::move(all.error()));
  std::string out = "[";
  for (std::size_t i = 0; i < all->size(); ++i) {
    if (i > 0) out.push_back(',');
    out += PlanJson((*all)[i]);
  }
  return api::JsonReply(out + "]");
}

Outcome Get(Runbooks& rb, Call& call) {
  auto v = rb.GetRunbook(call.params[0]);
  if (!v) return Fail(std::move(v.error()));
  if (!*v) return Fail(errc::kNotFound, "runbook " + std::string(call.params[0]) + " not found");
  return api::JsonReply(PlanJson(**v));
}

Outcome Put(Runbooks& rb, Call& call) {
  auto before = rb.GetRunbook(call.params[0]);
  if (!before) return Fail(std::move(before.error()));
  auto v = rb.PutRunbook(call.params[0], call.request.body, "api");
  if (!v) return Fail(std::move(v.error()));
  const bool created = !*before;
  return api::JsonReply(PlanJson(*v), created ? 201 : 200);
}

Outcome Delete(Runbooks& rb, Call& call) {
  if (auto st = rb.DeleteRunbook(call.params[0]); !st) return Fail(std::move(st.error()));
  return Reply{204, {}, ""};
}

Outcome Cancel(Runbooks& rb, Call& call) {
  const JsonObject caller = api::CallerOf(call.request);
  std::string who = "api";
  if (const JsonValue* id = caller.if_contains("id"); id != nullptr && id->is_string()) {
    who = std::string(id->get_string());
  }
  if (auto st = rb.CancelRun(call.params[0], who); !st) return Fail(std::move(st.error()));
  return api::StatusOk();
}

}  // namespace

api::RouteTable Routes(const RoutesContext& ctx) {
  const auto row = [&](Method m, std::string_view pattern, std::string_view audit, Fn fn,
                       std::string_view summary, std::string_view request_type,
                       std::string_view response_type, int status = 200) {
    return api::Route{
        .method = m,
        .pattern = pattern,
        .audit = audit,
        .changes_config = true,
        .execution = api::Execution::kPool,
        .handler =
            [runbooks = ctx.runbooks, fn](Call& call, api::Respond respond) {
              Runbooks* rb = runbooks ? runbooks() : nullptr;
              if (rb == nullptr) {
                return respond(Fail(errc::kNotFound,
                                    "runbooks need the incident engine: configure a capability "
                                    "with the local provider"));
              }
              for (std::string_view id : call.params) {
                if (id.data() != nullptr && !IsPlainName(id)) {
                  return respond(Fail(errc::kBadRequest,
                                      "invalid id in path: use 1-64 letters, digits, '.', '_' or "
                                      "'-'"));
                }
              }
              respond(fn(*rb, call));
            },
        .summary = summary,
        .request_type = request_type,
        .response_type = response_type,
        .success_status = status};
  };
  return {
      row(Method::kGet, "/admin/runbooks", "", &List, "Runbooks (the local orchestration plans)",
          "", "object"),
      row(Method::kGet, "/admin/runbooks/{id}", "", &Get, "A runbook's current version", "",
          "object"),
      row(Method::kPut, "/admin/runbooks/{id}", "admin.runbook.upserted", &Put,
          "Create or update a runbook (a new version when it changed)", "object", "object"),
      row(Method::kDelete, "/admin/runbooks/{id}", "admin.runbook.deleted", &Delete,
          "Delete a runbook (runs of it keep their version)", "", "", 204),
      row(Method::kPost, "/admin/runbook-runs/{id}/cancel", "admin.runbook_run.cancelled", &Cancel,
          "Cancel a run", "", "Status"),
  };
}

}  // namespace opsorch::orchestration
