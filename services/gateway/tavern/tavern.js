// The Tavern: a thin page over the gateway's REST + streaming routes. Everything it shows comes from the services.
const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = localStorage.getItem("realm-token") || "";
tokenInput.addEventListener("change", () => { localStorage.setItem("realm-token", tokenInput.value); refresh(); follow(); });
const headers = () => ({ "Authorization": `Bearer ${tokenInput.value}`, "Content-Type": "application/json" });

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? `${body.error.status}: ${body.error.message}` : response.statusText);
  return body;
}

async function refresh() {
  try {
    const fleet = await api("/api/v1/fleet");
    const state = (fleet.status.state || "").replace("FLEET_STATE_", "");
    $("fleet").textContent = `fleet: ${state} (${fleet.status.serving || 0}/${fleet.status.total || 0})`;
    $("fleet").className = `pill ${state}`;
  } catch (e) { $("fleet").textContent = `fleet: ${e.message}`; }
  try {
    const run = (await api("/api/v1/run")).status;
    $("run").textContent = `run: ${(run.state || "").replace("RUN_STATE_", "")} ${run.quest || ""}`;
    showStep(run.last_step || {});
  } catch (e) { $("run").textContent = `run: ${e.message}`; }
  try {
    const quests = (await api("/api/v1/quests?page_size=20")).quests || [];
    $("quests").tBodies[0].innerHTML = quests.map((q) =>
      `<tr><td>${q.display_name || q.name}</td><td>${(q.state || "").replace("QUEST_STATE_", "")}</td>` +
      `<td>${(q.priority || "").replace("PRIORITY_", "")}</td><td>${q.rows || 0}</td></tr>`).join("");
  } catch (e) { /* trainer may not be up yet */ }
}

function showStep(step) {
  if (!step.quest_steps_total) return;
  $("bar-fill").style.width = `${(100 * (step.quest_step || 0)) / step.quest_steps_total}%`;
  $("step").textContent = `step ${step.global_step || 0} · loss ${(step.loss || 0).toFixed(4)} · ` +
    `${Math.round(step.tokens_per_second || 0)} tok/s · ETA ${Math.round(step.eta_seconds || 0)}s`;
}

let follower = null;
async function follow() {
  if (follower) follower.abort();
  follower = new AbortController();
  try {
    const response = await fetch("/api/v1/events:stream", { headers: headers(), signal: follower.signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const line = buffer.slice(0, cut).replace(/^data: /, "");
        buffer = buffer.slice(cut + 2);
        try { onEvent(JSON.parse(line).event); } catch (e) { /* keep-alive or partial */ }
      }
    }
  } catch (e) { /* reconnect on next token change or refresh */ }
}

function onEvent(event) {
  if (!event) return;
  if (event.kind === "EVENT_KIND_STEP") { showStep(event.step || {}); return; }
  const item = document.createElement("li");
  item.textContent = `${event.kind.replace("EVENT_KIND_", "")} ${event.quest || ""} ${event.message || ""}`;
  $("events").prepend(item);
}

document.querySelectorAll("button[data-action]").forEach((button) => button.addEventListener("click", async () => {
  try { await api(`/api/v1/run:${button.dataset.action}`, { method: "POST", body: "{}" }); refresh(); }
  catch (e) { alert(e.message); }
}));

$("chat-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const prompt = $("prompt").value;
  if (!prompt) return;
  $("prompt").value = "";
  $("chat").insertAdjacentHTML("beforeend", `<div class="user"></div>`);
  $("chat").lastChild.textContent = `you: ${prompt}`;
  try {
    const reply = await api("/v1/chat/completions", { method: "POST",
      body: JSON.stringify({ model: $("model").value, messages: [{ role: "user", content: prompt }], max_tokens: 64 }) });
    $("chat").insertAdjacentHTML("beforeend", `<div class="assistant"></div>`);
    $("chat").lastChild.textContent = `hero: ${reply.choices[0].message.content}`;
  } catch (e) {
    $("chat").insertAdjacentHTML("beforeend", `<div class="error"></div>`);
    $("chat").lastChild.textContent = e.message;
  }
});

refresh(); follow();
setInterval(refresh, 5000);
