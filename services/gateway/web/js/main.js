// The single-page app: hash routes (deep links), the header and navigation per role.
import { t, lang, setLang } from "./i18n.js";
import { h, mount, failure, setBanner, notice, errorText } from "./ui.js";
import { me, load, signOut } from "./session.js";
import * as auth from "./view_auth.js";
import * as search from "./view_search.js";
import * as matches from "./view_matches.js";
import * as demands from "./view_demands.js";
import * as inbox from "./view_inbox.js";
import * as settings from "./view_settings.js";
import * as agency from "./view_agency.js";

// pattern -> [view, who may open it: "any" | "in" (signed in) | an org kind]
const routes = [
  ["/", auth.home, "any"],
  ["/signin", auth.signin, "any"],
  ["/signup", auth.signup, "any"],
  ["/accept-invitation/:token", auth.acceptInvitation, "any"],
  ["/reset-password/:token", auth.resetPassword, "any"],
  ["/reset-password", auth.requestReset, "any"],
  ["/verify-email/:token", auth.verifyEmail, "any"],
  ["/search", search.view, "any"],
  ["/demand/:id", search.demand, "any"],
  ["/org/:id", search.org, "any"],
  ["/profile", settings.profile, "in"],
  ["/matches", matches.view, "in"],
  ["/inbox", inbox.view, "in"],
  ["/saved", inbox.saved, "in"],
  ["/settings", settings.view, "in"],
  ["/demands", demands.list, "company"],
  ["/demands/new", demands.edit, "company"],
  ["/demands/:id/edit", demands.edit, "company"],
  ["/demands/:id", demands.detail, "company"],
  ["/agency/queue", agency.queue, "agency"],
  ["/agency/review", agency.review, "agency"],
  ["/agency/orgs", agency.orgs, "agency"],
  ["/agency/publishers", agency.publishers, "agency"],
  ["/agency/stats", agency.stats, "agency"],
  ["/agency/deliveries", agency.deliveries, "agency"],
  ["/agency/audit", agency.audit, "agency"],
];

function parse() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  for (const [pattern, view, who] of routes) {
    const names = [];
    const re = new RegExp("^" + pattern.replace(/:(\w+)/g, (_, n) => { names.push(n); return "([^/]+)"; }) + "$");
    const m = path.match(re);
    if (m) {
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { path, view, who, params };
    }
  }
  return { path, view: null, params };
}

const navs = {
  out: [["/search", "nav.search"], ["/signin", "nav.signin"], ["/signup", "nav.signup"]],
  startup: [["/", "nav.home"], ["/matches", "nav.matches"], ["/search", "nav.search"], ["/saved", "nav.saved"],
            ["/inbox", "nav.inbox"], ["/profile", "nav.profile"], ["/settings", "nav.settings"]],
  company: [["/", "nav.home"], ["/demands", "nav.demands"], ["/matches", "nav.matches"], ["/search", "nav.search"],
            ["/inbox", "nav.inbox"], ["/profile", "nav.profile"], ["/settings", "nav.settings"]],
  agency: [["/agency/queue", "nav.queue"], ["/agency/review", "nav.review"], ["/agency/orgs", "nav.orgs"], ["/agency/stats", "nav.stats"],
           ["/agency/publishers", "nav.publishers"], ["/agency/deliveries", "nav.deliveries"],
           ["/agency/audit", "nav.audit"], ["/search", "nav.search"], ["/settings", "nav.settings"]],
};

function header(route) {
  document.documentElement.lang = lang();
  document.title = t("app.title");
  document.getElementById("brand").textContent = t("app.name");
  document.getElementById("skip").textContent = t("skip");
  document.getElementById("nav").setAttribute("aria-label", t("nav.label"));
  const langButton = document.getElementById("lang");
  langButton.textContent = t("lang.switch");
  langButton.setAttribute("lang", lang() === "ko" ? "en" : "ko");
  const items = navs[me.kind] || navs.out;
  mount(document.getElementById("nav"), items.map(([path, key]) =>
    h("a", { href: "#" + path, text: t(key), "aria-current": route.path === path ? "page" : null })));
  const who = document.getElementById("who");
  if (me.org)
    mount(who, h("span", { text: `${me.user ? me.user.name || me.user.email : t("who.key")} · ${me.org.name} (${t("kind." + me.kind)})` }), " ",
          h("button", { type: "button", id: "signout", text: t("nav.signout"), onclick: async () => { await signOut(); go("/signin"); } }));
  else mount(who);
}

export function go(path) {
  if (location.hash === "#" + path) render(); else location.hash = path;
}

let renderCount = 0;
export async function render() {
  const mine = ++renderCount;
  const route = parse();
  header(route);
  inbox.startLive();
  const main = document.getElementById("main");
  if (!route.view) { mount(main, h("h1", { text: t("notfound.title") }), notice("warn", t("notfound.body"), " ", h("a", { href: "#/", text: t("nav.home") }))); return; }
  if (route.who !== "any" && !me.org) { go("/signin?next=" + encodeURIComponent(route.path)); return; }
  if (route.who !== "any" && route.who !== "in" && route.who !== me.kind) {
    mount(main, h("h1", { text: t("forbidden.title") }), notice("warn", t("forbidden.body")));
    return;
  }
  mount(main, h("p", { class: "muted", text: t("loading") }));
  try {
    const content = await route.view(route.params, { go, render });
    if (mine !== renderCount) return;        // another route was opened meanwhile
    if (content) mount(main, content);
  } catch (e) {
    if (mine !== renderCount) return;
    if (e.status === undefined) throw e;
    mount(main, failure(e, render));
  }
  main.focus({ preventScroll: true });
}

let nextBanner = null;        // shown on the next route (a message that survives navigation)
window.addEventListener("hashchange", () => { setBanner(nextBanner); nextBanner = null; render(); });
// The session ended under us: back to sign-in, coming back here afterwards.
window.addEventListener("oim:unauthorized", async () => {
  if (!me.org) return;
  await signOut();
  nextBanner = notice("warn", t("session.ended"));
  go("/signin?next=" + encodeURIComponent(parse().path));
});
document.getElementById("lang").addEventListener("click", () => { setLang(lang() === "ko" ? "en" : "ko"); render(); });
window.addEventListener("unhandledrejection", (ev) => { setBanner(notice("error", t("err.unexpected"))); console.error(ev.reason); });

(async () => {
  try {
    await load();
    if (me.refused) setBanner(notice("error", errorText(me.refused)));
  } catch (e) { setBanner(failure(e, () => location.reload())); }
  await render();
})();
