// Depth panels mounted by other pages: the idle-GPU task registry (Fleet), a campaign's passives and data lineage
// (Campaigns detail) and the training loop's wall-time split (Battle). Each returns {el, stop}; stop() ends timers.
import { api, num } from "./api.js";
import { badge, enumWord, fill, fmtBytes, fmtDuration, fmtNumber, fmtTime, h, shortName, text } from "./dom.js";

const TASK_KINDS = ["eval", "passives", "sparring"];
const TASK_BADGE = { queued: "pending", running: "running", succeeded: "ok", failed: "offline", cancelled: "stopped" };

function table(columns, rows, attrs = {}) {
  return h("div.scroll-x", {}, h("table.data.responsive", attrs,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((row) => h("tr", row.attrs || {}, row.cells.map((cell, i) =>
      h("td", { "data-label": columns[i] }, cell)))))));
}

const percent = (share) => `${(Number(share || 0) * 100).toFixed(1)} %`;

// "key=value" lines -> {key: value}; a line without "=" is an error naming it.
export function parseParameters(textValue) {
  const parameters = {};
  for (const [index, raw] of String(textValue || "").split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`parameters line ${index + 1}: expected key=value, got "${line}"`);
    parameters[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return parameters;
}

function taskRow(task) {
  const state = enumWord(task.state, "TASK_STATE_");
  const progress = Number(task.progress || 0);
  return { attrs: { "data-task": task.name, "data-kind": task.kind, "data-state": state }, cells: [
    h("code", {}, shortName(task.name)), task.kind, String(task.priority || 0), badge(state, TASK_BADGE[state]),
    h("span", {}, `${(progress * 100).toFixed(0)} %`, task.message ? ` · ${task.message}` : "",
      task.error ? h("span.error", {}, ` · ${task.error}`) : ""),
    task.worker || "—", fmtTime(task.create_time), fmtTime(task.start_time), fmtTime(task.end_time),
  ] };
}

function taskForm(ctx, onQueued) {
  const kind = h("select", { "data-field": "task-kind" }, TASK_KINDS.map((k) => h("option", { value: k }, k)));
  const priority = h("input", { type: "number", min: "0", max: "100", value: "50", "data-field": "task-priority" });
  const parameters = h("textarea", { rows: 3, placeholder: "campaign=campaigns/x\ncheckpoint=assets/…",
    "data-field": "task-parameters" });
  const message = h("p.error", { role: "alert" });
  return h("form", {
    "aria-label": "Queue a task",
    onsubmit: async (event) => {
      event.preventDefault();
      text(message, "");
      try {
        const task = { kind: kind.value, priority: Number(priority.value || 0),
          parameters: parseParameters(parameters.value) };
        const created = (await api.post("tasks", task)).task || {};
        text(message, "");
        onQueued(created);
      } catch (error) { text(message, error.message); }
    },
  }, h("h3", {}, "Queue a task"), h("div.form-grid", {}, h("label", {}, "Kind ", kind),
    h("label", {}, "Priority (0-100) ", priority), h("label", {}, "Parameters (key=value lines) ", parameters)),
  message, h("button.primary", { type: "submit", "data-action": "queue-task" }, "Queue task"));
}

export function tasksPanel(ctx, everyMs = 3000) {
  const status = h("p.muted", { "data-tasks": "scheduler" });
  const list = h("div", { "data-tasks": "list" }, h("p.muted", {}, "Loading tasks…"));
  const isAdmin = ctx.role === "admin";
  const el = h("section.card", { "data-panel": "tasks", "aria-label": "Idle-GPU tasks" },
    h("h2", {}, "Idle-GPU tasks"), status, list, isAdmin ? taskForm(ctx, () => refresh()) : null);
  async function refresh() {
    try {
      const reply = await api.get("tasks", { page_size: 100 });
      const tasks = reply.tasks || [];
      const s = reply.scheduler || {};
      text(status, `${s.idle ? "idle: background work may run" : "busy: background work waits"} · `
        + `${s.interactive_requests || 0} interactive, ${s.background_requests || 0} background in flight · `
        + `${fmtNumber(num(s.preemptions))} preemptions`);
      fill(list, tasks.length ? table(["Task", "Kind", "Priority", "State", "Progress", "Claimed by", "Created",
        "Started", "Ended"], tasks.map(taskRow), { "data-list": "tasks" }) : h("p.muted", {}, "No task yet."));
      el.dataset.loaded = "true";
    } catch (error) {
      fill(list, h("p.error", { role: "alert" }, `The inference host did not answer: ${error.message}`));
    }
  }
  refresh();
  const timer = setInterval(refresh, everyMs);
  return { el, stop: () => clearInterval(timer) };
}

function deltaCell(delta, regression, hasBase = true) {
  if (!hasBase) return h("span.muted", {}, "no base");
  const value = `${delta >= 0 ? "+" : ""}${(Number(delta || 0) * 100).toFixed(1)} pts`;
  // A word and a glyph, not colour alone.
  return regression ? h("span.error", { "data-regression": "true" }, `▼ regression ${value}`)
    : h("span", { "data-regression": "false" }, `${delta >= 0 ? "▲" : "▽"} ${value}`);
}

export async function passivesSection(campaignName) {
  const el = h("section", { "data-panel": "passives" }, h("h3", {}, "Passives (vs the base model)"));
  try {
    const report = await api.get(`${campaignName}/passives`);
    const skills = report.skills || [];
    const results = report.results || [];
    el.append(h("p.muted", {}, report.base_model ? `base ${report.base_model}` : "base not measured yet",
      ` · regression below −${(Number(report.regression_threshold || 0) * 100).toFixed(1)} pts`,
      ` · sets ${(report.sets || []).join(", ") || "none"}`));
    el.append(skills.length ? table(["Skill", "Checkpoint", "Levels", "Gain/loss"], skills.map((s) => ({
      attrs: { "data-skill": s.skill }, cells: [s.skill, shortName(s.checkpoint), (s.levels || []).join(", "),
        deltaCell(s.mean_delta, s.regression)] })), { "data-list": "passive-skills" })
      : h("p.muted", {}, "No passive measured yet."));
    if (results.length) {
      el.append(h("details", {}, h("summary", {}, `Every measurement (${results.length})`),
        table(["Set", "Checkpoint", "Step", "Accuracy", "Base", "Gain/loss"], results.map((r) => ({
          cells: [`${r.skill}/${r.level}`, r.base ? "base" : shortName(r.checkpoint), fmtNumber(num(r.global_step)),
            `${r.correct || 0}/${r.total || 0}`, r.has_base ? percent(r.base_accuracy) : "—",
            r.base ? "—" : deltaCell(r.delta, r.regression, r.has_base)] })))));
    }
  } catch (error) {
    el.append(h("p.error", { role: "alert" }, `Passives unavailable: ${error.message}`));
  }
  return el;
}

export async function lineageSection(campaignName) {
  const el = h("section", { "data-panel": "lineage" }, h("h3", {}, "Data lineage"));
  try {
    const report = await api.get(`${campaignName}/lineage`);
    const quests = report.quests || [];
    const generators = report.generators || [];
    el.append(quests.length ? table(["Quest", "Source", "Generator", "Validator", "Schema", "Rows", "Size", "sha256",
      "Checkpoints"], quests.map((q) => ({ attrs: { "data-quest": q.quest, "data-sha256": q.sha256 || "" }, cells: [
      h("span", {}, q.display_name || shortName(q.quest), h("br"), h("span.muted", {}, enumWord(q.state, ""))),
      q.source || "—", q.generator ? `${q.generator} ${q.generator_version || ""}`.trim() : "—",
      q.validator_version || "—", q.schema_id || "—", fmtNumber(num(q.rows)), fmtBytes(num(q.bytes)),
      h("code.sha", { title: q.sha256 || "" }, q.sha256 || "—"),
      (q.checkpoints || []).length ? (q.checkpoints || []).map((c) => h("div", {},
        `step ${fmtNumber(num(c.global_step))} `, c.asset ? h("code", {}, shortName(c.asset)) : "",
        h("span.muted", {}, ` ${c.state || ""}`))) : "—",
    ] })), { "data-list": "lineage" }) : h("p.muted", {}, "No quest yet."));
    if (generators.length) {
      el.append(h("h4", {}, "By generator"), table(["Generator", "Quests", "Rows", "Checkpoints", "Validators",
        "Schemas"], generators.map((g) => ({ attrs: { "data-generator": g.generator || "" }, cells: [
        g.generator ? `${g.generator} ${g.generator_version || ""}`.trim() : "(none named)", String(g.quests || 0),
        fmtNumber(num(g.rows)), String(g.checkpoints || 0), (g.validator_versions || []).join(", ") || "—",
        (g.schema_ids || []).join(", ") || "—"] })), { "data-list": "generators" }));
    }
  } catch (error) {
    el.append(h("p.error", { role: "alert" }, `Lineage unavailable: ${error.message}`));
  }
  return el;
}

// The Campaigns detail's depth: passives then lineage, loaded together.
export async function campaignDepth(campaignName) {
  const [passives, lineage] = await Promise.all([passivesSection(campaignName), lineageSection(campaignName)]);
  return h("section.depth", { "aria-label": "Passives and data lineage" }, passives, lineage);
}

const PHASES = [["training_seconds", "training"], ["worker_startup_seconds", "worker start-up"],
  ["checkpoint_save_seconds", "checkpoint save"], ["waiting_for_data_seconds", "waiting for data"],
  ["idle_seconds", "idle (paused or stopped)"]];

export function loopTimeCard(campaignName, everyMs = 10000) {
  const body = h("div", {}, h("p.muted", {}, "Loading…"));
  const el = h("section.card", { "data-panel": "loop-time", "aria-label": "Time split" },
    h("h2", {}, "Time split"), body);
  async function refresh() {
    try {
      const t = (await api.get(`${campaignName}/loopTime`)).loop_time || {};
      const wall = Number(t.wall_seconds || 0);
      const rows = PHASES.map(([key, label]) => {
        const seconds = Number(t[key] || 0);
        const share = wall ? seconds / wall : 0;
        return { attrs: { "data-phase": key }, cells: [label, fmtDuration(seconds), h("div.progress", {
          role: "meter", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": (share * 100).toFixed(0),
          "aria-label": `${label} share` }, h("div", { style: { width: `${(share * 100).toFixed(1)}%` } })),
        percent(share)] };
      });
      rows.push({ attrs: { "data-phase": "upload_seconds" }, cells: ["upload (beside the loop)",
        fmtDuration(t.upload_seconds), "", "—"] });
      fill(body, h("p", {}, h("strong", { "data-loop": "busy" }, `trainer busy ${percent(t.busy_share)}`),
        h("span.muted", {}, ` of ${fmtDuration(wall)} wall · ${num(t.worker_starts)} worker starts, `
          + `${num(t.worker_reuses)} reuses · since ${fmtTime(t.since)}`)),
      table(["Phase", "Time", "Share", ""], rows, { "data-list": "loop-time" }),
      h("p.muted", {}, "Trials run in the curriculum service: their time is on each trial, not in this split."));
      el.dataset.loaded = "true";
    } catch (error) {
      fill(body, h("p.error", { role: "alert" }, `Time split unavailable: ${error.message}`));
    }
  }
  refresh();
  const timer = setInterval(refresh, everyMs);
  return { el, stop: () => clearInterval(timer) };
}
