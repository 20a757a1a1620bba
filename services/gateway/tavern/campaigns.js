// Campaigns: create one (hero, skills and their weights, scheduling preset), activate, archive; milestones; and
// the timeline `realm campaign report` prints (levels reached, trials, accuracy per level and regime) as a page.
// Skill weights and the preset belong to the curriculum (it schedules); the campaign itself to the trainer.
import { api, listAll, num } from "./api.js";
import { report as buildReport } from "./campaign_report.js";
import { setupPanel } from "./campaign_setup.js";
import { campaignDepth } from "./depth_panels.js";
import { badge, button, enumWord, field, fill, fmtNumber, fmtTime, h, shortName, text, toast } from "./dom.js";

const PRESETS = [
  ["", "the hero's idle default"], ["equal", "equal — every enabled skill the same share"],
  ["weighted", "weighted — by the weights above"], ["lowest_first", "lowest first — the weakest skill"],
  ["catch_up", "catch up — skills behind the leader"], ["round_robin", "round robin — one skill per batch"],
];

function table(columns, rows, attrs = {}) {
  return h("div.scroll-x", {}, h("table.data.responsive", attrs,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((row) => h("tr", row.attrs || {}, row.cells.map((cell, i) =>
      h("td", { "data-label": columns[i] }, cell)))))));
}

function createForm(heroes, skills, ctx, onCreated) {
  const name = h("input", { required: true, maxlength: 120, "data-field": "display_name" });
  const id = h("input", { pattern: "[a-z0-9][a-z0-9-]*", maxlength: 63, placeholder: "minted from the name",
    "data-field": "campaign_id" });
  const hero = h("select", { "data-field": "hero" }, heroes.map((x) => h("option", { value: x.name },
    `${x.display_name || shortName(x.name)} (${shortName(x.name)})`)));
  const start = h("input", { placeholder: "empty = the hero's base model", "data-field": "starting_checkpoint" });
  const rows = skills.map((skill) => {
    const on = h("input", { type: "checkbox", checked: true, "data-skill": shortName(skill.name) });
    const weight = h("input", { type: "number", min: "0", step: "any", value: "1", class: "weight",
      "aria-label": `weight of ${skill.display_name || skill.name}`, "data-weight": shortName(skill.name) });
    return { skill, on, weight, el: h("div.row.skill-pick", {}, h("label.check", {}, on,
      ` ${skill.display_name || shortName(skill.name)}`), h("span.muted", {}, "weight"), weight) };
  });
  const preset = h("select", { "data-field": "preset" },
    PRESETS.map(([value, label]) => h("option", { value }, label)),
    skills.map((s) => h("option", { value: `focus:${shortName(s.name)}` }, `focus on ${shortName(s.name)} only`)));
  const activate = h("input", { type: "checkbox", "data-field": "activate" });
  const message = h("p.error", { role: "alert" });
  const submit = h("button.primary", { type: "submit", disabled: !ctx.canWrite }, "Create campaign");
  return h("form.card", {
    "aria-label": "New campaign",
    onsubmit: async (event) => {
      event.preventDefault();
      text(message, "");
      const chosen = rows.filter((r) => r.on.checked);
      if (!chosen.length) { text(message, "Pick at least one skill."); return; }
      submit.disabled = true;
      try {
        const campaign = (await api.post("campaigns", { display_name: name.value.trim(), hero: hero.value,
          starting_checkpoint: start.value.trim(), skills: chosen.map((r) => shortName(r.skill.name)) },
        { campaign_id: id.value.trim() })).campaign;
        // The curriculum keeps weights (every known skill, the unchosen ones disabled) and the preset.
        await api.put(`${campaign.name}/curriculum`, { preset: preset.value, skills: rows.map((r) => ({
          skill: r.skill.name, enabled: r.on.checked, weight: Number(r.weight.value || 0) })) });
        let created = campaign;
        if (activate.checked) created = (await api.post(`${campaign.name}:activate`, {})).campaign;
        toast(`Campaign ${created.display_name} created${activate.checked ? " and activated" : ""}`, "ok");
        event.target.reset();
        onCreated(created);
      } catch (error) {
        text(message, error.message);
      } finally {
        submit.disabled = !ctx.canWrite;
      }
    },
  },
  h("h2", {}, "New campaign"),
  h("div.form-grid", {}, field("Name", name), field("Id", id, "lower-case letters, digits and -"),
    field("Hero", hero), field("Starting checkpoint", start, "an asset (assets/…) or an alias")),
  h("fieldset", {}, h("legend", {}, "Skills and scheduling weights"), rows.map((r) => r.el)),
  field("Scheduling preset", preset, "how the hero loop splits generated quests between the skills"),
  h("label.check", {}, activate, " Activate now (the active campaign is the one that trains)"),
  message, h("div.row", {}, submit, ctx.canWrite ? null : h("span.muted", {}, "Your role can read, not create.")));
}

