// Signed out: sign in, sign up, invitations, password resets; the home page per role.
import { t } from "./i18n.js";
import { api, post } from "./api.js";
import { h, field, busy, formError, notice, list, showError, setBanner } from "./ui.js";
import { me, signIn, signInWithKey, active } from "./session.js";
import { regionOptions, stageOptions } from "./options.js";
import * as matches from "./view_matches.js";

export async function home(params, ctx) {
  if (!me.org)
    return h("section", {}, h("h1", { text: t("home.title") }), h("p", { text: t("home.lead") }),
      h("div", { class: "row" }, h("a", { class: "button", href: "#/signup", text: t("nav.signup") }),
        h("a", { class: "button secondary", href: "#/signin", text: t("nav.signin") }),
        h("a", { class: "button secondary", href: "#/search", text: t("nav.search") })));
  if (me.user && me.user.email_verified === false)
    setBanner(notice("", t("verify.pending", { email: me.user.email })));
  if (!active())
    return h("section", {}, h("h1", { text: t("home.hello", { name: me.org.name }) }),
      notice("warn", h("strong", { text: t("pending." + (me.org.status || "pending")) }), " ", t("pending.body." + (me.org.status || "pending"))),
      h("p", {}, h("a", { href: "#/profile", text: t("pending.edit") })));
  if (me.kind === "agency") { ctx.go("/agency/queue"); return null; }
  if (me.kind === "company") { ctx.go("/demands"); return null; }
  return matches.view(params, ctx);
}

export function signin(params, ctx) {
  const next = params.next || "/";
  const form = busy(h("form", { class: "stack", novalidate: true },
    field("email", t("f.email"), { kind: "email", required: true, autocomplete: "username" }),
    field("password", t("f.password"), { kind: "password", required: true, autocomplete: "current-password" }),
    formError(),
    h("div", { class: "row" }, h("button", { type: "submit", id: "signin-submit", text: t("signin.submit") }),
      h("a", { href: "#/reset-password", text: t("signin.forgot") }))),
  async (v) => {
    try { await signIn(v.email, v.password); }
    catch (e) {
      if (e.status === 429) e.message = t("signin.throttled", { seconds: e.retryAfter || "?" });
      throw e;
    }
    ctx.go(next);
  });
  const keyForm = busy(h("form", { class: "stack", novalidate: true },
    field("key", t("f.api_key"), { kind: "password", required: true, hint: t("signin.key.hint"), autocomplete: "off" }),
    formError(), h("div", {}, h("button", { type: "submit", class: "secondary", id: "key-submit", text: t("signin.key.submit") }))),
  async (v) => { await signInWithKey(v.key); ctx.go(next); });
  const noSessions = me.features.sessions === false;
  return h("section", {}, h("h1", { text: t("signin.title") }),
    noSessions ? notice("warn", t("signin.nosessions")) : form,
    h("details", { open: noSessions }, h("summary", { text: t("signin.key.title") }), keyForm),
    h("p", {}, t("signin.new"), " ", h("a", { href: "#/signup", text: t("nav.signup") })));
}

let shownKey = null;

