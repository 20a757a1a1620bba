// Guild Hall: every skill of a campaign — its levels with mastered/training markers and the level-up rule, the
// accuracy per level over training steps (held-out and exhaustive levels drawn differently), the level-up history,
// and the trials: from a trial down to each eval problem (prompt, the checkpoint's answer, the expected answer,
// the grader's verdict and reason), read from the trial's report in the vault.
import { api, currentCampaign, listAll, num } from "./api.js";
import { badge, button, fill, fmtNumber, fmtTime, h, shortName, text, toast } from "./dom.js";

const REGIME = { REGIME_HELD_OUT: "held-out", REGIME_EXHAUSTIVE: "exhaustive" };
const LEVEL_COLORS = ["#e0a84a", "#6aa8e3", "#58c27d", "#e36a6a", "#c58af0", "#4fd1c5", "#f0e06a", "#f08ac0"];

// -- the eval report of a trial, downloaded from the vault (DownloadFile is a server stream: SSE over GET) -------
export async function downloadText(asset, path) {
  const url = `/api/v1/${asset}/files:download?path=${encodeURIComponent(path)}`;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/event-stream" } });
  const raw = await response.text();
  if (!response.ok) {
    let message = raw;
    try { message = JSON.parse(raw).message || raw; } catch { /* plain text */ }
    throw new Error(message);
  }
  const parts = [];
  for (const frame of raw.split("\n\n")) {
    const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
    if (!data) continue;
    const message = JSON.parse(data);
    if (frame.includes("event: error")) throw new Error(message.message || "download failed");
    if (message.chunk) parts.push(Uint8Array.from(atob(message.chunk), (c) => c.charCodeAt(0)));
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const part of parts) { bytes.set(part, at); at += part.length; }
  return new TextDecoder().decode(bytes);
}

// -- accuracy chart: one line per level over global steps; held-out = solid + filled circles, exhaustive = dashed +
// hollow squares, flagged trials = crosses; the training level's pass threshold as a dotted line --------------
function drawAccuracy(canvas, points, levels, threshold) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600, height = canvas.clientHeight || 200;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const pad = { l: 40, r: 10, t: 8, b: 22 };
  const steps = points.map((p) => p.step);
  // A margin of 4 % on each side, so a point at the first or last step is not drawn on the frame.
  const first = Math.min(...steps), last = Math.max(...steps);
  const span = Math.max(1, last - first);
  const lo = first - span * 0.04, hi = last + span * 0.04;
  const x = (s) => pad.l + ((s - lo) / Math.max(1, hi - lo)) * (width - pad.l - pad.r);
  const y = (a) => pad.t + 4 + (1 - a) * (height - pad.t - pad.b - 8);
  g.strokeStyle = "#363c48"; g.fillStyle = "#9aa3b2"; g.font = "11px system-ui"; g.lineWidth = 1;
  for (const a of [0, 0.25, 0.5, 0.75, 1]) {
    g.beginPath(); g.moveTo(pad.l, y(a)); g.lineTo(width - pad.r, y(a)); g.stroke();
    g.fillText(`${Math.round(a * 100)}%`, 4, y(a) + 4);
  }
  g.fillText(`step ${fmtNumber(first)}`, pad.l, height - 6);
  const end = `step ${fmtNumber(last)}`;
  g.fillText(end, width - pad.r - g.measureText(end).width, height - 6);
  if (threshold) {
    g.setLineDash([4, 4]); g.strokeStyle = "#58c27d"; // the legend's "pass" swatch
    g.beginPath(); g.moveTo(pad.l, y(threshold)); g.lineTo(width - pad.r, y(threshold)); g.stroke();
  }
  for (const level of levels) {
    const mine = points.filter((p) => p.level === level.number).sort((a, b) => a.step - b.step);
    if (!mine.length) continue;
    const color = LEVEL_COLORS[(level.number - 1) % LEVEL_COLORS.length];
    const heldOut = level.regime === "REGIME_HELD_OUT";
    g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 2;
    g.setLineDash(heldOut ? [] : [6, 4]);
    g.beginPath();
    mine.forEach((p, i) => (i ? g.lineTo(x(p.step), y(p.accuracy)) : g.moveTo(x(p.step), y(p.accuracy))));
    g.stroke(); g.setLineDash([]);
    for (const p of mine) {
      const px = x(p.step), py = y(p.accuracy);
      g.beginPath();
      if (p.flagged) { g.moveTo(px - 4, py - 4); g.lineTo(px + 4, py + 4); g.moveTo(px + 4, py - 4); g.lineTo(px - 4, py + 4); g.stroke(); }
      else if (heldOut) { g.arc(px, py, 3.5, 0, 2 * Math.PI); g.fill(); }
      else { g.lineWidth = 1.5; g.strokeRect(px - 3.5, py - 3.5, 7, 7); }
    }
  }
}

