// The agency: approval queue, organisation directory, publishers, the funnel dashboard,
// dead-letter deliveries with retry, the audit log with filters.
import { t } from "./i18n.js";
import { api, get, post, qs, rows } from "./api.js";
import { h, mount, field, busy, formError, pager, empty, notice, failure, fmtTime, values } from "./ui.js";
import { label } from "./options.js";
import { me } from "./session.js";

// GET /v1/orgs: the directory (the agency sees every status), newest first, paged by cursor.
const orgPage = (filters, cursor, limit = 20) => get("/v1/orgs" + qs({ ...filters, cursor, limit }));

function decide(o, onDone) {
  const box = h("div", { class: "stack decide" });
  const reasonId = `reason-${o.id}`;
  const reason = h("input", { id: reasonId, name: "reason", type: "text" });
  const act = (what) => async () => {
    try { await post(`/v1/orgs/${o.id}/${what}`, reason.value.trim() ? { reason: reason.value.trim() } : {}); onDone(what); }
    catch (e) { box.append(failure(e)); }
  };
  mount(box, h("div", { class: "field" }, h("label", { for: reasonId, text: t("f.reason") }), reason),
    h("div", { class: "row" },
      o.status !== "active" && h("button", { type: "button", class: "approve", text: t("agency.approve"), onclick: act("approve") }),
      o.status !== "suspended" && h("button", { type: "button", class: "danger suspend", text: t("agency.suspend"), onclick: act("suspend") })));
  return box;
}

function orgCard(o, withActions) {
  const art = h("article", { class: "card org", "data-org": o.id, "data-status": o.status },
    h("h3", {}, h("a", { href: `#/org/${o.id}`, text: o.name })),
    h("div", { class: "row" }, h("span", { class: "state", text: t("kind." + o.kind) }), h("span", { class: "state org-status", text: label("ostatus", o.status) }),
      h("span", { class: "muted", text: [o.email, fmtTime(o.created_at)].filter(Boolean).join(" · ") })),
    o.description && h("p", { text: o.description }));
  if (withActions) art.append(decide(o, (what) => { art.dataset.status = what === "approve" ? "active" : "suspended";
    art.querySelector(".org-status").textContent = label("ostatus", art.dataset.status); art.querySelector(".decide").replaceWith(notice("ok", t("agency.done." + what))); }));
  return art;
}

export async function queue() {
  const box = h("div");
  await pager(box, (cursor) => orgPage({ status: "pending" }, cursor, 50),
    (o) => orgCard(o, true), empty(t("queue.empty"), t("queue.empty.todo")));
  return h("section", {}, h("h1", { text: t("queue.title") }), h("p", { text: t("queue.lead") }), box);
}

export async function orgs(params, ctx) {
  const form = h("form", { class: "row", role: "search", id: "orgs-form" },
    h("label", { for: "org-q", text: t("f.query") }), h("input", { id: "org-q", name: "q", type: "search", value: params.q || "" }),
    h("label", { for: "org-kind", text: t("f.kind") }), h("select", { id: "org-kind", name: "kind" }, ["", "startup", "company"].map((k) => h("option", { value: k, text: k ? t("kind." + k) : t("any"), selected: params.kind === k }))),
    h("label", { for: "org-status", text: t("f.status") }), h("select", { id: "org-status", name: "status" }, ["", "pending", "active", "suspended"].map((s) => h("option", { value: s, text: s ? label("ostatus", s) : t("any"), selected: params.status === s }))),
    h("button", { type: "submit", text: t("search.go") }));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); ctx.go("/agency/orgs" + qs(values(form))); });
  const filters = { q: params.q, kind: params.kind, status: params.status };
  const box = h("div");
  await pager(box, (cursor) => orgPage(filters, cursor, Number(params.limit) || 20),
    (o) => orgCard(o, true), empty(t("orgs.empty"), t("orgs.empty.todo")));
  // CSV exports (GET /v1/admin/export/...): a plain download carries a session's cookie.
  const exports = me.mode === "session" && h("p", { class: "row" }, t("orgs.export"),
    ["organizations", "demands", "relationships"].map((f) => h("a", { href: `/v1/admin/export/${f}.csv`, download: `${f}.csv`, text: t("export." + f) })));
  return h("section", {}, h("h1", { text: t("orgs.title") }), form, exports, box);
}

