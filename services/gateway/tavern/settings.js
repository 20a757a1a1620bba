// Settings: the effective configuration (GET /api/config, secrets redacted by the gateway), the VRAM calculator
// (the trainer's EstimateMemory RPC: the numbers shown are its numbers) with the measured peak of past runs beside
// it, and a dry-run of a training config (ValidateTrainingConfig) that lists every error at once.
import { api, listAll, num } from "./api.js";
import { badge, button, field, fill, fmtBytes, fmtNumber, h, shortName, text, toast } from "./dom.js";

const PRECISIONS = ["bf16", "fp32", "fp16", "int8", "nf4"];
const OPTIMIZERS = ["adamw", "adamw_8bit", "paged_adamw_8bit", "muon", "sgd"];
const GIB = 2 ** 30;

// -- effective configuration -------------------------------------------------------------------------------------
function configTree(value, path = "") {
  if (value && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value);
    if (!entries.length) return h("span.muted", {}, Array.isArray(value) ? "[]" : "{}");
    return h("dl.kv.config", {}, entries.flatMap(([key, item]) => {
      const child = path ? (key.startsWith("[") ? `${path}${key}` : `${path}.${key}`) : key;
      return [h("dt", {}, key), h("dd", { "data-key": child }, configTree(item, child))];
    }));
  }
  const word = value === null ? "null" : String(value);
  return word === "[redacted]" ? h("span.badge.redacted", {}, "redacted") : h("code", {}, word);
}

async function configCard(box) {
  try {
    const view = await api.get("/api/config");
    const sections = Object.entries(view.settings || {});
    fill(box, h("h2", {}, "Effective configuration"),
      h("p.muted", {}, view.source ? ["From ", h("code", {}, view.source), " with REALM__* overrides, as the gateway loaded it."]
        : "As the gateway loaded it (realm.yaml with REALM__* overrides)."),
      h("p.muted", {}, `${(view.redacted || []).length} secret value(s) redacted; token references (env, file) shown.`),
      sections.map(([name, value], i) => h("details", { open: i < 1 ? true : false, "data-section": name },
        h("summary", {}, name), configTree(value, name))));
  } catch (error) {
    fill(box, h("h2", {}, "Effective configuration"), h("p.error", { role: "alert" }, error.message));
  }
}

// -- VRAM calculator ---------------------------------------------------------------------------------------------
export function estimateRequest(form) {
  const rank = Number(form.rank.value || 0);
  return {
    hero: form.hero.value,
    precision: `PRECISION_${form.precision.value.toUpperCase()}`,
    optimizer: `OPTIMIZER_KIND_${form.optimizer.value.toUpperCase()}`,
    lora: { enabled: rank > 0, rank, alpha: 2 * rank, quantize_base_4bit: form.precision.value === "nf4" && rank > 0 },
    micro_batch_size: Number(form.batch.value || 1),
    sequence_length: Number(form.seq.value || 2048),
    gradient_checkpointing: form.checkpointing.checked,
  };
}

async function measuredPeaks(hero) {
  // The trainer logs memory_bytes with every step: the series' bucket max is each campaign's measured peak.
  const campaigns = (await listAll("campaigns", "campaigns", { hero, page_size: 200 })).slice(-8);
  const peaks = await Promise.all(campaigns.map(async (c) => {
    try {
      const series = await api.get(`${c.name}/metrics:series`, { metric: "memory_bytes", max_points: 1 });
      const peak = Math.max(0, ...(series.buckets || []).map((b) => b.max || 0));
      return { campaign: c, peak, steps: num(series.points) };
    } catch { return { campaign: c, peak: 0, steps: 0 }; }
  }));
  return peaks.filter((p) => p.peak > 0);
}

