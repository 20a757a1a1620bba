// Fleet: every host and service the warden watches, live from its WatchFleet stream (SSE): state, since when,
// latency, restarts (health-stream reconnects), disk use, and alerts as they fire and resolve.
import { api, num, stream } from "./api.js";
import { badge, enumWord, fill, fmtBytes, fmtNumber, fmtTime, h, text } from "./dom.js";
import { tasksPanel } from "./depth_panels.js";

const STATE_WORDS = { SERVING_STATE_SERVING: "serving", SERVING_STATE_NOT_SERVING: "not serving",
  SERVING_STATE_UNREACHABLE: "unreachable", SERVING_STATE_UNSPECIFIED: "unknown" };
const STATE_KIND = { serving: "online", "not serving": "degraded", unreachable: "offline", unknown: "unknown" };

// "3 m 12 s ago" from an ISO time, relative to now (refreshed every second).
export function since(iso, now = Date.now()) {
  if (!iso) return "—";
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(seconds)) return "—";
  const d = Math.floor(seconds / 86400), hr = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  const parts = d ? [`${d} d`, `${hr} h`] : hr ? [`${hr} h`, `${m} m`] : m ? [`${m} m`, `${s} s`] : [`${s} s`];
  return `${parts.join(" ")} ago`;
}

function relative(iso) {
  return h("time", { datetime: iso || "", "data-since": iso || "", title: fmtTime(iso) }, since(iso));
}

function serviceRow(service) {
  const word = STATE_WORDS[service.state] || "unknown";
  const cell = (label, ...content) => h("td", { "data-label": label }, ...content);
  return h("tr", { "data-service": service.service, "data-state": word },
    cell("Service", h("strong", {}, service.service), h("br"), h("code.muted", {}, service.address || "")),
    cell("State", badge(word, STATE_KIND[word])),
    cell("Since", relative(service.last_change_time)),
    cell("Latency", service.latency_ms ? `${fmtNumber(service.latency_ms, 1)} ms` : "—"),
    cell("Restarts", h("span", { title: "times its health stream broke and came back (a restart or a network cut)" },
      String(service.reconnects || 0))),
    cell("Probe", enumWord(service.mode, "PROBE_MODE_")),
    cell("Checked", relative(service.check_time)),
    cell("Error", service.error ? h("span.error", {}, service.error) : h("span.muted", {}, "—")));
}

function diskRow(disk) {
  const percent = Number(disk.used_percent || 0);
  const bar = h("div", { style: { width: `${Math.min(100, percent)}%` } });
  const level = enumWord(disk.level, "DISK_LEVEL_");
  return h("tr", { "data-disk": disk.path },
    h("td", { "data-label": "Directory" }, h("code", {}, disk.path)),
    h("td", { "data-label": "Used" }, `${fmtBytes(num(disk.used_bytes))} of ${fmtBytes(num(disk.total_bytes))}`),
    h("td", { "data-label": "Use" }, h("div.progress.disk", { role: "meter", "aria-valuemin": "0",
      "aria-valuemax": "100", "aria-valuenow": percent.toFixed(0), "aria-label": `${disk.path} used` }, bar),
    ` ${percent.toFixed(1)} %`),
    h("td", { "data-label": "Level" }, badge(level, level === "ok" ? "ok" : level === "warn" ? "degraded" : "offline")));
}

function hostCard(host) {
  const state = enumWord(host.state, "FLEET_STATE_");
  const services = host.services || [];
  return h("section.card.host", { "data-host": host.name, "aria-label": `Host ${host.name}` },
    h("div.row.spread", {}, h("h2", {}, host.name.replace(/^hosts\//, "")), badge(state)),
    h("p.muted", {}, h("code", {}, host.address || ""), (host.roles || []).length ? ` · ${host.roles.join(", ")}` : ""),
    services.length
      ? h("div.scroll-x", {}, h("table.data.responsive", {},
        h("thead", {}, h("tr", {}, ["Service", "State", "Since", "Latency", "Restarts", "Probe", "Checked", "Error"]
          .map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, services.map(serviceRow))))
      : h("p.muted", {}, "No services on this host."),
    (host.disks || []).length ? [h("h3", {}, "Disk"), h("div.scroll-x", {}, h("table.data.responsive", {},
      h("thead", {}, h("tr", {}, ["Directory", "Used", "Use", "Level"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, host.disks.map(diskRow))))] : null);
}

function alertItem(alert, what) {
  const severity = enumWord(alert.severity, "ALERT_SEVERITY_");
  return h("li", { "data-alert": alert.subject },
    badge(severity, severity === "critical" ? "offline" : "degraded"), " ",
    h("strong", {}, alert.subject), alert.host ? h("span.muted", {}, ` on ${alert.host}`) : "", " — ",
    alert.message || enumWord(alert.kind, "ALERT_KIND_"), " ",
    h("span.muted", {}, what === "resolved" ? `resolved ${fmtTime(alert.resolve_time)}`
      : `since ${fmtTime(alert.fire_time)}`));
}

export default {
  title: "Fleet",
  async mount(root, ctx) {
    const summary = h("div.card", { "aria-live": "polite" });
    const alerts = h("div.card", {}, h("h2", {}, "Alerts"));
    const hosts = h("div.hosts");
    const log = h("ol.alert-log");
    const liveState = h("span.muted", { "data-stream": "state" }, "connecting…");
    const recent = [];
    fill(root, h("div.row.spread", {}, h("h1", {}, "Fleet"), liveState), summary, alerts, hosts,
      h("details.card", {}, h("summary", {}, "Alert history (this visit)"), log));
    const tasks = tasksPanel(ctx);
    root.append(tasks.el);

    function render(status, events = []) {
      const state = enumWord(status.state, "FLEET_STATE_");
      fill(summary, h("div.row", {}, badge(state), h("strong", { "data-fleet": "serving" },
        `${status.serving || 0} of ${status.total || 0} services serving`),
        h("span.muted", {}, `updated ${fmtTime(status.update_time)}`)));
      const active = status.alerts || [];
      fill(alerts, h("h2", {}, `Alerts (${active.length} active)`),
        active.length ? h("ul.alerts", {}, active.map((a) => alertItem(a, "active")))
          : h("p.muted", {}, "No active alert."));
      fill(hosts, (status.hosts || []).map(hostCard));
      for (const event of events) {
        recent.unshift(alertItem(event, event.resolve_time ? "resolved" : "fired"));
      }
      recent.splice(50);
      fill(log, recent.length ? recent : h("li.muted", {}, "Nothing fired or resolved since this page opened."));
    }

    try {
      render((await api.get("fleet")).status || {});
    } catch (error) {
      fill(summary, h("p.error", { role: "alert" }, `The warden did not answer: ${error.message}`));
    }
    root.dataset.ready = "true";
    const live = stream("fleet:watch", {}, {
      onEvent: (data) => render(data.status || {}, data.alert_events || []),
      onState: (state) => text(liveState, state === "live" ? "● live" : state),
    });
    // "since" columns count on their own between updates.
    const ticker = setInterval(() => {
      for (const el of root.querySelectorAll("time[data-since]")) text(el, since(el.dataset.since));
    }, 1000);
    return () => { clearInterval(ticker); live.close(); tasks.stop(); };
  },
};