function levelLadder(skill, progress) {
  return h("ol.ladder", { "aria-label": `${skill.display_name || skill.name} levels` }, (skill.levels || []).map((level) => {
    const n = level.number;
    const state = n <= progress.mastered_level ? "mastered" : n === progress.training_level ? "training" : "locked";
    const regime = REGIME[level.regime] || "?";
    return h(`li.rung.${state}`, { "data-level": String(n), "data-state": state,
      title: `L${n} ${level.title || ""} — ${state}; ${regime}; pass ${Math.round((level.pass_threshold || 0) * 100)}%`
        + (num(level.problem_space_size) ? `; ${num(level.problem_space_size)} distinct problems` : "") },
    h("span.n", {}, state === "mastered" ? `✓${n}` : state === "training" ? `▶${n}` : String(n)),
    h("span.regime", { "aria-label": regime }, regime === "held-out" ? "H" : "E"));
  }));
}

function ruleText(skill, progress, window, thresholds) {
  const level = (skill.levels || []).find((l) => l.number === progress.training_level);
  if (!level) return h("p.muted", {}, "Every level is mastered.");
  const threshold = thresholds[shortName(skill.name)] ?? level.pass_threshold ?? 0;
  const recent = (progress.accuracy_history || []).filter((p) => p.level === level.number && !p.flagged)
    .slice(-window).map((p) => p.accuracy || 0);
  const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : 0;
  return h("p.rule", { "data-rule": shortName(skill.name) },
    `Level-up rule: level ${level.number} (${REGIME[level.regime] || "?"}) is mastered when the mean accuracy of the `
    + `last ${window} trials at it reaches ${Math.round(threshold * 100)}%; flagged trials and other levels do not `
    + "count, and levels never go back. ",
    h("span.muted", {}, recent.length ? `Now: ${recent.map((a) => `${Math.round(a * 100)}%`).join(", ")} → mean `
      + `${Math.round(mean * 100)}% (${recent.length} of ${window} trials).` : "No trial at this level yet."));
}