function stateBadge(state) {
  return badge(state, state === "active" ? "running" : state === "archived" ? "stopped" : state);
}

function campaignRow(campaign, ctx, refresh) {
  const state = enumWord(campaign.state, "CAMPAIGN_STATE_");
  const act = (label, verb) => button(label, async () => {
    try {
      await api.post(`${campaign.name}:${verb}`, {});
      toast(`${campaign.display_name}: ${verb}d`, "ok");
      refresh();
    } catch (error) { toast(`${label} failed: ${error.message}`, "error"); }
  }, { disabled: !ctx.canWrite, "data-action": verb });
  return { attrs: { "data-campaign": campaign.name, "data-state": state }, cells: [
    h("a", { href: `#/campaigns?c=${encodeURIComponent(campaign.name)}` }, campaign.display_name || campaign.name),
    shortName(campaign.hero), stateBadge(state),
    fmtNumber(num(campaign.global_step)), fmtNumber(num(campaign.trained_tokens)), fmtTime(campaign.create_time),
    h("div.row", {}, state !== "active" ? act("Activate", "activate") : null,
      state !== "archived" ? act("Archive", "archive") : null),
  ] };
}

async function showDetail(box, name, ctx) {
  fill(box, h("p.muted", {}, "Loading the campaign…"));
  let data;
  try {
    data = await buildReport(name);
  } catch (error) {
    fill(box, h("p.error", { role: "alert" }, `Could not load ${name}: ${error.message}`));
    return;
  }
  const { campaign, progress, report } = data;
  const milestones = campaign.milestones || [];
  const sections = report.tables.map(({ title, columns, rows }) => h("section", { "data-table": title },
    h("h3", {}, title), rows.length ? table(columns, rows.map((r) => ({ cells: columns.map((c) => r[c] ?? "") })))
      : h("p.muted", {}, "(none yet)")));
  const state = enumWord(campaign.state, "CAMPAIGN_STATE_");
  fill(box, h("div.row.spread", {}, h("h2", {}, campaign.display_name || campaign.name), stateBadge(state)),
  h("p.muted", {}, h("code", {}, campaign.name), ` · hero ${shortName(campaign.hero)}`,
    progress && progress.preset ? ` · preset ${progress.preset}` : " · preset: the hero's idle default",
    (campaign.skills || []).length ? ` · skills ${campaign.skills.join(", ")}` : ""),
  h("h3", {}, "Milestones"),
  milestones.length ? h("ol.timeline", { "data-list": "milestones" }, milestones.map((m) => h("li", {},
    h("strong", {}, m.title), m.description ? ` — ${m.description}` : "",
    h("span.muted", {}, ` · step ${fmtNumber(num(m.global_step))} · ${fmtTime(m.reach_time)}`))))
    : h("p.muted", {}, "No milestone reached yet."),
  setupPanel(campaign, ctx, (fork) => ctx.navigate("campaigns", { c: fork.name })),
  report.curriculumError ? h("p.error", {}, `Curriculum unreachable: ${report.curriculumError}`) : null,
  sections);
  box.append(await campaignDepth(campaign.name));
}

export default {
  title: "Campaigns",
  async mount(root, ctx) {
    const listBox = h("div.card", {}, h("h2", {}, "Campaigns"));
    const detail = h("div.card", { "aria-live": "polite", "data-panel": "report" });
    const formBox = h("div");
    fill(root, h("h1", {}, "Campaigns"), h("div.grid.campaigns-layout", {}, listBox, formBox), detail);
    const selected = ctx.params.get("c");

    async function refresh() {
      try {
        const campaigns = await listAll("campaigns", "campaigns", { page_size: 500 });
        fill(listBox, h("h2", {}, `Campaigns (${campaigns.length})`), campaigns.length
          ? table(["Name", "Hero", "State", "Step", "Tokens", "Created", ""],
            campaigns.map((c) => campaignRow(c, ctx, refresh)), { "data-list": "campaigns" })
          : h("p.muted", {}, "No campaign yet: create the first one."));
        const shown = selected || (campaigns.find((c) => c.state === "CAMPAIGN_STATE_ACTIVE") || campaigns[0])?.name;
        if (shown) await showDetail(detail, shown, ctx);
        else fill(detail, h("p.muted", {}, "Pick a campaign to see its timeline."));
      } catch (error) {
        fill(listBox, h("p.error", { role: "alert" }, error.message));
      }
    }

    try {
      const [heroes, skills] = await Promise.all([listAll("heroes", "heroes"), listAll("skills", "skills")]);
      fill(formBox, createForm(heroes, skills, ctx, (created) => ctx.navigate("campaigns", { c: created.name })));
    } catch (error) {
      fill(formBox, h("p.error.card", { role: "alert" }, `Heroes or skills unavailable: ${error.message}`));
    }
    await refresh();
    root.dataset.ready = "true";
    return null;
  },
};