function calculatorCard(box, heroes) {
  const form = {
    hero: h("select", { "data-field": "hero" }, heroes.map((x) => h("option", { value: x.name },
      `${x.display_name || shortName(x.name)} · ${fmtNumber(num(x.parameter_count))} params`))),
    precision: h("select", { "data-field": "precision" }, PRECISIONS.map((p) => h("option", { value: p }, p))),
    optimizer: h("select", { "data-field": "optimizer" }, OPTIMIZERS.map((o) => h("option", { value: o }, o))),
    rank: h("input", { type: "number", min: "0", max: "4096", value: "0", "data-field": "lora_rank" }),
    seq: h("input", { type: "number", min: "16", max: "1048576", value: "2048", "data-field": "sequence_length" }),
    batch: h("input", { type: "number", min: "1", max: "4096", value: "1", "data-field": "micro_batch_size" }),
    checkpointing: h("input", { type: "checkbox", "data-field": "gradient_checkpointing" }),
  };
  const result = h("div", { "aria-live": "polite", "data-panel": "estimate" });
  const peaksBox = h("div", { "data-panel": "peaks" });
  let pending = 0;

  async function recompute() {
    const mine = ++pending;
    try {
      const estimate = await api.post("memory:estimate", estimateRequest(form));
      if (mine !== pending) return;
      const total = num(estimate.total_bytes);
      fill(result, h("div.scroll-x", {}, h("table.data.estimate", { "data-table": "estimate" },
        h("thead", {}, h("tr", {}, ["Part", "Bytes", "GiB", "Share", "How"].map((c) => h("th", { scope: "col",
          class: c === "Share" ? "share" : c === "How" ? "how" : "" }, c)))),
        h("tbody", {}, (estimate.components || []).map((c) => {
          const bytes = num(c.bytes);
          const bar = h("div", { style: { width: `${total ? (100 * bytes) / total : 0}%` } });
          return h("tr", { "data-component": c.name },
            h("td", {}, c.name, h("small.formula.muted", {}, c.formula || "")),
            h("td.num", { "data-bytes": String(bytes) }, bytes.toLocaleString("en")),
            h("td.num", {}, (bytes / GIB).toFixed(3)), h("td.share", {}, h("div.progress.share", {}, bar)),
            h("td.muted.how", {}, c.formula || ""));
        }), h("tr.total", { "data-component": "total" }, h("th", { scope: "row" }, "total"),
          h("td.num", { "data-bytes": String(total) }, total.toLocaleString("en")),
          h("td.num", { "data-gib": String(estimate.total_gib) }, Number(estimate.total_gib || 0).toFixed(3)),
          h("td.share"), h("td.muted.how", {}, `${fmtNumber(num(estimate.trainable_parameters))} trainable parameters`))))));
    } catch (error) {
      if (mine === pending) fill(result, h("p.error", { role: "alert" }, error.message));
    }
  }

  async function loadPeaks() {
    fill(peaksBox, h("p.muted", {}, "Reading measured peaks…"));
    try {
      const peaks = await measuredPeaks(form.hero.value);
      fill(peaksBox, h("h3", {}, "Measured peak of past runs"), peaks.length
        ? h("ul", { "data-list": "peaks" }, peaks.map((p) => h("li", { "data-campaign": p.campaign.name },
          h("strong", { "data-peak": String(p.peak) }, fmtBytes(p.peak)), ` — ${p.campaign.display_name || p.campaign.name}`,
          h("span.muted", {}, ` (${fmtNumber(p.steps)} logged steps; the worker's own peak, with its config)`))))
        : h("p.muted", {}, "No run of this hero has logged memory yet."));
    } catch (error) {
      fill(peaksBox, h("p.error", {}, error.message));
    }
  }

  for (const control of Object.values(form)) control.addEventListener("change", recompute);
  form.hero.addEventListener("change", loadPeaks);
  fill(box, h("h2", {}, "VRAM calculator"),
    h("p.muted", {}, "The trainer's own estimate (EstimateMemory): weights, gradients, optimizer state, activations."),
    h("div.form-grid", {}, field("Hero", form.hero), field("Precision", form.precision, "nf4 = QLoRA base"),
      field("Optimizer", form.optimizer), field("LoRA rank", form.rank, "0 = full fine-tune"),
      field("Sequence length", form.seq), field("Micro-batch", form.batch),
      h("label.check", {}, form.checkpointing, " Gradient checkpointing")),
    h("div.row", {}, button("Estimate", recompute, { class: "primary", "data-action": "estimate" })),
    result, peaksBox);
  if (heroes.length) { recompute(); loadPeaks(); }
}

