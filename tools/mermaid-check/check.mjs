// Parse Mermaid diagrams with the real mermaid library and report what it saw.
//
// Why: `journeyflow graph` writes Mermaid for GitHub/GitLab pages and docs. A
// diagram that does not parse shows as an error box there; worse, mermaid's
// state-diagram grammar is lenient, so a stray `;` in a label silently splits
// the line into junk states instead of failing. So besides parse errors this
// reports the nodes and edges mermaid built, with their labels decoded, and
// the Python tests compare them with what the renderer meant to draw.
//
// mermaid.parse() needs a DOM (DOMPurify and the diagram loaders touch
// `window`/`document`), so a jsdom window is installed as the globals first.
//
// Usage:
//   node check.mjs FILE...      each file holds one diagram
//   node check.mjs -            stdin: JSON [{"name": ..., "text": ...}, ...]
// Output: one JSON array on stdout, one object per diagram:
//   {"name", "ok", "error"?, "type"?,
//    "nodes"?: [{id, label, parent, group, shape, classes}], "edges"?: [{from, to, label}]}
// Exit 0 when all parse, 1 when any does not, 2 on a usage error.

import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });

// Before parsing, mermaid swaps entity codes (`#59;`, `#quot;`) for these
// placeholders and swaps them back only when it draws; undo that here so the
// labels compare with plain text. (The format is mermaid's; the version is pinned.)
function decode(text) {
  return String(text ?? "")
    .replace(/ﬂ°°(\d+)¶ß/g, (_, code) => String.fromCodePoint(Number(code)))
    .replace(/ﬂ°(\w+)¶ß/g, (_, name) => {
      const el = dom.window.document.createElement("textarea");
      el.innerHTML = `&${name};`;
      return el.value;
    });
}

function readInputs(args) {
  if (args.length === 1 && args[0] === "-") {
    return JSON.parse(readFileSync(0, "utf8"));
  }
  return args.map((file) => ({ name: file, text: readFileSync(file, "utf8") }));
}

async function check({ name, text }) {
  try {
    const parsed = await mermaid.parse(text);
    const result = { name, ok: true, type: parsed.diagramType };
    if (parsed.diagramType.startsWith("stateDiagram")) {
      const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
      const data = diagram.db.getData();
      result.nodes = data.nodes.map((n) => ({
        id: n.id,
        label: decode(n.label),
        parent: n.parentId ?? null,
        group: Boolean(n.isGroup),
        shape: n.shape,
        classes: String(n.cssClasses ?? "").split(/\s+/).filter((c) => c && !c.startsWith("statediagram")),
      }));
      result.edges = data.edges.map((e) => ({ from: e.start, to: e.end, label: decode(e.label) }));
    }
    return result;
  } catch (err) {
    return { name, ok: false, error: String(err?.message ?? err) };
  }
}

const args = process.argv.slice(2);
if (args.length === 0) {
  console.error("usage: node check.mjs FILE... | node check.mjs - < diagrams.json");
  process.exit(2);
}

const results = [];
for (const input of readInputs(args)) {
  results.push(await check(input));
}
process.stdout.write(JSON.stringify(results) + "\n");
process.exit(results.every((r) => r.ok) ? 0 : 1);
