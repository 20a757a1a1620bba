// The Tavern shell: sign-in, the page list, the hash router (#/battle, #/vault?asset=assets/x) and the nav.
// A page is one ES module whose default export is {title, mount(root, ctx)}; mount returns a cleanup function
// (close streams, stop timers) that the router calls when the user leaves the page.
import { session } from "./api.js";
import { button, fill, h, text, toast } from "./dom.js";

// Game names in the UI; the module that draws each page. Add a page: one line here + its module.
export const PAGES = [
  { id: "battle", title: "Battle", module: "./battle.js" },
  { id: "quests", title: "Quests", module: "./quests.js" },
  { id: "guild", title: "Guild Hall", module: "./guild.js" },
  { id: "vault", title: "Vault", module: "./vault.js" },
  { id: "oracle", title: "Oracle", module: "./oracle.js" },
  { id: "campaigns", title: "Campaigns", module: "./campaigns.js" },
  { id: "settings", title: "Settings", module: "./settings.js" },
  { id: "fleet", title: "Fleet", module: "./fleet.js" },
];
const DEFAULT_PAGE = "battle";

let cleanup = null;
let generation = 0;

export function parseHash(hash = window.location.hash) {
  const raw = hash.replace(/^#\/?/, "");
  const [path, search = ""] = raw.split("?");
  const [page, ...rest] = path.split("/");
  return { page: page || DEFAULT_PAGE, rest: rest.map(decodeURIComponent), params: new URLSearchParams(search) };
}

export function navigate(page, params = {}) {
  const query = new URLSearchParams(params).toString();
  window.location.hash = `#/${page}${query ? `?${query}` : ""}`;
}

function renderNav(current) {
  const nav = document.getElementById("nav");
  fill(nav, h("ul", {}, PAGES.map((page) => h("li", {},
    h("a", { href: `#/${page.id}`, "aria-current": page.id === current ? "page" : false,
      class: page.id === current ? "current" : "" }, page.title)))));
}

function renderWho() {
  const who = document.getElementById("who");
  if (!session.role) { fill(who); return; }
  fill(who, h("span", {}, `signed in · ${session.role}`), " ",
    button("Sign out", async () => {
      try { await session.signOut(); } catch (error) { toast(error.message, "error"); }
      route();
    }, { class: "link", "data-action": "sign-out" }));
}

function signInPage(root) {
  document.title = "Sign in — The Tavern";
  const input = h("input", { type: "password", id: "token", autocomplete: "current-password", required: true,
    placeholder: "contents of var/secrets/admin.token" });
  const message = h("p.error", { role: "alert" });
  const form = h("form.card.signin", {
    onsubmit: async (event) => {
      event.preventDefault();
      text(message, "");
      try {
        await session.signIn(input.value.trim());
        input.value = "";
        route();
      } catch (error) {
        text(message, error.status === 401 ? "That token is not known to this realm." : error.message);
      }
    },
  },
  h("h1", {}, "Enter the Tavern"),
  h("p.muted", {}, "Paste a realm token once: the gateway swaps it for a session cookie that scripts cannot read. "
    + "The token itself is not stored in the browser."),
  h("label", { for: "token" }, "Token"), input, message, h("button", { type: "submit" }, "Sign in"));
  fill(root, form);
  input.focus();
}

export async function route() {
  const mine = ++generation;
  if (cleanup) { try { cleanup(); } catch (error) { console.error(error); } cleanup = null; }
  const root = document.getElementById("page");
  if (!session.role) await session.load().catch((error) => toast(error.message, "error"));
  if (mine !== generation) return;
  renderWho();
  const { page, rest, params } = parseHash();
  if (!session.role) { renderNav(""); signInPage(root); return; }
  const entry = PAGES.find((p) => p.id === page) || PAGES.find((p) => p.id === DEFAULT_PAGE);
  renderNav(entry.id);
  document.title = `${entry.title} — The Tavern`;
  fill(root, h("p.muted", {}, `Loading ${entry.title}…`));
  let module;
  try {
    module = await import(entry.module);
  } catch (error) {
    console.error(error);
    fill(root, h("h1", {}, entry.title), h("p.muted", {}, `This page could not be loaded (${error.message}).`));
    return;
  }
  if (mine !== generation) return;
  const container = h("section.page", { "data-page": entry.id });
  fill(root, container);
  const ctx = { params, rest, navigate, canWrite: session.canWrite(), role: session.role };
  try {
    cleanup = (await module.default.mount(container, ctx)) || null;
  } catch (error) {
    console.error(error);
    container.appendChild(h("p.error", { role: "alert" }, `This page failed to load: ${error.message}`));
  }
  if (mine !== generation && cleanup) { cleanup(); cleanup = null; }
}

session.onSignedOut(() => { renderWho(); if (!document.querySelector("form.signin")) route(); });
window.addEventListener("hashchange", route);
// Keyboard: g then a page's first letter jumps there (b battle, q quests, v vault, …); focus moves to the page.
let pendingG = false;
window.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
  if (event.key === "g" && !event.ctrlKey && !event.metaKey) { pendingG = true; return; }
  if (pendingG) {
    pendingG = false;
    const page = PAGES.find((p) => p.title.toLowerCase().startsWith(event.key.toLowerCase()));
    if (page) { navigate(page.id); document.getElementById("page").focus(); }
  }
});
route();
