// The inbox (live over Server-Sent Events, mark as read) and saved searches.
import { t } from "./i18n.js";
import { api, get, post, qs, headers } from "./api.js";
import { h, mount, field, busy, formError, pager, empty, notice, list, fmtTime, setBanner } from "./ui.js";
import { me } from "./session.js";

function summary(n) {
  const d = n.data || {};
  return d.demand_title || d.title || d.startup_name || d.name || d.q || d.id || "";
}

function row(n) {
  const read = h("button", { type: "button", class: "secondary mark-read", text: t("inbox.read"), hidden: n.read,
    onclick: async () => { await post(`/v1/notifications/${n.id}/read`); art.classList.remove("unread"); read.hidden = true; art.dataset.read = "true"; } });
  const art = h("article", { class: "card note" + (n.read ? "" : " unread"), "data-note": n.id, "data-type": n.type, "data-read": n.read ? "true" : "false" },
    h("div", { class: "row" }, h("strong", { text: t.has("event." + n.type) ? t("event." + n.type) : n.type }),
      h("span", { class: "muted", text: fmtTime(n.created_at) }), read),
    h("p", { text: summary(n) }),
    n.data && n.data.demand_id && h("a", { href: me.kind === "company" ? `#/demands/${n.data.demand_id}` : "#/matches", text: t("inbox.open") }));
  return art;
}

let liveList = null;

export async function view(params, ctx) {
  const unread = params.unread === "true";
  const box = h("div");
  liveList = null;
  const status = h("span", { id: "live-status", class: "muted", "data-state": live.state, text: t(live.state) });
  await pager(box, (cursor) => get("/v1/notifications" + qs({ unread: unread ? "true" : "", cursor, limit: 20 }))
    .then((r) => ({ items: r.notifications || r.items || [], next_cursor: r.next_cursor })), row,
    empty(t("inbox.empty"), t("inbox.empty.todo")));
  liveList = box.querySelector(".list");
  return h("section", {}, h("div", { class: "row" }, h("h1", { text: t("inbox.title") }), status),
    h("div", { class: "row" }, h("a", { href: "#/inbox", "aria-current": unread ? null : "true", text: t("inbox.all") }),
      h("a", { href: "#/inbox?unread=true", "aria-current": unread ? "true" : null, text: t("inbox.unread") })), box);
}

// The live stream: read with fetch (a key travels in a header; a session's cookie by itself),
// resumed from the last event id after a break.
const live = { state: "live.off", last: "", org: null, abort: null };

function setState(state) {
  live.state = state;
  const el = document.getElementById("live-status");
  if (el) { el.textContent = t(state); el.dataset.state = state; }
}

// Ends the stream (sign-out, or another person signed in).
export function stopLive() {
  if (live.abort) live.abort.abort();
  live.abort = null;
  live.org = null;
  live.last = "";
  setState("live.off");
}

function onEvent(fields) {
  if (fields.id) live.last = fields.id;
  let n;
  try { n = JSON.parse(fields.data); } catch (e) { return; }
  if (!n || !n.type) return;
  if (liveList && liveList.isConnected) {
    liveList.querySelector(".notice")?.remove();
    liveList.prepend(row(n));
  } else setBanner(notice("", t("live.new", { what: t.has("event." + n.type) ? t("event." + n.type) : n.type }), " ", h("a", { href: "#/inbox", text: t("inbox.open") })));
}

// Keeps one stream for the signed-in organisation (called on every render).
export async function startLive() {
  const org = me.org && me.org.status === "active" ? me.org.id : null;
  if (live.org === org) return;
  stopLive();
  if (!org) return;
  live.org = org;
  const abort = live.abort = new AbortController();
  while (!abort.signal.aborted) {
    try {
      const h2 = headers("GET", false);
      if (live.last) h2["Last-Event-ID"] = live.last;
      const r = await fetch("/v1/notifications/stream", { headers: h2, credentials: "same-origin", signal: abort.signal });
      if (!r.ok) { setState("live.refused"); live.abort = null; return; }
      setState("live.on");
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const fields = {};
          block.split("\n").filter((l) => l && !l.startsWith(":")).forEach((l) => {
            const c = l.indexOf(":");
            fields[l.slice(0, c)] = (fields[l.slice(0, c)] ? fields[l.slice(0, c)] + "\n" : "") + l.slice(c + 1).trimStart();
          });
          if (fields.data) onEvent(fields);
        }
      }
    } catch (e) { /* the connection broke (or was ended): reconnect below unless ended */ }
    if (abort.signal.aborted) return;
    setState("live.retry");
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// Saved searches: list, add, delete.
export async function saved(params, ctx) {
  const box = h("div");
  const load = async () => {
    let items;
    try { items = (await get("/v1/saved-searches")).items || []; }
    catch (e) { mount(box, notice("error", e.message)); return; }
    if (!items.length) { mount(box, empty(t("saved.empty"), t("saved.empty.todo"))); return; }
    mount(box, items.map((s) => h("article", { class: "card saved", "data-saved": s.id },
      h("div", { class: "row" }, h("strong", { text: s.q || t("saved.all") }), h("span", { class: "state", text: t("kind." + s.type) }),
        ["industry", "region", "stage", "tag", "collaboration"].flatMap((f) => (s[f] || []).map((v) => h("span", { class: "state", text: `${t("facet." + f)}: ${v}` }))),
        h("a", { href: "#/search" + qs({ type: s.type, q: s.q, tag: (s.tag || [])[0] }), text: t("saved.run") }),
        h("button", { type: "button", class: "secondary", text: t("delete"), onclick: async () => { await api("DELETE", `/v1/saved-searches/${s.id}`); load(); } })))));
  };
  const form = busy(h("form", { class: "stack", novalidate: true },
    field("type", t("f.type"), { kind: "select", options: [["demand", t("kind.demand")], ["startup", t("kind.startup")]], value: me.kind === "company" ? "startup" : "demand" }),
    field("q", t("f.query"), { required: true }),
    field("tag", t("f.tags"), { hint: t("hint.tags") }),
    formError(), h("div", {}, h("button", { type: "submit", id: "saved-submit", text: t("saved.add") }))),
  async (v) => { await post("/v1/saved-searches", { type: v.type, q: v.q, tag: list(v.tag) }); form.reset(); load(); });
  await load();
  return h("section", {}, h("h1", { text: t("saved.title") }), h("p", { text: t("saved.lead") }), box, h("h2", { text: t("saved.add") }), form);
}
