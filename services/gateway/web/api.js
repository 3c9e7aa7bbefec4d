// The API reference page (api.html): renders GET /v1/openapi.json, grouped by tag, with each
// operation's parameters, request and reply schemas (component names link to their schema).
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  children.flat().forEach((c) => node.append(c instanceof Node ? c : String(c)));
  return node;
}

function schemaText(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(schemaText).join(" | ");
  if (schema.type === "array") return schemaText(schema.items) + "[]";
  if (schema.type === "object" && schema.properties) {
    return "{ " + Object.entries(schema.properties).map(([k, v]) =>
      k + (v.deprecated ? " (deprecated)" : "") + ": " + schemaText(v)).join(", ") + " }";
  }
  if (schema.enum) return schema.enum.join(" | ");
  return [].concat(schema.type || "any").join(" | ");
}

function operation(path, method, op) {
  const params = (op.parameters || []).map((p) => `${p.name} (${p.in})`).join(", ");
  const body = op.requestBody ? schemaText(op.requestBody.content["application/json"].schema) : "";
  const ok = op.responses["2XX"];
  const reply = ok && ok.content ? schemaText(ok.content["application/json"].schema) : "";
  const open = op.security && op.security.some((s) => Object.keys(s).length === 0);
  return el("section", { class: "op" },
    el("h3", {}, el("code", {}, method.toUpperCase() + " " + path), " ", op.summary,
       open ? " · no credentials needed" : ""),
    params ? el("p", {}, "Parameters: ", params) : "",
    body ? el("p", {}, "Body: ", el("code", {}, body)) : "",
    reply ? el("p", {}, "Reply: ", el("code", {}, reply)) : "");
}

function render(doc) {
  const byTag = {};
  Object.entries(doc.paths).forEach(([path, item]) => Object.entries(item).forEach(([m, op]) =>
    (byTag[op.tags[0]] = byTag[op.tags[0]] || []).push(operation(path, m, op))));
  const root = document.getElementById("api");
  root.append(el("p", {}, doc.info.description));
  Object.keys(byTag).sort().forEach((tag) => root.append(el("h2", {}, tag), byTag[tag]));
  root.append(el("h2", { id: "schemas" }, "Schemas"));
  Object.entries(doc.components.schemas).forEach(([name, schema]) =>
    root.append(el("h3", { id: name }, name), el("p", {}, el("code", {}, schemaText(schema)))));
  document.getElementById("status").textContent =
    `${Object.values(byTag).flat().length} operations, OpenAPI ${doc.openapi}`;
}

fetch("/v1/openapi.json").then((r) => r.json()).then(render).catch((e) => {
  document.getElementById("status").textContent = "Could not load the description: " + e;
});
