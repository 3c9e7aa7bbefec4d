// DOM helpers: elements are built, never parsed from strings holding data (no innerHTML of
// API text), so nothing a user typed can become markup.
import { t } from "./i18n.js";

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "width") el.style.width = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function mount(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

let uid = 0;
const nextId = (name) => `f-${name.replace(/[^a-z0-9]/gi, "-")}-${++uid}`;

// One labelled form field with its error slot. kind: text, email, password, number, url,
// date, textarea, select (options: [[value, label]]), checks (options, value: array).
export function field(name, label, opts = {}) {
  const id = nextId(name);
  const errId = id + "-err";
  const hintId = opts.hint ? id + "-hint" : null;
  const describedby = [hintId, errId].filter(Boolean).join(" ");
  let control;
  if (opts.kind === "checks") {
    const chosen = new Set(opts.value || []);
    control = h("fieldset", { "data-name": name, "aria-describedby": describedby },
      h("legend", { text: label }),
      (opts.options || []).map(([v, l]) => h("label", {},
        h("input", { type: "checkbox", name, value: v, checked: chosen.has(v) }), " ", l)));
    return h("div", { class: "field", "data-field": name }, control,
             hintId && h("p", { class: "hint", id: hintId, text: opts.hint }),
             h("p", { class: "field-error", id: errId, "data-error-for": name }));
  }
  if (opts.kind === "textarea")
    control = h("textarea", { id, name, "aria-describedby": describedby, required: opts.required });
  else if (opts.kind === "select")
    control = h("select", { id, name, "aria-describedby": describedby },
      (opts.options || []).map(([v, l]) => h("option", { value: v, text: l })));
  else
    control = h("input", { id, name, type: opts.kind || "text", "aria-describedby": describedby,
                           required: opts.required, autocomplete: opts.autocomplete,
                           min: opts.min, placeholder: opts.placeholder });
  if (opts.value !== undefined && opts.value !== null) control.value = opts.value;
  return h("div", { class: "field", "data-field": name },
           h("label", { for: id, text: label + (opts.required ? " *" : "") }), control,
           hintId && h("p", { class: "hint", id: hintId, text: opts.hint }),
           h("p", { class: "field-error", id: errId, "data-error-for": name }));
}

// The values of a form: checks as arrays, everything else as trimmed strings.
export function values(form) {
  const out = {};
  for (const fs of form.querySelectorAll("fieldset[data-name]"))
    out[fs.dataset.name] = [...fs.querySelectorAll("input:checked")].map((i) => i.value);
  for (const el of form.querySelectorAll("input[name], select[name], textarea[name]"))
    if (el.type !== "checkbox") out[el.name] = el.value.trim();
  return out;
}

export const list = (s) => (s || "").split(/[,\n]/).map((x) => x.trim()).filter(Boolean);

// Clears every field error of a form.
export function clearErrors(form) {
  form.querySelectorAll("[data-error-for]").forEach((p) => { p.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((c) => c.removeAttribute("aria-invalid"));
  const summary = form.querySelector(".form-error");
  if (summary) summary.replaceChildren();
}

// Shows an API error at its field ("budget_krw.min" -> budget_min, "tags[2]" -> tags,
// "account.email" -> account_email), else in the form's summary. aliases maps API field
// names to form names.
export function showError(form, error, aliases = {}) {
  const raw = error.field || "";
  const candidates = [raw, raw.replace(/\[\d+\]$/, ""), raw.replace(/\./g, "_"),
                      raw.split(/[.[]/)[0]].map((f) => aliases[f] || f);
  const slot = candidates.map((f) => f && form.querySelector(`[data-error-for="${CSS.escape(f)}"]`)).find(Boolean);
  if (slot) {
    slot.textContent = errorText(error);
    const control = slot.parentElement.querySelector("input, select, textarea, fieldset");
    if (control) { control.setAttribute("aria-invalid", "true"); control.focus(); }
    return;
  }
  const summary = form.querySelector(".form-error");
  if (summary) mount(summary, notice("error", errorText(error)));
}

export function errorText(error) {
  const key = "err." + error.code;
  const what = t.has(key) ? t(key) : t("err.generic", { status: error.status });
  return error.message && error.code !== "network" ? `${what} — ${error.message}` : what;
}

export const notice = (kind, ...content) => h("div", { class: "notice " + kind, role: kind === "error" ? "alert" : "status" }, content);

// An empty list says what to do next.
export const empty = (what, todo) => notice("", h("strong", { text: what }), " ", todo || "");

// An error state says what happened and what to do (retry).
export function failure(error, retry) {
  return notice("error", errorText(error), " ",
    retry && h("button", { type: "button", class: "secondary", onclick: retry, text: t("retry") }));
}

export function formError() { return h("div", { class: "form-error" }); }

// A submit button that is disabled while the handler runs.
export function busy(form, fn) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    clearErrors(form);
    try { await fn(values(form)); }
    catch (e) { if (e.status !== undefined) showError(form, e, form.errorAliases); else throw e; }
    finally { if (button) button.disabled = false; }
  });
  return form;
}

export function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString(document.documentElement.lang === "ko" ? "ko-KR" : "en-GB");
}

export function setBanner(...content) { mount(document.getElementById("banner"), ...content); }

// Pages through a cursor-paged list: load(cursor) -> {items, next_cursor}; render(item).
export function pager(container, load, render, emptyState, listEl = h("div", { class: "list" })) {
  let count = 0;
  const more = h("button", { type: "button", class: "secondary", text: t("more") });
  const status = h("div");
  let cursor = null;
  async function next() {
    more.disabled = true;
    try {
      const page = await load(cursor);
      const items = page.items || [];
      items.forEach((item) => listEl.append(render(item)));
      count += items.length;
      cursor = page.next_cursor || null;
      if (!count) mount(status, emptyState);
      more.hidden = !cursor;
    } catch (e) {
      mount(status, failure(e, next));
    } finally { more.disabled = false; }
  }
  more.addEventListener("click", next);
  mount(container, listEl, status, h("div", { class: "pager" }, more));
  return next();
}
