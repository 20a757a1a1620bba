// Oracle: chat with any checkpoint or alias, streamed token by token (REST models/{id}:chatStream as SSE);
// compare two side by side with the same sampling settings and the same seed; or blind: the two answers are shown
// as A and B in a random order, you vote A, B or tie, and only then learn which was which. Votes are kept by the
// curriculum (POST /api/v1/votes) next to its trials. Every reply is stamped with the model and the checkpoint
// (vault asset) that actually served it, read from the stream's GenerationSummary — not with what was asked.
import { api, currentCampaign, listAll, postStream } from "./api.js";
import { badge, button, field, fill, fmtNumber, h, shortName, text, toast } from "./dom.js";

const MAX_SEED = 2 ** 31 - 1;

export function modelId(value) {
  const v = String(value || "").trim();
  return v.startsWith("models/") ? v : `models/${v || "default"}`;
}

// models/best/bin -> models/best%2Fbin: the route takes one path segment after models/.
export function chatPath(model) {
  return `models/${encodeURIComponent(modelId(model).slice("models/".length))}:chatStream`;
}

function randomSeed() {
  const buffer = new Uint32Array(1);
  crypto.getRandomValues(buffer);
  return buffer[0] % MAX_SEED;
}

function stampOf(summary) {
  const s = summary || {};
  return h("p.stamp", { "data-served-model": s.model || "", "data-served-asset": s.asset || "" },
    "served by ", h("code", {}, s.model || "?"), " · checkpoint ",
    s.asset ? h("code.checkpoint", {}, s.asset) : h("span.muted", {}, "none (a local directory)"),
    s.source && s.source !== s.asset ? h("span.muted", {}, ` · from ${s.source}`) : "",
    h("span.muted", {}, ` · seed ${s.seed ?? "— (greedy)"} · ${s.generated_tokens || 0} tokens · `
      + `${fmtNumber(Math.round(s.tokens_per_second || 0))} tok/s · ${String(s.finish_reason || "").replace("FINISH_REASON_", "").toLowerCase()}`));
}

class Column {
  constructor(label, initial, options) {
    this.label = label;
    this.history = [];
    this.picker = h("input", { list: "oracle-models", value: initial, spellcheck: "false",
      "data-field": `model-${label}` });
    this.transcript = h("ol.transcript", { "aria-live": "polite", "data-column": label });
    this.title = h("h2", {}, label);
    this.pickerField = field("Checkpoint or alias", this.picker, options);
    this.slot = h("div", {}, this.pickerField); // blind mode moves the picker out, so a column never names it
    this.el = h("section.card.oracle-col", { "data-column": label }, this.title, this.slot, this.transcript);
  }

  clear() { this.history = []; fill(this.transcript); }

  // Streams one reply into a new bubble; resolves with the summary (what served it) and the text.
  async ask(user, system, parameters, signal, { hideStamp = false, model = this.picker.value } = {}) {
    const messages = [...(system ? [{ role: "system", content: system }] : []), ...this.history,
      { role: "user", content: user }];
    const body = h("div.reply-text");
    const stamp = h("div.stamp-box");
    const bubble = h("li.msg.assistant", { "data-state": "streaming" }, body, stamp);
    this.transcript.append(h("li.msg.user", {}, user), bubble);
    let reply = "", summary = null;
    try {
      await postStream(chatPath(model), { messages, parameters }, {
        signal,
        onEvent: (data) => {
          if (data.summary) { summary = data.summary; return; }
          const piece = data.text ?? data.token?.text ?? "";
          if (piece) { reply += piece; body.textContent = reply; }
        },
      });
    } catch (error) {
      bubble.dataset.state = "failed";
      stamp.append(h("p.error", { role: "alert" }, `${modelId(model)}: ${error.message}`));
      throw error;
    }
    bubble.dataset.state = "done";
    if (!reply) body.append(h("span.muted", {}, "(empty reply)"));
    this.history.push({ role: "user", content: user }, { role: "assistant", content: reply });
    const served = stampOf(summary);
    if (hideStamp) { served.hidden = true; served.dataset.blind = "true"; }
    stamp.append(served);
    return { summary: summary || {}, text: reply, model: modelId(model) };
  }
}

function tallyTable(tally) {
  const rows = tally.checkpoints || [];
  if (!rows.length) return h("p.muted", {}, "No vote yet.");
  return h("table.data", { "data-table": "tally" },
    h("thead", {}, h("tr", {}, ["Checkpoint", "Wins", "Losses", "Ties", "Votes"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", { "data-checkpoint": r.checkpoint },
      h("td", {}, h("code", {}, r.checkpoint)), h("td", {}, String(r.wins || 0)), h("td", {}, String(r.losses || 0)),
      h("td", {}, String(r.ties || 0)), h("td", {}, String(r.votes || 0))))));
}

