// The campaign timeline that `realm campaign report` prints (clients/realm/sdk/trainer.py campaign_report +
// cli report_tables), computed from the same REST calls: the trainer's campaign and quests, the curriculum's
// progression and trials. Wall time runs from the first quest start; "minutes" are relative to it.
import { api, listAll, num } from "./api.js";

const seconds = (iso) => (iso ? new Date(iso).getTime() / 1000 : 0);
const minutes = (at, origin) => (at && origin ? Math.round(((at - origin) / 60) * 100) / 100 : null);
const shortTime = (at) => (at ? new Date(at * 1000).toISOString().slice(5, 19).replace("T", " ") : "");
const round4 = (x) => Math.round((x || 0) * 10000) / 10000;
const strip = (value, prefix) => String(value || "").replace(prefix, "");

export async function report(name, now = Date.now() / 1000) {
  const campaign = (await api.get(name)).campaign;
  const quests = await listAll("quests", "quests", { campaign: name, page_size: 500 });
  const starts = quests.map((q) => seconds(q.start_time)).filter(Boolean);
  const firstStart = starts.length ? Math.min(...starts) : 0;
  const origin = firstStart || seconds(campaign.create_time);
  const byState = {};
  for (const quest of quests) {
    const state = strip(quest.state, "QUEST_STATE_");
    byState[state] = (byState[state] || 0) + 1;
  }
  let progress = null, evaluations = [], curriculumError = "";
  try {
    progress = (await api.get(`${name}/curriculum`)).progress;
    evaluations = await listAll("evaluations", "evaluations", { campaign: name, page_size: 200 });
  } catch (error) {
    curriculumError = error.message;
  }
  const stepOf = {};
  const skills = (progress?.skills || []).map((s) => {
    for (const point of s.accuracy_history || []) if (!(point.checkpoint in stepOf)) stepOf[point.checkpoint] = num(point.global_step);
    return { skill: strip(s.skill, "skills/"), enabled: Boolean(s.enabled), mastered: s.mastered_level || 0,
      training: s.training_level || 0, max: s.max_level || 0,
      levels: (s.progression || []).map((c) => ({ from: c.from_level || 0, to: c.to_level || 0, at: seconds(c.time),
        checkpoint: c.checkpoint || "", mean: round4(c.mean_accuracy) })) };
  }).filter((s) => s.enabled || s.levels.length);
  evaluations.sort((a, b) => seconds(a.create_time) - seconds(b.create_time) || a.name.localeCompare(b.name));

  const summary = [
    ["campaign", campaign.name], ["hero", campaign.hero], ["state", strip(campaign.state, "CAMPAIGN_STATE_")],
    ["global step", num(campaign.global_step).toLocaleString("en")],
    ["trained tokens", num(campaign.trained_tokens).toLocaleString("en")],
    ["first quest start", firstStart ? new Date(firstStart * 1000).toISOString() : "(none yet)"],
    ["wall time (min)", firstStart ? Math.round(((now - firstStart) / 60) * 10) / 10 : 0],
    ["quests", Object.keys(byState).sort().map((k) => `${k.toLowerCase()}=${byState[k]}`).join(" ")],
  ].map(([field, value]) => ({ field, value }));
  if (curriculumError) summary.push({ field: "curriculum", value: `unreachable: ${curriculumError}` });
  const levels = skills.flatMap((s) => s.levels.map((c) => ({ skill: s.skill, from: `L${c.from}`, level: `L${c.to}`,
    minutes: minutes(c.at, origin), time: shortTime(c.at), "mean accuracy": c.mean, checkpoint: c.checkpoint })))
    .sort((a, b) => (a.minutes ?? 0) - (b.minutes ?? 0));
  const standing = skills.map((s) => ({ skill: s.skill, mastered: s.mastered, training: s.training, max: s.max,
    "level-ups": s.levels.length }));
  const trials = [];
  const regimes = new Map();
  for (const ev of evaluations) {
    const at = seconds(ev.end_time) || seconds(ev.create_time);
    const state = strip(ev.state, "EVALUATION_STATE_");
    for (const r of ev.results || []) {
      const regime = strip(r.regime, "REGIME_").toLowerCase();
      const skill = strip(r.skill, "skills/");
      trials.push({ minutes: minutes(at, origin), step: stepOf[ev.checkpoint] ?? "", skill, level: r.level || 0, regime,
        accuracy: round4(r.accuracy), correct: `${r.correct || 0}/${r.total || 0}`, full: ev.full ? "yes" : "",
        evaluation: ev.name });
      if (state !== "SUCCEEDED") continue;
      const key = `${skill}\u0000${r.level || 0}\u0000${regime}`;
      if (!regimes.has(key)) regimes.set(key, { skill, level: r.level || 0, regime, values: [] });
      regimes.get(key).values.push(round4(r.accuracy));
    }
  }
  const byRegime = [...regimes.values()].sort((a, b) => a.skill.localeCompare(b.skill) || a.level - b.level
    || a.regime.localeCompare(b.regime)).map((x) => ({ skill: x.skill, level: x.level, regime: x.regime,
    trials: x.values.length, first: x.values[0], last: x.values[x.values.length - 1], best: Math.max(...x.values) }));
  return {
    campaign, progress, evaluations,
    report: { curriculumError, tables: [
      { title: "Campaign", columns: ["field", "value"], rows: summary },
      { title: "Skills", columns: ["skill", "mastered", "training", "max", "level-ups"], rows: standing },
      { title: "Levels reached", columns: ["skill", "from", "level", "minutes", "time", "mean accuracy", "checkpoint"],
        rows: levels },
      { title: "Trials", columns: ["minutes", "step", "skill", "level", "regime", "accuracy", "correct", "full"],
        rows: trials },
      { title: "Accuracy by level and regime (held_out: eval problems never trained on)",
        columns: ["skill", "level", "regime", "trials", "first", "last", "best"], rows: byRegime },
    ] },
  };
}
