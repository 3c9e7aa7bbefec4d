// Search with facets (deep-linked: #/search?type=&q=&tag=...), paging, detail pages.
import { t } from "./i18n.js";
import { get, post, qs } from "./api.js";
import { h, mount, empty, failure, notice, fmtTime } from "./ui.js";
import { me, active } from "./session.js";
import { label, loadTaxonomy } from "./options.js";
import { membersSection, keysSection } from "./view_settings.js";

const FACETS = ["industry", "region", "stage", "tag", "collaboration", "status"];

// Search hit snippets come with <em> around matched words: rebuilt as elements, never parsed.
function highlighted(text) {
  const out = [];
  (text || "").split(/(<em>.*?<\/em>)/).forEach((part) => {
    const m = part.match(/^<em>(.*)<\/em>$/);
    out.push(m ? h("em", { text: m[1] }) : part.replace(/<[^>]*>/g, ""));
  });
  return out;
}

export async function view(params, ctx) {
  await loadTaxonomy();
  const type = params.type || "demand";
  const form = h("form", { class: "row", role: "search" },
    h("label", { for: "search-type", text: t("f.type") }),
    h("select", { id: "search-type", name: "type" }, ["demand", "startup", "company"].map((v) => h("option", { value: v, text: t("kind." + v), selected: v === type }))),
    h("label", { for: "search-q", text: t("f.query") }),
    h("input", { id: "search-q", name: "q", type: "search", value: params.q || "" }),
    h("button", { type: "submit", id: "search-go", text: t("search.go") }),
    me.org && active() && h("button", { type: "button", class: "secondary", id: "save-search", text: t("search.save"), onclick: async (ev) => {
      const body = { type: type === "company" ? "demand" : type, q: params.q || "" };
      FACETS.forEach((f) => { if (params[f] && f !== "status") body[f] = [params[f]]; });
      try { await post("/v1/saved-searches", body); ev.target.replaceWith(notice("ok", t("search.saved"))); }
      catch (e) { ev.target.replaceWith(failure(e)); }
    } }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = form.querySelector("#search-q").value.trim();
    ctx.go("/search" + qs({ type: form.querySelector("#search-type").value, q }));
  });
  const facetsBox = h("aside", { class: "facets", "aria-label": t("search.facets") });
  const results = h("div", { id: "results", "aria-live": "polite" });
  const section = h("section", {}, h("h1", { text: t("search.title") }), form,
    h("div", { class: "layout" }, facetsBox, results));
  const filters = Object.fromEntries(FACETS.filter((f) => params[f]).map((f) => [f, params[f]]));
  const link = (more) => "/search" + qs({ type, q: params.q, ...filters, ...more });
  let reply;
  try { reply = await get("/v1/search" + qs({ type, q: params.q, ...filters, limit: 10, cursor: params.cursor })); }
  catch (e) { mount(results, failure(e, ctx.render)); return section; }
  mount(facetsBox, FACETS.map((f) => {
    const counts = Object.entries((reply.facets || {})[f] || {});
    if (!counts.length && !filters[f]) return null;
    return [h("h3", { text: t("facet." + f) }), counts.map(([value, n]) => h("button", { type: "button",
      "aria-pressed": filters[f] === value ? "true" : "false", text: `${label(f === "collaboration" ? "collab" : f, value)} (${n})`,
      onclick: () => ctx.go(link({ [f]: filters[f] === value ? undefined : value, cursor: undefined })) }))];
  }));
  const hits = reply.hits || [];
  if (!hits.length) {
    mount(results, empty(t("search.none"), t("search.none.todo")));
    return section;
  }
  mount(results, h("p", { class: "muted", text: t("search.total", { n: reply.total, ms: Number(reply.took_ms || 0).toFixed(1) }) }),
    hits.map((hit) => h("article", { class: "card hit" },
      h("h3", {}, h("a", { href: hit.type === "demand" ? `#/demand/${hit.id}` : `#/org/${hit.id}` }, highlighted(hit.title_html || hit.title))),
      h("p", {}, highlighted(hit.snippet)))),
    h("div", { class: "pager" }, params.cursor && h("a", { class: "button secondary", href: "#" + link({}), text: t("first") }),
      reply.next_cursor && h("a", { class: "button secondary", id: "next-page", href: "#" + link({ cursor: reply.next_cursor }), text: t("next") })));
  return section;
}

function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(([, v]) => v !== undefined && v !== null && v !== "" && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => [h("dt", { text: t(k) }), h("dd", { text: Array.isArray(v) ? v.join(", ") : String(v) })]));
}

export async function demand(params) {
  const [d] = await Promise.all([get(`/v1/demands/${encodeURIComponent(params.id)}`), loadTaxonomy()]);
  return h("section", {}, h("h1", { text: d.title }),
    h("div", { class: "row" }, h("span", { class: "state", text: label("dstatus", d.status) }), h("span", { class: "state", text: label("visibility", d.visibility) })),
    d.description && h("p", { text: d.description }),
    kv([["f.tags", d.tags], ["f.industries", (d.industries || []).map((c) => label("industry", c))], ["f.regions", (d.regions || []).map((r) => label("region", r))],
        ["f.stages", d.stages], ["f.collaboration", (d.collaboration || []).map((c) => label("collab", c))],
        ["f.closes_at", fmtTime(d.closes_at)], ["f.owner", d.org_id]]),
    d.org_id && h("p", {}, h("a", { href: `#/org/${d.org_id}`, text: t("demand.owner") })));
}

export async function org(params) {
  const [o] = await Promise.all([get(`/v1/orgs/${encodeURIComponent(params.id)}`), loadTaxonomy()]);
  // The agency manages every organisation's people and API keys from here.
  const manage = me.kind === "agency" && o.kind !== "agency" && me.features.sessions
    ? [h("h2", { text: t("settings.members") }), await membersSection(o.id), h("h2", { text: t("settings.keys") }), await keysSection(o.id)] : null;
  return h("section", {}, h("h1", { text: o.name }), o.name_en && h("p", { class: "muted", text: o.name_en }),
    h("span", { class: "state", text: t("kind." + o.kind) }), o.status && h("span", { class: "state", text: label("ostatus", o.status) }),
    o.description && h("p", { text: o.description }),
    kv([["f.region", label("region", o.region)], ["f.stage", label("stage", o.stage)], ["f.tags", o.tags], ["f.industries", (o.industries || []).map((c) => label("industry", c))],
        ["f.website", o.website], ["f.founded", o.founded || ""], ["f.employees", o.employees || ""]]), manage);
}
