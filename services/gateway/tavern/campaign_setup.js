// A campaign's setup on the Campaigns page: its mantra (base system prompt, applied the same way when training and
// when chatting with its checkpoints), the fields locked when its first quest started, and a fork from a checkpoint
// (the way to change a locked field). Trainer API: PATCH campaigns/{c}?update_mask=mantra, POST campaigns:fork.
import { api } from "./api.js";
import { fill, fmtTime, h, text, toast } from "./dom.js";

const RULES = [["MANTRA_RULE_KEEP", "keep — rows with their own system turn keep it"],
  ["MANTRA_RULE_REPLACE", "replace — the mantra replaces a row's system turn"]];
const DEFAULT_MANTRA = "Today is {date}. You are happy. You enjoy helping others.";

function mantraForm(campaign, ctx, onSaved) {
  const mantra = campaign.mantra || {};
  const area = h("textarea", { rows: 3, maxlength: 8000, "data-field": "mantra", "aria-label": "Mantra" });
  area.value = mantra.text ?? DEFAULT_MANTRA;
  const rule = h("select", { "data-field": "mantra_rule", "aria-label": "Rule for rows with a system turn" },
    RULES.map(([value, label]) => h("option", { value, selected: value === (mantra.rule || "MANTRA_RULE_KEEP") },
      label)));
  const message = h("p.error", { role: "alert" });
  const save = h("button.primary", { type: "submit", disabled: !ctx.canWrite }, "Save mantra");
  return h("form", {
    "aria-label": "Mantra", "data-form": "mantra",
    onsubmit: async (event) => {
      event.preventDefault();
      text(message, "");
      save.disabled = true;
      try {
        const updated = (await api.patch(campaign.name, { name: campaign.name,
          mantra: { text: area.value, rule: rule.value } }, { update_mask: "mantra" })).campaign;
        toast(`Mantra saved (version ${updated.mantra.version})`, "ok");
        onSaved(updated);
      } catch (error) {
        text(message, error.message);
      } finally {
        save.disabled = !ctx.canWrite;
      }
    },
  },
  h("h3", {}, "Mantra"),
  h("p.muted", {}, "The base system prompt: {date} is filled with the day it is used. Empty = no mantra. ",
    `Version ${mantra.version || 1}`, mantra.update_time ? ` · changed ${fmtTime(mantra.update_time)}` : ""),
  area, rule, message, h("div.row", {}, save, h("button", { type: "button", disabled: !ctx.canWrite,
    onclick: () => { area.value = DEFAULT_MANTRA; } }, "Default text")));
}

function lockedList(campaign) {
  const locked = campaign.locked_fields || [];
  if (!locked.length) return h("p.muted", { "data-list": "locked" }, "Nothing locked yet: base model, architecture, "
    + "tokenizer, chat template and max sequence length are fixed when the first quest starts.");
  return h("div", { "data-list": "locked" }, h("p.muted", {}, `Locked since ${fmtTime(campaign.lock_time)}: fork `
    + "a new campaign from a checkpoint to change one."),
  h("dl.kv", {}, locked.flatMap((f) => [h("dt", {}, f.field), h("dd", {}, h("code", {}, f.value))])));
}

function forkForm(campaign, ctx, onForked) {
  const checkpoint = h("input", { required: true, "data-field": "fork_checkpoint",
    value: `${campaign.name}/aliases/latest` });
  const name = h("input", { required: true, maxlength: 120, "data-field": "fork_name",
    value: `${campaign.display_name || campaign.name} fork` });
  const seq = h("input", { type: "number", min: "16", step: "1", "data-field": "fork_max_seq_len",
    placeholder: "keep", "aria-label": "max_seq_len of the fork" });
  const message = h("p.error", { role: "alert" });
  const submit = h("button", { type: "submit", disabled: !ctx.canWrite }, "Fork");
  return h("form", {
    "aria-label": "Fork from a checkpoint", "data-form": "fork",
    onsubmit: async (event) => {
      event.preventDefault();
      text(message, "");
      submit.disabled = true;
      try {
        const overrides = seq.value ? { max_seq_len: Number(seq.value) } : {};
        const fork = (await api.post("campaigns:fork", { checkpoint: checkpoint.value.trim(),
          display_name: name.value.trim(), config_overrides: overrides })).campaign;
        toast(`Forked ${fork.display_name} from ${fork.forked_from}`, "ok");
        onForked(fork);
      } catch (error) {
        text(message, error.message);
      } finally {
        submit.disabled = !ctx.canWrite;
      }
    },
  },
  h("h3", {}, "Fork from a checkpoint"),
  h("div.form-grid", {}, h("label", {}, "Checkpoint (assets/…, an alias or a directory)", checkpoint),
    h("label", {}, "Name", name), h("label", {}, "max_seq_len", seq)),
  message, submit);
}

// The setup panel of one campaign (mantra, locked fields, fork): re-drawn in place after a mantra save;
// onForked(newCampaign) after a fork.
export function setupPanel(campaign, ctx, onForked) {
  const section = h("section.card", { "data-panel": "setup" });
  const draw = (current) => fill(section, mantraForm(current, ctx, draw), h("h3", {}, "Locked fields"),
    lockedList(current), forkForm(current, ctx, onForked),
    current.forked_from ? h("p.muted", { "data-field": "forked_from" }, `Forked from ${current.forked_from}`) : null);
  draw(campaign);
  return section;
}
