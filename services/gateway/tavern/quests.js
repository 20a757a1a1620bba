// Quests: upload (picker or drag-and-drop) with the per-line validation report on rejection; the queue with its
// states, position and ETA; reorder by drag or by keyboard (the ↑/↓ buttons), priority, delete, retry, preview.
import { api, currentCampaign, listAll, num, stream } from "./api.js";
import { badge, button, clear, enumWord, fill, fmtBytes, fmtDuration, fmtNumber, h, text, toast } from "./dom.js";

const PRIORITIES = ["PRIORITY_HIGH", "PRIORITY_NORMAL", "PRIORITY_LOW"];
// The queue's four plain states; the trainer's finer state is shown beside when it differs.
const STATE_WORD = { QUEST_STATE_VALIDATING: "queued", QUEST_STATE_QUEUED: "queued", QUEST_STATE_RUNNING: "running",
  QUEST_STATE_PAUSED: "running", QUEST_STATE_COMPLETED: "done", QUEST_STATE_FAILED: "done",
  QUEST_STATE_SKIPPED: "done", QUEST_STATE_REJECTED: "rejected" };
const ORDER = { running: 0, queued: 1, rejected: 2, done: 3 };
const PREVIEW_ROWS = 5;

function rowParts(row) {
  if (Array.isArray(row.messages)) return row.messages.map((m) => `${m.role}: ${m.content}`);
  if (typeof row.text === "string") return [row.text];
  return [JSON.stringify(row)];
}

export function previewRows(textContent, limit = PREVIEW_ROWS) {
  return textContent.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim()).slice(0, limit).map((line, i) => {
    try {
      const row = JSON.parse(line);
      return { line: i + 1, parts: row && typeof row === "object" && !Array.isArray(row) ? rowParts(row) : [line] };
    } catch { return { line: i + 1, parts: [`(not JSON) ${line.slice(0, 200)}`] }; }
  });
}

// GetQuestPreview's rows (the trainer's copy of the file): a parsed row, or the raw text of a line that is not one.
function serverPreviewRows(reply) {
  return (reply.rows || []).map((r) => ({ line: num(r.line),
    parts: r.row ? rowParts(r.row) : [`${r.clipped ? "(cut) " : "(not JSON) "}${r.text || ""}`] }));
}

// A queued quest's ETA cell from EstimateQuestQueue: when it should start and how long it should take.
function etaCell(estimate, isQueued) {
  if (!estimate) return isQueued ? "estimating…" : "—";
  const takes = estimate.duration_seconds ? fmtDuration(estimate.duration_seconds) : "";
  const word = !estimate.known ? `unknown (${estimate.basis})`
    : num(estimate.position) === 0 ? `${takes} left`
      : `starts in ${fmtDuration(estimate.starts_in_seconds) === "—" ? "0s" : fmtDuration(estimate.starts_in_seconds)}`
        + (takes ? `, takes ${takes}` : "");
  return h("span", { "data-eta": estimate.known ? "known" : "unknown", title: estimate.basis,
    "data-starts-in": String(Math.round(estimate.starts_in_seconds || 0)) }, word,
  num(estimate.steps) ? h("span.muted", {}, ` · ~${fmtNumber(num(estimate.steps))} steps`) : "");
}

function previewBlock(rows) {
  return h("ol.preview", { "aria-label": "First rows" }, rows.map((r) => h("li", { value: String(r.line) },
    r.parts.map((p) => h("div.mono", {}, p.length > 300 ? `${p.slice(0, 300)}…` : p)))));
}

