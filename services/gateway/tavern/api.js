// The gateway's REST + SSE API as the browser uses it: the session cookie (HttpOnly, sent by the browser itself),
// the CSRF token on every write, errors as ApiError with the service's own message.
// Proto3 JSON spells int64 as strings: use num() on counters such as global_step.

const CSRF_HEADER = "X-CSRF-Token";
let csrfToken = "";
let role = "";
const signedOutListeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.details = (body && body.details) || [];
  }
}

export const num = (value) => (value === undefined || value === null || value === "" ? 0 : Number(value));

function url(path, query) {
  const target = new URL(path.startsWith("/") ? path : `/api/v1/${path}`, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(key, String(item));
  }
  return target.pathname + target.search;
}

async function request(method, path, { query, body, raw, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers[CSRF_HEADER] = csrfToken;
  if (raw !== undefined) {
    init.body = raw;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url(path, query), init);
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (response.status === 401 && !path.startsWith("/api/session")) {
    role = "";
    for (const listener of signedOutListeners) listener();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body = {}, query) => request("POST", path, { body, query }),
  patch: (path, body, query) => request("PATCH", path, { body, query }),
  put: (path, body, query) => request("PUT", path, { body, query }),
  del: (path, query) => request("DELETE", path, { query }),
  // Client-streaming upload (e.g. quests:submit): the file is the body, header fields go in the query string.
  upload: (path, file, query) => request("POST", path, { raw: file, query,
    headers: { "Content-Type": "application/octet-stream" } }),
};

// Every page of a List* call, concatenated (stops at `limit` items).
export async function listAll(path, key, query = {}, limit = 100000) {
  const items = [];
  let token = "";
  do {
    const page = await api.get(path, { ...query, page_size: query.page_size || 1000, page_token: token });
    items.push(...(page[key] || []));
    token = page.next_page_token || "";
  } while (token && items.length < limit);
  return items;
}

// -- session ------------------------------------------------------------------------------------------------------
export const session = {
  get role() { return role; },
  async load() {
    try {
      const info = await request("GET", "/api/session");
      csrfToken = info.csrf_token; role = info.role;
      return info;
    } catch (error) {
      if (error.status === 401) { role = ""; return null; }
      throw error;
    }
  },
  // The token is sent once, in a header; afterwards only the HttpOnly cookie identifies the browser.
  async signIn(token) {
    const info = await request("POST", "/api/session", { headers: { Authorization: `Bearer ${token}` } });
    csrfToken = info.csrf_token; role = info.role;
    return info;
  },
  async signOut() {
    try { await request("DELETE", "/api/session"); } finally { csrfToken = ""; role = ""; }
  },
  onSignedOut(listener) { signedOutListeners.add(listener); return () => signedOutListeners.delete(listener); },
  canWrite() { return Boolean(role) && role !== "read"; },
};

// -- live streams -------------------------------------------------------------------------------------------------
// SSE with resume: every event's id is remembered; a reconnect (the browser's own, or ours after the stream was
// closed by an error) asks for what came after it, so nothing is lost and nothing doubles.
// onEvent(data, id); onState("live" | "reconnecting" | "closed").
export function stream(path, query, { onEvent, onState = () => {}, afterId = null } = {}) {
  let lastId = afterId;
  let source = null;
  let stopped = false;
  let retry = 500;
  let timer = null;

  function open() {
    const params = { ...(query || {}) };
    if (lastId !== null && lastId !== undefined) params.last_event_id = lastId;
    source = new EventSource(url(path, params), { withCredentials: true });
    source.onopen = () => { retry = 500; onState("live"); };
    source.onmessage = (message) => {
      if (message.lastEventId) lastId = message.lastEventId;
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      onEvent(data, message.lastEventId);
    };
    source.addEventListener("error", (message) => {
      if (message.data) onState("error", message.data); // an upstream error frame: the server ends the stream
      if (stopped) return;
      // The browser retries on its own only while CONNECTING; a closed source needs a fresh one with our id.
      source.close();
      onState("reconnecting");
      timer = setTimeout(open, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  open();
  return {
    get lastId() { return lastId; },
    close() { stopped = true; clearTimeout(timer); if (source) source.close(); onState("closed"); },
  };
}

// -- shared look-ups ----------------------------------------------------------------------------------------------
// The active campaign (or the newest one) — most pages show it.
let campaignCache = null;
export async function currentCampaign({ refresh = false } = {}) {
  if (campaignCache && !refresh) return campaignCache;
  const campaigns = (await api.get("campaigns", { page_size: 200 })).campaigns || [];
  const active = campaigns.filter((c) => c.state === "CAMPAIGN_STATE_ACTIVE");
  campaignCache = active[0] || campaigns[0] || null;
  return campaignCache;
}

// -- POST answered with SSE ---------------------------------------------------------------------------------------
// A server stream whose request has a body (e.g. models/x:chatStream): EventSource can only GET, so this reads the
// response with fetch. onEvent(data, id) for each `data:` frame; an `event: error` frame (the upstream failed
// mid-stream) rejects with an ApiError carrying the service's message. Resolves when the stream ends; abort it
// with an AbortController's signal.
export async function postStream(path, body, { onEvent, signal } = {}) {
  const response = await fetch(url(path), {
    method: "POST", credentials: "same-origin", signal, body: JSON.stringify(body),
    headers: { Accept: "text/event-stream", "Content-Type": "application/json", [CSRF_HEADER]: csrfToken },
  });
  if (!response.ok) {
    const raw = await response.text();
    let data = {};
    try { data = raw ? JSON.parse(raw) : {}; } catch { data = { message: raw }; }
    if (response.status === 401) { role = ""; for (const listener of signedOutListeners) listener(); }
    throw new ApiError(response.status, data);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let id = null, event = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        else if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("event:")) event = line.slice(6).trim();
      }
      if (!data.length) continue; // a comment (": heartbeat") or an empty frame
      let parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch { parsed = { message: data.join("\n") }; }
      if (event === "error") throw new ApiError(502, parsed);
      onEvent(parsed, id);
    }
    if (done) return;
  }
}
