"""A small API docs page over /openapi.json: no inline script (the page's CSP forbids it), no external assets."""

from __future__ import annotations

from aiohttp import web

from services.gateway.edge import public

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Realm API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/docs.css"></head>
<body><h1>Realm REST API</h1>
<p>Generated from the services' <code>google.api.http</code> annotations:
<a href="/openapi.json">/openapi.json</a>. OpenAI-compatible routes: <code>/v1/models</code>,
<code>/v1/chat/completions</code>, <code>/v1/completions</code>. TGI-compatible: <code>/generate</code>,
<code>/generate_stream</code>, <code>/info</code>, <code>/health</code>, <code>/tokenize</code>.
Send <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<input id="filter" placeholder="filter operations"><div id="operations">loading…</div>
<script src="/docs/docs.js"></script></body></html>
"""

SCRIPT = """"use strict";
const box = document.getElementById("operations");
const filter = document.getElementById("filter");
let rows = [];
function render() {
  const needle = filter.value.toLowerCase();
  box.replaceChildren(...rows.filter(r => r.text.includes(needle)).map(r => r.node));
}
fetch("/openapi.json").then(r => r.json()).then(doc => {
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [verb, op] of Object.entries(ops)) {
      const node = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${verb.toUpperCase()} ${path} - ${op.summary}`;
      const body = document.createElement("pre");
      body.textContent = JSON.stringify({parameters: op.parameters, requestBody: op.requestBody,
                                         responses: op.responses}, null, 2);
      node.append(summary, body);
      rows.push({node, text: summary.textContent.toLowerCase()});
    }
  }
  render();
});
filter.addEventListener("input", render);
"""

STYLE = """body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; }
summary { font-family: monospace; cursor: pointer; padding: .2rem 0; }
pre { background: #f4f4f4; padding: .5rem; overflow: auto; }
#filter { width: 30rem; margin: .5rem 0; }
"""


@public
async def docs(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


@public
async def docs_script(request: web.Request) -> web.Response:
    return web.Response(text=SCRIPT, content_type="application/javascript")


@public
async def docs_style(request: web.Request) -> web.Response:
    return web.Response(text=STYLE, content_type="text/css")