// A publisher's card: its current key (prefix, last use) with rotate (the new key shown once,
// the old one refused at once) and revoke.
function publisherCard(p) {
  const out = h("div", { "aria-live": "polite" });
  const keyLine = h("p", { class: "muted pub-key" });
  const show = (k) => { keyLine.textContent = k ? `${t("f.prefix")}: ${k.prefix || "—"} · ${t("f.last_used")}: ${fmtTime(k.last_used_at) || "—"}` : t("pub.nokey"); };
  show(p.api_key);
  const rotate = async () => {
    try { const k = await post(`/v1/publishers/${p.id}/api-keys`); show({ prefix: k.api_key.slice(0, 13) });
      mount(out, notice("ok", h("p", { text: t("keys.once") }), h("p", { class: "secret", text: k.api_key }))); }
    catch (e) { mount(out, failure(e)); }
  };
  const revoke = async () => {
    if (!window.confirm(t("keys.revoke.confirm", { name: p.source_system }))) return;
    try { await api("DELETE", `/v1/publishers/${p.id}/api-keys`); show(null); mount(out, notice("ok", t("pub.revoked"))); }
    catch (e) { mount(out, failure(e)); }
  };
  return h("article", { class: "card publisher", "data-publisher": p.id },
    h("div", { class: "row" }, h("strong", { text: p.name }), h("span", { class: "state", text: p.source_system }), h("span", { class: "muted", text: fmtTime(p.created_at) })),
    keyLine, h("div", { class: "row" }, h("button", { type: "button", class: "secondary rotate", text: t("pub.rotate"), onclick: rotate }),
      h("button", { type: "button", class: "danger revoke", text: t("revoke"), onclick: revoke })), out);
}

export async function publishers() {
  const made = h("div", { "aria-live": "polite" });
  const box = h("div");
  const load = () => pager(box, (cursor) => get("/v1/publishers" + qs({ cursor, limit: 25 })), publisherCard,
    empty(t("pub.empty"), t("pub.empty.todo")));
  const form = busy(h("form", { class: "stack", novalidate: true, id: "publisher-form" },
    field("source_system", t("f.source_system"), { required: true, hint: t("hint.source_system") }),
    field("name", t("f.pub_name"), { required: true }), formError(),
    h("div", {}, h("button", { type: "submit", text: t("pub.add") }))),
  async (v) => {
    const p = await post("/v1/publishers", v);
    mount(made, notice("ok", h("p", { text: t("keys.once") }), h("p", { class: "secret", text: p.api_key })));
    form.reset();
    load();
  });
  await load();
  return h("section", {}, h("h1", { text: t("pub.title") }), box, h("h2", { text: t("pub.add") }), form, made, notice("", t("pub.keys.note")));
}

function chart(id, title, labels, data, kind = "bar") {
  const canvas = h("canvas", { id, role: "img", "aria-label": `${title}: ${labels.map((l, i) => `${l} ${data[i]}`).join(", ")}` });
  const box = h("figure", { class: "card" }, h("figcaption", {}, h("strong", { text: title })), h("div", { class: "chart-box" }, canvas),
    h("table", { class: "chart-data" }, labels.map((l, i) => h("tr", {}, h("th", { text: l }), h("td", { "data-key": id + ":" + i, text: String(data[i]) })))));
  requestAnimationFrame(() => {
    if (!window.Chart || !canvas.isConnected) return;
    new window.Chart(canvas, { type: kind, data: { labels, datasets: [{ label: title, data, backgroundColor: ["#0b4fa8", "#2f7d32", "#b35c00", "#7b1fa2", "#a4001d", "#455a64"] }] },
      options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: kind !== "bar" } }, scales: kind === "bar" ? { y: { beginAtZero: true, ticks: { precision: 0 } } } : {} } });
  });
  return box;
}

// GET /v1/admin/stats?period=&from=: the funnel by cohort (demands posted in a period and how
// far they got), its totals, median times, by source, delivery health; counts by status.
const PERIODS = { day: [14, 86400000], week: [12, 7 * 86400000], month: [12, 31 * 86400000] };
const STAGES_F = ["posted", "matched", "with_interest", "connected"];

