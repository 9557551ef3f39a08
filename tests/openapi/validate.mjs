#!/usr/bin/env node
// Validates one OpenAPI 3.1 document, offline, for opsorch's tests.
//
//   node tests/openapi/validate.mjs <file.json>
//
// Exit 0 and "valid" on stdout when the document is valid OpenAPI 3.1.x. Exit 1 when it is not,
// with one "<JSON pointer>: <message>" line per problem on stderr. Exit 2 when it could not be
// checked at all (dependencies not installed, bad usage, unreadable file), so a caller can tell
// "the document is wrong" from "the check did not run".
//
// Three layers, because no single one catches everything we want:
//  1. @seriousme/openapi-schema-validator: the whole document against the official OAS 3.1 JSON
//     Schema (structure, required fields, response keys, parameter rules, ...).
//  2. That official schema deliberately accepts any object as a Schema Object, so each Schema
//     Object is checked here against JSON Schema 2020-12's meta-schema extended with the OAS base
//     vocabulary (discriminator, xml, externalDocs): the default OAS 3.1 dialect. This is what
//     catches `type: "strnig"`.
//  3. Rules that JSON Schema cannot express, from the OAS 3.1 text: every $ref resolves inside
//     this document (nothing is fetched, so external refs are rejected); every {name} in a path
//     template has an `in: path` parameter on each operation and every `in: path` parameter
//     appears in the template; no duplicate parameters in one list; operationIds are unique;
//     no two paths differ only in template parameter names.
//
// Dependencies are pinned in package-lock.json beside this file; scripts/install-deps installs them.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

if (process.argv.length !== 3) {
  console.error("usage: node tests/openapi/validate.mjs <openapi-3.1-document.json>");
  process.exit(2);
}
// Checked before importing anything, so a machine without the packages gets a way out rather
// than ERR_MODULE_NOT_FOUND.
if (!existsSync(join(here, "node_modules", ".package-lock.json"))) {
  console.error(
    `validate.mjs: ${join(here, "node_modules")} is missing: run scripts/install-deps ` +
      "(or: npm ci --prefix tests/openapi --no-audit --no-fund)",
  );
  process.exit(2);
}
const { Validator } = await import("@seriousme/openapi-schema-validator");
const { default: Ajv2020 } = await import("ajv/dist/2020.js");

const file = process.argv[2];
let text;
try {
  text = readFileSync(file, "utf8");
} catch (err) {
  console.error(`validate.mjs: cannot read ${file}: ${err.message}`);
  process.exit(2);
}

const errors = [];
const report = (pointer, message) => errors.push({ pointer, message });

function finish() {
  if (errors.length === 0) {
    console.log("valid");
    process.exit(0);
  }
  for (const { pointer, message } of errors) console.error(`${pointer || "/"}: ${message}`);
  console.error(`${file}: invalid OpenAPI 3.1 document (${errors.length} error${errors.length === 1 ? "" : "s"})`);
  process.exit(1);
}

let doc;
try {
  doc = JSON.parse(text);
} catch (err) {
  report("", `not valid JSON: ${err.message}`);
  finish();
}
if (!isObject(doc)) {
  report("", "the document must be a JSON object");
  finish();
}
if (!("openapi" in doc)) {
  report("", "must have required property 'openapi'");
  finish();
}
// The official schema for another version would give misleading errors; stop here instead.
if (typeof doc.openapi !== "string" || !/^3\.1\.\d+(-.+)?$/.test(doc.openapi)) {
  report("/openapi", `must be an OpenAPI 3.1.x version string, got ${JSON.stringify(doc.openapi)}`);
  finish();
}

