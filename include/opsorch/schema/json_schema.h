// JSON Schemas (draft 2020-12, the dialect of OpenAPI 3.1) of every schema type, generated from
// the same field tables the codec uses, so the description cannot drift from the wire.
#pragma once

#include <opsorch/common/json.h>

namespace opsorch::schema {

// Type name (Schema<T>::kName: "Incident", "IncidentQuery", …) → its JSON Schema. Nested types
// are `$ref`s to "#/components/schemas/<name>" and are in the map too. Also "Status" (the
// contract's {"status":"ok"}) and "Error" (its {"code","message"}).
const JsonObject& JsonSchemas();

}  // namespace opsorch::schema