function funnelOverTime(rows, period) {
  const labels = rows.map((r) => r.start.slice(period === "month" ? 0 : 5, period === "month" ? 7 : 10));
  const names = STAGES_F.map((k) => t("stats." + k));
  const canvas = h("canvas", { id: "chart-time", role: "img", "aria-label": t("stats.over_time." + period) });
  requestAnimationFrame(() => {
    if (!window.Chart || !canvas.isConnected) return;
    const colors = ["#0b4fa8", "#2f7d32", "#b35c00", "#7b1fa2"];
    new window.Chart(canvas, { type: "line", data: { labels, datasets: STAGES_F.map((k, i) => ({ label: names[i], data: rows.map((r) => r[k] || 0), borderColor: colors[i], backgroundColor: colors[i] })) },
      options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  });
  return h("figure", { class: "card" }, h("figcaption", {}, h("strong", { text: t("stats.over_time." + period) })), h("div", { class: "chart-box" }, canvas));
}

function table(id, head, rows) {
  return h("table", { id }, h("tr", {}, head.map((x) => h("th", { text: x }))), rows.map((r) => h("tr", {}, r.map((x) => h("td", { text: x === null || x === undefined ? "—" : String(x) })))));
}

// Demands waiting for the agency's review (when the review setting is on): approve, or return
// with a comment saying what to change.
export async function review(params, ctx) {
  const settings = await get("/v1/admin/settings");
  const toggle = h("input", { type: "checkbox", id: "review-on", checked: settings.demand_review });
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try { await api("PUT", "/v1/admin/settings", { demand_review: toggle.checked }); } catch (e) { toggle.checked = !toggle.checked; toggle.after(failure(e)); }
    toggle.disabled = false;
  });
  const box = h("div");
  await pager(box, async (cursor) => { const r = await get("/v1/admin/review-queue" + qs({ cursor })); return { items: rows(r), next_cursor: r.next_cursor }; },
    (d) => {
      const art = h("article", { class: "card review", "data-demand": d.id },
        h("h3", {}, h("a", { href: `#/demand/${d.id}`, text: d.title })),
        h("div", { class: "row" }, h("span", { class: "state", text: label("dstatus", d.status) }), h("a", { href: `#/org/${d.org_id}`, text: t("demand.owner") }),
          h("span", { class: "muted", text: fmtTime(d.updated_at) })),
        d.description && h("p", { text: d.description }), notes(d));
      const comment = field("comment", t("f.comment"), { kind: "textarea", hint: t("review.comment.hint") });
      const out = h("div");
      const act = (what) => async () => {
        const text = comment.querySelector("textarea").value.trim();
        try { await post(`/v1/demands/${d.id}/${what}`, text ? { comment: text } : {}); art.dataset.status = what; mount(out, notice("ok", t("review.done." + what))); }
        catch (e) { mount(out, failure(e)); }
      };
      art.append(comment, h("div", { class: "row" }, h("button", { type: "button", text: t("review.approve"), onclick: act("approve") }),
        h("button", { type: "button", class: "secondary", text: t("review.return"), onclick: act("return") })), out);
      return art;
    }, empty(t("review.empty"), t("review.empty.todo")));
  return h("section", {}, h("h1", { text: t("review.title") }),
    h("div", { class: "row" }, toggle, h("label", { for: "review-on", text: t("review.setting") })), box);
}

// A demand's review steps, oldest first.
export function notes(d) {
  const list = d.review_notes || [];
  if (!list.length) return null;
  return h("ol", { class: "review-notes" }, list.map((n) => h("li", {}, `${fmtTime(n.at)} · ${label("rnote", n.action)}`, n.comment ? ` — ${n.comment}` : "")));
}

export async function stats(params, ctx) {
  const period = PERIODS[params.period] ? params.period : "day";
  const from = new Date(Date.now() - PERIODS[period][0] * PERIODS[period][1]).toISOString();
  const s = await get("/v1/admin/stats" + qs({ period, from }));
  const select = h("select", { id: "stats-period", name: "period" }, Object.keys(PERIODS).map((p) => h("option", { value: p, selected: p === period, text: t("stats.period." + p) })));
  select.addEventListener("change", () => ctx.go("/agency/stats?period=" + select.value));
  const total = s.funnel_total || {};
  const orgs = s.orgs || {};
  const orgLabels = [], orgData = [];
  for (const kind of ["startup", "company"]) for (const [status, n] of Object.entries(orgs[kind] || {})) { orgLabels.push(`${t("kind." + kind)} · ${label("ostatus", status)}`); orgData.push(n); }
  const dem = s.demands || {};
  const d = s.delivery || {};
  const lat = d.latency_ms || {};
  const hours = s.median_hours || {};
  return h("section", {}, h("h1", { text: t("stats.title") }),
    h("div", { class: "field" }, h("label", { for: "stats-period", text: t("stats.period") }), select),
    h("div", { class: "charts" },
      chart("chart-funnel", t("stats.funnel"), STAGES_F.map((k) => t("stats." + k)), STAGES_F.map((k) => total[k] || 0)),
      funnelOverTime(s.funnel || [], period),
      chart("chart-orgs", t("stats.orgs"), orgLabels, orgData),
      chart("chart-demands", t("stats.demand_status"), Object.keys(dem).map((k) => label("dstatus", k)), Object.values(dem)),
      chart("chart-deliveries", t("stats.deliveries"), ["delivered", "pending", "dead", "disabled"].map((k) => label("dlv", k)),
            [d.delivered || 0, d.pending || 0, d.dead_letters || 0, d.disabled || 0], "doughnut")),
    h("h2", { text: t("stats.health") }),
    table("stats-health", [t("stats.success_rate"), "p50 ms", "p90 ms", "p99 ms", t("stats.attempts")],
          [[d.success_rate === null || d.success_rate === undefined ? null : `${Math.round(d.success_rate * 1000) / 10}%`, lat.p50, lat.p90, lat.p99, d.attempts]]),
    h("h2", { text: t("stats.median") }),
    table("stats-median", [t("stats.posted_to_matched"), t("stats.matched_to_connected")], [[hours.posted_to_matched, hours.matched_to_connected]]),
    h("h2", { text: t("stats.by_source") }),
    table("stats-source", [t("stats.source"), ...STAGES_F.map((k) => t("stats." + k))],
          Object.entries(s.by_source || {}).map(([src, r]) => [src, ...STAGES_F.map((k) => r[k])])));
}

