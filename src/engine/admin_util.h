// What the engine's admin routes share: path-id checks, strict JSON bodies, paged lists, and the
// handler wrapper that answers 404 while no engine runs.
#pragma once

#include <algorithm>
#include <charconv>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/api/route.h>
#include <opsorch/common/error.h>
#include <opsorch/common/json_parse.h>
#include <opsorch/engine/engine.h>
#include <opsorch/providers/interfaces.h>

namespace opsorch::engine::admin {

using api::Call;
using api::JsonReply;
using api::Outcome;
using api::Reply;

inline Reply NoContent() { return Reply{204, {}, ""}; }

inline Error EngineDisabled() {
  return MakeError(errc::kNotFound,
                   "the incident engine is not enabled: configure a capability with the local "
                   "provider");
}

// Ids in paths: letters, digits, '.', '_', '-', '@' (member ids are often emails), 1..128.
inline bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == '@';
  });
}

inline Status ValidIds(const Call& call) {
  for (std::string_view id : call.params) {
    if (id.data() != nullptr && !ValidId(id)) {
      return Fail(errc::kBadRequest,
                  "invalid id in path: use 1-128 letters, digits, '.', '_', '-' or '@'");
    }
  }
  return Ok();
}

template <class T, class F>
std::string List(const std::vector<T>& items, F append) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    append(out, items[i]);
  }
  out.push_back(']');
  return out;
}

// A page of an admin list, ordered by `key` (?limit=, default 100, at most 1000; ?after=<key
// of the last row>).
template <class T, class Key, class F>
Outcome PagedList(std::vector<T> items, const Call& call, Key key, F append) {
  std::int64_t limit = 0;
  if (const std::string text = call.Query("limit"); !text.empty()) {
    auto r = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || limit <= 0) {
      return Fail(errc::kBadRequest, "limit: must be a positive integer");
    }
  }
  const auto size = static_cast<std::size_t>(providers::PageSize(limit));
  const std::string after = call.Query("after");
  std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  std::vector<T> page;
  Reply r;
  for (auto& item : items) {
    if (!after.empty() && key(item) <= after) continue;
    if (page.size() == size) {
      r.next = key(page.back());
      break;
    }
    page.push_back(std::move(item));
  }
  r.body = List(page, append);
  return r;
}

inline Result<JsonObject> BodyObject(const Call& call) {
  auto v = ParseJson(call.request.body);
  if (!v) return Fail(std::move(v.error()));
  if (!v->is_object()) return Fail(errc::kBadRequest, "request body must be a JSON object");
  return std::move(v->get_object());
}

// A handler that needs the engine: 404 while none runs, path ids checked.
using EngineFn = Outcome (*)(Engine&, const Call&);

// `check_ids`: the path's parameters are ids (a signed token is checked by its handler).
inline api::Handler EngineHandler(std::function<Engine*()> engine, EngineFn fn,
                                  bool check_ids = true) {
  return [engine = std::move(engine), fn, check_ids](Call& call, api::Respond respond) {
    Engine* e = engine();
    if (e == nullptr) return respond(Fail(EngineDisabled()));
    if (auto st = check_ids ? ValidIds(call) : Ok(); !st) return respond(Fail(st.error()));
    respond(fn(*e, call));
  };
}

// An admin route: on the worker pool (every one reads or writes the store), and refused to a
// cross-site browser request without a token (each may read keys or change the catalog).
inline api::Route AdminRow(const std::function<Engine*()>& engine, http::Method m,
                           std::string_view pattern, std::string_view audit, EngineFn fn,
                           std::string_view summary, std::string_view request_type,
                           std::string_view response_type, int status = 200) {
  return api::Route{.method = m,
                    .pattern = pattern,
                    .audit = audit,
                    .changes_config = true,
                    .execution = api::Execution::kPool,
                    .handler = EngineHandler(engine, fn),
                    .summary = summary,
                    .request_type = request_type,
                    .response_type = response_type,
                    .success_status = status};
}

}  // namespace opsorch::engine::admin