export function signup(params, ctx) {
  const kindField = field("kind", t("f.kind"), { kind: "select", options: [["startup", t("kind.startup")], ["company", t("kind.company")]], value: params.kind || "startup" });
  const stage = field("stage", t("f.stage"), { kind: "select", options: stageOptions() });
  const sessions = me.features.sessions !== false;
  const form = busy(h("form", { class: "stack", novalidate: true },
    h("h2", { text: t("signup.org") }), kindField,
    field("name", t("f.org_name"), { required: true }),
    field("email", t("f.org_email"), { kind: "email", hint: t("signup.email.hint") }),
    field("region", t("f.region"), { kind: "select", options: regionOptions() }),
    stage,
    field("tags", t("f.tags"), { hint: t("hint.tags") }),
    field("description", t("f.description"), { kind: "textarea" }),
    sessions && h("h2", { text: t("signup.account") }),
    sessions && field("account_name", t("f.person_name"), { required: true, autocomplete: "name" }),
    sessions && field("account_email", t("f.email"), { kind: "email", required: true, autocomplete: "username" }),
    sessions && field("account_password", t("f.password"), { kind: "password", required: true, autocomplete: "new-password", hint: t("hint.password") }),
    formError(), h("div", {}, h("button", { type: "submit", id: "signup-submit", text: t("signup.submit") }))),
  async (v) => {
    const body = { kind: v.kind, name: v.name, region: v.region || undefined, tags: list(v.tags),
                   description: v.description || undefined, email: v.email || v.account_email || undefined };
    if (v.kind === "startup" && v.stage) body.stage = v.stage;
    if (sessions) body.account = { name: v.account_name, email: v.account_email, password: v.account_password };
    const org = await api("POST", "/v1/orgs", body);
    if (sessions) { await signIn(v.account_email, v.account_password); ctx.go("/"); return; }
    shownKey = org.api_key;
    ctx.render();
  });
  if (shownKey) {
    // The key is shown once: kept across a re-render (language switch) until it is used.
    const key = shownKey;
    return h("section", {}, h("h1", { text: t("signup.title") }), notice("ok", h("p", { text: t("signup.done") }), h("p", { text: t("signup.key") }),
      h("p", { class: "secret", id: "new-api-key", text: key }),
      h("button", { type: "button", id: "use-key", onclick: async () => { shownKey = null; await signInWithKey(key); ctx.go("/"); }, text: t("signup.key.use") })));
  }
  const syncStage = () => { stage.hidden = form.querySelector("[name=kind]").value !== "startup"; };
  form.querySelector("[name=kind]").addEventListener("change", syncStage);
  syncStage();
  return h("section", {}, h("h1", { text: t("signup.title") }), h("p", { text: t("signup.lead") }), form);
}

export function acceptInvitation(params, ctx) {
  const form = busy(h("form", { class: "stack", novalidate: true },
    field("name", t("f.person_name"), { required: true }),
    field("password", t("f.password"), { kind: "password", required: true, autocomplete: "new-password", hint: t("hint.password") }),
    formError(), h("div", {}, h("button", { type: "submit", text: t("invite.accept") }))),
  async (v) => {
    const user = await post(`/v1/invitations/${encodeURIComponent(params.token)}/accept`, v);
    await signIn(user.email, v.password);
    ctx.go("/");
  });
  return h("section", {}, h("h1", { text: t("invite.title") }), form);
}

export async function verifyEmail(params) {
  try { await post(`/v1/email-verifications/${encodeURIComponent(params.token)}`); }
  catch (e) { if (e.code !== "token_invalid") throw e; return h("section", {}, h("h1", { text: t("verify.title") }), notice("error", t("err.token_invalid"))); }
  if (me.user) me.user.email_verified = true;     // this browser's person, most likely
  return h("section", {}, h("h1", { text: t("verify.title") }), notice("ok", t("verify.done")), h("p", {}, h("a", { href: "#/", text: t("nav.home") })));
}

export function requestReset() {
  const done = h("div");
  const form = busy(h("form", { class: "stack", novalidate: true, id: "reset-request-form" },
    field("email", t("f.email"), { kind: "email", required: true }), formError(),
    h("div", {}, h("button", { type: "submit", text: t("reset.send") }))),
  async (v) => { await post("/v1/password-resets", v); form.hidden = true; done.append(notice("ok", t("reset.sent"))); });
  return h("section", {}, h("h1", { text: t("reset.title") }), form, done);
}

export function resetPassword(params, ctx) {
  const form = busy(h("form", { class: "stack", novalidate: true, id: "reset-form" },
    field("password", t("f.new_password"), { kind: "password", required: true, autocomplete: "new-password", hint: t("hint.password") }),
    formError(), h("div", {}, h("button", { type: "submit", text: t("reset.set") }))),
  async (v) => {
    try { await post(`/v1/password-resets/${encodeURIComponent(params.token)}`, v); }
    catch (e) { if (e.code === "token_invalid") { showError(form, { ...e, field: null }); return; } throw e; }
    ctx.go("/signin");
  });
  return h("section", {}, h("h1", { text: t("reset.title") }), form);
}