export function reportBlock(quest) {
  const report = quest.validation || {};
  const findings = report.findings || [];
  return h("div.report", { "data-report": quest.name, role: "region", "aria-label": "Validation report" },
    h("p", {}, badge(report.accepted ? "accepted" : "rejected", report.accepted ? "ok" : "rejected"),
      ` ${num(report.error_count)} errors, ${num(report.warning_count)} warnings in ${fmtNumber(num(report.rows))} rows`,
      quest.state_reason ? h("span.muted", {}, ` — ${quest.state_reason}`) : ""),
    findings.length ? h("div.scroll-x", {}, h("table.data.responsive.findings", {},
      h("thead", {}, h("tr", {}, ["Line", "Field", "Severity", "Kind", "Message"].map((t) => h("th", {}, t)))),
      h("tbody", {}, findings.map((f) => h("tr", { "data-line": String(num(f.line)) },
        h("td", { "data-label": "Line" }, num(f.line) ? String(num(f.line)) : "file"),
        h("td", { "data-label": "Field" }, h("code", {}, f.field || "—")),
        h("td", { "data-label": "Severity" }, badge(enumWord(f.severity, "SEVERITY_"),
          String(f.severity || "").includes("ERROR") ? "error" : "paused")),
        h("td", { "data-label": "Kind" }, f.kind || ""), h("td", { "data-label": "Message" }, f.message || ""))))))
      : null,
    (report.counts || []).length ? h("p.muted", {}, "Totals: ", (report.counts || [])
      .map((c) => `${c.kind} × ${num(c.count)}`).join(", ")) : null);
}