export async function deliveries(params, ctx) {
  const status = params.status || "dead";
  const select = h("select", { id: "dlv-status", name: "status" }, ["dead", "pending", "delivered", "disabled"].map((s) => h("option", { value: s, text: label("dlv", s), selected: s === status })));
  select.addEventListener("change", () => ctx.go("/agency/deliveries?status=" + select.value));
  const box = h("div");
  await pager(box, async (cursor) => { const r = await get("/v1/deliveries" + qs({ status, cursor, limit: 20 })); return { items: rows(r), next_cursor: r.next_cursor }; },
    (dl) => {
      const last = (dl.log || []).slice(-1)[0] || {};
      const art = h("article", { class: "card delivery", "data-delivery": dl.id },
        h("div", { class: "row" }, h("strong", { text: dl.url || dl.id }), h("span", { class: "state", text: label("dlv", dl.status) }),
          h("span", { class: "muted", text: `${t("dlv.attempts", { n: dl.attempts || 0 })} · ${fmtTime(dl.updated_at || dl.created_at)}` }),
          dl.org_id && h("a", { href: `#/org/${dl.org_id}`, text: t("dlv.org") })),
        (last.error || last.http_status) && h("p", { class: "muted", text: `${t("dlv.last")} (${fmtTime(last.at)}): ${last.http_status ? "HTTP " + last.http_status + " " : ""}${last.error || ""}` }),
        dl.status === "dead" && h("button", { type: "button", class: "retry", text: t("dlv.retry"), onclick: async (ev) => {
          try { await post(`/v1/deliveries/${dl.id}/retry`); ev.target.replaceWith(notice("ok", t("dlv.retried"))); } catch (e) { ev.target.replaceWith(failure(e)); } } }));
      return art;
    }, empty(t("dlv.empty"), t("dlv.empty.todo")));
  return h("section", {}, h("h1", { text: t("dlv.title") }), h("div", { class: "field" }, h("label", { for: "dlv-status", text: t("f.status") }), select), box);
}

export async function audit(params, ctx) {
  const form = h("form", { class: "stack", id: "audit-form" },
    field("action", t("f.action"), { value: params.action, hint: t("hint.action") }),
    field("entity_type", t("f.entity_type"), { value: params.entity_type }),
    field("entity_id", t("f.entity_id"), { value: params.entity_id }),
    field("actor_org_id", t("f.actor_org_id"), { value: params.actor_org_id }),
    field("since", t("f.since"), { kind: "date", value: params.since }),
    field("until", t("f.until"), { kind: "date", value: params.until }),
    h("div", {}, h("button", { type: "submit", text: t("audit.filter") })));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); ctx.go("/agency/audit" + qs(values(form))); });
  const box = h("div");
  const day = (d, end) => (d ? d + (end ? "T23:59:59Z" : "T00:00:00Z") : undefined);
  const filters = { action: params.action, entity_type: params.entity_type, entity_id: params.entity_id, actor_org_id: params.actor_org_id,
                    since: day(params.since), until: day(params.until, true) };
  const table = h("table", { id: "audit-table" }, h("tr", {}, ["f.at", "f.action", "f.entity_id", "f.actor", "f.detail"].map((k) => h("th", { text: t(k) }))));
  await pager(box, async (cursor) => { const r = await get("/v1/admin/audit" + qs({ ...filters, cursor, limit: 50 })); return { items: rows(r), next_cursor: r.next_cursor }; },
    (a) => h("tr", {}, h("td", { text: fmtTime(a.at) }), h("td", { text: a.action }), h("td", { text: `${a.entity_type}:${a.entity_id}` }),
      h("td", { text: `${a.actor_role} ${a.actor_org_id || ""}` }), h("td", { text: a.detail || "" })),
    empty(t("audit.empty"), t("audit.empty.todo")), table);
  return h("section", {}, h("h1", { text: t("audit.title") }), form, box);
}
