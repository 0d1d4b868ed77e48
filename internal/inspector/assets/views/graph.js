// Graph: the neighbourhood of a page as a layered SVG diagram, ancestors to
// the left, descendants to the right. Click a node to centre on it;
// double-click to open the page. From the keyboard, each node is a tab
// stop with a button's role: Enter centres on it, Shift+Enter opens the
// page.
import { h, s, count } from "../util.js";
import { num, str, list, pageID, parsePageID } from "../connect.js";

const NODE_W = 150, COL = 210, PAD = 24;

// centredByKey is the page a node's Enter centred the graph on: the new
// graph puts the focus on that page's node, so that the keyboard goes on
// from where it was (the view is drawn anew, and the focus fell to the
// page's body). The view that Enter opens takes it at once, answered or
// not: kept until a graph was drawn, it outlived a failed Graph call or a
// view left before the answer, and the next graph of that page, even one
// opened with the mouse, put the focus on its node
// (TestInspectorGraphFocusOnlyAfterEnter). A route that draws no view (a
// refused token blanks them all) forgets it too (forgetFocus): kept, it
// waited past the refusal, and the first graph of that page opened after
// a new token, with the mouse, hours later, took the focus
// (TestInspectorGraphFocusNotKeptPastRefusal).
let centredByKey = null;

// forgetFocus drops the page an Enter centred on: the route it asked for
// drew no view.
export function forgetFocus() {
  centredByKey = null;
}

