// A canvas line chart for step series that tells the truth:
// - the server buckets the series by steps and keeps each bucket's min and max, drawn as a band (spikes survive);
// - smoothing is causal (an EMA started at the first value; the value at step N never changes as later steps
//   arrive); its kind and weight are shown and adjustable; the raw series can be overlaid; y can be log-scaled;
// - "Export CSV" writes exactly the rows that are drawn; dragging a range (or +/-) zooms and fetches detail;
// - clicking a point hands its step to onPick (Battle opens the checkpoint nearest to it).
// Data: load({start, end, maxPoints, smoothing, weight}) -> GetMetricSeries JSON; push(step, value) for live steps.
import { num } from "./api.js";
import { button, fmtNumber, h, text } from "./dom.js";

const COLORS = { smooth: "#e0a84a", raw: "#6aa8e3", band: "rgba(106,168,227,0.22)", grid: "#363c48",
  axis: "#9aa3b2", mark: "#58c27d", cursor: "#ffd479", select: "rgba(255,212,121,0.15)" };
const PAD = { left: 56, right: 12, top: 10, bottom: 26 };

export function emaNext(previous, value, weight) {
  return weight * previous + (1 - weight) * value; // the same operations, in the same order, as the server
}

function bucketFromJson(b) {
  return { first: num(b.first_step), last: num(b.last_step), count: b.count || 0, min: b.min ?? 0,
    max: b.max ?? 0, mean: b.mean ?? 0, raw: b.last ?? 0, smoothed: b.smoothed ?? 0 };
}

function mergeBuckets(buckets, width) {
  const merged = [];
  for (const b of buckets) {
    const top = merged[merged.length - 1];
    if (top && Math.floor(top.first / width) === Math.floor(b.first / width)) {
      top.mean = (top.mean * top.count + b.mean * b.count) / (top.count + b.count);
      top.count += b.count; top.min = Math.min(top.min, b.min); top.max = Math.max(top.max, b.max);
      top.last = b.last; top.raw = b.raw; top.smoothed = b.smoothed;
    } else {
      merged.push({ ...b });
    }
  }
  return merged;
}

