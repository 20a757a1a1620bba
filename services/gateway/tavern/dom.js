// DOM helpers that only ever write text: data from the services never becomes HTML (no innerHTML anywhere).

// h("tag.class1.class2", {attr: value, onclick: fn}, child, ...) — children are nodes, strings (as text) or arrays.
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "text") {
      el.textContent = String(value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style") {
      Object.assign(el.style, value); // CSSOM: allowed by the CSP, unlike a style attribute
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "selected") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replace an element's children.
export function fill(el, ...children) {
  return append(clear(el), children);
}

export function text(el, value) {
  el.textContent = value === undefined || value === null ? "" : String(value);
  return el;
}

// A labelled form control: label text + control, so screen readers and keyboards find it.
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div.field", {}, h("label", { for: id }, label), control, hint ? h("small.muted", {}, hint) : null);
}

// A state badge: the word is always shown (colour is never the only signal); the class adds colour.
export function badge(word, kind = word) {
  return h(`span.badge.b-${String(kind).toLowerCase().replace(/[^a-z0-9]+/g, "-")}`, {}, word);
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", onclick, ...attrs }, label);
}

// Transient message at the bottom of the screen (errors stay longer).
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h(`div.toast.t-${kind}`, { role: kind === "error" ? "alert" : "status" },
    kind === "error" ? "Error: " : "", message);
  box.appendChild(item);
  setTimeout(() => item.remove(), kind === "error" ? 9000 : 4000);
}

// Formatting ------------------------------------------------------------------------------------------------------
export function fmtNumber(value, digits = 4) {
  if (value === undefined || value === null || Number.isNaN(Number(value))) return "—";
  const n = Number(value);
  if (n !== 0 && (Math.abs(n) < 1e-3 || Math.abs(n) >= 1e6)) return n.toExponential(2);
  return Number.isInteger(n) ? n.toLocaleString("en") : n.toFixed(digits);
}

export function fmtBytes(bytes) {
  let n = Number(bytes || 0);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (n >= 1024 && unit < units.length - 1) { n /= 1024; unit += 1; }
  return `${n.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function fmtDuration(seconds) {
  const s = Math.round(Number(seconds || 0));
  if (!s) return "—";
  const hours = Math.floor(s / 3600), minutes = Math.floor((s % 3600) / 60), rest = s % 60;
  return hours ? `${hours}h ${minutes}m` : minutes ? `${minutes}m ${rest}s` : `${rest}s`;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

// "QUEST_STATE_RUNNING" -> "running"
export function enumWord(value, prefix) {
  if (!value) return "unknown";
  return String(value).replace(prefix, "").toLowerCase().replace(/_/g, " ");
}

// "campaigns/c/aliases/best/bin" -> "best/bin"
export function shortName(name) {
  const text = String(name || "");
  const alias = text.indexOf("/aliases/");
  if (alias >= 0) return text.slice(alias + "/aliases/".length);
  return text.split("/").slice(1).join("/") || text;
}
