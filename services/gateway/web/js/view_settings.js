// The organisation's profile; webhook and notification preferences; people and API keys.
import { t } from "./i18n.js";
import { api, get, post, qs } from "./api.js";
import { h, mount, field, busy, formError, notice, failure, list, fmtTime, pager } from "./ui.js";
import { me, refreshOrg } from "./session.js";
import { regionOptions, stageOptions, checks, EVENTS } from "./options.js";

export async function profile(params, ctx) {
  const o = await refreshOrg();
  const done = h("div", { "aria-live": "polite" });
  const form = busy(h("form", { class: "stack", novalidate: true, id: "profile-form" },
    field("name", t("f.org_name"), { required: true, value: o.name }),
    field("name_en", t("f.name_en"), { value: o.name_en }),
    field("description", t("f.description"), { kind: "textarea", value: o.description }),
    field("website", t("f.website"), { kind: "url", value: o.website }),
    field("email", t("f.org_email"), { kind: "email", value: o.email }),
    field("phone", t("f.phone"), { value: o.phone }),
    field("region", t("f.region"), { kind: "select", options: regionOptions(), value: o.region }),
    o.kind === "startup" && field("stage", t("f.stage"), { kind: "select", options: stageOptions(), value: o.stage }),
    field("tags", t("f.tags"), { value: (o.tags || []).join(", "), hint: t("hint.tags") }),
    field("industries", t("f.industries"), { value: (o.industries || []).join(", "), hint: t("hint.industries") }),
    formError(), h("div", {}, h("button", { type: "submit", id: "profile-submit", text: t("save") }))),
  async (v) => {
    const body = { name: v.name, name_en: v.name_en, description: v.description, website: v.website, email: v.email,
                   phone: v.phone, region: v.region, tags: list(v.tags), industries: list(v.industries) };
    if (o.kind === "startup") body.stage = v.stage;
    me.org = await api("PATCH", `/v1/orgs/${o.id}`, body, o.version);
    o.version = me.org.version;
    mount(done, notice("ok", t("saved.ok")));
  });
  if (o.status !== "active") {
    // Until approved an organisation's credentials only read it: the form is shown, locked.
    form.querySelectorAll("input, select, textarea, button").forEach((el) => { el.disabled = true; });
  }
  return h("section", {}, h("h1", { text: t("profile.title") }),
    o.status !== "active" && notice("warn", t("pending." + o.status), " ", t("profile.locked")), form, done);
}

async function webhookSection() {
  let hook = null;
  try { hook = await get(`/v1/orgs/${me.org.id}/webhook`); } catch (e) { if (e.status !== 404) return failure(e); }
  const out = h("div", { "aria-live": "polite" });
  const form = busy(h("form", { class: "stack", novalidate: true, id: "webhook-form" },
    field("url", t("f.webhook_url"), { kind: "url", required: true, value: hook && hook.url, hint: t("hint.webhook") }),
    field("events", t("f.events"), { kind: "checks", options: checks("event", EVENTS), value: hook ? hook.events : EVENTS }),
    formError(), h("div", {}, h("button", { type: "submit", id: "webhook-submit", text: t("save") }))),
  async (v) => {
    const r = await api("PUT", `/v1/orgs/${me.org.id}/webhook`, { url: v.url, events: v.events });
    mount(out, notice("ok", h("p", { text: t("webhook.saved") }), r.secret && h("p", { class: "secret", text: r.secret })));
  });
  // POST /v1/orgs/{id}/webhook/test: a signed webhook.test sent now; its outcome shown.
  const owner = me.mode === "key" || (me.user && me.user.role === "owner");
  const tested = h("div", { "aria-live": "polite", id: "webhook-test-result" });
  const test = owner && h("button", { type: "button", class: "secondary", id: "webhook-test", text: t("webhook.test"), onclick: async (ev) => {
    ev.target.disabled = true;
    try {
      const r = await post(`/v1/orgs/${me.org.id}/webhook/test`);
      const what = `${r.status ? "HTTP " + r.status : ""}${r.error ? " " + r.error : ""} · ${t("webhook.latency", { ms: r.latency_ms })}`;
      mount(tested, notice(r.delivered ? "ok" : "warn", t(r.delivered ? "webhook.test.ok" : "webhook.test.fail"), " ", what));
      tested.dataset.delivered = String(r.delivered);
    } catch (e) { mount(tested, failure(e)); }
    ev.target.disabled = false;
  } });
  return h("div", {}, hook && hook.disabled && notice("warn", t("webhook.disabled")), form, out, test, tested);
}

async function preferencesSection() {
  const prefs = await get(`/v1/orgs/${me.org.id}/preferences`);
  const by = Object.fromEntries((prefs.types || []).map((p) => [p.type, p]));
  const out = h("div", { "aria-live": "polite" });
  const form = busy(h("form", { class: "stack", novalidate: true, id: "prefs-form" },
    EVENTS.map((ev) => {
      const p = by[ev] || { channels: ["inbox", "webhook"], digest: "instant" };
      return h("div", { class: "card" }, field("ch:" + ev, t("event." + ev), { kind: "checks", options: checks("channel", ["inbox", "webhook", "email"]), value: p.channels }),
        field("dg:" + ev, t("f.digest"), { kind: "select", options: checks("digest", ["instant", "daily"]), value: p.digest }));
    }),
    formError(), h("div", {}, h("button", { type: "submit", id: "prefs-submit", text: t("save") }))),
  async (v) => {
    const types = EVENTS.map((ev) => ({ type: ev, channels: v["ch:" + ev], digest: v["dg:" + ev] }));
    await api("PUT", `/v1/orgs/${me.org.id}/preferences`, { types });
    mount(out, notice("ok", t("saved.ok")));
  });
  return h("div", {}, form, out);
}