export default {
  title: "Oracle",
  async mount(root, ctx) {
    const campaign = await currentCampaign().catch(() => null);
    const datalist = h("datalist", { id: "oracle-models" });
    const hint = "models/default, latest, best/bin, assets/… or any loaded model";
    const left = new Column("A", ctx.params.get("a") || "models/default", hint);
    const right = new Column("B", ctx.params.get("b") || "models/latest", hint);
    const mode = h("select", { "data-field": "mode", "aria-label": "Mode" },
      h("option", { value: "chat" }, "Chat with one"), h("option", { value: "compare" }, "Side by side"),
      h("option", { value: "blind" }, "Blind A/B vote"));
    mode.value = ["chat", "compare", "blind"].includes(ctx.params.get("mode")) ? ctx.params.get("mode") : "compare";
    const settings = {
      system: h("input", { placeholder: "optional system prompt", "data-field": "system" }),
      temperature: h("input", { type: "number", min: "0", max: "5", step: "0.05", value: "0.7", "data-field": "temperature" }),
      top_p: h("input", { type: "number", min: "0", max: "1", step: "0.05", value: "0.95", "data-field": "top_p" }),
      top_k: h("input", { type: "number", min: "0", step: "1", value: "0", "data-field": "top_k" }),
      max_new_tokens: h("input", { type: "number", min: "1", max: "4096", value: "128", "data-field": "max_new_tokens" }),
      seed: h("input", { type: "number", min: "0", max: String(MAX_SEED), placeholder: "random each turn", "data-field": "seed" }),
    };
    const prompt = h("textarea", { rows: 3, placeholder: "Ask the hero… (Ctrl+Enter sends)", "data-field": "prompt",
      "aria-label": "Message" });
    const send = h("button.primary", { type: "submit", "data-action": "send" }, "Send");
    const status = h("p.muted", { "aria-live": "polite", "data-panel": "status" });
    const voteBox = h("div.card.vote", { "data-panel": "vote", hidden: true });
    const tallyBox = h("div.card", { "data-panel": "tally" });
    const columns = h("div.oracle-cols");
    const contenders = h("div.card.contenders", { hidden: true });
    let controller = null;
    let round = null; // blind: {sides: [{model, summary}], prompt, seed}

    function layout() {
      const blind = mode.value === "blind";
      const two = mode.value !== "chat";
      fill(columns, left.el, two ? right.el : null);
      if (blind) {
        fill(contenders, h("h2", {}, "Contenders"), h("p.muted", {}, "Each round shows their answers as A and B in a "
          + "random order; which was which appears after your vote."), h("div.form-grid.two", {}, left.pickerField,
          right.pickerField));
      } else {
        fill(left.slot, left.pickerField); fill(right.slot, right.pickerField); fill(contenders);
      }
      contenders.hidden = !blind;
      columns.classList.toggle("two", two);
      text(left.title, mode.value === "chat" ? "Oracle" : "A");
      text(right.title, "B");
      text(left.pickerField.querySelector("label"), blind ? "Contender 1" : "Checkpoint or alias");
      text(right.pickerField.querySelector("label"), blind ? "Contender 2" : "Checkpoint or alias");
      voteBox.hidden = true;
      tallyBox.hidden = !blind;
      if (blind) loadTally();
    }

    function parameters(seed) {
      const p = { max_new_tokens: Number(settings.max_new_tokens.value || 128),
        temperature: Number(settings.temperature.value || 0), top_p: Number(settings.top_p.value || 0),
        top_k: Number(settings.top_k.value || 0) };
      if (p.temperature > 0) p.seed = seed;
      return p;
    }

    async function loadTally() {
      try {
        const tally = await api.get("votes:tally", { campaign: campaign?.name || "" });
        fill(tallyBox, h("h2", {}, `Blind votes${campaign ? ` · ${campaign.display_name || campaign.name}` : ""}`),
          h("p.muted", {}, `${tally.total_votes || 0} votes, kept by the curriculum.`), tallyTable(tally));
      } catch (error) {
        fill(tallyBox, h("h2", {}, "Blind votes"), h("p.error", {}, error.message));
      }
    }

    async function vote(choice) {
      if (!round) return;
      const [a, b] = round.sides;
      try {
        const reply = await api.post("votes", { vote_id: round.voteId, vote: {
          campaign: campaign?.name || "", prompt: round.prompt.slice(0, 16384), seed: round.seed || 0,
          choice: `VOTE_CHOICE_${choice}`, a: { model: a.model, asset: a.summary.asset || "" },
          b: { model: b.model, asset: b.summary.asset || "" } } });
        const pair = reply.pair || {};
        for (const el of root.querySelectorAll("[data-blind]")) el.hidden = false; // reveal the stamps
        fill(voteBox, h("p", { "data-vote": choice.toLowerCase() }, badge(`voted ${choice === "TIE" ? "tie" : choice}`, "ok"),
          " A was ", h("code", {}, a.summary.asset || a.model), ", B was ", h("code", {}, b.summary.asset || b.model), "."),
        h("p.muted", {}, `This pair so far: ${pair.first} ${pair.first_wins || 0} – ${pair.second_wins || 0} `
          + `${pair.second} · ${pair.ties || 0} ties`));
        round = null;
        loadTally();
      } catch (error) { toast(`Vote not recorded: ${error.message}`, "error"); }
    }

    async function submit(event) {
      event.preventDefault();
      const user = prompt.value.trim();
      if (!user) return;
      if (controller) controller.abort();
      controller = new AbortController();
      const signal = controller.signal;
      const seed = settings.seed.value === "" ? randomSeed() : Number(settings.seed.value);
      const params = parameters(seed);
      const blind = mode.value === "blind";
      prompt.value = "";
      send.disabled = true;
      text(status, params.seed !== undefined ? `Same settings and seed ${seed} for both.` : "Greedy decoding.");
      try {
        if (mode.value === "chat") {
          await left.ask(user, settings.system.value.trim(), params, signal);
        } else if (!blind) {
          await Promise.allSettled([left, right].map((c) => c.ask(user, settings.system.value.trim(), params, signal)));
        } else {
          // Shuffle which contender is shown as A; the stamps stay hidden until the vote.
          const models = [left.picker.value, right.picker.value];
          const flip = randomSeed() % 2 === 1;
          const order = flip ? [1, 0] : [0, 1];
          left.clear(); right.clear();
          text(left.title, "A"); text(right.title, "B");
          const results = await Promise.all([left, right].map((c, i) => c.ask(user, settings.system.value.trim(),
            params, signal, { hideStamp: true, model: models[order[i]] })));
          if (modelId(models[0]) === modelId(models[1])
              || (results[0].summary.asset && results[0].summary.asset === results[1].summary.asset)) {
            toast("Both answers came from the same checkpoint: pick two different ones to vote.", "error");
          } else {
            round = { sides: results, prompt: user, seed: params.seed || 0, voteId: `v-${randomSeed().toString(36)}-${Date.now().toString(36)}` };
            fill(voteBox, h("p", {}, "Which answer is better?"), h("div.row", {},
              button("A is better", () => vote("A"), { class: "primary", "data-vote": "a", disabled: !ctx.canWrite }),
              button("Tie", () => vote("TIE"), { "data-vote": "tie", disabled: !ctx.canWrite }),
              button("B is better", () => vote("B"), { class: "primary", "data-vote": "b", disabled: !ctx.canWrite })),
            ctx.canWrite ? null : h("p.muted", {}, "Voting needs the admin role."));
            voteBox.hidden = false;
          }
        }
      } catch (error) {
        if (error.name !== "AbortError") toast(error.message, "error");
      } finally {
        send.disabled = false;
      }
    }

    const form = h("form.card.composer", { onsubmit: submit }, prompt, h("div.row", {}, send,
      button("New conversation", () => { left.clear(); right.clear(); voteBox.hidden = true; round = null; },
        { "data-action": "clear" }), status));
    prompt.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    mode.addEventListener("change", () => { left.clear(); right.clear(); round = null; layout(); });
    fill(root, datalist, h("div.row.spread", {}, h("h1", {}, "Oracle"), field("Mode", mode)),
      h("details.card.sampling", { open: true }, h("summary", {}, "Sampling (the same for both sides)"),
        h("div.form-grid", {}, field("System", settings.system), field("Temperature", settings.temperature, "0 = greedy"),
          field("Top-p", settings.top_p), field("Top-k", settings.top_k, "0 = off"),
          field("Max new tokens", settings.max_new_tokens), field("Seed", settings.seed, "empty = a fresh one, shared"))),
      contenders, columns, form, voteBox, tallyBox);
    layout();

    // Suggestions: loaded models, the campaign's aliases and its newest checkpoints.
    try {
      const [models, aliases, checkpoints] = await Promise.all([
        listAll("models", "models").catch(() => []),
        campaign ? listAll(`${campaign.name}/aliases`, "aliases").catch(() => []) : [],
        campaign ? api.get("checkpoints", { campaign: campaign.name, page_size: 20 }).then((r) => r.checkpoints || r.assets || [])
          .catch(() => []) : [],
      ]);
      const options = new Map([["models/default", "the served default"]]);
      for (const m of models) options.set(m.name, `loaded · ${m.asset || m.source || ""}`);
      for (const a of aliases) options.set(`models/${a.name}`, `alias ${shortName(a.name)} → ${a.asset}`);
      for (const c of checkpoints) {
        const name = c.name || c.asset?.name;
        if (name) options.set(`models/${name}`, `checkpoint ${c.display_name || c.asset?.display_name || ""}`);
      }
      fill(datalist, [...options].map(([value, label]) => h("option", { value }, label)));
    } catch { /* suggestions only */ }
    root.dataset.ready = "true";
    return () => { if (controller) controller.abort(); };
  },
};
