// Who is signed in: a person (session cookie, ACCOUNTS_API contract) or a machine key.
import { api, get, setApiKey, setCsrf, apiKey, ApiError } from "./api.js";

export const me = { user: null, org: null, kind: null, mode: null, refused: null, features: { sessions: null } };

function adopt(reply) {
  me.user = reply.user || null;
  me.org = reply.org || null;
  me.kind = me.org ? me.org.kind : null;
  setCsrf(reply.csrf_token);
}

// Does the gateway offer sessions? (404 "no such endpoint" while the accounts backend is absent)
async function probe() {
  try {
    const reply = await get("/v1/sessions/current");
    me.features.sessions = true;
    return reply;
  } catch (e) {
    me.features.sessions = !(e.status === 404 || e.status === 405 || e.status === 501);
    if (e.code === "org_suspended") me.refused = e;     // a suspended organisation's person
    return null;
  }
}

export async function load() {
  me.user = me.org = me.kind = me.mode = null;
  const current = await probe();
  if (current) { adopt(current); me.mode = "session"; return me; }
  if (apiKey()) {
    try {
      const who = await get("/v1/whoami");
      me.org = await get(`/v1/orgs/${encodeURIComponent(who.org_id)}`).catch(() => ({ id: who.org_id, kind: who.role, status: who.org_status, name: who.org_id }));
      me.kind = me.org.kind || who.role;
      me.mode = "key";
    } catch (e) {
      if (e.status === 401) setApiKey(null); else throw e;
    }
  }
  return me;
}

export async function signIn(email, password) {
  const reply = await api("POST", "/v1/sessions", { email, password });
  setApiKey(null);
  adopt(reply);
  me.mode = "session";
  return me;
}

export async function signInWithKey(key) {
  setApiKey(key);
  await load();
  if (me.mode !== "key") { setApiKey(null); throw new ApiError(401, { error: { code: "unauthorized", message: "" } }); }
  return me;
}

export async function signOut() {
  if (me.mode === "session") { try { await api("DELETE", "/v1/sessions/current"); } catch (e) { /* already gone */ } }
  setApiKey(null);
  setCsrf(null);
  me.user = me.org = me.kind = me.mode = null;
}

export async function refreshOrg() {
  if (me.org && me.org.id) me.org = await get(`/v1/orgs/${encodeURIComponent(me.org.id)}`);
  return me.org;
}

export const active = () => me.org && me.org.status === "active";