export async function keysSection(orgId) {
  const box = h("div");
  const load = async () => {
    try {
      const r = await get(`/v1/orgs/${orgId}/api-keys`);
      const items = r.items || [];
      mount(box, items.length ? h("table", {}, h("tr", {}, ["f.key_name", "f.prefix", "f.created", "f.last_used", ""].map((k) => h("th", { text: k ? t(k) : "" }))),
        items.map((k) => h("tr", {}, h("td", { text: k.name }), h("td", { text: k.prefix }), h("td", { text: fmtTime(k.created_at) }), h("td", { text: fmtTime(k.last_used_at) }),
          h("td", {}, h("button", { type: "button", class: "danger revoke", "data-key": k.name, text: t("revoke"), onclick: async () => { if (!window.confirm(t("keys.revoke.confirm", { name: k.name }))) return; await api("DELETE", `/v1/orgs/${orgId}/api-keys/${k.id}`); load(); } })))))
        : notice("", t("keys.empty")));
    } catch (e) { mount(box, failure(e, load)); }
  };
  const made = h("div");
  const form = busy(h("form", { class: "row", novalidate: true, id: "key-form" },
    field("name", t("f.key_name"), { required: true }), formError(), h("button", { type: "submit", text: t("keys.new") })),
  async (v) => { const k = await post(`/v1/orgs/${orgId}/api-keys`, { name: v.name }); mount(made, notice("ok", h("p", { text: t("keys.once") }), h("p", { class: "secret", text: k.api_key }))); load(); });
  await load();
  return h("div", {}, box, form, made);
}

// The people of the organisation (paged), each with a role to change and removal; the API
// refuses to demote or remove the last owner (409 last_owner), shown on that row.
function memberRow(orgId, u, reload) {
  const out = h("td", { "aria-live": "polite" });
  const self = me.user && u.id === me.user.id;
  const role = h("select", { "aria-label": t("f.role") + " — " + (u.name || u.email), class: "member-role" },
    ["member", "owner"].map((r) => h("option", { value: r, text: t("role." + r), selected: u.role === r })));
  role.addEventListener("change", async () => {
    try { await api("PATCH", `/v1/orgs/${orgId}/members/${u.id}`, { role: role.value }); mount(out, notice("ok", t("saved.ok"))); }
    catch (e) { role.value = u.role; mount(out, failure(e)); }
  });
  const remove = !self && h("button", { type: "button", class: "danger remove", text: t("remove"), onclick: async () => {
    if (!window.confirm(t("members.remove.confirm", { name: u.name || u.email }))) return;
    try { await api("DELETE", `/v1/orgs/${orgId}/members/${u.id}`); reload(); } catch (e) { mount(out, failure(e)); } } });
  return h("tr", { "data-user": u.id }, h("td", { text: u.name }), h("td", { text: u.email }), h("td", {}, role), h("td", {}, remove), out);
}

export async function membersSection(orgId) {
  const box = h("div");
  const load = () => pager(box, (cursor) => get(`/v1/orgs/${orgId}/members` + qs({ cursor, limit: 100 })),
    (u) => memberRow(orgId, u, load), notice("", t("members.empty")),
    h("table", { id: "members-table" }, h("tr", {}, ["f.name", "f.email", "f.role", "", ""].map((k) => h("th", { text: k ? t(k) : "" })))));
  const form = busy(h("form", { class: "stack", novalidate: true, id: "invite-form" },
    field("email", t("f.email"), { kind: "email", required: true }),
    field("role", t("f.role"), { kind: "select", options: [["member", t("role.member")], ["owner", t("role.owner")]] }),
    formError(), h("div", {}, h("button", { type: "submit", text: t("members.invite") }))),
  async (v) => { await post(`/v1/orgs/${orgId}/invitations`, v); form.reset(); form.append(notice("ok", t("members.invited"))); });
  await load();
  return h("div", {}, box, h("h3", { text: t("members.invite") }), form);
}

export async function view() {
  // An owner's session, or the organisation's own API key (which acts as its owner).
  const owner = me.mode === "key" || (me.user && me.user.role === "owner");
  const parts = [h("h1", { text: t("settings.title") })];
  if (me.kind !== "agency" && me.org.status === "active") {
    parts.push(h("h2", { text: t("settings.webhook") }), await webhookSection());
    parts.push(h("h2", { text: t("settings.prefs") }), await preferencesSection());
  }
  if (owner) {
    parts.push(h("h2", { text: t("settings.members") }), await membersSection(me.org.id));
    parts.push(h("h2", { text: t("settings.keys") }), await keysSection(me.org.id));
  }
  return h("section", {}, parts);
}