export function render({ el, params, api, navigate }) {
  const focusPage = centredByKey;
  centredByKey = null;
  const idInput = h("input", { type: "number", min: 1, testid: "graph-page", style: "width:110px", value: params.id || "" });
  const depthSel = h("select", { testid: "graph-depth" }, [1, 2, 3, 4].map((d) => h("option", { value: d, selected: d === Number(params.depth || 2) }, `depth ${d}`)));
  const info = h("span", { class: "muted", testid: "graph-info" });
  const box = h("div", {});
  el.append(h("h2", {}, "Graph"),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); go(); } },
      h("label", {}, "page ", idInput), depthSel, h("button", { type: "submit", testid: "graph-go" }, "Show"), info),
    h("div", { class: "legend" },
      h("span", { style: "color:#039855" }, "━ data (bound: thick)"), h("span", { style: "color:#b42318" }, "╌ control"),
      h("span", { style: "color:#7a5af8" }, "┈ gpu-sync"), h("span", { style: "color:#dc6803" }, "╌ compiler"),
      h("span", {}, "green node: derived (function shown); red border: flagged")),
    box);
  depthSel.addEventListener("change", go);

  function go() {
    const id = parsePageID(idInput.value);
    if (id) navigate(`#/graph/${id}?depth=${depthSel.value}`);
  }

  async function load(id) {
    const r = await api.call("Graph", { page: String(id), depth: Number(depthSel.value) });
    if (r) draw(id, r);
  }

  function draw(root, r) {
    let focusAfterDraw = null;
    const nodes = list(r.nodes), edges = list(r.edges);
    info.textContent = `${count(nodes.length, "node")}, ${count(edges.length, "edge")}${r.truncated ? " (truncated)" : ""}`;
    const byLayer = new Map();
    for (const n of nodes) {
      const l = num(n.layer);
      if (!byLayer.has(l)) byLayer.set(l, []);
      byLayer.get(l).push(n);
    }
    const layers = [...byLayer.keys()].sort((a, b) => a - b);
    const minL = layers[0] || 0;
    const tallest = Math.max(1, ...[...byLayer.values()].map((v) => v.length));
    // Tall layers get thinner rows, so a fan-in of dozens stays on screen.
    const dense = tallest > 12;
    const NODE_H = dense ? 20 : 30, ROW = dense ? 24 : 44;
    const W = PAD * 2 + (layers.length - 1) * COL + NODE_W, H = PAD * 2 + tallest * ROW;
    const pos = new Map();
    for (const l of layers) {
      const col = byLayer.get(l);
      const top = PAD + ((tallest - col.length) * ROW) / 2;
      col.forEach((n, i) => pos.set(pageID(n.id), { x: PAD + (l - minL) * COL, y: top + i * ROW }));
    }
    const svg = s("svg", { class: "graph", testid: "graph", width: W, height: H, viewBox: `0 0 ${W} ${H}` },
      s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
        s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#667085" }))));
    for (const e of edges) {
      const a = pos.get(pageID(e.parent)), b = pos.get(pageID(e.child));
      if (!a || !b) continue;
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
      const bend = Math.max(40, Math.abs(x2 - x1) / 2);
      const d = `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
      svg.append(s("path", {
        d, class: `edge ${str(e.type)}${e.bound ? " bound" : ""}`, "marker-end": "url(#arrow)", testid: "graph-edge",
        "data-parent": pageID(e.parent), "data-child": pageID(e.child), "data-type": str(e.type),
      }, s("title", {}, `${pageID(e.parent)} → ${pageID(e.child)} (${str(e.type)}${e.bound ? ", binding" : ""})`)));
    }
    for (const n of nodes) {
      const id = pageID(n.id), p = pos.get(id), fn = str(n.func);
      const cls = "node" + (id === root ? " root" : "") + (fn ? " derived" : "") + (num(n.flags) ? " flagged" : "");
      // A tab stop, like the views' links (the nodes were mouse-only:
      // TestInspectorGraphByKeyboard): Enter centres, Shift+Enter opens.
      // Its role is a button's, as what Enter does is no link's (it
      // changes the view in place), its name the page and its function
      // (aria-label), and the <title> (the mouse's tooltip) only says
      // what the keys and clicks do: a screen reader reads it as the
      // description. The name and the hints were in both, read twice
      // (TestInspectorGraphNodesReadOnce).
      const node = s("g", {
        class: cls, testid: "graph-node", "data-id": id, transform: `translate(${p.x},${p.y})`,
        tabindex: 0, role: "button", "aria-label": `page ${id}${fn ? " = " + fn : ""}`,
        onclick: () => navigate(`#/graph/${id}?depth=${depthSel.value}`),
        ondblclick: () => navigate("#/page/" + id),
        onkeydown: (e) => {
          if (e.key !== "Enter") return;
          e.preventDefault();
          if (e.shiftKey) { navigate("#/page/" + id); return; }
          centredByKey = id;
          navigate(`#/graph/${id}?depth=${depthSel.value}`);
        },
      }, s("rect", { width: NODE_W, height: NODE_H, rx: 5 }),
      // The function's name, a writer's string, ends the label and the
      // name, so that a bidirectional control in it (U+202E) reorders
      // nothing of ours: the <title> held it before the hints, drawn
      // backwards in the tooltip (TestInspectorGraphLabelBidi checks the
      // label, TestInspectorGraphNodesReadOnce the name and <title>).
      s("text", { x: 8, y: NODE_H / 2 + 4 }, fn ? `${id} = ${fn}` : `page ${id}`),
      s("title", {}, "click or Enter: centre the graph here; double-click or Shift+Enter: open the page"));
      svg.append(node);
      if (id === root && focusPage === root) focusAfterDraw = node;
    }
    box.replaceChildren(svg, h("div", {}, h("a", { onclick: () => navigate("#/page/" + root), testid: "graph-open-page" }, `open page ${root}`)));
    if (focusAfterDraw) focusAfterDraw.focus();
  }

  (async () => {
    let id = parsePageID(params.id);
    if (!id && params.id !== undefined && params.id !== "") {
      // An ID that is none: said, rather than the graph of another page.
      info.textContent = `${JSON.stringify(String(params.id).slice(0, 64))} is not a page ID (a decimal number from 1 to 18446744073709551615)`;
      return;
    }
    if (!id) {
      // No page chosen: start from the first derived page, else the first page.
      const d = await api.call("ListPages", { limit: 1, search: "derived" });
      const any = d && list(d.rows).length ? d : await api.call("ListPages", { limit: 1 });
      if (!any || !list(any.rows).length) { info.textContent = "the bus has no pages"; return; }
      id = pageID(any.rows[0].id);
      idInput.value = id;
    }
    load(id);
  })();
  return {};
}
