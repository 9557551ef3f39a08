// GET /openapi.json: the route table describing itself (OpenAPI 3.1). Built once, when the table
// is complete; every row contributes one operation.
#include <cctype>
#include <string>

#include <boost/json/serialize.hpp>

#include <opsorch/api/api.h>
#include <opsorch/common/strings.h>
#include <opsorch/schema/json_schema.h>

namespace opsorch::api {
namespace {

// The names of a pattern's {parameters}, "{cap*}" as "cap": OpenAPI names the parameter, not how
// much of the path it takes.
std::vector<std::string> PathParams(std::string_view label) {
  std::vector<std::string> params;
  for (auto open = label.find('{'); open != std::string_view::npos;
       open = label.find('{', open + 1)) {
    const auto close = label.find('}', open);
    if (close == std::string_view::npos) break;  // CheckPatterns refuses this first
    params.emplace_back(label.substr(open + 1, close - open - 1));
  }
  return params;
}

std::string OperationId(std::string_view method, std::string_view pattern) {
  std::string id = ToLower(method);
  bool gap = true;
  for (const char c : pattern) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      if (gap) id.push_back('_');
      id.push_back(c);
      gap = false;
    } else {
      gap = true;
    }
  }
  return id;
}

// A route's type name as a schema: "object", "array", "[]Name" (a list, null when the provider
// has none) or a name of schema::JsonSchemas() / `extra`.
Result<JsonValue> TypeSchema(std::string_view type, const JsonObject& schemas) {
  if (type == "object") return JsonValue(JsonObject{{"type", "object"}});
  if (type == "array") return JsonValue(JsonObject{{"type", "array"}});
  const bool list = type.starts_with("[]");
  const std::string name(list ? type.substr(2) : type);
  if (!schemas.contains(name)) {
    return Fail(errc::kInternal, "no schema named \"" + name + "\"");
  }
  JsonObject ref{{"$ref", "#/components/schemas/" + name}};
  if (!list) return JsonValue(std::move(ref));
  return JsonValue(JsonObject{{"type", JsonArray{"array", "null"}}, {"items", std::move(ref)}});
}

std::string_view AuthName(Auth a) {
  switch (a) {
    case Auth::kBearer:
      return "bearer";
    case Auth::kBearerOrMetricsToken:
      return "bearer-or-metrics-token";
    case Auth::kIntegrationKey:
      return "integration-key";
    case Auth::kSignedLink:
      return "signed-link";
    case Auth::kPublic:
      return "public";
  }
  return "bearer";
}

JsonObject ErrorResponse(ErrorFormat format, std::string_view description) {
  const std::string_view schema = format == ErrorFormat::kOpsOrch ? "Error" : "EventsError";
  return JsonObject{{"description", description},
                    {"content",
                     {{"application/json",
                       {{"schema", {{"$ref", "#/components/schemas/" + std::string(schema)}}}}}}}};
}

std::string StatusDescription(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    default:
      return "Success";
  }
}

}  // namespace

Result<std::string> OpenApiDocument(const RouteTable& routes, const JsonObject& extra_schemas) {
  JsonObject schemas = schema::JsonSchemas();
  for (const auto& [name, s] : extra_schemas) schemas[name] = s;
  schemas["EventsError"] =
      JsonObject{{"type", "object"},
                 {"description", "Errors of the ingestion routes (PagerDuty Events API v2 style)"},
                 {"properties",
                  {{"status", {{"type", "string"}}},
                   {"message", {{"type", "string"}}},
                   {"errors", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
                 {"required", JsonArray{"status", "message"}}};

  JsonObject paths;
  for (const Route& r : routes) {
    const std::string_view method = http::MethodName(r.method);
    const std::string path = RouteLabel(r.pattern);
    const std::vector<std::string> params = PathParams(path);
    JsonObject op{{"operationId", OperationId(method, r.pattern)}, {"summary", r.summary}};
    const std::string_view first = r.pattern.substr(1, r.pattern.find('/', 1) - 1);
    op["tags"] = JsonArray{first.empty() ? "health" : first};
    if (!params.empty()) {
      JsonArray ps;
      for (const auto& p : params) {
        ps.push_back(JsonObject{
            {"name", p}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
      }
      op["parameters"] = std::move(ps);
    }
    switch (r.auth) {
      case Auth::kBearer:
        op["security"] = JsonArray{JsonObject{{"bearer", JsonArray{}}}};
        break;
      case Auth::kBearerOrMetricsToken:
        op["security"] = JsonArray{JsonObject{{"bearer", JsonArray{}}},
                                   JsonObject{{"metricsToken", JsonArray{}}}};
        break;
      case Auth::kIntegrationKey:
        op["security"] = JsonArray{};  // the integration key is in the body or the path
        break;
      case Auth::kSignedLink:
        op["security"] = JsonArray{};  // the signed link in the path is the credential
        break;
      case Auth::kPublic:
        op["security"] = JsonArray{};  // public by design
        break;
    }
    op["x-opsorch-auth"] = AuthName(r.auth);
    op["x-opsorch-error-format"] = r.errors == ErrorFormat::kOpsOrch  ? "opsorch"
                                   : r.errors == ErrorFormat::kEvents ? "events"
                                                                      : "alertmanager";
    if (r.capability) op["x-opsorch-capability"] = providers::Name(*r.capability);
    if (!r.audit.empty()) op["x-opsorch-audit"] = r.audit;
    if (!r.request_type.empty()) {
      auto s = TypeSchema(r.request_type, schemas);
      if (!s) return Fail(errc::kInternal, path + ": request: " + s.error().message);
      op["requestBody"] =
          JsonObject{{"required", true}, {"content", {{"application/json", {{"schema", *s}}}}}};
    }
    JsonObject ok{{"description", StatusDescription(r.success_status)}};
    if (!r.response_type.empty()) {
      auto s = TypeSchema(r.response_type, schemas);
      if (!s) return Fail(errc::kInternal, path + ": response: " + s.error().message);
      ok["content"] = JsonObject{{"application/json", {{"schema", *s}}}};
    } else if (r.success_status != 204) {
      ok["content"] = JsonObject{{"text/plain", {{"schema", {{"type", "string"}}}}}};
    }
    JsonObject responses;
    responses[std::to_string(r.success_status)] = std::move(ok);
    if (r.capability) {
      responses["501"] = ErrorResponse(r.errors, "The capability has no provider configured");
    }
    responses["default"] = ErrorResponse(r.errors, "An error: its code names the failure");
    op["responses"] = std::move(responses);
    if (!paths.contains(path)) paths[path] = JsonObject{};
    paths[path].as_object()[ToLower(method)] = std::move(op);
  }

  JsonObject doc{
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "opsorch"},
        {"version", OPSORCH_VERSION},
        {"description",
         "The OpsOrch Core API, the incident engine's ingestion, admin and analytics routes."}}},
      {"paths", std::move(paths)},
      {"components",
       {{"schemas", std::move(schemas)},
        {"securitySchemes",
         {{"bearer",
           {{"type", "http"}, {"scheme", "bearer"}, {"description", "OPSORCH_BEARER_TOKEN"}}},
          {"metricsToken",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"description", "OPSORCH_METRICS_TOKEN (GET /metrics and GET /health only)"}}}}}}}};
  return boost::json::serialize(doc);
}

}  // namespace opsorch::api