// ---- helpers ------------------------------------------------------------------------------------

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
const esc = (token) => String(token).replace(/~/g, "~0").replace(/\//g, "~1");
const ptr = (base, ...tokens) => base + tokens.map((t) => "/" + esc(t)).join("");
const entries = (v) => (isObject(v) ? Object.entries(v) : []);

// Ajv's message plus the detail that makes it actionable (which property, which values).
function ajvMessage(e) {
  const p = e.params || {};
  if (p.additionalProperty !== undefined) return `${e.message}: '${p.additionalProperty}'`;
  if (p.unevaluatedProperty !== undefined) return `${e.message}: '${p.unevaluatedProperty}'`;
  if (e.keyword === "enum" && Array.isArray(p.allowedValues))
    return `${e.message}: ${p.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  if (e.keyword === "const") return `${e.message} ${JSON.stringify(p.allowedValue)}`;
  return e.message;
}

// With allErrors, Ajv also reports the enclosing "if"/"oneOf"/"anyOf" failure for every concrete
// failure inside it; those add lines but no information when a deeper error exists.
function reportAjvErrors(base, ajvErrors) {
  const seen = new Set();
  for (const e of ajvErrors) {
    const wrapper = ["if", "oneOf", "anyOf"].includes(e.keyword);
    if (
      wrapper &&
      ajvErrors.some(
        (o) =>
          o !== e &&
          !["if", "oneOf", "anyOf"].includes(o.keyword) &&
          (o.instancePath === e.instancePath || o.instancePath.startsWith(e.instancePath + "/")),
      )
    )
      continue;
    const line = `${base + e.instancePath}\u0000${ajvMessage(e)}`;
    if (seen.has(line)) continue;
    seen.add(line);
    report(base + e.instancePath, ajvMessage(e));
  }
}

// ---- 1. the official OAS 3.1 schema -------------------------------------------------------------

{
  const validator = new Validator({ allErrors: true });
  const res = await validator.validate(structuredClone(doc));
  if (!res.valid) {
    if (Array.isArray(res.errors)) reportAjvErrors("", res.errors);
    // A string error is from its $ref check, which stops at the first bad ref and mistakes
    // data such as a property named "$ref" for a reference; layer 3 checks refs instead.
    else if (!/^Can't resolve /.test(String(res.errors))) report("", String(res.errors));
  }
}

// ---- walk the document: collect Schema Objects and $refs ----------------------------------------

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const schemas = []; // { pointer, schema }
const refs = []; // { pointer, ref, base, holder } base: the $id-derived base URI in force, or "" (the document)
const baseOf = new WeakMap(); // object holding a $ref -> its base
const resources = new Map(); // absolute $id (no fragment) -> schema object
const anchors = new Map(); // `${base}#${name}` -> object

function refObject(node, pointer) {
  if (isObject(node) && typeof node.$ref === "string") {
    refs.push({ pointer: ptr(pointer, "$ref"), ref: node.$ref, base: "", holder: node });
    return true;
  }
  return false;
}

// JSON Schema keywords whose values are subschemas; everything else in a Schema Object is data
// (const, enum, default, examples, ...) and may contain "$ref" keys that are not references.
const SUB_ONE = ["additionalProperties", "unevaluatedProperties", "items", "unevaluatedItems", "contains",
  "propertyNames", "not", "if", "then", "else", "contentSchema"];
const SUB_MAP = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
const SUB_LIST = ["allOf", "anyOf", "oneOf", "prefixItems"];

function walkSchema(s, pointer, base) {
  if (!isObject(s)) return;
  if (typeof s.$id === "string") {
    try {
      const abs = new URL(s.$id, base || undefined);
      abs.hash = "";
      base = abs.href;
      resources.set(base, s);
    } catch {
      // Not an absolute URI and no absolute base to resolve it against: leave the base unchanged.
    }
  }
  for (const key of ["$anchor", "$dynamicAnchor"]) {
    if (typeof s[key] === "string") anchors.set(`${base}#${s[key]}`, s);
  }
  if (typeof s.$ref === "string") {
    refs.push({ pointer: ptr(pointer, "$ref"), ref: s.$ref, base, holder: s });
    baseOf.set(s, base);
  }
  for (const k of SUB_ONE) if (k in s) walkSchema(s[k], ptr(pointer, k), base);
  for (const k of SUB_MAP) for (const [name, sub] of entries(s[k])) walkSchema(sub, ptr(pointer, k, name), base);
  for (const k of SUB_LIST)
    if (Array.isArray(s[k])) s[k].forEach((sub, i) => walkSchema(sub, ptr(pointer, k, i), base));
}

function schemaAt(s, pointer) {
  if (s === undefined) return;
  schemas.push({ pointer, schema: s });
  walkSchema(s, pointer, "");
}

function content(c, pointer) {
  for (const [mt, media] of entries(c)) {
    const p = ptr(pointer, mt);
    if (!isObject(media)) continue;
    schemaAt(media.schema, ptr(p, "schema"));
    examples(media.examples, ptr(p, "examples"));
    for (const [prop, enc] of entries(media.encoding))
      for (const [h, header] of entries(isObject(enc) ? enc.headers : undefined))
        parameterLike(header, ptr(p, "encoding", prop, "headers", h));
  }
}

function examples(ex, pointer) {
  for (const [name, e] of entries(ex)) refObject(e, ptr(pointer, name)); // an Example's "value" is data
}

function parameterLike(p, pointer) {
  if (refObject(p, pointer) || !isObject(p)) return;
  schemaAt(p.schema, ptr(pointer, "schema"));
  content(p.content, ptr(pointer, "content"));
  examples(p.examples, ptr(pointer, "examples"));
}

function requestBody(rb, pointer) {
  if (refObject(rb, pointer) || !isObject(rb)) return;
  content(rb.content, ptr(pointer, "content"));
}

function response(r, pointer) {
  if (refObject(r, pointer) || !isObject(r)) return;
  for (const [h, header] of entries(r.headers)) parameterLike(header, ptr(pointer, "headers", h));
  content(r.content, ptr(pointer, "content"));
  for (const [l, link] of entries(r.links)) refObject(link, ptr(pointer, "links", l));
}

function callbacks(cbs, pointer) {
  for (const [name, cb] of entries(cbs)) {
    const p = ptr(pointer, name);
    if (refObject(cb, p)) continue;
    for (const [expr, item] of entries(cb)) pathItem(item, ptr(p, expr));
  }
}

function pathItem(item, pointer) {
  if (!isObject(item)) return;
  refObject(item, pointer); // 3.1 allows $ref next to other Path Item fields
  if (Array.isArray(item.parameters))
    item.parameters.forEach((prm, i) => parameterLike(prm, ptr(pointer, "parameters", i)));
  for (const m of METHODS) {
    const op = item[m];
    if (!isObject(op)) continue;
    const p = ptr(pointer, m);
    if (Array.isArray(op.parameters)) op.parameters.forEach((prm, i) => parameterLike(prm, ptr(p, "parameters", i)));
    requestBody(op.requestBody, ptr(p, "requestBody"));
    for (const [code, r] of entries(op.responses)) response(r, ptr(p, "responses", code));
    callbacks(op.callbacks, ptr(p, "callbacks"));
  }
}

for (const [path, item] of entries(doc.paths)) pathItem(item, ptr("", "paths", path));
for (const [name, item] of entries(doc.webhooks)) pathItem(item, ptr("", "webhooks", name));
{
  const c = isObject(doc.components) ? doc.components : {};
  const base = "/components";
  for (const [n, s] of entries(c.schemas)) schemaAt(s, ptr(base, "schemas", n));
  for (const [n, r] of entries(c.responses)) response(r, ptr(base, "responses", n));
  for (const [n, p] of entries(c.parameters)) parameterLike(p, ptr(base, "parameters", n));
  for (const [n, p] of entries(c.headers)) parameterLike(p, ptr(base, "headers", n));
  for (const [n, rb] of entries(c.requestBodies)) requestBody(rb, ptr(base, "requestBodies", n));
  examples(c.examples, ptr(base, "examples"));
  for (const [n, s] of entries(c.securitySchemes)) refObject(s, ptr(base, "securitySchemes", n));
  for (const [n, l] of entries(c.links)) refObject(l, ptr(base, "links", n));
  callbacks(c.callbacks, ptr(base, "callbacks"));
  for (const [n, item] of entries(c.pathItems)) pathItem(item, ptr(base, "pathItems", n));
}

// ---- 2. Schema Objects against the OAS 3.1 dialect ------------------------------------------------

const DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema";
const OAS_DIALECT = "https://spec.openapis.org/oas/3.1/dialect/base";
{
  // The OAS base vocabulary's keywords, per the Schema Object section of OAS 3.1. Extending the
  // 2020-12 meta-schema through "$dynamicAnchor": "meta" makes these checks apply at every depth.
  const ext = { patternProperties: { "^x-": true } };
  const dialect = {
    $id: "urn:opsorch:oas-3.1-schema-object",
    $schema: DRAFT_2020_12,
    $dynamicAnchor: "meta",
    allOf: [{ $ref: DRAFT_2020_12 }, { $ref: "#/$defs/oas-keywords" }],
    $defs: {
      "oas-keywords": {
        type: ["object", "boolean"],
        properties: {
          discriminator: {
            type: "object",
            required: ["propertyName"],
            properties: {
              propertyName: { type: "string" },
              mapping: { type: "object", additionalProperties: { type: "string" } },
            },
            ...ext,
            additionalProperties: false,
          },
          xml: {
            type: "object",
            properties: {
              name: { type: "string" },
              namespace: { type: "string" },
              prefix: { type: "string" },
              attribute: { type: "boolean" },
              wrapped: { type: "boolean" },
            },
            ...ext,
            additionalProperties: false,
          },
          externalDocs: {
            type: "object",
            required: ["url"],
            properties: { description: { type: "string" }, url: { type: "string" } },
            ...ext,
            additionalProperties: false,
          },
        },
      },
    },
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const check = ajv.compile(dialect);
  const docDialect = doc.jsonSchemaDialect ?? OAS_DIALECT;
  const known = (d) => d === OAS_DIALECT || d === DRAFT_2020_12 || d === DRAFT_2020_12 + "#";
  if (!known(docDialect)) {
    console.error(`note: jsonSchemaDialect ${docDialect} is not checked; Schema Objects were not validated`);
  } else {
    for (const { pointer, schema } of schemas) {
      // A schema may switch dialect with $schema; only the ones we know are checked.
      if (isObject(schema) && typeof schema.$schema === "string" && !known(schema.$schema)) continue;
      if (!check(schema)) reportAjvErrors(pointer, check.errors);
    }
  }
}

// ---- 3a. every $ref resolves ----------------------------------------------------------------------

function fromPointer(root, fragment) {
  let node = root;
  for (const raw of fragment.split("/").slice(1)) {
    const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(token) && Number(token) < node.length) node = node[token];
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token];
    else return undefined;
  }
  return node;
}

// Returns the target, or a string saying why there is none.
function resolveRef(ref, base) {
  const hash = ref.indexOf("#");
  const uriPart = hash === -1 ? ref : ref.slice(0, hash);
  let fragment = hash === -1 ? "" : ref.slice(hash + 1);
  try {
    fragment = decodeURIComponent(fragment);
  } catch {
    return "bad percent-encoding in the fragment";
  }
  let resource = doc;
  let resourceBase = base;
  if (uriPart !== "") {
    let abs;
    try {
      abs = new URL(uriPart, base || undefined);
    } catch {
      abs = undefined;
    }
    abs && (abs.hash = "");
    if (!abs || !resources.has(abs.href))
      return "external references are not supported: the document must be self-contained";
    resource = resources.get(abs.href);
    resourceBase = abs.href;
  } else if (base) {
    resource = resources.get(base);
  }
  if (fragment === "") return resource;
  if (fragment.startsWith("/")) {
    const target = fromPointer(resource, fragment);
    return target === undefined ? `nothing at ${fragment}` : target;
  }
  return anchors.get(`${resourceBase}#${fragment}`) ?? `no $anchor "${fragment}"`;
}

for (const { pointer, ref, base, holder } of refs) {
  let target = resolveRef(ref, base);
  if (typeof target === "string") {
    report(pointer, `$ref "${ref}" does not resolve (${target})`);
    continue;
  }
  // A chain of $refs that leads back to where it started never reaches a definition (and sends
  // tools that follow it into an endless loop).
  const chain = new Set([holder]);
  while (isObject(target) && typeof target.$ref === "string" && !chain.has(target)) {
    chain.add(target);
    target = resolveRef(target.$ref, baseOf.get(target) ?? "");
  }
  if (chain.has(target)) report(pointer, `$ref "${ref}" leads into a reference cycle`);
}

// ---- 3b. path templates, parameters, operationIds -------------------------------------------------

// Follows Reference Objects within the document; undefined when a ref is broken (already reported).
function deref(node) {
  for (let depth = 0; isObject(node) && typeof node.$ref === "string"; depth++) {
    const target = depth < 32 ? resolveRef(node.$ref, "") : "a cycle";
    if (typeof target === "string") return undefined;
    // A Path Item may have fields next to its $ref: they are kept on top of the referenced ones.
    const { $ref, ...siblings } = node;
    node = isObject(target) ? { ...target, ...siblings } : target;
  }
  return isObject(node) ? node : undefined;
}

function parameterList(list, pointer) {
  const out = [];
  if (!Array.isArray(list)) return out;
  list.forEach((raw, i) => {
    const p = deref(raw);
    if (p && typeof p.name === "string" && typeof p.in === "string")
      out.push({ name: p.name, in: p.in, pointer: ptr(pointer, i) });
  });
  const seen = new Set();
  for (const p of out) {
    const key = `${p.in}\u0000${p.name}`;
    if (seen.has(key)) report(p.pointer, `duplicate parameter: name "${p.name}", in "${p.in}"`);
    seen.add(key);
  }
  return out;
}

const operationIds = new Map(); // id -> pointer of first use
function operations(item, pointer, templates) {
  const resolved = deref(item);
  if (!resolved) return;
  const shared = parameterList(resolved.parameters, ptr(pointer, "parameters"));
  if (templates) {
    for (const p of shared)
      if (p.in === "path" && !templates.includes(p.name))
        report(p.pointer, `"in: path" parameter "${p.name}" does not appear in the path template`);
  }
  for (const m of METHODS) {
    const op = resolved[m];
    if (!isObject(op)) continue;
    const opPointer = ptr(pointer, m);
    if (typeof op.operationId === "string") {
      const first = operationIds.get(op.operationId);
      if (first) report(ptr(opPointer, "operationId"), `operationId "${op.operationId}" is already used by ${first}`);
      else operationIds.set(op.operationId, opPointer);
    }
    const own = parameterList(op.parameters, ptr(opPointer, "parameters"));
    if (templates) {
      // Operation parameters override path-level ones with the same name and location.
      const effective = [...own, ...shared.filter((s) => !own.some((o) => o.name === s.name && o.in === s.in))];
      for (const t of templates)
        if (!effective.some((p) => p.in === "path" && p.name === t))
          report(opPointer, `path template parameter "{${t}}" has no "in: path" parameter for this operation`);
      for (const p of own)
        if (p.in === "path" && !templates.includes(p.name))
          report(p.pointer, `"in: path" parameter "${p.name}" does not appear in the path template`);
    }
    for (const [name, cb] of entries(op.callbacks)) {
      const c = deref(cb);
      for (const [expr, cbItem] of entries(c)) operations(cbItem, ptr(opPointer, "callbacks", name, expr), null);
    }
  }
}

{
  const shapes = new Map(); // path with template names erased -> first path
  for (const [path, item] of entries(doc.paths)) {
    const pointer = ptr("", "paths", path);
    const templates = [...path.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]);
    const dup = templates.find((t, i) => templates.indexOf(t) !== i);
    if (dup !== undefined) report(pointer, `path template parameter "{${dup}}" appears more than once`);
    const shape = path.replace(/\{[^{}]*\}/g, "{}");
    if (shapes.has(shape)) report(pointer, `path is equivalent to "${shapes.get(shape)}" (only template names differ)`);
    else shapes.set(shape, path);
    operations(item, pointer, templates);
  }
  for (const [name, item] of entries(doc.webhooks)) operations(item, ptr("", "webhooks", name), null);
}

finish();