function skillCard(skill, progress, window, thresholds) {
  const levels = skill.levels || [];
  const points = (progress.accuracy_history || []).map((p) => ({ level: p.level, accuracy: p.accuracy || 0,
    step: num(p.global_step), flagged: Boolean(p.flagged), checkpoint: p.checkpoint, reason: p.flag_reason }));
  const canvas = h("canvas", { role: "img", "aria-label": `Accuracy per level of ${skill.display_name || skill.name} over training steps` });
  const seen = [...new Set(points.map((p) => p.level))].sort((a, b) => a - b);
  const training = levels.find((l) => l.number === progress.training_level);
  const threshold = training ? (thresholds[shortName(skill.name)] ?? training.pass_threshold) : 0;
  const legend = h("p.legend", {}, seen.map((n) => {
    const level = levels.find((l) => l.number === n) || {};
    const heldOut = level.regime === "REGIME_HELD_OUT";
    const swatch = h(`span.swatch${heldOut ? "" : ".dashed"}`,
      { style: { borderTopColor: LEVEL_COLORS[(n - 1) % LEVEL_COLORS.length] } });
    return h("span.item", {}, swatch, ` L${n} ${heldOut ? "● held-out" : "□ exhaustive"}`);
  }), threshold ? h("span.item", {}, h("span.swatch.mark"), ` pass ${Math.round(threshold * 100)}%`) : null,
  points.some((p) => p.flagged) ? h("span.item", {}, "✕ flagged") : null);
  const changes = progress.progression || [];
  const card = h("section.card.skill", { "data-skill": shortName(skill.name) },
    h("div.row.spread", {}, h("h2", {}, skill.display_name || shortName(skill.name)),
      h("span", {}, badge(`mastered L${progress.mastered_level || 0}`, "mastered"), " ",
        badge(`training L${progress.training_level || 0}${progress.training_level_overridden ? " (override)" : ""}`, "training"),
        progress.enabled ? "" : [" ", badge("disabled", "stopped")])),
    h("p.muted", {}, `${levels.length} levels · weight ${fmtNumber(progress.weight ?? 1)} · generator ${skill.generator_version || "?"}`),
    levelLadder(skill, progress), ruleText(skill, progress, window, thresholds),
    h("h3", {}, "Accuracy per level"),
    points.length ? [h("div.chart.accuracy", {}, canvas), legend,
      h("details", {}, h("summary", {}, "As a table"), h("div.scroll-x", {}, h("table.data", {},
        h("thead", {}, h("tr", {}, ["Step", "Level", "Accuracy", "Checkpoint", "Flag"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, points.map((p) => h("tr", {}, h("td", {}, fmtNumber(p.step)), h("td", {}, `L${p.level}`),
          h("td", {}, `${(p.accuracy * 100).toFixed(1)}%`), h("td", {}, h("code", {}, p.checkpoint || "")),
          h("td", {}, p.flagged ? p.reason || "flagged" : ""))))))) ]
      : h("p.muted", {}, "No trial yet."),
    h("h3", {}, "Level-ups"),
    changes.length ? h("ol.timeline", { "data-list": "level-ups" }, changes.map((c) => h("li", {},
      h("strong", {}, `L${c.from_level} → L${c.to_level}`), ` · mean ${((c.mean_accuracy || 0) * 100).toFixed(1)}%`,
      h("span.muted", {}, ` · ${fmtTime(c.time)} · `), c.checkpoint ? h("code", {}, c.checkpoint) : "")))
      : h("p.muted", {}, "None yet."));
  if (points.length) requestAnimationFrame(() => drawAccuracy(canvas, points, levels, threshold));
  card.redraw = () => points.length && drawAccuracy(canvas, points, levels, threshold);
  return card;
}

async function showProblems(box, result, evaluation) {
  const title = `${shortName(result.skill)} L${result.level} · ${evaluation.checkpoint}`;
  fill(box, h("h2", {}, `Problems — ${title}`), h("p.muted", {}, "Reading the trial's report from the vault…"));
  box.scrollIntoView({ block: "start" });
  try {
    const asset = (await api.get(result.report_asset)).asset;
    const file = (asset.files || []).find((f) => f.path.endsWith(".json")) || (asset.files || [])[0];
    if (!file) throw new Error(`${result.report_asset} has no file`);
    const report = JSON.parse(await downloadText(result.report_asset, file.path));
    const items = report.items || [];
    const wrongOnly = h("input", { type: "checkbox", "data-field": "wrong-only" });
    const body = h("tbody");
    const render = () => fill(body, items.filter((i) => !wrongOnly.checked || !i.correct).map((item) =>
      h("tr", { "data-problem": item.id, "data-verdict": item.correct ? "correct" : "wrong" },
        h("td", { "data-label": "Problem" }, h("code", {}, item.id)),
        h("td", { "data-label": "Prompt" }, h("pre.cell", {}, item.prompt ?? "")),
        h("td", { "data-label": "Answer" }, h("pre.cell", {}, item.response ?? "")),
        h("td", { "data-label": "Expected" }, h("pre.cell", {}, item.expected ?? "")),
        h("td", { "data-label": "Verdict" }, badge(item.correct ? "correct" : "wrong", item.correct ? "ok" : "error"),
          item.partial_score !== undefined && !item.correct ? h("span.muted", {}, ` partial ${fmtNumber(item.partial_score, 2)}`) : ""),
        h("td", { "data-label": "Grader's reason" }, item.reason || "", item.parsed_answer
          ? h("div.muted", {}, `parsed: ${item.parsed_answer}`) : ""))));
    wrongOnly.addEventListener("change", render);
    render();
    fill(box, h("div.row.spread", {}, h("h2", {}, `Problems — ${title}`), button("Close", () => fill(box), { class: "link" })),
      h("p.muted", {}, `${report.correct}/${report.total} correct (${((report.accuracy || 0) * 100).toFixed(1)}%) · `
        + `${REGIME[result.regime] || report.regime} · eval set ${report.eval_set_version || ""} `
        + `${String(report.eval_set_hash || "").slice(0, 12)} · decoding ${report.decoding || "?"} · report `, h("code", {}, result.report_asset)),
      h("label.check", {}, wrongOnly, " wrong answers only"),
      h("div.scroll-x", {}, h("table.data.responsive.problems", {},
        h("thead", {}, h("tr", {}, ["Problem", "Prompt", "Answer", "Expected", "Verdict", "Grader's reason"]
          .map((c) => h("th", { scope: "col" }, c)))), body)));
  } catch (error) {
    fill(box, h("h2", {}, `Problems — ${title}`), h("p.error", { role: "alert" }, error.message));
  }
}

function resultLine(r, ev, problems) {
  return h("div.result", {},
    `${shortName(r.skill)} L${r.level} ${REGIME[r.regime] || ""}: ${r.correct || 0}/${r.total || 0} `
    + `(${((r.accuracy || 0) * 100).toFixed(1)}%) `,
    r.report_asset ? button("problems", () => showProblems(problems, r, ev), { class: "link",
      "data-action": "problems", "aria-label": `problems of ${shortName(r.skill)} L${r.level}` }) : null);
}

function trialRow(ev, problems) {
  const state = String(ev.state || "").replace("EVALUATION_STATE_", "").toLowerCase();
  return h("tr", { "data-evaluation": ev.name },
    h("td", { "data-label": "When" }, fmtTime(ev.end_time || ev.create_time)),
    h("td", { "data-label": "Checkpoint" }, h("code", {}, ev.checkpoint), ev.full ? h("span.muted", {}, " · full") : ""),
    h("td", { "data-label": "State" }, badge(state, state === "succeeded" ? "done" : state),
      ev.error ? h("div.error", {}, ev.error) : ""),
    h("td", { "data-label": "Results" }, (ev.results || []).map((r) => resultLine(r, ev, problems))));
}

function trialsCard(box, evaluations, problems) {
  const rows = [...evaluations].sort((a, b) => String(b.create_time).localeCompare(String(a.create_time)));
  if (!rows.length) {
    fill(box, h("h2", {}, "Trials"), h("p.muted", {}, "No trial yet: they start when a checkpoint lands in the vault."));
    return;
  }
  const head = h("thead", {}, h("tr", {}, ["When", "Checkpoint", "State", "Results"].map((c) => h("th", { scope: "col" }, c))));
  fill(box, h("h2", {}, `Trials (${rows.length})`), h("div.scroll-x", {},
    h("table.data.responsive", { "data-table": "trials" }, head,
      h("tbody", {}, rows.slice(0, 200).map((ev) => trialRow(ev, problems))))));
}

export default {
  title: "Guild Hall",
  async mount(root, ctx) {
    const campaigns = await listAll("campaigns", "campaigns").catch(() => []);
    const wanted = ctx.params.get("c") || (await currentCampaign())?.name;
    if (!wanted) {
      fill(root, h("h1", {}, "Guild Hall"), h("p.muted", {}, "No campaign yet: create one on the Campaigns page."));
      root.dataset.ready = "true";
      return null;
    }
    const picker = h("select", { "aria-label": "Campaign", "data-field": "campaign",
      onchange: () => ctx.navigate("guild", { c: picker.value }) },
    campaigns.map((c) => h("option", { value: c.name, selected: c.name === wanted }, c.display_name || c.name)));
    const skillsBox = h("div.skills");
    const trials = h("div.card");
    const problems = h("div.card.problems-panel", { "data-panel": "problems", "aria-live": "polite" });
    fill(root, h("div.row.spread", {}, h("h1", {}, "Guild Hall"), picker), skillsBox, problems, trials);
    try {
      const [skills, progress, evaluations, config] = await Promise.all([
        listAll("skills", "skills"), api.get(`${wanted}/curriculum`).then((r) => r.progress || {}),
        listAll("evaluations", "evaluations", { campaign: wanted, page_size: 200 }),
        api.get("/api/config").catch(() => ({ settings: {} })),
      ]);
      const section = (config.settings || {}).curriculum || {};
      const evalWindow = Number(section.eval_window || 3);
      const thresholds = section.thresholds || {};
      const bySkill = Object.fromEntries(skills.map((s) => [s.name, s]));
      const shown = (progress.skills || []).filter((p) => p.enabled || (p.accuracy_history || []).length);
      fill(skillsBox, shown.length ? shown.map((p) => bySkill[p.skill]
        ? skillCard(bySkill[p.skill], p, evalWindow, thresholds) : h("p.error", {}, `unknown skill ${p.skill}`))
        : h("p.muted.card", {}, "This campaign trains no skill yet."));
      trialsCard(trials, evaluations, problems);
      const trial = ctx.params.get("trial");
      if (trial) text(problems, `Trial ${trial}: pick a result's "problems" below.`);
    } catch (error) {
      fill(skillsBox, h("p.error", { role: "alert" }, error.message));
      toast(error.message, "error");
    }
    root.dataset.ready = "true";
    const onResize = () => { for (const card of skillsBox.querySelectorAll("section.skill")) card.redraw?.(); };
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  },
};
