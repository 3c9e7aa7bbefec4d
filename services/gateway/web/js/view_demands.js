// A company's demands: list, post / edit (API field errors at the field), close, and each
// demand's ranked matches.
import { t } from "./i18n.js";
import { api, get, post, qs } from "./api.js";
import { h, field, busy, formError, pager, empty, notice, list, fmtTime } from "./ui.js";
import { me, active } from "./session.js";
import { regionOptions, checks, STAGES, COLLABORATION, VISIBILITY, REGIONS, label } from "./options.js";
import { matchList } from "./view_matches.js";
import { notes } from "./view_agency.js";

export async function list_(params) {
  const box = h("div");
  const status = h("select", { id: "demand-status", name: "status" }, ["", "open", "closed", "awarded"].map((s) => h("option", { value: s, text: s ? label("dstatus", s) : t("any") })));
  const load = () => pager(box, (cursor) => get("/v1/demands" + qs({ org_id: me.org.id, status: status.value, cursor, limit: 20 })),
    (d) => h("article", { class: "card demand", "data-demand": d.id },
      h("h3", {}, h("a", { href: `#/demands/${d.id}`, text: d.title })),
      h("div", { class: "row" }, h("span", { class: "state", text: label("dstatus", d.status) }),
        h("span", { class: "state", text: label("visibility", d.visibility) }), h("span", { class: "muted", text: fmtTime(d.updated_at) }))),
    empty(t("demand.empty"), t("demand.empty.todo")));
  status.addEventListener("change", load);
  await load();
  return h("section", {}, h("div", { class: "row" }, h("h1", { text: t("demand.title") }),
    active() && h("a", { class: "button", id: "new-demand", href: "#/demands/new", text: t("demand.new") })),
    !active() && notice("warn", t("pending.pending")),
    h("div", { class: "field" }, h("label", { for: "demand-status", text: t("f.status") }), status), box);
}
export { list_ as list };

const toDate = (s) => (s ? s.slice(0, 10) : "");

export async function edit(params, ctx) {
  const d = params.id ? await get(`/v1/demands/${encodeURIComponent(params.id)}`) : {};
  const budget = d.budget_krw || {};
  const form = busy(h("form", { class: "stack", novalidate: true, id: "demand-form" },
    field("title", t("f.title"), { required: true, value: d.title }),
    field("description", t("f.description"), { kind: "textarea", value: d.description }),
    field("tags", t("f.tags"), { value: (d.tags || []).join(", "), hint: t("hint.tags") }),
    field("industries", t("f.industries"), { value: (d.industries || []).join(", "), hint: t("hint.industries") }),
    field("regions", t("f.regions"), { kind: "checks", options: checks("region", REGIONS), value: d.regions }),
    field("stages", t("f.stages"), { kind: "checks", options: checks("stage", STAGES), value: d.stages }),
    field("collaboration", t("f.collaboration"), { kind: "checks", options: checks("collab", COLLABORATION), value: d.collaboration }),
    field("budget_min", t("f.budget_min"), { kind: "number", min: 0, value: budget.min }),
    field("budget_max", t("f.budget_max"), { kind: "number", min: 0, value: budget.max }),
    field("closes_at", t("f.closes_at"), { kind: "date", value: toDate(d.closes_at) }),
    field("visibility", t("f.visibility"), { kind: "select", options: checks("visibility", VISIBILITY), value: d.visibility || "public", hint: t("hint.visibility") }),
    formError(),
    h("div", { class: "row" }, h("button", { type: "submit", id: "demand-submit", text: params.id ? t("save") : t("demand.post") }),
      h("a", { href: params.id ? `#/demands/${params.id}` : "#/demands", class: "button secondary", text: t("cancel") }))),
  async (v) => {
    const body = { title: v.title, description: v.description, tags: list(v.tags), industries: list(v.industries),
                   regions: v.regions, stages: v.stages, collaboration: v.collaboration, visibility: v.visibility };
    if (v.budget_min || v.budget_max) body.budget_krw = { min: Number(v.budget_min || 0), max: Number(v.budget_max || 0) };
    if (v.closes_at) body.closes_at = v.closes_at + "T23:59:59Z";
    const saved = params.id ? await api("PATCH", `/v1/demands/${params.id}`, body, d.version) : await api("POST", "/v1/demands", body);
    ctx.go(`/demands/${saved.id}`);
  });
  form.errorAliases = aliases;
  return h("section", {}, h("h1", { text: params.id ? t("demand.edit") : t("demand.new") }), form);
}

// Maps the API's budget fields onto the form's two inputs.
export const aliases = { "budget_krw.min": "budget_min", "budget_krw.max": "budget_max", budget_krw: "budget_min" };

export async function detail(params, ctx) {
  const d = await get(`/v1/demands/${encodeURIComponent(params.id)}`);
  const mine = d.org_id === me.org.id;
  const resubmit = mine && d.status === "returned" && h("button", { type: "button", id: "resubmit-demand", text: t("review.resubmit"),
    onclick: async () => { await post(`/v1/demands/${d.id}/resubmit`); ctx.render(); } });
  const close = mine && d.status === "open" && h("button", { type: "button", class: "danger", id: "close-demand", text: t("demand.close"),
    onclick: async () => { if (!window.confirm(t("demand.close.confirm"))) return; await post(`/v1/demands/${d.id}/close`); ctx.render(); } });
  const matches = mine ? await matchList(() => get(`/v1/demands/${d.id}/matches`), [t("match.empty.demand"), t("match.empty.demand.todo")]) : null;
  return h("section", {}, h("h1", { text: d.title }),
    h("div", { class: "row" }, h("span", { class: "state", text: label("dstatus", d.status) }),
      h("span", { class: "state", text: label("visibility", d.visibility) }),
      mine && h("a", { class: "button secondary", href: `#/demands/${d.id}/edit`, id: "edit-demand", text: t("edit") }), resubmit, close),
    d.status === "pending_review" && notice("", t("review.waiting")),
    d.status === "returned" && notice("warn", t("review.returned")),
    notes(d),
    d.description && h("p", { text: d.description }),
    h("h2", { text: t("demand.matches") }), matches);
}
