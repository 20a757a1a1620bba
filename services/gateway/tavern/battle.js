// Battle: the hero, the running quest, live loss and tokens/s charts, trial accuracy, and the run's controls.
// The charts load the downsampled series once, then follow the trainer's events from the series' last_sequence,
// so a reload or a reconnect neither loses nor doubles a step.
import { api, currentCampaign, listAll, num, stream } from "./api.js";
import { Chart } from "./chart.js";
import { loopTimeCard } from "./depth_panels.js";
import { badge, button, enumWord, fill, fmtBytes, fmtDuration, fmtNumber, h, text, toast } from "./dom.js";

function stat(label, key) {
  const value = h("span.v", { "data-stat": key }, "—");
  return { el: h("div.stat", {}, h("span.k", {}, label), value), value };
}

export default {
  title: "Battle",
  async mount(root, ctx) {
    const campaign = await currentCampaign({ refresh: true });
    if (!campaign) {
      fill(root, h("h1", {}, "Battle"), h("p.muted", {}, "No campaign yet: create one on the Campaigns page."));
      return null;
    }
    const heroCard = h("div.card.hero", { "aria-label": "Hero" });
    const questCard = h("div.card.quest", { "aria-label": "Running quest" });
    const chartsCard = h("div.card");
    const trialsCard = h("div.card", {}, h("h2", {}, "Trials"));
    const liveState = h("span.muted", { "data-stream": "state" }, "connecting…");
    fill(root, h("div.row.spread", {}, h("h1", {}, "Battle"), liveState),
      h("div.grid", {}, heroCard, questCard), chartsCard, trialsCard);
    const loopTime = loopTimeCard(campaign.name);
    root.append(loopTime.el);

    // -- running quest ------------------------------------------------------------------------------------------
    const stats = Object.fromEntries([
      ["step", "Step"], ["quest_step", "Quest step"], ["loss", "Loss"], ["tps", "Tokens/s"], ["eta", "ETA"],
      ["memory", "Memory"], ["lr", "Learning rate"], ["tokens", "Trained tokens"],
    ].map(([key, label]) => [key, stat(label, key)]));
    const bar = h("div");
    const progress = h("div.progress", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-label": "Quest progress" }, bar);
    const runLine = h("p", { "data-run": "state" });
    const disabled = !ctx.canWrite;
    let running = { state: "", quest: "" };
    const control = (label, action, body) => button(label, async () => {
      try {
        const reply = await api.post(`run:${action}`, body());
        showRun(reply.status || {});
        toast(`${label}: ${enumWord(reply.status?.state, "RUN_STATE_")}`, "ok");
      } catch (error) { toast(`${label} failed: ${error.message}`, "error"); }
    }, { disabled, "data-action": action });
    fill(questCard, h("h2", {}, "Running quest"), runLine, progress,
      h("div.stats", {}, Object.values(stats).map((s) => s.el)),
      h("div.row", {}, control("Pause", "pause", () => ({ reason: "paused from the Tavern" })),
        control("Resume", "resume", () => ({})),
        control("Stop", "stop", () => ({ reason: "stopped from the Tavern" })),
        control("Skip quest", "skip", () => ({ name: running.quest, reason: "skipped from the Tavern" }))),
      disabled ? h("p.muted", {}, "Your role can watch but not steer.") : null);

    function showStep(step) {
      if (!step) return;
      text(stats.step.value, fmtNumber(num(step.global_step)));
      const total = num(step.quest_steps_total), done = num(step.quest_step);
      text(stats.quest_step.value, total ? `${done} / ${total}` : fmtNumber(done));
      text(stats.loss.value, fmtNumber(step.loss));
      text(stats.tps.value, fmtNumber(Math.round(step.tokens_per_second || 0)));
      text(stats.eta.value, fmtDuration(step.eta_seconds));
      const memory = step.memory || {};
      text(stats.memory.value, memory.peak_bytes || memory.allocated_bytes
        ? `${fmtBytes(num(memory.allocated_bytes))} (peak ${fmtBytes(num(memory.peak_bytes))}) ${memory.device || ""}`
        : "—");
      text(stats.lr.value, fmtNumber(step.learning_rate));
      text(stats.tokens.value, fmtNumber(num(step.trained_tokens)));
      const percent = total ? Math.min(100, (100 * done) / total) : 0;
      bar.style.width = `${percent}%`;
      progress.setAttribute("aria-valuenow", percent.toFixed(0));
      progress.setAttribute("aria-valuetext", total ? `${done} of ${total} steps` : "no quest running");
    }

    function showRun(status) {
      running = { state: status.state || "", quest: status.quest || "" };
      const word = enumWord(status.state, "RUN_STATE_");
      fill(runLine, badge(word), " ", status.quest ? h("code", { "data-quest": status.quest }, status.quest)
        : h("span.muted", {}, "no quest running"), status.message ? h("span.muted", {}, ` — ${status.message}`) : "",
        ` · ${num(status.queued_quests)} queued`);
      showStep(status.last_step);
    }

    // -- hero card ----------------------------------------------------------------------------------------------
    async function showHero() {
      const [hero, heroProgress, skills] = await Promise.all([
        api.get(campaign.hero).then((r) => r.hero).catch(() => ({ name: campaign.hero })),
        api.get(`${campaign.name}/progress`).then((r) => r.progress).catch(() => null),
        api.get(`${campaign.name}/curriculum`).then((r) => r.progress.skills || []).catch(() => []),
      ]);
      const xp = heroProgress ? num(heroProgress.xp) : 0, next = heroProgress ? num(heroProgress.xp_for_next_level) : 0;
      const xpBar = h("div");
      xpBar.style.width = `${next ? Math.min(100, (100 * xp) / next) : 0}%`;
      fill(heroCard, h("h2", {}, hero.display_name || hero.name),
        h("p.muted", {}, `${hero.architecture || "model"} · ${fmtNumber(num(hero.parameter_count))} parameters · `
          + `base ${hero.model_dir || "?"}`),
        h("p", {}, `Campaign `, h("strong", {}, campaign.display_name || campaign.name), " ",
          badge(enumWord(campaign.state, "CAMPAIGN_STATE_"))),
        heroProgress ? [
          h("p", {}, h("strong", { "data-hero": "level" }, `Hero level ${heroProgress.level || 0}`),
            ` · ${fmtNumber(xp)} / ${fmtNumber(next)} XP`),
          h("div.progress", { role: "progressbar", "aria-label": "XP to next level",
            "aria-valuenow": String(next ? Math.round((100 * xp) / next) : 0) }, xpBar),
          h("p.muted", {}, heroProgress.xp_definition || ""),
        ] : null,
        skills.length ? h("table.data", { "aria-label": "Skill levels" },
          h("thead", {}, h("tr", {}, h("th", {}, "Skill"), h("th", {}, "Mastered"), h("th", {}, "Training"))),
          h("tbody", {}, skills.map((s) => h("tr", {}, h("td", {}, s.skill),
            h("td", {}, badge(`L${s.mastered_level || 0}`, "mastered")),
            h("td", {}, badge(`L${s.training_level || 0}${s.training_level_overridden ? " (set)" : ""}`,
              "training")))))) : h("p.muted", {}, "No skills reported by the curriculum yet."));
      return skills;
    }

    function showTrials(skills) {
      const rows = skills.flatMap((s) => (s.accuracy_history || []).map((p) => ({ skill: s.skill, ...p })))
        .sort((a, b) => num(b.global_step) - num(a.global_step)).slice(0, 30);
      const meter = (accuracy) => { const m = h("div"); m.style.width = `${Math.round(100 * (accuracy || 0))}%`; return m; };
      fill(trialsCard, h("h2", {}, "Trials: accuracy per evaluation"), rows.length ? h("div.scroll-x", {},
        h("table.data.responsive", {}, h("thead", {}, h("tr", {}, ["Step", "Skill", "Level", "Accuracy", "",
          "Checkpoint"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows.map((p) => h("tr", {},
          h("td", { "data-label": "Step" }, fmtNumber(num(p.global_step))),
          h("td", { "data-label": "Skill" }, p.skill), h("td", { "data-label": "Level" }, `L${p.level || 0}`),
          h("td", { "data-label": "Accuracy" }, `${(100 * (p.accuracy || 0)).toFixed(1)} %`,
            p.flagged ? h("span.muted", {}, ` ⚑ ${p.flag_reason || "flagged"}`) : ""),
          h("td", { "data-label": "" }, h("div.progress", { "aria-hidden": "true" }, meter(p.accuracy))),
          h("td", { "data-label": "Checkpoint" }, p.checkpoint ? h("a", {
            href: `#/vault?asset=${encodeURIComponent(p.checkpoint)}` }, p.checkpoint) : "—"))))))
        : h("p.muted", {}, "No trials yet: each new checkpoint is evaluated on its skills' frozen eval sets."));
    }

    // -- charts -------------------------------------------------------------------------------------------------
    const loadSeries = (metric) => ({ start, end, maxPoints, smoothing, weight }) =>
      api.get(`${campaign.name}/metrics:series`, { metric, start_step: start, end_step: end, max_points: maxPoints,
        smoothing: smoothing === "ema" ? "SMOOTHING_KIND_EMA" : "SMOOTHING_KIND_NONE", smoothing_weight: weight });
    const openCheckpoint = (step, marker) => {
      if (marker) ctx.navigate("vault", { asset: marker.asset });
      else toast(`No checkpoint near step ${step} yet`);
    };
    const lossBox = h("div"), tpsBox = h("div");
    fill(chartsCard, h("h2", {}, "Live charts"), h("div.grid", {}, lossBox, tpsBox));
    const loss = new Chart(lossBox, { title: "Loss", name: "loss", load: loadSeries("loss"), onPick: openCheckpoint });
    const tps = new Chart(tpsBox, { title: "Tokens per second", name: "tokens_per_second", weight: 0.6,
      load: loadSeries("tokens_per_second"), onPick: openCheckpoint, showRaw: true });
    root.tavernCharts = { loss, tps };

    const [lossSeries, , status] = await Promise.all([loss.reload(), tps.reload(),
      api.get("run").then((r) => r.status || {}).catch(() => ({}))]);
    showRun(status);
    root.dataset.ready = "true";
    showHero().then(showTrials).catch((error) => toast(error.message, "error"));
    listAll("checkpoints", "checkpoints", { campaign: campaign.name }, 20000).then((found) => {
      const markers = found.map((c) => ({ step: num(c.asset?.lineage?.global_step), asset: c.asset?.name }))
        .filter((m) => m.asset);
      loss.setMarkers(markers); tps.setMarkers(markers);
    }).catch(() => {});

    // -- live ---------------------------------------------------------------------------------------------------
    let refreshTimer = null;
    const refreshSoon = (what) => {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => {
        api.get("run").then((r) => showRun(r.status || {})).catch(() => {});
        if (what === "hero") showHero().then(showTrials).catch(() => {});
      }, 300);
    };
    const live = stream("events:stream", { after_sequence: num(lossSeries.last_sequence) }, {
      onState: (state) => text(liveState, state === "live" ? "● live" : state === "reconnecting" ? "○ reconnecting…" : state),
      onEvent: (data) => {
        const event = data.event || {};
        if (event.campaign && event.campaign !== campaign.name) return;
        if (event.kind === "EVENT_KIND_STEP" && event.step) {
          const step = num(event.step.global_step);
          loss.push(step, event.step.loss);
          tps.push(step, event.step.tokens_per_second);
          showStep(event.step);
        } else if (event.kind === "EVENT_KIND_CHECKPOINT_REGISTERED" && event.checkpoint) {
          loss.markers.push({ step: num(event.attributes?.global_step), asset: event.checkpoint });
          loss.setMarkers(loss.markers); tps.setMarkers(loss.markers);
        } else if (event.kind === "EVENT_KIND_LEVEL_UP") {
          refreshSoon("hero");
        } else {
          refreshSoon("run");
        }
      },
    });
    return () => { live.close(); loss.destroy(); tps.destroy(); clearTimeout(refreshTimer); loopTime.stop(); };
  },
};
