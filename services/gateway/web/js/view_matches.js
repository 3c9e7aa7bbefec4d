// Matches with their explanation drawn as bars; interest, decline with a reason; contacts
// once both sides are interested (connected).
import { t } from "./i18n.js";
import { get, post } from "./api.js";
import { h, mount, field, busy, formError, empty, failure, notice, fmtTime } from "./ui.js";
import { me, active } from "./session.js";

const PAGE = 10;

export function bars(explanation) {
  return h("div", { class: "bars", role: "list", "aria-label": t("match.why") },
    (explanation || []).map((f) => {
      const pct = Math.round(Math.max(0, Math.min(1, Number(f.value) || 0)) * 100);
      const name = t.has("factor." + f.factor) ? t("factor." + f.factor) : f.factor;
      return [h("span", { role: "listitem", text: name }),
        h("div", { class: "bar", role: "img", "aria-label": `${name} ${pct}%` }, h("span", { width: pct + "%" })),
        h("span", { text: `+${(Number(f.contribution) || 0).toFixed(2)}` }),
        f.detail && h("span", { class: "bar-detail", text: f.detail })];
    }));
}

function contacts(m) {
  const other = m.contacts && (m.contacts.company || m.contacts.startup);
  if (!other) return null;
  return h("div", { class: "notice ok contacts", "data-testid": "contacts" }, h("strong", { text: t("match.contacts") }),
    h("dl", { class: "kv" }, [["f.org_name", other.name], ["f.email", other.email], ["f.phone", other.phone], ["f.website", other.website]]
      .filter(([, v]) => v).map(([k, v]) => [h("dt", { text: t(k) }), h("dd", { text: v })])));
}

function actions(m, refresh) {
  const side = me.kind === "startup" ? "startup_interested" : me.kind === "company" ? "company_interested" : null;
  if (!side || !active() || m.state === "connected" || m.state === "declined") return null;
  const box = h("div", { class: "row" });
  const interest = h("button", { type: "button", class: "interest", disabled: m[side],
    text: m[side] ? t("match.interest.sent") : t("match.interest"),
    onclick: async () => { interest.disabled = true; try { await post(`/v1/matches/${m.id}/interest`); await refresh(); } catch (e) { mount(box, failure(e, refresh)); } } });
  const decline = h("button", { type: "button", class: "secondary decline", text: t("match.decline"), onclick: () => {
    const form = busy(h("form", { class: "stack decline-form", novalidate: true },
      field("reason", t("f.reason"), { kind: "textarea", required: true, hint: t("match.decline.hint") }), formError(),
      h("div", { class: "row" }, h("button", { type: "submit", class: "danger", text: t("match.decline.confirm") }),
        h("button", { type: "button", class: "secondary", text: t("cancel"), onclick: () => mount(box, interest, decline) }))),
    async (v) => { await post(`/v1/matches/${m.id}/decline`, { reason: v.reason }); await refresh(); });
    mount(box, form);
    form.querySelector("textarea").focus();
  } });
  box.append(interest, " ", decline);
  return box;
}

export function card(m, refresh) {
  const title = me.kind === "startup"
    ? h("a", { href: `#/demand/${m.demand_id}`, text: m.demand_title || m.demand_id })
    : [h("a", { href: `#/org/${m.startup_id}`, text: m.startup_name || m.startup_id }), " · ",
       h("a", { href: `#/demand/${m.demand_id}`, class: "muted", text: m.demand_title || m.demand_id })];
  return h("article", { class: "card match", "data-match": m.id, "data-state": m.state },
    h("h3", {}, title),
    h("div", { class: "row" }, h("strong", { text: `${Math.round((m.score || 0) * 100)}%` }),
      m.strength && h("span", { class: "state", text: t("strength." + m.strength) }),
      h("span", { class: "state match-state", text: t("state." + m.state) }),
      h("span", { class: "muted", text: fmtTime(m.updated_at) })),
    bars(m.explanation),
    m.state === "declined" && notice("", t("match.declined", { reason: m.reason || "-" })),
    contacts(m),
    actions(m, refresh));
}

// A list of matches loaded by load(), shown PAGE at a time.
export async function matchList(load, emptyText) {
  const box = h("div", { class: "matches" });
  async function refresh() {
    let items;
    try { items = (await load()).items || []; }
    catch (e) { mount(box, failure(e, refresh)); return; }
    if (!items.length) { mount(box, empty(emptyText[0], emptyText[1])); return; }
    const listEl = h("div");
    let shown = 0;
    const more = h("button", { type: "button", class: "secondary", text: t("more") });
    const page = () => { items.slice(shown, shown + PAGE).forEach((m) => listEl.append(card(m, refresh))); shown += PAGE; more.hidden = shown >= items.length; };
    more.addEventListener("click", page);
    page();
    mount(box, h("p", { class: "muted", text: t("match.count", { n: items.length }) }), listEl, h("div", { class: "pager" }, more));
  }
  await refresh();
  return box;
}

export async function view() {
  if (!active()) return notice("warn", t("pending." + (me.org.status || "pending")), " ", t("pending.body." + (me.org.status || "pending")));
  const state = h("select", { id: "match-state", name: "state" }, ["", "suggested", "interested", "connected", "declined"].map((s) => h("option", { value: s, text: s ? t("state." + s) : t("any") })));
  const holder = h("div");
  const load = () => get(`/v1/orgs/${me.org.id}/matches${state.value ? "?state=" + state.value : ""}`);
  const emptyText = me.kind === "startup" ? [t("match.empty.startup"), t("match.empty.startup.todo")] : [t("match.empty.company"), t("match.empty.company.todo")];
  state.addEventListener("change", async () => mount(holder, await matchList(load, emptyText)));
  mount(holder, await matchList(load, emptyText));
  return h("section", {}, h("h1", { text: t("match.title") }),
    h("div", { class: "field" }, h("label", { for: "match-state", text: t("f.state") }), state), holder);
}