export class Chart {
  constructor(root, { title, name, load, onPick = null, smoothing = "ema", weight = 0.9, logY = false,
    showRaw = true, unit = "" }) {
    this.name = name; this.load = load; this.onPick = onPick; this.unit = unit;
    this.smoothing = smoothing; this.weight = weight; this.logY = logY; this.showRaw = showRaw;
    this.full = []; this.width = 1; this.view = null; this.markers = []; this.cursor = -1; this.drawn = [];
    this.meta = {}; this.reloadTimer = null; this.maxPoints = 1000;
    const id = `chart-${name}`;
    this.canvas = h("canvas", { id, tabindex: "0", role: "img", "data-chart": name,
      "aria-label": `${title} chart; arrows move the cursor, + and - zoom, 0 resets, Enter opens the checkpoint` });
    this.readout = h("div.readout", { "aria-live": "polite" });
    this.status = h("span.muted");
    const kind = h("select", { "aria-label": `${title} smoothing`, "data-control": "smoothing",
      onchange: () => { this.smoothing = kind.value; this.reload(); } },
    h("option", { value: "ema", selected: smoothing === "ema" }, "EMA (causal)"),
    h("option", { value: "none", selected: smoothing === "none" }, "none"));
    const weightInput = h("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: String(weight),
      "aria-label": `${title} smoothing weight`, "data-control": "weight" });
    this.weightLabel = h("output", {}, weight.toFixed(2));
    weightInput.addEventListener("input", () => text(this.weightLabel, Number(weightInput.value).toFixed(2)));
    weightInput.addEventListener("change", () => { this.weight = Number(weightInput.value); this.reload(); });
    const check = (label, value, onchange, control) => {
      const box = h("input", { type: "checkbox", checked: value, "data-control": control,
        onchange: () => onchange(box.checked) });
      return h("label.check", {}, box, label);
    };
    this.legend = h("div.legend");
    root.append(h("div.chart", { "data-chart": name },
      h("div.row.spread", {}, h("h3", {}, title), this.status),
      h("div.controls", {},
        h("label.check", {}, "Smoothing ", kind), h("label.check", {}, "weight ", weightInput, this.weightLabel),
        check("raw", showRaw, (v) => { this.showRaw = v; this.render(); }, "raw"),
        check("log y", logY, (v) => { this.logY = v; this.render(); }, "logy"),
        button("Zoom in", () => this.zoomBy(0.5)), button("Reset zoom", () => this.resetZoom()),
        this._rangeControls(title),
        button("Export CSV", () => this.exportCsv(), { "data-action": `csv-${name}` })),
      this.canvas, this.legend, this.readout));
    this._bindInput();
    this._resize = () => this.render();
    window.addEventListener("resize", this._resize);
  }

  _rangeControls(title) {
    const from = h("input.step", { type: "number", min: "0", placeholder: "from", "aria-label": `${title}: zoom from step`,
      "data-control": `from-${this.name}` });
    const to = h("input.step", { type: "number", min: "0", placeholder: "to", "aria-label": `${title}: zoom to step`,
      "data-control": `to-${this.name}` });
    return h("span.row", {}, "steps ", from, "–", to, button("Zoom", () => {
      if (from.value && to.value) this.zoom(Number(from.value), Number(to.value)).catch(() => {});
    }, { "data-action": `zoom-${this.name}` }));
  }

  destroy() {
    window.removeEventListener("resize", this._resize); clearTimeout(this.reloadTimer); cancelAnimationFrame(this.frame);
  }

  get buckets() { return this.view ? this.view.buckets : this.full; }

  // -- data ---------------------------------------------------------------------------------------------------
  async reload() {
    // Up to 2,000 buckets (one per step below that): cheap to draw, and a bucket is never wider than a pixel or two.
    this.maxPoints = 2000;
    const series = await this.load({ maxPoints: this.maxPoints, smoothing: this.smoothing, weight: this.weight });
    this.meta = series;
    this.full = (series.buckets || []).map(bucketFromJson);
    this.width = num(series.bucket_steps) || 1;
    if (this.view) await this.zoom(this.view.start, this.view.end);
    this.render();
    return series;
  }

  push(step, value) {
    if (!Number.isFinite(value)) return;
    const last = this.full[this.full.length - 1];
    if (last && step <= last.last) { this._scheduleReload(); return; } // a repeated step: the server decides
    const smoothed = this.smoothing === "ema" && last ? emaNext(last.smoothed, value, this.weight) : value;
    this.full.push({ first: step, last: step, count: 1, min: value, max: value, mean: value, raw: value, smoothed });
    if (this.full.length > 2 * this.maxPoints) { this.width *= 2; this.full = mergeBuckets(this.full, this.width); }
    if (!this.view) this.scheduleRender();
  }

  // Live steps can arrive by the thousand: draw at most once a frame.
  scheduleRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  _scheduleReload() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.reload().catch(() => {}), 1000);
  }

  setMarkers(markers) { this.markers = markers; this.render(); }

  async zoom(start, end) {
    if (end <= start) return;
    const series = await this.load({ start: Math.floor(start), end: Math.ceil(end), maxPoints: this.maxPoints,
      smoothing: this.smoothing, weight: this.weight });
    this.view = { start, end, buckets: (series.buckets || []).map(bucketFromJson), width: num(series.bucket_steps) };
    this.cursor = -1;
    this.render();
    this.canvas.dataset.view = `${Math.floor(start)}-${Math.ceil(end)}`;
  }

  zoomBy(factor) {
    const buckets = this.buckets;
    if (buckets.length < 2) return;
    const lo = buckets[0].first, hi = buckets[buckets.length - 1].last;
    const center = this.cursor >= 0 ? buckets[this.cursor].last : (lo + hi) / 2;
    const half = Math.max(1, ((hi - lo) * factor) / 2);
    if (factor > 1 && this.view && half * 2 >= (this.full.at(-1)?.last ?? 0) - (this.full[0]?.first ?? 0)) {
      this.resetZoom(); return;
    }
    this.zoom(Math.max(lo - (factor > 1 ? half : 0), center - half), center + half).catch(() => {});
  }

  resetZoom() { this.view = null; this.cursor = -1; this.render(); delete this.canvas.dataset.view; }

  // -- geometry -----------------------------------------------------------------------------------------------
  _scales(buckets, widthPx, heightPx) {
    const x0 = buckets.length ? buckets[0].first : 0, x1 = buckets.length ? buckets[buckets.length - 1].last : 1;
    let lo = Infinity, hi = -Infinity;
    const take = (v) => { if (this.logY && !(v > 0)) return; lo = Math.min(lo, v); hi = Math.max(hi, v); };
    for (const b of buckets) { take(b.smoothed); if (this.showRaw) { take(b.min); take(b.max); } }
    if (!Number.isFinite(lo)) { lo = this.logY ? 0.1 : 0; hi = 1; }
    const f = this.logY ? Math.log10 : (v) => v;
    let ylo = f(lo), yhi = f(hi);
    if (yhi - ylo < 1e-12) { ylo -= 0.5; yhi += 0.5; }
    const margin = (yhi - ylo) * 0.05; ylo -= margin; yhi += margin;
    const plotW = widthPx - PAD.left - PAD.right, plotH = heightPx - PAD.top - PAD.bottom;
    return {
      x0, x1, ylo, yhi,
      x: (step) => PAD.left + (x1 === x0 ? plotW / 2 : ((step - x0) / (x1 - x0)) * plotW),
      y: (v) => PAD.top + plotH - ((f(v) - ylo) / (yhi - ylo)) * plotH,
      step: (px) => x0 + ((px - PAD.left) / plotW) * (x1 - x0),
      drawable: (v) => Number.isFinite(v) && (!this.logY || v > 0),
    };
  }

  // -- drawing ------------------------------------------------------------------------------------------------
  render() {
    const canvas = this.canvas, ratio = window.devicePixelRatio || 1;
    const widthPx = canvas.clientWidth || 600, heightPx = canvas.clientHeight || 260;
    if (canvas.width !== Math.round(widthPx * ratio)) canvas.width = Math.round(widthPx * ratio);
    if (canvas.height !== Math.round(heightPx * ratio)) canvas.height = Math.round(heightPx * ratio);
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, widthPx, heightPx);
    const buckets = this.buckets;
    const s = this._scales(buckets, widthPx, heightPx);
    this.scales = s;
    this._grid(g, s, widthPx, heightPx);
    const drawn = buckets.filter((b) => s.drawable(b.smoothed) && (!this.showRaw || s.drawable(b.min)));
    if (this.showRaw) {
      g.fillStyle = COLORS.band;
      for (const b of drawn) {
        if (b.max === b.min) continue;
        const xa = s.x(b.first), xb = Math.max(s.x(b.last), xa + 1);
        g.fillRect(xa, s.y(b.max), xb - xa, Math.max(1, s.y(b.min) - s.y(b.max)));
      }
      this._line(g, drawn, s, (b) => b.mean, COLORS.raw, 1, [2, 2]);
    }
    this._line(g, drawn, s, (b) => b.smoothed, COLORS.smooth, 2, []);
    g.setLineDash([4, 3]); g.strokeStyle = COLORS.mark; g.lineWidth = 1;
    for (const marker of this.markers) {
      if (marker.step < s.x0 || marker.step > s.x1) continue;
      const x = s.x(marker.step);
      g.beginPath(); g.moveTo(x, PAD.top); g.lineTo(x, heightPx - PAD.bottom); g.stroke();
    }
    g.setLineDash([]);
    if (this.cursor >= 0 && this.cursor < buckets.length) {
      const x = s.x(buckets[this.cursor].last);
      g.strokeStyle = COLORS.cursor; g.beginPath(); g.moveTo(x, PAD.top); g.lineTo(x, heightPx - PAD.bottom); g.stroke();
    }
    if (this.selection) {
      g.fillStyle = COLORS.select;
      g.fillRect(Math.min(this.selection.a, this.selection.b), PAD.top, Math.abs(this.selection.b - this.selection.a),
        heightPx - PAD.top - PAD.bottom);
    }
    this.drawn = drawn;
    this._describe(drawn);
  }

  _line(g, buckets, s, value, color, width, dash) {
    if (!buckets.length) return;
    g.strokeStyle = color; g.lineWidth = width; g.setLineDash(dash); g.beginPath();
    buckets.forEach((b, i) => { const x = s.x(b.last), y = s.y(value(b)); if (i) g.lineTo(x, y); else g.moveTo(x, y); });
    g.stroke(); g.setLineDash([]);
  }

  _grid(g, s, widthPx, heightPx) {
    g.strokeStyle = COLORS.grid; g.fillStyle = COLORS.axis; g.lineWidth = 1; g.font = "11px system-ui, sans-serif";
    for (let i = 0; i <= 4; i += 1) {
      const t = s.ylo + ((s.yhi - s.ylo) * i) / 4, v = this.logY ? 10 ** t : t;
      const y = PAD.top + (heightPx - PAD.top - PAD.bottom) * (1 - i / 4);
      g.beginPath(); g.moveTo(PAD.left, y); g.lineTo(widthPx - PAD.right, y); g.stroke();
      g.textAlign = "right"; g.fillText(fmtNumber(v, 3), PAD.left - 4, y + 4);
    }
    g.textAlign = "center";
    for (let i = 0; i <= 4; i += 1) {
      const step = s.x0 + ((s.x1 - s.x0) * i) / 4;
      g.fillText(`${Math.round(step)}`, s.x(step), heightPx - 8);
    }
  }

  _describe(drawn) {
    const width = this.view ? this.view.width : this.width;
    const smoothing = this.smoothing === "ema" ? `EMA weight ${this.weight.toFixed(2)} (causal)` : "no smoothing";
    text(this.status, `${drawn.length} points · ${width > 1 ? `${width} steps per point (min–max band)` : "every step"}`
      + ` · ${smoothing}${this.logY ? " · log y" : ""}${this.view ? " · zoomed" : ""}`);
    this.canvas.dataset.points = String(drawn.length);
    this.canvas.dataset.lastStep = String(drawn.length ? drawn[drawn.length - 1].last : 0);
    this.legend.replaceChildren(
      h("span", {}, h("span.swatch"), " smoothed  "),
      this.showRaw ? h("span", {}, h("span.swatch.raw"), " raw (mean)  ", h("span.swatch.band"), " min–max  ") : "",
      this.markers.length ? h("span", {}, h("span.swatch.mark"), " checkpoint") : "");
    this._readout();
  }

  _readout() {
    const b = this.buckets[this.cursor];
    if (!b) { text(this.readout, "Hover or use the arrow keys to read values; drag to zoom."); return; }
    const range = b.first === b.last ? `step ${b.first}` : `steps ${b.first}–${b.last} (${b.count} logged)`;
    const raw = b.count > 1 ? `min ${fmtNumber(b.min)} · mean ${fmtNumber(b.mean)} · max ${fmtNumber(b.max)}`
      : `raw ${fmtNumber(b.raw)}`;
    const marker = this.nearestMarker(b.last);
    text(this.readout, `${range} · ${raw} · smoothed ${fmtNumber(b.smoothed)}${this.unit}`
      + (marker ? ` · checkpoint at step ${marker.step}` : ""));
  }

  nearestMarker(step) {
    let best = null;
    for (const m of this.markers) if (!best || Math.abs(m.step - step) < Math.abs(best.step - step)) best = m;
    return best;
  }

  _bucketAt(px) {
    const buckets = this.buckets;
    if (!buckets.length || !this.scales) return -1;
    const step = this.scales.step(px);
    let lo = 0, hi = buckets.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (buckets[mid].last < step) lo = mid + 1; else hi = mid; }
    if (lo > 0 && Math.abs(buckets[lo - 1].last - step) < Math.abs(buckets[lo].last - step)) lo -= 1;
    return lo;
  }

  // -- input --------------------------------------------------------------------------------------------------
  _bindInput() {
    const c = this.canvas;
    const px = (event) => event.clientX - c.getBoundingClientRect().left;
    c.addEventListener("pointermove", (event) => {
      if (this.selection) { this.selection.b = px(event); }
      this.cursor = this._bucketAt(px(event));
      this.render();
    });
    c.addEventListener("pointerdown", (event) => { this.selection = { a: px(event), b: px(event) }; });
    c.addEventListener("pointerup", (event) => {
      const sel = this.selection; this.selection = null;
      if (!sel) return;
      if (Math.abs(sel.b - sel.a) > 8) {
        const a = this.scales.step(Math.min(sel.a, sel.b)), b = this.scales.step(Math.max(sel.a, sel.b));
        this.zoom(a, b).catch(() => {});
      } else {
        this.cursor = this._bucketAt(px(event));
        this.pick();
      }
      this.render();
    });
    c.addEventListener("pointerleave", () => { this.selection = null; this.render(); });
    c.addEventListener("keydown", (event) => {
      const n = this.buckets.length;
      const keys = {
        ArrowRight: () => { this.cursor = Math.min(n - 1, this.cursor + 1); },
        ArrowLeft: () => { this.cursor = this.cursor < 0 ? n - 1 : Math.max(0, this.cursor - 1); },
        Home: () => { this.cursor = 0; }, End: () => { this.cursor = n - 1; },
        "+": () => this.zoomBy(0.5), "=": () => this.zoomBy(0.5), "-": () => this.zoomBy(2), 0: () => this.resetZoom(),
        Enter: () => this.pick(),
      };
      if (!keys[event.key]) return;
      event.preventDefault(); keys[event.key](); this.render();
    });
  }

  pick() {
    const b = this.buckets[this.cursor];
    if (b && this.onPick) this.onPick(b.last, this.nearestMarker(b.last));
  }

  // -- export -------------------------------------------------------------------------------------------------
  csv() {
    const header = `# ${this.name}; smoothing=${this.smoothing}; weight=${this.weight}; log_y=${this.logY}\n`
      + "first_step,last_step,count,min,max,mean,last,smoothed\n";
    return header + this.drawn.map((b) =>
      [b.first, b.last, b.count, b.min, b.max, b.mean, b.raw, b.smoothed].map(String).join(",")).join("\n") + "\n";
  }

  exportCsv() {
    const blob = new Blob([this.csv()], { type: "text/csv" });
    const link = h("a", { href: URL.createObjectURL(blob), download: `${this.name}.csv` });
    document.body.appendChild(link); link.click(); link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
}