export default {
  title: "Quests",
  async mount(root, ctx) {
    const campaign = await currentCampaign({ refresh: true });
    if (!campaign) { fill(root, h("h1", {}, "Quests"), h("p.muted", {}, "Create a campaign first.")); return null; }
    const result = h("div.result", { "aria-live": "polite" });
    const list = h("div", { "data-queue": "list" });
    let quests = [];
    let estimates = new Map();

    // -- upload -------------------------------------------------------------------------------------------------
    const fileInput = h("input", { type: "file", accept: ".jsonl,.json,application/jsonl,text/plain",
      "data-control": "file", disabled: !ctx.canWrite });
    const nameInput = h("input", { type: "text", placeholder: "display name (default: file name)",
      "data-control": "display-name" });
    const priority = h("select", { "data-control": "priority" },
      PRIORITIES.map((p) => h("option", { value: p, selected: p === "PRIORITY_NORMAL" }, enumWord(p, "PRIORITY_"))));
    const chosen = h("div.muted");
    let picked = null;
    const pick = async (file) => {
      picked = file;
      if (!file) { clear(chosen); return; }
      const head = await file.slice(0, 64 * 1024).text();
      fill(chosen, h("p", {}, `${file.name} · ${fmtBytes(file.size)}`), h("p", {}, "Preview:"), previewBlock(previewRows(head)));
    };
    fileInput.addEventListener("change", () => pick(fileInput.files[0] || null));
    const drop = h("div.dropzone", { tabindex: "0", role: "button", "data-control": "dropzone",
      "aria-label": "Drop a JSONL quest file here, or press Enter to pick one",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } },
      ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
      ondragleave: () => drop.classList.remove("over"),
      ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); pick(e.dataTransfer.files[0] || null); },
    }, "Drop a .jsonl quest here, or ", h("strong", {}, "choose a file"), " below.");
    const upload = button("Upload quest", async () => {
      if (!picked) { toast("Pick or drop a file first", "error"); return; }
      upload.disabled = true;
      text(result, "Uploading and validating…");
      try {
        const reply = await api.upload("quests:submit", picked, { campaign: campaign.name, priority: priority.value,
          display_name: nameInput.value.trim() || picked.name.replace(/\.jsonl?$/, "") });
        const quest = reply.quest || {};
        const word = STATE_WORD[quest.state] || "queued";
        fill(result, h("p", { "data-upload": word }, badge(word), " ", quest.display_name || quest.name,
          word === "rejected" ? " was rejected; nothing was queued. The file is kept with its report:" : " is in the queue."),
        word === "rejected" ? reportBlock(quest) : null);
        await refresh();
      } catch (error) {
        fill(result, h("p.error", { role: "alert" }, `Upload failed: ${error.message}`));
      } finally { upload.disabled = !ctx.canWrite; }
    }, { class: "primary", disabled: !ctx.canWrite, "data-action": "upload" });

    fill(root, h("h1", {}, "Quests"),
      h("div.card", {}, h("h2", {}, "Post a quest"), drop, h("div.row", {}, fileInput, nameInput, priority, upload),
        chosen, result),
      h("div.card", {}, h("div.row.spread", {}, h("h2", {}, "Quest board"),
        h("span.muted", {}, "Drag a queued quest, or use ↑ ↓, to reorder it within its priority.")), list));

    // -- queue --------------------------------------------------------------------------------------------------
    const act = (label, fn, attrs = {}) => button(label, async () => {
      try { await fn(); await refresh(); } catch (error) { toast(`${label}: ${error.message}`, "error"); }
    }, { disabled: !ctx.canWrite, ...attrs });

    let dragged = null;
    function row(q, index, queued) {
      const word = STATE_WORD[q.state] || "queued";
      const fine = enumWord(q.state, "QUEST_STATE_");
      const isQueued = q.state === "QUEST_STATE_QUEUED";
      const samePriority = queued.filter((o) => o.priority === q.priority);
      const at = samePriority.indexOf(q);
      const tr = h("tr", { "data-quest": q.name, "data-state": word, draggable: isQueued && ctx.canWrite ? "true" : false });
      if (isQueued && ctx.canWrite) {
        tr.addEventListener("dragstart", (e) => { dragged = q; e.dataTransfer.setData("text/plain", q.name); });
        tr.addEventListener("dragover", (e) => { if (dragged && dragged.priority === q.priority) e.preventDefault(); });
        tr.addEventListener("drop", async (e) => {
          e.preventDefault();
          const source = dragged; dragged = null;
          if (!source || source.name === q.name) return;
          try { await api.post(`${source.name}:move`, { before_quest: q.name }); await refresh(); }
          catch (error) { toast(`Move: ${error.message}`, "error"); }
        });
      }
      const prioritySelect = h("select", { "aria-label": `priority of ${q.display_name || q.name}`, "data-control": "row-priority",
        disabled: !ctx.canWrite || !["QUEST_STATE_QUEUED", "QUEST_STATE_VALIDATING"].includes(q.state),
        onchange: async () => {
          try {
            await api.patch(q.name, { name: q.name, priority: prioritySelect.value }, { update_mask: "priority" });
            await refresh();
          } catch (error) { toast(`Priority: ${error.message}`, "error"); }
        } }, PRIORITIES.map((p) => h("option", { value: p, selected: p === q.priority }, enumWord(p, "PRIORITY_"))));
      const preview = h("div");
      const details = h("div.details");
      const actions = h("div.row", {},
        isQueued ? [act("↑", () => api.post(`${q.name}:move`, { before_quest: samePriority[at - 1].name }),
          { "aria-label": "move up", disabled: !ctx.canWrite || at <= 0, "data-action": "up" }),
        act("↓", () => api.post(`${q.name}:move`, { after_quest: samePriority[at + 1].name }),
          { "aria-label": "move down", disabled: !ctx.canWrite || at >= samePriority.length - 1, "data-action": "down" })] : null,
        ["QUEST_STATE_FAILED", "QUEST_STATE_SKIPPED", "QUEST_STATE_REJECTED"].includes(q.state)
          ? act("Retry", () => api.post(`${q.name}:retry`, {}), { "data-action": "retry" }) : null,
        q.state !== "QUEST_STATE_RUNNING" ? act("Delete", async () => {
          if (!window.confirm(`Delete quest ${q.display_name || q.name}?`)) return;
          await api.del(q.name);
        }, { class: "danger", "data-action": "delete" }) : null,
        button("Details", () => {
          if (details.firstChild) { clear(details); return; }
          fill(details, word === "rejected" || q.validation ? reportBlock(q) : null, preview);
          loadPreview(q, preview);
        }, { "data-action": "details", "aria-expanded": "false" }));
      return [fill(tr,
        h("td", { "data-label": "#" }, isQueued ? String(index + 1) : "—"),
        h("td", { "data-label": "Quest" }, h("strong", {}, q.display_name || q.name), h("br"), h("code.muted", {}, q.name)),
        h("td", { "data-label": "State" }, badge(word), fine !== word ? h("span.muted", {}, ` ${fine}`) : ""),
        h("td", { "data-label": "Priority" }, prioritySelect),
        h("td", { "data-label": "Rows" }, fmtNumber(num(q.rows))),
        h("td", { "data-label": "Progress" }, num(q.steps_total) ? `${num(q.steps_done)} / ${num(q.steps_total)}` : "—"),
        h("td", { "data-label": "ETA" }, ["QUEST_STATE_RUNNING", "QUEST_STATE_PAUSED"].includes(q.state) || isQueued
          ? etaCell(estimates.get(q.name), isQueued) : "—"),
        h("td", { "data-label": "" }, actions)),
      h("tr.detail-row", {}, h("td", { colspan: "8" }, details))];
    }

    async function loadPreview(q, box) {
      fill(box, h("p.muted", {}, "Loading the first rows…"));
      try {
        const reply = await api.get(`${q.name}:preview`, { rows: PREVIEW_ROWS });
        const more = reply.truncated ? ` of ${fmtNumber(num(reply.total_rows))}` : "";
        fill(box, h("p", {}, `First ${(reply.rows || []).length}${more} rows:`),
          h("div", { "data-preview": q.name }, previewBlock(serverPreviewRows(reply))));
      } catch (error) { fill(box, h("p.error", {}, `Preview: ${error.message}`)); }
    }

    async function refresh() {
      let estimate;
      [quests, estimate] = await Promise.all([listAll("quests", "quests", { campaign: campaign.name }),
        api.get(`${campaign.name}/quests:estimate`).catch(() => ({}))]);
      estimates = new Map((estimate.quests || []).map((e) => [e.quest, e]));
      const byOrder = (a, b) => (ORDER[STATE_WORD[a.state]] - ORDER[STATE_WORD[b.state]])
        || (PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority)) || (num(a.position) - num(b.position))
        || String(b.create_time).localeCompare(String(a.create_time));
      quests.sort(byOrder);
      const queued = quests.filter((q) => q.state === "QUEST_STATE_QUEUED");
      if (!quests.length) { fill(list, h("p.muted", {}, "No quests yet.")); return; }
      fill(list, h("div.scroll-x", {}, h("table.data.responsive.queue", {},
        h("thead", {}, h("tr", {}, ["#", "Quest", "State", "Priority", "Rows", "Steps", "ETA", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, quests.map((q) => row(q, queued.indexOf(q), queued))))),
      estimate.tokens_per_second ? h("p.muted", { "data-throughput": "" }, `ETAs from ${fmtNumber(Math.round(
        estimate.tokens_per_second))} tokens/s: ${estimate.throughput_basis}${estimate.active ? "" : "; the campaign is not active"}.`)
        : h("p.muted", {}, `No ETA yet: ${estimate.throughput_basis || "the trainer gave no estimate"}.`));
      root.dataset.ready = "true";
    }

    await refresh();
    let timer = null;
    const live = stream("events:stream", {}, { onEvent: (data) => {
      const kind = data.event?.kind || "";
      if (kind.startsWith("EVENT_KIND_QUEST") || kind === "EVENT_KIND_RUN_STATE_CHANGED") {
        clearTimeout(timer); timer = setTimeout(() => refresh().catch(() => {}), 300);
      }
    } });
    return () => { live.close(); clearTimeout(timer); };
  },
};