// -- dry-run -----------------------------------------------------------------------------------------------------
// Overrides as JSON ({"learning_rate": 0.001}) or one `key: value` per line (values parsed as JSON when they can be).
export function parseOverrides(source) {
  const trimmed = source.trim();
  if (!trimmed) return {};
  if (trimmed.startsWith("{")) return JSON.parse(trimmed);
  const result = {};
  for (const [index, line] of trimmed.split("\n").entries()) {
    if (!line.trim() || line.trim().startsWith("#")) continue;
    const cut = line.search(/[:=]/);
    if (cut < 1) throw new Error(`line ${index + 1}: expected key: value, got ${JSON.stringify(line)}`);
    const key = line.slice(0, cut).trim(), raw = line.slice(cut + 1).trim();
    let value = raw;
    try { value = JSON.parse(raw); } catch { /* a bare word stays a string */ }
    result[key] = value;
  }
  return result;
}

function dryRunCard(box, heroes, campaigns) {
  const target = h("select", { "data-field": "target" },
    h("optgroup", { label: "Campaigns (hero defaults + campaign overrides)" },
      campaigns.map((c) => h("option", { value: c.name }, c.display_name || c.name))),
    h("optgroup", { label: "Heroes (their defaults)" }, heroes.map((x) => h("option", { value: x.name },
      x.display_name || x.name))));
  const overrides = h("textarea", { rows: 6, spellcheck: "false", "data-field": "overrides",
    placeholder: "learning_rate: 0.001\nmicro_batch_size: 4\nlora: {\"enabled\": true, \"rank\": 8}" });
  const result = h("div", { "aria-live": "polite", "data-panel": "dry-run" });
  async function check() {
    let parsed;
    try { parsed = parseOverrides(overrides.value); } catch (error) {
      fill(result, h("p.error", { role: "alert" }, `Overrides: ${error.message}`));
      return;
    }
    const isCampaign = target.value.startsWith("campaigns/");
    try {
      const reply = await api.post("trainingConfig:validate", { hero: isCampaign ? "" : target.value,
        campaign: isCampaign ? target.value : "", overrides: parsed });
      const problems = reply.problems || [];
      fill(result, reply.valid
        ? [h("p", {}, badge("valid", "ok"), " A quest started now would train with this config ",
          h("span.muted", {}, `(sha256 ${String(reply.config_hash).slice(0, 16)}…)`)),
        h("details", {}, h("summary", {}, "Resolved config"), configTree(reply.config || {}))]
        : [h("p", {}, badge(`${problems.length} problem${problems.length === 1 ? "" : "s"}`, "error"),
          " Nothing was started."),
        h("table.data", { "data-table": "problems" },
          h("thead", {}, h("tr", {}, ["Key", "From", "Problem"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, problems.map((p) => h("tr", { "data-problem": p.field },
            h("td", {}, h("code", {}, p.field)), h("td.muted", {}, p.origin), h("td", {}, p.message)))))]);
    } catch (error) {
      fill(result, h("p.error", { role: "alert" }, error.message));
      toast(error.message, "error");
    }
  }
  fill(box, h("h2", {}, "Dry-run a training config"),
    h("p.muted", {}, "Checks every key before anything starts and lists every error at once."),
    field("Config of", target), field("Overrides to try", overrides, "JSON, or one key: value per line"),
    h("div.row", {}, button("Check config", check, { class: "primary", "data-action": "dry-run" })), result);
}

export default {
  title: "Settings",
  async mount(root) {
    const calculator = h("div.card", { "aria-label": "VRAM calculator" });
    const dryRun = h("div.card", { "aria-label": "Dry-run" });
    const config = h("div.card", { "aria-label": "Effective configuration" }, h("p.muted", {}, "Loading…"));
    fill(root, h("h1", {}, "Settings"), h("div.grid", {}, calculator, dryRun), config);
    configCard(config);
    let heroes = [], campaigns = [];
    try {
      [heroes, campaigns] = await Promise.all([listAll("heroes", "heroes"), listAll("campaigns", "campaigns")]);
    } catch (error) {
      text(calculator, `Heroes unavailable: ${error.message}`);
      root.dataset.ready = "true";
      return null;
    }
    calculatorCard(calculator, heroes);
    dryRunCard(dryRun, heroes, campaigns);
    root.dataset.ready = "true";
    return null;
  },
};
