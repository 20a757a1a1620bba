// Vault: every checkpoint of the campaign in a virtualised list (only the visible rows exist in the page, so
// thousands stay fast), with step, evals per skill, alias chips and lineage; pin/unpin, move an alias, delete;
// the retention dry-run with its reasons; disk use by zone. #/vault?asset=assets/x opens that checkpoint.
import { api, currentCampaign, listAll, num } from "./api.js";
import { badge, button, clear, field, fill, fmtBytes, fmtNumber, fmtTime, h, shortName, text, toast } from "./dom.js";

const ROW_HEIGHT = 64;
const OVERSCAN = 8;
const PAGE = 1000;

export default {
  title: "Vault",
  async mount(root, ctx) {
    const campaign = await currentCampaign({ refresh: true });
    if (!campaign) { fill(root, h("h1", {}, "Vault"), h("p.muted", {}, "Create a campaign first.")); return null; }
    const checkpoints = []; // CheckpointSummary.asset, newest step first
    const evalsByAsset = new Map(); // asset -> {skill: best eval}
    let selected = -1;
    let stopped = false;

    const count = h("span.muted", { "data-vault": "count" }, "loading…");
    const viewport = h("div.vlist", { tabindex: "0", role: "listbox", "aria-label": "Checkpoints",
      "data-vault": "list" });
    const spacer = h("div.vspacer");
    const rowsBox = h("div.vrows");
    viewport.append(spacer);
    spacer.append(rowsBox);
    const detail = h("div.card.detail", { "aria-live": "polite", "data-vault": "detail" },
      h("p.muted", {}, "Select a checkpoint to see its lineage and actions."));
    const retention = h("div.card", {}, h("h2", {}, "Retention"), h("p.muted", {},
      "A dry run says what the policy would keep or delete, and why; nothing is deleted."),
    button("Dry-run retention", () => dryRun(), { "data-action": "dry-run" }), h("div", { "data-vault": "gc" }));
    const disk = h("div.card", {}, h("h2", {}, "Disk use by zone"), h("div", { "data-vault": "disk" }));
    fill(root, h("div.row.spread", {}, h("h1", {}, "Vault"), count),
      h("div.vault-layout", {}, h("div.card.vcard", {}, viewport), detail), h("div.grid", {}, retention, disk));

    // -- the virtualised list -----------------------------------------------------------------------------------
    function skillsLine(asset) {
      const best = evalsByAsset.get(asset.name);
      if (best) {
        return Object.entries(best).map(([skill, e]) => `${skill} L${e.level || 0} ${(100 * (e.accuracy || 0)).toFixed(0)}%`)
          .join(" · ");
      }
      return asset.eval_count ? `${asset.eval_count} evals` : "no evals yet";
    }

    function chips(asset) {
      return [asset.pinned ? h("span.chip.pin", {}, "pinned") : null,
        (asset.aliases || []).map((a) => h("span.chip", { "data-alias": shortName(a) }, shortName(a)))];
    }

    function renderRows() {
      spacer.style.height = `${checkpoints.length * ROW_HEIGHT}px`;
      const first = Math.max(0, Math.floor(viewport.scrollTop / ROW_HEIGHT) - OVERSCAN);
      const last = Math.min(checkpoints.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW_HEIGHT) + OVERSCAN);
      rowsBox.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
      const rows = [];
      for (let i = first; i < last; i += 1) {
        const asset = checkpoints[i];
        rows.push(h(`div.vrow${i === selected ? ".selected" : ""}`, { role: "option", "aria-selected": String(i === selected),
          "data-asset": asset.name, "data-index": String(i), onclick: () => select(i) },
        h("div.vmain", {}, h("strong", {}, `step ${fmtNumber(num(asset.lineage?.global_step))}`), " ",
          h("span", {}, asset.display_name || shortName(asset.name)), " ", chips(asset)),
        h("div.vsub.muted", {}, skillsLine(asset), ` · ${fmtBytes(num(asset.size_bytes))} · ${fmtTime(asset.create_time)}`,
          asset.state && asset.state !== "ASSET_STATE_ACTIVE" ? [" · ", badge(asset.state.replace("ASSET_STATE_", "").toLowerCase())] : "")));
      }
      fill(rowsBox, rows);
    }
    let frame = 0;
    viewport.addEventListener("scroll", () => { cancelAnimationFrame(frame); frame = requestAnimationFrame(renderRows); });
    viewport.addEventListener("keydown", (event) => {
      const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10, Home: -Infinity, End: Infinity };
      if (event.key in moves) {
        event.preventDefault();
        select(Math.max(0, Math.min(checkpoints.length - 1, (selected < 0 ? 0 : selected) + moves[event.key])));
      }
    });

    function select(index, { scroll = true } = {}) {
      selected = index;
      const asset = checkpoints[index];
      if (!asset) return;
      if (scroll) {
        const top = index * ROW_HEIGHT;
        if (top < viewport.scrollTop || top + ROW_HEIGHT > viewport.scrollTop + viewport.clientHeight) {
          viewport.scrollTop = Math.max(0, top - viewport.clientHeight / 2);
        }
      }
      renderRows();
      showDetail(asset).catch((error) => toast(error.message, "error"));
    }

    // -- details, lineage and actions ---------------------------------------------------------------------------
    const act = (label, fn, attrs = {}) => button(label, async () => {
      try { await fn(); } catch (error) { toast(`${label}: ${error.message}`, "error"); }
    }, { disabled: !ctx.canWrite, ...attrs });

    async function reloadAsset(name) {
      const asset = (await api.get(name)).asset;
      const index = checkpoints.findIndex((a) => a.name === name);
      if (index >= 0 && asset) checkpoints[index] = asset;
      renderRows();
      if (asset && index === selected) await showDetail(asset);
      return asset;
    }

    async function showDetail(asset) {
      const lineage = asset.lineage || {};
      const [evals, quest, aliases] = await Promise.all([
        api.get("evals", { asset: asset.name, page_size: 200 }).then((r) => r.evals || []).catch(() => []),
        lineage.quest ? api.get(lineage.quest).then((r) => r.quest).catch(() => null) : null,
        api.get(`${campaign.name}/aliases`, { page_size: 200 }).then((r) => r.aliases || []).catch(() => []),
      ]);
      if (checkpoints[selected]?.name !== asset.name) return;
      const aliasName = h("input", { list: "alias-names", placeholder: "e.g. best/bin or stable", "data-control": "alias" });
      const names = h("datalist", { id: "alias-names" }, aliases.map((a) => h("option", { value: shortName(a.name) })));
      const force = h("input", { type: "checkbox", "data-control": "force" });
      const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v || "—")];
      fill(detail,
        h("h2", {}, `Checkpoint at step ${fmtNumber(num(lineage.global_step))}`),
        h("p", {}, h("code", { "data-detail": "name" }, asset.name), " ", chips(asset)),
        h("dl.kv", {},
          kv("Display name", asset.display_name),
          kv("Parent", lineage.parent_checkpoint ? h("a", { href: `#/vault?asset=${encodeURIComponent(lineage.parent_checkpoint)}` },
            lineage.parent_checkpoint) : "— (the hero's base model)"),
          kv("Quest", lineage.quest ? `${quest?.display_name || lineage.quest} (${lineage.quest})` : ""),
          kv("Quest sha256", quest?.sha256 ? h("code", {}, quest.sha256) : ""),
          kv("Generator", quest ? Object.entries(quest.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ") : ""),
          kv("Sources", (lineage.source_assets || []).join(", ")),
          kv("Hero", lineage.hero), kv("Config hash", h("code", {}, lineage.config_hash || "—")),
          kv("Tokenizer hash", h("code", {}, lineage.tokenizer_hash || "—")),
          kv("Template hash", h("code", {}, lineage.chat_template_hash || "—")),
          kv("Base model digest", h("code", {}, lineage.base_model_digest || "—")),
          kv("Size", `${fmtBytes(num(asset.size_bytes))} in ${(asset.zones || []).join(", ") || "?"}`),
          kv("Manifest", h("code", {}, asset.manifest_digest || "—")), kv("Created", fmtTime(asset.create_time))),
        h("h3", {}, "Evals"),
        evals.length ? h("table.data", {}, h("thead", {}, h("tr", {}, ["Skill", "Level", "Regime", "Accuracy", "Eval set"]
          .map((t) => h("th", {}, t)))), h("tbody", {}, evals.map((e) => h("tr", {}, h("td", {}, e.skill),
          h("td", {}, `L${e.level || 0}`), h("td", {}, badge(e.regime || "?", e.regime === "held_out" ? "training" : "ok")),
          h("td", {}, `${(100 * (e.accuracy || 0)).toFixed(1)} % (${e.correct || 0}/${e.total || 0})`),
          h("td", {}, h("code", {}, (e.eval_set_hash || "").slice(0, 12))))))) : h("p.muted", {}, "No evals attached yet."),
        h("h3", {}, "Actions"),
        h("div.row", {},
          asset.pinned ? act("Unpin", async () => { await api.post(`${asset.name}:unpin`); await reloadAsset(asset.name); toast("Unpinned", "ok"); },
            { "data-action": "unpin" })
            : act("Pin", async () => { await api.post(`${asset.name}:pin`); await reloadAsset(asset.name); toast("Pinned", "ok"); },
              { "data-action": "pin" })),
        h("div.row", {}, field("Point alias here", aliasName), names, act("Move alias", async () => {
          const alias = aliasName.value.trim();
          if (!alias) throw new Error("name an alias");
          await api.put(`${campaign.name}/aliases/${alias}`, { asset: asset.name });
          await refreshAliases();
          toast(`${alias} → step ${num(lineage.global_step)}`, "ok");
        }, { "data-action": "move-alias" })),
        h("div.row", {}, h("label.check", {}, force, "force (also when pinned or aliased)"),
          act("Delete", async () => {
            if (!window.confirm(`Delete checkpoint at step ${num(lineage.global_step)}?`)) return;
            await api.del(asset.name, { force: force.checked ? "true" : "" });
            await reloadAsset(asset.name).catch(() => {});
            toast("Deleted", "ok");
          }, { class: "danger", "data-action": "delete" })));
    }

    async function refreshAliases() {
      // Alias moves change two checkpoints' chips: re-read the aliases and patch the rows we hold.
      const aliases = await listAll(`${campaign.name}/aliases`, "aliases", { page_size: 1000 });
      const byAsset = new Map();
      for (const a of aliases) byAsset.set(a.asset, [...(byAsset.get(a.asset) || []), a.name]);
      for (const asset of checkpoints) asset.aliases = byAsset.get(asset.name) || [];
      renderRows();
      if (checkpoints[selected]) await showDetail(checkpoints[selected]);
    }

    async function dryRun() {
      const box = retention.querySelector("[data-vault=gc]");
      text(box, "Running…");
      try {
        const reply = await api.post("gc:run", { campaign: campaign.name, dry_run: true });
        const decisions = (reply.decisions || []).sort((a, b) => num(b.global_step) - num(a.global_step));
        const deleting = decisions.filter((d) => !d.keep);
        fill(box, h("p", {}, `${decisions.length - deleting.length} kept, ${deleting.length} would be deleted, `
          + `${fmtBytes(deleting.reduce((n, d) => n + num(d.reclaim_bytes), 0))} reclaimed.`),
        h("div.scroll-x.gc-list", {}, h("table.data.responsive", {}, h("thead", {}, h("tr", {}, ["Step", "Decision", "Reasons", "Frees"]
          .map((t) => h("th", {}, t)))), h("tbody", {}, decisions.slice(0, 500).map((d) => h("tr", { "data-asset": d.asset },
          h("td", { "data-label": "Step" }, fmtNumber(num(d.global_step))),
          h("td", { "data-label": "Decision" }, badge(d.keep ? "keep" : "delete", d.keep ? "ok" : "rejected")),
          h("td", { "data-label": "Reasons" }, (d.reasons || []).join(", ") || "—"),
          h("td", { "data-label": "Frees" }, fmtBytes(num(d.reclaim_bytes)))))))));
      } catch (error) { fill(box, h("p.error", {}, error.message)); }
    }

    async function showPolicy() {
      const box = h("p.muted", { "data-vault": "policy" });
      retention.insertBefore(box, retention.querySelector("[data-action=dry-run]"));
      try {
        const p = (await api.get(`${campaign.name}/retention`)).policy || {};
        text(box, `Policy: ${p.enabled ? "enabled" : "disabled (nothing is planned, not even in a dry run)"} · keep latest ${p.keep_latest || 0}`
          + `${p.keep_best_per_skill ? " · keep best per skill" : ""}${p.keep_pinned ? " · keep pinned" : ""}`
          + `${p.keep_newer_than && p.keep_newer_than !== "0s" ? ` · keep newer than ${p.keep_newer_than}` : ""}`
          + `${p.min_evals_before_delete ? ` · at least ${p.min_evals_before_delete} evals before delete` : ""}`);
      } catch (error) {
        text(box, error.status === 404 ? "No retention policy for this campaign yet (the vault keeps everything)."
          : `Policy: ${error.message}`);
      }
    }

    async function showDisk() {
      const stats = await api.get("stats");
      const zones = stats.by_zone || [];
      const total = zones.reduce((n, z) => n + num(z.stored_bytes), 0) || 1;
      fill(disk.querySelector("[data-vault=disk]"), zones.length ? h("table.data", {},
        h("thead", {}, h("tr", {}, ["Zone", "Assets", "Stored", "Logical", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, zones.map((z) => {
          const bar = h("div"); bar.style.width = `${(100 * num(z.stored_bytes)) / total}%`;
          return h("tr", { "data-zone": z.key }, h("td", {}, z.key), h("td", {}, fmtNumber(num(z.assets))),
            h("td", {}, fmtBytes(num(z.stored_bytes))), h("td", {}, fmtBytes(num(z.logical_bytes))),
            h("td", {}, h("div.progress", { "aria-hidden": "true" }, bar)));
        }))) : h("p.muted", {}, "The vault stores nothing yet."));
    }

    // -- loading: the first page renders at once; the rest stream in behind it ----------------------------------
    const wanted = ctx.params.get("asset");
    let token = "";
    do {
      const page = await api.get("checkpoints", { campaign: campaign.name, page_size: PAGE, page_token: token });
      if (stopped) return null;
      checkpoints.push(...(page.checkpoints || []).map((c) => c.asset));
      token = page.next_page_token || "";
      text(count, `${fmtNumber(checkpoints.length)} checkpoints${token ? " (loading more…)" : ""}`);
      renderRows();
      root.dataset.ready = "true";
      const found = wanted ? checkpoints.findIndex((a) => a.name === wanted) : -1;
      if (found >= 0 && selected < 0) select(found);
    } while (token);
    if (wanted && selected < 0) {
      const asset = await api.get(wanted).then((r) => r.asset).catch(() => null);
      if (asset) { checkpoints.unshift(asset); select(0); } else toast(`No checkpoint ${wanted}`, "error");
    }
    if (selected < 0 && checkpoints.length) select(0, { scroll: false });
    if (!checkpoints.length) fill(rowsBox, h("p.muted", {}, "No checkpoints yet: they appear as the hero trains."));
    showDisk().catch(() => {});
    showPolicy();
    listAll("evals", "evals", { campaign: campaign.name }, 50000).then((evals) => {
      for (const e of evals) {
        const best = evalsByAsset.get(e.asset) || {};
        if (!best[e.skill] || (e.level || 0) > (best[e.skill].level || 0)
          || ((e.level || 0) === (best[e.skill].level || 0) && e.accuracy > best[e.skill].accuracy)) best[e.skill] = e;
        evalsByAsset.set(e.asset, best);
      }
      if (!stopped) renderRows();
    }).catch(() => {});
    return () => { stopped = true; clear(rowsBox); };
  },
};
