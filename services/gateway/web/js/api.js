// The HTTP API: one function for every call. A signed-in person's session cookie travels by
// itself (same origin) and every write carries the session's CSRF token (ACCOUNTS_API
// contract); a machine key (sign-in with an API key) goes as a Bearer header instead.
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? "network" : "http_" + status);
    this.field = e.field || null;
    this.retryAfter = retryAfter;
  }
}

const auth = { key: sessionStorage.getItem("oim.key"), csrf: null };

export function setApiKey(key) {
  auth.key = key || null;
  if (key) sessionStorage.setItem("oim.key", key); else sessionStorage.removeItem("oim.key");
}
export function apiKey() { return auth.key; }
export function setCsrf(token) { auth.csrf = token || null; }

export function headers(method, hasBody) {
  const h = {};
  if (hasBody) h["Content-Type"] = "application/json";
  if (auth.key) h.Authorization = "Bearer " + auth.key;
  else if (auth.csrf && !["GET", "HEAD", "OPTIONS"].includes(method)) h["X-CSRF-Token"] = auth.csrf;
  return h;
}

export async function api(method, path, body, ifMatch) {
  const h = headers(method, body !== undefined);
  if (ifMatch !== undefined) h["If-Match"] = String(ifMatch);
  let r;
  try {
    r = await fetch(path, { method, headers: h, credentials: "same-origin",
                            body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { error: { code: "network", message: e.message } });
  }
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    // A session that ended (expired, signed out elsewhere, the person removed): say so once.
    if (r.status === 401 && path !== "/v1/sessions/current" && path !== "/v1/sessions")
      window.dispatchEvent(new CustomEvent("oim:unauthorized"));
    throw new ApiError(r.status, data, r.headers.get("Retry-After"));
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);

// A query string from an object, skipping empty values; arrays repeat the key.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else if (v !== undefined && v !== null && v !== "") u.append(k, v);
  }
  const s = u.toString();
  return s ? "?" + s : "";
}

// A list answer's rows, whatever its envelope ({items}, {notifications}, {deliveries}).
export const rows = (r) => (r && (r.items || r.notifications || r.deliveries || r.hits)) || [];
